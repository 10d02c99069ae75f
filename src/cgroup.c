// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Cgroup v2 ids, paths, container ids and pod uids. See cgroup.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "cgroup.h"
#include "fmt.h"
#include "ohash.h"

#define CGROUP2_SUPER_MAGIC 0x63677270	/* include/uapi/linux/magic.h */
#define MAX_DEPTH 64			/* cgroup.max.depth is unbounded; a walk is not */
#define NAMES_CAP 65536u		/* groups named at once; then the cache starts over */

/* ---- container ids and pod uids in paths (pure) ---- */

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* 8-4-4-4-12 hex digits, groups joined by sep ('-', or '_' in systemd unit names). */
static bool is_uid(const char *s, size_t n, char sep)
{
	static const size_t dash[] = { 8, 13, 18, 23 };

	if (n != 36)
		return false;
	for (size_t i = 0, d = 0; i < n; i++) {
		if (d < 4 && i == dash[d]) {
			if (s[i] != sep)
				return false;
			d++;
		} else if (!all_hex(s + i, 1)) {
			return false;
		}
	}
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix, size_t *rest)
{
	size_t k = strlen(suffix);

	if (n < k || memcmp(s + n - k, suffix, k))
		return false;
	*rest = n - k;
	return true;
}

/*
 * Pod uid: "pod<uid>" (cgroupfs driver: /kubepods/burstable/pod<uid>/...) or
 * "kubepods[-<qos>]-pod<uid with _>.slice" (systemd driver).
 */
static void pod_of(const char *s, size_t n, char pod[TF_POD_UID_LEN])
{
	const char *p = NULL;
	size_t len;

	if (n == 39 && !memcmp(s, "pod", 3) && is_uid(s + 3, 36, '-')) {
		p = s + 3;
	} else if (n > 8 && !memcmp(s, "kubepods", 8) && ends_with(s, n, ".slice", &len) &&
		   len >= 40 && !memcmp(s + len - 40, "-pod", 4) && is_uid(s + len - 36, 36, '_')) {
		p = s + len - 36;
	}
	if (!p)
		return;
	for (int i = 0; i < 36; i++)
		pod[i] = p[i] == '_' ? '-' : p[i];
	pod[36] = 0;
}

/*
 * Container id: 64 hex digits, bare (cgroupfs driver: /docker/<id>,
 * /kubepods/.../pod<uid>/<id>) or as a systemd scope of a runtime
 * (docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope,
 * libpod-<id>.scope). A runtime's monitor (crio-conmon-<id>.scope) is not
 * the container.
 */
static void container_of_name(const char *s, size_t n, char container[TF_CONTAINER_ID_LEN])
{
	static const char *const prefixes[] = {
		"docker-", "cri-containerd-", "crio-", "containerd-", "libpod-", "",
	};
	size_t len = n;

	if (!ends_with(s, n, ".scope", &len))
		len = n;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t k = strlen(prefixes[i]);

		if (len == k + 64 && !memcmp(s, prefixes[i], k) && all_hex(s + k, 64)) {
			memcpy(container, s + k, 64);
			container[64] = 0;
			return;
		}
	}
}

void tf_cgroup_parse(const char *path, char container[TF_CONTAINER_ID_LEN],
		     char pod[TF_POD_UID_LEN])
{
	const char *s = path;

	container[0] = pod[0] = 0;
	while (s && *s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n) {	/* the innermost match wins */
			pod_of(s, n, pod);
			container_of_name(s, n, container);
		}
		s = e ? e + 1 : NULL;
	}
}

