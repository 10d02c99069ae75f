// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* File descriptors opened inside other network namespaces. See nsiter.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <bpf/bpf.h>
#include "exitcodes.h"
#include "nsiter.h"

#define REPLY_TIMEOUT_MS 5000	/* a child that hangs this long is taken as dead */

struct request {
	uint32_t seq;
	uint32_t n;
	struct tf_ns_req req[TF_NS_BATCH];
};

struct tf_nsiter {
	pid_t helper;
	int sock;		/* our end of the socketpair with the helper */
	bool dead;		/* it exited: no more answers */
	uint64_t child_cpu_ns;	/* CPU time of every child so far */
	struct request q;	/* the last request */
};

/* An answer; the fd travels alongside (SCM_RIGHTS) when err == 0. */
struct reply {
	uint32_t seq;		/* of the request */
	int32_t idx;		/* which of its namespaces; -1: the last answer */
	int32_t err;		/* 0, or -errno */
	uint32_t _pad;
	uint64_t overflow;	/* TcpExt TCPTimeWaitOverflow of the namespace */
	uint64_t cpu_ns;	/* the last answer: CPU time the child used */
};

/* ---- TcpExt counters -------------------------------------------------------------- */

/*
 * No stdio, no malloc: the namespace helper's child calls it, sharing the
 * helper's memory (CLONE_VM) and killable at any moment.
 */
uint64_t tf_tcpext_counter(const char *netstat_path, const char *name)
{
	char buf[16384], *names, *vals, *sn, *sv, *k, *x, *end;
	int fd = open(netstat_path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	names = strstr(buf, "TcpExt:");		/* the names line, then the values line */
	vals = names ? strchr(names, '\n') : NULL;
	if (!vals || !(end = strchr(++vals, '\n')))
		return 0;
	vals[-1] = *end = 0;
	k = strtok_r(names, " ", &sn);
	x = strtok_r(vals, " ", &sv);
	while (k && x && strcmp(k, name)) {
		k = strtok_r(NULL, " ", &sn);
		x = strtok_r(NULL, " ", &sv);
	}
	return k && x ? strtoull(x, NULL, 10) : 0;
}

/* ---- finding a namespace --------------------------------------------------------- */

uint32_t tf_netns_own(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

static bool is_netns(const char *path, uint32_t inum)
{
	struct stat st;

	return !stat(path, &st) && st.st_ino == inum;
}

/* A bind mount (ip netns, container runtimes) or a process in it. */
static bool find_in(uint32_t inum, const char *dir, bool per_pid, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (per_pid && (de->d_name[0] < '0' || de->d_name[0] > '9')))
			continue;
		snprintf(path, len, per_pid ? "%s/%s/ns/net" : "%s/%s", dir, de->d_name);
		found = is_netns(path, inum);
	}
	closedir(d);
	return found;
}

int tf_netns_find(uint32_t inum, char *path, size_t len)
{
	if (find_in(inum, "/run/netns", false, path, len) ||
	    find_in(inum, "/var/run/docker/netns", false, path, len) ||
	    find_in(inum, "/proc", true, path, len))
		return 0;
	path[0] = 0;
	return -ENOENT;
}

/*
 * An fd of the namespace, or -ENOENT: not found, or the path now names
 * another namespace (the process exited and its pid was reused).
 */
