// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TIME-WAIT census, ends and stuck half-closed connections. See timewait.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "exitcodes.h"
#include "fmt.h"
#include "nsiter.h"
#include "ohash.h"
#include "sockdiag.h"
#include "stuck.h"
#include "timewait.h"
#include "twforeign.h"
#include "twtrack.h"
#include "tf_timewait.h"

#define SWEEP_BATCH 256		/* records per read() */
#define HALF_CAP (1u << 20)	/* half-closed sockets remembered per sweep */
#define MAX_SHARE 50		/* sweeps may take 1/50 of the time: 2% of one CPU */
#define CHECKS_MIN 256		/* lookups in other namespaces per sweep, at least */
#define CHECK_COST_NS 10000	/* a lookup's cost until measured */

#define SINCE_SLACK_NS 1000000000ull	/* a newer last-ACK time than this restarts the idle clock */

/* What the walk tells about a full socket in CLOSE_WAIT / FIN_WAIT2. */
struct half_info {
	struct tf_sweep_rec rec;
	bool traced;		/* in the tracer's live table */
};

/* Half-closed sockets that began before tracing: idle since when. */
struct since_key {
	uint64_t skaddr;
	uint32_t state;
	uint32_t _pad;
};

struct since_val {
	uint64_t since_ns;
	uint32_t gen;		/* the scan that last saw it */
	uint32_t _pad;
};

struct tf_tw {
	struct tf_nsiter *ns;		/* opens fds in other namespaces; NULL: none */
	struct tf_twf *twf;		/* TIME-WAITs in other namespaces */
	struct tf_loader *loader;
	struct tf_core *core;
	struct tf_twt *twt;
	struct tf_stuckt *stuck;
	struct tf_ohash half;		/* skaddr -> half_info, this sweep */
	struct tf_ohash since;		/* since_key -> since_val, across scans */
	struct tf_ohash owners;		/* skaddr -> tf_owner_rec, loaded when needed */
	uint32_t scan_gen;
	const struct tf_config *cfg;	/* --pid: the owners wanted */
	uint32_t own_netns;		/* the tracer's */
	uint32_t home_netns;		/* the one the walks cover: ours, or --netns */
	bool ns_gone;			/* the home namespace no longer exists */
	bool home_stale;		/* the last way into it failed */
	uint64_t check_cost_ns;		/* a lookup in another namespace, measured */
	char problem[256];		/* the last trouble seen (each is reported once) */
	bool problem_new;
	uint32_t hz;
	uint64_t interval_ns, next_ns;	/* --tw-interval, next sweep */
	uint64_t scan_period_ns, next_scan_ns;	/* live-table scans */
	uint64_t lost_before;		/* tf_run_lost() at the previous sweep */
	uint64_t scan_ns;		/* time of the live-table scan in progress */
	struct tf_tw_snapshot snap;
	struct tf_sweep_rec last_end;	/* END record of the last walk */
	struct tf_sweep_rec buf[SWEEP_BATCH];
};

/* ---- the walks (iterators opened and read through the loader) ---------------- */

typedef void (*walk_fn)(struct tf_tw *tw, const struct tf_sweep_rec *r);

/*
 * Read one walk: fn(tw, rec) for each record. The loader keeps the ring
 * buffer drained meanwhile and its records away from the core until the
 * next poll: the core's stage is this tracker, in the middle of a sweep.
 */
static int read_walk(struct tf_tw *tw, int fd, walk_fn fn)
{
	ssize_t n;

	while ((n = tf_loader_iter_read(tw->loader, fd, tw->buf, sizeof(tw->buf))) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof(tw->buf[0]); i++)
			fn(tw, &tw->buf[i]);
	return n < 0 ? -errno : 0;
}

struct home_walk {
	struct tf_tw *tw;
	walk_fn fn;
	int err;
};

static void on_home_fd(void *ctx, const struct tf_ns_req *req, int fd, uint64_t overflow)
{
	struct home_walk *w = ctx;

	(void)req;
	w->tw->snap.overflow = overflow;
	w->err = fd < 0 ? fd : read_walk(w->tw, fd, w->fn);
}

