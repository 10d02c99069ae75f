/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Duration histograms on the buckets of include/tf_buckets.h: counts per
 * bucket, count and sum, all integers (nanoseconds), never reset. Pure C.
 */
#ifndef TF_HIST_H
#define TF_HIST_H

#include <stddef.h>
#include <stdint.h>
#include "tf_buckets.h"

struct tf_hist {
	uint64_t bucket[TF_BUCKETS + 1];	/* per bucket (not cumulative); last: above all bounds */
	uint64_t count;
	uint64_t sum_ns;
};

/* Add one duration; negative ones (bad input) are not counted. */
void tf_hist_add(struct tf_hist *h, int64_t ns);
/* dst += src */
void tf_hist_merge(struct tf_hist *dst, const struct tf_hist *src);
/* Values <= bound(i): what Prometheus' le="bound(i)" bucket reports. */
uint64_t tf_hist_cumulative(const struct tf_hist *h, int i);
/* First and last bucket with a value; -1 when empty. */
int tf_hist_first(const struct tf_hist *h);
int tf_hist_last(const struct tf_hist *h);

/*
 * Nanoseconds as exact decimal seconds, trailing zeros dropped:
 * 10000 -> "0.00001", 1500000000 -> "1.5", 0 -> "0". Returns buf.
 */
#define TF_SECONDS_LEN 32
const char *tf_fmt_seconds(uint64_t ns, char *buf, size_t len);

#endif /* TF_HIST_H */
