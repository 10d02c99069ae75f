// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TIME-WAIT bookkeeping between sweeps. See twtrack.h. */
#include <stdlib.h>
#include <string.h>
#include "twtrack_int.h"

/*
 * A group of one sweep: local port (family 0, addr 0), or remote address
 * and port; in a namespace (census_all), or netns 0.
 */
struct grp_key {
	uint32_t netns;
	uint8_t family, _pad;
	uint16_t port;
	uint8_t addr[16];
};

struct grp {
	uint64_t count;
	uint64_t min_h, max_h;		/* hand-over (or first-seen) times */
	uint64_t min_exp, max_exp;	/* timers, CLOCK_MONOTONIC ns */
};

/* ---- groups (per sweep) ----------------------------------------------------- */

static void grp_add(struct tf_ohash *g, uint32_t netns, uint8_t family, const uint8_t *addr,
		    uint16_t port, uint64_t h, uint64_t exp)
{
	struct grp_key k = { .netns = netns, .family = family, .port = port };
	struct grp *x;
	bool fresh;

	memcpy(k.addr, addr, 16);
	x = tf_ohash_put(g, &k, &fresh);
	if (!x)
		return;	/* out of memory: the census misses this group */
	if (fresh)
		*x = (struct grp){ .min_h = h, .max_h = h, .min_exp = exp, .max_exp = exp };
	x->count++;
	if (h < x->min_h)
		x->min_h = h;
	if (h > x->max_h)
		x->max_h = h;
	if (exp < x->min_exp)
		x->min_exp = exp;
	if (exp > x->max_exp)
		x->max_exp = exp;
}

struct grp_ref {
	const struct grp_key *k;
	const struct grp *g;
};

/* Bigger count first; ties by port, address, namespace, so the order is stable. */
static bool grp_before(struct grp_ref a, struct grp_ref b)
{
	int c;

	if (a.g->count != b.g->count)
		return a.g->count > b.g->count;
	if (a.k->port != b.k->port)
		return a.k->port < b.k->port;
	c = memcmp(a.k->addr, b.k->addr, 16);
	return c ? c < 0 : a.k->netns < b.k->netns;
}

static int64_t jiffies_ns(const struct tf_twt *t, int64_t j)
{
	return t->p.hz ? j * (1000000000ll / t->p.hz) : 0;
}

static void grp_export(struct grp_ref r, uint64_t now, struct tf_tw_group *out)
{
	*out = (struct tf_tw_group){
		.netns = r.k->netns, .family = r.k->family, .port = r.k->port, .count = r.g->count,
		.oldest_age_ns = now > r.g->min_h ? (int64_t)(now - r.g->min_h) : 0,
		.newest_age_ns = now > r.g->max_h ? (int64_t)(now - r.g->max_h) : 0,
		.min_remaining_ns = (int64_t)(r.g->min_exp - now),
		.max_remaining_ns = (int64_t)(r.g->max_exp - now),
	};
	memcpy(out->addr, r.k->addr, 16);
}

/* The TF_TW_TOP biggest groups, biggest first. */
static void grp_top(const struct tf_ohash *g, uint64_t now, struct tf_tw_group *out, int *nout)
{
	struct grp_ref top[TF_TW_TOP];
	int n = 0;

	for (uint32_t i = 0; i < g->nslots; i++) {
		struct grp_ref x = { tf_ohash_key_at(g, i), tf_ohash_at(g, i) };
		int k;

		if (!x.g || (n == TF_TW_TOP && !grp_before(x, top[n - 1])))
			continue;
		k = n < TF_TW_TOP ? n++ : n - 1;
		while (k > 0 && grp_before(x, top[k - 1])) {
			top[k] = top[k - 1];
			k--;
		}
		top[k] = x;
	}
	for (int i = 0; i < n; i++)
		grp_export(top[i], now, &out[i]);
	*nout = n;
}

/* ---- life cycle --------------------------------------------------------------- */

