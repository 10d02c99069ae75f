// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpflow-hammer: read a running tracer's live connection table (the BPF
 * map `conns`) over and over from another process, with one lookup method,
 * to see whether that method makes the tracer's programs lose events
 * (bench/hammer_lookup.py drives it; results in bench/HAMMER.md).
 *
 *   tcpflow-hammer -m keys|batch -d SECONDS -p TRACER_PID
 *
 * keys:  BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM, key by key (the
 *        tracer's fallback when the kernel refuses its map iterator)
 * batch: BPF_MAP_LOOKUP_BATCH, 1024 entries per call
 *
 * The map is the one named "conns" among the tracer's open files (never
 * another tracer's). Prints one JSON line: walks, entries read, syscalls.
 * Exit status: 0 success, 1 runtime failure, 2 usage error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "tcpflow.h"

#define BATCH 1024

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Is map `id` a tracer's connection table? An fd of it, or -1. */
static int conns_map(__u32 id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_map_get_fd_by_id(id);

	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "conns") &&
	    info.value_size == sizeof(struct tf_conn))
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The connection table among process pid's open BPF maps (/proc/PID/fdinfo): an fd, or -1. */
static int find_conns(int pid)
{
	char path[64], line[128];
	int fd = -1;

	for (int i = 0; i < 4096 && fd < 0; i++) {
		FILE *f;
		unsigned int id;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, i);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fd < 0 && fgets(line, sizeof(line), f))
			if (sscanf(line, "map_id: %u", &id) == 1)
				fd = conns_map(id);
		fclose(f);
	}
	return fd;
}

static uint64_t walk_keys(int fd, uint64_t *calls)
{
	__u64 key, next;
	struct tf_conn c;
	uint64_t n = 0;
	int first = 1;

	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		first = 0;
		key = next;
		*calls += 2;
		if (!bpf_map_lookup_elem(fd, &key, &c))
			n++;
	}
	return n;
}

static uint64_t walk_batch(int fd, __u64 *keys, struct tf_conn *vals, uint64_t *calls)
{
	__u64 in = 0, out = 0;
	void *inp = NULL;
	uint64_t n = 0;
	int err;

	do {
		__u32 count = BATCH;

		err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &count, NULL);
		(*calls)++;
		if (err && errno != ENOENT)
			return n;
		n += count;
		in = out;
		inp = &in;
	} while (!err);
	return n;
}

int main(int argc, char **argv)
{
	const char *method = NULL;
	double secs = 0;
	int fd = -1, opt, pid = 0;
	uint64_t walks = 0, entries = 0, calls = 0, end;
	__u64 *keys = calloc(BATCH, sizeof(*keys));
	struct tf_conn *vals = calloc(BATCH, sizeof(*vals));

	while ((opt = getopt(argc, argv, "m:d:p:")) != -1) {
		switch (opt) {
		case 'm': method = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'p': pid = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (!method || (strcmp(method, "keys") && strcmp(method, "batch")) || secs <= 0 || pid <= 0)
		goto usage;
	fd = find_conns(pid);
	if (fd < 0 || !keys || !vals) {
		fprintf(stderr, "tcpflow-hammer: no connection table among the BPF maps of pid %d "
			"(a running tcpflow-trace? as root)\n", pid);
		return 1;
	}
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		entries += method[0] == 'k' ? walk_keys(fd, &calls) : walk_batch(fd, keys, vals, &calls);
		walks++;
	}
	printf("{\"method\":\"%s\",\"seconds\":%.1f,\"walks\":%llu,\"entries\":%llu,\"syscalls\":%llu}\n",
	       method, secs, (unsigned long long)walks, (unsigned long long)entries,
	       (unsigned long long)calls);
	return 0;
usage:
	fprintf(stderr, "usage: tcpflow-hammer -m keys|batch -d SECONDS -p TRACER_PID\n");
	return 2;
}
