// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Open-addressing hash table. See ohash.h. */
#include <stdlib.h>
#include <string.h>
#include "ohash.h"

#define KEY_OFF 8u	/* slot: padding, key, value */

/*
 * The key's tag: its hash, never 0 (0 marks an empty slot). Eight bytes a
 * step, multiply and fold (a byte-wise FNV-1a over a 48-byte tuple was a
 * chain of 48 dependent multiplies per lookup).
 */
static uint32_t tag_of(const struct tf_ohash *h, const void *key)
{
	const uint8_t *b = key;
	uint64_t x = 0x9e3779b97f4a7c15ull ^ h->ksize, w;
	uint32_t i = 0, tag;

	for (; i + 8 <= h->ksize; i += 8) {
		memcpy(&w, b + i, 8);
		x = (x ^ w) * 0xff51afd7ed558ccdull;
		x ^= x >> 32;
	}
	for (; i < h->ksize; i++) {
		x = (x ^ b[i]) * 0xc4ceb9fe1a85ec53ull;
		x ^= x >> 29;
	}
	x *= 0x9e3779b97f4a7c15ull;
	tag = (uint32_t)(x >> 32);
	return tag ? tag : 1;
}

static uint32_t home(const struct tf_ohash *h, uint32_t tag)
{
	return tag & (h->nslots - 1);
}

static uint8_t *slot(const struct tf_ohash *h, uint32_t i)
{
	return h->mem + (size_t)i * h->ssize;
}

static bool used(const struct tf_ohash *h, uint32_t i)
{
	return h->tags[i] != 0;
}

/* Slot holding key (tag given), or the empty slot where it would go. */
static uint32_t find(const struct tf_ohash *h, const void *key, uint32_t tag)
{
	uint32_t i = home(h, tag);

	while (h->tags[i] && (h->tags[i] != tag || memcmp(slot(h, i) + KEY_OFF, key, h->ksize)))
		i = (i + 1) & (h->nslots - 1);
	return i;
}

static int alloc_slots(struct tf_ohash *h, uint32_t nslots)
{
	h->mem = calloc(nslots, h->ssize);
	h->tags = calloc(nslots, sizeof(*h->tags));
	if (!h->mem || !h->tags) {
		free(h->mem);
		free(h->tags);
		h->mem = NULL;
		h->tags = NULL;
		return -1;
	}
	h->nslots = nslots;
	return 0;
}

int tf_ohash_init(struct tf_ohash *h, size_t ksize, size_t vsize, uint32_t cap)
{
	memset(h, 0, sizeof(*h));
	h->ksize = (uint32_t)ksize;
	h->vsize = (uint32_t)vsize;
	h->voff = (uint32_t)((KEY_OFF + ksize + 7) & ~(size_t)7);
	h->ssize = (uint32_t)((h->voff + vsize + 7) & ~(size_t)7);
	h->cap = cap;
	return alloc_slots(h, 64);
}

void tf_ohash_free(struct tf_ohash *h)
{
	free(h->mem);
	free(h->tags);
	h->mem = NULL;
	h->tags = NULL;
	h->nslots = h->n = 0;
}

void tf_ohash_clear(struct tf_ohash *h)
{
	memset(h->tags, 0, (size_t)h->nslots * sizeof(*h->tags));
	h->n = 0;
}

static int grow(struct tf_ohash *h)
{
	struct tf_ohash old = *h;

	if (h->nslots >= (1u << 30) || alloc_slots(h, h->nslots * 2)) {
		*h = old;
		return -1;
	}
	for (uint32_t i = 0; i < old.nslots; i++) {
		uint32_t j, tag = old.tags[i];

		if (!tag)
			continue;
		for (j = home(h, tag); h->tags[j]; j = (j + 1) & (h->nslots - 1))
			;
		h->tags[j] = tag;
		memcpy(slot(h, j), slot(&old, i), h->ssize);
	}
	free(old.mem);
	free(old.tags);
	return 0;
}

void *tf_ohash_get(const struct tf_ohash *h, const void *key)
{
	uint32_t i = find(h, key, tag_of(h, key));

	return used(h, i) ? slot(h, i) + h->voff : NULL;
}

void *tf_ohash_put(struct tf_ohash *h, const void *key, bool *fresh)
{
	uint32_t tag = tag_of(h, key), i = find(h, key, tag);
	uint8_t *s;

	if (fresh)
		*fresh = false;
	if (used(h, i))
		return slot(h, i) + h->voff;
	if (h->n >= h->cap)
		return NULL;
	if ((uint64_t)(h->n + 1) * 4 > (uint64_t)h->nslots * 3) {
		if (grow(h))
			return NULL;
		i = find(h, key, tag);
	}
	s = slot(h, i);
	memset(s, 0, h->ssize);
	h->tags[i] = tag;
	memcpy(s + KEY_OFF, key, h->ksize);
	h->n++;
	if (fresh)
		*fresh = true;
	return s + h->voff;
}

void *tf_ohash_at(const struct tf_ohash *h, uint32_t i)
{
	return i < h->nslots && used(h, i) ? slot(h, i) + h->voff : NULL;
}

const void *tf_ohash_key_at(const struct tf_ohash *h, uint32_t i)
{
	return i < h->nslots && used(h, i) ? slot(h, i) + KEY_OFF : NULL;
}

uint32_t tf_ohash_index(const struct tf_ohash *h, const void *val)
{
	return (uint32_t)(((const uint8_t *)val - h->voff - h->mem) / h->ssize);
}

/* Is `home` cyclically in the half-open range (i, j]? */
static bool between(uint32_t i, uint32_t home, uint32_t j)
{
	return i <= j ? (home > i && home <= j) : (home > i || home <= j);
}

void tf_ohash_del_at(struct tf_ohash *h, uint32_t i)
{
	uint32_t mask = h->nslots - 1, j = i;

	if (!used(h, i))
		return;
	h->tags[i] = 0;
	h->n--;
	for (;;) {
		j = (j + 1) & mask;
		if (!used(h, j))
			return;
		/* an entry whose home lies in (i, j] stays; others fill the hole */
		if (between(i, home(h, h->tags[j]), j))
			continue;
		memcpy(slot(h, i), slot(h, j), h->ssize);
		h->tags[i] = h->tags[j];
		h->tags[j] = 0;
		i = j;
	}
}
