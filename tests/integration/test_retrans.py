# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Retransmissions forced with nftables (drop the first k matching packets on
input; the capture on lo still sees them). Ground truth: the nft counters and
the pcap. Times are compared with tfenv.TOL_US (2 ms): client t_us against
the pcap relative to its first SYN, server t_us relative to its first SYN-ACK."""

import pytest

import tfenv
from tfcheck import Checked, check_close, check_retransmits, check_timeline
from tfenv import TOL_US, near, us

pytestmark = pytest.mark.root
PORT = 5000
SYN = f"tcp dport {PORT} tcp flags & (syn|ack) == syn"
SYNACK = f"tcp sport {PORT} tcp flags & (syn|ack) == syn|ack"
FIN_TO_SERVER = f"tcp dport {PORT} tcp flags & fin == fin"      # the client's FIN
FIN_FROM_SERVER = f"tcp sport {PORT} tcp flags & fin == fin"    # the server's FIN
# The capture stamps an outgoing segment with its skb departure time (EDT,
# from tcp_wstamp_ns), which on a loaded machine trailed the moment
# tcp_retransmit_skb fired by one jiffy (4 ms at HZ=250, seen in full-suite
# runs): retransmission times get one tick more than TOL_US.
RTX_TOL_US = TOL_US + 4000


@pytest.mark.parametrize("exponential", [True, False], ids=["classic-backoff", "kernel-default"])
def test_two_dropped_syns(ns, exponential):
    """Classic backoff: SYNs at 0, 1 s, 3 s (handshake ~3 s). The kernel's
    default: 0, 1 s, 2 s with tcp_syn_linear_timeouts (6.5+, 4 linear
    timeouts), the classic schedule without it (tfenv.SynSchedule)."""
    sched = ns.syn_schedule(exponential)
    gaps_s = sched.gaps(2)
    ns.drop_first("syn", SYN, 2)
    c = Checked(tfenv.exchange(ns, "127.0.0.1", PORT))
    t, ctx = c.t, c.ctx
    assert ns.counter("drop_syn") == 2 and ns.counter("seen_syn") == 3, ctx
    assert len(t.syns) == 3, ctx
    for i, gap in enumerate(gaps_s):      # the kernel did what we think (+-100 ms)
        got = (t.syns[i + 1].t_ns - t.syns[i].t_ns) / 1e9
        assert abs(got - gap) < 0.1, f"SYN gap {i}: {got:.3f} s, expected ~{gap:g} s ({sched})\n{ctx}"

    cr = c.client
    assert cr["syn_retrans"] == 2 == len(t.syns) - 1, ctx
    assert cr["retrans"] == 2, ctx
    syn_rt = check_retransmits(cr, "SYN", t.syns, t, RTX_TOL_US, ctx)
    assert [r["state"] for r in syn_rt] == ["SYN_SENT", "SYN_SENT"], ctx
    near(cr["handshake_us"], t.client_hs_us, TOL_US, "client handshake_us", ctx)
    assert abs(cr["handshake_us"] - sum(gaps_s) * 1e6) < 100_000, ctx
    check_close(cr, "active", ctx)

    # The server only ever saw the third SYN: a plain, fast handshake.
    sr = c.server
    assert sr["synack_retrans"] == 0 == len(t.synacks) - 1, ctx
    near(sr["handshake_us"], t.server_hs_us, TOL_US, "server handshake_us", ctx)


def test_dropped_synack(ns):
    """Drop the first SYN too and use classic backoff, so the server's
    SYN-ACK timer (t=2 s) fires 1 s before the client's next SYN (t=3 s):
    exactly one timer-driven SYN-ACK retransmission (docs/KERNEL.md, fact 7).
    The server's handshake runs from its FIRST SYN-ACK (t=1 s) to the final
    ACK: ~1 s."""
    assert ns.syn_schedule(exponential=True).gaps(2) == (1, 2)
    ns.drop_first("syn", SYN, 1)
    ns.drop_first("synack", SYNACK, 1)
    c = Checked(tfenv.exchange(ns, "127.0.0.1", PORT))
    t, ctx = c.t, c.ctx
    assert ns.counter("drop_syn") == 1 and ns.counter("drop_synack") == 1, ctx
    assert (len(t.syns), len(t.synacks)) == (2, 2), ctx

    sr = c.server
    assert sr["synack_retrans"] == len(t.synacks) - 1 == 1, ctx
    check_retransmits(sr, "SYNACK", t.synacks, t, RTX_TOL_US, ctx)
    near(sr["handshake_us"], t.server_hs_us, TOL_US, "server handshake_us (from the first SYN-ACK)", ctx)
    assert 900_000 < sr["handshake_us"] < 1_100_000, ctx
    assert sr["states"][0] == {"state": "SYN_RECV", "t_us": 0, "derived": True}, ctx
    near(tfenv.state_t(sr, "ESTABLISHED"), t.server_hs_us, TOL_US, "server ESTABLISHED t_us", ctx)
    assert sr["pid"] == c.ex.server.pid, ctx

    cr = c.client
    assert cr["syn_retrans"] == 1 == len(t.syns) - 1, ctx
    near(cr["handshake_us"], t.client_hs_us, TOL_US, "client handshake_us", ctx)


def one_fin_dropped(ns, whose, server):
    """The client closes first (20 ms after connecting), the server after it
    with `server`'s options; the first FIN of `whose` side ("client": sent
    in FIN_WAIT1, "server": in LAST_ACK) is dropped once. Checks what the
    loss must show on both ends; returns the Checked exchange and the record
    of `whose` side."""
    ns.drop_first("fin", FIN_TO_SERVER if whose == "client" else FIN_FROM_SERVER, 1)
    c = Checked(tfenv.exchange(ns, "127.0.0.1", PORT, server=server,
                               client=("--close", "first", "--hold-ms", "20")))
    t, ctx = c.t, c.ctx
    fins, peer_fins = (t.c_fins, t.s_fins) if whose == "client" else (t.s_fins, t.c_fins)
    assert ns.counter("drop_fin") == 1, ctx
    assert len(fins) == 2, ctx

    rec, peer = (c.client, c.server) if whose == "client" else (c.server, c.client)
    state = "FIN_WAIT1" if whose == "client" else "LAST_ACK"
    by_state = {s: rec[f"fin_retrans_{s}"] for s in ("fin_wait1", "last_ack", "closing")}
    assert rec["fin_retrans"] == 1 == len(fins) - 1, ctx
    assert by_state == {s: int(s == state.lower()) for s in by_state}, (by_state, ctx)
    fin_rt = check_retransmits(rec, "FIN", fins, t, RTX_TOL_US, ctx)
    assert [r["state"] for r in fin_rt] == [state], ctx
    # fin_ack_us spans the loss: first FIN -> the ACK of the retransmitted one
    ack = t.fin_acked(fins[0], from_client=whose == "client")
    near(rec["fin_ack_us"], us(fins[0].t_ns, ack.t_ns), TOL_US, f"{whose} fin_ack_us", ctx)

    assert peer["fin_retrans"] == len(peer_fins) - 1, ctx
    check_close(c.client, "active", ctx)
    check_close(c.server, "passive", ctx)
    return c, rec


def test_dropped_fin_of_active_closer(ns):
    """The client closes first; its first FIN is dropped and retransmitted
    (tail-loss probe, ~200 ms) in FIN_WAIT1."""
    one_fin_dropped(ns, "client", server=("--close", "after-peer"))


def test_retransmission_no_program_saw(ns):
    """A FIN retransmission that reaches none of our programs: the shim
    attaches on_retrans_skb deaf (the kernel never runs it), as when a
    tracepoint's events reach no BPF program (docs/KERNEL.md, fact 6). The
    record cannot show it, but at the close the kernel's own count
    (tcp_sock.total_retrans, Linux 6.17+) gives it away: the record carries
    events_lost and the run counts as many retrans_unseen as nftables saw
    FINs beyond the first. Before 6.17 nothing is compared: 0."""
    shim = tfenv.ROOT / "build" / "tests" / "refuse_progs.so"
    tfenv.require_bin(shim, "build it with `make tools`")
    ns.drop_first("fin", FIN_TO_SERVER, 1)
    cap = ns.capture(f"tcp port {PORT}")
    tr = tfenv.Tracer(ns, [PORT], env={"LD_PRELOAD": str(shim), "TF_DEAF_PROGS": "on_retrans_skb"})
    cli, srv = tfenv.run_pair(ns, "127.0.0.1", PORT, server=("--close", "after-peer"),
                              client=("--close", "first", "--hold-ms", "20"))
    res = tr.stop()
    ex = tfenv.Exchange(res, cap.stop(), srv, cli, PORT)
    t = ex.truth(0)
    ctx = res.describe()
    assert ns.counter("drop_fin") == 1 and len(t.c_fins) == 2, t.dump()
    (st,) = res.stats
    cr = res.one("client", t.cport, PORT)
    assert cr["fin_retrans"] == cr["retrans"] == 0 and cr["retransmits"] == [], ctx
    counted = tfenv.retransmit_reports_failures()
    assert st["retrans_unseen"] == (len(t.c_fins) - 1 if counted else 0), ctx
    assert ("events_lost" in cr["flags"]) == counted, ctx
    assert "events_lost" not in res.one("server", PORT, t.cport)["flags"], ctx
    assert "retransmitted segments the kernel counted reached none of our programs" in \
        res.stderr if counted else "reached none" not in res.stderr, res.stderr
    assert st["features"]["retransmits"] == "enabled", ctx


def test_dropped_fin_of_passive_closer(ns):
    """The client closes first; the server closes 100 ms after the client's
    FIN (its delayed ACK goes out alone first), and that FIN is dropped: one
    retransmission in LAST_ACK, ACKed by the client's timewait socket."""
    c, sr = one_fin_dropped(ns, "server", server=("--close", "after-peer", "--hold-ms", "100"))
    ack = c.t.fin_acked(c.t.s_fins[0], from_client=False)
    check_timeline(sr, c.t, [("CLOSE", ack.t_ns)], c.ctx)


