// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --tw: the TIME-WAIT table, refreshed every --interval. See sink.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fmt.h"
#include "jw.h"
#include "sink.h"

#define RECENT_STUCK 5

struct stuck_line {
	int state;
	int64_t age_ns;
	uint64_t at_ns;
	struct tf_conn rec;
	bool orphaned;
};

struct tw_view {
	uint64_t interval_ns;
	uint64_t next_ns;
	bool json, tty;
	uint64_t overflow_at_start;
	bool have_start;
	int nstuck;
	struct stuck_line stuck[RECENT_STUCK];	/* newest first */
	struct tf_jw_clock clock;
};

/* ---- text ------------------------------------------------------------------------ */

static const char *age(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		return "-";
	snprintf(buf, len, "%.1fs", ns / 1e9);
	return buf;
}

static void text_group(FILE *o, const struct tf_tw_group *g, bool remote, bool by_netns)
{
	char ep[TF_ADDR_LEN + 8], a[16], b[16], r1[16], r2[16];

	if (remote)
		tf_fmt_endpoint(g->family, g->addr, g->port, ep, sizeof(ep));
	else
		snprintf(ep, sizeof(ep), "%u", g->port);
	if (by_netns)
		fprintf(o, "  %-10u", g->netns);
	fprintf(o, "  %-30s %7" PRIu64 " %9s %9s %9s..%s\n", ep, g->count,
		age(g->oldest_age_ns, a, sizeof(a)), age(g->newest_age_ns, b, sizeof(b)),
		age(g->min_remaining_ns, r1, sizeof(r1)), age(g->max_remaining_ns, r2, sizeof(r2)));
}

static void text_head(FILE *o, const char *what, bool by_netns)
{
	fputc('\n', o);
	if (by_netns)
		fprintf(o, "  %-10s", "NETNS");
	fprintf(o, "  %-30s %7s %9s %9s %s\n", what, "COUNT", "OLDEST", "NEWEST", "REMAINING");
}

static void text_stuck_lines(FILE *o, const struct tw_view *v)
{
	char l[TF_ADDR_LEN + 8], r[TF_ADDR_LEN + 8], d[24];

	if (!v->nstuck)
		return;
	fprintf(o, "\nSTUCK (newest first)\n");
	for (int i = 0; i < v->nstuck; i++) {
		const struct stuck_line *s = &v->stuck[i];

		fprintf(o, "  %-10s %9s pid %-7u %-16.16s %s %s %s%s\n", tf_state_name(s->state),
			tf_fmt_dur(s->age_ns, d, sizeof(d)), s->rec.pid, s->rec.comm,
			tf_fmt_endpoint(s->rec.family, s->rec.saddr, s->rec.sport, l, sizeof(l)),
			s->state == TF_CLOSE_WAIT ? "<-" : "->",
			tf_fmt_endpoint(s->rec.family, s->rec.daddr, s->rec.dport, r, sizeof(r)),
			s->orphaned ? " (orphaned)" : "");
	}
}

static void text_table(struct tf_sink *sk, const struct tf_tw_snapshot *s)
{
	struct tw_view *v = sk->priv;
	FILE *o = sk->out;
	char t[TF_TIME_LEN], cost[24];

	if (v->tty)
		fputs("\033[H\033[2J", o);
	fprintf(o, "TIME-WAIT %s  total %" PRIu64 " (FIN_WAIT2 substate %" PRIu64 ")  "
		   "overflow %" PRIu64 " (+%" PRIu64 " since start)\n",
		tf_fmt_rfc3339((int64_t)s->now_ns + sk->mono_to_real_ns, t, sizeof(t)), s->total,
		s->fin_wait2_substate, s->overflow, s->overflow - v->overflow_at_start);
	fprintf(o, "ended:");
	for (int i = 0; i < TF_TWE_MAX; i++)
		fprintf(o, " %s %" PRIu64, tf_tw_end_name(i), s->ended[i]);
	fprintf(o, "%s\n", s->untracked ? "  (some untracked: tracker full)" : "");
	fprintf(o, "half-closed: CLOSE_WAIT %" PRIu64 "  FIN_WAIT2 %" PRIu64 " (orphaned %" PRIu64
		   ")  sweep every %.1fs, took %s\n",
		s->close_wait, s->fin_wait2, s->fin_wait2_orphaned, s->interval_ns / 1e9,
		tf_fmt_dur(s->sweep_cost_ns, cost, sizeof(cost)));
	text_head(o, "LOCAL PORT", s->by_netns);
	for (int i = 0; i < s->n_by_lport; i++)
		text_group(o, &s->by_lport[i], false, s->by_netns);
	text_head(o, "REMOTE ENDPOINT", s->by_netns);
	for (int i = 0; i < s->n_by_remote; i++)
		text_group(o, &s->by_remote[i], true, s->by_netns);
	text_stuck_lines(o, v);
	fputs(v->tty ? "" : "\n", o);
	fflush(o);
}

/* ---- JSON: a line of at most ~5.5 KiB (2 x TF_TW_TOP groups), it fits jw -------- */

