/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `tcpflow-trace report FILE.jsonl -o report.html`: a --json capture turned
 * into one self-contained HTML page (summary, histograms, ladder diagrams, a
 * filter box). One stage a file, each testable with fixed inputs; nothing
 * here touches BPF or the clock:
 *
 *   model.h     the capture as read back; the predicates every stage asks
 *   read.c      JSON lines -> model, every field checked, bad lines counted
 *   match.c     the two sockets of a connection paired; "stuck" and
 *               "time_wait" records tied to their connections
 *   diagrams.c  which connections get a ladder diagram, with which lanes
 *   ladder.c    ladder diagrams (svg.h)
 *   histogram.c duration histograms (svg.h)
 *   html.c      the page; page.css and page.js embedded at build time
 *   cli.c       the command (its options: a table in options.c)
 */
#ifndef TF_RP_REPORT_H
#define TF_RP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "model.h"

struct tf_rp_opts {
	const char *input_name;	/* shown in the page (escaped) */
	int top;		/* slowest handshakes drawn */
	int max_diagrams;	/* cap on all diagrams */
	int max_rows;		/* cap on the connection table */
};

/* One input line (no newline needed). Bad lines are counted, never fatal. Returns 0, or -1
 * on out of memory. */
int tf_rp_add_line(struct tf_rp_data *d, const char *line, size_t len);
/* Every line of f; lines longer than TF_RP_MAX_LINE are skipped and counted. -1: out of memory
 * or a read error (errno set). */
int tf_rp_read(struct tf_rp_data *d, FILE *f);
/* Link the two sockets of one connection (mirrored 4-tuple, same netns, overlapping times),
 * and the stuck and TIME-WAIT records to theirs. Idempotent; call after reading. */
void tf_rp_pair(struct tf_rp_data *d);
/* The page. Returns 0 or -1 on a write error. */
int tf_rp_write_html(FILE *o, struct tf_rp_data *d, const struct tf_rp_opts *opt);

struct tf_report_config;	/* options.h */

/* `tcpflow-trace report ...`, its command line parsed (options.c). Exit status per enum tf_exit. */
int tf_report_main(const struct tf_report_config *cfg);

#endif /* TF_RP_REPORT_H */
