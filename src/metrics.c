// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics registry: feeding. Rendering is in metrics_text.c. See metrics.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "ohash.h"

#define STUCK_MAX 3072		/* cap of the stuck gauge: connections remembered */

/* A connection reported stuck: its socket and endpoints (no padding). */
struct stuck_key {
	uint64_t skaddr;
	uint32_t netns;
	uint16_t sport, dport;
};

struct tf_metrics {
	struct tf_metrics_values v;
	const volatile uint16_t *klearned;	/* the kernel's learned ports (tf_km_source) */
	/* reported stuck, not finished yet: stuck_key -> uint8_t 0 CLOSE_WAIT, 1 FIN_WAIT2 */
	struct tf_ohash stuck;
};

_Static_assert(TF_METRICS_PORTS == TF_KM_PORTS && TF_METRICS_LEARN_PORTS == TF_KM_LEARN &&
	       TF_MSTATES == TF_KM_MSTATES && TF_MCLOSE_SIDES == TF_KM_SIDES,
	       "the registry has the kernel aggregates' shape");

/* The state of state_time[i] (tf_km_mstate's inverse). */
int tf_metrics_state(int i)
{
	for (int st = 0; st < TF_STATE_MAX; st++)
		if (tf_km_mstate(st) == i)
			return st;
	return -1;
}

struct tf_metrics *tf_metrics_new(const uint16_t *ports, int nports, const char *version)
{
	struct tf_metrics *m = calloc(1, sizeof(*m));
	struct tf_metrics_values *v;

	if (!m)
		return NULL;
	if (tf_ohash_init(&m->stuck, sizeof(struct stuck_key), sizeof(uint8_t), STUCK_MAX)) {
		free(m);
		return NULL;
	}
	v = &m->v;
	snprintf(v->version, sizeof(v->version), "%s", version ? version : "unknown");
	if (nports > TF_METRICS_PORTS)
		nports = TF_METRICS_PORTS;
	for (int i = 0; i < nports; i++)
		v->ports[v->nports++] = ports[i];
	v->learn_ports = nports <= 0;
	return m;
}

void tf_metrics_free(struct tf_metrics *m)
{
	if (!m)
		return;
	tf_ohash_free(&m->stuck);
	free(m);
}

const struct tf_metrics_values *tf_metrics_values(const struct tf_metrics *m)
{
	return &m->v;
}

struct tf_km_sum *tf_km_source_read(const struct tf_km_source *src)
{
	struct tf_km_sum *k;

	if (!src || !src->read)
		return NULL;
	k = malloc(sizeof(*k));
	if (k && src->read(src->ctx, k)) {
		free(k);
		k = NULL;
	}
	return k;
}

static int learn_port(struct tf_metrics_values *v, uint16_t port);
static void add_kernel(struct tf_metrics_values *v, const struct tf_km_sum *k);

struct tf_metrics_values *tf_metrics_copy(struct tf_metrics *m, const struct tf_km_sum *k)
{
	struct tf_metrics_values *v = malloc(sizeof(*v));

	/* the kernel's learned ports join the registry's for good: a port keeps its slot */
	for (int i = 0; k && i < TF_KM_PORTS; i++)
		if (k->ports[i])
			learn_port(&m->v, k->ports[i]);
	if (v)
		memcpy(v, &m->v, sizeof(*v));
	if (v && k)
		add_kernel(v, k);
	return v;
}

/* ---- the port label ---- */

static int find_port(const struct tf_metrics_values *v, uint16_t port)
{
	for (int i = 0; i < v->nports; i++)
		if (v->ports[i] == port)
			return i;
	return -1;
}

/* A server's local port is a listening port: learn it while there is room. */
static int learn_port(struct tf_metrics_values *v, uint16_t port)
{
	int i = find_port(v, port);

	if (i >= 0 || !v->learn_ports || !port || v->nports >= TF_METRICS_LEARN_PORTS)
		return i;
	v->ports[v->nports] = port;
	return v->nports++;
}

/* Slot of the service port (tf_km_service_ports: the kernel's fold picks it the same way). */
static int port_slot(struct tf_metrics_values *v, const struct tf_summary *s)
{
	uint16_t first, second;
	int i;

	i = tf_km_service_ports(s->rec, &first, &second) ? learn_port(v, first) : find_port(v, first);
	if (i < 0 && second)
		i = find_port(v, second);
	return i < 0 ? TF_METRICS_OTHER : i;
}

/* ---- connections ---- */