static int open_target(const struct tf_ns_req *r)
{
	struct stat st;
	int fd;

	if (!r->path[0])
		return -ENOENT;
	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	if (fstat(fd, &st) || st.st_ino != r->netns) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* ---- the helper process ------------------------------------------------------------ */

/*
 * Keep CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (to open /proc/PID/ns/net
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
static void close_others(int keep1, int keep2)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && fd != keep1 && fd != keep2)
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
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(r) ? 0 : -1;
}

/* Enter the namespace, open what was asked, read its counters. */
static int open_inside(const struct tf_ns_req *req, int link_fd, struct reply *r)
{
	int target = open_target(req), fd;

	if (target < 0)
		return target;
	if (setns(target, CLONE_NEWNET)) {
		fd = -errno;
		close(target);
		return fd;
	}
	close(target);
	if (req->what == TF_NS_ITER)
		fd = bpf_iter_create(link_fd);	/* takes the namespace we are in now */
	else if (req->what == TF_NS_DIAG)
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	else if (req->what == TF_NS_COUNTERS)
		fd = 0;
	else
		return -EINVAL;
	if (fd < 0)
		return -errno;
	if (req->counters || req->what != TF_NS_DIAG)
		r->overflow = tf_tcpext_counter("/proc/self/net/netstat", "TCPTimeWaitOverflow");
	return fd;
}

struct visit {
	int sock, link_fd;
	const struct request *q;
};

/*
 * The child of one request: each namespace in turn, then exit (no way home
 * needed). It shares the helper's memory and the helper waits (CLONE_VM |
 * CLONE_VFORK): a fork would copy the page tables of everything the tracer
 * had mapped when it forked the helper (~1.5 ms measured, most of a
 * sweep's cost). So only system calls here: no stdio, no malloc.
 */
static int visit_all(void *arg)
{
	const struct visit *v = arg;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (uint32_t i = 0; i < v->q->n; i++) {
		struct reply r = { .seq = v->q->seq, .idx = (int32_t)i };
		int fd = open_inside(&v->q->req[i], v->link_fd, &r);

		r.err = fd < 0 ? fd : 0;
		if (v->q->req[i].what == TF_NS_COUNTERS)
			fd = -1;	/* nothing to pass */
		if (send_reply(v->sock, r, fd))
			_exit(1);
		if (fd >= 0)
			close(fd);
	}
	_exit(0);
}

#if defined(__SANITIZE_ADDRESS__)
#define TF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TF_ASAN 1
#endif
#endif

/*
 * The child for one request. AddressSanitizer cannot follow a child that
 * runs on a stack of our own in our memory (it warns on every exit from it),
 * so a sanitized build forks: slower, and only the leak-checked test runs
 * use it.
 */
static pid_t spawn_visit(struct visit *v, char *stack, size_t stack_len)
{
#ifdef TF_ASAN
	pid_t pid = fork();

	(void)stack;
	(void)stack_len;
	if (pid == 0)
		visit_all(v);
	return pid;
#else
	return clone(visit_all, stack + stack_len, CLONE_VM | CLONE_VFORK | SIGCHLD, v);
#endif
}

/*
 * One request: find the namespaces without a path (here: the helper enters
 * none), then a child visits them; we answer last, with how it went.
 */
static int serve(int sock, int link_fd, struct request *q, char *stack, size_t stack_len)
{
	struct visit v = { .sock = sock, .link_fd = link_fd, .q = q };
	struct reply done = { .seq = q->seq, .idx = -1 };
	struct rusage ru = { 0 };
	int status = 0;
	pid_t pid;

	for (uint32_t i = 0; i < q->n; i++) {
		q->req[i].path[sizeof(q->req[i].path) - 1] = 0;
		if (!q->req[i].path[0])
			tf_netns_find(q->req[i].netns, q->req[i].path, sizeof(q->req[i].path));
	}
	pid = spawn_visit(&v, stack, stack_len);
	if (pid < 0)
		done.err = -errno;
	else if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		done.err = -ECANCELED;	/* killed (a namespace teardown killing all in it) */
	done.cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
		      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
	return send_reply(sock, done, -1);
}

static void helper_main(int sock, int link_fd, struct request *q)
{
	size_t stack_len = 1 << 16;
	char *stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	struct reply ready = { 0 };
	ssize_t len;

	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* and EOF on sock: it goes when we go */
	prctl(PR_SET_NAME, "tcpflow-nsiter");
	signal(SIGINT, SIG_IGN);	/* Ctrl-C reaches the whole process group */
	signal(SIGTERM, SIG_IGN);
	close_others(sock, link_fd);
	ready.err = stack == MAP_FAILED ? -ENOMEM : helper_caps();
	if (send_reply(sock, ready, -1) || ready.err)
		_exit(1);
	while ((len = recv(sock, q, sizeof(*q), 0)) >= (ssize_t)offsetof(struct request, req)) {
		if (q->n > TF_NS_BATCH ||
		    (size_t)len != offsetof(struct request, req) + q->n * sizeof(q->req[0]))
			break;
		if (serve(sock, link_fd, q, stack, stack_len))
			break;
	}
	_exit(0);
}

/* ---- the tracer's side ----------------------------------------------------------------- */

/* The next answer; *fd receives the fd when one came. -ETIMEDOUT, or -EIO: the helper is gone. */
static int recv_reply(int sock, struct reply *r, int *fd, int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;

	*fd = -1;
	if (poll(&p, 1, timeout_ms) == 0)
		return -ETIMEDOUT;
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*r))
		return -EIO;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

