# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--help, the man page, the bash completion, the version and `make install`
of the build tree (no root; `make check-docs`).

The man page's OPTIONS and REPORT OPTIONS sections and the completion are
generated from the option tables (src/options.c): these tests prove the
generated files and --help (and `report --help`) agree both ways, and guard
what generation cannot (80 columns, the groups, groff warnings, install
paths, Build-Depends vs. the Makefile). The Markdown docs: the README's
options against --help, every JSON field and metric family in its reference,
every relative link resolving, ARCHITECTURE.md against the tree.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from docs import (HELP_GROUPS, ROOT, complete, help_options, man_options, man_section,
                  man_warnings, render_man, run)

BIN = ROOT / "build" / "tcpflow-trace"
DOC = ROOT / "build" / "doc"
MAN = DOC / "tcpflow-trace.8"
COMP = DOC / "tcpflow-trace.bash-completion"


@pytest.fixture(scope="module")
def help_text():
    for f in (BIN, MAN, COMP):
        if not f.exists():
            pytest.fail(f"{f} is missing: run `make all docs` first", pytrace=False)
    return run([BIN, "--help"]).stdout


@pytest.fixture(scope="module")
def report_help(help_text):
    return run([BIN, "report", "--help"]).stdout


@pytest.fixture(scope="module")
def man_text(help_text):
    return render_man(MAN)


def test_help_fits_79_columns(help_text, report_help):
    for text in (help_text, report_help):
        long = [f"{len(line)}: {line}" for line in text.splitlines() if len(line) > 79]
        assert not long, "--help lines wider than 79 columns:\n" + "\n".join(long)


def test_help_is_grouped(help_text):
    groups = re.findall(r"^(\S[^:\n]*):$", help_text, re.M)
    assert [g for g in groups if g in HELP_GROUPS] == HELP_GROUPS, groups
    # every option sits under a group heading
    before_first = help_text.split(f"\n{HELP_GROUPS[0]}:\n")[0]
    assert not help_options(before_first)


def test_man_options_match_help_both_ways(help_text, man_text):
    in_help, in_man = help_options(help_text), man_options(man_text)
    assert in_help, "no options parsed from --help"
    assert set(in_help) - set(in_man) == set(), "in --help, not in the man page"
    assert set(in_man) - set(in_help) == set(), "in the man page, not in --help"
    assert in_help == in_man, "short options differ"


def test_man_report_options_match_report_help(report_help, man_text):
    """`report` has a table of its own: REPORT OPTIONS and `report --help` agree."""
    in_help, in_man = help_options(report_help), man_options(man_text, "REPORT OPTIONS")
    assert set(in_help) >= {"output", "top", "max-diagrams", "max-rows", "help"}, in_help
    assert in_help == in_man


def test_man_page_has_the_required_sections(man_text):
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "REPORT OPTIONS", "JSON RECORDS", "METRICS",
                 "EXIT STATUS", "CAPABILITIES", "KERNEL REQUIREMENTS", "FILES", "EXAMPLES"):
        man_section(man_text, name)
    exit_status = man_section(man_text, "EXIT STATUS")
    for code in range(6):
        assert re.search(rf"^ {{7}}{code} ", exit_status, re.M), f"exit status {code} undocumented"
    assert "tcpflow_connections_total" in man_section(man_text, "METRICS")
    assert not re.search(r"@[A-Z]+@", man_text), "an unreplaced @PLACEHOLDER@"


def test_man_page_has_no_groff_warnings():
    assert man_warnings(MAN) == ""


def test_completion_offers_every_option(help_text):
    opts = help_options(help_text)
    assert set(complete(COMP, ["tcpflow-trace", "--"])) == {f"--{o}" for o in opts}
    shorts = {f"-{s}" for s in opts.values() if s}
    assert shorts <= set(complete(COMP, ["tcpflow-trace", "-"]))


