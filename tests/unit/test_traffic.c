// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a connection carried and whose it was: the traffic counters and the
 * owner taken at close (include/tf_fold.h, the code the BPF program runs).
 */
#include <stdlib.h>
#include "tf_test.h"
#include "tf_fold.h"
#include "cgroup.h"
#include "core.h"
#include "metrics.h"
#include "sink.h"

#define US 1000ull
#define BASE 1000000000000ull	/* CLOCK_MONOTONIC 1000 s */

/* Counters as the kernel keeps them; srtt << 3 and "no sample" undone. */
static void traffic_fold(void)
{
	struct tf_conn c = {};

	tf_fold_traffic(&c, 1002, 301, 6, 5, 8 * 34 + 7, 21);
	CHECK_INT(c.bytes_acked, 1002);
	CHECK_INT(c.bytes_received, 301);
	CHECK_INT(c.segs_out, 6);
	CHECK_INT(c.segs_in, 5);
	CHECK_INT(c.rtt_us, 34);
	CHECK_INT(c.min_rtt_us, 21);
	CHECK(c.flags & TF_F_TRAFFIC);
}

/* A refused connect: no RTT sample, minmax still at its reset value ~0U. */
static void traffic_no_sample(void)
{
	struct tf_conn c = {};

	tf_fold_traffic(&c, 0, 0, 1, 1, 0, ~0U);
	CHECK_INT(c.rtt_us, 0);
	CHECK_INT(c.min_rtt_us, 0);
	CHECK(c.flags & TF_F_TRAFFIC);
}

/* 64-bit byte counters survive the fold (a long transfer). */
static void traffic_large(void)
{
	struct tf_conn c = {};

	tf_fold_traffic(&c, 5000000000ull, 7000000000ull, 0, 0, 0, 0);
	CHECK(c.bytes_acked == 5000000000ull);
	CHECK(c.bytes_received == 7000000000ull);
}

/* close()/shutdown() renames a connection named after its listener's owner. */
static void owner_at_close(void)
{
	struct tf_conn srv = { .pid = 100, .flags = TF_F_PID_LISTENER, .role = TF_ROLE_SERVER };
	struct tf_conn cli = { .pid = 200, .role = TF_ROLE_CLIENT };
	struct tf_conn nobody = { .pid = 0 };

	CHECK(tf_owner_at_close(&srv, TF_FIN_WAIT1));
	CHECK(tf_owner_at_close(&srv, TF_LAST_ACK));
	/* softirq-side changes name nobody */
	CHECK(!tf_owner_at_close(&srv, TF_CLOSE_WAIT));
	CHECK(!tf_owner_at_close(&srv, TF_FIN_WAIT2));
	CHECK(!tf_owner_at_close(&srv, TF_CLOSE));
	CHECK(!tf_owner_at_close(&srv, TF_ESTABLISHED));
	/* connect() named the client already */
	CHECK(!tf_owner_at_close(&cli, TF_FIN_WAIT1));
	CHECK(!tf_owner_at_close(&cli, TF_LAST_ACK));
	/* an unknown owner is better than none */
	CHECK(tf_owner_at_close(&nobody, TF_LAST_ACK));
}

/* A server child named at close, that carried 1000 bytes in and 300 out. */
static struct tf_conn served(void)
{
	struct tf_conn c = {};

	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	c.family = 2;
	c.pid = 77;
	memcpy(c.comm, "nginx", 6);
	memcpy(c.saddr, (__u8[]){ 127, 0, 0, 1 }, 4);
	memcpy(c.daddr, (__u8[]){ 127, 0, 0, 1 }, 4);
	c.sport = 8080;
	c.dport = 40000;
	c.srtt_us = 20;
	c.cgroup_id = 4242;
	c.flags |= TF_F_PID_CLOSE;
	tf_fold_state(&c, BASE, TF_SYN_RECV);
	tf_fold_state(&c, BASE + 5 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 900 * US, TF_CLOSE_WAIT);
	tf_fold_state(&c, BASE + 950 * US, TF_LAST_ACK);
	tf_fold_state(&c, BASE + 1000 * US, TF_CLOSE);
	tf_fold_traffic(&c, 300 + 1, 1000 + 1, 4, 5, 8 * 34, 21);
	return c;
}

