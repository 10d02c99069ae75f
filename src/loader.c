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
#include "exitcodes.h"
#include "fmt.h"
#include "loader.h"
#include "loader_iters.h"
#include "ohash.h"
#include "privs.h"
#include "tcpflow.skel.h"
#include "listeners.skel.h"

#define DEFAULT_BTF "/sys/kernel/btf/vmlinux"

/*
 * Programs of tcpflow.bpf.c with a hook: the core first (on_set_state, or
 * on_state_km in its place), then the optional ones.
 */
#define NPROGS 6

struct tf_loader {
	struct tcpflow_bpf *skel;
	bool km;			/* on_state_km runs: metrics folded in the kernel */
	struct ring_buffer *rb;
	tf_record_fn fn;
	void *ctx;
	int ncpus;
	struct tf_features *feats;
	bool detached;
	struct bpf_link *links[NPROGS];
	struct tf_iters *iters;		/* timewait.bpf.c: tf_loader_start_iters */
	/* tf_loader_scan_live: a read buffer, and the keys a key-by-key walk has seen */
	struct tf_conn *scan_vals;
	struct tf_ohash seen;
	struct bpf_link *scan_link;	/* dump_conns over `conns`; NULL: key by key */
	/* tf_loader_count_live key by key: at most 1/COUNT_SHARE of the time */
	uint64_t count_next_ns;
	uint64_t counts[TF_STATE_MAX];
	int count_total;
	/* tf_loader_iter_read: records waiting for the end of a walk, each after its length */
	bool holding;
	unsigned char *held;
	size_t held_len, held_cap, held_max;
	/* tf_loader_refresh_listeners */
	const char *btf_path;
	struct tf_ohash owners_gone;	/* struct gone_key: gone, no live holder found */
};

/* A listener whose registered owner is gone (and no live holder was found). */
struct gone_key {
	struct tf_listen_key key;
	__u32 pid;
};

#define GONE_CAP 4096

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

/* Move what waits in the ring buffer into memory (see tf_loader_iter_read). */
static void hold(struct tf_loader *l)
{
	l->holding = true;
	ring_buffer__consume(l->rb);
	l->holding = false;
}

/* Deliver what hold() kept, in order. Returns how many records. */
static int release(struct tf_loader *l)
{
	size_t off = 0;
	int n = 0;

	while (off < l->held_len) {
		uint32_t len;

		memcpy(&len, l->held + off, sizeof(len));
		l->fn(l->ctx, l->held + off + sizeof(len), len);
		off += sizeof(len) + len;
		n++;
	}
	l->held_len = 0;
	return n;
}

