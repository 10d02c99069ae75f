// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reading a --json capture into the model (model.h). See report.h.
 *
 * Reading never trusts its input: every line is bounded, parsed by jansson,
 * every field type- and range-checked; what cannot be used is counted and
 * said once, never fatal unless nothing at all was usable.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "cgroup.h"
#include "report.h"

#define US_LIMIT 100000000000000ll	/* +-100,000,000 s: beyond that a time is garbage */
#define GROUP_WALK 64			/* groups of one id compared before adding another */

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
		/* below hi + 1: (double)INT64_MAX is 2^63, which does not convert */
		if (!(r >= (double)lo && r < (double)hi + 1.0))	/* also NaN */
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

/* A count (bytes, us), TF_RP_NONE when null, absent or negative. */
static int64_t get_count(json_t *o, const char *key)
{
	int64_t v;

	return get_int(o, key, 0, INT64_MAX, &v) ? v : TF_RP_NONE;
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

/* A string field cut to len - 1 bytes (whole characters) in buf; NULL when not a string. */
static const char *get_text(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = get_str(o, key);

	if (!s)
		return NULL;
	copy_utf8(buf, len, s);
	return buf;
}

static bool same_text(const struct tf_rp_data *d, uint32_t off, const char *s)
{
	const char *t = tf_rp_text(d, off);

	return t && s ? !strcmp(t, s) : t == s;
}

/* s (or NULL) appended to d->text: *off. Returns -1 out of memory. */
static int add_text(struct tf_rp_data *d, const char *s, uint32_t *off)
{
	size_t n;

	*off = TF_RP_NO_TEXT;
	if (!s)
		return 0;
	n = strlen(s) + 1;
	while (d->ntext + n > d->cap_text)
		if (grow((void **)&d->text, &d->cap_text, d->cap_text, 1))
			return -1;
	memcpy(d->text + d->ntext, s, n);
	*off = (uint32_t)d->ntext;
	d->ntext += n;
	return 0;
}

/*
 * The record's cgroup (c->group), shared with the records that name the same
 * one: found by its id, then compared whole. Returns 0, -1 out of memory.
 */
static int add_group(struct tf_rp_data *d, struct tf_rp_conn *c, json_t *o)
{
	char pb[TF_RP_GROUP_PATH + 1], cb[TF_CONTAINER_ID_LEN], ub[TF_POD_UID_LEN];
	const char *path = get_text(o, "cgroup", pb, sizeof(pb));
	const char *ctr = get_text(o, "container_id", cb, sizeof(cb));
	const char *pod = get_text(o, "pod_uid", ub, sizeof(ub));
	uint64_t id = get_u64(o, "cgroup_id");
	struct tf_rp_group *g;
	int *head, i, k = 0;
	bool fresh;

	if (!id && !path && !ctr && !pod)
		return 0;
	if (!d->group_ids.nslots &&
	    tf_ohash_init(&d->group_ids, sizeof(id), sizeof(int), TF_RP_MAX_GROUPS))
		return -1;
	head = tf_ohash_get(&d->group_ids, &id);
	for (i = head ? *head : -1; i >= 0 && k < GROUP_WALK; i = d->groups[i].next, k++) {
		g = &d->groups[i];
		if (same_text(d, g->path, path) && same_text(d, g->container, ctr) &&
		    same_text(d, g->pod, pod)) {
			c->group = (uint32_t)i + 1;
			return 0;
		}
	}
	if (d->ngroups >= TF_RP_MAX_GROUPS) {
		d->groups_not_kept++;
		return 0;
	}
	if (grow((void **)&d->groups, &d->cap_groups, d->ngroups, sizeof(*d->groups)))
		return -1;
	head = tf_ohash_put(&d->group_ids, &id, &fresh);
	if (!head)
		return -1;
	g = &d->groups[d->ngroups];
	*g = (struct tf_rp_group){ .id = id, .next = fresh ? -1 : *head };
	if (add_text(d, path, &g->path) || add_text(d, ctr, &g->container) ||
	    add_text(d, pod, &g->pod))
		return -1;
	*head = (int)d->ngroups++;	/* the newest first: records come in runs */
	c->group = (uint32_t)d->ngroups;
	return 0;
}

static bool parse_addr(const char *s, int family, uint8_t out[16])
{
	memset(out, 0, 16);
	return s && inet_pton(family, s, out) == 1;
}

/* A record's family by name (the writer's tf_family_name), else by its address. */
static int family_of(const char *fam, const char *saddr)
{
	int af = tf_family_of(fam);

	if (af)
		return af;
	return saddr && strchr(saddr, ':') ? AF_INET6 : AF_INET;
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
		.kind = (uint8_t)lookup(get_str(e, "kind"), tf_retrans_kind_name, TF_RETRANS_KIND_MAX,
				      TF_RETRANS_DATA),
	};
	return 0;
}

