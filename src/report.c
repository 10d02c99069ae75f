// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * report: --json capture -> one self-contained HTML page. See report.h.
 *
 * Reading never trusts its input: every line is bounded, parsed by jansson,
 * every field type- and range-checked; what cannot be used is counted and
 * said once, never fatal unless nothing at all was usable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "options.h"
#include "report.h"

#define US_LIMIT 100000000000000ll	/* +-100,000,000 s: beyond that a time is garbage */

/* ---- small helpers ---------------------------------------------------------- */

/* Lower bounds, in 1/1000 us, of the 4 buckets of a decade: 10^(k/4). */
static const int64_t mantissa[4] = { 1000, 1778, 3162, 5623 };

int64_t tf_rp_bucket_lo(int i)
{
	int64_t p = 1;

	if (i <= 0)
		return 0;
	if (i >= TF_RP_NBUCKETS)
		i = TF_RP_NBUCKETS - 1;
	for (int d = 0; d < (i - 1) / 4; d++)
		p *= 10;
	return (mantissa[(i - 1) % 4] * p + 500) / 1000;
}

int tf_rp_bucket(int64_t us)
{
	int i;

	if (us < 1)
		return 0;
	for (i = 1; i + 1 < TF_RP_NBUCKETS && us >= tf_rp_bucket_lo(i + 1); i++)
		;
	return i;
}

const char *tf_rp_dur(int64_t us, char *buf, size_t len)
{
	const char *sign = "";

	if (us == TF_RP_NONE) {
		snprintf(buf, len, "–");
		return buf;
	}
	if (us < 0) {
		sign = "-";
		us = us == INT64_MIN + 1 ? INT64_MAX : -us;
	}
	if (us < 1000)
		snprintf(buf, len, "%s%" PRId64 "µs", sign, us);
	else if (us < 10000)
		snprintf(buf, len, "%s%.2fms", sign, us / 1e3);
	else if (us < 1000000)
		snprintf(buf, len, "%s%.1fms", sign, us / 1e3);
	else if (us < 100000000)
		snprintf(buf, len, "%s%.3fs", sign, us / 1e6);
	else
		snprintf(buf, len, "%s%.0fs", sign, us / 1e6);
	return buf;
}

void tf_rp_esc(FILE *o, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", o); break;
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '"': fputs("&quot;", o); break;
		case '\'': fputs("&#39;", o); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc(' ', o);
			else
				fputc(*s, o);
		}
	}
}

const char *tf_rp_endpoint(const struct tf_rp_conn *c, bool local, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	const uint8_t *addr = local ? c->saddr : c->daddr;
	unsigned port = local ? c->sport : c->dport;

	if (!inet_ntop(c->family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (c->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

/* ---- reading ---------------------------------------------------------------- */

void tf_rp_init(struct tf_rp_data *d)
{
	memset(d, 0, sizeof(*d));
}

void tf_rp_free(struct tf_rp_data *d)
{
	free(d->conns);
	free(d->states);
	free(d->retrans);
	free(d->hash);
	free(d->stuck);
	free(d->tw);
	memset(d, 0, sizeof(*d));
}

/* Grow *arr (elements of size sz) to hold n+1 elements. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Remember the first problem, in plain ASCII: it goes to a terminal. */
static void note_bad(struct tf_rp_data *d, const char *fmt, const char *detail)
{
	if (d->first_bad_line)
		return;
	d->first_bad_line = d->lines;
	snprintf(d->first_bad_msg, sizeof(d->first_bad_msg), fmt, detail);
	for (char *p = d->first_bad_msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* An integer field within [lo, hi]; reals are accepted and truncated. */
static bool get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	double r;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < lo || x > hi)
			return false;
		*out = x;
		return true;
	}
	if (json_is_real(v)) {
		r = json_real_value(v);
		if (!(r >= (double)lo && r <= (double)hi))	/* also NaN */
			return false;
		*out = (int64_t)r;
		return true;
	}
	return false;
}

static uint32_t get_u32(json_t *o, const char *key)
{
	int64_t v = 0;

	return get_int(o, key, 0, UINT32_MAX, &v) ? (uint32_t)v : 0;
}

static uint64_t get_u64(json_t *o, const char *key)
{
	int64_t v = 0;

	return get_int(o, key, 0, INT64_MAX, &v) ? (uint64_t)v : 0;
}

/* A duration in us, TF_RP_NONE when null, absent or out of range. */
static int64_t get_us(json_t *o, const char *key)
{
	int64_t v;

	return get_int(o, key, -US_LIMIT, US_LIMIT, &v) ? v : TF_RP_NONE;
}

static const char *get_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Index of name in names(0..n-1) via fn, or dflt. */
static int lookup(const char *name, const char *(*fn)(int), int n, int dflt)
{
	if (!name)
		return dflt;
	for (int i = 0; i < n; i++) {
		const char *s = fn(i);

		if (s && !strcmp(s, name))
			return i;
	}
	return dflt;
}

static int state_of(const char *name)
{
	return lookup(name, tf_state_name, TF_STATE_MAX, 0);
}

/* "2026-11-28T22:40:00.000000Z" -> us since the epoch, or TF_RP_NONE. */
static int64_t parse_time(const char *s)
{
	int y, mo, da, h, mi, se, n = 0;
	int64_t frac = 0, scale = 1000000;
	struct tm tm = { 0 };
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &da, &h, &mi, &se, &n) != 6 ||
	    n != 19)
		return TF_RP_NONE;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59 ||
	    se > 60 || h < 0 || mi < 0 || se < 0)
		return TF_RP_NONE;
	s += 19;
	if (*s == '.') {
		s++;
		for (int k = 0; *s >= '0' && *s <= '9'; s++, k++)
			if (k < 6) {
				scale /= 10;
				frac += (*s - '0') * scale;
			}
	}
	if (strcmp(s, "Z"))
		return TF_RP_NONE;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return TF_RP_NONE;
	return (int64_t)t * 1000000 + frac;
}

/* Copy UTF-8 text, cut at a character boundary to fit. */
static void copy_utf8(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= len) {
		n = len - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

static bool parse_addr(const char *s, int family, uint8_t out[16])
{
	memset(out, 0, 16);
	return s && inet_pton(family, s, out) == 1;
}

/*
 * A connection's list of timed entries ("states", "retransmits"): each object
 * with a valid t_us goes to push(), which appends it to the data's pool; the
 * connection keeps at most max of them (*count), more set trunc in its flags.
 * Returns -1 when push() fails (out of memory).
 */
static int add_timed(struct tf_rp_data *d, struct tf_rp_conn *c, json_t *arr,
		     uint8_t *count, int max, uint8_t trunc,
		     int (*push)(struct tf_rp_data *d, json_t *e, int64_t t_us))
{
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, e) {
		int64_t t;

		if (!json_is_object(e) || !get_int(e, "t_us", -US_LIMIT, US_LIMIT, &t))
			continue;
		if (*count >= max) {
			c->flags |= trunc;
			break;
		}
		if (push(d, e, t))
			return -1;
		(*count)++;
	}
	return 0;
}

static int push_state(struct tf_rp_data *d, json_t *e, int64_t t_us)
{
	if (grow((void **)&d->states, &d->cap_states, d->nstates, sizeof(*d->states)))
		return -1;
	d->states[d->nstates++] = (struct tf_rp_state){
		.t_us = t_us,
		.state = (uint8_t)state_of(get_str(e, "state")),
		.derived = json_is_true(json_object_get(e, "derived")),
	};
	return 0;
}

static int push_retrans(struct tf_rp_data *d, json_t *e, int64_t t_us)
{
	if (grow((void **)&d->retrans, &d->cap_retrans, d->nretrans, sizeof(*d->retrans)))
		return -1;
	d->retrans[d->nretrans++] = (struct tf_rp_retrans){
		.t_us = t_us,
		.state = (uint8_t)state_of(get_str(e, "state")),
		.kind = (uint8_t)lookup(get_str(e, "kind"), tf_retrans_kind_name, 4, TF_RETRANS_DATA),
	};
	return 0;
}

static uint16_t parse_flags(json_t *arr)
{
	static const struct { const char *name; uint16_t bit; } names[] = {
		{ "began_before_trace", TF_RPF_MIDLIFE }, { "open_at_exit", TF_RPF_OPEN },
		{ "states_truncated", TF_RPF_STATES_TRUNC },
		{ "retransmits_truncated", TF_RPF_RETRANS_TRUNC },
		{ "close_not_seen", TF_RPF_REPLACED }, { "pid_from_listener", TF_RPF_PID_LISTENER },
		{ "events_lost", TF_RPF_LOST }, { "missed_transitions", TF_RPF_GAP },
	};
	uint16_t f = 0;
	size_t i, k;
	json_t *e;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, e) {
		const char *s = json_string_value(e);

		if (!s)
			continue;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (!strcmp(s, names[k].name))
				break;
		f |= k < sizeof(names) / sizeof(names[0]) ? names[k].bit : TF_RPF_OTHER;
	}
	return f;
}

