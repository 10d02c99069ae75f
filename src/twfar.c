// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TIME-WAIT tracker's entries of other network namespaces: which to
 * look up in a sweep, and what the answers end. See twtrack.h.
 *
 * No sweep walks every entry: 100 namespaces of 1000 TIME-WAITs made the
 * sweep cost 25 ms when it did (measured; two thirds of it scanning the
 * table). The timers heap gives those whose timer has run out, earliest
 * first; a cursor takes the others in turn, as many as asked; an answer is
 * judged when it comes; a namespace found gone is the only full scan.
 */
#include <stdlib.h>
#include <string.h>
#include "twtrack_int.h"

#define TURN_VISITS 4			/* slots the turn visits per entry it takes, at most */
#define SCHED_SLACK_NS 100000000ull	/* a timer read again moves its heap node past this */

int twt_far_init(struct tf_twt *t)
{
	return tf_heap_init(&t->timers, sizeof(struct tf_twt_key), 2 * t->p.cap);
}

void twt_far_free(struct tf_twt *t)
{
	tf_heap_free(&t->timers);
	free(t->pend);
}

/* The heap is full of stale nodes: one node per entry again. */
static void rebuild(struct tf_twt *t)
{
	tf_heap_clear(&t->timers);
	for (uint32_t i = 0; i < t->far.nslots; i++) {
		struct tw_ent *e = tf_ohash_at(&t->far, i);

		if (e) {
			e->sched_ns = twt_expected_end(e);
			if (e->sched_ns)
				tf_heap_push(&t->timers, e->sched_ns, tf_ohash_key_at(&t->far, i));
		}
	}
}

/*
 * When to look at it next: when its timer runs out, and a second before if
 * it was not seen alive close to that (an end is dated from the timer only
 * then: TF_TWT_TRUST_NS).
 */
void twt_far_schedule(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e)
{
	uint64_t at = twt_expected_end(e);

	if (at > TF_TWT_TRUST_NS && e->last_seen_ns + TF_TWT_TRUST_NS < at)
		at -= TF_TWT_TRUST_NS / 2;

	/* each lookup reads the timer again, a few ms apart: move only for a real change */
	if (!at || (e->sched_ns && at < e->sched_ns + SCHED_SLACK_NS &&
		    at + SCHED_SLACK_NS > e->sched_ns))
		return;
	if (!tf_heap_push(&t->timers, at, k)) {
		rebuild(t);
		return;
	}
	e->sched_ns = at;
}

/* Gone early: its verdict comes at the next sweep. */
static void pend_add(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e)
{
	if (t->npend == t->pend_cap) {
		uint32_t cap = t->pend_cap ? 2 * t->pend_cap : 256;
		struct tf_twt_key *p = realloc(t->pend, cap * sizeof(*p));

		if (!p) {	/* out of memory: the verdict now, without waiting */
			twt_verdict(t, k, e, false);
			tf_ohash_del_at(&t->far, tf_ohash_index(&t->far, e));
			return;
		}
		t->pend = p;
		t->pend_cap = cap;
	}
	t->pend[t->npend++] = *k;
}

/* The others, in turn from where the last turn stopped. */
static size_t turn(struct tf_twt *t, struct tf_twt_key *out, size_t max)
{
	uint32_t ns = t->far.nslots, i = t->cursor < ns ? t->cursor : 0;
	size_t n = 0, limit = max * TURN_VISITS + 64;

	for (size_t j = 0; j < ns && j < limit && n < max; j++) {
		struct tw_ent *e = tf_ohash_at(&t->far, i);

		if (e && !e->gone_gen && e->due_gen != t->gen) {
			e->due_gen = t->gen;
			memcpy(&out[n++], tf_ohash_key_at(&t->far, i), sizeof(out[0]));
		}
		i = i + 1 < ns ? i + 1 : 0;
	}
	t->cursor = i;
	return n;
}

size_t tf_twt_due(struct tf_twt *t, uint64_t now_ns, struct tf_twt_key *out, size_t max)
{
	const struct tf_twt_key *k;
	size_t n = 0;
	uint64_t at;

	while (n < max && (k = tf_heap_top(&t->timers, &at)) && at <= now_ns) {
		struct tw_ent *e = tf_ohash_get(&t->far, k);

		if (e && e->sched_ns == at) {
			e->sched_ns = 0;	/* no node now: the answer schedules it again */
			if (!e->gone_gen && e->due_gen != t->gen) {
				e->due_gen = t->gen;
				out[n++] = *k;
			}
		}
		tf_heap_pop(&t->timers);
	}
	return n + turn(t, out + n, max - n);
}

bool tf_twt_checked(struct tf_twt *t, const struct tf_twt_key *k, const struct tf_sweep_rec *r,
		    uint64_t t0, uint64_t t1)
{
	struct tw_ent *e = tf_ohash_get(&t->far, k);

	if (!e || e->gone_gen)
		return false;
	if (r && r->kind == TF_SWR_TW) {
		twt_see(t, e, r, t0);
		twt_far_schedule(t, k, e);
		return false;
	}
	e->fails = 0;
	if (e->handover_ns > t0) {	/* handed over again after we asked */
		twt_far_schedule(t, k, e);
		return false;
	}
	if (twt_missed(t, k, e, t1)) {
		tf_ohash_del_at(&t->far, tf_ohash_index(&t->far, e));
		return false;
	}
	pend_add(t, k, e);
	return true;
}

void tf_twt_netns_suspect(struct tf_twt *t, uint32_t netns)
{
	for (uint32_t i = 0; i < t->npend; i++) {
		struct tw_ent *e = tf_ohash_get(&t->far, &t->pend[i]);

		if (e && t->pend[i].netns == netns && e->gone_gen == t->gen)
			e->evidence_bad = true;
	}
}

void tf_twt_unchecked(struct tf_twt *t, const struct tf_twt_key *k)
{
	struct tw_ent *e = tf_ohash_get(&t->far, k);

	if (!e)
		return;
	if (twt_unseen(t, k, e))
		tf_ohash_del_at(&t->far, tf_ohash_index(&t->far, e));
	else
		twt_far_schedule(t, k, e);	/* the next sweep tries again */
}

void tf_twt_netns_gone(struct tf_twt *t, uint32_t netns, uint64_t t_ns)
{
	uint32_t i = 0;

	while (i < t->far.nslots) {
		struct tw_ent *e = tf_ohash_at(&t->far, i);
		const struct tf_twt_key *k = tf_ohash_key_at(&t->far, i);

		if (e && k->netns == netns && !e->gone_gen && e->handover_ns <= t_ns) {
			if (twt_missed(t, k, e, t_ns)) {
				tf_ohash_del_at(&t->far, i);	/* a later entry may move into slot i */
				continue;
			}
			pend_add(t, k, e);
		}
		i++;
	}
}

uint32_t twt_far_end(struct tf_twt *t, bool ok)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < t->npend; i++) {
		struct tf_twt_key k = t->pend[i];
		struct tw_ent *e = tf_ohash_get(&t->far, &k);

		if (!e || !e->gone_gen)
			continue;	/* reused meanwhile */
		if (e->gone_gen == t->gen) {
			t->pend[keep++] = k;
			continue;
		}
		twt_verdict(t, &k, e, ok);
		tf_ohash_del_at(&t->far, tf_ohash_index(&t->far, e));
	}
	t->npend = keep;
	return keep;
}
