// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Stuck half-closed connections (once per connection and state, after the
 * threshold and not before), and how the close-side reports print: JSON
 * "time_wait" and "stuck" records, the STUCK line, the --tw table.
 */
#include <stdlib.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "core.h"
#include "stuck.h"
#include "sink.h"

/* A server connection that got the peer's FIN at `fin` and never closed. */
static struct tf_conn close_wait_at(uint64_t skaddr, uint64_t fin)
{
	struct tf_conn c = { .skaddr = skaddr };

	fx_endpoints(&c, LO, 8080, LO, 40000);
	fx_owner(&c, 1234, "app");
	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	tf_fold_state(&c, BASE, TF_SYN_RECV);
	tf_fold_state(&c, BASE, TF_ESTABLISHED);
	tf_fold_state(&c, fin, TF_CLOSE_WAIT);
	return c;
}

static int scan(struct tf_stuckt *t, const struct tf_conn *c, int n, uint64_t now, struct tf_stuck *last)
{
	int reported = 0;

	tf_stuckt_begin(t);
	for (int i = 0; i < n; i++)
		reported += tf_stuckt_check(t, &c[i], now, last);
	tf_stuckt_end(t);
	return reported;
}

static void reported_once_after_the_threshold(void)
{
	struct tf_stuckt *t = tf_stuckt_new(30 * S);
	struct tf_conn c[2] = { close_wait_at(0x1000, BASE + 1 * S), close_wait_at(0x2000, BASE) };
	struct tf_stuck st;

	c[1].state[c[1].nstates - 1] = TF_ESTABLISHED;	/* open connections are never stuck */
	CHECK_INT(scan(t, c, 2, BASE + 30 * S, &st), 0);	/* 29 s in CLOSE_WAIT */
	CHECK(!tf_stuckt_due(t, &c[0], BASE + 30 * S));
	CHECK(tf_stuckt_due(t, &c[0], BASE + 31 * S));
	CHECK_INT(scan(t, c, 2, BASE + 31 * S, &st), 1);
	CHECK(!tf_stuckt_due(t, &c[0], BASE + 32 * S));	/* reported already */
	CHECK_INT(st.state, TF_CLOSE_WAIT);
	CHECK_INT(st.age_ns, 30 * S);
	CHECK(st.rec == &c[0]);
	CHECK_INT(scan(t, c, 2, BASE + 40 * S, &st), 0);	/* once */
	/* it closed (gone from the table): forgotten */
	CHECK_INT(scan(t, c, 0, BASE + 41 * S, &st), 0);
	CHECK(tf_stuckt_due(t, &c[0], BASE + 41 * S));	/* as if never seen */
	/* the socket address reused by a new connection stuck later: reported again */
	c[0] = close_wait_at(0x1000, BASE + 50 * S);
	CHECK_INT(scan(t, c, 1, BASE + 81 * S, &st), 1);
	tf_stuckt_free(t);
}

static void fin_wait2_is_stuck_too(void)
{
	struct tf_stuckt *t = tf_stuckt_new(5 * S);
	struct tf_conn c = close_wait_at(0x3000, BASE);
	struct tf_stuck st;

	c.state[c.nstates - 1] = TF_FIN_WAIT2;
	CHECK_INT(scan(t, &c, 1, BASE + 6 * S, &st), 1);
	CHECK_INT(st.state, TF_FIN_WAIT2);
	CHECK(!tf_stuckt_due(t, &c, BASE + 7 * S));	/* reported already */
	tf_stuckt_free(t);
}

/* ---- output ---------------------------------------------------------------------------- */

static char *output(struct tf_sink *sk, const struct tf_tw_end *e, const struct tf_stuck *st,
		    const struct tf_tw_snapshot *snap, struct fx_out *o)
{
	struct tf_core core;

	tf_core_init(&core);
	tf_core_add_sink(&core, sk);
	if (e)
		tf_core_tw_end(&core, e);
	if (st)
		tf_core_stuck(&core, st);
	if (snap)
		tf_core_tw_sweep(&core, snap);
	tf_core_free(&core);
	return fx_text(o);
}

static const struct tf_tw_end tw_end = {
	.family = 2, .netns = 4026532001u, .pid = 77, .comm = "curl",
	.saddr = { 127, 0, 0, 1 }, .daddr = { 127, 0, 0, 1 }, .sport = 40000, .dport = 5000,
	.handover_ns = BASE, .end_ns = BASE + 61 * S + 500 * MS, .precision_ns = 1000 * MS,
	.reason = TF_TWE_EXPIRED, .substate = TF_TIME_WAIT, .handover_src = TF_TWH_TRACED,
};

static void json_time_wait_and_stuck(void)
{
	struct tf_conn c = close_wait_at(0x1000, BASE);
	struct tf_stuck st = { .rec = &c, .state = TF_CLOSE_WAIT, .age_ns = 47 * S };
	struct fx_out o;
	char *out = output(tf_sink_json_new(fx_open(&o), OFFSET), &tw_end, &st, NULL, &o);

	CHECK_STR(out,
		  "{\"type\":\"time_wait\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\",\"sport\":40000,"
		  "\"daddr\":\"127.0.0.1\",\"dport\":5000,\"netns\":4026532001,\"pid\":77,\"comm\":\"curl\","
		  "\"handover_time\":\"2026-11-28T22:40:00.000000Z\",\"end_time\":\"2026-11-28T22:41:01.500000Z\","
		  "\"time_wait_us\":61500000,\"end\":\"expired\",\"precision_us\":1000000,"
		  "\"substate\":\"TIME_WAIT\",\"handover\":\"traced\"}\n"
		  "{\"type\":\"stuck\",\"time\":\"2026-11-28T22:40:47.000000Z\",\"state\":\"CLOSE_WAIT\","
		  "\"age_us\":47000000,\"since\":\"2026-11-28T22:40:00.000000Z\",\"family\":\"ipv4\","
		  "\"saddr\":\"127.0.0.1\",\"sport\":8080,\"daddr\":\"127.0.0.1\",\"dport\":40000,"
		  "\"netns\":4026532001,\"pid\":1234,\"comm\":\"app\",\"role\":\"server\",\"orphaned\":false,"
		  "\"age_from\":\"state_change\"}\n");
	free(out);
}

