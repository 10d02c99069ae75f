// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TIME-WAIT bookkeeping with synthetic sweeps and connection records: the
 * census, each way a TIME-WAIT ends, and the hash table underneath.
 */
#include <stdlib.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "conn.h"
#include "ohash.h"
#include "twtrack.h"

#define HZ 250

/* ---- helpers ---------------------------------------------------------------------- */

struct ends {
	int n;
	struct tf_tw_end e[16];
	bool netns_dead;
};

static void on_end(void *ctx, const struct tf_tw_end *e)
{
	struct ends *x = ctx;

	if (x->n < 16)
		x->e[x->n] = *e;
	x->n++;
}

static bool alive(void *ctx, uint32_t netns)
{
	(void)netns;
	return !((struct ends *)ctx)->netns_dead;
}

static struct tf_twt *tracker(struct ends *x, uint32_t cap, bool owners_filtered)
{
	struct tf_twt_params p = { .cap = cap, .hz = HZ, .owners_filtered = owners_filtered };
	struct tf_twt_ops ops = { .end = on_end, .netns_alive = alive, .ctx = x };

	memset(x, 0, sizeof(*x));
	return tf_twt_new(&p, &ops);
}

/* A timewait socket 127.0.0.1:cport -> 127.0.0.1:5000 with `left` ns on its timer. */
static struct tf_sweep_rec tw_rec(uint16_t cport, uint64_t left_ns)
{
	struct tf_sweep_rec r = { .kind = TF_SWR_TW, .family = 2, .state = TF_TIME_WAIT,
				  .netns = NETNS, .sport = cport, .dport = 5000 };

	r.saddr[0] = r.daddr[0] = 127;
	r.saddr[3] = r.daddr[3] = 1;
	r.jiffies = (int64_t)(left_ns / (S / HZ));
	return r;
}

/* One sweep at t seeing the given records; returns the snapshot. */
static struct tf_tw_snapshot sweep(struct tf_twt *t, uint64_t at, const struct tf_sweep_rec *r,
				   int n, bool ok)
{
	struct tf_tw_snapshot s = {};

	tf_twt_begin(t, at);
	for (int i = 0; i < n; i++)
		tf_twt_record(t, &r[i]);
	tf_twt_walked(t, at + 2 * MS);
	tf_twt_end(t, ok, &s);
	return s;
}

/* A client connection on cport: SYN_SENT at start, active close, TIME-WAIT at close. */
static struct tf_conn client(uint16_t cport, uint64_t start, uint64_t close)
{
	struct tf_conn c = { 0 };

	fx_endpoints(&c, LO, cport, LO, 5000);
	fx_owner(&c, 77, "curl");
	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, start, TF_SYN_SENT);
	tf_fold_state(&c, start + 50000, TF_ESTABLISHED);
	tf_fold_state(&c, close - 200000, TF_FIN_WAIT1);
	tf_fold_state(&c, close - 100000, TF_FIN_WAIT2);
	tf_fold_state(&c, close, TF_CLOSE);
	return c;
}

/* Home namespace NETNS; TIME-WAITs of OTHER are looked up, not walked. */
#define OTHER (NETNS + 7)

static struct tf_twt *tracker_home(struct ends *x, bool census_all)
{
	struct tf_twt_params p = { .hz = HZ, .home_netns = NETNS, .census_all = census_all };
	struct tf_twt_ops ops = { .end = on_end, .netns_alive = alive, .ctx = x };

	memset(x, 0, sizeof(*x));
	return tf_twt_new(&p, &ops);
}

/*
 * One sweep at `at` whose home walk sees nothing, and whose lookups (up to
 * max) find what `found` says for each key due: its timer's time left, or
 * 0 for gone. Returns how many were due.
 */
static size_t sweep_looking(struct tf_twt *t, uint64_t at, size_t max, uint64_t (*found)(uint16_t),
			    struct tf_twt_key *due, bool netns_suspect)
{
	struct tf_tw_snapshot s = {};
	size_t n;

