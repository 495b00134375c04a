# steparc - plain GNU make. `make` builds the command and both libraries;
# `make test` and `make demo` first install missing Debian packages (make deps).

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man

B := build
VMAJOR := $(shell sed -n 's/^\#define STEPARC_VERSION_MAJOR \([0-9]*\).*/\1/p' include/steparc.h)
VMINOR := $(shell sed -n 's/^\#define STEPARC_VERSION_MINOR \([0-9]*\).*/\1/p' include/steparc.h)
VPATCH := $(shell sed -n 's/^\#define STEPARC_VERSION_PATCH \([0-9]*\).*/\1/p' include/steparc.h)
VERSION := $(VMAJOR).$(VMINOR).$(VPATCH)
# 0.x: every minor may break the ABI, so the soname carries it (libsteparc.so.0.2);
# from 1.0 on only a major does (libsteparc.so.1).
SONAME := libsteparc.so.$(if $(filter 0,$(VMAJOR)),0.$(VMINOR),$(VMAJOR))

# msgpack-c 4.x (Debian 12) is "msgpack", 6.x renamed it "msgpack-c".
PKG_CONFIG ?= pkg-config
MSGPACK_PC := $(shell $(PKG_CONFIG) --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(MSGPACK_PC) libzstd 2>/dev/null)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(MSGPACK_PC) libzstd 2>/dev/null) -lpthread
CJSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcjson 2>/dev/null)
CJSON_LIBS := $(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null)
SQLITE3_CFLAGS := $(shell $(PKG_CONFIG) --cflags sqlite3 2>/dev/null)
SQLITE3_LIBS := $(or $(shell $(PKG_CONFIG) --libs sqlite3 2>/dev/null),-lsqlite3)

# Missing build packages stop make with their names, before anything is
# compiled. Not for the goals that install them first (make deps, then a
# fresh make) or need none.
NODEPS_GOALS := deps test check demo asan bench fuzz fuzz-deps clean uninstall
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
MISSING_PKGS := $(shell \
    if ! command -v $(PKG_CONFIG) >/dev/null 2>&1; then \
        echo pkg-config libmsgpack-dev libzstd-dev libcjson-dev libsqlite3-dev; exit 0; fi; \
    $(PKG_CONFIG) --exists $(MSGPACK_PC) 2>/dev/null || echo libmsgpack-dev; \
    $(PKG_CONFIG) --exists libzstd 2>/dev/null || echo libzstd-dev; \
    $(PKG_CONFIG) --exists libcjson 2>/dev/null || echo libcjson-dev; \
    $(PKG_CONFIG) --exists sqlite3 2>/dev/null || echo libsqlite3-dev)
ifneq ($(strip $(MISSING_PKGS)),)
$(error missing Debian packages: $(strip $(MISSING_PKGS)); `make deps` installs them \
    (or, as root: apt-get install $(strip $(MISSING_PKGS))))
endif
endif

OPT ?= -O3 -g
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Wmissing-prototypes
override CFLAGS := -std=c11 $(OPT) $(WARN) $(CFLAGS) $(MOREFLAGS)
CPPFLAGS_ALL := -Iinclude -Iformat -Iconverter -Ireader $(DEP_CFLAGS) $(CPPFLAGS)

