# mk/install.mk - packaging extras, included by the Makefile (issue 7).
#
# `make install` also installs the man page and the bash completion, and first
# checks that the shared library exports nothing but the public steparc_* API
# (everything else is built with -fvisibility=hidden). `make uninstall` removes
# them again. The targets only add prerequisites to the Makefile's install and
# uninstall rules (GNU make merges the prerequisites of rules without recipes),
# so both run before the Makefile's own recipe.
#
#   make check-exports     fail when libsteparc.so exports another symbol

MAN1DIR ?= $(MANDIR)/man1
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

# Symbols the linker itself defines in some toolchains; not ours.
EXPORTS_ALLOWED := _init _fini _edata _end __bss_start

.PHONY: install-extra uninstall-extra check-exports

install: install-extra
uninstall: uninstall-extra

check-exports: $(B)/libsteparc.so
	@bad=$$(nm -D --defined-only $(B)/libsteparc.so | awk '{ print $$NF }' | \
	    grep -v '^steparc_' | grep -vxF $(EXPORTS_ALLOWED:%=-e %)); \
	if [ -n "$$bad" ]; then \
	    echo "libsteparc.so exports symbols outside the steparc_* API:" $$bad >&2; exit 1; \
	fi; \
	n=$$(nm -D --defined-only $(B)/libsteparc.so | grep -c ' steparc_'); \
	echo "check-exports: $$n steparc_* symbols, nothing else"

install-extra: check-exports docs/steparc.1 scripts/steparc.bash-completion
	install -d $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 docs/steparc.1 $(DESTDIR)$(MAN1DIR)/steparc.1
	install -m 644 scripts/steparc.bash-completion $(DESTDIR)$(BASHCOMPDIR)/steparc

uninstall-extra:
	rm -f $(DESTDIR)$(MAN1DIR)/steparc.1 $(DESTDIR)$(BASHCOMPDIR)/steparc
