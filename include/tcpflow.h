/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record ABI between the BPF programs (bpf/) and user space (src/).
 *
 * Compiled by clang -target bpf (with vmlinux.h) and by the host compiler
 * (with <linux/types.h>). Fixed-width types only, explicit padding, sizes
 * asserted at the bottom so both sides agree byte for byte.
 *
 * Every ring-buffer record starts with `__u16 type` (enum tf_rec_type).
 */
#ifndef TCPFLOW_H
#define TCPFLOW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TF_COMM_LEN 16
#define TF_MAX_STATES 16	/* state changes kept per connection */
#define TF_MAX_RETRANS 12	/* retransmissions kept with their time */
#define TF_PORT_WORDS 1024	/* --port filter bitmap: 65536 bits in 64-bit words */
#define TF_MAX_CGROUPS 16	/* --cgroup groups */

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum tf_tcp_state {
	TF_ESTABLISHED = 1,
	TF_SYN_SENT,
	TF_SYN_RECV,
	TF_FIN_WAIT1,
	TF_FIN_WAIT2,
	TF_TIME_WAIT,
	TF_CLOSE,
	TF_CLOSE_WAIT,
	TF_LAST_ACK,
	TF_LISTEN,
	TF_CLOSING,
	TF_NEW_SYN_RECV,
	TF_STATE_MAX,
};

/* TCP header flags (include/net/tcp.h TCPHDR_*). */
#define TF_TCPHDR_FIN 0x01
#define TF_TCPHDR_SYN 0x02
#define TF_TCPHDR_RST 0x04
#define TF_TCPHDR_ACK 0x10

enum tf_rec_type {
	TF_REC_CONN = 1,	/* struct tf_conn: one finished (or flushed) connection */
	TF_REC_STATE = 2,	/* struct tf_state_event: one state change (--events) */
	TF_REC_RESET = 3,	/* struct tf_reset_event: a reset sent after CLOSE was emitted */
	TF_REC_HANDOVER = 4,	/* struct tf_handover: a connection folded in the kernel's
				 * metrics that handed over to TIME-WAIT (bpf/kmetrics.h) */
};

enum tf_role {
	TF_ROLE_UNKNOWN = 0,
	TF_ROLE_CLIENT = 1,	/* we called connect(): first event CLOSE -> SYN_SENT */
	TF_ROLE_SERVER = 2,	/* accepted child: first event LISTEN -> SYN_RECV */
	TF_ROLE_MAX,
};

enum tf_retrans_kind {
	TF_RETRANS_DATA = 0,
	TF_RETRANS_SYN = 1,
	TF_RETRANS_SYNACK = 2,
	TF_RETRANS_FIN = 3,
	TF_RETRANS_KIND_MAX,
};

/* tf_conn.flags */
#define TF_F_MIDLIFE		0x0001	/* first event was not the start of a lifecycle */
#define TF_F_OPEN		0x0002	/* flushed at exit: never saw CLOSE */
#define TF_F_RST_SENT		0x0004	/* tcp_send_reset fired for this socket */
#define TF_F_RST_RECV		0x0008	/* tcp_receive_reset fired for this socket */
#define TF_F_STATES_TRUNC	0x0010	/* more than TF_MAX_STATES state changes */
#define TF_F_RETRANS_TRUNC	0x0020	/* more than TF_MAX_RETRANS retransmissions */
#define TF_F_FILTER_PENDING	0x0040	/* port filter undecided until sport is known */
#define TF_F_REPLACED		0x0080	/* a new lifecycle began before CLOSE was seen */
#define TF_F_SYNACK_TS		0x0100	/* synack_first_ns is the kernel's first SYN-ACK time */
#define TF_F_PID_LISTENER	0x0200	/* pid/comm taken from the listening socket's owner */
#define TF_F_LOST_EVENTS	0x0400	/* BPF lost events while this connection was live */
#define TF_F_TRAFFIC		0x0800	/* bytes_acked .. min_rtt_us were read (at -> CLOSE) */
#define TF_F_PID_CLOSE		0x1000	/* pid/comm of the task in close()/shutdown() (-> FIN_WAIT1,
					 * -> LAST_ACK), replacing the listener's owner */

/*
 * One connection, folded in the kernel (map value, then ring-buffer record).
 * Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns).
 */
