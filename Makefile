# tcpflow-trace — build, run and test.
#
#   make            build build/tcpflow-trace (BPF objects, skeletons, binary)
#   sudo make run   install missing Debian packages, build, trace with defaults
#   sudo make test  install missing packages, build, run every test (CI runs this)
#   make check-unit unit tests only (no root)
#   make vmlinux    regenerate vmlinux/vmlinux.h from this kernel's BTF
#
# Quiet unless V=1.

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

BUILD   ?= build
ARCH    ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
PYTHON  ?= /usr/bin/python3

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)

WARN     := -Wall -Wextra -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(BUILD) -MMD -MP
LDLIBS   += -lbpf -lelf -lz -lmicrohttpd -lcap -ljansson -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
	      -Iinclude -Ivmlinux -MMD -MP

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))
# LD_PRELOAD shims that make the tracer see a kernel we cannot boot here
PRELOAD_SRCS := $(wildcard tests/preload/*.c)
PRELOAD_LIBS := $(patsubst tests/preload/%.c,$(BUILD)/tests/%.so,$(PRELOAD_SRCS))
BIN       := $(BUILD)/tcpflow-trace

.PHONY: all clean run test check check-unit check-integration deps vmlinux tools \
	check-asan check-fuzz check-leaks FORCE

# The skeletons first, as goals of their own: only order-only prerequisites
# elsewhere, a deleted one would otherwise not be rebuilt.
all: $(SKELS) $(BIN) tools

tools: $(TOOL_BINS) $(PRELOAD_LIBS)

# BPF sources: the tool's in bpf/, the benchmark's baseline program in bench/.
vpath %.bpf.c bpf bench

$(BUILD)/bpf/%.bpf.o: %.bpf.c | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Every user-space object may include a skeleton: generate them first.
$(BUILD)/obj/%.o: src/%.c | $(SKELS) $(BUILD)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The version (TF_VERSION) in a header of its own, rewritten only when it
# changes: a new commit or tag, or VERSION=... from packaging/install.mk or the
# command line, rebuilds the objects that include it, and only those. A -D flag
# would leave them with the version of the build that compiled them.
VERSION_H     := $(BUILD)/version.h
VERSION_USERS := options sink_metrics

$(VERSION_H): FORCE
	@mkdir -p $(@D)
	@printf '#define TF_VERSION "%s"\n' '$(VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@

FORCE:

$(BUILD)/libtf.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/main.o $(BUILD)/libtf.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/tf_test.h tests/unit/fixtures.h $(BUILD)/libtf.a | $(SKELS) $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Isrc -Itests/unit $< $(BUILD)/libtf.a $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/tools/%.c | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lpthread

$(BUILD)/tests/%.so: tests/preload/%.c | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -shared -fPIC $< -o $@ -ldl

$(BUILD)/bpf $(BUILD)/obj $(BUILD)/tests:
	$(Q)mkdir -p $@

# ---- sanitizers and fuzzers (clang) -----------------------------------------
#
# One more build of src/ with AddressSanitizer + UndefinedBehaviorSanitizer
# (and coverage for libFuzzer): unit tests, fuzz targets and a tracer binary
# for a leak-checked integration run all link it.

SAN_DIR    := $(BUILD)/asan
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := $(filter-out -O2,$(CFLAGS)) -O1 $(SAN_FLAGS) -fsanitize=fuzzer-no-link
SAN_OBJS   := $(patsubst src/%.c,$(SAN_DIR)/obj/%.o,$(LIB_SRCS))
SAN_UNIT   := $(patsubst tests/unit/%.c,$(SAN_DIR)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(SAN_DIR)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60

$(SAN_DIR)/obj/%.o: src/%.c | $(SKELS)
	$(call msg,ASAN-CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(SAN_CFLAGS) -c $< -o $@

$(foreach o,$(VERSION_USERS),$(BUILD)/obj/$(o).o $(SAN_DIR)/obj/$(o).o): $(VERSION_H)

$(SAN_DIR)/libtf.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(SAN_DIR)/tests/test_%: tests/unit/test_%.c tests/unit/tf_test.h tests/unit/fixtures.h $(SAN_DIR)/libtf.a
	$(call msg,ASAN-CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(SAN_CFLAGS) -Isrc -Itests/unit $< $(SAN_DIR)/libtf.a \
		$(LDFLAGS) $(LDLIBS) -o $@

$(SAN_DIR)/fuzz/%: tests/fuzz/%.c $(SAN_DIR)/libtf.a
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(filter-out -fsanitize=fuzzer-no-link,$(SAN_CFLAGS)) \
		-fsanitize=fuzzer -Isrc $< $(SAN_DIR)/libtf.a $(LDFLAGS) $(LDLIBS) -o $@

$(SAN_DIR)/tcpflow-trace: src/main.c $(SAN_DIR)/libtf.a | $(SKELS)
	$(call msg,ASAN-LD,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(SAN_CFLAGS) $< $(SAN_DIR)/libtf.a $(LDFLAGS) $(LDLIBS) -o $@

check-asan: $(SAN_UNIT)
	@fail=0; for t in $(SAN_UNIT); do $$t || fail=1; done; \
	[ $$fail -eq 0 ] && echo "unit tests under ASan+UBSan: clean" || { echo "unit tests under ASan+UBSan: FAILED"; exit 1; }

# Each fuzzer for FUZZ_SECONDS from the seed corpus (copied: the repo stays clean).
check-fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		name=$$(basename $$f); seeds=tests/fuzz/corpus/$${name#fuzz_}; \
		work=$$(mktemp -d); cp -r $$seeds/. $$work/ 2>/dev/null; \
		echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -malloc_limit_mb=256 \
			-timeout=10 -print_final_stats=1 $$work > $(BUILD)/$$name.log 2>&1 || \
			{ tail -40 $(BUILD)/$$name.log; rm -rf $$work; exit 1; }; \
		grep -E 'stat::number_of_executed_units' $(BUILD)/$$name.log; rm -rf $$work; \
	done

# All root integration tests once more with the ASan/LSan tracer (~2.5 min):
# a leak makes it exit 99, which the tests see as a wrong exit status.
check-leaks: $(SAN_DIR)/tcpflow-trace tools
	TCPFLOW_BIN=$(SAN_DIR)/tcpflow-trace ASAN_OPTIONS=detect_leaks=1:exitcode=99 \
		$(PYTHON) -m pytest -q -rs tests/integration $(PYTEST_ARGS)

# ---- setup -----------------------------------------------------------------

# Debian packages the build, the tool and the tests need.
DEB_BUILD := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmicrohttpd-dev libcap-dev libjansson-dev \
	     make gcc pkg-config git
DEB_TEST  := python3 python3-pytest iproute2 nftables tcpdump procps prometheus python3-yaml libclang-rt-14-dev chromium dpkg-dev debhelper lintian bash-completion systemd-container
DEB_ALL   := $(DEB_BUILD) $(DEB_TEST)

# $(call apt_install,PACKAGES,EXTRA apt-get OPTIONS): install what is missing (root only).
define apt_install
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "missing Debian packages: $$missing -- run as root (sudo make ...) to install them" >&2; exit 1; \
		fi; \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) $$missing >/dev/null || \
		{ echo "apt-get install failed for: $$missing" >&2; exit 1; }; \
	fi
endef

deps:
	$(call apt_install,$(DEB_ALL))

# Default trace: every connection, one line each, until Ctrl-C.
ARGS ?=
run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) $(ARGS)

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory test-kernels

check: check-unit check-asan check-fuzz check-leaks check-integration check-packaging

check-unit: $(UNIT_BINS)
	@pass=0; fail=0; \
	for t in $(UNIT_BINS); do \
		if $$t; then pass=$$((pass+1)); else fail=$$((fail+1)); echo "FAILED: $$t"; fi; \
	done; \
	echo "unit test programs: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

check-integration: $(BIN) tools
	$(PYTHON) -m pytest -q -rs tests/integration $(PYTEST_ARGS)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/bpf/*.d $(BUILD)/obj/*.d $(BUILD)/tests/*.d \
	$(SAN_DIR)/obj/*.d $(SAN_DIR)/tests/*.d $(SAN_DIR)/fuzz/*.d)

include packaging/install.mk
include tests/kernels/kernels.mk
include bench/bench.mk