int tf_nsiter_new(struct tf_nsiter **out, int link_fd, char *err, size_t errlen)
{
	struct tf_nsiter *n = calloc(1, sizeof(*n));
	struct reply ready = { .err = -EIO };
	int sv[2], fd, e;

	*out = NULL;
	if (!n || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		e = -errno;
		snprintf(err, errlen, "namespace helper: %s", strerror(-e));
		free(n);
		return e;
	}
	fflush(NULL);
	n->helper = fork();
	if (n->helper == 0) {
		close(sv[0]);
		helper_main(sv[1], link_fd, &n->q);
	}
	close(sv[1]);
	n->sock = sv[0];
	if (n->helper < 0 || recv_reply(n->sock, &ready, &fd, REPLY_TIMEOUT_MS) || ready.err) {
		e = ready.err < 0 ? ready.err : -EIO;
		snprintf(err, errlen, "the namespace helper could not keep CAP_SYS_ADMIN and "
			 "CAP_SYS_PTRACE: %s (run as root)", strerror(-e));
		tf_nsiter_free(n);
		return e;
	}
	*out = n;
	return 0;
}

/* What the caller gets: the fd, 0 for counters alone, or -errno. */
static int answer_fd(const struct tf_ns_req *req, const struct reply *r, int fd)
{
	if (r->err)
		return r->err;
	if (req->what == TF_NS_COUNTERS)
		return 0;
	return fd >= 0 ? fd : -EIO;
}

/* Send the request; -EIO once the helper is gone. */
static int ask(struct tf_nsiter *n, const struct tf_ns_req *reqs, int nreq)
{
	size_t len = offsetof(struct request, req) + (size_t)nreq * sizeof(reqs[0]);

	n->q.seq++;
	n->q.n = (uint32_t)nreq;
	memcpy(n->q.req, reqs, (size_t)nreq * sizeof(reqs[0]));
	if (!n->dead && send(n->sock, &n->q, len, MSG_NOSIGNAL) != (ssize_t)len)
		n->dead = true;
	return n->dead ? -EIO : 0;
}

/*
 * Every answer to the last request, until the helper's last one: fds[i]
 * (-errno when none came), overflow[i]. Taken all before any is used: one
 * wake-up for the batch, not a ping-pong with the child per namespace.
 */
static void collect(struct tf_nsiter *n, int nreq, int *fds, uint64_t *overflow)
{
	struct reply r = { .err = -EIO };
	int fd, err, i;

	for (i = 0; i < nreq; i++)
		fds[i] = INT32_MIN;
	for (;;) {
		err = recv_reply(n->sock, &r, &fd, REPLY_TIMEOUT_MS);
		n->dead |= err == -EIO;
		if (!err && r.seq == n->q.seq && r.idx < 0)
			n->child_cpu_ns += r.cpu_ns;
		if (err || (r.seq == n->q.seq && r.idx < 0))
			break;
		if (r.seq != n->q.seq || r.idx >= nreq || fds[r.idx] != INT32_MIN) {
			if (fd >= 0)	/* an answer to a request we gave up on */
				close(fd);
			continue;
		}
		fds[r.idx] = answer_fd(&n->q.req[r.idx], &r, fd);
		overflow[r.idx] = r.overflow;
		if (fds[r.idx] < 0 && fd >= 0)
			close(fd);
	}
	for (i = 0; i < nreq; i++)
		if (fds[i] == INT32_MIN)
			fds[i] = err ? err : r.err ? r.err : -EIO;
}

int tf_nsiter_open(struct tf_nsiter *n, const struct tf_ns_req *reqs, int nreq, tf_ns_fn fn,
		   void *ctx)
{
	uint64_t overflow[TF_NS_BATCH] = { 0 };
	int fds[TF_NS_BATCH];

	if (nreq > TF_NS_BATCH)
		nreq = TF_NS_BATCH;
	if (ask(n, reqs, nreq))
		for (int i = 0; i < nreq; i++)
			fds[i] = -EIO;
	else
		collect(n, nreq, fds, overflow);
	for (int i = 0; i < nreq; i++) {
		fn(ctx, &reqs[i], fds[i], overflow[i]);
		if (fds[i] >= 0 && reqs[i].what != TF_NS_COUNTERS)
			close(fds[i]);
	}
	return n->dead ? -EIO : 0;
}

uint64_t tf_nsiter_cpu_ns(const struct tf_nsiter *n)
{
	return n ? n->child_cpu_ns : 0;
}

void tf_nsiter_free(struct tf_nsiter *n)
{
	if (!n)
		return;
	close(n->sock);	/* the helper reads EOF and exits */
	if (n->helper > 0)
		waitpid(n->helper, NULL, 0);
	free(n);
}
