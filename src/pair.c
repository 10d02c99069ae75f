// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pairing both ends of a local connection. See pair.h. */
#include <stdlib.h>
#include <string.h>
#include "pair.h"

#define AF_INET_ 2

struct held {
	struct tf_conn rec;
	uint64_t since_ns;
};

struct tf_pair {
	uint64_t window_ns;
	struct tf_pair_ops ops;
	int n;
	struct held h[TF_PAIR_CAP];	/* arrival order */
};

static size_t addr_len(const struct tf_conn *c)
{
	return c->family == AF_INET_ ? 4 : 16;
}

static bool is_loopback(const struct tf_conn *c, const uint8_t *a)
{
	static const uint8_t v6_lo[16] = { [15] = 1 };
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (c->family == AF_INET_)
		return a[0] == 127;
	return !memcmp(a, v6_lo, 16) || (!memcmp(a, v4_mapped, 12) && a[12] == 127);
}

bool tf_pair_maybe_local(const struct tf_conn *c)
{
	return c->sport && c->dport &&
	       (is_loopback(c, c->daddr) || !memcmp(c->saddr, c->daddr, addr_len(c)));
}

static uint64_t first_ns(const struct tf_conn *c)
{
	return c->nstates ? c->state_ns[0] : 0;
}

static uint64_t last_ns(const struct tf_conn *c)
{
	return c->nstates ? c->state_ns[(c->nstates - 1) % TF_MAX_STATES] : 0;
}

bool tf_pair_mirrors(const struct tf_conn *a, const struct tf_conn *b)
{
	size_t n = addr_len(a);

	if (a->netns != b->netns || a->family != b->family || !a->nstates || !b->nstates)
		return false;
	if (a->sport != b->dport || a->dport != b->sport ||
	    memcmp(a->saddr, b->daddr, n) || memcmp(a->daddr, b->saddr, n))
		return false;
	/* a 4-tuple is reused over time: the two lifetimes must overlap */
	return first_ns(a) <= last_ns(b) && first_ns(b) <= last_ns(a);
}

struct tf_pair *tf_pair_new(uint64_t window_ns, const struct tf_pair_ops *ops)
{
	struct tf_pair *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->window_ns = window_ns;
	p->ops = *ops;
	return p;
}

void tf_pair_free(struct tf_pair *p)
{
	free(p);
}

static void drop_at(struct tf_pair *p, int i)
{
	memmove(&p->h[i], &p->h[i + 1], sizeof(p->h[0]) * (size_t)(p->n - i - 1));
	p->n--;
}

static void send_pair(struct tf_pair *p, const struct tf_conn *x, const struct tf_conn *y)
{
	bool x_first = x->role == TF_ROLE_CLIENT ||
		       (y->role != TF_ROLE_CLIENT && first_ns(x) <= first_ns(y));

	p->ops.pair(p->ops.ctx, x_first ? x : y, x_first ? y : x);
}

void tf_pair_offer(struct tf_pair *p, const struct tf_conn *c, uint64_t now_ns)
{
	struct tf_conn mate;

	if (!tf_pair_maybe_local(c) || (c->flags & TF_F_OPEN)) {
		p->ops.single(p->ops.ctx, c);
		return;
	}
	for (int i = 0; i < p->n; i++) {
		if (!tf_pair_mirrors(&p->h[i].rec, c))
			continue;
		mate = p->h[i].rec;
		drop_at(p, i);
		send_pair(p, &mate, c);
		return;
	}
	if (p->n == TF_PAIR_CAP) {	/* full: the oldest goes alone */
		mate = p->h[0].rec;
		drop_at(p, 0);
		p->ops.single(p->ops.ctx, &mate);
	}
	p->h[p->n++] = (struct held){ .rec = *c, .since_ns = now_ns };
}

void tf_pair_expire(struct tf_pair *p, uint64_t now_ns)
{
	struct tf_conn c;

	while (p->n && (now_ns == UINT64_MAX || now_ns - p->h[0].since_ns >= p->window_ns)) {
		c = p->h[0].rec;
		drop_at(p, 0);
		p->ops.single(p->ops.ctx, &c);
	}
}
