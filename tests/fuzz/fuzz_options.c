// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: arbitrary command lines (NUL-separated words) into option parsing:
 * the tracer's table, and the report's after a first word "report".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	char *buf = malloc(size + 1);
	char *argv[MAX_ARGS + 2];
	struct tf_config cfg;
	int argc = 1;

	if (!buf)
		return 0;
	if (!null)
		null = fopen("/dev/null", "w");
	memcpy(buf, data, size);
	buf[size] = 0;
	argv[0] = "tcpflow-trace";
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; ) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	tf_options_parse(argc, argv, &cfg, null, null);
	free(buf);
	return 0;
}