# A connection that exists before the tracer: client and server in Python,
# each step on a line of the client's stdin.
EARLY_SERVER = r"""
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(1)
print("listening", flush=True)
c, _ = l.accept()
got = b""
while len(got) < 100:
    got += c.recv(100 - len(got))
c.sendall(b"k")
c.recv(1)
c.close()
"""
EARLY_CLIENT = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", s.getsockname()[1], flush=True)
sys.stdin.readline()
s.sendall(b"x" * 100)
assert s.recv(1) == b"k"
print("answered", flush=True)
sys.stdin.readline()
s.close()
"""


def test_retransmits_without_a_record(ns):
    """A connection that began before tracing: its data is dropped twice and
    retransmitted while the tracer holds no record for it (one begins at its
    next state change). Those retransmissions are in no record: each is
    counted as lost (lost_no_record), as many as the nftables counter saw
    beyond the original segment, and as the namespace's TcpRetransSegs."""
    data = f"tcp dport {PORT} ip length > 100"     # the client's 100-byte segment
    ns.drop_first("data", data, 2)
    srv = tfenv.Proc(ns.cmd("python3", "-c", EARLY_SERVER, PORT), workdir=ns.workdir, name="server")
    ns.procs.append(srv)
    srv.wait_line(lambda l: l == "listening", 10)
    cli = tfenv.Proc(ns.cmd("python3", "-c", EARLY_CLIENT, PORT), stdin=True, workdir=ns.workdir,
                     name="client")
    ns.procs.append(cli)
    cport = int(cli.wait_line(lambda l: l.startswith("connected"), 10).split()[1])
    tr = tfenv.Tracer(ns, [PORT])
    cli.send("send\n")
    cli.wait_line(lambda l: l == "answered", 20)
    cli.send("close\n")
    assert cli.wait(10) == 0 and srv.wait(10) == 0, (cli.stderr(), srv.stderr())
    res = tr.stop()
    st = tfenv.check_run(res)
    ctx = res.describe()
    retrans = ns.counter("seen_data") - 1
    assert ns.counter("drop_data") == 2 and retrans >= 2, ctx
    (kernel,) = [int(l.split()[1]) for l in ns.exec("nstat", "-asz", "TcpRetransSegs").stdout
                 .splitlines() if l.startswith("TcpRetransSegs ")]
    assert kernel == retrans, (kernel, retrans, ctx)
    assert st["lost_no_record"] == retrans, ctx
    assert st["lost"] >= retrans, ctx
    # the record that began at close() holds none of them, and says it began late
    (cr,) = [c for c in res.conns if c["sport"] == cport]
    assert "began_before_trace" in cr["flags"] and cr["retrans"] == 0, ctx