/* Errors of bpf() that mean "not allowed", not "not supported". */
static int classify(int err, char *buf, size_t len, const char *what)
{
	err = err < 0 ? -err : err;
	if (err == EPERM || err == EACCES) {
		snprintf(buf, len, "%s: not permitted (%s): run as root, or grant CAP_BPF, "
			 "CAP_PERFMON (as root: kernel lockdown or a security module forbids it)",
			 what, strerror(err));
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

/*
 * Fold connections into the kernel's metrics? When only --metrics and/or
 * --hist want them (no view prints records, --tw shows TIME-WAIT ends) and
 * the fold loads; --check probes it.
 */
static bool km_wanted(const struct tf_config *cfg, const struct tf_features *fs)
{
	if (fs->f[TF_FEAT_KERNEL_METRICS].state != TF_FS_ENABLED)
		return false;
	return cfg->check || ((cfg->metrics || cfg->hist) && cfg->output == TF_OUT_NONE &&
			      !cfg->tw && !cfg->events);
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
	ro->n_cgroup_filters = (__u32)cfg->ncgroups;
	_Static_assert(TF_MAX_CGROUP_FILTERS <= TF_MAX_CGROUPS, "--cgroup groups fit the programs");
	for (int i = 0; i < cfg->ncgroups; i++) {
		ro->cgroup_filter_id[i] = cfg->cgroup_ids[i];
		ro->cgroup_filter_level[i] = cfg->cgroup_levels[i];
	}
	ro->emit_events = cfg->events;
	ro->km_tw = cfg->metrics != NULL;	/* the TIME-WAIT tracker runs (main.c) */
	ro->km_stuck_ns = (__u64)(cfg->stuck_s * 1e9);
	ro->km_learn = cfg->nports == 0;
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
	/* the port label's values: the --port ports, in their order (src/metrics.c) */
	for (__u32 i = 0; i < (__u32)cfg->nports && i < TF_KM_PORTS && !err; i++) {
		__u16 port = cfg->ports[i];

		err = bpf_map__update_elem(skel->maps.km_ports, &port, sizeof(port), &i, sizeof(i),
					   BPF_NOEXIST);
		if (err == -EEXIST)	/* a port given twice keeps its first slot */
			err = 0;
		else if (!err)
			skel->bss->km_slot_port[i] = port;
	}
	return err;
}

/*
 * The programs of tcpflow.bpf.c. Only the core (on_set_state, with the ring
 * buffer) is required; the kernel may refuse any other one (some 6.18
 * builds refuse every iter/bpf_map_elem program with EPERM before the
 * verifier runs), and its feature is then switched off or to a fallback.
 * The hooked programs come first, in attach order; dump_conns last.
 */
struct prog_spec {
	const char *name;	/* distinct in 15 characters (BPF_OBJ_NAME_LEN) */
	int feat;		/* enum tf_feature_id; -1: the core */
	int refused;		/* the feature's state when the kernel refuses it */
	const char *btf;	/* the hook as the kernel's BTF names it */
	int btf_kind;
	const char *hook;	/* for "X not in this kernel" */
	const char *what;	/* for "the kernel refused X" */
};

static const struct prog_spec specs[] = {
	{ "on_set_state", -1, 0, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF,
	  "sock:inet_sock_set_state (Linux >= 4.16)",
	  "tp_btf/inet_sock_set_state program on_set_state" },
	/* on_set_state with the kernel metrics fold, in its place (bpf/kmetrics.h) */
	{ "on_state_km", TF_FEAT_KERNEL_METRICS, TF_FS_FALLBACK, "btf_trace_inet_sock_set_state",
	  BTF_KIND_TYPEDEF, "sock:inet_sock_set_state (Linux >= 4.16)",
	  "tp_btf/inet_sock_set_state program on_state_km" },
	{ "on_retrans_skb", TF_FEAT_RETRANSMITS, TF_FS_OFF, "btf_trace_tcp_retransmit_skb",
	  BTF_KIND_TYPEDEF, "tracepoint tcp:tcp_retransmit_skb",
	  "tp_btf/tcp_retransmit_skb program on_retrans_skb" },
	{ "on_retrans_synack", TF_FEAT_SYNACK_RETRANSMITS, TF_FS_OFF,
	  "btf_trace_tcp_retransmit_synack", BTF_KIND_TYPEDEF,
	  "tracepoint tcp:tcp_retransmit_synack of Linux >= 4.15",
	  "tp_btf/tcp_retransmit_synack program on_retrans_synack" },
	{ "on_send_reset", TF_FEAT_RESETS, TF_FS_OFF, "btf_trace_tcp_send_reset", BTF_KIND_TYPEDEF,
	  "tracepoint tcp:tcp_send_reset", "tp_btf/tcp_send_reset program on_send_reset" },
	{ "on_receive_reset", TF_FEAT_RESETS, TF_FS_OFF, "btf_trace_tcp_receive_reset",
	  BTF_KIND_TYPEDEF, "tracepoint tcp:tcp_receive_reset",
	  "tp_btf/tcp_receive_reset program on_receive_reset" },
	/* iter/bpf_map_elem: Linux 5.9 */
	{ "dump_conns", TF_FEAT_CONN_TABLE_ITER, TF_FS_FALLBACK, "bpf_iter_bpf_map_elem",
	  BTF_KIND_FUNC, "map element iterator iter/bpf_map_elem of Linux >= 5.9",
	  "iter/bpf_map_elem program dump_conns" },
};

#define NSPECS ((int)(sizeof(specs) / sizeof(specs[0])))

/* Load it? The core always; an optional program while its feature is enabled. */
static bool prog_wanted(const struct tf_features *fs, const struct prog_spec *sp)
{
	return sp->feat < 0 || fs->f[sp->feat].state == TF_FS_ENABLED;
}

/*
 * Load it in this run? on_state_km when the fold is wanted (and for
 * --check, which probes it), on_set_state when it is not the run's core.
 */
static bool prog_loads(const struct tf_config *cfg, const struct tf_features *fs,
		       const struct prog_spec *sp)
{
	if (sp->feat < 0)
		return !km_wanted(cfg, fs) || cfg->check;
	return prog_wanted(fs, sp) && (sp->feat != TF_FEAT_KERNEL_METRICS || km_wanted(cfg, fs));
}

/* Attach it? The programs loaded, on_state_km only when it is the core (not --check's). */
static bool prog_attaches(const struct tf_loader *l, const struct prog_spec *sp)
{
	if (sp->feat < 0)
		return !l->km;
	return prog_wanted(l->feats, sp) && (sp->feat != TF_FEAT_KERNEL_METRICS || l->km);
}

static void prog_refused(struct tf_features *fs, const struct prog_spec *sp, int err)
{
	tf_feature_set(fs, sp->feat, sp->refused, TF_FW_REFUSED, err, sp->what);
}

/*
 * Is the process that registered a listener still there? Same pid, same
 * command: a pid reused by another program is not the owner. Unknown owners
 * (0) and unreadable /proc entries count as there.
 */
static bool owner_alive(const struct tf_owner *o)
{
	char path[32], comm[TF_COMM_LEN + 2] = "";
	FILE *f;

	if (!o->pid)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/comm", o->pid);
	f = fopen(path, "r");
	if (!f)
		return errno != ENOENT;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	return !strncmp(comm, o->comm, TF_COMM_LEN);
}

/* A listener's owner found by the walk replaces one that is gone (refresh). */
static void replace_gone(struct tf_loader *l, const struct tf_listen_key *key,
			 const struct tf_owner *found)
{
	struct tf_owner cur;

	if (bpf_map__lookup_elem(l->skel->maps.listeners, key, sizeof(*key), &cur, sizeof(cur), 0) ||
	    owner_alive(&cur))
		return;
	bpf_map__update_elem(l->skel->maps.listeners, key, sizeof(*key), found, sizeof(*found),
			     BPF_EXIST);
}

/*
 * Listening sockets that existed before we attached: their owners from the
 * task_file iterator. New listeners are learnt at listen() by the tracepoint,
 * which wins (BPF_NOEXIST). Optional (listener_owners): needs
 * bpf_sock_from_file (Linux 5.11).
 * refresh: instead, a live holder replaces an owner that is gone.
 */
static void resolve_listeners(struct tf_loader *l, const char *btf_path, bool refresh)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_path);
	struct listeners_bpf *it = listeners_bpf__open_opts(&oo);
	struct bpf_link *link = NULL;
	struct tf_listener_rec rec;
	int fd = -1, err = -errno;
	ssize_t n;

	if (!it)
		goto fail;
	err = listeners_bpf__load(it);
	if (err)
		goto fail;
	link = bpf_program__attach_iter(it->progs.dump_listeners, NULL);
	fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	err = -errno;
	if (fd < 0)
		goto fail;
	while ((n = read(fd, &rec, sizeof(rec))) == (ssize_t)sizeof(rec)) {
		struct tf_listen_key key = { .netns = rec.netns, .port = rec.port };
		struct tf_owner owner = { .pid = rec.pid };

		memcpy(owner.comm, rec.comm, sizeof(owner.comm));
		if (refresh)
			replace_gone(l, &key, &owner);
		else
			bpf_map__update_elem(l->skel->maps.listeners, &key, sizeof(key), &owner,
					     sizeof(owner), BPF_NOEXIST);
	}
	err = -errno;
	if (n < 0)
		goto fail;
	goto out;
fail:
	if (!refresh)
		tf_feature_set(l->feats, TF_FEAT_LISTENER_OWNERS, TF_FS_OFF, TF_FW_REFUSED, err,
			       "iter/task_file program dump_listeners");
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	listeners_bpf__destroy(it);
}