struct tf_conn {
	__u16 type;		/* TF_REC_CONN */
	__u16 flags;		/* TF_F_* */
	__u8 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u8 role;		/* enum tf_role */
	__u8 first_old;		/* old state of the first event seen */
	__u8 nstates;		/* state changes recorded (<= TF_MAX_STATES) */
	__u64 skaddr;		/* kernel socket address (recycled; a key, not an identity) */
	__u32 pid;		/* tgid; 0 when unknown */
	__u32 netns;		/* network namespace inode number */
	char comm[TF_COMM_LEN];
	__u8 saddr[16];		/* local address (IPv4 in the first 4 bytes) */
	__u8 daddr[16];		/* remote address */
	__u16 sport;		/* local port, host order */
	__u16 dport;		/* remote port, host order */
	__u8 nretrans;		/* retransmissions recorded with time (<= TF_MAX_RETRANS) */
	__u8 synack_kernel;	/* server: SYN-ACK retransmits counted by the kernel (req->num_retrans) */
	__u16 rst_state;	/* state when the reset was sent/received */
	__u32 syn_retrans;
	__u32 synack_retrans;
	__u32 fin_retrans;
	__u32 retrans;		/* every retransmitted segment, all kinds */
	__u32 retrans_failed;	/* tcp_retransmit_skb attempts that failed (err != 0) */
	__u32 srtt_us;		/* server: first RTT sample (srtt_us >> 3) at ESTABLISHED */
	__u32 close_err;	/* sk_err at -> CLOSE: ETIMEDOUT (or a soft ICMP error) when the
				 * kernel gave up retransmitting (tcp_write_err), 0 when orderly */
	__u32 _pad0;
	__u64 synack_first_ns;	/* server: first SYN-ACK sent (tcp_rsk(req)->snt_synack) */
	__u64 rst_ns;		/* when the reset was sent/received */
	__u64 state_ns[TF_MAX_STATES];
	__u8 state[TF_MAX_STATES];	/* new state of each change */
	__u64 retrans_ns[TF_MAX_RETRANS];
	__u8 retrans_state[TF_MAX_RETRANS];
	__u8 retrans_kind[TF_MAX_RETRANS];
	__u8 fin_retrans_by_state[4];	/* FIN retransmits in FIN_WAIT1, LAST_ACK, CLOSING, other */
	__u32 retrans_extra_segs;	/* segments beyond one per retransmission seen (a
					 * multi-segment retransmit counts tcp_skb_pcount()) */
	/*
	 * What the connection carried, read once from the tcp_sock at its last
	 * state change (-> CLOSE); valid only with TF_F_TRAFFIC. The kernel's
	 * own counters, as `ss -ti` shows them (RFC 4898 sequence space: a
	 * client's SYN and an acknowledged FIN count one byte each).
	 */
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 segs_out;
	__u32 segs_in;
	__u32 rtt_us;		/* smoothed RTT, srtt_us >> 3; 0: no sample */
	__u32 min_rtt_us;	/* windowed minimum (tcp_min_rtt()); 0: no sample */
	__u64 cgroup_id;	/* the socket's cgroup v2 group (sk_cgrp_data); 0: unknown */
};

/* Index into fin_retrans_by_state. */
enum tf_fin_slot {
	TF_FIN_IN_FIN_WAIT1 = 0,
	TF_FIN_IN_LAST_ACK = 1,
	TF_FIN_IN_CLOSING = 2,
	TF_FIN_IN_OTHER = 3,
};

/* One state change, as it happens (only emitted with --events). */
struct tf_state_event {
	__u16 type;		/* TF_REC_STATE */
	__u8 family;
	__u8 oldstate;
	__u8 newstate;
	__u8 role;
	__u16 _pad0;
	__u32 pid;
	__u32 netns;
	__u64 ts_ns;
	__u64 prev_ns;		/* when oldstate was entered; 0 when unknown */
	__u64 skaddr;
	char comm[TF_COMM_LEN];
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 _pad1;
};

/*
 * An abort (SO_LINGER {1,0}, close() with unread data, tcp_disconnect())
 * sets the state to CLOSE *before* tcp_send_active_reset(): the connection
 * record is already on its way when the reset tracepoint fires. This record
 * lets user space attach the reset to it.
 */
struct tf_reset_event {
	__u16 type;		/* TF_REC_RESET */
	__u8 sent;		/* 1: we sent it */
	__u8 state;		/* socket state at the reset (TF_CLOSE) */
	__u32 netns;
	__u64 ts_ns;
	__u64 skaddr;
};

/*
 * What the TIME-WAIT tracker needs of a connection the kernel folded into
 * its metrics (bpf/kmetrics.h) when it handed over to TIME-WAIT: its tuple,
 * owner, start and hand-over, instead of the whole record.
 */
