// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report's model: its lifetime. See model.h. */
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