def test_completion_of_report(report_help):
    """After `report`: its own options, files as the capture; the word itself completes."""
    opts = help_options(report_help)
    assert set(complete(COMP, ["tcpflow-trace", "report", "--"])) == {f"--{o}" for o in opts}
    assert set(complete(COMP, ["tcpflow-trace", "report", "cap.jsonl", "--"])) == \
        {f"--{o}" for o in opts}
    assert complete(COMP, ["tcpflow-trace", "rep"]) == ["report"]
    assert "/sys/kernel/btf/vmlinux" in complete(COMP, ["tcpflow-trace", "report", "/sys/kernel/btf/vm"])
    assert "/sys/kernel/btf/vmlinux" in complete(COMP, ["tcpflow-trace", "report", "-o", "/sys/kernel/btf/vm"])
    assert complete(COMP, ["tcpflow-trace", "report", "--top", ""]) == []


def test_completion_of_option_arguments():
    assert "root" in complete(COMP, ["tcpflow-trace", "--user", "ro"])
    assert "/sys/kernel/btf/vmlinux" in complete(COMP, ["tcpflow-trace", "--btf", "/sys/kernel/btf/vm"])
    assert complete(COMP, ["tcpflow-trace", "--port", ""]) == []


def test_version_is_known():
    out = run([BIN, "--version"]).stdout
    assert re.fullmatch(r"tcpflow-trace \S+\n", out) and "unknown" not in out, out


def _version_in(tree, *make_args):
    """The version the build writes into build/version.h (TF_VERSION)."""
    run(["make", "-s", "build/version.h", *make_args], cwd=tree)
    text = (tree / "build" / "version.h").read_text()
    m = re.fullmatch(r'#define TF_VERSION "([^"]*)"\n', text)
    assert m, text
    return m.group(1)


def test_version_without_git_comes_from_debian_changelog(tmp_path):
    """A tarball or Debian source tree has no .git -- or sits inside another repository."""
    changelog = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    want = re.match(r"\S+ \(([^)]+)\)", changelog).group(1)
    tree = tmp_path / "outer" / "tcpflow-trace"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", "build", ".pytest_cache"))
    assert _version_in(tree) == want
    run(["git", "init", "-q", tmp_path / "outer"])
    assert _version_in(tree) == want, "described the unrelated repository around the tree"
    assert _version_in(tree, "VERSION=9.9") == "9.9"


def _install(destdir, doc_dir, *args):
    # DOC_DIR of its own: the build tree's build/doc keeps its PREFIX
    return run(["make", "-s", "install", f"DESTDIR={destdir}", f"DOC_DIR={doc_dir}", *args],
               cwd=ROOT, timeout=300)


