// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every output, byte for byte: one fixed and varied run -- clients and
 * servers, SYN, SYN-ACK, FIN and data retransmissions (more than a record
 * keeps), a refused and a failed connect, an abort whose reset arrives after
 * its CLOSE, TIME-WAIT, a simultaneous close, a timeout, missed transitions,
 * IPv6, connections still open, --events changes, TIME-WAIT sweeps and ends,
 * stuck half-closed connections and the run's counters -- through the core
 * into each sink (line, timeline, two-lane timeline, events, JSON, --hist as
 * text and JSON, --tw as text and JSON) and the metrics registry's
 * Prometheus text, compared with tests/unit/golden/sinks.*.
 *
 * A refactor leaves every file as it is. After an intended change of an
 * output, read the diff and regenerate with
 *   UPDATE_GOLDEN=1 build/tests/test_sinks
 * The JSON file is also the report's input in test_report (writer -> reader).
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "core.h"
#include "metrics.h"
#include "sink.h"

/* A tick far beyond any machine's uptime: the --hist sink prints on it. */
#define TICK_NS (1000000000ull * S)

static const uint8_t LO6[16] = { [15] = 1 };

/* ---- the run ------------------------------------------------------------------------ */

static struct tf_conn conn(uint64_t skaddr, uint32_t pid, const char *comm, uint16_t lp,
			   uint16_t rp)
{
	struct tf_conn c = { .type = TF_REC_CONN, .skaddr = skaddr };

	fx_endpoints(&c, LO, lp, LO, rp);
	fx_owner(&c, pid, comm);
	return c;
}

/* Client: two SYNs lost, active close into TIME-WAIT. */
static struct tf_conn client_syn_retrans(void)
{
	struct tf_conn c = conn(0x1000, 101, "curl", 40001, 5000);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE, TF_SYN_SENT);
	tf_fold_retrans(&c, BASE + 1 * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	tf_fold_retrans(&c, BASE + 3 * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	tf_fold_state(&c, BASE + 3 * S + 210 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 3 * S + 100 * MS, TF_FIN_WAIT1);
	tf_fold_state(&c, BASE + 3 * S + 100 * MS + 40 * US, TF_FIN_WAIT2);
	tf_fold_state(&c, BASE + 3 * S + 100 * MS + 90 * US, TF_CLOSE);
	/* 1000 bytes up, 24 965 down (SYN and FIN count one), in a group not named here */
	tf_fold_traffic(&c, 1002, 24966, 9, 8, 8 * 212, 180);
	c.cgroup_id = 4242;
	return c;
}

/* Its server: handshake from the first RTT sample, passive close; pid from the listener. */
static struct tf_conn server_passive(void)
{
	struct tf_conn c = conn(0x2000, 202, "nginx <w>", 5000, 40001);

	c.flags |= TF_F_PID_LISTENER;
	c.srtt_us = 180;
	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	tf_fold_state(&c, BASE + 3 * S + 190 * US, TF_SYN_RECV);
	tf_fold_state(&c, BASE + 3 * S + 190 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 3 * S + 100 * MS + 30 * US, TF_CLOSE_WAIT);
	tf_fold_state(&c, BASE + 3 * S + 100 * MS + 70 * US, TF_LAST_ACK);
	tf_fold_state(&c, BASE + 3 * S + 100 * MS + 120 * US, TF_CLOSE);
	tf_fold_traffic(&c, 24966, 1001, 8, 9, 8 * 180, 150);
	return c;
}

static struct tf_conn refused(void)
{
	struct tf_conn c = conn(0x3000, 103, "curl", 40002, 5001);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 5 * S, TF_SYN_SENT);
	tf_note_reset(&c, BASE + 5 * S + 40 * US, TF_SYN_SENT, 0);
	tf_fold_state(&c, BASE + 5 * S + 40 * US, TF_CLOSE);
	return c;
}

/* ESTABLISHED -> CLOSE: held by the core until its reset (a TF_REC_RESET) arrives. */
static struct tf_conn aborted(void)
{
	struct tf_conn c = conn(0x4000, 104, "python3", 40003, 5000);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 6 * S, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 6 * S + 55 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 6 * S + 20 * MS, TF_CLOSE);
	return c;
}

/* IPv6 client: data and FIN retransmissions, events lost while it lived. */
static struct tf_conn ipv6_fin_retrans(void)
{
	struct tf_conn c = { .type = TF_REC_CONN, .family = 10, .netns = NETNS, .skaddr = 0x5000,
			     .sport = 40004, .dport = 8443 };

