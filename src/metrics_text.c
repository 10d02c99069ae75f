// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics registry: Prometheus text exposition format 0.0.4.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 * Every family has HELP and TYPE; histogram buckets are cumulative and end
 * with le="+Inf" (== _count); label values are escaped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

/* ---- text buffer ---- */

static bool text_grow(struct tf_text *t, size_t need)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *p;

	if (t->oom)
		return false;
	while (cap < t->len + need + 1)
		cap *= 2;
	if (cap == t->cap)
		return true;
	p = realloc(t->buf, cap);
	if (!p) {
		t->oom = true;
		return false;
	}
	t->buf = p;
	t->cap = cap;
	return true;
}

static void __attribute__((format(printf, 2, 3)))
text_printf(struct tf_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !text_grow(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static void text_putc(struct tf_text *t, char c)
{
	if (!text_grow(t, 1))
		return;
	t->buf[t->len++] = c;
	t->buf[t->len] = 0;
}

/* s as a label value: backslash, double quote and newline escaped. */
static void text_label_value(struct tf_text *t, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"') {
			text_putc(t, '\\');
			text_putc(t, *s);
		} else if (*s == '\n') {
			text_putc(t, '\\');
			text_putc(t, 'n');
		} else {
			text_putc(t, *s);
		}
	}
}

void tf_text_free(struct tf_text *t)
{
	free(t->buf);
	*t = (struct tf_text){ 0 };
}

/* ---- exposition helpers ---- */

struct lbl {
	const char *k, *v;
};

/* HELP text: backslash and newline escaped (our texts have neither; keep it correct). */
static void header(struct tf_text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			text_printf(t, "\\\\");
		else if (*p == '\n')
			text_printf(t, "\\n");
		else
			text_putc(t, *p);
	}
	text_printf(t, "\n# TYPE %s %s\n", name, type);
}

/* name{k="v",...,le="le"} -- the value follows. */
static void series(struct tf_text *t, const char *name, const char *suffix,
		   const struct lbl *l, int n, const char *le)
{
	text_printf(t, "%s%s", name, suffix);
	if (!n && !le)
		return;
	text_putc(t, '{');
	for (int i = 0; i < n; i++) {
		text_printf(t, "%s%s=\"", i ? "," : "", l[i].k);
		text_label_value(t, l[i].v);
		text_putc(t, '"');
	}
	if (le)
		text_printf(t, "%sle=\"%s\"", n ? "," : "", le);
	text_putc(t, '}');
}

static void sample(struct tf_text *t, const char *name, const struct lbl *l, int n, uint64_t val)
{
	series(t, name, "", l, n, NULL);
	text_printf(t, " %" PRIu64 "\n", val);
}

static void scalar(struct tf_text *t, const char *name, const char *type, const char *help,
		   uint64_t val)
{
	header(t, name, type, help);
	sample(t, name, NULL, 0, val);
}

/* A family with one label, values from names[] (NULL names skipped). */
static void one_label(struct tf_text *t, const char *name, const char *type, const char *help,
		      const char *key, const char *const *names, const uint64_t *vals, int n)
{
	header(t, name, type, help);
	for (int i = 0; i < n; i++) {
		struct lbl l = { key, names[i] };

		if (names[i])
			sample(t, name, &l, 1, vals[i]);
	}
}

static const int role_order[TF_ROLE_MAX] = { TF_ROLE_CLIENT, TF_ROLE_SERVER, TF_ROLE_UNKNOWN };

static const char *port_name(const struct tf_metrics_values *v, int slot, char *buf, size_t len)
{
	if (slot >= v->nports)
		return "other";
	snprintf(buf, len, "%u", v->ports[slot]);
	return buf;
}

/* Slots in use: the known ports, then "other". */
static int next_slot(const struct tf_metrics_values *v, int slot)
{
	return slot + 1 < v->nports ? slot + 1 : slot < TF_METRICS_OTHER ? TF_METRICS_OTHER : -1;
}

