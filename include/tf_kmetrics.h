/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics of one finished connection, decided once, and the kernel's
 * per-CPU aggregates they are folded into when no view needs records
 * (--metrics and/or --hist alone: docs/METRICS.md, "Where the numbers are
 * counted").
 *
 * tf_km_delta() says what a connection adds to which metric (from its
 * verdict, tf_summary.h); src/metrics.c adds it to the registry, the BPF
 * fold (bpf/kmetrics.h) to the aggregates below with tf_km_apply_*(). The
 * unit tests run both on the same records and compare every value.
 *
 * Compiled by clang -target bpf and by the host compiler, like tf_fold.h.
 */
#ifndef TF_KMETRICS_H
#define TF_KMETRICS_H

#include "tcpflow.h"
#include "tf_buckets.h"
#include "tf_summary.h"

#define TF_KM_PORTS 64			/* port label values from --port (src/metrics.h) */
#define TF_KM_LEARN 16			/* listening ports learned without --port */
#define TF_KM_SLOTS (TF_KM_PORTS + 1)	/* the ports, then "other" */
#define TF_KM_OTHER TF_KM_PORTS
#define TF_KM_MSTATES 8			/* states with a time-in-state histogram */
#define TF_KM_SIDES 3			/* close sides: active, passive, simultaneous */
/*
 * Array sizes of the aggregates where the BPF fold indexes with a mask (a
 * bounds check on a copy of the index does not convince the verifier): the
 * entries past the real counts stay 0.
 */
#define TF_KM_ROLES 4			/* TF_ROLE_MAX, rounded up */
#define TF_KM_SIDES_N 4			/* TF_KM_SIDES, rounded up */
#define TF_KM_KINDS 16			/* TF_CK_MAX, rounded up */

/* A duration histogram on tf_buckets.h's buckets (struct tf_hist's layout). */
struct tf_khist {
	__u64 bucket[TF_BUCKETS + 1];
	__u64 count;
	__u64 sum_ns;
};

/* Handshake durations of one role, by port slot. */
struct tf_km_hs {
	struct tf_khist h[TF_KM_SLOTS];
};

/* Everything else a connection adds. */
struct tf_km_main {
	struct tf_khist close[TF_KM_SIDES_N];
	struct tf_khist lifetime[2];			/* client, server */
	struct tf_khist state_time[TF_KM_MSTATES];
	struct tf_khist rtt[TF_KM_ROLES];
	__u64 conns[TF_KM_ROLES][TF_KM_SLOTS];
	__u64 closes[TF_KM_ROLES][TF_KM_KINDS];
	__u64 bytes[2][TF_KM_ROLES];			/* [sent (acked), received][role] */
	__u64 syn_retrans, synack_retrans, retrans;
	__u64 fin_retrans[4];				/* enum tf_fin_slot */
	__u64 resets[2];				/* sent, received */
	__u64 tw_handovers[TF_KM_ROLES];
	__u64 refused;
};

/*
 * Entries of the per-CPU array `kmetrics`: per-CPU values are limited to
 * 32 KiB (PCPU_MIN_UNIT_SIZE, kernel/bpf/arraymap.c), and both handshake
 * tables with the rest would not fit one.
 */
enum tf_km_entry_id {
	TF_KM_HS_CLIENT = 0,
	TF_KM_HS_SERVER,
	TF_KM_MAIN,
	TF_KM_ENTRIES,
};

union tf_km_entry {
	struct tf_km_hs hs;
	struct tf_km_main main;
};

/* What one connection adds. */
struct tf_km_delta {
	__s64 handshake_ns;	/* -1: none; else into handshake[role - 1][port slot] */
	__s64 close_ns;		/* -1: none; else into close[close_side] */
	__s64 lifetime_ns;	/* -1: none; else into lifetime[role - 1] (client or server) */
	__s64 rtt_ns;		/* -1: none; else into rtt[role] */
	__u64 bytes[2];		/* sent (acked), received */
	__u32 syn_retrans, synack_retrans, retrans;
	__u8 fin_retrans[4];
	__u8 role;		/* enum tf_role, TF_ROLE_UNKNOWN for anything else */
	__u8 close_kind;	/* closes[role][close_kind] */
	__u8 close_side;	/* valid with close_ns >= 0 (< TF_KM_SIDES) */
	__u8 tw_handover, refused, rst_sent, rst_recv;
	__u8 _pad;
};

/*
 * Index into state_time[], or -1: the order of src/metrics.c's exposition
 * (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT,
 * LAST_ACK, CLOSING). One nibble per TCP state, 0xf for none: a switch
 * here made every case one more path for the verifier, in every iteration
 * of the fold's loops.
 */
#define TF_KM_MSTATE_NIBBLES 0xffff7f65ff43102full

TF_INLINE int tf_km_mstate(int state)
{
	int k;

	if (state < 0 || state > 15)
		return -1;
	k = (int)((TF_KM_MSTATE_NIBBLES >> (state * 4)) & 0xf);
	return k == 0xf ? -1 : k;
}

TF_INLINE void tf_km_delta(const struct tf_conn *c, const struct tf_verdict *v,
			   struct tf_km_delta *d)
{
	int served = v->role == TF_ROLE_CLIENT || v->role == TF_ROLE_SERVER;

	__builtin_memset(d, 0, sizeof(*d));
	d->role = served ? v->role : TF_ROLE_UNKNOWN;
	d->handshake_ns = served ? v->handshake_ns : -1;
	d->close_ns = -1;
	if (v->close_kind == TF_CK_ACTIVE || v->close_kind == TF_CK_PASSIVE ||
	    v->close_kind == TF_CK_SIMULTANEOUS) {
		d->close_side = v->close_kind - TF_CK_ACTIVE;
		d->close_ns = v->close_ns;
	}
	d->lifetime_ns = v->complete && served ? v->lifetime_ns : -1;
	/* What it carried, when read at CLOSE. A connection without an RTT sample has none. */
	d->rtt_ns = -1;
	if (c->flags & TF_F_TRAFFIC) {
		d->bytes[0] = c->bytes_acked;
		d->bytes[1] = c->bytes_received;
		if (c->rtt_us)
			d->rtt_ns = (__s64)c->rtt_us * 1000;
	}
	d->close_kind = v->close_kind < TF_CK_MAX ? v->close_kind : TF_CK_OPEN;
	d->syn_retrans = c->syn_retrans;
	d->synack_retrans = c->synack_retrans;
	d->retrans = c->retrans;
	for (int i = 0; i < 4; i++)
		d->fin_retrans[i] = c->fin_retrans_by_state[i];
	d->rst_sent = !!(c->flags & TF_F_RST_SENT);
	d->rst_recv = !!(c->flags & TF_F_RST_RECV);
	d->tw_handover = v->time_wait;
	d->refused = v->close_kind == TF_CK_REFUSED;
}

/*
 * The service port that names a connection's port slot: a server's local
 * port (a listening port: it may take a free slot, returns 1), a client's
 * remote port; a connection of unknown role tries its local port, then its
 * remote one (*second, else 0).
 */
TF_INLINE int tf_km_service_ports(const struct tf_conn *c, __u16 *first, __u16 *second)
{
	*second = 0;
	if (c->role == TF_ROLE_SERVER) {
		*first = c->sport;
		return 1;
	}
	if (c->role == TF_ROLE_CLIENT) {
		*first = c->dport;
		return 0;
	}
	*first = c->sport;
	*second = c->dport;
	return 0;
}

/* A 64-bit hash of the connection's 4-tuple and namespace (equal tuples, equal hashes). */
TF_INLINE __u64 tf_km_tuple_hash(const struct tf_conn *c)
{
	const __u32 *s = (const __u32 *)c->saddr, *d = (const __u32 *)c->daddr;
	__u64 h = ((__u64)c->netns << 32 | (__u64)c->sport << 16 | c->dport) * 0x9E3779B97F4A7C15ull;

	for (int i = 0; i < 4; i++) {
		h ^= ((__u64)s[i] << 32 | d[i]) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
		h *= 0x9E3779B97F4A7C15ull;
	}
	return h;
}

/*
 * Time in a state: point i of the timeline to point i + 1. Returns the
 * state_time[] index of point i's state (and *ns), or -1: none to count.
 */
TF_INLINE int tf_km_state_time(const struct tf_conn *c, const struct tf_verdict *v, int i,
			       __s64 *ns)
{
	int s0, s1, d;
	__u64 t0, t1;

	if (i + 1 >= tf_verdict_points(v))
		return -1;
	tf_verdict_point(c, v, i, &s0, &t0, &d);
	tf_verdict_point(c, v, i + 1, &s1, &t1, &d);
	*ns = (__s64)(t1 - t0);
	return tf_km_mstate(s0);
}

/* Where a finished connection goes when the kernel folds metrics (tf_km_route). */
enum tf_km_route_id {
	TF_KM_FOLD = 0,		/* folded, nothing sent */
	TF_KM_RECORD,		/* sent as a record, user space counts it */
	TF_KM_FOLD_HANDOVER,	/* folded, and its TIME-WAIT hand-over sent (struct tf_handover) */
};

/*
 * Must user space see this record itself, rather than the kernel fold it?
 * - a reset may still follow its CLOSE (tf_may_get_late_reset): user space
 *   holds the record for it, and the reset changes how it closed;
 * - with the TIME-WAIT tracker (tw): a connection that began before tracing
 *   or sat in CLOSE_WAIT or FIN_WAIT2 for stuck_ns or longer may have been
 *   reported stuck (the stuck gauge goes down when its record arrives);
 *   a hand-over begins a TIME-WAIT the tracker follows: for it a small
 *   struct tf_handover is enough.
 */
TF_INLINE int tf_km_route(const struct tf_conn *c, const struct tf_verdict *v, int tw,
			  __u64 stuck_ns)
{
	int np = tf_verdict_points(v);

	if (tf_may_get_late_reset(c))
		return TF_KM_RECORD;
	if (!tw)
		return TF_KM_FOLD;
	if (c->flags & TF_F_MIDLIFE)
		return TF_KM_RECORD;
	for (int i = 0; i < TF_MAX_STATES; i++) {
		int st, derived;
		__u64 t0, t1;

		if (i + 1 >= np)
			break;
		tf_verdict_point(c, v, i, &st, &t0, &derived);
		if (st != TF_FIN_WAIT2 && st != TF_CLOSE_WAIT)
			continue;
		tf_verdict_point(c, v, i + 1, &st, &t1, &derived);
		if (t1 >= t0 && t1 - t0 >= stuck_ns)
			return TF_KM_RECORD;
	}
	return v->time_wait ? TF_KM_FOLD_HANDOVER : TF_KM_FOLD;
}

/* The hand-over of a folded connection, for the TIME-WAIT tracker (h: zeroed or fresh). */
TF_INLINE void tf_km_handover(const struct tf_conn *c, struct tf_handover *h)
{
	int last = c->nstates ? c->nstates - 1 : 0;

	h->type = TF_REC_HANDOVER;
	h->flags = c->flags;
	h->family = c->family;
	h->role = c->role;
	h->first_state = c->state[0];
	h->_pad0 = 0;
	h->pid = c->pid;
	h->netns = c->netns;
	h->srtt_us = c->srtt_us;
	h->_pad1 = 0;
	__builtin_memcpy(h->comm, c->comm, sizeof(h->comm));
	__builtin_memcpy(h->saddr, c->saddr, sizeof(h->saddr));
	__builtin_memcpy(h->daddr, c->daddr, sizeof(h->daddr));
	h->sport = c->sport;
	h->dport = c->dport;
	h->_pad2 = 0;
	h->skaddr = c->skaddr;
	h->start_ns = c->state_ns[0];
	h->handover_ns = c->state_ns[TF_SM(last)];
}

/* Add one duration; negative ones (bad input) are not counted (tf_hist_add). */
TF_INLINE void tf_khist_add(struct tf_khist *h, __s64 ns)
{
	__u32 i;

	if (ns < 0)
		return;
	i = tf_bucket_index((__u64)ns);
	if (i > TF_BUCKETS)
		i = TF_BUCKETS;
	h->bucket[i]++;
	h->count++;
	h->sum_ns += (__u64)ns;
}

/* The handshake, into the role's table (TF_KM_HS_CLIENT + role - 1). */
TF_INLINE void tf_km_apply_hs(struct tf_km_hs *hs, const struct tf_km_delta *d, __u64 slot)
{
	if (d->handshake_ns >= 0 && slot < TF_KM_SLOTS)
		tf_khist_add(&hs->h[slot], d->handshake_ns);
}

TF_INLINE void tf_km_apply_main(struct tf_km_main *m, const struct tf_km_delta *d, __u64 slot)
{
	__u32 role = d->role & (TF_KM_ROLES - 1);

	if (slot < TF_KM_SLOTS)
		m->conns[role][slot]++;
	if (d->close_ns >= 0)
		tf_khist_add(&m->close[d->close_side & (TF_KM_SIDES_N - 1)], d->close_ns);
	if (d->lifetime_ns >= 0)
		tf_khist_add(&m->lifetime[(role - 1) & 1], d->lifetime_ns);
	if (d->rtt_ns >= 0)
		tf_khist_add(&m->rtt[role], d->rtt_ns);
	m->bytes[0][role] += d->bytes[0];
	m->bytes[1][role] += d->bytes[1];
	m->closes[role][d->close_kind & (TF_KM_KINDS - 1)]++;
	m->syn_retrans += d->syn_retrans;
	m->synack_retrans += d->synack_retrans;
	m->retrans += d->retrans;
	for (int i = 0; i < 4; i++)
		m->fin_retrans[i] += d->fin_retrans[i];
	m->resets[0] += d->rst_sent;
	m->resets[1] += d->rst_recv;
	m->tw_handovers[role] += d->tw_handover;
	m->refused += d->refused;
}

/* Time in each state along the timeline. */
TF_INLINE void tf_km_apply_states(struct tf_km_main *m, const struct tf_conn *c,
				  const struct tf_verdict *v)
{
	int np = tf_verdict_points(v);

	for (int i = 0; i < TF_MAX_STATES; i++) {
		__s64 ns = 0;
		int k;

		if (i + 1 >= np)
			break;
		k = tf_km_state_time(c, v, i, &ns);
		if (k >= 0)
			tf_khist_add(&m->state_time[k & (TF_KM_MSTATES - 1)], ns);
	}
}

#ifndef __bpf__
/* dst += src for any of the aggregates: __u64 words from end to end (user space). */
static inline void tf_km_add(void *dst, const void *src, unsigned long size)
{
	__u64 *d = dst;
	const __u64 *s = src;

	for (unsigned long i = 0; i < size / sizeof(__u64); i++)
		d[i] += s[i];
}
#endif

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct tf_km_main) % 8 == 0 && sizeof(struct tf_km_hs) % 8 == 0,
	       "the aggregates are __u64 words");
_Static_assert(sizeof(union tf_km_entry) <= 32768, "a per-CPU value is at most 32 KiB");
_Static_assert(sizeof(struct tf_khist) == (TF_BUCKETS + 3) * 8, "tf_khist has tf_hist's layout");
#endif

#endif /* TF_KMETRICS_H */
