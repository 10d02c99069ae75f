// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The bucket function (include/tf_buckets.h, also built by clang -target bpf)
 * and histogram accumulation (src/hist.c), checked against a plain reference;
 * the display resolution the report draws with.
 */
#include <stdint.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_buckets.h"
#include "hist.h"

/* The definition, as slowly as possible: smallest i with ns <= 10 us * 2^i. */
static int ref_index(uint64_t ns)
{
	for (int i = 0; i < TF_BUCKETS; i++)
		if (ns <= (10 * US << i))
			return i;
	return TF_BUCKETS;
}

static void log2_exact(void)
{
	CHECK_INT(tf_log2_u64(0), 0);
	CHECK_INT(tf_log2_u64(1), 0);
	for (int k = 1; k < 64; k++) {
		uint64_t p = 1ull << k;

		CHECK_INT(tf_log2_u64(p), k);
		CHECK_INT(tf_log2_u64(p - 1), k - 1);
		CHECK_INT(tf_log2_u64(p + 1), k);
	}
	CHECK_INT(tf_log2_u64(UINT64_MAX), 63);
}

static void bounds(void)
{
	CHECK_INT(TF_BUCKETS, 25);
	CHECK_INT(tf_bucket_bound_ns(0), 10 * US);
	CHECK_INT(tf_bucket_bound_ns(1), 20 * US);
	CHECK_INT(tf_bucket_bound_ns(17), 1310720 * US);
	CHECK_INT(tf_bucket_bound_ns(24), 167772160 * US);	/* ~2.8 min */
	CHECK(tf_bucket_bound_ns(TF_BUCKETS) == UINT64_MAX);
}

/* `le` semantics at every edge: the bound itself is inside, one ns more is not. */
static void edges_are_le(void)
{
	CHECK_INT(tf_bucket_index(0), 0);
	CHECK_INT(tf_bucket_index(1), 0);
	for (int i = 0; i < TF_BUCKETS; i++) {
		uint64_t b = tf_bucket_bound_ns((__u32)i);

		CHECK_INT(tf_bucket_index(b), i);
		CHECK_INT(tf_bucket_index(b - 1), i);	/* bound(i-1) < b - 1 */
		CHECK_INT(tf_bucket_index(b + 1), i + 1);
	}
	CHECK_INT(tf_bucket_index(UINT64_MAX), TF_BUCKETS);
	CHECK_INT(tf_bucket_index(10 * 60 * S), TF_BUCKETS);
}

/* The questions the buckets must answer, in different buckets. */
static void resolution(void)
{
	CHECK_INT(tf_bucket_index(50 * US), 3);		/* (40, 80] us */
	CHECK_INT(tf_bucket_index(200 * US), 5);	/* (160, 320] us */
	CHECK_INT(tf_bucket_index(1 * S), 17);		/* (0.655, 1.311] s: one SYN retransmit */
	CHECK_INT(tf_bucket_index(3 * S), 19);		/* (2.621, 5.243] s: two */
	CHECK_INT(tf_bucket_index(2 * S), 18);		/* (1.311, 2.621] s: two, linear timeouts */
	CHECK_INT(tf_bucket_index(120 * S), 24);	/* 2 min still has a bound */
}

static void matches_reference(void)
{
	uint64_t x = 88172645463325252ull;
	int bad = 0;

	for (int n = 0; n < 200000; n++) {
		uint64_t v;

		x ^= x << 13;	/* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (x % 40 + 20);		/* spread over 0 .. ~2^44 ns */
		if (tf_bucket_index(v) != (__u32)ref_index(v) && bad++ < 5)
			fprintf(stderr, "index(%" PRIu64 ") = %u, reference %d\n", v,
				tf_bucket_index(v), ref_index(v));
	}
	for (uint64_t v = 0; v < 3 * 10 * US; v++)
		if (tf_bucket_index(v) != (__u32)ref_index(v) && bad++ < 10)
			fprintf(stderr, "index(%" PRIu64 ") differs\n", v);
	CHECK_INT(bad, 0);
}

