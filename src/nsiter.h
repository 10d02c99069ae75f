/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * File descriptors opened inside other network namespaces.
 *
 * iter/tcp walks only the sockets of the network namespace of the task that
 * opens the iterator (bpf_iter_create() takes current's netns and the walk
 * skips every other namespace's sockets), and a NETLINK_SOCK_DIAG socket
 * answers only for the namespace it was created in. To look into another
 * namespace, a helper process forked before the tracer drops its privileges
 * keeps CAP_SYS_ADMIN and CAP_SYS_PTRACE (nothing else; the tracer itself
 * keeps neither). On each request (a batch of namespaces) it forks a
 * short-lived child that, for each namespace in turn, opens it by the path
 * given, checks its inode, enters it, opens what was asked (an iterator of
 * the one link the helper was given, or a sock_diag socket), reads the
 * namespace's TcpExt counters and passes the fd back over a socketpair.
 *
 * The helper itself never enters a namespace: a teardown that kills every
 * process in one (`ip netns pids NS | xargs kill`) can only kill the child,
 * which costs that request, not the helper. Nothing holds a reference to a
 * namespace between requests: a namespace whose last process exits must be
 * able to die, and we must see that it did.
 */
#ifndef TF_NSITER_H
#define TF_NSITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_NS_PATH_LEN 112
#define TF_NS_BATCH 256		/* namespaces per request */

struct tf_nsiter;

enum tf_ns_open {
	TF_NS_ITER = 1,		/* an iterator of the helper's link */
	TF_NS_DIAG = 2,		/* socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG) */
	TF_NS_COUNTERS = 3,	/* no fd: only the counters */
};

struct tf_ns_req {
	uint32_t netns;			/* inode number */
	uint16_t what;			/* enum tf_ns_open */
	uint16_t counters;		/* read the TcpExt counters too (~50 us: the kernel
					 * prints all of /proc/net/netstat); always for
					 * TF_NS_ITER and TF_NS_COUNTERS */
	char path[TF_NS_PATH_LEN];	/* a file of it (/run/netns/NAME, /proc/PID/ns/net);
					 * "": look in the usual places */
};

/*
 * One answer: fd >= 0 (the caller must not keep it: it is closed after the
 * call; TF_NS_COUNTERS: 0, no fd) with the namespace's TcpExt
 * TCPTimeWaitOverflow when asked for (else 0), or fd = -errno:
 * -ENOENT the namespace was not found (or the path now names another one),
 * -ECANCELED the child was killed before answering (the next request is
 * another child), -EIO the helper is gone, other: entering or opening
 * failed.
 */
typedef void (*tf_ns_fn)(void *ctx, const struct tf_ns_req *req, int fd, uint64_t overflow);

/*
 * Fork the helper for link_fd (an iter link). Must run before the process
 * drops its privileges and before it starts threads. Returns 0, or -errno
 * with one line in err (e.g. not root: -EPERM).
 */
int tf_nsiter_new(struct tf_nsiter **out, int link_fd, char *err, size_t errlen);

/*
 * Open what each request asks for, in its namespace: fn is called once per
 * request, in order of the answers. Returns 0, or -EIO once the helper is
 * gone (for good: every later call answers -EIO at once).
 */
int tf_nsiter_open(struct tf_nsiter *n, const struct tf_ns_req *reqs, int nreq, tf_ns_fn fn,
		   void *ctx);

/* CPU time the helper's children used so far (they do the entering); 0 for NULL. */
uint64_t tf_nsiter_cpu_ns(const struct tf_nsiter *n);

void tf_nsiter_free(struct tf_nsiter *n);

/*
 * Where namespace inum can be opened: a bind mount in /run/netns or
 * /var/run/docker/netns, else the first process found in it. Needs
 * CAP_SYS_PTRACE for other users' processes. Returns 0 or -ENOENT.
 */
int tf_netns_find(uint32_t inum, char *path, size_t len);

/* Our own network namespace's inode number (0 if unreadable). */
uint32_t tf_netns_own(void);

/* A TcpExt counter from a netstat file (/proc/.../net/netstat); 0 if absent. */
uint64_t tf_tcpext_counter(const char *netstat_path, const char *name);

#endif /* TF_NSITER_H */
