#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Observers that need none of our programs: where does an event get lost?

Two views of the same tracepoint besides our tp_btf programs:

- Ftrace: a tracefs instance, the kernel's own trace buffer. Its probe sits
  in the tracepoint's probe list beside the BPF ones, and no BPF runs for it:
  an event it recorded reached the tracepoint. It also records which task
  was current (for softirq work: the task the softirq interrupted) and the
  context flags.
- ClassicTracepoint: a bpftrace program on the classic tracepoint, another
  BPF dispatch path (perf_trace_run_bpf_submit -> trace_call_bpf) than our
  tp_btf programs' (__bpf_trace_run).

Both use CLOCK_MONOTONIC, so one event can be matched across them.

Run as a script, it asks the question directly: for every task, how many
softirqs ran on top of it according to ftrace, and according to a BPF
program? A task whose softirqs no BPF program sees is a blind spot of this
kernel (bench/HAMMER.md, "Which events no BPF program sees").

    sudo python3 bench/observers.py --seconds 20
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TRACEFS = Path("/sys/kernel/tracing")
# "  comm-tid  [cpu] flags  secs.usecs: event: fields" (also "event(fields)")
LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d+)\]\s+(\S+)\s+(\d+)\.(\d+):\s+(\w+)[:(]\s*(.*)$")


def need_bpftrace():
    if not shutil.which("bpftrace"):
        sys.exit("observers: bpftrace not found: apt-get install bpftrace "
                 "(or run `make bench-deps`)")


def mount_tracefs():
    """Mount tracefs on TRACEFS unless it is there. True when this call
    mounted it (unmount it when done); OSError with mount's message if it
    cannot."""
    if (TRACEFS / "events").is_dir():
        return False
    r = subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)],
                       capture_output=True, text=True)
    if r.returncode:
        raise OSError(f"mount -t tracefs nodev {TRACEFS}: {r.stderr.strip()}")
    return True


class Ftrace:
    """A tracefs instance recording some events; read once, at stop()."""

    def __init__(self, events, buffer_kb=32768):
        """events: {"group/name": filter or ""}."""
        try:
            self.mounted = mount_tracefs()
        except OSError as e:
            sys.exit(f"observers: cannot mount tracefs: {e}")
        self.events = events
        self.dir = TRACEFS / "instances" / f"tcpflow-observer-{os.getpid()}"
        self.dir.mkdir()
        (self.dir / "buffer_size_kb").write_text(str(buffer_kb))
        (self.dir / "trace_clock").write_text("mono")
        for name, flt in events.items():
            if flt:
                (self.dir / "events" / name / "filter").write_text(flt)
            (self.dir / "events" / name / "enable").write_text("1")
        (self.dir / "tracing_on").write_text("1")

    def stop(self):
        """[(comm, tid, cpu, flags, t_ns, event, fields)], and how many
        events the buffer itself dropped (overrun: must be 0 to compare)."""
        if self.dir is None:
            return [], 0
        (self.dir / "tracing_on").write_text("0")
        text = (self.dir / "trace").read_text()
        overrun = sum(int(n) for cpu in (self.dir / "per_cpu").iterdir()
                      for n in re.findall(r"^overrun: (\d+)", (cpu / "stats").read_text(), re.M))
        self.close()
        out = []
        for line in text.splitlines():
            m = LINE.match(line)
            if m:
                out.append((m.group(1).strip(), int(m.group(2)), int(m.group(3)), m.group(4),
                            int(m.group(5)) * 10**9 + int(m.group(6).ljust(9, "0")),
                            m.group(7), m.group(8)))
        return out, overrun

    def close(self):
        if self.dir is None:
            return
        for name in self.events:
            (self.dir / "events" / name / "enable").write_text("0")
        self.dir.rmdir()
        self.dir = None
        if self.mounted:
            subprocess.run(["umount", str(TRACEFS)], check=False)


def fields(text):
    """"a=1 b=x" -> {"a": "1", "b": "x"}"""
    return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)


class Bpftrace:
    """A bpftrace script whose output lines are read at stop()."""

    def __init__(self, script, workdir):
        need_bpftrace()
        self.err = open(Path(workdir) / f"bpftrace-{os.getpid()}.stderr", "w+")
        self.p = subprocess.Popen(["bpftrace", "-e", script], stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, start_new_session=True)
        for line in self.p.stdout:      # "Attaching N probes..." once attached
            if line.startswith("Attaching"):
                break
        else:
            sys.exit(f"observers: bpftrace did not start: {self._stderr()}")

    def _stderr(self):
        self.err.seek(0)
        return self.err.read().strip()

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()

    def stop(self, timeout=60):
        """Its output lines; and the events it said it lost."""
        os.killpg(self.p.pid, signal.SIGINT)
        try:
            out, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:   # its exit can take long under load
            os.killpg(self.p.pid, signal.SIGKILL)
            out, _ = self.p.communicate(timeout=10)
        lost = sum(int(n) for n in re.findall(r"Lost (\d+) events", out + self._stderr()))
        return out.splitlines(), lost


# ---- one tracepoint, three views: the hammer's retransmissions ------------------------

def retransmit_observers(port, workdir):
    """Start ftrace and a classic-tracepoint program on the SYN (and other)
    retransmissions to `port`."""
    ftrace = Ftrace({"tcp/tcp_retransmit_skb": f"dport == {port}"})
    classic = Bpftrace(f"tracepoint:tcp:tcp_retransmit_skb /args->dport == {port} && "
                       f"args->err == 0/ {{ printf(\"R %d %lld\\n\", args->sport, nsecs); }}",
                       workdir)
    return ftrace, classic


