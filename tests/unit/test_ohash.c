// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* src/ohash.c against a plain array as the reference, through growth, deletes and clears. */
#include <stdlib.h>
#include <string.h>
#include "tf_test.h"
#include "ohash.h"

struct key {
	uint64_t a;
	uint32_t b, _pad;
};

#define UNIVERSE 4096	/* keys 0..UNIVERSE-1, many colliding homes */

static struct key key_of(uint32_t i)
{
	/* kernel-pointer-like keys: same high bits, 64-byte strides */
	return (struct key){ .a = 0xffff888100000000ull + (uint64_t)i * 64, .b = i % 7 };
}

static bool same_as_reference(const struct tf_ohash *h, const uint32_t *ref)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < UNIVERSE; i++) {
		struct key k = key_of(i);
		uint32_t *v = tf_ohash_get(h, &k);

		if ((v != NULL) != (ref[i] != 0) || (v && *v != ref[i]))
			return false;
		n += ref[i] != 0;
	}
	return n == h->n;
}

static void random_puts_and_deletes(void)
{
	static uint32_t ref[UNIVERSE];
	struct tf_ohash h;
	uint32_t seed = 12345;

	CHECK_INT(tf_ohash_init(&h, sizeof(struct key), sizeof(uint32_t), UINT32_MAX), 0);
	for (int round = 0; round < 200000; round++) {
		uint32_t i;
		struct key k;

		seed = seed * 1103515245u + 12345u;
		i = (seed >> 8) % UNIVERSE;
		k = key_of(i);
		if ((seed >> 4) & 1) {
			bool fresh;
			uint32_t *v = tf_ohash_put(&h, &k, &fresh);

			CHECK(v != NULL);
			CHECK(fresh == (ref[i] == 0));
			*v = ref[i] = (uint32_t)round | 1;
		} else {
			uint32_t *v = tf_ohash_get(&h, &k);

			if (v)
				tf_ohash_del_at(&h, tf_ohash_index(&h, v));
			ref[i] = 0;
		}
		if (round % 20000 == 0)
			CHECK(same_as_reference(&h, ref));
	}
	CHECK(same_as_reference(&h, ref));
	tf_ohash_clear(&h);
	memset(ref, 0, sizeof(ref));
	CHECK(same_as_reference(&h, ref));
	tf_ohash_free(&h);
}

static void walk_and_delete_all(void)
{
	struct tf_ohash h;
	uint32_t seen = 0;

	CHECK_INT(tf_ohash_init(&h, sizeof(struct key), sizeof(uint32_t), UINT32_MAX), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		struct key k = key_of(i);

		*(uint32_t *)tf_ohash_put(&h, &k, NULL) = i;
	}
	for (uint32_t i = 0; i < h.nslots; i++) {
		if (!tf_ohash_at(&h, i))
			continue;
		seen++;
		tf_ohash_del_at(&h, i);
		i--;	/* a later entry may have moved into slot i */
	}
	CHECK_INT(seen, 1000);
	CHECK_INT(h.n, 0);
	tf_ohash_free(&h);
}

static void full_at_cap(void)
{
	struct tf_ohash h;
	struct key k = key_of(3);

	CHECK_INT(tf_ohash_init(&h, sizeof(struct key), sizeof(uint32_t), 2), 0);
	CHECK(tf_ohash_put(&h, &k, NULL) != NULL);
	k = key_of(4);
	CHECK(tf_ohash_put(&h, &k, NULL) != NULL);
	k = key_of(5);
	CHECK(tf_ohash_put(&h, &k, NULL) == NULL);
	k = key_of(3);
	CHECK(tf_ohash_put(&h, &k, NULL) != NULL);	/* existing keys still found */
	tf_ohash_free(&h);
}

TF_TEST_MAIN("test_ohash", T(random_puts_and_deletes), T(walk_and_delete_all), T(full_at_cap))