/* What the connection adds (tf_km_delta), as the kernel's fold adds it (tf_km_apply_*). */
static void count_conn(struct tf_metrics_values *v, const struct tf_summary *s, int slot)
{
	const struct tf_verdict *vd = &s->verdict;
	int np = tf_verdict_points(vd);
	struct tf_km_delta d;
	int role;

	tf_km_delta(s->rec, vd, &d);
	role = d.role;
	v->conns[role][slot]++;
	if (d.handshake_ns >= 0)
		tf_hist_add(&v->handshake[role - 1][slot], d.handshake_ns);
	if (d.close_ns >= 0)
		tf_hist_add(&v->close[d.close_side], d.close_ns);
	if (d.lifetime_ns >= 0)
		tf_hist_add(&v->lifetime[role - 1], d.lifetime_ns);
	if (d.rtt_ns >= 0)
		tf_hist_add(&v->rtt[role], d.rtt_ns);
	v->bytes[0][role] += d.bytes[0];
	v->bytes[1][role] += d.bytes[1];
	v->closes[role][d.close_kind]++;
	v->syn_retrans += d.syn_retrans;
	v->synack_retrans += d.synack_retrans;
	v->retrans += d.retrans;
	for (int i = 0; i < 4; i++)
		v->fin_retrans[i] += d.fin_retrans[i];
	v->resets[0] += d.rst_sent;
	v->resets[1] += d.rst_recv;
	v->tw_handovers[role] += d.tw_handover;
	v->refused += d.refused;
	for (int i = 0; i + 1 < np; i++) {
		__s64 ns;
		int k = tf_km_state_time(s->rec, vd, i, &ns);

		if (k >= 0)
			tf_hist_add(&v->state_time[k], ns);
	}
}

/* ---- connections folded in the kernel ---- */

static void add_khist(struct tf_hist *h, const struct tf_khist *k)
{
	_Static_assert(sizeof(*h) == sizeof(*k), "tf_hist has tf_khist's layout");
	tf_km_add(h, k, sizeof(*h));
}

/* The registry's slot of each kernel slot: by port; -1 for a slot with no port (yet). */
static void slot_map(const struct tf_metrics_values *v, const struct tf_km_sum *k,
		     int map[TF_KM_SLOTS])
{
	for (int i = 0; i < TF_KM_PORTS; i++) {
		int j = k->ports[i] ? find_port(v, k->ports[i]) : -1;

		map[i] = !k->ports[i] ? -1 : j < 0 ? TF_METRICS_OTHER : j;
	}
	map[TF_KM_OTHER] = TF_METRICS_OTHER;
}

/* v += the kernel's aggregates (the ports are the registry's already: tf_metrics_copy). */
static void add_kernel(struct tf_metrics_values *v, const struct tf_km_sum *k)
{
	const struct tf_km_main *km = &k->main;
	int map[TF_KM_SLOTS];

	slot_map(v, k, map);
	for (int s = 0; s < TF_KM_SLOTS; s++) {
		if (map[s] < 0)
			continue;
		for (int r = 0; r < 2; r++)
			add_khist(&v->handshake[r][map[s]], &k->hs[r].h[s]);
		for (int r = 0; r < TF_ROLE_MAX; r++)
			v->conns[r][map[s]] += km->conns[r][s];
	}
	for (int i = 0; i < TF_MCLOSE_SIDES; i++)
		add_khist(&v->close[i], &km->close[i]);
	for (int i = 0; i < 2; i++)
		add_khist(&v->lifetime[i], &km->lifetime[i]);
	for (int i = 0; i < TF_MSTATES; i++)
		add_khist(&v->state_time[i], &km->state_time[i]);
	for (int r = 0; r < TF_ROLE_MAX; r++) {
		add_khist(&v->rtt[r], &km->rtt[r]);
		for (int c = 0; c < TF_CK_MAX; c++)
			v->closes[r][c] += km->closes[r][c];
		v->bytes[0][r] += km->bytes[0][r];
		v->bytes[1][r] += km->bytes[1][r];
		v->tw_handovers[r] += km->tw_handovers[r];
	}
	v->syn_retrans += km->syn_retrans;
	v->synack_retrans += km->synack_retrans;
	v->retrans += km->retrans;
	for (int i = 0; i < 4; i++)
		v->fin_retrans[i] += km->fin_retrans[i];
	v->resets[0] += km->resets[0];
	v->resets[1] += km->resets[1];
	v->refused += km->refused;
}

/* ---- stuck half-closed connections ---- */

static struct stuck_key stuck_key_of(const struct tf_conn *c)
{
	return (struct stuck_key){ .skaddr = c->skaddr, .netns = c->netns, .sport = c->sport,
				   .dport = c->dport };
}

static void stuck_finished(struct tf_metrics *m, const struct tf_conn *c)
{
	struct stuck_key k;
	uint8_t *state;

	if (!m->stuck.n)
		return;
	k = stuck_key_of(c);
	state = tf_ohash_get(&m->stuck, &k);
	if (!state)
		return;
	m->v.stuck_now[*state]--;
	tf_ohash_del_at(&m->stuck, tf_ohash_index(&m->stuck, state));
}

