/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Folding of kernel events into one struct tf_conn per connection.
 *
 * Compiled into the BPF programs and into the unit tests, so the tests run
 * the very code the kernel runs. Pure functions on the record: no helpers,
 * no maps, every array index bounds-checked for the verifier.
 */
#ifndef TF_FOLD_H
#define TF_FOLD_H

#include "tcpflow.h"

#ifndef TF_INLINE
#define TF_INLINE static inline __attribute__((always_inline))
#endif

/* Which kind of event begins a new lifecycle on a (possibly recycled) skaddr. */
TF_INLINE int tf_start_role(int oldstate, int newstate)
{
	if (oldstate == TF_CLOSE && newstate == TF_SYN_SENT)
		return TF_ROLE_CLIENT;
	if (oldstate == TF_LISTEN && newstate == TF_SYN_RECV)
		return TF_ROLE_SERVER;
	return TF_ROLE_UNKNOWN;
}

/* Listening sockets are not connections: they get no record. */
TF_INLINE int tf_is_listener_change(int oldstate, int newstate)
{
	return newstate == TF_LISTEN || (oldstate == TF_LISTEN && newstate == TF_CLOSE);
}

/* What the state-change program does for one event (see tf_state_action). */
#define TF_ACT_LISTENER	0x1	/* listener bookkeeping only: no connection record */
#define TF_ACT_REPLACE	0x2	/* the record on this skaddr is stale: emit it first */
#define TF_ACT_CREATE	0x4	/* start a new record (subject to the filters) */
#define TF_ACT_EMIT	0x8	/* after folding: send the record and forget it */

/*
 * skaddr values are recycled at once (docs/KERNEL.md, fact 5): a lifecycle
 * starts at old=CLOSE or old=LISTEN and ends at new=CLOSE. `exists`: a
 * record is held for this skaddr.
 */
TF_INLINE int tf_state_action(int exists, int oldstate, int newstate)
{
	int act = 0;

	if (tf_is_listener_change(oldstate, newstate))
		return TF_ACT_LISTENER;
	if (!exists)
		act |= TF_ACT_CREATE;
	else if (tf_start_role(oldstate, newstate))
		act |= TF_ACT_REPLACE | TF_ACT_CREATE;
	if (newstate == TF_CLOSE)
		act |= TF_ACT_EMIT;
	return act;
}

/* Start a record: the first event seen for this socket. */
TF_INLINE void tf_fold_begin(struct tf_conn *c, int oldstate, int newstate)
{
	int role = tf_start_role(oldstate, newstate);

	c->type = TF_REC_CONN;
	c->role = (__u8)role;
	c->first_old = (__u8)oldstate;
	if (!role)
		c->flags |= TF_F_MIDLIFE;	/* began before tracing started */
}

TF_INLINE void tf_fold_state(struct tf_conn *c, __u64 ts, int newstate)
{
	__u32 i = c->nstates;

	if (i >= TF_MAX_STATES) {
		/* Keep the last change (usually -> CLOSE) in the last slot. */
		c->flags |= TF_F_STATES_TRUNC;
		i = TF_MAX_STATES - 1;
	} else {
		c->nstates = i + 1;
	}
	if (i < TF_MAX_STATES) {	/* for the verifier */
		c->state_ns[i] = ts;
		c->state[i] = (__u8)newstate;
	}
}

TF_INLINE int tf_retrans_kind(__u16 tcp_flags)
{
	if (tcp_flags & TF_TCPHDR_SYN)
		return (tcp_flags & TF_TCPHDR_ACK) ? TF_RETRANS_SYNACK : TF_RETRANS_SYN;
	if (tcp_flags & TF_TCPHDR_FIN)
		return TF_RETRANS_FIN;
	return TF_RETRANS_DATA;
}

TF_INLINE int tf_fin_slot(int state)
{
	switch (state) {
	case TF_FIN_WAIT1:
		return TF_FIN_IN_FIN_WAIT1;
	case TF_LAST_ACK:
		return TF_FIN_IN_LAST_ACK;
	case TF_CLOSING:
		return TF_FIN_IN_CLOSING;
	default:
		return TF_FIN_IN_OTHER;
	}
}

TF_INLINE void tf_fold_retrans_at(struct tf_conn *c, __u64 ts, int state, int kind)
{
	__u32 i = c->nretrans;

	c->retrans++;
	if (kind == TF_RETRANS_SYN)
		c->syn_retrans++;
	else if (kind == TF_RETRANS_SYNACK)
		c->synack_retrans++;
	else if (kind == TF_RETRANS_FIN) {
		int slot = tf_fin_slot(state);

		c->fin_retrans++;
		if (slot >= 0 && slot < 4 && c->fin_retrans_by_state[slot] < 255)
			c->fin_retrans_by_state[slot]++;
	}
	if (i >= TF_MAX_RETRANS) {
		c->flags |= TF_F_RETRANS_TRUNC;
		return;
	}
	c->retrans_ns[i] = ts;
	c->retrans_state[i] = (__u8)state;
	c->retrans_kind[i] = (__u8)kind;
	c->nretrans = i + 1;
}

