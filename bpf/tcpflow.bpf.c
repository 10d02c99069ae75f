// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * State and retransmission tracking: folds the TCP tracepoints into one
 * struct tf_conn per connection (map `conns`, keyed by socket address) and
 * sends it through the ring buffer when the socket reaches CLOSE.
 *
 * BTF raw tracepoints (tp_btf) only: they need no tracefs and are guarded
 * against recursion per program, not by the global bpf_prog_active that
 * makes classic tracepoint programs silently skip events.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpflow.h"
#include "tf_fold.h"
#include "tf_bpf.h"
#include "kmetrics.h"


char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Program names differ in their first 15 characters (BPF_OBJ_NAME_LEN - 1,
 * what the kernel keeps): bpftool, the fault-injection shim and the loader's
 * notices tell them apart by those. Only on_set_state is required; every
 * other program is optional (src/loader.c probes it, src/kfeatures.c says
 * what is lost without it).
 */

/* Configuration, set by user space before load. */
const volatile __u32 filter_netns = 0;		/* 0: every namespace */
const volatile __u8 filter_family = 0;		/* 0: both */
const volatile __u32 n_pid_filters = 0;		/* entries in pid_filter */
const volatile bool emit_events = false;	/* --events: one record per change */
const volatile __u32 wakeup_every = 1024;	/* records per CPU between wake-ups */
/*
 * A --port filter port may be a client's ephemeral port (it lies in an
 * ip_local_port_range): clients are then decided at their second event,
 * once connect() has picked the port. Otherwise at the first.
 */
const volatile bool filter_ephemeral = true;
/* --cgroup: groups (cgroup v2 ids) and their depth below the root */
const volatile __u32 n_cgroup_filters = 0;
const volatile __u64 cgroup_filter_id[TF_MAX_CGROUPS] = {};
const volatile __u32 cgroup_filter_level[TF_MAX_CGROUPS] = {};

/* Set once a server child had to wait for its tuple (see filtered_out). */
bool pending_server_seen = false;

/*
 * SYN-ACK retransmissions ever parked in `synacks` minus those a child took:
 * never below the entries in the map (counted before the insert; entries the
 * LRU evicts or no child claims stay counted). While it is 0, a new server
 * child skips building the 44-byte key and its lookup (server_child_start).
 */
__u64 synacks_parked = 0;

/*
 * Set by user space once on_retrans_skb is attached: only then are the
 * retransmissions the kernel counted comparable with ours (read_traffic).
 */
bool retrans_attached = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* resized by user space (--ringbuf-size) */
} rb SEC(".maps");

/*
 * LRU: when --max-conns is reached, the connection idle the longest is
 * evicted (counted in user space, see TF_STAT_CREATED) rather than new
 * connections going untraced.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);	/* resized by user space (--max-conns) */
	__type(key, __u64);
	__type(value, struct tf_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tf_listen_key);
	__type(value, struct tf_owner);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct tf_tuple);
	__type(value, struct tf_synack);
} synacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Records written on this CPU since it last woke user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} rb_since_wakeup SEC(".maps");

static const struct tf_conn zero_conn;

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
}

/*
 * Batch wake-ups: one per wakeup_every records per CPU, and user space also
 * drains on its poll timeout. Counted per CPU rather than asking the ring
 * for its backlog (bpf_ringbuf_query): that reads the consumer position user
 * space writes, a cache line bouncing between CPUs on every record.
 */
