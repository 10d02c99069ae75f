/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The metrics-side sinks (see sink.h for the interface). */
#ifndef TF_SINK_METRICS_H
#define TF_SINK_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "sink.h"

/*
 * --metrics [ADDR:]PORT: Prometheus metrics served over HTTP while tracing.
 * ports/nports: the --port list (the port label's values; none: learn
 * listening ports). st: the run so far (the feature states). On success msg
 * holds "serving Prometheus metrics at URL";
 * on failure NULL, errno set (EADDRINUSE, EINVAL for a bad address, ...) and
 * msg holds one line saying what to do.
 */
struct tf_sink *tf_sink_metrics_new(const char *addr, const uint16_t *ports, int nports,
				    const struct tf_run_stats *st, char *msg, size_t msglen);

/* --hist: histograms as log2 bars (or JSON lines) every interval_s and at exit. */
struct tf_sink *tf_sink_hist_new(FILE *out, int64_t mono_to_real_ns, bool json, double interval_s);

#endif /* TF_SINK_METRICS_H */