@pytest.mark.parametrize("prefix, unitdir, etc", [
    ("/usr/local", "/usr/local/lib/systemd/system", "/usr/local/etc"),
    ("/usr", "/lib/systemd/system", "/etc"),
])
def test_make_install_and_uninstall(tmp_path, prefix, unitdir, etc):
    dest, doc = tmp_path / "root", tmp_path / "doc"
    args = [] if prefix == "/usr/local" else [f"PREFIX={prefix}"]
    _install(dest, doc, *args)
    deploy = sorted(p.name for p in (ROOT / "deploy").iterdir() if p.is_file())
    files = {
        f"{prefix}/sbin/tcpflow-trace": 0o755,
        f"{prefix}/share/man/man8/tcpflow-trace.8": 0o644,
        f"{prefix}/share/bash-completion/completions/tcpflow-trace": 0o644,
        f"{unitdir}/tcpflow-trace.service": 0o644,
        f"{etc}/default/tcpflow-trace": 0o644,
        **{f"{prefix}/share/tcpflow-trace/{n}": 0o644 for n in deploy},
    }
    for f, mode in files.items():
        st = os.stat(f"{dest}{f}")
        assert st.st_mode & 0o777 == mode, f
    got = {"/" + str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert got == set(files)
    unit = (dest / unitdir.lstrip("/") / "tcpflow-trace.service").read_text()
    assert f"ExecStart={prefix}/sbin/tcpflow-trace --metrics" in unit
    assert f"EnvironmentFile=-{etc}/default/tcpflow-trace" in unit
    assert not re.search(r"@[A-Z]+@", unit)
    man = (dest / prefix.lstrip("/") / "share/man/man8/tcpflow-trace.8").read_text()
    assert f"{unitdir}/tcpflow" in man.replace("\\-", "-")
    assert run([f"{dest}{prefix}/sbin/tcpflow-trace", "--version"]).stdout.startswith("tcpflow-trace ")

    # the administrator's settings survive a reinstall and an uninstall
    settings = dest / etc.lstrip("/") / "default" / "tcpflow-trace"
    settings.write_text("TCPFLOW_METRICS=0.0.0.0:9464\n")
    _install(dest, doc, *args)
    assert settings.read_text() == "TCPFLOW_METRICS=0.0.0.0:9464\n"
    run(["make", "-s", "uninstall", f"DESTDIR={dest}", f"DOC_DIR={doc}", *args], cwd=ROOT)
    left = {"/" + str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert left == {f"{etc}/default/tcpflow-trace"}
    assert not (dest / prefix.lstrip("/") / "share" / "tcpflow-trace").exists()


def _make_list(name):
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{name}\s*:=((?:.*\\\n)*.*)$", text, re.M)
    assert m, f"{name} not found in the Makefile"
    return set(m.group(1).replace("\\\n", " ").split())


def test_build_depends_match_the_makefile():
    """debian/control and the Makefile's DEB_BUILD name the same libraries and tools."""
    control = (ROOT / "debian" / "control").read_text()
    m = re.search(r"^Build-Depends:((?:.*\n)(?:[ \t].*\n)*)", control, re.M)
    bdeps = {re.split(r"[\s(]", d.strip())[0] for d in m.group(1).split(",") if d.strip()}
    bdeps.discard("debhelper-compat")
    # what the build needs; make, gcc, git, pkg-config are build-essential or unused
    needed = {p for p in _make_list("DEB_BUILD") if p.endswith("-dev") or p in ("clang", "bpftool")}
    assert needed == bdeps, f"Makefile DEB_BUILD {sorted(needed)} vs Build-Depends {sorted(bdeps)}"


def test_runtime_does_not_depend_on_the_toolchain():
    control = (ROOT / "debian" / "control").read_text()
    depends = re.search(r"^Package: tcpflow-trace\n(?:.*\n)*?Depends: (.*)$", control, re.M).group(1)
    assert depends.replace(" ", "") == "${misc:Depends},${shlibs:Depends}"


# The ways src/sink_*.c hands jw (src/jw.h) a key: "{\"key\":..." literals, a
# writer's key argument (tf_jw_count(&w, "key", ...), tf_jw_member(w, first, "key"),
# json_time(&w, "key", ...)), rows of a table of keys ({ "key", st->... }, keys[]).
JSON_KEY_RES = (
    re.compile(r'\\"([a-z][a-z0-9_]*)\\":'),
    re.compile(r'(?:tf_jw_(?:key|count|name|us|bool|time|member)|json_\w+)\(\s*&?\w+(?:->\w+)?,'
               r'\s*(?:[^,"()]+,\s*)?"([a-z][a-z0-9_]*)"'),
    re.compile(r'\{\s*"([a-z][a-z0-9_]*)",\s*(?:st->|tf_run_)'),
)


def test_every_json_field_is_documented(man_text):
    """Every key the JSON outputs write (src/sink_*.c) is named in JSON RECORDS."""
    keys = set()
    for src in sorted((ROOT / "src").glob("sink_*.c")):
        text = src.read_text()
        for key_re in JSON_KEY_RES:
            keys |= set(key_re.findall(text))
        for table in re.findall(r'\bkeys\[\]\s*=\s*\{([^}]*)\}', text):
            keys |= set(re.findall(r'"([a-z][a-z0-9_]*)"', table))
    assert len(keys) > 40, sorted(keys)
    doc = man_section(man_text, "JSON RECORDS")
    missing = sorted(k for k in keys if not re.search(rf"\b{k}\b", doc))
    assert not missing, f"JSON fields missing from packaging/tcpflow-trace.8.in: {missing}"


# ---- the Markdown documentation ----------------------------------------------
#
# README.md is the user's manual; docs/ holds the full JSON schema, the metrics,
# the supported kernels, the design and the kernel facts; ARCHITECTURE.md the
# code's layout. These check what a reader would trip over: an option the README
# does not know, a field or a metric missing from its reference, a dead link, a
# layout description that no longer matches the tree.

def _repo_files():
    """The repository's files (tracked or about to be), relative paths; without git
    (a source tarball) every file outside build/ and hidden folders."""
    p = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
            check=False)
    if p.returncode == 0:
        return [f for f in p.stdout.split() if (ROOT / f).is_file()]
    return [str(f.relative_to(ROOT)) for f in ROOT.rglob("*") if f.is_file()
            and not re.match(r"(build|\.[^/]*)/", str(f.relative_to(ROOT)))
            and "__pycache__" not in f.parts]


def _markdown_files():
    """Every Markdown file of the repository."""
    files = [ROOT / f for f in _repo_files() if f.endswith(".md")]
    assert ROOT / "README.md" in files and ROOT / "ARCHITECTURE.md" in files, files
    return files


def _prose(text):
    """The text without fenced code blocks and inline code spans."""
    text = re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _headings(text):
    """GitHub's anchors of a Markdown text's headings (code blocks skipped)."""
    text = re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.M | re.S)
    anchors, seen = set(), {}
    for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _section(text, title):
    """A Markdown section: from its heading to the next heading of its level or above
    (headings inside code blocks do not count)."""
    level, lines, fence = None, [], False
    for line in text.splitlines():
        fence ^= line.startswith("```")
        m = None if fence else re.match(r"(#{1,6}) (.*)$", line)
        if level is None:
            if m and m.group(2) == title:
                level = len(m.group(1))
        elif m and len(m.group(1)) <= level:
            break
        else:
            lines.append(line)
    assert level is not None, f"no section {title!r}"
    return "\n".join(lines)