static const struct tf_cgroup_name nginx_group = {
	.id = 4242, .path = "/kubepods/pod1b2c3d4e-0000-4000-8000-0123456789ab/"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	.container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	.pod_uid = "1b2c3d4e-0000-4000-8000-0123456789ab",
};

static const struct tf_cgroup_name *fake_names(void *ctx, uint64_t id)
{
	(void)ctx;
	return id == nginx_group.id ? &nginx_group : NULL;
}

/* Every record of c through a sink made by make_sink, as text. */
static char *through(struct tf_sink *(*make_sink)(FILE *, int64_t), const struct tf_conn *c,
		     bool names)
{
	struct tf_core core;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	tf_core_init(&core);
	if (names)
		tf_core_set_cgroup_name(&core, fake_names, NULL);
	tf_core_add_sink(&core, make_sink(f, 0));
	tf_core_record(&core, c, sizeof(*c));
	tf_core_finish(&core);
	tf_core_free(&core);
	fclose(f);
	return buf;
}

static void json_traffic_and_group(void)
{
	struct tf_conn c = served();
	char *out = through(tf_sink_json_new, &c, true);

	CHECK(strstr(out, "\"comm\":\"nginx\",\"cgroup_id\":4242,\"cgroup\":\"/kubepods/pod1b2c3d4e-"
			  "0000-4000-8000-0123456789ab/0123456789abcdef0123456789abcdef0123456789abcdef"
			  "0123456789abcdef\",\"container_id\":\"0123456789abcdef0123456789abcdef0123"
			  "456789abcdef0123456789abcdef\",\"pod_uid\":\"1b2c3d4e-0000-4000-8000-"
			  "0123456789ab\",\"role\":\"server\""));
	CHECK(strstr(out, "\"lifetime_us\":1020,\"bytes_acked\":301,\"bytes_received\":1001,"
			  "\"segs_out\":4,\"segs_in\":5,\"rtt_us\":34,\"min_rtt_us\":21,"
			  "\"complete\":true,\"flags\":[\"pid_from_close\"]}"));
	free(out);
}

/* A group gone before it was named shows its id; no group at all, null. */
static void json_group_unnamed(void)
{
	struct tf_conn c = served();
	char *out = through(tf_sink_json_new, &c, false);

	CHECK(strstr(out, "\"cgroup_id\":4242,\"cgroup\":\"4242\",\"container_id\":null,"
			  "\"pod_uid\":null,"));
	free(out);
	c.cgroup_id = 0;
	out = through(tf_sink_json_new, &c, true);
	CHECK(strstr(out, "\"cgroup_id\":null,\"cgroup\":null,\"container_id\":null,"
			  "\"pod_uid\":null,"));
	free(out);
}

/* Flushed open at exit: not read, null -- not zero. A refused connect: zeros. */
static void json_traffic_null_or_zero(void)
{
	struct tf_conn open = served(), refused = {};
	char *out;

	open.flags &= ~TF_F_TRAFFIC;
	open.flags |= TF_F_OPEN;
	out = through(tf_sink_json_new, &open, false);
	CHECK(strstr(out, "\"bytes_acked\":null,\"bytes_received\":null,\"segs_out\":null,"
			  "\"segs_in\":null,\"rtt_us\":null,\"min_rtt_us\":null,"));
	free(out);
	tf_fold_begin(&refused, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&refused, BASE, TF_SYN_SENT);
	tf_fold_state(&refused, BASE + 40 * US, TF_CLOSE);
	tf_note_reset(&refused, BASE + 40 * US, TF_SYN_SENT, 0);
	tf_fold_traffic(&refused, 0, 0, 1, 1, 0, ~0U);
	out = through(tf_sink_json_new, &refused, false);
	CHECK(strstr(out, "\"close\":\"refused\""));
	CHECK(strstr(out, "\"bytes_acked\":0,\"bytes_received\":0,\"segs_out\":1,\"segs_in\":1,"
			  "\"rtt_us\":0,\"min_rtt_us\":0,"));
	free(out);
}

