// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include "sink.h"

void tf_sink_free(struct tf_sink *sk)
{
	if (!sk)
		return;
	if (sk->ops->free)
		sk->ops->free(sk);
	free(sk);
}

struct tf_sink *tf_sink_alloc(const struct tf_sink_ops *ops, FILE *out, int64_t mono_to_real_ns)
{
	struct tf_sink *sk = calloc(1, sizeof(*sk));

	if (!sk)
		return NULL;
	sk->ops = ops;
	sk->out = out;
	sk->mono_to_real_ns = mono_to_real_ns;
	return sk;
}