static void seconds_text(void)
{
	char b[TF_SECONDS_LEN];

	CHECK_STR(tf_fmt_seconds(0, b, sizeof(b)), "0");
	CHECK_STR(tf_fmt_seconds(1, b, sizeof(b)), "0.000000001");
	CHECK_STR(tf_fmt_seconds(10 * US, b, sizeof(b)), "0.00001");
	CHECK_STR(tf_fmt_seconds(1500 * MS, b, sizeof(b)), "1.5");
	CHECK_STR(tf_fmt_seconds(3 * S, b, sizeof(b)), "3");
	CHECK_STR(tf_fmt_seconds(tf_bucket_bound_ns(24), b, sizeof(b)), "167.77216");
	CHECK_STR(tf_fmt_seconds(UINT64_MAX, b, sizeof(b)), "18446744073.709551615");
}

static void hist_accumulates(void)
{
	struct tf_hist h = { 0 }, g = { 0 };

	tf_hist_add(&h, 50 * US);
	tf_hist_add(&h, 200 * US);
	tf_hist_add(&h, 3 * S);
	tf_hist_add(&h, 3 * S);
	tf_hist_add(&h, -1);		/* bad input: not counted */
	tf_hist_add(&h, 1000 * S);	/* above every bound: +Inf only */
	CHECK_INT(h.count, 5);
	CHECK_INT(h.sum_ns, 50 * US + 200 * US + 6 * S + 1000 * S);
	CHECK_INT(h.bucket[3], 1);
	CHECK_INT(h.bucket[5], 1);
	CHECK_INT(h.bucket[19], 2);
	CHECK_INT(h.bucket[TF_BUCKETS], 1);
	CHECK_INT(tf_hist_cumulative(&h, 2), 0);
	CHECK_INT(tf_hist_cumulative(&h, 3), 1);
	CHECK_INT(tf_hist_cumulative(&h, 18), 2);
	CHECK_INT(tf_hist_cumulative(&h, 19), 4);
	CHECK_INT(tf_hist_cumulative(&h, TF_BUCKETS - 1), 4);
	CHECK_INT(tf_hist_cumulative(&h, TF_BUCKETS), 5);
	CHECK_INT(tf_hist_first(&h), 3);
	CHECK_INT(tf_hist_last(&h), TF_BUCKETS);
	CHECK_INT(tf_hist_first(&g), -1);
	CHECK_INT(tf_hist_last(&g), -1);
	tf_hist_add(&g, 0);
	tf_hist_merge(&g, &h);
	CHECK_INT(g.count, 6);
	CHECK_INT(g.bucket[0], 1);
	CHECK_INT(g.bucket[19], 2);
	CHECK_INT(g.sum_ns, h.sum_ns);
}

/* The report's 4 per decade: 1, 2, 3, 6, 10, 18, ... us, each bin [lo, next lo). */
static void display_resolution(void)
{
	CHECK_INT(tf_display_bucket(-5), 0);
	CHECK_INT(tf_display_bucket(0), 0);
	CHECK_INT(tf_display_bucket(1), 1);
	CHECK_INT(tf_display_bucket(2), 2);
	CHECK_INT(tf_display_bucket(9), 4);
	CHECK_INT(tf_display_bucket(10), 5);
	CHECK_INT(tf_display_bucket(999), 12);
	CHECK_INT(tf_display_bucket(1000), 13);
	CHECK_INT(tf_display_bucket_lo_us(13), 1000);
	CHECK_INT(tf_display_bucket_lo_us(14), 1778);
	CHECK_INT(tf_display_bucket(INT64_MAX), TF_DISPLAY_BUCKETS - 1);
	for (int i = 1; i < TF_DISPLAY_BUCKETS; i++) {
		CHECK_INT(tf_display_bucket(tf_display_bucket_lo_us(i)), i);
		CHECK_INT(tf_display_bucket(tf_display_bucket_lo_us(i) - 1), i - 1);
		CHECK(tf_display_bucket_lo_us(i) > tf_display_bucket_lo_us(i - 1));
	}
	/* a decade is TF_DISPLAY_PER_DECADE buckets: every decade starts a bucket */
	for (int i = 1, p = 1; i < TF_DISPLAY_BUCKETS && p < 1000000000; i += TF_DISPLAY_PER_DECADE, p *= 10)
		CHECK_INT(tf_display_bucket_lo_us(i), p);
}

TF_TEST_MAIN("test_buckets", T(log2_exact), T(bounds), T(edges_are_le), T(resolution),
	     T(matches_reference), T(seconds_text), T(hist_accumulates), T(display_resolution))
