/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a finished connection record says, decided once: role, handshake
 * time and how it was measured, who closed first, how it ended, TIME-WAIT,
 * lifetime, the timeline's points. User space's summary (src/conn.c) and the
 * kernel's metrics fold (bpf/kmetrics.h) both call these, so the metrics of
 * a connection folded in the kernel are those of its record in user space.
 *
 * Compiled by clang -target bpf (with vmlinux.h) and by the host compiler,
 * like tf_fold.h: pure functions on the record, loops bounded by
 * TF_MAX_STATES, every index masked or checked for the verifier.
 */
#ifndef TF_SUMMARY_H
#define TF_SUMMARY_H

#include "tcpflow.h"
#include "tf_fold.h"

/* Who started the close, or what ended the connection without one. */
enum tf_close_kind {
	TF_CK_OPEN = 0,		/* still open when tracing stopped */
	TF_CK_ACTIVE,		/* we sent the first FIN (ESTABLISHED -> FIN_WAIT1) */
	TF_CK_PASSIVE,		/* the peer's FIN came first (ESTABLISHED -> CLOSE_WAIT) */
	TF_CK_SIMULTANEOUS,	/* both FINs crossed (FIN_WAIT1 -> CLOSING) */
	TF_CK_RESET,		/* a reset ended it before any FIN (abort, peer reset) */
	TF_CK_REFUSED,		/* connect() answered by RST (SYN_SENT -> CLOSE + reset) */
	TF_CK_CONNECT_FAILED,	/* SYN_SENT -> CLOSE without reset: timeout, unreachable, cancelled */
	TF_CK_TIMEOUT,		/* established and gone without FIN or reset: retransmission/keepalive timeout */
	TF_CK_HANDSHAKE_FAILED,	/* server child that never reached ESTABLISHED */
	TF_CK_MAX,
};

/* How the socket's last state change (-> CLOSE) came about. */
enum tf_close_end {
	TF_CE_OPEN = 0,		/* not closed yet */
	TF_CE_TIME_WAIT,	/* FIN_WAIT2/CLOSING -> CLOSE: handed to a timewait socket */
	TF_CE_ORDERLY,		/* LAST_ACK -> CLOSE: our FIN was acknowledged */
	TF_CE_RESET,		/* a reset was sent or received */
	TF_CE_TIMEOUT,		/* no reset, no FIN handshake: gave up (timers) */
	TF_CE_MAX,
};

enum tf_reset_dir {
	TF_RST_NONE = 0,
	TF_RST_SENT = 1,
	TF_RST_RECEIVED = 2,
	TF_RST_MAX,
};

/* How handshake_ns was measured. */
enum tf_hs_method {
	TF_HS_NONE = 0,
	TF_HS_SYN_SENT,		/* client: SYN_SENT -> ESTABLISHED, both from the tracepoint */
	TF_HS_SYNACK_RTT,	/* server: first RTT sample = first SYN-ACK -> final ACK */
	TF_HS_SYNACK_TS,	/* server: kernel's first SYN-ACK timestamp -> ESTABLISHED */
};

/* The decisions about one record (no timeline arrays: see tf_verdict_point). */
struct tf_verdict {
	__u64 t0_ns;		/* CLOCK_MONOTONIC origin of the timeline */
	__u64 syn_recv_ns;	/* server: derived start of SYN_RECV (with `derived`) */
	__s64 handshake_ns;	/* -1: none */
	__s64 close_ns;		/* first FIN sent or received -> CLOSE; -1: none */
	__s64 fin_ack_ns;	/* our first FIN -> its ACK; -1 */
	__s64 time_wait_at_ns;	/* hand-over to the timewait socket, since t0; -1 */
	__s64 lifetime_ns;	/* t0 -> last event */
	__u8 n;			/* state changes kept (<= TF_MAX_STATES) */
	__u8 first;		/* first state change on the timeline (1: the derived point replaces it) */
	__u8 role;		/* enum tf_role */
	__u8 close_kind;	/* enum tf_close_kind */
	__u8 close_end;		/* enum tf_close_end */
	__u8 reset;		/* enum tf_reset_dir */
	__u8 hs_method;		/* enum tf_hs_method */
	__u8 complete;		/* whole lifecycle seen (start and CLOSE) */
	__u8 time_wait;		/* handed to a timewait socket */
	__u8 gap;		/* a change TCP cannot make: events were missed */
	__u8 derived;		/* the timeline begins with a derived SYN_RECV at syn_recv_ns */
	__u8 _pad[5];
};

#define TF_SM(i) ((i) & (TF_MAX_STATES - 1))	/* an index the verifier knows is in range */

