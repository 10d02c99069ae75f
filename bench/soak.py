#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Soak (issue 6): push N connections (default 1,000,000) through the tracer and
print, every few seconds, its memory (VmRSS, VmHWM), the connections the kernel
table holds (tcpflow_tracked_connections from its own /metrics) and its lost
events. Memory must stay flat once the tables are warm. Loopback only.

    sudo bench/soak.py --tracer build/tcpflow-trace --loadgen build/bench/tcpflow-loadgen
"""

import argparse
import re
import signal
import subprocess
import sys
import time
import urllib.request


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024.0
    return out


def scrape(url):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    tracked = sum(float(m.group(1)) for m in
                  re.finditer(r"^tcpflow_tracked_connections\{[^}]*\} (\S+)$", text, re.M))
    lost = sum(float(m.group(1)) for m in
               re.finditer(r"^tcpflow_lost_events_total\{[^}]*\} (\S+)$", text, re.M))
    conns = sum(float(m.group(1)) for m in
                re.finditer(r"^tcpflow_connections_total\{[^}]*\} (\S+)$", text, re.M))
    return int(tracked), int(lost), int(conns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracer", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--connections", type=int, default=1000000)
    ap.add_argument("--every", type=float, default=5.0, help="seconds between lines")
    a = ap.parse_args()

    tr = subprocess.Popen([a.tracer, "--json", "--metrics", "127.0.0.1:0"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = None
    for line in tr.stderr:
        m = re.search(r"(http://\S+/metrics)", line)
        if m:
            url = m.group(1)
        if "tracing" in line:
            break
    if not url:
        sys.exit("soak: the tracer did not start: " + tr.stderr.read())
    lg = subprocess.Popen([a.loadgen, "-w", "2", "-n", str(a.connections), "-p", "32000"],
                          stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    print(f"{'seconds':>8} {'connections':>12} {'VmRSS MiB':>10} {'VmHWM MiB':>10} "
          f"{'kernel table':>13} {'lost':>6}")
    rows = []
    while True:
        done = lg.poll() is not None
        st = status(tr.pid)
        tracked, lost, conns = scrape(url)
        rows.append((time.monotonic() - t0, conns, st["VmRSS"], st["VmHWM"], tracked, lost))
        print(f"{rows[-1][0]:8.1f} {conns:12d} {st['VmRSS']:10.1f} {st['VmHWM']:10.1f} "
              f"{tracked:13d} {lost:6d}", flush=True)
        if done:
            break
        time.sleep(a.every)
    tr.send_signal(signal.SIGINT)
    tr.wait(30)
    for line in tr.stderr.read().splitlines():	# the exit summary: lost events by cause
        print(line)
    warm = [r for r in rows if r[1] >= 100000]
    if len(warm) >= 2:
        growth = warm[-1][2] - warm[0][2]
        print(f"soak: VmRSS from {warm[0][1]} to {warm[-1][1]} connections traced: "
              f"{growth:+.1f} MiB ({'flat' if abs(growth) < 4 else 'GROWING'})")


if __name__ == "__main__":
    main()
