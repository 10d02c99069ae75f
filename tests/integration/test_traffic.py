# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What each connection carried and how far its peer was: bytes, segments and
RTT read at CLOSE, against the applications' own counts, the capture's
sequence numbers and `ss -ti` taken just before the close."""

import os
import random
import re
import signal
import time

import pytest

import tfenv

pytestmark = pytest.mark.root
PORT = 5600
TRAFFIC = ("bytes_acked", "bytes_received", "segs_out", "segs_in", "rtt_us", "min_rtt_us")


# ---- ground truth ------------------------------------------------------------

def ss_sockets(ns):
    """`ss -tni` in ns: {(local port, peer port): {field: int or float}} (rtt in ms)."""
    out = ns.exec("ss", "-tniH").stdout
    socks, key = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace():
            f = line.split()
            key = (int(f[3].rsplit(":", 1)[1]), int(f[4].rsplit(":", 1)[1]))
            socks[key] = {"state": f[0]}
            continue
        if key is None:
            continue
        info = socks[key]
        m = re.search(r"\brtt:([\d.]+)/", line)
        if m:
            info["rtt"] = float(m.group(1))
        for name in ("minrtt",):
            m = re.search(rf"\b{name}:([\d.]+)", line)
            if m:
                info[name] = float(m.group(1))
        for name in ("bytes_acked", "bytes_received", "segs_out", "segs_in"):
            m = re.search(rf"\b{name}:(\d+)", line)
            if m:
                info[name] = int(m.group(1))
    return socks


def ss_when_acked(ns, acked):
    """ss_sockets(ns) once every socket {(local, peer port): bytes_acked} shows its
    data acknowledged (ACKs may trail the writes the programs reported)."""
    def done():
        s = ss_sockets(ns)
        return s if all(s.get(k, {}).get("bytes_acked") == v for k, v in acked.items()) else None
    got = tfenv.wait_until(done, 10)
    assert got, f"ss never showed {acked} acknowledged: {ss_sockets(ns)}"
    return got


def held_exchange(ns, srv_send, cli_send, close):
    """A tcpgen server that sends srv_send bytes and a client that sends cli_send
    and closes with `close` once told: (server, client, client port, ss -ti of
    both sockets the moment before the client closes)."""
    with tfenv.one_cpu():
        srv = ns.server("127.0.0.1", PORT, "--send", srv_send, "--close", "after-peer")
        cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--send", cli_send,
                        "--close", close, "--wait-stdin-close", stdin=True, name="client")
    cport = cli.wait_event("up")["lport"]
    srv.wait_event("up")
    ss_when_acked(ns, {(cport, PORT): cli_send + 1, (PORT, cport): srv_send})
    before = ss_sockets(ns)   # the last look, right before the close
    cli.send("go\n")
    assert cli.wait(30) == 0 and srv.wait(30) == 0, (cli.lines, srv.lines)
    return srv, cli, cport, before


def rel(x, base):
    return (x - base) % (1 << 32)


def seq_counters(t):
    """The kernel's counters at the end, from the capture alone (tfenv.Truth t).

    RFC 4898 sequence space, as tcp_snd_una_update()/tcp_rcv_nxt_update() add
    them up: bytes_acked grows from the first unacknowledged sequence number
    (the client's ISN: its SYN counts; the server child starts at its ISN + 1:
    the SYN-ACK does not), bytes_received from the peer's ISN + 1 (a FIN
    counts one). docs/KERNEL.md, fact 9."""
    c_isn, s_isn = t.syns[0].seq, t.synacks[0].seq
    from_c = [p for p in t.pkts if p.sport == t.cport]
    from_s = [p for p in t.pkts if p.sport == t.sport]

    def highest_ack(pkts, isn):
        return max((rel(p.ack, isn) for p in pkts if p.has_ack), default=0)

    def highest_seq(pkts, isn):
        return max((rel(p.seq + p.plen + p.fin, isn) for p in pkts if not p.syn), default=1)

    return {
        "client": (highest_ack(from_s, c_isn), highest_seq(from_s, s_isn) - 1),
        "server": (highest_ack(from_c, s_isn) - 1, highest_seq(from_c, c_isn) - 1),
    }


def payload(t, sport):
    """Payload bytes a side sent, by the capture's sequence numbers: how far its
    segments after the SYN reach (tcpdump drops packets of a burst under load;
    the FIN's sequence number still tells; a retransmission changes nothing)."""
    isn = t.syns[0].seq if sport == t.cport else t.synacks[0].seq
    return max((rel(p.seq + p.plen, isn) - 1 for p in t.pkts
                if p.sport == sport and not p.syn and (p.plen or p.fin)), default=0)


def gen_conn(gen):
    (c,) = gen.conns()
    return c


# ---- tests ---------------------------------------------------------------------

def test_bytes_exact_both_ways(ns):
    """100 000 bytes up, 3 000 down, orderly close: bytes_acked/bytes_received
    of both records equal the capture's sequence numbers, and the programs'
    own counts plus the SYN (client) and the FIN each side had acknowledged;
    segments and RTT against `ss -ti` taken just before the close."""
    cap = ns.capture(f"tcp port {PORT}")
    tr = tfenv.Tracer(ns, [PORT])
    srv, cli, cport, before = held_exchange(ns, 3000, 100000, "shutdown-wr")
    res = tr.stop()
    pkts = cap.stop()
    tfenv.check_run(res)
    ctx = res.describe()
    cc, sc = gen_conn(cli), gen_conn(srv)
    assert (cc["sent"], cc["received"], sc["sent"], sc["received"]) == (100000, 3000, 3000, 100000), (cc, sc)
    t = tfenv.truth(pkts, cport, PORT)
    ctx += "\ncapture:\n" + t.dump()
    assert payload(t, cport) == 100000 and payload(t, PORT) == 3000, ctx
    assert len(t.c_fins) == 1 and len(t.s_fins) == 1, ctx
    # both FINs were acknowledged (capture): each side's bytes_acked counts its own
    assert t.fin_acked(t.c_fins[0], True) and t.fin_acked(t.s_fins[0], False), ctx
    counters = seq_counters(t)
    cr, sr = res.one("client", cport, PORT), res.one("server", PORT, cport)
    for rec, app, syn in ((cr, cc, 1), (sr, sc, 0)):
        role = rec["role"]
        assert (rec["bytes_acked"], rec["bytes_received"]) == counters[role], f"{role}\n{ctx}"
        assert rec["bytes_acked"] == app["sent"] + syn + 1, f"{role}: app sent {app['sent']}\n{ctx}"
        assert rec["bytes_received"] == app["received"] + 1, f"{role}: app read {app['received']}\n{ctx}"
        pre = before[(rec["sport"], rec["dport"])]
        # the close only adds segments; the exchange of FINs adds at most a few
        assert pre["segs_out"] < rec["segs_out"] <= pre["segs_out"] + 3, f"{role} ss {pre}\n{ctx}"
        assert pre["segs_in"] < rec["segs_in"] <= pre["segs_in"] + 3, f"{role} ss {pre}\n{ctx}"
        # every packet is one segment or more (GSO); the listener sent the SYN-ACK
        sent = [p for p in t.pkts if p.sport == rec["sport"] and not (p.syn and p.has_ack)]
        assert rec["segs_out"] >= len(sent), f"{role}: {len(sent)} packets captured\n{ctx}"
        # RTT: the FINs' samples come after ss; same order of magnitude on loopback
        ss_rtt_us = pre["rtt"] * 1000
        assert 0 < rec["min_rtt_us"] <= rec["rtt_us"], f"{role}\n{ctx}"
        assert rec["min_rtt_us"] <= round(pre["minrtt"] * 1000), f"{role} ss {pre}\n{ctx}"
        assert ss_rtt_us / 10 <= rec["rtt_us"] <= max(10 * ss_rtt_us, ss_rtt_us + 5000), (
            f"{role}: rtt {rec['rtt_us']} us at close, ss said {ss_rtt_us} us\n{ctx}")


def test_counters_equal_ss_before_abort(ns):
    """An abort (SO_LINGER {1,0}) brings no RTT sample and no FIN after `ss -ti`:
    both records' six counters equal what ss showed just before the close."""
    tr = tfenv.Tracer(ns, [PORT])
    srv, cli, cport, before = held_exchange(ns, 20000, 5000, "linger0")
    res = tr.stop()
    tfenv.check_run(res)
    ctx = res.describe()
    cr, sr = res.one("client", cport, PORT), res.one("server", PORT, cport)
    assert cr["close"] == "reset" and cr["reset"] == "sent", ctx
    for rec in (cr, sr):
        pre = before[(rec["sport"], rec["dport"])]
        got = {k: rec[k] for k in TRAFFIC}
        # tcp_disconnect() sets CLOSE before it sends the RST: not counted on the
        # client's side yet; the server counts it received first (KERNEL.md, fact 9)
        want = {"bytes_acked": pre["bytes_acked"], "bytes_received": pre["bytes_received"],
                "segs_out": pre["segs_out"], "segs_in": pre["segs_in"] + (rec is sr),
                "rtt_us": round(pre["rtt"] * 1000), "min_rtt_us": round(pre["minrtt"] * 1000)}
        assert got == want, f"{rec['role']}: tracer {got}, ss before close {pre}\n{ctx}"


def test_refused_zeros_open_null(ns):
    """A refused connect carried nothing (zeros, not null); a connection still
    open when tracing stops was never read (null)."""
    tr = tfenv.Tracer(ns, [PORT, PORT + 1])
    with tfenv.one_cpu():
        refused = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT + 1, name="refused")
        srv = ns.server("127.0.0.1", PORT, "--close", "never", "--timeout-ms", 20000)
        cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT, "--send", 10,
                        "--close", "first", "--wait-stdin-close", stdin=True, name="client")
    assert refused.wait(20) == 0 and gen_conn(refused)["connect_errno"] == 111
    cport = cli.wait_event("up")["lport"]
    res = tr.stop()
    cli.send("go\n")
    tfenv.check_run(res)
    ctx = res.describe()
    rr = res.one("client", gen_conn(refused)["lport"], PORT + 1)
    assert rr["close"] == "refused", ctx
    assert (rr["bytes_acked"], rr["bytes_received"], rr["rtt_us"], rr["min_rtt_us"]) == (0, 0, 0, 0), ctx
    assert rr["segs_out"] >= 1 and rr["segs_in"] >= 1, ctx     # the SYN, the RST
    for rec in (res.one("client", cport, PORT), res.one("server", PORT, cport)):
        assert "open_at_exit" in rec["flags"], ctx
        assert all(rec[k] is None for k in TRAFFIC), ctx