static int first_slot(const struct tf_metrics_values *v)
{
	return v->nports ? 0 : TF_METRICS_OTHER;
}

/* ---- families ---- */

static void render_info(struct tf_text *t, const struct tf_metrics_values *v)
{
	struct lbl l = { "version", v->version };

	header(t, "tcpflow_build_info", "gauge",
	       "Version of tcpflow-trace serving these metrics; the value is always 1.");
	sample(t, "tcpflow_build_info", &l, 1, 1);
}

static void render_conns(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char name[] = "tcpflow_connections_total";
	char pb[8];

	header(t, name, "counter",
	       "Finished connections (closed, or still open at exit) by role and service port "
	       "(server: local port, client: remote port; \"other\" beyond the --port or "
	       "learned listening ports).");
	for (int r = 0; r < TF_ROLE_MAX; r++) {
		int role = role_order[r];

		for (int s = first_slot(v); s >= 0; s = next_slot(v, s)) {
			struct lbl l[2] = { { "role", tf_role_name(role) },
					    { "port", port_name(v, s, pb, sizeof(pb)) } };

			sample(t, name, l, 2, v->conns[role][s]);
		}
	}
}

static void render_closes(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char name[] = "tcpflow_connection_closes_total";

	header(t, name, "counter",
	       "Finished connections by role and how they ended: active or passive close, "
	       "simultaneous, reset, refused, connect_failed, timeout, handshake_failed, "
	       "open (still open at exit).");
	for (int r = 0; r < TF_ROLE_MAX; r++) {
		int role = role_order[r];

		for (int k = 0; k < TF_CK_MAX; k++) {
			struct lbl l[2] = { { "role", tf_role_name(role) },
					    { "kind", tf_close_kind_name(k) } };

			sample(t, name, l, 2, v->closes[role][k]);
		}
	}
}

static void render_bytes(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char name[] = "tcpflow_bytes_total";
	static const char *const dirs[2] = { "sent", "received" };

	header(t, name, "counter",
	       "Bytes finished connections carried, read at CLOSE: sent = acknowledged by the peer "
	       "(bytes_acked), received (bytes_received); the kernel's counters, in which a "
	       "client's SYN and an acknowledged FIN count one byte.");
	for (int d = 0; d < 2; d++) {
		for (int r = 0; r < TF_ROLE_MAX; r++) {
			int role = role_order[r];
			struct lbl l[2] = { { "direction", dirs[d] }, { "role", tf_role_name(role) } };

			sample(t, name, l, 2, v->bytes[d][role]);
		}
	}
}

static void render_retrans(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char *const fin_states[4] = { "FIN_WAIT1", "LAST_ACK", "CLOSING", "other" };

	scalar(t, "tcpflow_syn_retransmits_total", "counter",
	       "SYN segments retransmitted by connecting clients.", v->syn_retrans);
	scalar(t, "tcpflow_synack_retransmits_total", "counter",
	       "SYN-ACK segments retransmitted for connections a server accepted.",
	       v->synack_retrans);
	one_label(t, "tcpflow_fin_retransmits_total", "counter",
		  "FIN segments retransmitted, by the state the socket sent them in.",
		  "state", fin_states, v->fin_retrans, 4);
	scalar(t, "tcpflow_retransmits_total", "counter",
	       "Segments retransmitted, every kind (data, SYN, SYN-ACK, FIN).", v->retrans);
}

