# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--metrics and --hist against real components.

- promtool (Debian's prometheus package) lints our /metrics text;
- a real Prometheus server, started here on 127.0.0.1 with a temporary data
  directory and a 1 s scrape interval, scrapes the tracer while known traffic
  runs in a test namespace; its HTTP API must report exactly that traffic;
- the deploy/ files parse, and every metric the dashboard queries exists;
- the HTTP server answers 404/405/400 properly and serves concurrent scrapes
  while a slow client holds a connection.

Namespaces, nftables and the tracer come from tfenv (shared helpers).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import tfenv
from test_tw_namespaces import reuse_script, tw_ports

ROOT = tfenv.ROOT
DEPLOY = ROOT / "deploy"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
URL_RE = re.compile(r"serving Prometheus metrics at (http://\S+)")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# Bucket bounds (include/tf_buckets.h): 10 us * 2^i
BOUNDS = [10e-6 * 2 ** i for i in range(25)]


def need(tool, pkg="prometheus"):
    if not os.access(tool, os.X_OK):
        pytest.fail(f"{tool} is missing: install Debian's {pkg} package (make deps)", pytrace=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the tracer with --metrics ---------------------------------------------

def metrics_url(tracer):
    m = URL_RE.search(tracer.proc.stderr())
    assert m, f"tracer did not say where it serves metrics: {tracer.proc.stderr()}"
    return m.group(1)


def start_tracer(ns, ports, *extra):
    """tfenv.Tracer (--json --netns --port ...) plus --metrics on a free port."""
    tr = tfenv.Tracer(ns, ports, extra=["--metrics", "127.0.0.1:0", *extra])
    return tr, metrics_url(tr)


def get(url, method="GET", timeout=5):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request(method, u.path or "/")
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def scrape(url):
    status, headers, body = get(url)
    assert status == 200, f"GET {url}: {status} {body[:200]}"
    assert headers.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8", headers
    return body


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL_RE.findall(m.group(3) or "")))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate series {line!r}"
        out[key] = float(m.group(4))
    return out


def total(samples, name, **match):
    return sum(v for (n, labels), v in samples.items()
               if n == name and all(dict(labels).get(k) == w for k, w in match.items()))


def traffic(ns, port, count, *client_args):
    """A tcpgen server and client on 127.0.0.1:port inside ns, run to the end."""
    srv = ns.server("127.0.0.1", port, "--count", count, "--close", "after-peer", name=f"server{port}")
    cli = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", port, "--count", count,
                    "--close", "first", *client_args, name=f"client{port}")
    return srv, cli


def finish(*procs, timeout=30):
    for p in procs:
        assert p.wait(timeout) == 0, f"{p.name} failed: {p.lines} {p.stderr()}"


# ---- a real Prometheus -------------------------------------------------------

