// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Exact --json output for fixed records: the documented schema, byte for byte. */
#include <errno.h>
#include <stdlib.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "core.h"
#include "sink.h"
#include <arpa/inet.h>
#include "fmt.h"
#include "jw.h"
#include <inttypes.h>
#include <string.h>

static char *run_json(const struct tf_conn *c, const struct tf_run_stats *st)
{
	struct tf_core core;
	struct fx_out o;

	tf_core_init(&core);
	tf_core_add_sink(&core, tf_sink_json_new(fx_open(&o), OFFSET));
	if (c)
		tf_core_record(&core, c, sizeof(*c));
	if (st) {
		core.stats = *st;
		tf_core_finish(&core);
	}
	tf_core_free(&core);
	return fx_text(&o);
}

static void client_record(void)
{
	struct tf_conn c = {};
	char *out;

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	c.family = 2;
	c.pid = 4242;
	c.netns = 4026531840u;
	memcpy(c.comm, "cu\"rl", 6);
	memcpy(c.saddr, (__u8[]){ 127, 0, 0, 1 }, 4);
	memcpy(c.daddr, (__u8[]){ 127, 0, 0, 2 }, 4);
	c.sport = 40000;
	c.dport = 8080;
	tf_fold_state(&c, BASE, TF_SYN_SENT);
	tf_fold_retrans(&c, BASE + 1000000 * US, TF_SYN_SENT, TF_TCPHDR_SYN);
	tf_fold_state(&c, BASE + 1000123 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 2000000 * US, TF_FIN_WAIT1);
	tf_fold_state(&c, BASE + 2000040 * US, TF_FIN_WAIT2);
	tf_fold_state(&c, BASE + 2000080 * US, TF_CLOSE);
	out = run_json(&c, NULL);
	CHECK_STR(out,
		  "{\"type\":\"conn\",\"start_time\":\"2026-11-28T22:40:00.000000Z\",\"family\":\"ipv4\","
		  "\"saddr\":\"127.0.0.1\",\"sport\":40000,\"daddr\":\"127.0.0.2\",\"dport\":8080,"
		  "\"netns\":4026531840,\"pid\":4242,\"comm\":\"cu\\\"rl\",\"cgroup_id\":null,"
		  "\"cgroup\":null,\"container_id\":null,\"pod_uid\":null,\"role\":\"client\","
		  "\"states\":[{\"state\":\"SYN_SENT\",\"t_us\":0},{\"state\":\"ESTABLISHED\",\"t_us\":1000123},"
		  "{\"state\":\"FIN_WAIT1\",\"t_us\":2000000},{\"state\":\"FIN_WAIT2\",\"t_us\":2000040},"
		  "{\"state\":\"CLOSE\",\"t_us\":2000080}],"
		  "\"retransmits\":[{\"t_us\":1000000,\"state\":\"SYN_SENT\",\"kind\":\"SYN\"}],"
		  "\"handshake_us\":1000123,\"handshake_method\":\"syn_sent\",\"syn_retrans\":1,"
		  "\"synack_retrans\":0,\"fin_retrans\":0,\"fin_retrans_fin_wait1\":0,"
		  "\"fin_retrans_last_ack\":0,\"fin_retrans_closing\":0,\"retrans\":1,\"retrans_failed\":0,"
		  "\"close\":\"active\",\"close_end\":\"time_wait\",\"reset\":null,\"close_us\":80,"
		  "\"fin_ack_us\":40,\"time_wait\":true,\"time_wait_at_us\":2000080,"
		  "\"lifetime_us\":2000080,\"bytes_acked\":null,\"bytes_received\":null,"
		  "\"segs_out\":null,\"segs_in\":null,\"rtt_us\":null,\"min_rtt_us\":null,"
		  "\"complete\":true,\"flags\":[]}\n");
	free(out);
}

