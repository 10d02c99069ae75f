/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ring-buffer bytes -> checked records -> summaries -> the stage -> every
 * sink. No BPF, no I/O of its own: unit tests and fuzzers drive it directly.
 *
 * Records flow one way. The stage (one, optional: the close side,
 * timewait.h) sees each finished connection before any sink; what it
 * derives from it (a TIME-WAIT that ended) waits in the core's queue and
 * reaches the sinks right after that connection. Derived records made
 * between records (a sweep's ends, stuck connections and census) go out at
 * once. Nothing calls back into the loop over the sinks, and the order of
 * the lines is the order of the records, whatever the order of the sinks.
 */
#ifndef TF_CORE_H
#define TF_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "closeside.h"
#include "conn.h"
#include "stats.h"
#include "tcpflow.h"

struct tf_sink;	/* sink.h */

#define TF_MAX_SINKS 8
#define TF_PENDING_MAX 64
#define TF_DERIVED_MAX 8	/* derived from one connection: a reuse ends one TIME-WAIT */

/*
 * A connection that ended X -> CLOSE without a reset from a state where an
 * abort sends one: the reset may still follow (struct tf_reset_event), so
 * the record waits a moment before it goes to the sinks.
 */
struct tf_pending {
	struct tf_conn rec;
	uint64_t close_ns;
};

/* Names a cgroup id for the sinks (cgroup.h); NULL when it cannot. */
typedef const struct tf_cgroup_name *(*tf_cgroup_name_fn)(void *ctx, uint64_t id);

/*
 * The stage: sees each finished connection (complete, flushed open, or
 * after its late reset) before the sinks, with its summary. It shows
 * nothing; it may derive records from it (tf_core_tw_end, tf_core_stuck).
 * Of a connection the kernel folded into its metrics it sees only the
 * TIME-WAIT hand-over (struct tf_handover), and no sink sees it: a summary
 * with rec, role, time_wait, close_end and t0_ns set, its record holding the
 * tuple, owner, role, flags, first change and the hand-over (-> CLOSE).
 */
struct tf_stage {
	void (*conn)(void *ctx, const struct tf_summary *s);
	void *ctx;
};

/* A record derived while the core dispatched one: sent after it. */
enum tf_derived_kind { TF_DERIVED_TW_END = 1, TF_DERIVED_STUCK };

struct tf_derived {
	int kind;			/* enum tf_derived_kind */
	struct tf_tw_end end;
	struct tf_stuck stuck;		/* stuck.rec points to rec once sent */
	struct tf_conn rec;
};

struct tf_core {
	struct tf_sink *sinks[TF_MAX_SINKS];
	tf_cgroup_name_fn cgroup_name;	/* optional */
	void *cgroup_ctx;
	int nsinks;
	struct tf_stage stage;		/* optional */
	struct tf_run_stats stats;
	uint64_t late_resets;	/* resets attached to a connection after its CLOSE */
	int npending;
	struct tf_pending pending[TF_PENDING_MAX];
	bool dispatching;	/* a connection is on its way to the sinks */
	int nderived;
	struct tf_derived derived[TF_DERIVED_MAX];
};

void tf_core_init(struct tf_core *core);
/* Takes ownership of sk (freed by tf_core_free). -1 when full. */
int tf_core_add_sink(struct tf_core *core, struct tf_sink *sk);
/* The stage (copied; its ctx must outlive the core's use). -1 if one is set already. */
int tf_core_set_stage(struct tf_core *core, const struct tf_stage *stage);
void tf_core_set_cgroup_name(struct tf_core *core, tf_cgroup_name_fn fn, void *ctx);
/*
 * The kernel side's part of the run stats (stats.h): its counters (bpf,
 * events, recursion_misses), the live table (live, live_total) and the
 * features this run has, as the loader read them. The sinks see them at
 * the next tick or at finish.
 */
void tf_core_set_kernel_stats(struct tf_core *core, const struct tf_run_stats *k);
/* The run so far: the core's counts and the kernel's as last set. */
const struct tf_run_stats *tf_core_stats(const struct tf_core *core);
/* One ring-buffer record of any type. Returns 0, or -1 if malformed (counted). */
int tf_core_record(struct tf_core *core, const void *data, size_t len);
/*
 * Send held connections whose CLOSE is older than min_age_ns (call after the
 * ring buffer was drained; 0 sends all).
 */
void tf_core_flush_pending(struct tf_core *core, uint64_t now_ns, uint64_t min_age_ns);
void tf_core_tick(struct tf_core *core, uint64_t now_ns);
/*
 * Close-side reports, handed to every sink that takes them. An end or a
 * stuck connection reported while a connection is being dispatched (by the
 * stage) is queued and follows it; otherwise each goes out at once. A
 * census (tw_sweep) comes from a sweep, between records.
 */
void tf_core_tw_sweep(struct tf_core *core, const struct tf_tw_snapshot *snap);
void tf_core_tw_end(struct tf_core *core, const struct tf_tw_end *end);
void tf_core_stuck(struct tf_core *core, const struct tf_stuck *st);
void tf_core_finish(struct tf_core *core);
void tf_core_free(struct tf_core *core);

#endif /* TF_CORE_H */
