/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Metrics aggregated in the kernel (--metrics and/or --hist with no view
 * that needs records): a finished connection is folded into per-CPU
 * aggregates (include/tf_kmetrics.h) instead of crossing the ring buffer;
 * user space sums them over CPUs when it shows them. Only records user
 * space needs itself still cross (tf_km_needs_record: a reset may follow,
 * a TIME-WAIT hand-over, possibly stuck). Include after the maps' headers.
 */
#ifndef TF_BPF_KMETRICS_H
#define TF_BPF_KMETRICS_H

#include "tf_kmetrics.h"

const volatile bool km_tw = false;		/* the TIME-WAIT tracker runs in user space */
const volatile __u64 km_stuck_ns = 0;		/* --stuck */
const volatile bool km_learn = false;		/* no --port: learn listening ports */

/*
 * The port label's slots: port -> slot. With --port user space fills it
 * before attaching (the --port order); without, the first TF_KM_LEARN
 * local ports of server connections take a slot each, in the order they
 * finish. km_slot_port[slot] names a learned slot for user space (0: none
 * yet); km_nlearned counts them.
 */
__u32 km_nlearned = 0;
__u16 km_slot_port[TF_KM_SLOTS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_KM_PORTS);
	__type(key, __u16);
	__type(value, __u32);
} km_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TF_KM_ENTRIES);
	__type(key, __u32);
	__type(value, union tf_km_entry);
} kmetrics SEC(".maps");

static __always_inline __u32 km_find_port(__u16 port)
{
	__u32 *slot = port ? bpf_map_lookup_elem(&km_ports, &port) : NULL;

	return slot ? *slot : TF_KM_OTHER;
}

/*
 * 4-tuples (hashed) that handed over to TIME-WAIT in this run: a connection
 * that ends on one of them may have begun by reusing that TIME-WAIT
 * (tcp_tw_reuse, or a SYN the timewait socket accepted), which the tracker
 * reports as its end: such a record is sent, not folded. A collision or a
 * stale entry only sends a record more; LRU, as big as the tracker's cap.
 * Full under churn, every hand-over evicts: per-CPU LRU lists
 * (BPF_F_NO_COMMON_LRU) evict without the common list's lock; lookups
 * still see every CPU's entries.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 131072);	/* TF_TWT_DEFAULT_CAP */
	__type(key, __u64);
	__type(value, __u8);
} km_tw_tuples SEC(".maps");

/*
 * The fold's working records: per CPU, not on km_fold_conn's stack. The
 * verifier allows 512 bytes (MAX_BPF_STACK) for a whole call chain, global
 * functions included, each frame rounded up to 32 bytes before Linux 6.9
 * (682158ab532a "bpf: Fix test verif_scale_strobemeta_subprogs failure due
 * to llvm19" rounds to 16 with the JIT): on_state_km, km_fold_conn holding
 * these and km_apply_main came to 544 there, refused ("combined stack size
 * of 3 calls is 544. Too large", EACCES: Debian 12's 6.1).
 * busy: before 05b24ff9b2cf ("bpf: Prevent bpf program recursion for raw
 * tracepoint probes", 6.1) an interrupt could run the program again on
 * this CPU mid-fold; such a nested run sends its record instead.
 */
struct km_work {
	struct tf_vscan x;
	struct tf_verdict v;
	struct tf_km_delta d;
	__u64 busy;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct km_work);
} km_work SEC(".maps");

/* Learned slots, slot -> port: who took each (inserted BPF_NOEXIST, so one CPU wins). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_KM_LEARN);
	__type(key, __u32);
	__type(value, __u16);
} km_slot_owner SEC(".maps");

/*
 * The first free learned slot, now ours; TF_KM_OTHER when all are taken.
 * Helpers get copies (key here, val in km_learn_port): Linux 6.1's verifier
 * (Debian 12) forgot a stack variable's value once its address went to a
 * helper, and then refused this loop ("infinite loop detected") and the
 * slot index after the update ("unbounded memory access"); 6.12 accepts
 * either form (the change in between not pinned to a commit).
 */
static __always_inline __u32 km_claim_slot(__u16 port)
{
	for (__u32 s = 0; s < TF_KM_LEARN; s++) {
		__u32 key = s;

		if (!bpf_map_update_elem(&km_slot_owner, &key, &port, BPF_NOEXIST))
			return s;
	}
	return TF_KM_OTHER;
}

/*
 * A server's local port is a listening port: it takes the first free slot
 * while there is room (what it costs, up to TF_KM_LEARN failed inserts, is
 * paid once per port). Slots are claimed, then the port is inserted: a CPU
 * that lost the race for the same port gives its slot back and takes the
 * winner's. No atomic returns a value here: those need Linux 5.12 and
 * clang -mcpu=v3.
 */
static __always_inline __u32 km_learn_port(__u16 port)
{
	__u32 *found, slot, val;

	if (!port)
		return TF_KM_OTHER;
	found = bpf_map_lookup_elem(&km_ports, &port);
	if (found)
		return *found;
	if (!km_learn || km_nlearned >= TF_KM_LEARN)
		return TF_KM_OTHER;
	slot = km_claim_slot(port);
	if (slot >= TF_KM_LEARN)
		return TF_KM_OTHER;
	km_slot_port[slot] = port;	/* named before any value can land in it */
	val = slot;
	if (!bpf_map_update_elem(&km_ports, &port, &val, BPF_NOEXIST)) {
		__sync_fetch_and_add(&km_nlearned, 1);
		return slot;
	}
	km_slot_port[slot] = 0;		/* before the slot is free for another port */
	val = slot;
	bpf_map_delete_elem(&km_slot_owner, &val);
	return km_find_port(port);
}

