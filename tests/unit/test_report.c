// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * report: reading a --json capture, pairing sockets, and the drawings.
 *
 * Ladder diagrams and histograms are compared byte for byte with golden files
 * in tests/unit/golden/ (NAME.jsonl in, NAME.svg out). After an intended
 * change of the drawing, look at the new pictures and regenerate them with
 *   UPDATE_GOLDEN=1 build/tests/test_report
 * Independently of the golden files, each diagram is checked against the
 * JSON it came from: one dashed arrow per retransmission, a label per state,
 * real or inferred lanes.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include "tf_test.h"
#include "report/diagrams.h"
#include "report/report.h"
#include "report/svg.h"

static int load(struct tf_rp_data *d, const char *name)
{
	char path[512];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.jsonl", tf_golden_dir(), name);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s (run from the repository root or set TF_GOLDEN_DIR)\n", path);
		return -1;
	}
	tf_rp_init(d);
	rc = tf_rp_read(d, f);
	fclose(f);
	tf_rp_pair(d);
	return rc;
}

static void check_svg(const char *name, const char *svg)
{
	char file[128];

	snprintf(file, sizeof(file), "%s.svg", name);
	tf_check_golden("test_report", file, svg);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static char *ladder(const struct tf_rp_data *d, int i)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	tf_rp_ladder_of(f, d, i, 1);
	fclose(f);
	return buf;
}

static void add(struct tf_rp_data *d, const char *line)
{
	CHECK_INT(tf_rp_add_line(d, line, strlen(line)), 0);
}

/* The picture says what the records say: retransmissions, states, lanes. */
static void check_facts(const struct tf_rp_data *d, int i, const char *svg)
{
	const struct tf_rp_conn *c = &d->conns[i];
	const struct tf_rp_conn *p = c->peer >= 0 ? &d->conns[c->peer] : NULL;
	int retrans = c->nretrans + (p ? p->nretrans : 0);
	int states = c->nstates + (p ? p->nstates : 0);

	CHECK_INT(count(svg, "<g class=\"msg retrans"), retrans);
	CHECK_INT(count(svg, "stroke-dasharray=\"7 4\""), retrans);
	CHECK_INT(count(svg, "<text class=\"st"), states);
	CHECK_INT(count(svg, "class=\"lane real\""), p ? 2 : 1);
	CHECK_INT(count(svg, "class=\"lane inferred\""), p ? 0 : 1);
	CHECK_INT(count(svg, "inferred (not traced)"), p ? 0 : 1);
	for (int k = 0; k < c->nstates; k++)
		CHECK(strstr(svg, tf_state_name(tf_rp_states(d, c)[k].state)));
}

static void golden_case(const char *name, bool paired)
{
	struct tf_rp_data d;
	char *svg;

	if (load(&d, name)) {
		CHECK(!"load failed");
		return;
	}
	CHECK(d.nconns >= 1);
	CHECK_INT(d.bad_json + d.bad_record + d.too_long, 0);
	CHECK_INT(d.conns[0].peer >= 0, paired);
	svg = ladder(&d, 0);
	check_facts(&d, 0, svg);
	check_svg(name, svg);
	/* stable: the same input draws the same bytes, from either socket of the pair */
	if (paired) {
		char *again = ladder(&d, d.conns[0].peer);

		CHECK_STR(again, svg);
		free(again);
	}
	free(svg);
	tf_rp_free(&d);
}

/* Real capture: two SYNs dropped by nftables, both sockets traced. */
static void golden_syn_retrans(void)
{
	struct tf_rp_data d;
	char *svg;

	golden_case("syn_retrans", true);
	if (load(&d, "syn_retrans"))
		return;
	svg = ladder(&d, 0);
	/* the two unanswered SYNs end in a cross; the third is received by the server */
	CHECK_INT(count(svg, "<g class=\"msg retrans lost\" data-kind=\"SYN\""), 1);
	CHECK_INT(count(svg, "<g class=\"msg lost\" data-kind=\"SYN\""), 1);
	CHECK_INT(count(svg, "<g class=\"msg retrans\" data-kind=\"SYN\""), 1);
	CHECK(strstr(svg, "SYN retransmission sent by the client at +3.042822s, received by the "
			  "server at +3.042863s"));
	CHECK(strstr(svg, ">1.027s cut</text>") && strstr(svg, ">2.016s cut</text>"));
	free(svg);
	tf_rp_free(&d);
}