static void render_close_side(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char *const dirs[2] = { "sent", "received" };
	const char *roles[TF_ROLE_MAX];
	uint64_t tw[TF_ROLE_MAX];

	one_label(t, "tcpflow_resets_total", "counter",
		  "Connections that sent or received a TCP reset.", "direction", dirs, v->resets, 2);
	for (int r = 0; r < TF_ROLE_MAX; r++) {
		roles[r] = tf_role_name(role_order[r]);
		tw[r] = v->tw_handovers[role_order[r]];
	}
	one_label(t, "tcpflow_time_wait_handovers_total", "counter",
		  "Connections handed over to a TIME-WAIT socket (FIN_WAIT2 or CLOSING -> CLOSE), "
		  "by role.", "role", roles, tw, TF_ROLE_MAX);
	scalar(t, "tcpflow_refused_connects_total", "counter",
	       "connect() calls answered by a reset (ECONNREFUSED).", v->refused);
}

static void render_features(struct tf_text *t, const struct tf_metrics_values *v)
{
	const char *names[TF_FEAT_MAX];

	for (int i = 0; i < TF_FEAT_MAX; i++)
		names[i] = tf_feature_name(i);
	one_label(t, "tcpflow_feature_enabled", "gauge",
		  "1 when this kernel runs the optional feature, 0 when it refused it (off, or "
		  "replaced by a fallback: the start-up notice and the JSON stats say which).",
		  "feature", names, v->feature_enabled, TF_FEAT_MAX);
}

static void render_tracer(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char *const causes[TF_MLOST] = {
		"ringbuf_conn", "ringbuf_state", "table_full", "program_skipped",
		"no_record", "synack_table_full", "listener_table_full",
	};

	one_label(t, "tcpflow_lost_events_total", "counter",
		  "Events the tracer lost: ring buffer full (ringbuf_conn, ringbuf_state: raise "
		  "--ringbuf-size), connection table full (table_full: raise --max-conns), "
		  "program runs the kernel skipped (program_skipped), retransmissions and resets "
		  "of connections without a record (no_record: begun before tracing, or evicted), "
		  "SYN-ACK retransmissions or listen() calls the side tables could not hold "
		  "(synack_table_full, listener_table_full).",
		  "cause", causes, v->lost, TF_MLOST);
	scalar(t, "tcpflow_state_changes_total", "counter",
	       "TCP state changes of traced connections.", v->state_changes);
	scalar(t, "tcpflow_malformed_records_total", "counter",
	       "Ring-buffer records of unknown type or size (a tracer bug if not 0).", v->malformed);
	scalar(t, "tcpflow_connections_missed_transitions_total", "counter",
	       "Connections whose record shows a state change TCP cannot make: events were missed.",
	       v->missed_transitions);
	scalar(t, "tcpflow_retransmits_recovered_total", "counter",
	       "Handshake retransmissions the kernel counted that reached none of our program runs: "
	       "restored into their records' counts, without their times.", v->retrans_recovered);
	scalar(t, "tcpflow_retransmits_unseen_total", "counter",
	       "Retransmitted segments the kernel counted by a connection's close that reached none "
	       "of our program runs (Linux >= 6.17): missing from their records, which are flagged "
	       "events_lost.", v->retrans_unseen);
	render_features(t, v);
}

static void render_gauges(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char *const half[2] = { "CLOSE_WAIT", "FIN_WAIT2" };
	const char *states[TF_MSTATES];

	for (int i = 0; i < TF_MSTATES; i++)
		states[i] = tf_state_name(tf_metrics_state(i));
	one_label(t, "tcpflow_tracked_connections", "gauge",
		  "Connections the tracer tracks now, by their current state.",
		  "state", states, v->live, TF_MSTATES);
	one_label(t, "tcpflow_stuck_half_closed_total", "counter",
		  "Half-closed connections that stayed in CLOSE_WAIT or FIN_WAIT2 longer than --stuck.",
		  "state", half, v->stuck_total, 2);
	one_label(t, "tcpflow_stuck_half_closed_connections", "gauge",
		  "Half-closed connections past --stuck that have not finished yet.",
		  "state", half, v->stuck_now, 2);
}