struct tf_handover {
	__u16 type;		/* TF_REC_HANDOVER */
	__u16 flags;		/* the record's TF_F_* */
	__u8 family;
	__u8 role;
	__u8 first_state;	/* state of the record's first change */
	__u8 _pad0;
	__u32 pid;
	__u32 netns;
	__u32 srtt_us;		/* server: first RTT sample (tf_conn.srtt_us) */
	__u32 _pad1;
	char comm[TF_COMM_LEN];
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 _pad2;
	__u64 skaddr;
	__u64 start_ns;		/* the record's first change */
	__u64 handover_ns;	/* FIN_WAIT2/CLOSING -> CLOSE */
};

/* Per-CPU counters kept by the BPF programs (map `stats`). */
enum tf_stat {
	TF_STAT_EVENTS = 0,		/* state changes of traced connections */
	TF_STAT_RB_LOST_CONN,		/* connection records lost: ring buffer full */
	TF_STAT_RB_LOST_STATE,		/* --events records lost: ring buffer full */
	TF_STAT_TABLE_FULL,		/* connections not traced: conns map update failed */
	TF_STAT_REPLACED,		/* lifecycles cut short by skaddr reuse (CLOSE missed) */
	TF_STAT_RETRANS_FAILED,		/* failed retransmit attempts (err != 0), not segments */
	TF_STAT_SYNACK_RETRANS,	/* SYN-ACK retransmits seen on listeners (all handshakes) */
	TF_STAT_CREATED,		/* connection records started */
	TF_STAT_EMITTED,		/* connection records sent to user space */
	TF_STAT_UNWANTED,		/* records dropped when a filter decided late (sport) */
	TF_STAT_NO_RECORD,		/* retransmits/resets of a wanted connection with no record */
	TF_STAT_SYNACK_UNPARKED,	/* SYN-ACK retransmits not parked: synacks update failed */
	TF_STAT_LISTENER_FULL,		/* listen() calls not recorded: listeners map full */
	TF_STAT_RETRANS_RECOVERED,	/* handshake retransmits no program run brought, restored
					 * from the kernel's own count (tf_fold_recover) */
	TF_STAT_FOLDED,			/* connections folded into the kernel's metrics
					 * (bpf/kmetrics.h), not sent */
	TF_STAT_FOLDED_GAPS,		/* of which with a change TCP cannot make */
	TF_STAT_HANDOVERS,		/* of which sent as a struct tf_handover */
	TF_STAT_RB_LOST_HANDOVER,	/* hand-overs lost: ring buffer full (shown with
					 * the lost connection records) */
	TF_STAT_RETRANS_UNSEEN,		/* retransmitted segments the kernel counted by a
					 * connection's close that reached none of our
					 * program runs (tf_fold_unseen) */
	/*
	 * The table is an LRU map: when full, the least recently active
	 * connection is evicted silently. Evicted = created - emitted -
	 * folded - lost (ring buffer) - unwanted - still in the table.
	 */
	TF_STAT_MAX,
};

/* Key of the listener-owner map: who called listen() on this port. */
struct tf_listen_key {
	__u32 netns;
	__u16 port;	/* host order */
	__u16 _pad;	/* no family: a dual-stack AF_INET6 listener accepts IPv4 too */
};

struct tf_owner {
	__u32 pid;
	__u32 _pad;
	char comm[TF_COMM_LEN];
};

/*
 * Key of a request socket (a connection before the child socket exists).
 * Addresses are always in IPv6 form (IPv4 as ::ffff:a.b.c.d): the request
 * socket of a dual-stack listener is AF_INET while its child is AF_INET6.
 */
struct tf_tuple {
	__u32 netns;
	__u16 _pad0;
	__u16 sport;
	__u16 dport;
	__u16 _pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* SYN-ACK retransmissions seen on the listener, waiting for the child. */
struct tf_synack {
	__u64 first_ns;		/* tcp_rsk(req)->snt_synack, CLOCK_MONOTONIC ns */
	__u32 count;
	__u32 _pad;
	__u64 retrans_ns[4];
};

/* A listening socket found at start-up by the task_file iterator. */
struct tf_listener_rec {
	__u32 pid;
	__u32 netns;
	__u16 port;
	__u16 family;
	__u32 _pad;
	char comm[TF_COMM_LEN];
};

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct tf_conn) == 440, "tf_conn ABI size");
_Static_assert(sizeof(struct tf_state_event) == 96, "tf_state_event ABI size");
_Static_assert(sizeof(struct tf_tuple) == 44, "tf_tuple ABI size");
_Static_assert(sizeof(struct tf_reset_event) == 24, "tf_reset_event ABI size");
_Static_assert(sizeof(struct tf_handover) == 104, "tf_handover ABI size");
_Static_assert(sizeof(struct tf_synack) == 48, "tf_synack ABI size");
_Static_assert(sizeof(struct tf_listener_rec) == 32, "tf_listener_rec ABI size");
#endif

#endif /* TCPFLOW_H */
