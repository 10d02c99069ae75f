// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The optional-feature table. See kfeatures.h. */
#include <string.h>
#include "kfeatures.h"

struct feature_doc {
	const char *name;
	const char *gives;	/* --check: what it is for */
	const char *lost;	/* notice when off: what this run does not have */
	const char *fallback;	/* notice when a fallback replaces it */
};

static const struct feature_doc docs[TF_FEAT_MAX] = {
	[TF_FEAT_CONN_TABLE_ITER] = {
		"conn_table_iter",
		"walks of the live connection table (stuck half-closed, TIME-WAIT reuse, "
		"tracked-connections gauge, flush at exit) through a map iterator",
		"no walks of the live connection table",
		"the live connection table is read key by key (2 syscalls per connection)",
	},
	[TF_FEAT_RETRANSMITS] = {
		"retransmits",
		"retransmitted SYNs, FINs and data segments",
		"retransmissions are not seen: fin_retrans stays 0; syn_retrans and retrans "
		"hold only what the kernel's own count restores when a handshake ends "
		"(Linux 6.17+), without times",
		NULL,
	},
	[TF_FEAT_SYNACK_RETRANSMITS] = {
		"synack_retransmits",
		"retransmitted SYN-ACKs and the server handshake's first SYN-ACK time",
		"SYN-ACK retransmissions are not seen: synack_retrans comes from the kernel's "
		"own count when a handshake completes, without times; a server handshake after "
		"one is measured from the retransmitted SYN-ACK",
		NULL,
	},
	[TF_FEAT_RESETS] = {
		"resets",
		"resets sent and received",
		"resets are not seen: `reset` stays null, reset and refused closes show as "
		"timeout or connect_failed",
		NULL,
	},
	[TF_FEAT_TCP_ITER] = {
		"tcp_iter",
		"TIME-WAIT census and ends, half-closed census, stuck CLOSE_WAIT/FIN_WAIT2 "
		"(socket walks)",
		"no TIME-WAIT census or ends, no half-closed census, no stuck CLOSE_WAIT/FIN_WAIT2 "
		"reports",
		NULL,
	},
	[TF_FEAT_LISTENER_OWNERS] = {
		"listener_owners",
		"owners of sockets already listening at start-up",
		"connections accepted by servers that listened before start-up show pid 0",
		NULL,
	},
	[TF_FEAT_HALF_OWNERS] = {
		"half_owners",
		"owners of half-closed sockets that began before tracing",
		"stuck half-closed connections that began before tracing show pid 0",
		NULL,
	},
	[TF_FEAT_NETNS_TASKS] = {
		"netns_tasks",
		"which network namespaces still exist (TIME-WAIT end netns_gone)",
		"a TIME-WAIT whose namespace went away (no bind mount) is not named netns_gone",
		NULL,
	},
	[TF_FEAT_RECURSION_MISSES] = {
		"recursion_misses",
		"program runs the kernel skipped, counted as lost events (program_skipped)",
		"events lost to the kernel skipping our programs cannot be counted "
		"(recursion_misses stays 0)",
		NULL,
	},
	[TF_FEAT_NETNS_TIMEWAITS] = {
		"netns_timewaits",
		"TIME-WAIT ends and durations in other network namespaces (containers), by "
		"sock_diag lookups a helper process makes inside each",
		"TIME-WAITs handed over in other network namespaces end \"not_swept\", with no "
		"end time",
		NULL,
	},
	[TF_FEAT_KERNEL_METRICS] = {
		"kernel_metrics",
		"--metrics/--hist alone fold each finished connection into per-CPU "
		"aggregates in the kernel (no record per connection to user space)",
		"connections are counted in user space, one ring-buffer record each",
		"connections are counted in user space, one ring-buffer record each",
	},
};

const char *tf_feature_name(int id)
{
	return id >= 0 && id < TF_FEAT_MAX ? docs[id].name : "?";
}

const char *tf_feature_state_name(int state)
{
	static const char *const names[] = { "enabled", "fallback", "off" };

	return state >= 0 && state <= TF_FS_OFF ? names[state] : "?";
}

void tf_feature_set(struct tf_features *fs, int id, int state, int why, int err,
		    const char *what)
{
	struct tf_feature *f;

	if (id < 0 || id >= TF_FEAT_MAX)
		return;
	f = &fs->f[id];
	f->state = (uint8_t)state;
	f->why = (uint8_t)why;
	f->err = err < 0 ? -err : err;
	f->what = what;
}

static const char *errno_name(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

/* "(the kernel refused X: Operation not permitted / EPERM)" */
static void print_why(const struct tf_feature *f, FILE *out)
{
	const char *what = f->what ? f->what : "it";

	if (f->why == TF_FW_MISSING)
		fprintf(out, "(%s not in this kernel: ", what);
	else
		fprintf(out, "(the kernel refused %s: ", what);
	fprintf(out, "%s / %s)", strerror(f->err), errno_name(f->err));
}

int tf_features_notify(const struct tf_features *fs, FILE *out)
{
	int n = 0;

	for (int i = 0; i < TF_FEAT_MAX; i++) {
		const struct tf_feature *f = &fs->f[i];

		if (f->state == TF_FS_ENABLED)
			continue;
		fprintf(out, "tcpflow-trace: feature %s %s: %s ", docs[i].name,
			tf_feature_state_name(f->state),
			f->state == TF_FS_FALLBACK ? docs[i].fallback : docs[i].lost);
		print_why(f, out);
		fputc('\n', out);
		n++;
	}
	return n;
}

void tf_features_check_lines(const struct tf_features *fs, FILE *out)
{
	for (int i = 0; i < TF_FEAT_MAX; i++) {
		const struct tf_feature *f = &fs->f[i];
		const char *what = f->what ? f->what : "";

		fprintf(out, "%-20s ", docs[i].name);
		if (f->why == TF_FW_NONE) {
			fprintf(out, "available  %s\n", docs[i].gives);
			continue;
		}
		if (f->why == TF_FW_MISSING)
			fprintf(out, "missing    %s (%s / %s)", what, strerror(f->err),
				errno_name(f->err));
		else
			fprintf(out, "refused    %s: %s / %s", what, strerror(f->err),
				errno_name(f->err));
		if (f->state == TF_FS_FALLBACK)
			fprintf(out, "; fallback: %s\n", docs[i].fallback);
		else
			fprintf(out, "; lost: %s\n", docs[i].lost);
	}
}
