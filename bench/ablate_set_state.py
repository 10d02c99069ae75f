#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Builds of the tracer with one piece of on_set_state removed, for
bench/ab_set_state.py (RESULTS.md, "Where on_set_state's time goes").

    bench/ablate_set_state.py OUTDIR noclock norb ...   # OUTDIR/tcpflow-trace-NAME
    sudo bench/ab_set_state.py --variant base=OUTDIR/tcpflow-trace-base \\
        --variant noclock=OUTDIR/tcpflow-trace-noclock ...

Each variant copies this worktree, replaces text in bpf/tcpflow.bpf.c and
runs make. The texts are the source's as of 678ea3d; RESULTS.md's runs used
the same edits of 71beb5f (noowner then removed the owner's code of
conn_new's old form). A variant whose text no longer matches stops with its
name (update it, never let it build something else). The variants are not
correct tracers: they exist to be timed.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = "bpf/tcpflow.bpf.c"
CLOCK = "ts = bpf_ktime_get_ns();\n\tc = bpf_map_lookup_elem(&conns, &key);"
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
}


def build(name, outdir):
    tmp = tempfile.mkdtemp(prefix=f"ablate-{name}.")
    try:
        tree = os.path.join(tmp, "tree")
        # with build/: make rebuilds only what the edited source touches
        subprocess.run(["cp", "-a", ROOT, tree], check=True)
        path = os.path.join(tree, SRC)
        with open(path) as f:
            text = f.read()
        for old, new in VARIANTS[name]:
            if text.count(old) != 1:
                sys.exit(f"ablate_set_state: variant {name}: its text is not in {SRC} once")
            text = text.replace(old, new)
        with open(path, "w") as f:
            f.write(text)
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