	memcpy(c.saddr, LO6, 16);
	memcpy(c.daddr, LO6, 16);
	fx_owner(&c, 105, "wget");
	c.flags |= TF_F_LOST_EVENTS;
	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 7 * S, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 7 * S + 61 * US, TF_ESTABLISHED);
	tf_fold_retrans(&c, BASE + 7 * S + 250 * MS, TF_ESTABLISHED, TF_TCPHDR_ACK);
	tf_fold_state(&c, BASE + 7 * S + 900 * MS, TF_FIN_WAIT1);
	tf_fold_retrans(&c, BASE + 7 * S + 1110 * MS, TF_FIN_WAIT1, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_retrans(&c, BASE + 7 * S + 1530 * MS, TF_FIN_WAIT1, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_state(&c, BASE + 7 * S + 1531 * MS, TF_FIN_WAIT2);
	tf_fold_state(&c, BASE + 7 * S + 1532 * MS, TF_CLOSE);
	return c;
}

/* Server: SYN-ACK retransmitted (kernel timestamp), both FINs crossed. */
static struct tf_conn server_simultaneous(void)
{
	struct tf_synack sa = { .first_ns = BASE + 8 * S, .count = 1,
				.retrans_ns = { BASE + 9 * S } };
	struct tf_conn c = conn(0x6000, 206, "haproxy", 443, 51000);

	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	tf_fold_synack(&c, &sa);
	c.synack_kernel = 1;
	tf_fold_state(&c, BASE + 9 * S + 300 * US, TF_SYN_RECV);
	tf_fold_state(&c, BASE + 9 * S + 300 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 10 * S, TF_FIN_WAIT1);
	tf_fold_state(&c, BASE + 10 * S + 15 * US, TF_CLOSING);
	tf_fold_retrans(&c, BASE + 10 * S + 200 * MS, TF_CLOSING, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_state(&c, BASE + 10 * S + 201 * MS, TF_CLOSE);
	return c;
}

/* Passive close whose FIN was never acknowledged: timeout (ETIMEDOUT at CLOSE). */
static struct tf_conn last_ack_timeout(void)
{
	struct tf_conn c = conn(0x7000, 207, "redis-server", 6379, 52000);

	c.close_err = 110;
	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	tf_fold_state(&c, BASE + 11 * S, TF_SYN_RECV);
	tf_fold_state(&c, BASE + 11 * S, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 12 * S, TF_CLOSE_WAIT);
	tf_fold_state(&c, BASE + 12 * S + 5 * MS, TF_LAST_ACK);
	tf_fold_retrans(&c, BASE + 12 * S + 210 * MS, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_retrans(&c, BASE + 12 * S + 630 * MS, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_state(&c, BASE + 13 * S + 500 * MS, TF_CLOSE);
	c.retrans_failed = 1;
	return c;
}

/* connect() that gave up: SYN_SENT -> CLOSE without a reset. */
static struct tf_conn connect_failed(void)
{
	struct tf_conn c = conn(0x8000, 108, "ssh", 40008, 22);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 14 * S, TF_SYN_SENT);
	tf_fold_retrans(&c, BASE + 15 * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	tf_fold_state(&c, BASE + 17 * S, TF_CLOSE);
	return c;
}

/* A change TCP cannot make (SYN_SENT -> FIN_WAIT1); ends FIN_WAIT1 -> CLOSE: held. */
static struct tf_conn missed(void)
{
	struct tf_conn c = conn(0x9000, 109, "tcpgen", 40009, 5000);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 18 * S, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 18 * S + 3 * MS, TF_FIN_WAIT1);
	tf_fold_state(&c, BASE + 18 * S + 4 * MS, TF_CLOSE);
	return c;
}

/* More data retransmissions than a record keeps; its CLOSE was never seen (replaced). */
static struct tf_conn many_retrans(void)
{
	struct tf_conn c = conn(0xa000, 110, "rsync", 40010, 873);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 19 * S, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 19 * S + 70 * US, TF_ESTABLISHED);
	for (int i = 0; i < TF_MAX_RETRANS + 2; i++)
		tf_fold_retrans(&c, BASE + 19 * S + (uint64_t)(i + 1) * 200 * MS, TF_ESTABLISHED,
				TF_TCPHDR_ACK);
	c.flags |= TF_F_REPLACED;
	return c;
}

/* Began before tracing, still in CLOSE_WAIT at exit (flushed open). */
static struct tf_conn open_close_wait(void)
{
	struct tf_conn c = conn(0xb000, 211, "app", 8080, 40011);

	tf_fold_begin(&c, TF_ESTABLISHED, TF_CLOSE_WAIT);
	tf_fold_state(&c, BASE + 20 * S, TF_CLOSE_WAIT);
	c.flags |= TF_F_OPEN;
	return c;
}

/* Orphaned FIN_WAIT2 (the application closed, the peer's FIN never came). */
static struct tf_conn open_fin_wait2(void)
{
	struct tf_conn c = conn(0xc000, 112, "java", 40012, 9000);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 21 * S, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 21 * S + 90 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 22 * S, TF_FIN_WAIT1);
	tf_fold_state(&c, BASE + 22 * S + 50 * US, TF_FIN_WAIT2);
	c.flags |= TF_F_OPEN;
	return c;
}

static struct tf_state_event state_event(const struct tf_conn *c, int old, int new,
					 uint64_t ts, uint64_t prev)
{
	struct tf_state_event e = { .type = TF_REC_STATE, .family = c->family,
				    .oldstate = (__u8)old, .newstate = (__u8)new,
				    .role = c->role, .pid = c->pid, .netns = c->netns,
				    .ts_ns = ts, .prev_ns = prev, .skaddr = c->skaddr,
				    .sport = c->sport, .dport = c->dport };

	memcpy(e.comm, c->comm, sizeof(e.comm));
	memcpy(e.saddr, c->saddr, 16);
	memcpy(e.daddr, c->daddr, 16);
	return e;
}

static struct tf_tw_end tw_end(const struct tf_conn *c, uint64_t handover, uint64_t end,
			       int reason, int src)
{
	struct tf_tw_end e = { .family = c->family, .netns = c->netns, .pid = c->pid,
			       .sport = c->sport, .dport = c->dport, .handover_ns = handover,
			       .end_ns = end, .precision_ns = 1 * S, .reason = reason,
			       .substate = TF_TIME_WAIT, .handover_src = src };

	memcpy(e.comm, c->comm, sizeof(e.comm));
	memcpy(e.saddr, c->saddr, 16);
	memcpy(e.daddr, c->daddr, 16);
	return e;
}

static struct tf_tw_snapshot sweep(uint64_t now, uint64_t total)
{
	struct tf_tw_snapshot s = {
		.now_ns = now, .total = total, .fin_wait2_substate = 1, .overflow = 3,
		.ended = { [TF_TWE_EXPIRED] = 4, [TF_TWE_REUSED] = 1, [TF_TWE_NETNS_GONE] = 1 },
		.n_by_lport = 2, .n_by_remote = 1, .close_wait = 1, .fin_wait2 = 1,
		.fin_wait2_orphaned = 1, .untracked = 0, .interval_ns = 1 * S,
		.sweep_cost_ns = 1250 * US,
		.by_lport = {
			{ .port = 5000, .count = total - 1, .oldest_age_ns = 58 * S,
			  .newest_age_ns = 2 * S, .min_remaining_ns = 2 * S,
			  .max_remaining_ns = 58 * S },
			{ .port = 443, .count = 1, .oldest_age_ns = 30 * S, .newest_age_ns = 30 * S,
			  .min_remaining_ns = 30 * S, .max_remaining_ns = 30 * S },
		},
		.by_remote = { { .family = 2, .addr = { 127, 0, 0, 1 }, .port = 5000,
				 .count = total, .oldest_age_ns = 58 * S, .newest_age_ns = 2 * S,
				 .min_remaining_ns = 2 * S, .max_remaining_ns = 58 * S } },
	};

	return s;
}

/* The whole run into core's sinks. */
static void play(struct tf_core *core)
{
	struct tf_conn r[] = { client_syn_retrans(), server_passive(), refused(), aborted(),
			       ipv6_fin_retrans(), server_simultaneous(), last_ack_timeout(),
			       connect_failed(), missed(), many_retrans() };
	struct tf_conn cw = open_close_wait(), fw2 = open_fin_wait2();
	struct tf_run_stats k = { 0 };	/* the kernel's side, as the loader reads it */
	struct tf_state_event ev[] = {
		state_event(&r[0], TF_CLOSE, TF_SYN_SENT, BASE, 0),
		state_event(&r[0], TF_SYN_SENT, TF_ESTABLISHED, BASE + 3 * S + 210 * US, BASE),
		state_event(&r[0], TF_ESTABLISHED, TF_FIN_WAIT1, BASE + 3 * S + 100 * MS,
			    BASE + 3 * S + 210 * US),
		state_event(&cw, TF_ESTABLISHED, TF_CLOSE_WAIT, BASE + 20 * S, 0),
	};
	struct tf_reset_event rst = { .type = TF_REC_RESET, .sent = 1, .state = TF_CLOSE,
				      .netns = NETNS, .ts_ns = BASE + 6 * S + 20 * MS + 5 * US,
				      .skaddr = 0x4000 };
	struct tf_tw_end ends[] = {
		tw_end(&r[0], BASE + 3 * S + 100 * MS + 90 * US, BASE + 64 * S, TF_TWE_EXPIRED,
		       TF_TWH_TRACED),
		tw_end(&r[5], BASE + 10 * S + 201 * MS, BASE + 31 * S, TF_TWE_REUSED,
		       TF_TWH_KERNEL_STAMP),
		tw_end(&r[4], 0, BASE + 40 * S, TF_TWE_NETNS_GONE, TF_TWH_UNKNOWN),
	};
	struct tf_stuck stuck[] = {
		{ .rec = &cw, .state = TF_CLOSE_WAIT, .age_ns = 31 * S },
		{ .rec = &fw2, .state = TF_FIN_WAIT2, .age_ns = 95 * S, .orphaned = true,
		  .idle_age = true },
	};
	struct tf_tw_snapshot sw[] = {
		sweep(BASE + 30 * S, 3), sweep(BASE + 30 * S + 500 * MS, 4),
		sweep(BASE + 45 * S, 2),
	};

	for (size_t i = 0; i < 3; i++)
		tf_core_record(core, &ev[i], sizeof(ev[i]));
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		tf_core_record(core, &r[i], sizeof(r[i]));
	tf_core_record(core, &rst, sizeof(rst));			/* merged into aborted() */
	tf_core_record(core, &ev[3], sizeof(ev[3]));
	tf_core_flush_pending(core, BASE + 18 * S + 5 * MS, 500 * MS);	/* missed(): too young */
	tf_core_flush_pending(core, BASE + 19 * S, 500 * MS);		/* now it goes */
	for (size_t i = 0; i < sizeof(sw) / sizeof(sw[0]); i++) {
		tf_core_tw_sweep(core, &sw[i]);
		if (i < sizeof(ends) / sizeof(ends[0]))
			tf_core_tw_end(core, &ends[i]);
		if (i < sizeof(stuck) / sizeof(stuck[0]))
			tf_core_stuck(core, &stuck[i]);
	}
	k.events = 57;
	k.bpf[TF_STAT_CREATED] = 16;
	k.bpf[TF_STAT_EMITTED] = 10;
	k.bpf[TF_STAT_RB_LOST_CONN] = 1;
	k.bpf[TF_STAT_RB_LOST_STATE] = 2;
	k.bpf[TF_STAT_TABLE_FULL] = 1;
	k.bpf[TF_STAT_REPLACED] = 1;
	k.bpf[TF_STAT_RETRANS_FAILED] = 1;
	k.bpf[TF_STAT_SYNACK_RETRANS] = 2;
	k.bpf[TF_STAT_NO_RECORD] = 1;
	k.bpf[TF_STAT_RETRANS_RECOVERED] = 2;
	k.recursion_misses = 1;
	k.live[TF_CLOSE_WAIT] = 1;
	k.live[TF_FIN_WAIT2] = 1;
	k.live_total = 2;
	tf_core_set_kernel_stats(core, &k);	/* as main does at a tick */
	tf_core_tick(core, TICK_NS);
	tf_core_record(core, &cw, sizeof(cw));		/* flushed open at exit */
	tf_core_record(core, &fw2, sizeof(fw2));
	tf_core_finish(core);
}

/* ---- the metrics registry behind a sink, as --metrics feeds it (without HTTP) ------- */

static struct tf_metrics *registry_of(struct tf_sink *sk)
{
	return sk->priv;
}

static void m_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	tf_metrics_conn(registry_of(sk), s);
}

