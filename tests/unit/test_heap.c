// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* src/heap.c: items come out by key, smallest first, through growth and the cap. */
#include <stdlib.h>
#include "tf_test.h"
#include "heap.h"

struct item {
	uint32_t id;
	char tag[20];	/* an odd size: slots are padded */
};

static void sorted_out(void)
{
	struct tf_heap h;
	struct item it;
	uint64_t key, last = 0;
	int n = 0;

	CHECK_INT(tf_heap_init(&h, sizeof(struct item), 5000), 0);
	srand(7);
	for (uint32_t i = 0; i < 5000; i++) {
		it = (struct item){ .id = i };
		snprintf(it.tag, sizeof(it.tag), "item %u", i);
		CHECK(tf_heap_push(&h, (uint64_t)(rand() % 1000), &it));
	}
	CHECK(!tf_heap_push(&h, 1, &it));	/* the cap */
	for (const struct item *p; (p = tf_heap_top(&h, &key)); tf_heap_pop(&h), n++) {
		char want[20];

		snprintf(want, sizeof(want), "item %u", p->id);
		CHECK(key >= last);
		CHECK_STR(p->tag, want);
		last = key;
	}
	CHECK_INT(n, 5000);
	CHECK(tf_heap_top(&h, &key) == NULL);
	tf_heap_pop(&h);	/* empty: nothing happens */
	tf_heap_free(&h);
}

static void interleaved_with_a_reference(void)
{
	struct tf_heap h;
	uint64_t ref[64] = { 0 }, key;	/* counts per key */
	uint32_t id = 0;

	CHECK_INT(tf_heap_init(&h, sizeof(uint32_t), 1 << 20), 0);
	srand(11);
	for (int round = 0; round < 20000; round++) {
		if (rand() % 3) {
			uint64_t k = (uint64_t)(rand() % 64);

			CHECK(tf_heap_push(&h, k, &id));
			ref[k]++;
			id++;
		} else if (tf_heap_top(&h, &key)) {
			uint64_t min = 0;

			while (!ref[min])
				min++;
			CHECK_INT(key, min);
			ref[min]--;
			tf_heap_pop(&h);
		}
	}
	tf_heap_clear(&h);
	CHECK(tf_heap_top(&h, &key) == NULL);
	tf_heap_free(&h);
}

TF_TEST_MAIN("test_heap", T(sorted_out), T(interleaved_with_a_reference))
