// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --hist: the metrics histograms (ports folded together) in the terminal as
 * bcc-style log2 bars, or with --json as {"type":"hist",...} lines, every
 * --interval and at exit. Counts are totals since the start.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include "fmt.h"
#include "jw.h"
#include "metrics.h"
#include "sink.h"

#define BAR_WIDTH 40

struct hsink {
	struct tf_metrics *m;
	struct tf_km_source km;		/* connections folded in the kernel; read per print */
	bool json;
	uint64_t interval_ns, next_ns;
	struct tf_jw_clock clock;
};

struct print_ctx {
	struct tf_sink *sk;
	int64_t real_ns;	/* the JSON lines' "time" */
	bool final;
	int printed;
};

/* A bucket bound for people: 10us .. 640us, 1.28ms .. 655.4ms, 1.311s .. 167.8s. */
static const char *fmt_bound(int i, char *buf, size_t len)
{
	uint64_t ns = tf_bucket_bound_ns((__u32)i);

	if (i < 0)
		snprintf(buf, len, "0");
	else if (i >= TF_BUCKETS)
		snprintf(buf, len, "+Inf");
	else if (ns < 1000000)
		snprintf(buf, len, "%" PRIu64 "us", ns / 1000);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.4gms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.4gs", (double)ns / 1e9);
	return buf;
}

static void bar(FILE *o, uint64_t n, uint64_t max)
{
	int stars = max ? (int)((n * BAR_WIDTH + max - 1) / max) : 0;

	fputc('|', o);
	for (int i = 0; i < BAR_WIDTH; i++)
		fputc(i < stars ? '*' : ' ', o);
	fputs("|\n", o);
}

static void print_text(struct print_ctx *pc, const struct tf_hist_view *hv)
{
	FILE *o = pc->sk->out;
	int first = tf_hist_first(&hv->h), last = tf_hist_last(&hv->h);
	uint64_t max = 0;
	char lo[16], hi[16], mean[32];

	for (int i = first; i <= last; i++)
		if (hv->h.bucket[i] > max)
			max = hv->h.bucket[i];
	fprintf(o, "\n%s, %s=%s: %" PRIu64 " values, mean %s\n", hv->title, hv->key[0], hv->val[0],
		hv->h.count, tf_fmt_dur((int64_t)(hv->h.sum_ns / hv->h.count), mean, sizeof(mean)));
	fprintf(o, "%21s : %-8s %s\n", "duration", "count", "distribution");
	for (int i = first; i <= last; i++) {
		fprintf(o, "%9s -> %-8s : %-8" PRIu64 " ", fmt_bound(i - 1, lo, sizeof(lo)),
			fmt_bound(i, hi, sizeof(hi)), hv->h.bucket[i]);
		bar(o, hv->h.bucket[i], max);
	}
}

/* A line of at most ~1.5 KiB (two labels, 2 x 26 numbers): it fits the writer. */
static void print_json(struct print_ctx *pc, const struct tf_hist_view *hv)
{
	struct hsink *hs = pc->sk->priv;
	char sum[TF_SECONDS_LEN];
	struct tf_jw w;

	tf_jw_init(&w);
	tf_jw_lit(&w, "{\"type\":\"hist\"");
	tf_jw_time(&w, "time", pc->real_ns, &hs->clock);
	tf_jw_bool(&w, "final", pc->final);
	tf_jw_name(&w, "name", hv->name);
	tf_jw_key(&w, "labels");
	tf_jw_lit(&w, "{");
	for (int i = 0; i < hv->nlabels; i++) {
		tf_jw_member(&w, i == 0, hv->key[i]);
		tf_jw_quoted(&w, hv->val[i]);
	}
	tf_jw_lit(&w, "}");
	tf_jw_count(&w, "count", hv->h.count);
	tf_jw_key(&w, "sum_seconds");
	tf_jw_lit(&w, tf_fmt_seconds(hv->h.sum_ns, sum, sizeof(sum)));
	tf_jw_key(&w, "bounds_us");
	for (int i = 0; i < TF_BUCKETS; i++) {
		tf_jw_lit(&w, i ? "," : "[");
		tf_jw_u64(&w, tf_bucket_bound_ns((__u32)i) / 1000);
	}
	tf_jw_lit(&w, "]");
	tf_jw_key(&w, "counts");
	for (int i = 0; i <= TF_BUCKETS; i++) {
		tf_jw_lit(&w, i ? "," : "[");
		tf_jw_u64(&w, hv->h.bucket[i]);
	}
	tf_jw_lit(&w, "]}\n");
	tf_jw_flush(&w, pc->sk->out);
}

