# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--pid and --port filters: what is reported, and what must not be."""

import pytest

import tfenv

pytestmark = pytest.mark.root
PORT = 5000


def test_pid_filter_two_clients(ns):
    """Two client processes, tracer --pid A: only A's connections appear (not
    B's, not the server side, whose pid is the listener's owner)."""
    srv = ns.server("127.0.0.1", PORT, "--count", "4", "--close", "after-peer")
    a = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--count", "2",
                  "--close", "first", "--wait-stdin", stdin=True, name="client-a")
    b = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--count", "2",
                  "--close", "first", "--wait-stdin", stdin=True, name="client-b")
    pid_a = a.wait_event("ready")["pid"]
    pid_b = b.wait_event("ready")["pid"]
    assert pid_a != pid_b
    tr = tfenv.Tracer(ns, [PORT], pid=pid_a)
    a.send("go\n")
    b.send("go\n")
    assert a.wait(20) == 0 and b.wait(20) == 0 and srv.wait(20) == 0
    res = tr.stop()
    tfenv.check_run(res)
    ctx = res.describe()
    ports_a = sorted(c["lport"] for c in a.conns())
    ports_b = sorted(c["lport"] for c in b.conns())
    assert len(ports_a) == 2 and len(ports_b) == 2
    got = sorted((c["role"], c["pid"], c["sport"]) for c in res.conns)
    assert got == [("client", pid_a, p) for p in ports_a], f"A={pid_a} {ports_a} B={pid_b} {ports_b}\n{ctx}"


def test_pid_filter_listener_owner(ns):
    """tracer --pid SERVER started after the server listens: the accepted
    connections are reported with the server's pid; the clients' are not."""
    srv = ns.server("127.0.0.1", PORT, "--count", "2", "--close", "after-peer")
    tr = tfenv.Tracer(ns, [PORT], pid=srv.pid)
    cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--count", "2",
                    "--close", "first", name="client")
    assert cli.wait(20) == 0 and srv.wait(20) == 0
    res = tr.stop()
    tfenv.check_run(res)
    ctx = res.describe()
    cports = sorted(c["lport"] for c in cli.conns())
    got = sorted((c["role"], c["pid"], c["sport"], c["dport"]) for c in res.conns)
    assert got == [("server", srv.pid, PORT, p) for p in cports], f"server pid {srv.pid}\n{ctx}"
    for c in res.conns:
        assert c["complete"] is True and c["close"] == "passive", ctx


def test_port_filter(ns):
    """--port P1 --port P2: traffic on P3 in the same namespace is not reported."""
    ports = [PORT, PORT + 1, PORT + 2]
    tr = tfenv.Tracer(ns, ports[:2])
    clients = {}
    for p in ports:
        srv = ns.server("127.0.0.1", p, "--close", "after-peer", name=f"server-{p}")
        cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", p, "--close", "first", name=f"client-{p}")
        assert cli.wait(20) == 0 and srv.wait(20) == 0
        clients[p] = cli.conns()[0]["lport"]
    res = tr.stop()
    tfenv.check_run(res)
    ctx = res.describe()
    got = sorted((c["role"], c["sport"], c["dport"]) for c in res.conns)
    want = sorted([("client", clients[p], p) for p in ports[:2]] +
                  [("server", p, clients[p]) for p in ports[:2]])
    assert got == want, ctx
    assert not any(ports[2] in (c["sport"], c["dport"]) for c in res.conns), ctx


def test_netns_filter(ns_factory):
    """--netns A: identical traffic (same port) in namespace B is not reported."""
    na, nb = ns_factory("a"), ns_factory("b")
    tr = tfenv.Tracer(na, [PORT])
    for n in (na, nb):
        srv = n.server("127.0.0.1", PORT, "--close", "after-peer")
        cli = n.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--close", "first", name="client")
        assert cli.wait(20) == 0 and srv.wait(20) == 0
    res = tr.stop()
    tfenv.check_run(res)
    assert len(res.conns) == 2 and {c["netns"] for c in res.conns} == {na.inum}, res.describe()


@pytest.mark.parametrize("flag,family,addr", [("-4", "ipv4", "127.0.0.1"), ("-6", "ipv6", "::1")])
def test_family_filter(ns, flag, family, addr):
    """-4 / -6: one connection over each family on the same port; only the
    asked family is reported (client and server side)."""
    tr = tfenv.Tracer(ns, [PORT], extra=[flag])
    for a in ("127.0.0.1", "::1"):
        srv = ns.server(a, PORT, "--close", "after-peer", name=f"server-{a}")
        cli = ns.tcpgen("client", "--connect", a, "--port", PORT, "--close", "first", name=f"client-{a}")
        assert cli.wait(20) == 0 and srv.wait(20) == 0
        if a == addr:
            cport = cli.conns()[0]["lport"]
    res = tr.stop()
    tfenv.check_run(res)
    got = sorted((c["role"], c["family"], c["sport"], c["dport"]) for c in res.conns)
    assert got == [("client", family, cport, PORT), ("server", family, PORT, cport)], res.describe()


def test_port_filter_client_ephemeral_port(ns):
    """--port matching only the client's own (ephemeral) port, chosen by
    connect() after the CLOSE -> SYN_SENT event: the client is decided at its
    next event (pending filter), the accepted child at once (its remote port).
    The namespace's ip_local_port_range is narrowed to two ports inside the
    kernel's default range so the filter knows them in advance; a client on
    an unfiltered listener port is reported on both sides, nothing else."""
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40001")
    tr = tfenv.Tracer(ns, [40000, 40001])
    srv = ns.server("127.0.0.1", PORT, "--count", "2", "--close", "after-peer")
    cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--count", "2",
                    "--close", "first", name="client")
    assert cli.wait(20) == 0 and srv.wait(20) == 0
    res = tr.stop()
    tfenv.check_run(res)
    cports = sorted(c["lport"] for c in cli.conns())
    assert cports == [40000, 40001], cports   # ground truth: getsockname() in tcpgen
    got = sorted((c["role"], c["sport"], c["dport"]) for c in res.conns)
    want = sorted([("client", p, PORT) for p in cports] + [("server", PORT, p) for p in cports])
    assert got == want, res.describe()
    for c in res.conns:
        assert c["complete"] is True, res.describe()
        # the listener (port 5000, not filtered) still names the server side's owner
        assert c["pid"] == (srv.pid if c["role"] == "server" else cli.pid), res.describe()
