// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "jw.h"

void tf_jw_u64(struct tf_jw *w, uint64_t v)
{
	/* two digits a division: times in us have 10+ digits */
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[20];
	size_t i = sizeof(tmp);

	while (v >= 100) {
		unsigned int r = (unsigned int)(v % 100);

		v /= 100;
		tmp[--i] = pairs[2 * r + 1];
		tmp[--i] = pairs[2 * r];
	}
	if (v >= 10) {
		tmp[--i] = pairs[2 * v + 1];
		tmp[--i] = pairs[2 * v];
	} else {
		tmp[--i] = (char)('0' + v);
	}
	tf_jw_raw(w, tmp + i, sizeof(tmp) - i);
}

void tf_jw_i64(struct tf_jw *w, int64_t v)
{
	if (v < 0) {
		tf_jw_raw(w, "-", 1);
		tf_jw_u64(w, (uint64_t)0 - (uint64_t)v);
	} else {
		tf_jw_u64(w, (uint64_t)v);
	}
}

void tf_jw_str(struct tf_jw *w, const char *s, size_t maxlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;	/* plain characters are copied a run at a time */

	for (i = 0; i < maxlen && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch != '"' && ch != '\\' && ch >= 0x20 && ch < 0x7f) {
			run++;
			continue;
		}
		tf_jw_raw(w, s + i - run, run);
		run = 0;
		if (ch == '"' || ch == '\\') {
			char e[2] = { '\\', (char)ch };

			tf_jw_raw(w, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

			tf_jw_raw(w, e, 6);
		}
	}
	tf_jw_raw(w, s + i - run, run);
}

/* no quotes: 2026-11-28T22:40:01.123456Z */
static void rfc3339(struct tf_jw *w, int64_t real_ns, struct tf_jw_clock *ck)
{
	int64_t sec = real_ns > 0 ? real_ns / 1000000000 : 0;
	uint64_t us = real_ns > 0 ? (uint64_t)(real_ns % 1000000000) / 1000 : 0;
	char frac[8] = { '.', 0, 0, 0, 0, 0, 0, 'Z' };

	if (sec != ck->sec || !ck->text[0]) {
		time_t t = (time_t)sec;
		struct tm tm;

		if (!gmtime_r(&t, &tm) || !strftime(ck->text, sizeof(ck->text), "%Y-%m-%dT%H:%M:%S", &tm))
			snprintf(ck->text, sizeof(ck->text), "1970-01-01T00:00:00");
		ck->sec = sec;
	}
	for (int i = 6; i >= 1; i--, us /= 10)
		frac[i] = (char)('0' + us % 10);
	tf_jw_lit(w, ck->text);
	tf_jw_raw(w, frac, sizeof(frac));
}

void tf_jw_time(struct tf_jw *w, const char *key, int64_t real_ns, struct tf_jw_clock *ck)
{
	tf_jw_key(w, key);
	tf_jw_raw(w, "\"", 1);
	rfc3339(w, real_ns, ck);
	tf_jw_raw(w, "\"", 1);
}

int tf_jw_flush(struct tf_jw *w, FILE *out)
{
	if (w->overflow)
		return -1;
	/* one thread writes our output: no stdio lock per line */
	fwrite_unlocked(w->buf, 1, w->len, out);
	return 0;
}
