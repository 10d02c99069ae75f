/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The close side that needs more than the tracepoints: every --tw-interval
 * a walk over the kernel's TCP sockets gives the TIME-WAIT population and
 * the half-closed sockets; a walk over the tracer's live connection table
 * finds stuck CLOSE_WAIT / FIN_WAIT2 and connections that reuse a
 * TIME-WAIT 4-tuple.
 *
 * The flow, one way: the loader owns the BPF objects and opens the walks
 * (tf_loader_iter_open, tf_loader_iter_read, tf_loader_scan_live); this
 * tracker is the core's stage (core.h), seeing each finished connection
 * before the sinks; what it derives (tw_end, stuck, tw_sweep) it reports to
 * the core, which sends it on to the sinks after the current record. It
 * touches no libbpf object and no sink.
 */
#ifndef TF_TW_MODULE_H
#define TF_TW_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include "core.h"
#include "kfeatures.h"
#include "loader.h"
#include "options.h"

struct tf_tw;

/*
 * After tf_loader_start_iters: measure HZ if the kernel config does not
 * say, and become the core's stage (tf_core_set_stage). The walks cover one
 * network namespace: ours, or --netns; TIME-WAITs handed over in other
 * namespaces are followed by lookups inside them (twforeign.h). Both need
 * the namespace helper, forked now: call it before dropping privileges.
 * When other namespaces cannot be followed (no sock_diag, no privileges for
 * the helper), feature netns_timewaits goes off in fs and their TIME-WAITs
 * end "not_swept".
 * cfg, l and core must outlive the tracker; free the core first.
 * Returns TF_EXIT_OK, or an enum tf_exit status with one line in err.
 */
int tf_tw_new(struct tf_tw **out, const struct tf_config *cfg, struct tf_loader *l,
	      struct tf_core *core, struct tf_features *fs, char *err, size_t errlen);

/*
 * Sweep if one is due (every --tw-interval; call often, e.g. every loop).
 * Returns 1 after a sweep, 0 when none was due. Nothing in a sweep ends the
 * tracer: a namespace that cannot be walked or entered (it may be torn down
 * at any moment) is not judged, and the trouble is told by tf_tw_problem.
 */
int tf_tw_sweep(struct tf_tw *tw, uint64_t now_ns);

/* A new kind of trouble since the last call (one line), or NULL. */
const char *tf_tw_problem(struct tf_tw *tw);

void tf_tw_free(struct tf_tw *tw);

#endif /* TF_TW_MODULE_H */
