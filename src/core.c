// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <string.h>
#include "conn.h"
#include "core.h"
#include "sink.h"
#include "tf_fold.h"

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

int tf_core_set_stage(struct tf_core *core, const struct tf_stage *stage)
{
	if (core->stage.conn)
		return -1;
	core->stage = *stage;
	return 0;
}

void tf_core_set_cgroup_name(struct tf_core *core, tf_cgroup_name_fn fn, void *ctx)
{
	core->cgroup_name = fn;
	core->cgroup_ctx = ctx;
}

void tf_core_set_kernel_stats(struct tf_core *core, const struct tf_run_stats *k)
{
	struct tf_run_stats *st = &core->stats;

	memcpy(st->bpf, k->bpf, sizeof(st->bpf));
	st->events = k->events;
	st->recursion_misses = k->recursion_misses;
	memcpy(st->live, k->live, sizeof(st->live));
	st->live_total = k->live_total;
	st->features = k->features;
}

const struct tf_run_stats *tf_core_stats(const struct tf_core *core)
{
	return &core->stats;
}

/* Call ops->fn(sink, arg) on every sink that has it. */
#define FOR_SINKS(core, fn, ...)                                              \
	do {                                                                  \
		for (int i_ = 0; i_ < (core)->nsinks; i_++)                   \
			if ((core)->sinks[i_]->ops->fn)                        \
				(core)->sinks[i_]->ops->fn((core)->sinks[i_], __VA_ARGS__); \
	} while (0)

/* What the stage derived from the connection just sent, in the order it came. */
static void send_derived(struct tf_core *core)
{
	for (int i = 0; i < core->nderived; i++) {
		struct tf_derived *d = &core->derived[i];

		if (d->kind == TF_DERIVED_TW_END) {
			FOR_SINKS(core, tw_end, &d->end);
		} else {
			d->stuck.rec = &d->rec;
			FOR_SINKS(core, stuck, &d->stuck);
		}
	}
	core->nderived = 0;
}

/* The stage, then the sinks, then what the stage derived: one record after another. */
static void to_sinks(struct tf_core *core, const struct tf_conn *c)
{
	struct tf_summary s;

	tf_summarize(c, &s);
	if (core->cgroup_name && c->cgroup_id)
		s.cgroup = core->cgroup_name(core->cgroup_ctx, c->cgroup_id);
	core->stats.conns++;
	if (s.gap)
		core->stats.gaps++;
	if (c->flags & TF_F_OPEN)
		core->stats.flushed_open++;
	core->dispatching = true;
	if (core->stage.conn)
		core->stage.conn(core->stage.ctx, &s);
	FOR_SINKS(core, conn, &s);
	send_derived(core);
	core->dispatching = false;
}

/*
 * Room in the queue while a connection is dispatched; false: send at once.
 * Past TF_DERIVED_MAX (one connection ends at most one TIME-WAIT) a record
 * would go out ahead of its connection rather than be lost.
 */
static struct tf_derived *derive(struct tf_core *core, int kind)
{
	struct tf_derived *d;

	if (!core->dispatching || core->nderived == TF_DERIVED_MAX)
		return NULL;
	d = &core->derived[core->nderived++];
	d->kind = kind;
	return d;
}

static void pending_send(struct tf_core *core, int i)
{
	struct tf_conn c = core->pending[i].rec;

	core->pending[i] = core->pending[--core->npending];
	to_sinks(core, &c);
}

static void on_conn(struct tf_core *core, const struct tf_conn *c)
{
	if (!tf_may_get_late_reset(c)) {
		to_sinks(core, c);
		return;
	}
	if (core->npending == TF_PENDING_MAX)
		pending_send(core, 0);
	core->pending[core->npending++] = (struct tf_pending){
		.rec = *c, .close_ns = c->state_ns[c->nstates - 1],
	};
}

static void on_late_reset(struct tf_core *core, const struct tf_reset_event *e)
{
	for (int i = 0; i < core->npending; i++) {
		struct tf_conn *c = &core->pending[i].rec;

		if (c->skaddr == e->skaddr && c->netns == e->netns) {
			tf_note_reset(c, e->ts_ns, e->state, e->sent);
			core->late_resets++;
			pending_send(core, i);
			return;
		}
	}
}

