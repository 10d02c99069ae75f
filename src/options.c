// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "options.h"

#ifndef TF_VERSION
#define TF_VERSION "unknown"
#endif

struct opt;
typedef int (*opt_fn)(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err);

struct opt {
	const char *name;	/* long name */
	int key;		/* short letter, or a value > 255 */
	const char *arg;	/* argument name, NULL for flags */
	const char *group;
	const char *help;
	opt_fn fn;
};

enum { OPT_HELP = 'h', OPT_VERSION = 256 };

/* ---- value parsers: one line on `err` and -1 on bad input ---------------- */

static int parse_u64(const struct opt *o, const char *arg, uint64_t min, uint64_t max,
		     uint64_t *out, FILE *err)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!arg || !*arg || *arg == '-' || *arg == '+' || *arg == ' ')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(err, "tcpflow-trace: --%s: '%s' is not a whole number from %llu to %llu\n",
		o->name, arg ? arg : "", (unsigned long long)min, (unsigned long long)max);
	return -1;
}

static int parse_seconds(const struct opt *o, const char *arg, double min, double *out, FILE *err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= min) || v > 31536000.0) {
		fprintf(err, "tcpflow-trace: --%s: '%s' is not a number of seconds (at least %g)\n",
			o->name, arg, min);
		return -1;
	}
	*out = v;
	return 0;
}

static int opt_port(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	uint64_t v;

	if (parse_u64(o, arg, 1, 65535, &v, err))
		return -1;
	if (cfg->nports >= TF_MAX_FILTERS) {
		fprintf(err, "tcpflow-trace: --port: at most %d ports\n", TF_MAX_FILTERS);
		return -1;
	}
	cfg->ports[cfg->nports++] = (uint16_t)v;
	return 0;
}

static int opt_pid(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	uint64_t v;

	if (parse_u64(o, arg, 1, 4194304, &v, err))	/* PID_MAX_LIMIT */
		return -1;
	if (cfg->npids >= TF_MAX_FILTERS) {
		fprintf(err, "tcpflow-trace: --pid: at most %d pids\n", TF_MAX_FILTERS);
		return -1;
	}
	cfg->pids[cfg->npids++] = (uint32_t)v;
	return 0;
}

static int opt_family(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	int fam = o->key == '4' ? AF_INET : AF_INET6;

	(void)arg;
	if (cfg->family && cfg->family != fam) {
		fprintf(err, "tcpflow-trace: -4 and -6 exclude each other; give neither for both\n");
		return -1;
	}
	cfg->family = fam;
	return 0;
}

static int opt_netns(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	uint64_t v;

	if (parse_u64(o, arg, 1, UINT32_MAX, &v, err))
		return -1;
	cfg->netns = (uint32_t)v;
	return 0;
}

static int opt_flag(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	(void)arg;
	(void)err;
	switch (o->key) {
	case 'T': cfg->timeline = true; break;
	case 'e': cfg->events = true; break;
	case 'j': cfg->json = true; break;
	case 'H': cfg->hist = true; break;
	case 'w': cfg->tw = true; break;
	case 'v': cfg->verbose = true; break;
	}
	return 0;
}

static int opt_secs(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	switch (o->key) {
	case 'd': return parse_seconds(o, arg, 0.001, &cfg->duration_s, err);
	case 'i': return parse_seconds(o, arg, 0.1, &cfg->interval_s, err);
	case 'W': return parse_seconds(o, arg, 0.1, &cfg->tw_interval_s, err);
	case 'S': return parse_seconds(o, arg, 0.1, &cfg->stuck_s, err);
	}
	return -1;
}

static int opt_metrics(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	(void)o;
	if (!arg || !*arg || strlen(arg) > 300) {
		fprintf(err, "tcpflow-trace: --metrics: give [ADDR:]PORT, e.g. 9464 or 127.0.0.1:9464\n");
		return -1;
	}
	cfg->metrics = arg;	/* checked when the server starts */
	return 0;
}

static int opt_limit(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	uint64_t v;

	if (o->key == 'm') {
		if (parse_u64(o, arg, 16, 16777216, &v, err))
			return -1;
		cfg->max_conns = (uint32_t)v;
		return 0;
	}
	if (parse_u64(o, arg, 4096, 1u << 30, &v, err))
		return -1;
	if (v & (v - 1)) {
		fprintf(err, "tcpflow-trace: --ringbuf-size: %s is not a power of two (e.g. 8388608)\n", arg);
		return -1;
	}
	cfg->ringbuf_bytes = (uint32_t)v;
	return 0;
}