/* Real capture: the client's first FIN dropped; the retransmission reaches the server. */
static void golden_fin_retrans(void)
{
	struct tf_rp_data d;
	char *svg;

	golden_case("fin_retrans", true);
	if (load(&d, "fin_retrans"))
		return;
	svg = ladder(&d, 0);
	CHECK_INT(count(svg, "<g class=\"msg lost\" data-kind=\"FIN\" data-from=\"client\""), 1);
	CHECK_INT(count(svg, "<g class=\"msg retrans\" data-kind=\"FIN\" data-from=\"client\""), 1);
	CHECK(strstr(svg, "TIME_WAIT (timewait socket)"));
	free(svg);
	tf_rp_free(&d);
}

/* Real capture: a server that never closes, left in CLOSE_WAIT. */
static void golden_close_wait_open(void)
{
	struct tf_rp_data d;
	char *svg;

	golden_case("close_wait_open", true);
	if (load(&d, "close_wait_open"))
		return;
	svg = ladder(&d, 0);
	CHECK(strstr(svg, "open at exit in CLOSE_WAIT"));
	CHECK_INT(d.agg.open_half_closed, 1);
	free(svg);
	tf_rp_free(&d);
}

/* A "time_wait" record tells how long the client's timewait socket lived. */
static void time_wait_records(void)
{
	struct tf_rp_data d;
	char *svg;

	if (load(&d, "close_wait_open"))
		return;
	add(&d, "{\"type\":\"time_wait\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\",\"sport\":58394,"
		"\"daddr\":\"127.0.0.1\",\"dport\":5002,\"netns\":4026532177,\"pid\":18869,"
		"\"comm\":\"tcpgen\",\"handover_time\":\"2026-11-28T22:43:21.670688Z\","
		"\"end_time\":\"2026-11-28T22:44:22.183000Z\",\"time_wait_us\":60512312,"
		"\"end\":\"expired\",\"precision_us\":1000000,\"substate\":\"TIME_WAIT\","
		"\"handover\":\"traced\"}");
	add(&d, "{\"type\":\"time_wait\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\",\"sport\":1,"
		"\"daddr\":\"127.0.0.1\",\"dport\":5002,\"netns\":4026532177,\"end\":\"reused\"}");
	add(&d, "{\"type\":\"time_wait\",\"end\":\"sideways\"}");
	/* every end the writer names is read back by that name (one table) */
	add(&d, "{\"type\":\"time_wait\",\"end\":\"not_swept\"}");
	tf_rp_pair(&d);
	CHECK_INT(d.tw_matched, 1);
	CHECK_INT(d.agg.tw_ends[TF_TWE_EXPIRED], 1);
	CHECK_INT(d.agg.tw_ends[TF_TWE_REUSED], 1);
	CHECK_INT(d.agg.tw_ends[TF_TWE_NOT_SWEPT], 1);
	CHECK_INT(d.agg.tw_ends[TF_TWE_UNKNOWN], 1);
	CHECK_INT(d.types[0].count, 4);
	svg = ladder(&d, 0);
	CHECK(strstr(svg, "TIME_WAIT 60.512s, expired (timewait socket)"));
	free(svg);
	tf_rp_free(&d);
}