static bool half_closed(int state)
{
	return state == TF_CLOSE_WAIT || state == TF_FIN_WAIT1 || state == TF_FIN_WAIT2 ||
	       state == TF_LAST_ACK || state == TF_CLOSING;
}

/* The state a record ended in (0: none). */
static int last_state(const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	return c->nstates ? tf_rp_states(d, c)[c->nstates - 1].state : 0;
}

static bool is_open_half_closed(const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	return (c->close_end == TF_CE_OPEN || (c->flags & TF_RPF_OPEN)) &&
	       half_closed(last_state(d, c));
}

static void aggregate(struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	struct tf_rp_agg *a = &d->agg;
	uint32_t fin = c->fin_retrans;
	int role = c->role < 3 ? c->role : 0;
	int ck;

	a->conns++;
	a->by_role_close[role][c->close_kind <= TF_CK_MAX ? c->close_kind : TF_CK_MAX]++;
	a->by_end[c->close_end <= TF_CE_MAX ? c->close_end : TF_CE_MAX]++;
	a->syn_retrans += c->syn_retrans;
	a->synack_retrans += c->synack_retrans;
	a->fin_retrans += fin;
	a->fin_fw1 += c->fin_fw1;
	a->fin_la += c->fin_la;
	a->fin_cl += c->fin_cl;
	a->retrans += c->retrans;
	if (c->retrans || c->syn_retrans || c->synack_retrans || fin || c->nretrans)
		a->conns_retrans++;
	if (c->reset == TF_RST_SENT)
		a->rst_sent++;
	else if (c->reset == TF_RST_RECEIVED)
		a->rst_received++;
	if (c->time_wait)
		a->time_wait++;
	if (!c->complete)
		a->incomplete++;
	if (c->flags & (TF_RPF_LOST | TF_RPF_GAP))
		a->flagged_lost++;
	if (is_open_half_closed(d, c))
		a->open_half_closed++;
	if (c->handshake_us != TF_RP_NONE && c->handshake_us >= 0) {
		a->hs_hist[role == TF_ROLE_CLIENT ? 0 : role == TF_ROLE_SERVER ? 1 : 2]
			  [tf_rp_bucket(c->handshake_us)]++;
		a->hs_n++;
	}
	if (c->close_us != TF_RP_NONE && c->close_us >= 0) {
		ck = c->close_kind == TF_CK_ACTIVE ? 0 : c->close_kind == TF_CK_PASSIVE ? 1 : 2;
		a->close_hist[ck][tf_rp_bucket(c->close_us)]++;
		a->close_n++;
	}
}

/* A "conn" record. Returns 0, 1 when unusable (counted), -1 out of memory. */
static int add_conn(struct tf_rp_data *d, json_t *o)
{
	struct tf_rp_conn c = { .peer = -1, .next = -1 };
	const char *fam = get_str(o, "family"), *sa = get_str(o, "saddr"), *da = get_str(o, "daddr");
	const char *reset = get_str(o, "reset");
	size_t ns0 = d->nstates, nr0 = d->nretrans;
	int64_t v;
	int af;

	if (fam && !strcmp(fam, "ipv6"))
		af = AF_INET6;
	else if (fam && !strcmp(fam, "ipv4"))
		af = AF_INET;
	else
		af = sa && strchr(sa, ':') ? AF_INET6 : AF_INET;
	c.family = (uint8_t)af;
	if (!parse_addr(sa, af, c.saddr) || !parse_addr(da, af, c.daddr)) {
		note_bad(d, "a conn record without valid saddr/daddr%s", "");
		return 1;
	}
	if (!get_int(o, "sport", 0, 65535, &v)) {
		note_bad(d, "a conn record without a valid sport%s", "");
		return 1;
	}
	c.sport = (uint16_t)v;
	if (!get_int(o, "dport", 0, 65535, &v)) {
		note_bad(d, "a conn record without a valid dport%s", "");
		return 1;
	}
	c.dport = (uint16_t)v;
	c.line = (uint32_t)(d->lines > UINT32_MAX ? UINT32_MAX : d->lines);
	c.start_us = parse_time(get_str(o, "start_time"));
	c.netns = get_u32(o, "netns");
	c.pid = get_u32(o, "pid");
	copy_utf8(c.comm, sizeof(c.comm), get_str(o, "comm"));
	c.role = (uint8_t)lookup(get_str(o, "role"), tf_role_name, 3, TF_ROLE_UNKNOWN);
	c.close_kind = (uint8_t)lookup(get_str(o, "close"), tf_close_kind_name, TF_CK_MAX, TF_CK_MAX);
	c.close_end = (uint8_t)lookup(get_str(o, "close_end"), tf_close_end_name, TF_CE_MAX, TF_CE_MAX);
	c.reset = reset && !strcmp(reset, "sent") ? TF_RST_SENT :
		  reset && !strcmp(reset, "received") ? TF_RST_RECEIVED : TF_RST_NONE;
	c.handshake_us = get_us(o, "handshake_us");
	c.close_us = get_us(o, "close_us");
	c.fin_ack_us = get_us(o, "fin_ack_us");
	c.time_wait_at_us = get_us(o, "time_wait_at_us");
	c.lifetime_us = get_us(o, "lifetime_us");
	c.time_wait_us = get_us(o, "time_wait_us");
	c.stuck_age_us = TF_RP_NONE;
	c.syn_retrans = get_u32(o, "syn_retrans");
	c.synack_retrans = get_u32(o, "synack_retrans");
	c.fin_retrans = get_u32(o, "fin_retrans");
	c.fin_fw1 = get_u32(o, "fin_retrans_fin_wait1");
	c.fin_la = get_u32(o, "fin_retrans_last_ack");
	c.fin_cl = get_u32(o, "fin_retrans_closing");
	c.retrans = get_u32(o, "retrans");
	c.time_wait = json_is_true(json_object_get(o, "time_wait"));
	c.complete = json_is_true(json_object_get(o, "complete"));
	c.flags = parse_flags(json_object_get(o, "flags"));
	c.states_off = (uint32_t)ns0;
	c.retrans_off = (uint32_t)nr0;
	if (add_timed(d, &c, json_object_get(o, "states"), &c.nstates,
		      TF_RP_MAX_STATES, TF_RPF_STATES_TRUNC, push_state) ||
	    add_timed(d, &c, json_object_get(o, "retransmits"), &c.nretrans,
		      TF_RP_MAX_RETRANS, TF_RPF_RETRANS_TRUNC, push_retrans))
		return -1;
	aggregate(d, &c);
	if (d->nconns >= TF_RP_MAX_KEPT) {
		d->not_kept++;
		d->nstates = ns0;	/* counted, not kept: give the pool space back */
		d->nretrans = nr0;
		return 0;
	}
	if (grow((void **)&d->conns, &d->cap_conns, d->nconns, sizeof(*d->conns)))
		return -1;
	d->conns[d->nconns++] = c;
	return 0;
}

static void add_stats(struct tf_rp_data *d, json_t *o)
{
	struct tf_rp_stats *s = &d->stats;

	s->lines++;
	s->conns += get_u64(o, "conns");
	s->events += get_u64(o, "events");
	s->open_at_exit += get_u64(o, "open_at_exit");
	s->lost += get_u64(o, "lost");
	s->lost_ringbuf += get_u64(o, "lost_ringbuf");
	s->lost_ringbuf_events += get_u64(o, "lost_ringbuf_events");
	s->lost_table_full += get_u64(o, "lost_table_full");
	s->recursion_misses += get_u64(o, "recursion_misses");
	s->replaced += get_u64(o, "replaced");
	s->retrans_failed += get_u64(o, "retrans_failed");
	s->malformed += get_u64(o, "malformed");
}

/* A "stuck" record: kept to mark the connection it names (matched in tf_rp_pair). */
static int add_stuck(struct tf_rp_data *d, json_t *o)
{
	struct tf_rp_stuck st = { 0 };
	const char *fam = get_str(o, "family"), *sa = get_str(o, "saddr"), *da = get_str(o, "daddr");
	int64_t v;
	int af = (fam && !strcmp(fam, "ipv6")) || (!fam && sa && strchr(sa, ':')) ? AF_INET6 : AF_INET;

	d->stuck_records++;
	if (d->nstuck >= TF_RP_MAX_STUCK || !parse_addr(sa, af, st.saddr) ||
	    !parse_addr(da, af, st.daddr) || !get_int(o, "sport", 0, 65535, &v))
		return 0;
	st.sport = (uint16_t)v;
	if (!get_int(o, "dport", 0, 65535, &v))
		return 0;
	st.dport = (uint16_t)v;
	st.family = (uint8_t)af;
	st.netns = get_u32(o, "netns");
	st.state = (uint8_t)state_of(get_str(o, "state"));
	st.age_us = get_us(o, "age_us");
	if (grow((void **)&d->stuck, &d->cap_stuck, d->nstuck, sizeof(*d->stuck)))
		return -1;
	d->stuck[d->nstuck++] = st;
	return 0;
}

