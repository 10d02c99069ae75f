// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "privs.h"
#include "tcpflow.skel.h"
#include "listeners.skel.h"

#define DEFAULT_BTF "/sys/kernel/btf/vmlinux"

struct tf_loader {
	struct tcpflow_bpf *skel;
	struct ring_buffer *rb;
	tf_record_fn fn;
	void *ctx;
	int ncpus;
	const char *notice;
	bool detached;
	/* tf_loader_scan_live: one batch of the connection table */
	__u64 *scan_keys;
	struct tf_conn *scan_vals;
	bool no_batch;		/* the kernel has no batch lookup for this map type */
	struct bpf_link *scan_link;	/* dump_conns over `conns`; NULL: batch lookups */
	/* tf_loader_hold: records waiting for the end of a walk, each after its length */
	bool holding;
	unsigned char *held;
	size_t held_len, held_cap, held_max;
};

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!verbose)
		return 0;	/* warnings too: our own message says what to do */
	return vfprintf(stderr, fmt, ap);
}

/* Room for one more held record of len bytes (grows up to held_max). */
static bool hold_room(struct tf_loader *l, size_t len)
{
	size_t need = l->held_len + sizeof(uint32_t) + len, cap = l->held_cap ? l->held_cap : 1 << 20;
	unsigned char *p;

	if (need <= l->held_cap)
		return true;
	while (cap < need)
		cap *= 2;
	if (cap > l->held_max)
		return false;
	p = realloc(l->held, cap);
	if (!p)
		return false;
	l->held = p;
	l->held_cap = cap;
	return true;
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct tf_loader *l = ctx;
	uint32_t n = (uint32_t)len;

	if (l->holding && hold_room(l, len)) {
		memcpy(l->held + l->held_len, &n, sizeof(n));
		memcpy(l->held + l->held_len + sizeof(n), data, len);
		l->held_len += sizeof(n) + len;
		return 0;
	}
	l->fn(l->ctx, data, len);
	return 0;
}

void tf_loader_hold(struct tf_loader *l)
{
	l->holding = true;
	ring_buffer__consume(l->rb);
	l->holding = false;
}

void tf_loader_release(struct tf_loader *l)
{
	size_t off = 0;

	while (off < l->held_len) {
		uint32_t n;

		memcpy(&n, l->held + off, sizeof(n));
		l->fn(l->ctx, l->held + off + sizeof(n), n);
		off += sizeof(n) + n;
	}
	l->held_len = 0;
}

/* Errors of bpf() that mean "not allowed", not "not supported". */
static int classify(int err, char *buf, size_t len, const char *what)
{
	err = err < 0 ? -err : err;
	if (err == EPERM || err == EACCES) {
		snprintf(buf, len, "%s: not permitted (%s): run as root, or grant CAP_BPF, "
			 "CAP_PERFMON", what, strerror(err));
		return TF_EXIT_PERM;
	}
	snprintf(buf, len, "%s failed: %s (run with --verbose for libbpf's log)", what, strerror(err));
	return TF_EXIT_KERNEL;
}

/*
 * Can a --port be the local port connect() picks (from ip_local_port_range)?
 * Then clients wait for their second event to be filtered. The host's range
 * and the kernel's default one (32768-60999, what a new namespace starts
 * with) count; a namespace set to another range with a filter port only in
 * there would miss its clients' own-port matches (documented).
 */
static bool filter_may_be_ephemeral(const struct tf_config *cfg)
{
	unsigned int lo = 32768, hi = 60999, a, b;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f) {
		if (fscanf(f, "%u %u", &a, &b) == 2) {
			lo = a < lo ? a : lo;
			hi = b > hi ? b : hi;
		}
		fclose(f);
	}
	for (int i = 0; i < cfg->nports; i++)
		if (cfg->ports[i] >= lo && cfg->ports[i] <= hi)
			return true;
	return false;
}

/* Records per CPU between forced wake-ups: a quarter of the buffer in all. */
static __u32 wakeup_every(__u32 ringbuf_bytes, int ncpus)
{
	__u32 n = ringbuf_bytes / 4 / sizeof(struct tf_conn) / (ncpus > 0 ? ncpus : 1);

	return n ? n : 1;
}

static int configure(struct tcpflow_bpf *skel, const struct tf_config *cfg)
{
	struct tcpflow_bpf__rodata *ro = skel->rodata;
	int err;

	ro->filter_netns = cfg->netns;
	ro->filter_family = (__u8)cfg->family;
	ro->n_port_filters = (__u32)cfg->nports;
	tf_port_bits_fill(ro->port_bits, cfg);
	ro->filter_ephemeral = filter_may_be_ephemeral(cfg);
	ro->n_pid_filters = (__u32)cfg->npids;
	ro->emit_events = cfg->events;
	/* wake user space once a quarter of the buffer is waiting */
	ro->wakeup_every = wakeup_every(cfg->ringbuf_bytes, libbpf_num_possible_cpus());
	err = bpf_map__set_max_entries(skel->maps.rb, cfg->ringbuf_bytes);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.conns, cfg->max_conns);
	return err;
}

