// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics registry and its Prometheus text: exact expected output for
 * escaping, cumulative buckets, +Inf, sums; counters that never go down;
 * the bounded port label; the stuck half-closed gauge.
 */
#include <stdlib.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "metrics.h"

static uint64_t next_skaddr = 0xffff888000001000ull;

/* A client connection: SYN_SENT, ESTABLISHED after hs_ns, active close into TIME-WAIT. */
static struct tf_conn client(uint16_t dport, uint64_t hs_ns, int syn_retrans)
{
	struct tf_conn c = { 0 };
	uint64_t t = BASE + hs_ns;

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	c.family = 2;
	c.skaddr = next_skaddr += 0x800;
	c.sport = 40000;
	c.dport = dport;
	tf_fold_state(&c, BASE, TF_SYN_SENT);
	for (int i = 0; i < syn_retrans; i++)
		tf_fold_retrans(&c, BASE + (1ull << i) * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	tf_fold_state(&c, t, TF_ESTABLISHED);
	tf_fold_state(&c, t + 1 * MS, TF_FIN_WAIT1);
	tf_fold_state(&c, t + 1 * MS + 20 * US, TF_FIN_WAIT2);
	tf_fold_state(&c, t + 1 * MS + 40 * US, TF_CLOSE);
	return c;
}

/* A server child on lport: handshake = first RTT sample, passive close. */
static struct tf_conn server(uint16_t lport, uint32_t srtt_us)
{
	struct tf_conn c = { 0 };
	uint64_t t = BASE + srtt_us * US;

	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	c.family = 2;
	c.skaddr = next_skaddr += 0x800;
	c.sport = lport;
	c.dport = 40000;
	c.srtt_us = srtt_us;
	tf_fold_state(&c, t, TF_SYN_RECV);
	tf_fold_state(&c, t, TF_ESTABLISHED);
	tf_fold_state(&c, t + 2 * MS, TF_CLOSE_WAIT);
	tf_fold_state(&c, t + 3 * MS, TF_LAST_ACK);
	tf_fold_state(&c, t + 3 * MS + 30 * US, TF_CLOSE);
	return c;
}

static void feed(struct tf_metrics *m, const struct tf_conn *c)
{
	struct tf_summary s;

	tf_summarize(c, &s);
	tf_metrics_conn(m, &s);
}

static char *render(const struct tf_metrics *m)
{
	struct tf_text t = { 0 };

	CHECK_INT(tf_metrics_render(tf_metrics_values(m), &t), 0);
	return t.buf;
}

/* n whole lines of text, starting at the line that begins with `first`. */
static char *lines(const char *text, const char *first, int n)
{
	static char buf[8192];
	const char *p = text, *e;
	size_t flen = strlen(first);

	while (p && strncmp(p, first, flen)) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return "(line not found)";
	for (e = p; n > 0 && e; n--) {
		e = strchr(e, '\n');
		e = e ? e + 1 : NULL;
	}
	if (!e || (size_t)(e - p) >= sizeof(buf))
		return "(too few lines)";
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = 0;
	return buf;
}

static void label_escaping(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "1.0 \"q\" back\\slash\nline2\ttab");
	char *out = render(m);

	/* a tab is no escape in the text format: it stays */
	CHECK_STR(lines(out, "# HELP tcpflow_build_info", 3),
		  "# HELP tcpflow_build_info Version of tcpflow-trace serving these metrics; the value is always 1.\n"
		  "# TYPE tcpflow_build_info gauge\n"
		  "tcpflow_build_info{version=\"1.0 \\\"q\\\" back\\\\slash\\nline2\ttab\"} 1\n");
	free(out);
	tf_metrics_free(m);
}

