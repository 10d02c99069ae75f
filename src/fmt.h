/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small formatting helpers shared by every output. */
#ifndef TF_FMT_H
#define TF_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tcpflow.h"

#define TF_ADDR_LEN 48	/* "[ffff:...:ffff]" plus room */
#define TF_TIME_LEN 40

/* Address of the given family (AF_INET/AF_INET6) as text. */
const char *tf_fmt_addr(int family, const uint8_t addr[16], char *buf, size_t len);
/* "addr:port", with IPv6 in brackets. */
const char *tf_fmt_endpoint(int family, const uint8_t addr[16], uint16_t port,
			    char *buf, size_t len);
/* RFC 3339 UTC with microseconds: 2026-11-28T22:40:01.123456Z */
const char *tf_fmt_rfc3339(int64_t real_ns, char *buf, size_t len);

/*
 * A duration for people, in nanoseconds, one formatter in three precisions:
 *   TF_DUR_TEXT   terminal and logs (ASCII): "850us", "42.1ms", "3.004s"; "-" when negative
 *   TF_DUR_PAGE   the HTML report: "850µs", "4.25ms", "42.1ms", "3.004s", "250s";
 *                 negatives signed, TF_DUR_NONE as "–"
 *   TF_DUR_EXACT  the report's time labels, to the microsecond: "47µs", "27.429ms",
 *                 "3.042863s"; negatives signed, TF_DUR_NONE as "–"
 */
enum tf_dur_style {
	TF_DUR_TEXT,
	TF_DUR_PAGE,
	TF_DUR_EXACT,
};
#define TF_DUR_NONE INT64_MIN	/* no duration at all (a JSON null) */
const char *tf_fmt_duration(int64_t ns, enum tf_dur_style style, char *buf, size_t len);

static inline const char *tf_fmt_dur(int64_t ns, char *buf, size_t len)
{
	return tf_fmt_duration(ns, TF_DUR_TEXT, buf, len);
}

/* Text into HTML or SVG: & < > " ' as entities, control characters as spaces. */
void tf_fmt_html(FILE *o, const char *s);
/*
 * What a connection carried, for the timelines' closing lines:
 * ", bytes acked 1002 received 301, segs out 6 in 5, rtt 34us (min 21us)";
 * "" when the counters were not read (TF_F_TRAFFIC).
 */
const char *tf_fmt_traffic(const struct tf_conn *c, char *buf, size_t len);
/* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns. */
int64_t tf_mono_to_real_ns(void);
uint64_t tf_now_mono_ns(void);

#endif /* TF_FMT_H */
