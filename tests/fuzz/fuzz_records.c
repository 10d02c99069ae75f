// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: arbitrary input as ring-buffer records and as event sequences.
 *
 * First byte even: the rest is cut into records (2-byte length + bytes), any
 * type and size -- truncated, unknown, duplicated -- fed to tf_core_record
 * with every text/JSON sink writing to /dev/null.
 * First byte odd: the rest is a sequence of kernel events (state changes,
 * retransmits, resets, in any order, with times going back and forth) folded
 * by include/tf_fold.h exactly as the BPF program does, then summarised.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "conn.h"
#include "core.h"
#include "sink.h"
#include "tf_fold.h"

static FILE *devnull(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	return f;
}

static void records(const uint8_t *p, size_t n)
{
	struct tf_core core;

	tf_core_init(&core);
	tf_core_add_sink(&core, tf_sink_line_new(devnull(), 0));
	tf_core_add_sink(&core, tf_sink_timeline_new(devnull(), 0));
	tf_core_add_sink(&core, tf_sink_events_new(devnull(), 0));
	tf_core_add_sink(&core, tf_sink_json_new(devnull(), 0));
	while (n >= 2) {
		size_t len = (size_t)(p[0] | (p[1] << 8)) % 1024;

		p += 2;
		n -= 2;
		if (len > n)
			len = n;
		/* one record: copy so the length is exact and ASan sees overreads */
		{
			uint8_t buf[1024];

			memcpy(buf, p, len);
			tf_core_record(&core, buf, len);
		}
		p += len;
		n -= len;
	}
	tf_core_finish(&core);
	tf_core_free(&core);
}

static void events(const uint8_t *p, size_t n)
{
	struct tf_conn c;
	struct tf_summary s;
	uint64_t t = 1000000000ull;
	int held = 0;

	memset(&c, 0, sizeof(c));
	for (; n >= 4; p += 4, n -= 4) {
		int op = p[0] & 3, a = p[1] % 14, b = p[2] % 14;
		int64_t dt = (int8_t)p[3] * 1000003ll;
		int act;

		t += (uint64_t)dt;
		switch (op) {
		case 0:	/* state change a -> b */
			act = tf_state_action(held, a, b);
			if (act & TF_ACT_LISTENER)
				break;
			if (act & TF_ACT_REPLACE) {
				tf_summarize(&c, &s);
				held = 0;
			}
			if (!held) {
				memset(&c, 0, sizeof(c));
				tf_fold_begin(&c, a, b);
				held = 1;
			}
			tf_fold_state(&c, t, b);
			if (act & TF_ACT_EMIT) {
				tf_summarize(&c, &s);
				held = 0;
			}
			break;
		case 1:
			if (held)
				tf_fold_retrans(&c, t, a, p[2]);
			break;
		case 2:
			if (held)
				tf_note_reset(&c, t, a, b & 1);
			break;
		case 3: {
			struct tf_synack sa = { .first_ns = t - (uint64_t)(p[2] * 1000), .count = p[1] };

			for (int i = 0; i < 4; i++)
				sa.retrans_ns[i] = t + (uint64_t)i * 1000;
			if (held)
				tf_fold_synack(&c, &sa);
			break;
		}
		}
	}
	if (held) {
		c.flags |= TF_F_OPEN;
		tf_summarize(&c, &s);
		{
			struct tf_core core;

			tf_core_init(&core);
			tf_core_add_sink(&core, tf_sink_timeline_new(devnull(), 0));
			tf_core_add_sink(&core, tf_sink_json_new(devnull(), 0));
			tf_core_record(&core, &c, sizeof(c));
			tf_core_free(&core);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		events(data + 1, size - 1);
	else
		records(data + 1, size - 1);
	return 0;
}