/* The home namespace is another one: the helper opens the iterator in it. */
static int walk_elsewhere(struct tf_tw *tw, walk_fn fn)
{
	struct tf_ns_req req = { .netns = tw->home_netns, .what = TF_NS_ITER };
	struct home_walk w = { .tw = tw, .fn = fn };

	if (tw->twf)	/* not yet while HZ is measured: the helper searches */
		tf_twf_path(tw->twf, tw->home_netns, tw->home_stale, req.path, sizeof(req.path));
	tf_nsiter_open(tw->ns, &req, 1, on_home_fd, &w);
	tw->home_stale = w.err == -ENOENT;
	if (w.err == -ENOENT && req.path[0]) {	/* that way in is gone: search */
		req.path[0] = 0;
		tf_nsiter_open(tw->ns, &req, 1, on_home_fd, &w);
	}
	return w.err;
}

/*
 * One walk over every TCP socket of the home namespace: fn(tw, rec) for
 * each record. -ENOENT: the namespace is gone, and so are its sockets
 * (tw->ns_gone; a walk with no record).
 */
static int walk(struct tf_tw *tw, walk_fn fn)
{
	int fd, err;

	if (tw->home_netns != tw->own_netns) {
		err = walk_elsewhere(tw, fn);
	} else {
		fd = tf_loader_iter_open(tw->loader, TF_ITER_SWEEP);
		if (fd < 0)
			return fd;
		tw->snap.overflow = tf_tcpext_counter("/proc/self/net/netstat", "TCPTimeWaitOverflow");
		err = read_walk(tw, fd, fn);
		close(fd);
	}
	tw->ns_gone = err == -ENOENT;
	return err;
}

static void keep_end(struct tf_tw *tw, const struct tf_sweep_rec *r)
{
	if (r->kind == TF_SWR_END)
		tw->last_end = *r;
}

/*
 * Jiffies -> time. CONFIG_HZ from the kernel config when libbpf found it;
 * otherwise two walks 100 ms apart, rounded to the HZ values Linux offers.
 */
static uint32_t measure_hz(struct tf_tw *tw)
{
	static const uint32_t choices[] = { 100, 250, 300, 1000 };
	struct tf_sweep_rec a, b;
	double hz, best = 1e18;
	uint32_t pick = 0;

	if (walk(tw, keep_end) || tw->last_end.kind != TF_SWR_END)
		return 0;
	a = tw->last_end;
	if (a.kind == TF_SWR_END && a.entry_ms)
		return a.entry_ms;
	usleep(100000);
	if (walk(tw, keep_end))
		return 0;
	b = tw->last_end;
	if (b.ts_ns <= a.ts_ns)
		return 0;
	hz = (double)(b.jiffies - a.jiffies) * 1e9 / (double)(b.ts_ns - a.ts_ns);
	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		double d = hz > choices[i] ? hz - choices[i] : choices[i] - hz;

		if (d < best) {
			best = d;
			pick = choices[i];
		}
	}
	return pick;
}

/* ---- network namespaces that still exist -------------------------------------- */

/*
 * Does this namespace still exist? A process lives in it or a bind mount
 * keeps it. One held only by an open file descriptor elsewhere looks gone
 * if we knew it before: a documented limit. When we cannot tell, it exists.
 */
static bool netns_alive(void *ctx, uint32_t inum)
{
	struct tf_tw *tw = ctx;

	if (inum == tw->home_netns && tw->ns_gone)
		return false;
	return inum == tw->own_netns || !tw->twf || tf_twf_alive(tw->twf, inum);
}

/* ---- one sweep -------------------------------------------------------------------- */

static void on_sweep_rec(struct tf_tw *tw, const struct tf_sweep_rec *r)
{
	struct half_info *h;

	switch (r->kind) {
	case TF_SWR_TW:
		tf_twt_record(tw->twt, r);
		break;
	case TF_SWR_HALF:
		if (r->state == TF_CLOSE_WAIT)
			tw->snap.close_wait++;
		else if (r->state == TF_FIN_WAIT2)
			tw->snap.fin_wait2++;
		if (r->state == TF_FIN_WAIT2 && (r->flags & TF_SWF_ORPHAN))
			tw->snap.fin_wait2_orphaned++;
		h = tf_ohash_put(&tw->half, &r->skaddr, NULL);
		if (h)
			*h = (struct half_info){ .rec = *r };
		break;
	}
}

