/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The JSON line writer, one for every JSON output: each line is built
 * here, into a fixed buffer. Made for the per-connection hot path of
 * --json: literal copies and hand-rolled integers instead of one fprintf()
 * format parse per field, no allocation. One fwrite() per line.
 */
#ifndef TF_JW_H
#define TF_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * One line at most. The longest line we write is a connection record with a
 * cgroup path of PATH_MAX (4096) bytes, every byte escaped as \u00XX (6):
 * 24 KiB, plus under 4 KiB for the rest. Lives on the stack, never zeroed.
 */
#define TF_JW_CAP 32768

struct tf_jw {
	size_t len;
	bool overflow;		/* the line did not fit: nothing is written */
	char buf[TF_JW_CAP];
};

static inline void tf_jw_init(struct tf_jw *w)
{
	w->len = 0;
	w->overflow = false;
}

void tf_jw_u64(struct tf_jw *w, uint64_t v);
void tf_jw_i64(struct tf_jw *w, int64_t v);
void tf_jw_str(struct tf_jw *w, const char *s, size_t maxlen);	/* escaped, no quotes */

/*
 * The small writers are inline: called with literals, their strlen() folds
 * at compile time (a per-field strlen was ~7% of --json's CPU).
 */
static inline void tf_jw_raw(struct tf_jw *w, const char *s, size_t n)
{
	if (w->overflow || n > TF_JW_CAP - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* a C string, as is */
static inline void tf_jw_lit(struct tf_jw *w, const char *s)
{
	tf_jw_raw(w, s, strlen(s));
}

/* "key": then a value, with a comma before it unless it is the object's first */
static inline void tf_jw_member(struct tf_jw *w, bool first, const char *key)
{
	if (first)
		tf_jw_raw(w, "\"", 1);
	else
		tf_jw_raw(w, ",\"", 2);
	tf_jw_lit(w, key);
	tf_jw_raw(w, "\":", 2);
}

/* ,"key": then a value */
static inline void tf_jw_key(struct tf_jw *w, const char *key)
{
	tf_jw_member(w, false, key);
}

/* "s" (s is not escaped: our own names) */
static inline void tf_jw_quoted(struct tf_jw *w, const char *s)
{
	tf_jw_raw(w, "\"", 1);
	tf_jw_lit(w, s);
	tf_jw_raw(w, "\"", 1);
}

/* ,"key":N */
static inline void tf_jw_count(struct tf_jw *w, const char *key, uint64_t v)
{
	tf_jw_key(w, key);
	tf_jw_u64(w, v);
}

/* ,"key":true or false */
static inline void tf_jw_bool(struct tf_jw *w, const char *key, bool v)
{
	tf_jw_key(w, key);
	if (v)
		tf_jw_raw(w, "true", 4);
	else
		tf_jw_raw(w, "false", 5);
}

/* ,"key":N with N = ns / 1000, or null when ns < 0 */
static inline void tf_jw_us(struct tf_jw *w, const char *key, int64_t ns)
{
	tf_jw_key(w, key);
	if (ns < 0)
		tf_jw_raw(w, "null", 4);
	else
		tf_jw_i64(w, ns / 1000);
}

/* ,"key":"val", or null when val is NULL (val is not escaped: our own names) */
static inline void tf_jw_name(struct tf_jw *w, const char *key, const char *val)
{
	tf_jw_key(w, key);
	if (val)
		tf_jw_quoted(w, val);
	else
		tf_jw_raw(w, "null", 4);
}

/* The date and time of the last second formatted, reused within that second. */
struct tf_jw_clock {
	int64_t sec;
	char text[24];	/* YYYY-MM-DDTHH:MM:SS */
};

/* ,"key":"2026-11-28T22:40:01.123456Z" (RFC 3339 UTC with microseconds) */
void tf_jw_time(struct tf_jw *w, const char *key, int64_t real_ns, struct tf_jw_clock *ck);

/* Write the line; returns 0, or -1 when it overflowed (counted by the caller). */
int tf_jw_flush(struct tf_jw *w, FILE *out);

#endif /* TF_JW_H */
