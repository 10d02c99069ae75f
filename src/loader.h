/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Open, configure, load and attach the BPF programs; drain the ring buffer;
 * read the kernel's counters. Nothing else touches libbpf objects, and the
 * loader knows no output format.
 */
#ifndef TF_LOADER_H
#define TF_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "kfeatures.h"
#include "options.h"
#include "stats.h"
#include "tcpflow.h"

struct tf_loader;

/* The --port filter as the BPF programs take it: bit p of bits[] for port p. */
static inline void tf_port_bits_fill(__u64 bits[TF_PORT_WORDS], const struct tf_config *cfg)
{
	for (int i = 0; i < cfg->nports; i++)
		bits[cfg->ports[i] >> 6] |= 1ULL << (cfg->ports[i] & 63);
}

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

/* Wait up to timeout_ms for records, then drain. Returns records or -errno. */
int tf_loader_poll(struct tf_loader *l, int timeout_ms);

/*
 * While a long walk runs (the TIME-WAIT sweep) records must not reach the
 * sinks, yet the ring buffer must not fill: tf_loader_hold() moves what is
 * waiting into memory, tf_loader_release() delivers it, in order, after the
 * walk. Past a bound (a stalled walk) records are delivered at once rather
 * than lost.
 */
void tf_loader_hold(struct tf_loader *l);
void tf_loader_release(struct tf_loader *l);

/*
 * A listener's owner is the process that called listen(); a server that
 * daemonized after listen() (nginx) leaves an owner that is gone. Name a
 * live process holding the socket instead (task_file iterator, Linux 5.11).
 * Cheap when nothing is gone; call now and then. Returns 1 when it walked.
 */
int tf_loader_refresh_listeners(struct tf_loader *l);

/* Stop the tracepoints, drain what is left in the ring buffer. */
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

void tf_loader_free(struct tf_loader *l);

#endif /* TF_LOADER_H */
