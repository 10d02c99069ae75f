# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Packaging tests: the same root/CI policy as tests/integration.

Tests marked `root` skip with a loud reason when not run as root -- unless
CI=true, where any skip is a failure: CI must really build, install and
remove the package.
"""

import ci_policy


def pytest_runtest_setup(item):
    if item.get_closest_marker("root"):
        ci_policy.require_root("this test installs a Debian package and loads BPF programs",
                               "sudo make check-packaging")