static __always_inline __u64 rb_flags(void)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&rb_since_wakeup, &zero);

	if (!n || ++*n < wakeup_every)
		return BPF_RB_NO_WAKEUP;
	*n = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * Hot-path reads. The tp_btf arguments are BTF-typed pointers: their fields
 * are loaded directly (BPF_PROBE_MEM loads, still CO-RE relocated through
 * vmlinux.h's preserve_access_index) instead of one bpf_probe_read_kernel()
 * call each as BPF_CORE_READ does. Measured here: on_set_state 560 -> 380 ns
 * per run under churn. Fields of the containing inet_sock/tcp_sock are
 * reached through bpf_skc_to_tcp_sock(), which returns a BTF-typed tcp_sock
 * (a few instructions; a bpf_probe_read_kernel() costs ~100 ns here).
 * BPF_CORE_READ stays for request sockets and off the hot path.
 */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

/* Protocol, family and namespace: the checks every event pays first. */
static __always_inline bool sk_wanted(const struct sock *sk, __u16 *family)
{
	if (BPF_CORE_READ_BITFIELD(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	*family = sk->__sk_common.skc_family;
	if (*family != AF_INET && *family != AF_INET6)
		return false;
	if (filter_family && *family != filter_family)
		return false;
	if (filter_netns && sk_netns(sk) != filter_netns)
		return false;
	return true;
}

/*
 * Local port. Not skc_num: tcp_set_state(TCP_CLOSE) calls inet_put_port(),
 * which zeroes skc_num before the tracepoint fires, so a refused connect
 * (SYN_SENT -> CLOSE, no other event) would show port 0. inet_sport keeps it.
 */
static __always_inline __u16 sk_sport(const struct sock *sk)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (tp)
		return bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

static __always_inline void read_endpoints(const struct sock *sk, __u16 family,
					   __u8 *saddr, __u8 *daddr, __u16 *sport, __u16 *dport)
{
	if (family == AF_INET) {
		*(__u32 *)saddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)daddr = sk->__sk_common.skc_daddr;
	} else {
		__builtin_memcpy(saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(daddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	*sport = sk_sport(sk);
	*dport = bpf_ntohs(sk->__sk_common.skc_dport);
}

/*
 * The socket's cgroup v2 group: set at creation from the creating task
 * (cgroup_sk_alloc()) and copied to an accepted child from its listener
 * (sk_clone_lock()), so a server connection has its server's group even
 * though it changes state in softirq. NULL when unknown.
 */
struct sock_cgroup_data___old {
	__u64 val;
} __attribute__((preserve_access_index));

/*
 * Linux 5.15, 8520e224f547 ("bpf, cgroups: Fix cgroup v2 fallback on v1/v2
 * mixed mode"): sock_cgroup_data holds a plain `struct cgroup *`, also on
 * hybrid hierarchies. The cgroups reached from it are BTF-typed pointers:
 * their fields are direct loads. Before, they are plain numbers read with
 * bpf_probe_read_kernel() (BPF_CORE_READ).
 */
#define SK_CGROUP_PTR bpf_core_field_exists(struct sock_cgroup_data, cgroup)

static __always_inline struct cgroup *sk_cgroup(const struct sock *sk)
{
	struct sock_cgroup_data___old *old;
	__u64 val;

	if (!bpf_core_field_exists(struct sock, sk_cgrp_data))	/* !CONFIG_SOCK_CGROUP_DATA */
		return NULL;
	if (SK_CGROUP_PTR)
		return sk->sk_cgrp_data.cgroup;
	/*
	 * Before 5.15: one packed u64 `val`, the pointer when its two low bits
	 * (is_data, no_refcnt) are clear. Once a net_cls or net_prio v1
	 * controller is used, sockets hold their classid/prioidx there instead
	 * and the v2 group is lost (the kernel falls back to the root).
	 */
	old = (void *)&sk->sk_cgrp_data;
	barrier_var(old);	/* keep the old flavour's relocation in its branch */
	val = BPF_CORE_READ(old, val);
	return (val & 3) ? NULL : (struct cgroup *)val;
}

static __always_inline __u64 cgroup_id(const struct cgroup *cg)
{
	if (!cg)
		return 0;
	if (SK_CGROUP_PTR)
		return cg->kn->id;
	return BPF_CORE_READ(cg, kn, id);
}

/*
 * Before Linux 6.1, 7f203bc89eb6 ("cgroup: Replace cgroup->ancestor_ids[]
 * with ->ancestors[]"), a cgroup kept its ancestors' ids: one read on the
 * kernels that need probe reads (before 5.15, all of them before 6.1).
 */
struct cgroup___old {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

#define CGROUP_MAX_WALK 32	/* levels climbed to compare with a --cgroup group */

/* Id of cg's ancestor at `level` (cg itself at its own level); 0 if none. */
static __always_inline __u64 cgroup_ancestor_id(const struct cgroup *cg, __u32 level)
{
	struct cgroup___old *old;
	__u64 id = 0;
	int depth;

	if (SK_CGROUP_PTR) {
		/* up through the parents, direct loads (no variable index into BTF memory) */
		depth = cg->level;
		for (int i = 0; i < CGROUP_MAX_WALK && depth > (int)level; i++, depth--)
			cg = cg->self.parent->cgroup;
		return depth == (int)level ? cg->kn->id : 0;
	}
	old = (void *)cg;
	barrier_var(old);	/* no such field on 6.1+: keep it in this branch */
	if (level > (__u32)BPF_CORE_READ(old, level))
		return 0;
	bpf_core_read(&id, sizeof(id), &old->ancestor_ids[level]);
	return id;
}

/* --cgroup: is the socket in one of the groups, or below one? */
static __always_inline bool cgroup_wanted(const struct sock *sk)
{
	struct cgroup *cg = sk_cgroup(sk);

	if (!cg)
		return false;
	for (__u32 i = 0; i < TF_MAX_CGROUPS && i < n_cgroup_filters; i++)
		if (cgroup_ancestor_id(cg, cgroup_filter_level[i]) == cgroup_filter_id[i])
			return true;
	return false;
}

static __always_inline bool pid_wanted(__u32 pid)
{
	return !n_pid_filters || bpf_map_lookup_elem(&pid_filter, &pid);
}

static __always_inline void current_task(__u32 *pid, char comm[TF_COMM_LEN])
{
	*pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(comm, TF_COMM_LEN);
}

/* See tf_owner_at_close(): the task in close()/shutdown() holds the socket. */
static __always_inline void owner_at_close(struct tf_conn *c, int newstate)
{
	if (!tf_owner_at_close(c, newstate))
		return;
	current_task(&c->pid, c->comm);
	c->flags = (c->flags & ~TF_F_PID_LISTENER) | TF_F_PID_CLOSE;
}

/*
 * The owner a new record starts with, into *o; returns its TF_F_PID_* flag.
 * connect() runs in the caller's context. Accepted children change state in
 * softirq, where the current task is whoever was interrupted: they belong to
 * the owner of the listening socket (*listener: it was found) until
 * close()/shutdown() (-> FIN_WAIT1, -> LAST_ACK) names the process that held
 * them, which also names mid-life connections.
 */
static __always_inline __u16 new_owner(__u32 netns, __u16 sport, int role, int newstate,
				       struct tf_owner *o, bool *listener)
{
	struct tf_listen_key key = { .netns = netns, .port = sport };
	struct tf_owner *l;
	__u16 flags = 0;

	if (role == TF_ROLE_CLIENT) {
		current_task(&o->pid, o->comm);
	} else if ((l = bpf_map_lookup_elem(&listeners, &key))) {
		*o = *l;
		flags = TF_F_PID_LISTENER;
		*listener = true;
	}
	if (tf_owner_at_close_of(flags, o->pid, newstate)) {
		current_task(&o->pid, o->comm);
		flags = TF_F_PID_CLOSE;
	}
	return flags;
}

/* A folded connection's TIME-WAIT hand-over, for the tracker (bpf/kmetrics.h). */
static __always_inline void send_handover(const struct tf_conn *c)
{
	struct tf_handover *h = bpf_ringbuf_reserve(&rb, sizeof(*h), 0);

	if (!h) {
		stat_inc(TF_STAT_RB_LOST_HANDOVER);
		return;
	}
	tf_km_handover(c, h);
	bpf_ringbuf_submit(h, rb_flags());
	stat_inc(TF_STAT_HANDOVERS);
}

/*
 * Send a finished connection to user space, or fold it into the kernel's
 * metrics when no view needs it (bpf/kmetrics.h), and forget it.
 */
static __always_inline void emit_conn(__u64 key, struct tf_conn *c, bool fold)
{
	int folded = fold ? km_fold_conn(c) : 0;

	if (folded) {
		stat_inc(TF_STAT_FOLDED);
		if (folded & KM_GAP)
			stat_inc(TF_STAT_FOLDED_GAPS);
		if (folded & KM_HANDOVER)
			send_handover(c);
	} else if (bpf_ringbuf_output(&rb, c, sizeof(*c), rb_flags()))
		stat_inc(TF_STAT_RB_LOST_CONN);
	else
		stat_inc(TF_STAT_EMITTED);
	bpf_map_delete_elem(&conns, &key);
}

/*
 * A socket not in the table yet: decide whether to trace it (filters) and
 * create its record. Returns NULL when the connection is not wanted.
 */
static __always_inline struct tf_conn *conn_new(const struct sock *sk, __u64 key,
						__u16 family, int oldstate, int newstate)
{
	int role = tf_start_role(oldstate, newstate);
	struct tf_owner owner = {};
	bool listener = false;
	struct tf_conn *c;
	__u16 sport, dport;
	__u8 saddr[16] = {}, daddr[16] = {};
	__u16 flags = 0;
	__u32 netns = sk_netns(sk);

	read_endpoints(sk, family, saddr, daddr, &sport, &dport);
	if (!port_wanted(sport, dport)) {
		/*
		 * Not known yet, decide at the next event: connect() picks the
		 * ephemeral port after CLOSE -> SYN_SENT; an accepted child's
		 * remote port is 0 at LISTEN -> SYN_RECV before Linux 6.15
		 * (see tuple_late()).
		 */
		if (!(role == TF_ROLE_CLIENT && !sport && filter_ephemeral) &&
		    !(role == TF_ROLE_SERVER && !dport))
			return NULL;
		if (role == TF_ROLE_SERVER)
			pending_server_seen = true;
		flags |= TF_F_FILTER_PENDING;
	}
	flags |= new_owner(netns, sport, role, newstate, &owner, &listener);
	/* --pid: before the record exists, which could evict another from a full table */
	if (!pid_wanted(owner.pid))
		return NULL;

	if (bpf_map_update_elem(&conns, &key, &zero_conn, BPF_NOEXIST)) {
		stat_inc(TF_STAT_TABLE_FULL);
		return NULL;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) {
		/*
		 * Evicted at once: another CPU's insert into the full LRU
		 * table stole it. Counted as started, so user space reports
		 * it evicted (started - sent - ... - still in the table).
		 */
		stat_inc(TF_STAT_CREATED);
		return NULL;
	}

	c->flags = flags;
	tf_fold_begin(c, oldstate, newstate);
	c->family = family;
	c->skaddr = key;
	c->netns = netns;
	__builtin_memcpy(c->saddr, saddr, 16);
	__builtin_memcpy(c->daddr, daddr, 16);
	c->sport = sport;
	c->dport = dport;
	c->cgroup_id = cgroup_id(sk_cgroup(sk));
	c->pid = owner.pid;
	__builtin_memcpy(c->comm, owner.comm, sizeof(c->comm));
	if (listener && !role)
		c->role = TF_ROLE_SERVER;
	stat_inc(TF_STAT_CREATED);
	return c;
}

static __always_inline void server_child_start(const struct sock *sk, struct tf_conn *c)
{
	struct tf_tuple t = { .netns = c->netns, .sport = c->sport, .dport = c->dport };
	struct tf_synack *s;

	if (!synacks_parked)
		return;
	if (c->family == AF_INET) {
		/* IPv4 in IPv6 form, as the request-socket key has it */
		t.saddr[10] = t.saddr[11] = 0xff;
		t.daddr[10] = t.daddr[11] = 0xff;
		__builtin_memcpy(&t.saddr[12], c->saddr, 4);
		__builtin_memcpy(&t.daddr[12], c->daddr, 4);
	} else {
		__builtin_memcpy(t.saddr, c->saddr, 16);
		__builtin_memcpy(t.daddr, c->daddr, 16);
	}
	s = bpf_map_lookup_elem(&synacks, &t);
	if (!s)
		return;
	tf_fold_synack(c, s);
	if (!bpf_map_delete_elem(&synacks, &t))
		__sync_fetch_and_sub(&synacks_parked, 1);
}

/*
 * Before Linux 6.15, commit a3a128f611a9 ("inet: consolidate
 * inet_csk_clone_lock()"), the child's LISTEN -> SYN_RECV fired before its
 * 4-tuple was copied from the request socket: remote port 0, remote address
 * 0, local address the listener's bound one (0.0.0.0 / :: for a wildcard).
 * tcp_v4/v6_syn_recv_sock() sets them right after, so the next event
 * (SYN_RECV -> ESTABLISHED, or -> CLOSE) reads them. No BTF type tells the
 * two orders apart; a remote port of 0 does (never valid on a connection).
 */
static __always_inline bool tuple_late(const struct tf_conn *c)
{
	return c->role == TF_ROLE_SERVER && !c->dport;
}

/* At the record's last state change: what the connection carried. */
static __always_inline void read_traffic(const struct sock *sk, struct tf_conn *c)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return;
	tf_fold_traffic(c, tp->bytes_acked, tp->bytes_received, tp->segs_out, tp->segs_in,
			tp->srtt_us, tp->rtt_min.s[0].v);
	if (retrans_attached && bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err))
		stat_add(TF_STAT_RETRANS_UNSEEN, tf_fold_unseen(c, tp->total_retrans));
}

static __always_inline void server_established(const struct sock *sk, struct tf_conn *c)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return;
	/* First RTT sample, taken from the SYN-ACK by tcp_synack_rtt_meas(). */
	c->srtt_us = tp->srtt_us >> 3;
	/* tcp_create_openreq_child() copies req->num_retrans here. */
	c->synack_kernel = tp->total_retrans;
	/*
	 * num_retrans grows with each SYN-ACK tcp_rtx_synack() sent, where
	 * tcp:tcp_retransmit_synack fires: a retransmission the record lacks
	 * reached no run of on_retrans_synack, or was not parked.
	 */
	if (!(c->flags & TF_F_MIDLIFE))
		stat_add(TF_STAT_RETRANS_RECOVERED,
			 tf_fold_recover(c, TF_RETRANS_SYNACK, c->synack_kernel, c->synack_retrans));
}

/*
 * A client leaving SYN_SENT: every retransmission so far was a SYN, one
 * segment each, and tp->total_retrans counted it. Since Linux 6.17
 * (ad892e912b84) tcp:tcp_retransmit_skb fires for every attempt, failed
 * ones included, and total_retrans grows only in attempts that fire it: a
 * count beyond ours reached no run of on_retrans_skb. Before, failed
 * attempts past the early checks grew total_retrans unseen: not comparable.
 */
static __always_inline void client_handshake_end(const struct sock *sk, struct tf_conn *c)
{
	const struct tcp_sock *tp;

	if (c->role != TF_ROLE_CLIENT || (c->flags & TF_F_MIDLIFE) ||
	    !bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err))
		return;
	tp = bpf_skc_to_tcp_sock((void *)sk);
	if (tp)
		stat_add(TF_STAT_RETRANS_RECOVERED,
			 tf_fold_recover(c, TF_RETRANS_SYN, tp->total_retrans,
					 c->syn_retrans + c->retrans_failed));
}

static __always_inline void emit_state_event(const struct sock *sk, __u16 family,
					     struct tf_conn *c, __u64 ts,
					     int oldstate, int newstate)
{
	struct tf_state_event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		stat_inc(TF_STAT_RB_LOST_STATE);
		if (c)
			c->flags |= TF_F_LOST_EVENTS;	/* its --events lines are incomplete */
		return;
	}
	e->type = TF_REC_STATE;
	e->family = family;
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->_pad0 = 0;
	e->_pad1 = 0;
	e->ts_ns = ts;
	e->skaddr = (__u64)sk;
	e->netns = sk_netns(sk);
	read_endpoints(sk, family, e->saddr, e->daddr, &e->sport, &e->dport);
	if (c) {
		e->role = c->role;
		e->pid = c->pid;
		__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
		e->prev_ns = c->nstates ? c->state_ns[(c->nstates - 1) & (TF_MAX_STATES - 1)] : 0;
	} else {
		e->role = TF_ROLE_UNKNOWN;
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		e->prev_ns = 0;
	}
	bpf_ringbuf_submit(e, rb_flags());
}

static __always_inline void on_listener_change(const struct sock *sk, int newstate)
{
	struct tf_listen_key key = {
		.netns = sk_netns(sk),
		.port = sk_sport(sk),	/* skc_num is zeroed at LISTEN -> CLOSE */
	};

	if (newstate == TF_LISTEN) {
		/* listen() runs in the owner's context */
		struct tf_owner o = {};

		current_task(&o.pid, o.comm);
		/* full: its children's owner stays unknown */
		if (bpf_map_update_elem(&listeners, &key, &o, BPF_ANY))
			stat_inc(TF_STAT_LISTENER_FULL);
	} else {
		bpf_map_delete_elem(&listeners, &key);
	}
}

/*
 * Filtered-out traffic (--port), decided before any map is touched. A record
 * with unwanted ports exists only while its filter is pending, from its
 * first event to its next one: a client whose connect() has not picked its
 * port yet (when a filter port could be that port), a server child whose
 * tuple was not set yet (kernels before 6.15, see tuple_late; remembered in
 * pending_server_seen once met). Anything else with unwanted ports returns
 * here, at the cost of a few loads.
 */
static __always_inline bool filtered_out(const struct sock *sk, int oldstate, int newstate)
{
	int role = tf_start_role(oldstate, newstate);
	__u16 sport, dport = bpf_ntohs(sk->__sk_common.skc_dport);

	/* listeners name the owner of children on any port: always kept */
	if (tf_is_listener_change(oldstate, newstate))
		return false;
	/* skc_num is a direct load; only -> CLOSE has zeroed it (see sk_sport) */
	sport = newstate == TF_CLOSE ? sk_sport(sk) : sk->__sk_common.skc_num;
	if (port_wanted(sport, dport))
		return false;
	if (role == TF_ROLE_CLIENT)
		return sport || !filter_ephemeral;
	if (role == TF_ROLE_SERVER)
		return dport != 0;
	if (oldstate == TF_SYN_SENT)
		return !filter_ephemeral;
	if (oldstate == TF_SYN_RECV)
		return !pending_server_seen;
	return true;
}

/*
 * One state change. fold: a constant, true only in on_state_km (metrics-only
 * runs), where a finished connection is folded into the kernel's metrics.
 */
static __always_inline int set_state(const struct sock *sk, int oldstate, int newstate, bool fold)
{
	__u64 key = (__u64)sk, ts;
	struct tf_conn *c;
	__u16 family;
	int act;

	if (!sk_wanted(sk, &family))
		return 0;
	if (n_port_filters && filtered_out(sk, oldstate, newstate))
		return 0;
	/* listeners name the owner of children in any group: always kept */
	if (n_cgroup_filters && !tf_is_listener_change(oldstate, newstate) && !cgroup_wanted(sk))
		return 0;
	ts = bpf_ktime_get_ns();
	c = bpf_map_lookup_elem(&conns, &key);
	act = tf_state_action(c != NULL, oldstate, newstate);

	if (act & TF_ACT_LISTENER) {
		on_listener_change(sk, newstate);
		if (emit_events)
			emit_state_event(sk, family, NULL, ts, oldstate, newstate);
		return 0;
	}
	if (c && (act & TF_ACT_REPLACE)) {
		/* skaddr recycled before we saw CLOSE: report what we had */
		c->flags |= TF_F_REPLACED;
		stat_inc(TF_STAT_REPLACED);
		emit_conn(key, c, fold);
		c = NULL;
	}
	if (!c) {
		c = conn_new(sk, key, family, oldstate, newstate);
		if (!c)
			return 0;
		if (c->role == TF_ROLE_SERVER && !(c->flags & TF_F_MIDLIFE) && !tuple_late(c))
			server_child_start(sk, c);
	} else {
		if (tuple_late(c)) {
			read_endpoints(sk, family, c->saddr, c->daddr, &c->sport, &c->dport);
			if (!(c->flags & TF_F_MIDLIFE))
				server_child_start(sk, c);
		}
		if (c->flags & TF_F_FILTER_PENDING) {
			__u16 sport = sk_sport(sk);

			c->sport = sport;
			if (!port_wanted(sport, c->dport)) {
				bpf_map_delete_elem(&conns, &key);
				stat_inc(TF_STAT_UNWANTED);
				return 0;
			}
			c->flags &= ~TF_F_FILTER_PENDING;
		}
		owner_at_close(c, newstate);
	}

	stat_inc(TF_STAT_EVENTS);
	if (emit_events)
		emit_state_event(sk, family, c, ts, oldstate, newstate);
	tf_fold_state(c, ts, newstate);

	/* connect() picks the ephemeral port after CLOSE -> SYN_SENT */
	if (!c->sport)
		c->sport = sk_sport(sk);
	if (newstate == TF_ESTABLISHED && c->role == TF_ROLE_SERVER)
		server_established(sk, c);
	if (oldstate == TF_SYN_SENT)
		client_handshake_end(sk, c);
	/*
	 * tcp_write_err() sets sk_err (ETIMEDOUT, or the soft ICMP error) just
	 * before tcp_done(): the only trace of "gave up retransmitting" when a
	 * FIN in LAST_ACK/CLOSING/FIN_WAIT1 is never acknowledged.
	 */
	if (newstate == TF_CLOSE) {
		c->close_err = sk->sk_err;
		read_traffic(sk, c);
	}
	if (act & TF_ACT_EMIT)
		emit_conn(key, c, fold);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, int oldstate, int newstate)
{
	return set_state(sk, oldstate, newstate, false);
}

/*
 * on_set_state for --metrics/--hist alone, loaded instead of it: finished
 * connections are folded into the kernel's metrics (bpf/kmetrics.h). A
 * program of its own, so that the fold's global functions (which kernels
 * before 6.8 verify even where unreachable, and before 5.12 refuse:
 * pointer arguments) are never part of on_set_state; a kernel refusing it
 * switches feature kernel_metrics to its fallback, on_set_state.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_km, const struct sock *sk, int oldstate, int newstate)
{
	return set_state(sk, oldstate, newstate, true);
}

/*
 * A retransmission or reset of a socket with no record: a connection that
 * began before tracing, or whose record was evicted or never made (table
 * full, first event lost). Counted when the filters would keep it; not with
 * --pid, where other processes' connections have no record either. States
 * first: a timewait socket has no sk_protocol to read, and request sockets,
 * listeners and closed sockets are no connection's.
 */
static __always_inline void count_no_record(const struct sock *sk)
{
	int state = sk->__sk_common.skc_state;
	__u16 family;

	if (state < TF_ESTABLISHED || state > TF_CLOSING || state == TF_TIME_WAIT ||
	    state == TF_CLOSE || state == TF_LISTEN || n_pid_filters)
		return;
	if (!sk_wanted(sk, &family) ||
	    !port_wanted(sk_sport(sk), bpf_ntohs(sk->__sk_common.skc_dport)))
		return;
	stat_inc(TF_STAT_NO_RECORD);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_retrans_skb, const struct sock *sk, const struct sk_buff *skb)
{
	__u64 key = (__u64)sk;
	struct tf_conn *c = bpf_map_lookup_elem(&conns, &key);
	struct tcp_skb_cb *cb;
	__u16 flags, segs;

	if (!c) {
		count_no_record(sk);
		return 0;
	}
	/*
	 * Since Linux 6.17 (ad892e912b84 "tcp: trace retransmit failures in
	 * tcp_retransmit_skb")
	 * the tracepoint also fires for attempts that failed (err != 0):
	 * those are not retransmitted segments. Older kernels have no such
	 * argument and fire only on success.
	 */
	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err)) {
		int err = (int)ctx[2];

		if (err) {
			c->retrans_failed++;
			stat_inc(TF_STAT_RETRANS_FAILED);
			return 0;
		}
	}
	/*
	 * No TCP header is built yet: the flags live in TCP_SKB_CB(skb). The
	 * field grew from __u8 to __u16 in 6.15 (2c2f08d31d2f "tcp: extend TCP
	 * flags to allow AE bit/ACE field"): read it at the kernel's size.
	 */
	cb = (struct tcp_skb_cb *)&skb->cb[0];
	flags = BPF_CORE_READ_BITFIELD_PROBED(cb, tcp_flags);
	tf_fold_retrans(c, bpf_ktime_get_ns(),
			sk->__sk_common.skc_state, flags);
	/* what total_retrans adds: tcp_skb_pcount() of the segment sent */
	segs = BPF_CORE_READ(cb, tcp_gso_segs);
	if (segs > 1)
		c->retrans_extra_segs += segs - 1;
	return 0;
}