	tf_twt_begin(t, at);
	tf_twt_walked(t, at + 2 * MS);
	n = tf_twt_due(t, at + 2 * MS, due, max);
	for (size_t i = 0; i < n; i++) {
		uint64_t left = found ? found(due[i].sport) : 0;
		struct tf_sweep_rec r = tw_rec(due[i].sport, left);

		r.netns = due[i].netns;
		r.ts_ns = at + 3 * MS;
		tf_twt_checked(t, &due[i], left ? &r : NULL, at + 2 * MS, at + 3 * MS);
	}
	if (netns_suspect)
		tf_twt_netns_suspect(t, OTHER);
	tf_twt_end(t, true, &s);
	return n;
}

static void feed(struct tf_twt *t, const struct tf_conn *c)
{
	struct tf_summary s;

	tf_summarize(c, &s);
	tf_twt_conn(t, c, &s);
}

/* ---- the hash table ---------------------------------------------------------------- */

static void ohash_put_get_delete(void)
{
	struct tf_ohash h;
	uint32_t k, *v;
	bool fresh;
	int seen = 0;

	CHECK_INT(tf_ohash_init(&h, sizeof(uint32_t), sizeof(uint32_t), 5000), 0);
	for (k = 0; k < 5000; k++) {
		v = tf_ohash_put(&h, &k, &fresh);
		CHECK(v && fresh);
		if (v)
			*v = k * 3;
	}
	k = 5000;
	CHECK(tf_ohash_put(&h, &k, NULL) == NULL);	/* the cap */
	/* delete the even keys while walking: every odd one must survive */
	for (uint32_t i = 0; i < h.nslots;) {
		const uint32_t *key = tf_ohash_key_at(&h, i);

		if (key && *key % 2 == 0) {
			tf_ohash_del_at(&h, i);
			continue;
		}
		i++;
	}
	CHECK_INT(h.n, 2500);
	for (k = 0; k < 5000; k++) {
		v = tf_ohash_get(&h, &k);
		if (k % 2)
			CHECK(v && *v == k * 3);
		else
			CHECK(v == NULL);
	}
	for (uint32_t i = 0; i < h.nslots; i++)
		seen += tf_ohash_at(&h, i) != NULL;
	CHECK_INT(seen, 2500);
	tf_ohash_free(&h);
}

/* ---- census --------------------------------------------------------------------------- */

static void census_groups_and_timers(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_sweep_rec r[12];
	struct tf_tw_snapshot s;

	for (int i = 0; i < 12; i++)
		r[i] = tw_rec((uint16_t)(40000 + i), (uint64_t)(50 + i) * S);
	r[11].state = TF_FIN_WAIT2;
	r[11].dport = 6000;
	/* read 32 ms into the walk: the timer is counted from then */
	r[11].ts_ns = BASE + 32 * MS;
	r[11].jiffies -= 32 * MS / (S / HZ);
	s = sweep(t, BASE, r, 12, true);
	CHECK_INT(s.total, 12);
	CHECK_INT(s.fin_wait2_substate, 1);
	CHECK_INT(s.n_by_lport, TF_TW_TOP);
	CHECK_INT(s.n_by_remote, 2);
	CHECK_INT(s.by_remote[0].port, 5000);
	CHECK_INT(s.by_remote[0].count, 11);
	CHECK_INT(s.by_remote[0].min_remaining_ns, 50 * S);
	CHECK_INT(s.by_remote[0].max_remaining_ns, 60 * S);
	CHECK_INT(s.by_remote[1].port, 6000);
	CHECK_INT(s.by_remote[1].count, 1);
	CHECK_INT(s.by_remote[1].min_remaining_ns, 61 * S);
	/* first seen now: ages 0 until a hand-over or kernel stamp says more */
	CHECK_INT(s.by_remote[0].oldest_age_ns, 0);
	CHECK_INT(s.by_lport[0].port, 40000);	/* ties: lowest port first */
	CHECK_INT(tf_twt_tracked(t), 12);
	CHECK_INT(x.n, 0);
	tf_twt_free(t);
}