static void render_tw(struct tf_text *t, const struct tf_metrics_values *v)
{
	static const char *const sub[2] = { "time_wait", "fin_wait2" };
	static const char *const half[2] = { "CLOSE_WAIT", "FIN_WAIT2" };
	uint64_t socks[2] = { v->tw_sockets - v->tw_fin_wait2, v->tw_fin_wait2 };
	const char *reasons[TF_TWE_MAX];

	if (!v->have_tw)
		return;
	for (int i = 0; i < TF_TWE_MAX; i++)
		reasons[i] = tf_tw_end_name(i);
	one_label(t, "tcpflow_time_wait_sockets", "gauge",
		  "TIME-WAIT sockets at the last sweep; fin_wait2: still waiting for the peer's FIN.",
		  "substate", sub, socks, 2);
	scalar(t, "tcpflow_time_wait_overflow_total", "counter",
	       "TcpExt TCPTimeWaitOverflow of the host: sockets that skipped TIME-WAIT because "
	       "net.ipv4.tcp_max_tw_buckets was reached.", v->tw_overflow);
	one_label(t, "tcpflow_time_wait_ended_total", "counter",
		  "TIME-WAIT sockets that went away, by reason.", "reason", reasons, v->tw_ended,
		  TF_TWE_MAX);
	one_label(t, "tcpflow_half_closed_sockets", "gauge",
		  "Sockets in CLOSE_WAIT or FIN_WAIT2 at the last sweep, traced or not.",
		  "state", half, v->half_closed, 2);
	scalar(t, "tcpflow_orphaned_fin_wait2_sockets", "gauge",
	       "FIN_WAIT2 sockets at the last sweep that the application already closed "
	       "(the kernel ends them after net.ipv4.tcp_fin_timeout).", v->fin_wait2_orphaned);
}

/* ---- histograms ---- */

struct render_ctx {
	struct tf_text *t;
	const char *last;
};

static void render_hist(void *ctx, const struct tf_hist_view *hv)
{
	struct render_ctx *rc = ctx;
	struct tf_text *t = rc->t;
	struct lbl l[2] = { { hv->key[0], hv->val[0] }, { hv->key[1], hv->val[1] } };
	char le[TF_SECONDS_LEN];

	if (!rc->last || strcmp(rc->last, hv->name)) {
		header(t, hv->name, "histogram", hv->help);
		rc->last = hv->name;
	}
	for (int i = 0; i < TF_BUCKETS; i++) {
		series(t, hv->name, "_bucket", l, hv->nlabels,
		       tf_fmt_seconds(tf_bucket_bound_ns((__u32)i), le, sizeof(le)));
		text_printf(t, " %" PRIu64 "\n", tf_hist_cumulative(&hv->h, i));
	}
	series(t, hv->name, "_bucket", l, hv->nlabels, "+Inf");
	text_printf(t, " %" PRIu64 "\n", hv->h.count);
	series(t, hv->name, "_sum", l, hv->nlabels, NULL);
	text_printf(t, " %s\n", tf_fmt_seconds(hv->h.sum_ns, le, sizeof(le)));
	series(t, hv->name, "_count", l, hv->nlabels, NULL);
	text_printf(t, " %" PRIu64 "\n", hv->h.count);
}

static const char hs_name[] = "tcpflow_handshake_duration_seconds";
static const char hs_help[] =
	"TCP handshake duration: client SYN_SENT to ESTABLISHED; server first SYN-ACK to "
	"ESTABLISHED (kernel timestamp, or the first RTT sample).";
static const char close_name[] = "tcpflow_close_duration_seconds";
static const char close_help[] =
	"Close duration: first FIN sent (active) or received (passive) to CLOSE, by who closed first.";
static const char life_name[] = "tcpflow_connection_lifetime_seconds";
static const char life_help[] =
	"Lifetime of connections seen whole: first state change to CLOSE.";
static const char tw_name[] = "tcpflow_time_wait_duration_seconds";
static const char tw_help[] =
	"TIME-WAIT duration: hand-over to the timewait socket until it went away "
	"(late by at most one sweep), by how it ended.";
