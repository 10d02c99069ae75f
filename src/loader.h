/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Open, configure, probe, load and attach every BPF object (tcpflow.bpf.c,
 * listeners.bpf.c, timewait.bpf.c); drain the ring buffer into the record
 * callback (the core); open and read the iterators; read the kernel's
 * counters. Nothing else touches libbpf objects, and the loader knows no
 * output format. What a refused program costs goes into the one feature
 * table (kfeatures.h).
 *
 * The flow: the loader hands records to the core (tf_record_fn); the
 * close side (timewait.h) asks the loader for iterator walks and the live
 * table and reports to the core; nothing reports back to the loader.
 */
#ifndef TF_LOADER_H
#define TF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "kfeatures.h"
#include "options.h"
#include "stats.h"
#include "tcpflow.h"

struct tf_loader;

/* Called for every ring-buffer record (and for open connections at flush). */
typedef void (*tf_record_fn)(void *ctx, const void *data, size_t len);

/*
 * Open, configure (filters, sizes) and load; attach the tracepoints; resolve
 * owners of sockets that were listening before we started. Optional
 * programs the kernel refuses switch their features in *feats off (or to a
 * fallback); feats must outlive the loader. Fails only when the core cannot
 * run: returns an enum tf_exit status (3: the core was not permitted, 4:
 * the kernel lacks it) and puts one line (what went wrong, what to do) in err.
 */
int tf_loader_start(struct tf_loader **out, const struct tf_config *cfg, struct tf_features *feats,
		    tf_record_fn fn, void *ctx, char *err, size_t errlen);

/*
 * Deliver what was held during iterator walks, wait up to timeout_ms for
 * records, then drain. Returns records or -errno.
 */
int tf_loader_poll(struct tf_loader *l, int timeout_ms);

/* The iterators of timewait.bpf.c, the close side's socket walks. */
enum tf_iter {
	TF_ITER_SWEEP = 0,	/* iter/tcp sweep: TIME-WAIT and half-closed sockets (tcp_iter) */
	TF_ITER_NETNS_TASKS,	/* iter/task netns_of_tasks: namespaces in use (netns_tasks) */
	TF_ITER_HALF_OWNERS,	/* iter/task_file half_owners (half_owners) */
	TF_ITER_MAX,
};

/*
 * Open, configure (--netns, --family, --port), probe, load and attach the
 * iterators, after tf_loader_start. A refused one switches its feature off
 * (one notice); without sweep there are no walks at all: then an enum
 * tf_exit status and one line in err (what to do). TF_EXIT_OK otherwise.
 */
int tf_loader_start_iters(struct tf_loader *l, const struct tf_config *cfg, char *err,
			  size_t errlen);

/* The iterator's link fd (to open it in another namespace, nsiter.h); -1 if not attached. */
int tf_loader_iter_link(const struct tf_loader *l, enum tf_iter it);

/* A new walk of the iterator, in our network namespace: an fd to read and close, or -errno. */
int tf_loader_iter_open(const struct tf_loader *l, enum tf_iter it);

/*
 * read() one batch of a walk (any iterator fd, also one opened elsewhere).
 * A long walk (131k TIME-WAIT sockets take ~250 ms) must neither let the
 * ring buffer fill nor let records reach the core, whose stage is the
 * walker: what waits is moved into memory and delivered, in order, by the
 * next tf_loader_poll (or tf_loader_detach). Past a bound (a stalled walk)
 * records are delivered at once rather than lost.
 */
ssize_t tf_loader_iter_read(struct tf_loader *l, int fd, void *buf, size_t len);

/*
 * A listener's owner is the process that called listen(); a server that
 * daemonized after listen() (nginx) leaves an owner that is gone. Name a
 * live process holding the socket instead (task_file iterator, Linux 5.11).
 * Cheap when nothing is gone; call now and then. Returns 1 when it walked.
 */
int tf_loader_refresh_listeners(struct tf_loader *l);

/* Stop the tracepoints, deliver what was held, drain what is left in the ring buffer. */
void tf_loader_detach(struct tf_loader *l);

/* Hand every connection still in the kernel table to fn, marked TF_F_OPEN. */
int tf_loader_flush_open(struct tf_loader *l);

/* Called for each connection the kernel tracks now (c is a copy, valid during the call). */
typedef void (*tf_live_fn)(void *ctx, const struct tf_conn *c);

/* Hand every live connection record to fn. Returns how many. */
int tf_loader_scan_live(struct tf_loader *l, tf_live_fn fn, void *ctx);

/*
 * Connections the kernel tracks now, by current state (last state change).
 * Walking key by key (conn_table_iter refused), the counts may be a recent
 * walk's: the walk runs at most 1/50 of the time.
 */
int tf_loader_count_live(struct tf_loader *l, uint64_t counts[TF_STATE_MAX]);

/* Sum the kernel's per-CPU counters and the programs' recursion misses. */
void tf_loader_read_stats(struct tf_loader *l, struct tf_run_stats *st);

/* Does this run fold connections into the kernel's metrics (feature kernel_metrics)? */
bool tf_loader_kmetrics(const struct tf_loader *l);

/*
 * The kernel's metric aggregates, summed over CPUs: one lookup per entry
 * of the per-CPU array, the slots' ports from the object's .bss. Safe from
 * another thread (the metrics server). 0 or -errno.
 */
int tf_loader_read_kmetrics(struct tf_loader *l, struct tf_km_sum *out);

/* The ports the kernel fold learned, by slot (its .bss, live; 0: none yet). */
const volatile uint16_t *tf_loader_kmetrics_learned(const struct tf_loader *l);

void tf_loader_free(struct tf_loader *l);

#endif /* TF_LOADER_H */
