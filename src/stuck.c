// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Stuck half-closed connections. See stuck.h. */
#include <stdlib.h>
#include <string.h>
#include "ohash.h"
#include "stuck.h"

/* skaddr is recycled: the time the state was entered makes it one connection. */
struct stuck_key {
	uint64_t skaddr;
	uint64_t since_ns;
	uint32_t state;
	uint32_t _pad;
};

struct stuck_val {
	uint32_t gen;
};

struct tf_stuckt {
	uint64_t threshold_ns;
	uint32_t gen;
	struct tf_ohash reported;	/* stuck_key -> stuck_val */
};

struct tf_stuckt *tf_stuckt_new(uint64_t threshold_ns)
{
	struct tf_stuckt *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->threshold_ns = threshold_ns;
	if (tf_ohash_init(&t->reported, sizeof(struct stuck_key), sizeof(struct stuck_val),
			  TF_STUCK_CAP)) {
		free(t);
		return NULL;
	}
	return t;
}

void tf_stuckt_free(struct tf_stuckt *t)
{
	if (!t)
		return;
	tf_ohash_free(&t->reported);
	free(t);
}

void tf_stuckt_begin(struct tf_stuckt *t)
{
	t->gen++;
	if (!t->gen)
		t->gen = 1;
}

/* The key of a half-closed connection over the threshold, else false. */
static bool over(const struct tf_stuckt *t, const struct tf_conn *c, uint64_t now_ns,
		 struct stuck_key *k)
{
	uint32_t last = (c->nstates - 1u) % TF_MAX_STATES;

	if (!c->nstates || (c->state[last] != TF_CLOSE_WAIT && c->state[last] != TF_FIN_WAIT2))
		return false;
	*k = (struct stuck_key){ .skaddr = c->skaddr, .state = c->state[last],
				 .since_ns = c->state_ns[last] };
	return now_ns >= k->since_ns && now_ns - k->since_ns >= t->threshold_ns;
}

bool tf_stuckt_due(const struct tf_stuckt *t, const struct tf_conn *c, uint64_t now_ns)
{
	struct stuck_key k;

	return over(t, c, now_ns, &k) && !tf_ohash_get(&t->reported, &k);
}

bool tf_stuckt_check(struct tf_stuckt *t, const struct tf_conn *c, uint64_t now_ns,
		     struct tf_stuck *out)
{
	struct stuck_key k;
	struct stuck_val *v;
	bool fresh;

	if (!over(t, c, now_ns, &k))
		return false;
	v = tf_ohash_put(&t->reported, &k, &fresh);
	if (!v)
		return false;	/* more stuck connections than we remember: stay quiet */
	v->gen = t->gen;
	if (!fresh)
		return false;
	*out = (struct tf_stuck){ .rec = c, .state = (int)k.state,
				  .age_ns = (int64_t)(now_ns - k.since_ns) };
	return true;
}

void tf_stuckt_end(struct tf_stuckt *t)
{
	uint32_t i = 0;

	while (i < t->reported.nslots) {
		struct stuck_val *v = tf_ohash_at(&t->reported, i);

		if (v && v->gen != t->gen) {
			tf_ohash_del_at(&t->reported, i);	/* look at slot i again */
			continue;
		}
		i++;
	}
}
