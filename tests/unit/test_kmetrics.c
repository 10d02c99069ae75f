// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metrics aggregated in the kernel (include/tf_kmetrics.h, bpf/kmetrics.h)
 * against the record path: the same synthetic records, once all through
 * user space (tf_summarize + tf_metrics_conn), once as a metrics-only run
 * has them -- folded by the kernel's functions compiled here into two
 * "CPUs", summed as the loader sums them, only the records the fold
 * refuses through user space -- must render the same exposition, byte for
 * byte. The port-slot map stands in for bpf/kmetrics.h's (a hash there).
 */
#include <stdlib.h>
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "tf_kmetrics.h"
#include "metrics.h"
#include "core.h"
#include "sink.h"
#include "twtrack.h"

#define NCPU 2
#define STUCK_NS (30 * S)

static uint64_t next_skaddr = 0xffff888000001000ull;

/* ---- records ---- */

static struct tf_conn begin(int role, uint16_t sport, uint16_t dport)
{
	struct tf_conn c = { 0 };

	if (role == TF_ROLE_CLIENT)
		tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	else if (role == TF_ROLE_SERVER)
		tf_fold_begin(&c, TF_LISTEN, TF_SYN_RECV);
	else
		tf_fold_begin(&c, TF_ESTABLISHED, TF_FIN_WAIT1);	/* mid-life */
	fx_endpoints(&c, LO, sport, LO, dport);
	c.skaddr = next_skaddr += 0x800;
	return c;
}

static void states(struct tf_conn *c, uint64_t t, const int *st, const uint64_t *dt, int n)
{
	for (int i = 0; i < n; i++)
		tf_fold_state(c, t += dt[i], st[i]);
}

static void traffic(struct tf_conn *c, uint64_t sent, uint64_t recv, uint32_t srtt_us)
{
	tf_fold_traffic(c, sent, recv, 10, 12, srtt_us << 3, srtt_us ? srtt_us - 1 : ~0U);
}

