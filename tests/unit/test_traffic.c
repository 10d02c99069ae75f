// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a connection carried and whose it was: the traffic counters and the
 * owner taken at close (include/tf_fold.h, the code the BPF program runs).
 */
#include "tf_test.h"
#include "tf_fold.h"

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

TF_TEST_MAIN("test_traffic", T(traffic_fold), T(traffic_no_sample), T(traffic_large),
	     T(owner_at_close))
