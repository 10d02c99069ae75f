#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Builds of the tracer with one piece of on_set_state removed, for
bench/ab_set_state.py (RESULTS.md, "Where on_set_state's time goes").

    bench/ablate_set_state.py OUTDIR noclock norb ...   # OUTDIR/tcpflow-trace-NAME
    sudo bench/ab_set_state.py --variant base=OUTDIR/tcpflow-trace-base \\
        --variant noclock=OUTDIR/tcpflow-trace-noclock ...

Each variant copies this worktree, replaces text in bpf/tcpflow.bpf.c (or
the file a replacement names) and runs make. The texts are the source's as
of 678ea3d; RESULTS.md's runs used the same edits of 71beb5f (noowner then
removed the owner's code of conn_new's old form). The km* variants take
pieces out of the kernel's metrics fold (on_state_km, `--metrics` alone:
"Where on_state_km's time goes"), as of 5f87bb1. A variant whose text no
longer matches stops with its name (update it, never let it build something
else). The variants are not correct tracers: they exist to be timed.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = "bpf/tcpflow.bpf.c"
KM = "bpf/kmetrics.h"
KMH = "include/tf_kmetrics.h"
CLOCK = "ts = bpf_ktime_get_ns();\n\tc = bpf_map_lookup_elem(&conns, &key);"
FOLDED = "int folded = fold ? km_fold_conn(c) : 0;"
TUPLE_LOOKUP = "if (km_tw && bpf_map_lookup_elem(&km_tw_tuples, &tuple)) {"
TUPLE_UPDATE = "if (km_tw && v.time_wait)\n\t\tbpf_map_update_elem(&km_tw_tuples"
COUNTERS = ("\tm->bytes[0][role] += d->bytes[0];\n\tm->bytes[1][role] += d->bytes[1];\n"
            "\tm->closes[role][d->close_kind & (TF_KM_KINDS - 1)]++;\n"
            "\tm->syn_retrans += d->syn_retrans;\n\tm->synack_retrans += d->synack_retrans;\n"
            "\tm->retrans += d->retrans;\n\tfor (int i = 0; i < 4; i++)\n"
            "\t\tm->fin_retrans[i] += d->fin_retrans[i];\n\tm->resets[0] += d->rst_sent;\n"
            "\tm->resets[1] += d->rst_recv;\n\tm->tw_handovers[role] += d->tw_handover;\n"
            "\tm->refused += d->refused;\n")
HIST_ADD = ("\ti = tf_bucket_index((__u64)ns);\n\tif (i > TF_BUCKETS)\n\t\ti = TF_BUCKETS;\n"
            "\th->bucket[i]++;\n\th->count++;\n\th->sum_ns += (__u64)ns;\n")


def tw_array(log2):
    """Edits: km_tw_tuples as an array of 2^log2 hashes, each in the slot its top bits name."""
    return [(KM, "\t__uint(type, BPF_MAP_TYPE_LRU_HASH);\n\t__uint(map_flags, BPF_F_NO_COMMON_LRU);\n"
             "\t__uint(max_entries, 131072);\t/* TF_TWT_DEFAULT_CAP */\n"
             "\t__type(key, __u64);\n\t__type(value, __u8);\n} km_tw_tuples SEC(\".maps\");\n",
             f"\t__uint(type, BPF_MAP_TYPE_ARRAY);\n\t__uint(max_entries, 1 << {log2});\n"
             "\t__type(key, __u32);\n\t__type(value, __u64);\n} km_tw_tuples SEC(\".maps\");\n"),
            (KM, "\tint route;\n\t__u64 tuple;\n\t__u8 one = 1;\n",
             "\t__u64 tuple, *seen;\n\tint route;\n\t__u32 i;\n"),
            (KM, "\ttuple = km_tw ? tf_km_tuple_hash(c) : 0;\n"
             "\tif (km_tw && bpf_map_lookup_elem(&km_tw_tuples, &tuple)) {\n"
             "\t\t/* maybe a reuse of that TIME-WAIT: the tracker needs the whole record */\n"
             "\t\tbpf_map_delete_elem(&km_tw_tuples, &tuple);\n"
             "\t\troute = TF_KM_RECORD;\n\t}\n"
             "\tif (km_tw && v.time_wait)\n"
             "\t\tbpf_map_update_elem(&km_tw_tuples, &tuple, &one, BPF_ANY);\n",
             "\ttuple = km_tw ? tf_km_tuple_hash(c) | 1 : 0;\n"
             f"\ti = (__u32)(tuple >> (64 - {log2}));\n"
             "\tseen = km_tw ? bpf_map_lookup_elem(&km_tw_tuples, &i) : NULL;\n"
             "\tif (seen && *seen == tuple) {\n\t\t*seen = 0;\n\t\troute = TF_KM_RECORD;\n\t}\n"
             "\tif (seen && v.time_wait)\n\t\t*seen = tuple;\n")]


