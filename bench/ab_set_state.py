#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A/B of on_set_state's cost: several tracer binaries (builds of different
BPF code) in interleaved rounds under the same churn, with the empty tp_btf
program as the floor measured in the same run.

    sudo bench/ab_set_state.py --variant base=build/tcpflow-trace \\
        --variant new=/tmp/tcpflow-trace.new --modes json,metrics --rounds 7

Each sample: start the tracer (--json to /dev/null, or --metrics on a free
port), wait until it traces, churn bench/loadgen.c in a network namespace of
its own (-N) for --duration s, read on_set_state's run_time_ns/run_cnt
deltas. BPF run-time statistics are held on with BPF_ENABLE_STATS for the
whole run (a descriptor, not the sysctl: another process restoring the sysctl
does not switch them off under us). The machine is shared: compare medians of
the same invocation, never figures of different runs.
"""
import argparse
import ctypes
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import bpf_prog_ids_of, bpf_progs  # noqa: E402

BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0
SYS_BPF = {"x86_64": 321, "aarch64": 280}


def enable_stats():
    """A descriptor that keeps bpf_stats on while it is open."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 16)()
    attr[0] = BPF_STATS_RUN_TIME
    fd = libc.syscall(SYS_BPF[os.uname().machine], BPF_ENABLE_STATS, attr, ctypes.sizeof(attr))
    if fd < 0:
        sys.exit(f"ab_set_state: BPF_ENABLE_STATS failed: {os.strerror(ctypes.get_errno())}")
    return fd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prog_stats(ids, name):
    progs = bpf_progs("bpftool")
    for i in ids:
        p = progs.get(i)
        if p and p.get("name") == name:
            return p.get("run_time_ns", 0), p.get("run_cnt", 0)
    return None


def sample(a, label, argv, ready, prog, workdir):
    err_path = os.path.join(workdir, "err")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                sys.exit(f"ab_set_state: {label} exited: {open(err_path).read()[-2000:]}")
            with open(err_path, errors="replace") as f:
                if ready in f.read():
                    ids = bpf_prog_ids_of(proc.pid)
                    if ids and prog_stats(ids, prog):
                        break
            if time.monotonic() > deadline:
                sys.exit(f"ab_set_state: {label} not ready in 60 s")
            time.sleep(0.05)
        t0, n0 = prog_stats(ids, prog)
        lg = subprocess.run([a.loadgen, "-w", str(a.workers), "-p", str(a.base_port), "-N",
                             "-W", str(a.warmup), "-d", str(a.duration)],
                            capture_output=True, text=True)
        t1, n1 = prog_stats(ids, prog)
        if lg.returncode:
            sys.exit(f"ab_set_state: load generator failed: {lg.stderr}")
        cps = json.loads(lg.stdout.strip().splitlines()[-1])["rate"]
    finally:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return (t1 - t0) / max(n1 - n0, 1), cps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=TRACER")
    ap.add_argument("--modes", default="json,metrics")
    ap.add_argument("--loadgen", default="build/bench/tcpflow-loadgen")
    ap.add_argument("--empty", default="build/bench/tcpflow-bench-empty")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base-port", type=int, default=32100)
    ap.add_argument("--raw", help="write every sample (JSON) here")
    a = ap.parse_args()
    if os.geteuid():
        sys.exit("ab_set_state: needs root")
    rows = []
    for v in a.variant:
        name, path = v.split("=", 1)
        for m in a.modes.split(","):
            rows.append((f"{name} --{m}", name, m, path))
    rows.append(("empty", "empty", "", a.empty))
    stats_fd = enable_stats()
    workdir = tempfile.mkdtemp(prefix="ab_set_state.")
    res = {r[0]: [] for r in rows}
    for rnd in range(a.rounds):
        order = rows[rnd % len(rows):] + rows[:rnd % len(rows)]
        for label, name, mode, path in order:
            if name == "empty":
                argv, ready, prog = [path], "attached", "empty_set_state"
            elif mode == "metrics":
                argv = [path, "--metrics", f"127.0.0.1:{free_port()}"]
                ready, prog = "tracing TCP", "on_set_state"
            else:
                argv, ready, prog = [path, f"--{mode}"], "tracing TCP", "on_set_state"
            ns, cps = sample(a, label, argv, ready, prog, workdir)
            res[label].append((ns, cps))
            print(f"round {rnd + 1} {label}: {ns:.0f} ns/run, {cps:.0f} conn/s", flush=True)
    os.close(stats_fd)
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(res, f, indent=1)
    print(f"\n| row | on_set_state ns/run median | min-max | minus empty | conn/s median |")
    print("|---|---|---|---|---|")
    floor = statistics.median(x[0] for x in res["empty"])
    for label, *_ in rows:
        ns = [x[0] for x in res[label]]
        cps = [x[1] for x in res[label]]
        print(f"| {label} | {statistics.median(ns):.0f} | {min(ns):.0f}-{max(ns):.0f} | "
              f"{statistics.median(ns) - floor:.0f} | {statistics.median(cps):.0f} |")


if __name__ == "__main__":
    main()
