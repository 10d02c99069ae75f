// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TIME-WAITs in other network namespaces. See twforeign.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "fmt.h"
#include "ohash.h"
#include "sockdiag.h"
#include "tf_timewait.h"
#include "twforeign.h"

#define NETNS_CAP (1u << 16)
#define CHECK_MAX 16384		/* lookups per sweep, at most */
#define DIAG_CHUNK 16		/* lookups timed together */

/* What we know of a network namespace. */
struct ns_info {
	uint32_t seen_gen;		/* the reading of the namespace list that last found it */
	bool have_overflow;
	uint64_t overflow;		/* its TcpExt TCPTimeWaitOverflow, last read */
	char path[TF_NS_PATH_LEN];	/* a way in; "": look again */
};

/* The keys of one namespace in due[], and its request to the helper. */
struct group {
	uint32_t first, n;
	bool early;		/* a lookup found one gone before its timer */
};

struct tf_twf {
	struct tf_nsiter *ns;
	int task_link_fd;
	struct tf_twt *twt;
	uint32_t hz;
	struct tf_ohash netns;		/* inum -> ns_info */
	uint32_t gen;			/* readings of the namespace list */
	bool read_this_sweep, read_ok;
	bool helper_lost;
	uint64_t now_ns;
	int nreq;
	struct tf_ns_req reqs[TF_NS_BATCH];
	struct group groups[TF_NS_BATCH];
	char problem[200], shown[200];
	struct tf_twt_key due[CHECK_MAX];
};

/* ---- which namespaces exist ---------------------------------------------------------- */

static struct ns_info *note_ns(struct tf_twf *f, uint32_t inum)
{
	struct ns_info *i = tf_ohash_put(&f->netns, &inum, NULL);

	if (i)
		i->seen_gen = f->gen;
	return i;
}

/* Bind mounts (ip netns, container runtimes): the preferred way in. */
static void from_dir(struct tf_twf *f, const char *dir)
{
	DIR *d = opendir(dir);
	char path[TF_NS_PATH_LEN];
	struct dirent *de;
	struct ns_info *i;
	struct stat st;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (!stat(path, &st) && (i = note_ns(f, (uint32_t)st.st_ino)))
			memcpy(i->path, path, sizeof(path));
	}
	closedir(d);
}

/* Every process's namespace; the first process found in each is the way in. */
static int from_tasks(struct tf_twf *f)
{
	int fd = bpf_iter_create(f->task_link_fd);
	struct tf_netns_rec r[256];
	struct ns_info *i;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, r, sizeof(r))) > 0)
		for (size_t k = 0; k < (size_t)n / sizeof(r[0]); k++) {
			i = tf_ohash_get(&f->netns, &r[k].inum);
			if (i && i->seen_gen == f->gen)
				continue;
			if ((i = note_ns(f, r[k].inum)))
				snprintf(i->path, sizeof(i->path), "/proc/%u/ns/net", r[k].pid);
		}
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Read the list again, at most once per sweep. false: it could not be read. */
static bool read_list(struct tf_twf *f)
{
	if (f->read_this_sweep)
		return f->read_ok;
	f->read_this_sweep = true;
	if (f->netns.n > NETNS_CAP - 1024)
		tf_ohash_clear(&f->netns);	/* forget the long dead */
	f->gen++;
	f->read_ok = !from_tasks(f);
	from_dir(f, "/run/netns");
	from_dir(f, "/var/run/docker/netns");
	return f->read_ok;
}

void tf_twf_begin(struct tf_twf *f)
{
	f->read_this_sweep = false;
}

bool tf_twf_alive(struct tf_twf *f, uint32_t inum)
{
	const struct ns_info *i;

	if (!read_list(f))
		return true;
	i = tf_ohash_get(&f->netns, &inum);
	return !i || i->seen_gen == f->gen;
}

void tf_twf_path(struct tf_twf *f, uint32_t inum, bool stale, char *path, size_t len)
{
	struct ns_info *i = tf_ohash_get(&f->netns, &inum);

	if (i && stale)
		i->path[0] = 0;
	if (!i || !i->path[0]) {
		read_list(f);
		i = tf_ohash_get(&f->netns, &inum);
	}
	snprintf(path, len, "%s", i ? i->path : "");
}

/* ---- lookups ------------------------------------------------------------------------- */