/* Cumulative buckets ending in +Inf == _count, exact sum, one series per port slot. */
static void handshake_histogram_exact(void)
{
	static const uint16_t ports[] = { 8080 };
	struct tf_metrics *m = tf_metrics_new(ports, 1, "t");
	struct tf_conn a = client(8080, 50 * US, 0), b = client(8080, 1000123 * US, 1);
	struct tf_conn c = client(9999, 200 * US, 0);
	char *out;

	feed(m, &a);
	feed(m, &b);
	feed(m, &c);
	out = render(m);
	CHECK_STR(lines(out, "# HELP tcpflow_handshake_duration_seconds", 2),
		  "# HELP tcpflow_handshake_duration_seconds TCP handshake duration: client SYN_SENT to "
		  "ESTABLISHED; server first SYN-ACK to ESTABLISHED (kernel timestamp, or the first RTT sample).\n"
		  "# TYPE tcpflow_handshake_duration_seconds histogram\n");
	CHECK_STR(lines(out, "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\"", 28),
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00001\"} 0\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00002\"} 0\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00004\"} 0\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00008\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00016\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00032\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00064\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00128\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00256\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.00512\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.01024\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.02048\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.04096\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.08192\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.16384\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.32768\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"0.65536\"} 1\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"1.31072\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"2.62144\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"5.24288\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"10.48576\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"20.97152\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"41.94304\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"83.88608\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"167.77216\"} 2\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"8080\",le=\"+Inf\"} 2\n"
		  "tcpflow_handshake_duration_seconds_sum{role=\"client\",port=\"8080\"} 1.000173\n"
		  "tcpflow_handshake_duration_seconds_count{role=\"client\",port=\"8080\"} 2\n");
	/* the port nobody asked for folds into "other" */
	CHECK_STR(lines(out, "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"other\",le=\"0.00016\"", 2),
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"other\",le=\"0.00016\"} 0\n"
		  "tcpflow_handshake_duration_seconds_bucket{role=\"client\",port=\"other\",le=\"0.00032\"} 1\n");
	CHECK_STR(lines(out, "tcpflow_handshake_duration_seconds_sum{role=\"client\",port=\"other\"}", 2),
		  "tcpflow_handshake_duration_seconds_sum{role=\"client\",port=\"other\"} 0.0002\n"
		  "tcpflow_handshake_duration_seconds_count{role=\"client\",port=\"other\"} 1\n");
	CHECK_STR(lines(out, "tcpflow_connections_total{", 6),
		  "tcpflow_connections_total{role=\"client\",port=\"8080\"} 2\n"
		  "tcpflow_connections_total{role=\"client\",port=\"other\"} 1\n"
		  "tcpflow_connections_total{role=\"server\",port=\"8080\"} 0\n"
		  "tcpflow_connections_total{role=\"server\",port=\"other\"} 0\n"
		  "tcpflow_connections_total{role=\"unknown\",port=\"8080\"} 0\n"
		  "tcpflow_connections_total{role=\"unknown\",port=\"other\"} 0\n");
	CHECK_STR(lines(out, "# HELP tcpflow_syn_retransmits_total", 3),
		  "# HELP tcpflow_syn_retransmits_total SYN segments retransmitted by connecting clients.\n"
		  "# TYPE tcpflow_syn_retransmits_total counter\n"
		  "tcpflow_syn_retransmits_total 1\n");
	free(out);
	tf_metrics_free(m);
}

