// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The page: summary tables, histograms, the chosen ladder diagrams, the
 * connection table and a filter box, in one self-contained HTML file. Its
 * stylesheet and script are src/report/page.css and page.js, embedded at
 * build time (the Makefile's report_assets.c). See report.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include "diagrams.h"
#include "report.h"
#include "svg.h"

/* src/report/page.css and page.js, NUL-terminated (generated: report_assets.c) */
extern const char tf_rp_page_css[];
extern const char tf_rp_page_js[];

/* The table heads of traffic_cells(). */
#define TRAFFIC_TH "<th title=\"bytes the peer acknowledged (bytes_acked), read at CLOSE\">TX bytes</th>" \
		   "<th title=\"bytes received (bytes_received), read at CLOSE\">RX bytes</th>" \
		   "<th title=\"smoothed / minimum round-trip time at CLOSE (rtt_us / min_rtt_us)\">RTT / min</th>"

static void num_cell(FILE *o, uint64_t v, bool warn_if_nonzero)
{
	fprintf(o, "<td%s>%" PRIu64 "</td>", warn_if_nonzero && v ? " class=\"warn\"" : "", v);
}

/* The group's texts (path, container id, pod uid), escaped, one space apart. */
static void group_words(FILE *o, const struct tf_rp_data *d, const struct tf_rp_group *g)
{
	const char *t[3] = { tf_rp_text(d, g->path), tf_rp_text(d, g->container),
			     tf_rp_text(d, g->pod) };
	bool first = true;

	for (int k = 0; k < 3; k++)
		if (t[k]) {
			fputs(first ? "" : " ", o);
			tf_fmt_html(o, t[k]);
			first = false;
		}
}

/*
 * data-ports / data-pids / data-close (close kinds and ends) / data-cgroup
 * (cgroup paths, container ids, pod uids) of one or two conns
 */
static void filter_attrs(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *a,
			 const struct tf_rp_conn *b)
{
	const struct tf_rp_conn *v[2] = { a, b };
	bool first = true;

	fputs(" data-ports=\"", o);
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			fprintf(o, "%s%u %u", first ? "" : " ", v[k]->sport, v[k]->dport);
			first = false;
		}
	fputs("\" data-pids=\"", o);
	first = true;
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			fprintf(o, "%s%u", first ? "" : " ", v[k]->pid);
			first = false;
		}
	fputs("\" data-close=\"", o);
	first = true;
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			fprintf(o, "%s%s", first ? "" : " ", tf_close_kind_name(v[k]->close_kind));
			if (strcmp(tf_close_end_name(v[k]->close_end), tf_close_kind_name(v[k]->close_kind)))
				fprintf(o, " %s", tf_close_end_name(v[k]->close_end));
			first = false;
		}
	fputs("\" data-cgroup=\"", o);
	first = true;
	for (int k = 0; k < 2; k++)
		if (v[k] && tf_rp_group_of(d, v[k])) {
			fputs(first ? "" : " ", o);
			group_words(o, d, tf_rp_group_of(d, v[k]));
			first = false;
		}
	fputc('"', o);
}