static void m_stats(struct tf_sink *sk, uint64_t now_ns, const struct tf_run_stats *st)
{
	(void)now_ns;
	tf_metrics_stats(registry_of(sk), st);
}

static void m_finish(struct tf_sink *sk, const struct tf_run_stats *st)
{
	m_stats(sk, 0, st);
}

static void m_tw_sweep(struct tf_sink *sk, const struct tf_tw_snapshot *snap)
{
	tf_metrics_tw(registry_of(sk), snap);
}

static void m_tw_end(struct tf_sink *sk, const struct tf_tw_end *e)
{
	tf_metrics_tw_end(registry_of(sk), e);
}

static void m_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	tf_metrics_stuck(registry_of(sk), st);
}

static const struct tf_sink_ops registry_ops = {
	.name = "registry", .conn = m_conn, .tick = m_stats, .finish = m_finish,
	.tw_sweep = m_tw_sweep, .tw_end = m_tw_end, .stuck = m_stuck,
};

/* ---- each output ----------------------------------------------------------------------- */

/* The whole run through one sink (the core owns and frees it). */
static char *run(struct tf_sink *sk, struct fx_out *o)
{
	struct tf_core core;

	CHECK(sk != NULL);
	tf_core_init(&core);
	tf_core_add_sink(&core, sk);
	play(&core);
	tf_core_free(&core);
	return fx_text(o);
}

