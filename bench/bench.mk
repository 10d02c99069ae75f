# tcpflow-trace benchmark (issue 5). Included from the top-level Makefile:
#
#   include bench/bench.mk
#
#   sudo make bench                 full run, ~10 min; rewrites bench/RESULTS.md
#   sudo make bench BENCH_QUICK=1   ~2 min smoke run; report in build/bench/
#   sudo make bench BENCH_ARGS='--only json,empty --rounds 9'
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

ifeq ($(BENCH_QUICK),1)
BENCH_OUT := --quick --results $(BENCH_DIR)/results-quick.md --raw $(BENCH_DIR)/samples-quick.json
else
BENCH_OUT := --results bench/RESULTS.md --raw $(BENCH_DIR)/samples.json
endif

.PHONY: bench bench-tools bench-deps soak hammer bench-tw

bench-tools: $(BENCH_LOADGEN) $(BENCH_EMPTY) $(BENCH_HAMMER)

bench: bench-deps $(BIN) bench-tools
	$(PYTHON) bench/run_bench.py --tracer $(BIN) --loadgen $(BENCH_LOADGEN) \
		--empty $(BENCH_EMPTY) --bpftool $(BPFTOOL) $(BENCH_OUT) $(BENCH_ARGS)

# The peers compared with: Debian's bpftrace, and bcc's CO-RE tools (tcpstates, tcplife).
bench-deps: deps
	$(call apt_install,bpftrace libbpf-tools)

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
