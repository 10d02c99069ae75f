// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The close side the tracepoints cannot see: a walk over every TCP socket
 * (iter/tcp, Linux 5.9) run periodically by src/timewait.c.
 *
 * - timewait mini-sockets: no tracepoint fires for them at all (not on
 *   creation, re-ACK or expiry), so their population and timers are read
 *   here: substate, time left on tw_timer, and when they were created.
 * - full sockets in CLOSE_WAIT / FIN_WAIT2: how many, orphaned or not,
 *   with their owner's uid and inode.
 *
 * Filters (netns, family, ports) come from .rodata like tcpflow.bpf.c.
 * Records go to the iterator's seq_file: struct tf_sweep_rec, END last.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpflow.h"
#include "tf_timewait.h"
#include "tf_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 filter_netns = 0;		/* 0: every namespace */
const volatile __u8 filter_family = 0;		/* 0: both */

/*
 * Jiffies -> time needs HZ. libbpf reads it from the kernel config
 * (/proc/config.gz or /boot/config-*); __weak leaves 0 when neither exists
 * and user space then measures HZ from two sweeps' END records.
 */
extern unsigned int CONFIG_HZ __kconfig __weak;

struct inet_timewait_sock___entry {
	__u32 tw_entry_stamp;
} __attribute__((preserve_access_index));

/*
 * Family, namespace and ports of any socket (full, timewait) into *r.
 *
 * The iterator's sk_common and the bpf_skc_to_*() results are BTF-typed
 * pointers: fields are loaded directly (CO-RE relocated) rather than with
 * one bpf_probe_read_kernel() each, which cost ~100 ns apiece when a sweep
 * visits 131k TIME-WAIT sockets.
 */
static __always_inline bool fill_common(const struct sock_common *skc, struct tf_sweep_rec *r)
{
	r->family = skc->skc_family;
	if (r->family != AF_INET && r->family != AF_INET6)
		return false;
	if (filter_family && r->family != filter_family)
		return false;
	r->netns = skc->skc_net.net->ns.inum;
	if (filter_netns && r->netns != filter_netns)
		return false;
	r->sport = skc->skc_num;
	r->dport = bpf_ntohs(skc->skc_dport);
	if (!port_wanted(r->sport, r->dport))
		return false;
	if (r->family == AF_INET) {
		*(__u32 *)r->saddr = skc->skc_rcv_saddr;
		*(__u32 *)r->daddr = skc->skc_daddr;
	} else {
		__builtin_memcpy(r->saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(r->daddr, &skc->skc_v6_daddr, 16);
	}
	return true;
}

static __always_inline void emit_timewait(struct seq_file *seq, struct sock_common *skc,
					  __u64 now_jiffies)
{
	struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);
	struct inet_timewait_sock___entry *e;
	struct tf_sweep_rec r = { .kind = TF_SWR_TW };
	unsigned long expires;

	if (!tw || !fill_common(skc, &r))
		return;
	r.state = tw->tw_sk.tw_substate;
	/* 64-bit kernels: timer_list.expires is jiffies_64, as bpf_jiffies64() */
	expires = tw->tw_sk.tw_timer.expires;
	r.jiffies = (__s64)(expires - now_jiffies);
	r.ts_ns = bpf_ktime_get_ns();
	/*
	 * tw_entry_stamp (tcp_clock_ms() at entry, re-stamped when the peer's
	 * FIN moves a FIN_WAIT2 substate to TIME_WAIT) came with the
	 * millisecond tcp_tw_reuse_delay work (Linux 6.13); older kernels have
	 * only the timer and we date the socket by the sweep that first saw it.
	 */
	e = (void *)&tw->tw_sk;
	if (bpf_core_field_exists(e->tw_entry_stamp)) {
		r.entry_ms = e->tw_entry_stamp;
		r.flags |= TF_SWF_ENTRY_STAMP;
	}
	bpf_seq_write(seq, &r, sizeof(r));
}

static __always_inline void emit_half_closed(struct seq_file *seq, struct sock_common *skc,
					     __u32 uid, __u64 now_jiffies)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	struct tf_sweep_rec r = { .kind = TF_SWR_HALF };
	struct socket *so;

	if (!tp || !fill_common(skc, &r))
		return;
	r.state = skc->skc_state;
	r.skaddr = (__u64)tp;
	r.uid = uid;
	/* tcp_jiffies32 of the last ACK the peer sent: its FIN, if idle since */
	r.jiffies = (__s64)(__s32)((__u32)now_jiffies - tp->rcv_tstamp);
	r.ts_ns = bpf_ktime_get_ns();
	so = tp->inet_conn.icsk_inet.sk.sk_socket;
	if (so)
		r.ino = so->file->f_inode->i_ino;
	else
		r.flags |= TF_SWF_ORPHAN;
	bpf_seq_write(seq, &r, sizeof(r));
}

SEC("iter/tcp")
int sweep(struct bpf_iter__tcp *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct sock_common *skc = ctx->sk_common;
	__u64 now = bpf_jiffies64();
	int state;

	if (!skc) {	/* end of the walk */
		struct tf_sweep_rec r = {
			.kind = TF_SWR_END,
			.jiffies = (__s64)now,
			.ts_ns = bpf_ktime_get_ns(),
			.entry_ms = CONFIG_HZ,
		};

		bpf_seq_write(seq, &r, sizeof(r));
		return 0;
	}
	state = skc->skc_state;
	if (state == TF_TIME_WAIT)
		emit_timewait(seq, skc, now);
	else if (state == TF_CLOSE_WAIT || state == TF_FIN_WAIT2)
		emit_half_closed(seq, skc, ctx->uid, now);
	return 0;
}

/*
 * The network namespace of every process (thread-group leaders) and its
 * pid: whether a namespace still exists when its timewait sockets vanish
 * early, and a way into it for the lookups. Needs no ptrace rights, unlike
 * stat(/proc/PID/ns/net) after we drop them. The pid is the host's (tgid):
 * a tracer in a pid namespace of its own sees only its namespace's tasks,
 * and a /proc/PID that names another process fails the inode check.
 */
SEC("iter/task")
int netns_of_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct tf_netns_rec r;

	if (!task || BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	r.inum = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	r.pid = BPF_CORE_READ(task, tgid);
	if (r.inum)
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * Owners of half-closed sockets (CLOSE_WAIT, FIN_WAIT2): run only when a
 * connection that began before tracing has been half-closed for --stuck.
 * bpf_sock_from_file() needs Linux 5.11; it is NULL for other files.
 */
SEC("iter/task_file")
int half_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tf_owner_rec r = {};
	struct sock *sk;
	int state;

	if (!task || !file)
		return 0;
	sk = file_tcp_sock(file, &state);
	if (!sk || (state != TF_CLOSE_WAIT && state != TF_FIN_WAIT2))
		return 0;
	r.skaddr = (__u64)sk;
	r.pid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_STR_INTO(&r.comm, task, group_leader, comm);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
