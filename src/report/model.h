/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report's model: a --json capture as read back (read.c), its sockets
 * paired (match.c), ready to be chosen from (diagrams.c) and drawn (ladder.c,
 * histogram.c, html.c). Plain data and a few predicates every stage asks; no I/O here.
 */
#ifndef TF_RP_MODEL_H
#define TF_RP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "closeside.h"
#include "conn.h"
#include "fmt.h"
#include "ohash.h"
#include "tf_buckets.h"

#define TF_RP_MAX_LINE (256 * 1024)	/* longer input lines are skipped (counted) */
#define TF_RP_MAX_KEPT 500000		/* connections kept for diagrams and the table */
#define TF_RP_MAX_STATES 24		/* per connection; the tracer writes at most 17 */
#define TF_RP_MAX_RETRANS 24		/* per connection; the tracer writes at most 12 */
#define TF_RP_MAX_STUCK 100000	/* "stuck" records kept for matching */
#define TF_RP_MAX_TW 1000000	/* "time_wait" records kept for matching */
#define TF_RP_MAX_TYPES 16		/* distinct unknown record types named */
#define TF_RP_MAX_GROUPS 65536		/* distinct cgroups kept; more are counted, shown unknown */
#define TF_RP_GROUP_PATH 1024		/* bytes of a cgroup path kept (the JSON writer's limit) */
#define TF_RP_NO_TEXT UINT32_MAX	/* a text of tf_rp_data.text that is null */
#define TF_RP_NONE TF_DUR_NONE	/* a time or duration that is null/absent (INT64_MIN) */

/* conn.flags: the record's "flags" (enum tf_rec_flag, names shared with the writer). */
#define TF_RPF_MIDLIFE		(1u << TF_RF_MIDLIFE)		/* began_before_trace */
#define TF_RPF_OPEN		(1u << TF_RF_OPEN)		/* open_at_exit */
#define TF_RPF_STATES_TRUNC	(1u << TF_RF_STATES_TRUNC)	/* or more states than we keep */
#define TF_RPF_RETRANS_TRUNC	(1u << TF_RF_RETRANS_TRUNC)	/* or more than we keep */
#define TF_RPF_REPLACED		(1u << TF_RF_REPLACED)		/* close_not_seen */
#define TF_RPF_PID_LISTENER	(1u << TF_RF_PID_LISTENER)	/* pid_from_listener */
#define TF_RPF_LOST		(1u << TF_RF_LOST)		/* events_lost */
#define TF_RPF_GAP		(1u << TF_RF_GAP)		/* missed_transitions */
#define TF_RPF_OTHER		(1u << TF_RF_MAX)		/* a flag this version does not know */

struct tf_rp_state {
	int64_t t_us;		/* since the record's start_time */
	uint8_t state;		/* enum tf_tcp_state; 0 when the name is unknown */
	bool derived;
};

struct tf_rp_retrans {
	int64_t t_us;
	uint8_t state;		/* enum tf_tcp_state */
	uint8_t kind;		/* enum tf_retrans_kind */
};

/*
 * A socket's cgroup as records name it: "cgroup_id", "cgroup" (its path),
 * "container_id", "pod_uid". Records naming the same one share it.
 */
struct tf_rp_group {
	uint64_t id;			/* 0 when null */
	uint32_t path, container, pod;	/* into tf_rp_data.text; TF_RP_NO_TEXT when null */
	int next;			/* next group with the same id, -1 at the end */
};

