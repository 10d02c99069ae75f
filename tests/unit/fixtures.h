/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the unit tests share besides the harness (tf_test.h): time units, one
 * fixed clock, a record's endpoints and owner, and capturing what a sink
 * writes. Lifecycles stay in the test that checks them: their exact times
 * are that test's expectations.
 */
#ifndef TF_FIXTURES_H
#define TF_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "tcpflow.h"

#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull
#define BASE (1000 * S)	/* CLOCK_MONOTONIC of a test's first event */
/* CLOCK_REALTIME - CLOCK_MONOTONIC for the sinks: BASE prints as 2026-11-28T22:40:00Z */
#define OFFSET (1795905600ll * (int64_t)S - (int64_t)BASE)
#define NETNS 4026532001u	/* a test namespace's inode number */

static const uint8_t LO[4] = { 127, 0, 0, 1 };

/* IPv4 endpoints (addresses of 4 bytes) in NETNS: local l:lp, remote r:rp. */
static inline void fx_endpoints(struct tf_conn *c, const uint8_t *l, uint16_t lp,
				const uint8_t *r, uint16_t rp)
{
	c->family = 2;
	c->netns = NETNS;
	memcpy(c->saddr, l, 4);
	memcpy(c->daddr, r, 4);
	c->sport = lp;
	c->dport = rp;
}

/* pid and comm (cut to TF_COMM_LEN - 1 bytes). */
static inline void fx_owner(struct tf_conn *c, uint32_t pid, const char *comm)
{
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "%s", comm);
}

/* What a sink writes, in memory: fx_open() gives the FILE, fx_text() closes it. */
struct fx_out {
	FILE *f;
	char *buf;
	size_t len;
};

static inline FILE *fx_open(struct fx_out *o)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	return o->f;
}

/* The text written so far (malloc'd, never NULL after a successful fx_open). */
static inline char *fx_text(struct fx_out *o)
{
	fclose(o->f);
	o->f = NULL;
	return o->buf;
}

#endif /* TF_FIXTURES_H */