def _table_options(section):
    """{long: short or None} of a Markdown table whose first cells are `-x, --long ARG`."""
    opts = {}
    for m in re.finditer(r"^\| `(?:-(\w), )?--([a-z0-9][a-z0-9-]*)", section, re.M):
        opts[m.group(2)] = m.group(1)
    return opts


def test_readme_options_match_help(help_text, report_help):
    """The README's option tables name every option of --help (and report --help), both ways."""
    readme = (ROOT / "README.md").read_text()
    in_readme, in_help = _table_options(_section(readme, "Options")), help_options(help_text)
    assert set(in_help) - set(in_readme) == set(), "in --help, not in README's Options"
    assert set(in_readme) - set(in_help) == set(), "in README's Options, not in --help"
    assert in_readme == in_help, "short options differ"
    report = _section(readme, "A shareable report: `tcpflow-trace report`")
    assert _table_options(report) == help_options(report_help), "README's report options"
    exit_status = _section(readme, "Exit status")
    for code in range(6):
        assert re.search(rf"^\| {code} \|", exit_status, re.M), f"exit status {code} undocumented"


def test_markdown_links_resolve():
    """Every relative link of every Markdown file names a file that exists, and a heading
    in it when it has an #anchor."""
    bad = []
    for md in _markdown_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(md.read_text())):
            if re.match(r"[a-z]+:", target):
                continue        # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                bad.append(f"{md.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _headings(dest.read_text()):
                bad.append(f"{md.relative_to(ROOT)}: {target} (no such heading)")
    assert not bad, "dead links:\n" + "\n".join(bad)


