// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `tcpflow-trace report FILE.jsonl [-o report.html] ...`: the command, its
 * options parsed by options.c (their table). See report.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "exitcodes.h"
#include "options.h"
#include "report.h"

int tf_report_main(const struct tf_report_config *cfg)
{
	struct tf_rp_opts opt = { .input_name = cfg->input, .top = cfg->top,
				  .max_diagrams = cfg->max_diagrams, .max_rows = cfg->max_rows };
	const char *in = cfg->input, *out = cfg->output;
	struct tf_rp_data d;
	bool remove_on_error;
	struct stat sb;
	FILE *f, *o;
	int rc;

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