/* The "flags" array: the names the JSON writer uses (conn.h), anything else TF_RPF_OTHER. */
static uint16_t parse_flags(json_t *arr)
{
	uint16_t f = 0;
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, e) {
		const char *s = json_string_value(e);
		int k = lookup(s, tf_rec_flag_name, TF_RF_MAX, -1);

		if (s)
			f |= k >= 0 ? 1u << k : TF_RPF_OTHER;
	}
	return f;
}

static void aggregate(struct tf_rp_data *d, const struct tf_rp_conn *c)
{
	struct tf_rp_agg *a = &d->agg;
	int role = c->role < 3 ? c->role : 0;
	int ck;

	a->conns++;
	a->by_role_close[role][c->close_kind <= TF_CK_MAX ? c->close_kind : TF_CK_MAX]++;
	a->by_end[c->close_end <= TF_CE_MAX ? c->close_end : TF_CE_MAX]++;
	a->syn_retrans += c->syn_retrans;
	a->synack_retrans += c->synack_retrans;
	a->fin_retrans += c->fin_retrans;
	a->fin_fw1 += c->fin_fw1;
	a->fin_la += c->fin_la;
	a->fin_cl += c->fin_cl;
	a->retrans += c->retrans;
	if (tf_rp_has_retrans(c))
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
	if (tf_rp_open_half_closed(d, c))
		a->open_half_closed++;
	if (c->handshake_us != TF_RP_NONE && c->handshake_us >= 0) {
		a->hs_hist[role == TF_ROLE_CLIENT ? 0 : role == TF_ROLE_SERVER ? 1 : 2]
			  [tf_display_bucket(c->handshake_us)]++;
		a->hs_n++;
	}
	if (c->close_us != TF_RP_NONE && c->close_us >= 0) {
		ck = c->close_kind == TF_CK_ACTIVE ? 0 : c->close_kind == TF_CK_PASSIVE ? 1 : 2;
		a->close_hist[ck][tf_display_bucket(c->close_us)]++;
		a->close_n++;
	}
}

/* A "conn" record. Returns 0, 1 when unusable (counted), -1 out of memory. */
static int add_conn(struct tf_rp_data *d, json_t *o)
{
	struct tf_rp_conn c = { .peer = -1, .next = -1 };
	const char *fam = get_str(o, "family"), *sa = get_str(o, "saddr"), *da = get_str(o, "daddr");
	size_t ns0 = d->nstates, nr0 = d->nretrans;
	int64_t v;
	int af = family_of(fam, sa);

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
	c.role = (uint8_t)lookup(get_str(o, "role"), tf_role_name, TF_ROLE_MAX, TF_ROLE_UNKNOWN);
	c.close_kind = (uint8_t)lookup(get_str(o, "close"), tf_close_kind_name, TF_CK_MAX, TF_CK_MAX);
	c.close_end = (uint8_t)lookup(get_str(o, "close_end"), tf_close_end_name, TF_CE_MAX, TF_CE_MAX);
	c.reset = (uint8_t)lookup(get_str(o, "reset"), tf_reset_name, TF_RST_MAX, TF_RST_NONE);
	c.handshake_us = get_us(o, "handshake_us");
	c.close_us = get_us(o, "close_us");
	c.fin_ack_us = get_us(o, "fin_ack_us");
	c.time_wait_at_us = get_us(o, "time_wait_at_us");
	c.lifetime_us = get_us(o, "lifetime_us");
	c.time_wait_us = get_us(o, "time_wait_us");
	c.stuck_age_us = TF_RP_NONE;
	c.bytes_acked = get_count(o, "bytes_acked");
	c.bytes_received = get_count(o, "bytes_received");
	c.rtt_us = get_count(o, "rtt_us");
	c.min_rtt_us = get_count(o, "min_rtt_us");
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
	if (add_group(d, &c, o) ||
	    grow((void **)&d->conns, &d->cap_conns, d->nconns, sizeof(*d->conns)))
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
	int af = family_of(fam, sa);

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

/* A "time_wait" record: counted by how it ended, kept to mark its connection. */
static int add_tw(struct tf_rp_data *d, json_t *o)
{
	struct tf_rp_tw tw = { 0 };
	const char *fam = get_str(o, "family"), *sa = get_str(o, "saddr"), *da = get_str(o, "daddr");
	int af = family_of(fam, sa);
	int64_t v;

	tw.end = (uint8_t)lookup(get_str(o, "end"), tf_tw_end_name, TF_TWE_MAX, TF_TWE_UNKNOWN);
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
