#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""tcpflow-trace benchmark driver (issue 5). Run as root: `make bench`.

Interleaves, over several rounds, a loopback connect/accept/close churn
(bench/loadgen.c) with no tracer, each tcpflow-trace mode (and, with
--baseline-tracer, another build of it), an empty tp_btf program, two Debian
bpftrace scripts and bcc's libbpf-tools (tcpstates, tcplife), and prints a
Markdown table:
connections/s (median, min-max), ratio to the untraced churn of the same
round, BPF ns per program run and runs per connection (bpf_stats,
`bpftool prog show -j`), tracer CPU per connection (utime+stime from
/proc/PID/stat), peak RSS (VmHWM), lost events and recursion misses. Then a
scaling run (CPU and RSS at 1k..1M connections traced, and with 10k
long-lived connections held open), and the churn in the other close modes.

Only loopback traffic (127.0.0.0/8); nothing leaves the host.
Python standard library only. Exit status: 0 done (targets are reported,
not enforced), 1 runtime failure, 2 usage error.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import results_md
import observers

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
TRACING_PROG_TYPES = {"tracing", "tracepoint", "raw_tracepoint", "raw_tracepoint_writable",
                      "kprobe", "perf_event"}

# Program runs per churn connection on tcpflow-trace's hooks (inet_sock_set_state,
# tcp_send_reset, tcp_receive_reset, ...) when nothing else uses TCP: 5 state
# changes per side; reset close: 3 per side and one reset each way.
EXPECTED_RUNS_PER_CONN = {"client": 10, "server": 10, "reset": 8}

# Targets of issue 5, and the tolerances this driver applies where the issue
# says "flat" or "no more than".
T_JSON_RATIO = 0.90
T_METRICS_RATIO = 0.95
T_NS_PER_RUN = 300.0
T_CPU_US_PER_CONN = 3.0
T_RSS_FLAT_MIB = 4.0        # VmHWM at 1M may exceed VmHWM at 1k by this much
T_FILTER_RATIO_SLACK = 0.03  # filtered-out ratio >= empty-program ratio - this
T_FILTER_NS_FACTOR = 1.5    # and its ns/run <= this x the empty program's


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg, code=1):
    log("run_bench: " + msg)
    sys.exit(code)


# ---------------------------------------------------------------- /proc helpers

def proc_cpu_ticks(pid):
    """utime+stime (all threads) of a live process, in clock ticks, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_cpu_ns(pid):
    """On-CPU time of all live threads in ns (schedstat: utime+stime at ns resolution),
    or None. /proc/PID/stat counts 10 ms ticks: too coarse for 1k connections."""
    total, seen = 0, False
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
                seen = True
        except (OSError, ValueError, IndexError):
            continue
    if not seen:
        t = proc_cpu_ticks(pid)
        return None if t is None else t * 1_000_000_000 // CLK_TCK
    return total


def bpf_map_memlock(pid):
    """Bytes of kernel memory of the BPF maps a process holds (fdinfo memlock)."""
    total, seen = 0, set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-map":
                continue
            info = {}
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k.strip()] = v.strip()
            mid = info.get("map_id")
            if mid in seen:
                continue
            seen.add(mid)
            total += int(info.get("memlock", 0))
        except (OSError, ValueError):
            continue
    return total


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def cpu_scan(exclude):
    """{pid: ticks} for every process but `exclude` and ksoftirqd (our load's softirqs)."""
    out = {}
    for pid in all_pids():
        if pid in exclude:
            continue
        if proc_comm(pid).startswith("ksoftirqd"):
            continue
        t = proc_cpu_ticks(pid)
        if t is not None:
            out[pid] = t
    return out


def stat_user_ticks():
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[1]) + int(fields[2])   # user + nice


def bpf_prog_ids_of(pid):
    """Ids of the BPF programs a process holds descriptors to."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return ids
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


def bpf_iter_prog_ids(bpftool):
    """Programs attached as BPF iterators (their runs are per visited object, in the
    reading process's context), from `bpftool link show -j`."""
    r = subprocess.run([bpftool, "link", "show", "-j"], capture_output=True, text=True)
    try:
        return {ln["prog_id"] for ln in json.loads(r.stdout or "[]") if ln.get("type") == "iter"}
    except ValueError:
        return set()


def tcp_time_wait_count():
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    w = line.split()
                    return int(w[w.index("tw") + 1])
    except (OSError, ValueError):
        pass
    return None


def proc_utime_stime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])


# bpf(2): its number, and BPF_ENABLE_STATS (Linux 5.8, "bpf: Sharing bpf runtime stats
# with BPF_ENABLE_STATS") with BPF_STATS_RUN_TIME, from include/uapi/linux/bpf.h
NR_BPF = {"x86_64": 321, "aarch64": 280}
BPF_ENABLE_STATS, BPF_STATS_RUN_TIME = 32, 0


def bpf_enable_stats():
    """A descriptor that keeps run-time statistics on for as long as it is open, or None.
    Unlike the sysctl, it is counted: another bench turning kernel.bpf_stats_enabled back
    to 0 when it ends does not stop our counts."""
    nr = NR_BPF.get(platform.machine())
    if nr is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.c_uint32(BPF_STATS_RUN_TIME)
    fd = libc.syscall(ctypes.c_long(nr), ctypes.c_int(BPF_ENABLE_STATS), ctypes.byref(attr),
                      ctypes.c_uint(ctypes.sizeof(attr)))
    return fd if fd >= 0 else None


def bpf_progs(bpftool):
    """{id: prog} from `bpftool prog show -j` (run_time_ns/run_cnt need bpf_stats)."""
    r = subprocess.run([bpftool, "prog", "show", "-j"], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"bpftool prog show failed: {r.stderr.strip()}")
    return {p["id"]: p for p in json.loads(r.stdout or "[]")}


# ---------------------------------------------------------------- configurations

class Config:
    """One row: how to start the tracer (None: no tracer) and where its output goes."""

    def __init__(self, key, label, argv=None, stdout="null", ready_text="tracing TCP", env=None,
                 kind="tcpflow", metrics=False, lines_per_run=None):
        self.key = key
        self.label = label
        self.argv = argv
        self.stdout = stdout          # "null" or "file" (stats line read back)
        self.ready_text = ready_text
        self.env = env or {}
        self.kind = kind              # tcpflow, bpftrace, peer, empty, none
        self.metrics = metrics
        # lines a printing tool writes per run of its hook programs: its output against
        # the kernel's run count is a check on lost events that does not trust the tool
        self.lines_per_run = lines_per_run