static void on_live(void *ctx, const struct tf_conn *c)
{
	struct tf_tw *tw = ctx;
	struct tf_stuck st;

	struct half_info *h = tf_ohash_get(&tw->half, &c->skaddr);

	if (h)
		h->traced = true;
	tf_twt_conn(tw->twt, c, NULL);
	if (tf_stuckt_check(tw->stuck, c, tw->scan_ns, &st)) {
		st.orphaned = h && (h->rec.flags & TF_SWF_ORPHAN);
		tf_core_stuck(tw->core, &st);
	}
}

/* ---- half-closed sockets that began before tracing -------------------------------- */

/* Idle since the peer's last ACK; stable across scans unless a newer ACK came. */
static uint64_t idle_since(struct tf_tw *tw, const struct tf_sweep_rec *r)
{
	struct since_key k = { .skaddr = r->skaddr, .state = r->state };
	uint64_t since = r->ts_ns - (uint64_t)r->jiffies * (1000000000ull / tw->hz);
	struct since_val *v;
	bool fresh;

	v = tf_ohash_put(&tw->since, &k, &fresh);
	if (!v)
		return since;
	if (fresh || since > v->since_ns + SINCE_SLACK_NS)
		v->since_ns = since;
	v->gen = tw->scan_gen;
	return v->since_ns;
}

/* A record for a socket no state change told us about: what the walk saw. */
static void walk_conn(const struct tf_sweep_rec *r, uint64_t since, struct tf_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->type = TF_REC_CONN;
	c->flags = TF_F_MIDLIFE;
	c->family = r->family;
	c->first_old = r->state;
	c->nstates = 1;
	c->state[0] = r->state;
	c->state_ns[0] = since;
	c->skaddr = r->skaddr;
	c->netns = r->netns;
	memcpy(c->saddr, r->saddr, 16);
	memcpy(c->daddr, r->daddr, 16);
	c->sport = r->sport;
	c->dport = r->dport;
}

/* Owners of half-closed sockets, from every task's open files (once per scan, when needed). */
static void load_owners(struct tf_tw *tw)
{
	struct tf_owner_rec recs[64];
	int fd;
	ssize_t n;

	tf_ohash_clear(&tw->owners);
	fd = tf_loader_iter_open(tw->loader, TF_ITER_HALF_OWNERS);	/* -EBADF: refused */
	if (fd < 0)
		return;
	while ((n = tf_loader_iter_read(tw->loader, fd, recs, sizeof(recs))) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof(recs[0]); i++) {
			struct tf_owner_rec *o = tf_ohash_put(&tw->owners, &recs[i].skaddr, NULL);

			if (o && !o->pid)
				*o = recs[i];
		}
	close(fd);
}

/* --pid, as the kernel side filters traced connections; an unknown owner is not wanted. */
static bool pid_wanted(const struct tf_config *cfg, uint32_t pid)
{
	for (int i = 0; i < cfg->npids; i++)
		if (cfg->pids[i] == pid)
			return true;
	return cfg->npids == 0;
}

static void check_untraced_one(struct tf_tw *tw, const struct tf_sweep_rec *r, bool *owners)
{
	struct tf_stuck st;
	struct tf_conn c;
	const struct tf_owner_rec *o;

	walk_conn(r, idle_since(tw, r), &c);
	if (tf_stuckt_due(tw->stuck, &c, tw->scan_ns) && !(r->flags & TF_SWF_ORPHAN)) {
		if (!*owners)
			load_owners(tw);
		*owners = true;
		o = tf_ohash_get(&tw->owners, &r->skaddr);
		if (o) {
			c.pid = o->pid;
			memcpy(c.comm, o->comm, sizeof(c.comm));
		}
	}
	/*
	 * Check first, filter after: the check also keeps an already reported
	 * connection remembered for this scan (its owner is only looked up
	 * while it is due), or it would be forgotten and reported again.
	 */
	if (!tf_stuckt_check(tw->stuck, &c, tw->scan_ns, &st) || !pid_wanted(tw->cfg, c.pid))
		return;
	st.orphaned = r->flags & TF_SWF_ORPHAN;
	st.idle_age = true;
	tf_core_stuck(tw->core, &st);
}

