# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Reading --help, the man page and the bash completion the same way for the
build tree (test_docs.py) and the installed package (test_packaging.py)."""

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELP_GROUPS = ["Targeting", "Output", "Metrics", "Close side", "Limits", "Other"]
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def run(cmd, timeout=60, check=True, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} -> {p.returncode}\n"
                             f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
    return p


def help_options(help_text):
    """{long: short or None} of every option line in --help."""
    opts = {}
    for m in re.finditer(r"^  (?:-(\w), |    )--([a-z0-9][a-z0-9-]*)", help_text, re.M):
        opts[m.group(2)] = m.group(1)
    return opts


def render_man(path):
    """The man page as plain ASCII text (roff \\- becomes -), one long line per paragraph."""
    env = dict(os.environ, LC_ALL="C", MANWIDTH="250", MAN_KEEP_FORMATTING="")
    return run(["man", "-l", "-P", "cat", path], env=env).stdout


def man_warnings(path):
    """What lintian's groff check would report (empty when clean)."""
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    p = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path], env=env, check=False)
    return p.stderr.strip() if p.returncode == 0 else f"man failed ({p.returncode}): {p.stderr}"


def man_section(text, name):
    m = re.search(rf"^{re.escape(name)}\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.M | re.S)
    assert m, f"no section {name} in the man page"
    return m.group(1)


def man_options(text, section="OPTIONS"):
    """{long: short or None} of every option tag in the OPTIONS (or another) section."""
    opts = {}
    for m in re.finditer(r"^ {7}(?:-(\w), )?--([a-z0-9][a-z0-9-]*)", man_section(text, section), re.M):
        opts[m.group(2)] = m.group(1)
    return opts


def complete(script, words, source_loader=False):
    """COMPREPLY of the completion function for a command line (last word completed)."""
    assert BASH_COMPLETION.exists(), "install the Debian package bash-completion"
    load = ("_completion_loader tcpflow-trace" if source_loader else f"source {script}")
    line = " ".join(words)
    prog = f"""
source {BASH_COMPLETION}
{load}
fn=$(complete -p tcpflow-trace | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT={len(line)}
$fn tcpflow-trace '{words[-1]}' '{words[-2]}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    p = run(["bash", "-c", prog])
    return [w for w in p.stdout.splitlines() if w]
