# tcpflow-trace benchmark (issue 5). Included from the top-level Makefile:
#
#   include bench/bench.mk
#
#   sudo make bench                 full run, ~10 min; rewrites bench/RESULTS.md
#   sudo make bench BENCH_QUICK=1   ~2 min smoke run; report in build/bench/
#   sudo make bench BENCH_ARGS='--only json,empty --rounds 9'
#
# Needs root, bpftool, bpftrace (Debian's, the comparison baseline) and the
# tracer; loopback traffic only.

BENCH_DIR     := $(BUILD)/bench
BENCH_LOADGEN := $(BENCH_DIR)/tcpflow-loadgen
BENCH_EMPTY   := $(BENCH_DIR)/tcpflow-bench-empty
BENCH_ARGS    ?=
BENCH_QUICK   ?=

ifeq ($(BENCH_QUICK),1)
BENCH_OUT := --quick --results $(BENCH_DIR)/results-quick.md --raw $(BENCH_DIR)/samples-quick.json
else
BENCH_OUT := --results bench/RESULTS.md --raw $(BENCH_DIR)/samples.json
endif

.PHONY: bench bench-tools bench-deps

bench-tools: $(BENCH_LOADGEN) $(BENCH_EMPTY)

bench: bench-deps $(BIN) bench-tools
	$(PYTHON) bench/run_bench.py --tracer $(BIN) --loadgen $(BENCH_LOADGEN) \
		--empty $(BENCH_EMPTY) --bpftool $(BPFTOOL) $(BENCH_OUT) $(BENCH_ARGS)

# Debian's bpftrace is the comparison baseline.
bench-deps: deps
	@command -v bpftrace >/dev/null || { \
		if [ "$$(id -u)" != 0 ]; then \
			echo "bpftrace is missing -- run as root (sudo make bench) to install it" >&2; exit 1; \
		fi; \
		echo "installing: bpftrace"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null; } || \
		{ echo "apt-get install bpftrace failed" >&2; exit 1; }; }

$(BENCH_LOADGEN): bench/loadgen.c | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lpthread

$(BENCH_DIR)/empty.bpf.o: bench/empty.bpf.c | $(BENCH_DIR)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BENCH_DIR)/empty.skel.h: $(BENCH_DIR)/empty.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name empty_bpf > $@

$(BENCH_EMPTY): bench/empty_loader.c $(BENCH_DIR)/empty.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_DIR) $< -o $@ -lbpf -lelf -lz

$(BENCH_DIR):
	$(Q)mkdir -p $@

-include $(wildcard $(BENCH_DIR)/*.d)
