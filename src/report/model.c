// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report's model: its lifetime and names. See model.h. */
#include <stdlib.h>
#include <string.h>
#include "model.h"

void tf_rp_init(struct tf_rp_data *d)
{
	memset(d, 0, sizeof(*d));
}

void tf_rp_free(struct tf_rp_data *d)
{
	free(d->conns);
	free(d->states);
	free(d->retrans);
	tf_ohash_free(&d->tuples);
	free(d->groups);
	free(d->text);
	tf_ohash_free(&d->group_ids);
	free(d->stuck);
	free(d->tw);
	memset(d, 0, sizeof(*d));
}

bool tf_rp_usable(const struct tf_rp_data *d)
{
	return d->agg.conns > 0 || d->stats.lines > 0;
}

const char *tf_rp_tw_end_name(int i)
{
	static const char *const n[TF_RP_TW_ENDS] = { "expired", "reused", "reset", "netns_gone",
						      "unknown" };

	return i >= 0 && i < TF_RP_TW_ENDS ? n[i] : "unknown";
}
