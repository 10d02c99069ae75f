# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Test environment for the root integration tests, all in one place (the
checks of the tracer's records against it are in tfcheck.py).

- Netns: a private network namespace (lo up, 127.0.0.1 and ::1), sysctls in it,
  the SYN retransmission schedule (syn_schedule: linear or exponential, by
  kernel), nftables rules that drop the first k matching packets with counters
  read back as ground truth, and every process started in it (killed at
  teardown).
- Capture + read_pcap: tcpdump on the namespace's lo (-U, nanosecond stamps) and
  a stdlib pcap parser giving time, addresses, ports, flags, seq/ack per packet.
- Tracer: build/tcpflow-trace --json --netns INUM --port P... (or system-wide,
  without --netns), started and stopped with SIGINT, output parsed into
  connection records and stats.
- Tcpgen: tests/tools/tcpgen inside the namespace, its JSON lines collected;
  run_pair: a server and a client run to the end on one CPU; exchange: the
  same, captured and traced.

Only loopback traffic inside namespaces these helpers create. Nothing here may
hang: every wait has a timeout and teardown kills what is left.
"""

import collections
import contextlib
import itertools
import json
import os
import signal
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import ci_policy

ROOT = Path(__file__).resolve().parents[2]
# TCPFLOW_BIN: run the tests against another build (e.g. the ASan/LSan one)
TRACER_BIN = Path(os.environ.get("TCPFLOW_BIN") or ROOT / "build" / "tcpflow-trace")
TCPGEN_BIN = ROOT / "build" / "tests" / "tcpgen"
NS_PREFIX = "tft"

# Tolerance between a tracer time and the packet capture. Both are kernel
# timestamps taken a few microseconds apart in the same code path (state change
# vs. the packet tap on lo); 2 ms is loose enough for a loaded 2-core machine
# and still 500x tighter than a unit error (ms vs us) or a timer tick (4 ms).
TOL_US = 2000

_ns_seq = itertools.count()

# tcp_syn_linear_timeouts (Linux 6.5, ccce324dabfe "tcp: make the first N SYN
# RTO backoffs linear"): the first N SYN retransmission timeouts stay at the
# initial RTO (1 s), then they double; N is 4 by default. Older kernels (5.10,
# Debian 12's 6.1) have no such sysctl and back off exponentially from the
# first retransmission. Only Netns.syn_schedule touches it.
SYN_LINEAR = "net.ipv4.tcp_syn_linear_timeouts"
# TF_TEST_NO_LINEAR_TIMEOUTS=1: run as on a kernel without the sysctl (the
# fallback path, provable on a newer host): syn_schedule then sets it to 0
# where it exists, which is the old kernels' exponential schedule.
AS_OLD_KERNEL = os.environ.get("TF_TEST_NO_LINEAR_TIMEOUTS", "") not in ("", "0")


def _syn_linear_sysctl_exists():
    return os.path.exists("/proc/sys/" + SYN_LINEAR.replace(".", "/"))


_rtx_err_field = None


def retransmit_reports_failures():
    """Does tcp:tcp_retransmit_skb have the `err` field (Linux 6.17+,
    ad892e912b84), firing for failed attempts too? Then the tracer restores
    SYN retransmissions none of its runs saw from tcp_sock.total_retrans.
    Told by the kernel's BTF (bpftool), not by our code."""
    global _rtx_err_field
    if _rtx_err_field is None:
        out = run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                  timeout=60).stdout
        head = out.find("STRUCT 'trace_event_raw_tcp_retransmit_skb'")
        assert head >= 0, "no trace_event_raw_tcp_retransmit_skb in the kernel's BTF"
        end = out.find("\n[", head)
        _rtx_err_field = "\t'err' " in out[head:end if end > 0 else None]
    return _rtx_err_field


@dataclass(frozen=True)
class SynSchedule:
    """When a client retransmits its SYN: `linear` timeouts at the initial
    RTO (1 s), doubling after that (0: exponential from the start)."""
    linear: int

    def gaps(self, n):
        """Seconds between SYN i and SYN i+1, for the first n retransmissions."""
        return tuple(1.0 if i <= self.linear else 2.0 ** (i - self.linear) for i in range(n))

    def __str__(self):
        return (f"SYN gaps {', '.join(f'{g:g}' for g in self.gaps(4))} s "
                f"({'exponential' if not self.linear else f'{self.linear} linear timeouts'})")


