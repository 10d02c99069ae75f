// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `tcpflow-trace report FILE.jsonl [-o report.html] ...`: the command. See report.h. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "options.h"
#include "report.h"

static void usage(FILE *f)
{
	fputs("usage: tcpflow-trace report FILE.jsonl [-o report.html] [--top N] [--max-diagrams N]\n"
	      "                            [--max-rows N]\n"
	      "Turn a --json capture into one self-contained HTML page: summary, histograms of\n"
	      "handshake and close durations, ladder diagrams of the slowest handshakes, of every\n"
	      "connection with retransmissions and of every half-closed connection left open.\n"
	      "  FILE              the capture (tcpflow-trace --json > FILE); - reads stdin\n"
	      "  -o, --output F    write the page to F (default: stdout)\n"
	      "  --top N           slowest handshakes to draw (default 5)\n"
	      "  --max-diagrams N  draw at most N diagrams (default 200)\n"
	      "  --max-rows N      list at most N connections in the table (default 2000)\n", f);
}

static bool parse_count(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

int tf_report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 't' },
		{ "max-diagrams", required_argument, NULL, 'm' },
		{ "max-rows", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tf_rp_opts opt = { .top = 5, .max_diagrams = 200, .max_rows = 2000 };
	const char *in = NULL, *out = NULL, *name = "";
	struct tf_rp_data d;
	bool remove_on_error;
	struct stat sb;
	FILE *f, *o;
	int c, rc;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 't':
			name = "--top";
			if (!parse_count(optarg, 0, 100000, &opt.top))
				goto bad_value;
			break;
		case 'm':
			name = "--max-diagrams";
			if (!parse_count(optarg, 0, 100000, &opt.max_diagrams))
				goto bad_value;
			break;
		case 'r':
			name = "--max-rows";
			if (!parse_count(optarg, 0, 10000000, &opt.max_rows))
				goto bad_value;
			break;
		case 'h':
			usage(stdout);
			return TF_EXIT_OK;
		case ':':
			fprintf(stderr, "tcpflow-trace report: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return TF_EXIT_USAGE;
		default:
			fprintf(stderr, "tcpflow-trace report: unknown option %s (see --help)\n",
				argv[optind - 1]);
			return TF_EXIT_USAGE;
		}
		continue;
bad_value:
		fprintf(stderr, "tcpflow-trace report: bad value '%s' for %s: want a whole number "
				"(0 or more)\n", optarg, name);
		return TF_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "tcpflow-trace report: %s (usage: tcpflow-trace report FILE.jsonl "
				"-o report.html)\n", optind >= argc ? "which capture? give one FILE" :
				"give exactly one input FILE");
		return TF_EXIT_USAGE;
	}
	in = argv[optind];
	opt.input_name = in;
	f = strcmp(in, "-") ? fopen(in, "r") : stdin;
	if (!f) {
		fprintf(stderr, "tcpflow-trace report: cannot open %s: %s\n", in, strerror(errno));
		return TF_EXIT_RUNTIME;
	}
	tf_rp_init(&d);
	rc = tf_rp_read(&d, f);
	if (rc) {
		fprintf(stderr, "tcpflow-trace report: reading %s failed: %s\n", in,
			errno ? strerror(errno) : "read error");
		if (f != stdin)
			fclose(f);
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	if (f != stdin)
		fclose(f);
	if (!tf_rp_usable(&d)) {
		fprintf(stderr, "tcpflow-trace report: nothing usable in %s: %" PRIu64 " lines, no "
				"\"conn\" or \"stats\" record%s%s (is it tcpflow-trace --json output?)\n",
			in, d.lines, d.first_bad_line ? "; first problem: " : "",
			d.first_bad_line ? d.first_bad_msg : "");
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	if (d.bad_json + d.too_long + d.bad_record)
		fprintf(stderr, "tcpflow-trace report: skipped %" PRIu64 " of %" PRIu64 " lines (%"
				PRIu64 " not JSON, %" PRIu64 " too long, %" PRIu64 " unusable); first at "
				"line %" PRIu64 ": %s\n",
			d.bad_json + d.too_long + d.bad_record, d.lines, d.bad_json, d.too_long,
			d.bad_record, d.first_bad_line, d.first_bad_msg);
	tf_rp_pair(&d);
	o = out && strcmp(out, "-") ? fopen(out, "w") : stdout;
	if (!o) {
		fprintf(stderr, "tcpflow-trace report: cannot write %s: %s\n", out, strerror(errno));
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	/* a half-written page is removed on failure, but only a plain file: never a device */
	remove_on_error = o != stdout && !fstat(fileno(o), &sb) && S_ISREG(sb.st_mode);
	rc = tf_rp_write_html(o, &d, &opt);
	if (o != stdout) {
		if (fclose(o))
			rc = -1;
	} else if (fflush(o)) {
		rc = -1;
	}
	if (rc) {
		fprintf(stderr, "tcpflow-trace report: writing %s failed: %s\n", out ? out : "stdout",
			strerror(errno));
		if (remove_on_error)
			unlink(out);
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	if (out && strcmp(out, "-"))
		fprintf(stderr, "tcpflow-trace report: %s: %" PRIu64 " connections, written to %s\n", in,
			d.agg.conns, out);
	tf_rp_free(&d);
	return TF_EXIT_OK;
}