/* dump_conns over the connection table; NULL (walks go key by key) if refused. */
static struct bpf_link *attach_scan(struct tcpflow_bpf *skel)
{
	union bpf_iter_link_info li = { .map.map_fd = bpf_map__fd(skel->maps.conns) };
	LIBBPF_OPTS(bpf_iter_attach_opts, o, .link_info = &li, .link_info_len = sizeof(li));

	return bpf_program__attach_iter(skel->progs.dump_conns, &o);
}

/*
 * Before loading: does this kernel (as its BTF describes it) have our core
 * tracepoint and ring buffers? A clear message beats a verifier log. An
 * optional hook it does not have switches its feature off.
 */
static int preflight(const char *btf_path, struct tf_features *fs, char *err, size_t errlen)
{
	struct btf *btf = btf__parse(btf_path, NULL);
	int rc = TF_EXIT_OK;

	if (!btf) {
		snprintf(err, errlen, "cannot read kernel BTF from %s: %s (need "
			 "CONFIG_DEBUG_INFO_BTF=y, or give its BTF with --btf FILE)",
			 btf_path, strerror(errno));
		return TF_EXIT_KERNEL;
	}
	for (int i = 0; i < NSPECS; i++) {
		const struct prog_spec *sp = &specs[i];

		if (btf__find_by_name_kind(btf, sp->btf, sp->btf_kind) >= 0)
			continue;
		if (sp->feat >= 0) {
			tf_feature_set(fs, sp->feat, sp->refused, TF_FW_MISSING, ENOENT, sp->hook);
			continue;
		}
		snprintf(err, errlen, "this kernel has no tracepoint %s (per %s); "
			 "tcpflow-trace needs it", sp->hook, btf_path);
		rc = TF_EXIT_KERNEL;
		goto out;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 0) {
		snprintf(err, errlen, "this kernel has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, Linux >= 5.8): run on a newer kernel");
		rc = TF_EXIT_KERNEL;
	}
out:
	btf__free(btf);
	return rc;
}

