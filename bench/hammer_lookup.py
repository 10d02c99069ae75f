#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Does reading the live connection table lose the tracer's events?

The way the batch-lookup loss was found (docs/DESIGN.md, "Lost events, and
the ones nothing counts"): while many connections retransmit SYNs in a
namespace whose nftables rules drop a third of them, a second process
(build/bench/tcpflow-hammer) reads the tracer's `conns` map over and over
with one lookup method. The tracer's SYN
retransmission count is compared with the nftables counters:

    SYN retransmissions = SYNs seen by the rule - connections attempted

(every connect() sends one first SYN; every other SYN is a retransmission).
Not per connection: a tcpdump capture of the 400-connection burst missed up
to a third of the SYNs here, the nftables counters none.
A run is "short" when the tracer counted fewer. Methods: none (no hammer),
keys (get_next_key + lookup, the tracer's fallback when the kernel refuses
its map iterator), batch (BPF_MAP_LOOKUP_BATCH). The tracer runs as users
run it (--json --netns --port), with whatever walk this kernel gives it.

    sudo make hammer HAMMER_ARGS='--runs 6 --conns 400'

Only loopback traffic in a namespace this script creates and deletes.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]
import tfenv  # noqa: E402
import observers  # noqa: E402

PORT = 18777

# N non-blocking connects at once; each socket closed once its connect is done.
CLIENT = r"""
import errno, json, select, socket, sys, time
n, port, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks, done, ok = {}, 0, 0
for _ in range(n):
    s = socket.socket(); s.setblocking(False)
    s.connect_ex(("127.0.0.1", port)); socks[s.fileno()] = s
p = select.poll()
for fd in socks: p.register(fd, select.POLLOUT)
end = time.monotonic() + limit
while socks and time.monotonic() < end:
    for fd, ev in p.poll(200):
        s = socks.pop(fd); p.unregister(fd)
        ok += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        s.close()
for s in socks.values(): s.close()
print(json.dumps({"attempted": n, "connected": ok, "unfinished": len(socks)}))
"""

SERVER = r"""
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(4096)
print("listening", flush=True)
while True:
    c, _ = l.accept(); c.close()
"""


def nft_rules(ns, port):
    syn = f"tcp dport {port} tcp flags & (syn | ack) == syn"
    ns.exec("nft", "-f", "-", input=(
        "table inet hm {\ncounter syns { }\ncounter dropped { }\n"
        "set synports { type inet_service; size 65535; flags dynamic; counter; }\n"
        "chain input {\ntype filter hook input priority 0; policy accept;\n"
        f'{syn} counter name "syns" update @synports {{ tcp sport }}\n'
        f'{syn} numgen random mod 3 == 0 counter name "dropped" drop\n}}\n}}\n'))


def nft_counter(ns, name):
    out = json.loads(ns.exec("nft", "-j", "list", "counter", "inet", "hm", name).stdout)
    return next(o["counter"]["packets"] for o in out["nftables"] if "counter" in o)


def nft_syns_by_port(ns):
    """SYNs the rule saw, per client port: connections' own truth."""
    out = json.loads(ns.exec("nft", "-j", "list", "set", "inet", "hm", "synports").stdout)
    elems = next(o["set"].get("elem", []) for o in out["nftables"] if "set" in o)
    return {e["elem"]["val"]: e["elem"]["counter"]["packets"] for e in elems}


def kernel_counters(ns, *names):
    """The namespace's own SNMP counters (absolute, history untouched)."""
    out = ns.exec("nstat", "-asz", *names).stdout
    return {f[0]: int(f[1]) for f in (l.split() for l in out.splitlines()) if len(f) > 1
            and f[0] in names}


def per_conn(by_port, conns):
    """Connections whose record lacks SYN retransmissions the rule saw, or
    holds some without a time (restored from the kernel's count)."""
    recs = {}
    for c in conns:
        if c.get("dport") == PORT:
            recs.setdefault(c.get("sport"), []).append(c)
    odd = []
    for sport, syns in sorted(by_port.items()):
        got = recs.get(sport, [])
        traced = sum(c.get("syn_retrans", 0) for c in got if c.get("role") == "client")
        timed = sum(1 for c in got for r in c.get("retransmits", []) if r.get("kind") == "SYN")
        if traced < syns - 1 or timed < traced:
            odd.append({"sport": sport, "nft_syns": syns, "traced_syn_retrans": traced,
                        "with_time": timed,
                        "records": [{k: c.get(k) for k in ("role", "flags", "states",
                                                            "retransmits", "close")}
                                    for c in got]})
    return odd


def gap_records(conns):
    """Records whose states skip a TCP step (events missed), in short."""
    return [{"role": c.get("role"), "sport": c.get("sport"), "dport": c.get("dport"),
             "states": [(x["state"], x["t_us"]) for x in c.get("states", [])],
             "syn_retrans": c.get("syn_retrans")}
            for c in conns if "missed_transitions" in c.get("flags", [])]


