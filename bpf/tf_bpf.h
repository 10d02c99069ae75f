/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every BPF object of ours shares (include after vmlinux.h and libbpf's headers). */
#ifndef TF_BPF_H
#define TF_BPF_H

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

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