/* The --hist sink's exit print is stamped with the real clock: blank that one stamp. */
static void blank_exit_time(char *s)
{
	for (char *p = s; (p = strstr(p, "--- ")); p += 4)
		if (strlen(p) >= 12 && !strncmp(p + 12, ", at exit", 9))
			memcpy(p + 4, "HH:MM:SS", 8);
	for (char *p = s; (p = strstr(p, "{\"type\":\"hist\",\"time\":\"")); p++) {
		char *t = p + strlen("{\"type\":\"hist\",\"time\":\"");
		char *q = strchr(t, '"');

		if (q && !strncmp(q, "\",\"final\":true", 14))
			memset(t, 'X', (size_t)(q - t));
	}
}

static void check_sink(const char *file, struct tf_sink *(*mk)(FILE *, int64_t))
{
	struct fx_out o;
	char *out = run(mk(fx_open(&o), OFFSET), &o);

	tf_check_golden("test_sinks", file, out);
	free(out);
}

static void line(void)
{
	check_sink("sinks.line.txt", tf_sink_line_new);
}

static void timeline(void)
{
	check_sink("sinks.timeline.txt", tf_sink_timeline_new);
}

static struct tf_sink *paired_new(FILE *f, int64_t off)
{
	return tf_sink_paired_new(tf_sink_timeline_new(f, off), 2.0);
}

