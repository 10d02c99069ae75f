#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A/B of on_set_state's cost: several tracer binaries (builds of different
BPF code) in interleaved rounds under the same churn, with the empty tp_btf
program as the floor measured in the same run.

    sudo bench/ab_set_state.py --variant base=build/tcpflow-trace \\
        --variant new=/tmp/tcpflow-trace.new --modes json,metrics --rounds 7

Each sample: start the tracer (--json to /dev/null, or --metrics alone on a
free port), wait until it traces, churn bench/loadgen.c in a network
namespace of its own (-N) for --duration s, read the inet_sock_set_state
program's run_time_ns/run_cnt deltas: on_set_state, or with --metrics alone
on_state_km (the kernel's metrics fold) where the build has and loads it. BPF run-time statistics are held on with BPF_ENABLE_STATS for the
whole run (a descriptor, not the sysctl: another process restoring the sysctl
does not switch them off under us). The machine is shared: compare medians of
the same invocation, never figures of different runs.
"""
import argparse
import json
import signal
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import bpf_enable_stats, bpf_prog_ids_of, bpf_progs  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prog_stats(ids, names):
    """(run_time_ns, run_cnt) of the first of `names` among the programs `ids`."""
    progs = bpf_progs("bpftool")
    found = {p.get("name"): p for p in (progs.get(i) for i in ids) if p}
    for name in names:
        if name in found:
            return found[name].get("run_time_ns", 0), found[name].get("run_cnt", 0), name
    return None


def start(label, argv, workdir):
    err_path = os.path.join(workdir, f"{len(os.listdir(workdir))}.err")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    proc.label, proc.err_path = label, err_path
    return proc


def wait_ready(proc, ready, prog):
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            sys.exit(f"ab_set_state: {proc.label} exited: {open(proc.err_path).read()[-2000:]}")
        with open(proc.err_path, errors="replace") as f:
            if ready in f.read():
                ids = bpf_prog_ids_of(proc.pid)
                if ids and prog_stats(ids, prog):
                    return ids
        if time.monotonic() > deadline:
            sys.exit(f"ab_set_state: {proc.label} not ready in 60 s")
        time.sleep(0.05)


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def churn(a):
    lg = subprocess.run([a.loadgen, "-w", str(a.workers), "-p", str(a.base_port), "-N",
                         "-W", str(a.warmup), "-d", str(a.duration)],
                        capture_output=True, text=True)
    if lg.returncode:
        sys.exit(f"ab_set_state: load generator failed: {lg.stderr}")
    return json.loads(lg.stdout.strip().splitlines()[-1])["rate"]


def sample(a, group, workdir):
    """One churn with every (label, argv, ready, prog) of `group` attached at once:
    {label: (ns/run, conn/s, the program read)}."""
    procs = []
    try:
        for label, argv, ready, prog in group:
            procs.append((start(label, argv, workdir), ready, prog))
        ids = [wait_ready(p, ready, prog) for p, ready, prog in procs]
        before = [prog_stats(i, prog) for i, (_, _, prog) in zip(ids, procs)]
        cps = churn(a)
        after = [prog_stats(i, prog) for i, (_, _, prog) in zip(ids, procs)]
    finally:
        for p, _, _ in procs:
            stop(p)
    return {p.label: ((t1 - t0) / max(n1 - n0, 1), cps, name)
            for (p, _, _), (t0, n0, _), (t1, n1, name) in zip(procs, before, after)}


def tracer_argv(a, name, mode, base):
    """(argv, text on stderr once ready, the programs to read: the first loaded)."""
    if name == "empty":
        return base, "attached", ("empty_set_state",)
    if mode == "metrics":
        # one of the two loads: on_state_km, or on_set_state (older builds, or refused)
        return (base + ["--metrics", f"127.0.0.1:{free_port()}"], "tracing TCP",
                ("on_state_km", "on_set_state"))
    return base + [f"--{mode}"], "tracing TCP", ("on_set_state",)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=TRACER[ OPTION...]",
                    help="a tracer build, with options of its own after spaces")
    ap.add_argument("--modes", default="json,metrics")
    ap.add_argument("--loadgen", default="build/bench/tcpflow-loadgen")
    ap.add_argument("--empty", default="build/bench/tcpflow-bench-empty")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base-port", type=int, default=32100)
    ap.add_argument("--raw", help="write every sample (JSON) here")
    ap.add_argument("--together", action="store_true",
                    help="attach the variants of a mode (and the empty program) at once: "
                    "their programs run on the very same events, one after the other")
    ap.add_argument("--report", metavar="RAW", help="only print the tables of an earlier --raw file")
    a = ap.parse_args()
    if a.report:
        with open(a.report) as f:
            saved = json.load(f)
        report(saved["rows"], {k: v for k, v in saved["samples"].items()})
        return
    if os.geteuid():
        sys.exit("ab_set_state: needs root")
    rows = []
    for v in a.variant:
        name, argv = v.split("=", 1)
        for m in a.modes.split(","):
            rows.append((f"{name} --{m}", name, m, argv.split()))
    rows.append(("empty", "empty", "", [a.empty]))
    stats_fd = bpf_enable_stats()
    if stats_fd is None:
        sys.exit("ab_set_state: BPF_ENABLE_STATS failed (Linux >= 5.8, root): no run-time statistics")
    workdir = tempfile.mkdtemp(prefix="ab_set_state.")
    res = {r[0]: [] for r in rows}
    for rnd in range(a.rounds):
        order = rows[rnd % len(rows):] + rows[:rnd % len(rows)]
        if a.together:
            # every variant of a mode on the same events, attached in a rotated order
            groups = [[r for r in order if r[2] in (mode, "")] for mode in a.modes.split(",")]
        else:
            groups = [[r] for r in order]
        for group in groups:
            got = sample(a, [(label, *tracer_argv(a, name, mode, base))
                             for label, name, mode, base in group], workdir)
            for label, (ns, cps, prog) in got.items():
                res[label].append((ns, cps))
                print(f"round {rnd + 1} {label}: {ns:.0f} ns/run ({prog}), {cps:.0f} conn/s",
                      flush=True)
    os.close(stats_fd)
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump({"rows": rows, "samples": res}, f, indent=1)
    report(rows, res)


def report(rows, res):
    """Medians, and each row against the first variant of its mode in the same
    round (the median of the round-by-round differences: the machine's drift
    cancels out of them)."""
    first = {}
    for label, name, mode, _ in rows:
        first.setdefault(mode, label)
    floor = statistics.median(x[0] for x in res["empty"])
    print("\n| row | set_state program ns/run median | min-max | minus empty | "
          "vs first, same round (median) | conn/s median |")
    print("|---|---|---|---|---|---|")
    for label, name, mode, _ in rows:
        ns = [x[0] for x in res[label]]
        cps = [x[1] for x in res[label]]
        ref = [x[0] for x in res[first[mode]]]
        diff = statistics.median(a - b for a, b in zip(ns, ref))
        print(f"| {label} | {statistics.median(ns):.0f} | {min(ns):.0f}-{max(ns):.0f} | "
              f"{statistics.median(ns) - floor:.0f} | {diff:+.0f} | {statistics.median(cps):.0f} |")


if __name__ == "__main__":
    main()