/* A record whose states skip a TCP step (flagged by the tracer) counts as flagged. */
static void missed_transitions_flag(void)
{
	struct tf_rp_data d;

	tf_rp_init(&d);
	add(&d, "{\"type\":\"conn\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\",\"sport\":33786,"
		"\"daddr\":\"127.0.0.1\",\"dport\":5000,\"netns\":4026532177,\"pid\":13026,"
		"\"comm\":\"tcpgen\",\"role\":\"client\",\"start_time\":\"2026-11-29T04:01:17.768896Z\","
		"\"states\":[{\"state\":\"SYN_SENT\",\"t_us\":0},{\"state\":\"FIN_WAIT1\",\"t_us\":3055695},"
		"{\"state\":\"FIN_WAIT2\",\"t_us\":3056184},{\"state\":\"CLOSE\",\"t_us\":3056196}],"
		"\"retransmits\":[{\"t_us\":1017813,\"state\":\"SYN_SENT\",\"kind\":\"SYN\"}],"
		"\"complete\":false,\"flags\":[\"missed_transitions\"]}");
	tf_rp_pair(&d);
	CHECK_INT(d.nconns, 1);
	CHECK(d.nconns == 1 && (d.conns[0].flags & TF_RPF_GAP));
	CHECK(d.nconns == 1 && !(d.conns[0].flags & TF_RPF_OTHER));
	CHECK_INT(d.agg.flagged_lost, 1);
	tf_rp_free(&d);
}

static void golden_single_lanes(void)
{
	struct tf_rp_data d;
	char *svg;

	golden_case("refused", false);
	golden_case("server_synack_fin", false);
	golden_case("midlife_reset", false);
	golden_case("linger0_pair", true);

	if (!load(&d, "refused")) {
		svg = ladder(&d, 0);
		CHECK(strstr(svg, "<g class=\"msg rst sendunseen\" data-kind=\"RST\" data-from=\"server\""));
		CHECK(strstr(svg, "server 127.0.0.1:5001"));	/* the inferred lane is named */
		free(svg);
		tf_rp_free(&d);
	}
	if (!load(&d, "server_synack_fin")) {
		svg = ladder(&d, 0);
		/* the server is on the right, the client inferred on the left */
		CHECK(strstr(svg, "data-lane=\"client\" x1=\"200.0\""));
		CHECK(strstr(svg, "class=\"lane inferred\" data-lane=\"client\""));
		CHECK(strstr(svg, "nginx &lt;w&gt;"));
		free(svg);
		tf_rp_free(&d);
	}
	if (!load(&d, "linger0_pair")) {
		svg = ladder(&d, 0);
		CHECK(strstr(svg, "RST sent by the client at +20.090ms, received by the server at +20.110ms"));
		free(svg);
		tf_rp_free(&d);
	}
}

static void golden_histograms(void)
{
	static const char *const names[] = { "syn_retrans", "fin_retrans", "close_wait_open",
					     "refused", "server_synack_fin" };
	struct tf_rp_data d;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	tf_rp_init(&d);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char path[512], *text;

		snprintf(path, sizeof(path), "%s/%s.jsonl", tf_golden_dir(), names[k]);
		text = tf_slurp(path, &len);
		CHECK(text != NULL);
		if (!text)
			continue;
		f = fmemopen(text, len, "r");
		CHECK_INT(tf_rp_read(&d, f), 0);
		fclose(f);
		free(text);
	}
	CHECK_INT(d.agg.conns, 8);
	CHECK_INT(d.agg.hs_n, 7);
	f = open_memstream(&buf, &len);
	{
		struct tf_svg_series s[3] = {
			{ "client", "s0", d.agg.hs_hist[0] },
			{ "server", "s1", d.agg.hs_hist[1] },
			{ "unknown", "s2", d.agg.hs_hist[2] },
		};

		tf_svg_hist(f, "Handshake duration", "handshake_us", s, 3);
	}
	fclose(f);
	CHECK_INT(count(buf, "<title>client: 1 with"), 3);	/* 24, 59 us and 3.04 s */
	CHECK(strstr(buf, ">1s</text>") && strstr(buf, ">10µs</text>"));
	check_svg("hist_handshake", buf);
	free(buf);
	tf_rp_free(&d);
}

#define CONN_A "{\"type\":\"conn\",\"start_time\":\"2026-11-28T22:40:00.000000Z\",\"family\":\"ipv4\"," \
	       "\"saddr\":\"127.0.0.1\",\"sport\":40000,\"daddr\":\"127.0.0.1\",\"dport\":80," \
	       "\"netns\":1,\"pid\":5,\"comm\":\"a\",\"role\":\"client\",\"states\":[{\"state\":" \
	       "\"SYN_SENT\",\"t_us\":0},{\"state\":\"ESTABLISHED\",\"t_us\":30}]," \
	       "\"handshake_us\":30,\"close\":\"open\",\"close_end\":\"open\",\"lifetime_us\":30}"
