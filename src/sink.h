/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Outputs behind one small interface: the core hands each finished
 * connection (and, with --events, each state change) to every sink; a new
 * output never touches the core. Sinks know no BPF.
 *
 * The include rule: only sinks include this header -- sink*.c, the core's
 * dispatch (core.c) and main.c, which builds them. Logic that needs
 * finished connections is the core's stage (core.h), not a sink. What the
 * sinks are handed lives below them, in headers that logic and the loader
 * include: conn.h (summaries), stats.h (run stats), closeside.h (TIME-WAIT
 * snapshots and ends, stuck connections), kfeatures.h. A type a sink
 * shares with a module below it goes there, never here.
 * Check: grep -rl '"sink.h"' src
 */
#ifndef TF_SINK_H
#define TF_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "closeside.h"
#include "conn.h"
#include "stats.h"

struct tf_sink;

struct tf_sink_ops {
	const char *name;
	/* a finished connection (complete or flushed) */
	void (*conn)(struct tf_sink *sk, const struct tf_summary *s);
	/* one state change, --events only */
	void (*state)(struct tf_sink *sk, const struct tf_state_event *e);
	/* called about every --interval (now: CLOCK_MONOTONIC ns) */
	void (*tick)(struct tf_sink *sk, uint64_t now_ns, const struct tf_run_stats *st);
	/* a TIME-WAIT sweep (only with the TIME-WAIT tracker running) */
	void (*tw_sweep)(struct tf_sink *sk, const struct tf_tw_snapshot *snap);
	/* a TIME-WAIT ended */
	void (*tw_end)(struct tf_sink *sk, const struct tf_tw_end *end);
	/* a half-closed connection crossed --stuck (once per connection and state) */
	void (*stuck)(struct tf_sink *sk, const struct tf_stuck *st);
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

/*
 * --metrics [ADDR:]PORT: Prometheus metrics served over HTTP while tracing.
 * ports/nports: the --port list (the port label's values; none: learn
 * listening ports). st: the run so far (the feature states). On success msg
 * holds "serving Prometheus metrics at URL";
 * on failure NULL, errno set (EADDRINUSE, EINVAL for a bad address, ...) and
 * msg holds one line saying what to do.
 */
struct tf_sink *tf_sink_metrics_new(const char *addr, const uint16_t *ports, int nports,
				    const struct tf_run_stats *st, const struct tf_km_source *km,
				    char *msg, size_t msglen);

/*
 * --hist: histograms as log2 bars (or JSON lines) every interval_s and at
 * exit; km (NULL: none) as for --metrics, read at each print.
 */
struct tf_sink *tf_sink_hist_new(FILE *out, int64_t mono_to_real_ns, bool json, double interval_s,
				 const struct tf_km_source *km);

/*
 * --tw: where TIME-WAIT sockets accumulate, top-style, every interval_s:
 * by local port and by remote endpoint (count, oldest, newest, timer left),
 * the half-closed census and the last stuck connections. Plain text (the
 * screen is cleared only when out is a terminal), or one JSON object
 * {"type":"tw_top",...} per refresh with json.
 */
struct tf_sink *tf_sink_tw_new(FILE *out, int64_t mono_to_real_ns, double interval_s, bool json);

/*
 * --timeline with both ends on this host: holds each record up to
 * window_s for its mirror (the other socket of the same connection, same
 * netns) and prints the pair as one two-lane four-way close; records with
 * no partner go to `inner` (the one-socket timeline), which it owns.
 */
struct tf_sink *tf_sink_paired_new(struct tf_sink *inner, double window_s);

/*
 * For sink implementations: a zeroed sink with ops/out/clock set and, when
 * priv_size > 0, a zeroed priv of that size in the same allocation (freed
 * with the sink: no ops->free needed for it).
 */
struct tf_sink *tf_sink_alloc(const struct tf_sink_ops *ops, FILE *out, int64_t mono_to_real_ns,
			      size_t priv_size);
/* Calls ops->free (for priv), then frees sk. NULL is fine. */
void tf_sink_free(struct tf_sink *sk);

#endif /* TF_SINK_H */
