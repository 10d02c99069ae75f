// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ladder diagrams of connections as inline SVG (see svg.h). Pure functions
 * of their inputs (no clock, no globals), so the output is byte-for-byte
 * stable and checked against golden files.
 *
 * A ladder shows what our events prove about the wire:
 *   SYN_SENT          we sent a SYN               SYN_RECV*  (derived) SYN in, SYN-ACK out
 *   SYN_SENT->ESTAB.  SYN-ACK in, ACK out          SYN_RECV->ESTAB.  the final ACK in
 *   FIN_WAIT1, LAST_ACK  we sent a FIN             CLOSE_WAIT, CLOSING  a FIN came in
 *   FIN_WAIT1->FIN_WAIT2, LAST_ACK->CLOSE, CLOSING->CLOSE  the ACK of our FIN came in
 *   retransmits       one more copy sent           reset sent/received at the last CLOSE
 * When both sockets were traced a send on one lane is matched with the
 * receipt on the other (the latest unmatched send not after the receipt);
 * what is left over is drawn with the other end marked as not observed.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "svg.h"

#define SVG_W 680.0
#define LANE_X0 200.0		/* client lane */
#define LANE_X1 480.0		/* server lane */
#define Y_TOP 78.0		/* first event */
#define MIN_PX 16.0		/* closer events are pushed apart to this */
#define BREAK_PX 120.0		/* a longer gap is cut ... */
#define BREAK_H 62.0		/* ... and drawn this tall */
#define SLANT 14.0		/* drop of an arrow whose other end was not observed */
#define TAIL 40.0		/* dotted lane after the last state (open, TIME_WAIT) */

#define MAX_EV (2 * (3 * TF_RP_MAX_STATES + TF_RP_MAX_RETRANS + 2))
#define MAX_T (MAX_EV + 2 * TF_RP_MAX_STATES + 4)

/* Message kinds of the ladder diagrams (what went over the wire). */
enum msg {
	TF_MSG_SYN = 0,
	TF_MSG_SYNACK,
	TF_MSG_HSACK,	/* the ACK completing the handshake */
	TF_MSG_FIN,
	TF_MSG_FINACK,	/* the ACK of a FIN */
	TF_MSG_RST,
	TF_MSG_DATA,
	TF_MSG_MAX,
};

struct ev {
	int64_t t;		/* diagram time, us */
	uint8_t lane;		/* 0 left, 1 right */
	uint8_t kind;		/* enum msg */
	bool send;		/* sent by this lane (else received) */
	bool retrans;
	bool derived;		/* the time comes from a derived state */
	int match;		/* index of the other end, -1 */
};

struct brk {
	double y0, y1;
	int64_t gap_us;
};

struct ladder {
	const struct tf_rp_data *d;
	const struct tf_rp_conn *c[2];
	int64_t off[2];		/* record t_us + off = diagram time */
	struct ev ev[MAX_EV];
	int nev;
	int64_t t[MAX_T];	/* every time drawn, sorted, unique */
	double y[MAX_T];
	int nt;
	struct brk brk[MAX_T];
	int nbrk;
	double scale;		/* px per us for proportional gaps (0: none) */
	double y_end;		/* lowest event */
	const char *name[2];	/* "client"/"server", or "socket"/"peer" when roles are unknown */
};

static const char *const msg_label[TF_MSG_MAX] = {
	[TF_MSG_SYN] = "SYN", [TF_MSG_SYNACK] = "SYN-ACK", [TF_MSG_HSACK] = "ACK",
	[TF_MSG_FIN] = "FIN", [TF_MSG_FINACK] = "ACK", [TF_MSG_RST] = "RST",
	[TF_MSG_DATA] = "DATA",
};

static const char *const lane_role[2] = { "client", "server" };

/* ---- events ------------------------------------------------------------------- */