def require_root():
    """Skip loudly without root, except under CI=true where it is a failure."""
    ci_policy.require_root("this test loads BPF programs and creates network namespaces",
                           "sudo make check-integration")


def require_bin(path, hint):
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: {hint}", pytrace=False)


_unpriv_bin = None


def unprivileged_bin():
    """TRACER_BIN as a user without privileges can execute it.

    Tests that run the tracer as `nobody` cannot reach build/ when the clone
    sits under a directory only root may enter (a `mktemp -d` folder is 0700),
    so they get a copy in a 0755 temp dir, made once and removed at exit."""
    global _unpriv_bin
    if _unpriv_bin is None:
        import atexit
        import shutil
        import tempfile
        require_bin(TRACER_BIN, "build it with `make`")
        d = tempfile.mkdtemp(prefix="tcpflow-bin-")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        dst = Path(d) / TRACER_BIN.name
        shutil.copy2(TRACER_BIN, dst)
        os.chmod(dst, 0o755)
        _unpriv_bin = dst
    return _unpriv_bin


def run(cmd, timeout=20, check=True, input=None):
    """Run a short command; raise with its stderr if it fails."""
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} -> {p.returncode}: {p.stderr.strip()}")
    return p


def wait_until(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            return v
        time.sleep(step)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces():
    """Delete tft-PID-* namespaces left by a crashed earlier run (PID dead)."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) >= 3 and parts[0] == NS_PREFIX and parts[1].isdigit():
            if not _pid_alive(int(parts[1])):
                run(["ip", "netns", "del", name], check=False)


# ---- processes -------------------------------------------------------------

class Proc:
    """A child process with its stdout lines collected by a thread."""

    def __init__(self, argv, stdin=False, workdir=None, name="proc", env=None):
        self.argv = [str(a) for a in argv]
        self.name = name
        self.lines = []
        self._cond = threading.Condition()
        self._err_path = Path(workdir or "/tmp") / f"{name}-{os.getpid()}-{next(_ns_seq)}.stderr"
        self._err = open(self._err_path, "w+")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=self._err, text=True,
                                  start_new_session=True,
                                  env=None if env is None else {**os.environ, **env})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.p.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self):
        return self.p.pid

    def stderr(self):
        self._err.flush()
        return self._err_path.read_text()

    def wait_line(self, pred, timeout):
        """First stdout line for which pred(line) is true, or fail."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = end - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{self.name}: expected output not seen within {timeout}s; "
                                         f"stdout={self.lines!r} stderr={self.stderr()!r}")
                self._cond.wait(min(left, 0.1))

    def send(self, text):
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish within {timeout}s; "
                                 f"stdout={self.lines!r} stderr={self.stderr()!r}")
        self._reader.join(5)
        return rc

    def kill(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(2)

    def close(self):
        self.kill()
        self._err.close()


class Tcpgen(Proc):
    """tests/tools/tcpgen; its JSON lines are in .records()."""

    def records(self, event=None):
        out = []
        for line in self.lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if event is None or r.get("event") == event:
                out.append(r)
        return out

    def conns(self):
        return self.records("conn")

    def wait_event(self, event, timeout=10):
        return json.loads(self.wait_line(lambda l: f'"event":"{event}"' in l, timeout))


# ---- network namespace -----------------------------------------------------

class Netns:
    def __init__(self, workdir, tag=""):
        self.name = f"{NS_PREFIX}-{os.getpid()}-{next(_ns_seq)}" + (f"-{tag}"[:12] if tag else "")
        self.workdir = Path(workdir)
        self.procs = []
        run(["ip", "netns", "add", self.name])
        self.created = True
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        self.inum = os.stat(f"/run/netns/{self.name}").st_ino
        self._counters = {}

    def cmd(self, *argv):
        return ["ip", "netns", "exec", self.name, *map(str, argv)]

    def exec(self, *argv, timeout=20, check=True, input=None):
        return run(self.cmd(*argv), timeout=timeout, check=check, input=input)

    def sysctl(self, key, value):
        assert key != SYN_LINEAR, "the SYN schedule differs by kernel: use Netns.syn_schedule()"
        self._sysctl(key, value)

    def _sysctl(self, key, value):
        self.exec("sysctl", "-qw", f"{key}={value}")
        got = " ".join(self.exec("sysctl", "-n", key).stdout.split())   # ranges: tab-separated
        assert got == str(value), f"sysctl {key} in {self.name}: wanted {value}, got {got}"

    def syn_schedule(self, exponential=False):
        """Set up this namespace's SYN retransmission schedule and return it
        (a SynSchedule): the kernel's default, or with exponential=True the
        classic 1, 2, 4 s backoff, which every kernel can do (0 linear
        timeouts where the sysctl exists; the only schedule where it does not,
        or under TF_TEST_NO_LINEAR_TIMEOUTS=1). Tests check it against the
        capture: the expected gaps are a claim about the kernel, not truth."""
        if not _syn_linear_sysctl_exists():
            return SynSchedule(0)
        if exponential or AS_OLD_KERNEL:
            self._sysctl(SYN_LINEAR, 0)
            return SynSchedule(0)
        return SynSchedule(int(self.exec("sysctl", "-n", SYN_LINEAR).stdout))

    # -- nftables: drop the first k matching packets, count what was seen --
    def drop_first(self, label, match, k):
        """Drop the first k packets matching `match` (nft syntax, input hook).

        Counters seen_<label> (every matching packet) and drop_<label> (the
        dropped ones) are read back with counter(). A capture on lo sees a
        packet before the input hook, so dropped packets are in the pcap."""
        self._counters[label] = (match, k)
        rules = [f"counter seen_{l} {{ }}\ncounter drop_{l} {{ }}" for l in self._counters]
        chain = []
        for l, (m, kk) in self._counters.items():
            chain.append(f'{m} counter name "seen_{l}"')
            chain.append(f'{m} numgen inc mod 1000000 < {kk} counter name "drop_{l}" drop')
        ruleset = ("table inet tft\ndelete table inet tft\n"
                   "table inet tft {\n" + "\n".join(rules) +
                   "\nchain input {\ntype filter hook input priority 0; policy accept;\n" +
                   "\n".join(chain) + "\n}\n}\n")
        self.exec("nft", "-f", "-", input=ruleset)

    def counter(self, name):
        out = self.exec("nft", "-j", "list", "counter", "inet", "tft", name).stdout
        for obj in json.loads(out)["nftables"]:
            if "counter" in obj:
                return obj["counter"]["packets"]
        raise AssertionError(f"nft counter {name} not found: {out}")

    # -- processes --
    def tcpgen(self, *args, stdin=False, name="tcpgen"):
        p = Tcpgen(self.cmd(TCPGEN_BIN, *args), stdin=stdin, workdir=self.workdir, name=name)
        self.procs.append(p)
        return p

    def server(self, addr, port, *args, name="server"):
        """Start a tcpgen server and wait until it listens."""
        p = self.tcpgen("server", "--listen", addr, "--port", port, *args, name=name)
        p.wait_event("listening")
        return p

    def capture(self, port_filter, iface="lo"):
        c = Capture(self, port_filter, iface)
        self.procs.append(c.proc)
        return c

    def close(self):
        for p in reversed(self.procs):
            p.close()
        # Anything else still in the namespace was started by this test.
        pids = run(["ip", "netns", "pids", self.name], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run(["ip", "netns", "del", self.name], check=False)


# ---- packet capture --------------------------------------------------------

@dataclass
class Pkt:
    t_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int
    ack: int
    plen: int

    FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

    @property
    def syn(self):
        return bool(self.flags & self.SYN)

    @property
    def fin(self):
        return bool(self.flags & self.FIN)

    @property
    def rst(self):
        return bool(self.flags & self.RST)

    @property
    def has_ack(self):
        return bool(self.flags & self.ACK)

    def flagstr(self):
        return "".join(c for c, b in (("S", 2), ("F", 1), ("R", 4), ("P", 8), ("A", 16)) if self.flags & b)

    def __str__(self):
        return (f"{self.t_ns / 1e9:.6f} {self.src}.{self.sport} > {self.dst}.{self.dport} "
                f"[{self.flagstr()}] seq {self.seq} ack {self.ack} len {self.plen}")


def _ip6str(b):
    import ipaddress
    return str(ipaddress.IPv6Address(b))


def read_pcap(path):
    """Parse a pcap file (stdlib only): TCP packets over IPv4/IPv6."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
             b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in table:
        raise ValueError(f"{path}: not a pcap file (magic {magic.hex()})")
    end, mult = table[magic]
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    pkts = []
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        t_ns = sec * 1_000_000_000 + frac * mult
        if linktype == 1:          # Ethernet (lo)
            if len(frame) < 14:
                continue
            etype, l3 = struct.unpack("!H", frame[12:14])[0], frame[14:]
        elif linktype == 113:      # Linux cooked (any)
            etype, l3 = struct.unpack("!H", frame[14:16])[0], frame[16:]
        elif linktype == 0:        # BSD loopback
            fam = struct.unpack(end + "I", frame[:4])[0]
            etype, l3 = (0x0800 if fam == 2 else 0x86DD), frame[4:]
        else:
            raise ValueError(f"{path}: unsupported link type {linktype}")
        if etype == 0x0800 and len(l3) >= 20:
            ihl = (l3[0] & 0x0F) * 4
            if l3[9] != 6:
                continue
            total = struct.unpack("!H", l3[2:4])[0]
            src, dst = ".".join(map(str, l3[12:16])), ".".join(map(str, l3[16:20]))
            l4, l4len = l3[ihl:], total - ihl
        elif etype == 0x86DD and len(l3) >= 40:
            if l3[6] != 6:         # no extension headers on loopback TCP
                continue
            src, dst = _ip6str(l3[8:24]), _ip6str(l3[24:40])
            l4, l4len = l3[40:], struct.unpack("!H", l3[4:6])[0]
        else:
            continue
        if len(l4) < 20:
            continue
        sport, dport, seq, ack, offfl = struct.unpack("!HHIIH", l4[:14])
        doff = (offfl >> 12) * 4
        pkts.append(Pkt(t_ns, src, sport, dst, dport, offfl & 0x3F, seq, ack, l4len - doff))
    return pkts


class Capture:
    """tcpdump on lo (or iface) inside the namespace, written to a pcap with ns stamps."""

    def __init__(self, ns, bpf_filter, iface="lo"):
        self.path = ns.workdir / f"{ns.name}.pcap"
        self.proc = Proc(ns.cmd("tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-Z", "root",
                                "--time-stamp-precision=nano", "-w", self.path, bpf_filter),
                         workdir=ns.workdir, name="tcpdump")
        ok = wait_until(lambda: "listening on" in self.proc.stderr() or self.proc.p.poll() is not None, 10)
        if not ok or self.proc.p.poll() is not None:
            raise AssertionError(f"tcpdump did not start: {self.proc.stderr()}")

    def stop(self):
        """Stop tcpdump and return the packets."""
        time.sleep(0.1)     # the last ACK may still be on its way
        if self.proc.p.poll() is None:
            self.proc.p.send_signal(signal.SIGINT)
            self.proc.wait(10)
        return read_pcap(self.path)


# ---- ground truth from a capture --------------------------------------------

def us(a_ns, b_ns):
    """Microseconds from capture time a_ns to b_ns."""
    return (b_ns - a_ns) / 1000


def conn_pkts(pkts, cport, sport):
    """Packets of the connection client port cport <-> server port sport."""
    return [p for p in pkts if (p.sport, p.dport) in ((cport, sport), (sport, cport))]


@dataclass
class Truth:
    """What the capture says about one connection (times in ns, absolute)."""
    pkts: list
    cport: int
    sport: int
    syns: list = field(default_factory=list)        # client SYNs
    synacks: list = field(default_factory=list)     # server SYN-ACKs
    hs_ack: object = None                           # client's ACK completing the handshake
    c_fins: list = field(default_factory=list)      # client FIN segments (first + retransmits)
    s_fins: list = field(default_factory=list)
    c_rsts: list = field(default_factory=list)
    s_rsts: list = field(default_factory=list)

    @property
    def client_hs_us(self):
        return (self.hs_ack.t_ns - self.syns[0].t_ns) / 1000

    @property
    def server_hs_us(self):
        return (self.hs_ack.t_ns - self.synacks[0].t_ns) / 1000

    def t_us(self, role, t_ns):
        """Capture time t_ns as the t_us of a `role` record: the tracer counts
        a client's times from its first SYN, a server's from its first SYN-ACK."""
        return us((self.syns if role == "client" else self.synacks)[0].t_ns, t_ns)

    def fin_acked(self, fin, from_client):
        """First packet of the other side acknowledging FIN segment `fin`."""
        want = (fin.seq + fin.plen + 1) & 0xFFFFFFFF
        for p in self.pkts:
            if p.t_ns >= fin.t_ns and (p.sport == self.sport) == from_client and p.has_ack and p.ack == want:
                return p
        return None

    def dump(self):
        return "\n".join(map(str, self.pkts))


def truth(pkts, cport, sport):
    c = conn_pkts(pkts, cport, sport)
    t = Truth(c, cport, sport)
    for p in c:
        from_client = p.sport == cport
        if from_client:
            if p.syn and not p.has_ack:
                t.syns.append(p)
            elif t.synacks and t.hs_ack is None and p.has_ack and not p.syn:
                t.hs_ack = p
            if p.fin:
                t.c_fins.append(p)
            if p.rst:
                t.c_rsts.append(p)
        else:
            if p.syn and p.has_ack:
                t.synacks.append(p)
            if p.fin:
                t.s_fins.append(p)
            if p.rst:
                t.s_rsts.append(p)
    return t


# ---- the tracer ------------------------------------------------------------

@dataclass
class TraceResult:
    rc: int
    conns: list
    stats: list
    other: list
    bad_lines: list
    stderr: str

    def find(self, role, sport, dport):
        return [c for c in self.conns if c.get("role") == role and c.get("sport") == sport
                and c.get("dport") == dport]

    def one(self, role, sport, dport):
        got = self.find(role, sport, dport)
        assert len(got) == 1, (f"expected exactly one {role} record {sport}->{dport}, got {len(got)}; "
                               f"all records:\n{self.describe()}")
        return got[0]

    def describe(self):
        s = "\n".join(json.dumps(c, sort_keys=True) for c in self.conns)
        return f"{s}\nstats={self.stats}\nstderr={self.stderr.strip()}"


class Tracer:
    READY = "tcpflow-trace: tracing"

    def __init__(self, ns, ports, pid=None, extra=(), workdir=None, env=None, system_wide=False):
        """env: extra environment (e.g. LD_PRELOAD of a fault-injection shim);
        system_wide: no --netns, as users run it (ns only owns the process)."""
        require_bin(TRACER_BIN, "build it with `make`")
        argv = [TRACER_BIN, "--json"] + ([] if system_wide else ["--netns", ns.inum])
        for p in ports:
            argv += ["--port", p]
        if pid is not None:
            argv += ["--pid", pid]
        argv += list(extra)
        self.proc = Proc(argv, workdir=workdir or ns.workdir, name="tcpflow-trace", env=env)
        ns.procs.append(self.proc)
        ok = wait_until(lambda: self.READY in self.proc.stderr() or self.proc.p.poll() is not None, 30)
        if not ok or self.proc.p.poll() is not None:
            rc = self.proc.p.poll()
            raise AssertionError(f"tracer did not start (rc={rc}, argv={argv}): {self.proc.stderr()}")

    def stop(self, settle=0.3):
        """Let the last events arrive, SIGINT, parse the output."""
        time.sleep(settle)
        self.proc.p.send_signal(signal.SIGINT)
        rc = self.proc.wait(20)
        conns, stats, other, bad = [], [], [], []
        for line in self.proc.lines:
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            {"conn": conns, "stats": stats}.get(r.get("type"), other).append(r)
        return TraceResult(rc, conns, stats, other, bad, self.proc.stderr())


def records(tr, typ):
    """Records of one type a running tracer (--json) has printed so far."""
    out = []
    for line in list(tr.proc.lines):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("type") == typ:
            out.append(r)
    return out


def check_run(res):
    """Invariants of every tracer run: clean exit, JSON only, one stats line."""
    assert res.rc == 0, f"tracer exit status {res.rc}; stderr: {res.stderr}"
    assert not res.bad_lines, f"non-JSON lines on stdout: {res.bad_lines[:5]}"
    assert len(res.stats) == 1, f"expected one stats line, got {res.stats}"
    st = res.stats[0]
    assert st.get("conns") == len(res.conns), (
        f"stats conns={st.get('conns')} but {len(res.conns)} conn records were printed")
    # TCP's own state machine as ground truth: no record may skip a step
    gaps = [c for c in res.conns if "missed_transitions" in c["flags"]]
    assert st.get("missed_transitions") == len(gaps) == 0, (
        f"records with a state change TCP cannot make (events missed): {gaps}; stats={st}")
    # and its own count of retransmissions (Linux 6.17+): none reached no program
    unseen = [c for c in res.conns if "events_lost" in c["flags"]]
    assert st.get("retrans_unseen") == 0, (
        f"retransmissions the kernel counted that no program saw: {st.get('retrans_unseen')}; "
        f"records flagged events_lost: {unseen}; stats={st}")
    return st


# ---- cgroup v2 ---------------------------------------------------------------

def cgroup2_mount():
    """Where cgroup v2 is mounted, read here from mountinfo (not by the tracer's code)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[0] == "cgroup2":
                return pre.split()[4].replace("\\040", " ")
    pytest.fail("no cgroup2 hierarchy mounted: mount -t cgroup2 none /sys/fs/cgroup/unified")


def proc_cgroup(pid):
    """The process's v2 group as the kernel shows it (/proc/PID/cgroup, the 0:: line)."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    raise AssertionError(f"/proc/{pid}/cgroup has no cgroup v2 line")


# ---- record helpers --------------------------------------------------------

def states(rec):
    return [s["state"] for s in rec["states"]]


def state_t(rec, name):
    for s in rec["states"]:
        if s["state"] == name:
            return s["t_us"]
    raise AssertionError(f"state {name} not in {states(rec)}")


def near(got, want, tol, what, ctx=""):
    assert got is not None, f"{what}: tracer gave null, capture says {want:.0f} us\n{ctx}"
    assert abs(got - want) <= tol, (
        f"{what}: tracer {got} us, capture {want:.0f} us, differ by {got - want:.0f} us "
        f"(tolerance {tol} us)\n{ctx}")


# ---- one client/server exchange, traced and captured ------------------------

@dataclass
class Exchange:
    trace: object          # TraceResult, or None when run without the tracer
    pkts: list
    server: object         # Tcpgen, or None
    client: object         # Tcpgen
    port: int

    def client_ports(self):
        return [c["lport"] for c in self.client.conns()]

    def truth(self, i=0):
        return truth(self.pkts, self.client_ports()[i], self.port)


@contextlib.contextmanager
def one_cpu():
    """Processes started inside run on one CPU (they inherit our affinity).
    Loopback delivers per CPU: across two, a segment can arrive after one sent
    later from the other CPU -- the server's ACK of the client's FIN after its
    FIN+ACK -- and the client in TIME-WAIT answers that stale ACK, which re-arms
    its timer or draws a reset that kills it (both captured in CI runs)."""
    home = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(home)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, home)


Pair = collections.namedtuple("Pair", "client server")


def run_pair(ns, addr, port, server=("--close", "after-peer"), client=("--close", "first"),
             count=1, listen=True):
    """A tcpgen server (unless listen=False) and client, `count` connections
    on addr:port, both on one CPU (see one_cpu), run to the end. Both must
    exit 0 (a refused connect counts as success for the client). Returns a
    Pair (client, server; server None without a listener)."""
    with one_cpu():
        srv = ns.server(addr, port, "--count", count, *server) if listen else None
        cli = ns.tcpgen("client", "--connect", addr, "--port", port, "--count", count, *client,
                        name="client")
    assert cli.wait(30) == 0, f"client failed: {cli.lines} {cli.stderr()}"
    if srv:
        assert srv.wait(30) == 0, f"server failed: {srv.lines} {srv.stderr()}"
    return Pair(cli, srv)


def exchange(ns, addr, port, server=("--close", "after-peer"), client=("--close", "first"),
             count=1, trace=True, listen=True):
    """Capture, trace (--port port), run_pair() to the end.

    The tracer is attached before the server listens."""
    cap = ns.capture(f"tcp port {port}")
    tr = Tracer(ns, [port]) if trace else None
    cli, srv = run_pair(ns, addr, port, server=server, client=client, count=count, listen=listen)
    res = tr.stop() if tr else None
    return Exchange(res, cap.stop(), srv, cli, port)
