# tcpflow-trace -- install, docs and Debian package (included by the Makefile).
#
#   make docs              man page, bash completion, systemd unit in $(BUILD)/doc
#   make install           PREFIX=/usr/local DESTDIR= (binary, man page,
#                          completion, unit, /etc/default file, deploy/ files)
#   make uninstall         the same PREFIX/DESTDIR; keeps the /etc/default file
#   make deb               Debian package in $(BUILD)/deb (built in a copy of the tree)
#   make check-docs        --help width, man page/completion/README vs --help,
#                          the Markdown docs (links, JSON fields, metrics, layout) (no root)
#   make check-packaging   check-docs + build, lint, install, run, purge the package (root)
#
# The man page's OPTIONS and METRICS sections and the bash completion are
# generated from the code (packaging/gendoc.c): src/options.c is the one
# source of truth for the options.

PREFIX      ?= /usr/local
DESTDIR     ?=
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
PKGDATADIR  ?= $(PREFIX)/share/tcpflow-trace
# Debian 12 keeps units in /lib/systemd/system and settings in /etc
UNITDIR     ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
INSTALL     ?= install

# Version without .git (tarball, Debian source): `git describe` would fail, or
# describe an unrelated repository around the tree: then debian/changelog's
# first line, "tcpflow-trace (VERSION) ...".
# VERSION=... on the command line (debian/rules does) wins over both.
ifeq ($(origin VERSION),file)
ifneq ($(realpath $(shell git rev-parse --show-toplevel 2>/dev/null)),$(realpath $(CURDIR)))
VERSION := $(or $(shell sed -n '1s/^[^ ]* .\([^ ]*\). .*/\1/p' debian/changelog 2>/dev/null),unknown)
endif
endif

# The man page's date: reproducible (dpkg-buildpackage sets SOURCE_DATE_EPOCH).
DOC_DATE := $(shell d=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null)}; \
	date -u $${d:+-d @$$d} +%Y-%m-%d)

DOC_DIR  := $(BUILD)/doc
GENDOC   := $(DOC_DIR)/gendoc
DOC_MAN  := $(DOC_DIR)/tcpflow-trace.8
DOC_COMP := $(DOC_DIR)/tcpflow-trace.bash-completion
DOC_UNIT := $(DOC_DIR)/tcpflow-trace.service
DOCS     := $(DOC_MAN) $(DOC_COMP) $(DOC_UNIT)
DEPLOY_FILES := $(sort $(shell find deploy -maxdepth 1 -type f 2>/dev/null))

.PHONY: docs install uninstall deb check-docs check-packaging FORCE
FORCE:

docs: $(DOCS)

# Rewritten only when a path, the version or the date changes: the generated
# files follow PREFIX=... without going stale.
$(DOC_DIR)/paths: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(SBINDIR)' '$(UNITDIR)' '$(SYSCONFDIR)' '$(PKGDATADIR)' \
		'$(VERSION)' '$(DOC_DATE)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@

SUBST_PATHS := sed -e 's,@SBINDIR@,$(SBINDIR),g' -e 's,@UNITDIR@,$(UNITDIR),g' \
	-e 's,@SYSCONFDIR@,$(SYSCONFDIR),g' -e 's,@DATADIR@,$(PKGDATADIR),g'

$(GENDOC): packaging/gendoc.c src/options.h src/metrics.h $(BUILD)/libtf.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(filter-out -MMD -MP,$(CFLAGS)) -Isrc $< $(BUILD)/libtf.a \
		$(LDFLAGS) $(LDLIBS) -o $@

$(DOC_MAN): packaging/tcpflow-trace.8.in $(GENDOC) $(DOC_DIR)/paths
	$(call msg,GEN,$@)
	$(Q)$(GENDOC) man $< '$(VERSION)' '$(DOC_DATE)' | $(SUBST_PATHS) > $@.tmp && mv -f $@.tmp $@

$(DOC_COMP): $(GENDOC)
	$(call msg,GEN,$@)
	$(Q)$(GENDOC) completion > $@.tmp && mv -f $@.tmp $@

$(DOC_UNIT): packaging/tcpflow-trace.service.in $(DOC_DIR)/paths
	$(call msg,GEN,$@)
	$(Q)$(SUBST_PATHS) $< > $@.tmp && mv -f $@.tmp $@

install: $(BIN) $(DOCS)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(PKGDATADIR) $(DESTDIR)$(SYSCONFDIR)/default
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(SBINDIR)/tcpflow-trace
	$(INSTALL) -m 644 $(DOC_MAN) $(DESTDIR)$(MANDIR)/man8/tcpflow-trace.8
	$(INSTALL) -m 644 $(DOC_COMP) $(DESTDIR)$(BASHCOMPDIR)/tcpflow-trace
	$(INSTALL) -m 644 $(DOC_UNIT) $(DESTDIR)$(UNITDIR)/tcpflow-trace.service
	$(if $(DEPLOY_FILES),$(INSTALL) -m 644 $(DEPLOY_FILES) $(DESTDIR)$(PKGDATADIR)/)
	@# an administrator's settings are never overwritten
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/default/tcpflow-trace ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/default/tcpflow-trace"; \
	else \
		echo "$(INSTALL) -m 644 packaging/tcpflow-trace.default $(DESTDIR)$(SYSCONFDIR)/default/tcpflow-trace"; \
		$(INSTALL) -m 644 packaging/tcpflow-trace.default $(DESTDIR)$(SYSCONFDIR)/default/tcpflow-trace; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tcpflow-trace $(DESTDIR)$(MANDIR)/man8/tcpflow-trace.8 \
		$(DESTDIR)$(BASHCOMPDIR)/tcpflow-trace $(DESTDIR)$(UNITDIR)/tcpflow-trace.service
	rm -f $(addprefix $(DESTDIR)$(PKGDATADIR)/,$(notdir $(DEPLOY_FILES)))
	-rmdir $(DESTDIR)$(PKGDATADIR) 2>/dev/null
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/default/tcpflow-trace (your settings): remove it by hand"
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

# dpkg-buildpackage in a copy of the tree (the repository stays clean); the
# .deb, .buildinfo and .changes land in $(BUILD)/deb.
deb:
	packaging/build-deb.sh $(BUILD)/deb

check-docs: $(BIN) $(DOCS)
	$(PYTHON) -m pytest -q -rs tests/packaging/test_docs.py $(PYTEST_ARGS)

check-packaging: $(BIN) $(DOCS)
	$(PYTHON) -m pytest -q -rs tests/packaging $(PYTEST_ARGS)
