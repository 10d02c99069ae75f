/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A binary min-heap of fixed-size items ordered by a 64-bit key (e.g. a
 * time), growing by doubling up to a cap. Used by the TIME-WAIT tracker to
 * find the timers that have run out without walking every entry.
 */
#ifndef TF_HEAP_H
#define TF_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tf_heap {
	uint8_t *mem;
	uint32_t n, alloc, cap;
	uint32_t isize;		/* item bytes */
	uint32_t ssize;		/* slot bytes: key + item, 8-byte aligned */
};

/* cap: most items it will ever hold. Returns 0 or -1 (out of memory). */
int tf_heap_init(struct tf_heap *h, size_t item_size, uint32_t cap);
void tf_heap_free(struct tf_heap *h);
void tf_heap_clear(struct tf_heap *h);

/* false when full (or out of memory) */
bool tf_heap_push(struct tf_heap *h, uint64_t key, const void *item);
/* The item with the smallest key and *key, or NULL when empty. */
const void *tf_heap_top(const struct tf_heap *h, uint64_t *key);
void tf_heap_pop(struct tf_heap *h);

#endif /* TF_HEAP_H */
