# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Retransmissions forced with nftables (drop the first k matching packets on
input; the capture on lo still sees them). Ground truth: the nft counters and
the pcap. Times are compared with tfenv.TOL_US (2 ms): client t_us against
the pcap relative to its first SYN, server t_us relative to its first SYN-ACK."""

import pytest

import tfenv
from tfenv import TOL_US, near, states

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


def us(a_ns, b_ns):
    return (b_ns - a_ns) / 1000


def ctx_of(ex, t):
    return f"capture:\n{t.dump()}\ntracer:\n{ex.trace.describe()}"


def retransmits(rec, kind):
    return [r for r in rec["retransmits"] if r["kind"] == kind]


@pytest.mark.parametrize("exponential", [True, False], ids=["classic-backoff", "kernel-default"])
def test_two_dropped_syns(ns, exponential):
    """Classic backoff: SYNs at 0, 1 s, 3 s (handshake ~3 s). The kernel's
    default: 0, 1 s, 2 s with tcp_syn_linear_timeouts (6.5+, 4 linear
    timeouts), the classic schedule without it (tfenv.SynSchedule)."""
    sched = ns.syn_schedule(exponential)
    gaps_s = sched.gaps(2)
    ns.drop_first("syn", SYN, 2)
    ex = tfenv.exchange(ns, "127.0.0.1", PORT)
    tfenv.check_run(ex.trace)
    t = ex.truth()
    ctx = ctx_of(ex, t)
    assert ns.counter("drop_syn") == 2 and ns.counter("seen_syn") == 3, ctx
    assert len(t.syns) == 3, ctx
    for i, gap in enumerate(gaps_s):      # the kernel did what we think (+-100 ms)
        got = (t.syns[i + 1].t_ns - t.syns[i].t_ns) / 1e9
        assert abs(got - gap) < 0.1, f"SYN gap {i}: {got:.3f} s, expected ~{gap:g} s ({sched})\n{ctx}"

    cport = ex.client_ports()[0]
    cr = ex.trace.one("client", cport, PORT)
    assert cr["syn_retrans"] == 2 == len(t.syns) - 1, ctx
    assert cr["retrans"] == 2, ctx
    syn_rt = retransmits(cr, "SYN")
    assert [r["state"] for r in syn_rt] == ["SYN_SENT", "SYN_SENT"], ctx
    for r, p in zip(syn_rt, t.syns[1:]):
        near(r["t_us"], us(t.syns[0].t_ns, p.t_ns), RTX_TOL_US, "SYN retransmit t_us", ctx)
    near(cr["handshake_us"], t.client_hs_us, TOL_US, "client handshake_us", ctx)
    assert abs(cr["handshake_us"] - sum(gaps_s) * 1e6) < 100_000, ctx
    assert states(cr) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE"], ctx

    # The server only ever saw the third SYN: a plain, fast handshake.
    sr = ex.trace.one("server", PORT, cport)
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
    ex = tfenv.exchange(ns, "127.0.0.1", PORT)
    tfenv.check_run(ex.trace)
    t = ex.truth()
    ctx = ctx_of(ex, t)
    assert ns.counter("drop_syn") == 1 and ns.counter("drop_synack") == 1, ctx
    assert (len(t.syns), len(t.synacks)) == (2, 2), ctx

    cport = ex.client_ports()[0]
    sr = ex.trace.one("server", PORT, cport)
    assert sr["synack_retrans"] == len(t.synacks) - 1 == 1, ctx
    sa_rt = retransmits(sr, "SYNACK")
    assert len(sa_rt) == 1, ctx
    near(sa_rt[0]["t_us"], us(t.synacks[0].t_ns, t.synacks[1].t_ns), RTX_TOL_US, "SYN-ACK retransmit t_us", ctx)
    near(sr["handshake_us"], t.server_hs_us, TOL_US, "server handshake_us (from the first SYN-ACK)", ctx)
    assert 900_000 < sr["handshake_us"] < 1_100_000, ctx
    assert sr["states"][0] == {"state": "SYN_RECV", "t_us": 0, "derived": True}, ctx
    near(tfenv.state_t(sr, "ESTABLISHED"), t.server_hs_us, TOL_US, "server ESTABLISHED t_us", ctx)
    assert sr["pid"] == ex.server.pid, ctx

    cr = ex.trace.one("client", cport, PORT)
    assert cr["syn_retrans"] == 1 == len(t.syns) - 1, ctx
    near(cr["handshake_us"], t.client_hs_us, TOL_US, "client handshake_us", ctx)


def test_dropped_fin_of_active_closer(ns):
    """The client closes first; its first FIN is dropped and retransmitted
    (tail-loss probe, ~200 ms) in FIN_WAIT1."""
    ns.drop_first("fin", FIN_TO_SERVER, 1)
    ex = tfenv.exchange(ns, "127.0.0.1", PORT, server=("--close", "after-peer"),
                        client=("--close", "first", "--hold-ms", "20"))
    tfenv.check_run(ex.trace)
    t = ex.truth()
    ctx = ctx_of(ex, t)
    assert ns.counter("drop_fin") == 1, ctx
    assert len(t.c_fins) == 2, ctx

    cport = ex.client_ports()[0]
    cr = ex.trace.one("client", cport, PORT)
    assert cr["fin_retrans_fin_wait1"] == 1 == len(t.c_fins) - 1, ctx
    assert (cr["fin_retrans"], cr["fin_retrans_last_ack"], cr["fin_retrans_closing"]) == (1, 0, 0), ctx
    fin_rt = retransmits(cr, "FIN")
    assert [r["state"] for r in fin_rt] == ["FIN_WAIT1"], ctx
    near(fin_rt[0]["t_us"], us(t.syns[0].t_ns, t.c_fins[1].t_ns), RTX_TOL_US, "FIN retransmit t_us", ctx)
    assert states(cr) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE"], ctx
    assert cr["close"] == "active" and cr["time_wait"] is True, ctx
    # fin_ack_us spans the loss: first FIN -> the ACK of the retransmitted one
    ack = t.fin_acked(t.c_fins[0], from_client=True)
    near(cr["fin_ack_us"], us(t.c_fins[0].t_ns, ack.t_ns), TOL_US, "client fin_ack_us", ctx)

    sr = ex.trace.one("server", PORT, cport)
    assert sr["fin_retrans"] == len(t.s_fins) - 1, ctx
    assert states(sr) == ["SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"], ctx


def test_dropped_fin_of_passive_closer(ns):
    """The client closes first; the server closes 100 ms after the client's
    FIN (its delayed ACK goes out alone first), and that FIN is dropped: one
    retransmission in LAST_ACK, ACKed by the client's timewait socket."""
    ns.drop_first("fin", FIN_FROM_SERVER, 1)
    ex = tfenv.exchange(ns, "127.0.0.1", PORT, server=("--close", "after-peer", "--hold-ms", "100"),
                        client=("--close", "first", "--hold-ms", "20"))
    tfenv.check_run(ex.trace)
    t = ex.truth()
    ctx = ctx_of(ex, t)
    assert ns.counter("drop_fin") == 1, ctx
    assert len(t.s_fins) == 2, ctx

    cport = ex.client_ports()[0]
    sr = ex.trace.one("server", PORT, cport)
    assert sr["fin_retrans_last_ack"] == 1 == len(t.s_fins) - 1, ctx
    assert (sr["fin_retrans"], sr["fin_retrans_fin_wait1"], sr["fin_retrans_closing"]) == (1, 0, 0), ctx
    fin_rt = retransmits(sr, "FIN")
    assert [r["state"] for r in fin_rt] == ["LAST_ACK"], ctx
    near(fin_rt[0]["t_us"], us(t.synacks[0].t_ns, t.s_fins[1].t_ns), RTX_TOL_US, "FIN retransmit t_us", ctx)
    assert states(sr) == ["SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"], ctx
    assert (sr["close"], sr["close_end"]) == ("passive", "orderly"), ctx
    ack = t.fin_acked(t.s_fins[0], from_client=False)
    near(tfenv.state_t(sr, "CLOSE"), us(t.synacks[0].t_ns, ack.t_ns), TOL_US, "server CLOSE t_us", ctx)
    near(sr["fin_ack_us"], us(t.s_fins[0].t_ns, ack.t_ns), TOL_US, "server fin_ack_us", ctx)

    cr = ex.trace.one("client", cport, PORT)
    assert cr["fin_retrans"] == len(t.c_fins) - 1, ctx
    assert states(cr) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE"], ctx