static void census_ages_from_kernel_stamp(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_sweep_rec r = tw_rec(40000, 45 * S);
	struct tf_tw_snapshot s;

	/* entered TIME-WAIT 15 s before the sweep (CLOCK_MONOTONIC ms, 32 bits) */
	r.flags = TF_SWF_ENTRY_STAMP;
	r.entry_ms = (uint32_t)((BASE - 15 * S) / MS);
	s = sweep(t, BASE, &r, 1, true);
	CHECK_INT(s.by_remote[0].oldest_age_ns, 15 * S);
	/* it expires: the end carries the kernel's stamp as hand-over */
	s = sweep(t, BASE + 46 * S, NULL, 0, true);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_EXPIRED);
	CHECK_INT(x.e[0].handover_src, TF_TWH_KERNEL_STAMP);
	CHECK_INT(x.e[0].handover_ns, BASE - 15 * S);
	CHECK_INT(x.e[0].pid, 0);
	tf_twt_free(t);
}

static void census_over_cap_counts_untracked(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 2, false);
	struct tf_sweep_rec r[3] = { tw_rec(1, 10 * S), tw_rec(2, 10 * S), tw_rec(3, 10 * S) };
	struct tf_tw_snapshot s = sweep(t, BASE, r, 3, true);

	CHECK_INT(s.total, 3);
	CHECK_INT(s.untracked, 1);
	CHECK_INT(tf_twt_tracked(t), 2);
	CHECK_INT(s.by_remote[0].count, 3);
	tf_twt_free(t);
}

/* ---- ends ------------------------------------------------------------------------------ */

static void expired_after_its_timer(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_sweep_rec r = tw_rec(40000, 60 * S - 500 * MS);
	struct tf_tw_snapshot s;

	feed(t, &c);
	sweep(t, BASE + 1500 * MS, &r, 1, true);
	r.jiffies = (int64_t)((1 * S) / (S / HZ));
	sweep(t, BASE + 60 * S, &r, 1, true);		/* 1 s left */
	s = sweep(t, BASE + 61 * S, NULL, 0, true);	/* gone: timer 61.0 s, sweep at 61.002 s */
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_EXPIRED);
	CHECK_INT(x.e[0].handover_src, TF_TWH_TRACED);
	CHECK_INT(x.e[0].handover_ns, BASE + 1 * S);
	CHECK_INT(x.e[0].end_ns, BASE + 61 * S + 2 * MS);
	/* it went between its timer (61.0 s) and this sweep's end */
	CHECK_INT(x.e[0].precision_ns, 2 * MS);
	CHECK_INT(x.e[0].pid, 77);
	CHECK_STR(x.e[0].comm, "curl");
	CHECK_INT(x.e[0].sport, 40000);
	CHECK_INT(x.e[0].substate, TF_TIME_WAIT);
	CHECK_INT(s.ended[TF_TWE_EXPIRED], 1);
	CHECK_INT(tf_twt_tracked(t), 0);
	tf_twt_free(t);
}

static void reused_by_a_new_connect(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_conn again = client(40000, BASE + 5 * S, BASE + 6 * S);
	struct tf_sweep_rec r = tw_rec(40000, 59 * S);
	struct tf_tw_snapshot s;

	feed(t, &c);
	sweep(t, BASE + 2 * S, &r, 1, true);
	/* the new connection, still live in the kernel table: reuse, at its SYN_SENT */
	again.nstates = 2;
	tf_twt_conn(t, &again, NULL);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_REUSED);
	CHECK_INT(x.e[0].end_ns, BASE + 5 * S);
	CHECK_INT(x.e[0].precision_ns, 0);
	CHECK_INT(x.e[0].end_ns - x.e[0].handover_ns, 4 * S);
	/* its finished record later, and the sweeps after: nothing more */
	again = client(40000, BASE + 5 * S, BASE + 6 * S);
	feed(t, &again);
	CHECK_INT(x.n, 1);
	r.jiffies = (int64_t)(59 * S / (S / HZ));
	s = sweep(t, BASE + 7 * S, &r, 1, true);	/* the new connection's own TIME-WAIT */
	CHECK_INT(s.total, 1);
	CHECK_INT(x.n, 1);
	CHECK_INT(s.ended[TF_TWE_REUSED], 1);
	tf_twt_free(t);
}