/* Every kind of ending, both roles, retransmits of each kind, on port p. */
static int lifecycles(struct tf_conn *out, uint16_t p, uint64_t t)
{
	static const int act[] = { TF_SYN_SENT, TF_ESTABLISHED, TF_FIN_WAIT1, TF_FIN_WAIT2, TF_CLOSE };
	static const int pas[] = { TF_SYN_RECV, TF_ESTABLISHED, TF_CLOSE_WAIT, TF_LAST_ACK, TF_CLOSE };
	static const int cpas[] = { TF_SYN_SENT, TF_ESTABLISHED, TF_CLOSE_WAIT, TF_LAST_ACK, TF_CLOSE };
	static const int sim[] = { TF_SYN_SENT, TF_ESTABLISHED, TF_FIN_WAIT1, TF_CLOSING, TF_CLOSE };
	static const int srv_act[] = { TF_SYN_RECV, TF_ESTABLISHED, TF_FIN_WAIT1, TF_FIN_WAIT2,
				       TF_CLOSE };
	static const int refused[] = { TF_SYN_SENT, TF_CLOSE };
	static const int est_close[] = { TF_SYN_SENT, TF_ESTABLISHED, TF_CLOSE };
	static const int srv_fail[] = { TF_SYN_RECV, TF_CLOSE };
	static const int gap[] = { TF_SYN_SENT, TF_FIN_WAIT2, TF_CLOSE };
	static const uint64_t dt[] = { 0, 180 * US, 3 * MS, 40 * US, 70 * US };
	static const uint64_t slow[] = { 0, 3 * S, 50 * MS, 40 * S, 2 * MS };
	struct tf_conn *c = out;

	/* client, active close, TIME-WAIT; SYN retransmits, traffic */
	*c = begin(TF_ROLE_CLIENT, 40001, p);
	tf_fold_retrans(c, t + 1 * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	states(c, t, act, slow, 5);
	traffic(c, 1000, 2000, 45);
	c++;
	/* client, passive close: orderly (LAST_ACK -> CLOSE); data and FIN retransmits */
	*c = begin(TF_ROLE_CLIENT, 40002, p);
	states(c, t, cpas, dt, 5);
	tf_fold_retrans(c, t + 1 * MS, TF_ESTABLISHED, TF_TCPHDR_ACK);
	tf_fold_retrans(c, t + 4 * MS, TF_LAST_ACK, TF_TCPHDR_FIN | TF_TCPHDR_ACK);
	traffic(c, 5, 7, 0);
	c++;
	/* server child, passive close; first RTT sample as handshake */
	*c = begin(TF_ROLE_SERVER, p, 40003);
	c->srtt_us = 90;
	states(c, t, pas, dt, 5);
	traffic(c, 300, 100, 90);
	c++;
	/* server child, SYN-ACK retransmitted (kernel's time), active close into TIME-WAIT */
	*c = begin(TF_ROLE_SERVER, p, 40004);
	{
		struct tf_synack sa = { .first_ns = t - 1 * S, .count = 1, .retrans_ns = { t } };

		tf_fold_synack(c, &sa);
	}
	states(c, t, srv_act, dt, 5);
	tf_fold_retrans(c, t + 3200 * US, TF_FIN_WAIT1, TF_TCPHDR_FIN);
	c++;
	/* simultaneous close */
	*c = begin(TF_ROLE_CLIENT, 40005, p);
	states(c, t, sim, dt, 5);
	tf_fold_retrans(c, t + 3300 * US, TF_CLOSING, TF_TCPHDR_FIN);
	c++;
	/* refused: SYN_SENT -> CLOSE with the peer's reset */
	*c = begin(TF_ROLE_CLIENT, 40006, p);
	states(c, t, refused, dt, 2);
	tf_note_reset(c, t + 180 * US, TF_SYN_SENT, 0);
	c++;
	/* connect failed: gave up retransmitting SYNs */
	*c = begin(TF_ROLE_CLIENT, 40007, p);
	tf_fold_retrans(c, t + 1 * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	tf_fold_retrans(c, t + 3 * S, TF_SYN_SENT, TF_TCPHDR_SYN);
	states(c, t, refused, slow, 2);
	c->close_err = 110;
	c++;
	/* reset received while established */
	*c = begin(TF_ROLE_CLIENT, 40008, p);
	states(c, t, est_close, dt, 3);
	tf_note_reset(c, t + 3 * MS, TF_ESTABLISHED, 0);
	c++;
	/* abort with no reset seen yet: a late reset may follow (user space holds it) */
	*c = begin(TF_ROLE_CLIENT, 40009, p);
	states(c, t, est_close, dt, 3);
	c++;
	/* server child that never completed */
	*c = begin(TF_ROLE_SERVER, p, 40010);
	states(c, t, srv_fail, slow, 2);
	c++;
	/* events missed: a change TCP cannot make */
	*c = begin(TF_ROLE_CLIENT, 40011, p);
	states(c, t, gap, dt, 3);
	c++;
	/* mid-life: began before tracing */
	*c = begin(TF_ROLE_UNKNOWN, p, 40012);
	states(c, t, &act[3], dt, 2);
	c++;
	/* a long CLOSE_WAIT (reported stuck while open) */
	*c = begin(TF_ROLE_SERVER, p, 40013);
	c->srtt_us = 30;
	states(c, t, pas, slow, 5);
	c++;
	/* more changes than kept */
	*c = begin(TF_ROLE_CLIENT, 40014, p);
	for (int i = 0; i < TF_MAX_STATES + 3; i++)
		tf_fold_state(c, t + (uint64_t)i * MS, i ? (i % 2 ? TF_ESTABLISHED : TF_SYN_SENT) :
							 TF_SYN_SENT);
	tf_fold_state(c, t + 40 * MS, TF_CLOSE);
	c++;
	return (int)(c - out);
}

/* ---- the kernel's side, on the host ---- */

struct kernel {
	union tf_km_entry cpu[NCPU][TF_KM_ENTRIES];	/* the per-CPU array */
	uint16_t slot_port[TF_KM_SLOTS];		/* km_ports and km_slot_port */
	int nlearned;
	bool learn;
};

static uint32_t k_find(const struct kernel *k, uint16_t port)
{
	for (int i = 0; port && i < TF_KM_PORTS; i++)
		if (k->slot_port[i] == port)
			return (uint32_t)i;
	return TF_KM_OTHER;
}

static uint32_t k_learn(struct kernel *k, uint16_t port)
{
	uint32_t slot = k_find(k, port);

	if (slot != TF_KM_OTHER || !port || !k->learn || k->nlearned >= TF_KM_LEARN)
		return slot;
	k->slot_port[k->nlearned] = port;
	return (uint32_t)k->nlearned++;
}

/*
 * bpf/kmetrics.h's km_fold_conn, its map lookups replaced (no tuple seen
 * twice here: the reuse check never fires). 1: folded (a hand-over, if
 * any, goes alone).
 */
static int k_fold(struct kernel *k, int cpu, const struct tf_conn *c, int tw)
{
	union tf_km_entry *e = k->cpu[cpu];
	struct tf_km_delta d;
	struct tf_verdict v;
	uint16_t first, second;
	uint32_t slot;

	slot = tf_km_service_ports(c, &first, &second) ? k_learn(k, first) : k_find(k, first);
	if (slot == TF_KM_OTHER && second)
		slot = k_find(k, second);
	tf_verdict(c, &v);
	if (tf_km_route(c, &v, tw, STUCK_NS) == TF_KM_RECORD)
		return 0;
	tf_km_delta(c, &v, &d);
	tf_km_apply_main(&e[TF_KM_MAIN].main, &d, slot);
	tf_km_apply_states(&e[TF_KM_MAIN].main, c, &v);
	if (d.handshake_ns >= 0 && (d.role == TF_ROLE_CLIENT || d.role == TF_ROLE_SERVER))
		tf_km_apply_hs(&e[TF_KM_HS_CLIENT + d.role - 1].hs, &d, slot);
	return 1;
}

/* src/loader.c's tf_loader_read_kmetrics: one entry after another, summed over CPUs. */
static void k_read(const struct kernel *k, struct tf_km_sum *out)
{
	memset(out, 0, sizeof(*out));
	for (int cpu = 0; cpu < NCPU; cpu++) {
		tf_km_add(&out->main, &k->cpu[cpu][TF_KM_MAIN].main, sizeof(out->main));
		for (int r = 0; r < 2; r++)
			tf_km_add(&out->hs[r], &k->cpu[cpu][TF_KM_HS_CLIENT + r].hs, sizeof(out->hs[r]));
	}
	memcpy(out->ports, k->slot_port, sizeof(k->slot_port[0]) * TF_KM_PORTS);
}

static void feed(struct tf_metrics *m, const struct tf_conn *c)
{
	struct tf_summary s;

	tf_summarize(c, &s);
	tf_metrics_conn(m, &s);
}

static char *render(const struct tf_metrics_values *v)
{
	struct tf_text t = { 0 };

	CHECK_INT(tf_metrics_render(v, &t), 0);
	return t.buf;
}

struct outcome {
	char *records_text;	/* every record through user space */
	char *kernel_text;	/* folded in the kernel, the rest through user space */
	int folded, sent;
};

/*
 * ports/nports: --port (the kernel's map filled in their order, as
 * fill_filters does); tw: the TIME-WAIT tracker runs (--metrics).
 */
static struct outcome both_ways(const struct tf_conn *recs, int n, const uint16_t *ports,
				int nports, int tw)
{
	struct tf_metrics *all = tf_metrics_new(ports, nports, "t");
	struct tf_metrics *rest = tf_metrics_new(ports, nports, "t");
	struct kernel *k = calloc(1, sizeof(*k));
	struct tf_km_sum *sum = malloc(sizeof(*sum));
	struct tf_metrics_values *va, *vk;
	struct outcome o = { 0 };

	k->learn = nports == 0;
	tf_metrics_follow_kernel(rest, k->slot_port);
	for (int i = 0; i < nports; i++)
		k->slot_port[i] = ports[i];
	for (int i = 0; i < n; i++) {
		feed(all, &recs[i]);
		if (k_fold(k, i % NCPU, &recs[i], tw)) {
			o.folded++;
		} else {
			feed(rest, &recs[i]);
			o.sent++;
		}
	}
	k_read(k, sum);
	va = tf_metrics_copy(all, NULL);
	vk = tf_metrics_copy(rest, sum);
	o.records_text = render(va);
	o.kernel_text = render(vk);
	free(va);
	free(vk);
	free(sum);
	free(k);
	tf_metrics_free(all);
	tf_metrics_free(rest);
	return o;
}

/* The first line where two texts differ, for the failure message. */
static void show_difference(const char *a, const char *b)
{
	while (*a && *a == *b) {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');

		if (!ea || !eb || ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)))
			break;
		a = ea + 1;
		b = eb + 1;
	}
	fprintf(stderr, "records: %.200s\nkernel:  %.200s\n", a, b);
}

