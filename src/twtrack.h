/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TIME-WAIT bookkeeping, pure C (no BPF, no I/O): the set of timewait
 * 4-tuples between sweeps, their hand-over from the connection that
 * entered TIME-WAIT, and how each one ended. Driven by timewait.c with
 * iterator records and connection records; unit-tested with synthetic ones.
 *
 * Evidence and inference, per end reason:
 *   expired     gone, and its timer (tw_timer.expires) had run out
 *   reused      a new connection started on the same 4-tuple and netns
 *               after the hand-over (its first state change: the connect()
 *               that killed the timewait socket, or the accepted child)
 *   netns_gone  gone early and its network namespace no longer exists
 *   reset       gone early, no new connection, namespace alive: the only
 *               other way the kernel kills a timewait socket is an in-window
 *               RST (tcp_rfc1337=0). Inferred: no event fires for it.
 *   unknown     gone early while the evidence may be incomplete (events
 *               lost, --pid hiding the reusing connection)
 * An early end waits one more sweep for evidence before it is called.
 */
#ifndef TF_TWTRACK_H
#define TF_TWTRACK_H

#include <stdbool.h>
#include <stdint.h>
#include "closeside.h"
#include "conn.h"
#include "tf_timewait.h"

#define TF_TWT_DEFAULT_CAP 131072	/* 4-tuples followed one by one */
#define TF_TW_LEN_NS 60000000000ll	/* TCP_TIMEWAIT_LEN */

struct tf_twt;

struct tf_twt_params {
	uint32_t cap;		/* max 4-tuples followed (0: TF_TWT_DEFAULT_CAP) */
	uint32_t hz;		/* kernel HZ, to turn jiffies into time */
	bool owners_filtered;	/* --pid: a reusing connection may be filtered out, and only
				 * TIME-WAITs handed over by traced connections are reported */
};

/* Driver callbacks. */
struct tf_twt_ops {
	void (*end)(void *ctx, const struct tf_tw_end *end);
	bool (*netns_alive)(void *ctx, uint32_t netns);
	void *ctx;
};

struct tf_twt *tf_twt_new(const struct tf_twt_params *p, const struct tf_twt_ops *ops);
void tf_twt_free(struct tf_twt *t);
void tf_twt_set_hz(struct tf_twt *t, uint32_t hz);

/*
 * A connection: finished (from the ring buffer, with its summary) or live
 * (from the kernel table, s == NULL). Its start may end a TIME-WAIT on the
 * same tuple (reuse); a finished one that handed over begins one.
 */
void tf_twt_conn(struct tf_twt *t, const struct tf_conn *c, const struct tf_summary *s);

/*
 * One sweep: begin (t_ns: CLOCK_MONOTONIC before the walk), the walk's
 * records, walked (CLOCK_MONOTONIC after it), then any live connections
 * (tf_twt_conn), then end.
 */
void tf_twt_begin(struct tf_twt *t, uint64_t t_ns);
void tf_twt_record(struct tf_twt *t, const struct tf_sweep_rec *r);
void tf_twt_walked(struct tf_twt *t, uint64_t t_after);
/*
 * Decide the ends, fill the census part of *snap (total, substate, groups,
 * ended, untracked). evidence_ok: no events were lost (and no timewait
 * socket was skipped for tcp_max_tw_buckets) since the previous sweep.
 */
void tf_twt_end(struct tf_twt *t, bool evidence_ok, struct tf_tw_snapshot *snap);

/* 4-tuples followed now, and TIME-WAIT sockets seen that did not fit. */
uint64_t tf_twt_tracked(const struct tf_twt *t);
uint64_t tf_twt_untracked(const struct tf_twt *t);

/*
 * TIME-WAITs that went early and wait for evidence: the live connection
 * table holds it when a new connection on the tuple is still open.
 */
uint32_t tf_twt_pending(const struct tf_twt *t);

const char *tf_tw_end_name(int reason);

#endif /* TF_TWTRACK_H */