/* State before change i (the previous change's new state, or first_old). */
TF_INLINE int tf_state_before(const struct tf_conn *c, int i)
{
	return i > 0 ? c->state[TF_SM(i - 1)] : c->first_old;
}

/*
 * Can tcp_set_state() go from `from` to `to` in one step? Every change but
 * the listener's and TIME_WAIT (never traced: the timewait socket takes
 * over at FIN_WAIT2/CLOSING -> CLOSE). Any state may abort to CLOSE. A
 * record with another pair missed events in between, whatever the cause.
 */
TF_INLINE int tf_tcp_step(int from, int to)
{
	if (from == to)		/* a sweep's snapshot of a socket, or a repeated change */
		return 1;
	if (to == TF_CLOSE)
		return 1;
	switch (from) {
	case TF_CLOSE:
		return to == TF_SYN_SENT;
	case TF_LISTEN:
		return to == TF_SYN_RECV;
	case TF_SYN_SENT:	/* SYN_RECV: simultaneous open */
		return to == TF_ESTABLISHED || to == TF_SYN_RECV;
	case TF_SYN_RECV:	/* FIN_WAIT1: a Fast Open child closed before the ACK */
		return to == TF_ESTABLISHED || to == TF_FIN_WAIT1;
	case TF_ESTABLISHED:
		return to == TF_FIN_WAIT1 || to == TF_CLOSE_WAIT;
	case TF_FIN_WAIT1:
		return to == TF_FIN_WAIT2 || to == TF_CLOSING;
	case TF_CLOSE_WAIT:
		return to == TF_LAST_ACK;
	default:		/* FIN_WAIT2, CLOSING, LAST_ACK: only CLOSE */
		return 0;
	}
}

/*
 * Where things happened among the state changes kept: the first change to
 * each state that matters (-1: none), the acknowledgement of our first
 * FIN, a missing step. One pass: the BPF verifier checks one loop, not one
 * per question (bpf/kmetrics.h keeps this struct in memory between the two
 * halves, so that the indices stay unknown to it and its paths merge).
 */
struct tf_vscan {
	__s32 n;		/* state changes kept */
	__s32 est, fw1, cw, la;	/* first ESTABLISHED, FIN_WAIT1, CLOSE_WAIT, LAST_ACK */
	__s32 closing;		/* 1: CLOSING seen */
	__s32 fin_acked;	/* first change after fw1 that acknowledged our FIN; -1 */
	__s32 gap;		/* a change TCP cannot make */
};

TF_INLINE void tf_vscan_note(volatile __s32 *first, int i)
{
	if (*first < 0)
		*first = i;
}

/*
 * x is volatile here: kept in registers, the indices found would be
 * constants to the verifier, a different state for each combination.
 */
TF_INLINE void tf_verdict_scan(const struct tf_conn *c, struct tf_vscan *xs)
{
	volatile struct tf_vscan *x = xs;
	int n = c->nstates > TF_MAX_STATES ? TF_MAX_STATES : c->nstates;
	/* the last slot of a truncated record jumps: not a gap */
	int last = (c->flags & TF_F_STATES_TRUNC) ? n - 1 : n;
	int clean = !c->close_err && !(c->flags & (TF_F_RST_SENT | TF_F_RST_RECV));

	x->n = n;
	x->est = x->fw1 = x->cw = x->la = x->fin_acked = -1;
	x->closing = x->gap = 0;
	for (int i = 0; i < TF_MAX_STATES; i++) {
		int st, before;

		if (i >= n)
			break;
		st = c->state[i];
		before = tf_state_before(c, i);
		if (i < last && !tf_tcp_step(before, st))
			x->gap = 1;
		if (x->fw1 >= 0 && x->fin_acked < 0 &&
		    (st == TF_FIN_WAIT2 || (st == TF_CLOSE && before == TF_CLOSING && clean)))
			x->fin_acked = i;
		if (st == TF_ESTABLISHED)
			tf_vscan_note(&x->est, i);
		else if (st == TF_FIN_WAIT1)
			tf_vscan_note(&x->fw1, i);
		else if (st == TF_CLOSE_WAIT)
			tf_vscan_note(&x->cw, i);
		else if (st == TF_LAST_ACK)
			tf_vscan_note(&x->la, i);
		else if (st == TF_CLOSING)
			x->closing = 1;
	}
}

/*
 * Server handshake: the child socket's SYN_RECV and ESTABLISHED events both
 * fire at the final ACK. The kernel knows better: the first SYN-ACK's send
 * time (seen when it was retransmitted) or the first RTT sample, which
 * tcp_synack_rtt_meas() takes from the SYN-ACK when it was not retransmitted.
 */