/* A count read at CLOSE, or "–" when it was not read. */
static const char *count_text(int64_t v, char *buf, size_t len)
{
	if (v == TF_RP_NONE)
		return "–";
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

/* <td>s of what a conn carried: bytes acknowledged by the peer, bytes received, "rtt / min". */
static void traffic_cells(FILE *o, const struct tf_rp_conn *c)
{
	char b1[32], b2[32];

	fprintf(o, "<td>%s</td>", count_text(c->bytes_acked, b1, sizeof(b1)));
	fprintf(o, "<td>%s</td>", count_text(c->bytes_received, b2, sizeof(b2)));
	if (c->rtt_us == TF_RP_NONE || c->rtt_us == 0)	/* not read; no sample (refused) */
		fputs("<td>–</td>", o);
	else
		fprintf(o, "<td>%s / %s</td>", tf_rp_dur(c->rtt_us, TF_DUR_PAGE, b1, sizeof(b1)),
			tf_rp_dur(c->min_rtt_us, TF_DUR_PAGE, b2, sizeof(b2)));
}

/* The <td> of a conn's cgroup: its path, and the container and pod it names. */
static void cgroup_cell(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	const struct tf_rp_group *g = tf_rp_group_of(d, c);
	const char *path, *ctr, *pod;

	if (!g) {
		fputs("<td class=\"l\">–</td>", o);
		return;
	}
	path = tf_rp_text(d, g->path);
	ctr = tf_rp_text(d, g->container);
	pod = tf_rp_text(d, g->pod);
	fprintf(o, "<td class=\"l cg\" title=\"cgroup_id %" PRIu64 "\">", g->id);
	tf_fmt_html(o, path ? path : "–");
	if (ctr) {
		fputs("<br><span class=\"mut\">container ", o);
		tf_fmt_html(o, ctr);
		fputs("</span>", o);
	}
	if (pod) {
		fputs("<br><span class=\"mut\">pod ", o);
		tf_fmt_html(o, pod);
		fputs("</span>", o);
	}
	fputs("</td>", o);
}

static void write_summary(FILE *o, const struct tf_rp_data *d)
{
	const struct tf_rp_agg *a = &d->agg;
	const struct tf_rp_stats *st = &d->stats;
	static const int role_order[3] = { TF_ROLE_CLIENT, TF_ROLE_SERVER, TF_ROLE_UNKNOWN };
	uint64_t col[TF_CK_MAX + 1] = { 0 }, other;

	fputs("<section id=\"summary\"><h2>Summary</h2><div class=\"grid\">\n", o);

	/* connections by role and close kind */
	fputs("<div class=\"card\"><h3>Connections by role and close</h3><table id=\"t-close\"><tr><th>role</th>", o);
	for (int r = 0; r < 3; r++)
		for (int k = 0; k <= TF_CK_MAX; k++)
			col[k] += a->by_role_close[r][k];
	for (int k = 0; k <= TF_CK_MAX; k++)
		if (col[k])
			fprintf(o, "<th>%s</th>", tf_close_kind_name(k));
	fputs("<th>all</th></tr>\n", o);
	for (int ri = 0; ri < 3; ri++) {
		int r = role_order[ri];
		uint64_t tot = 0;

		for (int k = 0; k <= TF_CK_MAX; k++)
			tot += a->by_role_close[r][k];
		if (!tot && r == TF_ROLE_UNKNOWN)
			continue;
		fprintf(o, "<tr><td>%s</td>", tf_role_name(r));
		for (int k = 0; k <= TF_CK_MAX; k++)
			if (col[k])
				num_cell(o, a->by_role_close[r][k], false);
		fprintf(o, "<td><b>%" PRIu64 "</b></td></tr>\n", tot);
	}
	fprintf(o, "<tr><td>all</td>");
	for (int k = 0; k <= TF_CK_MAX; k++)
		if (col[k])
			num_cell(o, col[k], false);
	fprintf(o, "<td><b>%" PRIu64 "</b></td></tr></table>\n", a->conns);
	fputs("<p class=\"mut\">active: we sent the first FIN; passive: the peer did; open: still open "
	      "when tracing stopped.</p></div>\n", o);

	/* retransmissions */
	other = a->retrans > a->syn_retrans + a->synack_retrans + a->fin_retrans ?
			a->retrans - a->syn_retrans - a->synack_retrans - a->fin_retrans : 0;
	fputs("<div class=\"card\"><h3>Retransmissions</h3><table id=\"t-retrans\">\n", o);
	fputs("<tr><td>SYN</td>", o);
	num_cell(o, a->syn_retrans, true);
	fputs("</tr>\n<tr><td>SYN-ACK</td>", o);
	num_cell(o, a->synack_retrans, true);
	fputs("</tr>\n<tr><td>FIN</td>", o);
	num_cell(o, a->fin_retrans, true);
	fprintf(o, "</tr>\n<tr><td class=\"mut\">&nbsp;&nbsp;in FIN_WAIT1 / LAST_ACK / CLOSING</td>"
		   "<td class=\"mut\">%" PRIu64 " / %" PRIu64 " / %" PRIu64 "</td></tr>\n",
		a->fin_fw1, a->fin_la, a->fin_cl);
	fputs("<tr><td>data and other</td>", o);
	num_cell(o, other, false);
	fputs("</tr>\n<tr><td>connections with any</td>", o);
	num_cell(o, a->conns_retrans, true);
	fputs("</tr></table></div>\n", o);

	/* close side */
	fputs("<div class=\"card\"><h3>Resets and close</h3><table id=\"t-end\">\n", o);
	fputs("<tr><td>resets sent</td>", o);
	num_cell(o, a->rst_sent, false);
	fputs("</tr>\n<tr><td>resets received</td>", o);
	num_cell(o, a->rst_received, false);
	fputs("</tr>\n<tr><td>TIME-WAIT hand-overs</td>", o);
	num_cell(o, a->time_wait, false);
	fputs("</tr>\n", o);
	for (int k = 0; k < TF_TWE_MAX; k++)
		if (a->tw_ends[k])
			fprintf(o, "<tr><td class=\"mut\">&nbsp;&nbsp;TIME-WAIT ended: %s</td><td "
				   "class=\"mut\">%" PRIu64 "</td></tr>\n", tf_tw_end_name(k), a->tw_ends[k]);
	fputs("<tr><td>half-closed, open at exit</td>", o);
	num_cell(o, a->open_half_closed, true);
	fputs("</tr>\n<tr><td>reported stuck while tracing</td>", o);
	num_cell(o, d->stuck_records, true);
	fputs("</tr>\n<tr><td>incomplete records</td>", o);
	num_cell(o, a->incomplete, false);
	fputs("</tr></table></div>\n", o);

	/* the capture itself */
	fputs("<div class=\"card\"><h3>Capture</h3><table id=\"t-capture\">\n", o);
	if (st->lines) {
		fputs("<tr><td>lost events</td>", o);
		num_cell(o, st->lost, true);
		fprintf(o, "</tr>\n<tr><td class=\"mut\">&nbsp;&nbsp;ring buffer / table full / "
			   "kernel skipped</td><td class=\"mut\">%" PRIu64 " / %" PRIu64 " / %" PRIu64
			   "</td></tr>\n",
			st->lost_ringbuf + st->lost_ringbuf_events, st->lost_table_full,
			st->recursion_misses);
		fprintf(o, "<tr><td>state changes traced</td><td>%" PRIu64 "</td></tr>\n", st->events);
		fprintf(o, "<tr><td>connections (stats line)</td><td%s>%" PRIu64 "</td></tr>\n",
			st->conns != a->conns ? " class=\"warn\"" : "", st->conns);
		fprintf(o, "<tr><td>open at exit</td><td>%" PRIu64 "</td></tr>\n", st->open_at_exit);
		if (st->lines > 1)
			fprintf(o, "<tr><td>stats lines (summed)</td><td>%u</td></tr>\n", st->lines);
	} else {
		fputs("<tr><td colspan=\"2\" class=\"warn\">no stats line: the capture was cut short, "
		      "lost events unknown</td></tr>\n", o);
	}
	fprintf(o, "<tr><td>connection records read</td><td>%" PRIu64 "</td></tr>\n", a->conns);
	if (a->flagged_lost)
		fprintf(o, "<tr><td>records marked events_lost or missed_transitions</td><td class=\"warn\">%" PRIu64
			   "</td></tr>\n", a->flagged_lost);
	for (int i = 0; i < d->ntypes; i++) {
		fputs("<tr><td>other records: &quot;", o);
		tf_fmt_html(o, d->types[i].name);
		fprintf(o, "&quot;</td><td>%" PRIu64 "</td></tr>\n", d->types[i].count);
	}
	if (d->other_types)
		fprintf(o, "<tr><td>other records, more types</td><td>%" PRIu64 "</td></tr>\n",
			d->other_types);
	if (d->bad_json + d->too_long + d->bad_record) {
		fprintf(o, "<tr><td>input lines skipped</td><td class=\"warn\">%" PRIu64 "</td></tr>\n",
			d->bad_json + d->too_long + d->bad_record);
		fprintf(o, "<tr><td class=\"mut\">&nbsp;&nbsp;not JSON / too long / unusable</td>"
			   "<td class=\"mut\">%" PRIu64 " / %" PRIu64 " / %" PRIu64 "</td></tr>\n",
			d->bad_json, d->too_long, d->bad_record);
	}
	if (d->not_kept)
		fprintf(o, "<tr><td>counted but not drawn (over %d)</td><td>%" PRIu64 "</td></tr>\n",
			TF_RP_MAX_KEPT, d->not_kept);
	if (d->groups_not_kept)
		fprintf(o, "<tr><td>connections whose cgroup is not shown (over %d cgroups)</td>"
			   "<td class=\"warn\">%" PRIu64 "</td></tr>\n", TF_RP_MAX_GROUPS,
			d->groups_not_kept);
	fprintf(o, "<tr><td>input lines</td><td>%" PRIu64 "</td></tr>\n", d->lines);
	fputs("</table></div>\n</div></section>\n", o);
}

static void write_histograms(FILE *o, const struct tf_rp_data *d)
{
	const struct tf_rp_agg *a = &d->agg;
	struct tf_svg_series hs[3] = {
		{ "client: SYN sent → ESTABLISHED", "s0", a->hs_hist[0] },
		{ "server: first SYN-ACK → final ACK", "s1", a->hs_hist[1] },
		{ "unknown role", "s2", a->hs_hist[2] },
	};
	struct tf_svg_series cl[3] = {
		{ "active close", "s0", a->close_hist[0] },
		{ "passive close", "s1", a->close_hist[1] },
		{ "simultaneous / other", "s2", a->close_hist[2] },
	};

	fputs("<section id=\"histograms\"><h2>Durations</h2><div class=\"grid\">\n"
	      "<div class=\"card\" id=\"h-handshake\">", o);
	tf_svg_hist(o, "Handshake duration", "handshake_us", hs, 3);
	fprintf(o, "<p class=\"mut\">%" PRIu64 " handshakes. The client measures from its first SYN, "
		   "the server from its first SYN-ACK (the kernel's timestamp or first RTT sample).</p>"
		   "</div>\n<div class=\"card\" id=\"h-close\">", a->hs_n);
	tf_svg_hist(o, "Close duration", "close_us", cl, 3);
	fprintf(o, "<p class=\"mut\">%" PRIu64 " closes, from the first FIN sent or received to "
		   "CLOSE. For an orphaned active closer CLOSE is the hand-over to the timewait socket, "
		   "often before the peer's FIN; after shutdown() it is the peer's FIN.</p></div>\n"
		   "</div></section>\n", a->close_n);
}

static void reasons_text(FILE *o, const struct tf_rp_data *d, const struct tf_rp_diagram *g)
{
	const struct tf_rp_conn *v[2] = {
		g->left >= 0 ? &d->conns[g->left] : NULL,
		g->right >= 0 ? &d->conns[g->right] : NULL,
	};
	char b[32];

	if (g->reasons & TF_RP_SLOW) {
		int64_t hs = TF_RP_NONE;

		for (int k = 0; k < 2; k++)
			if (v[k] && v[k]->handshake_us != TF_RP_NONE && v[k]->handshake_us > hs)
				hs = v[k]->handshake_us;
		fprintf(o, "<span class=\"why\">slowest handshake #%d: %s</span>", g->slow_rank,
			tf_rp_dur(hs, TF_DUR_PAGE, b, sizeof(b)));
	}
	if (g->reasons & TF_RP_RETRANS) {
		uint64_t syn = 0, sa = 0, fin = 0, all = 0;

		for (int k = 0; k < 2; k++)
			if (v[k]) {
				syn += v[k]->syn_retrans;
				sa += v[k]->synack_retrans;
				fin += v[k]->fin_retrans;
				all += v[k]->retrans;
			}
		fputs("<span class=\"why re\">retransmitted:", o);
		if (syn)
			fprintf(o, " %" PRIu64 " SYN", syn);
		if (sa)
			fprintf(o, " %" PRIu64 " SYN-ACK", sa);
		if (fin)
			fprintf(o, " %" PRIu64 " FIN", fin);
		if (all > syn + sa + fin)
			fprintf(o, " %" PRIu64 " other", all - syn - sa - fin);
		fputs("</span>", o);
	}
	for (int k = 0; k < 2; k++) {
		if (!v[k])
			continue;
		if ((g->reasons & TF_RP_OPEN) && tf_rp_open_half_closed(d, v[k]))
			fprintf(o, "<span class=\"why open\">%s open in %s at exit</span>",
				tf_role_name(v[k]->role), tf_state_name(tf_rp_last_state(d, v[k])));
		if ((g->reasons & TF_RP_STUCK) && v[k]->stuck_state) {
			fprintf(o, "<span class=\"why open\">reported stuck in %s",
				tf_state_name(v[k]->stuck_state));
			if (v[k]->stuck_age_us != TF_RP_NONE)
				fprintf(o, " for %s", tf_rp_dur(v[k]->stuck_age_us, TF_DUR_PAGE, b, sizeof(b)));
			fputs("</span>", o);
		}
	}
}

static void facts_row(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *c,
		      const char *lane)
{
	char b1[32], b2[32];

	fprintf(o, "<tr><td class=\"l\">%s</td>", lane);
	if (!c) {
		fputs("<td class=\"l mut\" colspan=\"12\">not in the capture: drawn as inferred from the "
		      "other socket's events</td></tr>\n", o);
		return;
	}
	fprintf(o, "<td class=\"l\">%u ", c->pid);
	tf_fmt_html(o, c->comm);
	fprintf(o, "</td><td class=\"l\">%s</td><td>%s</td><td class=\"l\">%s / %s%s%s</td><td>%s</td>"
		   "<td>%u / %u / %u / %u",
		tf_role_name(c->role), tf_rp_dur(c->handshake_us, TF_DUR_PAGE, b1, sizeof(b1)),
		tf_close_kind_name(c->close_kind), tf_close_end_name(c->close_end),
		c->reset ? ", reset " : "", c->reset ? tf_reset_name(c->reset) : "",
		tf_rp_dur(c->close_us, TF_DUR_PAGE, b2, sizeof(b2)), c->syn_retrans, c->synack_retrans,
		c->fin_retrans, c->retrans);
	fputs("</td>", o);
	traffic_cells(o, c);
	cgroup_cell(o, d, c);
	fputs("<td class=\"l\">", o);
	if (c->flags & TF_RPF_MIDLIFE)
		fputs("began before trace ", o);
	if (c->flags & TF_RPF_OPEN)
		fputs("open at exit ", o);
	if (c->flags & (TF_RPF_STATES_TRUNC | TF_RPF_RETRANS_TRUNC))
		fputs("<span class=\"warn\">truncated</span> ", o);
	if (c->flags & TF_RPF_LOST)
		fputs("<span class=\"warn\">events lost</span> ", o);
	if (c->flags & TF_RPF_GAP)
		fputs("<span class=\"warn\">missed transitions</span> ", o);
	if (c->flags & TF_RPF_REPLACED)
		fputs("<span class=\"warn\">close not seen</span> ", o);
	fprintf(o, "</td><td>line %u</td></tr>\n", c->line);
}

static void write_diagrams(FILE *o, const struct tf_rp_data *d, const struct tf_rp_selection *s,
			   const struct tf_rp_opts *opt)
{
	fputs("<section id=\"diagrams\"><h2>Ladder diagrams</h2>\n<div class=\"card\">", o);
	fprintf(o, "<p>The %d slowest handshakes, every connection with retransmissions and every "
		   "half-closed connection still open at exit (or reported stuck). Time runs down; the "
		   "two lanes are the client (left) and the server (right) socket, with their TCP "
		   "states and times since the first event. A lane drawn from real data comes from "
		   "that socket's own record (both sockets were traced: loopback, containers); an "
		   "<i>inferred</i> lane was not in the capture.</p>\n", opt->top);
	tf_svg_legend(o);
	fputs("</div>\n", o);
	if (!s->n)
		fputs("<p class=\"mut\" id=\"no-diagrams\">Nothing to draw: no handshakes, "
		      "retransmissions or half-closed connections in this capture.</p>\n", o);
	for (int k = 0; k < s->n; k++) {
		const struct tf_rp_diagram *g = &s->v[k];
		const struct tf_rp_conn *l = g->left >= 0 ? &d->conns[g->left] : NULL;
		const struct tf_rp_conn *r = g->right >= 0 ? &d->conns[g->right] : NULL;
		const struct tf_rp_conn *any = l ? l : r;
		char e1[64], e2[64];
		unsigned nre = (l ? l->nretrans : 0) + (r ? r->nretrans : 0);

		fprintf(o, "<figure class=\"ladder\" id=\"d%d\"", k + 1);
		filter_attrs(o, d, l, r);
		fprintf(o, " data-reasons=\"%s%s%s%s\" data-retrans=\"%u\" data-lanes=\"%s\">\n<figcaption>",
			g->reasons & TF_RP_SLOW ? "slow " : "", g->reasons & TF_RP_RETRANS ? "retrans " : "",
			g->reasons & TF_RP_OPEN ? "open " : "", g->reasons & TF_RP_STUCK ? "stuck " : "", nre,
			l && r ? "both" : "one");
		reasons_text(o, d, g);
		if (l)
			fprintf(o, "<b>%s → %s</b>", tf_rp_endpoint(l, true, e1, sizeof(e1)),
				tf_rp_endpoint(l, false, e2, sizeof(e2)));
		else
			fprintf(o, "<b>%s → %s</b>", tf_rp_endpoint(r, false, e1, sizeof(e1)),
				tf_rp_endpoint(r, true, e2, sizeof(e2)));
		fprintf(o, " <span class=\"mut\">netns %u · %s</span></figcaption>\n", any->netns,
			l && r ? "both sockets traced" : "one socket traced, the other lane inferred");
		fputs("<table class=\"facts\"><tr><th class=\"l\">lane</th><th class=\"l\">pid comm</th>"
		      "<th class=\"l\">role</th><th>handshake</th><th class=\"l\">close / end</th>"
		      "<th>close took</th><th>retrans SYN/SYN-ACK/FIN/all</th>" TRAFFIC_TH
		      "<th class=\"l\">cgroup</th><th class=\"l\">notes</th><th></th></tr>\n", o);
		facts_row(o, d, l, "left");
		facts_row(o, d, r, "right");
		fputs("</table>\n", o);
		tf_svg_ladder(o, d, l, r, k + 1);
		fputs("</figure>\n", o);
	}
	if (s->not_drawn)
		fprintf(o, "<p class=\"warn\">%" PRIu64 " more connections qualified but were not drawn "
			   "(limit %d, --max-diagrams).</p>\n", s->not_drawn, s->max);
	fputs("</section>\n", o);
}

static void states_compact(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	const struct tf_rp_state *st = tf_rp_states(d, c);

	for (int i = 0; i < c->nstates; i++)
		fprintf(o, "%s%s", i ? "→<wbr>" : "", tf_state_name(st[i].state));
}

static void write_table(FILE *o, const struct tf_rp_data *d, const struct tf_rp_selection *s,
			const struct tf_rp_opts *opt)
{
	size_t n = d->nconns < (size_t)opt->max_rows ? d->nconns : (size_t)opt->max_rows;
	char b1[32], b2[32], e1[64], e2[64];

	fputs("<section id=\"connections\"><h2>Connections</h2><div class=\"card\" style=\"overflow-x:auto\">"
	      "<table class=\"conns\"><tr><th>line</th><th class=\"l\">start (UTC)</th><th class=\"l\">role</th>"
	      "<th class=\"l\">local</th><th class=\"l\">remote</th><th>pid</th><th class=\"l\">comm</th>"
	      "<th>handshake</th><th class=\"l\">close</th><th class=\"l\">end</th><th>close took</th>"
	      "<th>retrans</th>" TRAFFIC_TH "<th class=\"l\">cgroup</th><th class=\"l\">diagram</th>"
	      "<th class=\"l\">states</th></tr>\n", o);
	for (size_t i = 0; i < n; i++) {
		const struct tf_rp_conn *c = &d->conns[i];
		char t[128] = "–";

		if (c->start_us != TF_RP_NONE) {
			time_t sec = (time_t)(c->start_us / 1000000);
			struct tm tm;

			if (gmtime_r(&sec, &tm))
				snprintf(t, sizeof(t), "<span title=\"%04d-%02d-%02d\">%02d:%02d:%02d.%06d"
					 "</span>", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(c->start_us % 1000000));
		}
		fprintf(o, "<tr");
		filter_attrs(o, d, c, NULL);
		fprintf(o, "><td>%u</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td>"
			   "<td class=\"l\">%s</td><td>%u</td><td class=\"l\">",
			c->line, t, tf_role_name(c->role), tf_rp_endpoint(c, true, e1, sizeof(e1)),
			tf_rp_endpoint(c, false, e2, sizeof(e2)), c->pid);
		tf_fmt_html(o, c->comm);
		fprintf(o, "</td><td>%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%s</td>"
			   "<td%s>%u</td>",
			tf_rp_dur(c->handshake_us, TF_DUR_PAGE, b1, sizeof(b1)), tf_close_kind_name(c->close_kind),
			tf_close_end_name(c->close_end), tf_rp_dur(c->close_us, TF_DUR_PAGE, b2, sizeof(b2)),
			c->retrans ? " class=\"warn\"" : "", c->retrans);
		traffic_cells(o, c);
		cgroup_cell(o, d, c);
		fputs("<td class=\"l\">", o);
		if (s->of[i] > 0)
			fprintf(o, "<a href=\"#d%d\">#%d</a>", s->of[i], s->of[i]);
		fputs("</td><td class=\"l states\">", o);
		states_compact(o, d, c);
		fputs("</td></tr>\n", o);
	}
	fputs("</table>", o);
	if (n < d->nconns)
		fprintf(o, "<p class=\"mut\">First %zu of %zu connections listed (--max-rows).</p>", n,
			d->nconns);
	fputs("</div></section>\n", o);
}

int tf_rp_write_html(FILE *o, struct tf_rp_data *d, const struct tf_rp_opts *opt)
{
	struct tf_rp_selection s;
	uint64_t col[TF_CK_MAX + 1] = { 0 };

	if (tf_rp_select(d, opt->top, opt->max_diagrams, &s)) {
		tf_rp_selection_free(&s);
		errno = ENOMEM;
		return -1;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"tcpflow-trace report\">\n<title>TCP report: ", o);
	tf_fmt_html(o, opt->input_name);
	fprintf(o, "</title>\n<style>\n%s</style></head><body>\n", tf_rp_page_css);
	fputs("<header><h1>TCP connection lifecycle report</h1><p class=\"sub\">", o);
	tf_fmt_html(o, opt->input_name);
	fprintf(o, " · %" PRIu64 " connections · %d diagrams · made by tcpflow-trace report from a "
		   "--json capture</p></header>\n", d->agg.conns, s.n);

	/* the filter box */
	for (int r = 0; r < 3; r++)
		for (int k = 0; k <= TF_CK_MAX; k++)
			col[k] += d->agg.by_role_close[r][k];
	fputs("<form id=\"filter\" onsubmit=\"return false\"><b>Filter</b>"
	      "<label>port <input id=\"f-port\" type=\"text\" inputmode=\"numeric\" placeholder=\"any\"></label>"
	      "<label>pid <input id=\"f-pid\" type=\"text\" inputmode=\"numeric\" placeholder=\"any\"></label>"
	      "<label>cgroup <input id=\"f-cgroup\" type=\"text\" placeholder=\"any\" "
	      "title=\"part of a cgroup path, container id or pod uid\"></label>"
	      "<label>close <select id=\"f-close\"><option value=\"\">any</option>", o);
	for (int k = 0; k <= TF_CK_MAX; k++)
		if (col[k])
			fprintf(o, "<option value=\"%s\">%s</option>", tf_close_kind_name(k), tf_close_kind_name(k));
	for (int k = 0; k <= TF_CE_MAX; k++) {	/* how it ended, unless named above */
		bool dup = false;

		for (int j = 0; j <= TF_CK_MAX; j++)
			dup |= col[j] && !strcmp(tf_close_kind_name(j), tf_close_end_name(k));
		if (d->agg.by_end[k] && !dup)
			fprintf(o, "<option value=\"%s\">%s</option>", tf_close_end_name(k), tf_close_end_name(k));
	}
	fputs("</select></label><span id=\"f-count\"></span></form>\n<main>\n", o);

	write_summary(o, d);
	write_histograms(o, d);
	write_diagrams(o, d, &s, opt);
	write_table(o, d, &s, opt);
	fprintf(o, "</main>\n<script>\n%s</script>\n</body></html>\n", tf_rp_page_js);
	tf_rp_selection_free(&s);
	return ferror(o) ? -1 : 0;
}