def veth_pair(ns_factory):
    """Two namespaces joined by a veth pair: (client ns, server ns, server address,
    the server's interface)."""
    a, b = ns_factory("tr-cli"), ns_factory("tr-srv")
    va, vb = f"tfa{a.name[-6:]}"[:15], f"tfb{a.name[-6:]}"[:15]
    a.exec("ip", "link", "add", va, "type", "veth", "peer", "name", vb, "netns", b.name)
    a.exec("ip", "addr", "add", "192.0.2.1/24", "dev", va)
    b.exec("ip", "addr", "add", "192.0.2.2/24", "dev", vb)
    a.exec("ip", "link", "set", va, "up")
    b.exec("ip", "link", "set", vb, "up")
    # an empty nftables table: the path has rules, none of them delays or drops
    b.drop_first("none", "tcp dport 1", 0)
    return a, b, "192.0.2.2", vb


def test_system_wide_two_namespaces(ns_factory):
    """The tracer as users run it, system-wide (no --netns) with a --port, the
    traffic between two namespaces over veth: exact bytes per side, each
    record in its own namespace, 0 < min_rtt_us <= rtt_us."""
    cns, sns, addr, iface = veth_pair(ns_factory)
    port = random.randrange(20000, 30000)     # other tests run alongside: a port of our own
    cap = sns.capture(f"tcp port {port}", iface)
    tr = tfenv.Tracer(sns, [port], system_wide=True)
    srv = sns.server(addr, port, "--send", 20000, "--close", "after-peer")
    cli = cns.tcpgen("client", "--connect", addr, "--port", port, "--send", 60000,
                     "--close", "shutdown-wr", name="client")
    assert cli.wait(30) == 0 and srv.wait(30) == 0, (cli.lines, srv.lines)
    res = tr.stop()
    pkts = cap.stop()
    tfenv.check_run(res)
    cc, sc = gen_conn(cli), gen_conn(srv)
    cport = cc["lport"]
    t = tfenv.truth(pkts, cport, port)
    ctx = res.describe() + "\n" + t.dump()
    assert payload(t, cport) == cc["sent"] == sc["received"] == 60000, ctx
    assert payload(t, port) == sc["sent"] == cc["received"] == 20000, ctx
    counters = seq_counters(t)
    cr, sr = res.one("client", cport, port), res.one("server", port, cport)
    assert (cr["netns"], sr["netns"]) == (cns.inum, sns.inum), ctx
    assert (cr["bytes_acked"], cr["bytes_received"]) == counters["client"] == (60002, 20001), ctx
    assert (sr["bytes_acked"], sr["bytes_received"]) == counters["server"] == (20001, 60001), ctx
    for rec in (cr, sr):
        assert 0 < rec["min_rtt_us"] <= rec["rtt_us"], ctx
        assert rec["segs_out"] >= len([p for p in t.pkts if p.sport == rec["sport"] and
                                       not (p.syn and p.has_ack)]), ctx