/* One "conn" record as read back. Durations are TF_RP_NONE when null. */
struct tf_rp_conn {
	int64_t start_us;	/* start_time, us since the epoch; TF_RP_NONE if unreadable */
	int64_t handshake_us, close_us, fin_ack_us, time_wait_at_us, lifetime_us;
	int64_t time_wait_us;	/* optional field (TIME-WAIT duration), TF_RP_NONE if absent */
	int64_t stuck_age_us;	/* from a "stuck" record, TF_RP_NONE if none */
	/* what it carried, read at CLOSE: TF_RP_NONE when null (not read); an RTT of 0
	 * is no sample (a refused connect) */
	int64_t bytes_acked, bytes_received, rtt_us, min_rtt_us;
	uint32_t group;		/* 1 + index into tf_rp_data.groups; 0: no cgroup named */
	uint32_t netns, pid;
	uint32_t syn_retrans, synack_retrans, fin_retrans, retrans;
	uint32_t fin_fw1, fin_la, fin_cl;
	uint32_t states_off, retrans_off;	/* into tf_rp_data.states / .retrans */
	uint16_t sport, dport;
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t saddr[16], daddr[16];
	uint8_t role;		/* enum tf_role */
	uint8_t close_kind;	/* enum tf_close_kind; TF_CK_MAX when unknown */
	uint8_t close_end;	/* enum tf_close_end; TF_CE_MAX when unknown */
	uint8_t reset;		/* enum tf_reset_dir */
	uint16_t flags;		/* TF_RPF_* */
	uint8_t nstates, nretrans;
	uint8_t stuck_state;	/* state named by a "stuck" record, 0 if none */
	uint8_t tw_end;		/* 1 + how its TIME-WAIT ended ("time_wait" record), 0 unknown */
	bool time_wait, complete;
	char comm[48];		/* UTF-8, cut at a character boundary */
	int peer;		/* index of the other socket of this connection, or -1 */
	int next;		/* next conn with the same 4-tuple (file order), -1 at the end */
	uint32_t line;		/* input line number */
};

/* The "stats" line(s): summed when a file holds several captures. */
struct tf_rp_stats {
	uint32_t lines;		/* stats lines seen */
	uint64_t conns, events, open_at_exit, lost, lost_ringbuf, lost_ringbuf_events;
	uint64_t lost_table_full, recursion_misses, replaced, retrans_failed, malformed;
};

/* What the whole file says, counted while reading (every record, kept or not). */
struct tf_rp_agg {
	uint64_t conns;
	uint64_t by_role_close[TF_ROLE_MAX][TF_CK_MAX + 1];	/* [enum tf_role][enum tf_close_kind, TF_CK_MAX = unknown] */
	uint64_t by_end[TF_CE_MAX + 1];		/* [enum tf_close_end, TF_CE_MAX = unknown] */
	uint64_t syn_retrans, synack_retrans, fin_retrans, fin_fw1, fin_la, fin_cl, retrans;
	uint64_t conns_retrans;			/* connections with any retransmission */
	uint64_t rst_sent, rst_received;
	uint64_t time_wait;			/* hand-overs to a timewait socket */
	uint64_t incomplete, flagged_lost;
	uint64_t open_half_closed;		/* open at exit in CLOSE_WAIT, FIN_WAIT1/2, LAST_ACK, CLOSING */
	/* histograms (include/tf_buckets.h's display resolution): handshake by role
	 * (0 client, 1 server, 2 unknown), close by close kind */
	uint64_t hs_hist[3][TF_DISPLAY_BUCKETS];
	uint64_t close_hist[3][TF_DISPLAY_BUCKETS];	/* 0 active, 1 passive, 2 other */
	uint64_t hs_n, close_n;
	uint64_t tw_ends[TF_TWE_MAX];		/* "time_wait" records by how they ended */
};

/* A "stuck" record (a half-closed connection reported live): marks a conn. */
struct tf_rp_stuck {
	int64_t age_us;
	uint32_t netns;
	uint16_t sport, dport;
	uint8_t family, state;
	uint8_t saddr[16], daddr[16];
};

/* A "time_wait" record: how long the timewait socket of a connection lived. */
struct tf_rp_tw {
	int64_t handover_us;	/* handover_time, us since the epoch; TF_RP_NONE */
	int64_t tw_us;		/* time_wait_us; TF_RP_NONE */
	uint32_t netns;
	uint16_t sport, dport;
	uint8_t family, end;	/* end: enum tf_tw_end_reason */
	uint8_t saddr[16], daddr[16];
};

struct tf_rp_type_count {
	char name[32];
	uint64_t count;
};

