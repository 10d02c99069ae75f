// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * After reading: the two sockets of one connection paired (mirrored 4-tuple,
 * same netns, overlapping times), and each "stuck" and "time_wait" record
 * tied to the connection it names. See report.h.
 */
#include <string.h>
#include "report.h"

/* A 4-tuple in its namespace: the key of d->tuples (no padding: compared as bytes). */
struct tuple {
	uint32_t netns;
	uint16_t sport, dport;
	uint8_t family, zero[3];
	uint8_t saddr[16], daddr[16];
};

_Static_assert(sizeof(struct tuple) == 44, "struct tuple has padding");

static struct tuple tuple_of(uint32_t netns, int family, const uint8_t *sa, unsigned sp,
			     const uint8_t *da, unsigned dp)
{
	struct tuple t = { .netns = netns, .sport = (uint16_t)sp, .dport = (uint16_t)dp,
			   .family = (uint8_t)family };

	memcpy(t.saddr, sa, 16);
	memcpy(t.daddr, da, 16);
	return t;
}

/* Head of the chain of conns with this tuple, or -1. */
static int find_tuple(const struct tf_rp_data *d, uint32_t netns, int family, const uint8_t *sa,
		      unsigned sp, const uint8_t *da, unsigned dp)
{
	struct tuple t = tuple_of(netns, family, sa, sp, da, dp);
	const int *head;

	if (!d->tuples.nslots)
		return -1;
	head = tf_ohash_get(&d->tuples, &t);
	return head ? *head : -1;
}

/* d->tuples from the conns; conn.next chains the conns of one tuple in file order. */
static int index_tuples(struct tf_rp_data *d)
{
	tf_ohash_free(&d->tuples);
	if (tf_ohash_init(&d->tuples, sizeof(struct tuple), sizeof(int),
			  (uint32_t)(d->nconns ? d->nconns : 1)))
		return -1;
	for (size_t k = d->nconns; k-- > 0;) {	/* in reverse: each chain in file order */
		struct tf_rp_conn *c = &d->conns[k];
		struct tuple t = tuple_of(c->netns, c->family, c->saddr, c->sport, c->daddr, c->dport);
		bool fresh;
		int *head = tf_ohash_put(&d->tuples, &t, &fresh);

		if (!head) {
			tf_ohash_free(&d->tuples);
			return -1;
		}
		c->next = fresh ? -1 : *head;
		*head = (int)k;
	}
	return 0;
}

static int64_t end_us(const struct tf_rp_conn *c)
{
	return c->start_us + (c->lifetime_us > 0 ? c->lifetime_us : 0);
}

/* Could a and b be the two ends of one connection? (tuples already mirrored) */
static bool may_pair(const struct tf_rp_conn *a, const struct tf_rp_conn *b)
{
	const int64_t slack = 1000;	/* us: a server's derived SYN_RECV time is approximate */

	if (a->peer >= 0 || b->peer >= 0 || a == b)
		return false;
	if (a->role != TF_ROLE_UNKNOWN && a->role == b->role)
		return false;
	if (a->start_us == TF_RP_NONE || b->start_us == TF_RP_NONE)
		return false;
	return a->start_us <= end_us(b) + slack && b->start_us <= end_us(a) + slack;
}

static void match_stuck(struct tf_rp_data *d)
{
	for (size_t k = 0; k < d->nstuck; k++) {
		const struct tf_rp_stuck *st = &d->stuck[k];
		int best = -1;

		for (int i = find_tuple(d, st->netns, st->family, st->saddr, st->sport, st->daddr,
					st->dport); i >= 0; i = d->conns[i].next)
			if (best < 0 || tf_rp_last_state(d, &d->conns[i]) == st->state)
				best = i;
		if (best >= 0) {
			struct tf_rp_conn *c = &d->conns[best];

			if (!c->stuck_state)
				d->stuck_matched++;
			c->stuck_state = st->state ? st->state : (uint8_t)tf_rp_last_state(d, c);
			if (st->age_us != TF_RP_NONE &&
			    (c->stuck_age_us == TF_RP_NONE || st->age_us > c->stuck_age_us))
				c->stuck_age_us = st->age_us;
		}
	}
}

/* Each TIME-WAIT end to the connection that handed over to it (closest hand-over time). */
static void match_tw(struct tf_rp_data *d)
{
	for (size_t k = 0; k < d->ntw; k++) {
		const struct tf_rp_tw *tw = &d->tw[k];
		int64_t best_gap = 0;
		int best = -1;

		for (int i = find_tuple(d, tw->netns, tw->family, tw->saddr, tw->sport, tw->daddr,
					tw->dport); i >= 0; i = d->conns[i].next) {
			const struct tf_rp_conn *c = &d->conns[i];
			int64_t gap = 0;

			if (!c->time_wait || c->tw_end)
				continue;
			if (tw->handover_us != TF_RP_NONE && c->start_us != TF_RP_NONE &&
			    c->time_wait_at_us != TF_RP_NONE) {
				gap = tw->handover_us - (c->start_us + c->time_wait_at_us);
				gap = gap < 0 ? -gap : gap;
			}
			if (best < 0 || gap < best_gap) {
				best = i;
				best_gap = gap;
			}
		}
		if (best >= 0) {
			d->conns[best].tw_end = (uint8_t)(tw->end + 1);
			if (tw->tw_us != TF_RP_NONE && d->conns[best].time_wait_us == TF_RP_NONE)
				d->conns[best].time_wait_us = tw->tw_us;
			d->tw_matched++;
		}
	}
}

void tf_rp_pair(struct tf_rp_data *d)
{
	if (index_tuples(d))
		return;		/* no memory: every lane is drawn as inferred */
	for (size_t k = 0; k < d->nconns; k++) {
		struct tf_rp_conn *a = &d->conns[k];
		int best = -1;
		int64_t best_gap = 0;

		if (a->peer >= 0)
			continue;
		for (int i = find_tuple(d, a->netns, a->family, a->daddr, a->dport, a->saddr, a->sport);
		     i >= 0; i = d->conns[i].next) {
			struct tf_rp_conn *b = &d->conns[i];
			int64_t gap;

			if (!may_pair(a, b))
				continue;
			gap = a->start_us > b->start_us ? a->start_us - b->start_us : b->start_us - a->start_us;
			if (best < 0 || gap < best_gap) {
				best = i;
				best_gap = gap;
			}
		}
		if (best >= 0) {
			a->peer = best;
			d->conns[best].peer = (int)k;
		}
	}
	match_stuck(d);
	match_tw(d);
}