static void set_problem(struct tf_twf *f, const char *what, uint32_t inum, int err)
{
	snprintf(f->problem, sizeof(f->problem), "%s network namespace %u: %s (its TIME-WAITs "
		 "are not judged until it works; past their timer they end as not_swept)",
		 what, inum, strerror(-err));
}

static void unchecked(struct tf_twf *f, const struct group *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		tf_twt_unchecked(f->twt, &f->due[g->first + i]);
}

static void to_tuple(const struct tf_twt_key *k, struct tf_diag_tuple *q)
{
	*q = (struct tf_diag_tuple){ .family = k->family, .sport = k->sport, .dport = k->dport };
	memcpy(q->saddr, k->saddr, 16);
	memcpy(q->daddr, k->daddr, 16);
}

/*
 * One answer, as the tracker takes it: a walk's record, a miss, or no
 * answer. Returns true for one gone before its timer.
 */
static bool answer(struct tf_twf *f, const struct tf_twt_key *k, const struct tf_diag_sock *a,
		   uint64_t t0, uint64_t t1)
{
	struct tf_sweep_rec r = { .kind = TF_SWR_TW, .family = k->family, .state = a->state,
				  .netns = k->netns, .sport = k->sport, .dport = k->dport,
				  .jiffies = (int64_t)a->expires_ms * f->hz / 1000, .ts_ns = t1 };

	switch (a->status) {
	case TF_DIAG_TW:
		memcpy(r.saddr, k->saddr, 16);
		memcpy(r.daddr, k->daddr, 16);
		return tf_twt_checked(f->twt, k, &r, t0, t1);
	case TF_DIAG_GONE:
	case TF_DIAG_OTHER:	/* a new connection holds the tuple: it took over */
		return tf_twt_checked(f->twt, k, NULL, t0, t1);
	default:
		tf_twt_unchecked(f->twt, k);
		return false;
	}
}

static void lookups(struct tf_twf *f, int fd, struct group *g, uint32_t inum)
{
	struct tf_diag_tuple q[DIAG_CHUNK];
	struct tf_diag_sock a[DIAG_CHUNK];
	const struct tf_twt_key *k = &f->due[g->first];

	for (uint32_t off = 0; off < g->n; off += DIAG_CHUNK) {
		uint32_t n = g->n - off < DIAG_CHUNK ? g->n - off : DIAG_CHUNK;
		uint64_t t0 = tf_now_mono_ns(), t1;
		int err;

		for (uint32_t i = 0; i < n; i++)
			to_tuple(&k[off + i], &q[i]);
		err = tf_diag_lookup(fd, q, n, a);
		t1 = tf_now_mono_ns();
		for (uint32_t i = 0; i < n; i++)
			g->early |= answer(f, &k[off + i], &a[i], t0, t1);
		if (err) {
			set_problem(f, "TIME-WAIT lookups in", inum, err);
			for (off += n; off < g->n; off++)
				tf_twt_unchecked(f->twt, &k[off]);
			return;
		}
	}
}

/* The helper's answer for one namespace. */
static void on_answer(void *ctx, const struct tf_ns_req *req, int fd, uint64_t overflow)
{
	struct tf_twf *f = ctx;
	struct group *g = &f->groups[req - f->reqs];
	struct ns_info *i = tf_ohash_get(&f->netns, &req->netns);

	if (fd >= 0) {
		if (i && req->counters) {	/* the first visit: where the counter starts */
			i->overflow = overflow;
			i->have_overflow = true;
		}
		lookups(f, fd, g, req->netns);
		return;
	}
	if (fd == -ENOENT && i) {
		i->path[0] = 0;		/* that process left: look again */
		if (read_list(f) && (i = tf_ohash_get(&f->netns, &req->netns)) &&
		    i->seen_gen != f->gen) {
			tf_twt_netns_gone(f->twt, req->netns, f->now_ns);
			return;
		}
	}
	if (fd == -EIO && !f->helper_lost) {
		f->helper_lost = true;
		snprintf(f->problem, sizeof(f->problem), "the namespace helper is gone: TIME-WAITs "
			 "in other namespaces are no longer followed (they end as not_swept)");
	} else if (fd == -ECANCELED) {
		snprintf(f->problem, sizeof(f->problem), "the namespace helper's child was killed "
			 "inside network namespace %u (a teardown?); its TIME-WAITs wait for the "
			 "next sweep", req->netns);
	} else if (fd != -ENOENT && fd != -EIO) {
		set_problem(f, "entering", req->netns, fd);
	}
	unchecked(f, g);
}