#define CONN_B "{\"type\":\"conn\",\"start_time\":\"2026-11-28T22:40:00.000010Z\",\"family\":\"ipv4\"," \
	       "\"saddr\":\"127.0.0.1\",\"sport\":80,\"daddr\":\"127.0.0.1\",\"dport\":40000," \
	       "\"netns\":%u,\"pid\":6,\"comm\":\"b\",\"role\":\"%s\",\"states\":[{\"state\":" \
	       "\"SYN_RECV\",\"t_us\":0,\"derived\":true},{\"state\":\"ESTABLISHED\",\"t_us\":25}]," \
	       "\"close\":\"open\",\"close_end\":\"open\",\"lifetime_us\":25}"

static void pairing(void)
{
	static const struct { unsigned netns; const char *role; int paired; } cases[] = {
		{ 1, "server", 1 }, { 2, "server", 0 }, { 1, "client", 0 }, { 1, "unknown", 1 },
	};
	char line[1024];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct tf_rp_data d;

		tf_rp_init(&d);
		add(&d, CONN_A);
		snprintf(line, sizeof(line), CONN_B, cases[k].netns, cases[k].role);
		add(&d, line);
		tf_rp_pair(&d);
		CHECK_INT(d.nconns, 2);
		CHECK_INT(d.conns[0].peer, cases[k].paired ? 1 : -1);
		CHECK_INT(d.conns[1].peer, cases[k].paired ? 0 : -1);
		tf_rp_free(&d);
	}
}

/* Nothing in the input can crash the reader; what is unusable is counted. */
static void bad_input_counted(void)
{
	struct tf_rp_data d;
	char *huge = malloc(TF_RP_MAX_LINE + 100), *deep;
	FILE *f;
	size_t n;

	tf_rp_init(&d);
	add(&d, "");
	add(&d, "   \r");
	add(&d, "not json at all");
	add(&d, "{\"type\":\"conn\"");				/* cut short */
	add(&d, "[1,2,3]");
	add(&d, "{}");
	add(&d, "{\"type\":5}");
	add(&d, "{\"type\":\"conn\"}");			/* no addresses */
	add(&d, "{\"type\":\"conn\",\"saddr\":\"1.2.3.4\",\"daddr\":\"x\",\"sport\":1,\"dport\":2}");
	add(&d, "{\"type\":\"conn\",\"saddr\":\"1.2.3.4\",\"daddr\":\"1.2.3.5\",\"sport\":70000,\"dport\":2}");
	add(&d, "{\"type\":\"time_wait\",\"count\":3}");
	add(&d, "{\"type\":\"time_wait\"}");
	add(&d, "{\"type\":\"hist\"}");
	add(&d, "{\"type\":\"stats\",\"conns\":2,\"lost\":3,\"recursion_misses\":3}");
	add(&d, "{\"type\":\"stats\",\"conns\":1,\"lost\":-4,\"events\":\"many\"}");
	/* wrong types everywhere: kept with defaults */
	add(&d, "{\"type\":\"conn\",\"saddr\":\"::1\",\"daddr\":\"::1\",\"sport\":1,\"dport\":2,"
		"\"states\":{\"a\":1},\"retransmits\":[1,{\"t_us\":\"x\"},{\"t_us\":5,\"kind\":7}],"
		"\"handshake_us\":1e300,\"close_us\":-1e300,\"pid\":-1,\"netns\":1e20,"
		"\"comm\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"role\":[],"
		"\"close\":\"sideways\",\"flags\":[\"new_flag\",3],\"start_time\":\"yesterday\"}");
	CHECK_INT(tf_rp_add_line(&d, "{\"type\":\"conn\"}\0garbage", 24), 0);	/* NUL inside */
	CHECK_INT(d.lines, 17);
	CHECK_INT(d.blank, 2);
	CHECK_INT(d.bad_json, 3);		/* not json, cut short, NUL inside */
	CHECK_INT(d.bad_record, 6);
	CHECK_INT(d.nconns, 1);
	CHECK_INT(d.stats.lines, 2);
	CHECK_INT(d.stats.conns, 3);
	CHECK_INT(d.stats.lost, 3);
	CHECK_INT(d.ntypes, 2);
	CHECK_STR(d.types[0].name, "time_wait");
	CHECK_INT(d.types[0].count, 2);
	CHECK_INT(d.types[1].count, 1);
	CHECK_INT(d.first_bad_line, 3);
	if (d.nconns == 1) {
		const struct tf_rp_conn *c = &d.conns[0];

		CHECK_INT(c->family, AF_INET6);
		CHECK_INT(c->nstates, 0);
		CHECK_INT(c->nretrans, 1);
		CHECK_INT(c->handshake_us, TF_RP_NONE);
		CHECK_INT(c->close_us, TF_RP_NONE);
		CHECK_INT(c->pid, 0);
		CHECK_INT(c->start_us, TF_RP_NONE);
		CHECK_INT(c->close_kind, TF_CK_MAX);
		CHECK(c->flags & TF_RPF_OTHER);
		CHECK(strlen(c->comm) <= 46 && strlen(c->comm) % 2 == 0);	/* whole characters */
	}
	tf_rp_free(&d);

	/* a line over the limit is skipped whole, the next one is read */
	memset(huge, 'x', TF_RP_MAX_LINE + 99);
	memcpy(huge + TF_RP_MAX_LINE + 99 - 1 - strlen("\n{}"), "\n{}", 3);
	huge[TF_RP_MAX_LINE + 98] = '\n';
	f = fmemopen(huge, TF_RP_MAX_LINE + 99, "r");
	tf_rp_init(&d);
	CHECK_INT(tf_rp_read(&d, f), 0);
	fclose(f);
	CHECK_INT(d.too_long, 1);
	CHECK_INT(d.bad_record, 1);
	CHECK_INT(d.lines, 2);
	CHECK(!tf_rp_usable(&d));
	tf_rp_free(&d);

	/* deep nesting: jansson's depth limit, not our stack */
	n = 200000;
	deep = malloc(n + 1);
	memset(deep, '[', n);
	deep[n] = 0;
	tf_rp_init(&d);
	add(&d, deep);
	CHECK_INT(d.bad_json, 1);
	tf_rp_free(&d);
	free(deep);
	free(huge);
}