/*
 * Sockets the walk found half-closed and the tracer never saw change state:
 * their connection began before tracing. Their age is how long the peer has
 * been silent (no ACK since its FIN, for CLOSE_WAIT), their owner comes from
 * the open files of every task.
 */
static void check_untraced(struct tf_tw *tw)
{
	bool owners = false;
	uint32_t i = 0;

	for (i = 0; i < tw->half.nslots; i++) {
		const struct half_info *h = tf_ohash_at(&tw->half, i);

		if (h && !h->traced)
			check_untraced_one(tw, &h->rec, &owners);
	}
	i = 0;
	while (i < tw->since.nslots) {	/* forget sockets gone or traced now */
		const struct since_val *v = tf_ohash_at(&tw->since, i);

		if (v && v->gen != tw->scan_gen) {
			tf_ohash_del_at(&tw->since, i);
			continue;
		}
		i++;
	}
}

static void on_tw_end(void *ctx, const struct tf_tw_end *end)
{
	struct tf_tw *tw = ctx;

	tf_core_tw_end(tw->core, end);
}

/*
 * The live connection table: reuse evidence first, then stuck ones. Every
 * max(--tw-interval, --stuck / 10), and at the next sweep whenever a
 * TIME-WAIT went early and waits for evidence.
 */
static void scan_live(struct tf_tw *tw, uint64_t now)
{
	if (!tf_twt_pending(tw->twt) && now < tw->next_scan_ns)
		return;
	tw->next_scan_ns = now + tw->scan_period_ns;
	tw->scan_ns = now;
	tw->scan_gen++;
	tf_stuckt_begin(tw->stuck);
	tf_loader_scan_live(tw->loader, on_live, tw);
	check_untraced(tw);
	tf_stuckt_end(tw->stuck);
}

/* Trouble that ends nothing: told once per kind (tf_tw_problem), never fatal. */
static void trouble(struct tf_tw *tw, const char *msg)
{
	if (!msg || !strcmp(msg, tw->problem))
		return;
	snprintf(tw->problem, sizeof(tw->problem), "%s", msg);
	tw->problem_new = true;
}

/*
 * What a sweep costs: CPU time of this thread (the walk runs in its read()
 * calls) and of the helper's children that enter the namespaces. Not wall
 * time: on a busy host a sweep waits for a CPU, and that waiting is not
 * ours to budget.
 */
static uint64_t cpu_ns(const struct tf_tw *tw)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + tf_nsiter_cpu_ns(tw->ns);
}

/*
 * TIME-WAITs in other namespaces: as many lookups as 3/4 of the sweep's
 * share of a CPU leaves after the walk (spent_ns; the rest is headroom:
 * sweeps vary, p90 15% over the median with 100 namespaces of 1000), and
 * never less than a third of that share: the walk alone can take it all (it
 * visits every namespace's sockets, 10-17 ms with 100 000 elsewhere). A
 * sweep over its share stretches the period, the lookups with it.
 */
static void check_elsewhere(struct tf_tw *tw, uint64_t spent_ns)
{
	uint64_t share = tw->interval_ns / MAX_SHARE, c0 = cpu_ns(tw);
	uint64_t left = share * 3 / 4 > spent_ns ? share * 3 / 4 - spent_ns : 0;
	uint64_t max = (left > share / 3 ? left : share / 3) / tw->check_cost_ns;
	size_t n = tf_twf_check(tw->twf, tf_now_mono_ns(), max > CHECKS_MIN ? max : CHECKS_MIN);

	if (n)	/* smoothed: the namespaces entered weigh on few lookups */
		tw->check_cost_ns = (3 * tw->check_cost_ns + (cpu_ns(tw) - c0) / n) / 4 + 1;
	tw->snap.looked_up = n;
	trouble(tw, tf_twf_problem(tw->twf));
}

/* The home walk failed (not gone: failed): nothing of it is judged in this sweep. */
static void walk_failed(struct tf_tw *tw, int err, uint64_t overflow)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "walking the TCP sockets of network namespace %u failed: %s "
		 "(its TIME-WAITs are not judged until a walk works)", tw->home_netns,
		 err == -ECANCELED ? "the helper's child was killed in it (a teardown?)" :
		 strerror(-err));
	trouble(tw, msg);
	tw->snap.overflow = overflow;	/* as last read */
}