/*
 * Plan the lookups of one namespace's keys: a request to the helper, or
 * gone, or no way in.
 */
static void plan(struct tf_twf *f, uint32_t first, uint32_t n)
{
	struct group g = { first, n };
	uint32_t inum = f->due[first].netns;
	struct ns_info *i = tf_ohash_get(&f->netns, &inum);
	struct tf_ns_req *req;

	if (!f->ns || f->helper_lost || f->nreq == TF_NS_BATCH) {
		unchecked(f, &g);
		return;
	}
	if (!i || !i->path[0]) {
		read_list(f);
		i = tf_ohash_get(&f->netns, &inum);
	}
	if (i && i->seen_gen != f->gen && f->read_this_sweep && f->read_ok) {
		tf_twt_netns_gone(f->twt, inum, f->now_ns);	/* known, and no longer found */
		return;
	}
	if (!i || !i->path[0]) {
		unchecked(f, &g);	/* never found: no way in */
		return;
	}
	req = &f->reqs[f->nreq];
	*req = (struct tf_ns_req){ .netns = inum, .what = TF_NS_DIAG, .counters = !i->have_overflow };
	memcpy(req->path, i->path, sizeof(req->path));
	f->groups[f->nreq++] = g;
}

/*
 * TCPTimeWaitOverflow, read again where a lookup found one gone early: if
 * it rose, a hand-over may have had no timewait socket at all.
 */
static void on_counters(void *ctx, const struct tf_ns_req *req, int err, uint64_t overflow)
{
	struct tf_twf *f = ctx;
	struct ns_info *i = tf_ohash_get(&f->netns, &req->netns);

	if (err || !i || !i->have_overflow || overflow > i->overflow)
		tf_twt_netns_suspect(f->twt, req->netns);
	if (!err && i) {
		i->overflow = overflow;
		i->have_overflow = true;
	}
}

static void read_counters(struct tf_twf *f)
{
	int n = 0;

	for (int i = 0; i < f->nreq; i++) {
		if (!f->groups[i].early)
			continue;
		f->reqs[n] = f->reqs[i];
		f->reqs[n++].what = TF_NS_COUNTERS;
	}
	if (n)
		tf_nsiter_open(f->ns, f->reqs, n, on_counters, f);
}

static int by_netns(const void *a, const void *b)
{
	uint32_t x = ((const struct tf_twt_key *)a)->netns, y = ((const struct tf_twt_key *)b)->netns;

	return x < y ? -1 : x > y;
}

size_t tf_twf_check(struct tf_twf *f, uint64_t now_ns, size_t max)
{
	size_t n = tf_twt_due(f->twt, now_ns, f->due, max < CHECK_MAX ? max : CHECK_MAX);

	if (!n)
		return 0;
	f->now_ns = now_ns;
	f->nreq = 0;
	qsort(f->due, n, sizeof(f->due[0]), by_netns);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && f->due[j].netns == f->due[i].netns; j++)
			;
		plan(f, (uint32_t)i, (uint32_t)(j - i));
	}
	if (f->nreq && !tf_nsiter_open(f->ns, f->reqs, f->nreq, on_answer, f))
		read_counters(f);
	return n;
}

const char *tf_twf_problem(struct tf_twf *f)
{
	if (!f->problem[0])
		return NULL;
	memcpy(f->shown, f->problem, sizeof(f->shown));
	f->problem[0] = 0;
	return f->shown;
}

/* ---- life cycle ------------------------------------------------------------------------ */

struct tf_twf *tf_twf_new(struct tf_nsiter *ns, int task_link_fd, struct tf_twt *twt,
			  uint32_t hz)
{
	struct tf_twf *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ns = ns;
	f->task_link_fd = task_link_fd;
	f->twt = twt;
	f->hz = hz;
	if (tf_ohash_init(&f->netns, sizeof(uint32_t), sizeof(struct ns_info), NETNS_CAP)) {
		free(f);
		return NULL;
	}
	return f;
}

void tf_twf_free(struct tf_twf *f)
{
	if (!f)
		return;
	tf_ohash_free(&f->netns);
	free(f);
}