struct tf_rp_data {
	struct tf_rp_conn *conns;
	size_t nconns, cap_conns;
	struct tf_rp_state *states;
	size_t nstates, cap_states;
	struct tf_rp_retrans *retrans;
	size_t nretrans, cap_retrans;
	struct tf_rp_stats stats;
	struct tf_rp_agg agg;
	/* input accounting */
	uint64_t lines, blank, bad_json, too_long, bad_record, not_kept;
	uint64_t stuck_records, stuck_matched;
	struct tf_rp_stuck *stuck;
	size_t nstuck, cap_stuck;
	struct tf_rp_tw *tw;
	size_t ntw, cap_tw;
	uint64_t tw_matched;
	/* cgroups (read.c): distinct groups, their texts, id -> first group with it (int) */
	struct tf_rp_group *groups;
	size_t ngroups, cap_groups;
	char *text;
	size_t ntext, cap_text;
	struct tf_ohash group_ids;
	uint64_t groups_not_kept;	/* conns whose cgroup was over TF_RP_MAX_GROUPS */
	struct tf_rp_type_count types[TF_RP_MAX_TYPES];
	int ntypes;
	uint64_t other_types;	/* records of unknown type beyond TF_RP_MAX_TYPES names */
	uint64_t first_bad_line;
	char first_bad_msg[200];
	/* pairing (match.c): 4-tuple -> first conn index with it (int) */
	struct tf_ohash tuples;
};

void tf_rp_init(struct tf_rp_data *d);
void tf_rp_free(struct tf_rp_data *d);
/* Something worth a report: at least one conn or stats record. */
bool tf_rp_usable(const struct tf_rp_data *d);

static inline const struct tf_rp_state *tf_rp_states(const struct tf_rp_data *d,
						     const struct tf_rp_conn *c)
{
	return d->states ? d->states + c->states_off : NULL;	/* no states read at all: NULL */
}

static inline const struct tf_rp_retrans *tf_rp_retr(const struct tf_rp_data *d,
						     const struct tf_rp_conn *c)
{
	return d->retrans ? d->retrans + c->retrans_off : NULL;
}

/* The state a record ended in (0: none). */
static inline int tf_rp_last_state(const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	return c->nstates ? tf_rp_states(d, c)[c->nstates - 1].state : 0;
}

/* Open at exit in CLOSE_WAIT, FIN_WAIT1/2, LAST_ACK or CLOSING. */
static inline bool tf_rp_open_half_closed(const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	int s = tf_rp_last_state(d, c);

	return (c->close_end == TF_CE_OPEN || (c->flags & TF_RPF_OPEN)) &&
	       (s == TF_CLOSE_WAIT || s == TF_FIN_WAIT1 || s == TF_FIN_WAIT2 ||
		s == TF_LAST_ACK || s == TF_CLOSING);
}

/* The conn's cgroup, or NULL. */
static inline const struct tf_rp_group *tf_rp_group_of(const struct tf_rp_data *d,
						       const struct tf_rp_conn *c)
{
	return c->group ? &d->groups[c->group - 1] : NULL;
}

/* A text of a group (TF_RP_NO_TEXT: NULL). */
static inline const char *tf_rp_text(const struct tf_rp_data *d, uint32_t off)
{
	return off == TF_RP_NO_TEXT ? NULL : d->text + off;
}

static inline bool tf_rp_has_retrans(const struct tf_rp_conn *c)
{
	return c->retrans || c->syn_retrans || c->synack_retrans || c->fin_retrans || c->nretrans;
}

/* A duration of the model (us, or TF_RP_NONE) in the page's precision (fmt.c). */
static inline const char *tf_rp_dur(int64_t us, enum tf_dur_style style, char *buf, size_t len)
{
	int64_t ns = us == TF_RP_NONE ? TF_DUR_NONE :
		     us > INT64_MAX / 1000 ? INT64_MAX :
		     us < -(INT64_MAX / 1000) ? -INT64_MAX : us * 1000;

	return tf_fmt_duration(ns, style, buf, len);
}

/* The socket's local or remote "addr:port" (fmt.c). */
static inline const char *tf_rp_endpoint(const struct tf_rp_conn *c, bool local, char *buf,
					 size_t len)
{
	return tf_fmt_endpoint(c->family, local ? c->saddr : c->daddr, local ? c->sport : c->dport,
			       buf, len);
}

#endif /* TF_RP_MODEL_H */