# ---- the socket's cgroup ------------------------------------------------------------

@pytest.fixture
def cgroups(request):
    """make(rel) -> (directory, path below the v2 root) of a new group for this test;
    removed at teardown with whatever this test left in it."""
    mnt = tfenv.cgroup2_mount()
    top = os.path.join(mnt, f"tft-{os.getpid()}-{request.node.name[-20:].strip('_[]')}")
    made = [top]

    def make(rel=""):
        d = os.path.join(top, rel) if rel else top
        os.makedirs(d, exist_ok=True)
        made.append(d)
        return d, d[len(mnt):]

    yield make
    for d in sorted(set(made), key=len, reverse=True):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                time.sleep(0.05)


def tcpgen_in(ns, group_dir, *args, name, stdin=False):
    """tcpgen in ns, moved into the group before it makes any socket."""
    argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group_dir,
            *ns.cmd(tfenv.TCPGEN_BIN, *args)]
    p = tfenv.Tcpgen(argv, stdin=stdin, workdir=ns.workdir, name=name)
    ns.procs.append(p)
    return p


def test_cgroup_client_and_server(ns, cgroups):
    """Each record names the group of the process that made its socket: the
    client's, and for the accepted side the server's (inherited from the
    listener, though its state changes run in softirq), as /proc/PID/cgroup
    shows them."""
    srv_dir, _ = cgroups("srv")
    cli_dir, _ = cgroups("cli")
    tr = tfenv.Tracer(ns, [PORT])
    with tfenv.one_cpu():
        srv = tcpgen_in(ns, srv_dir, "server", "--listen", "127.0.0.1", "--port", PORT,
                        "--count", 2, "--close", "after-peer", name="server")
        spid = srv.wait_event("listening")["pid"]
        cli = tcpgen_in(ns, cli_dir, "client", "--connect", "127.0.0.1", "--port", PORT,
                        "--count", 2, "--send", 100, "--close", "first", "--wait-stdin-close",
                        stdin=True, name="client")
        cpid = cli.wait_event("up")["pid"]
        truth = {"client": tfenv.proc_cgroup(cpid), "server": tfenv.proc_cgroup(spid)}
        for _ in range(2):
            cli.send("go\n")
            time.sleep(0.05)
    assert cli.wait(20) == 0 and srv.wait(20) == 0, (cli.lines, srv.lines)
    res = tr.stop()
    tfenv.check_run(res)
    ctx = res.describe()
    assert truth == {"client": cli_dir[len(tfenv.cgroup2_mount()):], "server": srv_dir[len(tfenv.cgroup2_mount()):]}
    ids = {"client": os.stat(cli_dir).st_ino, "server": os.stat(srv_dir).st_ino}
    assert len(res.conns) == 4, ctx
    for rec in res.conns:
        role = rec["role"]
        assert rec["cgroup"] == truth[role] and rec["cgroup_id"] == ids[role], f"{role}\n{ctx}"
        assert rec["container_id"] is None and rec["pod_uid"] is None, ctx