static void timeline_paired(void)
{
	check_sink("sinks.timeline-paired.txt", paired_new);
}

static void events(void)
{
	check_sink("sinks.events.txt", tf_sink_events_new);
}

static void json(void)
{
	check_sink("sinks.json.jsonl", tf_sink_json_new);
}

static void hist(bool json_lines)
{
	struct fx_out o;
	char *out = run(tf_sink_hist_new(fx_open(&o), OFFSET, json_lines, 5, NULL), &o);

	blank_exit_time(out);
	tf_check_golden("test_sinks", json_lines ? "sinks.hist.jsonl" : "sinks.hist.txt", out);
	free(out);
}

static void hist_text(void)
{
	hist(false);
}

static void hist_json(void)
{
	hist(true);
}

static void tw(bool json_lines)
{
	struct fx_out o;
	char *out = run(tf_sink_tw_new(fx_open(&o), OFFSET, 5, json_lines), &o);

	tf_check_golden("test_sinks", json_lines ? "sinks.tw.jsonl" : "sinks.tw.txt", out);
	free(out);
}

static void tw_text(void)
{
	tw(false);
}

static void tw_json(void)
{
	tw(true);
}

/* The longest tw_top line there can be still fits the JSON writer: never dropped. */
static void tw_json_longest_fits(void)
{
	struct tf_tw_snapshot s = { .now_ns = BASE, .n_by_lport = TF_TW_TOP,
				    .n_by_remote = TF_TW_TOP, .interval_ns = INT64_MIN,
				    .sweep_cost_ns = INT64_MIN };
	struct tf_tw_group g = { .netns = UINT32_MAX, .family = AF_INET6, .port = 65535,
				 .count = UINT64_MAX,
				 .oldest_age_ns = INT64_MIN, .newest_age_ns = INT64_MIN,
				 .min_remaining_ns = INT64_MIN, .max_remaining_ns = INT64_MIN };
	struct fx_out o;
	struct tf_sink *sk = tf_sink_tw_new(fx_open(&o), OFFSET, 5, true);
	char *out;

	memset(g.addr, 0xff, sizeof(g.addr));
	s.total = s.fin_wait2_substate = s.overflow = s.close_wait = s.fin_wait2 = UINT64_MAX;
	s.fin_wait2_orphaned = s.untracked = UINT64_MAX;
	for (int i = 0; i < TF_TWE_MAX; i++)
		s.ended[i] = UINT64_MAX;
	for (int i = 0; i < TF_TW_TOP; i++)
		s.by_lport[i] = s.by_remote[i] = g;
	CHECK(sk != NULL);
	if (!sk)
		return;
	sk->ops->tw_sweep(sk, &s);
	tf_sink_free(sk);
	out = fx_text(&o);
	CHECK(strlen(out) > 4096);
	CHECK(strstr(out, "\"by_lport\":[{\"netns\":4294967295,\"port\":65535,"
			  "\"count\":18446744073709551615,\"oldest_age_us\":-9223372036854775,") != NULL);
	CHECK(strstr(out, ",{\"netns\":4294967295,\"family\":\"ipv6\","
			  "\"addr\":\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\",\"port\":65535,"
			  "\"count\":18446744073709551615,\"oldest_age_us\":-9223372036854775,"
			  "\"newest_age_us\":-9223372036854775,\"min_remaining_us\":-9223372036854775,"
			  "\"max_remaining_us\":-9223372036854775}]}\n") != NULL);
	free(out);
}

