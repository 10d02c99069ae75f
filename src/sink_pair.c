// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --timeline for connections with both ends on this host: the two sockets'
 * records, paired (pair.c), printed as one two-lane timeline so the
 * four-way close reads as an exchange. See sink.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "conn.h"
#include "fmt.h"
#include "pair.h"
#include "sink.h"

#define MAX_ROWS (2 * (TF_MAX_STATES + 1 + TF_MAX_RETRANS))
#define LANE_W 44

struct paired {
	struct tf_sink *inner;	/* the one-socket timeline */
	struct tf_pair *pair;
	struct tf_sink *self;
};

struct row {
	uint64_t t_ns;		/* absolute, CLOCK_MONOTONIC */
	int lane;		/* 0: left (connecting side), 1: right */
	char text[LANE_W + 8];
};

/* What a state change means on the wire, in a few words. */
static const char *wire_note(const struct tf_summary *s, int i)
{
	const struct tf_state_point *p = &s->states[i];

	switch (p->state) {
	case TF_SYN_SENT: return "SYN ->";
	case TF_SYN_RECV: return p->derived ? "<- SYN, SYN-ACK ->" : "<- ACK (child created)";
	case TF_ESTABLISHED: return "";
	case TF_FIN_WAIT1: return "FIN ->";
	case TF_FIN_WAIT2: return "<- ACK of our FIN";
	case TF_CLOSE_WAIT: return "<- FIN";
	case TF_LAST_ACK: return "FIN ->";
	case TF_CLOSING: return "<- FIN (FINs crossed)";
	case TF_CLOSE:
		if (s->time_wait && i == s->nstates - 1)
			return "timewait socket, ~60 s";
		if (s->reset)
			return s->reset == TF_RST_SENT ? "RST ->" : "<- RST";
		if (s->close_end == TF_CE_ORDERLY)
			return "<- ACK of our FIN";
		return s->close_end == TF_CE_TIMEOUT ? "gave up (timeout)" : "";
	}
	return "";
}

static int add_rows(struct row *rows, int n, const struct tf_summary *s, int lane)
{
	for (int i = 0; i < s->nstates && n < MAX_ROWS; i++, n++) {
		bool tw = s->states[i].state == TF_CLOSE && s->time_wait && i == s->nstates - 1;

		rows[n] = (struct row){ .t_ns = s->t0_ns + (uint64_t)s->states[i].t_ns, .lane = lane };
		const char *note = wire_note(s, i);

		snprintf(rows[n].text, sizeof(rows[n].text), *note ? "%-11s %s" : "%s",
			 tw ? "TIME_WAIT" : tf_state_name(s->states[i].state), note);
	}
	for (int i = 0; i < s->nretrans && n < MAX_ROWS; i++, n++) {
		const struct tf_retrans_point *r = &s->retrans[i];

		rows[n] = (struct row){ .t_ns = s->t0_ns + (uint64_t)r->t_ns, .lane = lane };
		snprintf(rows[n].text, sizeof(rows[n].text), "  ~ %s retransmitted (%s)",
			 tf_retrans_kind_name(r->kind), tf_state_name(r->state));
	}
	return n;
}

static int row_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	if (a->t_ns != b->t_ns)
		return a->t_ns < b->t_ns ? -1 : 1;
	return a->lane - b->lane;
}

static void side_line(FILE *o, const char *tag, const struct tf_summary *s)
{
	const struct tf_conn *c = s->rec;
	char d1[24], d2[24], traffic[160];

	fprintf(o, "  %s: %s close, end %s", tag, tf_close_kind_name(s->close_kind),
		s->time_wait ? "time_wait" : tf_close_end_name(s->close_end));
	if (s->fin_ack_ns >= 0)
		fprintf(o, ", its FIN acked after %s", tf_fmt_dur(s->fin_ack_ns, d1, sizeof(d1)));
	if (s->close_ns >= 0)
		fprintf(o, ", close took %s", tf_fmt_dur(s->close_ns, d2, sizeof(d2)));
	fprintf(o, ", FIN retransmits %u (FIN_WAIT1 %u, LAST_ACK %u, CLOSING %u)%s\n", c->fin_retrans,
		c->fin_retrans_by_state[TF_FIN_IN_FIN_WAIT1], c->fin_retrans_by_state[TF_FIN_IN_LAST_ACK],
		c->fin_retrans_by_state[TF_FIN_IN_CLOSING], tf_fmt_traffic(c, traffic, sizeof(traffic)));
}

/* "client 127.0.0.1:48266 pid 12 (tcpgen)" */
static void lane_title(char *buf, size_t len, const struct tf_summary *s)
{
	const struct tf_conn *c = s->rec;
	char ep[TF_ADDR_LEN + 8];

	snprintf(buf, len, "%s %s pid %u (%.16s)", tf_role_name(s->role),
		 tf_fmt_endpoint(c->family, c->saddr, c->sport, ep, sizeof(ep)), c->pid, c->comm);
}