const char *tf_rp_tw_end_name(int i)
{
	static const char *const n[TF_RP_TW_ENDS] = { "expired", "reused", "reset", "netns_gone",
						      "unknown" };

	return i >= 0 && i < TF_RP_TW_ENDS ? n[i] : "unknown";
}

static int tw_end_of(const char *name)
{
	for (int i = 0; i < TF_RP_TW_ENDS; i++)
		if (name && !strcmp(name, tf_rp_tw_end_name(i)))
			return i;
	return TF_RP_TW_ENDS - 1;
}

/* A "time_wait" record: counted by how it ended, kept to mark its connection. */
static int add_tw(struct tf_rp_data *d, json_t *o)
{
	struct tf_rp_tw tw = { 0 };
	const char *fam = get_str(o, "family"), *sa = get_str(o, "saddr"), *da = get_str(o, "daddr");
	int af = (fam && !strcmp(fam, "ipv6")) || (!fam && sa && strchr(sa, ':')) ? AF_INET6 : AF_INET;
	int64_t v;

	tw.end = (uint8_t)tw_end_of(get_str(o, "end"));
	d->agg.tw_ends[tw.end]++;
	if (d->ntw >= TF_RP_MAX_TW || !parse_addr(sa, af, tw.saddr) || !parse_addr(da, af, tw.daddr) ||
	    !get_int(o, "sport", 0, 65535, &v))
		return 0;
	tw.sport = (uint16_t)v;
	if (!get_int(o, "dport", 0, 65535, &v))
		return 0;
	tw.dport = (uint16_t)v;
	tw.family = (uint8_t)af;
	tw.netns = get_u32(o, "netns");
	tw.handover_us = parse_time(get_str(o, "handover_time"));
	tw.tw_us = get_us(o, "time_wait_us");
	if (grow((void **)&d->tw, &d->cap_tw, d->ntw, sizeof(*d->tw)))
		return -1;
	d->tw[d->ntw++] = tw;
	return 0;
}

static void count_type(struct tf_rp_data *d, const char *type)
{
	int i;

	for (i = 0; i < d->ntypes; i++)
		if (!strcmp(d->types[i].name, type))
			break;
	if (i == d->ntypes) {
		if (d->ntypes == TF_RP_MAX_TYPES || strlen(type) >= sizeof(d->types[0].name)) {
			d->other_types++;
			return;
		}
		copy_utf8(d->types[i].name, sizeof(d->types[i].name), type);
		d->ntypes++;
	}
	d->types[i].count++;
}

int tf_rp_add_line(struct tf_rp_data *d, const char *line, size_t len)
{
	json_error_t err;
	const char *type;
	json_t *o;
	size_t i;
	int rc = 0;

	d->lines++;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
		;
	if (i == len) {
		d->blank++;
		return 0;
	}
	o = json_loadb(line, len, 0, &err);
	if (!o) {
		d->bad_json++;
		note_bad(d, "not JSON (%s)", err.text);
		return 0;
	}
	type = json_is_object(o) ? get_str(o, "type") : NULL;
	if (!type) {
		d->bad_record++;
		note_bad(d, "a JSON value that is not a record with a \"type\"%s", "");
	} else if (!strcmp(type, "conn")) {
		rc = add_conn(d, o);
		if (rc == 1) {
			d->bad_record++;
			rc = 0;
		}
	} else if (!strcmp(type, "stats")) {
		add_stats(d, o);
	} else {
		if (!strcmp(type, "stuck"))
			rc = add_stuck(d, o);
		else if (!strcmp(type, "time_wait"))
			rc = add_tw(d, o);
		count_type(d, type);
	}
	json_decref(o);
	return rc;
}

int tf_rp_read(struct tf_rp_data *d, FILE *f)
{
	char *buf = malloc(TF_RP_MAX_LINE + 1);
	size_t n = 0;
	bool skipping = false;
	int ch, rc = 0;

	if (!buf)
		return -1;
	while (rc == 0) {
		ch = getc_unlocked(f);
		if (ch == EOF || ch == '\n') {
			if (skipping) {
				d->lines++;
				d->too_long++;
				if (!d->first_bad_line) {
					d->first_bad_line = d->lines;
					snprintf(d->first_bad_msg, sizeof(d->first_bad_msg),
						 "longer than %d KiB", TF_RP_MAX_LINE / 1024);
				}
			} else if (n || ch == '\n') {
				rc = tf_rp_add_line(d, buf, n);
			}
			n = 0;
			skipping = false;
			if (ch == EOF)
				break;
			continue;
		}
		if (skipping)
			continue;
		if (n == TF_RP_MAX_LINE) {
			skipping = true;
			continue;
		}
		buf[n++] = (char)ch;
	}
	free(buf);
	if (rc == 0 && ferror(f))
		rc = -1;
	return rc;
}

bool tf_rp_usable(const struct tf_rp_data *d)
{
	return d->agg.conns > 0 || d->stats.lines > 0;
}

/* ---- pairing the two sockets of one connection --------------------------------- */

