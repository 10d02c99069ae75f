#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What following TIME-WAITs in other network namespaces costs (issue 13
point 5). Run as root: `make bench-tw` (~3 min).

N network namespaces (default 100) each get M TIME-WAITs (default 1000):
bench/loadgen.c's client-first loopback churn inside each. One tracer runs
system-wide as a DaemonSet does (host namespace, no --netns, --json --tw,
sweep every 1 s, --port of the churn only) and follows them all.

Measured:
- the CPU share of the tracer and its namespace helper (utime+stime of both,
  and of the helper's children, which enter the namespaces), idle, while
  the N*M TIME-WAITs are followed, and while they expire; the sweeps'
  own CPU time and lookups per sweep from the tracer's `tw_top` lines;
- against the other way, in the same run: one iter/tcp walk of one of the
  namespaces (a second tracer with --netns; its sweep cost) times N is what
  walking every namespace at each sweep would take;
- the ends: every TIME-WAIT must end "expired" (checked against `ss` in
  sampled namespaces: all listed before, none after), with the precision
  and duration the records give.
Writes its section of bench/RESULTS.md (results_md.py keeps the others).

Only loopback traffic inside namespaces of its own. Python standard library
only. Exit status: 0 done (figures are reported, not enforced), 1 runtime
failure, 2 usage error.
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import results_md
import run_bench as rb

PORT = 7311
SECTION = results_md.OWNED_ELSEWHERE[0]
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY = "tcpflow-trace: tracing"


def run(argv, check=True, timeout=60):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode:
        rb.die(f"{' '.join(map(str, argv))}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class Namespaces:
    def __init__(self, n):
        self.names = [f"twb-{os.getpid()}-{i}" for i in range(n)]
        self.made = []
        for name in self.names:
            run(["ip", "netns", "add", name])
            self.made.append(name)
            run(["ip", "-n", name, "link", "set", "lo", "up"])
        self.inums = [os.stat(f"/run/netns/{n}").st_ino for n in self.names]

    def tw_count(self, name):
        out = run(["ip", "netns", "exec", name, "ss", "-Htan", "state", "time-wait",
                   f"dport = :{PORT}"]).stdout
        return len(out.splitlines())

    def remove(self):
        for name in self.made:
            run(["ip", "netns", "del", name], check=False)


class Tracer:
    """The tracer, stdout to a file, stopped with SIGINT."""

    def __init__(self, binary, args, workdir, name):
        self.out = os.path.join(workdir, f"{name}.jsonl")
        self.err = os.path.join(workdir, f"{name}.stderr")
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen([binary] + [str(a) for a in args], stdout=o, stderr=e,
                                      start_new_session=True)
        end = time.monotonic() + 30
        while READY not in self.stderr():
            if self.p.poll() is not None or time.monotonic() > end:
                rb.die(f"{name} did not start: {self.stderr()}")
            time.sleep(0.1)
        self.helper = self._helper()

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def _helper(self):
        """The tracer's namespace helper (a child named tcpflow-nsiter), or None."""
        p = subprocess.run(["pgrep", "-P", str(self.p.pid), "-x", "tcpflow-nsiter"],
                           capture_output=True, text=True)
        pids = p.stdout.split()
        return int(pids[0]) if pids else None

    def cpu_s(self):
        """On-CPU seconds of the tracer, its helper and the helper's children."""
        total = (rb.proc_cpu_ns(self.p.pid) or 0) / 1e9
        if self.helper:
            total += (rb.proc_cpu_ns(self.helper) or 0) / 1e9
            try:
                with open(f"/proc/{self.helper}/stat") as f:
                    st = f.read()
                fields = st[st.rindex(")") + 2:].split()
                total += (int(fields[13]) + int(fields[14])) / CLK_TCK   # cutime + cstime
            except (OSError, ValueError, IndexError):
                pass
        return total

    def records(self, typ):
        out = []
        with open(self.out) as f:
            for line in f:
                if f'"type":"{typ}"' in line:
                    out.append(json.loads(line))
        return out

    def handovers(self):
        """Connection records that handed over to a TIME-WAIT."""
        with open(self.out) as f:
            return sum('"type":"conn"' in line and '"time_wait":true' in line for line in f)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
        return self.p.returncode


def wall(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def share(tracer, seconds, label):
    """CPU share (% of one CPU) over the next `seconds`."""
    c0, t0 = tracer.cpu_s(), time.monotonic()
    time.sleep(seconds)
    pct = 100 * (tracer.cpu_s() - c0) / (time.monotonic() - t0)
    rb.log(f"tw_sweep: {label}: {pct:.2f}% of one CPU")
    return pct


def sweeps_between(tracer, t0, t1):
    return [r for r in tracer.records("tw_top") if t0 <= wall(r["time"]) < t1]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def populate(a, ns):
    """M client-first connections in every namespace, four namespaces at a time."""
    procs = []
    for name in ns.names:
        procs.append(subprocess.Popen(["ip", "netns", "exec", name, a.loadgen, "-w", "1", "-n",
                                       str(a.per_ns), "-m", "client", "-A", "-p", str(PORT)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        if len(procs) % 4 == 0:
            for p in procs[-4:]:
                p.wait(120)
    for p in procs:
        if p.wait(120):
            rb.die(f"loadgen failed: {p.stderr.read().decode()}")


def measure(a, ns, workdir, tracers):
    res = {"load_before": os.getloadavg()[0]}
    tr = Tracer(a.tracer, ["--json", "--tw", "--interval", 1, "--tw-interval", 1, "--port", PORT],
                workdir, "system-wide")
    tracers.append(tr)
    res["idle_pct"] = share(tr, 10, "idle")
    t_pop = time.time()
    populate(a, ns)
    res["populate_s"] = time.time() - t_pop
    sample = [ns.names[0], ns.names[len(ns.names) // 2], ns.names[-1]]
    res["ss_before"] = [ns.tw_count(n) for n in sample]
    time.sleep(3)       # the hand-overs' records are read, the first lookups done
    t0 = time.time()
    res["follow_pct"] = share(tr, a.window, "following")
    res["follow_sweeps"] = sweeps_between(tr, t0, time.time())
    # the other way: one walk of one namespace (1000 of its own among N*M) per sweep
    one = Tracer(a.tracer, ["--json", "--tw", "--interval", 1, "--tw-interval", 1, "--port", PORT,
                            "--netns", ns.inums[0]], workdir, "one-namespace")
    tracers.append(one)
    time.sleep(8)
    one.stop()
    res["walk_one"] = [r["sweep_cost_us"] for r in one.records("tw_top")][1:]
    res["walk_one_total"] = med([r["total"] for r in one.records("tw_top")])
    # the expiry: wait for every end, at most 60 s after the last should have gone
    want = len(ns.names) * a.per_ns
    t_exp = t_pop + 59
    time.sleep(max(0.0, t_exp - time.time()))
    c0 = tr.cpu_s()
    deadline, last, still = t_pop + res["populate_s"] + 62 + 60, -1, 0
    while time.time() < deadline:       # every end, or none for 10 s past the timers
        got = len(tr.records("time_wait"))
        still = still + 1 if got == last else 0
        if got >= want or (still >= 10 and time.time() > t_pop + res["populate_s"] + 63):
            break
        last = got
        time.sleep(1)
    res["expiry_pct"] = 100 * (tr.cpu_s() - c0) / (time.time() - t_exp)
    res["expiry_s"] = time.time() - t_exp
    res["expiry_sweeps"] = sweeps_between(tr, t_exp, time.time())
    res["ss_after"] = [ns.tw_count(n) for n in sample]
    res["rc"] = tr.stop()
    res["ends"] = tr.records("time_wait")
    res["handovers"] = tr.handovers()
    res["stderr"] = tr.stderr().strip().splitlines()[-3:]
    res["want"] = want
    res["load_after"] = os.getloadavg()[0]
    return res


def report(a, res, started, elapsed):
    n, m = a.namespaces, a.per_ns
    ends = res["ends"]
    by_end = {}
    for r in ends:
        by_end[r["end"]] = by_end.get(r["end"], 0) + 1
    prec = [r["precision_us"] / 1e6 for r in ends if r["end"] == "expired"]
    dur = [r["time_wait_us"] / 1e6 for r in ends if r["end"] == "expired"]
    lo = [(r["time_wait_us"] - r["precision_us"]) / 1e6 for r in ends if r["end"] == "expired"]
    fs, es = res["follow_sweeps"], res["expiry_sweeps"]
    cost = [r["sweep_cost_us"] / 1e3 for r in fs]
    looked = [r["looked_up"] for r in fs]
    period = [r["interval_us"] / 1e6 for r in fs]
    walk_ms = med(res["walk_one"]) / 1e3
    every = n * m / med(looked) * med(period) if looked and med(looked) else float("nan")
    lines = [SECTION, "",
             f"`make bench-tw` ({os.path.basename(__file__)}), {started.strftime('%Y-%m-%d %H:%M %Z')}, "
             f"took {elapsed / 60:.1f} min; {rb.machine_info()}; "
             f"{rb.tool_version([a.tracer, '--version'])}. Load average {res['load_before']:.1f} "
             f"before, {res['load_after']:.1f} after (the machine is shared: CPU figures are the "
             "tracer's own, wall-clock ones are not).",
             "",
             f"{n} network namespaces, {m} TIME-WAITs each ({n * m} in all, made in "
             f"{res['populate_s']:.0f} s by bench/loadgen.c, client-first close on each "
             f"namespace's loopback). One tracer in the host namespace, no `--netns` (as a "
             f"DaemonSet runs it): `--json --tw --tw-interval 1 --port {PORT}`. CPU share = "
             "utime+stime of the tracer, its namespace helper and the helper's children "
             "(they enter the namespaces), over the window.",
             "",
             rb.md_table(["phase", "CPU, % of one CPU", "sweep CPU ms (median, p90)",
                          "sweep period s (median)", "lookups per sweep (median)"], [
                 ["idle, before the TIME-WAITs", f"{res['idle_pct']:.2f}", "–", "–", "–"],
                 [f"following {n * m} TIME-WAITs ({a.window} s)", f"{res['follow_pct']:.2f}",
                  f"{med(cost):.1f}, {pct(cost, 0.9):.1f}", f"{med(period):.2f}", f"{med(looked):.0f}"],
                 [f"while they expire ({res['expiry_s']:.0f} s)", f"{res['expiry_pct']:.2f}",
                  f"{med([r['sweep_cost_us'] / 1e3 for r in es]):.1f}, "
                  f"{pct([r['sweep_cost_us'] / 1e3 for r in es], 0.9):.1f}",
                  f"{med([r['interval_us'] / 1e6 for r in es]):.2f}",
                  f"{med([r['looked_up'] for r in es]):.0f}"],
             ]),
             "",
             f"- Each TIME-WAIT elsewhere is looked up about every {every:.0f} s while it lasts; "
             "those whose timer has run out come first.",
             f"- The other way, measured in the same run: one iter/tcp walk of one namespace "
             f"(`--netns`, {res['walk_one_total']:.0f} of its own among {n * m}) takes "
             f"{walk_ms:.1f} ms of CPU (median of {len(res['walk_one'])} sweeps): walking all {n} "
             f"at every 1 s sweep would take {n * walk_ms / 10:.0f}% of one CPU, "
             f"{n * walk_ms / 1000 * 50:.0f} s between sweeps at 2%.",
             f"- Ends: {len(ends)} for {res['handovers']} hand-overs traced ({res['want']} "
             "connections): " +
             ", ".join(f"{k} {v}" for k, v in sorted(by_end.items())) +
             f". `ss -tan state time-wait` in 3 of the namespaces: {res['ss_before']} before, "
             f"{res['ss_after']} after.",
             f"- Expired: time_wait_us median {med(dur):.2f} s; precision_us median "
             f"{med(prec):.1f} s, p90 {pct(prec, 0.9):.1f} s, max {max(prec) if prec else float('nan'):.1f} s; "
             f"{sum(p <= 2 for p in prec)} of {len(prec)} within 2 s, dated from their timer "
             f"(seen alive just before it; time_wait_us - precision_us median {med(lo):.2f} s). "
             f"The others are dated from their last sighting: {n * m} timers ran out within "
             f"~{res['populate_s']:.0f} s, more than a sweep's share of a CPU can look up in time, "
             "and a reset since that sighting would look the same.",
             f"- Tracer exit status {res['rc']}; its summary: {' / '.join(res['stderr'][1:])}.",
             ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracer", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--per-ns", type=int, default=1000)
    ap.add_argument("--window", type=int, default=30, help="seconds measured while following")
    ap.add_argument("--results", help="write the section into this Markdown file")
    a = ap.parse_args()
    if os.geteuid() != 0:
        rb.die("run as root (BPF, network namespaces): sudo make bench-tw", 2)
    for f in (a.tracer, a.loadgen):
        if not os.access(f, os.X_OK):
            rb.die(f"{f} is missing: make bench-tools all", 2)
    if not 1 <= a.namespaces <= 1000 or not 1 <= a.per_ns <= 20000 or not 5 <= a.window <= 45:
        rb.die("--namespaces 1..1000, --per-ns 1..20000, --window 5..45", 2)
    started, t0 = datetime.datetime.now(datetime.timezone.utc), time.monotonic()
    ns, tracers = None, []
    with tempfile.TemporaryDirectory(prefix="tw-sweep-") as workdir:
        try:
            ns = Namespaces(a.namespaces)
            res = measure(a, ns, workdir, tracers)
        except KeyboardInterrupt:
            rb.die("interrupted")
        finally:
            for t in tracers:
                t.stop()
            if ns:
                ns.remove()
    text = report(a, res, started, time.monotonic() - t0)
    print(text)
    if a.results:
        results_md.put_section(a.results, text)
        rb.log(f"tw_sweep: wrote its section of {a.results}")


if __name__ == "__main__":
    sys.exit(main())