static void ipv6_open_record(void)
{
	struct tf_conn c = {};
	char *out;

	tf_fold_begin(&c, TF_ESTABLISHED, TF_CLOSE_WAIT);
	c.family = 10;
	c.saddr[15] = 1;
	c.daddr[15] = 1;
	c.sport = 443;
	c.dport = 50000;
	c.flags |= TF_F_OPEN;
	tf_fold_state(&c, BASE, TF_CLOSE_WAIT);
	out = run_json(&c, NULL);
	CHECK(strstr(out, "\"family\":\"ipv6\",\"saddr\":\"::1\",\"sport\":443,\"daddr\":\"::1\""));
	CHECK(strstr(out, "\"role\":\"unknown\""));
	CHECK(strstr(out, "\"handshake_us\":null,\"handshake_method\":null"));
	CHECK(strstr(out, "\"close\":\"passive\",\"close_end\":\"open\""));
	CHECK(strstr(out, "\"complete\":false,\"flags\":[\"began_before_trace\",\"open_at_exit\"]}"));
	free(out);
}

static void stats_line(void)
{
	struct tf_run_stats st = { .conns = 3, .events = 15, .recursion_misses = 2 };
	char *out;

	st.bpf[TF_STAT_RB_LOST_CONN] = 1;
	st.bpf[TF_STAT_TABLE_FULL] = 4;
	st.bpf[TF_STAT_NO_RECORD] = 3;
	st.bpf[TF_STAT_SYNACK_UNPARKED] = 1;
	st.bpf[TF_STAT_LISTENER_FULL] = 1;
	st.bpf[TF_STAT_RETRANS_RECOVERED] = 5;	/* restored, not lost: not in "lost" */
	st.bpf[TF_STAT_RETRANS_UNSEEN] = 2;	/* not in "lost" either */
	tf_feature_set(&st.features, TF_FEAT_CONN_TABLE_ITER, TF_FS_FALLBACK, TF_FW_REFUSED, EPERM, "x");
	tf_feature_set(&st.features, TF_FEAT_RESETS, TF_FS_OFF, TF_FW_MISSING, ENOENT, "y");
	out = run_json(NULL, &st);
	CHECK_STR(out, "{\"type\":\"stats\",\"conns\":3,\"events\":15,\"open_at_exit\":0,\"started\":0,\"lost\":12,"
		       "\"lost_ringbuf\":1,\"lost_ringbuf_events\":0,\"lost_table_full\":4,"
		       "\"evicted\":0,\"recursion_misses\":2,\"lost_no_record\":3,\"lost_synack_table\":1,"
		       "\"lost_listener_table\":1,\"missed_transitions\":0,\"retrans_recovered\":5,\"retrans_unseen\":2,"
		       "\"replaced\":0,\"retrans_failed\":0,"
		       "\"synack_retrans_listeners\":0,\"malformed\":0,\"features\":{\"conn_table_iter\":\"fallback\","
		       "\"retransmits\":\"enabled\",\"synack_retransmits\":\"enabled\",\"resets\":\"off\","
		       "\"tcp_iter\":\"enabled\",\"listener_owners\":\"enabled\",\"half_owners\":\"enabled\","
		       "\"netns_tasks\":\"enabled\",\"recursion_misses\":\"enabled\",\"netns_timewaits\":\"enabled\",\"kernel_metrics\":\"enabled\"}}\n");
	free(out);
}

static void malformed_records_counted(void)
{
	struct tf_core core;
	char junk[64] = { 1 };	/* type 1 (conn) but the wrong size */

	tf_core_init(&core);
	CHECK_INT(tf_core_record(&core, junk, sizeof(junk)), -1);
	CHECK_INT(tf_core_record(&core, junk, 1), -1);
	CHECK_INT(tf_core_record(&core, NULL, 0), -1);
	junk[0] = 99;
	CHECK_INT(tf_core_record(&core, junk, sizeof(struct tf_conn) > 64 ? 64 : 8), -1);
	CHECK_INT(tf_core_stats(&core)->malformed, 4);
	CHECK_INT(core.stats.conns, 0);
	tf_core_free(&core);
}