/* Mutations of real records: truncated, bytes flipped, fields swapped. No crash. */
static void mutations_survive(void)
{
	static const char *const names[] = { "syn_retrans", "server_synack_fin", "midlife_reset" };
	uint64_t x = 88172645463325252ull;
	struct tf_rp_data d;

	tf_rp_init(&d);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char path[512], *text;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s.jsonl", tf_golden_dir(), names[k]);
		text = tf_slurp(path, &len);
		if (!text)
			continue;
		for (int round = 0; round < 3000; round++) {
			char *m = malloc(len + 1);
			size_t cut;

			memcpy(m, text, len + 1);
			for (int flips = 0; flips < 3; flips++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				m[x % len] = (char)(" 0123456789-.e\"{}[]:,aZ\\"[(x >> 20) % 24]);
			}
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			cut = round % 2 ? x % (len + 1) : len;
			CHECK_INT(tf_rp_add_line(&d, m, cut), 0);
			free(m);
		}
		free(text);
	}
	tf_rp_pair(&d);
	for (size_t i = 0; i < d.nconns && i < 400; i++) {
		char *svg = ladder(&d, (int)i);

		CHECK(svg && strstr(svg, "</svg>"));
		free(svg);
	}
	{
		struct tf_rp_opts opt = { "mutations", 5, 50, 100 };
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		CHECK_INT(tf_rp_write_html(f, &d, &opt), 0);
		fclose(f);
		CHECK(strstr(buf, "</html>"));
		free(buf);
	}
	tf_rp_free(&d);
}

