// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics: the registry behind a mutex, served by the HTTP server.
 *
 * The tracing thread holds the lock only to add one summary (or stats) to
 * the registry; a scrape holds it only to copy the registry (one memcpy)
 * and renders the copy into a fresh buffer after unlocking. A slow client
 * costs the server thread, never the tracing loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include "http.h"
#include "metrics.h"
#include "sink_metrics.h"

#ifndef TF_VERSION
#define TF_VERSION "unknown"
#endif

struct msink {
	pthread_mutex_t lock;
	struct tf_metrics *m;
	struct tf_http *http;
};

static struct msink *ms_of(struct tf_sink *sk)
{
	return sk->priv;
}

static void ms_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	struct msink *ms = ms_of(sk);

	pthread_mutex_lock(&ms->lock);
	tf_metrics_conn(ms->m, s);
	pthread_mutex_unlock(&ms->lock);
}

static void ms_tick(struct tf_sink *sk, uint64_t now_ns, const struct tf_run_stats *st)
{
	struct msink *ms = ms_of(sk);

	(void)now_ns;
	pthread_mutex_lock(&ms->lock);
	tf_metrics_stats(ms->m, st);
	pthread_mutex_unlock(&ms->lock);
}

static void ms_finish(struct tf_sink *sk, const struct tf_run_stats *st)
{
	ms_tick(sk, 0, st);
}

static void ms_tw_sweep(struct tf_sink *sk, const struct tf_tw_snapshot *snap)
{
	struct msink *ms = ms_of(sk);

	pthread_mutex_lock(&ms->lock);
	tf_metrics_tw(ms->m, snap);
	pthread_mutex_unlock(&ms->lock);
}

static void ms_tw_end(struct tf_sink *sk, const struct tf_tw_end *e)
{
	struct msink *ms = ms_of(sk);

	pthread_mutex_lock(&ms->lock);
	tf_metrics_tw_end(ms->m, e);
	pthread_mutex_unlock(&ms->lock);
}

static void ms_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	struct msink *ms = ms_of(sk);

	pthread_mutex_lock(&ms->lock);
	tf_metrics_stuck(ms->m, st);
	pthread_mutex_unlock(&ms->lock);
}

/* Server thread: copy under the lock, render outside it. */
static char *ms_render(void *ctx, size_t *len)
{
	struct msink *ms = ctx;
	struct tf_metrics_values *v;
	struct tf_text t = { 0 };

	pthread_mutex_lock(&ms->lock);
	v = tf_metrics_copy(ms->m);
	pthread_mutex_unlock(&ms->lock);
	if (!v)
		return NULL;
	if (tf_metrics_render(v, &t))
		tf_text_free(&t);
	free(v);
	*len = t.len;
	return t.buf;
}

static void ms_free_priv(struct msink *ms)
{
	if (!ms)
		return;
	tf_http_stop(ms->http);		/* first: no scrape may run after this */
	tf_metrics_free(ms->m);
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

static void ms_free(struct tf_sink *sk)
{
	ms_free_priv(ms_of(sk));
	sk->priv = NULL;
}

static const struct tf_sink_ops metrics_ops = {
	.name = "metrics",
	.conn = ms_conn,
	.tick = ms_tick,
	.tw_sweep = ms_tw_sweep,
	.tw_end = ms_tw_end,
	.stuck = ms_stuck,
	.finish = ms_finish,
	.free = ms_free,
};

struct tf_sink *tf_sink_metrics_new(const char *addr, const uint16_t *ports, int nports,
				    char *msg, size_t msglen)
{
	struct msink *ms = calloc(1, sizeof(*ms));
	struct tf_sink *sk = NULL;
	int err = -ENOMEM;

	snprintf(msg, msglen, "out of memory setting up --metrics");
	if (!ms)
		goto cleanup;
	pthread_mutex_init(&ms->lock, NULL);
	ms->m = tf_metrics_new(ports, nports, TF_VERSION);
	sk = tf_sink_alloc(&metrics_ops, NULL, 0);
	if (!ms->m || !sk)
		goto cleanup;
	err = tf_http_start(&ms->http, addr, ms_render, ms, msg, msglen);
	if (err)
		goto cleanup;
	snprintf(msg, msglen, "serving Prometheus metrics at %s", tf_http_url(ms->http));
	sk->priv = ms;
	return sk;
cleanup:
	free(sk);
	ms_free_priv(ms);
	errno = -err;
	return NULL;
}