static uint64_t tuple_hash(uint32_t netns, int family, const uint8_t *sa, unsigned sp,
			   const uint8_t *da, unsigned dp)
{
	uint64_t h = 1469598103934665603ull;
	uint8_t buf[44];

	memcpy(buf, &netns, 4);
	memcpy(buf + 4, sa, 16);
	memcpy(buf + 20, da, 16);
	buf[36] = (uint8_t)family;
	buf[37] = (uint8_t)(sp >> 8);
	buf[38] = (uint8_t)sp;
	buf[39] = (uint8_t)(dp >> 8);
	buf[40] = (uint8_t)dp;
	buf[41] = buf[42] = buf[43] = 0;
	for (size_t i = 0; i < sizeof(buf); i++) {
		h ^= buf[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool same_tuple(const struct tf_rp_conn *c, uint32_t netns, int family, const uint8_t *sa,
		       unsigned sp, const uint8_t *da, unsigned dp)
{
	return c->netns == netns && c->family == family && c->sport == sp && c->dport == dp &&
	       !memcmp(c->saddr, sa, 16) && !memcmp(c->daddr, da, 16);
}

/* Head of the chain of conns with this tuple, or -1. */
static int find_tuple(const struct tf_rp_data *d, uint32_t netns, int family, const uint8_t *sa,
		      unsigned sp, const uint8_t *da, unsigned dp)
{
	size_t mask = d->hash_size - 1;
	size_t h = (size_t)tuple_hash(netns, family, sa, sp, da, dp) & mask;

	if (!d->hash_size)
		return -1;
	for (;; h = (h + 1) & mask) {
		int i = d->hash[h];

		if (i < 0)
			return -1;
		if (same_tuple(&d->conns[i], netns, family, sa, sp, da, dp))
			return i;
	}
}

static int build_hash(struct tf_rp_data *d)
{
	size_t size = 16;

	while (size < d->nconns * 2)
		size *= 2;
	free(d->hash);
	d->hash = malloc(size * sizeof(*d->hash));
	if (!d->hash) {
		d->hash_size = 0;
		return -1;
	}
	d->hash_size = size;
	for (size_t h = 0; h < size; h++)
		d->hash[h] = -1;
	/* insert in reverse so each chain runs in file order */
	for (size_t k = d->nconns; k-- > 0;) {
		struct tf_rp_conn *c = &d->conns[k];
		size_t mask = size - 1;
		size_t h = (size_t)tuple_hash(c->netns, c->family, c->saddr, c->sport, c->daddr,
					      c->dport) & mask;

		for (;; h = (h + 1) & mask) {
			int i = d->hash[h];

			if (i < 0 || same_tuple(&d->conns[i], c->netns, c->family, c->saddr, c->sport,
						c->daddr, c->dport))
				break;
		}
		c->next = d->hash[h];
		d->hash[h] = (int)k;
	}
	return 0;
}

static int64_t end_us(const struct tf_rp_conn *c)
{
	return c->start_us + (c->lifetime_us > 0 ? c->lifetime_us : 0);
}

/* Could a and b be the two ends of one connection? (tuples already mirrored) */
static bool may_pair(const struct tf_rp_conn *a, const struct tf_rp_conn *b)
{
	const int64_t slack = 1000;	/* us: a server's derived SYN_RECV time is approximate */

	if (a->peer >= 0 || b->peer >= 0 || a == b)
		return false;
	if (a->role != TF_ROLE_UNKNOWN && a->role == b->role)
		return false;
	if (a->start_us == TF_RP_NONE || b->start_us == TF_RP_NONE)
		return false;
	return a->start_us <= end_us(b) + slack && b->start_us <= end_us(a) + slack;
}

static void match_stuck(struct tf_rp_data *d)
{
	for (size_t k = 0; k < d->nstuck; k++) {
		const struct tf_rp_stuck *st = &d->stuck[k];
		int best = -1;

		for (int i = find_tuple(d, st->netns, st->family, st->saddr, st->sport, st->daddr,
					st->dport); i >= 0; i = d->conns[i].next)
			if (best < 0 || last_state(d, &d->conns[i]) == st->state)
				best = i;
		if (best >= 0) {
			struct tf_rp_conn *c = &d->conns[best];

			if (!c->stuck_state)
				d->stuck_matched++;
			c->stuck_state = st->state ? st->state : (uint8_t)last_state(d, c);
			if (st->age_us != TF_RP_NONE &&
			    (c->stuck_age_us == TF_RP_NONE || st->age_us > c->stuck_age_us))
				c->stuck_age_us = st->age_us;
		}
	}
}

/* Each TIME-WAIT end to the connection that handed over to it (closest hand-over time). */
static void match_tw(struct tf_rp_data *d)
{
	for (size_t k = 0; k < d->ntw; k++) {
		const struct tf_rp_tw *tw = &d->tw[k];
		int64_t best_gap = 0;
		int best = -1;

		for (int i = find_tuple(d, tw->netns, tw->family, tw->saddr, tw->sport, tw->daddr,
					tw->dport); i >= 0; i = d->conns[i].next) {
			const struct tf_rp_conn *c = &d->conns[i];
			int64_t gap = 0;

			if (!c->time_wait || c->tw_end)
				continue;
			if (tw->handover_us != TF_RP_NONE && c->start_us != TF_RP_NONE &&
			    c->time_wait_at_us != TF_RP_NONE) {
				gap = tw->handover_us - (c->start_us + c->time_wait_at_us);
				gap = gap < 0 ? -gap : gap;
			}
			if (best < 0 || gap < best_gap) {
				best = i;
				best_gap = gap;
			}
		}
		if (best >= 0) {
			d->conns[best].tw_end = (uint8_t)(tw->end + 1);
			if (tw->tw_us != TF_RP_NONE && d->conns[best].time_wait_us == TF_RP_NONE)
				d->conns[best].time_wait_us = tw->tw_us;
			d->tw_matched++;
		}
	}
}

void tf_rp_pair(struct tf_rp_data *d)
{
	if (build_hash(d))
		return;		/* no memory: every lane is drawn as inferred */
	for (size_t k = 0; k < d->nconns; k++) {
		struct tf_rp_conn *a = &d->conns[k];
		int best = -1;
		int64_t best_gap = 0;

		if (a->peer >= 0)
			continue;
		for (int i = find_tuple(d, a->netns, a->family, a->daddr, a->dport, a->saddr, a->sport);
		     i >= 0; i = d->conns[i].next) {
			struct tf_rp_conn *b = &d->conns[i];
			int64_t gap;

			if (!may_pair(a, b))
				continue;
			gap = a->start_us > b->start_us ? a->start_us - b->start_us : b->start_us - a->start_us;
			if (best < 0 || gap < best_gap) {
				best = i;
				best_gap = gap;
			}
		}
		if (best >= 0) {
			a->peer = best;
			d->conns[best].peer = (int)k;
		}
	}
	match_stuck(d);
	match_tw(d);
}

/* ---- choosing what to draw -------------------------------------------------- */

#define R_SLOW		1	/* among the slowest handshakes */
#define R_RETRANS	2	/* has retransmissions */
#define R_OPEN		4	/* open at exit, half-closed */
#define R_STUCK		8	/* reported stuck while tracing */

struct diagram {
	int left, right;	/* conn indices (client lane, server lane); -1: inferred */
	unsigned reasons;
	int slow_rank;		/* 1-based, 0 when not among the slowest */
};

struct selection {
	struct diagram *v;
	int n, max;
	int *of;		/* per conn: diagram index + 1, 0 none, -1 not drawn (cap) */
	uint64_t not_drawn;
};

/* The lanes of conn i's diagram: the client on the left, the server on the right. */
static void lanes_of(const struct tf_rp_data *d, int i, int *left, int *right)
{
	const struct tf_rp_conn *c = &d->conns[i];

	if (c->peer >= 0) {
		const struct tf_rp_conn *p = &d->conns[c->peer];
		bool c_left;

		if (c->role != p->role && (c->role == TF_ROLE_CLIENT || p->role == TF_ROLE_SERVER))
			c_left = true;
		else if (c->role != p->role)
			c_left = false;
		else
			c_left = c->start_us < p->start_us || (c->start_us == p->start_us && i < c->peer);
		*left = c_left ? i : c->peer;
		*right = c_left ? c->peer : i;
	} else if (c->role == TF_ROLE_SERVER) {
		*left = -1;
		*right = i;
	} else {
		*left = i;
		*right = -1;
	}
}

void tf_rp_ladder_of(FILE *o, const struct tf_rp_data *d, int i, int id)
{
	int l, r;

	if (i < 0 || (size_t)i >= d->nconns)
		return;
	lanes_of(d, i, &l, &r);
	tf_svg_ladder(o, d, l >= 0 ? &d->conns[l] : NULL, r >= 0 ? &d->conns[r] : NULL, id);
}

static void add_diagram(struct selection *s, const struct tf_rp_data *d, int i, unsigned why,
			int rank)
{
	struct diagram *g;
	int l, r;

	if (s->of[i] < 0)
		return;
	if (s->of[i] > 0) {
		g = &s->v[s->of[i] - 1];
		g->reasons |= why;
		if (rank && !g->slow_rank)
			g->slow_rank = rank;
		return;
	}
	lanes_of(d, i, &l, &r);
	if (s->n >= s->max) {
		s->of[i] = -1;
		if (d->conns[i].peer >= 0)
			s->of[d->conns[i].peer] = -1;
		s->not_drawn++;
		return;
	}
	s->v[s->n] = (struct diagram){ .left = l, .right = r, .reasons = why, .slow_rank = rank };
	s->n++;
	s->of[i] = s->n;
	if (d->conns[i].peer >= 0)
		s->of[d->conns[i].peer] = s->n;
}

static bool has_retrans(const struct tf_rp_conn *c)
{
	return c->retrans || c->syn_retrans || c->synack_retrans || c->fin_retrans || c->nretrans;
}

struct hs_rank {
	int64_t us;
	int idx;
};

static int cmp_hs(const void *a, const void *b)
{
	const struct hs_rank *x = a, *y = b;

	if (x->us != y->us)
		return x->us < y->us ? 1 : -1;
	return x->idx - y->idx;
}

static int select_diagrams(const struct tf_rp_data *d, const struct tf_rp_opts *opt,
			   struct selection *s)
{
	struct hs_rank *hs = NULL;
	int nhs = 0, rank = 0;

	memset(s, 0, sizeof(*s));
	s->max = opt->max_diagrams;
	s->of = calloc(d->nconns + 1, sizeof(*s->of));
	s->v = calloc((size_t)(s->max > 0 ? s->max : 1), sizeof(*s->v));
	hs = calloc(d->nconns + 1, sizeof(*hs));
	if (!s->of || !s->v || !hs) {
		free(hs);
		return -1;
	}
	for (size_t i = 0; i < d->nconns; i++)
		if (d->conns[i].handshake_us != TF_RP_NONE && d->conns[i].handshake_us >= 0)
			hs[nhs++] = (struct hs_rank){ d->conns[i].handshake_us, (int)i };
	qsort(hs, (size_t)nhs, sizeof(*hs), cmp_hs);
	for (int k = 0; k < nhs && rank < opt->top; k++) {
		int i = hs[k].idx;

		if (s->of[i] > 0 && (s->v[s->of[i] - 1].reasons & R_SLOW))
			continue;	/* the other socket of a connection already drawn */
		add_diagram(s, d, i, R_SLOW, ++rank);
	}
	free(hs);
	for (size_t i = 0; i < d->nconns; i++)
		if (has_retrans(&d->conns[i]))
			add_diagram(s, d, (int)i, R_RETRANS, 0);
	for (size_t i = 0; i < d->nconns; i++) {
		const struct tf_rp_conn *c = &d->conns[i];

		if (is_open_half_closed(d, c))
			add_diagram(s, d, (int)i, R_OPEN, 0);
		if (c->stuck_state)
			add_diagram(s, d, (int)i, R_STUCK, 0);
	}
	return 0;
}

/* ---- the page ------------------------------------------------------------------ */

static const char css[] =
	":root{--fg:#1d2330;--mut:#5d6677;--bg:#f5f6f8;--card:#fff;--line:#d8dce4;--acc:#1f5fbf;"
	"--re:#c2410c;--inf:#8b94a5;--warn:#b3261e}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;background:var(--bg);color:var(--fg);"
	"font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\n"
	"header,main{max-width:1240px;margin:0 auto;padding:0 20px}\n"
	"header{padding-top:18px}\nh1{font-size:22px;margin:0 0 4px}\n"
	"h2{font-size:18px;margin:26px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}\n"
	"h3{font-size:14px;margin:0 0 6px}\n"
	".sub{color:var(--mut);margin:0}\n"
	".card{background:var(--card);border:1px solid var(--line);border-radius:6px;"
	"padding:12px 16px;margin:10px 0}\n"
	".grid{display:flex;flex-wrap:wrap;gap:12px}\n.grid>.card{flex:1 1 240px;margin:0}\n"
	"table{border-collapse:collapse;font-variant-numeric:tabular-nums}\n"
	"th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}\n"
	"th{font-weight:600;color:var(--mut)}\nth:first-child,td:first-child{text-align:left}\n"
	"td.l,th.l{text-align:left}\n"
	".warn{color:var(--warn);font-weight:600}\n.ok{color:#1f7a3a}\n.mut{color:var(--mut)}\n"
	"#filter{position:sticky;top:0;z-index:2;background:#fffffff0;border-bottom:1px solid var(--line);"
	"padding:8px 20px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}\n"
	"#filter input,#filter select{font:inherit;padding:3px 6px;border:1px solid #b9c0cc;border-radius:4px}\n"
	"#filter input{width:110px}\n#f-count{color:var(--mut)}\n"
	"figure.ladder{background:var(--card);border:1px solid var(--line);border-radius:6px;"
	"margin:14px 0;padding:10px 14px}\n"
	"figcaption{margin-bottom:6px}\n.why{display:inline-block;background:#eef3fb;color:var(--acc);"
	"border-radius:4px;padding:1px 7px;margin-right:6px;font-size:12px}\n"
	".why.re{background:#fdf0e8;color:var(--re)}\n.why.open{background:#fbeaea;color:var(--warn)}\n"
	".facts{font-size:12px;margin:4px 0 8px}\n.facts td,.facts th{padding:1px 6px}\n"
	".hide{display:none!important}\n"
	".conns{font-size:12px;width:100%}\n.conns td{white-space:nowrap}\n"
	".conns td.states{white-space:normal;color:var(--mut);font-size:11px;min-width:180px}\n"
	"svg text{font-family:system-ui,'DejaVu Sans',sans-serif;fill:var(--fg)}\n"
	"svg .lane{stroke:var(--fg);stroke-width:2.5}\n"
	"svg .lane.inferred{stroke:var(--inf);stroke-width:2;stroke-dasharray:3 5}\n"
	"svg .lane.tail{stroke-width:2;stroke-dasharray:2 4}\n"
	"svg .lanehead{font-size:13px;font-weight:600}\nsvg .lanesub{font-size:11px;fill:var(--mut)}\n"
	"svg .inferred-label{fill:var(--inf);font-style:italic}\n"
	"svg .st{font-size:12px;font-weight:600}\nsvg .st .tm{font-weight:400;fill:var(--mut)}\n"
	"svg .st.derived{font-style:italic}\nsvg .note{font-size:11px;fill:var(--mut)}\n"
	"svg .msg line{stroke:var(--acc);stroke-width:1.6}\nsvg .msg polygon{fill:var(--acc)}\n"
	"svg .msg text{font-size:11px;fill:var(--acc);paint-order:stroke;stroke:#fff;stroke-width:3px}\n"
	"svg .msg.retrans line{stroke:var(--re);stroke-dasharray:7 4}\n"
	"svg .msg.retrans polygon,svg .msg.lost path{fill:var(--re)}\n"
	"svg .msg.retrans text{fill:var(--re)}\n"
	"svg .msg.lost path{stroke:var(--re);stroke-width:2.2;fill:none}\n"
	"svg .msg.unseen line,svg .msg.sendunseen line{stroke:var(--inf)}\n"
	"svg .msg.unseen polygon,svg .msg.sendunseen polygon{fill:var(--inf)}\n"
	"svg .msg.unseen text,svg .msg.sendunseen text{fill:var(--inf)}\n"
	"svg .msg.rst line{stroke:var(--warn)}\nsvg .msg.rst polygon{fill:var(--warn)}\n"
	"svg .msg.rst text{fill:var(--warn)}\n"
	"svg .brk rect{fill:var(--card)}\nsvg .brk path{stroke:var(--mut);fill:none;stroke-width:1.2}\n"
	"svg .brk text{font-size:11px;fill:var(--mut)}\n"
	"svg .axis{stroke:var(--fg);stroke-width:1}\nsvg .grid{stroke:var(--line);stroke-width:1}\n"
	"svg .tick{font-size:11px;fill:var(--mut)}\nsvg .ttl{font-size:13px;font-weight:600}\n"
	"svg rect.s0{fill:#1f5fbf}\nsvg rect.s1{fill:#e08a1e}\nsvg rect.s2{fill:#8b94a5}\n";

static const char script[] =
	"(function(){\n"
	"var fp=document.getElementById('f-port'),fi=document.getElementById('f-pid'),\n"
	"fc=document.getElementById('f-close'),out=document.getElementById('f-count');\n"
	"function has(el,attr,list){if(!list.length)return true;\n"
	" var w=' '+(el.getAttribute(attr)||'')+' ';\n"
	" for(var i=0;i<list.length;i++)if(w.indexOf(' '+list[i]+' ')>=0)return true;return false;}\n"
	"function words(s){return s.split(/[\\s,]+/).filter(function(x){return x.length>0;});}\n"
	"function apply(){var p=words(fp.value),q=words(fi.value),c=fc.value?[fc.value]:[];\n"
	" var els=document.querySelectorAll('[data-ports]'),nf=0,sf=0,nr=0,sr=0;\n"
	" for(var i=0;i<els.length;i++){var e=els[i],ok=has(e,'data-ports',p)&&has(e,'data-pids',q)&&\n"
	"  has(e,'data-close',c);e.classList.toggle('hide',!ok);\n"
	"  if(e.tagName==='FIGURE'){nf++;if(ok)sf++;}else{nr++;if(ok)sr++;}}\n"
	" out.textContent=sf+' of '+nf+' diagrams, '+sr+' of '+nr+' table rows shown';}\n"
	"fp.addEventListener('input',apply);fi.addEventListener('input',apply);\n"
	"fc.addEventListener('change',apply);apply();\n"
	"})();\n";

static void num_cell(FILE *o, uint64_t v, bool warn_if_nonzero)
{
	fprintf(o, "<td%s>%" PRIu64 "</td>", warn_if_nonzero && v ? " class=\"warn\"" : "", v);
}

static const char *ck_name(int ck);
static const char *ce_name(int ce);

/* data-ports / data-pids / data-close (close kinds and ends) of one or two conns */
static void filter_attrs(FILE *o, const struct tf_rp_conn *a, const struct tf_rp_conn *b)
{
	const struct tf_rp_conn *v[2] = { a, b };
	bool first = true;

	fputs(" data-ports=\"", o);
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			fprintf(o, "%s%u %u", first ? "" : " ", v[k]->sport, v[k]->dport);
			first = false;
		}
	fputs("\" data-pids=\"", o);
	first = true;
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			fprintf(o, "%s%u", first ? "" : " ", v[k]->pid);
			first = false;
		}
	fputs("\" data-close=\"", o);
	first = true;
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			fprintf(o, "%s%s", first ? "" : " ", ck_name(v[k]->close_kind));
			if (strcmp(ce_name(v[k]->close_end), ck_name(v[k]->close_kind)))
				fprintf(o, " %s", ce_name(v[k]->close_end));
			first = false;
		}
	fputc('"', o);
}