static int fill_filters(struct tcpflow_bpf *skel, const struct tf_config *cfg)
{
	__u8 one = 1;
	int err = 0;

	for (int i = 0; i < cfg->npids && !err; i++) {
		__u32 pid = cfg->pids[i];

		err = bpf_map__update_elem(skel->maps.pid_filter, &pid, sizeof(pid), &one,
					   sizeof(one), BPF_ANY);
	}
	return err;
}

/*
 * Listening sockets that existed before we attached: their owners from the
 * task_file iterator. New listeners are learnt at listen() by the tracepoint,
 * which wins (BPF_NOEXIST). Optional: needs bpf_sock_from_file (Linux 5.11).
 */
static void resolve_listeners(struct tf_loader *l, const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_path);
	struct listeners_bpf *it = listeners_bpf__open_opts(&oo);
	struct bpf_link *link = NULL;
	struct tf_listener_rec rec;
	int fd = -1;
	ssize_t n;

	if (!it || listeners_bpf__load(it))
		goto fail;
	link = bpf_program__attach_iter(it->progs.dump_listeners, NULL);
	if (!link)
		goto fail;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		goto fail;
	while ((n = read(fd, &rec, sizeof(rec))) == (ssize_t)sizeof(rec)) {
		struct tf_listen_key key = { .netns = rec.netns, .port = rec.port };
		struct tf_owner owner = { .pid = rec.pid };

		memcpy(owner.comm, rec.comm, sizeof(owner.comm));
		bpf_map__update_elem(l->skel->maps.listeners, &key, sizeof(key), &owner,
				     sizeof(owner), BPF_NOEXIST);
	}
	if (n < 0)
		goto fail;
	goto out;
fail:
	l->notice = "owners of sockets listening before start-up are unknown on this kernel "
		    "(needs Linux >= 5.11); their accepted connections show pid 0";
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	listeners_bpf__destroy(it);
}

/* The tracepoints the core attaches to, as BTF knows them (btf_trace_<name>). */
static const char *const required_tps[][2] = {
	{ "btf_trace_inet_sock_set_state", "sock:inet_sock_set_state (Linux >= 4.16)" },
	{ "btf_trace_tcp_retransmit_skb", "tcp:tcp_retransmit_skb" },
	{ "btf_trace_tcp_retransmit_synack", "tcp:tcp_retransmit_synack (Linux >= 4.15)" },
	{ "btf_trace_tcp_send_reset", "tcp:tcp_send_reset" },
	{ "btf_trace_tcp_receive_reset", "tcp:tcp_receive_reset" },
};

/* dump_conns over the connection table; NULL (walks use batch lookups) if refused. */
static struct bpf_link *attach_scan(struct tcpflow_bpf *skel)
{
	union bpf_iter_link_info li = { .map.map_fd = bpf_map__fd(skel->maps.conns) };
	LIBBPF_OPTS(bpf_iter_attach_opts, o, .link_info = &li, .link_info_len = sizeof(li));

	return bpf_program__attach_iter(skel->progs.dump_conns, &o);
}

/*
 * Before loading: does this kernel (as its BTF describes it) have our
 * tracepoints and ring buffers? A clear message beats a verifier log.
 */
static int preflight(const char *btf_path, bool *map_iter, char *err, size_t errlen)
{
	struct btf *btf = btf__parse(btf_path, NULL);
	int rc = TF_EXIT_OK;

	if (!btf) {
		snprintf(err, errlen, "cannot read kernel BTF from %s: %s (need "
			 "CONFIG_DEBUG_INFO_BTF=y, or give its BTF with --btf FILE)",
			 btf_path, strerror(errno));
		return TF_EXIT_KERNEL;
	}
	for (size_t i = 0; i < sizeof(required_tps) / sizeof(required_tps[0]); i++) {
		if (btf__find_by_name_kind(btf, required_tps[i][0], BTF_KIND_TYPEDEF) < 0) {
			snprintf(err, errlen, "this kernel has no tracepoint %s (per %s); "
				 "tcpflow-trace needs it", required_tps[i][1], btf_path);
			rc = TF_EXIT_KERNEL;
			goto out;
		}
	}
	/* iter/bpf_map_elem: Linux 5.9 */
	*map_iter = btf__find_by_name_kind(btf, "bpf_iter_bpf_map_elem", BTF_KIND_FUNC) >= 0;
	*map_iter = false;	/* TEMP: this kernel refuses iter/bpf_map_elem (H1 probes it) */
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 0) {
		snprintf(err, errlen, "this kernel has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, Linux >= 5.8): run on a newer kernel");
		rc = TF_EXIT_KERNEL;
	}
