// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Iterators opened inside another network namespace. See nsiter.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "nsiter.h"
#include "options.h"

struct tf_nsiter {
	pthread_t thread;
	bool threaded;
	uint32_t netns;
	bool user_switch;	/* --user: glibc makes every thread setresuid() too */
	int home_fd;		/* the helper's own namespace, to come back to */
	int sock[2];		/* [0]: ours, [1]: the helper's */
	char path[300];		/* where the namespace was found last */
};

struct reply {
	int fd;			/* iterator fd, or -errno (-ENOENT: namespace gone) */
	int _pad;
	uint64_t overflow;	/* TcpExt TCPTimeWaitOverflow of the namespace */
};

/* ---- finding the namespace ------------------------------------------------------- */

static bool is_netns(const char *path, uint32_t inum)
{
	struct stat st;

	return !stat(path, &st) && st.st_ino == inum;
}

/* A bind mount (ip netns, container runtimes) or a process in it. */
static bool find_in(struct tf_nsiter *n, const char *dir, bool per_pid)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (per_pid && (de->d_name[0] < '0' || de->d_name[0] > '9')))
			continue;
		snprintf(n->path, sizeof(n->path), per_pid ? "%s/%s/ns/net" : "%s/%s", dir, de->d_name);
		found = is_netns(n->path, n->netns);
	}
	closedir(d);
	return found;
}

/*
 * An fd of the namespace, or -ENOENT once nothing keeps it. We hold no
 * reference between sweeps: holding one would keep a dead namespace (and
 * its sockets) alive, and hide its teardown.
 */
static int open_target(struct tf_nsiter *n)
{
	if (!n->path[0] || !is_netns(n->path, n->netns)) {
		if (!find_in(n, "/run/netns", false) && !find_in(n, "/var/run/docker/netns", false) &&
		    !find_in(n, "/proc", true)) {
			n->path[0] = 0;
			return -ENOENT;
		}
	}
	return open(n->path, O_RDONLY | O_CLOEXEC);
}

/* ---- TcpExt counters -------------------------------------------------------------- */

uint64_t tf_tcpext_counter(const char *netstat_path, const char *name)
{
	char names[8192], vals[8192];
	FILE *f = fopen(netstat_path, "r");
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		char *sn, *sv, *k, *x;

		if (strncmp(names, "TcpExt:", 7))
			continue;
		k = strtok_r(names, " \n", &sn);
		x = strtok_r(vals, " \n", &sv);
		while (k && x && strcmp(k, name)) {
			k = strtok_r(NULL, " \n", &sn);
			x = strtok_r(NULL, " \n", &sv);
		}
		if (k && x)
			v = strtoull(x, NULL, 10);
		break;
	}
	fclose(f);
	return v;
}

/* ---- the helper thread -------------------------------------------------------------- */

/*
 * Keep CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (to look at /proc/PID/ns/net
 * of processes more privileged than us), nothing else. With --user, glibc runs
 * the main thread's setgroups/setresgid/setresuid in every thread and
 * aborts if one fails: keep CAP_SETUID/CAP_SETGID until that happened, and
 * the capabilities across it (PR_SET_KEEPCAPS is per thread).
 */
static int set_caps(bool with_setid)
{
	cap_value_t keep[] = { CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SETUID, CAP_SETGID };
	int n = with_setid ? 4 : 2;
	cap_t caps = cap_init();
	int err = 0;

	if (!caps || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET) || cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	return err;
}

/*
 * Before each use: once the --user switch happened (it clears the
 * effective set), give up the set-id capabilities and raise CAP_SYS_ADMIN.
 */
static void refresh_caps(struct tf_nsiter *n)
{
	if (n->user_switch && getuid() != 0)
		n->user_switch = false;
	set_caps(n->user_switch);
}

static struct reply open_inside(struct tf_nsiter *n, int link_fd)
{
	struct reply r = { .fd = -ENOENT };
	int target;

