/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TIME-WAIT bookkeeping, pure C (no BPF, no I/O): the set of timewait
 * 4-tuples between sweeps, their hand-over from the connection that
 * entered TIME-WAIT, and how each one ended. Driven by timewait.c with
 * iterator records and connection records; unit-tested with synthetic ones.
 *
 * Evidence and inference, per end reason:
 *   expired     gone, and its timer (tw_timer.expires) had run out; dated
 *               from the timer when seen alive within TF_TWT_TRUST_NS
 *               before it, else from that last sighting (a reset in
 *               between looks the same)
 *   reused      a new connection started on the same 4-tuple and netns
 *               after the hand-over (its first state change: the connect()
 *               that killed the timewait socket, or the accepted child)
 *   netns_gone  gone early and its network namespace no longer exists
 *   reset       gone early, no new connection, namespace alive: the only
 *               other way the kernel kills a timewait socket is an in-window
 *               RST (tcp_rfc1337=0). Inferred: no event fires for it.
 *   unknown     gone early while the evidence may be incomplete (events
 *               lost, --pid hiding the reusing connection)
 *   not_swept   no end: its namespace could not be looked into (no way in,
 *               no privileges) until well past its timer; end_ns is 0
 * An early end waits one more sweep for evidence before it is called.
 *
 * Namespaces: a sweep's walk covers one namespace, the home one (params
 * home_netns; 0: the walk covers every entry). A TIME-WAIT handed over in
 * another namespace is followed by exact lookups (tf_twt_due, then
 * tf_twt_checked per tuple), or ended as a whole with its namespace
 * (tf_twt_netns_gone). An entry neither walked nor looked up in a sweep is
 * not judged by it: absence of evidence is not an end.
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

#define TF_TWT_FAIL_LIMIT 3		/* failed lookups in a row before not_swept may be said */
#define TF_TWT_TRUST_NS 2000000000ull	/* seen this close before its timer: it lasted to it */
#define TF_TWT_GRACE_NS 5000000000ll	/* past its timer (and the wheel's ~2 s) before that */

struct tf_twt;

/* A timewait socket's 4-tuple in its network namespace (IPv4 in the first 4 bytes). */
struct tf_twt_key {
	uint32_t netns;
	uint16_t sport, dport;
	uint8_t family, _pad[3];
	uint8_t saddr[16], daddr[16];
};

struct tf_twt_params {
	uint32_t cap;		/* max 4-tuples followed (0: TF_TWT_DEFAULT_CAP) */
	uint32_t hz;		/* kernel HZ, to turn jiffies into time */
	bool owners_filtered;	/* --pid: a reusing connection may be filtered out, and only
				 * TIME-WAITs handed over by traced connections are reported */
	uint32_t home_netns;	/* the namespace the walks cover; 0: every entry's */
	bool census_all;	/* census of every namespace's entries, grouped by namespace
				 * too (--netns all), instead of the home walk's records */
};

/* Driver callbacks. */
struct tf_twt_ops {
	void (*end)(void *ctx, const struct tf_tw_end *end);
	bool (*netns_alive)(void *ctx, uint32_t netns);
	void *ctx;
};

struct tf_twt *tf_twt_new(const struct tf_twt_params *p, const struct tf_twt_ops *ops);
void tf_twt_free(struct tf_twt *t);

/*
 * A connection: finished (from the ring buffer, with its summary) or live
 * (from the kernel table, s == NULL). Its start may end a TIME-WAIT on the
 * same tuple (reuse); a finished one that handed over begins one.
 */
void tf_twt_conn(struct tf_twt *t, const struct tf_conn *c, const struct tf_summary *s);

/*
 * One sweep: begin (t_ns: CLOCK_MONOTONIC before the walk), the walk's
 * records, walked (CLOCK_MONOTONIC after it; not called when the walk
 * failed: then the home namespace is not judged), the lookups in other
 * namespaces, then any live connections (tf_twt_conn), then end.
 */
void tf_twt_begin(struct tf_twt *t, uint64_t t_ns);
void tf_twt_record(struct tf_twt *t, const struct tf_sweep_rec *r);
void tf_twt_walked(struct tf_twt *t, uint64_t t_after);

/*
 * Up to max entries outside the home namespace to look up in this sweep:
 * first those whose timer has run out (to see the end), then the others in
 * turn (to see an early one). Returns how many were written to out; each
 * must be answered in this sweep (tf_twt_checked or tf_twt_unchecked).
 */
size_t tf_twt_due(struct tf_twt *t, uint64_t now_ns, struct tf_twt_key *out, size_t max);

/*
 * The answer of one lookup made between t0 and t1: r, as a walk would have
 * given it (TF_SWR_TW), or NULL when no timewait socket holds the tuple.
 * Returns true when it went before its timer (its verdict waits a sweep).
 */
bool tf_twt_checked(struct tf_twt *t, const struct tf_twt_key *k, const struct tf_sweep_rec *r,
		    uint64_t t0, uint64_t t1);
/*
 * The namespace's TCPTimeWaitOverflow rose (or could not be read): a
 * hand-over may have had no timewait socket at all, so what went early in
 * this sweep there ends "unknown", not "reset".
 */
void tf_twt_netns_suspect(struct tf_twt *t, uint32_t netns);
/* Its namespace could not be looked into this time. */
void tf_twt_unchecked(struct tf_twt *t, const struct tf_twt_key *k);
/* The namespace no longer exists (found gone at t_ns): its entries all went with it. */
void tf_twt_netns_gone(struct tf_twt *t, uint32_t netns, uint64_t t_ns);
/*
 * Decide the ends, fill the census part of *snap (total, substate, groups,
 * ended, untracked). evidence_ok: no events were lost (and no timewait
 * socket was skipped for tcp_max_tw_buckets) since the previous sweep.
 */
void tf_twt_end(struct tf_twt *t, bool evidence_ok, struct tf_tw_snapshot *snap);

/* 4-tuples followed now. */
uint64_t tf_twt_tracked(const struct tf_twt *t);

/*
 * TIME-WAITs that went early and wait for evidence: the live connection
 * table holds it when a new connection on the tuple is still open.
 */
uint32_t tf_twt_pending(const struct tf_twt *t);

#endif /* TF_TWTRACK_H */