/*
 * A fresh copy of the object, configured, with the wanted programs (only
 * `only` when given, and small maps: a probe). 0 or -errno; *out is NULL
 * when the object could not even be opened.
 */
static int open_load(struct tcpflow_bpf **out, const struct tf_config *cfg,
		     const struct tf_features *fs, const char *only)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = cfg->btf_path);
	struct tcpflow_bpf *skel = tcpflow_bpf__open_opts(&oo);
	int err;

	*out = skel;
	if (!skel)
		return -errno;
	for (int i = 0; i < NSPECS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, specs[i].name);

		bpf_program__set_autoattach(p, false);	/* attached one by one */
		bpf_program__set_autoload(p, only ? !strcmp(specs[i].name, only) :
						    prog_loads(cfg, fs, &specs[i]));
	}
	err = configure(skel, cfg);
	if (!err && only)
		err = bpf_map__set_max_entries(skel->maps.rb, (__u32)getpagesize()) ?:
		      bpf_map__set_max_entries(skel->maps.conns, 16);
	return err ? err : tcpflow_bpf__load(skel);
}

/*
 * Load everything; when the kernel refuses, find out which optional
 * programs it refuses (each loaded alone), switch their features off and
 * load the rest. One load when all is well; 2 + one per optional program
 * when not (measured: docs/SUPPORTED-KERNELS.md, Optional features).
 */
static int load_progs(struct tf_loader *l, const struct tf_config *cfg)
{
	int e = open_load(&l->skel, cfg, l->feats, NULL);

	if (!e || !l->skel)
		return e;
	for (int i = 0; i < NSPECS; i++) {
		struct tcpflow_bpf *probe;
		int pe;

		/*
		 * Not on_state_km: verifying it takes ~0.3 s here, where the
		 * others take milliseconds; it is switched off below only if the
		 * load still fails with it.
		 */
		if (specs[i].feat < 0 || specs[i].feat == TF_FEAT_KERNEL_METRICS ||
		    !prog_loads(cfg, l->feats, &specs[i]))
			continue;
		pe = open_load(&probe, cfg, l->feats, specs[i].name);
		tcpflow_bpf__destroy(probe);
		if (pe)
			prog_refused(l->feats, &specs[i], pe);
	}
	tcpflow_bpf__destroy(l->skel);
	e = open_load(&l->skel, cfg, l->feats, NULL);
	if (!e || !l->skel || !km_wanted(cfg, l->feats))
		return e;
	/* the rest loads alone: on_state_km is what the kernel refuses */
	tf_feature_set(l->feats, TF_FEAT_KERNEL_METRICS, TF_FS_FALLBACK, TF_FW_REFUSED, e,
		       specs[1].what);
	tcpflow_bpf__destroy(l->skel);
	return open_load(&l->skel, cfg, l->feats, NULL);
}

