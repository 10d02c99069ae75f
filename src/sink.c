// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stddef.h>
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

/* priv after the sink, aligned for any type */
#define PRIV_OFF ((sizeof(struct tf_sink) + _Alignof(max_align_t) - 1) & \
		  ~(_Alignof(max_align_t) - 1))

struct tf_sink *tf_sink_alloc(const struct tf_sink_ops *ops, FILE *out, int64_t mono_to_real_ns,
			      size_t priv_size)
{
	struct tf_sink *sk = calloc(1, PRIV_OFF + priv_size);

	if (!sk)
		return NULL;
	if (priv_size)
		sk->priv = (char *)sk + PRIV_OFF;
	sk->ops = ops;
	sk->out = out;
	sk->mono_to_real_ns = mono_to_real_ns;
	return sk;
}
