// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Histogram accumulation. See hist.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "hist.h"

void tf_hist_add(struct tf_hist *h, int64_t ns)
{
	if (ns < 0)
		return;
	h->bucket[tf_bucket_index((uint64_t)ns)]++;
	h->count++;
	h->sum_ns += (uint64_t)ns;
}

void tf_hist_merge(struct tf_hist *dst, const struct tf_hist *src)
{
	for (int i = 0; i <= TF_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
}

uint64_t tf_hist_cumulative(const struct tf_hist *h, int i)
{
	uint64_t n = 0;

	for (int j = 0; j <= i && j <= TF_BUCKETS; j++)
		n += h->bucket[j];
	return n;
}

int tf_hist_first(const struct tf_hist *h)
{
	for (int i = 0; i <= TF_BUCKETS; i++)
		if (h->bucket[i])
			return i;
	return -1;
}

int tf_hist_last(const struct tf_hist *h)
{
	for (int i = TF_BUCKETS; i >= 0; i--)
		if (h->bucket[i])
			return i;
	return -1;
}

const char *tf_fmt_seconds(uint64_t ns, char *buf, size_t len)
{
	uint64_t frac = ns % 1000000000u;
	int n;

	n = snprintf(buf, len, "%" PRIu64, ns / 1000000000u);
	if (frac && n > 0 && (size_t)n < len) {
		snprintf(buf + n, len - (size_t)n, ".%09" PRIu64, frac);
		/* drop trailing zeros: frac != 0, so a non-zero digit stops us */
		for (size_t e = strlen(buf); buf[e - 1] == '0'; e--)
			buf[e - 1] = 0;
	}
	return buf;
}