/* ,"key":N with N = ns / 1000, signed (an age not known is negative) */
static void json_us(struct tf_jw *w, const char *key, int64_t ns)
{
	tf_jw_key(w, key);
	tf_jw_i64(w, ns / 1000);
}

static void json_groups(struct tf_jw *w, const char *key, const struct tf_tw_group *g, int n,
			bool remote)
{
	char a[TF_ADDR_LEN];

	tf_jw_key(w, key);
	tf_jw_lit(w, "[");
	for (int i = 0; i < n; i++) {
		bool first = true;

		tf_jw_lit(w, i ? ",{" : "{");
		if (g[i].netns) {
			tf_jw_member(w, first, "netns");
			tf_jw_u64(w, g[i].netns);
			first = false;
		}
		if (remote) {
			tf_jw_member(w, first, "family");
			tf_jw_quoted(w, tf_family_name(g[i].family));
			tf_jw_name(w, "addr", tf_fmt_addr(g[i].family, g[i].addr, a, sizeof(a)));
			first = false;
		}
		tf_jw_member(w, first, "port");
		tf_jw_u64(w, g[i].port);
		tf_jw_count(w, "count", g[i].count);
		json_us(w, "oldest_age_us", g[i].oldest_age_ns);
		json_us(w, "newest_age_us", g[i].newest_age_ns);
		json_us(w, "min_remaining_us", g[i].min_remaining_ns);
		json_us(w, "max_remaining_us", g[i].max_remaining_ns);
		tf_jw_lit(w, "}");
	}
	tf_jw_lit(w, "]");
}

static void json_table(struct tf_sink *sk, const struct tf_tw_snapshot *s)
{
	struct tw_view *v = sk->priv;
	struct tf_jw w;

	tf_jw_init(&w);
	tf_jw_lit(&w, "{\"type\":\"tw_top\"");
	tf_jw_time(&w, "time", (int64_t)s->now_ns + sk->mono_to_real_ns, &v->clock);
	tf_jw_count(&w, "total", s->total);
	tf_jw_count(&w, "fin_wait2_substate", s->fin_wait2_substate);
	tf_jw_count(&w, "overflow", s->overflow);
	tf_jw_key(&w, "ended");
	tf_jw_lit(&w, "{");
	for (int i = 0; i < TF_TWE_MAX; i++) {
		tf_jw_member(&w, i == 0, tf_tw_end_name(i));
		tf_jw_u64(&w, s->ended[i]);
	}
	tf_jw_lit(&w, "}");
	tf_jw_count(&w, "close_wait", s->close_wait);
	tf_jw_count(&w, "fin_wait2", s->fin_wait2);
	tf_jw_count(&w, "fin_wait2_orphaned", s->fin_wait2_orphaned);
	tf_jw_count(&w, "untracked", s->untracked);
	json_us(&w, "interval_us", s->interval_ns);
	json_us(&w, "sweep_cost_us", s->sweep_cost_ns);
	tf_jw_count(&w, "looked_up", s->looked_up);
	json_groups(&w, "by_lport", s->by_lport, s->n_by_lport, false);
	json_groups(&w, "by_remote", s->by_remote, s->n_by_remote, true);
	tf_jw_lit(&w, "}\n");
	tf_jw_flush(&w, sk->out);
	fflush(sk->out);
}

/* ---- ops --------------------------------------------------------------------------- */

static void tw_sweep(struct tf_sink *sk, const struct tf_tw_snapshot *s)
{
	struct tw_view *v = sk->priv;

	if (!v->have_start) {
		v->overflow_at_start = s->overflow;
		v->have_start = true;
	}
	if (s->now_ns < v->next_ns)
		return;
	v->next_ns = s->now_ns + v->interval_ns;
	if (v->json)
		json_table(sk, s);
	else
		text_table(sk, s);
}

static void tw_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	struct tw_view *v = sk->priv;

	if (v->json)
		return;	/* the JSON sink, if any, reports it */
	memmove(&v->stuck[1], &v->stuck[0], sizeof(v->stuck[0]) * (RECENT_STUCK - 1));
	v->stuck[0] = (struct stuck_line){ .state = st->state, .age_ns = st->age_ns,
					   .rec = *st->rec, .orphaned = st->orphaned };
	if (v->nstuck < RECENT_STUCK)
		v->nstuck++;
}

static const struct tf_sink_ops tw_ops = {
	.name = "tw", .tw_sweep = tw_sweep, .stuck = tw_stuck,
};

struct tf_sink *tf_sink_tw_new(FILE *out, int64_t mono_to_real_ns, double interval_s, bool json)
{
	struct tf_sink *sk = tf_sink_alloc(&tw_ops, out, mono_to_real_ns, sizeof(struct tw_view));
	struct tw_view *v;

	if (!sk)
		return NULL;
	v = sk->priv;
	v->interval_ns = (uint64_t)(interval_s * 1e9);
	v->json = json;
	v->tty = isatty(fileno(out));
	return sk;
}