static void own_record_after_the_sweep_is_not_reuse(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_sweep_rec r = tw_rec(40000, 59 * S);

	/* the sweep saw the timewait socket before its hand-over record was read */
	sweep(t, BASE + 1 * S + 1 * MS, &r, 1, true);
	feed(t, &c);
	CHECK_INT(x.n, 0);
	sweep(t, BASE + 2 * S, &r, 1, true);
	CHECK_INT(x.n, 0);
	CHECK_INT(tf_twt_tracked(t), 1);
	tf_twt_free(t);
}

/*
 * A walk takes milliseconds on a busy host: a connection can start, close
 * and hand over while one runs, and the walk see its timewait socket.
 * Its record, read after the walk, is not a reuse of that socket.
 */
static void connection_inside_a_walk_is_not_reuse(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE + 5 * MS, BASE + 6500 * 1000);	/* 1.5 ms long */
	struct tf_sweep_rec r = tw_rec(40000, 60 * S);
	struct tf_tw_snapshot s;

	for (int stamp = 0; stamp < 2; stamp++) {
		r.flags = stamp ? TF_SWF_ENTRY_STAMP : 0;
		r.entry_ms = (uint32_t)((BASE + 6500 * 1000) / MS);
		tf_twt_begin(t, BASE);		/* the walk: 0 .. 20 ms */
		tf_twt_record(t, &r);
		tf_twt_walked(t, BASE + 20 * MS);
		feed(t, &c);			/* live scan or record after the walk */
		tf_twt_end(t, true, &s);
		feed(t, &c);			/* or after the sweep */
		CHECK_INT(x.n, 0);
		CHECK_INT(tf_twt_tracked(t), 1);
		tf_twt_free(t);
		t = tracker(&x, 0, false);
	}
	/* a real reuse after the walk that saw it still counts */
	tf_twt_begin(t, BASE);
	tf_twt_record(t, &r);
	tf_twt_walked(t, BASE + 20 * MS);
	tf_twt_end(t, true, &s);
	c = client(40000, BASE + 1500 * MS, BASE + 1600 * MS);
	feed(t, &c);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_REUSED);
	tf_twt_free(t);
}

static void early_end_waits_one_sweep_then_reset(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_sweep_rec r = tw_rec(40000, 59 * S);

	feed(t, &c);
	sweep(t, BASE + 2 * S, &r, 1, true);
	sweep(t, BASE + 3 * S, NULL, 0, true);	/* gone 58 s early: wait for evidence */
	CHECK_INT(x.n, 0);
	sweep(t, BASE + 4 * S, NULL, 0, true);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_RESET);
	CHECK_INT(x.e[0].end_ns, BASE + 3 * S + 2 * MS);
	CHECK_INT(x.e[0].precision_ns, 1 * S + 2 * MS);	/* last seen at 2 s, missed at 3.002 s */
	tf_twt_free(t);
}

static void late_evidence_turns_early_end_into_reuse(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_conn again = client(40000, BASE + 2500 * MS, BASE + 2600 * MS);
	struct tf_sweep_rec r = tw_rec(40000, 59 * S);

	feed(t, &c);
	sweep(t, BASE + 2 * S, &r, 1, true);
	sweep(t, BASE + 3 * S, NULL, 0, true);
	feed(t, &again);	/* its record arrives after the sweep that missed the TIME-WAIT */
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_REUSED);
	CHECK_INT(x.e[0].end_ns, BASE + 2500 * MS);
	sweep(t, BASE + 4 * S, NULL, 0, true);
	CHECK_INT(x.n, 1);
	tf_twt_free(t);
}