/* The page of golden inputs NAME.jsonl, plus one more line when extra is not NULL. */
static char *html_of(const char *const *names, int n, const char *extra, const struct tf_rp_opts *opt)
{
	struct tf_rp_data d;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	tf_rp_init(&d);
	for (int k = 0; k < n; k++) {
		char path[512], *text;
		size_t tl;

		snprintf(path, sizeof(path), "%s/%s.jsonl", tf_golden_dir(), names[k]);
		text = tf_slurp(path, &tl);
		if (!text)
			continue;
		f = fmemopen(text, tl, "r");
		tf_rp_read(&d, f);
		fclose(f);
		free(text);
	}
	if (extra)
		add(&d, extra);
	tf_rp_pair(&d);
	f = open_memstream(&buf, &len);
	CHECK_INT(tf_rp_write_html(f, &d, opt), 0);
	fclose(f);
	tf_rp_free(&d);
	return buf;
}

static void html_page(void)
{
	static const char *const names[] = { "syn_retrans", "fin_retrans", "close_wait_open",
					     "refused", "server_synack_fin", "midlife_reset",
					     "linger0_pair" };
	struct tf_rp_opts opt = { "cap<1>.jsonl", 1, 200, 2000 };
	const char *stats = "{\"type\":\"stats\",\"conns\":12,\"events\":40,\"lost\":2,\"lost_ringbuf\":2}";
	char *a = html_of(names, 7, stats, &opt), *b = html_of(names, 7, stats, &opt);

	CHECK_STR(a, b);	/* same input, same page */
	/* diagrams: the slowest handshake (syn_retrans pair), then every connection with
	 * retransmissions (fin_retrans pair, server_synack_fin, midlife_reset), then the
	 * CLOSE_WAIT left open; refused and linger0 qualify for none. */
	CHECK_INT(count(a, "<figure class=\"ladder\""), 5);
	CHECK_INT(count(a, "data-lanes=\"both\""), 3);
	CHECK_INT(count(a, "data-lanes=\"one\""), 2);
	CHECK(strstr(a, "<figure class=\"ladder\" id=\"d1\" data-ports=\"57442 5000 5000 57442\""));
	CHECK(strstr(a, "data-reasons=\"slow retrans \""));
	CHECK(strstr(a, "data-reasons=\"open \""));
	/* every retransmission of a drawn connection is one dashed arrow (2 + 1 + 2 + 2),
	 * and one more in the legend */
	CHECK_INT(count(a, "<g class=\"msg retrans"), 7 + 1);
	CHECK(strstr(a, "<g class=\"msg retrans\" data-kind=\"DATA\" data-from=\"socket\">"));
	/* escaped input, no way out of the page */
	CHECK(strstr(a, "cap&lt;1&gt;.jsonl"));
	CHECK(!strstr(a, "cap<1>"));
	CHECK(strstr(a, "nginx &lt;w&gt;"));
	CHECK(strstr(a, "Content-Security-Policy"));
	CHECK(!strstr(a, "src=\""));
	CHECK(!strstr(a, "href=\"http"));
	CHECK(!strstr(a, "https:"));
	/* the summary: stats line, counts */
	CHECK(strstr(a, "<tr><td>lost events</td><td class=\"warn\">2</td>"));
	CHECK(strstr(a, "<tr><td>SYN</td><td class=\"warn\">2</td>"));
	CHECK(strstr(a, "<tr><td>SYN-ACK</td><td class=\"warn\">1</td>"));
	CHECK(strstr(a, "<tr><td>FIN</td><td class=\"warn\">3</td>"));
	CHECK(strstr(a, "<tr><td>resets sent</td><td>2</td>"));
	CHECK(strstr(a, "<tr><td>TIME-WAIT hand-overs</td><td>3</td>"));
	CHECK(strstr(a, "<option value=\"refused\">refused</option>"));
	/* close kinds, then ends not already named */
	CHECK(strstr(a, "<option value=\"\">any</option><option value=\"active\">active</option>"
			"<option value=\"passive\">passive</option><option value=\"reset\">reset</option>"
			"<option value=\"refused\">refused</option><option value=\"open\">open</option>"
			"<option value=\"time_wait\">time_wait</option><option value=\"orderly\">orderly"
			"</option></select>"));
	CHECK(strstr(a, "data-pids=\"18865 18856\" data-close=\"active time_wait passive orderly\""));
	CHECK(strstr(a, "<tr><td>connections (stats line)</td><td class=\"warn\">12</td>"));
	/* and the whole page, byte for byte */
	tf_check_golden("test_report", "report.html", a);
	free(a);
	free(b);
}