LIB_SRC := $(wildcard format/*.c) $(wildcard converter/*.c) $(wildcard reader/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
PIC_OBJ := $(LIB_SRC:%.c=$(B)/pic/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all lib deps test check demo install uninstall clean asan bench valgrind test-run demo-run FORCE

all: $(B)/steparc $(B)/libsteparc.a $(B)/libsteparc.so $(B)/steparc_sqlite.so

lib: $(B)/libsteparc.a $(B)/libsteparc.so

# Header dependencies: the compiler writes a .d file next to each object and
# test program (-MMD -MP), included at the end. A missing .d file (a fresh
# tree, or objects built before) counts as changed, so its target is rebuilt.
DEPFLAGS = -MMD -MP
DEP_FILES := $(LIB_OBJ:.o=.d) $(PIC_OBJ:.o=.d) $(TEST_BIN:=.d)

$(B)/obj/%.o: %.c $(B)/obj/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(DEPFLAGS) -fvisibility=hidden -c $< -o $@

$(B)/pic/%.o: %.c $(B)/pic/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) $(DEPFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/libsteparc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libsteparc.so.$(VERSION): $(PIC_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(B)/libsteparc.so: $(B)/libsteparc.so.$(VERSION)
	ln -sf libsteparc.so.$(VERSION) $(B)/$(SONAME)
	ln -sf libsteparc.so.$(VERSION) $@

CLI_OBJ := $(patsubst cli/%.c,$(B)/cli/%.o,$(wildcard cli/*.c))

$(B)/cli/%.o: cli/%.c $(wildcard cli/*.h) include/steparc.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CJSON_CFLAGS) $(CFLAGS) -c $< -o $@

# sqlite/rows.c (records -> SQL rows) is compiled into both the command (for
# export --sqlite) and the extension.
$(B)/cli/rows.o: sqlite/rows.c sqlite/rows.h include/steparc.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS) -c $< -o $@

$(B)/cli/cmd_export.o: CPPFLAGS_ALL += -Isqlite $(SQLITE3_CFLAGS)

$(B)/steparc: $(CLI_OBJ) $(B)/cli/rows.o $(B)/libsteparc.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(B)/cli/rows.o $(B)/libsteparc.a $(CJSON_LIBS) $(SQLITE3_LIBS) $(DEP_LIBS) $(LDFLAGS)

# The SQLite extension: libsteparc's PIC objects linked in (so that
# `.load build/steparc_sqlite` works from any directory, without
# libsteparc.so on the library path); only its entry point is exported.
EXT_OBJ := $(B)/sqlite/ext.o $(B)/sqlite/rows.o
$(B)/sqlite/%.o: sqlite/%.c sqlite/rows.h include/steparc.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(SQLITE3_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/steparc_sqlite.so: $(EXT_OBJ) $(PIC_OBJ) sqlite/steparc_sqlite.map
	$(CC) -shared -Wl,--version-script=sqlite/steparc_sqlite.map $(LDFLAGS) -o $@ $(EXT_OBJ) $(PIC_OBJ) $(DEP_LIBS) -lm

# The extension built into a test program (sqlite3_auto_extension), for the
# damaged-archive test under ASan, where the Python driver cannot load it.
$(B)/tests/sqlite_static: tests/sqlite_static.c sqlite/ext.c sqlite/rows.c sqlite/rows.h $(B)/libsteparc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Isqlite $(SQLITE3_CFLAGS) $(CFLAGS) -DSQLITE_CORE -o $@ tests/sqlite_static.c sqlite/ext.c sqlite/rows.c $(B)/libsteparc.a $(SQLITE3_LIBS) $(DEP_LIBS) -lm $(LDFLAGS)

$(TEST_BIN): $(B)/tests/%: tests/unit/%.c $(B)/tests/%.d $(B)/libsteparc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Itests $(CFLAGS) $(DEPFLAGS) -Wno-missing-prototypes -o $@ $< $(B)/libsteparc.a $(DEP_LIBS) $(LDFLAGS)

deps:
	@sh scripts/install-deps.sh

# `make test` installs what is missing, then builds in a fresh make (so that
# pkg-config sees the new packages) and runs every test.
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: all $(TEST_BIN) $(B)/tests/sqlite_static
	@sh tests/run.sh $(B)

check: test

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	@sh examples/demo.sh $(B)/steparc

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer (clang
# when it is installed, else gcc, which has both too).
ASAN_CC := $(shell command -v clang >/dev/null 2>&1 && echo clang || echo gcc)
asan:
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory B=build/asan CC=$(ASAN_CC) OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined" test-run

# The command-line tests with every steparc run under valgrind memcheck (slow:
# a subset of the scripts).
VALGRIND_TESTS ?= test_errors.sh test_dedup.sh test_deltas.sh test_read.sh test_samples.sh
valgrind: all
	@command -v valgrind >/dev/null || sh scripts/install-deps.sh valgrind
	@d=$$(mktemp -d); pass=0; fail=0; \
	for t in $(VALGRIND_TESTS); do \
	  echo "== $$t (valgrind)"; \
	  STEPARC_REAL_BIN=$(CURDIR)/$(B)/steparc STEPARC_BIN=$(CURDIR)/tests/valgrind-wrap.sh \
	  STEPARC_TMP=$$d STEPARC_TESTS=$(CURDIR)/tests STEPARC_SAMPLES=$(CURDIR)/../shared/samples \
	  STEPARC_CRASH_TRIALS=5 sh tests/cli/$$t > $$d/out 2>$$d/err; \
	  cat $$d/out; grep -h "==[0-9]*==" $$d/err | head -20; \
	  pass=$$((pass + $$(grep -c '^PASS' $$d/out))); fail=$$((fail + $$(grep -c '^FAIL' $$d/out))); \
	done; rm -rf $$d; echo "$$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# PREFIX and LIBDIR are written into it: `make install PREFIX=...` rewrites it
# every time (FORCE), so that a file from an earlier prefix is never installed.
$(B)/steparc.pc: steparc.pc.in include/steparc.h FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@MSGPACK@|$(MSGPACK_PC)|' $< > $@

FORCE:

install: all $(B)/steparc.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(B)/steparc $(DESTDIR)$(BINDIR)/steparc
	install -m 644 $(B)/libsteparc.a $(DESTDIR)$(LIBDIR)/libsteparc.a
	install -m 755 $(B)/libsteparc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsteparc.so.$(VERSION)
	ln -sf libsteparc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libsteparc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsteparc.so
	install -m 755 $(B)/steparc_sqlite.so $(DESTDIR)$(LIBDIR)/steparc_sqlite.so
	install -m 644 include/steparc.h $(DESTDIR)$(INCLUDEDIR)/steparc.h
	install -m 644 $(B)/steparc.pc $(DESTDIR)$(PKGCONFIGDIR)/steparc.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/steparc $(DESTDIR)$(LIBDIR)/libsteparc.a \
	      $(DESTDIR)$(LIBDIR)/libsteparc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libsteparc.so $(DESTDIR)$(LIBDIR)/steparc_sqlite.so \
	      $(DESTDIR)$(INCLUDEDIR)/steparc.h \
	      $(DESTDIR)$(PKGCONFIGDIR)/steparc.pc

clean:
	rm -rf build

# Optional parts (fuzzing, benchmarks, bindings, man page) keep their rules in mk/.
-include $(wildcard mk/*.mk)

# The header dependencies the compiler wrote.
$(DEP_FILES):
-include $(wildcard $(DEP_FILES))
