// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Iterators opened inside another network namespace. See nsiter.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "exitcodes.h"
#include "nsiter.h"

struct tf_nsiter {
	pid_t helper;		/* 0: no helper, iterators open in our own namespace */
	uint32_t netns;
	int sock;		/* our end of the socketpair with the helper */
	char path[300];		/* helper: where the namespace was found last */
};

/* The helper's answer; an iterator fd travels alongside (SCM_RIGHTS) when err == 0. */
struct reply {
	int err;		/* 0, or -errno (-ENOENT: the namespace is gone) */
	int _pad;
	uint64_t overflow;	/* TcpExt TCPTimeWaitOverflow of the namespace */
};

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
 * An fd of the namespace, or -ENOENT once nothing keeps it. No reference is
 * held between sweeps: it would keep a dead namespace (and its sockets)
 * alive, and hide its teardown.
 */
static int open_target(struct tf_nsiter *n)
{
	int fd;

	if (!n->path[0] || !is_netns(n->path, n->netns)) {
		if (!find_in(n, "/run/netns", false) && !find_in(n, "/var/run/docker/netns", false) &&
		    !find_in(n, "/proc", true)) {
			n->path[0] = 0;
			return -ENOENT;
		}
	}
	fd = open(n->path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- the helper process ------------------------------------------------------------ */

/*
 * Keep CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (to look at /proc/PID/ns/net
 * of any process), nothing else, and never gain more.
 */
static int helper_caps(void)
{
	cap_value_t keep[] = { CAP_SYS_ADMIN, CAP_SYS_PTRACE };
	cap_t caps = cap_init();
	int err = 0;

	if (!caps || cap_set_flag(caps, CAP_PERMITTED, 2, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 2, keep, CAP_SET) || cap_set_proc(caps) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	cap_free(caps);
	return err;
}

/* Everything the tracer had open except what the helper uses. */
static void close_others(int keep1, int keep2, int keep3)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && fd != keep1 && fd != keep2 &&
		    fd != keep3)
			close(fd);
	}
	closedir(d);
}

static int send_reply(int sock, struct reply r, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, 0) == (ssize_t)sizeof(r) ? 0 : -1;
}

/* Enter the namespace, open the iterator, read its counters, come back. */
static int open_inside(struct tf_nsiter *n, int home_fd, int link_fd, struct reply *r)
{
	int target = open_target(n), fd;

	if (target < 0) {
		r->err = target;
		return -1;
	}
	if (setns(target, CLONE_NEWNET)) {
		r->err = -errno;
		close(target);
		return -1;
	}
	fd = bpf_iter_create(link_fd);	/* takes the namespace we are in now */
	r->err = fd < 0 ? -errno : 0;
	r->overflow = tf_tcpext_counter("/proc/self/net/netstat", "TCPTimeWaitOverflow");
	close(target);
	if (setns(home_fd, CLONE_NEWNET))
		_exit(1);	/* lost our way home: the parent sees EOF */
	return fd;
}

static void helper_main(struct tf_nsiter *n, int sock, int home_fd, int link_fd)
{
	struct reply r = { 0 };
	int req, fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* and EOF on sock: it goes when we go */
	prctl(PR_SET_NAME, "tcpflow-nsiter");
	signal(SIGINT, SIG_IGN);	/* Ctrl-C reaches the whole process group */
	signal(SIGTERM, SIG_IGN);
	close_others(sock, home_fd, link_fd);
	r.err = helper_caps();
	if (send_reply(sock, r, -1) || r.err)
		_exit(1);
	while (read(sock, &req, sizeof(req)) == sizeof(req)) {
		r = (struct reply){ 0 };
		fd = req == link_fd ? open_inside(n, home_fd, link_fd, &r) : (r.err = -EINVAL, -1);
		if (send_reply(sock, r, fd))
			break;
		if (fd >= 0)
			close(fd);
	}
	_exit(0);
}

/* The helper's answer; *fd receives the iterator when it sent one. */
static int recv_reply(int sock, struct reply *r, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	*fd = -1;
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*r))
		return -EIO;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

static int start_helper(struct tf_nsiter *n, int link_fd, char *err, size_t errlen)
{
	struct reply ready = { .err = -EIO };
	int sv[2], home_fd, fd = open_target(n);

	if (fd < 0) {
		snprintf(err, errlen, "--netns %u: no such network namespace (no process in it, "
			 "not in /run/netns); see `stat -Lc %%i /proc/PID/ns/net`", n->netns);
		return TF_EXIT_USAGE;
	}
	close(fd);
	home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_fd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "namespace helper: %s", strerror(errno));
		return TF_EXIT_RUNTIME;
	}
	fflush(NULL);
	n->helper = fork();
	if (n->helper == 0) {
		close(sv[0]);
		helper_main(n, sv[1], home_fd, link_fd);
	}
	close(sv[1]);
	close(home_fd);
	n->sock = sv[0];
	if (n->helper < 0 || recv_reply(n->sock, &ready, &fd) || ready.err) {
		snprintf(err, errlen, "--netns %u: the namespace helper could not keep CAP_SYS_ADMIN: "
			 "%s (run as root)", n->netns, strerror(ready.err < 0 ? -ready.err : EIO));
		return TF_EXIT_PERM;
	}
	return 0;
}

static uint32_t own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

int tf_nsiter_new(struct tf_nsiter **out, uint32_t netns, int link_fd, char *err, size_t errlen)
{
	struct tf_nsiter *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return TF_EXIT_RUNTIME;
	}
	n->sock = -1;
	n->netns = netns;
	if (netns && netns != own_netns()) {
		rc = start_helper(n, link_fd, err, errlen);
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
	int fd;

	if (!n->helper) {
		fd = bpf_iter_create(link_fd);
		*overflow = tf_tcpext_counter("/proc/self/net/netstat", "TCPTimeWaitOverflow");
		return fd < 0 ? -errno : fd;
	}
	if (write(n->sock, &link_fd, sizeof(link_fd)) != sizeof(link_fd) ||
	    recv_reply(n->sock, &r, &fd))
		return -EIO;
	*overflow = r.overflow;
	if (r.err && fd >= 0)
		close(fd);
	return r.err ? r.err : fd;
}

void tf_nsiter_free(struct tf_nsiter *n)
{
	if (!n)
		return;
	if (n->sock >= 0)
		close(n->sock);	/* the helper reads EOF and exits */
	if (n->helper > 0)
		waitpid(n->helper, NULL, 0);
	free(n);
}