static const char *ck_name(int ck)
{
	return ck < TF_CK_MAX ? tf_close_kind_name(ck) : "unknown";
}

static const char *ce_name(int ce)
{
	return ce < TF_CE_MAX ? tf_close_end_name(ce) : "unknown";
}

static void write_summary(FILE *o, const struct tf_rp_data *d)
{
	const struct tf_rp_agg *a = &d->agg;
	const struct tf_rp_stats *st = &d->stats;
	static const char *const roles[3] = { "unknown", "client", "server" };
	static const int role_order[3] = { TF_ROLE_CLIENT, TF_ROLE_SERVER, TF_ROLE_UNKNOWN };
	uint64_t col[TF_CK_MAX + 1] = { 0 }, other;
	char b[32];

	fputs("<section id=\"summary\"><h2>Summary</h2><div class=\"grid\">\n", o);

	/* connections by role and close kind */
	fputs("<div class=\"card\"><h3>Connections by role and close</h3><table id=\"t-close\"><tr><th>role</th>", o);
	for (int r = 0; r < 3; r++)
		for (int k = 0; k <= TF_CK_MAX; k++)
			col[k] += a->by_role_close[r][k];
	for (int k = 0; k <= TF_CK_MAX; k++)
		if (col[k])
			fprintf(o, "<th>%s</th>", ck_name(k));
	fputs("<th>all</th></tr>\n", o);
	for (int ri = 0; ri < 3; ri++) {
		int r = role_order[ri];
		uint64_t tot = 0;

		for (int k = 0; k <= TF_CK_MAX; k++)
			tot += a->by_role_close[r][k];
		if (!tot && r == TF_ROLE_UNKNOWN)
			continue;
		fprintf(o, "<tr><td>%s</td>", roles[r]);
		for (int k = 0; k <= TF_CK_MAX; k++)
			if (col[k])
				num_cell(o, a->by_role_close[r][k], false);
		fprintf(o, "<td><b>%" PRIu64 "</b></td></tr>\n", tot);
	}
	fprintf(o, "<tr><td>all</td>");
	for (int k = 0; k <= TF_CK_MAX; k++)
		if (col[k])
			num_cell(o, col[k], false);
	fprintf(o, "<td><b>%" PRIu64 "</b></td></tr></table>\n", a->conns);
	fputs("<p class=\"mut\">active: we sent the first FIN; passive: the peer did; open: still open "
	      "when tracing stopped.</p></div>\n", o);

	/* retransmissions */
	other = a->retrans > a->syn_retrans + a->synack_retrans + a->fin_retrans ?
			a->retrans - a->syn_retrans - a->synack_retrans - a->fin_retrans : 0;
	fputs("<div class=\"card\"><h3>Retransmissions</h3><table id=\"t-retrans\">\n", o);
	fputs("<tr><td>SYN</td>", o);
	num_cell(o, a->syn_retrans, true);
	fputs("</tr>\n<tr><td>SYN-ACK</td>", o);
	num_cell(o, a->synack_retrans, true);
	fputs("</tr>\n<tr><td>FIN</td>", o);
	num_cell(o, a->fin_retrans, true);
	fprintf(o, "</tr>\n<tr><td class=\"mut\">&nbsp;&nbsp;in FIN_WAIT1 / LAST_ACK / CLOSING</td>"
		   "<td class=\"mut\">%" PRIu64 " / %" PRIu64 " / %" PRIu64 "</td></tr>\n",
		a->fin_fw1, a->fin_la, a->fin_cl);
	fputs("<tr><td>data and other</td>", o);
	num_cell(o, other, false);
	fputs("</tr>\n<tr><td>connections with any</td>", o);
	num_cell(o, a->conns_retrans, true);
	fputs("</tr></table></div>\n", o);

	/* close side */
	fputs("<div class=\"card\"><h3>Resets and close</h3><table id=\"t-end\">\n", o);
	fputs("<tr><td>resets sent</td>", o);
	num_cell(o, a->rst_sent, false);
	fputs("</tr>\n<tr><td>resets received</td>", o);
	num_cell(o, a->rst_received, false);
	fputs("</tr>\n<tr><td>TIME-WAIT hand-overs</td>", o);
	num_cell(o, a->time_wait, false);
	fputs("</tr>\n", o);
	for (int k = 0; k < TF_RP_TW_ENDS; k++)
		if (a->tw_ends[k])
			fprintf(o, "<tr><td class=\"mut\">&nbsp;&nbsp;TIME-WAIT ended: %s</td><td "
				   "class=\"mut\">%" PRIu64 "</td></tr>\n", tf_rp_tw_end_name(k), a->tw_ends[k]);
	fputs("<tr><td>half-closed, open at exit</td>", o);
	num_cell(o, a->open_half_closed, true);
	fputs("</tr>\n<tr><td>reported stuck while tracing</td>", o);
	num_cell(o, d->stuck_records, true);
	fputs("</tr>\n<tr><td>incomplete records</td>", o);
	num_cell(o, a->incomplete, false);
	fputs("</tr></table></div>\n", o);

	/* the capture itself */
	fputs("<div class=\"card\"><h3>Capture</h3><table id=\"t-capture\">\n", o);
	if (st->lines) {
		fputs("<tr><td>lost events</td>", o);
		num_cell(o, st->lost, true);
		fprintf(o, "</tr>\n<tr><td class=\"mut\">&nbsp;&nbsp;ring buffer / table full / "
			   "kernel skipped</td><td class=\"mut\">%" PRIu64 " / %" PRIu64 " / %" PRIu64
			   "</td></tr>\n",
			st->lost_ringbuf + st->lost_ringbuf_events, st->lost_table_full,
			st->recursion_misses);
		fprintf(o, "<tr><td>state changes traced</td><td>%" PRIu64 "</td></tr>\n", st->events);
		fprintf(o, "<tr><td>connections (stats line)</td><td%s>%" PRIu64 "</td></tr>\n",
			st->conns != a->conns ? " class=\"warn\"" : "", st->conns);
		fprintf(o, "<tr><td>open at exit</td><td>%" PRIu64 "</td></tr>\n", st->open_at_exit);
		if (st->lines > 1)
			fprintf(o, "<tr><td>stats lines (summed)</td><td>%u</td></tr>\n", st->lines);
	} else {
		fputs("<tr><td colspan=\"2\" class=\"warn\">no stats line: the capture was cut short, "
		      "lost events unknown</td></tr>\n", o);
	}
	fprintf(o, "<tr><td>connection records read</td><td>%" PRIu64 "</td></tr>\n", a->conns);
	if (a->flagged_lost)
		fprintf(o, "<tr><td>records marked events_lost or missed_transitions</td><td class=\"warn\">%" PRIu64
			   "</td></tr>\n", a->flagged_lost);
	for (int i = 0; i < d->ntypes; i++) {
		fputs("<tr><td>other records: &quot;", o);
		tf_rp_esc(o, d->types[i].name);
		fprintf(o, "&quot;</td><td>%" PRIu64 "</td></tr>\n", d->types[i].count);
	}
	if (d->other_types)
		fprintf(o, "<tr><td>other records, more types</td><td>%" PRIu64 "</td></tr>\n",
			d->other_types);
	if (d->bad_json + d->too_long + d->bad_record) {
		fprintf(o, "<tr><td>input lines skipped</td><td class=\"warn\">%" PRIu64 "</td></tr>\n",
			d->bad_json + d->too_long + d->bad_record);
		fprintf(o, "<tr><td class=\"mut\">&nbsp;&nbsp;not JSON / too long / unusable</td>"
			   "<td class=\"mut\">%" PRIu64 " / %" PRIu64 " / %" PRIu64 "</td></tr>\n",
			d->bad_json, d->too_long, d->bad_record);
	}
	if (d->not_kept)
		fprintf(o, "<tr><td>counted but not drawn (over %d)</td><td>%" PRIu64 "</td></tr>\n",
			TF_RP_MAX_KEPT, d->not_kept);
	fprintf(o, "<tr><td>input lines</td><td>%" PRIu64 "</td></tr>\n", d->lines);
	(void)b;
	fputs("</table></div>\n</div></section>\n", o);
}