out:
	btf__free(btf);
	return rc;
}

int tf_loader_start(struct tf_loader **out, const struct tf_config *cfg,
		    tf_record_fn fn, void *ctx, char *err, size_t errlen)
{
	const char *btf = cfg->btf_path ? cfg->btf_path : DEFAULT_BTF;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = cfg->btf_path);
	struct tf_loader *l;
	int rc = TF_EXIT_RUNTIME, e;
	bool map_iter = false;

	*out = NULL;
	verbose = cfg->verbose;
	libbpf_set_print(print_libbpf);

	if (!tf_can_load_bpf()) {
		snprintf(err, errlen, "not permitted to load BPF tracing programs: run as root, "
			 "or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8)");
		return TF_EXIT_PERM;
	}
	if (access(btf, R_OK)) {
		snprintf(err, errlen, "kernel BTF not readable at %s (%s): need a kernel built "
			 "with CONFIG_DEBUG_INFO_BTF=y, or give its BTF with --btf FILE",
			 btf, strerror(errno));
		return errno == EACCES ? TF_EXIT_PERM : TF_EXIT_KERNEL;
	}
	rc = preflight(btf, &map_iter, err, errlen);
	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return TF_EXIT_RUNTIME;
	}
	l->fn = fn;
	l->ctx = ctx;
	/* as much as four ring buffers' worth may wait for a walk to end */
	l->held_max = (size_t)cfg->ringbuf_bytes * 4;
	l->ncpus = libbpf_num_possible_cpus();

	l->skel = tcpflow_bpf__open_opts(&oo);
	if (!l->skel) {
		rc = classify(errno, err, errlen, "opening the BPF object");
		goto cleanup;
	}
	/* the walk's iterator is attached to the map below, not to a hook */
	bpf_program__set_autoattach(l->skel->progs.dump_conns, false);
	if (!map_iter)
		bpf_program__set_autoload(l->skel->progs.dump_conns, false);
	e = configure(l->skel, cfg);
	if (e) {
		rc = classify(e, err, errlen, "configuring the BPF maps");
		goto cleanup;
	}
	e = tcpflow_bpf__load(l->skel);
	if (e) {
		rc = classify(e, err, errlen, "loading the BPF programs (kernel >= 5.8 with BTF needed)");
		goto cleanup;
	}
	e = fill_filters(l->skel, cfg);
	if (e) {
		rc = classify(e, err, errlen, "filling the filter maps");
		goto cleanup;
	}
	e = tcpflow_bpf__attach(l->skel);
	if (e) {
		rc = classify(e, err, errlen, "attaching to the tcp/sock tracepoints");
		if (e == -ENOENT)
			snprintf(err, errlen, "a tracepoint is missing on this kernel (%s): "
				 "need sock:inet_sock_set_state and tcp:tcp_retransmit_* "
				 "(Linux >= 5.8); --verbose shows which", strerror(-e));
		goto cleanup;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.rb), on_sample, l, NULL);
	if (!l->rb) {
		rc = classify(errno, err, errlen, "opening the ring buffer");
		goto cleanup;
	}
	if (map_iter)
		l->scan_link = attach_scan(l->skel);
	resolve_listeners(l, cfg->btf_path);
	*out = l;
	return TF_EXIT_OK;

cleanup:
	tf_loader_free(l);
	return rc;
}

int tf_loader_poll(struct tf_loader *l, int timeout_ms)
{
	int n = ring_buffer__poll(l->rb, timeout_ms);

	if (n < 0)
		return n == -EINTR ? 0 : n;
	/* Wake-ups are batched in the kernel: also take what did not wake us. */
	return ring_buffer__consume(l->rb);
}

void tf_loader_detach(struct tf_loader *l)
{
	if (!l || l->detached)
		return;
	tcpflow_bpf__detach(l->skel);
	l->detached = true;
	if (l->rb)
		ring_buffer__consume(l->rb);
}

#define SCAN_BATCH 1024

/* Key by key: two syscalls per connection (kernels without batch lookup). */
static int scan_keys(int fd, tf_live_fn fn, void *ctx)
{
	__u64 key, next, *prev = NULL;
	struct tf_conn c;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &c) || !c.nstates)
			continue;
		fn(ctx, &c);
		n++;
	}
	return n;
}

/*
 * SCAN_BATCH connections per syscall (BPF_MAP_LOOKUP_BATCH, Linux 5.6 for
 * hash maps): ~5x cheaper than key by key on a full table (50 000
 * connections: 33 ms instead of 156 ms, measured). -1: not supported.
 */