static int opt_string(const struct opt *o, const char *arg, struct tf_config *cfg, FILE *err)
{
	if (!arg || !*arg) {
		fprintf(err, "tcpflow-trace: --%s needs a value\n", o->name);
		return -1;
	}
	if (o->key == 'B')
		cfg->btf_path = arg;
	else
		cfg->user = arg;
	return 0;
}

static const struct opt opts[] = {
	{ "port", 'p', "PORT", "Targeting", "only connections with this local or remote port (repeatable)", opt_port },
	{ "pid", 'P', "PID", "Targeting", "only connections of this process (repeatable); see README: attribution", opt_pid },
	{ "ipv4", '4', NULL, "Targeting", "IPv4 only", opt_family },
	{ "ipv6", '6', NULL, "Targeting", "IPv6 only", opt_family },
	{ "netns", 'N', "INUM", "Targeting", "only this network namespace (inode number, stat -Lc %i /proc/PID/ns/net)", opt_netns },
	{ "timeline", 'T', NULL, "Output", "each finished connection as a multi-line timeline", opt_flag },
	{ "events", 'e', NULL, "Output", "every state change as it happens, with time in the previous state", opt_flag },
	{ "json", 'j', NULL, "Output", "JSON lines: one object per connection (with --hist: histograms)", opt_flag },
	{ "hist", 'H', NULL, "Output", "histograms in the terminal every --interval and at exit", opt_flag },
	{ "duration", 'd', "SEC", "Output", "stop after SEC seconds (default: until Ctrl-C)", opt_secs },
	{ "interval", 'i', "SEC", "Output", "refresh period of --hist and --tw (default 5)", opt_secs },
	{ "metrics", 'M', "[ADDR:]PORT", "Metrics", "serve Prometheus metrics at GET /metrics (default address 127.0.0.1)", opt_metrics },
	{ "tw", 'w', NULL, "Close side", "live table of where TIME-WAIT sockets accumulate", opt_flag },
	{ "tw-interval", 'W', "SEC", "Close side", "TIME-WAIT sweep period (default 1)", opt_secs },
	{ "stuck", 'S', "SEC", "Close side", "report CLOSE_WAIT/FIN_WAIT2 older than SEC (default 30)", opt_secs },
	{ "max-conns", 'm', "N", "Limits", "connections tracked at once in the kernel (default 65536)", opt_limit },
	{ "ringbuf-size", 'R', "BYTES", "Limits", "ring buffer size, a power of two (default 8388608)", opt_limit },
	{ "btf", 'B', "PATH", "Other", "kernel BTF file to use instead of /sys/kernel/btf/vmlinux", opt_string },
	{ "user", 'u', "NAME", "Other", "after attaching, drop privileges and run as this user", opt_string },
	{ "verbose", 'v', NULL, "Other", "libbpf's own log on stderr", opt_flag },
	{ "version", OPT_VERSION, NULL, "Other", "print the version and exit", NULL },
	{ "help", OPT_HELP, NULL, "Other", "this help", NULL },
};

#define NOPTS ((int)(sizeof(opts) / sizeof(opts[0])))

int tf_options_count(void)
{
	return NOPTS;
}

const char *tf_options_long_name(int i)
{
	return i >= 0 && i < NOPTS ? opts[i].name : NULL;
}

int tf_options_doc(int i, struct tf_option_doc *out)
{
	if (i < 0 || i >= NOPTS)
		return -1;
	*out = (struct tf_option_doc){
		.name = opts[i].name,
		.short_name = opts[i].key < 256 ? (char)opts[i].key : 0,
		.arg = opts[i].arg,
		.group = opts[i].group,
		.help = opts[i].help,
	};
	return 0;
}

void tf_options_defaults(struct tf_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_s = 5;
	cfg->tw_interval_s = 1;
	cfg->stuck_s = 30;
	cfg->max_conns = 65536;
	cfg->ringbuf_bytes = 8u << 20;
}

/* Help text from column 27, wrapped at word boundaries to fit 80 columns. */
static void print_wrapped(FILE *out, const char *text)
{
	const int col = 27, width = 79 - col;
	const char *p = text;

	while (*p) {
		int n = (int)strlen(p);

		if (n > width) {
			n = width;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = width;
		}
		fprintf(out, "%.*s\n", n, p);
		p += n;
		while (*p == ' ')
			p++;
		if (*p)
			fprintf(out, "%*s", col, "");
	}
}