TF_INLINE void tf_server_handshake(const struct tf_conn *c, int est, struct tf_verdict *v)
{
	__u64 est_ns = c->state_ns[TF_SM(est)];
	/*
	 * The RTT sample ends where the final ACK made the child: at its first
	 * event when we saw it. Usually microseconds before ESTABLISHED, but an
	 * interrupt in between (134 us seen in CI) would otherwise date the
	 * SYN-ACK after the child existed.
	 */
	__u64 ack_ns = c->first_old == TF_LISTEN && est > 0 ? c->state_ns[0] : est_ns;

	if ((c->flags & TF_F_SYNACK_TS) && c->synack_first_ns && c->synack_first_ns <= est_ns) {
		v->handshake_ns = (__s64)(est_ns - c->synack_first_ns);
		v->hs_method = TF_HS_SYNACK_TS;
	} else if (c->srtt_us) {
		v->handshake_ns = (__s64)(est_ns - ack_ns) + (__s64)c->srtt_us * 1000;
		v->hs_method = TF_HS_SYNACK_RTT;
	}
}

TF_INLINE int tf_close_kind(const struct tf_conn *c, const struct tf_vscan *x, int closed,
			    int established, const struct tf_verdict *v)
{
	if (x->closing || c->first_old == TF_CLOSING)
		return TF_CK_SIMULTANEOUS;
	if (x->fw1 >= 0 && (x->cw < 0 || x->fw1 < x->cw))
		return TF_CK_ACTIVE;
	if (x->cw >= 0)
		return TF_CK_PASSIVE;
	if (c->first_old == TF_FIN_WAIT1 || c->first_old == TF_FIN_WAIT2)
		return TF_CK_ACTIVE;
	if (c->first_old == TF_CLOSE_WAIT || c->first_old == TF_LAST_ACK)
		return TF_CK_PASSIVE;
	if (!closed)
		return TF_CK_OPEN;
	if (!established && v->role == TF_ROLE_CLIENT)
		return v->reset == TF_RST_RECEIVED ? TF_CK_REFUSED : TF_CK_CONNECT_FAILED;
	if (!established && v->role == TF_ROLE_SERVER)
		return v->reset ? TF_CK_RESET : TF_CK_HANDSHAKE_FAILED;
	return v->reset ? TF_CK_RESET : TF_CK_TIMEOUT;
}

TF_INLINE int tf_close_end(const struct tf_conn *c, int n, int closed, const struct tf_verdict *v)
{
	int prev;

	if (!closed)
		return TF_CE_OPEN;
	prev = tf_state_before(c, n - 1);
	if (v->reset)
		return TF_CE_RESET;
	if (c->close_err)	/* retransmissions timed out: no ACK of our FIN, no TIME-WAIT */
		return TF_CE_TIMEOUT;
	if (prev == TF_FIN_WAIT2 || prev == TF_CLOSING)
		return TF_CE_TIME_WAIT;
	if (prev == TF_LAST_ACK)
		return TF_CE_ORDERLY;
	return TF_CE_TIMEOUT;
}

/* Our first FIN -> its acknowledgement; -1 when not seen. */
TF_INLINE __s64 tf_fin_ack(const struct tf_conn *c, const struct tf_vscan *x)
{
	int clean = !c->close_err && !(c->flags & (TF_F_RST_SENT | TF_F_RST_RECV));

	if (x->fw1 >= 0)
		return x->fin_acked < 0 ? -1 :
		       (__s64)(c->state_ns[TF_SM(x->fin_acked)] - c->state_ns[TF_SM(x->fw1)]);
	if (x->la >= 0 && x->la + 1 < x->n && c->state[TF_SM(x->la + 1)] == TF_CLOSE && clean)
		return (__s64)(c->state_ns[TF_SM(x->la + 1)] - c->state_ns[TF_SM(x->la)]);
	return -1;
}

/* Fill *v from *c and its scan. Never fails: odd records give odd but bounded verdicts. */
TF_INLINE void tf_verdict_finish(const struct tf_conn *c, const struct tf_vscan *x,
				 struct tf_verdict *v)
{
	int n = x->n, est = x->est;
	int closed = n > 0 && c->state[TF_SM(n - 1)] == TF_CLOSE && !(c->flags & TF_F_OPEN);
	int established = est >= 0 || (c->flags & TF_F_MIDLIFE);
	/* the first FIN sent or received, whichever came first */
	int fin = x->fw1 < 0 || (x->cw >= 0 && x->cw < x->fw1) ? x->cw : x->fw1;