static void push(struct ladder *g, int lane, int64_t t, int kind, bool send, bool retrans,
		 bool derived)
{
	if (g->nev >= MAX_EV)
		return;
	g->ev[g->nev++] = (struct ev){ .t = t, .lane = (uint8_t)lane, .kind = (uint8_t)kind,
				       .send = send, .retrans = retrans, .derived = derived,
				       .match = -1 };
}

static void lane_events(struct ladder *g, int lane)
{
	const struct tf_rp_conn *c = g->c[lane];
	const struct tf_rp_state *st = tf_rp_states(g->d, c);
	const struct tf_rp_retrans *rt = tf_rp_retr(g->d, c);
	int64_t off = g->off[lane];

	for (int i = 0; i < c->nstates; i++) {
		int s = st[i].state, prev = i ? st[i - 1].state : 0;
		int64_t t = st[i].t_us + off;
		bool dv = st[i].derived, last = i == c->nstates - 1;

		switch (s) {
		case TF_SYN_SENT:
			push(g, lane, t, TF_MSG_SYN, true, false, dv);
			break;
		case TF_SYN_RECV:
			if (dv) {
				push(g, lane, t, TF_MSG_SYN, false, false, true);
				push(g, lane, t, TF_MSG_SYNACK, true, false, true);
			}
			break;
		case TF_ESTABLISHED:
			if (prev == TF_SYN_SENT) {
				push(g, lane, t, TF_MSG_SYNACK, false, false, dv);
				push(g, lane, t, TF_MSG_HSACK, true, false, dv);
			} else if (prev == TF_SYN_RECV) {
				push(g, lane, t, TF_MSG_HSACK, false, false, dv);
			}
			break;
		case TF_FIN_WAIT1:
		case TF_LAST_ACK:
			push(g, lane, t, TF_MSG_FIN, true, false, dv);
			break;
		case TF_FIN_WAIT2:
			if (prev == TF_FIN_WAIT1)
				push(g, lane, t, TF_MSG_FINACK, false, false, dv);
			break;
		case TF_CLOSE_WAIT:
		case TF_CLOSING:
			push(g, lane, t, TF_MSG_FIN, false, false, dv);
			break;
		case TF_CLOSE:
			if (last && c->reset == TF_RST_SENT)
				push(g, lane, t, TF_MSG_RST, true, false, dv);
			else if (last && c->reset == TF_RST_RECEIVED)
				push(g, lane, t, TF_MSG_RST, false, false, dv);
			else if (prev == TF_LAST_ACK || prev == TF_CLOSING)
				push(g, lane, t, TF_MSG_FINACK, false, false, dv);
			break;
		}
	}
	for (int i = 0; i < c->nretrans; i++) {
		static const int kind[4] = { TF_MSG_DATA, TF_MSG_SYN, TF_MSG_SYNACK, TF_MSG_FIN };

		push(g, lane, rt[i].t_us + off, kind[rt[i].kind & 3], true, true, false);
	}
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->lane != y->lane)
		return x->lane - y->lane;
	if (x->send != y->send)		/* a receipt before what it caused */
		return x->send ? 1 : -1;
	return x->kind - y->kind;
}

/* Match every receipt with the send it most likely was (both lanes real). */
static void match_events(struct ladder *g)
{
	for (int r = 0; r < g->nev; r++) {
		struct ev *rv = &g->ev[r];
		int best = -1;

		if (rv->send)
			continue;
		for (int s = 0; s < g->nev; s++) {
			const struct ev *sv = &g->ev[s];
			int64_t tol = sv->derived || rv->derived ? 1000 : 0;

			if (!sv->send || sv->lane == rv->lane || sv->kind != rv->kind || sv->match >= 0 ||
			    sv->t > rv->t + tol)
				continue;
			if (best < 0 || sv->t >= g->ev[best].t)
				best = s;
		}
		if (best >= 0) {
			rv->match = best;
			g->ev[best].match = r;
		}
	}
}