/*
 * What the JSON sink writes (test_sinks' golden run) is what the report reads:
 * every flag name known, every record kept, and the page byte for byte.
 */
static void html_from_the_writer(void)
{
	static const char *const names[] = { "sinks.json" };
	struct tf_rp_opts opt = { "sinks.json.jsonl", 5, 200, 2000 };
	struct tf_rp_data d;
	char path[512];
	char *page;
	FILE *f;

	snprintf(path, sizeof(path), "%s/sinks.json.jsonl", tf_golden_dir());
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	tf_rp_init(&d);
	CHECK_INT(tf_rp_read(&d, f), 0);
	fclose(f);
	tf_rp_pair(&d);
	CHECK_INT(d.bad_json + d.bad_record + d.too_long, 0);
	CHECK_INT(d.nconns, 12);
	CHECK_INT(d.stats.lines, 1);
	CHECK_INT(d.stuck_records, 2);
	CHECK_INT(d.stuck_matched, 2);
	CHECK_INT(d.tw_matched, 3);
	for (size_t i = 0; i < d.nconns; i++)
		CHECK(!(d.conns[i].flags & TF_RPF_OTHER));
	CHECK_INT(d.conns[0].peer, 1);		/* the loopback pair */
	CHECK(d.conns[1].flags & TF_RPF_PID_LISTENER);
	CHECK(d.conns[3].flags & TF_RPF_LOST);
	CHECK(d.conns[7].flags & TF_RPF_RETRANS_TRUNC);
	CHECK(d.conns[7].flags & TF_RPF_REPLACED);
	CHECK(d.conns[9].flags & TF_RPF_GAP);
	CHECK(d.conns[10].flags & TF_RPF_MIDLIFE);
	CHECK(d.conns[10].flags & TF_RPF_OPEN);
	tf_rp_free(&d);
	page = html_of(names, 1, NULL, &opt);
	tf_check_golden("test_report", "sinks.json.html", page);
	free(page);
}

/* A conn record on port SPORT with the given traffic and cgroup fields (JSON text). */
#define CONN_TC "{\"type\":\"conn\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\",\"sport\":%u," \
		"\"daddr\":\"127.0.0.1\",\"dport\":80,\"role\":\"client\",%s}"

static void conn_tc(struct tf_rp_data *d, unsigned sport, const char *fields)
{
	char line[4096];

	snprintf(line, sizeof(line), CONN_TC, sport, fields);
	add(d, line);
}

static char *page_of(struct tf_rp_data *d, int max_rows)
{
	struct tf_rp_opts opt = { "t", 1, 10, max_rows };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	tf_rp_pair(d);
	CHECK_INT(tf_rp_write_html(f, d, &opt), 0);
	fclose(f);
	return buf;
}

/*
 * What each connection carried and its cgroup, in the table: bytes both ways,
 * "rtt / min", the path with the container and pod it names; "–" for what the
 * record has as null. Records naming the same group share it; hostile text
 * stays text.
 */
