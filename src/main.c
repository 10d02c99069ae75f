// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpflow-trace: wire options -> loader -> core -> sinks, run the loop,
 * stop cleanly. Data flows one way: kernel -> ring buffer (loader) -> core
 * -> its stage (the close side, timewait.h) -> sinks. main reads the
 * kernel's counters from the loader and hands them to the core; it never
 * writes the core's fields.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include "cgroup.h"
#include "core.h"
#include "exitcodes.h"
#include "fmt.h"
#include "loader.h"
#include "options.h"
#include "report/report.h"
#include "privs.h"
#include "sink.h"
#include "timewait.h"

#define POLL_MS 100
#define TICK_NS 1000000000ull
#define PENDING_NS 10000000ull	/* 10 ms */
#define PAIR_WINDOW_S 2.0	/* --timeline waits this long for a local connection's other end */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	if (stop_requested)	/* second Ctrl-C: leave now */
		_exit(128 + sig);
	stop_requested = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed stdout shows up as EPIPE on write: we stop quietly then. */
	signal(SIGPIPE, SIG_IGN);
}

static void on_record(void *ctx, const void *data, size_t len)
{
	tf_core_record(ctx, data, len);
}

static const struct tf_cgroup_name *name_cgroup(void *ctx, uint64_t id)
{
	return tf_cgroups_name(ctx, id);
}

/* --cgroup paths to the ids the programs compare. Returns 0 or an exit status. */
static int resolve_cgroups(struct tf_config *cfg)
{
	char msg[512];

	for (int i = 0; i < cfg->ncgroups; i++) {
		if (tf_cgroup_filter(cfg->cgroups[i], &cfg->cgroup_ids[i], &cfg->cgroup_levels[i],
				     msg, sizeof(msg))) {
			fprintf(stderr, "tcpflow-trace: %s\n", msg);
			return TF_EXIT_USAGE;
		}
	}
	return 0;
}

/* The sinks the options ask for. Returns 0 or -1 (message printed). */
static int add_sinks(struct tf_core *core, const struct tf_config *cfg, int64_t off)
{
	struct tf_sink *sk = NULL;

	switch (cfg->output) {
	case TF_OUT_LINE: sk = tf_sink_line_new(stdout, off); break;
	case TF_OUT_TIMELINE:	/* both ends local: one two-lane timeline */
		sk = tf_sink_paired_new(tf_sink_timeline_new(stdout, off), PAIR_WINDOW_S);
		break;
	case TF_OUT_EVENTS: sk = tf_sink_events_new(stdout, off); break;
	case TF_OUT_JSON: sk = tf_sink_json_new(stdout, off); break;
	case TF_OUT_NONE: return 0;
	}
	if (tf_core_add_sink(core, sk)) {
		tf_sink_free(sk);
		fprintf(stderr, "tcpflow-trace: out of memory setting up the output\n");
		return -1;
	}
	return 0;
}

static int read_kmetrics(void *ctx, struct tf_km_sum *out)
{
	return tf_loader_read_kmetrics(ctx, out);
}

/*
 * --hist and --metrics; they read what the kernel folded from the loader
 * when it folds (feature kernel_metrics). Returns 0 or an exit status
 * (message printed).
 */
static int add_metric_sinks(struct tf_core *core, const struct tf_config *cfg,
			    struct tf_loader *l, int64_t off)
{
	struct tf_km_source km = { .read = read_kmetrics, .ctx = l,
				   .learned = tf_loader_kmetrics_learned(l) };
	const struct tf_km_source *kms = tf_loader_kmetrics(l) ? &km : NULL;
	struct tf_sink *sk;
	char msg[512];

	if (cfg->hist) {
		sk = tf_sink_hist_new(stdout, off, cfg->json, cfg->interval_s, kms);
		if (tf_core_add_sink(core, sk)) {
			tf_sink_free(sk);
			fprintf(stderr, "tcpflow-trace: out of memory setting up --hist\n");
			return TF_EXIT_RUNTIME;
		}
	}
	if (!cfg->metrics)
		return 0;
	sk = tf_sink_metrics_new(cfg->metrics, cfg->ports, cfg->nports, tf_core_stats(core), kms,
				 msg, sizeof(msg));
	if (!sk) {
		fprintf(stderr, "tcpflow-trace: %s\n", msg);
		return errno == ENOMEM ? TF_EXIT_RUNTIME : TF_EXIT_METRICS;
	}
	if (tf_core_add_sink(core, sk)) {
		tf_sink_free(sk);
		fprintf(stderr, "tcpflow-trace: too many outputs for --metrics\n");
		return TF_EXIT_RUNTIME;
	}
	fprintf(stderr, "tcpflow-trace: %s\n", msg);
	return 0;
}

