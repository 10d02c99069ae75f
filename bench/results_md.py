# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""bench/RESULTS.md has several writers: run_bench.py writes it whole and
keeps the sections other drivers own; each of those replaces only its own.
Python standard library only."""

import os

# "## " titles owned by drivers other than run_bench.py
OWNED_ELSEWHERE = ("## TIME-WAIT sweeps across network namespaces",
                   # written by hand from bench/ab_set_state.py runs (issue 16)
                   "## Where on_set_state's time goes",
                   "## Where on_state_km's time goes",
                   # written by hand from perf profiles (issue 16)
                   "## Where --json's user-space time goes",
                   # an earlier run's before/after, kept (issue 15)
                   "## Issue 15's per-connection reads: before/after (make bench of 04:33 UTC)")


def _sections(text):
    """[(title or None for the head, block)] of a Markdown text, in order."""
    out, title, block = [], None, []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            out.append((title, "".join(block)))
            title, block = line.rstrip("\n"), []
        block.append(line)
    out.append((title, "".join(block)))
    return out


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def keep_owned_elsewhere(path, report):
    """report, with the sections of `path` that other drivers own appended."""
    kept = [b for t, b in _sections(_read(path)) if t in OWNED_ELSEWHERE and t not in report]
    return report.rstrip("\n") + "\n" + "".join("\n" + b.rstrip("\n") + "\n" for b in kept)


def put_section(path, block):
    """Replace the section of `path` titled like block's first line, or append it."""
    title = block.splitlines()[0]
    parts = [b for t, b in _sections(_read(path)) if t != title]
    text = "".join(parts).rstrip("\n")
    with open(path + ".tmp", "w") as f:
        f.write((text + "\n\n" if text else "") + block.rstrip("\n") + "\n")
    os.replace(path + ".tmp", path)
