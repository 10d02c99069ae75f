# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Issue 13 point 5: TIME-WAIT facts in every network namespace, with the
tracer run the way a DaemonSet runs it -- in the host namespace, without
--netns -- and the connections in namespaces of their own.

Ground truth, never the tracer: each namespace's `ss -tan state time-wait`
(polled every 100 ms), a packet capture, and the moment the test deletes a
namespace. In one tracer run (the expiry alone takes ~62 s, so every case
runs at once), with --netns all (its census counts each namespace's
TIME-WAITs as ss does):
- three TIME-WAITs that expire: one record each, "expired", ended when `ss`
  stopped listing them (the bug: "reset" 65 ms after the hand-over, because
  the sweep walked only the tracer's own namespace);
- one reused by a new connect() on its 4-tuple: "reused", to the pcap's µs;
- three whose namespace is deleted early: "netns_gone" at the deletion,
  nothing else ended, and the tracer keeps running.
A second tracer, whose namespace helper the test kills, cannot look into any
other namespace: its TIME-WAITs there end with no end at all ("not_swept",
end_time null), never a false one.
"""

import os
import signal
import subprocess
import threading
import time

import pytest

import tfenv
from tfcheck import sweep_period_s, sweeps_s
from tfenv import TOL_US, Tracer, check_run, near, wait_until
from test_close_side import TW_LEN_S, WHEEL_SLACK_S, exchange_n, records, wait_records, wall

pytestmark = pytest.mark.root
PORT = 5311             # servers followed by the first tracer
PORT_BLIND = 5312       # the one followed by the tracer without a helper
SWEEP_S = 0.5
POLL_S = 0.1
EXPIRY_WAIT_S = TW_LEN_S + WHEEL_SLACK_S + 8


def tw_ports(ns, port):
    """Local ports of the TIME-WAIT sockets towards `port` in ns, says ss."""
    out = ns.exec("ss", "-Htan", "state", "time-wait", f"dport = :{port}").stdout
    return {int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines()}


class Watch(threading.Thread):
    """ss in one namespace every POLL_S: when each TIME-WAIT was first listed
    and when it was first missing after that."""

    def __init__(self, ns, port, ports, timeout):
        super().__init__(daemon=True)
        self.ns, self.port, self.ports = ns, port, set(ports)
        self.first, self.gone = {}, {}
        self.deadline = time.time() + timeout

    def run(self):
        while len(self.gone) < len(self.ports) and time.time() < self.deadline:
            now = time.time()
            left = tw_ports(self.ns, self.port)
            for p in self.ports:
                if p in left:
                    self.first.setdefault(p, now)
                elif p in self.first:
                    self.gone.setdefault(p, now)
            time.sleep(POLL_S)

    def finish(self):
        self.join(max(0.0, self.deadline - time.time()) + 5)
        assert self.first.keys() == self.ports, f"ss never listed {self.ports - self.first.keys()}"
        assert self.gone.keys() == self.ports, (f"still in TIME-WAIT after "
                                                f"{EXPIRY_WAIT_S} s: {self.ports - self.gone.keys()}")


def nsiter_helper(tracer_pid):
    """The pid of the tracer's namespace helper (a child named tcpflow-nsiter)."""
    p = subprocess.run(["pgrep", "-P", str(tracer_pid), "-x", "tcpflow-nsiter"],
                       capture_output=True, text=True)
    pids = p.stdout.split()
    assert len(pids) == 1, f"tracer {tracer_pid}: tcpflow-nsiter children {pids}"
    return int(pids[0])


def reuse_script(cport, port):
    """Two connections from one bound port, 3 s apart: the second takes over
    the first one's TIME-WAIT (tcp_tw_reuse, timestamps on)."""
    return (f"import socket, time\n"
            f"for i in range(2):\n"
            f"    s = socket.socket()\n"
            f"    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"    s.bind(('127.0.0.1', {cport}))\n"
            f"    s.connect(('127.0.0.1', {port}))\n"
            f"    time.sleep(0.02)\n"
            f"    s.close()\n"
            f"    time.sleep(3)\n")


def check_expired(recs, watch, ns, tops):
    """Each a TIME-WAIT of ns that expired when ss stopped listing it.

    tops: the tracer's tw_top records. A sweep period stretches past
    --tw-interval when sweeps cost more than 2% of a CPU (the leak-checked
    tracer's do), and precision follows the period the tracer reports."""
    period = sweep_period_s(tops, SWEEP_S) + 0.2
    for r in recs:
        ctx = f"{r}\nss first listed it at {watch.first[r['sport']]:.3f}, missed it at {watch.gone[r['sport']]:.3f}"
        print(f"expire: port {r['sport']}: time_wait {r['time_wait_us'] / 1e6:.3f} s "
              f"(-{r['precision_us'] / 1e6:.3f}), ss lost it "
              f"{watch.gone[r['sport']] - wall(r['handover_time']):.3f} s after the hand-over")
        assert (r["end"], r["handover"], r["netns"]) == ("expired", "traced", ns.inum), ctx
        lo = (r["time_wait_us"] - r["precision_us"]) / 1e6
        assert TW_LEN_S - 0.01 <= lo and r["time_wait_us"] / 1e6 <= TW_LEN_S + WHEEL_SLACK_S + period, ctx
        assert r["precision_us"] <= period * 1e6, ctx
        # ss lost it in [end - precision - poll, end + poll]
        gone = watch.gone[r["sport"]]
        assert wall(r["end_time"]) - r["precision_us"] / 1e6 - POLL_S - 0.05 <= gone, ctx
        assert gone <= wall(r["end_time"]) + POLL_S + 0.05, ctx


def check_reused(r, pkts, cport, ns):
    """From the hand-over (the ACK of the first connection's FIN: it closed
    first, orphaned) to the second connection's SYN, which took it over."""
    first = tfenv.truth(pkts, cport, PORT)
    syns = [p for p in first.pkts if p.syn and not p.has_ack and p.sport == cport]
    ctx = first.dump() + f"\n{r}"
    assert len(syns) == 2 and first.c_fins, ctx
    ack = first.fin_acked(first.c_fins[0], from_client=True)
    assert (r["end"], r["handover"], r["precision_us"], r["netns"]) == ("reused", "traced", 0, ns.inum), ctx
    near(wall(r["handover_time"]) * 1e6, ack.t_ns / 1000, TOL_US, "hand-over at the ACK of its FIN", ctx)
    near(r["time_wait_us"], (syns[1].t_ns - ack.t_ns) / 1000, TOL_US, "time_wait_us", ctx)


def check_netns_gone(recs, inum, t_del0, t_del1, period):
    """Ended with their namespace, deleted between t_del0 and t_del1."""
    for r in recs:
        ctx = f"{r}\ndeleted between {t_del0:.3f} and {t_del1:.3f}"
        assert (r["end"], r["handover"], r["netns"]) == ("netns_gone", "traced", inum), ctx
        end = wall(r["end_time"])
        # it went between the last lookup that saw it and the first that did not
        assert end - r["precision_us"] / 1e6 <= t_del1 + 0.01 and t_del0 <= end + 0.01, ctx
        assert end - t_del1 <= 3 * period + 1.5, ctx
        assert r["time_wait_us"] < 15e6, ctx


def check_census(tr, want):
    """--netns all: the next census counts each namespace's TIME-WAITs as ss does."""
    t0 = time.time()
    top = wait_records(tr, "tw_top", lambda r: wall(r["time"]) > t0, 1, sweeps_s(tr, 3, SWEEP_S))[0]
    got = {g["netns"]: g["count"] for g in top["by_remote"] if g["port"] == PORT}
    assert got == want, top
    assert top["total"] == sum(want.values()), top


def test_time_wait_ends_in_every_namespace(ns_factory):
    keeper = ns_factory("keeper")       # owns the tracers: they outlive the deleted namespace
    expire, reuse, gone, blind_ns = (ns_factory(t) for t in ("expire", "reuse", "gone", "blind"))
    tr = Tracer(keeper, [PORT], system_wide=True,
                extra=("--netns", "all", "--tw", "--interval", SWEEP_S, "--tw-interval", SWEEP_S))
    blind = Tracer(keeper, [PORT_BLIND], system_wide=True, extra=("--tw-interval", SWEEP_S))
    os.kill(nsiter_helper(blind.proc.pid), signal.SIGKILL)
    cap = reuse.capture(f"tcp port {PORT}")

    cli, _ = exchange_n(expire, 3, port=PORT)
    w_expire = Watch(expire, PORT, {c["lport"] for c in cli.conns()}, EXPIRY_WAIT_S)
    w_expire.start()
    cli, _ = exchange_n(blind_ns, 2, port=PORT_BLIND)
    w_blind = Watch(blind_ns, PORT_BLIND, {c["lport"] for c in cli.conns()}, EXPIRY_WAIT_S)
    w_blind.start()
    cli, _ = exchange_n(gone, 3, port=PORT)
    ports_gone, inum_gone = {c["lport"] for c in cli.conns()}, gone.inum
    assert wait_until(lambda: tw_ports(gone, PORT) == ports_gone, 5), tw_ports(gone, PORT)
    check_census(tr, {expire.inum: len(tw_ports(expire, PORT)), inum_gone: len(ports_gone)})

    # reuse: the first connection's TIME-WAIT is listed before the second connect
    cport = 40177
    srv = reuse.server("127.0.0.1", PORT, "--count", 2, "--close", "after-peer")
    reuser = tfenv.Proc(reuse.cmd("python3", "-c", reuse_script(cport, PORT)),
                        workdir=reuse.workdir, name="reuser")
    reuse.procs.append(reuser)
    assert wait_until(lambda: cport in tw_ports(reuse, PORT), 2.9, step=0.05), "no TIME-WAIT to reuse"

    # the namespace goes while the tracer follows its TIME-WAITs (looked up at least once)
    looked = len(records(tr, "tw_top"))
    wait_records(tr, "tw_top", lambda r: True, looked + 3, sweeps_s(tr, 5, SWEEP_S))
    t_del0 = time.time()
    gone.close()
    t_del1 = time.time()
    assert not os.path.exists(f"/run/netns/{gone.name}")
    ends_gone = wait_records(tr, "time_wait", lambda r: r["sport"] in ports_gone, 3, sweeps_s(tr, 3, SWEEP_S) + 2)
    assert sorted(r["sport"] for r in ends_gone) == sorted(ports_gone), ends_gone
    check_netns_gone(ends_gone, inum_gone, t_del0, t_del1, sweep_period_s(records(tr, "tw_top"), SWEEP_S))

    assert reuser.wait(10) == 0 and srv.wait(10) == 0, reuser.stderr()
    (first_reuse,) = wait_records(tr, "time_wait", lambda r: r["sport"] == cport, 1, sweeps_s(tr, 2, SWEEP_S))[:1]
    check_reused(first_reuse, cap.stop(), cport, reuse)

    w_expire.finish()
    w_blind.finish()
    ends = wait_records(tr, "time_wait", lambda r: r["sport"] in w_expire.ports, 3, sweeps_s(tr, 1, SWEEP_S))
    check_expired(ends, w_expire, expire, records(tr, "tw_top"))
    # no end is known: not_swept, past the timer (+ the 5 s grace), and no time claimed
    blind_ends = wait_records(blind, "time_wait", lambda r: r["sport"] in w_blind.ports, 2, 8)
    for r in blind_ends:
        assert (r["end"], r["end_time"], r["time_wait_us"], r["handover"], r["netns"]) == (
            "not_swept", None, None, "traced", blind_ns.inum), r
    assert "namespace helper is gone" in blind.proc.stderr(), blind.proc.stderr()

    res, res_blind = tr.stop(), blind.stop()
    check_run(res)
    check_run(res_blind)
    # exactly those ends: one per TIME-WAIT, and no other (the bug's false "reset")
    tw = [r for r in res.other if r["type"] == "time_wait"]
    want = ports_gone | w_expire.ports | {cport}
    assert sorted(r["sport"] for r in tw if r["sport"] != cport) == sorted(want - {cport}), tw
    assert [r["end"] for r in tw if r["sport"] == cport][:1] == ["reused"], tw
    assert len([r for r in res_blind.other if r["type"] == "time_wait"]) == 2, res_blind.other


def kill_helper_child_inside(helper, inum, want, until):
    """What a teardown that kills every process of a namespace does to the
    helper, or its child, when it catches one inside (a walk is ~100 us in a
    sweep, so watch them instead of all of /proc). Returns how many were
    killed in the namespace."""
    hits = 0
    while hits < want and time.monotonic() < until:
        try:
            with open(f"/proc/{helper}/task/{helper}/children") as f:
                kids = [str(helper)] + f.read().split()
        except OSError:
            return hits
        for pid in kids:
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino == inum:
                    os.kill(int(pid), signal.SIGKILL)
                    hits += 1
            except OSError:
                pass
    return hits


def test_teardown_killing_everything_in_the_namespace(ns_factory):
    """The old crash: tracing --netns, a teardown kills every process in the
    namespace, the helper among them while it is inside, and the tracer
    exited 1 ("TIME-WAIT sweep failed: Input/output error"). Now that kill
    costs one walk; the namespace's deletion ends its TIME-WAITs
    (netns_gone), and the tracer runs on."""
    keeper, target = ns_factory("keeper"), ns_factory("target")
    tr = Tracer(target, [PORT], extra=("--tw-interval", "0.1"))
    target.procs.remove(tr.proc)        # the tracer outlives the namespace
    keeper.procs.append(tr.proc)
    cli, _ = exchange_n(target, 3, port=PORT)
    ports = {c["lport"] for c in cli.conns()}
    assert wait_until(lambda: tw_ports(target, PORT) == ports, 5), tw_ports(target, PORT)
    hits = kill_helper_child_inside(nsiter_helper(tr.proc.pid), target.inum, 3,
                                    time.monotonic() + 30)
    assert hits == 3, f"the helper's child was killed {hits} times in 30 s"
    time.sleep(0.5)     # five sweeps: the old code was dead by now
    assert tr.proc.p.poll() is None, tr.proc.stderr()
    inum = target.inum
    target.close()
    ends = wait_records(tr, "time_wait", lambda r: r["sport"] in ports, 3, 5)
    res = tr.stop()
    check_run(res)
    assert {(r["end"], r["netns"]) for r in ends} == {("netns_gone", inum)}, ends
    # (a child killed after its answer costs nothing: no message to expect)