/* A retransmitted segment of this socket (tcp:tcp_retransmit_skb). */
TF_INLINE void tf_fold_retrans(struct tf_conn *c, __u64 ts, int state, __u16 tcp_flags)
{
	tf_fold_retrans_at(c, ts, state, tf_retrans_kind(tcp_flags));
}

/*
 * SYN-ACK retransmissions seen on the listener before the child existed
 * (tcp:tcp_retransmit_synack), handed to the child when it appears.
 */
TF_INLINE void tf_fold_synack(struct tf_conn *c, const struct tf_synack *s)
{
	__u32 n = s->count;

	if (s->first_ns) {
		c->synack_first_ns = s->first_ns;
		c->flags |= TF_F_SYNACK_TS;
	}
	for (__u32 i = 0; i < 4; i++) {
		if (i >= n)
			break;
		tf_fold_retrans_at(c, s->retrans_ns[i], TF_SYN_RECV, TF_RETRANS_SYNACK);
	}
	if (n > 4) {	/* counted beyond the times we kept */
		c->synack_retrans += n - 4;
		c->retrans += n - 4;
		c->flags |= TF_F_RETRANS_TRUNC;
	}
}

/*
 * Handshake retransmissions the kernel counted (`kernel`) beyond those our
 * programs saw (`seen`): restored into the counts, without a time, and the
 * record flagged. For one kind at a time (TF_RETRANS_SYN or _SYNACK), where
 * the kernel's count holds nothing else. Returns how many were restored.
 */
TF_INLINE __u32 tf_fold_recover(struct tf_conn *c, int kind, __u32 kernel, __u32 seen)
{
	__u32 n = kernel > seen ? kernel - seen : 0;

	if (!n)
		return 0;
	if (kind == TF_RETRANS_SYN)
		c->syn_retrans += n;
	else
		c->synack_retrans += n;
	c->retrans += n;
	c->flags |= TF_F_LOST_EVENTS;
	return n;
}

/*
 * At CLOSE, on kernels where tcp_sock.total_retrans grows only in attempts
 * that fire tcp:tcp_retransmit_skb (Linux 6.17, ad892e912b84): segments the
 * kernel counted (`kernel`) beyond those our programs saw, of any kind. They
 * reached no program run (docs/KERNEL.md, fact 6): the record is flagged,
 * its counts stay what was seen. Not for a record begun mid-life, whose
 * earlier retransmissions were never ours to see. Returns how many.
 */
TF_INLINE __u32 tf_fold_unseen(struct tf_conn *c, __u32 kernel)
{
	__u32 seen = c->retrans + c->retrans_extra_segs;

	if ((c->flags & TF_F_MIDLIFE) || kernel <= seen)
		return 0;
	c->flags |= TF_F_LOST_EVENTS;
	return kernel - seen;
}

TF_INLINE void tf_note_reset(struct tf_conn *c, __u64 ts, int state, int sent)
{
	/* The first reset is the one that matters for the close. */
	if (!(c->flags & (TF_F_RST_SENT | TF_F_RST_RECV))) {
		c->rst_ns = ts;
		c->rst_state = (__u16)state;
	}
	c->flags |= sent ? TF_F_RST_SENT : TF_F_RST_RECV;
}

/*
 * What the connection carried, from its tcp_sock at the last state change
 * (-> CLOSE: the socket is still whole there, also at the hand-over to
 * TIME-WAIT and after tcp_disconnect(), which zeroes the counters only after
 * the state change). srtt_us is the kernel's smoothed RTT << 3; min_rtt is
 * tcp_min_rtt(), ~0U until the first sample (tcp_init_sock()).
 * docs/KERNEL.md, fact 9.
 */
TF_INLINE void tf_fold_traffic(struct tf_conn *c, __u64 bytes_acked, __u64 bytes_received,
			       __u32 segs_out, __u32 segs_in, __u32 srtt_us, __u32 min_rtt)
{
	c->bytes_acked = bytes_acked;
	c->bytes_received = bytes_received;
	c->segs_out = segs_out;
	c->segs_in = segs_in;
	c->rtt_us = srtt_us >> 3;
	c->min_rtt_us = min_rtt == ~0U ? 0 : min_rtt;
	c->flags |= TF_F_TRAFFIC;
}

/*
 * close()/shutdown() moved the socket (-> FIN_WAIT1, -> LAST_ACK: only
 * tcp_close_state() sets them, in the caller's context): the caller holds
 * the socket. An accepted connection named after its listener's owner --
 * the process that called listen(), maybe a parent that daemonized and is
 * gone -- is renamed after it; a connection with no owner gets one.
 * docs/KERNEL.md, fact 10.
 * Returns whether the caller should take the current task (the _of form: for
 * an owner not in a record yet).
 */
TF_INLINE int tf_owner_at_close_of(__u16 flags, __u32 pid, int newstate)
{
	if (newstate != TF_FIN_WAIT1 && newstate != TF_LAST_ACK)
		return 0;
	return (flags & TF_F_PID_LISTENER) || !pid;
}

TF_INLINE int tf_owner_at_close(const struct tf_conn *c, int newstate)
{
	return tf_owner_at_close_of(c->flags, c->pid, newstate);
}

#endif /* TF_FOLD_H */