class Tracer:
    def __init__(self, cfg, workdir):
        self.cfg = cfg
        self.out_path = os.path.join(workdir, f"{cfg.key}.out")
        self.err_path = os.path.join(workdir, f"{cfg.key}.err")
        out = subprocess.DEVNULL
        if cfg.stdout == "file":
            out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        env = dict(os.environ)
        env.update(cfg.env)
        self.proc = subprocess.Popen(cfg.argv, stdout=out, stderr=self.err, env=env,
                                     start_new_session=True)
        if out is not subprocess.DEVNULL:
            out.close()
        self.pid = self.proc.pid
        self.prog_ids = set()
        self.iter_ids = set()
        self.sigints = 0
        self.idle_cpu_ms_per_s = None

    def stderr_text(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stdout_tail(self, nbytes=1 << 16):
        if self.cfg.stdout != "file":
            return ""
        try:
            with open(self.out_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - nbytes))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=20):
        """SIGINT (repeated every 5 s), SIGKILL after `timeout` s."""
        self.sigints = 0
        t_end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < t_end:
            self.proc.send_signal(signal.SIGINT)
            self.sigints += 1
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                log(f"run_bench: {self.cfg.label} still running 5 s after SIGINT "
                    f"#{self.sigints}")
        if self.proc.poll() is None:
            log(f"run_bench: {self.cfg.label} ignored SIGINT for {timeout}s; killing it")
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        return self.proc.returncode

    def stdout_lines(self):
        """Lines in the output file (it may hold hundreds of MB: counted in chunks)."""
        n = 0
        try:
            with open(self.out_path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    n += chunk.count(b"\n")
        except OSError:
            return None
        return n

    def cleanup(self):
        for p in (self.out_path, self.err_path):
            try:
                os.unlink(p)
            except OSError:
                pass


class SampleFailed(Exception):
    """The tracer of a sample did not start; the run goes on without that sample."""


def parse_tracer_stats(text):
    """lost / recursion_misses / conns from a JSON stats line or a summary line."""
    st = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"stats"' in line:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("type") == "stats":
                st = {k: obj[k] for k in ("conns", "lost", "recursion_misses") if k in obj}
                st["raw"] = line
    if st:
        return st
    # Summary line(s) on stderr: "... 123 conns ... lost 0 ... recursion misses 0" or
    # "lost=0 recursion_misses=0"; take the last match of each.
    pats = {
        "lost": [r"\blost(?:[ _]events)?\s*[=:]?\s*(\d+)", r"(\d+)\s+lost\b"],
        "recursion_misses": [r"recursion[ _]miss(?:es)?\s*[=:]?\s*(\d+)",
                             r"(\d+)\s+recursion[ _]miss",
                             r"skipped our programs (\d+) times"],
        "conns": [r"\bconn(?:ection)?s\s*[=:]\s*(\d+)", r"(\d+)\s+conn(?:ection)?s\b"],
    }
    for key, rxs in pats.items():
        for rx in rxs:
            m = re.findall(rx, text, re.I)
            if m:
                st[key] = int(m[-1])
                break
    return st


def parse_lost_events(text):
    """Events a tool says it lost: bpftrace prints "Lost N events" (stdout), bcc's
    libbpf-tools their perf buffer's lost callback, "lost N events on CPU #C" (stderr)."""
    return sum(int(n) for n in re.findall(r"\blost (\d+) events", text, re.I))


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, a):
        self.a = a
        self.workdir = tempfile.mkdtemp(prefix="tcpflow-bench.", dir="/dev/shm"
                                        if os.path.isdir("/dev/shm") else None)
        self.tracer = None
        self.restore = []
        self.samples = []      # every sample, raw (also written as JSON)
        self.port = a.base_port
        self.budget = a.disturb_budget   # seconds for quiet waits and re-runs

    # -- setup / teardown

    def setup(self, configs):
        self.configs = configs
        a = self.a
        if os.geteuid() != 0:
            die("needs root (BPF, bpf_stats, tracefs): run `sudo make bench`")
        if not os.access(a.loadgen, os.X_OK):
            die(f"no load generator at {a.loadgen}: build it with `make bench`")
        if not shutil.which(a.bpftool):
            die(f"{a.bpftool} not found: apt-get install bpftool")
        if not a.no_tracer:
            a.tracer_version = self._snapshot(a.tracer, "tcpflow-trace")
        if a.baseline_tracer:
            a.baseline_version = self._snapshot(a.baseline_tracer, "tcpflow-trace-baseline")
        stats_fd = bpf_enable_stats()
        if stats_fd is not None:
            self.restore.append(lambda: os.close(stats_fd))
        else:
            log("run_bench: BPF_ENABLE_STATS refused: kernel.bpf_stats_enabled instead "
                "(another bench that turns it off when it ends stops our counts)")
            with open("/proc/sys/kernel/bpf_stats_enabled") as f:
                old = f.read().strip()
            if old != "1":
                self._sysctl("kernel/bpf_stats_enabled", "1")
                self.restore.append(lambda: self._sysctl("kernel/bpf_stats_enabled", old))
        if any(c.kind in ("bpftrace", "peer") for c in configs):
            self._mount_tracefs()

    def _snapshot(self, path, name):
        """Run a copy of a tracer binary, so a rebuild during the run does not change
        what is measured; returns its version."""
        copy = os.path.join(self.workdir, name)
        shutil.copy2(path, copy)
        version = tool_version([copy, "--version"])
        with open(copy, "rb") as f:
            image = f.read()
        if b"__asan_init" in image or b"__ubsan_handle" in image:
            version += " (SANITIZER BUILD: figures not representative)"
            log(f"run_bench: warning: {path} is a sanitizer build")
        for c in self.configs:
            if c.argv and c.argv[0] == path:
                c.argv = [copy] + c.argv[1:]
        return version

    def _sysctl(self, name, value):
        with open(f"/proc/sys/{name}", "w") as f:
            f.write(value)

    def _mount_tracefs(self):
        try:
            mounted = observers.mount_tracefs()
        except OSError as e:
            die("bpftrace's and libbpf-tools' classic tracepoints need tracefs, and mounting "
                f"it failed:\n  {e}\n"
                "  mount it yourself, or run without those rows (--no-bpftrace --no-peers)")
        if mounted:
            log("run_bench: mounted tracefs on /sys/kernel/tracing for bpftrace and the "
                "libbpf-tools (unmounted again at the end)")
            self.restore.append(lambda: subprocess.run(["umount", "/sys/kernel/tracing"]))

    def teardown(self):
        if self.tracer:
            self.tracer.stop(timeout=5)
            self.tracer.cleanup()
            self.tracer = None
        for fn in reversed(self.restore):
            try:
                fn()
            except Exception as e:   # keep restoring the rest
                log(f"run_bench: restore failed: {e}")
        self.restore = []
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- one sample

    def loadgen(self, extra, timeout=None):
        argv = [self.a.loadgen, "-w", str(self.a.workers), "-p", str(self.port)] + extra
        if self.a.netns:
            argv.append("-N")
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=timeout)
        # rusage of the load generator itself (threads and its reaped hold child)
        if p.returncode != 0:
            die(f"load generator failed ({' '.join(argv)}):\n{err.strip()}\n{out.strip()}")
        res = json.loads(out.strip().splitlines()[-1])
        return res

    def wait_ready(self, tr, timeout=120):
        """Until the tracer's programs are loaded, stable, and running on our traffic."""
        deadline = time.monotonic() + timeout
        stable_since, last = None, None
        while time.monotonic() < deadline:
            if tr.proc.poll() is not None:
                raise SampleFailed(f"{tr.cfg.label} exited with status {tr.proc.returncode} before it was "
                    f"ready:\n{tr.stderr_text().strip()[-2000:]}")
            ids = bpf_prog_ids_of(tr.pid)
            text_ok = (tr.cfg.ready_text is None or
                       tr.cfg.ready_text in tr.stderr_text() + tr.stdout_tail(4096))
            if ids and ids == last and text_ok:
                if stable_since is None:
                    stable_since = time.monotonic()
                elif time.monotonic() - stable_since >= 0.5:
                    break
            else:
                stable_since = None
            last = ids
            time.sleep(0.05)
        else:
            raise SampleFailed(f"{tr.cfg.label} did not load its BPF programs within {timeout}s:\n"
                f"{tr.stderr_text().strip()[-2000:]}")
        tr.prog_ids = last
        tr.iter_ids = bpf_iter_prog_ids(self.a.bpftool) & last
        # Attached? A few connections must make its programs run.
        before = self.runs_of(bpf_progs(self.a.bpftool), tr.prog_ids)
        for _ in range(100):
            self.loadgen(["-n", "50", "-W", "0"])
            if self.runs_of(bpf_progs(self.a.bpftool), tr.prog_ids) > before:
                time.sleep(0.2)   # the rest of a multi-probe attach
                return
            time.sleep(0.1)
        raise SampleFailed(f"{tr.cfg.label}: its BPF programs never ran on loopback connections")

    @staticmethod
    def runs_of(progs, ids):
        return sum(progs[i].get("run_cnt", 0) for i in ids if i in progs)

    def settle_cpu(self, pid, max_wait=10.0):
        """Wait until a tracer stops using CPU (ring-buffer backlog drained).
        A tracer that polls on a timer never stops: accept < 1 ms per 0.25 s."""
        last = proc_cpu_ns(pid)
        t_end = time.monotonic() + max_wait
        while time.monotonic() < t_end:
            time.sleep(0.25)
            now = proc_cpu_ns(pid)
            if now is None:
                return last
            if now - last < 1_000_000:
                return now
            last = now
        return last

    @staticmethod
    def foreign_cpu_s(scan0, scan1, user0, user1, wall, ours_user_s=0.0):
        """CPU seconds other processes used between two scans (+ user time of
        processes that came and went: /proc/stat's user time minus what the scans and
        our own processes, `ours_user_s`, account for)."""
        foreign = 0
        for pid, t in scan1.items():
            foreign += t - scan0.get(pid, 0) if pid in scan0 else t
        gap = (user1 - user0) - sum(max(0, scan1.get(p, 0) - scan0.get(p, 0)) for p in scan1)
        return foreign / CLK_TCK + max(0, gap / CLK_TCK - ours_user_s - 0.05 * wall)

    @staticmethod
    def foreign_bpf_runs(progs0, progs1, mine):
        n = 0
        for i, p in progs1.items():
            if i in mine or p.get("type") not in TRACING_PROG_TYPES:
                continue
            n += p.get("run_cnt", 0) - progs0.get(i, {}).get("run_cnt", 0)
        return n

    def wait_quiet(self, tr):
        """Wait (up to --quiet-wait s) until other processes leave the CPUs alone, no other
        BPF tracing program runs, and our tracer sees no TCP traffic but ours."""
        a = self.a
        ours = {os.getpid()} | ({tr.pid} if tr else set())
        mine = tr.prog_ids if tr else set()
        t_begin = time.monotonic()
        deadline = t_begin + min(a.quiet_wait, max(0.0, self.budget))
        said = False
        try:
            return self._wait_quiet(tr, ours, mine, deadline, said)
        finally:
            self.budget -= time.monotonic() - t_begin

    def _wait_quiet(self, tr, ours, mine, deadline, said):
        a = self.a
        while True:
            scan0, user0, p0, t0 = cpu_scan(ours), stat_user_ticks(), bpf_progs(a.bpftool), \
                time.monotonic()
            c0 = proc_cpu_ns(tr.pid) if tr else None
            ut0 = (proc_utime_stime(tr.pid) or (0, 0))[0] if tr else 0
            time.sleep(1.0)
            c1 = proc_cpu_ns(tr.pid) if tr else None
            scan1, user1, p1, t1 = cpu_scan(ours), stat_user_ticks(), bpf_progs(a.bpftool), \
                time.monotonic()
            if tr and c0 is not None and c1 is not None:
                # the tracer's own CPU with no churn: timers, sweeps (per second, not per conn)
                tr.idle_cpu_ms_per_s = (c1 - c0) / 1e6 / (t1 - t0)
            ut = ((proc_utime_stime(tr.pid) or (0, 0))[0] - ut0) / CLK_TCK if tr else 0.0
            frac = (self.foreign_cpu_s(scan0, scan1, user0, user1, t1 - t0, ut) /
                    ((t1 - t0) * NCPU))
            fbpf = self.foreign_bpf_runs(p0, p1, mine)
            own = self.runs_of(p1, mine) - self.runs_of(p0, mine)
            if frac <= a.max_foreign and fbpf <= 100 and own <= 100:
                if said:
                    log("run_bench:   quiet now")
                return True
            if time.monotonic() > deadline:
                log("run_bench:   still busy; measuring anyway" +
                    (" (disturbance budget used up)" if self.budget <= a.quiet_wait else ""))
                return False
            if not said:
                log(f"run_bench:   waiting for a quiet machine (other processes "
                    f"{frac:.0%} of the CPUs, other BPF tracing runs {fbpf}, "
                    f"other TCP events {own} in 1 s)")
                said = True
            time.sleep(1)

    def sample(self, cfg, load_args, tag, round_no, expect_runs=None):
        """One measured run of the churn under cfg. Returns a dict."""
        a = self.a
        s = {"row": cfg.key, "label": cfg.label, "tag": tag, "round": round_no}
        t_sample = time.monotonic()
        tr = None
        if cfg.argv:
            tr = self.tracer = Tracer(cfg, self.workdir)
            self.wait_ready(tr)
            s["rss_start_kib"] = proc_status_kib(tr.pid, "VmRSS")
        s["quiet"] = self.wait_quiet(tr)
        ours = {os.getpid()} | ({tr.pid} if tr else set())
        progs0 = bpf_progs(a.bpftool)
        scan0 = cpu_scan(ours)
        user0 = stat_user_ticks()
        cpu0 = proc_cpu_ns(tr.pid) if tr else None
        us0 = proc_utime_stime(tr.pid) if tr else None
        s["time_wait"] = tcp_time_wait_count()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        t0 = time.monotonic()
        lg = self.loadgen(load_args)
        t1 = time.monotonic()
        lg_user_s = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - ru0
        progs1 = bpf_progs(a.bpftool)
        scan1 = cpu_scan(ours)
        user1 = stat_user_ticks()
        s["load"] = lg
        s["rate"] = lg["rate"]
        s["t_mid"] = t1 - lg["window_s"] / 2 if lg.get("window_s") else (t0 + t1) / 2
        conns = lg["total_conns"] + lg["held"]
        s["conns"] = conns

        # Other processes' CPU and other BPF tracing programs during the run.
        tr_user_s = 0.0
        if tr and us0:
            tr_user_s = ((proc_utime_stime(tr.pid) or us0)[0] - us0[0]) / CLK_TCK
        s["foreign_cpu_frac"] = (self.foreign_cpu_s(scan0, scan1, user0, user1, t1 - t0,
                                                    lg_user_s + tr_user_s) /
                                 ((t1 - t0) * NCPU))
        s["foreign_bpf_runs"] = self.foreign_bpf_runs(progs0, progs1,
                                                      tr.prog_ids if tr else set())

        if tr:
            per_prog = {}
            tot_ns = tot_cnt = tot_miss = all_ns = 0
            for i in sorted(tr.prog_ids):
                p1, p0 = progs1.get(i, {}), progs0.get(i, {})
                ns = p1.get("run_time_ns", 0) - p0.get("run_time_ns", 0)
                cnt = p1.get("run_cnt", 0) - p0.get("run_cnt", 0)
                miss = p1.get("recursion_misses", 0) - p0.get("recursion_misses", 0)
                it = i in tr.iter_ids
                name = p1.get("name", str(i)) + (" (iter)" if it else "")
                per_prog[name] = {"ns": ns, "cnt": cnt, "miss": miss, "iter": it}
                all_ns += ns
                tot_miss += miss
                if not it:
                    tot_ns += ns
                    tot_cnt += cnt
            s["bpf_per_prog"] = per_prog
            # hooks (tracepoints) only: the per-event cost the target is about
            s["bpf_ns_per_run"] = tot_ns / tot_cnt if tot_cnt else None
            s["bpf_runs_per_conn"] = tot_cnt / conns if conns else None
            # every program, iterators included
            s["bpf_ns_per_conn"] = all_ns / conns if conns else None
            s["bpf_recursion_misses"] = tot_miss
            # More runs than our churn makes: TCP traffic of others reached the tracer.
            # (held connections: their teardown may add a reset each way when the
            # TIME-WAIT table is full and the orphaned FIN_WAIT2 socket is gone)
            s["foreign_tcp"] = bool(expect_runs and tot_cnt > (expect_runs * conns * 1.03 + 200 +
                                                               2 * lg["held"]))
            cpu1 = self.settle_cpu(tr.pid)
            t_cpu1 = time.monotonic()
            s["tracer_cpu_s"] = (cpu1 - cpu0) / 1e9
            s["tracer_cpu_us_per_conn"] = (cpu1 - cpu0) / 1e3 / conns
            s["idle_cpu_ms_per_s"] = tr.idle_cpu_ms_per_s
            if tr.idle_cpu_ms_per_s is not None:
                s["tracer_cpu_wall_s"] = t_cpu1 - t0
                s["tracer_cpu_us_per_conn_above_idle"] = (
                    ((cpu1 - cpu0) / 1e9 - tr.idle_cpu_ms_per_s / 1e3 * (t_cpu1 - t0)) * 1e6 / conns)
            us1 = proc_utime_stime(tr.pid)
            if us0 and us1:
                du, ds = us1[0] - us0[0], us1[1] - us0[1]
                s["tracer_user_frac"] = du / (du + ds) if du + ds else None
            s["bpf_map_kib"] = (bpf_map_memlock(tr.pid) or 0) / 1024
            s["vmhwm_kib"] = proc_status_kib(tr.pid, "VmHWM")
            s["rss_end_kib"] = proc_status_kib(tr.pid, "VmRSS")
            if cfg.metrics:
                s["scrape"] = self.scrape()
            # every run since its programs were loaded (stats were on before): what it
            # printed at exit answers for these, others' traffic after the churn included
            runs_total = self.runs_of(bpf_progs(a.bpftool), tr.prog_ids - tr.iter_ids) \
                if cfg.lines_per_run else 0
            rc = tr.stop()
            s["tracer_rc"] = rc
            s["sigints"] = tr.sigints
            text = tr.stdout_tail() + "\n" + tr.stderr_text()
            if cfg.lines_per_run:
                lines = tr.stdout_lines()
                # less the header each of them prints (bpftrace: "Attaching N probes...")
                s["out_lines"] = None if lines is None else max(0, lines - 1)
                s["out_lines_expected"] = runs_total * cfg.lines_per_run
            if cfg.kind in ("bpftrace", "peer"):
                s["lost"] = parse_lost_events(text)
                s["recursion_misses"] = tot_miss
            elif cfg.kind == "tcpflow":
                st = parse_tracer_stats(text)
                s["tracer_stats"] = st
                s["lost"] = st.get("lost")
                # the stderr summary has no such figure: the kernel's count then
                s["recursion_misses"] = st.get("recursion_misses", tot_miss)
            else:
                s["lost"] = 0
                s["recursion_misses"] = tot_miss
            if rc not in (0, -signal.SIGINT, 130):
                s["tracer_error"] = tr.stderr_text().strip()[-500:]
                log(f"run_bench: {cfg.label} exited with status {rc}: "
                    f"{s['tracer_error'][-300:]}")
            tr.cleanup()
            self.tracer = None
        s["sample_s"] = time.monotonic() - t_sample
        self.samples.append(s)
        return s

    def scrape(self):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.a.metrics_port}/metrics", timeout=5) as r:
                body = r.read()
            return {"ok": True, "bytes": len(body),
                    "series": sum(1 for ln in body.splitlines()
                                  if ln and not ln.startswith(b"#"))}
        except Exception as e:
            return {"ok": False, "error": str(e)}

    def measured(self, cfg, load_args, tag, round_no):
        """A sample, re-run (up to --retries times) if the machine was busy with other work."""
        mode = load_args[load_args.index("-m") + 1] if "-m" in load_args else "client"
        expect = EXPECTED_RUNS_PER_CONN.get(mode)
        for attempt in range(self.a.retries + 1):
            try:
                s = self.sample(cfg, load_args, tag, round_no, expect)
            except SampleFailed as e:
                # a tracer that does not start (e.g. bpftrace's compile under load) loses
                # this sample, not the whole run
                log(f"run_bench:   {cfg.label}: sample failed: {str(e).strip()[-600:]}")
                if self.tracer:
                    self.tracer.stop(timeout=5)
                    self.tracer.cleanup()
                    self.tracer = None
                s = {"row": cfg.key, "label": cfg.label, "tag": tag, "round": round_no,
                     "rate": None, "failed": str(e)[-600:], "t_mid": time.monotonic()}
                self.samples.append(s)
                return s
            busy = s["foreign_cpu_frac"] > self.a.max_foreign
            bpf_busy = s["foreign_bpf_runs"] > self.a.max_foreign_bpf_runs
            tcp_busy = s.get("foreign_tcp", False)
            s["disturbed"] = busy or bpf_busy or tcp_busy
            if not s["disturbed"]:
                break
            why = []
            if busy:
                why.append(f"other processes used {s['foreign_cpu_frac']:.0%} of the CPUs")
            if bpf_busy:
                why.append(f"other BPF tracing programs ran {s['foreign_bpf_runs']} times")
            if tcp_busy:
                why.append(f"the tracer ran {s['bpf_runs_per_conn']:.1f} times per connection "
                           f"(others' TCP traffic; expected {expect})")
            if attempt < self.a.retries and self.budget > 0:
                t_retry = time.monotonic()
                log(f"run_bench:   disturbed ({'; '.join(why)}): again")
                self.samples.remove(s)
                time.sleep(2)
                self.budget -= time.monotonic() - t_retry + s.get("sample_s", 0)
            else:
                log(f"run_bench:   disturbed ({'; '.join(why)}): kept, marked")
                break
        return s

    # -- the parts of a run

    def churn_args(self, mode="client", hold=0):
        a = self.a
        args = ["-d", str(a.duration), "-W", str(a.warmup), "-m", mode]
        if hold:
            args += ["-H", str(hold)]
        return args

    def interleaved(self, configs, rounds, load_args, tag):
        res = {c.key: [] for c in configs}
        for r in range(rounds):
            k = r % len(configs)
            order = configs[k:] + configs[:k]
            for c in order:
                s = self.measured(c, load_args, tag, r)
                res[c.key].append(s)
                log(f"run_bench: [{tag}] round {r + 1}/{rounds} {c.label:<28} " +
                    (f"{s['rate']:8.0f} conn/s" if s["rate"] is not None else "  FAILED") +
                    (f"  bpf {s['bpf_ns_per_run']:.0f} ns/run x{s['bpf_runs_per_conn']:.1f}"
                     if s.get("bpf_ns_per_run") else "") +
                    (f"  cpu {s['tracer_cpu_us_per_conn']:.2f} us/conn"
                     if "tracer_cpu_us_per_conn" in s else ""))
        # Ratio to the untraced rate at the same moment: this machine drifts by several
        # percent over minutes, so interpolate linearly in time between the untraced
        # samples before and after (the nearest one at the ends).
        nones = sorted((s["t_mid"], s["rate"]) for s in res["none"])
        for key, ss in res.items():
            for s in ss:
                b = untraced_at(nones, s["t_mid"])
                s["ratio"] = s["rate"] / b if b and s["rate"] is not None else None
        return res

    def scaling(self, tcfg, counts):
        rows = []
        for n in counts:
            s = self.measured(tcfg, ["-n", str(n), "-W", "0"], f"scale-{n}", 0)
            if s.get("failed"):
                continue
            rows.append(s)
            log(f"run_bench: [scaling] {n:>8} conns: cpu "
                f"{s['tracer_cpu_us_per_conn']:.2f} us/conn, VmHWM "
                f"{s['vmhwm_kib'] / 1024:.1f} MiB, traced {s.get('tracer_stats', {}).get('conns')}")
        return rows


