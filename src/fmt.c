// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include "fmt.h"

/* a.b.c.d without inet_ntop()'s sprintf (one per address was ~5% of --json) */
static void ipv4_text(const uint8_t a[4], char out[16])
{
	char *p = out;

	for (int i = 0; i < 4; i++) {
		unsigned int v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

const char *tf_fmt_addr(int family, const uint8_t addr[16], char *buf, size_t len)
{
	if (family != AF_INET6 && len >= 16) {
		ipv4_text(addr, buf);
		return buf;
	}
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *tf_fmt_endpoint(int family, const uint8_t addr[16], uint16_t port,
			    char *buf, size_t len)
{
	char a[TF_ADDR_LEN];

	tf_fmt_addr(family, addr, a, sizeof(a));
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

const char *tf_fmt_rfc3339(int64_t real_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(real_ns / 1000000000);
	long us = (long)((real_ns % 1000000000) / 1000);
	struct tm tm;

	if (real_ns < 0 || !gmtime_r(&sec, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000000Z");
		return buf;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	return buf;
}

static const char *dur_text(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 10000000)			/* < 10 ms: microseconds */
		snprintf(buf, len, "%" PRId64 "us", ns / 1000);
	else if (ns < 1000000000)		/* < 1 s: milliseconds */
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.3fs", ns / 1e9);
	return buf;
}

/* ns >= 0 (the sign is written by the caller) */
static const char *dur_page(const char *sign, uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000000)			/* < 1 ms: microseconds */
		snprintf(buf, len, "%s%" PRIu64 "µs", sign, ns / 1000);
	else if (ns < 10000000)			/* < 10 ms: two decimals */
		snprintf(buf, len, "%s%.2fms", sign, ns / 1e6);
	else if (ns < 1000000000)
		snprintf(buf, len, "%s%.1fms", sign, ns / 1e6);
	else if (ns < 100000000000)		/* < 100 s */
		snprintf(buf, len, "%s%.3fs", sign, ns / 1e9);
	else
		snprintf(buf, len, "%s%.0fs", sign, ns / 1e9);
	return buf;
}

static const char *dur_exact(const char *sign, uint64_t ns, char *buf, size_t len)
{
	uint64_t us = ns / 1000;

	if (us < 1000)
		snprintf(buf, len, "%s%" PRIu64 "µs", sign, us);
	else if (us < 1000000)
		snprintf(buf, len, "%s%" PRIu64 ".%03" PRIu64 "ms", sign, us / 1000, us % 1000);
	else
		snprintf(buf, len, "%s%" PRIu64 ".%06" PRIu64 "s", sign, us / 1000000, us % 1000000);
	return buf;
}

const char *tf_fmt_duration(int64_t ns, enum tf_dur_style style, char *buf, size_t len)
{
	const char *sign = ns < 0 ? "-" : "";
	uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	if (style == TF_DUR_TEXT)
		return dur_text(ns, buf, len);
	if (ns == TF_DUR_NONE) {
		snprintf(buf, len, "–");
		return buf;
	}
	return style == TF_DUR_EXACT ? dur_exact(sign, a, buf, len) : dur_page(sign, a, buf, len);
}

void tf_fmt_html(FILE *o, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", o); break;
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '"': fputs("&quot;", o); break;
		case '\'': fputs("&#39;", o); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc(' ', o);
			else
				fputc(*s, o);
		}
	}
}

const char *tf_fmt_traffic(const struct tf_conn *c, char *buf, size_t len)
{
	char rtt[24], min[24];

	buf[0] = 0;
	if (!(c->flags & TF_F_TRAFFIC))
		return buf;
	snprintf(buf, len, ", bytes acked %" PRIu64 " received %" PRIu64 ", segs out %u in %u, "
		 "rtt %s (min %s)", (uint64_t)c->bytes_acked, (uint64_t)c->bytes_received,
		 c->segs_out, c->segs_in, tf_fmt_dur((int64_t)c->rtt_us * 1000, rtt, sizeof(rtt)),
		 tf_fmt_dur((int64_t)c->min_rtt_us * 1000, min, sizeof(min)));
	return buf;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tf_mono_to_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
}

uint64_t tf_now_mono_ns(void)
{
	return (uint64_t)clock_ns(CLOCK_MONOTONIC);
}