/* An abort reports CLOSE before its reset: the record waits for it. */
static void late_reset_merged(void)
{
	struct tf_core core;
	struct tf_conn c = {};
	struct tf_reset_event r = { .type = TF_REC_RESET, .sent = 1, .state = TF_CLOSE,
				     .netns = 7, .ts_ns = BASE + 30 * US, .skaddr = 0xabc };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	c.family = 2;
	c.netns = 7;
	c.skaddr = 0xabc;
	tf_fold_state(&c, BASE, TF_SYN_SENT);
	tf_fold_state(&c, BASE + 10 * US, TF_ESTABLISHED);
	tf_fold_state(&c, BASE + 29 * US, TF_CLOSE);
	tf_core_init(&core);
	tf_core_add_sink(&core, tf_sink_json_new(f, OFFSET));

	CHECK_INT(tf_core_record(&core, &c, sizeof(c)), 0);
	fflush(f);
	CHECK_INT(len, 0);			/* held back */
	CHECK_INT(core.npending, 1);
	r.skaddr = 0xdef;			/* another socket's reset: no match */
	tf_core_record(&core, &r, sizeof(r));
	CHECK_INT(core.npending, 1);
	r.skaddr = 0xabc;
	tf_core_record(&core, &r, sizeof(r));
	CHECK_INT(core.npending, 0);
	fflush(f);
	CHECK(strstr(buf, "\"close\":\"reset\",\"close_end\":\"reset\",\"reset\":\"sent\""));
	CHECK_INT(core.late_resets, 1);

	/* no reset follows: sent as it is once old enough */
	c.skaddr = 0x123;
	tf_core_record(&core, &c, sizeof(c));
	tf_core_flush_pending(&core, BASE + 29 * US + 1000, 10000000);
	CHECK_INT(core.npending, 1);
	tf_core_flush_pending(&core, BASE + 29 * US + 10000000, 10000000);
	CHECK_INT(core.npending, 0);
	fflush(f);
	CHECK(strstr(buf, "\"close\":\"timeout\",\"close_end\":\"timeout\",\"reset\":null"));
	CHECK_INT(core.stats.conns, 2);
	tf_core_free(&core);
	fclose(f);
	free(buf);
}

/* Our IPv4 formatter against inet_ntop over octets of 1, 2 and 3 digits. */
static void ipv4_text_matches_inet_ntop(void)
{
	static const uint8_t octets[] = { 0, 1, 9, 10, 42, 99, 100, 127, 199, 200, 255 };
	const size_t n = sizeof(octets);
	char got[TF_ADDR_LEN], want[INET_ADDRSTRLEN];
	int bad = 0;

	for (size_t i = 0; i < n * n * n * n; i++) {
		uint8_t a[16] = { octets[i % n], octets[i / n % n], octets[i / n / n % n],
				  octets[i / n / n / n] };

		inet_ntop(AF_INET, a, want, sizeof(want));
		bad += strcmp(tf_fmt_addr(AF_INET, a, got, sizeof(got)), want) != 0;
	}
	CHECK_INT(bad, 0);
}

/* tf_jw_u64/i64 against printf at every digit count and the extremes. */
static void integers_match_printf(void)
{
	static const uint64_t vals[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1009, 65535,
					 1234567890123ull, 9999999999999999999ull, UINT64_MAX };
	struct tf_jw w;
	char want[32];
	int bad = 0;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		tf_jw_init(&w);
		tf_jw_u64(&w, vals[i]);
		snprintf(want, sizeof(want), "%" PRIu64, vals[i]);
		bad += w.len != strlen(want) || memcmp(w.buf, want, w.len) != 0;
		tf_jw_init(&w);
		tf_jw_i64(&w, -(int64_t)(vals[i] >> 1));
		snprintf(want, sizeof(want), "%" PRId64, -(int64_t)(vals[i] >> 1));
		bad += w.len != strlen(want) || memcmp(w.buf, want, w.len) != 0;
	}
	tf_jw_init(&w);
	tf_jw_i64(&w, INT64_MIN);
	bad += w.len != 20 || memcmp(w.buf, "-9223372036854775808", 20) != 0;
	CHECK_INT(bad, 0);
}

TF_TEST_MAIN("test_json", T(client_record), T(ipv6_open_record), T(stats_line),
	     T(malformed_records_counted), T(late_reset_merged), T(ipv4_text_matches_inet_ntop),
	     T(integers_match_printf))
