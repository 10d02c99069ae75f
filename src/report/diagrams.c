// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Which connections get a ladder diagram, with which lanes. See diagrams.h. */
#include <stdlib.h>
#include <string.h>
#include "diagrams.h"
#include "svg.h"

/* The lanes of conn i's diagram: the client on the left, the server on the right. */
static void lanes_of(const struct tf_rp_data *d, int i, int *left, int *right)
{
	const struct tf_rp_conn *c = &d->conns[i];

	if (c->peer >= 0) {
		const struct tf_rp_conn *p = &d->conns[c->peer];
		bool c_left;

		if (c->role != p->role && (c->role == TF_ROLE_CLIENT || p->role == TF_ROLE_SERVER))
			c_left = true;
		else if (c->role != p->role)
			c_left = false;
		else
			c_left = c->start_us < p->start_us || (c->start_us == p->start_us && i < c->peer);
		*left = c_left ? i : c->peer;
		*right = c_left ? c->peer : i;
	} else if (c->role == TF_ROLE_SERVER) {
		*left = -1;
		*right = i;
	} else {
		*left = i;
		*right = -1;
	}
}

void tf_rp_ladder_of(FILE *o, const struct tf_rp_data *d, int i, int id)
{
	int l, r;

	if (i < 0 || (size_t)i >= d->nconns)
		return;
	lanes_of(d, i, &l, &r);
	tf_svg_ladder(o, d, l >= 0 ? &d->conns[l] : NULL, r >= 0 ? &d->conns[r] : NULL, id);
}

static void add_diagram(struct tf_rp_selection *s, const struct tf_rp_data *d, int i, unsigned why,
			int rank)
{
	struct tf_rp_diagram *g;
	int l, r;

	if (s->of[i] < 0)
		return;
	if (s->of[i] > 0) {
		g = &s->v[s->of[i] - 1];
		g->reasons |= why;
		if (rank && !g->slow_rank)
			g->slow_rank = rank;
		return;
	}
	lanes_of(d, i, &l, &r);
	if (s->n >= s->max) {
		s->of[i] = -1;
		if (d->conns[i].peer >= 0)
			s->of[d->conns[i].peer] = -1;
		s->not_drawn++;
		return;
	}
	s->v[s->n] = (struct tf_rp_diagram){ .left = l, .right = r, .reasons = why, .slow_rank = rank };
	s->n++;
	s->of[i] = s->n;
	if (d->conns[i].peer >= 0)
		s->of[d->conns[i].peer] = s->n;
}

struct hs_rank {
	int64_t us;
	int idx;
};

static int cmp_hs(const void *a, const void *b)
{
	const struct hs_rank *x = a, *y = b;

	if (x->us != y->us)
		return x->us < y->us ? 1 : -1;
	return x->idx - y->idx;
}

int tf_rp_select(const struct tf_rp_data *d, int top, int max, struct tf_rp_selection *s)
{
	struct hs_rank *hs = NULL;
	int nhs = 0, rank = 0;

	memset(s, 0, sizeof(*s));
	s->max = max;
	s->of = calloc(d->nconns + 1, sizeof(*s->of));
	s->v = calloc((size_t)(s->max > 0 ? s->max : 1), sizeof(*s->v));
	hs = calloc(d->nconns + 1, sizeof(*hs));
	if (!s->of || !s->v || !hs) {
		free(hs);
		return -1;
	}
	for (size_t i = 0; i < d->nconns; i++)
		if (d->conns[i].handshake_us != TF_RP_NONE && d->conns[i].handshake_us >= 0)
			hs[nhs++] = (struct hs_rank){ d->conns[i].handshake_us, (int)i };
	qsort(hs, (size_t)nhs, sizeof(*hs), cmp_hs);
	for (int k = 0; k < nhs && rank < top; k++) {
		int i = hs[k].idx;

		if (s->of[i] > 0 && (s->v[s->of[i] - 1].reasons & TF_RP_SLOW))
			continue;	/* the other socket of a connection already drawn */
		add_diagram(s, d, i, TF_RP_SLOW, ++rank);
	}
	free(hs);
	for (size_t i = 0; i < d->nconns; i++)
		if (tf_rp_has_retrans(&d->conns[i]))
			add_diagram(s, d, (int)i, TF_RP_RETRANS, 0);
	for (size_t i = 0; i < d->nconns; i++) {
		const struct tf_rp_conn *c = &d->conns[i];

		if (tf_rp_open_half_closed(d, c))
			add_diagram(s, d, (int)i, TF_RP_OPEN, 0);
		if (c->stuck_state)
			add_diagram(s, d, (int)i, TF_RP_STUCK, 0);
	}
	return 0;
}

void tf_rp_selection_free(struct tf_rp_selection *s)
{
	free(s->of);
	free(s->v);
	s->of = NULL;
	s->v = NULL;
}
