// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: empty tp_btf programs on the hooks tcpflow-trace
 * attaches to. "Filtered-out traffic costs no more than an empty program"
 * is measured against these (bench/run_bench.py, row "empty tp_btf").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_set_state) { return 0; }

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(empty_retransmit_skb) { return 0; }

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(empty_retransmit_synack) { return 0; }

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(empty_send_reset) { return 0; }

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(empty_receive_reset) { return 0; }