/*
 * The TIME-WAIT tracker (cheap: one socket walk per --tw-interval) for --tw,
 * --json and --metrics, and the --tw view: the loader loads its iterators,
 * the tracker becomes the core's stage. Returns 0 or an exit status.
 */
static int add_close_side(struct tf_core *core, const struct tf_config *cfg,
			  struct tf_loader *l, struct tf_features *fs, struct tf_tw **tw,
			  int64_t off)
{
	struct tf_sink *sk;
	char msg[512];
	int rc;

	if (!cfg->tw && !cfg->json && !cfg->metrics)
		return 0;
	rc = tf_loader_start_iters(l, cfg, msg, sizeof(msg));
	if (!rc)
		rc = tf_tw_new(tw, cfg, l, core, fs, msg, sizeof(msg));
	if (rc && cfg->tw) {
		fprintf(stderr, "tcpflow-trace: %s\n", msg);
		return rc;
	}
	if (rc) {	/* a refused iterator has its feature notice; anything else a note */
		if (fs->f[TF_FEAT_TCP_ITER].state == TF_FS_ENABLED)
			fprintf(stderr, "tcpflow-trace: note: %s\n", msg);
		return 0;
	}
	if (!cfg->tw)
		return 0;
	sk = tf_sink_tw_new(stdout, off, cfg->interval_s, cfg->json);
	if (tf_core_add_sink(core, sk)) {
		tf_sink_free(sk);
		fprintf(stderr, "tcpflow-trace: too many outputs for --tw\n");
		return TF_EXIT_RUNTIME;
	}
	return 0;
}

static void describe_filters(const struct tf_config *cfg, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < cfg->nports && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%u", i ? "," : " port ", cfg->ports[i]);
	for (int i = 0; i < cfg->npids && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%u", i ? "," : " pid ", cfg->pids[i]);
	for (int i = 0; i < cfg->ncgroups && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? "," : " cgroup ", cfg->cgroups[i]);
	if (cfg->family && n < len)
		n += snprintf(buf + n, len - n, " %s", cfg->family == 2 ? "IPv4" : "IPv6");
	if (cfg->netns && n < len)
		snprintf(buf + n, len - n, " netns %u", cfg->netns);
}

/* stdout closed under us (e.g. `| head -1`)? Also noticed without writing. */
static bool output_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO };

	if (fflush(stdout) && errno == EPIPE)
		return true;
	/* a pipe whose reader has gone reports POLLERR on its write end */
	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/*
 * The kernel's counters into kst (its features are already there), then
 * into the core. metrics: also the live table, by state.
 */
static void kernel_stats(struct tf_loader *l, struct tf_core *core, struct tf_run_stats *kst,
			 bool metrics)
{
	tf_loader_read_stats(l, kst);
	if (metrics)
		kst->live_total = (uint64_t)tf_loader_count_live(l, kst->live);
	tf_core_set_kernel_stats(core, kst);
}

static int run_loop(struct tf_loader *l, struct tf_core *core, struct tf_run_stats *kst,
		    const struct tf_config *cfg, struct tf_tw *tw)
{
	uint64_t start = tf_now_mono_ns(), next_tick = start + TICK_NS;
	uint64_t end = cfg->duration_s > 0 ? start + (uint64_t)(cfg->duration_s * 1e9) : 0;

	while (!stop_requested) {
		const char *problem;
		uint64_t now;
		int n = tf_loader_poll(l, POLL_MS);

		if (n < 0) {
			fprintf(stderr, "tcpflow-trace: reading the ring buffer failed: %s\n",
				strerror(-n));
			return TF_EXIT_RUNTIME;
		}
		now = tf_now_mono_ns();
		/* drained: a reset that follows an abort's CLOSE has arrived by now */
		tf_core_flush_pending(core, now, PENDING_NS);
		if (n > 0 && output_gone())
			return TF_EXIT_OK;
		if (now >= next_tick) {
			tf_loader_refresh_listeners(l);
			kernel_stats(l, core, kst, cfg->metrics);
			tf_core_tick(core, now);
			next_tick = now + TICK_NS;
			if (output_gone())
				return TF_EXIT_OK;
		}
		/* a sweep never ends the tracer: namespaces come and go all day */
		if (tw && tf_tw_sweep(tw, now) && (problem = tf_tw_problem(tw)))
			fprintf(stderr, "tcpflow-trace: TIME-WAIT tracker: %s\n", problem);
		if (end && now >= end)
			break;
	}
	return TF_EXIT_OK;
}