void tf_metrics_stuck(struct tf_metrics *m, const struct tf_stuck *st)
{
	int k = st->state == TF_CLOSE_WAIT ? 0 : st->state == TF_FIN_WAIT2 ? 1 : -1;
	const struct tf_conn *c = st->rec;
	struct stuck_key key;
	uint8_t *state;
	bool fresh;

	if (k < 0 || !c)
		return;
	m->v.stuck_total[k]++;
	key = stuck_key_of(c);
	state = tf_ohash_put(&m->stuck, &key, &fresh);
	if (!state)
		return;			/* counted, but beyond the gauge's cap */
	if (!fresh)			/* known: it moved on to the other state */
		m->v.stuck_now[*state]--;
	*state = (uint8_t)k;
	m->v.stuck_now[k]++;
}

void tf_metrics_follow_kernel(struct tf_metrics *m, const volatile uint16_t *learned)
{
	m->klearned = learned;
}

/*
 * The ports the kernel learned, in its order: the kernel saw the server
 * records user space gets and the ones it folded, so a record's port is
 * labeled here as it is there.
 */
static void learn_kernel_ports(struct tf_metrics *m)
{
	for (int i = 0; m->klearned && i < TF_KM_LEARN; i++) {
		uint16_t port = m->klearned[i];

		if (port)
			learn_port(&m->v, port);
	}
}

void tf_metrics_conn(struct tf_metrics *m, const struct tf_summary *s)
{
	struct tf_metrics_values *v = &m->v;

	learn_kernel_ports(m);

	count_conn(v, s, port_slot(v, s));
	stuck_finished(m, s->rec);
}

/* ---- run stats and TIME-WAIT sweeps: cumulative numbers, kept monotonic ---- */

static void raise_to(uint64_t *counter, uint64_t value)
{
	if (value > *counter)
		*counter = value;
}

void tf_metrics_stats(struct tf_metrics *m, const struct tf_run_stats *st)
{
	struct tf_metrics_values *v = &m->v;

	raise_to(&v->lost[0], tf_run_lost_ringbuf(st));
	raise_to(&v->lost[1], st->bpf[TF_STAT_RB_LOST_STATE]);
	raise_to(&v->lost[2], st->bpf[TF_STAT_TABLE_FULL]);
	raise_to(&v->lost[3], st->recursion_misses);
	raise_to(&v->lost[4], st->bpf[TF_STAT_NO_RECORD]);
	raise_to(&v->lost[5], st->bpf[TF_STAT_SYNACK_UNPARKED]);
	raise_to(&v->lost[6], st->bpf[TF_STAT_LISTENER_FULL]);
	raise_to(&v->state_changes, st->events);
	raise_to(&v->malformed, st->malformed);
	raise_to(&v->missed_transitions, tf_run_gaps(st));
	raise_to(&v->retrans_recovered, st->bpf[TF_STAT_RETRANS_RECOVERED]);
	raise_to(&v->retrans_unseen, st->bpf[TF_STAT_RETRANS_UNSEEN]);
	for (int i = 0; i < TF_MSTATES; i++)
		v->live[i] = st->live[tf_metrics_state(i)];
	for (int i = 0; i < TF_FEAT_MAX; i++)
		v->feature_enabled[i] = st->features.f[i].state == TF_FS_ENABLED;
}

/* A TIME-WAIT whose hand-over we know: how long it lasted, by how it ended. */
void tf_metrics_tw_end(struct tf_metrics *m, const struct tf_tw_end *e)
{
	if (!e->handover_ns || e->end_ns < e->handover_ns || e->reason < 0 || e->reason >= TF_TWE_MAX)
		return;
	tf_hist_add(&m->v.time_wait[e->reason], (int64_t)(e->end_ns - e->handover_ns));
}

void tf_metrics_tw(struct tf_metrics *m, const struct tf_tw_snapshot *snap)
{
	struct tf_metrics_values *v = &m->v;

	v->have_tw = true;
	v->tw_sockets = snap->total;
	v->tw_fin_wait2 = snap->fin_wait2_substate <= snap->total ? snap->fin_wait2_substate : snap->total;
	raise_to(&v->tw_overflow, snap->overflow);
	for (int i = 0; i < TF_TWE_MAX; i++)
		raise_to(&v->tw_ended[i], snap->ended[i]);
	v->half_closed[0] = snap->close_wait;
	v->half_closed[1] = snap->fin_wait2;
	v->fin_wait2_orphaned = snap->fin_wait2_orphaned;
}