static void metrics_text(void)
{
	static const uint16_t ports[] = { 5000, 443 };
	struct tf_metrics *m = tf_metrics_new(ports, 2, "golden");
	struct tf_sink *sk = tf_sink_alloc(&registry_ops, stdout, OFFSET, 0);
	struct tf_text t = { 0 };
	struct tf_core core;

	CHECK(m && sk);
	if (!m || !sk)
		return;
	sk->priv = m;
	tf_core_init(&core);
	tf_core_add_sink(&core, sk);
	play(&core);
	CHECK_INT(tf_metrics_render(tf_metrics_values(m), &t), 0);
	tf_check_golden("test_sinks", "sinks.metrics.txt", t.buf ? t.buf : "");
	tf_text_free(&t);
	tf_core_free(&core);
	tf_metrics_free(m);
}

/* The run is what it claims to be: each kind of record reached the sinks. */
static void run_is_varied(void)
{
	struct fx_out o;
	char *out = run(tf_sink_json_new(fx_open(&o), OFFSET), &o);

	CHECK_INT(strstr(out, "\"type\":\"stats\",\"conns\":12,") != NULL, 1);
	for (const char *const *k = (const char *const[]){
		     "\"role\":\"client\"", "\"role\":\"server\"", "\"close\":\"active\"",
		     "\"close\":\"passive\"", "\"close\":\"simultaneous\"", "\"close\":\"refused\"",
		     "\"close\":\"connect_failed\"", "\"close\":\"reset\"", "\"close_end\":\"timeout\"",
		     "\"close_end\":\"time_wait\"", "\"close_end\":\"open\"", "\"reset\":\"sent\"",
		     "\"reset\":\"received\"", "\"kind\":\"SYN\"", "\"kind\":\"SYNACK\"",
		     "\"kind\":\"FIN\"", "\"kind\":\"DATA\"", "\"family\":\"ipv6\"",
		     "began_before_trace", "open_at_exit", "retransmits_truncated", "close_not_seen",
		     "pid_from_listener", "events_lost", "missed_transitions",
		     "\"type\":\"time_wait\"", "\"end\":\"reused\"", "\"type\":\"stuck\"", NULL };
	     *k; k++)
		if (!strstr(out, *k)) {
			fprintf(stderr, "the run has no %s\n", *k);
			CHECK(!"a kind of record is missing");
		}
	free(out);
}

/* The text --hist header is in local time: UTC here, before any test runs. */
__attribute__((constructor)) static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TF_TEST_MAIN("test_sinks", T(run_is_varied), T(line), T(timeline), T(timeline_paired), T(events),
	     T(json), T(hist_text), T(hist_json), T(tw_text), T(tw_json), T(tw_json_longest_fits),
	     T(metrics_text))
