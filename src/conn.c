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

/*
 * Every decision is tf_verdict()'s (include/tf_summary.h), the one the
 * kernel's metrics fold takes too; here only the timeline is laid out.
 */
void tf_summarize(const struct tf_conn *c, struct tf_summary *s)
{
	int nr = c->nretrans > TF_MAX_RETRANS ? TF_MAX_RETRANS : c->nretrans;
	struct tf_verdict v;
	int np;

	tf_verdict(c, &v);
	memset(s, 0, sizeof(*s));
	s->rec = c;
	s->t0_ns = v.t0_ns;
	s->role = v.role;
	s->close_kind = v.close_kind;
	s->close_end = v.close_end;
	s->reset = v.reset;
	s->hs_method = v.hs_method;
	s->complete = v.complete;
	s->time_wait = v.time_wait;
	s->gap = v.gap;
	s->handshake_ns = v.handshake_ns;
	s->close_ns = v.close_ns;
	s->fin_ack_ns = v.fin_ack_ns;
	s->time_wait_at_ns = v.time_wait_at_ns;
	s->lifetime_ns = v.lifetime_ns;
	s->verdict = v;
	np = tf_verdict_points(&v);
	for (int i = 0; i < np && i <= TF_MAX_STATES; i++) {
		struct tf_state_point *p = &s->states[s->nstates++];
		int state, derived;
		__u64 t;

		tf_verdict_point(c, &v, i, &state, &t, &derived);
		*p = (struct tf_state_point){
			.state = state, .t_ns = (int64_t)(t - s->t0_ns), .derived = derived,
		};
	}
	for (int i = 0; i < nr; i++)
		s->retrans[s->nretrans++] = (struct tf_retrans_point){
			.t_ns = (int64_t)(c->retrans_ns[i] - s->t0_ns),
			.state = c->retrans_state[i],
			.kind = c->retrans_kind[i],
		};
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
