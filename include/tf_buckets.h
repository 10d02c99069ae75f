/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one bucket function of every duration histogram (and, at the end, the
 * finer display resolution the HTML report draws with).
 *
 * Compiled by clang -target bpf (with vmlinux.h) and by the host compiler
 * (with <linux/types.h>): static inline, no libc, no loops in what BPF
 * builds, so the unit tests check exactly the code a BPF program would run.
 *
 * Buckets are exponential with factor 2, starting at 10 us:
 *
 *   bound(i) = 10 us * 2^i,  i = 0 .. TF_BUCKETS - 1
 *            = 10 us, 20 us, 40 us, ... 1.31072 s, 2.62144 s, ... 167.77216 s
 *
 * and bucket TF_BUCKETS holds everything above the last bound (+Inf).
 * Bucket i holds values v with bound(i-1) < v <= bound(i) -- Prometheus'
 * `le` meaning -- and bucket 0 holds v <= 10 us (including 0).
 *
 * Why factor 2: one bucket per doubling tells 50 us (40..80 us] from 200 us
 * (160..320 us] on loopback and a 1 s SYN retransmit (0.66..1.31 s] from a
 * 3 s one (2.62..5.24 s]; it draws as bcc-style log2 bars; and 25 buckets
 * from 10 us to ~2.8 min keep a Prometheus histogram at 28 series
 * (25 bounds + Inf + _sum + _count). A sqrt(2) factor would double that for
 * resolution the questions above do not need. Bounds are exact decimals in
 * seconds (0.00001 * 2^i), so `le` labels print without rounding.
 */
#ifndef TF_BUCKETS_H
#define TF_BUCKETS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TF_BUCKET_BASE_NS 10000ull	/* bound(0): 10 us */
#define TF_BUCKETS 25			/* finite bounds; index TF_BUCKETS is +Inf */

#define TF_BUCKETS_INLINE static inline __attribute__((always_inline))

/* floor(log2(v)) for v >= 1 (0 for v == 0): five compare-and-shift steps. */
TF_BUCKETS_INLINE __u32 tf_log2_u32(__u32 v)
{
	__u32 r, s;

	r = (__u32)(v > 0xFFFF) << 4;
	v >>= r;
	s = (__u32)(v > 0xFF) << 3;
	v >>= s;
	r |= s;
	s = (__u32)(v > 0xF) << 2;
	v >>= s;
	r |= s;
	s = (__u32)(v > 0x3) << 1;
	v >>= s;
	r |= s;
	return r | (v >> 1);
}

TF_BUCKETS_INLINE __u32 tf_log2_u64(__u64 v)
{
	__u32 hi = (__u32)(v >> 32);

	return hi ? 32 + tf_log2_u32(hi) : tf_log2_u32((__u32)v);
}

/*
 * Bucket of a duration in nanoseconds: the smallest i with ns <= bound(i),
 * or TF_BUCKETS (+Inf) above the last bound.
 *
 * ns <= B * 2^i  <=>  ceil(ns / B) <= 2^i  <=>  q = (ns - 1) / B < 2^i,
 * so i = floor(log2(q)) + 1 for q >= 1.
 */
TF_BUCKETS_INLINE __u32 tf_bucket_index(__u64 ns)
{
	__u64 q;
	__u32 i;

	if (ns <= TF_BUCKET_BASE_NS)
		return 0;
	q = (ns - 1) / TF_BUCKET_BASE_NS;
	i = tf_log2_u64(q) + 1;
	return i > TF_BUCKETS ? TF_BUCKETS : i;
}

/* Upper bound of bucket i in nanoseconds; ~0 for the +Inf bucket. */
TF_BUCKETS_INLINE __u64 tf_bucket_bound_ns(__u32 i)
{
	return i < TF_BUCKETS ? TF_BUCKET_BASE_NS << i : ~0ull;
}

/*
 * A second resolution of the same log scale, for pictures (host only, not
 * in BPF): the HTML report's histograms (src/report/histogram.c) are drawn on log
 * axes ticked in whole decades, so their buckets are 4 per decade,
 * lower bound(k) = 10^((k-1)/4) us rounded to whole microseconds:
 *
 *   1, 2, 3, 6, 10, 18, 32, 56, 100, 178, ... us   (k = 1 .. TF_DISPLAY_BUCKETS - 1)
 *
 * bucket 0 holds < 1 us and the last one everything from ~5.6e10 us (15.6 h).
 * Why not the buckets above: a page reads any capture after the fact, where a
 * close can take hours (CLOSE_WAIT) and a loopback handshake a few us; bound(0)
 * = 10 us lumps the latter together and +Inf after 167 s has no width on a log
 * axis. The page has no series budget, and decade-aligned bins put every tick
 * on a bin edge. Buckets here hold v with lo(k) <= v < lo(k+1), a picture's
 * bins (not Prometheus' `le`).
 */
#ifndef __bpf__
#define TF_DISPLAY_PER_DECADE 4
#define TF_DISPLAY_BUCKETS 44		/* 0, then 1 us .. 10^10.75 us */

/* Lower bound of display bucket i in microseconds (bucket 0: 0). */
static inline __s64 tf_display_bucket_lo_us(int i)
{
	/* 10^(k/4), k = 0..3, in 1/1000 us */
	static const __s64 mantissa[TF_DISPLAY_PER_DECADE] = { 1000, 1778, 3162, 5623 };
	__s64 p = 1;

	if (i <= 0)
		return 0;
	if (i >= TF_DISPLAY_BUCKETS)
		i = TF_DISPLAY_BUCKETS - 1;
	for (int d = 0; d < (i - 1) / TF_DISPLAY_PER_DECADE; d++)
		p *= 10;
	return (mantissa[(i - 1) % TF_DISPLAY_PER_DECADE] * p + 500) / 1000;
}

/* Display bucket of a duration in microseconds: 0 below 1 us. */
static inline int tf_display_bucket(__s64 us)
{
	int i;

	if (us < 1)
		return 0;
	for (i = 1; i + 1 < TF_DISPLAY_BUCKETS && us >= tf_display_bucket_lo_us(i + 1); i++)
		;
	return i;
}
#endif /* !__bpf__ */

#endif /* TF_BUCKETS_H */