static void check_same(struct outcome *o)
{
	int same = !strcmp(o->records_text, o->kernel_text);

	if (!same)
		show_difference(o->records_text, o->kernel_text);
	CHECK(same);
	CHECK(o->folded > 0);
	CHECK(o->sent > 0);
}

/*
 * nports_traffic service ports from base x every lifecycle, both ways;
 * want_sent records must cross. Returns the kernel path's exposition.
 */
static char *case_same(uint16_t base, int nports_traffic, const uint16_t *ports, int nports,
		       int tw, int want_sent)
{
	struct tf_conn recs[8 * 16];
	struct outcome o;
	int n = 0;

	for (int p = 0; p < nports_traffic && p < 8; p++)
		n += lifecycles(recs + n, (uint16_t)(base + p), BASE + (uint64_t)p * S);
	o = both_ways(recs, n, ports, nports, tw);
	check_same(&o);
	CHECK_INT(o.sent, want_sent);
	free(o.records_text);
	return o.kernel_text;
}

/* Ports learned (no --port), the tracker running: 4 records of 14 cross (route). */
static void same_as_records_learning(void)
{
	free(case_same(8000, 8, NULL, 0, 1, 8 * 4));
}

/* --hist alone: no tracker, only the late-reset candidates cross. */
static void same_as_records_no_tracker(void)
{
	free(case_same(9000, 4, NULL, 0, 0, 4 * 2));
}

