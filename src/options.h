/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Command-line options: ONE table per command (options.c: the tracer's and
 * `report`'s) and one machinery drive parsing, --help, the man page's option
 * sections and the bash completion (packaging/gendoc.c), so they cannot drift
 * apart.
 */
#ifndef TF_OPTIONS_H
#define TF_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TF_MAX_FILTERS 64
#define TF_MAX_CGROUP_FILTERS 16	/* --cgroup (the programs take TF_MAX_CGROUPS) */

enum tf_output {
	TF_OUT_LINE = 0,	/* one line per finished connection (default) */
	TF_OUT_TIMELINE,	/* --timeline */
	TF_OUT_EVENTS,		/* --events */
	TF_OUT_JSON,		/* --json */
	TF_OUT_NONE,		/* only --metrics/--hist */
};

/* The commands, a table of options each. */
enum tf_command {
	TF_CMD_TRACE = 0,	/* tcpflow-trace [OPTIONS] */
	TF_CMD_REPORT,		/* tcpflow-trace report FILE.jsonl [OPTIONS] */
	TF_CMD_MAX,
};

/* `tcpflow-trace report FILE.jsonl [OPTIONS]` */
struct tf_report_config {
	const char *input;	/* FILE.jsonl, "-": stdin */
	const char *output;	/* -o FILE; NULL or "-": stdout */
	int top;		/* slowest handshakes drawn */
	int max_diagrams;
	int max_rows;
};

struct tf_config {
	/* targeting */
	uint16_t ports[TF_MAX_FILTERS];
	int nports;
	uint32_t pids[TF_MAX_FILTERS];
	int npids;
	int family;		/* 0, AF_INET or AF_INET6 */
	uint32_t netns;		/* 0: all */
	const char *cgroups[TF_MAX_CGROUP_FILTERS];	/* --cgroup paths as given */
	int ncgroups;
	uint64_t cgroup_ids[TF_MAX_CGROUP_FILTERS];	/* resolved by tf_cgroup_filter() before loading */
	uint32_t cgroup_levels[TF_MAX_CGROUP_FILTERS];
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
	bool check;		/* --check: probe the kernel's features and exit */
	/* what to run */
	int command;		/* enum tf_command */
	struct tf_report_config report;	/* TF_CMD_REPORT */
};

/*
 * Parse argv into *cfg: the tracer's options, or after argv[1] "report" the
 * report's (cfg->command says which). Returns -1 to go on, or an exit status
 * to return (0 after --help/--version, TF_EXIT_USAGE after an error, which
 * has been printed to `err` as one line).
 */
int tf_options_parse(int argc, char **argv, struct tf_config *cfg, FILE *out, FILE *err);

/* For generated docs: the word after tcpflow-trace (NULL for the tracer), the
 * one positional argument (NULL: none). */
const char *tf_command_name(int cmd);
const char *tf_command_operand(int cmd);

/* One row of the table, for generated docs (man page OPTIONS, bash completion). */
struct tf_option_doc {
	const char *name;	/* long name */
	char short_name;	/* 0: long only */
	const char *arg;	/* argument name, NULL for flags */
	const char *group;	/* --help section */
	const char *help;
};

/* Row i (table order) of command cmd's table into *out: 0, or -1 past the end. */
int tf_options_doc(int cmd, int i, struct tf_option_doc *out);

#endif /* TF_OPTIONS_H */
