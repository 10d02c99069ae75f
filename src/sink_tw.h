/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The close-side views (see sink.h for the interface). */
#ifndef TF_SINK_TW_H
#define TF_SINK_TW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "sink.h"

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

#endif /* TF_SINK_TW_H */
