// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A close that ended by retransmission timeout instead of an orderly FIN
 * exchange: the kernel's sk_err at -> CLOSE (close_err) decides, since the
 * state changes alone look like an orderly LAST_ACK -> CLOSE or a
 * CLOSING -> CLOSE hand-over to TIME-WAIT.
 */
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "conn.h"

static struct tf_conn passive(uint32_t close_err)
{
	struct tf_conn c = { .family = 2, .close_err = close_err };

	tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	tf_fold_state(&c, BASE, TF_SYN_RECV);
	tf_fold_state(&c, BASE, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 10 * MS, TF_CLOSE_WAIT);
	tf_fold_state(&c, BASE + 11 * MS, TF_LAST_ACK);
	tf_fold_retrans(&c, BASE + 220 * MS, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_retrans(&c, BASE + 640 * MS, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	tf_fold_state(&c, BASE + 1500 * MS, TF_CLOSE);
	return c;
}

static void last_ack_acknowledged_is_orderly(void)
{
	struct tf_conn c = passive(0);
	struct tf_summary s;

	tf_summarize(&c, &s);
	CHECK_INT(s.close_kind, TF_CK_PASSIVE);
	CHECK_INT(s.close_end, TF_CE_ORDERLY);
	CHECK_INT(s.fin_ack_ns, 1489 * MS);
}

static void last_ack_timed_out(void)
{
	struct tf_conn c = passive(110);	/* ETIMEDOUT */
	struct tf_summary s;

	tf_summarize(&c, &s);
	CHECK_INT(s.close_kind, TF_CK_PASSIVE);
	CHECK_INT(s.close_end, TF_CE_TIMEOUT);
	CHECK_STR(tf_close_end_name(s.close_end), "timeout");
	CHECK_INT(s.fin_ack_ns, -1);	/* never acknowledged */
	CHECK_INT(c.fin_retrans_by_state[TF_FIN_IN_LAST_ACK], 2);
	CHECK(!s.time_wait);
}

static void closing_timed_out_is_no_time_wait(void)
{
	struct tf_conn c = { .family = 2, .close_err = 110 };
	struct tf_summary s;

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, BASE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 1 * MS, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 5 * MS, TF_FIN_WAIT1);
	tf_fold_state(&c, BASE + 6 * MS, TF_CLOSING);
	tf_fold_state(&c, BASE + 900 * MS, TF_CLOSE);
	tf_summarize(&c, &s);
	CHECK_INT(s.close_kind, TF_CK_SIMULTANEOUS);
	CHECK_INT(s.close_end, TF_CE_TIMEOUT);
	CHECK(!s.time_wait);
	CHECK_INT(s.fin_ack_ns, -1);
}

TF_TEST_MAIN("test_close_end", T(last_ack_acknowledged_is_orderly), T(last_ack_timed_out),
	     T(closing_timed_out_is_no_time_wait))
