// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Duration histograms as inline SVG (see svg.h): log scale on both axes,
 * the display buckets of include/tf_buckets.h (4 per decade), a tick at
 * every decade, a bar per series and bucket with the count in its title.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include "svg.h"

#define PER_DEC TF_DISPLAY_PER_DECADE	/* buckets per decade: a tick every PER_DEC */
#define H_W 500.0
#define H_H 290.0
#define H_L 58.0
#define H_R 488.0
#define H_T 70.0
#define H_B 234.0

static const char *decade_label(int i, char *buf, size_t len)
{
	static const char *const names[] = { "1µs", "10µs", "100µs", "1ms", "10ms", "100ms",
					     "1s", "10s", "100s" };
	int dec = (i - 1) / PER_DEC;

	if (i == 0)
		snprintf(buf, len, "0");
	else if (dec < 9)
		snprintf(buf, len, "%s", names[dec]);
	else
		snprintf(buf, len, "%.0fs", pow(10, dec - 6));
	return buf;
}

void tf_svg_hist(FILE *o, const char *title, const char *xlabel,
		 const struct tf_svg_series *series, int nseries)
{
	int lo = -1, hi = -1, nb;
	uint64_t maxc = 0, total = 0;
	double ymax_log, bw;
	char b[32];

	for (int s = 0; s < nseries; s++)
		for (int i = 0; i < TF_DISPLAY_BUCKETS; i++)
			if (series[s].counts[i]) {
				if (lo < 0 || i < lo)
					lo = i;
				if (i > hi)
					hi = i;
				if (series[s].counts[i] > maxc)
					maxc = series[s].counts[i];
				total += series[s].counts[i];
			}
	fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hist\" width=\"%.0f\" "
		   "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
		H_W, H_H, H_W, H_H);
	tf_fmt_html(o, title);
	fputs("\">\n<text class=\"ttl\" x=\"4\" y=\"16\">", o);
	tf_fmt_html(o, title);
	fputs("</text>\n", o);
	if (!total) {
		fprintf(o, "<text class=\"tick\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">no "
			   "durations in this capture</text>\n</svg>\n", (H_L + H_R) / 2, (H_T + H_B) / 2);
		return;
	}
	/* whole decades on x: from the decade of the smallest to past the largest */
	if (lo > 0)
		lo = 1 + (lo - 1) / PER_DEC * PER_DEC;
	hi = hi == 0 ? PER_DEC : 1 + ((hi - 1) / PER_DEC + 1) * PER_DEC;
	if (hi > TF_DISPLAY_BUCKETS)
		hi = TF_DISPLAY_BUCKETS;
	nb = hi - lo;
	bw = (H_R - H_L) / nb;
	ymax_log = ceil(log10((double)maxc));
	if (ymax_log < 1)
		ymax_log = 1;

	/* legend */
	for (int s = 0, y = 30; s < nseries; s++) {
		bool any = false;

		for (int i = 0; i < TF_DISPLAY_BUCKETS; i++)
			any |= series[s].counts[i] != 0;
		if (!any)
			continue;
		fprintf(o, "<rect class=\"%s\" x=\"%.0f\" y=\"%d\" width=\"10\" height=\"10\"/>"
			   "<text class=\"tick\" x=\"%.0f\" y=\"%d\">", series[s].cls, H_L + 8, y,
			H_L + 22, y + 9);
		tf_fmt_html(o, series[s].name);
		fputs("</text>\n", o);
		y += 14;
	}
	/* y grid: 1, 10, 100 ... (a bar of 1 stands one step above the axis) */
	for (int k = 0; k <= (int)ymax_log; k++) {
		double y = H_B - (H_B - H_T) * (k + 1) / (ymax_log + 1);

		fprintf(o, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
			H_L, y, H_R, y, H_L - 4, y + 4, pow(10, k));
	}
	fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0</text>\n", H_L - 4,
		H_B + 4);
	/* bars */
	for (int i = lo; i < hi; i++) {
		int shown = 0, k = 0;

		for (int s = 0; s < nseries; s++)
			shown += series[s].counts[i] != 0;
		for (int s = 0; s < nseries; s++) {
			uint64_t c = series[s].counts[i];
			double x, w, hgt;

			if (!c)
				continue;
			w = (bw - 2) / shown;
			x = H_L + (i - lo) * bw + 1 + k * w;
			hgt = (H_B - H_T) * (log10((double)c) + 1) / (ymax_log + 1);
			fprintf(o, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
				   "<title>", series[s].cls, x, H_B - hgt, w, hgt);
			tf_fmt_html(o, series[s].name);
			fprintf(o, ": %" PRIu64 " with %s ", c, xlabel);
			if (i == 0)
				fputs("&lt; 1µs", o);
			else
				fprintf(o, "%s", tf_rp_dur(tf_display_bucket_lo_us(i), TF_DUR_PAGE,
							   b, sizeof(b)));
			if (i > 0 && i + 1 < TF_DISPLAY_BUCKETS)
				fprintf(o, " to %s", tf_rp_dur(tf_display_bucket_lo_us(i + 1),
								 TF_DUR_PAGE, b, sizeof(b)));
			fputs("</title></rect>\n", o);
			k++;
		}
	}
	/* axes and decade ticks */
	fprintf(o, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		   "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
		H_L, H_B, H_R, H_B, H_L, H_T - 4, H_L, H_B);
	for (int i = lo; i <= hi; i++) {
		double x = H_L + (i - lo) * bw;

		if (i != 0 && (i - 1) % PER_DEC)
			continue;
		fprintf(o, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			x, H_B, x, H_B + 5, x, H_B + 17, decade_label(i, b, sizeof(b)));
	}
	fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (H_L + H_R) / 2,
		H_B + 36);
	tf_fmt_html(o, xlabel);
	fprintf(o, " (log scale, %d buckets per decade)</text>\n<text class=\"tick\" "
		   "transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">connections "
		   "(log scale)</text>\n</svg>\n", PER_DEC, (H_T + H_B) / 2);
}