/* Close kinds, resets, FIN retransmits by state, TIME-WAIT hand-overs, refused. */
static void close_side_counters(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	struct tf_conn a = client(80, 100 * US, 0), b = server(80, 150), r = { 0 };
	char *out;

	tf_fold_retrans(&a, BASE + 1 * S, TF_FIN_WAIT1, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_retrans(&b, BASE + 1 * S, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_retrans(&b, BASE + 2 * S, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_begin(&r, TF_CLOSE, TF_SYN_SENT);	/* refused: RST received in SYN_SENT */
	r.dport = 81;
	tf_fold_state(&r, BASE, TF_SYN_SENT);
	tf_note_reset(&r, BASE + 30 * US, TF_SYN_SENT, 0);
	tf_fold_state(&r, BASE + 30 * US, TF_CLOSE);
	feed(m, &a);
	feed(m, &b);
	feed(m, &r);
	out = render(m);
	CHECK_STR(lines(out, "tcpflow_connection_closes_total{role=\"client\",kind=\"active\"}", 1),
		  "tcpflow_connection_closes_total{role=\"client\",kind=\"active\"} 1\n");
	CHECK_STR(lines(out, "tcpflow_connection_closes_total{role=\"client\",kind=\"refused\"}", 1),
		  "tcpflow_connection_closes_total{role=\"client\",kind=\"refused\"} 1\n");
	CHECK_STR(lines(out, "tcpflow_connection_closes_total{role=\"server\",kind=\"passive\"}", 1),
		  "tcpflow_connection_closes_total{role=\"server\",kind=\"passive\"} 1\n");
	CHECK_STR(lines(out, "# TYPE tcpflow_fin_retransmits_total", 5),
		  "# TYPE tcpflow_fin_retransmits_total counter\n"
		  "tcpflow_fin_retransmits_total{state=\"FIN_WAIT1\"} 1\n"
		  "tcpflow_fin_retransmits_total{state=\"LAST_ACK\"} 2\n"
		  "tcpflow_fin_retransmits_total{state=\"CLOSING\"} 0\n"
		  "tcpflow_fin_retransmits_total{state=\"other\"} 0\n");
	CHECK_STR(lines(out, "tcpflow_retransmits_total ", 1), "tcpflow_retransmits_total 3\n");
	CHECK_STR(lines(out, "tcpflow_resets_total{", 2),
		  "tcpflow_resets_total{direction=\"sent\"} 0\n"
		  "tcpflow_resets_total{direction=\"received\"} 1\n");
	CHECK_STR(lines(out, "tcpflow_time_wait_handovers_total{", 3),
		  "tcpflow_time_wait_handovers_total{role=\"client\"} 1\n"
		  "tcpflow_time_wait_handovers_total{role=\"server\"} 0\n"
		  "tcpflow_time_wait_handovers_total{role=\"unknown\"} 0\n");
	CHECK_STR(lines(out, "tcpflow_refused_connects_total ", 1), "tcpflow_refused_connects_total 1\n");
	/* the server's port 80 was learned; so the client's connection to 80 is labelled too */
	CHECK_STR(lines(out, "tcpflow_connections_total{", 2),
		  "tcpflow_connections_total{role=\"client\",port=\"80\"} 0\n"
		  "tcpflow_connections_total{role=\"client\",port=\"other\"} 2\n");
	CHECK_STR(lines(out, "tcpflow_handshake_duration_seconds_sum{role=\"server\",port=\"80\"}", 2),
		  "tcpflow_handshake_duration_seconds_sum{role=\"server\",port=\"80\"} 0.00015\n"
		  "tcpflow_handshake_duration_seconds_count{role=\"server\",port=\"80\"} 1\n");
	free(out);
	tf_metrics_free(m);
}

/* Close duration by side, lifetime of whole connections, time in each state. */
static void durations(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	const struct tf_metrics_values *v = tf_metrics_values(m);
	struct tf_conn a = client(80, 100 * US, 0), b = server(80, 150), mid = { 0 };

	feed(m, &a);
	feed(m, &b);
	tf_fold_begin(&mid, TF_ESTABLISHED, TF_FIN_WAIT1);	/* began before tracing */
	tf_fold_state(&mid, BASE, TF_FIN_WAIT1);
	tf_fold_state(&mid, BASE + 5 * MS, TF_FIN_WAIT2);
	tf_fold_state(&mid, BASE + 6 * MS, TF_CLOSE);
	feed(m, &mid);
	CHECK_INT(v->close[0].count, 2);			/* active: a and mid */
	CHECK_INT(v->close[0].sum_ns, (40 * US) + (6 * MS));
	CHECK_INT(v->close[1].count, 1);			/* passive: b */
	CHECK_INT(v->close[1].sum_ns, 1 * MS + 30 * US);
	CHECK_INT(v->lifetime[0].count, 1);			/* mid is not whole */
	CHECK_INT(v->lifetime[0].sum_ns, 100 * US + 1 * MS + 40 * US);
	CHECK_INT(v->lifetime[1].sum_ns, 150 * US + 3 * MS + 30 * US);
	/* SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING */
	CHECK_INT(v->state_time[0].sum_ns, 100 * US);
	CHECK_INT(v->state_time[1].sum_ns, 150 * US);		/* server: derived from the RTT sample */
	CHECK_INT(v->state_time[2].count, 2);
	CHECK_INT(v->state_time[2].sum_ns, 1 * MS + 2 * MS);
	CHECK_INT(v->state_time[3].count, 2);
	CHECK_INT(v->state_time[3].sum_ns, 20 * US + 5 * MS);
	CHECK_INT(v->state_time[4].sum_ns, 20 * US + 1 * MS);
	CHECK_INT(v->state_time[5].sum_ns, 1 * MS);
	CHECK_INT(v->state_time[6].sum_ns, 30 * US);
	CHECK_INT(v->state_time[7].count, 0);
	tf_metrics_free(m);
}

/* Kernel counters come as totals; a smaller total never lowers a counter. */
static void counters_never_decrease(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	struct tf_run_stats st = { 0 };
	char *out;

	st.bpf[TF_STAT_RB_LOST_CONN] = 5;
	st.bpf[TF_STAT_TABLE_FULL] = 2;
	st.recursion_misses = 1;
	st.bpf[TF_STAT_NO_RECORD] = 3;
	st.bpf[TF_STAT_SYNACK_UNPARKED] = 4;
	st.bpf[TF_STAT_LISTENER_FULL] = 6;
	st.bpf[TF_STAT_RETRANS_RECOVERED] = 8;
	st.events = 100;
	st.live[TF_ESTABLISHED] = 7;
	st.live[TF_CLOSE_WAIT] = 3;
	tf_metrics_stats(m, &st);
	memset(&st, 0, sizeof(st));
	st.bpf[TF_STAT_RB_LOST_CONN] = 4;	/* e.g. a per-CPU value read mid-update */
	st.events = 90;
	st.live[TF_ESTABLISHED] = 6;		/* gauges may go down */
	tf_metrics_stats(m, &st);
	out = render(m);
	CHECK_STR(lines(out, "# HELP tcpflow_lost_events_total", 9),
		  "# HELP tcpflow_lost_events_total Events the tracer lost: ring buffer full (ringbuf_conn, "
		  "ringbuf_state: raise --ringbuf-size), connection table full (table_full: raise "
		  "--max-conns), program runs the kernel skipped (program_skipped), retransmissions "
		  "and resets of connections without a record (no_record: begun before tracing, or "
		  "evicted), SYN-ACK retransmissions or listen() calls the side tables could not hold "
		  "(synack_table_full, listener_table_full).\n"
		  "# TYPE tcpflow_lost_events_total counter\n"
		  "tcpflow_lost_events_total{cause=\"ringbuf_conn\"} 5\n"
		  "tcpflow_lost_events_total{cause=\"ringbuf_state\"} 0\n"
		  "tcpflow_lost_events_total{cause=\"table_full\"} 2\n"
		  "tcpflow_lost_events_total{cause=\"program_skipped\"} 1\n"
		  "tcpflow_lost_events_total{cause=\"no_record\"} 3\n"
		  "tcpflow_lost_events_total{cause=\"synack_table_full\"} 4\n"
		  "tcpflow_lost_events_total{cause=\"listener_table_full\"} 6\n");
	CHECK_STR(lines(out, "tcpflow_retransmits_recovered_total ", 1),
		  "tcpflow_retransmits_recovered_total 8\n");
	CHECK_STR(lines(out, "tcpflow_state_changes_total ", 1), "tcpflow_state_changes_total 100\n");
	CHECK_STR(lines(out, "# TYPE tcpflow_tracked_connections", 9),
		  "# TYPE tcpflow_tracked_connections gauge\n"
		  "tcpflow_tracked_connections{state=\"SYN_SENT\"} 0\n"
		  "tcpflow_tracked_connections{state=\"SYN_RECV\"} 0\n"
		  "tcpflow_tracked_connections{state=\"ESTABLISHED\"} 6\n"
		  "tcpflow_tracked_connections{state=\"FIN_WAIT1\"} 0\n"
		  "tcpflow_tracked_connections{state=\"FIN_WAIT2\"} 0\n"
		  "tcpflow_tracked_connections{state=\"CLOSE_WAIT\"} 0\n"
		  "tcpflow_tracked_connections{state=\"LAST_ACK\"} 0\n"
		  "tcpflow_tracked_connections{state=\"CLOSING\"} 0\n");
	free(out);
	tf_metrics_free(m);
}

/* TIME-WAIT families appear with the first sweep, not before (no false zeros). */
static void time_wait_sweep(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	struct tf_tw_snapshot snap = { 0 };
	char *out = render(m);

	CHECK(!strstr(out, "tcpflow_time_wait_sockets"));
	CHECK(!strstr(out, "tcpflow_time_wait_overflow_total"));
	free(out);
	snap.total = 12;
	snap.fin_wait2_substate = 2;
	snap.overflow = 9;
	snap.ended[TF_TWE_EXPIRED] = 30;
	snap.ended[TF_TWE_REUSED] = 4;
	snap.close_wait = 5;
	snap.fin_wait2 = 3;
	snap.fin_wait2_orphaned = 1;
	tf_metrics_tw(m, &snap);
	snap.overflow = 3;	/* never lowers the counter */
	snap.total = 11;
	tf_metrics_tw(m, &snap);
	out = render(m);
	CHECK_STR(lines(out, "# HELP tcpflow_time_wait_sockets", 22),
		  "# HELP tcpflow_time_wait_sockets TIME-WAIT sockets at the last sweep; fin_wait2: still "
		  "waiting for the peer's FIN.\n"
		  "# TYPE tcpflow_time_wait_sockets gauge\n"
		  "tcpflow_time_wait_sockets{substate=\"time_wait\"} 9\n"
		  "tcpflow_time_wait_sockets{substate=\"fin_wait2\"} 2\n"
		  "# HELP tcpflow_time_wait_overflow_total TcpExt TCPTimeWaitOverflow of the host: sockets "
		  "that skipped TIME-WAIT because net.ipv4.tcp_max_tw_buckets was reached.\n"
		  "# TYPE tcpflow_time_wait_overflow_total counter\n"
		  "tcpflow_time_wait_overflow_total 9\n"
		  "# HELP tcpflow_time_wait_ended_total TIME-WAIT sockets that went away, by reason.\n"
		  "# TYPE tcpflow_time_wait_ended_total counter\n"
		  "tcpflow_time_wait_ended_total{reason=\"expired\"} 30\n"
		  "tcpflow_time_wait_ended_total{reason=\"reused\"} 4\n"
		  "tcpflow_time_wait_ended_total{reason=\"reset\"} 0\n"
		  "tcpflow_time_wait_ended_total{reason=\"netns_gone\"} 0\n"
		  "tcpflow_time_wait_ended_total{reason=\"unknown\"} 0\n"
		  "tcpflow_time_wait_ended_total{reason=\"not_swept\"} 0\n"
		  "# HELP tcpflow_half_closed_sockets Sockets in CLOSE_WAIT or FIN_WAIT2 at the last sweep, "
		  "traced or not.\n"
		  "# TYPE tcpflow_half_closed_sockets gauge\n"
		  "tcpflow_half_closed_sockets{state=\"CLOSE_WAIT\"} 5\n"
		  "tcpflow_half_closed_sockets{state=\"FIN_WAIT2\"} 3\n"
		  "# HELP tcpflow_orphaned_fin_wait2_sockets FIN_WAIT2 sockets at the last sweep that the "
		  "application already closed (the kernel ends them after net.ipv4.tcp_fin_timeout).\n"
		  "# TYPE tcpflow_orphaned_fin_wait2_sockets gauge\n"
		  "tcpflow_orphaned_fin_wait2_sockets 1\n");
	free(out);
	tf_metrics_free(m);
}

/* Many stuck connections (colliding slots), finished in another order. */
static void stuck_gauge(void)
{
	enum { N = 2000 };
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	const struct tf_metrics_values *v = tf_metrics_values(m);
	static struct tf_conn c[N];
	int bad = 0;

	for (int i = 0; i < N; i++) {
		struct tf_stuck st = { .rec = &c[i], .state = i % 3 ? TF_CLOSE_WAIT : TF_FIN_WAIT2 };

		c[i] = server(8000, 20);
		c[i].skaddr = 0xffff888000000000ull + (uint64_t)(i % 7) * 4096 * 16;	/* same home slots */
		c[i].dport = (uint16_t)(30000 + i);
		tf_metrics_stuck(m, &st);
	}
	CHECK_INT(v->stuck_now[0] + v->stuck_now[1], N);
	CHECK_INT(v->stuck_total[0], N - (N + 2) / 3);
	/* the same connection reported again in the other state moves, it is not added */
	tf_metrics_stuck(m, &(struct tf_stuck){ .rec = &c[1], .state = TF_FIN_WAIT2 });
	CHECK_INT(v->stuck_now[0] + v->stuck_now[1], N);
	for (int i = 0; i < N; i++) {
		int k = (i * 7919) % N;		/* a permutation: 7919 is prime, N is not a multiple */

		feed(m, &c[k]);
		if (v->stuck_now[0] + v->stuck_now[1] != (uint64_t)(N - 1 - i) && bad++ < 3)
			fprintf(stderr, "after %d finished: %" PRIu64 " stuck\n", i + 1,
				v->stuck_now[0] + v->stuck_now[1]);
	}
	CHECK_INT(bad, 0);
	CHECK_INT(v->stuck_total[0] + v->stuck_total[1], N + 1);	/* counters stay */
	tf_metrics_free(m);
}

/* The gauge remembers at most 3072 connections; the counter counts every one. */
static void stuck_gauge_capped(void)
{
	enum { N = 3100, CAP = 3072 };
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	const struct tf_metrics_values *v = tf_metrics_values(m);
	static struct tf_conn c[N];

	for (int i = 0; i < N; i++) {
		c[i] = server(8000, 20);
		tf_metrics_stuck(m, &(struct tf_stuck){ .rec = &c[i], .state = TF_CLOSE_WAIT });
	}
	CHECK_INT(v->stuck_now[0], CAP);
	CHECK_INT(v->stuck_total[0], N);
	feed(m, &c[N - 1]);			/* never remembered: the gauge stays */
	CHECK_INT(v->stuck_now[0], CAP);
	feed(m, &c[0]);				/* remembered: one less, and room for one more */
	CHECK_INT(v->stuck_now[0], CAP - 1);
	tf_metrics_stuck(m, &(struct tf_stuck){ .rec = &c[N - 2], .state = TF_CLOSE_WAIT });
	CHECK_INT(v->stuck_now[0], CAP);
	tf_metrics_free(m);
}

/* Without --port: the first TF_METRICS_LEARN_PORTS listening ports, the rest "other". */
static void port_label_bounded(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	const struct tf_metrics_values *v = tf_metrics_values(m);

	for (int i = 0; i < 40; i++) {
		struct tf_conn s = server((uint16_t)(9000 + i), 10);

		feed(m, &s);
		feed(m, &s);
	}
	CHECK_INT(v->nports, TF_METRICS_LEARN_PORTS);
	CHECK_INT(v->ports[0], 9000);
	CHECK_INT(v->conns[TF_ROLE_SERVER][0], 2);
	CHECK_INT(v->conns[TF_ROLE_SERVER][TF_METRICS_OTHER], 2 * (40 - TF_METRICS_LEARN_PORTS));
	tf_metrics_free(m);
}

/* Whole text: HELP and TYPE before every family's samples, no duplicate series. */
static void structure(void)
{
	static const uint16_t ports[] = { 1, 2, 3 };
	struct tf_metrics *m = tf_metrics_new(ports, 3, "t");
	struct tf_conn a = client(2, 3 * S, 2);
	struct tf_tw_snapshot snap = { .total = 1 };
	char *out, *line, *save = NULL, fam[128] = "", typed[128] = "";
	int samples = 0, bad = 0;

	feed(m, &a);
	tf_metrics_tw(m, &snap);
	out = render(m);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%127s", fam);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			sscanf(line + 7, "%127s", typed);
			bad += strcmp(fam, typed) != 0;
			continue;
		}
		samples++;
		if (strncmp(line, fam, strlen(fam)) || strcmp(fam, typed)) {
			if (bad++ < 3)
				fprintf(stderr, "sample outside its family %s: %s\n", fam, line);
		}
	}
	CHECK_INT(bad, 0);
	/* docs/METRICS.md's worst case: 59 * P + 682 series for P port label values (here 3 + other) */
	CHECK_INT(samples, 59 * 4 + 682);
	free(out);
	tf_metrics_free(m);
}

TF_TEST_MAIN("test_metrics", T(label_escaping), T(handshake_histogram_exact), T(close_side_counters),
	     T(durations), T(counters_never_decrease), T(time_wait_sweep), T(stuck_gauge),
	     T(stuck_gauge_capped), T(port_label_bounded), T(structure))
