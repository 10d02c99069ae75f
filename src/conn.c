// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Folded kernel record -> connection summary. See conn.h. */
#include <string.h>
#include <sys/socket.h>
#include "conn.h"

static const char *const state_names[TF_STATE_MAX] = {
	[TF_ESTABLISHED] = "ESTABLISHED", [TF_SYN_SENT] = "SYN_SENT",
	[TF_SYN_RECV] = "SYN_RECV",	  [TF_FIN_WAIT1] = "FIN_WAIT1",
	[TF_FIN_WAIT2] = "FIN_WAIT2",	  [TF_TIME_WAIT] = "TIME_WAIT",
	[TF_CLOSE] = "CLOSE",		  [TF_CLOSE_WAIT] = "CLOSE_WAIT",
	[TF_LAST_ACK] = "LAST_ACK",	  [TF_LISTEN] = "LISTEN",
	[TF_CLOSING] = "CLOSING",	  [TF_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

static const char *const close_kind_names[TF_CK_MAX] = {
	[TF_CK_OPEN] = "open",
	[TF_CK_ACTIVE] = "active",
	[TF_CK_PASSIVE] = "passive",
	[TF_CK_SIMULTANEOUS] = "simultaneous",
	[TF_CK_RESET] = "reset",
	[TF_CK_REFUSED] = "refused",
	[TF_CK_CONNECT_FAILED] = "connect_failed",
	[TF_CK_TIMEOUT] = "timeout",
	[TF_CK_HANDSHAKE_FAILED] = "handshake_failed",
};

static const char *const close_end_names[TF_CE_MAX] = {
	[TF_CE_OPEN] = "open",		[TF_CE_TIME_WAIT] = "time_wait",
	[TF_CE_ORDERLY] = "orderly",	[TF_CE_RESET] = "reset",
	[TF_CE_TIMEOUT] = "timeout",
};

/* A record flag: its name, and the kernel's TF_F_* bit (0: derived in user space). */
static const struct {
	__u16 kernel;
	const char *name;
} rec_flags[TF_RF_MAX] = {
	[TF_RF_MIDLIFE] = { TF_F_MIDLIFE, "began_before_trace" },
	[TF_RF_OPEN] = { TF_F_OPEN, "open_at_exit" },
	[TF_RF_STATES_TRUNC] = { TF_F_STATES_TRUNC, "states_truncated" },
	[TF_RF_RETRANS_TRUNC] = { TF_F_RETRANS_TRUNC, "retransmits_truncated" },
	[TF_RF_REPLACED] = { TF_F_REPLACED, "close_not_seen" },
	[TF_RF_PID_LISTENER] = { TF_F_PID_LISTENER, "pid_from_listener" },
	[TF_RF_PID_CLOSE] = { TF_F_PID_CLOSE, "pid_from_close" },
	[TF_RF_LOST] = { TF_F_LOST_EVENTS, "events_lost" },
	[TF_RF_GAP] = { 0, "missed_transitions" },
};

#define NAME_OR(tbl, i, dflt) \
	(((i) >= 0 && (size_t)(i) < sizeof(tbl) / sizeof((tbl)[0]) && (tbl)[i]) ? (tbl)[i] : (dflt))

const char *tf_state_name(int state)
{
	return NAME_OR(state_names, state, "UNKNOWN");
}

const char *tf_role_name(int role)
{
	static const char *const n[TF_ROLE_MAX] = { "unknown", "client", "server" };

	return NAME_OR(n, role, "unknown");
}

const char *tf_close_kind_name(int kind)
{
	return NAME_OR(close_kind_names, kind, "unknown");
}

const char *tf_close_end_name(int end)
{
	return NAME_OR(close_end_names, end, "unknown");
}

const char *tf_reset_name(int dir)
{
	static const char *const n[TF_RST_MAX] = { NULL, "sent", "received" };

	return NAME_OR(n, dir, NULL);
}

const char *tf_retrans_kind_name(int kind)
{
	static const char *const n[TF_RETRANS_KIND_MAX] = { "DATA", "SYN", "SYNACK", "FIN" };

	return NAME_OR(n, kind, "DATA");
}

const char *tf_hs_method_name(int method)
{
	static const char *const n[] = { NULL, "syn_sent", "synack_rtt", "synack_ts" };

	return NAME_OR(n, method, NULL);
}

const char *tf_family_name(int family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

int tf_family_of(const char *name)
{
	static const int af[] = { AF_INET, AF_INET6 };

	for (size_t i = 0; name && i < sizeof(af) / sizeof(af[0]); i++)
		if (!strcmp(name, tf_family_name(af[i])))
			return af[i];
	return 0;
}

/* Index of the first state change to `state`, or -1. */
static int find_state(const struct tf_conn *c, int n, int state)
{
	for (int i = 0; i < n; i++)
		if (c->state[i] == state)
			return i;
	return -1;
}

/* State before change i (the previous change's new state, or first_old). */
static int state_before(const struct tf_conn *c, int i)
{
	return i > 0 ? c->state[i - 1] : c->first_old;
}

/*
 * Can tcp_set_state() go from `from` to `to` in one step? Every change but
 * the listener's and TIME_WAIT (never traced: the timewait socket takes
 * over at FIN_WAIT2/CLOSING -> CLOSE). Any state may abort to CLOSE. A
 * record with another pair missed events in between, whatever the cause.
 */
static bool tcp_step(int from, int to)
{
	if (from == to)		/* a sweep's snapshot of a socket, or a repeated change */
		return true;
	if (to == TF_CLOSE)
		return true;
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
		return false;
	}
}

/* Is a step missing between the changes kept (the last slot of a truncated record jumps)? */
static bool has_gap(const struct tf_conn *c, int n)
{
	int last = (c->flags & TF_F_STATES_TRUNC) ? n - 1 : n;

	for (int i = 0; i < last; i++)
		if (!tcp_step(state_before(c, i), c->state[i]))
			return true;
	return false;
}

/*
 * Server handshake: the child socket's SYN_RECV and ESTABLISHED events both
 * fire at the final ACK. The kernel knows better: the first SYN-ACK's send
 * time (seen when it was retransmitted) or the first RTT sample, which
 * tcp_synack_rtt_meas() takes from the SYN-ACK when it was not retransmitted.
 */
static void server_handshake(const struct tf_conn *c, int est, struct tf_summary *s)
{
	uint64_t est_ns = c->state_ns[est];
	/*
	 * The RTT sample ends where the final ACK made the child: at its first
	 * event when we saw it. Usually microseconds before ESTABLISHED, but an
	 * interrupt in between (134 us seen in CI) would otherwise date the
	 * SYN-ACK after the child existed.
	 */
	uint64_t ack_ns = c->first_old == TF_LISTEN && est > 0 ? c->state_ns[0] : est_ns;

	if ((c->flags & TF_F_SYNACK_TS) && c->synack_first_ns &&
	    c->synack_first_ns <= est_ns) {
		s->handshake_ns = (int64_t)(est_ns - c->synack_first_ns);
		s->hs_method = TF_HS_SYNACK_TS;
	} else if (c->srtt_us) {
		s->handshake_ns = (int64_t)(est_ns - ack_ns) + (int64_t)c->srtt_us * 1000;
		s->hs_method = TF_HS_SYNACK_RTT;
	}
}

static void close_kind(const struct tf_conn *c, int n, bool closed, bool established,
		       struct tf_summary *s)
{
	int fw1 = find_state(c, n, TF_FIN_WAIT1);
	int cw = find_state(c, n, TF_CLOSE_WAIT);

	if (find_state(c, n, TF_CLOSING) >= 0 || c->first_old == TF_CLOSING)
		s->close_kind = TF_CK_SIMULTANEOUS;
	else if (fw1 >= 0 && (cw < 0 || fw1 < cw))
		s->close_kind = TF_CK_ACTIVE;
	else if (cw >= 0)
		s->close_kind = TF_CK_PASSIVE;
	else if (c->first_old == TF_FIN_WAIT1 || c->first_old == TF_FIN_WAIT2)
		s->close_kind = TF_CK_ACTIVE;
	else if (c->first_old == TF_CLOSE_WAIT || c->first_old == TF_LAST_ACK)
		s->close_kind = TF_CK_PASSIVE;
	else if (!closed)
		s->close_kind = TF_CK_OPEN;
	else if (!established && s->role == TF_ROLE_CLIENT)
		s->close_kind = s->reset == TF_RST_RECEIVED ? TF_CK_REFUSED : TF_CK_CONNECT_FAILED;
	else if (!established && s->role == TF_ROLE_SERVER)
		s->close_kind = s->reset ? TF_CK_RESET : TF_CK_HANDSHAKE_FAILED;
	else
		s->close_kind = s->reset ? TF_CK_RESET : TF_CK_TIMEOUT;
}

static void close_end(const struct tf_conn *c, int n, bool closed, struct tf_summary *s)
{
	int prev;

	if (!closed) {
		s->close_end = TF_CE_OPEN;
		return;
	}
	prev = state_before(c, n - 1);
	if (s->reset)
		s->close_end = TF_CE_RESET;
	else if (c->close_err)	/* retransmissions timed out: no ACK of our FIN, no TIME-WAIT */
		s->close_end = TF_CE_TIMEOUT;
	else if (prev == TF_FIN_WAIT2 || prev == TF_CLOSING)
		s->close_end = TF_CE_TIME_WAIT;
	else if (prev == TF_LAST_ACK)
		s->close_end = TF_CE_ORDERLY;
	else
		s->close_end = TF_CE_TIMEOUT;
	s->time_wait = s->close_end == TF_CE_TIME_WAIT;
}

/* Our first FIN -> its acknowledgement. */
static int64_t fin_ack(const struct tf_conn *c, int n)
{
	int fw1 = find_state(c, n, TF_FIN_WAIT1);
	int la = find_state(c, n, TF_LAST_ACK);
	int i;

	if (fw1 >= 0) {
		for (i = fw1 + 1; i < n; i++) {
			if (c->state[i] == TF_FIN_WAIT2 ||
			    (c->state[i] == TF_CLOSE && state_before(c, i) == TF_CLOSING && !c->close_err &&
			     !(c->flags & (TF_F_RST_SENT | TF_F_RST_RECV))))
				return (int64_t)(c->state_ns[i] - c->state_ns[fw1]);
		}
		return -1;
	}
	if (la >= 0 && la + 1 < n && c->state[la + 1] == TF_CLOSE && !c->close_err &&
	    !(c->flags & (TF_F_RST_SENT | TF_F_RST_RECV)))
		return (int64_t)(c->state_ns[la + 1] - c->state_ns[la]);
	return -1;
}

void tf_summarize(const struct tf_conn *c, struct tf_summary *s)
{
	int n = c->nstates > TF_MAX_STATES ? TF_MAX_STATES : c->nstates;
	int nr = c->nretrans > TF_MAX_RETRANS ? TF_MAX_RETRANS : c->nretrans;
	int est = find_state(c, n, TF_ESTABLISHED);
	bool closed = n > 0 && c->state[n - 1] == TF_CLOSE && !(c->flags & TF_F_OPEN);
	bool established = est >= 0 || (c->flags & TF_F_MIDLIFE);
	int first = 0, i, fin;

	memset(s, 0, sizeof(*s));
	s->rec = c;
	s->role = c->role;
	s->handshake_ns = s->close_ns = s->fin_ack_ns = s->time_wait_at_ns = -1;
	s->t0_ns = n ? c->state_ns[0] : 0;
	if (c->flags & TF_F_RST_SENT)
		s->reset = TF_RST_SENT;
	else if (c->flags & TF_F_RST_RECV)
		s->reset = TF_RST_RECEIVED;

	if (!(c->flags & TF_F_MIDLIFE) && est > 0) {
		if (c->role == TF_ROLE_CLIENT && c->state[0] == TF_SYN_SENT) {
			s->handshake_ns = (int64_t)(c->state_ns[est] - c->state_ns[0]);
			s->hs_method = TF_HS_SYN_SENT;
		} else if (c->role == TF_ROLE_SERVER) {
			server_handshake(c, est, s);
		}
	}

	/* A server's SYN_RECV began at the first SYN-ACK, not at the child's event. */
	if (s->hs_method == TF_HS_SYNACK_TS || s->hs_method == TF_HS_SYNACK_RTT) {
		uint64_t syn_recv = c->state_ns[est] - (uint64_t)s->handshake_ns;

		if (syn_recv < s->t0_ns)
			s->t0_ns = syn_recv;
		s->states[s->nstates++] = (struct tf_state_point){
			.state = TF_SYN_RECV, .t_ns = (int64_t)(syn_recv - s->t0_ns), .derived = true,
		};
		if (c->state[0] == TF_SYN_RECV)
			first = 1;
	}
	for (i = first; i < n; i++)
		s->states[s->nstates++] = (struct tf_state_point){
			.state = c->state[i], .t_ns = (int64_t)(c->state_ns[i] - s->t0_ns),
		};
	for (i = 0; i < nr; i++)
		s->retrans[s->nretrans++] = (struct tf_retrans_point){
			.t_ns = (int64_t)(c->retrans_ns[i] - s->t0_ns),
			.state = c->retrans_state[i],
			.kind = c->retrans_kind[i],
		};

	close_kind(c, n, closed, established, s);
	close_end(c, n, closed, s);
	s->gap = has_gap(c, n);
	s->complete = closed && !s->gap &&
		      !(c->flags & (TF_F_MIDLIFE | TF_F_REPLACED | TF_F_STATES_TRUNC));

	if (n)
		s->lifetime_ns = (int64_t)(c->state_ns[n - 1] - s->t0_ns);
	fin = find_state(c, n, TF_FIN_WAIT1);
	i = find_state(c, n, TF_CLOSE_WAIT);
	if (fin < 0 || (i >= 0 && i < fin))
		fin = i;
	if (closed && fin >= 0)
		s->close_ns = (int64_t)(c->state_ns[n - 1] - c->state_ns[fin]);
	s->fin_ack_ns = fin_ack(c, n);
	if (s->time_wait)
		s->time_wait_at_ns = (int64_t)(c->state_ns[n - 1] - s->t0_ns);
}

const char *tf_rec_flag_name(int flag)
{
	return flag >= 0 && flag < TF_RF_MAX ? rec_flags[flag].name : NULL;
}

unsigned int tf_rec_flags(const struct tf_summary *s)
{
	unsigned int f = s->gap ? 1u << TF_RF_GAP : 0;

	for (int i = 0; i < TF_RF_MAX; i++)
		if (s->rec->flags & rec_flags[i].kernel)
			f |= 1u << i;
	return f;
}
