/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF iterators seen from another network namespace.
 *
 * iter/tcp walks only the sockets of the network namespace of the task that
 * opens the iterator (bpf_iter_create() takes current's netns, and the walk
 * skips every socket of other namespaces). To sweep --netns INUM we keep one
 * thread that entered that namespace (setns, while still privileged) and
 * then dropped every capability: opening an iterator from an existing link
 * needs none. It opens the iterators; the caller reads them.
 */
#ifndef TF_NSITER_H
#define TF_NSITER_H

#include <stddef.h>
#include <stdint.h>

struct tf_nsiter;

/*
 * netns 0, or our own: iterators are opened by the caller's thread. Else
 * find the namespace (bind mounts in /run/netns, /proc/PID/ns/net) and start
 * the helper thread. Must run before privileges are dropped. Returns 0 or an
 * enum tf_exit status with one line in err.
 */
int tf_nsiter_new(struct tf_nsiter **out, uint32_t netns, char *err, size_t errlen);

/* A new iterator fd of link_fd, opened in the namespace; -errno on failure. */
int tf_nsiter_open(struct tf_nsiter *n, int link_fd);

/* The namespace's /proc net directory (for netstat counters). */
const char *tf_nsiter_proc_net(const struct tf_nsiter *n);

void tf_nsiter_free(struct tf_nsiter *n);

#endif /* TF_NSITER_H */
