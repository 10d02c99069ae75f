// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "core.h"

void tf_core_init(struct tf_core *core)
{
	memset(core, 0, sizeof(*core));
}

int tf_core_add_sink(struct tf_core *core, struct tf_sink *sk)
{
	if (!sk || core->nsinks >= TF_MAX_SINKS)
		return -1;
	core->sinks[core->nsinks++] = sk;
	return 0;
}

static void on_conn(struct tf_core *core, const struct tf_conn *c)
{
	struct tf_summary s;

	tf_summarize(c, &s);
	core->stats.conns++;
	if (c->flags & TF_F_OPEN)
		core->stats.flushed_open++;
	for (int i = 0; i < core->nsinks; i++)
		if (core->sinks[i]->ops->conn)
			core->sinks[i]->ops->conn(core->sinks[i], &s);
}

static void on_state(struct tf_core *core, const struct tf_state_event *e)
{
	core->stats.state_events++;
	for (int i = 0; i < core->nsinks; i++)
		if (core->sinks[i]->ops->state)
			core->sinks[i]->ops->state(core->sinks[i], e);
}

int tf_core_record(struct tf_core *core, const void *data, size_t len)
{
	__u16 type;

	if (!data || len < sizeof(type))
		goto bad;
	memcpy(&type, data, sizeof(type));
	/* Copy out of the ring buffer: aligned, and ours to keep stable. */
	if (type == TF_REC_CONN && len == sizeof(struct tf_conn)) {
		struct tf_conn c;

		memcpy(&c, data, sizeof(c));
		on_conn(core, &c);
		return 0;
	}
	if (type == TF_REC_STATE && len == sizeof(struct tf_state_event)) {
		struct tf_state_event e;

		memcpy(&e, data, sizeof(e));
		on_state(core, &e);
		return 0;
	}
bad:
	core->malformed++;
	return -1;
}

void tf_core_tick(struct tf_core *core, uint64_t now_ns)
{
	for (int i = 0; i < core->nsinks; i++)
		if (core->sinks[i]->ops->tick)
			core->sinks[i]->ops->tick(core->sinks[i], now_ns, &core->stats);
}

/* Call ops->fn(sink, arg) on every sink that has it. */
#define FOR_SINKS(core, fn, ...)                                              \
	do {                                                                  \
		for (int i_ = 0; i_ < (core)->nsinks; i_++)                   \
			if ((core)->sinks[i_]->ops->fn)                        \
				(core)->sinks[i_]->ops->fn((core)->sinks[i_], __VA_ARGS__); \
	} while (0)

void tf_core_tw_sweep(struct tf_core *core, const struct tf_tw_snapshot *snap)
{
	FOR_SINKS(core, tw_sweep, snap);
}

void tf_core_tw_end(struct tf_core *core, const struct tf_tw_end *end)
{
	FOR_SINKS(core, tw_end, end);
}

void tf_core_stuck(struct tf_core *core, const struct tf_stuck *st)
{
	FOR_SINKS(core, stuck, st);
}

void tf_core_finish(struct tf_core *core)
{
	for (int i = 0; i < core->nsinks; i++)
		if (core->sinks[i]->ops->finish)
			core->sinks[i]->ops->finish(core->sinks[i], &core->stats);
}

void tf_core_free(struct tf_core *core)
{
	for (int i = 0; i < core->nsinks; i++)
		tf_sink_free(core->sinks[i]);
	core->nsinks = 0;
}