class Prometheus:
    """prometheus on 127.0.0.1, temp data dir, 1 s scrapes of one target."""

    def __init__(self, workdir, target):
        need(PROMETHEUS)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        d = Path(workdir) / "prometheus"
        (d / "data").mkdir(parents=True)
        cfg = d / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                       "scrape_configs:\n  - job_name: tcpflow-trace\n"
                       f"    static_configs:\n      - targets: ['{target}']\n")
        self.proc = tfenv.Proc([PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={d / 'data'}",
                                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                               workdir=workdir, name="prometheus")
        ready = tfenv.wait_until(self._ready, 30, step=0.2)
        assert ready, f"prometheus did not become ready: {self.proc.stderr()[-2000:]}"

    def _ready(self):
        if self.proc.p.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.proc.stderr()[-2000:]}")
        try:
            with urllib.request.urlopen(self.base + "/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr):
        """Instant query -> {frozenset(labels): float}."""
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return {frozenset(x["metric"].items()): float(x["value"][1]) for x in doc["data"]["result"]}

    def scalar(self, expr):
        got = self.query(expr)
        assert len(got) <= 1, f"{expr}: more than one series: {got}"
        return next(iter(got.values())) if got else None

    def wait_value(self, expr, want, timeout=30):
        last = tfenv.wait_until(lambda: self.scalar(expr) == want, timeout, step=0.25)
        assert last, f"{expr}: wanted {want} within {timeout}s, Prometheus says {self.scalar(expr)}"

    def close(self):
        self.proc.close()


@pytest.fixture
def prometheus(tmp_path):
    made = []

    def start(target):
        p = Prometheus(tmp_path, target)
        made.append(p)
        return p

    yield start
    for p in made:
        p.close()


# ---- no root needed -----------------------------------------------------------

def test_bucket_header_builds_for_bpf(tmp_path):
    """The bucket function is the kernel's too: clang -target bpf must build it."""
    src = tmp_path / "b.bpf.c"
    src.write_text('#include "vmlinux.h"\n#include "tf_buckets.h"\n'
                   "__u32 f(__u64 ns) { return tf_bucket_index(ns) + (__u32)tf_bucket_bound_ns(3); }\n")
    p = subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-Wall", "-Werror",
                        f"-I{ROOT / 'include'}", f"-I{ROOT / 'vmlinux'}", "-c", str(src),
                        "-o", str(tmp_path / "b.o")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def dashboard_exprs():
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            exprs.append(t["expr"])
    return dash, exprs


def test_deploy_files_parse():
    yaml = pytest.importorskip("yaml", reason="install python3-yaml")
    dash, exprs = dashboard_exprs()
    assert dash["uid"] and dash["title"]
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for want in ("quantile", "heatmap", "time-wait", "fin", "syn", "reset", "close kind", "lost",
                 "bytes", "rtt"):
        assert want in titles, f"dashboard has no panel about {want!r}: {titles}"
    assert any(p["type"] == "heatmap" for p in dash["panels"])
    assert all("tcpflow_" in e for e in exprs), exprs

    docs = [d for d in yaml.safe_load_all((DEPLOY / "daemonset.yaml").read_text()) if d]
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc.get("privileged") is False and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) <= {"BPF", "PERFMON", "NET_ADMIN"}, sc
    assert "SYS_ADMIN" not in sc["capabilities"]["add"]
    btf = next(m for m in c["volumeMounts"] if m["mountPath"] == "/sys/kernel/btf")
    assert btf["readOnly"] is True
    assert any(a.startswith("--metrics") for a in c["args"])
    yaml.safe_load((DEPLOY / "prometheus-kubernetes.yml").read_text())

    need(PROMTOOL)
    for cmd in (["check", "config", DEPLOY / "prometheus.yml"], ["check", "rules", DEPLOY / "alerts.yml"]):
        p = subprocess.run([PROMTOOL, *map(str, cmd)], capture_output=True, text=True)
        assert p.returncode == 0, f"promtool {' '.join(map(str, cmd))}: {p.stdout} {p.stderr}"


# ---- the tracer's /metrics -----------------------------------------------------

@pytest.mark.root
def test_promtool_lints_our_metrics_clean(ns):
    need(PROMTOOL)
    tr, url = start_tracer(ns, [5200, 5201])
    finish(*traffic(ns, 5200, 3))
    refused = ns.tcpgen("client", "--connect", "127.0.0.1", "--port", 5201, name="refused")
    finish(refused)
    tfenv.wait_until(lambda: total(parse(scrape(url)), "tcpflow_connections_total") >= 7, 10)
    text = scrape(url)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), (
        f"promtool check metrics: rc={p.returncode}\n{p.stdout}\n{p.stderr}")
    s = parse(text)
    assert total(s, "tcpflow_refused_connects_total") == 1
    assert total(s, "tcpflow_connections_total", role="client", port="5200") == 3
    assert total(s, "tcpflow_connections_total", role="server", port="5200") == 3
    assert total(s, "tcpflow_connections_total", role="client", port="5201") == 1
    # cumulative buckets, +Inf == _count
    for (name, labels), v in s.items():
        if name.endswith("_bucket") and dict(labels)["le"] == "+Inf":
            base = dict(labels)
            del base["le"]
            count = s[(name[:-7] + "_count", tuple(sorted(base.items())))]
            assert v == count
    tfenv.check_run(tr.stop())


