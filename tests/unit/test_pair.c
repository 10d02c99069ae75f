// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pairing both ends of a local connection, and the two-lane timeline it prints. */
#include <stdlib.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "core.h"
#include "pair.h"
#include "sink.h"

struct got {
	int singles, pairs;
	struct tf_conn a, b, single;
};

static void on_single(void *ctx, const struct tf_conn *c)
{
	struct got *g = ctx;

	g->singles++;
	g->single = *c;
}

static void on_pair(void *ctx, const struct tf_conn *a, const struct tf_conn *b)
{
	struct got *g = ctx;

	g->pairs++;
	g->a = *a;
	g->b = *b;
}

/* The client of a loopback exchange that closes first (start at t). */
static struct tf_conn client_at(uint64_t t)
{
	struct tf_conn c = { 0 };

	fx_owner(&c, 10, "client");
	fx_endpoints(&c, LO, 40000, LO, 5000);
	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, t, TF_SYN_SENT);
	tf_fold_state(&c, t + 80 * US, TF_ESTABLISHED);
	tf_fold_state(&c, t + 20 * MS, TF_FIN_WAIT1);
	tf_fold_retrans(&c, t + 20 * MS + 210 * MS, TF_FIN_WAIT1, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_state(&c, t + 20 * MS + 211 * MS, TF_FIN_WAIT2);
	tf_fold_state(&c, t + 20 * MS + 212 * MS, TF_CLOSE);
	return c;
}

static struct tf_conn server_at(uint64_t t)
{
	struct tf_conn c = { .srtt_us = 60 };

	fx_owner(&c, 20, "server");
	fx_endpoints(&c, LO, 5000, LO, 40000);
	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	tf_fold_state(&c, t + 100 * US, TF_SYN_RECV);
	tf_fold_state(&c, t + 100 * US, TF_ESTABLISHED);
	tf_fold_state(&c, t + 20 * MS + 211 * MS, TF_CLOSE_WAIT);
	tf_fold_state(&c, t + 20 * MS + 211 * MS + 50 * US, TF_LAST_ACK);
	tf_fold_state(&c, t + 20 * MS + 212 * MS + 20 * US, TF_CLOSE);
	return c;
}

static struct tf_pair *pairer(struct got *g)
{
	memset(g, 0, sizeof(*g));
	return tf_pair_new(2000 * MS, &(struct tf_pair_ops){ .single = on_single, .pair = on_pair, .ctx = g });
}

static void pairs_mirrors_in_either_order(void)
{
	struct tf_conn c = client_at(BASE), s = server_at(BASE);
	struct got g;
	struct tf_pair *p = pairer(&g);

	CHECK(tf_pair_maybe_local(&c));
	CHECK(tf_pair_mirrors(&c, &s));
	tf_pair_offer(p, &s, BASE + 300 * MS);	/* the server's record first */
	CHECK_INT(g.pairs + g.singles, 0);
	tf_pair_offer(p, &c, BASE + 300 * MS);
	CHECK_INT(g.pairs, 1);
	CHECK_INT(g.a.role, TF_ROLE_CLIENT);	/* the connecting side on the left */
	CHECK_INT(g.b.role, TF_ROLE_SERVER);
	tf_pair_offer(p, &c, BASE + 400 * MS);
	tf_pair_offer(p, &s, BASE + 400 * MS);
	CHECK_INT(g.pairs, 2);
	CHECK_INT(g.singles, 0);
	tf_pair_free(p);
}

static void not_a_pair(void)
{
	struct tf_conn c = client_at(BASE), s = server_at(BASE), other;
	static const uint8_t far[4] = { 10, 0, 0, 2 }, near[4] = { 10, 0, 0, 1 };
	struct got g;
	struct tf_pair *p = pairer(&g);

	/* another namespace */
	other = s;
	other.netns = NETNS + 1;
	CHECK(!tf_pair_mirrors(&c, &other));
	/* same 4-tuple, an earlier connection (lifetimes do not overlap) */
	other = server_at(BASE - 10000 * MS);
	CHECK(!tf_pair_mirrors(&c, &other));
	/* the peer is another host: sent at once, never held */
	other = c;
	fx_endpoints(&other, near, 40000, far, 5000);
	CHECK(!tf_pair_maybe_local(&other));
	tf_pair_offer(p, &other, BASE);
	CHECK_INT(g.singles, 1);
	/* our own non-loopback address talks to itself: maybe local */
	fx_endpoints(&other, near, 40000, near, 5000);
	CHECK(tf_pair_maybe_local(&other));
	tf_pair_free(p);
}