/* ---- where cgroup2 is mounted ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(const char *in, char *out, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; in[i] && j + 1 < len; i++) {
		if (in[i] == '\\' && in[i + 1] >= '0' && in[i + 1] <= '3' && in[i + 2] && in[i + 3]) {
			out[j++] = (char)(((in[i + 1] - '0') << 6) | ((in[i + 2] - '0') << 3) |
					  (in[i + 3] - '0'));
			i += 3;
		} else {
			out[j++] = in[i];
		}
	}
	out[j] = 0;
}

int tf_cgroup_mount(const char *mountinfo, char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	FILE *f = fopen(mountinfo, "r");
	char line[4096];
	int rc = -1;

	if (!f)
		return -1;
	while (rc && fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], m[PATH_MAX], *sep = strstr(line, " - ");

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ... */
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) ||
		    sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2)
			continue;
		unescape(m, mnt, mntlen);
		unescape(r, root, rootlen);
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* Path components: "/" 0, "/a" 1, "/a/b/" 2. */
static uint32_t depth_of(const char *path)
{
	uint32_t n = 0;

	for (const char *p = path; *p; p++)
		if (*p != '/' && (p == path || p[-1] == '/'))
			n++;
	return n;
}

static int filter_fail(char *err, size_t errlen, const char *path, const char *why,
		       const char *mnt)
{
	snprintf(err, errlen, "--cgroup %s: %s (give a directory below %s, or a group path "
		 "as /proc/PID/cgroup shows it, e.g. /system.slice/nginx.service)", path, why, mnt);
	return -1;
}

int tf_cgroup_filter(const char *path, uint64_t *id, uint32_t *level, char *err, size_t errlen)
{
	char mnt[PATH_MAX], root[PATH_MAX], mreal[PATH_MAX], full[2 * PATH_MAX], real[PATH_MAX];
	size_t mlen;
	struct statfs sf;
	struct stat st;

	if (tf_cgroup_mount("/proc/self/mountinfo", mnt, sizeof(mnt), root, sizeof(root))) {
		snprintf(err, errlen, "--cgroup %s: no cgroup v2 hierarchy is mounted here "
			 "(mount -t cgroup2 none /sys/fs/cgroup/unified)", path);
		return -1;
	}
	if (!realpath(mnt, mreal))
		return filter_fail(err, errlen, path, strerror(errno), mnt);
	mlen = strlen(mreal);
	/* a directory below the mount, or a group path relative to it */
	if (!strncmp(path, mreal, mlen) && (path[mlen] == '/' || !path[mlen]))
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "%s/%s", mreal, path + strspn(path, "/"));
	if (!realpath(full, real))
		return filter_fail(err, errlen, path, strerror(errno), mnt);
	if (strncmp(real, mreal, mlen) || (real[mlen] && real[mlen] != '/') ||
	    stat(real, &st) || !S_ISDIR(st.st_mode) || statfs(real, &sf) ||
	    sf.f_type != CGROUP2_SUPER_MAGIC)
		return filter_fail(err, errlen, path, "not a cgroup v2 group", mnt);
	*id = (uint64_t)st.st_ino;	/* kernfs_ino() == kn->id on 64-bit (Linux >= 5.5) */
	*level = depth_of(root) + depth_of(real + mlen);
	return 0;
}

/* ---- id -> name ---- */

struct node {
	struct tf_cgroup_name name;
	char container[TF_CONTAINER_ID_LEN];
	char pod[TF_POD_UID_LEN];
	char path[];		/* empty for a group that could not be named */
};

struct tf_cgroups {
	bool have_mount;
	char mnt[PATH_MAX];
	char root[PATH_MAX];		/* group at the mount's root: "/" unless a subtree */
	struct tf_ohash ids;		/* uint64_t id -> struct node * */
	uint64_t last_walk_ns;
	bool walked;
};

struct tf_cgroups *tf_cgroups_new(void)
{
	struct tf_cgroups *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	if (tf_ohash_init(&cg->ids, sizeof(uint64_t), sizeof(struct node *), NAMES_CAP)) {
		free(cg);
		return NULL;
	}
	cg->have_mount = !tf_cgroup_mount("/proc/self/mountinfo", cg->mnt, sizeof(cg->mnt),
					  cg->root, sizeof(cg->root));
	if (!strcmp(cg->root, "/"))
		cg->root[0] = 0;
	return cg;
}