/* A later copy of this send on the same lane? (then this one was not answered in time) */
static int resent_at(const struct ladder *g, int i)
{
	const struct ev *e = &g->ev[i];

	if (e->kind == TF_MSG_DATA)
		return -1;
	for (int k = 0; k < g->nev; k++)
		if (g->ev[k].send && g->ev[k].lane == e->lane && g->ev[k].kind == e->kind &&
		    g->ev[k].t > e->t)
			return k;
	return -1;
}

/* ---- the time axis: proportional, with cuts --------------------------------------- */

static void add_time(struct ladder *g, int64_t t)
{
	if (g->nt < MAX_T)
		g->t[g->nt++] = t;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * px per us: the scale at which the most gaps are drawn true to scale (neither
 * pushed apart to MIN_PX nor cut at BREAK_PX); ties go to the smaller scale.
 */
static double pick_scale(const int64_t *gap, int n)
{
	double best = 0;
	int best_bad = n + 1;

	for (int i = 0; i < n; i++) {
		double s;
		int bad = 0;

		if (gap[i] <= 0)
			continue;
		s = BREAK_PX / (double)gap[i];
		for (int j = 0; j < n; j++) {
			double px = (double)gap[j] * s;

			if (px < MIN_PX - 1e-9 || px > BREAK_PX + 1e-9)
				bad++;
		}
		if (bad < best_bad || (bad == best_bad && s < best)) {
			best = s;
			best_bad = bad;
		}
	}
	return best;
}

static void build_axis(struct ladder *g)
{
	const struct tf_rp_state *st;
	int64_t gap[MAX_T];
	int n = 0;

	for (int i = 0; i < g->nev; i++)
		add_time(g, g->ev[i].t);
	for (int lane = 0; lane < 2; lane++) {
		if (!g->c[lane])
			continue;
		st = tf_rp_states(g->d, g->c[lane]);
		for (int i = 0; i < g->c[lane]->nstates; i++)
			add_time(g, st[i].t_us + g->off[lane]);
	}
	if (!g->nt)
		add_time(g, 0);
	qsort(g->t, (size_t)g->nt, sizeof(g->t[0]), cmp_i64);
	for (int i = 0; i < g->nt; i++)
		if (!n || g->t[i] != g->t[n - 1])
			g->t[n++] = g->t[i];
	g->nt = n;
	for (int i = 1; i < n; i++)
		gap[i - 1] = g->t[i] - g->t[i - 1];
	g->scale = pick_scale(gap, n - 1);
	g->y[0] = Y_TOP;
	for (int i = 1; i < n; i++) {
		double px = (double)gap[i - 1] * g->scale;

		if (g->scale == 0 || px < MIN_PX) {
			px = MIN_PX;
		} else if (px > BREAK_PX + 1e-9) {
			g->brk[g->nbrk++] = (struct brk){ g->y[i - 1], g->y[i - 1] + BREAK_H, gap[i - 1] };
			px = BREAK_H;
		}
		g->y[i] = g->y[i - 1] + px;
	}
	g->y_end = g->y[n - 1];
}

static double y_of(const struct ladder *g, int64_t t)
{
	int lo = 0, hi = g->nt - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (g->t[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return g->y[lo];
}

/* ---- drawing ---------------------------------------------------------------------- */

static double lane_x(int lane)
{
	return lane ? LANE_X1 : LANE_X0;
}

/* A diagram time to the microsecond: "+0", "+47µs", "+27.429ms", "+3.042863s". */
static const char *rel(int64_t t, char *buf, size_t len)
{
	char d[48];

	if (t == 0)
		snprintf(buf, len, "+0");
	else
		snprintf(buf, len, "%s%s", t > 0 ? "+" : "", tf_rp_dur(t, TF_DUR_EXACT, d, sizeof(d)));
	return buf;
}

static void arrowhead(FILE *o, double x1, double y1, double x2, double y2)
{
	double dx = x2 - x1, dy = y2 - y1, len = sqrt(dx * dx + dy * dy);
	double ux, uy;

	if (len < 1e-6)
		return;
	ux = dx / len;
	uy = dy / len;
	fprintf(o, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>", x2, y2,
		x2 - ux * 9 - uy * 4, y2 - uy * 9 + ux * 4, x2 - ux * 9 + uy * 4, y2 - uy * 9 - ux * 4);
}

static const char *who(const struct ladder *g, int lane)
{
	return g->name[lane];
}

/* A lane's name: its record's role, or the other lane's complement, or socket/peer. */
static void name_lanes(struct ladder *g)
{
	for (int k = 0; k < 2; k++) {
		const struct tf_rp_conn *me = g->c[k], *other = g->c[!k];

		if ((me && me->role != TF_ROLE_UNKNOWN) || (other && other->role != TF_ROLE_UNKNOWN))
			g->name[k] = lane_role[k];
		else
			g->name[k] = k ? "peer" : "socket";
	}
}

/* One message: an arrow, its label and a tooltip saying what is known. */
static void draw_msg(FILE *o, const struct ladder *g, int i)
{
	const struct ev *e = &g->ev[i];
	bool both = g->c[0] && g->c[1];
	int from = e->send ? e->lane : !e->lane;
	double x1 = lane_x(from), x2 = lane_x(!from), y1, y2, mx, my;
	const char *cls, *label = msg_label[e->kind];
	char t1[32], t2[32];
	int again = -1;
	bool lost = false;

	if (e->send) {
		y1 = y_of(g, e->t);
		if (e->match >= 0) {
			int64_t tr = g->ev[e->match].t > e->t ? g->ev[e->match].t : e->t;

			y2 = y_of(g, tr);
			cls = "";
		} else {
			again = both ? resent_at(g, i) : -1;
			lost = again >= 0;
			y2 = y1 + SLANT;
			cls = both ? (lost ? " lost" : " unseen") : "";
			if (lost) {
				x2 = x1 + (x2 - x1) * 0.42;
				y2 = y1 + SLANT;
			}
		}
	} else {
		y2 = y_of(g, e->t);
		y1 = y2 - SLANT;
		cls = " sendunseen";
	}
	fprintf(o, "<g class=\"msg%s%s%s\" data-kind=\"%s\" data-from=\"%s\">", e->retrans ? " retrans" : "",
		e->kind == TF_MSG_RST ? " rst" : "", cls, label, who(g, from));
	fputs("<title>", o);
	if (e->send) {
		fprintf(o, "%s%s sent by the %s at %s", label, e->retrans ? " retransmission" : "",
			who(g, from), rel(e->t, t1, sizeof(t1)));
		if (e->match >= 0)
			fprintf(o, ", received by the %s at %s", who(g, !from),
				rel(g->ev[e->match].t, t2, sizeof(t2)));
		else if (lost)
			fprintf(o, "; the %s's events show no receipt, and it was sent again at %s",
				who(g, !from), rel(g->ev[again].t, t2, sizeof(t2)));
		else if (both)
			fprintf(o, "; the %s's events do not show it arriving", who(g, !from));
		else
			fprintf(o, "; the %s was not traced", who(g, !from));
	} else {
		fprintf(o, "%s received by the %s at %s; ", label, who(g, e->lane),
			rel(e->t, t1, sizeof(t1)));
		fprintf(o, both ? "when the %s sent it is not in its events" :
				  "the %s was not traced", who(g, from));
	}
	fputs("</title>", o);
	fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"%s/>", x1, y1, x2, y2,
		e->retrans ? " stroke-dasharray=\"7 4\"" : "");
	if (lost)
		fprintf(o, "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\"/>", x2 - 5, y2 - 5);
	else
		arrowhead(o, x1, y1, x2, y2);
	mx = lost ? x1 + (x2 - x1) * 0.5 : (x1 + x2) / 2;
	my = lost ? y1 - 5 : (y1 + y2) / 2 - 5;
	/* by the arrow's start: above a crossed one, below one whose start is unknown */
	if ((lost || !e->send) && from == 1)
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x1 - 14,
			lost ? y1 - 4 : y1 + 13);
	else if (lost || !e->send)
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"start\">", x1 + 14,
			lost ? y1 - 4 : y1 + 13);
	else
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", mx, my);
	fputs(label, o);
	if (e->retrans)
		fprintf(o, " again %s", rel(e->t, t1, sizeof(t1)));
	fputs("</text></g>\n", o);
}

