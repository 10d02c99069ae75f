/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF iterators seen from another network namespace.
 *
 * iter/tcp walks only the sockets of the network namespace of the task that
 * opens the iterator (bpf_iter_create() takes current's netns and the walk
 * skips every other namespace's sockets). To sweep --netns INUM, a helper
 * process forked before the tracer drops its privileges keeps CAP_SYS_ADMIN
 * and CAP_SYS_PTRACE (nothing else; the tracer itself keeps neither) and,
 * on request, finds the namespace, enters it, opens the iterator of the one
 * link it was given, reads the namespace's TcpExt counters, comes back and
 * passes the iterator fd over a socketpair. It holds no reference to the
 * namespace in between: a namespace whose last process exits must be able
 * to die, and we must see that it did.
 */
#ifndef TF_NSITER_H
#define TF_NSITER_H

#include <stddef.h>
#include <stdint.h>

struct tf_nsiter;

/*
 * netns 0, or our own: iterators are opened by the caller. Else check the
 * namespace exists and fork the helper for link_fd (an iter link). Must run
 * before the process drops its privileges and before it starts threads.
 * Returns 0 or an enum tf_exit status with one line in err.
 */
int tf_nsiter_new(struct tf_nsiter **out, uint32_t netns, int link_fd, char *err, size_t errlen);

/*
 * A new iterator fd of link_fd, opened in the namespace, and the
 * namespace's TcpExt TCPTimeWaitOverflow in *overflow. -ENOENT: the
 * namespace no longer exists; other -errno: failure.
 */
int tf_nsiter_open(struct tf_nsiter *n, int link_fd, uint64_t *overflow);

void tf_nsiter_free(struct tf_nsiter *n);

/* A TcpExt counter from a netstat file (/proc/.../net/netstat); 0 if absent. */
uint64_t tf_tcpext_counter(const char *netstat_path, const char *name);

#endif /* TF_NSITER_H */