def test_cgroup_filter_in_kernel(ns, cgroups):
    """--cgroup keeps sockets made in that group or below it, decided in the
    kernel: three tracers over the same traffic -- clients in P/a/x, P/b and
    outside P, a server in S -- each report only their groups' records, and
    start no record for the rest (stats "started")."""
    x_dir, _ = cgroups("p/a/x")
    _, a_path = cgroups("p/a")
    b_dir, _ = cgroups("p/b")
    p_dir, _ = cgroups("p")
    s_dir, s_path = cgroups("s")
    runs = {"a": ["--cgroup", a_path],                      # as /proc/PID/cgroup shows it
            "p": ["--cgroup", p_dir],                       # the directory, below it
            "s": ["--cgroup", s_path, "--cgroup", x_dir]}   # repeatable
    tracers = {k: tfenv.Tracer(ns, [PORT], extra=v) for k, v in runs.items()}
    with tfenv.one_cpu():
        srv = tcpgen_in(ns, s_dir, "server", "--listen", "127.0.0.1", "--port", PORT,
                        "--count", 3, "--close", "after-peer", name="server")
        srv.wait_event("listening")
        clients = {"a": tcpgen_in(ns, x_dir, "client", "--connect", "127.0.0.1", "--port", PORT,
                                  name="client-a"),
                   "b": tcpgen_in(ns, b_dir, "client", "--connect", "127.0.0.1", "--port", PORT,
                                  name="client-b"),
                   "out": ns.tcpgen("client", "--connect", "127.0.0.1", "--port", PORT,
                                    name="client-out")}
        for c in clients.values():
            assert c.wait(20) == 0, c.lines
    assert srv.wait(20) == 0, srv.lines
    port = {k: gen_conn(c)["lport"] for k, c in clients.items()}
    want = {"a": {("client", port["a"])},
            "p": {("client", port["a"]), ("client", port["b"])},
            "s": {("client", port["a"])} | {("server", port[k]) for k in port}}
    for k, tr in tracers.items():
        res = tr.stop(settle=0.1 if k != "a" else 0.3)
        st = tfenv.check_run(res)
        got = {(c["role"], c["sport"] if c["role"] == "client" else c["dport"]) for c in res.conns}
        assert got == want[k], f"--cgroup run {k} {runs[k]}: {sorted(got)}, want {sorted(want[k])}\n{res.describe()}"
        assert st["started"] == len(want[k]), f"records begun for other groups: {st}"


