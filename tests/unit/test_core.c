// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The core's dispatch order: its stage (the close side) sees each finished
 * connection before any sink; what the stage derives from it reaches the
 * sinks after that connection, whatever the order of the sinks; what is
 * reported between records goes out at once. And the kernel's part of the
 * run stats comes in through one call.
 */
#include "tf_test.h"
#include "fixtures.h"
#include "tf_fold.h"
#include "core.h"
#include "sink.h"
#include "twtrack.h"

/* ---- a log every sink and the stage write to, in call order ----------------------- */

struct log {
	char text[1024];
};

static void say(struct log *lg, const char *who, const char *what, unsigned int port)
{
	size_t n = strlen(lg->text);

	snprintf(lg->text + n, sizeof(lg->text) - n, "%s %s %u\n", who, what, port);
}

struct probe {
	struct log *log;
	const char *name;
};

static struct probe *probe_of(struct tf_sink *sk)
{
	return sk->priv;
}

static void p_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	say(probe_of(sk)->log, probe_of(sk)->name, "conn", s->rec->sport);
}

static void p_tw_end(struct tf_sink *sk, const struct tf_tw_end *e)
{
	say(probe_of(sk)->log, probe_of(sk)->name, tf_tw_end_name(e->reason), e->sport);
}

static void p_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	say(probe_of(sk)->log, probe_of(sk)->name, "stuck", st->rec->sport);
}

static const struct tf_sink_ops probe_ops = {
	.name = "probe", .conn = p_conn, .tw_end = p_tw_end, .stuck = p_stuck,
};

static void add_probe(struct tf_core *core, struct log *lg, const char *name)
{
	struct tf_sink *sk = tf_sink_alloc(&probe_ops, NULL, 0, sizeof(struct probe));

	CHECK(sk != NULL);
	*probe_of(sk) = (struct probe){ .log = lg, .name = name };
	CHECK_INT(tf_core_add_sink(core, sk), 0);
}

/* ---- the close side as timewait.c wires it: twtrack behind the stage -------------- */

struct close_side {
	struct tf_core *core;
	struct tf_twt *twt;
	struct log *log;
};

static void cs_conn(void *ctx, const struct tf_summary *s)
{
	struct close_side *cs = ctx;

	say(cs->log, "stage", "conn", s->rec->sport);
	tf_twt_conn(cs->twt, s->rec, s);
}

static void cs_end(void *ctx, const struct tf_tw_end *e)
{
	struct close_side *cs = ctx;

	tf_core_tw_end(cs->core, e);
}

/* A client on cport: SYN_SENT at start, active close into TIME-WAIT at close. */
static struct tf_conn client(uint16_t cport, uint64_t start, uint64_t close)
{
	struct tf_conn c = { .type = TF_REC_CONN, .skaddr = 0x1000 + cport };

	fx_endpoints(&c, LO, cport, LO, 5000);
	fx_owner(&c, 77, "curl");
	tf_fold_begin(&c, TF_CLOSE, TF_SYN_SENT);
	tf_fold_state(&c, start, TF_SYN_SENT);
	tf_fold_state(&c, start + 50 * US, TF_ESTABLISHED);
	tf_fold_state(&c, close - 200 * US, TF_FIN_WAIT1);
	tf_fold_state(&c, close - 100 * US, TF_FIN_WAIT2);
	tf_fold_state(&c, close, TF_CLOSE);
	return c;
}

/*
 * A connection whose start ends the TIME-WAIT of an earlier one on its
 * 4-tuple (reuse): the end is derived from it while it is dispatched, and
 * follows it -- after every sink had the connection, not in between and not
 * before (as when the tracker was a sink registered first).
 */
static void derived_end_follows_its_connection(void)
{
	struct tf_twt_params p = { .hz = 250 };
	struct log lg = { "" };
	struct tf_core core;
	struct close_side cs = { .core = &core, .log = &lg };
	struct tf_twt_ops ops = { .end = cs_end, .ctx = &cs };
	struct tf_conn first = client(40000, BASE, BASE + 1 * S);
	struct tf_conn again = client(40000, BASE + 1200 * MS, BASE + 1300 * MS);

	tf_core_init(&core);
	cs.twt = tf_twt_new(&p, &ops);
	CHECK(cs.twt != NULL);
	add_probe(&core, &lg, "a");
	CHECK_INT(tf_core_set_stage(&core, &(struct tf_stage){ .conn = cs_conn, .ctx = &cs }), 0);
	add_probe(&core, &lg, "b");
	CHECK_INT(tf_core_record(&core, &first, sizeof(first)), 0);
	CHECK_INT(tf_core_record(&core, &again, sizeof(again)), 0);
	CHECK_STR(lg.text,
		  "stage conn 40000\na conn 40000\nb conn 40000\n"
		  "stage conn 40000\na conn 40000\nb conn 40000\na reused 40000\nb reused 40000\n");
	CHECK_INT(core.nderived, 0);
	tf_core_free(&core);
	tf_twt_free(cs.twt);
}