def bpf_only_off(text):
    """(text, the same text left out of the BPF build only: user space keeps it)"""
    return text, f"#ifndef __bpf__\n{text}#endif\n"


OUTPUT = ("\tif (bpf_ringbuf_output(&rb, c, sizeof(*c), rb_flags()))\n"
          "\t\tstat_inc(TF_STAT_RB_LOST_CONN);\n\telse\n\t\tstat_inc(TF_STAT_EMITTED);")

VARIANTS = {
    "base": [],
    # the clock read (the key stands in for a time)
    "noclock": [(CLOCK, "ts = key;\n\tc = bpf_map_lookup_elem(&conns, &key);")],
    # one more lookup of the connection (its cost is this minus base)
    "lookup2": [(CLOCK, "ts = bpf_ktime_get_ns();\n"
                 "\t{ void *volatile d = bpf_map_lookup_elem(&conns, &key); (void)d; }\n"
                 "\tc = bpf_map_lookup_elem(&conns, &key);")],
    # no record through the ring buffer (still deleted from the table)
    "norb": [(OUTPUT, "\tstat_inc(TF_STAT_EMITTED);")],
    # a slot reserved and discarded: the ring's bookkeeping without the copy
    "rbdiscard": [(OUTPUT, "\tvoid *r = bpf_ringbuf_reserve(&rb, sizeof(*c), 0);\n"
                   "\tif (r)\n\t\tbpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);\n"
                   "\tstat_inc(TF_STAT_EMITTED);")],
    # shorter records (user space counts them malformed)
    "rb64": [("bpf_ringbuf_output(&rb, c, sizeof(*c), rb_flags())",
              "bpf_ringbuf_output(&rb, c, 64, rb_flags())")],
    "rb232": [("bpf_ringbuf_output(&rb, c, sizeof(*c), rb_flags())",
               "bpf_ringbuf_output(&rb, c, 232, rb_flags())")],
    # the reads at -> CLOSE: sk_err and the tcp_sock's traffic counters
    "noclosereads": [("\t\tc->close_err = sk->sk_err;\n\t\tread_traffic(sk, c);", "")],
    # the fold of the state change into the record
    "nofold": [("\ttf_fold_state(c, ts, newstate);\n", "\tc->nstates++;\n")],
    # a plain hash table instead of the LRU one
    "hash": [("__uint(type, BPF_MAP_TYPE_LRU_HASH);\n\t__uint(max_entries, 65536);",
              "__uint(type, BPF_MAP_TYPE_HASH);\n\t__uint(max_entries, 65536);")],
    # the owner: current task, listener's owner, the task in close()
    "noowner": [("\tflags |= new_owner(netns, sport, role, newstate, &owner, &listener);\n", ""),
                ("\t\towner_at_close(c, newstate);\n\t}\n\n\tstat_inc(TF_STAT_EVENTS);",
                 "\t}\n\n\tstat_inc(TF_STAT_EVENTS);")],
    # a server child's look for parked SYN-ACK retransmissions
    "nosynack": [("\t\tif (c->role == TF_ROLE_SERVER && !(c->flags & TF_F_MIDLIFE) && "
                  "!tuple_late(c))\n\t\t\tserver_child_start(sk, c);", "")],
    # the socket's cgroup id at creation
    "nocgroup": [("\tc->cgroup_id = cgroup_id(sk_cgroup(sk));\n", "")],
    # the handshake's end: the server's first RTT, the retransmit recovery
    "noestab": [("\tif (newstate == TF_ESTABLISHED && c->role == TF_ROLE_SERVER)\n"
                 "\t\tserver_established(sk, c);\n\tif (oldstate == TF_SYN_SENT)\n"
                 "\t\tclient_handshake_end(sk, c);", "")],
    # the kernel's metrics fold (on_state_km, --metrics alone), against its own base:
    # none at all: a finished connection is dropped (nothing folded, nothing sent)
    "kmnofold": [(FOLDED, "int folded = fold ? (c ? KM_FOLDED : km_fold_conn(c)) : 0;")],
    # the record path in on_state_km: every record through the ring buffer (the fallback's way)
    "kmrecord": [(FOLDED, "int folded = fold && !c ? km_fold_conn(c) : 0;")],
    # the service port's slot (a hash lookup, a learned port's look)
    "kmnoport": [(KM, "slot = km_port_slot(c);", "slot = TF_KM_OTHER;")],
    # tf_verdict() (scan + finish): a stand-in with what the rest reads, same route
    "kmnoverdict": [(KM, "\tif (!km_verdict(c, &v))\n\t\treturn 0;\n",
                     "\tv.n = c->nstates < TF_MAX_STATES ? c->nstates : TF_MAX_STATES;\n"
                     "\tv.role = c->role;\n\tv.complete = 1;\n"
                     "\tv.close_kind = c->role == TF_ROLE_CLIENT ? TF_CK_ACTIVE : TF_CK_PASSIVE;\n"
                     "\tv.time_wait = v.n > 1 && c->state[TF_SM(v.n - 2)] == TF_FIN_WAIT2;\n"
                     "\tv.handshake_ns = v.close_ns = v.lifetime_ns = 1000;\n")],
    # the TIME-WAIT tuples' LRU: its lookup at every fold, its update at a hand-over, both
    "kmnotwlookup": [(KM, TUPLE_LOOKUP, "if (0 && " + TUPLE_LOOKUP[4:])],
    "kmnotwupdate": [(KM, TUPLE_UPDATE, "if (0 && " + TUPLE_UPDATE[4:])],
    "kmnotuple": [(KM, "tuple = km_tw ? tf_km_tuple_hash(c) : 0;", "tuple = 0;"),
                  (KM, TUPLE_LOOKUP, "if (0 && " + TUPLE_LOOKUP[4:]),
                  (KM, TUPLE_UPDATE, "if (0 && " + TUPLE_UPDATE[4:])],
    # the LRU replaced by a direct-mapped array of hashes: 2^20 slots (8 MiB, about the
    # LRU's memory), or 2^14 (128 KiB): one array access per fold
    "kmtwarray": tw_array(20),
    "kmtwarray14": tw_array(14),
    # the hand-over's 104-byte event through the ring buffer (counted, not sent)
    "kmnohandover": [("\t\tif (folded & KM_HANDOVER)\n\t\t\tsend_handover(c);",
                      "\t\tif (folded & KM_HANDOVER)\n\t\t\tstat_inc(TF_STAT_HANDOVERS);")],
    # every histogram's update (handshake, close, lifetime, RTT, time in state)
    "kmnohist": [(KMH, *bpf_only_off(HIST_ADD))],
    # the time-in-state histograms (the loop over the timeline)
    "kmnostates": [(KM, "\tkm_apply_states(&main->main, c, &v);\n", "")],
    # the handshake table: its lookup and histogram
    "kmnohs": [(KM, "if (d.handshake_ns >= 0 && (d.role", "if (0 && d.handshake_ns >= 0 && (d.role")],
    # the counters but connections (closes, bytes, retransmits, resets, hand-overs, refused);
    # without a use of its slot argument, clang passes km_apply_main() none: the verifier refuses
    "kmnocounters": [(KMH, *bpf_only_off(COUNTERS))],
}


