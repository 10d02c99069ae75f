/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `tcpflow-trace report FILE.jsonl -o report.html`: a --json capture turned
 * into one self-contained HTML page (summary, histograms, ladder diagrams,
 * a filter box). Reading is separate from drawing (svg.c) so both are
 * testable with fixed inputs; nothing here touches BPF or the clock.
 */
#ifndef TF_REPORT_H
#define TF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "conn.h"

#define TF_RP_MAX_LINE (256 * 1024)	/* longer input lines are skipped (counted) */
#define TF_RP_MAX_KEPT 500000		/* connections kept for diagrams and the table */
#define TF_RP_MAX_STATES 24		/* per connection; the tracer writes at most 17 */
#define TF_RP_MAX_RETRANS 24		/* per connection; the tracer writes at most 12 */
#define TF_RP_MAX_STUCK 100000	/* "stuck" records kept for matching */
#define TF_RP_MAX_TW 1000000	/* "time_wait" records kept for matching */
#define TF_RP_TW_ENDS 5		/* TIME-WAIT ends: expired, reused, reset, netns_gone, unknown */
#define TF_RP_MAX_TYPES 16		/* distinct unknown record types named */
#define TF_RP_NBUCKETS 44		/* histogram: 4 per decade from 1 us; bucket 0 is < 1 us */
#define TF_RP_NONE INT64_MIN		/* a time or duration that is null/absent */

/* Message kinds of the ladder diagrams (what went over the wire). */
enum tf_rp_msg {
	TF_MSG_SYN = 0,
	TF_MSG_SYNACK,
	TF_MSG_HSACK,	/* the ACK completing the handshake */
	TF_MSG_FIN,
	TF_MSG_FINACK,	/* the ACK of a FIN */
	TF_MSG_RST,
	TF_MSG_DATA,
	TF_MSG_MAX,
};

/* conn.flags: the record's "flags" strings we know. */
#define TF_RPF_MIDLIFE		0x01	/* began_before_trace */
#define TF_RPF_OPEN		0x02	/* open_at_exit */
#define TF_RPF_STATES_TRUNC	0x04	/* states_truncated (or more states than we keep) */
#define TF_RPF_RETRANS_TRUNC	0x08	/* retransmits_truncated (or more than we keep) */
#define TF_RPF_REPLACED		0x10	/* close_not_seen */
#define TF_RPF_PID_LISTENER	0x20	/* pid_from_listener */
#define TF_RPF_LOST		0x40	/* events_lost */
#define TF_RPF_OTHER		0x80	/* a flag this version does not know */
#define TF_RPF_GAP		0x100	/* missed_transitions */

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

/* One "conn" record as read back. Durations are TF_RP_NONE when null. */
struct tf_rp_conn {
	int64_t start_us;	/* start_time, us since the epoch; TF_RP_NONE if unreadable */
	int64_t handshake_us, close_us, fin_ack_us, time_wait_at_us, lifetime_us;
	int64_t time_wait_us;	/* optional field (TIME-WAIT duration), TF_RP_NONE if absent */
	int64_t stuck_age_us;	/* from a "stuck" record, TF_RP_NONE if none */
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
	int next;		/* hash chain (same 4-tuple), -1 at the end */
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
	uint64_t by_role_close[3][TF_CK_MAX + 1];
	uint64_t by_end[TF_CE_MAX + 1];		/* [enum tf_close_end, TF_CE_MAX = unknown] */	/* [enum tf_role][enum tf_close_kind, TF_CK_MAX = unknown] */
	uint64_t syn_retrans, synack_retrans, fin_retrans, fin_fw1, fin_la, fin_cl, retrans;
	uint64_t conns_retrans;			/* connections with any retransmission */
	uint64_t rst_sent, rst_received;
	uint64_t time_wait;			/* hand-overs to a timewait socket */
	uint64_t incomplete, flagged_lost;
	uint64_t open_half_closed;		/* open at exit in CLOSE_WAIT, FIN_WAIT1/2, LAST_ACK, CLOSING */
	/* histograms: handshake by role (0 client, 1 server, 2 unknown), close by close kind */
	uint64_t hs_hist[3][TF_RP_NBUCKETS];
	uint64_t close_hist[3][TF_RP_NBUCKETS];	/* 0 active, 1 passive, 2 other */
	uint64_t hs_n, close_n;
	uint64_t tw_ends[TF_RP_TW_ENDS];	/* "time_wait" records by how they ended */
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
	uint8_t family, end;	/* end: index into tf_rp_tw_end_name */
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
	struct tf_rp_type_count types[TF_RP_MAX_TYPES];
	int ntypes;
	uint64_t other_types;	/* records of unknown type beyond TF_RP_MAX_TYPES names */
	uint64_t first_bad_line;
	char first_bad_msg[200];
	/* pairing: hash of 4-tuples -> first conn index */
	int *hash;
	size_t hash_size;
};

