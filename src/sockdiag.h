/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Exact lookups of TCP sockets by 4-tuple through NETLINK_SOCK_DIAG (what
 * `ss` uses). A request without NLM_F_DUMP makes the kernel look the tuple
 * up in its established hash, timewait sockets included
 * (inet_diag_find_one_icsk()): one hash lookup, whatever the number of
 * sockets elsewhere, where a walk of iter/tcp visits every socket of every
 * namespace. The answer comes from the namespace the netlink socket was
 * created in (nsiter.h opens one inside another namespace).
 */
#ifndef TF_SOCKDIAG_H
#define TF_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

/* A socket's 4-tuple, addresses in network order (IPv4 in the first 4 bytes). */
struct tf_diag_tuple {
	uint8_t family;		/* AF_INET / AF_INET6 */
	uint8_t _pad;
	uint16_t sport, dport;	/* local, remote; host order */
	uint8_t saddr[16], daddr[16];
};

enum tf_diag_status {
	TF_DIAG_GONE = 0,	/* no socket on the tuple */
	TF_DIAG_TW,		/* a timewait socket */
	TF_DIAG_OTHER,		/* a full socket (a new connection took the tuple) */
	TF_DIAG_ERR,		/* no answer: the lookup failed */
};

struct tf_diag_sock {
	uint8_t status;		/* enum tf_diag_status */
	uint8_t state;		/* TW: its substate (TIME_WAIT, or FIN_WAIT2) */
	uint16_t _pad;
	uint32_t expires_ms;	/* TW: time left on its timer (0 when due) */
};

/*
 * Look up n tuples on a NETLINK_SOCK_DIAG socket; out[i] answers q[i].
 * Returns 0, or -errno when the socket failed (the rest are TF_DIAG_ERR).
 */
int tf_diag_lookup(int fd, const struct tf_diag_tuple *q, size_t n, struct tf_diag_sock *out);

/*
 * Does this kernel answer TCP sock_diag requests (inet_diag and tcp_diag
 * built in or loadable)? Without them every lookup would say "no such
 * socket". 0, or -errno.
 */
int tf_diag_probe(void);

#endif /* TF_SOCKDIAG_H */