static void write_histograms(FILE *o, const struct tf_rp_data *d)
{
	const struct tf_rp_agg *a = &d->agg;
	struct tf_svg_series hs[3] = {
		{ "client: SYN sent → ESTABLISHED", "s0", a->hs_hist[0] },
		{ "server: first SYN-ACK → final ACK", "s1", a->hs_hist[1] },
		{ "unknown role", "s2", a->hs_hist[2] },
	};
	struct tf_svg_series cl[3] = {
		{ "active close", "s0", a->close_hist[0] },
		{ "passive close", "s1", a->close_hist[1] },
		{ "simultaneous / other", "s2", a->close_hist[2] },
	};

	fputs("<section id=\"histograms\"><h2>Durations</h2><div class=\"grid\">\n"
	      "<div class=\"card\" id=\"h-handshake\">", o);
	tf_svg_hist(o, "Handshake duration", "handshake_us", hs, 3);
	fprintf(o, "<p class=\"mut\">%" PRIu64 " handshakes. The client measures from its first SYN, "
		   "the server from its first SYN-ACK (the kernel's timestamp or first RTT sample).</p>"
		   "</div>\n<div class=\"card\" id=\"h-close\">", a->hs_n);
	tf_svg_hist(o, "Close duration", "close_us", cl, 3);
	fprintf(o, "<p class=\"mut\">%" PRIu64 " closes, from the first FIN sent or received to "
		   "CLOSE. For an orphaned active closer CLOSE is the hand-over to the timewait socket, "
		   "often before the peer's FIN; after shutdown() it is the peer's FIN.</p></div>\n"
		   "</div></section>\n", a->close_n);
}