static void forget_all(struct tf_cgroups *cg)
{
	for (uint32_t i = 0; i < cg->ids.nslots; i++) {
		struct node **n = tf_ohash_at(&cg->ids, i);

		if (n)
			free(*n);
	}
	tf_ohash_clear(&cg->ids);
}

void tf_cgroups_free(struct tf_cgroups *cg)
{
	if (!cg)
		return;
	forget_all(cg);
	tf_ohash_free(&cg->ids);
	free(cg);
}

/* Remember id as path (NULL: could not be named). Returns the node, or NULL when full. */
static struct node *remember(struct tf_cgroups *cg, uint64_t id, const char *path)
{
	size_t len = path ? strlen(path) : 0;
	struct node **slot, *n;
	bool fresh;

	slot = tf_ohash_get(&cg->ids, &id);
	if (slot && (*slot)->name.path && path && !strcmp((*slot)->name.path, path))
		return *slot;	/* known, unchanged */
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	slot = tf_ohash_put(&cg->ids, &id, &fresh);
	if (!slot) {
		free(n);
		return NULL;
	}
	if (!fresh)
		free(*slot);
	*slot = n;
	n->name.id = id;
	if (!path)
		return n;
	memcpy(n->path, path, len + 1);
	n->name.path = n->path;
	tf_cgroup_parse(path, n->container, n->pod);
	n->name.container_id = n->container[0] ? n->container : NULL;
	n->name.pod_uid = n->pod[0] ? n->pod : NULL;
	return n;
}

/* Every group below dirfd (whose path is rel, len bytes in a PATH_MAX buffer). */
static void walk(struct tf_cgroups *cg, int dirfd, char *rel, size_t len, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;
		int n, fd;

		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n = snprintf(rel + len, PATH_MAX - len, "/%s", e->d_name);
		if (n < 0 || (size_t)n >= PATH_MAX - len ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
			continue;
		if (cg->ids.n >= NAMES_CAP || !remember(cg, (uint64_t)st.st_ino, rel))
			break;
		if (depth + 1 >= MAX_DEPTH)
			continue;
		fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			walk(cg, fd, rel, len + (size_t)n, depth + 1);
	}
	rel[len] = 0;
	closedir(d);
}

static void walk_mount(struct tf_cgroups *cg)
{
	char rel[PATH_MAX];
	size_t len = strlen(cg->root);
	struct stat st;
	int fd;

	if (cg->ids.n >= NAMES_CAP)
		forget_all(cg);		/* names handed out are used before the next call */
	fd = open(cg->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || len >= sizeof(rel)) {
		close(fd);
		return;
	}
	memcpy(rel, cg->root, len + 1);
	remember(cg, (uint64_t)st.st_ino, len ? rel : "/");
	walk(cg, fd, rel, len, 0);
}

const struct tf_cgroup_name *tf_cgroups_name(struct tf_cgroups *cg, uint64_t id)
{
	struct node **slot;
	uint64_t now;

	if (!cg || !id || !cg->have_mount)
		return NULL;
	slot = tf_ohash_get(&cg->ids, &id);
	if (slot)
		return (*slot)->name.path ? &(*slot)->name : NULL;
	now = tf_now_mono_ns();
	if (cg->walked && now - cg->last_walk_ns < TF_CGROUP_WALK_GAP_NS)
		return NULL;	/* named at a later miss, if it still exists then */
	cg->walked = true;
	cg->last_walk_ns = now;
	walk_mount(cg);
	slot = tf_ohash_get(&cg->ids, &id);
	if (slot)
		return (*slot)->name.path ? &(*slot)->name : NULL;
	remember(cg, id, NULL);	/* gone: do not walk for it again */
	return NULL;
}
