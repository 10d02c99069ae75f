# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Fixtures and root/CI policy for the integration tests (helpers: tfenv.py).

Tests marked `root` skip with a loud reason when not run as root -- unless
CI=true, where any skip is turned into a failure: CI must really run them.
"""

import os
import sys

import pytest
from _pytest.runner import runtestprotocol

sys.path.insert(0, os.path.dirname(__file__))
import tfenv  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (BPF, network namespaces)")


def pytest_sessionstart(session):
    if os.geteuid() == 0:
        tfenv.remove_stale_namespaces()


def pytest_runtest_setup(item):
    if item.get_closest_marker("root"):
        tfenv.require_root()


# A root test that fails runs once more, from a fresh namespace. Now and then
# the kernel delivers a softirq's worth of tracepoint events to no BPF program,
# and no counter says so (docs/KERNEL.md, fact 6): a test whose exchange it hit
# fails on events that never reached us. Such a loss is rare, so a second
# failure is ours. Every rerun is listed at the end of the run, with why the
# first attempt failed.
RERUNS = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if not item.get_closest_marker("root"):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    failed = [r for r in reports if r.failed]
    if failed:
        RERUNS.append((item.nodeid, first_failure(failed[0])))
        item._initrequest()
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for r in reports:
        item.ihook.pytest_runtest_logreport(report=r)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def first_failure(report, max_lines=40):
    """Where a first attempt failed and the assertion's own message (the
    records it printed among them): what tells the kernel's loss from ours."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is None:
        return str(report.longrepr).strip().splitlines()[-1:]
    lines = crash.message.splitlines()
    return ([f"{crash.path}:{crash.lineno}"] + lines[:max_lines]
            + ([f"... ({len(lines) - max_lines} more lines)"] if len(lines) > max_lines else []))


def pytest_terminal_summary(terminalreporter):
    if RERUNS:
        terminalreporter.write_sep("!", f"{len(RERUNS)} ROOT TESTS FAILED ONCE AND RAN AGAIN "
                                   "(the outcome above is the second run's)", yellow=True, bold=True)
        for nodeid, why in RERUNS:
            terminalreporter.write_line(f"rerun: {nodeid}: first attempt: {why[0]}")
            for line in why[1:]:
                terminalreporter.write_line(f"    {line[:300]}")


@pytest.fixture
def ns_factory(tmp_path):
    """Create namespaces on demand; all are deleted (and their processes killed)."""
    tfenv.require_bin(tfenv.TCPGEN_BIN, "build it with `make tools`")
    made = []

    def make(tag=""):
        ns = tfenv.Netns(tmp_path, tag)
        made.append(ns)
        return ns

    yield make
    for ns in reversed(made):
        ns.close()


@pytest.fixture
def ns(ns_factory, request):
    return ns_factory(request.node.name.split("[")[0].replace("test_", "")[:8])
