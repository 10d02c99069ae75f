/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report's drawings as inline SVG (ladder.c, histogram.c): pure
 * functions of their inputs (no clock, no globals), byte-for-byte stable,
 * checked against golden files.
 */
#ifndef TF_RP_SVG_H
#define TF_RP_SVG_H

#include <stdint.h>
#include <stdio.h>
#include "model.h"

/*
 * A ladder diagram of one connection as one inline <svg>. left/right: the
 * client and the server socket records (either may be NULL: that lane is
 * drawn as "inferred"; both NULL draws nothing). id makes element ids unique.
 */
void tf_svg_ladder(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *left,
		   const struct tf_rp_conn *right, int id);
/* The legend of the arrow styles. */
void tf_svg_legend(FILE *o);

struct tf_svg_series {
	const char *name;
	const char *cls;	/* CSS class: s0, s1, s2 */
	const uint64_t *counts;	/* TF_DISPLAY_BUCKETS (include/tf_buckets.h) */
};

/* A histogram with log-scaled axes (duration in us on x, connections on y). */
void tf_svg_hist(FILE *o, const char *title, const char *xlabel,
		 const struct tf_svg_series *series, int nseries);

#endif /* TF_RP_SVG_H */
