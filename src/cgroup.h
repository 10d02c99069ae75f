/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Cgroup v2 groups of sockets, for people: the kernel gives an id
 * (kernfs node id, what bpf_get_current_cgroup_id() returns and the group
 * directory's inode number on 64-bit hosts); this module finds the cgroup2
 * mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid v1/v2 hosts),
 * turns --cgroup paths into ids, ids back into paths (cached; a walk of the
 * mount on a miss), and reads container ids and pod uids out of paths.
 */
#ifndef TF_CGROUP_H
#define TF_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#define TF_CONTAINER_ID_LEN 65	/* 64 hex digits */
#define TF_POD_UID_LEN 37	/* 8-4-4-4-12 */

/* A group as the outputs show it. */
struct tf_cgroup_name {
	uint64_t id;
	const char *path;		/* below the v2 root: "/system.slice/nginx.service" */
	const char *container_id;	/* NULL when the path names none */
	const char *pod_uid;		/* NULL when the path names none */
};

/*
 * The container id and Kubernetes pod uid a path names, by the usual naming
 * of systemd units and cgroupfs trees (Docker, containerd, CRI-O, podman,
 * kubepods): "" when it names none. Pure, no I/O.
 */
void tf_cgroup_parse(const char *path, char container[TF_CONTAINER_ID_LEN],
		     char pod[TF_POD_UID_LEN]);

/*
 * Mount point of cgroup v2 and the group at its root (relative to the
 * kernel's root group, from /proc/self/mountinfo). 0, or -1 when none.
 */
int tf_cgroup_mount(const char *mountinfo, char *mnt, size_t mntlen, char *root, size_t rootlen);

/*
 * --cgroup PATH: a directory below the cgroup2 mount, or a group path as
 * /proc/PID/cgroup shows it ("/system.slice/x.service"). Its id and depth
 * below the root group. 0, or -1 with a one-line message in err.
 */
int tf_cgroup_filter(const char *path, uint64_t *id, uint32_t *level, char *err, size_t errlen);

/* id -> name, cached. NULL when out of memory; no cgroup2 mount: every lookup is NULL. */
struct tf_cgroups *tf_cgroups_new(void);
void tf_cgroups_free(struct tf_cgroups *cg);

/*
 * The group's name, or NULL when it cannot be named (gone before it was
 * seen, no cgroup2 mount). Valid until the next call. A miss walks the
 * mount, at most once per TF_CGROUP_WALK_GAP_NS.
 */
#define TF_CGROUP_WALK_GAP_NS 100000000ull	/* 100 ms */
const struct tf_cgroup_name *tf_cgroups_name(struct tf_cgroups *cg, uint64_t id);

#endif /* TF_CGROUP_H */
