// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Terminal views: one line per connection, --timeline, --events. */
#include <inttypes.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "fmt.h"
#include "sink.h"

struct text_priv {
	bool header_done;
};

/* HH:MM:SS.uuuuuu of a CLOCK_MONOTONIC time, in UTC. */
static const char *clock_of(const struct tf_sink *sk, uint64_t mono_ns, char *buf, size_t len)
{
	char full[TF_TIME_LEN];

	tf_fmt_rfc3339((int64_t)mono_ns + sk->mono_to_real_ns, full, sizeof(full));
	snprintf(buf, len, "%.15s", full + 11);
	return buf;
}

static void header_once(struct tf_sink *sk, const char *hdr)
{
	struct text_priv *p = sk->priv;

	if (p && p->header_done)
		return;
	fputs(hdr, sk->out);
	if (p)
		p->header_done = true;
}

/* ---- one line per connection ---------------------------------------------- */

/* Kilobytes (1024) as bcc's tcplife shows them; "-" when not read. */
static const char *kbytes(const struct tf_conn *c, uint64_t bytes, char *buf, size_t len)
{
	if (!(c->flags & TF_F_TRAFFIC))
		return "-";
	snprintf(buf, len, "%" PRIu64, bytes / 1024);
	return buf;
}

static void line_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	const struct tf_conn *c = s->rec;
	char t[TF_TIME_LEN], l[TF_ADDR_LEN + 8], r[TF_ADDR_LEN + 8];
	char hs[24], cl[24], life[24], tx[24], rx[24];
	const char *end = s->close_end == TF_CE_OPEN ? "open" :
			  s->time_wait ? "time_wait" : tf_close_end_name(s->close_end);

	header_once(sk, "TIME(UTC)       PID     COMM             ROLE   LOCAL                  "
			"REMOTE                 HANDSHAKE CLOSE        END        CLOSE_TIME LIFETIME  "
			"  TX_KB   RX_KB RETRANS SYN/SYNACK/FIN/ALL\n");
	fprintf(sk->out, "%-15s %-7u %-16.16s %-6s %-22s %-22s %9s %-12s %-10s %10s %9s %7s %7s "
		"%u/%u/%u/%u%s\n",
		clock_of(sk, s->t0_ns, t, sizeof(t)), c->pid, c->comm, tf_role_name(s->role),
		tf_fmt_endpoint(c->family, c->saddr, c->sport, l, sizeof(l)),
		tf_fmt_endpoint(c->family, c->daddr, c->dport, r, sizeof(r)),
		tf_fmt_dur(s->handshake_ns, hs, sizeof(hs)), tf_close_kind_name(s->close_kind), end,
		tf_fmt_dur(s->close_ns, cl, sizeof(cl)), tf_fmt_dur(s->lifetime_ns, life, sizeof(life)),
		kbytes(c, c->bytes_acked, tx, sizeof(tx)), kbytes(c, c->bytes_received, rx, sizeof(rx)),
		c->syn_retrans, c->synack_retrans, c->fin_retrans, c->retrans,
		s->complete ? "" : " (incomplete)");
}

/* ---- --timeline ------------------------------------------------------------ */

static const char *state_note(const struct tf_summary *s, int i, char *buf, size_t len)
{
	const struct tf_state_point *p = &s->states[i];
	char d[24];

	buf[0] = 0;
	switch (p->state) {
	case TF_SYN_SENT:
		return "connect(): SYN sent";
	case TF_SYN_RECV:
		return p->derived ? "SYN received, SYN-ACK sent (time from the kernel's SYN-ACK timestamp)"
				  : "child socket created at the final ACK";
	case TF_ESTABLISHED:
		if (s->handshake_ns >= 0)
			snprintf(buf, len, "handshake %s", tf_fmt_dur(s->handshake_ns, d, sizeof(d)));
		return buf;
	case TF_FIN_WAIT1:
		return "we sent FIN (active close)";
	case TF_FIN_WAIT2:
		return "our FIN was acknowledged; waiting for the peer's FIN";
	case TF_CLOSE_WAIT:
		return "peer's FIN received; waiting for our close()";
	case TF_LAST_ACK:
		return "we sent FIN; waiting for its ACK";
	case TF_CLOSING:
		return "both FINs crossed (simultaneous close)";
	case TF_CLOSE:
		if (s->time_wait && i == s->nstates - 1)
			return "handed to a timewait socket: TIME_WAIT begins (inferred: the kernel "
			       "reports no TIME_WAIT state; it lasts ~60 s)";
		if (s->reset == TF_RST_SENT)
			return "closed: reset sent";
		if (s->reset == TF_RST_RECEIVED)
			return "closed: reset received";
		if (s->close_end == TF_CE_ORDERLY)
			return "closed: our FIN was acknowledged";
		return "closed";
	}
	return buf;
}

/* Time since the first event: "0", "+52us", "+1.000s". */
static const char *rel_time(int64_t ns, char *buf, size_t len)
{
	char d[24];

	if (ns == 0)
		return "0";
	snprintf(buf, len, "+%s", tf_fmt_dur(ns, d, sizeof(d)));
	return buf;
}