struct tf_twt *tf_twt_new(const struct tf_twt_params *p, const struct tf_twt_ops *ops)
{
	struct tf_twt *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return NULL;
	t->p = *p;
	if (!t->p.cap)
		t->p.cap = TF_TWT_DEFAULT_CAP;
	t->ops = *ops;
	t->prev_ok = true;
	err = tf_ohash_init(&t->ents, sizeof(struct tf_twt_key), sizeof(struct tw_ent), t->p.cap);
	if (!err)
		err = tf_ohash_init(&t->far, sizeof(struct tf_twt_key), sizeof(struct tw_ent), t->p.cap);
	if (!err)
		err = twt_far_init(t);
	if (!err)
		err = tf_ohash_init(&t->by_lport, sizeof(struct grp_key), sizeof(struct grp), UINT32_MAX);
	if (!err)
		err = tf_ohash_init(&t->by_remote, sizeof(struct grp_key), sizeof(struct grp), UINT32_MAX);
	if (err) {
		tf_twt_free(t);
		return NULL;
	}
	return t;
}

void tf_twt_free(struct tf_twt *t)
{
	if (!t)
		return;
	tf_ohash_free(&t->ents);
	tf_ohash_free(&t->far);
	twt_far_free(t);
	tf_ohash_free(&t->by_lport);
	tf_ohash_free(&t->by_remote);
	free(t);
}

uint64_t tf_twt_tracked(const struct tf_twt *t)
{
	return (uint64_t)t->ents.n + t->far.n;
}

uint32_t tf_twt_pending(const struct tf_twt *t)
{
	return t->pending;
}

/* ---- ends --------------------------------------------------------------------- */

static void twt_report(struct tf_twt *t, const struct tf_twt_key *k, const struct tw_ent *e,
		       int reason, uint64_t end_ns, int64_t precision_ns)
{
	struct tf_tw_end x = {
		.family = k->family, .netns = k->netns, .pid = e->pid,
		.sport = k->sport, .dport = k->dport,
		.handover_ns = e->hsrc == TF_TWH_UNKNOWN ? 0 : e->handover_ns,
		.end_ns = end_ns, .precision_ns = precision_ns < 0 ? 0 : precision_ns,
		.reason = reason, .substate = e->substate ? e->substate : TF_TIME_WAIT,
		.handover_src = e->hsrc,
	};

	memcpy(x.comm, e->comm, sizeof(x.comm));
	memcpy(x.saddr, k->saddr, 16);
	memcpy(x.daddr, k->daddr, 16);
	t->ended[reason]++;
	/* --pid: only the TIME-WAITs a wanted connection handed over are its own */
	if (t->ops.end && (!t->p.owners_filtered || e->hsrc == TF_TWH_TRACED))
		t->ops.end(t->ops.ctx, &x);
}

/* When it was last known alive: the last sweep that saw it, or its hand-over. */
static uint64_t last_alive(const struct tw_ent *e)
{
	return e->last_seen_ns > e->handover_ns ? e->last_seen_ns : e->handover_ns;
}

/*
 * A time by which the timewait socket surely existed, for reuse checks: its
 * traced hand-over; else the end of the walk that first saw it (a walk takes
 * milliseconds on a busy host, and a connection can begin and hand over
 * within it), tightened by the kernel's millisecond stamp. A connection that
 * started before it may be the very one that handed over: never a reuse.
 */
static uint64_t began_by(const struct tf_twt *t, const struct tw_ent *e)
{
	uint64_t hi;

	if (e->hsrc == TF_TWH_TRACED)
		return e->handover_ns;
	hi = e->seen_hi_ns;
	if (!hi)
		hi = e->first_gen == t->gen && t->walked ? t->t_after : UINT64_MAX;
	if (e->hsrc == TF_TWH_KERNEL_STAMP && e->handover_ns + 1000000 < hi)
		hi = e->handover_ns + 1000000;
	return hi;
}

/* ---- connections ---------------------------------------------------------------- */

/* A walk covers the home namespace; the others' entries are looked up (twfar.c). */
static bool twt_foreign(const struct tf_twt *t, const struct tf_twt_key *k)
{
	return t->p.home_netns && k->netns != t->p.home_netns;
}

static struct tf_ohash *table_of(struct tf_twt *t, const struct tf_twt_key *k)
{
	return twt_foreign(t, k) ? &t->far : &t->ents;
}