def compare_retransmits(ftrace, classic, ports, tracer_short):
    """Stop both; match each retransmission ftrace recorded (sent: err=0) to
    one the classic program saw (same port, within 0.2 ms). Returns counts,
    and per task that was current when it fired: seen, missed by the classic
    program, missed by a tracer too (its port in tracer_short)."""
    events, overrun = ftrace.stop()
    lines, classic_lost = classic.stop()
    seen = {}
    for line in lines:
        if line.startswith("R "):
            sport, t = map(int, line.split()[1:])
            seen.setdefault(sport, []).append(t)
    n_classic = sum(len(v) for p, v in seen.items() if p in ports)
    tasks, missed = {}, []
    n_ftrace = 0
    for comm, tid, cpu, flags, t, name, rest in events:
        f = fields(rest)
        if name != "tcp_retransmit_skb" or f.get("err") != "0" or int(f["sport"]) not in ports:
            continue
        n_ftrace += 1
        sport = int(f["sport"])
        row = tasks.setdefault(comm, [0, 0, 0])
        ts = seen.get(sport, [])
        hit = min(ts, key=lambda x: abs(x - t), default=None)
        if hit is not None and abs(hit - t) < 200_000:
            ts.remove(hit)
            row[0] += 1
            continue
        row[1] += 1
        row[2] += sport in tracer_short
        missed.append({"sport": sport, "cpu": cpu, "t_s": t / 1e9, "task": f"{comm}-{tid}",
                       "flags": flags, "tracer_missed": sport in tracer_short})
    return {"ftrace": n_ftrace, "ftrace_overrun": overrun, "classic": n_classic,
            "classic_lost": classic_lost, "by_task": tasks, "missed": missed}


def print_by_task(results):
    """The hammer's end table: per current task, seen / missed."""
    total = {}
    for r in results:
        for comm, (s, m, mt) in r["by_task"].items():
            t = total.setdefault(comm, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + s, t[1] + m, t[2] + mt
    print("\nretransmissions by the task current when they fired (softirq on top of it):")
    print(f"{'task':20} {'seen by BPF':>12} {'missed by the classic program':>30}"
          f" {'and by a tracer':>16}")
    for comm, (s, m, mt) in sorted(total.items(), key=lambda kv: -sum(kv[1])):
        print(f"{comm:20} {s:12} {m:30} {mt:16}")


# ---- the direct question: softirqs per task, ftrace vs BPF -----------------------------

def tgid_of(tid):
    try:
        with open(f"/proc/{tid}/status") as f:
            return int(next(l.split()[1] for l in f if l.startswith("Tgid:")))
    except (OSError, StopIteration):
        return None


def blind_spots(seconds, workdir):
    """Count softirqs by the task they ran on top of, with ftrace and with a
    BPF program, over the same window. Returns rows (tgid, comm, ftrace, bpf)."""
    ftrace = Ftrace({"irq/softirq_entry": ""}, buffer_kb=65536)
    try:
        bt = Bpftrace("BEGIN { printf(\"T0 %lld\\n\", nsecs); } "
                      "tracepoint:irq:softirq_entry { @[tid] = count(); } "
                      "END { printf(\"T1 %lld\\n\", nsecs); }", workdir)
        time.sleep(seconds)
        lines, _ = bt.stop()
    finally:
        events, overrun = ftrace.stop()
    marks = {l.split()[0]: int(l.split()[1]) for l in lines if l[:2] in ("T0", "T1")}
    bpf = {int(m.group(1)): int(m.group(2))
           for m in (re.match(r"@\[(\d+)\]: (\d+)", l) for l in lines) if m}
    t0, t1 = marks.get("T0", 0), marks.get("T1", 1 << 63)
    by_tid, comm_of = {}, {}
    for comm, tid, _cpu, _flags, t, name, _rest in events:
        if name == "softirq_entry" and t0 <= t <= t1:
            by_tid[tid] = by_tid.get(tid, 0) + 1
            comm_of[tid] = comm
    rows = {}
    for tid in set(by_tid) | set(bpf):
        key = tgid_of(tid) if tid else 0
        row = rows.setdefault(key, [comm_of.get(tid, "?"), 0, 0])
        row[1] += by_tid.get(tid, 0)
        row[2] += bpf.get(tid, 0)
    return overrun, sorted(((k, *v) for k, v in rows.items()), key=lambda r: -r[2])


def main():
    ap = argparse.ArgumentParser(description="Which tasks' softirqs does no BPF program see?")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workdir", default="/tmp")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("observers: needs root (tracefs, BPF)")
    overrun, rows = blind_spots(a.seconds, a.workdir)
    print(f"softirqs per process (tgid; tid 0 = idle), {a.seconds:g} s; "
          f"ftrace buffer overrun: {overrun} (must be 0 for exact counts)")
    print(f"{'tgid':>8} {'comm':20} {'ftrace':>10} {'BPF':>10}")
    blind = []
    for tgid, comm, n_ftrace, n_bpf in rows:
        print(f"{tgid if tgid is not None else '?':>8} {comm:20} {n_ftrace:10} {n_bpf:10}")
        if n_ftrace >= 10 and n_bpf == 0:
            blind.append(f"{tgid} ({comm})")
    print("blind spots (softirqs only ftrace saw): " + (", ".join(blind) or "none"))


if __name__ == "__main__":
    main()
