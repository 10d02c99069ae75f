/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The heart: a folded kernel record (struct tf_conn) turned into what a
 * person asks of a connection -- role, handshake time, who closed first,
 * how it ended, TIME-WAIT, retransmissions on a timeline. Pure C, no I/O.
 */
#ifndef TF_CONN_H
#define TF_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include "tcpflow.h"
#include "tf_summary.h"	/* the enums below, and the decisions behind them */

struct tf_state_point {
	int state;		/* enum tf_tcp_state */
	int64_t t_ns;		/* since tf_summary.t0_ns */
	bool derived;		/* not a tracepoint event: computed from kernel timestamps */
};

struct tf_cgroup_name;

struct tf_retrans_point {
	int64_t t_ns;		/* since tf_summary.t0_ns (negative is possible only for bad input) */
	int state;		/* socket state when it was sent */
	int kind;		/* enum tf_retrans_kind */
};

struct tf_summary {
	const struct tf_conn *rec;	/* the raw record (addresses, pid, comm, counters) */
	const struct tf_cgroup_name *cgroup;	/* rec->cgroup_id named (cgroup.h); NULL: not */
	uint64_t t0_ns;			/* CLOCK_MONOTONIC origin of every t_ns */
	int role;			/* enum tf_role */
	int close_kind;			/* enum tf_close_kind */
	int close_end;			/* enum tf_close_end */
	int reset;			/* enum tf_reset_dir */
	int hs_method;			/* enum tf_hs_method */
	bool complete;			/* whole lifecycle seen (start and CLOSE) */
	bool time_wait;			/* handed to a timewait socket */
	bool gap;			/* a change TCP cannot make: events were missed */
	int64_t handshake_ns;		/* -1: none */
	int64_t close_ns;		/* first FIN sent or received -> CLOSE; -1: none */
	int64_t fin_ack_ns;		/* our first FIN -> its ACK (FIN_WAIT1->FIN_WAIT2/CLOSING->, LAST_ACK->CLOSE); -1 */
	int64_t time_wait_at_ns;	/* hand-over to the timewait socket; -1 */
	int64_t lifetime_ns;		/* t0 -> last event */
	int nstates;
	struct tf_state_point states[TF_MAX_STATES + 1];
	int nretrans;
	struct tf_retrans_point retrans[TF_MAX_RETRANS];
	struct tf_verdict verdict;	/* the decisions above, as the kernel's fold takes them */
};

/* Fill *s from *c. Never fails: odd records give odd but bounded summaries. */
void tf_summarize(const struct tf_conn *c, struct tf_summary *s);

/* Names as the JSON prints them; states are the kernel's (docs/KERNEL.md). */
const char *tf_state_name(int state);
const char *tf_role_name(int role);
const char *tf_close_kind_name(int kind);
const char *tf_close_end_name(int end);
const char *tf_reset_name(int dir);
const char *tf_retrans_kind_name(int kind);
const char *tf_hs_method_name(int method);
/* "ipv4" or "ipv6" (any family but AF_INET6 is IPv4, as to tf_fmt_addr) */
const char *tf_family_name(int family);
/* The reader's side: AF_INET or AF_INET6 for a tf_family_name(), 0 for another name. */
int tf_family_of(const char *name);

/*
 * The "flags" of a connection record, in the order the JSON lists them: one
 * table of names for the writer (sink_json.c) and the reader (the report).
 */
enum tf_rec_flag {
	TF_RF_MIDLIFE = 0,	/* began_before_trace: TF_F_MIDLIFE */
	TF_RF_OPEN,		/* open_at_exit: TF_F_OPEN */
	TF_RF_STATES_TRUNC,	/* states_truncated: TF_F_STATES_TRUNC */
	TF_RF_RETRANS_TRUNC,	/* retransmits_truncated: TF_F_RETRANS_TRUNC */
	TF_RF_REPLACED,		/* close_not_seen: TF_F_REPLACED */
	TF_RF_PID_LISTENER,	/* pid_from_listener: TF_F_PID_LISTENER */
	TF_RF_PID_CLOSE,	/* pid_from_close: TF_F_PID_CLOSE */
	TF_RF_LOST,		/* events_lost: TF_F_LOST_EVENTS */
	TF_RF_GAP,		/* missed_transitions: tf_summary.gap, not a kernel flag */
	TF_RF_MAX,
};

/* The flag's name in the JSON; NULL past the end. */
const char *tf_rec_flag_name(int flag);
/* The flags of a summary's record: bit (1 << enum tf_rec_flag) for each one set. */
unsigned int tf_rec_flags(const struct tf_summary *s);

#endif /* TF_CONN_H */
