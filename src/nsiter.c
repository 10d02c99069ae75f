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
	int nsfd;		/* the namespace (bind mount or /proc/PID/ns/net) */
	int sock[2];		/* [0]: ours, [1]: the helper's */
	int setup_err;		/* the helper's setns()/capability drop result */
	char proc_net[64];
};

/* Open the namespace file of inode inum: a bind mount, or a process in it. */
static int open_netns(uint32_t inum, const char *dir, bool per_pid)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[300];
	struct stat st;
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (per_pid && (de->d_name[0] < '0' || de->d_name[0] > '9')))
			continue;
		snprintf(path, sizeof(path), per_pid ? "%s/%s/ns/net" : "%s/%s", dir, de->d_name);
		if (!stat(path, &st) && st.st_ino == inum)
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	closedir(d);
	return fd;
}

static uint32_t own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

/* Enter the namespace, then give up every capability: opening iterators needs none. */
static int enter(struct tf_nsiter *n)
{
	cap_t none;
	int err = 0;

	if (setns(n->nsfd, CLONE_NEWNET))
		return -errno;
	none = cap_init();
	if (!none || cap_set_proc(none))
		err = -errno;
	cap_free(none);
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	snprintf(n->proc_net, sizeof(n->proc_net), "/proc/%d/task/%d/net", (int)getpid(),
		 (int)gettid());
	return err;
}

/* The helper: one request (a link fd) in, one answer (an iterator fd or -errno) out. */
static void *helper(void *arg)
{
	struct tf_nsiter *n = arg;
	int link_fd, fd;

	n->setup_err = enter(n);
	fd = n->setup_err;
	if (write(n->sock[1], &fd, sizeof(fd)) != sizeof(fd) || n->setup_err)
		return NULL;
	while (read(n->sock[1], &link_fd, sizeof(link_fd)) == sizeof(link_fd)) {
		fd = bpf_iter_create(link_fd);
		if (fd < 0)
			fd = -errno;
		if (write(n->sock[1], &fd, sizeof(fd)) != sizeof(fd))
			break;
	}
	return NULL;
}

static int start_helper(struct tf_nsiter *n, uint32_t netns, char *err, size_t errlen)
{
	int ready = -EIO;

	n->nsfd = open_netns(netns, "/run/netns", false);
	if (n->nsfd < 0)
		n->nsfd = open_netns(netns, "/proc", true);
	if (n->nsfd < 0) {
		snprintf(err, errlen, "--netns %u: no such network namespace (no process in it, "
			 "not in /run/netns); check `stat -Lc %%i /proc/PID/ns/net`", netns);
		return TF_EXIT_USAGE;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, n->sock) ||
	    pthread_create(&n->thread, NULL, helper, n)) {
		snprintf(err, errlen, "starting the namespace helper failed: %s", strerror(errno));
		return TF_EXIT_RUNTIME;
	}
	n->threaded = true;
	if (read(n->sock[0], &ready, sizeof(ready)) != sizeof(ready) || ready) {
		snprintf(err, errlen, "--netns %u: entering the namespace failed: %s (run as root)",
			 netns, strerror(ready < 0 ? -ready : EIO));
		return TF_EXIT_PERM;
	}
	return 0;
}

int tf_nsiter_new(struct tf_nsiter **out, uint32_t netns, char *err, size_t errlen)
{
	struct tf_nsiter *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return TF_EXIT_RUNTIME;
	}
	n->nsfd = n->sock[0] = n->sock[1] = -1;
	snprintf(n->proc_net, sizeof(n->proc_net), "/proc/self/net");
	if (netns && netns != own_netns()) {
		rc = start_helper(n, netns, err, errlen);
		if (rc) {
			tf_nsiter_free(n);
			return rc;
		}
	}
	*out = n;
	return 0;
}

int tf_nsiter_open(struct tf_nsiter *n, int link_fd)
{
	int fd;

	if (!n->threaded) {
		fd = bpf_iter_create(link_fd);
		return fd < 0 ? -errno : fd;
	}
	if (write(n->sock[0], &link_fd, sizeof(link_fd)) != sizeof(link_fd) ||
	    read(n->sock[0], &fd, sizeof(fd)) != sizeof(fd))
		return -EIO;
	return fd;
}

const char *tf_nsiter_proc_net(const struct tf_nsiter *n)
{
	return n->proc_net;
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
	if (n->nsfd >= 0)
		close(n->nsfd);
	free(n);
}
