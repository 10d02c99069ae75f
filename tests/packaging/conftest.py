# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Packaging tests: the same root/CI policy as tests/integration.

Tests marked `root` skip with a loud reason when not run as root -- unless
CI=true, where any skip is a failure: CI must really build, install and
remove the package.
"""

import os

import pytest


def in_ci():
    return os.environ.get("CI") == "true"


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (dpkg, apt, BPF, namespaces)")


def pytest_runtest_setup(item):
    if item.get_closest_marker("root") and os.geteuid() != 0:
        msg = ("NOT ROOT: this test installs a Debian package and loads BPF programs; "
               "run it as root (sudo make check-packaging)")
        if in_ci():
            pytest.fail(msg + " -- CI=true, a skipped root test is a failure", pytrace=False)
        pytest.skip(msg)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and in_ci():
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"CI=true: skipped tests are failures here ({reason})"


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} PACKAGING TESTS SKIPPED -- "
                                   "they did not run (see reasons above / use -rs)", red=True, bold=True)
