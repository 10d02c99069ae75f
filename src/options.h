/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Command-line options: ONE table (options.c) drives parsing, --help, the man
 * page's OPTIONS section and the bash completion (packaging/gendoc.c), so they
 * cannot drift apart.
 */
#ifndef TF_OPTIONS_H
#define TF_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "tcpflow.h"

#define TF_MAX_FILTERS 64

/* Exit statuses, everywhere (documented in README and the man page). */
enum tf_exit {
	TF_EXIT_OK = 0,
	TF_EXIT_RUNTIME = 1,	/* failure while running */
	TF_EXIT_USAGE = 2,	/* bad flags or values */
	TF_EXIT_PERM = 3,	/* not root / missing CAP_BPF, CAP_PERFMON */
	TF_EXIT_KERNEL = 4,	/* kernel lacks BTF, a tracepoint, ring buffers, ... */
	TF_EXIT_METRICS = 5,	/* --metrics address unusable (in use, bad address) */
};

enum tf_output {
	TF_OUT_LINE = 0,	/* one line per finished connection (default) */
	TF_OUT_TIMELINE,	/* --timeline */
	TF_OUT_EVENTS,		/* --events */
	TF_OUT_JSON,		/* --json */
	TF_OUT_NONE,		/* only --metrics/--hist */
};

struct tf_config {
	/* targeting */
	uint16_t ports[TF_MAX_FILTERS];
	int nports;
	uint32_t pids[TF_MAX_FILTERS];
	int npids;
	int family;		/* 0, AF_INET or AF_INET6 */
	uint32_t netns;		/* 0: all */
	bool netns_all;		/* --netns all: --tw's census of every namespace */
	/* output */
	int output;		/* enum tf_output */
	bool json;		/* --json (also with --hist: histograms as JSON) */
	bool timeline;
	bool events;
	bool hist;		/* --hist */
	bool tw;		/* --tw: TIME-WAIT table */
	double duration_s;	/* 0: until SIGINT/SIGTERM */
	double interval_s;	/* --hist / --tw refresh */
	double tw_interval_s;	/* TIME-WAIT sweep period */
	double stuck_s;		/* --stuck: CLOSE_WAIT / FIN_WAIT2 age threshold */
	/* metrics */
	const char *metrics;	/* [ADDR:]PORT or NULL */
	/* limits */
	uint32_t max_conns;
	uint32_t ringbuf_bytes;
	/* misc */
	const char *btf_path;	/* custom BTF (testing, kernels without /sys/kernel/btf) */
	const char *user;	/* --user: drop to this user after attaching */
	bool verbose;
};

/*
 * Parse argv into *cfg. Returns -1 to go on, or an exit status to return
 * (0 after --help/--version, TF_EXIT_USAGE after an error, which has been
 * printed to `err` as one line).
 */
int tf_options_parse(int argc, char **argv, struct tf_config *cfg, FILE *out, FILE *err);

void tf_options_defaults(struct tf_config *cfg);
void tf_options_help(FILE *out);

/* For the man-page check: every long option name, in table order. */
int tf_options_count(void);
const char *tf_options_long_name(int i);

/* One row of the table, for generated docs (man page OPTIONS, bash completion). */
struct tf_option_doc {
	const char *name;	/* long name */
	char short_name;	/* 0: long only */
	const char *arg;	/* argument name, NULL for flags */
	const char *group;	/* --help section */
	const char *help;
};

/* Row i (table order) into *out: 0, or -1 past the end. */
int tf_options_doc(int i, struct tf_option_doc *out);

/* The --port filter as the BPF programs take it: bit p of bits[] for port p. */
static inline void tf_port_bits_fill(__u64 bits[TF_PORT_WORDS], const struct tf_config *cfg)
{
	for (int i = 0; i < cfg->nports; i++)
		bits[cfg->ports[i] >> 6] |= 1ULL << (cfg->ports[i] & 63);
}

#endif /* TF_OPTIONS_H */
