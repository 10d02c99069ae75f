/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small formatting helpers shared by every output. */
#ifndef TF_FMT_H
#define TF_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TF_ADDR_LEN 48	/* "[ffff:...:ffff]" plus room */
#define TF_TIME_LEN 40

/* Address of the given family (AF_INET/AF_INET6) as text. */
const char *tf_fmt_addr(int family, const uint8_t addr[16], char *buf, size_t len);
/* "addr:port", with IPv6 in brackets. */
const char *tf_fmt_endpoint(int family, const uint8_t addr[16], uint16_t port,
			    char *buf, size_t len);
/* RFC 3339 UTC with microseconds: 2026-11-28T22:40:01.123456Z */
const char *tf_fmt_rfc3339(int64_t real_ns, char *buf, size_t len);
/* A duration for people: "850us", "42.1ms", "3.004s", "-" for negative. */
const char *tf_fmt_dur(int64_t ns, char *buf, size_t len);
/* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns. */
int64_t tf_mono_to_real_ns(void);
uint64_t tf_now_mono_ns(void);

#endif /* TF_FMT_H */