static void print_summary(const struct tf_run_stats *st)
{
	uint64_t lost = tf_run_lost(st);

	fprintf(stderr, "tcpflow-trace: %" PRIu64 " connections (%" PRIu64 " still open), %" PRIu64
		" state changes, %" PRIu64 " lost events\n",
		tf_run_conns(st), st->flushed_open, st->events, lost);
	if (st->bpf[TF_STAT_FOLDED])
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " of them folded into the metrics in the "
			"kernel, %" PRIu64 " sent as records; %" PRIu64 " TIME-WAIT hand-overs sent "
			"alone\n", st->bpf[TF_STAT_FOLDED], st->conns, st->handovers);
	if (tf_run_lost_ringbuf(st) || st->bpf[TF_STAT_RB_LOST_STATE])
		fprintf(stderr, "tcpflow-trace: ring buffer full %" PRIu64 " times: raise --ringbuf-size\n",
			tf_run_lost_ringbuf(st) + st->bpf[TF_STAT_RB_LOST_STATE]);
	if (st->bpf[TF_STAT_TABLE_FULL])
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " connections not traced, table full: "
			"raise --max-conns\n", st->bpf[TF_STAT_TABLE_FULL]);
	if (tf_run_evicted(st))
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " connections evicted from a full table: "
			"raise --max-conns\n", tf_run_evicted(st));
	if (st->bpf[TF_STAT_NO_RECORD])
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " retransmissions or resets of connections "
			"without a record (begun before tracing, or evicted)\n",
			st->bpf[TF_STAT_NO_RECORD]);
	if (st->bpf[TF_STAT_SYNACK_UNPARKED] || st->bpf[TF_STAT_LISTENER_FULL])
		fprintf(stderr, "tcpflow-trace: side tables full: %" PRIu64 " SYN-ACK retransmissions "
			"not held for their connection, %" PRIu64 " listen() calls not recorded\n",
			st->bpf[TF_STAT_SYNACK_UNPARKED], st->bpf[TF_STAT_LISTENER_FULL]);
	if (st->recursion_misses)
		fprintf(stderr, "tcpflow-trace: the kernel skipped our programs %" PRIu64
			" times (a nested run on the same CPU; those events are missing)\n",
			st->recursion_misses);
	if (tf_run_gaps(st))
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " connections show a state change TCP cannot "
			"make: events were missed there (flag \"missed_transitions\")\n", tf_run_gaps(st));
	if (st->bpf[TF_STAT_RETRANS_UNSEEN])
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " retransmitted segments the kernel counted "
			"reached none of our programs: missing from their records, kind and time "
			"unknown (flag \"events_lost\")\n", st->bpf[TF_STAT_RETRANS_UNSEEN]);
	if (st->bpf[TF_STAT_RETRANS_RECOVERED])
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " handshake retransmissions reached none of "
			"our programs; restored from the kernel's counts, without their times "
			"(flag \"events_lost\")\n", st->bpf[TF_STAT_RETRANS_RECOVERED]);
}

/*
 * --check: start as a run would (load, attach, probe every optional
 * program, start the TIME-WAIT tracker), say what this kernel and these
 * privileges allow, stop. *l and *tw are the caller's to free. Returns 0
 * when tracing works, else the status a run would exit with.
 */