	refresh_caps(n);
	target = open_target(n);
	if (target < 0) {
		r.fd = target == -ENOENT ? -ENOENT : -errno;
		return r;
	}
	if (setns(target, CLONE_NEWNET)) {
		r.fd = -errno;
		close(target);
		return r;
	}
	r.fd = bpf_iter_create(link_fd);	/* takes the namespace we are in now */
	if (r.fd < 0)
		r.fd = -errno;
	r.overflow = tf_tcpext_counter("/proc/thread-self/net/netstat", "TCPTimeWaitOverflow");
	if (setns(n->home_fd, CLONE_NEWNET) && r.fd >= 0) {
		close(r.fd);
		r.fd = -errno;
	}
	close(target);
	return r;
}

static void *helper(void *arg)
{
	struct tf_nsiter *n = arg;
	struct reply r = { .fd = set_caps(n->user_switch) };
	int link_fd;

	if (write(n->sock[1], &r, sizeof(r)) != sizeof(r) || r.fd)
		return NULL;
	while (read(n->sock[1], &link_fd, sizeof(link_fd)) == sizeof(link_fd)) {
		r = open_inside(n, link_fd);
		if (write(n->sock[1], &r, sizeof(r)) != sizeof(r))
			break;
	}
	return NULL;
}

static int start_helper(struct tf_nsiter *n, char *err, size_t errlen)
{
	struct reply ready = { .fd = -EIO };
	int fd = open_target(n);

	if (fd >= 0)
		close(fd);
	if (fd < 0) {
		snprintf(err, errlen, "--netns %u: no such network namespace (no process in it, "
			 "not in /run/netns); see `stat -Lc %%i /proc/PID/ns/net`", n->netns);
		return TF_EXIT_USAGE;
	}
	n->home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (n->home_fd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, n->sock) ||
	    pthread_create(&n->thread, NULL, helper, n)) {
		snprintf(err, errlen, "starting the namespace helper failed: %s", strerror(errno));
		return TF_EXIT_RUNTIME;
	}
	n->threaded = true;
	if (read(n->sock[0], &ready, sizeof(ready)) != sizeof(ready) || ready.fd) {
		snprintf(err, errlen, "--netns %u: keeping CAP_SYS_ADMIN to enter it failed: %s "
			 "(run as root)", n->netns, strerror(ready.fd < 0 ? -ready.fd : EIO));
		return TF_EXIT_PERM;
	}
	return 0;
}

static uint32_t own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

int tf_nsiter_new(struct tf_nsiter **out, uint32_t netns, bool user_switch, char *err,
		  size_t errlen)
{
	struct tf_nsiter *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return TF_EXIT_RUNTIME;
	}
	n->home_fd = n->sock[0] = n->sock[1] = -1;
	n->netns = netns;
	n->user_switch = user_switch;
	if (netns && netns != own_netns()) {
		rc = start_helper(n, err, errlen);
		if (rc) {
			tf_nsiter_free(n);
			return rc;
		}
	}
	*out = n;
	return 0;
}

int tf_nsiter_open(struct tf_nsiter *n, int link_fd, uint64_t *overflow)
{
	struct reply r;

	if (!n->threaded) {
		r.fd = bpf_iter_create(link_fd);
		*overflow = tf_tcpext_counter("/proc/self/net/netstat", "TCPTimeWaitOverflow");
		return r.fd < 0 ? -errno : r.fd;
	}
	if (write(n->sock[0], &link_fd, sizeof(link_fd)) != sizeof(link_fd) ||
	    read(n->sock[0], &r, sizeof(r)) != sizeof(r))
		return -EIO;
	*overflow = r.overflow;
	return r.fd;
}

void tf_nsiter_free(struct tf_nsiter *n)
{
	if (!n)
		return;
	if (n->sock[0] >= 0)
		close(n->sock[0]);	/* the helper reads EOF and returns */
	if (n->threaded)
		pthread_join(n->thread, NULL);
	if (n->sock[1] >= 0)
		close(n->sock[1]);
	if (n->home_fd >= 0)
		close(n->home_fd);
	free(n);
}
