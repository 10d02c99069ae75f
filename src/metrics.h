/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics registry: histograms, counters and gauges fed from connection
 * summaries, run stats, TIME-WAIT sweeps and stuck reports, rendered as the
 * Prometheus text exposition format 0.0.4. Pure C, no locks, no I/O: the
 * metrics sink adds the lock and the HTTP server, the hist sink the terminal.
 *
 * Cardinality is bounded by construction: no per-connection labels; the one
 * `port` label takes the --port ports (at most TF_METRICS_PORTS), or without
 * --port the first TF_METRICS_LEARN_PORTS local listening ports seen (server
 * side of accepted connections), and "other" for the rest.
 */
#ifndef TF_METRICS_H
#define TF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "closeside.h"
#include "conn.h"
#include "hist.h"
#include "stats.h"
#include "tf_kmetrics.h"

#define TF_METRICS_PORTS 64		/* port label values from --port (TF_MAX_FILTERS) */
#define TF_METRICS_LEARN_PORTS 16	/* listening ports learned when --port is not given */
#define TF_METRICS_OTHER TF_METRICS_PORTS	/* port slot of "other" */
#define TF_MSTATES 8			/* states with a time-in-state histogram and a gauge */
#define TF_MCLOSE_SIDES 3		/* active, passive, simultaneous */
#define TF_MLOST 7			/* lost-event causes */

/* Everything a scrape shows: flat, no pointers, so a copy is one memcpy. */
struct tf_metrics_values {
	char version[64];
	uint16_t ports[TF_METRICS_PORTS];
	int nports;
	bool learn_ports;			/* no --port: learn listening ports */
	/* histograms */
	struct tf_hist handshake[2][TF_METRICS_PORTS + 1];	/* [client, server][port slot] */
	struct tf_hist close[TF_MCLOSE_SIDES];
	struct tf_hist lifetime[2];				/* [client, server] */
	struct tf_hist state_time[TF_MSTATES];
	struct tf_hist time_wait[TF_TWE_MAX];			/* by enum tf_tw_end_reason */
	struct tf_hist rtt[TF_ROLE_MAX];			/* smoothed RTT at CLOSE, by role */
	/* counters */
	uint64_t conns[TF_ROLE_MAX][TF_METRICS_PORTS + 1];
	uint64_t closes[TF_ROLE_MAX][TF_CK_MAX];
	uint64_t bytes[2][TF_ROLE_MAX];				/* [sent (acked), received][role] */
	uint64_t syn_retrans, synack_retrans, retrans;
	uint64_t fin_retrans[4];				/* enum tf_fin_slot */
	uint64_t resets[2];					/* sent, received */
	uint64_t tw_handovers[TF_ROLE_MAX];
	uint64_t refused;
	uint64_t lost[TF_MLOST];
	uint64_t state_changes, malformed;
	uint64_t missed_transitions;				/* records with a gap (run stats) */
	uint64_t retrans_recovered;				/* from the kernel's counts */
	uint64_t retrans_unseen;				/* counted by the kernel, not us */
	uint64_t feature_enabled[TF_FEAT_MAX];			/* gauge: 1 enabled, 0 fallback/off */
	uint64_t stuck_total[2];				/* CLOSE_WAIT, FIN_WAIT2 */
	/* gauges */
	uint64_t live[TF_MSTATES];
	uint64_t stuck_now[2];
	bool have_tw;						/* a TIME-WAIT sweep arrived */
	uint64_t tw_sockets, tw_fin_wait2;
	uint64_t tw_overflow;					/* counter */
	uint64_t tw_ended[TF_TWE_MAX];				/* counters */
	uint64_t half_closed[2];				/* sockets in CLOSE_WAIT, FIN_WAIT2 */
	uint64_t fin_wait2_orphaned;
};

struct tf_metrics;

/*
 * ports/nports: the --port list (label values); none: learn listening ports.
 * version: the build_info label. NULL when out of memory.
 */
struct tf_metrics *tf_metrics_new(const uint16_t *ports, int nports, const char *version);
void tf_metrics_free(struct tf_metrics *m);

/*
 * Connections are also folded in the kernel: learn the ports it learns
 * (tf_km_source.learned) before counting a record. NULL: stop.
 */
void tf_metrics_follow_kernel(struct tf_metrics *m, const volatile uint16_t *learned);

/* Feeding. */
void tf_metrics_conn(struct tf_metrics *m, const struct tf_summary *s);
void tf_metrics_stats(struct tf_metrics *m, const struct tf_run_stats *st);
void tf_metrics_tw(struct tf_metrics *m, const struct tf_tw_snapshot *snap);
void tf_metrics_stuck(struct tf_metrics *m, const struct tf_stuck *st);
void tf_metrics_tw_end(struct tf_metrics *m, const struct tf_tw_end *e);

const struct tf_metrics_values *tf_metrics_values(const struct tf_metrics *m);
/* A malloc'd sum read from src; NULL when there is none, or it could not be read. */
struct tf_km_sum *tf_km_source_read(const struct tf_km_source *src);
/*
 * A malloc'd copy to render outside a lock; NULL when out of memory. With
 * k, the connections folded in the kernel added in (their learned ports
 * join the registry's, in the kernel's order, while there is room).
 */
struct tf_metrics_values *tf_metrics_copy(struct tf_metrics *m, const struct tf_km_sum *k);

/* The states of live[] and state_time[], and their names. */
int tf_metrics_state(int i);

/* ---- histograms one by one (exposition, --hist) ---- */

struct tf_hist_view {
	const char *name;	/* metric family, e.g. tcpflow_handshake_duration_seconds */
	const char *help;
	const char *title;	/* for people: "handshake duration" */
	int nlabels;
	const char *key[2];
	const char *val[2];
	char port[8];		/* storage of a port label value */
	struct tf_hist h;
};

typedef void (*tf_hist_view_fn)(void *ctx, const struct tf_hist_view *hv);
/* Every histogram in exposition order; merge_ports folds the port label away. */
void tf_metrics_each_hist(const struct tf_metrics_values *v, bool merge_ports,
			  tf_hist_view_fn fn, void *ctx);

/* ---- text exposition ---- */

/* A growing text buffer; after a failed allocation `oom` is set and it stops growing. */
struct tf_text {
	char *buf;
	size_t len, cap;
	bool oom;
};

void tf_text_free(struct tf_text *t);

/* Prometheus text format 0.0.4 of every metric. 0, or -ENOMEM. */
int tf_metrics_render(const struct tf_metrics_values *v, struct tf_text *t);

#define TF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif /* TF_METRICS_H */
