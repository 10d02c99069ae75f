/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which connections the page draws: the slowest handshakes, every
 * connection with retransmissions, every half-closed one left open or
 * reported stuck; one diagram per connection (both sockets when paired),
 * client lane left, server lane right.
 */
#ifndef TF_RP_DIAGRAMS_H
#define TF_RP_DIAGRAMS_H

#include <stdio.h>
#include "model.h"

/* Why a connection is drawn (tf_rp_diagram.reasons). */
#define TF_RP_SLOW	1	/* among the slowest handshakes */
#define TF_RP_RETRANS	2	/* has retransmissions */
#define TF_RP_OPEN	4	/* open at exit, half-closed */
#define TF_RP_STUCK	8	/* reported stuck while tracing */

struct tf_rp_diagram {
	int left, right;	/* conn indices (client lane, server lane); -1: inferred */
	unsigned reasons;
	int slow_rank;		/* 1-based, 0 when not among the slowest */
};

struct tf_rp_selection {
	struct tf_rp_diagram *v;
	int n, max;
	int *of;		/* per conn: diagram index + 1, 0 none, -1 not drawn (cap) */
	uint64_t not_drawn;
};

/* The top slowest handshakes, then the rest, at most max diagrams. -1: out of memory
 * (free *s all the same). */
int tf_rp_select(const struct tf_rp_data *d, int top, int max, struct tf_rp_selection *s);
void tf_rp_selection_free(struct tf_rp_selection *s);

/*
 * The diagram of conn i (with its peer when paired), as the page draws it.
 * Only the unit tests call it: one diagram alone, with the lanes the page
 * gives it, is how they check the ladders against the .svg golden files.
 */
void tf_rp_ladder_of(FILE *o, const struct tf_rp_data *d, int i, int id);

#endif /* TF_RP_DIAGRAMS_H */