	__builtin_memset(v, 0, sizeof(*v));
	v->n = (__u8)n;
	v->role = c->role;
	v->handshake_ns = v->close_ns = v->fin_ack_ns = v->time_wait_at_ns = -1;
	v->t0_ns = n ? c->state_ns[0] : 0;
	if (c->flags & TF_F_RST_SENT)
		v->reset = TF_RST_SENT;
	else if (c->flags & TF_F_RST_RECV)
		v->reset = TF_RST_RECEIVED;

	if (!(c->flags & TF_F_MIDLIFE) && est > 0) {
		if (c->role == TF_ROLE_CLIENT && c->state[0] == TF_SYN_SENT) {
			v->handshake_ns = (__s64)(c->state_ns[TF_SM(est)] - c->state_ns[0]);
			v->hs_method = TF_HS_SYN_SENT;
		} else if (c->role == TF_ROLE_SERVER) {
			tf_server_handshake(c, est, v);
		}
	}
	/* A server's SYN_RECV began at the first SYN-ACK, not at the child's event. */
	if (v->hs_method == TF_HS_SYNACK_TS || v->hs_method == TF_HS_SYNACK_RTT) {
		v->derived = 1;
		v->syn_recv_ns = c->state_ns[TF_SM(est)] - (__u64)v->handshake_ns;
		if (v->syn_recv_ns < v->t0_ns)
			v->t0_ns = v->syn_recv_ns;
		if (c->state[0] == TF_SYN_RECV)
			v->first = 1;
	}

	v->close_kind = (__u8)tf_close_kind(c, x, closed, established, v);
	v->close_end = (__u8)tf_close_end(c, n, closed, v);
	v->time_wait = v->close_end == TF_CE_TIME_WAIT;
	v->gap = (__u8)x->gap;
	v->complete = closed && !v->gap &&
		      !(c->flags & (TF_F_MIDLIFE | TF_F_REPLACED | TF_F_STATES_TRUNC));
	if (n)
		v->lifetime_ns = (__s64)(c->state_ns[TF_SM(n - 1)] - v->t0_ns);
	if (closed && fin >= 0)
		v->close_ns = (__s64)(c->state_ns[TF_SM(n - 1)] - c->state_ns[TF_SM(fin)]);
	v->fin_ack_ns = tf_fin_ack(c, x);
	if (v->time_wait)
		v->time_wait_at_ns = (__s64)(c->state_ns[TF_SM(n - 1)] - v->t0_ns);
}

TF_INLINE void tf_verdict(const struct tf_conn *c, struct tf_verdict *v)
{
	struct tf_vscan x;

	tf_verdict_scan(c, &x);
	tf_verdict_finish(c, &x, v);
}

/* Points on the timeline: the derived SYN_RECV (if any), then the changes from `first`. */
TF_INLINE int tf_verdict_points(const struct tf_verdict *v)
{
	return v->derived + v->n - v->first;
}

/* Point i: its state and CLOCK_MONOTONIC time; *derived when computed, not traced. */
TF_INLINE void tf_verdict_point(const struct tf_conn *c, const struct tf_verdict *v, int i,
				int *state, __u64 *t_ns, int *derived)
{
	int k;

	*derived = 0;
	if (v->derived) {
		if (i == 0) {
			*state = TF_SYN_RECV;
			*t_ns = v->syn_recv_ns;
			*derived = 1;
			return;
		}
		i--;
	}
	k = TF_SM(i + v->first);
	*state = c->state[k];
	*t_ns = c->state_ns[k];
}

/*
 * Ended X -> CLOSE without a reset from a state where tcp_disconnect() or
 * an abort sends one right after CLOSE (struct tf_reset_event): such a
 * record waits a moment for it in user space (src/core.c).
 */
TF_INLINE int tf_may_get_late_reset(const struct tf_conn *c)
{
	int n = c->nstates, prev;

	if (n < 1 || n > TF_MAX_STATES || c->state[TF_SM(n - 1)] != TF_CLOSE ||
	    (c->flags & (TF_F_OPEN | TF_F_RST_SENT | TF_F_RST_RECV)))
		return 0;
	prev = n > 1 ? c->state[TF_SM(n - 2)] : c->first_old;
	/* not FIN_WAIT2: that is the everyday TIME-WAIT hand-over, never held back */
	return prev == TF_ESTABLISHED || prev == TF_CLOSE_WAIT || prev == TF_FIN_WAIT1 ||
	       prev == TF_SYN_RECV;
}

#endif /* TF_SUMMARY_H */