# ---------------------------------------------------------------- report

def untraced_at(nones, t):
    """The untraced rate at time t, interpolated between (time, rate) samples."""
    if not nones:
        return None
    before = [x for x in nones if x[0] <= t]
    after = [x for x in nones if x[0] > t]
    if not before:
        return after[0][1]
    if not after:
        return before[-1][1]
    (t0, r0), (t1, r1) = before[-1], after[0]
    return r0 + (r1 - r0) * (t - t0) / (t1 - t0)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rng(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def fnum(x, fmt="{:.0f}", none="–"):
    return none if x is None else fmt.format(x)


def fsum(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) if xs else None


def cpu_cell(ss):
    """Tracer CPU per connection, median, with its user/system split."""
    c = med([s.get("tracer_cpu_us_per_conn") for s in ss])
    if c is None:
        return "–"
    uf = med([s.get("tracer_user_frac") for s in ss])
    if uf is None:
        return f"{c:.2f}"
    return f"{c:.2f} ({c * uf:.2f} usr + {c * (1 - uf):.2f} sys)"


def row_cells(ss):
    rates = [s["rate"] for s in ss if s["rate"] is not None]
    ratios = [s.get("ratio") for s in ss]
    lo, hi = rng(rates)
    rlo, rhi = rng(ratios)
    mr = med(ratios)
    hwm = [s.get("vmhwm_kib") for s in ss]
    lost = fsum([s.get("lost") for s in ss])
    miss = fsum([s.get("recursion_misses") for s in ss])
    if ss and "lost" in ss[0] and lost is None:
        lost_txt = "?"
    else:
        lost_txt = fnum(lost)
    notes = []
    nd = sum(1 for s in ss if s.get("disturbed"))
    if nd:
        notes.append(f"{nd} disturbed")
    nf = sum(1 for s in ss if s.get("failed"))
    if nf:
        notes.append(f"{nf} failed to start")
    if any(s.get("tracer_error") for s in ss):
        notes.append("tracer error")
    if any(s.get("sigints", 0) > 1 for s in ss):
        notes.append("SIGINT needed repeating")
    sc = [s.get("scrape") for s in ss if s.get("scrape")]
    if sc:
        notes.append("scrape ok" if all(x["ok"] for x in sc) else "scrape FAILED")
    printed = printed_note(ss)
    if printed:
        notes.append(printed)
    return [
        fnum(med(rates)),
        f"{fnum(lo)}–{fnum(hi)}" if lo is not None else "–",
        "1" if ss and ss[0]["row"] == "none" else
        (f"{fnum(mr, '{:.3f}')} ({fnum(rlo, '{:.2f}')}–{fnum(rhi, '{:.2f}')})"
         if mr is not None else "–"),
        fnum(med([s.get("bpf_ns_per_run") for s in ss])),
        fnum(med([s.get("bpf_runs_per_conn") for s in ss]), "{:.1f}"),
        fnum(med([s.get("bpf_ns_per_conn") for s in ss]), "{:.0f}"),
        cpu_cell(ss),
        fnum(med([s.get("idle_cpu_ms_per_s") for s in ss]), "{:.1f}"),
        fnum(max([h / 1024 for h in hwm if h is not None], default=None), "{:.1f}"),
        lost_txt,
        fnum(miss),
        ", ".join(notes),
    ]


def printed_note(ss):
    """Lines a printing tool wrote against the lines its programs' runs call for."""
    got = fsum([s.get("out_lines") for s in ss])
    want = fsum([s.get("out_lines_expected") for s in ss])
    if got is None or not want:
        return ""
    short = want - got
    if abs(short) <= 2 * len(ss) + want * 1e-4:
        return "output: every line its runs call for"
    return f"output: {short:.0f} lines short of its runs ({short / want:.2%})"


MAIN_HEADER = ["row", "conn/s median", "conn/s min–max", "ratio vs none (min–max)",
               "BPF ns/run (hooks)", "runs/conn (hooks)", "BPF ns/conn (all progs)",
               "tracer CPU µs/conn", "tracer idle CPU ms/s", "VmHWM MiB", "lost",
               "recursion misses", "notes"]


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def per_prog_table(res, configs):
    rows = []
    for c in configs:
        ss = res.get(c.key) or []
        if not ss or "bpf_per_prog" not in ss[0]:
            continue
        names = sorted({n for s in ss for n in s["bpf_per_prog"]})
        for n in names:
            if not any(s["bpf_per_prog"].get(n, {}).get("cnt") for s in ss):
                continue
            nsr, rpc, miss = [], [], 0
            for s in ss:
                p = s["bpf_per_prog"].get(n)
                if not p:
                    continue
                if p["cnt"]:
                    nsr.append(p["ns"] / p["cnt"])
                rpc.append(p["cnt"] / s["conns"])
                miss += p["miss"]
            rows.append([c.label, n, fnum(med(nsr)), fnum(med(rpc), "{:.2f}"),
                         fnum(med([(s["bpf_per_prog"].get(n, {}).get("ns", 0)) / s["conns"]
                                   for s in ss]), "{:.0f}"), miss])
    return md_table(["row", "program", "ns/run", "runs/conn", "ns/conn", "recursion misses"],
                    rows)


def peers_lost(res, configs):
    """For each bpftrace and libbpf-tools row: whether it lost events, and how many."""
    out = []
    for c in configs:
        ss = [s for s in res.get(c.key, []) if s.get("rate") is not None]
        if c.kind not in ("bpftrace", "peer") or not ss:
            continue
        lost = fsum([s.get("lost") for s in ss]) or 0
        hit = sum(1 for s in ss if s.get("lost"))
        said = (f"lost {lost} events in {hit} of {len(ss)} samples" if lost else
                f"no lost events in {len(ss)} samples")
        check = printed_note(ss)
        out.append(f"{c.label}: {said}" + (f"; {check}" if check else ""))
    return out


def before_after(res, configs):
    """Each baseline row beside the same mode of this build: ratio, BPF, user space."""
    label = {c.key: c.label for c in configs}
    rows = []
    for key in ("json", "metrics"):
        now, base = res.get(key), res.get("base-" + key)
        if not now or not base:
            continue
        for name, field, fmt in (("ratio vs none", "ratio", "{:.3f}"),
                                 ("BPF ns/run (hooks)", "bpf_ns_per_run", "{:.0f}"),
                                 ("BPF ns/conn (all progs)", "bpf_ns_per_conn", "{:.0f}"),
                                 ("tracer CPU µs/conn", "tracer_cpu_us_per_conn", "{:.2f}")):
            b = med([s.get(field) for s in base])
            n = med([s.get(field) for s in now])
            d = f"{n - b:+{fmt[2:-1]}}" if b is not None and n is not None else "–"
            rows.append([label[key], name, fnum(b, fmt), fnum(n, fmt), d])
        b = max([s.get("vmhwm_kib") or 0 for s in base]) / 1024
        n = max([s.get("vmhwm_kib") or 0 for s in now]) / 1024
        rows.append([label[key], "VmHWM MiB", f"{b:.1f}", f"{n:.1f}", f"{n - b:+.1f}"])
    if not rows:
        return ""
    return md_table(["row", "figure", "baseline", "this build", "difference"], rows)


def verdicts(res, scale, hold):
    """Issue 5's targets, checked against the medians of this run."""
    out = []

    def mark(ok):
        return "n/a " if ok is None else ("PASS" if ok else "FAIL")

    def rowmed(key, field):
        return med([s.get(field) for s in res.get(key, [])])

    j = res.get("json")
    if j:
        r = rowmed("json", "ratio")
        out.append(f"{mark(r is not None and r >= T_JSON_RATIO)} --json ratio "
                   f"{fnum(r, '{:.3f}')} >= {T_JSON_RATIO}")
        lost = fsum([s.get("lost") for s in j])
        miss = fsum([s.get("recursion_misses") for s in j])
        bmiss = fsum([s.get("bpf_recursion_misses") for s in j])
        ok = None if lost is None else (lost == 0 and (miss or 0) == 0 and (bmiss or 0) == 0)
        out.append(f"{mark(ok)} --json lost events {fnum(lost, none='not reported')}, "
                   f"recursion misses {fnum(miss, none='not reported')} "
                   f"(bpftool: {fnum(bmiss)}) == 0")
        ns = rowmed("json", "bpf_ns_per_run")
        out.append(f"{mark(ns is not None and ns <= T_NS_PER_RUN)} --json BPF "
                   f"{fnum(ns)} ns/run (median) <= {T_NS_PER_RUN:.0f}")
        cpu = rowmed("json", "tracer_cpu_us_per_conn")
        out.append(f"{mark(cpu is not None and cpu <= T_CPU_US_PER_CONN)} --json user-space "
                   f"CPU {fnum(cpu, '{:.2f}')} µs/conn <= {T_CPU_US_PER_CONN}")
    m = res.get("metrics")
    if m:
        r = rowmed("metrics", "ratio")
        out.append(f"{mark(r is not None and r >= T_METRICS_RATIO)} --metrics ratio "
                   f"{fnum(r, '{:.3f}')} >= {T_METRICS_RATIO}")
        ns = rowmed("metrics", "bpf_ns_per_run")
        out.append(f"{mark(ns is not None and ns <= T_NS_PER_RUN)} --metrics BPF "
                   f"{fnum(ns)} ns/run (median) <= {T_NS_PER_RUN:.0f}")
    if res.get("port1") and res.get("empty"):
        r1, r0 = rowmed("port1", "ratio"), rowmed("empty", "ratio")
        n1, n0 = rowmed("port1", "bpf_ns_per_run"), rowmed("empty", "bpf_ns_per_run")
        ok = (r1 is not None and r0 is not None and n1 is not None and n0 is not None and
              r1 >= r0 - T_FILTER_RATIO_SLACK and n1 <= T_FILTER_NS_FACTOR * n0)
        out.append(f"{mark(ok)} --port 1 (filtered out) ratio {fnum(r1, '{:.3f}')} vs empty "
                   f"program {fnum(r0, '{:.3f}')} (>= empty - {T_FILTER_RATIO_SLACK}); "
                   f"{fnum(n1)} vs {fnum(n0)} ns/run (<= {T_FILTER_NS_FACTOR}x)")
    if scale:
        lo, hi = scale[0], scale[-1]
        if lo.get("vmhwm_kib") and hi.get("vmhwm_kib"):
            d = (hi["vmhwm_kib"] - lo["vmhwm_kib"]) / 1024
            out.append(f"{mark(d <= T_RSS_FLAT_MIB)} peak RSS flat: VmHWM "
                       f"{lo['vmhwm_kib'] / 1024:.1f} MiB at {lo['load']['total_conns']} conns, "
                       f"{hi['vmhwm_kib'] / 1024:.1f} MiB at {hi['load']['total_conns']} "
                       f"(+{d:.1f} MiB, allowed +{T_RSS_FLAT_MIB:.0f})")
        cpus = [s.get("tracer_cpu_us_per_conn") for s in scale[1:]]
        if cpus:
            worst = max(c for c in cpus if c is not None)
            out.append(f"{mark(worst <= T_CPU_US_PER_CONN)} --json user-space CPU at "
                       f">= 10k conns: worst {worst:.2f} µs/conn <= {T_CPU_US_PER_CONN}")
    if hold and hold.get("json"):
        h = hold["json"]
        lost = fsum([s.get("lost") for s in h])
        out.append(f"{mark(None if lost is None else lost == 0)} with 10k held connections: "
                   f"lost {fnum(lost, none='not reported')}, ratio "
                   f"{fnum(med([s.get('ratio') for s in h]), '{:.3f}')}")
    return out


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = proc_meminfo_gib()
    osr = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osr = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return (f"{osr}, kernel {platform.release()} ({platform.machine()}), "
            f"{NCPU} CPUs ({cpu}), {mem:.0f} GiB RAM")


def proc_meminfo_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0


def deb_version(package):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}", package],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else f"{package} ?"


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"


