// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --json: one object per line, for each connection, each TIME-WAIT that
 * ended and each stuck half-closed connection; a "stats" object at the end.
 */
#include <inttypes.h>
#include <limits.h>
#include "cgroup.h"
#include "fmt.h"
#include "jw.h"
#include "sink.h"

struct json_priv {
	struct tf_jw_clock clock;
	uint64_t overflow;	/* lines too long to write (cannot happen: see jw.h), said at exit */
};

static void emit(struct tf_sink *sk, struct tf_jw *w)
{
	struct json_priv *p = sk->priv;

	if (tf_jw_flush(w, sk->out))
		p->overflow++;
}

static void json_time(struct tf_jw *w, const char *key, struct tf_sink *sk, uint64_t mono_ns)
{
	struct json_priv *p = sk->priv;

	if (mono_ns) {
		tf_jw_time(w, key, (int64_t)mono_ns + sk->mono_to_real_ns, &p->clock);
	} else {
		tf_jw_key(w, key);
		tf_jw_lit(w, "null");
	}
}

/* "family", "saddr", "sport", "daddr", "dport", "netns", "pid", "comm" (opens with a comma). */
static void json_endpoints(struct tf_jw *w, int family, const uint8_t *saddr, uint16_t sport,
			   const uint8_t *daddr, uint16_t dport, uint32_t netns, uint32_t pid,
			   const char *comm)
{
	char a[TF_ADDR_LEN];

	tf_jw_name(w, "family", tf_family_name(family));
	tf_jw_name(w, "saddr", tf_fmt_addr(family, saddr, a, sizeof(a)));
	tf_jw_count(w, "sport", sport);
	tf_jw_name(w, "daddr", tf_fmt_addr(family, daddr, a, sizeof(a)));
	tf_jw_count(w, "dport", dport);
	tf_jw_count(w, "netns", netns);
	tf_jw_count(w, "pid", pid);
	tf_jw_key(w, "comm");
	tf_jw_lit(w, "\"");
	tf_jw_str(w, comm, TF_COMM_LEN);
	tf_jw_lit(w, "\"");
}

static void json_states(struct tf_jw *w, const struct tf_summary *s)
{
	tf_jw_key(w, "states");
	tf_jw_lit(w, "[");
	for (int i = 0; i < s->nstates; i++) {
		const struct tf_state_point *p = &s->states[i];

		tf_jw_lit(w, i ? ",{\"state\":\"" : "{\"state\":\"");
		tf_jw_lit(w, tf_state_name(p->state));
		tf_jw_lit(w, "\",\"t_us\":");
		tf_jw_i64(w, p->t_ns / 1000);
		tf_jw_lit(w, p->derived ? ",\"derived\":true}" : "}");
	}
	tf_jw_lit(w, "]");
}

static void json_retrans(struct tf_jw *w, const struct tf_summary *s)
{
	tf_jw_key(w, "retransmits");
	tf_jw_lit(w, "[");
	for (int i = 0; i < s->nretrans; i++) {
		const struct tf_retrans_point *r = &s->retrans[i];

		tf_jw_lit(w, i ? ",{\"t_us\":" : "{\"t_us\":");
		tf_jw_i64(w, r->t_ns / 1000);
		tf_jw_name(w, "state", tf_state_name(r->state));
		tf_jw_name(w, "kind", tf_retrans_kind_name(r->kind));
		tf_jw_lit(w, "}");
	}
	tf_jw_lit(w, "]");
}

static void json_flags(struct tf_jw *w, const struct tf_summary *s)
{
	unsigned int f = tf_rec_flags(s);
	int n = 0;

	tf_jw_key(w, "flags");
	tf_jw_lit(w, "[");
	for (int i = 0; i < TF_RF_MAX; i++) {
		if (!(f & 1u << i))
			continue;
		tf_jw_lit(w, n++ ? ",\"" : "\"");
		tf_jw_lit(w, tf_rec_flag_name(i));
		tf_jw_lit(w, "\"");
	}
	tf_jw_lit(w, "]");
}

/*
 * ,"key":"s" (escaped), or null. At most PATH_MAX bytes of s (a cgroup
 * path is no longer): the line still fits the writer's buffer (jw.h).
 */
static void json_str(struct tf_jw *w, const char *key, const char *s)
{
	tf_jw_key(w, key);
	if (!s) {
		tf_jw_lit(w, "null");
		return;
	}
	tf_jw_lit(w, "\"");
	tf_jw_str(w, s, PATH_MAX);
	tf_jw_lit(w, "\"");
}