static bool key_from_conn(const struct tf_conn *c, struct tf_twt_key *k)
{
	if (!c->sport || !c->dport)
		return false;
	memset(k, 0, sizeof(*k));
	k->netns = c->netns;
	k->family = c->family;
	k->sport = c->sport;
	k->dport = c->dport;
	memcpy(k->saddr, c->saddr, c->family == 2 ? 4 : 16);
	memcpy(k->daddr, c->daddr, c->family == 2 ? 4 : 16);
	return true;
}

/*
 * A connection that started on the tuple after the timewait socket began
 * took it over: connect() with tcp_tw_reuse kills it in the same call that
 * moves the new socket to SYN_SENT; a SYN from the peer kills it before the
 * accepted child's first event (by about one round trip).
 */
/*
 * Does connection c, on the 4-tuple of entry e, begin a new lifecycle while
 * e was still in TIME-WAIT? Then e's TIME-WAIT ended by reuse: reported here.
 */
static bool ended_by_reuse(struct tf_twt *t, const struct tf_conn *c, const struct tf_twt_key *k,
			   const struct tw_ent *e)
{
	uint64_t start;
	int64_t prec;

	if ((c->flags & TF_F_MIDLIFE) || !c->nstates || c->role == TF_ROLE_UNKNOWN)
		return false;
	start = c->state_ns[0];
	if (start <= began_by(t, e) || (e->gone_gen && start > e->gone_ns))
		return false;
	if (c->role == TF_ROLE_CLIENT)
		prec = 0;
	else
		prec = c->srtt_us ? (int64_t)c->srtt_us * 1000 : (int64_t)(start - last_alive(e));
	twt_report(t, k, e, TF_TWE_REUSED, start, prec);
	return true;
}

/*
 * One finished connection. An active closer's record also starts (or
 * dates) the TIME-WAIT entry of its tuple: one lookup serves both, the
 * hash table being the tracer's hottest memory under churn.
 */
void tf_twt_conn(struct tf_twt *t, const struct tf_conn *c, const struct tf_summary *s)
{
	struct tf_ohash *h;
	struct tf_twt_key k;
	struct tw_ent *e;
	bool fresh = false;

	if (!key_from_conn(c, &k))
		return;
	h = table_of(t, &k);
	if (!(s && s->time_wait && c->nstates)) {
		e = tf_ohash_get(h, &k);
		if (e && ended_by_reuse(t, c, &k, e))
			tf_ohash_del_at(h, tf_ohash_index(h, e));
		return;
	}
	e = tf_ohash_put(h, &k, &fresh);
	if (e && fresh && tf_twt_tracked(t) > t->p.cap) {
		tf_ohash_del_at(h, tf_ohash_index(h, e));
		return;		/* over the cap: the census still counts it */
	}
	if (!e)
		return;
	if (!fresh && ended_by_reuse(t, c, &k, e))
		memset(e, 0, sizeof(*e));	/* the old entry ends, this one begins */
	e->handover_ns = c->state_ns[(c->nstates - 1) % TF_MAX_STATES];
	e->hsrc = TF_TWH_TRACED;
	e->pid = c->pid;
	memcpy(e->comm, c->comm, sizeof(e->comm));
	if (h == &t->far)
		twt_far_schedule(t, &k, e);
}

/* ---- sweeps ------------------------------------------------------------------------ */

void tf_twt_begin(struct tf_twt *t, uint64_t t_ns)
{
	t->gen++;
	if (!t->gen)	/* 0 means "never": skip it on wrap */
		t->gen = 1;
	t->t_begin = t_ns;
	t->walked = false;
	t->total = t->fw2 = t->untracked = 0;
	tf_ohash_clear(&t->by_lport);
	tf_ohash_clear(&t->by_remote);
}

/*
 * tw_entry_stamp (CLOCK_MONOTONIC ms, 32 bits) near now_ns -> ns. It can be
 * a little after now_ns: the socket appeared while the walk ran.
 */
static uint64_t stamp_to_mono(uint64_t now_ns, uint32_t entry_ms)
{
	int64_t age_ms = (int32_t)((uint32_t)(now_ns / 1000000) - entry_ms);
	int64_t t = (int64_t)(now_ns / 1000000 * 1000000) - age_ms * 1000000;

	return t > 0 ? (uint64_t)t : 0;
}