static void print_one(void *ctx, const struct tf_hist_view *hv)
{
	struct print_ctx *pc = ctx;
	struct hsink *hs = pc->sk->priv;

	if (!hv->h.count)
		return;
	if (hs->json)
		print_json(pc, hv);
	else
		print_text(pc, hv);
	pc->printed++;
}

static void print_all(struct tf_sink *sk, uint64_t now_ns, bool final)
{
	struct hsink *hs = sk->priv;
	int64_t real = (int64_t)now_ns + sk->mono_to_real_ns;
	struct print_ctx pc = { .sk = sk, .real_ns = real, .final = final };
	struct tf_metrics_values *v;
	struct tf_km_sum *k;

	if (!hs->json) {
		time_t secs = (time_t)(real / 1000000000);
		char t[TF_TIME_LEN];
		struct tm tm;

		strftime(t, sizeof(t), "%H:%M:%S", localtime_r(&secs, &tm));
		fprintf(sk->out, "\n--- %s%s ---\n", t, final ? ", at exit" : "");
	}
	k = tf_km_source_read(&hs->km);
	v = tf_metrics_copy(hs->m, k);
	free(k);
	tf_metrics_each_hist(v ? v : tf_metrics_values(hs->m), true, print_one, &pc);
	free(v);
	if (!pc.printed && !hs->json)
		fputs("no finished connections yet\n", sk->out);
	fflush(sk->out);
}

static void hs_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	struct hsink *hs = sk->priv;

	tf_metrics_conn(hs->m, s);
}

static void hs_tick(struct tf_sink *sk, uint64_t now_ns, const struct tf_run_stats *st)
{
	struct hsink *hs = sk->priv;

	(void)st;
	if (now_ns < hs->next_ns)
		return;
	print_all(sk, now_ns, false);
	hs->next_ns = now_ns + hs->interval_ns;
}

static void hs_finish(struct tf_sink *sk, const struct tf_run_stats *st)
{
	(void)st;
	print_all(sk, tf_now_mono_ns(), true);
}

static void hs_free(struct tf_sink *sk)
{
	struct hsink *hs = sk->priv;

	if (hs)
		tf_metrics_free(hs->m);
	free(hs);
	sk->priv = NULL;
}

static const struct tf_sink_ops hist_ops = {
	.name = "hist",
	.conn = hs_conn,
	.tick = hs_tick,
	.finish = hs_finish,
	.free = hs_free,
};

struct tf_sink *tf_sink_hist_new(FILE *out, int64_t mono_to_real_ns, bool json, double interval_s,
				 const struct tf_km_source *km)
{
	struct tf_sink *sk = tf_sink_alloc(&hist_ops, out, mono_to_real_ns, 0);
	struct hsink *hs = calloc(1, sizeof(*hs));

	if (!sk || !hs)
		goto fail;
	hs->m = tf_metrics_new(NULL, 0, NULL);
	if (!hs->m)
		goto fail;
	if (km)
		tf_metrics_follow_kernel(hs->m, km->learned);
	hs->json = json;
	if (km)
		hs->km = *km;
	hs->interval_ns = (uint64_t)(interval_s > 0 ? interval_s * 1e9 : 5e9);
	hs->next_ns = tf_now_mono_ns() + hs->interval_ns;
	sk->priv = hs;
	return sk;
fail:
	free(hs);
	free(sk);
	return NULL;
}