static void reasons_text(FILE *o, const struct tf_rp_data *d, const struct diagram *g)
{
	const struct tf_rp_conn *v[2] = {
		g->left >= 0 ? &d->conns[g->left] : NULL,
		g->right >= 0 ? &d->conns[g->right] : NULL,
	};
	char b[32];

	if (g->reasons & R_SLOW) {
		int64_t hs = TF_RP_NONE;

		for (int k = 0; k < 2; k++)
			if (v[k] && v[k]->handshake_us != TF_RP_NONE && v[k]->handshake_us > hs)
				hs = v[k]->handshake_us;
		fprintf(o, "<span class=\"why\">slowest handshake #%d: %s</span>", g->slow_rank,
			tf_rp_dur(hs, b, sizeof(b)));
	}
	if (g->reasons & R_RETRANS) {
		uint64_t syn = 0, sa = 0, fin = 0, all = 0;

		for (int k = 0; k < 2; k++)
			if (v[k]) {
				syn += v[k]->syn_retrans;
				sa += v[k]->synack_retrans;
				fin += v[k]->fin_retrans;
				all += v[k]->retrans;
			}
		fputs("<span class=\"why re\">retransmitted:", o);
		if (syn)
			fprintf(o, " %" PRIu64 " SYN", syn);
		if (sa)
			fprintf(o, " %" PRIu64 " SYN-ACK", sa);
		if (fin)
			fprintf(o, " %" PRIu64 " FIN", fin);
		if (all > syn + sa + fin)
			fprintf(o, " %" PRIu64 " other", all - syn - sa - fin);
		fputs("</span>", o);
	}
	for (int k = 0; k < 2; k++) {
		if (!v[k])
			continue;
		if ((g->reasons & R_OPEN) && is_open_half_closed(d, v[k]))
			fprintf(o, "<span class=\"why open\">%s open in %s at exit</span>",
				tf_role_name(v[k]->role), tf_state_name(last_state(d, v[k])));
		if ((g->reasons & R_STUCK) && v[k]->stuck_state) {
			fprintf(o, "<span class=\"why open\">reported stuck in %s",
				tf_state_name(v[k]->stuck_state));
			if (v[k]->stuck_age_us != TF_RP_NONE)
				fprintf(o, " for %s", tf_rp_dur(v[k]->stuck_age_us, b, sizeof(b)));
			fputs("</span>", o);
		}
	}
}

static void facts_row(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *c,
		      const char *lane)
{
	char b1[32], b2[32];

	(void)d;
	fprintf(o, "<tr><td class=\"l\">%s</td>", lane);
	if (!c) {
		fputs("<td class=\"l mut\" colspan=\"8\">not in the capture: drawn as inferred from the "
		      "other socket's events</td></tr>\n", o);
		return;
	}
	fprintf(o, "<td class=\"l\">%u ", c->pid);
	tf_rp_esc(o, c->comm);
	fprintf(o, "</td><td class=\"l\">%s</td><td>%s</td><td class=\"l\">%s / %s%s%s</td><td>%s</td>"
		   "<td>%u / %u / %u / %u</td><td class=\"l\">",
		tf_role_name(c->role), tf_rp_dur(c->handshake_us, b1, sizeof(b1)),
		ck_name(c->close_kind), ce_name(c->close_end),
		c->reset ? ", reset " : "", c->reset ? tf_reset_name(c->reset) : "",
		tf_rp_dur(c->close_us, b2, sizeof(b2)), c->syn_retrans, c->synack_retrans,
		c->fin_retrans, c->retrans);
	if (c->flags & TF_RPF_MIDLIFE)
		fputs("began before trace ", o);
	if (c->flags & TF_RPF_OPEN)
		fputs("open at exit ", o);
	if (c->flags & (TF_RPF_STATES_TRUNC | TF_RPF_RETRANS_TRUNC))
		fputs("<span class=\"warn\">truncated</span> ", o);
	if (c->flags & TF_RPF_LOST)
		fputs("<span class=\"warn\">events lost</span> ", o);
	if (c->flags & TF_RPF_GAP)
		fputs("<span class=\"warn\">missed transitions</span> ", o);
	if (c->flags & TF_RPF_REPLACED)
		fputs("<span class=\"warn\">close not seen</span> ", o);
	fprintf(o, "</td><td>line %u</td></tr>\n", c->line);
}

static void write_diagrams(FILE *o, const struct tf_rp_data *d, const struct selection *s,
			   const struct tf_rp_opts *opt)
{
	fputs("<section id=\"diagrams\"><h2>Ladder diagrams</h2>\n<div class=\"card\">", o);
	fprintf(o, "<p>The %d slowest handshakes, every connection with retransmissions and every "
		   "half-closed connection still open at exit (or reported stuck). Time runs down; the "
		   "two lanes are the client (left) and the server (right) socket, with their TCP "
		   "states and times since the first event. A lane drawn from real data comes from "
		   "that socket's own record (both sockets were traced: loopback, containers); an "
		   "<i>inferred</i> lane was not in the capture.</p>\n", opt->top);
	tf_svg_legend(o);
	fputs("</div>\n", o);
	if (!s->n)
		fputs("<p class=\"mut\" id=\"no-diagrams\">Nothing to draw: no handshakes, "
		      "retransmissions or half-closed connections in this capture.</p>\n", o);
	for (int k = 0; k < s->n; k++) {
		const struct diagram *g = &s->v[k];
		const struct tf_rp_conn *l = g->left >= 0 ? &d->conns[g->left] : NULL;
		const struct tf_rp_conn *r = g->right >= 0 ? &d->conns[g->right] : NULL;
		const struct tf_rp_conn *any = l ? l : r;
		char e1[64], e2[64];
		unsigned nre = (l ? l->nretrans : 0) + (r ? r->nretrans : 0);

		fprintf(o, "<figure class=\"ladder\" id=\"d%d\"", k + 1);
		filter_attrs(o, l, r);
		fprintf(o, " data-reasons=\"%s%s%s%s\" data-retrans=\"%u\" data-lanes=\"%s\">\n<figcaption>",
			g->reasons & R_SLOW ? "slow " : "", g->reasons & R_RETRANS ? "retrans " : "",
			g->reasons & R_OPEN ? "open " : "", g->reasons & R_STUCK ? "stuck " : "", nre,
			l && r ? "both" : "one");
		reasons_text(o, d, g);
		if (l)
			fprintf(o, "<b>%s → %s</b>", tf_rp_endpoint(l, true, e1, sizeof(e1)),
				tf_rp_endpoint(l, false, e2, sizeof(e2)));
		else
			fprintf(o, "<b>%s → %s</b>", tf_rp_endpoint(r, false, e1, sizeof(e1)),
				tf_rp_endpoint(r, true, e2, sizeof(e2)));
		fprintf(o, " <span class=\"mut\">netns %u · %s</span></figcaption>\n", any->netns,
			l && r ? "both sockets traced" : "one socket traced, the other lane inferred");
		fputs("<table class=\"facts\"><tr><th class=\"l\">lane</th><th class=\"l\">pid comm</th>"
		      "<th class=\"l\">role</th><th>handshake</th><th class=\"l\">close / end</th>"
		      "<th>close took</th><th>retrans SYN/SYN-ACK/FIN/all</th><th class=\"l\">notes</th>"
		      "<th></th></tr>\n", o);
		facts_row(o, d, l, "left");
		facts_row(o, d, r, "right");
		fputs("</table>\n", o);
		tf_svg_ladder(o, d, l, r, k + 1);
		fputs("</figure>\n", o);
	}
	if (s->not_drawn)
		fprintf(o, "<p class=\"warn\">%" PRIu64 " more connections qualified but were not drawn "
			   "(limit %d, --max-diagrams).</p>\n", s->not_drawn, s->max);
	fputs("</section>\n", o);
}

static void states_compact(FILE *o, const struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	const struct tf_rp_state *st = tf_rp_states(d, c);

	for (int i = 0; i < c->nstates; i++)
		fprintf(o, "%s%s", i ? "→<wbr>" : "", tf_state_name(st[i].state));
}

static void write_table(FILE *o, const struct tf_rp_data *d, const struct selection *s,
			const struct tf_rp_opts *opt)
{
	size_t n = d->nconns < (size_t)opt->max_rows ? d->nconns : (size_t)opt->max_rows;
	char b1[32], b2[32], e1[64], e2[64];

	fputs("<section id=\"connections\"><h2>Connections</h2><div class=\"card\" style=\"overflow-x:auto\">"
	      "<table class=\"conns\"><tr><th>line</th><th class=\"l\">start (UTC)</th><th class=\"l\">role</th>"
	      "<th class=\"l\">local</th><th class=\"l\">remote</th><th>pid</th><th class=\"l\">comm</th>"
	      "<th>handshake</th><th class=\"l\">close</th><th class=\"l\">end</th><th>close took</th>"
	      "<th>retrans</th><th class=\"l\">diagram</th><th class=\"l\">states</th></tr>\n", o);
	for (size_t i = 0; i < n; i++) {
		const struct tf_rp_conn *c = &d->conns[i];
		char t[128] = "–";

		if (c->start_us != TF_RP_NONE) {
			time_t sec = (time_t)(c->start_us / 1000000);
			struct tm tm;

			if (gmtime_r(&sec, &tm))
				snprintf(t, sizeof(t), "<span title=\"%04d-%02d-%02d\">%02d:%02d:%02d.%06d"
					 "</span>", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(c->start_us % 1000000));
		}
		fprintf(o, "<tr");
		filter_attrs(o, c, NULL);
		fprintf(o, "><td>%u</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td>"
			   "<td class=\"l\">%s</td><td>%u</td><td class=\"l\">",
			c->line, t, tf_role_name(c->role), tf_rp_endpoint(c, true, e1, sizeof(e1)),
			tf_rp_endpoint(c, false, e2, sizeof(e2)), c->pid);
		tf_rp_esc(o, c->comm);
		fprintf(o, "</td><td>%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%s</td>"
			   "<td%s>%u</td><td class=\"l\">",
			tf_rp_dur(c->handshake_us, b1, sizeof(b1)), ck_name(c->close_kind),
			ce_name(c->close_end), tf_rp_dur(c->close_us, b2, sizeof(b2)),
			c->retrans ? " class=\"warn\"" : "", c->retrans);
		if (s->of[i] > 0)
			fprintf(o, "<a href=\"#d%d\">#%d</a>", s->of[i], s->of[i]);
		fputs("</td><td class=\"l states\">", o);
		states_compact(o, d, c);
		fputs("</td></tr>\n", o);
	}
	fputs("</table>", o);
	if (n < d->nconns)
		fprintf(o, "<p class=\"mut\">First %zu of %zu connections listed (--max-rows).</p>", n,
			d->nconns);
	fputs("</div></section>\n", o);
}

