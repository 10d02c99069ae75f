/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small open-addressing hash table of fixed-size keys and values (linear
 * probing, backward-shift deletion, doubling up to a cap). Keys compare
 * byte for byte: zero their padding. The one hash table of user space:
 * close-side bookkeeping, the loader, the metrics' stuck gauge, the report.
 *
 * Probing walks a separate array of 32-bit hash tags (0: empty), 16 to a
 * cache line, and touches a slot only when its tag matches: a miss in a
 * table of 131k TIME-WAIT entries costs about one cache miss instead of
 * one per probed slot.
 */
#ifndef TF_OHASH_H
#define TF_OHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tf_ohash {
	uint8_t *mem;
	uint32_t *tags;			/* per slot: the key's hash (never 0), 0 when empty */
	uint32_t nslots, n, cap;
	uint32_t ksize, vsize, ssize;	/* key, value, slot bytes */
	uint32_t voff;			/* value offset in a slot: 8-byte aligned */
};

/* cap: most entries it will ever hold. Returns 0 or -1 (out of memory). */
int tf_ohash_init(struct tf_ohash *h, size_t ksize, size_t vsize, uint32_t cap);
void tf_ohash_free(struct tf_ohash *h);
void tf_ohash_clear(struct tf_ohash *h);

/* The value stored under key, or NULL. */
void *tf_ohash_get(const struct tf_ohash *h, const void *key);
/* The value under key, inserted zeroed if new (*fresh = true); NULL when full. */
void *tf_ohash_put(struct tf_ohash *h, const void *key, bool *fresh);

/*
 * Walk: for (uint32_t i = 0; i < h->nslots; i++) { v = tf_ohash_at(h, i); ... }
 * Deleting slot i may move a later entry into it: look at i again.
 */
void *tf_ohash_at(const struct tf_ohash *h, uint32_t i);
const void *tf_ohash_key_at(const struct tf_ohash *h, uint32_t i);
void tf_ohash_del_at(struct tf_ohash *h, uint32_t i);
/* Slot index of a value returned by get/put/at. */
uint32_t tf_ohash_index(const struct tf_ohash *h, const void *val);

#endif /* TF_OHASH_H */