static void lane_head(FILE *o, const struct ladder *g, int lane)
{
	const struct tf_rp_conn *c = g->c[lane], *other = g->c[!lane];
	double x = lane_x(lane);
	char ep[64];

	if (c)
		tf_rp_endpoint(c, true, ep, sizeof(ep));
	else
		tf_rp_endpoint(other, false, ep, sizeof(ep));
	fprintf(o, "<text class=\"lanehead\" x=\"%.1f\" y=\"22\" text-anchor=\"middle\">%s %s</text>\n",
		x, g->name[lane], ep);
	if (c) {
		fprintf(o, "<text class=\"lanesub\" x=\"%.1f\" y=\"38\" text-anchor=\"middle\">pid %u ", x,
			c->pid);
		tf_fmt_html(o, c->comm);
		fputs("</text>\n", o);
	} else {
		fprintf(o, "<text class=\"lanesub inferred-label\" x=\"%.1f\" y=\"38\" "
			   "text-anchor=\"middle\">inferred (not traced)</text>\n", x);
	}
}

static void lane_line(FILE *o, const struct ladder *g, int lane, double y_bottom)
{
	const struct tf_rp_conn *c = g->c[lane];
	const struct tf_rp_state *st;
	double x = lane_x(lane), y0, y1;
	int last;

	if (!c || !c->nstates) {
		fprintf(o, "<line class=\"lane inferred\" data-lane=\"%s\" x1=\"%.1f\" y1=\"50\" "
			   "x2=\"%.1f\" y2=\"%.1f\"/>\n", lane_role[lane], x, x, y_bottom);
		return;
	}
	st = tf_rp_states(g->d, c);
	last = st[c->nstates - 1].state;
	y0 = y_of(g, st[0].t_us + g->off[lane]);
	y1 = y_of(g, st[c->nstates - 1].t_us + g->off[lane]);
	if (c->flags & TF_RPF_MIDLIFE)
		fprintf(o, "<line class=\"lane tail\" x1=\"%.1f\" y1=\"50\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x, x, y0);
	fprintf(o, "<line class=\"lane real\" data-lane=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		   "y2=\"%.1f\"/>\n", lane_role[lane], x, y0 - 6, x, y1);
	if (last != TF_CLOSE) {		/* still open: the socket lives on */
		fprintf(o, "<line class=\"lane\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x, y1, x, g->y_end);
		fprintf(o, "<line class=\"lane tail\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x, g->y_end, x, g->y_end + TAIL);
	} else if (c->time_wait) {	/* the timewait mini-socket, not traced */
		fprintf(o, "<line class=\"lane tail\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x, y1, x, g->y_end + TAIL);
	} else {
		fprintf(o, "<line class=\"lane\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x - 8, y1, x + 8, y1);
	}
}

/* The note under a lane's last state: TIME_WAIT, open at exit, stuck. */
static void lane_tail_note(FILE *o, const struct ladder *g, int lane)
{
	const struct tf_rp_conn *c = g->c[lane];
	const struct tf_rp_state *st;
	const char *anchor = lane ? "start" : "end";
	double x = lane ? LANE_X1 + 12 : LANE_X0 - 12, y;
	char b[32];
	int last;

	if (!c || !c->nstates)
		return;
	st = tf_rp_states(g->d, c);
	last = st[c->nstates - 1].state;
	y = g->y_end + TAIL + 2;
	if (c->time_wait && last == TF_CLOSE) {
		fprintf(o, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">TIME_WAIT", x,
			y, anchor);
		if (c->time_wait_us != TF_RP_NONE)
			fprintf(o, " %s", tf_rp_dur(c->time_wait_us, TF_DUR_PAGE, b, sizeof(b)));
		if (c->tw_end)
			fprintf(o, ", %s", tf_tw_end_name(c->tw_end - 1));
		fputs(" (timewait socket)</text>\n", o);
	} else if (last != TF_CLOSE) {
		fprintf(o, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s %s",
			x, y, anchor, c->flags & TF_RPF_OPEN || c->close_end == TF_CE_OPEN ?
			"open at exit in" : "last seen in", tf_state_name(last));
		if (c->stuck_state && c->stuck_age_us != TF_RP_NONE)
			fprintf(o, ", stuck %s", tf_rp_dur(c->stuck_age_us, TF_DUR_PAGE, b, sizeof(b)));
		fputs("</text>\n", o);
	}
}

static void lane_states(FILE *o, const struct ladder *g, int lane)
{
	const struct tf_rp_conn *c = g->c[lane];
	const struct tf_rp_state *st;
	const char *anchor = lane ? "start" : "end";
	double x = lane_x(lane), tx = lane ? x + 12 : x - 12, last_y = -100;
	char t[32];

	if (!c)
		return;
	st = tf_rp_states(g->d, c);
	for (int i = 0; i < c->nstates; i++) {
		int64_t tt = st[i].t_us + g->off[lane];
		double y = y_of(g, tt), ty = y + 4;
		const char *name = tf_state_name(st[i].state);

		if (!st[i].state)
			name = "?";
		if (ty < last_y + 13)
			ty = last_y + 13;
		last_y = ty;
		fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", x, y);
		fprintf(o, "<text class=\"st%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">",
			st[i].derived ? " derived" : "", tx, ty, anchor);
		if (st[i].derived)
			fputs("<title>derived from the kernel's SYN-ACK timestamp or first RTT sample, "
			      "not a tracepoint event</title>", o);
		if (lane)
			fprintf(o, "%s%s<tspan class=\"tm\" dx=\"6\">%s</tspan></text>\n", name,
				st[i].derived ? "*" : "", rel(tt, t, sizeof(t)));
		else
			fprintf(o, "<tspan class=\"tm\">%s</tspan><tspan dx=\"6\">%s%s</tspan></text>\n",
				rel(tt, t, sizeof(t)), name, st[i].derived ? "*" : "");
	}
}

static void draw_breaks(FILE *o, const struct ladder *g)
{
	char b[32];

	for (int i = 0; i < g->nbrk; i++) {
		const struct brk *k = &g->brk[i];
		double a = k->y0 + 20, z = k->y1 - 24, m = (a + z) / 2;

		fprintf(o, "<g class=\"brk\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
			LANE_X0 - 14, a, LANE_X1 - LANE_X0 + 28, z - a);
		for (int e = 0; e < 2; e++) {
			double yy = e ? z : a;

			fprintf(o, "<path d=\"M%.1f %.1f", LANE_X0 - 14, yy);
			for (double x = LANE_X0 - 14 + 8; x <= LANE_X1 + 14 + 0.1; x += 8)
				fprintf(o, " L%.1f %.1f", x, yy + (((int)((x - LANE_X0 + 14) / 8)) % 2 ? -3 : 3));
			fputs("\"/>", o);
		}
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s cut</text></g>\n",
			(LANE_X0 + LANE_X1) / 2, m + 4, tf_rp_dur(k->gap_us, TF_DUR_PAGE, b, sizeof(b)));
	}
}

void tf_svg_ladder(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *left,
		   const struct tf_rp_conn *right, int id)
{
	struct ladder *g;
	double h, y_bottom;
	int64_t base = TF_RP_NONE;
	char b[32];

	if (!left && !right)
		return;
	g = calloc(1, sizeof(*g));
	if (!g)
		return;
	g->d = d;
	g->c[0] = left;
	g->c[1] = right;
	/* both records on one clock: their start_time; else each from its own 0 */
	for (int k = 0; k < 2; k++)
		if (g->c[k] && g->c[k]->start_us != TF_RP_NONE && (base == TF_RP_NONE || g->c[k]->start_us < base))
			base = g->c[k]->start_us;
	for (int k = 0; k < 2; k++)
		g->off[k] = g->c[k] && g->c[k]->start_us != TF_RP_NONE && base != TF_RP_NONE ?
				    g->c[k]->start_us - base : 0;
	for (int k = 0; k < 2; k++)
		if (g->c[k])
			lane_events(g, k);
	qsort(g->ev, (size_t)g->nev, sizeof(g->ev[0]), cmp_ev);
	if (left && right)
		match_events(g);
	name_lanes(g);
	build_axis(g);
	y_bottom = g->y_end + TAIL + 10;
	h = y_bottom + 40;

	fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder-svg\" id=\"ladder-%d\" "
		   "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		   "aria-label=\"ladder diagram\">\n", id, SVG_W, h, SVG_W, h);
	for (int k = 0; k < 2; k++)
		lane_head(o, g, k);
	for (int k = 0; k < 2; k++)
		lane_line(o, g, k, y_bottom);
	draw_breaks(o, g);
	for (int k = 0; k < 2; k++) {
		lane_states(o, g, k);
		lane_tail_note(o, g, k);
	}
	for (int i = 0; i < g->nev; i++)
		if (g->ev[i].send || g->ev[i].match < 0)
			draw_msg(o, g, i);
	fprintf(o, "<text class=\"note\" x=\"8\" y=\"%.0f\">time runs down", h - 10);
	if (g->scale > 0)
		fprintf(o, "; to scale: 100 px = %s",
			tf_rp_dur((int64_t)llround(100 / g->scale), TF_DUR_PAGE, b, sizeof(b)));
	fprintf(o, "; events closer than %s drawn %.0f px apart; longer gaps cut</text>\n",
		g->scale > 0 ? tf_rp_dur((int64_t)ceil(MIN_PX / g->scale), TF_DUR_PAGE, b, sizeof(b)) :
			       "–",
		MIN_PX);
	fputs("</svg>\n", o);
	free(g);
}

void tf_svg_legend(FILE *o)
{
	static const struct {
		const char *cls, *text;
		double x, y;
	} item[] = {
		{ "msg", "sent and received, both seen", 10, 14 },
		{ "msg retrans", "retransmission", 250, 14 },
		{ "msg lost", "no receipt seen, sent again", 450, 14 },
		{ "msg sendunseen", "receipt seen, send time not seen", 10, 42 },
		{ "msg unseen", "sent, the other socket shows no receipt", 250, 42 },
	};

	fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"legend\" width=\"760\" height=\"60\" "
	      "viewBox=\"0 0 760 60\" role=\"img\" aria-label=\"legend\">\n", o);
	for (size_t i = 0; i < sizeof(item) / sizeof(item[0]); i++) {
		double x = item[i].x, y = item[i].y;
		bool lost = !strcmp(item[i].cls, "msg lost"), re = !strcmp(item[i].cls, "msg retrans");

		fprintf(o, "<g class=\"%s\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"%s/>",
			item[i].cls, x, y - 4, x + (lost ? 30 : 44), y + 4,
			re ? " stroke-dasharray=\"7 4\"" : "");
		if (lost)
			fprintf(o, "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\"/>", x + 25, y - 1);
		else
			arrowhead(o, x, y - 4, x + 44, y + 4);
		fprintf(o, "</g><text class=\"note\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 54, y + 4,
			item[i].text);
	}
	fputs("<text class=\"st derived\" x=\"590\" y=\"46\">STATE*</text><text class=\"note\" "
	      "x=\"644\" y=\"46\">derived time</text>\n</svg>\n", o);
}