def one_run(args, method, workdir):
    ns = tfenv.Netns(workdir, f"hm-{method}")
    views = None
    try:
        nft_rules(ns, PORT)
        tracer = tfenv.Tracer(ns, [PORT], workdir=workdir)
        # --twin: a second tracer, same filters, its own programs and maps,
        # never hammered: does a loss belong to the hammered map or to the CPU?
        twin = tfenv.Tracer(ns, [PORT], workdir=workdir) if args.twin else None
        # --observers: the kernel's trace buffer and a classic-tracepoint
        # program see the same retransmissions without any of our programs.
        views = observers.retransmit_observers(PORT, workdir) if args.observers else None
        srv = tfenv.Proc(ns.cmd(sys.executable, "-c", SERVER, PORT), workdir=workdir, name="srv")
        ns.procs.append(srv)
        srv.wait_line(lambda l: l == "listening", 10)
        ham = None
        if method != "none":
            ham = tfenv.Proc([args.hammer, "-m", method, "-d", args.seconds, "-p", tracer.proc.pid],
                             workdir=workdir,
                             name="hammer")
            time.sleep(0.3)
        cli = tfenv.Proc(ns.cmd(sys.executable, "-c", CLIENT, args.conns, PORT, args.seconds - 2),
                         workdir=workdir, name="client")
        ns.procs.append(cli)
        cli.wait(args.seconds + 10)
        got = json.loads(cli.lines[-1])
        hammered = {}
        if ham:
            ham.wait(args.seconds + 10)
            hammered = json.loads(ham.lines[-1]) if ham.lines else {"error": ham.stderr()}
            ham.close()
        res = tracer.stop(settle=1.0)
        st = res.stats[0] if res.stats else {}
        twin_res = twin.stop(settle=0) if twin else None
        clients = [c for c in res.conns if c.get("role") == "client" and c.get("dport") == PORT]
        traced = sum(c.get("syn_retrans", 0) for c in clients)
        truth = nft_counter(ns, "syns") - got["attempted"]
        by_port = nft_syns_by_port(ns)
        short = per_conn(by_port, res.conns)
        twin_out = {}
        if twin_res:
            tst = twin_res.stats[0] if twin_res.stats else {}
            tshort = per_conn(by_port, twin_res.conns)
            twin_out = {"lost": tst.get("lost"), "retrans_recovered": tst.get("retrans_recovered"),
                        "missed_transitions": tst.get("missed_transitions"),
                        "gaps": gap_records(twin_res.conns),
                        "short_ports": [c["sport"] for c in tshort],
                        "both_short": len({c["sport"] for c in tshort} &
                                          {c["sport"] for c in short})}
        out_views = {}
        if views:
            out_views = observers.compare_retransmits(
                *views, set(by_port),
                {c["sport"] for c in short} | set(twin_out.get("short_ports", [])))
        return {
            "observers": out_views,
            "method": method, "truth_syn_retrans": truth, "traced_syn_retrans": traced,
            "missing": truth - traced, "client_records": len(clients), "client": got,
            "lost": st.get("lost"), "recursion_misses": st.get("recursion_misses"),
            "retrans_recovered": st.get("retrans_recovered"),
            "missed_transitions": st.get("missed_transitions"),
            "conn_table_iter": st.get("features", {}).get("conn_table_iter"),
            "hammer": hammered, "short_conns": short, "gaps": gap_records(res.conns),
            "twin": twin_out,
            "kernel": kernel_counters(ns, "TcpExtTCPSynRetrans", "TcpExtTCPRetransFail"),
            "stats": st,
        }
    finally:
        if views:                       # after a failure: nothing left behind
            views[0].close()
            views[1].kill()
        ns.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracer", default=str(tfenv.TRACER_BIN))
    ap.add_argument("--hammer", default=str(ROOT / "build" / "bench" / "tcpflow-hammer"))
    ap.add_argument("--methods", default="none,keys,batch")
    ap.add_argument("--runs", type=int, default=6, help="runs per method (interleaved)")
    ap.add_argument("--conns", type=int, default=400, help="concurrent connects per run")
    ap.add_argument("--seconds", type=float, default=12.0, help="hammer time per run")
    ap.add_argument("--workdir", default="/tmp/tcpflow-hammer")
    ap.add_argument("--twin", action="store_true",
                    help="run a second, unhammered tracer alongside and compare")
    ap.add_argument("--observers", action="store_true",
                    help="also see each retransmission with ftrace and a classic-tracepoint "
                         "bpftrace program, and say which task each missed one fired over")
    args = ap.parse_args()
    tfenv.TRACER_BIN = Path(args.tracer)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tfenv.remove_stale_namespaces()
    methods = args.methods.split(",")
    results = []
    for r in range(args.runs):
        for m in methods[r % len(methods):] + methods[:r % len(methods)]:
            res = one_run(args, m, workdir)
            results.append(res)
            print(json.dumps(res), flush=True)
    print("\nmethod  runs  runs short  SYN retransmissions traced / nftables  lost(counted)"
          "  restored")
    for m in methods:
        rs = [x for x in results if x["method"] == m]
        short = sum(1 for x in rs if x["missing"] > 0)
        print(f"{m:7} {len(rs):5} {short:11}  {sum(x['traced_syn_retrans'] for x in rs):>10} / "
              f"{sum(x['truth_syn_retrans'] for x in rs):<10}  {sum(x['lost'] or 0 for x in rs):>13}"
              f"  {sum(x['retrans_recovered'] or 0 for x in rs):>8}")
    views = [x["observers"] for x in results if x["observers"]]
    if views:
        print(f"\nftrace saw {sum(v['ftrace'] for v in views)} SYN retransmissions "
              f"(buffer overrun {sum(v['ftrace_overrun'] for v in views)}), the classic "
              f"program {sum(v['classic'] for v in views)} "
              f"(lost {sum(v['classic_lost'] for v in views)})")
        observers.print_by_task(views)


if __name__ == "__main__":
    main()