static bool sweep_now(struct tf_tw *tw, uint64_t t0)
{
	uint64_t t1, lost, cost, period, overflow = tw->snap.overflow, c0 = cpu_ns(tw);
	int err;

	memset(&tw->snap, 0, sizeof(tw->snap));
	tw->snap.by_netns = tw->cfg->netns_all;
	tf_ohash_clear(&tw->half);
	tf_twf_begin(tw->twf);
	tf_twt_begin(tw->twt, t0);
	err = walk(tw, on_sweep_rec);
	t1 = tf_now_mono_ns();
	if (!err || err == -ENOENT)
		tf_twt_walked(tw->twt, t1);
	else
		walk_failed(tw, err, overflow);
	check_elsewhere(tw, cpu_ns(tw) - c0);
	t1 = tf_now_mono_ns();
	scan_live(tw, t1);
	/* lost events or skipped timewait sockets: early ends become "unknown" */
	lost = tf_run_lost(tf_core_stats(tw->core)) + tw->snap.overflow;
	tf_twt_end(tw->twt, lost == tw->lost_before, &tw->snap);
	tw->lost_before = lost;
	/* a huge population stretches the period: sweeps take at most 1/MAX_SHARE of a CPU */
	cost = cpu_ns(tw) - c0;
	period = cost * MAX_SHARE > tw->interval_ns ? cost * MAX_SHARE : tw->interval_ns;
	tw->next_ns = t0 + period;
	tw->snap.interval_ns = (int64_t)period;
	tw->snap.sweep_cost_ns = (int64_t)cost;
	return !err || err == -ENOENT;
}

int tf_tw_sweep(struct tf_tw *tw, uint64_t now_ns)
{
	if (now_ns < tw->next_ns)
		return 0;
	/* no census from a walk that failed: the ends it could judge went out already */
	if (sweep_now(tw, tf_now_mono_ns()))
		tf_core_tw_sweep(tw->core, &tw->snap);
	return 1;
}

const char *tf_tw_problem(struct tf_tw *tw)
{
	if (!tw->problem_new)
		return NULL;
	tw->problem_new = false;
	return tw->problem;
}

/* ---- finished connections: the core's stage ------------------------------------ */

/* Before the sinks see it: a hand-over starts a TIME-WAIT, a start may end one (reuse). */
static void stage_conn(void *ctx, const struct tf_summary *s)
{
	struct tf_tw *tw = ctx;

	tf_twt_conn(tw->twt, s->rec, s);
}

/* ---- life cycle ---------------------------------------------------------------------- */

/*
 * The namespace helper, while we still have the privileges it keeps: to
 * walk --netns (an error without it), and to follow the TIME-WAITs of
 * other namespaces by lookups (without it they end as not_swept).
 */
static int start_helper(struct tf_tw *tw, const struct tf_config *cfg, struct tf_features *fs,
			char *err, size_t errlen)
{
	char path[TF_NS_PATH_LEN], why[200];
	int e;

	if (cfg->netns == tw->own_netns && cfg->netns)
		return TF_EXIT_OK;
	if (cfg->netns && tf_netns_find(cfg->netns, path, sizeof(path))) {
		snprintf(err, errlen, "--netns %u: no such network namespace (no process in it, "
			 "not in /run/netns); see `stat -Lc %%i /proc/PID/ns/net`", cfg->netns);
		return TF_EXIT_USAGE;
	}
	if (!cfg->netns && (e = tf_diag_probe())) {
		tf_feature_set(fs, TF_FEAT_NETNS_TIMEWAITS, TF_FS_OFF, TF_FW_MISSING, e,
			       "TCP sock_diag lookups, modules inet_diag and tcp_diag,");
		return TF_EXIT_OK;
	}
	e = tf_nsiter_new(&tw->ns, tf_loader_iter_link(tw->loader, TF_ITER_SWEEP), why, sizeof(why));
	if (e && cfg->netns) {
		snprintf(err, errlen, "--netns %u: %s", cfg->netns, why);
		return TF_EXIT_PERM;
	}
	if (e)
		tf_feature_set(fs, TF_FEAT_NETNS_TIMEWAITS, TF_FS_OFF, TF_FW_REFUSED, e,
			       "CAP_SYS_ADMIN and CAP_SYS_PTRACE to the namespace helper");
	return TF_EXIT_OK;
}