static bool scan_buffers(struct tf_loader *l)
{
	if (!l->scan_keys) {
		l->scan_keys = calloc(SCAN_BATCH, sizeof(*l->scan_keys));
		l->scan_vals = calloc(SCAN_BATCH, sizeof(*l->scan_vals));
	}
	return l->scan_keys && l->scan_vals;
}

static int scan_batches(struct tf_loader *l, int fd, tf_live_fn fn, void *ctx)
{
	__u64 in = 0, out = 0;
	void *inp = NULL;
	int n = 0, err;

	if (!scan_buffers(l))
		return -1;
	do {
		__u32 count = SCAN_BATCH;

		err = bpf_map_lookup_batch(fd, inp, &out, l->scan_keys, l->scan_vals, &count, NULL);
		if (err && errno != ENOENT)
			return inp ? n : -1;	/* mid-way: keep what we have */
		for (__u32 i = 0; i < count; i++) {
			if (!l->scan_vals[i].nstates)
				continue;
			fn(ctx, &l->scan_vals[i]);
			n++;
		}
		in = out;
		inp = &in;
	} while (!err);
	return n;
}

/*
 * Through dump_conns (see there why not batch lookups): whole records, read
 * SCAN_BATCH at a time; a read may end inside one, kept for the next read.
 */
static int scan_iter(struct tf_loader *l, tf_live_fn fn, void *ctx)
{
	const size_t rec = sizeof(struct tf_conn), cap = SCAN_BATCH * rec;
	unsigned char *buf;
	size_t have = 0, off;
	ssize_t got;
	int fd, n = 0;

	if (!scan_buffers(l))
		return -1;
	buf = (unsigned char *)l->scan_vals;
	fd = bpf_iter_create(bpf_link__fd(l->scan_link));
	if (fd < 0)
		return -1;
	while ((got = read(fd, buf + have, cap - have)) > 0) {
		have += (size_t)got;
		for (off = 0; off + rec <= have; off += rec) {
			const struct tf_conn *c = (const void *)(buf + off);	/* 8-aligned */

			if (!c->nstates)
				continue;
			fn(ctx, c);
			n++;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	close(fd);
	return got < 0 && !n ? -1 : n;
}

/* The one walk over the kernel's connection table (copies, in hash order). */
int tf_loader_scan_live(struct tf_loader *l, tf_live_fn fn, void *ctx)
{
	int fd = bpf_map__fd(l->skel->maps.conns);
	int n = l->scan_link ? scan_iter(l, fn, ctx) : -1;

	if (n >= 0)
		return n;
	n = l->no_batch ? -1 : scan_batches(l, fd, fn, ctx);

	if (n >= 0)
		return n;
	l->no_batch = true;
	return scan_keys(fd, fn, ctx);
}

static void flush_one(void *ctx, const struct tf_conn *c)
{
	struct tf_loader *l = ctx;
	struct tf_conn open = *c;

	open.flags |= TF_F_OPEN;
	l->fn(l->ctx, &open, sizeof(open));
}

int tf_loader_flush_open(struct tf_loader *l)
{
	return tf_loader_scan_live(l, flush_one, l);
}

static void count_one(void *ctx, const struct tf_conn *c)
{
	uint64_t *counts = ctx;

	counts[c->state[(c->nstates - 1) % TF_MAX_STATES] % TF_STATE_MAX]++;
}

int tf_loader_count_live(struct tf_loader *l, uint64_t counts[TF_STATE_MAX])
{
	memset(counts, 0, sizeof(uint64_t) * TF_STATE_MAX);
	return tf_loader_scan_live(l, count_one, counts);
}

static uint64_t prog_recursion_misses(const struct bpf_program *p)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return 0;
	return info.recursion_misses;
}

void tf_loader_read_stats(struct tf_loader *l, struct tf_run_stats *st)
{
	int fd = bpf_map__fd(l->skel->maps.stats);
	__u64 *vals = calloc(l->ncpus > 0 ? l->ncpus : 1, sizeof(__u64));
	struct bpf_program *p;

	for (__u32 i = 0; vals && i < TF_STAT_MAX; i++) {
		st->bpf[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int c = 0; c < l->ncpus; c++)
			st->bpf[i] += vals[c];
	}
	free(vals);
	st->recursion_misses = 0;
	bpf_object__for_each_program(p, l->skel->obj)
		st->recursion_misses += prog_recursion_misses(p);
	st->events = st->bpf[TF_STAT_EVENTS];
}

const char *tf_loader_notice(const struct tf_loader *l)
{
	return l ? l->notice : NULL;
}

void tf_loader_free(struct tf_loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	bpf_link__destroy(l->scan_link);
	tcpflow_bpf__destroy(l->skel);
	free(l->scan_keys);
	free(l->scan_vals);
	free(l->held);
	free(l);
}