/* When its timer is due: the jiffies left, from the moment the record was made. */
static uint64_t expiry(const struct tf_twt *t, const struct tf_sweep_rec *r, uint64_t seen_ns)
{
	uint64_t at = r->ts_ns ? r->ts_ns : seen_ns;

	return (uint64_t)((int64_t)at + jiffies_ns(t, r->jiffies));
}

/* Its timer as last seen, else as the kernel arms it at a traced hand-over; 0: unknown. */
uint64_t twt_expected_end(const struct tw_ent *e)
{
	if (e->expires_ns)
		return e->expires_ns;
	return e->hsrc == TF_TWH_TRACED ? e->handover_ns + TF_TW_LEN_NS : 0;
}

/* Seen, by a walk or a lookup at seen_ns. */
void twt_see(struct tf_twt *t, struct tw_ent *e, const struct tf_sweep_rec *r, uint64_t seen_ns)
{
	if (!e->first_seen_ns) {
		e->first_seen_ns = seen_ns;
		e->first_gen = t->gen;
	}
	e->last_seen_ns = seen_ns;
	e->gen = t->gen;
	e->gone_gen = 0;	/* the walk can miss a socket; it was not gone */
	e->fails = 0;
	e->evidence_bad = false;
	e->substate = r->state;
	e->expires_ns = expiry(t, r, seen_ns);
	if (e->hsrc == TF_TWH_UNKNOWN && (r->flags & TF_SWF_ENTRY_STAMP)) {
		e->handover_ns = stamp_to_mono(seen_ns, r->entry_ms);
		e->hsrc = TF_TWH_KERNEL_STAMP;
	}
}

void tf_twt_record(struct tf_twt *t, const struct tf_sweep_rec *r)
{
	struct tf_twt_key k = { .netns = r->netns, .family = r->family, .sport = r->sport,
				.dport = r->dport };
	struct tw_ent *e = NULL;
	uint64_t h;

	if (r->kind != TF_SWR_TW)
		return;
	memcpy(k.saddr, r->saddr, 16);
	memcpy(k.daddr, r->daddr, 16);
	if (!twt_foreign(t, &k))	/* a walk sees its own namespace only */
		e = tf_ohash_put(&t->ents, &k, NULL);
	if (e)
		twt_see(t, e, r, t->t_begin);
	else
		t->untracked++;
	if (e && t->p.census_all)
		return;		/* counted from the entries, at the end of the sweep */
	t->total++;
	if (r->state == TF_FIN_WAIT2)
		t->fw2++;
	if (e)
		h = e->hsrc == TF_TWH_UNKNOWN ? e->first_seen_ns : e->handover_ns;
	else
		h = (r->flags & TF_SWF_ENTRY_STAMP) ? stamp_to_mono(t->t_begin, r->entry_ms) : t->t_begin;
	k.netns = t->p.census_all ? r->netns : 0;
	grp_add(&t->by_lport, k.netns, 0, (const uint8_t[16]){ 0 }, r->sport, h,
		expiry(t, r, t->t_begin));
	grp_add(&t->by_remote, k.netns, r->family, r->daddr, r->dport, h, expiry(t, r, t->t_begin));
}

void tf_twt_walked(struct tf_twt *t, uint64_t t_after)
{
	t->t_after = t_after;
	t->walked = true;
}

/* ---- judging ---------------------------------------------------------------------- */

bool twt_missed(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e, uint64_t at)
{
	uint64_t expires = twt_expected_end(e), seen = last_alive(e);

	if (expires && (int64_t)(expires - at) <= jiffies_ns(t, 1)) {
		/* it went after its timer, or after we last saw it if that was long before */
		uint64_t from = expires > seen && expires - seen <= TF_TWT_TRUST_NS ? expires : seen;

		twt_report(t, k, e, TF_TWE_EXPIRED, at, (int64_t)(at - from));
		return true;
	}
	/* gone before its timer: wait one sweep for the evidence */
	e->gone_gen = t->gen;
	e->gone_ns = at;
	return false;
}