/*
 * SYN-ACK retransmits are reported on the LISTENER with the request socket;
 * the child socket does not exist yet. Park them by 4-tuple until it does.
 */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_retrans_synack, const struct sock *sk, const struct request_sock *req)
{
	const struct tcp_request_sock *treq = (const struct tcp_request_sock *)req;
	struct tf_tuple t = {};
	struct tf_synack *s, fresh = {};
	__u16 family = BPF_CORE_READ(req, __req_common.skc_family);
	__u64 ts = bpf_ktime_get_ns();

	if (filter_netns && sk_netns(sk) != filter_netns)
		return 0;
	/* the child will be in the listener's group */
	if (n_cgroup_filters && !cgroup_wanted(sk))
		return 0;
	t.netns = BPF_CORE_READ(req, __req_common.skc_net.net, ns.inum);
	t.sport = BPF_CORE_READ(req, __req_common.skc_num);
	t.dport = bpf_ntohs(BPF_CORE_READ(req, __req_common.skc_dport));
	if (!port_wanted(t.sport, t.dport))
		return 0;
	if (family == AF_INET) {
		t.saddr[10] = t.saddr[11] = 0xff;
		t.daddr[10] = t.daddr[11] = 0xff;
		BPF_CORE_READ_INTO((__u32 *)&t.saddr[12], req, __req_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)&t.daddr[12], req, __req_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)t.saddr, req, __req_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)t.daddr, req, __req_common.skc_v6_daddr);
	}

	stat_inc(TF_STAT_SYNACK_RETRANS);
	s = bpf_map_lookup_elem(&synacks, &t);
	if (!s) {
		/* snt_synack: first SYN-ACK, tcp_clock_us() (CLOCK_MONOTONIC) */
		fresh.first_ns = BPF_CORE_READ(treq, snt_synack) * 1000;
		__sync_fetch_and_add(&synacks_parked, 1);	/* before: see synacks_parked */
		bpf_map_update_elem(&synacks, &t, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&synacks, &t);
		if (!s) {
			/* its child restores the count (server_established) */
			stat_inc(TF_STAT_SYNACK_UNPARKED);
			return 0;
		}
	}
	if (s->count < 4)
		s->retrans_ns[s->count & 3] = ts;
	s->count++;
	return 0;
}