/* The socket's group: its id, and its path when named, else the id again. */
static void json_cgroup(struct tf_jw *w, const struct tf_summary *s)
{
	const struct tf_cgroup_name *n = s->cgroup;
	uint64_t id = s->rec->cgroup_id;

	tf_jw_key(w, "cgroup_id");
	if (id)
		tf_jw_u64(w, id);
	else
		tf_jw_lit(w, "null");
	if (n || !id) {
		json_str(w, "cgroup", n ? n->path : NULL);
	} else {
		tf_jw_key(w, "cgroup");
		tf_jw_lit(w, "\"");
		tf_jw_u64(w, id);
		tf_jw_lit(w, "\"");
	}
	json_str(w, "container_id", n ? n->container_id : NULL);
	json_str(w, "pod_uid", n ? n->pod_uid : NULL);
}

/* What it carried, read at CLOSE; null when not read (open at exit, CLOSE not seen). */
static void json_traffic(struct tf_jw *w, const struct tf_conn *c)
{
	static const char *const keys[] = {
		"bytes_acked", "bytes_received", "segs_out", "segs_in", "rtt_us", "min_rtt_us",
	};
	const uint64_t v[] = { c->bytes_acked, c->bytes_received, c->segs_out, c->segs_in,
			       c->rtt_us, c->min_rtt_us };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		tf_jw_key(w, keys[i]);
		if (c->flags & TF_F_TRAFFIC)
			tf_jw_u64(w, v[i]);
		else
			tf_jw_lit(w, "null");
	}
}

static void json_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	const struct tf_conn *c = s->rec;
	struct tf_jw w;

	tf_jw_init(&w);
	tf_jw_lit(&w, "{\"type\":\"conn\"");
	json_time(&w, "start_time", sk, s->t0_ns);
	json_endpoints(&w, c->family, c->saddr, c->sport, c->daddr, c->dport, c->netns, c->pid,
		       c->comm);
	json_cgroup(&w, s);
	tf_jw_name(&w, "role", tf_role_name(s->role));
	json_states(&w, s);
	json_retrans(&w, s);
	tf_jw_us(&w, "handshake_us", s->handshake_ns);
	tf_jw_name(&w, "handshake_method", tf_hs_method_name(s->hs_method));
	tf_jw_count(&w, "syn_retrans", c->syn_retrans);
	tf_jw_count(&w, "synack_retrans", c->synack_retrans);
	tf_jw_count(&w, "fin_retrans", c->fin_retrans);
	tf_jw_count(&w, "fin_retrans_fin_wait1", c->fin_retrans_by_state[TF_FIN_IN_FIN_WAIT1]);
	tf_jw_count(&w, "fin_retrans_last_ack", c->fin_retrans_by_state[TF_FIN_IN_LAST_ACK]);
	tf_jw_count(&w, "fin_retrans_closing", c->fin_retrans_by_state[TF_FIN_IN_CLOSING]);
	tf_jw_count(&w, "retrans", c->retrans);
	tf_jw_count(&w, "retrans_failed", c->retrans_failed);
	tf_jw_name(&w, "close", tf_close_kind_name(s->close_kind));
	tf_jw_name(&w, "close_end", tf_close_end_name(s->close_end));
	tf_jw_name(&w, "reset", tf_reset_name(s->reset));
	tf_jw_us(&w, "close_us", s->close_ns);
	tf_jw_us(&w, "fin_ack_us", s->fin_ack_ns);
	tf_jw_bool(&w, "time_wait", s->time_wait);
	tf_jw_us(&w, "time_wait_at_us", s->time_wait_at_ns);
	tf_jw_us(&w, "lifetime_us", s->lifetime_ns);
	json_traffic(&w, c);
	tf_jw_bool(&w, "complete", s->complete);
	json_flags(&w, s);
	tf_jw_lit(&w, "}\n");
	emit(sk, &w);
}