struct tf_rp_opts {
	const char *input_name;	/* shown in the page (escaped) */
	int top;		/* slowest handshakes drawn */
	int max_diagrams;	/* cap on all diagrams */
	int max_rows;		/* cap on the connection table */
};

/* ---- reading (report.c) ---- */

void tf_rp_init(struct tf_rp_data *d);
void tf_rp_free(struct tf_rp_data *d);
/* One input line (no newline needed). Bad lines are counted, never fatal. Returns 0, or -1
 * on out of memory. */
int tf_rp_add_line(struct tf_rp_data *d, const char *line, size_t len);
/* Every line of f; lines longer than TF_RP_MAX_LINE are skipped and counted. -1: out of memory
 * or a read error (errno set). */
int tf_rp_read(struct tf_rp_data *d, FILE *f);
/* Link the two sockets of one connection (mirrored 4-tuple, same netns, overlapping times).
 * Idempotent; call after reading. */
void tf_rp_pair(struct tf_rp_data *d);
/* Something worth a report: at least one conn or stats record. */
bool tf_rp_usable(const struct tf_rp_data *d);
/* The page. Returns 0 or -1 on a write error. */
int tf_rp_write_html(FILE *o, struct tf_rp_data *d, const struct tf_rp_opts *opt);

/* `tcpflow-trace report ...` (argv[0] is "report"). Exit status per enum tf_exit. */
int tf_report_main(int argc, char **argv);

/* ---- helpers shared with svg.c ---- */

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

/* "expired", "reused", "reset", "netns_gone", "unknown" */
const char *tf_rp_tw_end_name(int i);
/* Histogram bucket of a duration in us: 0 for < 1 us, then 4 per decade. */
int tf_rp_bucket(int64_t us);
/* Lower bound of bucket i in us (bucket 0: 0). */
int64_t tf_rp_bucket_lo(int i);
/* "850µs", "42.1ms", "3.004s" (UTF-8). */
const char *tf_rp_dur(int64_t us, char *buf, size_t len);
/* Text with & < > " ' escaped for HTML/SVG. */
void tf_rp_esc(FILE *o, const char *s);
/* "127.0.0.1:5000" / "[::1]:5000" */
const char *tf_rp_endpoint(const struct tf_rp_conn *c, bool local, char *buf, size_t len);

/* ---- drawing (svg.c): pure functions of their inputs ---- */

/*
 * A ladder diagram of one connection as one inline <svg>. left/right: the
 * client and the server socket records (either may be NULL: that lane is
 * drawn as "inferred"; both NULL draws nothing). id makes element ids unique.
 */
void tf_svg_ladder(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *left,
		   const struct tf_rp_conn *right, int id);
/* The diagram of conn i (with its peer when paired), as the report draws it. */
void tf_rp_ladder_of(FILE *o, const struct tf_rp_data *d, int i, int id);
/* The legend of the arrow styles. */
void tf_svg_legend(FILE *o);

struct tf_svg_series {
	const char *name;
	const char *cls;	/* CSS class: s0, s1, s2 */
	const uint64_t *counts;	/* TF_RP_NBUCKETS */
};

/* A histogram with log-scaled axes (duration in us on x, connections on y). */
void tf_svg_hist(FILE *o, const char *title, const char *xlabel,
		 const struct tf_svg_series *series, int nseries);

#endif /* TF_REPORT_H */
