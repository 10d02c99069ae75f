# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Usage errors: exit status 2, exactly one line on stderr, nothing on stdout,
and no root needed (when run as root, the tracer is run as `nobody`)."""

import os
import pwd
import subprocess

import pytest

import tfenv


def _as_nobody():
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


@pytest.mark.parametrize("args", [
    ["--port", "70000"],
    ["--port", "abc"],
    ["--port", "0"],
    ["--pid", "-3"],
    ["--no-such-flag"],
    ["--json", "--netns", "not-a-number"],
    ["--port"],                       # missing value
    ["report"],                       # no capture
    ["report", "a.jsonl", "b.jsonl"],
    ["report", "a.jsonl", "--top", "many"],
    ["report", "a.jsonl", "--max-rows", "-1"],
    ["report", "a.jsonl", "--json"],  # the tracer's option, not the report's
    ["report", "a.jsonl", "-o"],
], ids=lambda a: " ".join(a))
def test_usage_error(args):
    binary = tfenv.unprivileged_bin() if os.geteuid() == 0 else tfenv.TRACER_BIN
    tfenv.require_bin(binary, "build it with `make`")
    p = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=10,
                       preexec_fn=_as_nobody(), cwd="/")
    assert p.returncode == 2, f"exit {p.returncode}, stderr {p.stderr!r}"
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"want one stderr line, got {lines!r}"
    assert lines[0].startswith("tcpflow-trace"), lines
    assert p.stdout == "", p.stdout