static void early_end_other_reasons(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_sweep_rec r = tw_rec(40000, 59 * S), r2;
	struct tf_tw_snapshot s;
	struct tf_conn c;

	/* namespace torn down */
	sweep(t, BASE, &r, 1, true);
	sweep(t, BASE + 1 * S, NULL, 0, true);
	x.netns_dead = true;
	sweep(t, BASE + 2 * S, NULL, 0, true);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_NETNS_GONE);
	CHECK_INT(x.e[0].handover_src, TF_TWH_UNKNOWN);
	CHECK_INT(x.e[0].handover_ns, 0);
	x.netns_dead = false;
	/* events lost meanwhile: the reusing connection may be among them */
	sweep(t, BASE + 3 * S, &r, 1, true);
	sweep(t, BASE + 4 * S, NULL, 0, false);
	sweep(t, BASE + 5 * S, NULL, 0, true);
	CHECK_INT(x.n, 2);
	CHECK_INT(x.e[1].reason, TF_TWE_UNKNOWN);
	tf_twt_free(t);
	/*
	 * --pid: a reusing connection of another process is not traced, and a
	 * TIME-WAIT no traced connection handed over is not ours to report
	 * (the census still counts it).
	 */
	t = tracker(&x, 0, true);
	c = client(40001, BASE, BASE + 500 * MS);
	feed(t, &c);
	r2 = tw_rec(40001, 59 * S);
	sweep(t, BASE + 1 * S, (struct tf_sweep_rec[]){ r, r2 }, 2, true);
	sweep(t, BASE + 2 * S, NULL, 0, true);
	s = sweep(t, BASE + 3 * S, NULL, 0, true);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].sport, 40001);
	CHECK_INT(x.e[0].reason, TF_TWE_UNKNOWN);
	CHECK_INT(s.ended[TF_TWE_UNKNOWN], 2);
	tf_twt_free(t);
}

static void handed_over_and_gone_before_any_sweep(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_conn again = client(40000, BASE + 1200 * MS, BASE + 1300 * MS);

	feed(t, &c);
	feed(t, &again);	/* reused before a sweep ever saw it */
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_REUSED);
	CHECK_INT(x.e[0].end_ns - x.e[0].handover_ns, 200 * MS);
	/*
	 * The second connection's own TIME-WAIT was never seen either: gone
	 * early, reset. A hand-over after a sweep began is not judged by it.
	 */
	c = client(40001, BASE + 2 * S, BASE + 3 * S);
	feed(t, &c);
	sweep(t, BASE + 2500 * MS, NULL, 0, true);
	sweep(t, BASE + 2600 * MS, NULL, 0, true);
	CHECK_INT(x.n, 2);
	CHECK_INT(x.e[1].sport, 40000);
	CHECK_INT(x.e[1].reason, TF_TWE_RESET);
	CHECK_INT(x.e[1].end_ns, BASE + 2500 * MS + 2 * MS);
	CHECK_INT(tf_twt_tracked(t), 1);	/* 40001, handed over at 3 s */
	tf_twt_free(t);
}

static void timer_rearmed_by_a_retransmitted_fin(void)
{
	struct ends x;
	struct tf_twt *t = tracker(&x, 0, false);
	struct tf_conn c = client(40000, BASE, BASE + 1 * S);
	struct tf_sweep_rec r = tw_rec(40000, 60 * S);

	feed(t, &c);
	sweep(t, BASE + 1 * S, &r, 1, true);
	/* the peer's FIN came again 0.4 s later: 60 s from then, timer at 61.4 s */
	r.jiffies = (int64_t)((60 * S - 600 * MS) / (S / HZ));
	sweep(t, BASE + 2 * S, &r, 1, true);
	r.jiffies = (int64_t)((300 * MS) / (S / HZ));
	sweep(t, BASE + 61 * S + 100 * MS, &r, 1, true);	/* still there: 0.3 s left */
	CHECK_INT(x.n, 0);
	sweep(t, BASE + 62 * S, NULL, 0, true);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_EXPIRED);
	CHECK_INT(x.e[0].precision_ns, 600 * MS + 2 * MS);	/* between 61.4 s and 62.002 s */
	CHECK_INT(x.e[0].end_ns - x.e[0].handover_ns, 61 * S + 2 * MS);
	tf_twt_free(t);
}