static void json_unknown_handover(void)
{
	struct tf_tw_end e = tw_end;
	struct fx_out o;
	char *out;

	e.handover_ns = 0;
	e.handover_src = TF_TWH_UNKNOWN;
	e.reason = TF_TWE_NETNS_GONE;
	out = output(tf_sink_json_new(fx_open(&o), OFFSET), &e, NULL, NULL, &o);
	CHECK(strstr(out, "\"handover_time\":null,") && strstr(out, "\"time_wait_us\":null,") &&
	      strstr(out, "\"end\":\"netns_gone\"") && strstr(out, "\"handover\":\"unknown\""));
	free(out);
}

static void stuck_line(void)
{
	struct tf_conn c = close_wait_at(0x1000, BASE);
	struct tf_stuck st = { .rec = &c, .state = TF_CLOSE_WAIT, .age_ns = 47 * S };
	struct fx_out o;
	char *out;

	out = output(tf_sink_line_new(fx_open(&o), OFFSET), NULL, &st, NULL, &o);
	CHECK_STR(out, "STUCK CLOSE_WAIT 47.000s pid 1234 (app) 127.0.0.1:8080 <- 127.0.0.1:40000 "
		       "netns 4026532001: the peer closed; the application has not called close()\n");
	free(out);
	/* one that began before tracing: its age is the peer's silence */
	st.idle_age = true;
	out = output(tf_sink_json_new(fx_open(&o), OFFSET), NULL, &st, NULL, &o);
	CHECK(out && strstr(out, "\"age_from\":\"peer_idle\"}\n"));
	free(out);
}

static void tw_table_text_and_json(void)
{
	struct tf_tw_snapshot s = {
		.now_ns = BASE, .total = 3, .fin_wait2_substate = 1, .overflow = 7,
		.ended = { [TF_TWE_EXPIRED] = 5, [TF_TWE_REUSED] = 1 },
		.n_by_lport = 1, .n_by_remote = 1, .close_wait = 2, .interval_ns = 1 * S,
		.sweep_cost_ns = 2500000,
		.by_lport = { { .port = 5000, .count = 3, .oldest_age_ns = 42 * S, .newest_age_ns = 1 * S,
				.min_remaining_ns = 18 * S, .max_remaining_ns = 59 * S } },
		.by_remote = { { .family = 2, .addr = { 10, 0, 0, 9 }, .port = 443, .count = 3,
				 .oldest_age_ns = 42 * S, .newest_age_ns = 1 * S,
				 .min_remaining_ns = 18 * S, .max_remaining_ns = 59 * S } },
	};
	struct fx_out o;
	char *out;

	out = output(tf_sink_tw_new(fx_open(&o), OFFSET, 5, false), NULL, NULL, &s, &o);
	CHECK_STR(out,
		  "TIME-WAIT 2026-11-28T22:40:00.000000Z  total 3 (FIN_WAIT2 substate 1)  overflow 7 (+0 since start)\n"
		  "ended: expired 5 reused 1 reset 0 netns_gone 0 unknown 0 not_swept 0\n"
		  "half-closed: CLOSE_WAIT 2  FIN_WAIT2 0 (orphaned 0)  sweep every 1.0s, took 2500us\n"
		  "\n"
		  "  LOCAL PORT                       COUNT    OLDEST    NEWEST REMAINING\n"
		  "  5000                                 3     42.0s      1.0s     18.0s..59.0s\n"
		  "\n"
		  "  REMOTE ENDPOINT                  COUNT    OLDEST    NEWEST REMAINING\n"
		  "  10.0.0.9:443                         3     42.0s      1.0s     18.0s..59.0s\n"
		  "\n");
	free(out);
	out = output(tf_sink_tw_new(fx_open(&o), OFFSET, 5, true), NULL, NULL, &s, &o);
	CHECK_STR(out,
		  "{\"type\":\"tw_top\",\"time\":\"2026-11-28T22:40:00.000000Z\",\"total\":3,"
		  "\"fin_wait2_substate\":1,\"overflow\":7,\"ended\":{\"expired\":5,\"reused\":1,"
		  "\"reset\":0,\"netns_gone\":0,\"unknown\":0,\"not_swept\":0},\"close_wait\":2,"
		  "\"fin_wait2\":0,\"fin_wait2_orphaned\":0,\"untracked\":0,\"interval_us\":1000000,"
		  "\"sweep_cost_us\":2500,\"looked_up\":0,"
		  "\"by_lport\":[{\"port\":5000,\"count\":3,\"oldest_age_us\":42000000,"
		  "\"newest_age_us\":1000000,\"min_remaining_us\":18000000,\"max_remaining_us\":59000000}],"
		  "\"by_remote\":[{\"family\":\"ipv4\",\"addr\":\"10.0.0.9\",\"port\":443,\"count\":3,"
		  "\"oldest_age_us\":42000000,\"newest_age_us\":1000000,\"min_remaining_us\":18000000,"
		  "\"max_remaining_us\":59000000}]}\n");
	free(out);
}

TF_TEST_MAIN("test_stuck", T(reported_once_after_the_threshold), T(fin_wait2_is_stuck_too),
	     T(json_time_wait_and_stuck), T(json_unknown_handover), T(stuck_line),
	     T(tw_table_text_and_json))
