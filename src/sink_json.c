// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --json: one object per connection per line; a "stats" object at the end. */
#include <inttypes.h>
#include <sys/socket.h>
#include "fmt.h"
#include "sink.h"
#include "twtrack.h"

static void json_us(FILE *o, const char *key, int64_t ns)
{
	if (ns < 0)
		fprintf(o, ",\"%s\":null", key);
	else
		fprintf(o, ",\"%s\":%" PRId64, key, ns / 1000);
}

static void json_name(FILE *o, const char *key, const char *val)
{
	if (val)
		fprintf(o, ",\"%s\":\"%s\"", key, val);
	else
		fprintf(o, ",\"%s\":null", key);
}

static void json_states(FILE *o, const struct tf_summary *s)
{
	fputs(",\"states\":[", o);
	for (int i = 0; i < s->nstates; i++) {
		const struct tf_state_point *p = &s->states[i];

		fprintf(o, "%s{\"state\":\"%s\",\"t_us\":%" PRId64 "%s}", i ? "," : "",
			tf_state_name(p->state), p->t_ns / 1000, p->derived ? ",\"derived\":true" : "");
	}
	fputc(']', o);
}

static void json_retrans(FILE *o, const struct tf_summary *s)
{
	fputs(",\"retransmits\":[", o);
	for (int i = 0; i < s->nretrans; i++) {
		const struct tf_retrans_point *r = &s->retrans[i];

		fprintf(o, "%s{\"t_us\":%" PRId64 ",\"state\":\"%s\",\"kind\":\"%s\"}", i ? "," : "",
			r->t_ns / 1000, tf_state_name(r->state), tf_retrans_kind_name(r->kind));
	}
	fputc(']', o);
}

static void json_flags(FILE *o, const struct tf_conn *c)
{
	static const struct { __u16 bit; const char *name; } names[] = {
		{ TF_F_MIDLIFE, "began_before_trace" }, { TF_F_OPEN, "open_at_exit" },
		{ TF_F_STATES_TRUNC, "states_truncated" }, { TF_F_RETRANS_TRUNC, "retransmits_truncated" },
		{ TF_F_REPLACED, "close_not_seen" }, { TF_F_PID_LISTENER, "pid_from_listener" },
		{ TF_F_LOST_EVENTS, "events_lost" },
	};
	int n = 0;

	fputs(",\"flags\":[", o);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (c->flags & names[i].bit)
			fprintf(o, "%s\"%s\"", n++ ? "," : "", names[i].name);
	fputc(']', o);
}

static void json_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	const struct tf_conn *c = s->rec;
	FILE *o = sk->out;
	char t[TF_TIME_LEN], sa[TF_ADDR_LEN], da[TF_ADDR_LEN];

	fprintf(o, "{\"type\":\"conn\",\"start_time\":\"%s\",\"family\":\"%s\","
		   "\"saddr\":\"%s\",\"sport\":%u,\"daddr\":\"%s\",\"dport\":%u,"
		   "\"netns\":%u,\"pid\":%u,\"comm\":\"",
		tf_fmt_rfc3339((int64_t)s->t0_ns + sk->mono_to_real_ns, t, sizeof(t)),
		c->family == AF_INET6 ? "ipv6" : "ipv4",
		tf_fmt_addr(c->family, c->saddr, sa, sizeof(sa)), c->sport,
		tf_fmt_addr(c->family, c->daddr, da, sizeof(da)), c->dport, c->netns, c->pid);
	tf_json_str(o, c->comm, sizeof(c->comm));
	fprintf(o, "\",\"role\":\"%s\"", tf_role_name(s->role));
	json_states(o, s);
	json_retrans(o, s);
	json_us(o, "handshake_us", s->handshake_ns);
	json_name(o, "handshake_method", tf_hs_method_name(s->hs_method));
	fprintf(o, ",\"syn_retrans\":%u,\"synack_retrans\":%u,\"fin_retrans\":%u,"
		   "\"fin_retrans_fin_wait1\":%u,\"fin_retrans_last_ack\":%u,"
		   "\"fin_retrans_closing\":%u,\"retrans\":%u,\"retrans_failed\":%u",
		c->syn_retrans, c->synack_retrans, c->fin_retrans,
		c->fin_retrans_by_state[TF_FIN_IN_FIN_WAIT1], c->fin_retrans_by_state[TF_FIN_IN_LAST_ACK],
		c->fin_retrans_by_state[TF_FIN_IN_CLOSING], c->retrans, c->retrans_failed);
	json_name(o, "close", tf_close_kind_name(s->close_kind));
	json_name(o, "close_end", tf_close_end_name(s->close_end));
	json_name(o, "reset", tf_reset_name(s->reset));
	json_us(o, "close_us", s->close_ns);
	json_us(o, "fin_ack_us", s->fin_ack_ns);
	fprintf(o, ",\"time_wait\":%s", s->time_wait ? "true" : "false");
	json_us(o, "time_wait_at_us", s->time_wait_at_ns);
	json_us(o, "lifetime_us", s->lifetime_ns);
	fprintf(o, ",\"complete\":%s", s->complete ? "true" : "false");
	json_flags(o, c);
	fputs("}\n", o);
}

