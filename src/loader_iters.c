// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The close side's iterators, for the loader. See loader_iters.h and loader.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>
#include "exitcodes.h"
#include "loader_iters.h"
#include "timewait.skel.h"

struct tf_iters {
	struct timewait_bpf *skel;
	struct bpf_link *links[TF_ITER_MAX];
	struct tf_features *feats;
};

/* The programs of timewait.bpf.c, by enum tf_iter; sweep is the walks themselves. */
static const struct iter_spec {
	const char *name;
	int feat;
	const char *what;
} specs[TF_ITER_MAX] = {
	[TF_ITER_SWEEP] = { "sweep", TF_FEAT_TCP_ITER, "iter/tcp program sweep" },
	[TF_ITER_NETNS_TASKS] = { "netns_of_tasks", TF_FEAT_NETNS_TASKS,
				  "iter/task program netns_of_tasks" },
	/* bpf_sock_from_file: Linux 5.11 */
	[TF_ITER_HALF_OWNERS] = { "half_owners", TF_FEAT_HALF_OWNERS,
				  "iter/task_file program half_owners" },
};

static void configure(struct timewait_bpf *skel, const struct tf_config *cfg)
{
	struct timewait_bpf__rodata *ro = skel->rodata;

	ro->filter_netns = cfg->netns;
	ro->filter_family = (__u8)cfg->family;
	ro->n_port_filters = (__u32)cfg->nports;
	tf_port_bits_fill(ro->port_bits, cfg);
}

/*
 * libbpf 1.1 (Debian 12) fails the whole object with -EINVAL when a
 * __kconfig extern cannot be read from /boot/config-RELEASE or
 * /proc/config.gz, __weak or not: containers and Debian kernels (no
 * CONFIG_IKCONFIG_PROC) often have neither. Give CONFIG_HZ=0 then: the
 * sweeps measure HZ instead.
 */
static const char *kconfig_fallback(void)
{
	struct utsname u;
	char path[sizeof(u.release) + 16];

	if (uname(&u))
		return "CONFIG_HZ=0\n";
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	if (!access(path, R_OK) || !access("/proc/config.gz", R_OK))
		return NULL;
	return "CONFIG_HZ=0\n";
}

static bool wanted(const struct tf_iters *it, int i)
{
	return it->feats->f[specs[i].feat].state == TF_FS_ENABLED;
}

/*
 * A fresh copy of the object with the programs whose features are enabled,
 * or only `only` (a probe). 0 or -errno; it->skel NULL if it did not open.
 */
static int open_load(struct tf_iters *it, const struct tf_config *cfg, const char *only)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = cfg->btf_path,
		    .kconfig = kconfig_fallback());

	timewait_bpf__destroy(it->skel);
	it->skel = timewait_bpf__open_opts(&oo);
	if (!it->skel)
		return -errno;
	configure(it->skel, cfg);
	for (int i = 0; i < TF_ITER_MAX; i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(it->skel->obj,
									   specs[i].name),
					  only ? !strcmp(only, specs[i].name) : wanted(it, i));
	return timewait_bpf__load(it->skel);
}

static void refused(struct tf_iters *it, int i, int err)
{
	tf_feature_set(it->feats, specs[i].feat, TF_FS_OFF, TF_FW_REFUSED, err, specs[i].what);
}

/*
 * Load all three iterators; when the kernel refuses, load each alone to
 * find which, switch those features off and load the others. Without sweep
 * there are no walks (tcp_iter off). 0 or -errno.
 */
static int load_progs(struct tf_iters *it, const struct tf_config *cfg)
{
	int e = open_load(it, cfg, NULL);

	if (!e || !it->skel)
		return e;
	for (int i = 0; i < TF_ITER_MAX; i++) {
		int pe = open_load(it, cfg, specs[i].name);

		if (pe && it->skel)
			refused(it, i, pe);
	}
	if (!wanted(it, TF_ITER_SWEEP))
		return -it->feats->f[TF_FEAT_TCP_ITER].err;
	return open_load(it, cfg, NULL);
}

/* Attach iterator i if its feature is on; a refusal switches the feature off. */
static void attach_one(struct tf_iters *it, int i)
{
	if (!wanted(it, i))
		return;
	it->links[i] = bpf_program__attach_iter(bpf_object__find_program_by_name(it->skel->obj,
										 specs[i].name),
						NULL);
	if (!it->links[i])
		refused(it, i, -errno);
}

int tf_iters_start(struct tf_iters **out, const struct tf_config *cfg, struct tf_features *fs,
		   char *err, size_t errlen)
{
	struct tf_iters *it = calloc(1, sizeof(*it));
	int e;

	*out = NULL;
	if (!it) {
		snprintf(err, errlen, "TIME-WAIT tracker: out of memory");
		return TF_EXIT_RUNTIME;
	}
	it->feats = fs;
	e = load_progs(it, cfg);
	if (!it->skel) {
		snprintf(err, errlen, "TIME-WAIT tracker: opening its BPF object failed: %s",
			 strerror(-e));
		tf_iters_free(it);
		return TF_EXIT_RUNTIME;
	}
	if (!e) {
		for (int i = 0; i < TF_ITER_MAX; i++)
			attach_one(it, i);
		if (!it->links[TF_ITER_SWEEP])
			e = -fs->f[TF_FEAT_TCP_ITER].err;
	}
	if (!e) {
		*out = it;
		return TF_EXIT_OK;
	}
	if (wanted(it, TF_ITER_SWEEP))
		refused(it, TF_ITER_SWEEP, e);
	snprintf(err, errlen, "the kernel refused the TCP socket iterator (iter/tcp "
		 "program sweep, Linux >= 5.9): %s / %s; --tw needs it (--verbose shows why)",
		 strerror(-e), strerrorname_np(-e) ? strerrorname_np(-e) : "?");
	tf_iters_free(it);
	return TF_EXIT_KERNEL;
}

int tf_iters_link(const struct tf_iters *it, enum tf_iter which)
{
	if (!it || (unsigned int)which >= TF_ITER_MAX || !it->links[which])
		return -1;
	return bpf_link__fd(it->links[which]);
}

void tf_iters_free(struct tf_iters *it)
{
	if (!it)
		return;
	for (int i = 0; i < TF_ITER_MAX; i++)
		bpf_link__destroy(it->links[i]);
	timewait_bpf__destroy(it->skel);
	free(it);
}
