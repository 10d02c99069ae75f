/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Least privilege for the long-running part: once the BPF programs are
 * loaded and attached, keep only what reading them needs.
 */
#ifndef TF_PRIVS_H
#define TF_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Switch to `user` (NULL: stay) and drop every capability except CAP_BPF
 * and CAP_PERFMON (map reads, iterators), then set no_new_privs. Must run
 * before any thread starts: capabilities are per thread. Returns 0, or an
 * enum tf_exit status with one line in err.
 */
/* May this process load tracing programs (CAP_BPF+CAP_PERFMON, or CAP_SYS_ADMIN)? */
bool tf_can_load_bpf(void);

int tf_drop_privileges(const char *user, char *err, size_t errlen);

#endif /* TF_PRIVS_H */