static void timeline_conn(struct tf_sink *sk, const struct tf_summary *s)
{
	const struct tf_conn *c = s->rec;
	char t[TF_TIME_LEN], l[TF_ADDR_LEN + 8], r[TF_ADDR_LEN + 8], d[24], note[96];
	char traffic[160];
	int i = 0, j = 0;

	fprintf(sk->out, "%s %s %s -> %s pid %u (%.16s) netns %u%s\n",
		clock_of(sk, s->t0_ns, t, sizeof(t)), tf_role_name(s->role),
		tf_fmt_endpoint(c->family, c->saddr, c->sport, l, sizeof(l)),
		tf_fmt_endpoint(c->family, c->daddr, c->dport, r, sizeof(r)), c->pid, c->comm,
		c->netns, s->complete ? "" : " [incomplete]");
	/* states and retransmissions merged in time order */
	while (i < s->nstates || j < s->nretrans) {
		bool take_state = j >= s->nretrans ||
				  (i < s->nstates && s->states[i].t_ns <= s->retrans[j].t_ns);

		if (take_state) {
			const struct tf_state_point *p = &s->states[i];
			const char *name = (p->state == TF_CLOSE && s->time_wait && i == s->nstates - 1)
						   ? "TIME_WAIT" : tf_state_name(p->state);

			fprintf(sk->out, "  %12s  %-12s %s\n", rel_time(p->t_ns, d, sizeof(d)),
				name, state_note(s, i, note, sizeof(note)));
			i++;
		} else {
			const struct tf_retrans_point *rt = &s->retrans[j];

			fprintf(sk->out, "  %12s  %-12s %s retransmitted in %s\n",
				rel_time(rt->t_ns, d, sizeof(d)), "  ~",
				tf_retrans_kind_name(rt->kind), tf_state_name(rt->state));
			j++;
		}
	}
	fprintf(sk->out, "  close %s, end %s", tf_close_kind_name(s->close_kind),
		tf_close_end_name(s->close_end));
	if (s->close_ns >= 0)
		fprintf(sk->out, ", close took %s", tf_fmt_dur(s->close_ns, d, sizeof(d)));
	if (s->fin_ack_ns >= 0)
		fprintf(sk->out, ", FIN acked after %s", tf_fmt_dur(s->fin_ack_ns, d, sizeof(d)));
	fprintf(sk->out, ", retransmits SYN %u SYN-ACK %u FIN %u all %u%s\n\n", c->syn_retrans,
		c->synack_retrans, c->fin_retrans, c->retrans,
		tf_fmt_traffic(c, traffic, sizeof(traffic)));
}

/* ---- --events -------------------------------------------------------------- */

static void events_state(struct tf_sink *sk, const struct tf_state_event *e)
{
	char t[TF_TIME_LEN], l[TF_ADDR_LEN + 8], r[TF_ADDR_LEN + 8], d[24];

	header_once(sk, "TIME(UTC)       PID     COMM             LOCAL                  "
			"REMOTE                 OLD          -> NEW          IN_OLD\n");
	fprintf(sk->out, "%-15s %-7u %-16.16s %-22s %-22s %-12s -> %-12s %s\n",
		clock_of(sk, e->ts_ns, t, sizeof(t)), e->pid, e->comm,
		tf_fmt_endpoint(e->family, e->saddr, e->sport, l, sizeof(l)),
		tf_fmt_endpoint(e->family, e->daddr, e->dport, r, sizeof(r)),
		tf_state_name(e->oldstate), tf_state_name(e->newstate),
		e->prev_ns && e->prev_ns <= e->ts_ns ? tf_fmt_dur((int64_t)(e->ts_ns - e->prev_ns), d, sizeof(d)) : "-");
}

/* ---- stuck half-closed connections (line and timeline views) ------------------ */

static void text_stuck(struct tf_sink *sk, const struct tf_stuck *st)
{
	const struct tf_conn *c = st->rec;
	char l[TF_ADDR_LEN + 8], r[TF_ADDR_LEN + 8], age[24];
	bool cw = st->state == TF_CLOSE_WAIT;

	fprintf(sk->out, "STUCK %s %s pid %u (%.16s) %s %s %s netns %u: %s%s\n",
		tf_state_name(st->state), tf_fmt_dur(st->age_ns, age, sizeof(age)), c->pid, c->comm,
		tf_fmt_endpoint(c->family, c->saddr, c->sport, l, sizeof(l)), cw ? "<-" : "->",
		tf_fmt_endpoint(c->family, c->daddr, c->dport, r, sizeof(r)), c->netns,
		cw ? "the peer closed; the application has not called close()"
		   : st->orphaned ? "closed by the application; the peer never sent its FIN"
				  : "our FIN was acknowledged; the peer never sent its FIN",
		st->idle_age ? " (began before tracing: age = time since the peer's last ACK)" : "");
	fflush(sk->out);
}

static const struct tf_sink_ops line_ops = { .name = "line", .conn = line_conn,
					      .stuck = text_stuck };
static const struct tf_sink_ops timeline_ops = { .name = "timeline", .conn = timeline_conn,
						  .stuck = text_stuck };
static const struct tf_sink_ops events_ops = { .name = "events", .state = events_state };

static struct tf_sink *text_new(const struct tf_sink_ops *ops, FILE *out, int64_t off)
{
	return tf_sink_alloc(ops, out, off, sizeof(struct text_priv));
}

struct tf_sink *tf_sink_line_new(FILE *out, int64_t off)
{
	return text_new(&line_ops, out, off);
}

struct tf_sink *tf_sink_timeline_new(FILE *out, int64_t off)
{
	return text_new(&timeline_ops, out, off);
}

struct tf_sink *tf_sink_events_new(FILE *out, int64_t off)
{
	return text_new(&events_ops, out, off);
}