/* ---- other namespaces ------------------------------------------------------------------ */

static struct tf_conn client_in(uint32_t netns, uint16_t cport, uint64_t start, uint64_t close)
{
	struct tf_conn c = client(cport, start, close);

	c.netns = netns;
	return c;
}

static uint64_t left_59s(uint16_t port)
{
	(void)port;
	return 59 * S;
}

static uint64_t left_half_s(uint16_t port)
{
	(void)port;
	return 500 * MS;
}

static uint64_t left_none(uint16_t port)
{
	(void)port;
	return 0;
}

/*
 * Issue 13: the walk shows only the home namespace. A TIME-WAIT handed
 * over elsewhere is not in it, and that is no end.
 */
static void other_namespace_is_not_ended_by_the_walk(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_conn c = client_in(OTHER, 40000, BASE, BASE + 1 * S);

	feed(t, &c);
	for (int i = 1; i <= 10; i++)
		sweep(t, BASE + 1 * S + (uint64_t)i * 65 * MS, NULL, 0, true);
	CHECK_INT(x.n, 0);
	CHECK_INT(tf_twt_tracked(t), 1);
	tf_twt_free(t);
}

static void other_namespace_expires_when_a_lookup_misses_it(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_conn c = client_in(OTHER, 40000, BASE, BASE + 1 * S);
	struct tf_twt_key due[4];

	feed(t, &c);
	/* looked up in turn: there, 59 s left (timer at 61.003 s) */
	CHECK_INT(sweep_looking(t, BASE + 2 * S, 4, left_59s, due, false), 1);
	CHECK_INT(due[0].netns, OTHER);
	/* before its timer nobody misses it, lookups or not */
	CHECK_INT(sweep_looking(t, BASE + 30 * S, 0, NULL, due, false), 0);
	CHECK_INT(x.n, 0);
	/* a second before its timer (2.003 s + 59 s) it is due: still there, 0.5 s left */
	CHECK_INT(sweep_looking(t, BASE + 60500 * MS, 1, left_half_s, due, false), 1);
	/* its timer has run out: due first, and the lookup finds nothing */
	CHECK_INT(sweep_looking(t, BASE + 61 * S + 500 * MS, 1, left_none, due, false), 1);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_EXPIRED);
	CHECK_INT(x.e[0].netns, OTHER);
	CHECK_INT(x.e[0].handover_src, TF_TWH_TRACED);
	CHECK_INT(x.e[0].end_ns, BASE + 61 * S + 503 * MS);
	/* between its timer (60.503 s + 0.5 s) and the answer */
	CHECK_INT(x.e[0].precision_ns, 500 * MS);
	CHECK_INT(tf_twt_tracked(t), 0);
	tf_twt_free(t);
}

/*
 * Looked up late (a sweep's budget is spent elsewhere): gone after its
 * timer, but last seen long before it. A reset in between would look the
 * same: the window starts at that last sighting.
 */
static void late_lookup_is_dated_from_the_last_sighting(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_conn c = client_in(OTHER, 40000, BASE, BASE + 1 * S);
	struct tf_twt_key due[4];

	feed(t, &c);
	sweep_looking(t, BASE + 2 * S, 4, left_59s, due, false);
	CHECK_INT(sweep_looking(t, BASE + 70 * S, 4, left_none, due, false), 1);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_EXPIRED);
	CHECK_INT(x.e[0].end_ns, BASE + 70 * S + 3 * MS);
	CHECK_INT(x.e[0].precision_ns, 68 * S + 1 * MS);	/* since 2.002 s */
	tf_twt_free(t);
}

