# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Orderly lifecycles: handshake and four-way close, both ends, checked
against the packet capture. Every time is compared with tfenv.TOL_US (2 ms):
client times are relative to its first SYN in the pcap, server times to its
first SYN-ACK (the tracer's t_us 0 for each role)."""

import pytest

import tfenv
from tfcheck import Checked, check_close, check_timeline
from tfenv import TOL_US, near, states, us

pytestmark = pytest.mark.root
PORT = 5000


def check_identity(rec, ns, family, addr, pid):
    assert rec["family"] == family
    assert (rec["saddr"], rec["daddr"]) == (addr, addr)
    assert rec["netns"] == ns.inum
    assert rec["pid"] == pid, f"pid {rec['pid']}, expected {pid} ({rec['role']})"
    assert rec["comm"] == "tcpgen"
    assert rec["complete"] is True
    assert rec["reset"] is None


def check_retrans_counts(cr, sr, t, ctx):
    """Retransmission counters equal what the capture shows (usually all 0;
    a rare lost FIN on loopback is retransmitted ~200 ms later, and must then
    be counted)."""
    c_fin, s_fin = len(t.c_fins) - 1, len(t.s_fins) - 1
    assert (cr["syn_retrans"], cr["fin_retrans"], cr["retrans"]) == (len(t.syns) - 1, c_fin,
                                                                     len(t.syns) - 1 + c_fin), ctx
    assert (sr["synack_retrans"], sr["fin_retrans"], sr["retrans"]) == (len(t.synacks) - 1, s_fin,
                                                                        len(t.synacks) - 1 + s_fin), ctx
    assert len(cr["retransmits"]) == cr["retrans"] and len(sr["retransmits"]) == sr["retrans"], ctx


def check_handshake(cr, sr, t, ctx):
    """Client: first SYN -> its ACK of the SYN-ACK. Server: first SYN-ACK -> that ACK."""
    assert cr["handshake_method"] == "syn_sent"
    near(cr["handshake_us"], t.client_hs_us, TOL_US, "client handshake_us", ctx)
    near(tfenv.state_t(cr, "ESTABLISHED"), t.client_hs_us, TOL_US, "client ESTABLISHED t_us", ctx)
    assert sr["handshake_method"] in ("synack_rtt", "synack_ts")
    near(sr["handshake_us"], t.server_hs_us, TOL_US, "server handshake_us", ctx)
    assert sr["states"][0] == {"state": "SYN_RECV", "t_us": 0, "derived": True}, sr["states"]
    near(tfenv.state_t(sr, "ESTABLISHED"), t.server_hs_us, TOL_US, "server ESTABLISHED t_us", ctx)


def closes_first(ns, closer, addr="127.0.0.1", family="ipv4"):
    """One connection on which `closer` ("client" or "server") closes first,
    20 ms after the handshake, and the other end right after the FIN. Checks
    what every orderly close must show on both ends against the capture;
    returns the Checked exchange."""
    first, after = ("--close", "first", "--hold-ms", "20"), ("--close", "after-peer")
    by_client = closer == "client"
    ex = tfenv.exchange(ns, addr, PORT, server=after if by_client else first,
                        client=first if by_client else after)
    c = Checked(ex)
    t, ctx = c.t, c.ctx
    cr, sr = c.client, c.server
    check_identity(cr, ns, family, addr, ex.client.pid)
    check_identity(sr, ns, family, addr, ex.server.pid)
    active, passive = (cr, sr) if by_client else (sr, cr)
    check_close(active, "active", ctx)
    check_close(passive, "passive", ctx)
    check_handshake(cr, sr, t, ctx)
    check_retrans_counts(cr, sr, t, ctx)

    a_fin, p_fin = (t.c_fins[0], t.s_fins[0]) if by_client else (t.s_fins[0], t.c_fins[0])
    a_ack = t.fin_acked(a_fin, from_client=by_client)
    p_ack = t.fin_acked(p_fin, from_client=not by_client)
    check_timeline(active, t, [("FIN_WAIT1", a_fin.t_ns), ("FIN_WAIT2", a_ack.t_ns)], ctx)
    check_timeline(passive, t, [("CLOSE_WAIT", a_fin.t_ns), ("LAST_ACK", p_fin.t_ns),
                                ("CLOSE", p_ack.t_ns)], ctx)
    # fin_ack_us: our first FIN -> its ACK
    near(active["fin_ack_us"], us(a_fin.t_ns, a_ack.t_ns), TOL_US, f"{closer} fin_ack_us", ctx)
    return c


@pytest.mark.parametrize("family,addr", [("ipv4", "127.0.0.1"), ("ipv6", "::1")])
def test_client_closes_first(ns, family, addr):
    c = closes_first(ns, "client", addr, family)
    t, sr, ctx = c.t, c.server, c.ctx
    assert (len(t.syns), len(t.synacks)) == (1, 1), ctx
    assert len(c.ex.trace.conns) == 2, ctx
    s_fin_ack = t.fin_acked(t.s_fins[0], from_client=False)
    near(sr["fin_ack_us"], us(t.s_fins[0].t_ns, s_fin_ack.t_ns), TOL_US, "server fin_ack_us", ctx)
    # close_us: first FIN sent or received -> CLOSE (server: client FIN -> ACK of its own FIN)
    near(sr["close_us"], us(t.c_fins[0].t_ns, s_fin_ack.t_ns), TOL_US, "server close_us", ctx)


def test_server_closes_first(ns):
    c = closes_first(ns, "server")
    sr = c.server
    near(sr["time_wait_at_us"], tfenv.state_t(sr, "CLOSE"), 0, "server time_wait_at_us", c.ctx)


def test_shutdown_wr_waits_for_peer_fin(ns):
    """Not orphaned (shutdown(SHUT_WR)): FIN_WAIT2 -> CLOSE only when the peer's
    FIN arrives (docs/KERNEL.md, fact 2). The server delays its close by
    100 ms, so its ACK of our FIN is the delayed ACK (~40 ms, fact 3) and its
    FIN comes ~100 ms after ours. close_us = our FIN -> CLOSE (peer FIN)."""
    c = Checked(tfenv.exchange(ns, "127.0.0.1", PORT, server=("--close", "after-peer", "--hold-ms", "100"),
                               client=("--close", "shutdown-wr", "--hold-ms", "20")))
    t, ctx = c.t, c.ctx
    cr = c.client
    check_close(cr, "active", ctx)
    c_fin_ack = t.fin_acked(t.c_fins[0], from_client=True)
    assert c_fin_ack is not None and not c_fin_ack.fin, f"expected a pure (delayed) ACK\n{ctx}"
    check_timeline(cr, t, [("FIN_WAIT1", t.c_fins[0].t_ns), ("FIN_WAIT2", c_fin_ack.t_ns),
                           ("CLOSE", t.s_fins[0].t_ns)], ctx)
    near(cr["fin_ack_us"], us(t.c_fins[0].t_ns, c_fin_ack.t_ns), TOL_US, "client fin_ack_us", ctx)
    near(cr["close_us"], us(t.c_fins[0].t_ns, t.s_fins[0].t_ns), TOL_US, "client close_us", ctx)
    assert cr["close_us"] >= 90_000, ctx


def test_open_connection_flushed_at_exit(ns):
    """SIGINT while a connection is established: flushed with complete=false."""
    cap = ns.capture(f"tcp port {PORT}")
    tr = tfenv.Tracer(ns, [PORT])
    srv = ns.server("127.0.0.1", PORT, "--close", "after-peer")
    cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--close", "first",
                    "--hold-ms", "5000", name="client")
    tfenv.wait_until(lambda: any(p.syn for p in tfenv.read_pcap(cap.path)), 5)
    res = tr.stop(settle=0.3)
    cli.kill()
    srv.kill()
    t_pkts = cap.stop()
    tfenv.check_run(res)
    syn = next(p for p in t_pkts if p.syn and not p.has_ack)
    cr = res.one("client", syn.sport, PORT)
    sr = res.one("server", PORT, syn.sport)
    ctx = res.describe()
    for r in (cr, sr):
        assert r["complete"] is False, ctx
        assert (r["close"], r["close_end"]) == ("open", "open"), ctx
        assert states(r)[-1] == "ESTABLISHED", ctx
    assert res.stats[0].get("open_at_exit", 2) == 2, ctx
