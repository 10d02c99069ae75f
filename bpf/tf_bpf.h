/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every BPF object of ours shares (include after vmlinux.h and libbpf's headers). */
#ifndef TF_BPF_H
#define TF_BPF_H

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/*
 * --port: one bit per port (local or remote), set by user space before load
 * (tf_port_bits_fill). A bit test costs a load, where a hash lookup per port
 * cost ~40 ns on every event of unwanted traffic.
 */
const volatile __u32 n_port_filters = 0;
const volatile __u64 port_bits[TF_PORT_WORDS] = {};

static __always_inline bool port_set(__u16 port)
{
	return (port_bits[port >> 6] >> (port & 63)) & 1;
}

static __always_inline bool port_wanted(__u16 sport, __u16 dport)
{
	return !n_port_filters || port_set(sport) || port_set(dport);
}

/*
 * The TCP socket behind an open file (iter/task_file), with its state, or
 * NULL. bpf_sock_from_file() (Linux 5.11) returns NULL for non-sockets.
 */
static __always_inline struct sock *file_tcp_sock(struct file *file, int *state)
{
	struct socket *sock = bpf_sock_from_file(file);
	struct sock *sk;

	if (!sock)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	*state = BPF_CORE_READ(sk, __sk_common.skc_state);
	return sk;
}

#endif /* TF_BPF_H */