/* Slot of the service port (tf_km_service_ports, as src/metrics.c picks it). */
static __always_inline __u32 km_port_slot(const struct tf_conn *c)
{
	__u16 first, second;
	__u32 slot;

	slot = tf_km_service_ports(c, &first, &second) ? km_learn_port(first) : km_find_port(first);
	return slot == TF_KM_OTHER && second ? km_find_port(second) : slot;
}

/*
 * The fold's heavy parts are global functions: the verifier checks each
 * once, on its own, instead of every path through them at every call (the
 * loops over the states, inlined, took it past its 1M-instruction budget).
 * Their pointers may be NULL as far as it knows.
 */
__noinline int km_scan(const struct tf_conn *c, struct tf_vscan *x)
{
	if (!c || !x)
		return 0;
	tf_verdict_scan(c, x);
	return 1;
}

__noinline int km_finish(const struct tf_conn *c, const struct tf_vscan *x, struct tf_verdict *v)
{
	if (!c || !x || !v)
		return 0;
	tf_verdict_finish(c, x, v);
	return 1;
}

/* tf_verdict(), its two halves checked apart */
static __always_inline int km_verdict(const struct tf_conn *c, struct tf_vscan *x,
				      struct tf_verdict *v)
{
	return km_scan(c, x) && km_finish(c, x, v);
}

__noinline int km_route(const struct tf_conn *c, const struct tf_verdict *v)
{
	if (!c || !v)
		return TF_KM_RECORD;
	return tf_km_route(c, v, km_tw, km_stuck_ns);
}

__noinline int km_apply_states(struct tf_km_main *m, const struct tf_conn *c,
			       const struct tf_verdict *v)
{
	if (!m || !c || !v)
		return 0;
	tf_km_apply_states(m, c, v);
	return 1;
}

__noinline int km_apply_main(struct tf_km_main *m, const struct tf_conn *c,
			     const struct tf_verdict *v, struct tf_km_delta *d, __u64 slot)
{
	if (!m || !c || !v || !d)
		return 0;
	tf_km_delta(c, v, d);
	tf_km_apply_main(m, d, slot);
	return 1;
}

__noinline int km_apply_hs(struct tf_km_hs *hs, const struct tf_km_delta *d, __u64 slot)
{
	if (!hs || !d)
		return 0;
	tf_km_apply_hs(hs, d, slot);
	return 1;
}

/*
 * Fold a finished connection into this CPU's aggregates. Returns 0 when
 * user space needs the record, else KM_FOLDED, | KM_GAP when the record
 * shows a change TCP cannot make (missed transitions, a run stat),
 * | KM_HANDOVER when its TIME-WAIT hand-over must be sent (the caller does:
 * it holds the ring buffer).
 */
#define KM_FOLDED 1
#define KM_GAP 2
#define KM_HANDOVER 4

static __always_inline int km_fold_work(const struct tf_conn *c, struct km_work *w)
{
	__u32 id = TF_KM_MAIN, slot;
	union tf_km_entry *main, *hs;
	int route;
	__u64 tuple;
	__u8 one = 1;

	/* first: a server sent to user space teaches the kernel its port too */
	slot = km_port_slot(c);
	if (!km_verdict(c, &w->x, &w->v))
		return 0;
	route = km_route(c, &w->v);
	tuple = km_tw ? tf_km_tuple_hash(c) : 0;
	if (km_tw && bpf_map_lookup_elem(&km_tw_tuples, &tuple)) {
		/* maybe a reuse of that TIME-WAIT: the tracker needs the whole record */
		bpf_map_delete_elem(&km_tw_tuples, &tuple);
		route = TF_KM_RECORD;
	}
	if (km_tw && w->v.time_wait)
		bpf_map_update_elem(&km_tw_tuples, &tuple, &one, BPF_ANY);
	if (route == TF_KM_RECORD)
		return 0;
	main = bpf_map_lookup_elem(&kmetrics, &id);
	if (!main)
		return 0;
	km_apply_main(&main->main, c, &w->v, &w->d, slot);
	km_apply_states(&main->main, c, &w->v);
	if (w->d.handshake_ns >= 0 && (w->d.role == TF_ROLE_CLIENT || w->d.role == TF_ROLE_SERVER)) {
		id = w->d.role == TF_ROLE_CLIENT ? TF_KM_HS_CLIENT : TF_KM_HS_SERVER;
		hs = bpf_map_lookup_elem(&kmetrics, &id);
		if (hs)
			km_apply_hs(&hs->hs, &w->d, slot);
	}
	return KM_FOLDED | (w->v.gap ? KM_GAP : 0) |
	       (route == TF_KM_FOLD_HANDOVER ? KM_HANDOVER : 0);
}

static __noinline int km_fold_conn(const struct tf_conn *c)
{
	__u32 zero = 0;
	struct km_work *w = bpf_map_lookup_elem(&km_work, &zero);
	int folded;

	/* a run nested in ours on this CPU (an interrupt) sends its record instead */
	if (!c || !w || w->busy)
		return 0;
	w->busy = 1;
	folded = km_fold_work(c, w);
	w->busy = 0;
	return folded;
}

#endif /* TF_BPF_KMETRICS_H */
