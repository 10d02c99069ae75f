/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The close side's derived records: each TIME-WAIT sweep's snapshot, a
 * TIME-WAIT that ended, a half-closed connection stuck past --stuck. The
 * close-side logic makes them (twtrack.c, stuck.c, driven by timewait.c);
 * they flow forward through the core to the sinks and the metrics registry.
 * Below the output interface (sink.h), so that logic need not include it.
 */
#ifndef TF_CLOSESIDE_H
#define TF_CLOSESIDE_H

#include <stdbool.h>
#include <stdint.h>
#include "tcpflow.h"

#define TF_TW_TOP 10

/* TIME-WAIT sockets grouped by one endpoint (local port, or remote addr:port). */
struct tf_tw_group {
	uint32_t netns;			/* --netns all: its namespace; else 0 */
	int family;
	uint8_t addr[16];		/* remote address (by_remote), zero for by_lport */
	uint16_t port;			/* local port (by_lport) or remote port (by_remote) */
	uint64_t count;
	int64_t oldest_age_ns;		/* since the oldest one's hand-over (as far as known) */
	int64_t newest_age_ns;
	int64_t min_remaining_ns;	/* timer left, from tw_timer.expires */
	int64_t max_remaining_ns;
};

/* Why a timewait socket went away. */
enum tf_tw_end_reason {
	TF_TWE_EXPIRED = 0,	/* its 2MSL timer ran out (60 s on Linux) */
	TF_TWE_REUSED,		/* a new connect() took over the 4-tuple (tcp_tw_reuse) */
	TF_TWE_RESET,		/* killed by an incoming RST */
	TF_TWE_NETNS_GONE,	/* its network namespace was torn down */
	TF_TWE_UNKNOWN,
	TF_TWE_NOT_SWEPT,	/* no end known: its namespace could not be looked into */
	TF_TWE_MAX,
};

/* One sweep of the TIME-WAIT population (every --tw-interval). */
struct tf_tw_snapshot {
	uint64_t now_ns;			/* CLOCK_MONOTONIC of the sweep */
	uint64_t total;				/* timewait sockets seen (after --netns/--port filters) */
	uint64_t fin_wait2_substate;		/* of which still waiting for the peer's FIN */
	uint64_t overflow;			/* TcpExt TCPTimeWaitOverflow (host), cumulative */
	uint64_t ended[TF_TWE_MAX];		/* cumulative, by reason */
	int n_by_lport, n_by_remote;
	struct tf_tw_group by_lport[TF_TW_TOP];		/* biggest first */
	struct tf_tw_group by_remote[TF_TW_TOP];
	/* the same sweep's full sockets, any owner (traced or not) */
	uint64_t close_wait;			/* sockets in CLOSE_WAIT */
	uint64_t fin_wait2;			/* full sockets in FIN_WAIT2 (after shutdown(SHUT_WR), ...) */
	uint64_t fin_wait2_orphaned;		/* of which closed by the application */
	uint64_t untracked;			/* timewait sockets beyond the tracker's cap: no end reported */
	int64_t interval_ns;			/* sweep period */
	int64_t sweep_cost_ns;			/* CPU time of this sweep (walk, lookups, bookkeeping) */
	uint64_t looked_up;			/* TIME-WAITs in other namespaces looked up in it */
	bool by_netns;				/* --netns all: the census is of every namespace,
						 * its groups per namespace (tf_tw_group.netns) */
};

/* Where tf_tw_end.handover_ns comes from. */
enum tf_tw_handover_src {
	TF_TWH_UNKNOWN = 0,	/* began before tracing, kernel without tw_entry_stamp: 0 */
	TF_TWH_KERNEL_STAMP,	/* the timewait socket's tw_entry_stamp (ms resolution) */
	TF_TWH_TRACED,		/* the hand-over state change (FIN_WAIT2/CLOSING -> CLOSE) */
	TF_TWH_MAX,
};

/* A TIME-WAIT that ended, tied to the connection that handed over to it. */
struct tf_tw_end {
	int family;
	uint32_t netns, pid;
	char comm[TF_COMM_LEN];
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint64_t handover_ns;		/* CLOCK_MONOTONIC; 0 when it began before tracing */
	uint64_t end_ns;		/* first sweep (or event) that saw it gone; 0: not_swept */
	int64_t precision_ns;		/* end_ns is late by at most this (sweep interval) */
	int reason;			/* enum tf_tw_end_reason */
	int substate;			/* last seen: TF_TIME_WAIT, or TF_FIN_WAIT2 (peer's FIN never came) */
	int handover_src;		/* enum tf_tw_handover_src */
};

/* A half-closed connection older than --stuck. */
struct tf_stuck {
	const struct tf_conn *rec;	/* the kernel's live record (state = last change) */
	int state;			/* TF_CLOSE_WAIT or TF_FIN_WAIT2 */
	int64_t age_ns;			/* time in that state */
	bool orphaned;			/* FIN_WAIT2 with no owner: the kernel times it out */
	bool idle_age;			/* began before tracing: age_ns is the time since the
					 * peer's last ACK (tp->rcv_tstamp), not since the state
					 * change; rec is built from the socket walk */
};

/* Names as the JSON and the metrics write them ("unknown" past the end). */
const char *tf_tw_end_name(int reason);		/* enum tf_tw_end_reason */
const char *tf_tw_handover_name(int src);	/* enum tf_tw_handover_src */

#endif /* TF_CLOSESIDE_H */