static void run_out_timers_are_looked_up_first(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_twt_key due[8];
	struct tf_conn c;

	for (uint16_t i = 0; i < 6; i++) {	/* five now, one a second later */
		c = client_in(OTHER, (uint16_t)(40000 + i), BASE, BASE + (i == 5 ? 2 : 1) * S);
		feed(t, &c);
	}
	/* at 61.5 s only 40005's timer (hand-over at 2 s) has not run out */
	tf_twt_begin(t, BASE + 61500 * MS);
	CHECK_INT(tf_twt_due(t, BASE + 61500 * MS, due, 5), 5);
	for (int i = 0; i < 5; i++)
		CHECK(due[i].sport != 40005);
	/* and the one left comes in turn; none twice in a sweep */
	CHECK_INT(tf_twt_due(t, BASE + 61500 * MS, due, 5), 1);
	CHECK_INT(due[0].sport, 40005);
	CHECK_INT(tf_twt_due(t, BASE + 61500 * MS, due, 5), 0);
	tf_twt_end(t, true, &(struct tf_tw_snapshot){});
	CHECK_INT(x.n, 0);	/* not answered: nothing judged */
	tf_twt_free(t);
}

/* A second before a timer runs out, the heap asks for a look (the turn would wait). */
static void looked_at_just_before_its_timer(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_twt_key due[8];
	struct tf_conn c;

	for (uint16_t i = 0; i < 20; i++) {	/* 40005.. hand over 30 s later */
		c = client_in(OTHER, (uint16_t)(40000 + i), BASE, BASE + (i >= 5 ? 31 : 1) * S);
		feed(t, &c);
	}
	tf_twt_begin(t, BASE + 60500 * MS);	/* timers at 61 s: due since 60 s */
	CHECK_INT(tf_twt_due(t, BASE + 60500 * MS, due, 5), 5);
	for (int i = 0; i < 5; i++)
		CHECK(due[i].sport < 40005);
	tf_twt_free(t);
}

static void other_namespace_early_end_and_its_evidence(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_conn c = client_in(OTHER, 40000, BASE, BASE + 1 * S);
	struct tf_twt_key due[4];

	feed(t, &c);
	sweep_looking(t, BASE + 2 * S, 4, left_59s, due, false);
	sweep_looking(t, BASE + 3 * S, 4, left_none, due, false);	/* gone 58 s early */
	CHECK_INT(x.n, 0);
	CHECK_INT(tf_twt_pending(t), 1);
	sweep_looking(t, BASE + 4 * S, 4, left_none, due, false);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_RESET);
	CHECK_INT(x.e[0].end_ns, BASE + 3 * S + 3 * MS);
	CHECK_INT(x.e[0].precision_ns, 1 * S + 1 * MS);	/* seen at 2.002 s, missed at 3.003 s */
	/* the namespace's TCPTimeWaitOverflow rose: no timewait socket, maybe */
	c = client_in(OTHER, 40001, BASE + 4 * S, BASE + 5 * S);
	feed(t, &c);
	sweep_looking(t, BASE + 6 * S, 4, left_none, due, true);
	sweep_looking(t, BASE + 7 * S, 4, left_none, due, false);
	CHECK_INT(x.n, 2);
	CHECK_INT(x.e[1].reason, TF_TWE_UNKNOWN);
	/* the namespace is gone */
	c = client_in(OTHER, 40002, BASE + 7 * S, BASE + 8 * S);
	feed(t, &c);
	tf_twt_begin(t, BASE + 9 * S);
	tf_twt_netns_gone(t, OTHER, BASE + 9 * S);
	tf_twt_end(t, true, &(struct tf_tw_snapshot){});
	x.netns_dead = true;
	sweep(t, BASE + 10 * S, NULL, 0, true);
	CHECK_INT(x.n, 3);
	CHECK_INT(x.e[2].reason, TF_TWE_NETNS_GONE);
	CHECK_INT(x.e[2].end_ns, BASE + 9 * S);
	CHECK_INT(x.e[2].precision_ns, 1 * S);	/* since its hand-over */
	tf_twt_free(t);
}

