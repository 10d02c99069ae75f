/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records of the TCP socket iterator (bpf/timewait.bpf.c), read by
 * src/timewait.c from the iterator's file descriptor.
 *
 * One sweep is a sequence of fixed-size struct tf_sweep_rec: one per
 * timewait socket, one per full socket in CLOSE_WAIT or FIN_WAIT2, and one
 * TF_SWR_END record last (the kernel's clocks at the end of the walk).
 */
#ifndef TF_TIMEWAIT_H
#define TF_TIMEWAIT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum tf_sweep_kind {
	TF_SWR_TW = 1,		/* a timewait mini-socket */
	TF_SWR_HALF = 2,	/* a full socket in CLOSE_WAIT or FIN_WAIT2 */
	TF_SWR_END = 3,		/* last record of a sweep */
};

/* tf_sweep_rec.flags */
#define TF_SWF_ENTRY_STAMP	0x01	/* TW: entry_ms is the kernel's tw_entry_stamp */
#define TF_SWF_ORPHAN		0x02	/* HALF: no struct socket any more (close() was called) */

struct tf_sweep_rec {
	__u16 kind;		/* enum tf_sweep_kind */
	__u8 family;		/* AF_INET / AF_INET6 */
	__u8 state;		/* TW: tw_substate (TIME_WAIT or FIN_WAIT2); HALF: sk state */
	__u32 netns;
	__u8 saddr[16];		/* local (IPv4 in the first 4 bytes) */
	__u8 daddr[16];
	__u16 sport;		/* host order */
	__u16 dport;
	__u32 flags;		/* TF_SWF_* */
	/*
	 * TW: tw_timer.expires - jiffies, in jiffies (negative: overdue).
	 * HALF: jiffies since the last ACK from the peer (tp->rcv_tstamp).
	 * END: jiffies now.
	 */
	__s64 jiffies;
	__u64 ts_ns;		/* CLOCK_MONOTONIC when this record was made (jiffies above) */
	__u64 skaddr;		/* HALF: socket address (the tracer's `conns` key) */
	/* TW: tw_entry_stamp (CLOCK_MONOTONIC ms, 32 bits). END: CONFIG_HZ, 0 if unknown. */
	__u32 entry_ms;
	__u32 uid;		/* HALF: socket owner's uid */
	__u64 ino;		/* HALF: socket inode (as in /proc/PID/fd), 0 when orphaned */
};

/*
 * Who holds a half-closed socket (iter/task_file): one per open file of a
 * TCP socket in CLOSE_WAIT or FIN_WAIT2, for connections that began before
 * tracing (their owner is not in any state-change event).
 */
struct tf_owner_rec {
	__u64 skaddr;
	__u32 pid;		/* tgid */
	__u32 _pad;
	char comm[16];		/* the thread-group leader's */
};

/*
 * A network namespace and one process in it (iter/task, thread-group
 * leaders): which namespaces exist, and a way into each (/proc/PID/ns/net).
 */
struct tf_netns_rec {
	__u32 inum;
	__u32 pid;		/* tgid (the host's pid) */
};

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct tf_netns_rec) == 8, "tf_netns_rec ABI size");
_Static_assert(sizeof(struct tf_sweep_rec) == 88, "tf_sweep_rec ABI size");
_Static_assert(sizeof(struct tf_owner_rec) == 32, "tf_owner_rec ABI size");
#endif

#endif /* TF_TIMEWAIT_H */