static void print_pair(struct tf_sink *sk, const struct tf_conn *a, const struct tf_conn *b)
{
	struct tf_summary sa, sb;
	struct row rows[MAX_ROWS];
	char t[TF_TIME_LEN], la[96], lb[96], d[24], dd[24];
	FILE *o = sk->out;
	uint64_t t0;
	int n;

	tf_summarize(a, &sa);
	tf_summarize(b, &sb);
	t0 = sa.t0_ns < sb.t0_ns ? sa.t0_ns : sb.t0_ns;
	n = add_rows(rows, 0, &sa, 0);
	n = add_rows(rows, n, &sb, 1);
	qsort(rows, (size_t)n, sizeof(rows[0]), row_cmp);

	tf_fmt_rfc3339((int64_t)t0 + sk->mono_to_real_ns, t, sizeof(t));
	fprintf(o, "%.15s both ends on this host, netns %u%s\n", t + 11, a->netns,
		sa.complete && sb.complete ? "" : " [incomplete]");
	lane_title(la, sizeof(la), &sa);
	lane_title(lb, sizeof(lb), &sb);
	fprintf(o, "  %12s  %-*s %s\n", "", LANE_W, la, lb);
	for (int i = 0; i < n; i++) {
		const char *rel = "0";

		if (rows[i].t_ns != t0) {
			snprintf(d, sizeof(d), "+%s", tf_fmt_dur((int64_t)(rows[i].t_ns - t0), dd, sizeof(dd)));
			rel = d;
		}

		if (rows[i].lane == 0)
			fprintf(o, "  %12s  %s\n", rel, rows[i].text);
		else
			fprintf(o, "  %12s  %-*s %s\n", rel, LANE_W, "", rows[i].text);
	}
	side_line(o, tf_role_name(sa.role), &sa);
	side_line(o, tf_role_name(sb.role), &sb);
	fputc('\n', o);
}

/* ---- pair callbacks ----------------------------------------------------------------- */

static void on_single(void *ctx, const struct tf_conn *c)
{
	struct paired *p = ctx;
	struct tf_summary s;

	tf_summarize(c, &s);
	p->inner->ops->conn(p->inner, &s);
}

static void on_pair(void *ctx, const struct tf_conn *a, const struct tf_conn *b)
{
	struct paired *p = ctx;

	print_pair(p->self, a, b);
}

/* ---- sink ops ------------------------------------------------------------------------- */

static void paired_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	struct paired *p = sk->priv;
	const struct tf_conn *c = s->rec;

	tf_pair_offer(p->pair, c, c->nstates ? c->state_ns[(c->nstates - 1) % TF_MAX_STATES] : 0);
}

static void paired_tick(struct tf_sink *sk, uint64_t now_ns, const struct tf_run_stats *st)
{
	struct paired *p = sk->priv;

	tf_pair_expire(p->pair, now_ns);
	if (p->inner->ops->tick)
		p->inner->ops->tick(p->inner, now_ns, st);
}

static void paired_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	struct paired *p = sk->priv;

	if (p->inner->ops->stuck)
		p->inner->ops->stuck(p->inner, st);
}

static void paired_finish(struct tf_sink *sk, const struct tf_run_stats *st)
{
	struct paired *p = sk->priv;

	tf_pair_expire(p->pair, UINT64_MAX);
	if (p->inner->ops->finish)
		p->inner->ops->finish(p->inner, st);
}

static void paired_free(struct tf_sink *sk)
{
	struct paired *p = sk->priv;

	if (!p)
		return;
	tf_pair_free(p->pair);
	tf_sink_free(p->inner);
	free(p);
}

static const struct tf_sink_ops paired_ops = {
	.name = "timeline (paired)", .conn = paired_conn, .tick = paired_tick,
	.stuck = paired_stuck, .finish = paired_finish, .free = paired_free,
};

struct tf_sink *tf_sink_paired_new(struct tf_sink *inner, double window_s)
{
	struct tf_sink *sk;
	struct paired *p;

	if (!inner)
		return NULL;
	sk = tf_sink_alloc(&paired_ops, inner->out, inner->mono_to_real_ns, 0);
	p = calloc(1, sizeof(*p));
	if (!sk || !p) {
		free(p);
		free(sk);
		tf_sink_free(inner);
		return NULL;
	}
	p->inner = inner;
	p->self = sk;
	sk->priv = p;
	p->pair = tf_pair_new((uint64_t)(window_s * 1e9),
			      &(struct tf_pair_ops){ .single = on_single, .pair = on_pair, .ctx = p });
	if (!p->pair) {
		tf_sink_free(sk);
		return NULL;
	}
	return sk;
}
