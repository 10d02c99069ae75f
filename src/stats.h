/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The counters of a run: the kernel's (summed by the loader), the core's and
 * the optional features this run has. Every output shows them (exit summary,
 * metrics, --json stats). The loader fills the kernel's part and the
 * features, main hands them to the core (tf_core_set_kernel_stats), the
 * core counts the rest. Below the output interface (sink.h), so the loader
 * need not include it.
 */
#ifndef TF_STATS_H
#define TF_STATS_H

#include <stdint.h>
#include "kfeatures.h"
#include "tcpflow.h"
#include "tf_kmetrics.h"

/* Counters of a run, shown in the exit summary, metrics and --json stats. */
struct tf_run_stats {
	uint64_t conns;			/* connection records received */
	uint64_t events;		/* state changes folded in the kernel */
	uint64_t state_events;		/* --events records received */
	uint64_t handovers;		/* TIME-WAIT hand-overs of connections folded in the kernel */
	uint64_t bpf[TF_STAT_MAX];	/* the kernel's per-CPU counters, summed */
	uint64_t recursion_misses;	/* program runs the kernel skipped (all programs) */
	uint64_t flushed_open;		/* connections still open at exit, flushed incomplete */
	uint64_t malformed;		/* ring-buffer records of unknown type or size */
	uint64_t gaps;			/* records with a change TCP cannot make (events missed) */
	uint64_t live[TF_STATE_MAX];	/* connections the kernel tracks now, by state */
	uint64_t live_total;
	struct tf_features features;	/* optional kernel features this run has */
};

/*
 * Connections evicted from the kernel's LRU table (--max-conns reached):
 * records started but neither sent, folded, lost, dropped by a late filter, nor
 * still in the table. Exact when live_total is fresh (at exit: flushed).
 */
static inline uint64_t tf_run_evicted(const struct tf_run_stats *st)
{
	uint64_t gone = st->bpf[TF_STAT_EMITTED] + st->bpf[TF_STAT_FOLDED] +
			st->bpf[TF_STAT_RB_LOST_CONN] +
			st->bpf[TF_STAT_UNWANTED] + st->live_total;

	return st->bpf[TF_STAT_CREATED] > gone ? st->bpf[TF_STAT_CREATED] - gone : 0;
}

/*
 * Connection records lost to a full ring buffer, whole ones and the
 * hand-overs of connections folded in the kernel (which stay counted there).
 */
static inline uint64_t tf_run_lost_ringbuf(const struct tf_run_stats *st)
{
	return st->bpf[TF_STAT_RB_LOST_CONN] + st->bpf[TF_STAT_RB_LOST_HANDOVER];
}

/* Finished connections: records received, and those folded in the kernel. */
static inline uint64_t tf_run_conns(const struct tf_run_stats *st)
{
	return st->conns + st->bpf[TF_STAT_FOLDED];
}

/* Connections with a change TCP cannot make (events missed), wherever counted. */
static inline uint64_t tf_run_gaps(const struct tf_run_stats *st)
{
	return st->gaps + st->bpf[TF_STAT_FOLDED_GAPS];
}

/*
 * The kernel's metric aggregates (include/tf_kmetrics.h) summed over CPUs,
 * with the port of each slot (0: no port; with --port their order).
 */
struct tf_km_sum {
	struct tf_km_main main;
	struct tf_km_hs hs[2];			/* client, server */
	uint16_t ports[TF_KM_SLOTS];
};

/* Where the kernel's aggregates are read when shown: 0, or -errno. */
struct tf_km_source {
	int (*read)(void *ctx, struct tf_km_sum *out);	/* NULL: none (the record path) */
	void *ctx;
	/*
	 * The ports the kernel learned, by slot, as it learns them (the BPF
	 * object's .bss, mapped): a record user space gets counts its port as
	 * the kernel labels it, before the next read. NULL: none.
	 */
	const volatile uint16_t *learned;
};

/* Lost events of every cause: what the user must be told about. */
static inline uint64_t tf_run_lost(const struct tf_run_stats *st)
{
	return tf_run_lost_ringbuf(st) + st->bpf[TF_STAT_RB_LOST_STATE] +
	       st->bpf[TF_STAT_TABLE_FULL] + st->recursion_misses + tf_run_evicted(st) +
	       st->bpf[TF_STAT_NO_RECORD] + st->bpf[TF_STAT_SYNACK_UNPARKED] +
	       st->bpf[TF_STAT_LISTENER_FULL];
}

#endif /* TF_STATS_H */