/* The line view: TX_KB and RX_KB as tcplife shows them (1024), "-" when not read. */
static void line_columns(void)
{
	struct tf_conn c = served();
	char *out;

	c.bytes_acked = 3 * 1024 + 1023;
	c.bytes_received = 70000;
	out = through(tf_sink_line_new, &c, false);
	CHECK(strstr(out, "LIFETIME    TX_KB   RX_KB RETRANS SYN/SYNACK/FIN/ALL\n"));
	CHECK(strstr(out, "  1020us       3      68 0/0/0/0\n"));
	free(out);
	c.flags &= ~TF_F_TRAFFIC;
	out = through(tf_sink_line_new, &c, false);
	CHECK(strstr(out, "  1020us       -       - 0/0/0/0\n"));
	free(out);
}

static void timeline_closing_line(void)
{
	struct tf_conn c = served();
	char *out = through(tf_sink_timeline_new, &c, false);

	CHECK(strstr(out, ", retransmits SYN 0 SYN-ACK 0 FIN 0 all 0, bytes acked 301 received 1001, "
			  "segs out 4 in 5, rtt 34us (min 21us)\n"));
	free(out);
}

static void metrics_bytes_and_rtt(void)
{
	struct tf_metrics *m = tf_metrics_new(NULL, 0, "t");
	const struct tf_metrics_values *v = tf_metrics_values(m);
	struct tf_conn a = served(), b = served(), open = served();
	struct tf_summary s;
	struct tf_text t = { 0 };

	b.rtt_us = 0;		/* no sample: bytes counted, no RTT */
	open.flags &= ~TF_F_TRAFFIC;
	open.flags |= TF_F_OPEN;
	tf_summarize(&a, &s);
	tf_metrics_conn(m, &s);
	tf_summarize(&b, &s);
	tf_metrics_conn(m, &s);
	tf_summarize(&open, &s);
	tf_metrics_conn(m, &s);
	CHECK_INT(v->bytes[0][TF_ROLE_SERVER], 2 * 301);
	CHECK_INT(v->bytes[1][TF_ROLE_SERVER], 2 * 1001);
	CHECK_INT(v->bytes[0][TF_ROLE_CLIENT], 0);
	CHECK_INT(v->rtt[TF_ROLE_SERVER].count, 1);
	CHECK_INT(v->rtt[TF_ROLE_SERVER].sum_ns, 34000);
	CHECK_INT(tf_metrics_render(v, &t), 0);
	CHECK(strstr(t.buf, "\n# TYPE tcpflow_bytes_total counter\n"
			    "tcpflow_bytes_total{direction=\"sent\",role=\"client\"} 0\n"
			    "tcpflow_bytes_total{direction=\"sent\",role=\"server\"} 602\n"
			    "tcpflow_bytes_total{direction=\"sent\",role=\"unknown\"} 0\n"
			    "tcpflow_bytes_total{direction=\"received\",role=\"client\"} 0\n"
			    "tcpflow_bytes_total{direction=\"received\",role=\"server\"} 2002\n"
			    "tcpflow_bytes_total{direction=\"received\",role=\"unknown\"} 0\n"));
	/* 34 us: in (20 us, 40 us] */
	CHECK(strstr(t.buf, "tcpflow_rtt_seconds_bucket{role=\"server\",le=\"0.00002\"} 0\n"
			    "tcpflow_rtt_seconds_bucket{role=\"server\",le=\"0.00004\"} 1\n"));
	CHECK(strstr(t.buf, "tcpflow_rtt_seconds_sum{role=\"server\"} 0.000034\n"
			    "tcpflow_rtt_seconds_count{role=\"server\"} 1\n"));
	tf_text_free(&t);
	tf_metrics_free(m);
}

TF_TEST_MAIN("test_traffic", T(traffic_fold), T(traffic_no_sample), T(traffic_large),
	     T(owner_at_close), T(json_traffic_and_group), T(json_group_unnamed),
	     T(json_traffic_null_or_zero), T(line_columns), T(timeline_closing_line),
	     T(metrics_bytes_and_rtt))
