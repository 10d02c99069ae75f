/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Outputs behind one small interface: the core hands each finished
 * connection (and, with --events, each state change) to every sink; a new
 * output never touches the core. Sinks know no BPF.
 */
#ifndef TF_SINK_H
#define TF_SINK_H

#include <stdint.h>
#include <stdio.h>
#include "conn.h"
#include "tcpflow.h"

/* Counters of a run, shown in the exit summary, metrics and --json stats. */
struct tf_run_stats {
	uint64_t conns;			/* connection records received */
	uint64_t events;		/* state changes folded in the kernel */
	uint64_t state_events;		/* --events records received */
	uint64_t bpf[TF_STAT_MAX];	/* the kernel's per-CPU counters, summed */
	uint64_t recursion_misses;	/* program runs the kernel skipped (all programs) */
	uint64_t flushed_open;		/* connections still open at exit, flushed incomplete */
	uint64_t malformed;		/* ring-buffer records of unknown type or size */
	uint64_t live[TF_STATE_MAX];	/* connections the kernel tracks now, by state */
	uint64_t live_total;
};

/* Lost events of every cause: what the user must be told about. */
static inline uint64_t tf_run_lost(const struct tf_run_stats *st)
{
	return st->bpf[TF_STAT_RB_LOST_CONN] + st->bpf[TF_STAT_RB_LOST_STATE] +
	       st->bpf[TF_STAT_TABLE_FULL] + st->recursion_misses;
}

struct tf_sink;

struct tf_sink_ops {
	const char *name;
	/* a finished connection (complete or flushed) */
	void (*conn)(struct tf_sink *sk, const struct tf_summary *s);
	/* one state change, --events only */
	void (*state)(struct tf_sink *sk, const struct tf_state_event *e);
	/* called about every --interval (now: CLOCK_MONOTONIC ns) */
	void (*tick)(struct tf_sink *sk, uint64_t now_ns, const struct tf_run_stats *st);
	/* end of the run */
	void (*finish)(struct tf_sink *sk, const struct tf_run_stats *st);
	void (*free)(struct tf_sink *sk);
};

struct tf_sink {
	const struct tf_sink_ops *ops;
	FILE *out;
	int64_t mono_to_real_ns;	/* add to CLOCK_MONOTONIC to get CLOCK_REALTIME */
	void *priv;
};

/* The sinks we have. Each returns NULL with errno set on failure. */
struct tf_sink *tf_sink_line_new(FILE *out, int64_t mono_to_real_ns);
struct tf_sink *tf_sink_timeline_new(FILE *out, int64_t mono_to_real_ns);
struct tf_sink *tf_sink_events_new(FILE *out, int64_t mono_to_real_ns);
struct tf_sink *tf_sink_json_new(FILE *out, int64_t mono_to_real_ns);

/* For sink implementations: a zeroed sink with ops/out/clock set. */
struct tf_sink *tf_sink_alloc(const struct tf_sink_ops *ops, FILE *out, int64_t mono_to_real_ns);
/* Calls ops->free (for priv), then frees sk. NULL is fine. */
void tf_sink_free(struct tf_sink *sk);

#endif /* TF_SINK_H */