void twt_verdict(struct tf_twt *t, const struct tf_twt_key *k, const struct tw_ent *e, bool ok)
{
	int reason;

	if (t->ops.netns_alive && !t->ops.netns_alive(t->ops.ctx, k->netns))
		reason = TF_TWE_NETNS_GONE;
	else if (!ok || !t->prev_ok || e->evidence_bad || t->p.owners_filtered)
		reason = TF_TWE_UNKNOWN;
	else
		reason = TF_TWE_RESET;
	twt_report(t, k, e, reason, e->gone_ns, (int64_t)(e->gone_ns - last_alive(e)));
}

/*
 * Not looked at when it should have been (its namespace could not be
 * walked or entered). Past its timer, and again and again: say so, with no
 * end; never an end nobody saw.
 */
bool twt_unseen(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e)
{
	uint64_t expires = twt_expected_end(e);

	if (e->fails < UINT8_MAX)
		e->fails++;
	if (e->fails < TF_TWT_FAIL_LIMIT || !expires || t->t_begin < expires + TF_TWT_GRACE_NS)
		return false;
	twt_report(t, k, e, TF_TWE_NOT_SWEPT, 0, 0);
	return true;
}

/*
 * A home entry after this sweep's walk. Returns true when it was reported
 * and must be deleted. Idempotent within one sweep.
 */
static bool judge(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e, bool ok)
{
	if (e->gen == t->gen || e->gone_gen == t->gen)
		return false;
	if (e->gone_gen) {	/* missed by an earlier sweep: the evidence had a sweep to come */
		twt_verdict(t, k, e, ok);
		return true;
	}
	if (!t->walked)		/* the walk failed */
		return twt_unseen(t, k, e);
	if (e->handover_ns > t->t_begin)	/* handed over after the walk began */
		return false;
	return twt_missed(t, k, e, t->t_after);
}

/* census_all: one entry still in TIME-WAIT, in its namespace's groups. */
static void census_entry(struct tf_twt *t, const struct tf_twt_key *k, const struct tw_ent *e)
{
	uint64_t h = e->hsrc == TF_TWH_UNKNOWN ? e->first_seen_ns : e->handover_ns;
	uint64_t exp = twt_expected_end(e) ? twt_expected_end(e) : h + TF_TW_LEN_NS;

	t->total++;
	if (e->substate == TF_FIN_WAIT2)
		t->fw2++;
	grp_add(&t->by_lport, k->netns, 0, (const uint8_t[16]){ 0 }, k->sport, h, exp);
	grp_add(&t->by_remote, k->netns, k->family, k->daddr, k->dport, h, exp);
}

static void census_all(struct tf_twt *t, const struct tf_ohash *h)
{
	for (uint32_t i = 0; i < h->nslots; i++) {
		const struct tw_ent *e = tf_ohash_at(h, i);

		if (e && !e->gone_gen)
			census_entry(t, tf_ohash_key_at(h, i), e);
	}
}

static void judge_all(struct tf_twt *t, bool ok)
{
	uint32_t i = 0;

	t->pending = 0;
	while (i < t->ents.nslots) {
		struct tw_ent *e = tf_ohash_at(&t->ents, i);

		if (e && e->first_gen == t->gen && !e->seen_hi_ns)
			e->seen_hi_ns = t->walked ? t->t_after : e->last_seen_ns;
		if (e && judge(t, tf_ohash_key_at(&t->ents, i), e, ok)) {
			tf_ohash_del_at(&t->ents, i);	/* a later entry may move into slot i */
			continue;
		}
		t->pending += e && e->gone_gen;
		i++;
	}
}

void tf_twt_end(struct tf_twt *t, bool evidence_ok, struct tf_tw_snapshot *snap)
{
	judge_all(t, evidence_ok);
	t->pending += twt_far_end(t, evidence_ok);
	t->prev_ok = evidence_ok;
	if (t->p.census_all) {
		census_all(t, &t->ents);
		census_all(t, &t->far);
	}
	snap->now_ns = t->t_begin;
	snap->total = t->total;
	snap->fin_wait2_substate = t->fw2;
	snap->untracked = t->untracked;
	memcpy(snap->ended, t->ended, sizeof(snap->ended));
	grp_top(&t->by_lport, t->t_begin, snap->by_lport, &snap->n_by_lport);
	grp_top(&t->by_remote, t->t_begin, snap->by_remote, &snap->n_by_remote);
}
