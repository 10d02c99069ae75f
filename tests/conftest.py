# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Shared by every pytest suite under tests/: the CI policy (ci_policy.py).

Under CI=true any skipped test is reported as a failure, and every run that
skipped something ends with a loud line saying so.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import ci_policy  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (BPF, namespaces, dpkg, qemu)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and ci_policy.in_ci():
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"CI=true: skipped tests are failures here ({reason})"


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} TESTS SKIPPED -- they did not run "
                                   "(see the reasons above / use -rs)", red=True, bold=True)
