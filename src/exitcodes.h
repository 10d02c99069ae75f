/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The process's exit statuses: every module that decides one (options, the
 * loader, privileges, namespaces, the close side, the report) returns these.
 */
#ifndef TF_EXITCODES_H
#define TF_EXITCODES_H

/* Exit statuses, everywhere (documented in README and the man page). */
enum tf_exit {
	TF_EXIT_OK = 0,
	TF_EXIT_RUNTIME = 1,	/* failure while running */
	TF_EXIT_USAGE = 2,	/* bad flags or values */
	TF_EXIT_PERM = 3,	/* not root / missing CAP_BPF, CAP_PERFMON */
	TF_EXIT_KERNEL = 4,	/* the core cannot run: no BTF, ring buffer, inet_sock_set_state */
	TF_EXIT_METRICS = 5,	/* --metrics address unusable (in use, bad address) */
};

#endif /* TF_EXITCODES_H */