# ---- the process that served it: a real pre-fork server -----------------------------------

NGINX_CONF = """daemon on;
master_process on;
worker_processes 2;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
    }}
}}
"""


def ss_owners(ns, port):
    """`ss -tnp` in ns: {client port: pid} of the processes holding the accepted sockets."""
    owners = {}
    for line in ns.exec("ss", "-tnpH", "state", "established").stdout.splitlines():
        f = line.split()
        local, peer = f[2], f[3]
        m = re.search(r'users:\(\("[^"]*",pid=(\d+)', line)
        if local.endswith(f":{port}") and m:
            owners[int(peer.rsplit(":", 1)[1])] = int(m.group(1))
    return owners


def test_nginx_workers_named(ns, tmp_path):
    """nginx as users run it (the process that calls listen() daemonizes and is
    gone, two workers accept) and curl: every server record names the worker
    that held the connection, as `ss -tnp` shows it, taken at close
    (pid_from_close); bytes against curl's own counts. A connection nginx never
    closes names a live nginx process, not the one that called listen()."""
    nginx = "/usr/sbin/nginx"
    tfenv.require_bin(nginx, "install Debian's nginx-light: sudo make deps")
    port, n = 8080, 6
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "big").write_bytes(b"n" * 6000)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(d=tmp_path, port=port))
    tr = tfenv.Tracer(ns, [port])
    # sh's pid is the pid nginx starts with (ip netns exec execs): the one that listen()s
    started = tfenv.run(["sh", "-c", 'echo $$; exec "$@"', "sh",
                         *ns.cmd(nginx, "-c", conf, "-p", f"{tmp_path}/", "-e", tmp_path / "error.log")])
    first = int(started.stdout.split()[0])
    started_at = time.monotonic()
    master = int(tfenv.wait_until(lambda: (tmp_path / "nginx.pid").exists() and
                                  (tmp_path / "nginx.pid").read_text().strip(), 10))
    workers = tfenv.wait_until(lambda: (lambda w: w if len(w) == 2 else None)(
        {int(p) for p in tfenv.run(["ps", "--ppid", str(master), "-o", "pid="], check=False).stdout.split()}), 10)
    assert workers and master != first, f"nginx master {master}, first {first}, workers {workers}"
    # each curl: 4 requests on one keep-alive connection, 2 a second (open ~1.5 s)
    fmt = "%{local_port} %{size_request} %{size_header} %{size_download}\\n"
    urls = [f"http://127.0.0.1:{port}/big"] * 4
    curls = [tfenv.Proc(ns.cmd("curl", "-sS", *["-o", "/dev/null"] * len(urls), "--rate", "2/s",
                               "-w", fmt, *urls), workdir=tmp_path, name=f"curl{i}")
             for i in range(n)]
    ns.procs.extend(curls)
    owners = tfenv.wait_until(lambda: (lambda o: o if len(o) == n else None)(ss_owners(ns, port)), 10)
    assert owners, (f"ss -tnp never showed {n} connections: {ss_owners(ns, port)}\n"
                    f"{ns.exec('ss', '-tnpa').stdout}\n{[c.stderr() for c in curls]}\n"
                    f"{(tmp_path / 'error.log').read_text()}")
    for c in curls:
        assert c.wait(30) == 0, c.stderr()
    # a connection nginx never closes (the client resets it): named after the
    # listener, whose owner the tracer refreshes (each second) once it is gone
    time.sleep(max(0.0, started_at + 2.5 - time.monotonic()))
    rst = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", port, "--close", "linger0",
                    "--hold-ms", 50, name="client-rst")
    assert rst.wait(20) == 0, rst.lines
    res = tr.stop(settle=0.5)
    tfenv.check_run(res)
    ctx = res.describe() + f"\nfirst {first} master {master} workers {workers} ss {owners}"
    assert not tfenv._pid_alive(first), f"the process that called listen() is still there\n{ctx}"
    assert set(owners.values()) <= workers, ctx
    for c in curls:
        got = [tuple(map(int, line.split())) for line in c.lines]
        assert len(got) == len(urls) and len({g[0] for g in got}) == 1, f"one connection: {got}"
        cport = got[0][0]
        req, hdr, body = (sum(g[i] for g in got) for i in (1, 2, 3))
        assert body == 6000 * len(urls), got
        sr = res.one("server", port, cport)
        assert (sr["pid"], sr["comm"]) == (owners[cport], "nginx"), f"client port {cport}\n{ctx}"
        assert "pid_from_close" in sr["flags"] and "pid_from_listener" not in sr["flags"], ctx
        # curl closed first: nginx's FIN acked (LAST_ACK -> CLOSE), curl's FIN read
        assert (sr["close"], sr["close_end"]) == ("passive", "orderly"), ctx
        assert (sr["bytes_acked"], sr["bytes_received"]) == (hdr + body + 1, req + 1), ctx
        cr = res.one("client", cport, port)
        assert (cr["pid"], cr["comm"]) == (c.pid, "curl"), ctx
        assert (cr["bytes_acked"], cr["bytes_received"]) == (req + 2, hdr + body + 1), ctx
    rr = res.one("server", port, gen_conn(rst)["lport"])
    assert rr["close"] == "reset" and "pid_from_listener" in rr["flags"], ctx
    assert rr["pid"] in workers | {master} and rr["comm"] == "nginx", ctx


@pytest.mark.parametrize("path,why", [
    ("/tft-no-such-group", "No such file or directory"),
    ("../../../../../../proc", "not a cgroup v2 group"),   # out of the mount
    ("/cgroup.procs", "not a cgroup v2 group"),            # a file, not a group
])
def test_cgroup_bad_path(path, why):
    """--cgroup with what is not a cgroup v2 group: one line saying what to give,
    usage status 2, before anything is loaded."""
    p = tfenv.run([tfenv.TRACER_BIN, "--cgroup", path, "--duration", "1"], check=False)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, (p.returncode, p.stderr)
    assert lines[0].startswith(f"tcpflow-trace: --cgroup {path}: {why}") and \
        "/proc/PID/cgroup" in lines[0], lines[0]