void tf_options_help(FILE *out)
{
	const char *group = NULL;

	fprintf(out, "Usage: tcpflow-trace [OPTIONS]\n"
		     "       tcpflow-trace report FILE.jsonl [-o report.html]\n"
		     "Trace TCP handshakes and closes per connection (eBPF); `report` turns a\n"
		     "--json capture into a self-contained HTML page with ladder diagrams.\n");
	for (int i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char left[64];

		if (!group || strcmp(group, o->group)) {
			group = o->group;
			fprintf(out, "\n%s:\n", group);
		}
		if (o->key < 256 && o->key != OPT_HELP)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->key, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else if (o->key == OPT_HELP)
			snprintf(left, sizeof(left), "-h, --help");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(left) > 24)
			fprintf(out, "  %s\n  %-24s ", left, "");
		else
			fprintf(out, "  %-24s ", left);
		print_wrapped(out, o->help);
	}
	fprintf(out, "\nExit status: 0 ok, 1 runtime failure, 2 usage error, 3 not permitted,\n"
		     "4 kernel lacks a feature, 5 --metrics address unusable.\n");
}

static void build_getopt(struct option *lo, char *so)
{
	int n = 0;

	*so++ = ':';	/* report a missing argument as ':' */
	for (int i = 0; i < NOPTS; i++) {
		lo[i] = (struct option){ opts[i].name, opts[i].arg ? required_argument : no_argument,
					 NULL, opts[i].key };
		if (opts[i].key < 256) {
			so[n++] = (char)opts[i].key;
			if (opts[i].arg)
				so[n++] = ':';
		}
	}
	so[n] = 0;
	lo[NOPTS] = (struct option){ 0 };
}

static const struct opt *find_opt(int key)
{
	for (int i = 0; i < NOPTS; i++)
		if (opts[i].key == key)
			return &opts[i];
	return NULL;
}

static int check_combination(struct tf_config *cfg, FILE *err)
{
	int modes = cfg->timeline + cfg->events;

	if (modes > 1) {
		fprintf(err, "tcpflow-trace: --timeline and --events exclude each other\n");
		return -1;
	}
	if (cfg->json && modes) {
		fprintf(err, "tcpflow-trace: --json prints connection records; drop --timeline/--events\n");
		return -1;
	}
	if (cfg->json && !cfg->hist)
		cfg->output = TF_OUT_JSON;
	else if (cfg->timeline)
		cfg->output = TF_OUT_TIMELINE;
	else if (cfg->events)
		cfg->output = TF_OUT_EVENTS;
	else if (cfg->hist || cfg->tw || (cfg->metrics && !cfg->json))
		cfg->output = TF_OUT_NONE;
	else
		cfg->output = TF_OUT_LINE;
	return 0;
}

int tf_options_parse(int argc, char **argv, struct tf_config *cfg, FILE *out, FILE *err)
{
	struct option lo[NOPTS + 1];
	char so[2 * NOPTS + 2];
	int c;

	tf_options_defaults(cfg);
	build_getopt(lo, so);
	optind = 0;	/* full reset: the parser may run more than once (tests, fuzzing) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct opt *o;

		if (c == '?') {
			if (optopt && optopt < 256)
				fprintf(err, "tcpflow-trace: unknown option '-%c' (see --help)\n", optopt);
			else
				fprintf(err, "tcpflow-trace: unknown option '%s' (see --help)\n",
					argv[optind - 1]);
			return TF_EXIT_USAGE;
		}
		if (c == ':') {
			fprintf(err, "tcpflow-trace: option '%s' needs a value (see --help)\n",
				argv[optind - 1]);
			return TF_EXIT_USAGE;
		}
		if (c == OPT_HELP) {
			tf_options_help(out);
			return TF_EXIT_OK;
		}
		if (c == OPT_VERSION) {
			fprintf(out, "tcpflow-trace %s\n", TF_VERSION);
			return TF_EXIT_OK;
		}
		o = find_opt(c);
		if (!o || !o->fn || o->fn(o, optarg, cfg, err))
			return TF_EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(err, "tcpflow-trace: unexpected argument '%s' (see --help)\n", argv[optind]);
		return TF_EXIT_USAGE;
	}
	if (check_combination(cfg, err))
		return TF_EXIT_USAGE;
	return -1;
}