int tf_rp_write_html(FILE *o, struct tf_rp_data *d, const struct tf_rp_opts *opt)
{
	struct selection s;
	uint64_t col[TF_CK_MAX + 1] = { 0 };

	if (select_diagrams(d, opt, &s)) {
		free(s.of);
		free(s.v);
		errno = ENOMEM;
		return -1;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"tcpflow-trace report\">\n<title>TCP report: ", o);
	tf_rp_esc(o, opt->input_name);
	fprintf(o, "</title>\n<style>\n%s</style></head><body>\n", css);
	fputs("<header><h1>TCP connection lifecycle report</h1><p class=\"sub\">", o);
	tf_rp_esc(o, opt->input_name);
	fprintf(o, " · %" PRIu64 " connections · %d diagrams · made by tcpflow-trace report from a "
		   "--json capture</p></header>\n", d->agg.conns, s.n);

	/* the filter box */
	for (int r = 0; r < 3; r++)
		for (int k = 0; k <= TF_CK_MAX; k++)
			col[k] += d->agg.by_role_close[r][k];
	fputs("<form id=\"filter\" onsubmit=\"return false\"><b>Filter</b>"
	      "<label>port <input id=\"f-port\" type=\"text\" inputmode=\"numeric\" placeholder=\"any\"></label>"
	      "<label>pid <input id=\"f-pid\" type=\"text\" inputmode=\"numeric\" placeholder=\"any\"></label>"
	      "<label>close <select id=\"f-close\"><option value=\"\">any</option>", o);
	for (int k = 0; k <= TF_CK_MAX; k++)
		if (col[k])
			fprintf(o, "<option value=\"%s\">%s</option>", ck_name(k), ck_name(k));
	for (int k = 0; k <= TF_CE_MAX; k++) {	/* how it ended, unless named above */
		bool dup = false;

		for (int j = 0; j <= TF_CK_MAX; j++)
			dup |= col[j] && !strcmp(ck_name(j), ce_name(k));
		if (d->agg.by_end[k] && !dup)
			fprintf(o, "<option value=\"%s\">%s</option>", ce_name(k), ce_name(k));
	}
	fputs("</select></label><span id=\"f-count\"></span></form>\n<main>\n", o);

	write_summary(o, d);
	write_histograms(o, d);
	write_diagrams(o, d, &s, opt);
	write_table(o, d, &s, opt);
	fprintf(o, "</main>\n<script>\n%s</script>\n</body></html>\n", script);
	free(s.of);
	free(s.v);
	return ferror(o) ? -1 : 0;
}

/* ---- command line ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: tcpflow-trace report FILE.jsonl [-o report.html] [--top N] [--max-diagrams N]\n"
	      "                            [--max-rows N]\n"
	      "Turn a --json capture into one self-contained HTML page: summary, histograms of\n"
	      "handshake and close durations, ladder diagrams of the slowest handshakes, of every\n"
	      "connection with retransmissions and of every half-closed connection left open.\n"
	      "  FILE              the capture (tcpflow-trace --json > FILE); - reads stdin\n"
	      "  -o, --output F    write the page to F (default: stdout)\n"
	      "  --top N           slowest handshakes to draw (default 5)\n"
	      "  --max-diagrams N  draw at most N diagrams (default 200)\n"
	      "  --max-rows N      list at most N connections in the table (default 2000)\n", f);
}

static bool parse_count(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

int tf_report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 't' },
		{ "max-diagrams", required_argument, NULL, 'm' },
		{ "max-rows", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tf_rp_opts opt = { .top = 5, .max_diagrams = 200, .max_rows = 2000 };
	const char *in = NULL, *out = NULL, *name = "";
	struct tf_rp_data d;
	bool remove_on_error;
	struct stat sb;
	FILE *f, *o;
	int c, rc;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 't':
			name = "--top";
			if (!parse_count(optarg, 0, 100000, &opt.top))
				goto bad_value;
			break;
		case 'm':
			name = "--max-diagrams";
			if (!parse_count(optarg, 0, 100000, &opt.max_diagrams))
				goto bad_value;
			break;
		case 'r':
			name = "--max-rows";
			if (!parse_count(optarg, 0, 10000000, &opt.max_rows))
				goto bad_value;
			break;
		case 'h':
			usage(stdout);
			return TF_EXIT_OK;
		case ':':
			fprintf(stderr, "tcpflow-trace report: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return TF_EXIT_USAGE;
		default:
			fprintf(stderr, "tcpflow-trace report: unknown option %s (see --help)\n",
				argv[optind - 1]);
			return TF_EXIT_USAGE;
		}
		continue;
bad_value:
		fprintf(stderr, "tcpflow-trace report: bad value '%s' for %s: want a whole number "
				"(0 or more)\n", optarg, name);
		return TF_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "tcpflow-trace report: %s (usage: tcpflow-trace report FILE.jsonl "
				"-o report.html)\n", optind >= argc ? "which capture? give one FILE" :
				"give exactly one input FILE");
		return TF_EXIT_USAGE;
	}
	in = argv[optind];
	opt.input_name = in;
	f = strcmp(in, "-") ? fopen(in, "r") : stdin;
	if (!f) {
		fprintf(stderr, "tcpflow-trace report: cannot open %s: %s\n", in, strerror(errno));
		return TF_EXIT_RUNTIME;
	}
	tf_rp_init(&d);
	rc = tf_rp_read(&d, f);
	if (rc) {
		fprintf(stderr, "tcpflow-trace report: reading %s failed: %s\n", in,
			errno ? strerror(errno) : "read error");
		if (f != stdin)
			fclose(f);
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	if (f != stdin)
		fclose(f);
	if (!tf_rp_usable(&d)) {
		fprintf(stderr, "tcpflow-trace report: nothing usable in %s: %" PRIu64 " lines, no "
				"\"conn\" or \"stats\" record%s%s (is it tcpflow-trace --json output?)\n",
			in, d.lines, d.first_bad_line ? "; first problem: " : "",
			d.first_bad_line ? d.first_bad_msg : "");
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	if (d.bad_json + d.too_long + d.bad_record)
		fprintf(stderr, "tcpflow-trace report: skipped %" PRIu64 " of %" PRIu64 " lines (%"
				PRIu64 " not JSON, %" PRIu64 " too long, %" PRIu64 " unusable); first at "
				"line %" PRIu64 ": %s\n",
			d.bad_json + d.too_long + d.bad_record, d.lines, d.bad_json, d.too_long,
			d.bad_record, d.first_bad_line, d.first_bad_msg);
	tf_rp_pair(&d);
	o = out && strcmp(out, "-") ? fopen(out, "w") : stdout;
	if (!o) {
		fprintf(stderr, "tcpflow-trace report: cannot write %s: %s\n", out, strerror(errno));
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	/* a half-written page is removed on failure, but only a plain file: never a device */
	remove_on_error = o != stdout && !fstat(fileno(o), &sb) && S_ISREG(sb.st_mode);
	rc = tf_rp_write_html(o, &d, &opt);
	if (o != stdout) {
		if (fclose(o))
			rc = -1;
	} else if (fflush(o)) {
		rc = -1;
	}
	if (rc) {
		fprintf(stderr, "tcpflow-trace report: writing %s failed: %s\n", out ? out : "stdout",
			strerror(errno));
		if (remove_on_error)
			unlink(out);
		tf_rp_free(&d);
		return TF_EXIT_RUNTIME;
	}
	if (out && strcmp(out, "-"))
		fprintf(stderr, "tcpflow-trace report: %s: %" PRIu64 " connections, written to %s\n", in,
			d.agg.conns, out);
	tf_rp_free(&d);
	return TF_EXIT_OK;
}