static int check_kernel(const struct tf_config *cfg, struct tf_core *core,
			struct tf_loader **l, struct tf_tw **tw)
{
	struct tf_features feats = { 0 }, *fs = &feats;
	struct utsname u;
	char msg[512], twmsg[512];
	int rc, off = 0, fallback = 0;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	printf("%-20s %s %s\n", "kernel", u.release, u.machine);
	printf("%-20s %s (%s)\n", "btf", cfg->btf_path ? cfg->btf_path : "/sys/kernel/btf/vmlinux",
	       cfg->btf_path ? "--btf" : "the running kernel's");
	rc = tf_loader_start(l, cfg, fs, on_record, core, msg, sizeof(msg));
	if (rc) {
		printf("%-20s %s    %s\n", "core", rc == TF_EXIT_PERM ? "refused" : "missing", msg);
		printf("tracing does not work here; optional features not probed\n");
		return rc;
	}
	/* probes tcp_iter & co, then what following other namespaces needs */
	if (!tf_loader_start_iters(*l, cfg, twmsg, sizeof(twmsg)))
		tf_tw_new(tw, cfg, *l, core, fs, twmsg, sizeof(twmsg));
	printf("%-20s available  sock:inet_sock_set_state and the ring buffer: tracing works\n",
	       "core");
	tf_features_check_lines(fs, stdout);
	for (int i = 0; i < TF_FEAT_MAX; i++) {
		off += fs->f[i].state == TF_FS_OFF;
		fallback += fs->f[i].state == TF_FS_FALLBACK;
	}
	printf("tracing works: %d of %d optional features available, %d with a fallback, %d off\n",
	       TF_FEAT_MAX - off - fallback, TF_FEAT_MAX, fallback, off);
	return TF_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct tf_loader *loader = NULL;
	struct tf_cgroups *cgroups = NULL;
	struct tf_tw *tw = NULL;
	struct tf_run_stats kst = { 0 };	/* the kernel's side: features, counters */
	struct tf_config cfg;
	struct tf_core core;
	char msg[512], filt[256];
	int rc;

	rc = tf_options_parse(argc, argv, &cfg, stdout, stderr);
	if (rc >= 0)
		return rc;
	if (cfg.command == TF_CMD_REPORT)	/* report FILE.jsonl -o report.html */
		return tf_report_main(&cfg.report);
	/*
	 * Into a file or pipe, 256 KiB writes instead of 4 KiB ones (a write()
	 * cost ~6 us here: at 64 KiB, 8% of --json's CPU); the loop still
	 * flushes after every batch it reads, so a pipe sees each batch within
	 * one poll (100 ms). A terminal stays line-buffered.
	 */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, 1 << 18);
	setup_signals();
	tf_core_init(&core);
	rc = resolve_cgroups(&cfg);
	if (rc)
		goto cleanup;
	/* before dropping privileges: the cgroup2 mount is found once */
	cgroups = tf_cgroups_new();
	tf_core_set_cgroup_name(&core, name_cgroup, cgroups);
	if (cfg.check) {
		rc = check_kernel(&cfg, &core, &loader, &tw);
		goto cleanup;
	}
	rc = tf_loader_start(&loader, &cfg, &kst.features, on_record, &core, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "tcpflow-trace: %s\n", msg);
		goto cleanup;
	}
	/* Enters --netns for its socket walks: needs the privileges we drop next. */
	rc = add_close_side(&core, &cfg, loader, &kst.features, &tw, tf_mono_to_real_ns());
	if (rc)
		goto cleanup;
	tf_core_set_kernel_stats(&core, &kst);	/* the features, before any sink */
	/* Before any thread starts (the metrics server): capabilities are per thread. */
	rc = tf_drop_privileges(cfg.user, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "tcpflow-trace: %s\n", msg);
		goto cleanup;
	}
	if (add_sinks(&core, &cfg, tf_mono_to_real_ns())) {
		rc = TF_EXIT_RUNTIME;
		goto cleanup;
	}
	rc = add_metric_sinks(&core, &cfg, loader, tf_mono_to_real_ns());
	if (rc)
		goto cleanup;
	tf_features_notify(&kst.features, stderr);
	describe_filters(&cfg, filt, sizeof(filt));
	fprintf(stderr, "tcpflow-trace: tracing TCP connections%s%s (Ctrl-C to stop)\n", filt,
		tf_loader_kmetrics(loader) ? "; metrics folded in the kernel" : "");

	rc = run_loop(loader, &core, &kst, &cfg, tw);

	tf_loader_detach(loader);
	tf_loader_flush_open(loader);
	tf_loader_read_stats(loader, &kst);
	kst.live_total = tf_core_stats(&core)->flushed_open;	/* the table, as flushed */
	tf_core_set_kernel_stats(&core, &kst);
	tf_core_finish(&core);
	if (!output_gone())
		fflush(stdout);
	print_summary(tf_core_stats(&core));
cleanup:
	tf_core_free(&core);	/* first: the metrics server reads the loader's maps */
	tf_loader_free(loader);
	tf_cgroups_free(cgroups);
	tf_tw_free(tw);
	return rc;
}