# ---------------------------------------------------------------- main

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracer", default=os.path.join(root, "build", "tcpflow-trace"))
    ap.add_argument("--loadgen", default=os.path.join(root, "build", "bench", "tcpflow-loadgen"))
    ap.add_argument("--empty", default=os.path.join(root, "build", "bench", "tcpflow-bench-empty"))
    ap.add_argument("--bpftrace", default="bpftrace")
    ap.add_argument("--tcpstates", default="/usr/sbin/tcpstates",
                    help="bcc's libbpf-tools tcpstates (Debian: libbpf-tools)")
    ap.add_argument("--tcplife", default="/usr/sbin/tcplife",
                    help="bcc's libbpf-tools tcplife (Debian: libbpf-tools)")
    ap.add_argument("--baseline-tracer", metavar="PATH",
                    help="another tcpflow-trace build: its --json and --metrics rows "
                         "(base-json, base-metrics) interleaved with ours")
    ap.add_argument("--baseline-label", metavar="REV",
                    help="what the baseline is called in the rows (default: its --version)")
    ap.add_argument("--bpftool", default="bpftool")
    ap.add_argument("--quick", action="store_true",
                    help="2 rounds of 2 s, scaling to 100k, no close modes (~2 min)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=float, help="measured seconds per sample")
    ap.add_argument("--warmup", type=float, help="seconds of churn before the window")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base-port", type=int, default=31000,
                    help="load generator listeners: PORT..PORT+workers (below the ephemeral "
                         "port range)")
    ap.add_argument("--metrics-port", type=int, default=0, help="default: a free port")
    ap.add_argument("--netns", action="store_true",
                    help="each churn in a new network namespace instead of the host's loopback")
    ap.add_argument("--no-tracer", action="store_true",
                    help="skip the tcpflow-trace rows (develop the bench without the binary)")
    ap.add_argument("--no-bpftrace", dest="with_bpftrace", action="store_false")
    ap.add_argument("--no-peers", dest="with_peers", action="store_false",
                    help="skip the libbpf-tools rows (tcpstates, tcplife)")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-close-modes", action="store_true")
    ap.add_argument("--only", help="comma-separated row keys: none,json,metrics,port1,events,"
                                   "empty,bt-print,bt-agg,tcpstates,tcplife,base-json,"
                                   "base-metrics")
    ap.add_argument("--retries", type=int, default=2,
                    help="re-runs of a sample disturbed by other work on the machine")
    ap.add_argument("--max-foreign", type=float, default=0.05,
                    help="share of all CPUs other processes may use during a sample")
    ap.add_argument("--max-foreign-bpf-runs", type=int, default=1000,
                    help="runs of other BPF tracing programs allowed during a sample")
    ap.add_argument("--disturb-budget", type=float,
                    help="total seconds spent waiting for quiet and re-running disturbed "
                         "samples (default 120, quick 60)")
    ap.add_argument("--quiet-wait", type=float,
                    help="seconds to wait for a quiet machine before each sample "
                         "(default 120, quick 20)")
    ap.add_argument("--results", help="write the report (Markdown) here")
    ap.add_argument("--raw", help="write every sample (JSON) here")
    a = ap.parse_args()

    if a.quick:
        a.rounds = a.rounds or 2
        a.duration = a.duration or 2
        a.warmup = a.warmup if a.warmup is not None else 0.5
        scale_counts = [1000, 10000, 100000]
        hold_rounds = 1
        a.no_close_modes = True
        a.quiet_wait = a.quiet_wait if a.quiet_wait is not None else 20
        a.retries = min(a.retries, 1)
        a.disturb_budget = a.disturb_budget if a.disturb_budget is not None else 60
    else:
        a.rounds = a.rounds or 5
        a.duration = a.duration or 5
        a.warmup = a.warmup if a.warmup is not None else 1
        scale_counts = [1000, 10000, 100000, 1000000]
        hold_rounds = 3
        a.quiet_wait = a.quiet_wait if a.quiet_wait is not None else 120
        a.disturb_budget = a.disturb_budget if a.disturb_budget is not None else 120
    if a.rounds < 1 or a.duration <= 0 or a.workers < 1:
        die("--rounds, --duration and --workers must be positive", 2)
    if not a.no_tracer and not os.access(a.tracer, os.X_OK):
        die(f"no tracer at {a.tracer}: build it (`make`), or pass --no-tracer")
    if a.with_bpftrace and not shutil.which(a.bpftrace):
        die("bpftrace not found: apt-get install bpftrace (Debian's 0.17 is the baseline), "
            "or pass --no-bpftrace")
    if a.with_peers:
        for tool in (a.tcpstates, a.tcplife):
            if not shutil.which(tool):
                die(f"{tool} not found: apt-get install libbpf-tools (bcc's CO-RE tools), "
                    f"or pass --no-peers")
    if a.baseline_tracer and not os.access(a.baseline_tracer, os.X_OK):
        die(f"no baseline tracer at {a.baseline_tracer}: `make bench BENCH_BASELINE=REV` "
            f"builds one", 2)
    if not a.metrics_port:
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            a.metrics_port = sk.getsockname()[1]

    bt_env = {"BPFTRACE_MAP_KEYS_MAX": "65536"}
    tr = a.tracer
    configs = [Config("none", "no tracer", kind="none", ready_text=None)]
    if not a.no_tracer:
        configs += [
            Config("json", "tcpflow-trace --json", [tr, "--json"]),
            Config("metrics", f"tcpflow-trace --metrics", [tr, "--metrics",
                   f"127.0.0.1:{a.metrics_port}"], metrics=True),
            Config("port1", "tcpflow-trace --port 1", [tr, "--port", "1"]),
            Config("events", "tcpflow-trace --events", [tr, "--events"]),
        ]
    if a.baseline_tracer:
        bt, name = a.baseline_tracer, a.baseline_label or tool_version([a.baseline_tracer,
                                                                        "--version"])
        name = name.replace("tcpflow-trace ", "").strip()
        configs += [
            Config("base-json", f"tcpflow-trace@{name} --json", [bt, "--json"]),
            Config("base-metrics", f"tcpflow-trace@{name} --metrics", [bt, "--metrics",
                   f"127.0.0.1:{a.metrics_port}"], metrics=True),
        ]
    if os.access(a.empty, os.X_OK):
        configs.append(Config("empty", "empty tp_btf programs", [a.empty], kind="empty",
                              ready_text="attached"))
    else:
        log(f"run_bench: no {a.empty}: skipping the empty-program row")
    if a.with_bpftrace:
        configs += [
            Config("bt-print", "bpftrace: print each change",
                   [a.bpftrace, os.path.join(here, "bt", "states-print.bt")],
                   stdout="file", env=bt_env, kind="bpftrace", ready_text="Attaching",
                   lines_per_run=1),
            Config("bt-agg", "bpftrace: aggregate in maps",
                   [a.bpftrace, os.path.join(here, "bt", "states-aggregate.bt")],
                   stdout="file", env=bt_env, kind="bpftrace", ready_text="Attaching"),
        ]
    if a.with_peers:
        # bcc's CO-RE tools as a user runs them (no flags: IPv4 and IPv6, every port).
        # Their header goes to a block-buffered file: ready once their programs run.
        configs += [
            Config("tcpstates", "libbpf-tools tcpstates: print each change", [a.tcpstates],
                   stdout="file", kind="peer", ready_text=None, lines_per_run=1),
            # one line per socket at -> CLOSE: 2 of the 10 state changes of a connection
            Config("tcplife", "libbpf-tools tcplife: a line per socket", [a.tcplife],
                   stdout="file", kind="peer", ready_text=None, lines_per_run=0.2),
        ]
    if a.only:
        keep = set(a.only.split(",")) | {"none"}
        unknown = keep - {c.key for c in configs}
        if unknown:
            die(f"--only: unknown or unavailable rows: {', '.join(sorted(unknown))}", 2)
        configs = [c for c in configs if c.key in keep]
        if a.baseline_tracer and not any(c.key.startswith("base-") for c in configs):
            die("--baseline-tracer: --only keeps none of its rows (base-json, base-metrics)", 2)
    jcfg = next((c for c in configs if c.key == "json"), None)

    b = Bench(a)
    started = datetime.datetime.now().astimezone()
    t_start = time.monotonic()
    res, scale, hold, modes = {}, [], {}, {}

    def on_term(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        b.setup(configs)
        log(f"run_bench: {len(configs)} rows x {a.rounds} rounds x "
            f"({a.warmup:g} s warm-up + {a.duration:g} s), {a.workers} workers, "
            f"client-first close, source addresses rotated over 127.0.0.0/8")
        res = b.interleaved(configs, a.rounds, b.churn_args(), "main")
        if jcfg and not a.no_scaling:
            scale = b.scaling(jcfg, scale_counts)
            hold = b.interleaved([configs[0], jcfg], hold_rounds,
                                 b.churn_args(hold=10000), "hold-10k")
        if jcfg and not a.no_close_modes:
            for mode in ("server", "reset"):
                modes[mode] = b.interleaved([configs[0], jcfg], 3, b.churn_args(mode), mode)
    except KeyboardInterrupt:
        b.teardown()
        die("interrupted")
    finally:
        b.teardown()
    elapsed = time.monotonic() - t_start

    # ---- report
    lines = []
    lines.append("# tcpflow-trace benchmark results")
    lines.append("")
    lines.append(f"- date: {started.strftime('%Y-%m-%d %H:%M %Z')}; took {elapsed / 60:.1f} min")
    lines.append(f"- machine: {machine_info()}")
    lines.append(f"- tools: {getattr(a, 'tracer_version', '?') if not a.no_tracer else 'tcpflow-trace: not run'}; "
                 f"{tool_version([a.bpftrace, '--version']) if a.with_bpftrace else 'bpftrace: not run'}; "
                 f"{deb_version('libbpf-tools') if a.with_peers else 'libbpf-tools: not run'}; "
                 f"{tool_version([a.bpftool, 'version'])}"
                 + (f"; baseline {a.baseline_tracer}: {getattr(a, 'baseline_version', '?')}"
                    if a.baseline_tracer else ""))
    lines.append(f"- load: bench/loadgen.c, {a.workers} workers, connect/accept/close on "
                 f"{'a fresh network namespace' if a.netns else 'the host loopback'}, "
                 f"client-first close, sources rotated over 127.0.0.0/8; "
                 f"{a.rounds} interleaved rounds of {a.warmup:g} s warm-up + "
                 f"{a.duration:g} s measured per row")
    tws = [x["time_wait"] for x in b.samples if x.get("time_wait") is not None]
    try:
        with open("/proc/sys/net/ipv4/tcp_max_tw_buckets") as f:
            twmax = f.read().strip()
    except OSError:
        twmax = "?"
    lines.append("- ratio: a sample's conn/s / the untraced conn/s at the same moment "
                 "(interpolated in time between the untraced samples before and after it: "
                 "the machine drifts by several percent over minutes); median of rounds, "
                 "min–max. BPF figures with run-time statistics on (BPF_ENABLE_STATS) "
                 "(on for every row) from `bpftool prog show -j` over the whole churn: "
                 "ns/run and runs/conn of the hook programs (tracepoints); ns/conn of all "
                 "programs, BPF iterators included (`bpftool link show`: type iter). "
                 "Tracer CPU = on-CPU time of the tracer process (utime+stime, ns "
                 "resolution from /proc/PID/task/*/schedstat; usr/sys split from "
                 "/proc/PID/stat), until its backlog is drained; it includes iterator runs "
                 "(they execute in its read()), not the hook programs (the churn's threads "
                 "pay those). VmHWM = max over rounds")
    if tws:
        lines.append(f"- TIME-WAIT sockets on the host when a sample starts: median "
                     f"{statistics.median(tws):.0f} (net.ipv4.tcp_max_tw_buckets = {twmax}); "
                     f"the churn keeps the table full")
    lines.append("- output: tcpflow-trace writes to /dev/null; lost events from its exit "
                 "summary on stderr, recursion misses from `bpftool` (recursion_misses of its "
                 "programs); the bpftrace and libbpf-tools rows write to a file on tmpfs, read "
                 "back for their own lost-event reports (bpftrace: \"Lost N events\"; "
                 "tcpstates, tcplife: \"lost N events on CPU #C\" on stderr, from their perf "
                 "buffer's lost callback), their lines counted against the runs of their "
                 "programs (the notes: one line per run, tcplife one per socket, i.e. 2 of a "
                 "connection's 10 runs) and deleted; `--metrics` is scraped once after the "
                 "churn")
    lines.append("")
    lines.append("## Churn, client-first close")
    lines.append("")
    lines.append(md_table(MAIN_HEADER, [[c.label] + row_cells(res.get(c.key, []))
                                        for c in configs]))
    lines.append("")
    pl = peers_lost(res, configs)
    if pl:
        lines.append("Lost events of the other tools (their own reports; their output's lines "
                     "against their programs' runs as the check):")
        lines.append("")
        lines += [f"- {x}" for x in pl]
        lines.append("")
    ba = before_after(res, configs)
    if ba:
        lines.append(f"## Before/after: tcpflow-trace@{a.baseline_label or 'baseline'} "
                     f"in the same run")
        lines.append("")
        lines.append(f"The baseline ({getattr(a, 'baseline_version', '?')}) and this build "
                     f"({getattr(a, 'tracer_version', '?')}) took turns in the same rounds "
                     f"as every other row; medians over rounds.")
        lines.append("")
        lines.append(ba)
        lines.append("")
    v = verdicts(res, scale, hold)
    if v:
        lines.append("## Targets (issue 5)")
        lines.append("")
        lines += [f"- {x}" for x in v]
        lines.append("")
    pp = per_prog_table(res, configs)
    if pp.count("\n") > 1:
        lines.append("## Where BPF time goes (per program, medians over rounds)")
        lines.append("")
        lines.append(pp)
        lines.append("")
    if scale:
        lines.append("## Scaling: `--json` with N connections traced (one run each)")
        lines.append("")
        lines.append("A fresh tracer per line; CPU from the first connection until its "
                     "backlog is drained; idle CPU = the tracer's CPU per second with no churn "
                     "just before (periodic work: sweeps, timers), and µs/conn above idle "
                     "subtracts it; records include ~100 of the readiness probe; BPF maps = "
                     "kernel memory of its maps (fdinfo memlock), not in RSS.")
        lines.append("")
        rows = []
        for s in scale:
            st = s.get("tracer_stats", {})
            rows.append([s["load"]["total_conns"], fnum(st.get("conns")), fnum(s["rate"]),
                         fnum(s.get("tracer_cpu_s"), "{:.2f}"),
                         fnum(s.get("tracer_cpu_us_per_conn"), "{:.2f}"),
                         fnum(s.get("idle_cpu_ms_per_s"), "{:.1f}"),
                         fnum(s.get("tracer_cpu_us_per_conn_above_idle"), "{:.2f}"),
                         fnum((s.get("rss_start_kib") or 0) / 1024, "{:.1f}"),
                         fnum((s.get("rss_end_kib") or 0) / 1024, "{:.1f}"),
                         fnum((s.get("vmhwm_kib") or 0) / 1024, "{:.1f}"),
                         fnum((s.get("bpf_map_kib") or 0) / 1024, "{:.1f}"),
                         fnum(s.get("lost"), none="?"), fnum(s.get("recursion_misses"), none="?"),
                         "disturbed" if s.get("disturbed") else ""])
        lines.append(md_table(["connections", "records (tracer)", "conn/s", "tracer CPU s",
                               "µs/conn", "idle CPU ms/s", "µs/conn above idle",
                               "VmRSS start MiB", "VmRSS end MiB", "VmHWM MiB",
                               "BPF maps MiB", "lost", "recursion misses", "notes"], rows))
        lines.append("")
    if hold:
        lines.append("## Churn with 10k long-lived connections held open")
        lines.append("")
        lines.append(md_table(MAIN_HEADER, [[c.label] + row_cells(hold.get(c.key, []))
                                            for c in (configs[0], jcfg)]))
        lines.append("")
    for mode, r in modes.items():
        lines.append(f"## Churn, {'server-first close' if mode == 'server' else 'reset close (SO_LINGER 0)'}")
        lines.append("")
        lines.append(md_table(MAIN_HEADER, [[c.label] + row_cells(r.get(c.key, []))
                                            for c in (configs[0], jcfg)]))
        lines.append("")
    nd = sum(1 for s in b.samples if s.get("disturbed"))
    lines.append(f"Samples disturbed by other work on the machine (other processes > "
                 f"{a.max_foreign:.0%} of the CPUs, or other BPF tracing programs running), "
                 f"after {a.retries} re-runs: {nd} of {len(b.samples)}.")
    report = "\n".join(lines) + "\n"
    print(report)
    if a.results:
        report = results_md.keep_owned_elsewhere(a.results, report)
        with open(a.results, "w") as f:
            f.write(report)
        log(f"run_bench: wrote {a.results}")
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(b.samples, f, indent=1)
        log(f"run_bench: wrote {a.raw}")


if __name__ == "__main__":
    main()