/* A stuck report made while dispatching keeps its own copy of the record. */
static void stuck_stage(void *ctx, const struct tf_summary *s)
{
	struct tf_core *core = ctx;
	struct tf_conn rec = *s->rec;
	struct tf_stuck st = { .rec = &rec, .state = TF_CLOSE_WAIT, .age_ns = 31 * S };

	rec.sport = 41000;
	tf_core_stuck(core, &st);
	memset(&rec, 0, sizeof(rec));	/* gone before the sinks see the report */
}

static void derived_stuck_keeps_its_record(void)
{
	struct log lg = { "" };
	struct tf_core core;
	struct tf_conn c = client(40001, BASE, BASE + 1 * S);

	tf_core_init(&core);
	add_probe(&core, &lg, "a");
	tf_core_set_stage(&core, &(struct tf_stage){ .conn = stuck_stage, .ctx = &core });
	tf_core_record(&core, &c, sizeof(c));
	CHECK_STR(lg.text, "a conn 40001\na stuck 41000\n");
	tf_core_free(&core);
}

/* Between records (a sweep) a report goes out at once; one stage only. */
static void between_records_at_once(void)
{
	struct log lg = { "" };
	struct tf_core core;
	struct tf_tw_end e = { .sport = 40002, .reason = TF_TWE_EXPIRED };
	struct tf_conn c = client(40003, BASE, BASE + 1 * S);
	struct tf_stuck st = { .rec = &c, .state = TF_FIN_WAIT2 };

	tf_core_init(&core);
	add_probe(&core, &lg, "a");
	tf_core_tw_end(&core, &e);
	CHECK_STR(lg.text, "a expired 40002\n");
	tf_core_stuck(&core, &st);
	CHECK_STR(lg.text, "a expired 40002\na stuck 40003\n");
	CHECK_INT(tf_core_set_stage(&core, &(struct tf_stage){ .conn = stuck_stage }), 0);
	CHECK_INT(tf_core_set_stage(&core, &(struct tf_stage){ .conn = stuck_stage }), -1);
	tf_core_free(&core);
}

/* The kernel's part replaces the kernel's part only: the core's own counts stay. */
static void kernel_stats_keep_the_core_counts(void)
{
	struct tf_run_stats k = { .events = 57, .recursion_misses = 1, .live_total = 2,
				  .conns = 999, .malformed = 999, .gaps = 999 };
	struct tf_core core;
	struct tf_conn c = client(40004, BASE, BASE + 1 * S);
	const struct tf_run_stats *st;
	char junk[3] = { 0 };

	k.bpf[TF_STAT_TABLE_FULL] = 3;
	k.live[TF_CLOSE_WAIT] = 2;
	tf_feature_set(&k.features, TF_FEAT_TCP_ITER, TF_FS_OFF, TF_FW_REFUSED, 1, "sweep");
	tf_core_init(&core);
	tf_core_record(&core, &c, sizeof(c));
	tf_core_record(&core, junk, sizeof(junk));
	tf_core_set_kernel_stats(&core, &k);
	st = tf_core_stats(&core);
	CHECK_INT(st->events, 57);
	CHECK_INT(st->recursion_misses, 1);
	CHECK_INT(st->bpf[TF_STAT_TABLE_FULL], 3);
	CHECK_INT(st->live[TF_CLOSE_WAIT], 2);
	CHECK_INT(st->live_total, 2);
	CHECK_INT(st->features.f[TF_FEAT_TCP_ITER].state, TF_FS_OFF);
	CHECK_INT(st->conns, 1);
	CHECK_INT(st->malformed, 1);
	CHECK_INT(st->gaps, 0);
	tf_core_free(&core);
}

TF_TEST_MAIN("test_core", T(derived_end_follows_its_connection),
	     T(derived_stuck_keeps_its_record), T(between_records_at_once),
	     T(kernel_stats_keep_the_core_counts))
