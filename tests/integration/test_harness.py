# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The ground truth itself, without the tracer: namespace, nftables drop
counters, capture + pcap parser, tcpgen. When a tracer test fails, these say
whether the harness or the tracer is to blame."""

import pytest

import tfenv

pytestmark = pytest.mark.root
PORT = 5000


# Once in CI, before tfenv.exchange ran both ends on one CPU, this saw the server's
# stack reset the connection after an orderly close (see tfenv.one_cpu).
@pytest.mark.parametrize("addr", ["127.0.0.1", "::1"])
def test_capture_sees_a_whole_connection(ns, addr):
    ex = tfenv.exchange(ns, addr, PORT, client=("--close", "first", "--hold-ms", "20"), trace=False)
    (cc,) = ex.client.conns()
    (sc,) = ex.server.conns()
    assert cc["connect_errno"] == 0 and cc["pid"] == ex.client.pid
    assert sc["pid"] == ex.server.pid and sc["rport"] == cc["lport"] and sc["peer"] == "eof"
    t = ex.truth()
    assert all(p.src == addr and p.dst == addr for p in t.pkts), t.dump()
    assert (len(t.syns), len(t.synacks), len(t.c_fins), len(t.s_fins)) == (1, 1, 1, 1), t.dump()
    assert t.hs_ack is not None and t.syns[0].t_ns < t.synacks[0].t_ns <= t.hs_ack.t_ns, t.dump()
    assert 0 < t.client_hs_us < 100_000, t.dump()
    # the passive closer (server) closes right away, so its FIN carries the ACK
    assert t.fin_acked(t.c_fins[0], from_client=True) is not None, t.dump()
    assert t.fin_acked(t.s_fins[0], from_client=False) is not None, t.dump()
    assert not t.c_rsts and not t.s_rsts, t.dump()


def test_nft_drops_first_syn_and_counts(ns):
    (gap_s,) = ns.syn_schedule().gaps(1)      # the initial RTO on every kernel: 1 s
    ns.drop_first("syn", f"tcp dport {PORT} tcp flags & (syn|ack) == syn", 1)
    ex = tfenv.exchange(ns, "127.0.0.1", PORT, trace=False)
    t = ex.truth()
    assert ns.counter("drop_syn") == 1
    assert ns.counter("seen_syn") == 2
    assert len(t.syns) == 2, t.dump()
    gap_ms = (t.syns[1].t_ns - t.syns[0].t_ns) / 1e6
    assert gap_s * 1000 - 10 <= gap_ms <= gap_s * 1000 + 100, (
        f"SYN retransmit after {gap_ms:.1f} ms, expected ~{gap_s:g} s\n{t.dump()}")


def test_linger0_and_refused(ns):
    ex = tfenv.exchange(ns, "127.0.0.1", PORT, client=("--close", "linger0", "--hold-ms", "10"),
                        trace=False)
    t = ex.truth()
    assert len(t.c_rsts) == 1 and not t.c_fins, t.dump()
    assert ex.server.conns()[0]["peer"] == "reset"

    ex = tfenv.exchange(ns, "127.0.0.1", PORT + 1, trace=False, listen=False)
    (cc,) = ex.client.conns()
    assert cc["connect_errno"] == 111
    t = ex.truth()
    assert len(t.syns) == 1 and len(t.s_rsts) == 1 and not t.synacks, t.dump()
