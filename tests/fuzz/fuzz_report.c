// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: arbitrary bytes as a --json capture into `tcpflow-trace report`:
 * reading (lines, JSON, every field), pairing, and the whole HTML page with
 * its ladder diagrams and histograms. No crash, no leak, bounded memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct tf_rp_opts opt = { .input_name = "fuzz", .top = 5, .max_diagrams = 50,
				  .max_rows = 100 };
	struct tf_rp_data d;
	FILE *in;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!size)
		return 0;
	in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	tf_rp_init(&d);
	tf_rp_read(&d, in);
	fclose(in);
	tf_rp_pair(&d);
	if (tf_rp_usable(&d))
		tf_rp_write_html(null, &d, &opt);
	tf_rp_free(&d);
	return 0;
}