/* --port: slots in --port order; a port not given is "other". */
static void same_as_records_with_ports(void)
{
	static const uint16_t ports[] = { 7002, 7000, 7001 };
	char *text = case_same(7000, 5, ports, 3, 1, 5 * 4);

	CHECK(strstr(text, "tcpflow_connections_total{role=\"client\",port=\"other\"} 18\n"));
	free(text);
}

/*
 * More listening ports than slots: which 16 get a label may differ (each
 * side learns in the order it sees them), but no connection is lost or
 * counted twice, and a port keeps its slot from one scrape to the next.
 */
static void more_ports_than_slots(void)
{
	struct tf_conn recs[20 * 16];
	struct tf_metrics *rest = tf_metrics_new(NULL, 0, "t");
	struct kernel *k = calloc(1, sizeof(*k));
	struct tf_km_sum *sum = malloc(sizeof(*sum));
	struct tf_metrics_values *v1, *v2;
	uint64_t conns = 0, conns2 = 0;
	int n = 0, folded = 0;

	k->learn = true;
	tf_metrics_follow_kernel(rest, k->slot_port);
	for (int p = 0; p < 20; p++)
		n += lifecycles(recs + n, (uint16_t)(6000 + p), BASE);
	for (int i = 0; i < n; i++) {
		if (k_fold(k, i % NCPU, &recs[i], 1))
			folded++;
		else
			feed(rest, &recs[i]);
	}
	k_read(k, sum);
	v1 = tf_metrics_copy(rest, sum);
	v2 = tf_metrics_copy(rest, sum);
	for (int r = 0; r < TF_ROLE_MAX; r++)
		for (int s = 0; s <= TF_METRICS_PORTS; s++) {
			conns += v1->conns[r][s];
			conns2 += v2->conns[r][s];
		}
	CHECK_INT(conns, n);
	CHECK_INT(v1->nports, TF_METRICS_LEARN_PORTS);
	CHECK(!memcmp(v1, v2, sizeof(*v1)));
	CHECK_INT(conns2, n);
	CHECK(folded > 0 && folded < n);
	free(v1);
	free(v2);
	free(sum);
	free(k);
	tf_metrics_free(rest);
}

