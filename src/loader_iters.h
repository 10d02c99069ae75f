/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the loader (loader.h): the object of the close side's iterators,
 * bpf/timewait.bpf.c. Only loader.c and loader_iters.c include it.
 */
#ifndef TF_LOADER_ITERS_H
#define TF_LOADER_ITERS_H

#include <stddef.h>
#include "kfeatures.h"
#include "loader.h"
#include "options.h"

struct tf_iters;

/* The --port filter as the BPF programs take it: bit p of bits[] for port p. */
static inline void tf_port_bits_fill(__u64 bits[TF_PORT_WORDS], const struct tf_config *cfg)
{
	for (int i = 0; i < cfg->nports; i++)
		bits[cfg->ports[i] >> 6] |= 1ULL << (cfg->ports[i] & 63);
}

/* tf_loader_start_iters: *out is NULL unless it returns TF_EXIT_OK. */
int tf_iters_start(struct tf_iters **out, const struct tf_config *cfg, struct tf_features *fs,
		   char *err, size_t errlen);
/* tf_loader_iter_link; it may be NULL. */
int tf_iters_link(const struct tf_iters *it, enum tf_iter which);
void tf_iters_free(struct tf_iters *it);

#endif /* TF_LOADER_ITERS_H */
