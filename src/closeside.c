// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The close side's names, one table each: the JSON and the metrics write
 * them, the report reads them back. See closeside.h.
 */
#include "closeside.h"

static const char *const tw_end_names[TF_TWE_MAX] = {
	[TF_TWE_EXPIRED] = "expired",	  [TF_TWE_REUSED] = "reused",
	[TF_TWE_RESET] = "reset",	  [TF_TWE_NETNS_GONE] = "netns_gone",
	[TF_TWE_UNKNOWN] = "unknown",	  [TF_TWE_NOT_SWEPT] = "not_swept",
};

static const char *const handover_names[TF_TWH_MAX] = {
	[TF_TWH_UNKNOWN] = "unknown",
	[TF_TWH_KERNEL_STAMP] = "kernel_stamp",
	[TF_TWH_TRACED] = "traced",
};

const char *tf_tw_end_name(int reason)
{
	return reason >= 0 && reason < TF_TWE_MAX ? tw_end_names[reason] : "unknown";
}

const char *tf_tw_handover_name(int src)
{
	return src >= 0 && src < TF_TWH_MAX ? handover_names[src] : "unknown";
}
