// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Start-up only: find TCP sockets that were already listening when tracing
 * began, with the process that holds them, so accepted connections can be
 * attributed to their server (tcpflow.bpf.c learns new listeners at listen()).
 * Walks every task's open files; one struct tf_listener_rec per socket found.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tcpflow.h"
#include "tf_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("iter/task_file")
int dump_listeners(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tf_listener_rec rec = {};
	struct sock *sk;
	int state;

	if (!task || !file)
		return 0;
	sk = file_tcp_sock(file, &state);
	if (!sk || state != TF_LISTEN)
		return 0;

	rec.pid = BPF_CORE_READ(task, tgid);
	rec.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	rec.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	rec.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	BPF_CORE_READ_STR_INTO(&rec.comm, task, group_leader, comm);
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}
