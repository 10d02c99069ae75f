/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the TIME-WAIT tracker (twtrack.h): the entries and the tracker,
 * shared by twtrack.c (connections, walks of the home namespace, judging,
 * census) and twfar.c (the entries of other namespaces: which to look up,
 * their answers). Nothing else includes it.
 */
#ifndef TF_TWTRACK_INT_H
#define TF_TWTRACK_INT_H

#include "heap.h"
#include "ohash.h"
#include "twtrack.h"

/* What we know of one timewait socket (value under its tf_twt_key). */
struct tw_ent {
	uint8_t hsrc;		/* enum tf_tw_handover_src */
	uint8_t substate;
	uint8_t fails;		/* sweeps in a row that could not look at it */
	bool evidence_bad;	/* missed while its namespace's TCPTimeWaitOverflow rose */
	uint32_t gen;		/* sweep that last saw it */
	uint32_t gone_gen;	/* sweep that first missed it before its timer; 0: not gone */
	uint32_t pid;
	uint64_t handover_ns;	/* 0: unknown */
	uint64_t first_seen_ns;	/* 0: no sweep saw it yet */
	uint64_t seen_hi_ns;	/* end of that first sweep's walk (0: not ended yet) */
	uint32_t first_gen;	/* the sweep that first saw it */
	uint32_t due_gen;	/* other namespace: the sweep that chose it for a lookup */
	uint64_t last_seen_ns;
	uint64_t expires_ns;	/* armed timer, as last seen; 0: unknown */
	uint64_t gone_ns;	/* the sweep that missed it (after the walk) */
	uint64_t sched_ns;	/* other namespace: its node in the timers heap; 0: none */
	char comm[TF_COMM_LEN];
};

struct tf_twt {
	struct tf_twt_params p;
	struct tf_twt_ops ops;
	struct tf_ohash ents;		/* home namespace: tf_twt_key -> tw_ent, walked */
	struct tf_ohash far;		/* other namespaces: tf_twt_key -> tw_ent, looked up */
	struct tf_heap timers;		/* far: (expected end, key), stale nodes skipped */
	uint32_t cursor;		/* far: where the turn of the others goes on */
	struct tf_twt_key *pend;	/* far: gone early, waiting a sweep for evidence */
	uint32_t npend, pend_cap;
	uint32_t gen;
	uint64_t t_begin, t_after;	/* this sweep's walk */
	bool walked;
	uint64_t untracked;		/* timewait sockets of the last sweep that did not fit */
	uint64_t ended[TF_TWE_MAX];
	bool prev_ok;			/* no events lost in the previous sweep period */
	uint32_t pending;		/* gone early, waiting one sweep for evidence */
	/* this sweep's census */
	uint64_t total, fw2;
	struct tf_ohash by_lport, by_remote;	/* grp_key -> grp */
};

/* twtrack.c */
uint64_t twt_expected_end(const struct tw_ent *e);
void twt_see(struct tf_twt *t, struct tw_ent *e, const struct tf_sweep_rec *r, uint64_t seen_ns);
/* Missed at `at`: true when reported (expired), else gone early (waits a sweep). */
bool twt_missed(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e, uint64_t at);
/* Gone early in an earlier sweep: the verdict, reported. */
void twt_verdict(struct tf_twt *t, const struct tf_twt_key *k, const struct tw_ent *e, bool ok);
/* Not looked at while it should have been: true when reported (not_swept). */
bool twt_unseen(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e);

/* twfar.c */
int twt_far_init(struct tf_twt *t);
void twt_far_free(struct tf_twt *t);
/* Its expected end changed (or it is new): into the timers heap. */
void twt_far_schedule(struct tf_twt *t, const struct tf_twt_key *k, struct tw_ent *e);
/* The verdicts of entries gone early in earlier sweeps; returns how many still wait. */
uint32_t twt_far_end(struct tf_twt *t, bool ok);

#endif /* TF_TWTRACK_INT_H */
