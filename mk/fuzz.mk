# mk/fuzz.mk - fuzzing (included by the Makefile).
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="archive record"] [FUZZ_ARGS=...]
#       builds every target with clang -fsanitize=fuzzer,address,undefined (the
#       library compiled again with the same flags, in $(B)/fuzz/) and runs each
#       for FUZZ_SECONDS on tests/fuzz/corpus/TARGET; new corpus entries go to
#       $(B)/fuzz/work/corpus/TARGET (scratch, not the repository); crashes, leaks
#       and timeouts are copied to tests/fuzz/regressions/TARGET/.
#   make fuzz-build     only the libFuzzer binaries
#   FUZZ_SAN=... FUZZ_B=... build another flavour elsewhere, e.g. to go on
#       fuzzing past a known sanitizer report (-fno-sanitize=CHECK)
#   FUZZ_ARGS="-fork=1 -ignore_crashes=1" keeps fuzzing after a crash
#   make test-run       also builds $(B)/tests/fuzzreplay_TARGET: the same
#       targets linked with tests/fuzz/regression_driver.c by the normal compiler;
#       tests/cli/test_fuzz_replay.sh replays the corpora and regressions.

FUZZ_ALL := archive columnar convert record roundtrip
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_CC ?= clang
FUZZ_B ?= $(B)/fuzz
FUZZ_WORK ?= $(FUZZ_B)/work
FUZZ_SAN ?= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BINS := $(FUZZ_ALL:%=$(FUZZ_B)/fuzz_%)
FUZZ_REPLAY_BINS := $(FUZZ_ALL:%=$(B)/tests/fuzzreplay_%)

.PHONY: fuzz fuzz-run fuzz-build fuzz-deps

# The library, instrumented for coverage and sanitizers.
$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_B)/libsteparc.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_B)/libsteparc.a
	$(FUZZ_CC) $(CPPFLAGS_ALL) -Itests/fuzz $(FUZZ_CFLAGS) $(DEPFLAGS) -DSTEPARC_LIBFUZZER=1 -fsanitize=fuzzer \
	    -o $@ $< $(FUZZ_B)/libsteparc.a $(DEP_LIBS) -lm

# Replay programs: no libFuzzer, the normal compiler and flags (sanitizers too
# under `make asan`, which passes them in OPT and LDFLAGS).
# (Two sources in one command: -MMD would keep the last one's headers only.)
$(B)/tests/fuzzreplay_%: tests/fuzz/fuzz_%.c tests/fuzz/regression_driver.c tests/fuzz/fuzz_common.h tests/alloc_hook.h \
                         $(B)/libsteparc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Itests/fuzz $(CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    tests/fuzz/regression_driver.c $(B)/libsteparc.a $(DEP_LIBS) -lm $(LDFLAGS)

test-run: $(FUZZ_REPLAY_BINS)

fuzz-deps:
	@sh scripts/install-deps.sh
	@sh tests/fuzz/fuzz.sh --deps $(FUZZ_CC)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

# A fresh make after fuzz-deps, so that newly installed tools are seen.
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: fuzz-build
	@sh tests/fuzz/fuzz.sh --run $(FUZZ_B) $(FUZZ_WORK) $(FUZZ_SECONDS) "$(FUZZ_ARGS)" $(FUZZ_TARGETS)

# Header dependencies (-MMD -MP, as in the Makefile).
FUZZ_DEPS := $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BINS:=.d)
$(FUZZ_LIB_OBJ): $(FUZZ_B)/obj/%.o: $(FUZZ_B)/obj/%.d
$(FUZZ_BINS): $(FUZZ_B)/fuzz_%: $(FUZZ_B)/fuzz_%.d
$(FUZZ_DEPS):
-include $(wildcard $(FUZZ_DEPS))