@pytest.mark.root
def test_dashboard_queries_only_metrics_we_export(ns):
    """Every tcpflow_* name in the dashboard is a sample name of our /metrics."""
    _, exprs = dashboard_exprs()
    tr, url = start_tracer(ns, [5210])
    finish(*traffic(ns, 5210, 1))
    names = {n for (n, _) in parse(scrape(url))}
    used = {n for e in exprs for n in re.findall(r"\btcpflow_[a-z0-9_]+", e)}
    missing = sorted(used - names)
    assert not missing, f"the dashboard queries metrics /metrics does not have: {missing}"
    alerts = (DEPLOY / "alerts.yml").read_text()
    missing = sorted(set(re.findall(r"\btcpflow_[a-z0-9_]+", alerts)) - names)
    assert not missing, f"alerts.yml queries metrics /metrics does not have: {missing}"
    tfenv.check_run(tr.stop())


@pytest.mark.root
def test_prometheus_end_to_end(ns, prometheus):
    """10 connections, 2 of them with 2 dropped SYNs, seen through Prometheus' API."""
    fast, slow = 5301, (5302, 5303)
    assert ns.syn_schedule(exponential=True).gaps(2) == (1, 2)   # 2 drops: SYN at 0, 1 s, 3 s
    for p in slow:                                     # one connection per port: exactly 2 drops each
        ns.drop_first(f"syn{p}", f"tcp dport {p} tcp flags & (syn|ack) == syn", 2)
    tr, url = start_tracer(ns, [fast, *slow])
    prom = prometheus(urllib.parse.urlsplit(url).netloc)

    prom.wait_value('sum(up{job="tcpflow-trace"})', 1.0)
    prom.wait_value('count(tcpflow_connections_total{role="client"})', 4.0)   # 3 ports + other
    assert prom.scalar('sum(tcpflow_connections_total)') == 0.0, "counters must start at 0"
    assert prom.scalar('sum(tcpflow_syn_retransmits_total)') == 0.0

    procs = []
    for p in slow:
        procs += traffic(ns, p, 1)
    procs += traffic(ns, fast, 8)
    finish(*procs)
    for p in slow:
        assert ns.counter(f"drop_syn{p}") == 2 and ns.counter(f"seen_syn{p}") == 3

    prom.wait_value('sum(tcpflow_connections_total{role="client"})', 10.0)
    prom.wait_value('sum(tcpflow_connections_total{role="server"})', 10.0)
    time.sleep(2.5)                                    # more scrapes: nothing more may come
    assert prom.scalar('sum(tcpflow_connections_total{role="client"})') == 10.0
    assert prom.scalar('sum(tcpflow_connections_total{role="server"})') == 10.0
    assert prom.scalar('sum(tcpflow_connections_total{role="client",port="5301"})') == 8.0
    # TCP's own steps as ground truth: no record may skip one (events missed)
    assert prom.scalar('sum(tcpflow_connections_missed_transitions_total)') == 0.0
    assert prom.scalar('sum(tcpflow_syn_retransmits_total)') == 4.0
    assert prom.scalar('sum(tcpflow_handshake_duration_seconds_count{role="client"})') == 10.0

    hs = 'sum by (le) (tcpflow_handshake_duration_seconds_bucket{role="client"})'
    p99 = prom.scalar(f"histogram_quantile(0.99, {hs})")
    p50 = prom.scalar(f"histogram_quantile(0.5, {hs})")
    # The two slow handshakes (~3 s) are in the bucket (2.62144, 5.24288] s and
    # 8 of 10 below it: histogram_quantile interpolates rank 9.9 inside that
    # bucket (2.62 + 2.62 * 1.9/2 = 5.11 s), so p99 lies within its bounds and
    # above 3 s; the median is among the 8 loopback handshakes.
    lo, hi = BOUNDS[18], BOUNDS[19]
    assert lo < p99 <= hi, f"p99 {p99} s not in the bucket ({lo}, {hi}] of the ~3 s handshakes"
    assert p99 > 3.0, f"p99 {p99} s"
    assert p50 < 0.010, f"median {p50} s"

    res = tr.stop()
    tfenv.check_run(res)
    clients = [c for c in res.conns if c["role"] == "client"]
    slow_hs = sorted(c["handshake_us"] / 1e6 for c in clients if c["syn_retrans"] == 2)
    assert len(clients) == 10 and len(slow_hs) == 2, res.describe()
    assert all(lo < h <= hi for h in slow_hs), f"slow handshakes {slow_hs} s outside ({lo}, {hi}]"