/*
 * Attach the hooked programs: the core must attach, an optional one that
 * will not switches its feature off. Both reset programs or none.
 */
static int attach_progs(struct tf_loader *l, char *err, size_t errlen)
{
	for (int i = 0; i < NPROGS; i++) {
		const struct prog_spec *sp = &specs[i];
		int e;

		if (!prog_attaches(l, sp))
			continue;
		l->links[i] = bpf_program__attach(bpf_object__find_program_by_name(l->skel->obj,
										   sp->name));
		if (l->links[i])
			continue;
		e = -errno;
		if (sp->feat >= 0 && sp->feat != TF_FEAT_KERNEL_METRICS) {	/* not the core */
			prog_refused(l->feats, sp, e);
			continue;
		}
		if (e == -ENOENT) {
			snprintf(err, errlen, "a tracepoint is missing on this kernel (%s): "
				 "need sock:inet_sock_set_state (Linux >= 5.8); --verbose shows why",
				 strerror(-e));
			return TF_EXIT_KERNEL;
		}
		return classify(e, err, errlen, "attaching to sock:inet_sock_set_state");
	}
	for (int i = 0; i < NPROGS; i++) {
		if (l->links[i] && !prog_wanted(l->feats, &specs[i])) {
			bpf_link__destroy(l->links[i]);
			l->links[i] = NULL;
		}
		/* the kernel's retransmission counts are compared with ours only now */
		if (specs[i].feat == TF_FEAT_RETRANSMITS)
			l->skel->bss->retrans_attached = l->links[i] != NULL;
	}
	return TF_EXIT_OK;
}

/*
 * bpf_prog_info.recursion_misses came with Linux 5.12 (9ed9e9ba2337 "bpf:
 * Count the number of times recursion was prevented"). The kernel fills the
 * part of the struct it knows and says how long that is.
 */
static void probe_recursion_misses(struct tf_loader *l)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int e = bpf_obj_get_info_by_fd(bpf_program__fd(l->km ? l->skel->progs.on_state_km :
							   l->skel->progs.on_set_state), &info, &len);

	if (!e && len >= offsetof(struct bpf_prog_info, recursion_misses) + sizeof(info.recursion_misses))
		return;
	tf_feature_set(l->feats, TF_FEAT_RECURSION_MISSES, TF_FS_OFF, TF_FW_MISSING,
		       e ? e : EOPNOTSUPP, "bpf_prog_info.recursion_misses of Linux >= 5.12");
}

int tf_loader_start(struct tf_loader **out, const struct tf_config *cfg, struct tf_features *feats,
		    tf_record_fn fn, void *ctx, char *err, size_t errlen)
{
	const char *btf = cfg->btf_path ? cfg->btf_path : DEFAULT_BTF;
	struct tf_loader *l;
	int rc = TF_EXIT_RUNTIME, e;

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
	rc = preflight(btf, feats, err, errlen);
	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l || tf_ohash_init(&l->seen, sizeof(__u64), 0, cfg->max_conns)) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return TF_EXIT_RUNTIME;
	}
	l->fn = fn;
	l->ctx = ctx;
	l->feats = feats;
	/* as much as four ring buffers' worth may wait for a walk to end */
	l->held_max = (size_t)cfg->ringbuf_bytes * 4;
	l->ncpus = libbpf_num_possible_cpus();

	e = load_progs(l, cfg);
	if (!l->skel) {
		rc = classify(e, err, errlen, "opening the BPF object");
		goto cleanup;
	}
	if (e) {
		rc = classify(e, err, errlen, "loading the core BPF program (tp_btf/inet_sock_set_state "
			      "program on_set_state, Linux >= 5.8 with BTF)");
		goto cleanup;
	}
	l->km = km_wanted(cfg, feats) && !cfg->check;
	e = fill_filters(l->skel, cfg);
	if (e) {
		rc = classify(e, err, errlen, "filling the filter maps");
		goto cleanup;
	}
	rc = attach_progs(l, err, errlen);
	if (rc)
		goto cleanup;
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.rb), on_sample, l, NULL);
	if (!l->rb) {
		rc = classify(errno, err, errlen, "opening the ring buffer");
		goto cleanup;
	}
	if (prog_wanted(feats, &specs[NPROGS])) {
		l->scan_link = attach_scan(l->skel);
		if (!l->scan_link)
			prog_refused(feats, &specs[NPROGS], -errno);
	}
	l->btf_path = cfg->btf_path;
	if (tf_ohash_init(&l->owners_gone, sizeof(struct gone_key), 1, GONE_CAP)) {
		rc = classify(ENOMEM, err, errlen, "setting up the listener table");
		goto cleanup;
	}
	resolve_listeners(l, cfg->btf_path, false);
	probe_recursion_misses(l);
	*out = l;
	return TF_EXIT_OK;

