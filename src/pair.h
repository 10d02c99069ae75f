/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pairing the two sockets of one connection when both ends live on this
 * host (loopback, same network namespace): a record whose mirror (local and
 * remote swapped, same netns, overlapping lifetime) may still come is held
 * up to a window; the pair, or the lone record, goes out through the ops.
 * Pure C, no I/O. Records arrive at their CLOSE, in any order.
 */
#ifndef TF_PAIR_H
#define TF_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include "tcpflow.h"

#define TF_PAIR_CAP 256		/* records held at once; the oldest leaves alone when full */

struct tf_pair_ops {
	void (*single)(void *ctx, const struct tf_conn *c);
	/* a: the connecting side (or the one that started first), b: the other */
	void (*pair)(void *ctx, const struct tf_conn *a, const struct tf_conn *b);
	void *ctx;
};

struct tf_pair;

struct tf_pair *tf_pair_new(uint64_t window_ns, const struct tf_pair_ops *ops);
void tf_pair_free(struct tf_pair *p);

/* A finished record at now_ns: paired, held, or sent alone at once. */
void tf_pair_offer(struct tf_pair *p, const struct tf_conn *c, uint64_t now_ns);
/* Send alone every record held longer than the window (UINT64_MAX: all). */
void tf_pair_expire(struct tf_pair *p, uint64_t now_ns);

/* Could the peer be a socket on this host (loopback, or our own address)? */
bool tf_pair_maybe_local(const struct tf_conn *c);
/* Are a and b the two ends of one connection? */
bool tf_pair_mirrors(const struct tf_conn *a, const struct tf_conn *b);

#endif /* TF_PAIR_H */
