/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Half-closed connections that never finish, pure C: given the kernel's
 * live connection records, say once per connection and state when one has
 * been in CLOSE_WAIT or FIN_WAIT2 longer than the threshold (--stuck).
 *
 *   CLOSE_WAIT  the peer's FIN arrived; the application never called close()
 *   FIN_WAIT2   our FIN was acknowledged; the peer never sends its FIN. A full
 *               socket stays here after shutdown(SHUT_WR); after close() the
 *               kernel hands it to a FIN_WAIT2-substate timewait socket at once
 *               (tcp_fin_timeout <= 60 s), which the TIME-WAIT census counts.
 */
#ifndef TF_STUCK_H
#define TF_STUCK_H

#include <stdbool.h>
#include <stdint.h>
#include "closeside.h"
#include "tcpflow.h"

#define TF_STUCK_CAP 65536	/* connections remembered as reported */

struct tf_stuckt;

struct tf_stuckt *tf_stuckt_new(uint64_t threshold_ns);
void tf_stuckt_free(struct tf_stuckt *t);

/* One scan of the live table: begin, check every record, end. */
void tf_stuckt_begin(struct tf_stuckt *t);
/*
 * True, with *out filled (out->rec = c), the first time c is seen over
 * the threshold in its current state.
 */
bool tf_stuckt_check(struct tf_stuckt *t, const struct tf_conn *c, uint64_t now_ns,
		     struct tf_stuck *out);
/* Would tf_stuckt_check() report c now? (Nothing is remembered.) */
bool tf_stuckt_due(const struct tf_stuckt *t, const struct tf_conn *c, uint64_t now_ns);
/* Forget connections that left their state (or closed) since they were reported. */
void tf_stuckt_end(struct tf_stuckt *t);

#endif /* TF_STUCK_H */