def test_nothing_cites_files_a_clone_lacks():
    """Code, tests and docs cite kernel commits and the repository's own docs only."""
    words = ("/work/" + "shared", "kernel" + "-facts", "../" + "shared/")
    hits = []
    for f in _repo_files():
        path = ROOT / f
        if path.stat().st_size > 1 << 20:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        hits += [f"{f}: {w}" for w in words if w in text]
    assert not hits, hits


def _golden_records():
    """{type: set of keys} of every JSON record the sinks wrote in the golden run."""
    keys = {}

    def walk(kind, obj, parent):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if parent == "labels" or k == "type":   # label names: docs/METRICS.md
                    continue
                keys.setdefault(kind, set()).add(k)
                walk(kind, v, k)
        elif isinstance(obj, list):
            for v in obj:
                walk(kind, v, parent)

    for f in sorted((ROOT / "tests" / "unit" / "golden").glob("sinks.*.jsonl")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            walk(rec["type"], rec, None)
    return keys


def test_json_md_documents_every_field():
    """Every field of every record type the sinks write (the golden run of
    tests/unit/test_sinks.c) is named in that type's section of docs/JSON.md."""
    doc = (ROOT / "docs" / "JSON.md").read_text()
    records = _golden_records()
    assert {"conn", "stats", "time_wait", "stuck", "tw_top", "hist"} <= set(records), records
    missing = []
    for kind, keys in sorted(records.items()):
        section = _section(doc, f"`{kind}`")
        missing += [f"{kind}.{k}" for k in sorted(keys)
                    if not re.search(rf"(?<![\w]){re.escape(k)}(?![\w])", section)]
    assert not missing, f"JSON fields missing from docs/JSON.md: {missing}"


def test_metrics_md_documents_every_family():
    """Every family /metrics serves (the golden exposition) has its row in docs/METRICS.md."""
    text = (ROOT / "tests" / "unit" / "golden" / "sinks.metrics.txt").read_text()
    families = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(families) > 20, families
    table = _section((ROOT / "docs" / "METRICS.md").read_text(), "Families")
    missing = [f for f in families if f"`{f}`" not in table]
    assert not missing, f"metric families missing from docs/METRICS.md: {missing}"


def test_architecture_matches_the_tree():
    """ARCHITECTURE.md names every top-level folder, every folder of tests/, every file of
    bpf/ and include/, every module of src/ and src/report/; and every path it names exists."""
    arch = (ROOT / "ARCHITECTURE.md").read_text()
    tracked = _repo_files()
    missing = []
    for top in sorted({f.split("/")[0] for f in tracked if "/" in f and not f.startswith(".")}):
        if f"**`{top}/`**" not in arch:
            missing.append(f"{top}/ (a paragraph **`{top}/`**)")
    for sub in sorted({f.split("/")[1] for f in tracked
                       if f.startswith("tests/") and f.count("/") >= 2}):
        if f"`{sub}/`" not in arch and f"`tests/{sub}/`" not in arch:
            missing.append(f"tests/{sub}/")
    for f in tracked:
        path = Path(f)
        if len(path.parts) < 2 or path.suffix not in (".c", ".h", ".css", ".js"):
            continue
        if path.parts[0] in ("bpf", "include") or path.parent == Path("src/report"):
            if f"`{path.name}`" not in arch and f"`{f}`" not in arch:
                missing.append(f)
        elif path.parent == Path("src"):
            if not re.search(rf"`(?:src/)?{re.escape(path.stem)}(?:\.[ch])?`", arch):
                missing.append(f)
    assert not missing, "ARCHITECTURE.md does not describe: " + ", ".join(missing)
    tops = {f.split("/")[0] for f in tracked if "/" in f}
    gone = [p for p in re.findall(r"`([\w.-]+/[\w./-]*)`", arch)
            if p.split("/")[0] in tops and not (ROOT / p).exists()]
    assert not gone, f"ARCHITECTURE.md names paths that do not exist: {gone}"