void tf_core_flush_pending(struct tf_core *core, uint64_t now_ns, uint64_t min_age_ns)
{
	for (int i = 0; i < core->npending;) {
		if (!min_age_ns || now_ns - core->pending[i].close_ns >= min_age_ns)
			pending_send(core, i);	/* moves the last entry into i */
		else
			i++;
	}
}

/*
 * The connection a hand-over stands for, as far as the stage reads it: its
 * tuple, owner, role, flags, first change and hand-over (-> CLOSE).
 */
static void handover_conn(const struct tf_handover *h, struct tf_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->type = TF_REC_CONN;
	c->flags = h->flags;
	c->family = h->family;
	c->role = h->role;
	c->skaddr = h->skaddr;
	c->pid = h->pid;
	c->netns = h->netns;
	memcpy(c->comm, h->comm, sizeof(c->comm));
	memcpy(c->saddr, h->saddr, sizeof(c->saddr));
	memcpy(c->daddr, h->daddr, sizeof(c->daddr));
	c->sport = h->sport;
	c->dport = h->dport;
	c->srtt_us = h->srtt_us;
	c->nstates = 2;
	c->state[0] = h->first_state;
	c->state_ns[0] = h->start_ns;
	c->state[1] = TF_CLOSE;
	c->state_ns[1] = h->handover_ns;
}

/*
 * A connection the kernel folded into its metrics handed over to
 * TIME-WAIT: only the stage follows it (the sinks' metrics have it from the
 * kernel), then what the stage derived from it.
 */
static void on_handover(struct tf_core *core, const struct tf_handover *h)
{
	struct tf_summary s = { 0 };
	struct tf_conn c;

	handover_conn(h, &c);
	s.rec = &c;
	s.role = c.role;
	s.time_wait = true;
	s.t0_ns = h->start_ns;
	s.close_end = TF_CE_TIME_WAIT;
	core->stats.handovers++;
	core->dispatching = true;
	if (core->stage.conn)
		core->stage.conn(core->stage.ctx, &s);
	send_derived(core);
	core->dispatching = false;
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
	if (type == TF_REC_RESET && len == sizeof(struct tf_reset_event)) {
		struct tf_reset_event e;

		memcpy(&e, data, sizeof(e));
		on_late_reset(core, &e);
		return 0;
	}
	if (type == TF_REC_HANDOVER && len == sizeof(struct tf_handover)) {
		struct tf_handover h;

		memcpy(&h, data, sizeof(h));
		on_handover(core, &h);
		return 0;
	}
	if (type == TF_REC_STATE && len == sizeof(struct tf_state_event)) {
		struct tf_state_event e;

		memcpy(&e, data, sizeof(e));
		on_state(core, &e);
		return 0;
	}
bad:
	core->stats.malformed++;
	return -1;
}

void tf_core_tick(struct tf_core *core, uint64_t now_ns)
{
	for (int i = 0; i < core->nsinks; i++)
		if (core->sinks[i]->ops->tick)
			core->sinks[i]->ops->tick(core->sinks[i], now_ns, &core->stats);
}

void tf_core_tw_sweep(struct tf_core *core, const struct tf_tw_snapshot *snap)
{
	FOR_SINKS(core, tw_sweep, snap);
}

void tf_core_tw_end(struct tf_core *core, const struct tf_tw_end *end)
{
	struct tf_derived *d = derive(core, TF_DERIVED_TW_END);

	if (d)
		d->end = *end;
	else
		FOR_SINKS(core, tw_end, end);
}

void tf_core_stuck(struct tf_core *core, const struct tf_stuck *st)
{
	struct tf_derived *d = derive(core, TF_DERIVED_STUCK);

	if (!d) {
		FOR_SINKS(core, stuck, st);
		return;
	}
	d->stuck = *st;
	d->rec = *st->rec;
}

void tf_core_finish(struct tf_core *core)
{
	tf_core_flush_pending(core, 0, 0);
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