static void json_finish(struct tf_sink *sk, const struct tf_run_stats *st)
{
	fprintf(sk->out, "{\"type\":\"stats\",\"conns\":%" PRIu64 ",\"events\":%" PRIu64
		",\"open_at_exit\":%" PRIu64 ",\"started\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"lost_ringbuf\":%" PRIu64
		",\"lost_ringbuf_events\":%" PRIu64 ",\"lost_table_full\":%" PRIu64
		",\"evicted\":%" PRIu64 ",\"recursion_misses\":%" PRIu64 ",\"replaced\":%" PRIu64
		",\"retrans_failed\":%" PRIu64 ",\"synack_retrans_listeners\":%" PRIu64
		",\"malformed\":%" PRIu64 "}\n",
		st->conns, st->events, st->flushed_open, st->bpf[TF_STAT_CREATED], tf_run_lost(st),
		st->bpf[TF_STAT_RB_LOST_CONN], st->bpf[TF_STAT_RB_LOST_STATE],
		st->bpf[TF_STAT_TABLE_FULL], tf_run_evicted(st), st->recursion_misses,
		st->bpf[TF_STAT_REPLACED],
		st->bpf[TF_STAT_RETRANS_FAILED], st->bpf[TF_STAT_SYNACK_RETRANS], st->malformed);
	fflush(sk->out);
}

/* "family", "saddr", "sport", "daddr", "dport", "netns", "pid", "comm" (opens with a comma). */
static void json_endpoints(FILE *o, int family, const uint8_t *saddr, uint16_t sport,
			   const uint8_t *daddr, uint16_t dport, uint32_t netns, uint32_t pid,
			   const char *comm)
{
	char sa[TF_ADDR_LEN], da[TF_ADDR_LEN];

	fprintf(o, ",\"family\":\"%s\",\"saddr\":\"%s\",\"sport\":%u,\"daddr\":\"%s\","
		   "\"dport\":%u,\"netns\":%u,\"pid\":%u,\"comm\":\"",
		family == AF_INET6 ? "ipv6" : "ipv4", tf_fmt_addr(family, saddr, sa, sizeof(sa)), sport,
		tf_fmt_addr(family, daddr, da, sizeof(da)), dport, netns, pid);
	tf_json_str(o, comm, TF_COMM_LEN);
	fputc('"', o);
}

static void json_time(FILE *o, const char *key, const struct tf_sink *sk, uint64_t mono_ns)
{
	char t[TF_TIME_LEN];

	if (!mono_ns)
		fprintf(o, ",\"%s\":null", key);
	else
		fprintf(o, ",\"%s\":\"%s\"", key,
			tf_fmt_rfc3339((int64_t)mono_ns + sk->mono_to_real_ns, t, sizeof(t)));
}

/* A TIME-WAIT that ended: {"type":"time_wait", ...}. */
static void json_tw_end(struct tf_sink *sk, const struct tf_tw_end *e)
{
	static const char *const src[] = { "unknown", "kernel_stamp", "traced" };
	FILE *o = sk->out;

	fputs("{\"type\":\"time_wait\"", o);
	json_endpoints(o, e->family, e->saddr, e->sport, e->daddr, e->dport, e->netns, e->pid,
		       e->comm);
	json_time(o, "handover_time", sk, e->handover_ns);
	json_time(o, "end_time", sk, e->end_ns);
	json_us(o, "time_wait_us", e->handover_ns && e->end_ns >= e->handover_ns ?
				   (int64_t)(e->end_ns - e->handover_ns) : -1);
	fprintf(o, ",\"end\":\"%s\",\"precision_us\":%" PRId64 ",\"substate\":\"%s\","
		   "\"handover\":\"%s\"}\n",
		tf_tw_end_name(e->reason), e->precision_ns / 1000, tf_state_name(e->substate),
		e->handover_src >= 0 && e->handover_src <= 2 ? src[e->handover_src] : "unknown");
}

/* A half-closed connection older than --stuck: {"type":"stuck", ...}. */
static void json_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	const struct tf_conn *c = st->rec;
	uint64_t since = c->state_ns[(c->nstates - 1u) % TF_MAX_STATES];
	FILE *o = sk->out;

	fputs("{\"type\":\"stuck\"", o);
	json_time(o, "time", sk, since + (uint64_t)st->age_ns);
	fprintf(o, ",\"state\":\"%s\",\"age_us\":%" PRId64, tf_state_name(st->state),
		st->age_ns / 1000);
	json_time(o, "since", sk, since);
	json_endpoints(o, c->family, c->saddr, c->sport, c->daddr, c->dport, c->netns, c->pid,
		       c->comm);
	fprintf(o, ",\"role\":\"%s\",\"orphaned\":%s,\"age_from\":\"%s\"}\n",
		tf_role_name(c->role), st->orphaned ? "true" : "false",
		st->idle_age ? "peer_idle" : "state_change");
	fflush(o);
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
	return tf_sink_alloc(&json_ops, out, mono_to_real_ns);
}
