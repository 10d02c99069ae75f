// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A binary min-heap. See heap.h. */
#include <stdlib.h>
#include <string.h>
#include "heap.h"

#define SLOT(h, i) ((h)->mem + (size_t)(i) * (h)->ssize)

static uint64_t key_at(const struct tf_heap *h, uint32_t i)
{
	uint64_t k;

	memcpy(&k, SLOT(h, i), sizeof(k));
	return k;
}

static void swap(struct tf_heap *h, uint32_t a, uint32_t b, void *tmp)
{
	memcpy(tmp, SLOT(h, a), h->ssize);
	memcpy(SLOT(h, a), SLOT(h, b), h->ssize);
	memcpy(SLOT(h, b), tmp, h->ssize);
}

int tf_heap_init(struct tf_heap *h, size_t item_size, uint32_t cap)
{
	memset(h, 0, sizeof(*h));
	h->isize = (uint32_t)item_size;
	h->ssize = (uint32_t)((sizeof(uint64_t) + item_size + 7) & ~(size_t)7);
	h->cap = cap;
	h->alloc = cap < 64 ? cap : 64;
	h->mem = malloc((size_t)h->alloc * h->ssize + h->ssize);	/* + a swap slot */
	return h->mem ? 0 : -1;
}

void tf_heap_free(struct tf_heap *h)
{
	free(h->mem);
	memset(h, 0, sizeof(*h));
}

void tf_heap_clear(struct tf_heap *h)
{
	h->n = 0;
}

static bool grow(struct tf_heap *h)
{
	uint32_t alloc = h->alloc * 2 < h->cap ? h->alloc * 2 : h->cap;
	uint8_t *mem;

	if (alloc <= h->alloc)
		return false;
	mem = realloc(h->mem, (size_t)alloc * h->ssize + h->ssize);
	if (!mem)
		return false;
	h->mem = mem;
	h->alloc = alloc;
	return true;
}

bool tf_heap_push(struct tf_heap *h, uint64_t key, const void *item)
{
	void *tmp;
	uint32_t i;

	if (h->n == h->alloc && !grow(h))
		return false;
	i = h->n++;
	memcpy(SLOT(h, i), &key, sizeof(key));
	memcpy(SLOT(h, i) + sizeof(key), item, h->isize);
	tmp = SLOT(h, h->alloc);
	while (i && key_at(h, (i - 1) / 2) > key) {
		swap(h, i, (i - 1) / 2, tmp);
		i = (i - 1) / 2;
	}
	return true;
}

const void *tf_heap_top(const struct tf_heap *h, uint64_t *key)
{
	if (!h->n)
		return NULL;
	*key = key_at(h, 0);
	return SLOT(h, 0) + sizeof(uint64_t);
}

void tf_heap_pop(struct tf_heap *h)
{
	void *tmp = SLOT(h, h->alloc);
	uint32_t i = 0;

	if (!h->n)
		return;
	memcpy(SLOT(h, 0), SLOT(h, --h->n), h->ssize);
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && key_at(h, l) < key_at(h, m))
			m = l;
		if (r < h->n && key_at(h, r) < key_at(h, m))
			m = r;
		if (m == i)
			return;
		swap(h, i, m, tmp);
		i = m;
	}
}