cleanup:
	tf_loader_free(l);
	return rc;
}

/*
 * Listeners (netns, port) whose owner is gone and was not given up on yet;
 * `mark`: give up on them (no live holder was found).
 */
static bool owners_gone(struct tf_loader *l, bool mark)
{
	struct tf_listen_key key, next, *prev = NULL;
	int fd = bpf_map__fd(l->skel->maps.listeners);
	bool any = false;

	if (mark && l->owners_gone.n >= GONE_CAP)
		tf_ohash_clear(&l->owners_gone);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct gone_key g = { .key = next };
		struct tf_owner o;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &o) || owner_alive(&o))
			continue;
		g.pid = o.pid;
		if (tf_ohash_get(&l->owners_gone, &g))
			continue;
		any = true;
		if (mark)
			tf_ohash_put(&l->owners_gone, &g, NULL);
	}
	return any;
}

int tf_loader_refresh_listeners(struct tf_loader *l)
{
	if (l->feats->f[TF_FEAT_LISTENER_OWNERS].state != TF_FS_ENABLED || !owners_gone(l, false))
		return 0;
	resolve_listeners(l, l->btf_path, true);
	owners_gone(l, true);
	return 1;
}

int tf_loader_poll(struct tf_loader *l, int timeout_ms)
{
	int held = release(l), n = ring_buffer__poll(l->rb, timeout_ms);

	if (n < 0)
		return n == -EINTR ? held : n;
	/* Wake-ups are batched in the kernel: also take what did not wake us. */
	n = ring_buffer__consume(l->rb);
	return n < 0 ? n : held + n;
}

int tf_loader_start_iters(struct tf_loader *l, const struct tf_config *cfg, char *err,
			  size_t errlen)
{
	return tf_iters_start(&l->iters, cfg, l->feats, err, errlen);
}

int tf_loader_iter_link(const struct tf_loader *l, enum tf_iter it)
{
	return tf_iters_link(l->iters, it);
}

int tf_loader_iter_open(const struct tf_loader *l, enum tf_iter it)
{
	int link = tf_iters_link(l->iters, it), fd;

	if (link < 0)
		return -EBADF;	/* not attached: refused, or never started */
	fd = bpf_iter_create(link);
	return fd < 0 ? -errno : fd;
}

ssize_t tf_loader_iter_read(struct tf_loader *l, int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n > 0)
		hold(l);
	return n;
}

static void destroy_links(struct tf_loader *l)
{
	for (int i = 0; i < NPROGS; i++) {
		bpf_link__destroy(l->links[i]);
		l->links[i] = NULL;
	}
}

void tf_loader_detach(struct tf_loader *l)
{
	if (!l || l->detached)
		return;
	destroy_links(l);
	l->detached = true;
	release(l);
	if (l->rb)
		ring_buffer__consume(l->rb);
}

#define SCAN_BATCH 1024
#define COUNT_SHARE 50	/* key-by-key gauge walks: at most 2% of the time */

/*
 * Key by key (the fallback when the kernel refuses dump_conns): two
 * syscalls per connection, neither taking a bucket lock (the lookups run
 * under RCU like a BPF program's). Not BPF_MAP_LOOKUP_BATCH: with batch
 * lookups hammering this table, whole softirq bursts of our tracepoint
 * runs went missing with nothing counted (see bench/HAMMER.md, which also
 * measures this walk). get_next_key starts over from the first key when
 * the current one was deleted meanwhile: keys already seen are skipped, and
 * the walk is bounded.
 */