def build(name, outdir):
    tmp = tempfile.mkdtemp(prefix=f"ablate-{name}.")
    try:
        tree = os.path.join(tmp, "tree")
        # with build/: make rebuilds only what the edited source touches
        subprocess.run(["cp", "-a", ROOT, tree], check=True)
        for edit in VARIANTS[name]:
            src, old, new = edit if len(edit) == 3 else (SRC, *edit)
            path = os.path.join(tree, src)
            with open(path) as f:
                text = f.read()
            if text.count(old) != 1:
                sys.exit(f"ablate_set_state: variant {name}: its text is not in {src} once")
            with open(path, "w") as f:
                f.write(text.replace(old, new))
        r = subprocess.run(["make", "-C", tree, "build/tcpflow-trace"], capture_output=True,
                           text=True)
        if r.returncode:
            sys.exit(f"ablate_set_state: variant {name} does not build:\n{r.stdout}{r.stderr}")
        shutil.copy2(os.path.join(tree, "build/tcpflow-trace"),
                     os.path.join(outdir, f"tcpflow-trace-{name}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 3 or any(n not in VARIANTS for n in sys.argv[2:]):
        sys.exit(f"usage: ablate_set_state.py OUTDIR VARIANT... ({', '.join(VARIANTS)})")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name in sys.argv[2:]:
        build(name, sys.argv[1])
        print(f"built {sys.argv[1]}/tcpflow-trace-{name}", flush=True)


if __name__ == "__main__":
    main()
