/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Optional kernel features, in one table: what each gives, what is lost
 * without it, and whether this run has it. The core (the
 * sock:inet_sock_set_state program and the ring buffer) is not in it:
 * without the core nothing starts. Every other program is probed by loading
 * it; a refusal switches its feature off (or to a fallback) with one notice.
 *
 * The names are a contract (stderr notices, the JSON stats' "features",
 * the tcpflow_feature_enabled metric, --check): never rename one.
 */
#ifndef TF_KFEATURES_H
#define TF_KFEATURES_H

#include <stdint.h>
#include <stdio.h>

enum tf_feature_id {
	TF_FEAT_CONN_TABLE_ITER = 0,	/* iter/bpf_map_elem dump_conns */
	TF_FEAT_RETRANSMITS,		/* tp_btf/tcp_retransmit_skb */
	TF_FEAT_SYNACK_RETRANSMITS,	/* tp_btf/tcp_retransmit_synack */
	TF_FEAT_RESETS,			/* tp_btf/tcp_send_reset + tcp_receive_reset */
	TF_FEAT_TCP_ITER,		/* iter/tcp sweep (TIME-WAIT, half-closed) */
	TF_FEAT_LISTENER_OWNERS,	/* iter/task_file dump_listeners, at start-up */
	TF_FEAT_HALF_OWNERS,		/* iter/task_file half_owners */
	TF_FEAT_NETNS_TASKS,		/* iter/task netns_of_tasks */
	TF_FEAT_RECURSION_MISSES,	/* bpf_prog_info.recursion_misses (Linux 5.12) */
	TF_FEAT_NETNS_TIMEWAITS,	/* sock_diag lookups inside other namespaces (helper) */
	TF_FEAT_KERNEL_METRICS,		/* tp_btf on_state_km: on_set_state + bpf/kmetrics.h */
	TF_FEAT_MAX,
};

enum tf_feature_state {
	TF_FS_ENABLED = 0,	/* zero: a fresh table has everything enabled */
	TF_FS_FALLBACK,		/* refused; something else gives the same data */
	TF_FS_OFF,		/* refused or missing; its data is not there */
};

/* Why a feature is not enabled. */
enum tf_feature_why {
	TF_FW_NONE = 0,
	TF_FW_REFUSED,		/* the kernel refused to load or attach it (err) */
	TF_FW_MISSING,		/* this kernel does not have it (per BTF or prog info) */
};

struct tf_feature {
	uint8_t state;		/* enum tf_feature_state */
	uint8_t why;		/* enum tf_feature_why */
	int err;		/* errno of the refusal (positive) */
	const char *what;	/* the program or kernel part that was refused or missing */
};

struct tf_features {
	struct tf_feature f[TF_FEAT_MAX];
};

const char *tf_feature_name(int id);
const char *tf_feature_state_name(int state);

/* Switch feature id to state (TF_FS_FALLBACK/OFF), why, err (+ or - errno), what. */
void tf_feature_set(struct tf_features *fs, int id, int state, int why, int err,
		    const char *what);

/* One stderr line per feature this run does not fully have. Returns how many. */
int tf_features_notify(const struct tf_features *fs, FILE *out);

/* --check: one line per feature (available, refused with errno, or missing). */
void tf_features_check_lines(const struct tf_features *fs, FILE *out);

#endif /* TF_KFEATURES_H */
