# tcpflow-trace benchmark (issue 5). Included from the top-level Makefile:
#
#   include bench/bench.mk
#
#   sudo make bench                 full run, ~14 min; rewrites bench/RESULTS.md
#   sudo make bench BENCH_QUICK=1   ~2 min smoke run; report in build/bench/
#   sudo make bench BENCH_ARGS='--only json,empty --rounds 9'
#   sudo make bench BENCH_BASELINE=e273c79^   also rows for the tracer built at that revision
#   sudo make bench-tw              TIME-WAITs in 100 namespaces, ~3 min; its section of RESULTS.md
#
# Needs root, bpftool, bpftrace and libbpf-tools (Debian's: the peers compared
# with) and the tracer; loopback traffic only.

BENCH_DIR     := $(BUILD)/bench
BENCH_LOADGEN := $(BENCH_DIR)/tcpflow-loadgen
BENCH_EMPTY   := $(BENCH_DIR)/tcpflow-bench-empty
BENCH_HAMMER  := $(BENCH_DIR)/tcpflow-hammer
BENCH_ARGS    ?=
BENCH_QUICK   ?=
BENCH_BASELINE ?=

ifeq ($(BENCH_QUICK),1)
BENCH_OUT := --quick --results $(BENCH_DIR)/results-quick.md --raw $(BENCH_DIR)/samples-quick.json
else
BENCH_OUT := --results bench/RESULTS.md --raw $(BENCH_DIR)/samples.json
endif

.PHONY: bench bench-tools bench-deps soak hammer bench-tw blind-spots

bench-tools: $(BENCH_LOADGEN) $(BENCH_EMPTY) $(BENCH_HAMMER)

# Before/after in one run (issue 15): BENCH_BASELINE=REV builds the tracer at REV in a
# temporary git worktree and adds its --json and --metrics rows, interleaved with ours.
ifneq ($(BENCH_BASELINE),)
BENCH_BASE_COMMIT := $(shell git rev-parse --short=12 --verify -q '$(BENCH_BASELINE)^{commit}')
ifeq ($(BENCH_BASE_COMMIT),)
$(error BENCH_BASELINE=$(BENCH_BASELINE) is not a commit of this repository (git rev-parse))
endif
BENCH_BASE_BIN  := $(BENCH_DIR)/tcpflow-trace@$(BENCH_BASE_COMMIT)
BENCH_BASE_ARGS := --baseline-tracer $(BENCH_BASE_BIN) --baseline-label '$(BENCH_BASELINE)'
endif

bench: bench-deps $(BIN) bench-tools $(BENCH_BASE_BIN)
	$(PYTHON) bench/run_bench.py --tracer $(BIN) --loadgen $(BENCH_LOADGEN) \
		--empty $(BENCH_EMPTY) --bpftool $(BPFTOOL) $(BENCH_OUT) $(BENCH_BASE_ARGS) \
		$(BENCH_ARGS)

# The peers compared with: Debian's bpftrace, and bcc's CO-RE tools (tcpstates, tcplife).
bench-deps: deps
	$(call apt_install,bpftrace libbpf-tools)

# The tracer at another commit, built in a worktree of its own under $(BENCH_DIR) with
# that commit's Makefile (none of our make variables), removed once the binary is out.
$(BENCH_DIR)/tcpflow-trace@%: | $(BENCH_DIR)
	$(call msg,BASELINE,$@)
	$(Q)wt=$(abspath $(BENCH_DIR))/baseline-$*; \
	git worktree remove --force $$wt 2>/dev/null; rm -rf $$wt; \
	git worktree add -q -f --detach $$wt $* || exit 1; \
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) -C $$wt -j$$(nproc) all >$@.log 2>&1; \
	then cp $$wt/build/tcpflow-trace $@; rc=$$?; \
	else echo "building tcpflow-trace at $* failed: see $@.log" >&2; rc=1; fi; \
	git worktree remove --force $$wt; exit $$rc

$(BENCH_LOADGEN): bench/loadgen.c | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lpthread

# the skeleton comes from the top Makefile's BPF rules ($(BUILD)/empty.skel.h)
$(BENCH_EMPTY): bench/empty_loader.c $(BUILD)/empty.skel.h | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lbpf -lelf -lz

$(BENCH_HAMMER): bench/hammer.c include/tcpflow.h | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lbpf

# Does a lookup method on the live table make the tracer lose events? (bench/HAMMER.md)
HAMMER_ARGS ?=
hammer: $(BIN) $(BENCH_HAMMER) tools
	$(PYTHON) bench/hammer_lookup.py --tracer $(BIN) --hammer $(BENCH_HAMMER) $(HAMMER_ARGS)

# Whose softirqs does no BPF program see? ftrace against bpftrace, per task (HAMMER.md)
BLIND_SPOTS_ARGS ?=
blind-spots: bench-deps
	$(PYTHON) bench/observers.py $(BLIND_SPOTS_ARGS)

$(BENCH_DIR):
	$(Q)mkdir -p $@

-include $(wildcard $(BENCH_DIR)/*.d)

# Issue 6's soak: 1,000,000 connections, memory and table size every 5 s (bench/SOAK.md).
soak: $(BIN) $(BENCH_LOADGEN)
	$(PYTHON) bench/soak.py --tracer $(BIN) --loadgen $(BENCH_LOADGEN)

# Issue 13's sweep cost: 100 namespaces x 1000 TIME-WAITs followed by one tracer run
# system-wide (~3 min); writes its section of bench/RESULTS.md.
BENCH_TW_ARGS ?=
bench-tw: $(BIN) $(BENCH_LOADGEN)
	$(PYTHON) bench/tw_sweep.py --tracer $(BIN) --loadgen $(BENCH_LOADGEN) \
		--results bench/RESULTS.md $(BENCH_TW_ARGS)
