// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpflow-bench-empty: load and attach bench/empty.bpf.c, print
 * "attached" on stderr, wait for SIGINT/SIGTERM. The benchmark's
 * empty-program reference row.
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "empty.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct empty_bpf *skel;
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: tcpflow-bench-empty (no options; Ctrl-C ends)\n");
		return 2;
	}
	libbpf_set_print(print_libbpf);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	skel = empty_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "tcpflow-bench-empty: cannot load the empty programs: %s (run as root)\n",
			strerror(errno));
		return 1;
	}
	err = empty_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "tcpflow-bench-empty: cannot attach: %s\n", strerror(-err));
		empty_bpf__destroy(skel);
		return 1;
	}
	fprintf(stderr, "tcpflow-bench-empty: attached\n");
	while (!stop)
		pause();
	empty_bpf__destroy(skel);
	return 0;
}