static int scan_keys(struct tf_loader *l, int fd, tf_live_fn fn, void *ctx)
{
	__u64 key = 0, next;
	uint64_t steps = 0, bound = 2 * (uint64_t)bpf_map__max_entries(l->skel->maps.conns) + 64;
	bool first = true, fresh;
	struct tf_conn c;
	int n = 0;

	tf_ohash_clear(&l->seen);
	while (steps++ < bound && !bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (tf_ohash_put(&l->seen, &key, &fresh) && !fresh)
			continue;
		if (bpf_map_lookup_elem(fd, &key, &c) || !c.nstates)
			continue;
		fn(ctx, &c);
		n++;
	}
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

	if (!l->scan_vals)
		l->scan_vals = calloc(SCAN_BATCH, sizeof(*l->scan_vals));
	if (!l->scan_vals)
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
	int n = l->scan_link ? scan_iter(l, fn, ctx) : -1;

	return n >= 0 ? n : scan_keys(l, bpf_map__fd(l->skel->maps.conns), fn, ctx);
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

/*
 * With the iterator, every call walks (~33 ms for 50 000 connections). Key
 * by key costs ~5x that, so the walk then waits COUNT_SHARE times its own
 * cost before the next one and the counts in between are the last walk's.
 */
int tf_loader_count_live(struct tf_loader *l, uint64_t counts[TF_STATE_MAX])
{
	uint64_t t0 = tf_now_mono_ns();

	if (l->scan_link || t0 >= l->count_next_ns) {
		memset(l->counts, 0, sizeof(l->counts));
		l->count_total = tf_loader_scan_live(l, count_one, l->counts);
		l->count_next_ns = t0 + (tf_now_mono_ns() - t0) * COUNT_SHARE;
	}
	memcpy(counts, l->counts, sizeof(l->counts));
	return l->count_total;
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
	st->events = st->bpf[TF_STAT_EVENTS];
	st->recursion_misses = 0;
	if (l->feats->f[TF_FEAT_RECURSION_MISSES].state != TF_FS_ENABLED)
		return;	/* not countable on this kernel */
	bpf_object__for_each_program(p, l->skel->obj)
		st->recursion_misses += prog_recursion_misses(p);
}

bool tf_loader_kmetrics(const struct tf_loader *l)
{
	return l->km;
}

const volatile uint16_t *tf_loader_kmetrics_learned(const struct tf_loader *l)
{
	return l->skel->bss->km_slot_port;
}

int tf_loader_read_kmetrics(struct tf_loader *l, struct tf_km_sum *out)
{
	int fd = bpf_map__fd(l->skel->maps.kmetrics), ncpus = l->ncpus > 0 ? l->ncpus : 1;
	size_t sz = (sizeof(union tf_km_entry) + 7) & ~(size_t)7;	/* per-CPU values: 8-aligned */
	unsigned char *vals = malloc(sz * (size_t)ncpus);
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!vals)
		return -ENOMEM;
	for (__u32 id = 0; id < TF_KM_ENTRIES && !err; id++) {
		if (bpf_map_lookup_elem(fd, &id, vals)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpus; c++) {
			const union tf_km_entry *e = (const void *)(vals + sz * (size_t)c);

			if (id == TF_KM_MAIN)
				tf_km_add(&out->main, &e->main, sizeof(out->main));
			else
				tf_km_add(&out->hs[id - TF_KM_HS_CLIENT], &e->hs, sizeof(e->hs));
		}
	}
	free(vals);
	for (int i = 0; i < TF_KM_PORTS; i++)
		out->ports[i] = l->skel->bss->km_slot_port[i];
	return err;
}

void tf_loader_free(struct tf_loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	destroy_links(l);
	bpf_link__destroy(l->scan_link);
	tf_iters_free(l->iters);
	tcpflow_bpf__destroy(l->skel);
	tf_ohash_free(&l->seen);
	free(l->scan_vals);
	free(l->held);
	tf_ohash_free(&l->owners_gone);
	free(l);
}