static void html_traffic_and_cgroup(void)
{
	static const char ctr[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct tf_rp_data d;
	char fields[1024], *page;

	tf_rp_init(&d);
	snprintf(fields, sizeof(fields), "\"bytes_acked\":3002,\"bytes_received\":1,\"rtt_us\":212,"
		 "\"min_rtt_us\":180,\"cgroup_id\":77,\"cgroup\":\"/kubepods/pod1/%s\","
		 "\"container_id\":\"%s\",\"pod_uid\":\"0f0e0d0c-0b0a-0908-0706-050403020100\"", ctr, ctr);
	conn_tc(&d, 1001, fields);
	conn_tc(&d, 1002, fields);	/* the same group */
	conn_tc(&d, 1003, "\"bytes_acked\":null,\"bytes_received\":null,\"rtt_us\":null,"
		 "\"min_rtt_us\":null,\"cgroup_id\":null,\"cgroup\":null");
	conn_tc(&d, 1004, "\"bytes_acked\":0,\"bytes_received\":0,\"rtt_us\":0,\"min_rtt_us\":0,"
		 "\"cgroup_id\":77,\"cgroup\":\"/<script>x</script>\"");	/* same id, another path */
	conn_tc(&d, 1005, "\"bytes_acked\":-5,\"bytes_received\":\"many\",\"rtt_us\":1e300,"
		 "\"min_rtt_us\":[],\"cgroup_id\":9223372036854775807,\"cgroup\":5");
	CHECK_INT(d.nconns, 5);
	CHECK_INT(d.ngroups, 3);
	CHECK_INT(d.conns[0].group, d.conns[1].group);
	CHECK(d.conns[0].group && d.conns[3].group && d.conns[0].group != d.conns[3].group);
	CHECK_INT(d.conns[2].group, 0);
	CHECK_INT(d.conns[0].bytes_acked, 3002);
	CHECK_INT(d.conns[2].bytes_acked, TF_RP_NONE);
	CHECK_INT(d.conns[4].bytes_acked, TF_RP_NONE);
	CHECK_INT(d.conns[4].bytes_received, TF_RP_NONE);
	CHECK_INT(d.conns[4].rtt_us, TF_RP_NONE);
	if (d.conns[4].group) {		/* an id, no path */
		const struct tf_rp_group *g = tf_rp_group_of(&d, &d.conns[4]);

		CHECK(g->id == INT64_MAX && g->path == TF_RP_NO_TEXT);
	}
	page = page_of(&d, 100);
	CHECK(strstr(page, "<td>3002</td><td>1</td><td>212µs / 180µs</td><td class=\"l cg\" "
			   "title=\"cgroup_id 77\">/kubepods/pod1/0123456789abcdef"));
	CHECK(strstr(page, "<br><span class=\"mut\">container 0123456789abcdef0123456789abcdef"
			   "0123456789abcdef0123456789abcdef</span><br><span class=\"mut\">pod "
			   "0f0e0d0c-0b0a-0908-0706-050403020100</span></td>"));
	CHECK_INT(count(page, "<td>–</td><td>–</td><td>–</td><td class=\"l\">–</td>"), 1);
	CHECK(strstr(page, "<td>0</td><td>0</td><td>–</td><td class=\"l cg\" title=\"cgroup_id 77\">"
			   "/&lt;script&gt;x&lt;/script&gt;</td>"));
	CHECK(!strstr(page, "<script>x"));
	CHECK(strstr(page, "data-cgroup=\"/&lt;script&gt;x&lt;/script&gt;\""));
	CHECK(strstr(page, "data-cgroup=\"\""));
	CHECK(strstr(page, "<input id=\"f-cgroup\""));
	free(page);
	tf_rp_free(&d);

	/* more groups than kept: counted, said, their conns still listed */
	tf_rp_init(&d);
	for (unsigned i = 0; i < TF_RP_MAX_GROUPS + 3; i++) {
		snprintf(fields, sizeof(fields), "\"cgroup_id\":%u", i + 1);
		conn_tc(&d, 1 + i % 60000, fields);
	}
	CHECK_INT(d.ngroups, TF_RP_MAX_GROUPS);
	CHECK_INT(d.groups_not_kept, 3);
	CHECK_INT(d.nconns, TF_RP_MAX_GROUPS + 3);
	page = page_of(&d, 5);
	CHECK(strstr(page, "<tr><td>connections whose cgroup is not shown (over 65536 cgroups)</td>"
			   "<td class=\"warn\">3</td></tr>"));
	free(page);
	tf_rp_free(&d);
}

TF_TEST_MAIN("test_report", T(golden_syn_retrans), T(golden_fin_retrans),
	     T(golden_close_wait_open), T(time_wait_records), T(missed_transitions_flag), T(golden_single_lanes), T(golden_histograms), T(pairing),
	     T(bad_input_counted), T(mutations_survive), T(html_page),
	     T(html_from_the_writer), T(html_traffic_and_cgroup))