static void lone_record_leaves_after_the_window(void)
{
	struct tf_conn c = client_at(BASE);
	struct got g;
	struct tf_pair *p = pairer(&g);

	tf_pair_offer(p, &c, BASE + 300 * MS);
	tf_pair_expire(p, BASE + 2299 * MS);
	CHECK_INT(g.singles, 0);
	tf_pair_expire(p, BASE + 2300 * MS);
	CHECK_INT(g.singles, 1);
	CHECK_INT(g.single.sport, 40000);
	/* a full buffer sends its oldest alone */
	for (int i = 0; i <= TF_PAIR_CAP; i++) {
		c.sport = (uint16_t)(30000 + i);
		tf_pair_offer(p, &c, BASE + 3000 * MS);
	}
	CHECK_INT(g.singles, 2);
	CHECK_INT(g.single.sport, 30000);
	tf_pair_expire(p, UINT64_MAX);
	CHECK_INT(g.singles, 2 + TF_PAIR_CAP);
	tf_pair_free(p);
}

static char *run_timeline(const struct tf_conn *a, const struct tf_conn *b)
{
	struct tf_core core;
	struct fx_out o;

	tf_core_init(&core);
	tf_core_add_sink(&core, tf_sink_paired_new(tf_sink_timeline_new(fx_open(&o), OFFSET), 2.0));
	tf_core_record(&core, a, sizeof(*a));
	if (b)
		tf_core_record(&core, b, sizeof(*b));
	tf_core_finish(&core);
	tf_core_free(&core);
	return fx_text(&o);
}

static void two_lane_four_way_close(void)
{
	struct tf_conn c = client_at(BASE), s = server_at(BASE);
	char *out = run_timeline(&s, &c);

	CHECK_STR(out,
		  "22:40:00.000000 both ends on this host, netns 4026532001\n"
		  "                client 127.0.0.1:40000 pid 10 (client)       server 127.0.0.1:5000 pid 20 (server)\n"
		  "             0  SYN_SENT    SYN ->\n"
		  "         +40us                                               SYN_RECV    <- SYN, SYN-ACK ->\n"
		  "         +80us  ESTABLISHED\n"
		  "        +100us                                               ESTABLISHED\n"
		  "       +20.0ms  FIN_WAIT1   FIN ->\n"
		  "      +230.0ms    ~ FIN retransmitted (FIN_WAIT1)\n"
		  "      +231.0ms  FIN_WAIT2   <- ACK of our FIN\n"
		  "      +231.0ms                                               CLOSE_WAIT  <- FIN\n"
		  "      +231.1ms                                               LAST_ACK    FIN ->\n"
		  "      +232.0ms  TIME_WAIT   timewait socket, ~60 s\n"
		  "      +232.0ms                                               CLOSE       <- ACK of our FIN\n"
		  "  client: active close, end time_wait, its FIN acked after 211.0ms, close took 212.0ms, "
		  "FIN retransmits 1 (FIN_WAIT1 1, LAST_ACK 0, CLOSING 0)\n"
		  "  server: passive close, end orderly, its FIN acked after 970us, close took 1020us, "
		  "FIN retransmits 0 (FIN_WAIT1 0, LAST_ACK 0, CLOSING 0)\n\n");
	free(out);
	/* alone, it is the ordinary one-socket timeline */
	out = run_timeline(&c, NULL);
	CHECK(out && !strstr(out, "both ends") && strstr(out, "client 127.0.0.1:40000 -> 127.0.0.1:5000"));
	free(out);
}

TF_TEST_MAIN("test_pair", T(pairs_mirrors_in_either_order), T(not_a_pair),
	     T(lone_record_leaves_after_the_window), T(two_lane_four_way_close))