/*
 * The live table for user space's periodic walks (tf_loader_scan_live), one
 * struct tf_conn after another. Not BPF_MAP_LOOKUP_BATCH: with batch lookups
 * hammering this table, whole softirq bursts of our tracepoint runs went
 * missing (SYN retransmissions, measured against nftables counters) with no
 * recursion miss counted; with this iterator hammering it, none did.
 */
SEC("iter/bpf_map_elem")
int dump_conns(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct tf_conn *c = ctx->value;

	if (c)
		bpf_seq_write(seq, c, sizeof(*c));
	return 0;
}

/* A reset sent by a socket already reported at CLOSE (aborts): tell user space. */
static __always_inline void late_reset(const struct sock *sk, __u64 ts)
{
	struct tf_reset_event e = { .type = TF_REC_RESET, .sent = 1, .state = TF_CLOSE };
	__u16 family;

	if (!sk_wanted(sk, &family) ||
	    !port_wanted(sk_sport(sk), bpf_ntohs(sk->__sk_common.skc_dport)) ||
	    (n_cgroup_filters && !cgroup_wanted(sk)))
		return;
	e.netns = sk_netns(sk);
	e.ts_ns = ts;
	e.skaddr = (__u64)sk;
	if (bpf_ringbuf_output(&rb, &e, sizeof(e), rb_flags()))
		stat_inc(TF_STAT_RB_LOST_STATE);
}

static __always_inline void on_reset(const struct sock *sk, int sent)
{
	__u64 key = (__u64)sk, ts = bpf_ktime_get_ns();
	struct tf_conn *c;
	int state;

	if (!sk)
		return;
	state = sk->__sk_common.skc_state;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c)
		tf_note_reset(c, ts, state, sent);
	else if (sent && state == TF_CLOSE)
		late_reset(sk, ts);
	else
		count_no_record(sk);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock *sk)
{
	on_reset(sk, 1);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_receive_reset, const struct sock *sk)
{
	on_reset(sk, 0);
	return 0;
}