# ---- HTTP robustness ----------------------------------------------------------------

def raw(url, data, timeout=5):
    """Send raw bytes, return what comes back before the server closes or goes quiet."""
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while len(out) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and not out.startswith(b"HTTP/1.1 200"):
                    break
        except socket.timeout:
            pass
        return out


@pytest.mark.root
def test_http_status_codes(ns):
    tr, url = start_tracer(ns, [5220])
    base = url[: -len("/metrics")]
    status, headers, body = get(base + "/")
    assert status == 200 and "/metrics" in body and headers["Content-Type"].startswith("text/html")
    assert get(base + "/nope")[0] == 404
    assert get(base + "/metrics/")[0] == 404
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, headers, _ = get(url, method=method)
        assert status == 405 and headers.get("Allow") == "GET, HEAD", (method, status, headers)
    status, _, body = get(url, method="HEAD")
    assert status == 200 and body == ""
    assert get(url + "?debug=1")[0] == 200
    # malformed requests: a 4xx/5xx or a closed connection, never a 200
    for bad in (b"GET /metrics\r\n\r\n",                        # no HTTP version
                b"GET /metrics HTTP/1.1\r\n\r\n",               # HTTP/1.1 without Host
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
                b"GET /metrics HTTP/7.0\r\nHost: x\r\n\r\n",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GARBAGE\r\n\r\n"):
        out = raw(url, bad)
        assert not out or re.match(rb"HTTP/1\.[01] [45]\d\d ", out), (bad[:40], out[:80])
    assert scrape(url)                                  # still serving
    tfenv.check_run(tr.stop())


@pytest.mark.root
def test_concurrent_scrapes_and_a_slow_client(ns):
    tr, url = start_tracer(ns, [5230])
    u = urllib.parse.urlsplit(url)
    # a slow client: half a request, then silence (held until the 10 s idle timeout)
    slow = socket.create_connection((u.hostname, u.port))
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    # and one that asks but never reads its response
    lazy = socket.create_connection((u.hostname, u.port))
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lazy.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")

    errors, bodies = [], []

    def worker():
        try:
            for _ in range(5):
                bodies.append(parse(scrape(url)))
        except Exception as e:       # noqa: BLE001 -- reported below
            errors.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    # tracing goes on meanwhile
    finish(*traffic(ns, 5230, 5))
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(bodies) == 60
    assert time.monotonic() - t0 < 8, "scrapes were held up by the slow clients"
    tfenv.wait_until(lambda: total(parse(scrape(url)), "tcpflow_connections_total", port="5230") == 10, 10)
    assert total(parse(scrape(url)), "tcpflow_connections_total", port="5230") == 10
    slow.close()
    lazy.close()
    tfenv.check_run(tr.stop())


@pytest.mark.root
def test_metrics_address_errors(ns):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for spec, words in ((f"127.0.0.1:{port}", "in use"), (f"{port}", "in use"),
                            ("localhost:9464", "numeric"), ("::1:9464", "brackets"),
                            ("9464x", "port"), ("192.0.2.1:9464", "not on this host")):
            p = subprocess.run([str(tfenv.TRACER_BIN), "--netns", str(ns.inum), "--metrics", spec],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 5, (spec, p.returncode, p.stderr)
            lines = [l for l in p.stderr.splitlines() if "--metrics" in l]
            assert len(lines) == 1 and words in lines[0], (spec, p.stderr)


# ---- --hist -------------------------------------------------------------------------

def started(ns, argv, name):
    """The tracer with argv, once it says it is tracing."""
    proc = tfenv.Proc(argv, workdir=ns.workdir, name=name)
    ns.procs.append(proc)
    ok = tfenv.wait_until(lambda: tfenv.Tracer.READY in proc.stderr() or proc.p.poll() is not None, 30)
    assert ok and proc.p.poll() is None, proc.stderr()
    return proc


def hist_tracer(ns, port, *args):
    argv = [tfenv.TRACER_BIN, "--netns", ns.inum, "--port", port, "--hist", "--interval", "1", *args]
    return started(ns, argv, "tcpflow-trace-hist")


def stop(proc):
    proc.p.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0, proc.stderr()


@pytest.mark.root
def test_hist_bars(ns):
    proc = hist_tracer(ns, 5240)
    finish(*traffic(ns, 5240, 3))
    proc.wait_line(lambda l: l.startswith("handshake duration, role=client: 3 values"), 10)
    stop(proc)
    out = "\n".join(proc.lines)
    assert "at exit ---" in out
    final = out[out.rindex("at exit ---"):]
    block = final[final.index("handshake duration, role=client"):].split("\n\n")[0].splitlines()
    assert block[1].split() == ["duration", ":", "count", "distribution"], block
    rows = [l for l in block[2:] if "->" in l]
    assert sum(int(r.split(":")[1].split()[0]) for r in rows) == 3, block
    assert any("|****************************************|" in r for r in rows), block
    assert "close duration, side=active" in final and "time in state, state=ESTABLISHED" in final


@pytest.mark.root
def test_hist_json(ns):
    proc = hist_tracer(ns, 5250, "--json")
    finish(*traffic(ns, 5250, 4))
    proc.wait_line(lambda l: '"final":false' in l and "handshake" in l, 10)
    stop(proc)
    recs = [json.loads(l) for l in proc.lines]
    assert all(r["type"] == "hist" for r in recs)
    final = [r for r in recs if r["final"]]
    hs = {r["labels"]["role"]: r for r in final if r["name"] == "tcpflow_handshake_duration_seconds"}
    for role in ("client", "server"):
        r = hs[role]
        assert r["count"] == 4 and sum(r["counts"]) == 4
        assert len(r["counts"]) == len(r["bounds_us"]) + 1 == 26
        assert r["bounds_us"][:3] == [10, 20, 40] and r["bounds_us"][-1] == 167772160
        assert 0 < r["sum_seconds"] < 1
    names = {r["name"] for r in final}
    assert {"tcpflow_close_duration_seconds", "tcpflow_connection_lifetime_seconds",
            "tcpflow_state_duration_seconds"} <= names


# ---- metrics folded in the kernel (--metrics / --hist alone) -------------------------

FOLDED_RE = re.compile(r"(\d+) of them folded into the metrics in the kernel, (\d+) sent as records; "
                       r"(\d+) TIME-WAIT hand-overs sent alone")


def metrics_only_tracer(ns, ports, *args):
    """The tracer as a fleet runs it: system-wide (no --netns), no view, only metrics."""
    argv = [tfenv.TRACER_BIN, *[a for p in ports for a in ("--port", p)], *args]
    return started(ns, argv, "tcpflow-trace-kmetrics")


def folded_sent(proc):
    m = FOLDED_RE.search(proc.stderr())
    assert m, f"no folded/sent line at exit: {proc.stderr()}"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@pytest.mark.root
def test_kernel_metrics_against_ground_truth(ns):
    """--metrics alone: connections folded in the kernel, values as the traffic made them.

    Ground truth: the clients' own connection counts (tcpgen), nftables counters
    of dropped SYNs. Every connection is folded in the kernel, and no record
    crosses: every client closes first and hands over to TIME-WAIT, of which
    only a small hand-over reaches the tracker. The exit line must say exactly that.
    """
    fast, slow, n = 5321, 5322, 12
    ns.syn_schedule(exponential=True)
    ns.drop_first("syn", f"tcp dport {slow} tcp flags & (syn|ack) == syn", 2)
    proc = metrics_only_tracer(ns, [fast, slow], "--metrics", "127.0.0.1:0")
    assert "metrics folded in the kernel" in proc.stderr(), proc.stderr()
    m = URL_RE.search(proc.stderr())
    assert m, proc.stderr()
    url = m.group(1)

    finish(*traffic(ns, slow, 1), *traffic(ns, fast, n))
    clients = n + 1
    assert ns.counter("drop_syn") == 2 and ns.counter("seen_syn") == 3

    def values():
        return parse(scrape(url))

    tfenv.wait_until(lambda: total(values(), "tcpflow_connections_total") == 2 * clients, 10)
    s = values()
    ctx = "\n".join(f"{n}{dict(lb)} {v}" for (n, lb), v in sorted(s.items())
                    if v and not n.endswith("_bucket")) + "\n" + proc.stderr()
    assert total(s, "tcpflow_connections_total", role="client") == clients, ctx
    assert total(s, "tcpflow_connections_total", role="server") == clients, ctx
    assert total(s, "tcpflow_connections_total", role="client", port=str(fast)) == n, ctx
    assert total(s, "tcpflow_connections_total", role="server", port=str(slow)) == 1, ctx
    assert total(s, "tcpflow_syn_retransmits_total") == ns.counter("drop_syn") == 2, ctx
    assert total(s, "tcpflow_connection_closes_total", role="client", kind="active") == clients, ctx
    assert total(s, "tcpflow_connection_closes_total", role="server", kind="passive") == clients, ctx
    assert total(s, "tcpflow_time_wait_handovers_total", role="client") == clients, ctx
    assert total(s, "tcpflow_handshake_duration_seconds_count") == 2 * clients, ctx
    assert total(s, "tcpflow_close_duration_seconds_count", side="passive") == clients, ctx
    assert total(s, "tcpflow_connections_missed_transitions_total") == 0, ctx
    assert total(s, "tcpflow_feature_enabled", feature="kernel_metrics") == 1, ctx
    # the slow handshake (SYNs at 0, 1, 3 s) in its bucket, whichever side counted it
    slow_hs = total(s, "tcpflow_handshake_duration_seconds_bucket", role="client",
                    port=str(slow), le="+Inf") - total(s, "tcpflow_handshake_duration_seconds_bucket",
                                                      role="client", port=str(slow), le="2.62144")
    assert slow_hs == 1, ctx
    assert sum(v for (name, lb), v in s.items() if name == "tcpflow_lost_events_total") == 0, ctx

    stop(proc)
    assert folded_sent(proc) == (2 * clients, 0, clients), proc.stderr()


@pytest.mark.root
def test_kernel_metrics_reuse_of_a_time_wait_crosses(ns):
    """--metrics alone: a connection on a 4-tuple that handed over to TIME-WAIT
    may have begun by reusing it. The kernel sends its record instead of
    folding it, and the tracker ends that TIME-WAIT as reused.

    Ground truth: ss lists the first connection's TIME-WAIT on the bound port
    before the second connect() from that port (tcp_tw_reuse on loopback),
    and both connections succeed.
    """
    port, cport = 5341, 40178
    proc = metrics_only_tracer(ns, [port], "--metrics", "127.0.0.1:0")
    m = URL_RE.search(proc.stderr())
    assert m, proc.stderr()
    url = m.group(1)
    srv = ns.server("127.0.0.1", port, "--count", 2, "--close", "after-peer")
    reuser = tfenv.Proc(ns.cmd("python3", "-c", reuse_script(cport, port)),
                        workdir=ns.workdir, name="reuser")
    ns.procs.append(reuser)
    assert tfenv.wait_until(lambda: cport in tw_ports(ns, port), 2.9, step=0.05), "no TIME-WAIT to reuse"
    assert reuser.wait(10) == 0 and srv.wait(10) == 0, reuser.stderr()

    def reused():
        return total(parse(scrape(url)), "tcpflow_time_wait_ended_total", reason="reused")

    tfenv.wait_until(lambda: reused() == 1, 10)
    assert reused() == 1, scrape(url) + proc.stderr()
    stop(proc)
    # 2 servers and the first client folded (its hand-over alone), the second client sent
    assert folded_sent(proc) == (3, 1, 1), proc.stderr()


@pytest.mark.root
def test_kernel_metrics_hist_sends_no_records(ns):
    """--hist alone (no TIME-WAIT tracker): not one connection record crosses."""
    port, n = 5331, 6
    proc = metrics_only_tracer(ns, [port], "--hist", "--json", "--interval", "1")
    finish(*traffic(ns, port, n))
    proc.wait_line(lambda l: '"final":false' in l and '"role":"server"' in l
                   and f'"count":{n}' in l and "handshake" in l, 10)
    stop(proc)
    assert folded_sent(proc) == (2 * n, 0, 0), proc.stderr()
    recs = [json.loads(l) for l in proc.lines]
    final = {(r["name"], tuple(sorted(r["labels"].items()))): r for r in recs if r["final"]}
    for role in ("client", "server"):
        assert final[("tcpflow_handshake_duration_seconds", (("role", role),))]["count"] == n
        assert final[("tcpflow_connection_lifetime_seconds", (("role", role),))]["count"] == n
