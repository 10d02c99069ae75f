# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Connections ended by a reset: SO_LINGER {1,0} abort and a refused connect.
Times are compared with the capture within tfenv.TOL_US (2 ms)."""

import pytest

import tfenv
from tfcheck import Checked, check_timeline
from tfenv import states

pytestmark = pytest.mark.root
PORT = 5000


@pytest.mark.parametrize("aborter", ["client", "server"])
def test_linger0_abort(ns, aborter):
    """The aborting side: close=reset, reset=sent; the other: reset=received.
    Both go ESTABLISHED -> CLOSE with no FIN (docs/KERNEL.md, fact 4)."""
    if aborter == "client":
        srv_args, cli_args = ("--close", "after-peer"), ("--close", "linger0", "--hold-ms", "20")
    else:
        srv_args, cli_args = ("--close", "linger0", "--hold-ms", "20"), ("--close", "after-peer")
    c = Checked(tfenv.exchange(ns, "127.0.0.1", PORT, server=srv_args, client=cli_args))
    t, ctx = c.t, c.ctx
    rsts = t.c_rsts if aborter == "client" else t.s_rsts
    assert len(rsts) == 1 and not t.c_fins and not t.s_fins, ctx
    victim = c.ex.server if aborter == "client" else c.ex.client
    assert victim.conns()[0]["peer"] == "reset", victim.lines

    cr, sr = c.client, c.server
    ab, other = (cr, sr) if aborter == "client" else (sr, cr)
    first = "SYN_SENT" if aborter == "client" else "SYN_RECV"
    assert states(ab) == [first, "ESTABLISHED", "CLOSE"], ctx
    assert (ab["close"], ab["close_end"], ab["reset"]) == ("reset", "reset", "sent"), ctx
    assert states(other)[1:] == ["ESTABLISHED", "CLOSE"], ctx
    assert (other["close"], other["close_end"], other["reset"]) == ("reset", "reset", "received"), ctx
    for r in (cr, sr):
        assert r["time_wait"] is False and r["complete"] is True, ctx
        check_timeline(r, t, [("CLOSE", rsts[0].t_ns)], ctx)    # both sides close at the RST


@pytest.mark.parametrize("family,addr", [("ipv4", "127.0.0.1"), ("ipv6", "::1")])
def test_refused_connect(ns, family, addr):
    """No listener: SYN answered by RST; SYN_SENT -> CLOSE, close=refused."""
    c = Checked(tfenv.exchange(ns, addr, PORT, listen=False))
    (cc,) = c.ex.client.conns()
    assert cc["connect_errno"] == 111, cc     # ECONNREFUSED
    t, ctx = c.t, c.ctx
    assert len(t.syns) == 1 and len(t.s_rsts) == 1 and not t.synacks, ctx
    assert len(c.ex.trace.conns) == 1, ctx     # the RST-sending side has no socket
    cr = c.client
    assert cr["family"] == family and cr["pid"] == c.ex.client.pid, ctx
    assert states(cr) == ["SYN_SENT", "CLOSE"], ctx
    assert cr["close"] == "refused" and cr["reset"] == "received", ctx
    assert cr["handshake_us"] is None and cr["time_wait"] is False, ctx
    check_timeline(cr, t, [("CLOSE", t.s_rsts[0].t_ns)], ctx)