static int make_trackers(struct tf_tw *tw, const struct tf_config *cfg)
{
	struct tf_twt_params p = { .hz = tw->hz, .owners_filtered = cfg->npids > 0,
				   .home_netns = tw->home_netns, .census_all = cfg->netns_all };
	struct tf_twt_ops ops = { .end = on_tw_end, .netns_alive = netns_alive, .ctx = tw };

	tw->twt = tf_twt_new(&p, &ops);
	tw->stuck = tf_stuckt_new((uint64_t)(cfg->stuck_s * 1e9));
	if (tw->twt)
		tw->twf = tf_twf_new(tw->ns, tf_loader_iter_link(tw->loader, TF_ITER_NETNS_TASKS),
				     tw->twt, tw->hz);
	if (!tw->twt || !tw->stuck || !tw->twf ||
	    tf_ohash_init(&tw->half, sizeof(uint64_t), sizeof(struct half_info), HALF_CAP) ||
	    tf_ohash_init(&tw->since, sizeof(struct since_key), sizeof(struct since_val), HALF_CAP) ||
	    tf_ohash_init(&tw->owners, sizeof(uint64_t), sizeof(struct tf_owner_rec), HALF_CAP))
		return -ENOMEM;
	return 0;
}

int tf_tw_new(struct tf_tw **out, const struct tf_config *cfg, struct tf_loader *l,
	      struct tf_core *core, struct tf_features *fs, char *err, size_t errlen)
{
	struct tf_tw *tw = calloc(1, sizeof(*tw));
	int rc = TF_EXIT_RUNTIME;

	*out = NULL;
	if (!tw) {
		snprintf(err, errlen, "TIME-WAIT tracker: out of memory");
		return TF_EXIT_RUNTIME;
	}
	if (tf_loader_iter_link(l, TF_ITER_SWEEP) < 0) {
		snprintf(err, errlen, "TIME-WAIT tracker: the socket iterator is not loaded");
		goto cleanup;
	}
	tw->loader = l;
	tw->core = core;
	tw->cfg = cfg;
	tw->interval_ns = (uint64_t)(cfg->tw_interval_s * 1e9);
	tw->own_netns = tf_netns_own();
	tw->home_netns = cfg->netns ? cfg->netns : tw->own_netns;
	tw->check_cost_ns = CHECK_COST_NS;
	tw->scan_period_ns = (uint64_t)(cfg->stuck_s * 1e8);	/* --stuck / 10 */
	if (tw->scan_period_ns < tw->interval_ns)
		tw->scan_period_ns = tw->interval_ns;
	rc = start_helper(tw, cfg, fs, err, errlen);
	if (rc)
		goto cleanup;
	tw->hz = measure_hz(tw);
	if (!tw->hz) {
		snprintf(err, errlen, "TIME-WAIT tracker: could not tell the kernel's HZ "
			 "(no kernel config found, jiffies unreadable)");
		rc = TF_EXIT_KERNEL;
		goto cleanup;
	}
	rc = TF_EXIT_RUNTIME;
	if (make_trackers(tw, cfg)) {
		snprintf(err, errlen, "TIME-WAIT tracker: out of memory");
		goto cleanup;
	}
	if (tf_core_set_stage(core, &(struct tf_stage){ .conn = stage_conn, .ctx = tw })) {
		snprintf(err, errlen, "TIME-WAIT tracker: the core has a stage already");
		goto cleanup;
	}
	*out = tw;
	return TF_EXIT_OK;
cleanup:
	tf_tw_free(tw);
	return rc;
}

void tf_tw_free(struct tf_tw *tw)
{
	if (!tw)
		return;
	tf_twf_free(tw->twf);
	tf_nsiter_free(tw->ns);
	tf_twt_free(tw->twt);
	tf_stuckt_free(tw->stuck);
	tf_ohash_free(&tw->half);
	tf_ohash_free(&tw->since);
	tf_ohash_free(&tw->owners);
	free(tw);
}