static void other_namespace_reused(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_conn c = client_in(OTHER, 40000, BASE, BASE + 1 * S);
	struct tf_conn again = client_in(OTHER, 40000, BASE + 3 * S, BASE + 4 * S);
	struct tf_conn home = client(40000, BASE + 3 * S, BASE + 4 * S);
	struct tf_twt_key due[4];

	feed(t, &c);
	sweep_looking(t, BASE + 2 * S, 4, left_59s, due, false);
	feed(t, &home);		/* the same tuple in another namespace: not a reuse */
	CHECK_INT(x.n, 0);
	feed(t, &again);
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_REUSED);
	CHECK_INT(x.e[0].end_ns - x.e[0].handover_ns, 2 * S);
	CHECK_INT(tf_twt_tracked(t), 2);	/* the two new TIME-WAITs */
	tf_twt_free(t);
}

/* Never looked into (no way into its namespace): no end, only after its timer and a grace. */
static void never_looked_into_is_not_swept(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, false);
	struct tf_conn c = client_in(OTHER, 40000, BASE, BASE + 1 * S);
	struct tf_twt_key due[4];
	uint64_t at;

	feed(t, &c);
	for (at = BASE + 2 * S; at < BASE + 70 * S && !x.n; at += 500 * MS) {
		tf_twt_begin(t, at);
		tf_twt_walked(t, at + 1 * MS);
		for (size_t i = 0, n = tf_twt_due(t, at, due, 4); i < n; i++)
			tf_twt_unchecked(t, &due[i]);
		tf_twt_end(t, true, &(struct tf_tw_snapshot){});
	}
	CHECK_INT(x.n, 1);
	CHECK_INT(x.e[0].reason, TF_TWE_NOT_SWEPT);
	CHECK_INT(x.e[0].end_ns, 0);
	CHECK_INT(x.e[0].handover_ns, BASE + 1 * S);
	/* hand-over + 60 s + the 5 s grace, at the next sweep */
	CHECK(at - 500 * MS >= BASE + 66 * S && at - 500 * MS < BASE + 66 * S + 500 * MS);
	tf_twt_free(t);
}

static void census_of_every_namespace(void)
{
	struct ends x;
	struct tf_twt *t = tracker_home(&x, true);
	struct tf_sweep_rec r = tw_rec(40000, 50 * S);
	struct tf_conn c1 = client_in(OTHER, 40001, BASE, BASE + 1 * S);
	struct tf_conn c2 = client_in(OTHER, 40002, BASE, BASE + 2 * S);
	struct tf_tw_snapshot s;

	feed(t, &c1);
	feed(t, &c2);
	s = sweep(t, BASE + 3 * S, &r, 1, true);
	CHECK_INT(s.total, 3);
	CHECK_INT(s.n_by_remote, 2);
	CHECK_INT(s.by_remote[0].netns, OTHER);
	CHECK_INT(s.by_remote[0].count, 2);
	CHECK_INT(s.by_remote[0].oldest_age_ns, 2 * S);
	CHECK_INT(s.by_remote[0].max_remaining_ns, 59 * S);	/* as the kernel arms it */
	CHECK_INT(s.by_remote[1].netns, NETNS);
	CHECK_INT(s.by_remote[1].count, 1);
	CHECK_INT(s.n_by_lport, 3);
	tf_twt_free(t);
}

TF_TEST_MAIN("test_twtrack", T(ohash_put_get_delete), T(census_groups_and_timers),
	     T(census_ages_from_kernel_stamp), T(census_over_cap_counts_untracked),
	     T(expired_after_its_timer), T(reused_by_a_new_connect),
	     T(own_record_after_the_sweep_is_not_reuse), T(connection_inside_a_walk_is_not_reuse),
	     T(early_end_waits_one_sweep_then_reset),
	     T(late_evidence_turns_early_end_into_reuse), T(early_end_other_reasons),
	     T(handed_over_and_gone_before_any_sweep), T(timer_rearmed_by_a_retransmitted_fin),
	     T(other_namespace_is_not_ended_by_the_walk),
	     T(other_namespace_expires_when_a_lookup_misses_it),
	     T(late_lookup_is_dated_from_the_last_sighting),
	     T(run_out_timers_are_looked_up_first), T(looked_at_just_before_its_timer),
	     T(other_namespace_early_end_and_its_evidence),
	     T(other_namespace_reused), T(never_looked_into_is_not_swept),
	     T(census_of_every_namespace))