/* What must cross to user space, one reason at a time. */
static void route(void)
{
	struct tf_conn recs[16];
	struct tf_verdict v;
	int n = lifecycles(recs, 80, BASE), want_tw[16] = { 0 }, want[16] = { 0 };

	CHECK_INT(n, 14);
	want[8] = want[9] = TF_KM_RECORD;	/* abort, SYN_RECV -> CLOSE: a reset may follow */
	want_tw[8] = want_tw[9] = TF_KM_RECORD;
	want_tw[11] = TF_KM_RECORD;		/* mid-life */
	want_tw[12] = TF_KM_RECORD;		/* 40 s in CLOSE_WAIT >= --stuck */
	/* TIME-WAIT hand-overs (FIN_WAIT2 or CLOSING -> CLOSE, also after a gap) */
	want_tw[0] = want_tw[3] = want_tw[4] = want_tw[10] = TF_KM_FOLD_HANDOVER;
	for (int i = 0; i < n; i++) {
		tf_verdict(&recs[i], &v);
		CHECK_INT(tf_km_route(&recs[i], &v, 0, STUCK_NS), want[i]);
		CHECK_INT(tf_km_route(&recs[i], &v, 1, STUCK_NS), want_tw[i]);
	}
	/* a shorter stay in CLOSE_WAIT than --stuck folds */
	tf_verdict(&recs[12], &v);
	CHECK_INT(tf_km_route(&recs[12], &v, 1, 41 * S), TF_KM_FOLD);
}

/* ---- a hand-over through the core: to the stage (the tracker), never to a sink ---- */

struct handover_seen {
	struct tf_twt *twt;
	int stage, sink;
	struct tf_conn rec;
	bool time_wait;
};

static void stage_conn(void *ctx, const struct tf_summary *s)
{
	struct handover_seen *x = ctx;

	x->stage++;
	x->rec = *s->rec;
	x->time_wait = s->time_wait;
	tf_twt_conn(x->twt, s->rec, s);
}

static void sink_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	struct handover_seen *x = sk->priv;

	(void)s;
	x->sink++;
}

static void handover_reaches_the_tracker(void)
{
	static const struct tf_sink_ops ops = { .name = "probe", .conn = sink_conn };
	struct tf_twt_params p = { .hz = 1000 };
	struct tf_twt_ops tops = { 0 };
	struct handover_seen x = { 0 };
	struct tf_conn recs[16];
	struct tf_handover h;
	struct tf_sink *sk;
	struct tf_core core;

	lifecycles(recs, 81, BASE);
	tf_km_handover(&recs[0], &h);		/* the client's active close */
	x.twt = tf_twt_new(&p, &tops);
	tf_core_init(&core);
	sk = tf_sink_alloc(&ops, NULL, 0, 0);
	sk->priv = &x;
	CHECK_INT(tf_core_add_sink(&core, sk), 0);
	CHECK_INT(tf_core_set_stage(&core, &(struct tf_stage){ .conn = stage_conn, .ctx = &x }), 0);
	CHECK_INT(tf_core_record(&core, &h, sizeof(h)), 0);
	CHECK_INT(x.stage, 1);
	CHECK_INT(x.sink, 0);
	CHECK(x.time_wait);
	CHECK_INT(tf_twt_tracked(x.twt), 1);
	CHECK(!memcmp(x.rec.saddr, recs[0].saddr, 16) && !memcmp(x.rec.daddr, recs[0].daddr, 16));
	CHECK_INT(x.rec.sport, recs[0].sport);
	CHECK_INT(x.rec.dport, recs[0].dport);
	CHECK_INT(x.rec.state_ns[0], recs[0].state_ns[0]);
	CHECK_INT(x.rec.state_ns[x.rec.nstates - 1], recs[0].state_ns[recs[0].nstates - 1]);
	CHECK_INT(x.rec.role, TF_ROLE_CLIENT);
	CHECK_INT(tf_core_stats(&core)->handovers, 1);
	CHECK_INT(tf_core_stats(&core)->conns, 0);
	/* a short one is malformed, counted */
	CHECK_INT(tf_core_record(&core, &h, sizeof(h) - 8), -1);
	CHECK_INT(tf_core_stats(&core)->malformed, 1);
	sk->priv = NULL;
	tf_core_free(&core);
	tf_twt_free(x.twt);
}

/* Per-CPU values are limited to 32 KiB: each entry of the array fits. */
static void entry_size(void)
{
	CHECK(sizeof(union tf_km_entry) <= 32768);
	CHECK_INT(sizeof(struct tf_khist), sizeof(struct tf_hist));
}

TF_TEST_MAIN("test_kmetrics", T(same_as_records_learning), T(same_as_records_no_tracker),
	     T(same_as_records_with_ports), T(more_ports_than_slots), T(route),
	     T(handover_reaches_the_tracker),
	     T(entry_size))
