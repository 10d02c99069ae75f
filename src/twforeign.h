/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TIME-WAITs in other network namespaces, for the TIME-WAIT tracker
 * (timewait.c): which namespaces exist and a way into each, and the
 * lookups that follow the TIME-WAITs handed over in them.
 *
 * A walk of iter/tcp shows one namespace but visits every socket of the
 * kernel's shared established hash, whatever their namespace: one walk per
 * namespace per sweep would cost N walks (measured: ~7 ms each with
 * 100 000 timewait sockets on the host, so 100 namespaces would take 70%
 * of a CPU at one sweep a second). Instead each TIME-WAIT we track in
 * another namespace is looked up by its 4-tuple (sockdiag.h: ~2 us, one
 * hash lookup), through a sock_diag socket the namespace helper (nsiter.h)
 * opens inside it: those whose timer has run out first (to see the end),
 * then the others in turn, as many as the sweep's budget allows.
 *
 * Namespaces are known from every process's (iter/task, netns_of_tasks)
 * and from the bind mounts in /run/netns and /var/run/docker/netns. One we
 * knew and can no longer find is gone; one we never found is not called
 * gone (we may just not see it: a tracer in a pid namespace of its own),
 * its TIME-WAITs end as not_swept.
 */
#ifndef TF_TWFOREIGN_H
#define TF_TWFOREIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "nsiter.h"
#include "twtrack.h"

struct tf_twf;

/*
 * ns: the namespace helper, or NULL (no way in: every TIME-WAIT elsewhere
 * ends as not_swept). task_link_fd: the netns_of_tasks iterator's link.
 * twt and ns must outlive it. NULL when out of memory.
 */
struct tf_twf *tf_twf_new(struct tf_nsiter *ns, int task_link_fd, struct tf_twt *twt,
			  uint32_t hz);
void tf_twf_free(struct tf_twf *f);

/* A new sweep: the list of namespaces may be read again (once per sweep, when needed). */
void tf_twf_begin(struct tf_twf *f);

/*
 * Does the namespace still exist? false only for one we knew and can no
 * longer find; true when we cannot tell.
 */
bool tf_twf_alive(struct tf_twf *f, uint32_t inum);

/*
 * A way into the namespace (its path, "" when not known), for the helper.
 * stale: the last one failed, look again (once per sweep).
 */
void tf_twf_path(struct tf_twf *f, uint32_t inum, bool stale, char *path, size_t len);

/*
 * Look up at most max of the TIME-WAITs tracked in other namespaces
 * (tf_twt_due) and tell the tracker (tf_twt_checked, tf_twt_unchecked,
 * tf_twt_netns_gone). Returns how many were looked up.
 */
size_t tf_twf_check(struct tf_twf *f, uint64_t now_ns, size_t max);

/* Why the last lookups could not be made, or NULL; cleared by reading. */
const char *tf_twf_problem(struct tf_twf *f);

#endif /* TF_TWFOREIGN_H */