static void json_finish(struct tf_sink *sk, const struct tf_run_stats *st)
{
	const struct {
		const char *key;
		uint64_t v;
	} n[] = {
		{ "conns", st->conns },
		{ "events", st->events },
		{ "open_at_exit", st->flushed_open },
		{ "started", st->bpf[TF_STAT_CREATED] },
		{ "lost", tf_run_lost(st) },
		{ "lost_ringbuf", tf_run_lost_ringbuf(st) },
		{ "lost_ringbuf_events", st->bpf[TF_STAT_RB_LOST_STATE] },
		{ "lost_table_full", st->bpf[TF_STAT_TABLE_FULL] },
		{ "evicted", tf_run_evicted(st) },
		{ "recursion_misses", st->recursion_misses },
		{ "lost_no_record", st->bpf[TF_STAT_NO_RECORD] },
		{ "lost_synack_table", st->bpf[TF_STAT_SYNACK_UNPARKED] },
		{ "lost_listener_table", st->bpf[TF_STAT_LISTENER_FULL] },
		{ "missed_transitions", tf_run_gaps(st) },
		{ "retrans_recovered", st->bpf[TF_STAT_RETRANS_RECOVERED] },
		{ "retrans_unseen", st->bpf[TF_STAT_RETRANS_UNSEEN] },
		{ "replaced", st->bpf[TF_STAT_REPLACED] },
		{ "retrans_failed", st->bpf[TF_STAT_RETRANS_FAILED] },
		{ "synack_retrans_listeners", st->bpf[TF_STAT_SYNACK_RETRANS] },
		{ "malformed", st->malformed },
	};
	struct tf_jw w;

	tf_jw_init(&w);
	tf_jw_lit(&w, "{\"type\":\"stats\"");
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		tf_jw_count(&w, n[i].key, n[i].v);
	tf_jw_key(&w, "features");
	tf_jw_lit(&w, "{");
	for (int i = 0; i < TF_FEAT_MAX; i++) {
		tf_jw_member(&w, i == 0, tf_feature_name(i));
		tf_jw_quoted(&w, tf_feature_state_name(st->features.f[i].state));
	}
	tf_jw_lit(&w, "}}\n");
	emit(sk, &w);
	fflush(sk->out);
	if (((struct json_priv *)sk->priv)->overflow)
		fprintf(stderr, "tcpflow-trace: %" PRIu64 " JSON lines were too long to write and "
			"were dropped (a bug: please report it)\n",
			((struct json_priv *)sk->priv)->overflow);
}

/* A TIME-WAIT that ended: {"type":"time_wait", ...}. */
static void json_tw_end(struct tf_sink *sk, const struct tf_tw_end *e)
{
	struct tf_jw w;

	tf_jw_init(&w);
	tf_jw_lit(&w, "{\"type\":\"time_wait\"");
	json_endpoints(&w, e->family, e->saddr, e->sport, e->daddr, e->dport, e->netns, e->pid,
		       e->comm);
	json_time(&w, "handover_time", sk, e->handover_ns);
	json_time(&w, "end_time", sk, e->end_ns);
	tf_jw_us(&w, "time_wait_us", e->handover_ns && e->end_ns >= e->handover_ns ?
					(int64_t)(e->end_ns - e->handover_ns) : -1);
	tf_jw_name(&w, "end", tf_tw_end_name(e->reason));
	tf_jw_us(&w, "precision_us", e->precision_ns);
	tf_jw_name(&w, "substate", tf_state_name(e->substate));
	tf_jw_name(&w, "handover", tf_tw_handover_name(e->handover_src));
	tf_jw_lit(&w, "}\n");
	emit(sk, &w);
}

/* A half-closed connection older than --stuck: {"type":"stuck", ...}. */
static void json_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	const struct tf_conn *c = st->rec;
	uint64_t since = c->state_ns[(c->nstates - 1u) % TF_MAX_STATES];
	struct tf_jw w;

	tf_jw_init(&w);
	tf_jw_lit(&w, "{\"type\":\"stuck\"");
	json_time(&w, "time", sk, since + (uint64_t)st->age_ns);
	tf_jw_name(&w, "state", tf_state_name(st->state));
	tf_jw_us(&w, "age_us", st->age_ns);
	json_time(&w, "since", sk, since);
	json_endpoints(&w, c->family, c->saddr, c->sport, c->daddr, c->dport, c->netns, c->pid,
		       c->comm);
	tf_jw_name(&w, "role", tf_role_name(c->role));
	tf_jw_bool(&w, "orphaned", st->orphaned);
	tf_jw_name(&w, "age_from", st->idle_age ? "peer_idle" : "state_change");
	tf_jw_lit(&w, "}\n");
	emit(sk, &w);
	fflush(sk->out);
}

static const struct tf_sink_ops json_ops = {
	.name = "json",
	.conn = json_conn,
	.tw_end = json_tw_end,
	.stuck = json_stuck,
	.finish = json_finish,
};

struct tf_sink *tf_sink_json_new(FILE *out, int64_t mono_to_real_ns)
{
	return tf_sink_alloc(&json_ops, out, mono_to_real_ns, sizeof(struct json_priv));
}