static const char rtt_name[] = "tcpflow_rtt_seconds";
static const char rtt_help[] =
	"Smoothed round-trip time of finished connections at CLOSE (srtt), by role; "
	"connections without an RTT sample (refused) are not counted.";
static const char state_name[] = "tcpflow_state_duration_seconds";
static const char state_help[] =
	"Time connections spent in a TCP state, counted when they left it.";

static void view1(struct tf_hist_view *hv, const char *name, const char *help, const char *title,
		  const char *key, const char *val, const struct tf_hist *h)
{
	memset(hv, 0, sizeof(*hv));
	hv->name = name;
	hv->help = help;
	hv->title = title;
	hv->nlabels = 1;
	hv->key[0] = key;
	hv->val[0] = val;
	hv->h = *h;
}

static void each_handshake(const struct tf_metrics_values *v, bool merge, tf_hist_view_fn fn,
			   void *ctx)
{
	struct tf_hist_view hv;

	for (int r = 0; r < 2; r++) {
		int role = r + 1;
		struct tf_hist all = { 0 };

		for (int s = first_slot(v); s >= 0; s = next_slot(v, s)) {
			if (merge) {
				tf_hist_merge(&all, &v->handshake[r][s]);
				continue;
			}
			view1(&hv, hs_name, hs_help, "handshake duration", "role",
			      tf_role_name(role), &v->handshake[r][s]);
			hv.nlabels = 2;
			hv.key[1] = "port";
			hv.val[1] = port_name(v, s, hv.port, sizeof(hv.port));
			fn(ctx, &hv);
		}
		if (merge) {
			view1(&hv, hs_name, hs_help, "handshake duration", "role",
			      tf_role_name(role), &all);
			fn(ctx, &hv);
		}
	}
}

void tf_metrics_each_hist(const struct tf_metrics_values *v, bool merge_ports,
			  tf_hist_view_fn fn, void *ctx)
{
	static const char *const sides[TF_MCLOSE_SIDES] = { "active", "passive", "simultaneous" };
	struct tf_hist_view hv;

	each_handshake(v, merge_ports, fn, ctx);
	for (int i = 0; i < TF_MCLOSE_SIDES; i++) {
		view1(&hv, close_name, close_help, "close duration", "side", sides[i], &v->close[i]);
		fn(ctx, &hv);
	}
	for (int r = 0; r < 2; r++) {
		view1(&hv, life_name, life_help, "connection lifetime", "role", tf_role_name(r + 1),
		      &v->lifetime[r]);
		fn(ctx, &hv);
	}
	for (int r = 0; r < TF_ROLE_MAX; r++) {
		view1(&hv, rtt_name, rtt_help, "round-trip time", "role", tf_role_name(role_order[r]),
		      &v->rtt[role_order[r]]);
		fn(ctx, &hv);
	}
	for (int i = 0; i < TF_TWE_NOT_SWEPT; i++) {	/* not_swept: no end, no duration */
		view1(&hv, tw_name, tw_help, "TIME-WAIT duration", "end", tf_tw_end_name(i),
		      &v->time_wait[i]);
		fn(ctx, &hv);
	}
	for (int i = 0; i < TF_MSTATES; i++) {
		view1(&hv, state_name, state_help, "time in state", "state",
		      tf_state_name(tf_metrics_state(i)), &v->state_time[i]);
		fn(ctx, &hv);
	}
}

int tf_metrics_render(const struct tf_metrics_values *v, struct tf_text *t)
{
	struct render_ctx rc = { .t = t };

	render_info(t, v);
	render_conns(t, v);
	render_closes(t, v);
	render_bytes(t, v);
	render_retrans(t, v);
	render_close_side(t, v);
	render_tracer(t, v);
	render_gauges(t, v);
	render_tw(t, v);
	tf_metrics_each_hist(v, false, render_hist, &rc);
	return t->oom ? -ENOMEM : 0;
}
