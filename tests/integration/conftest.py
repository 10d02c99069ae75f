# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Fixtures and root/CI policy for the integration tests (helpers: tfenv.py).

Tests marked `root` skip with a loud reason when not run as root -- unless
CI=true, where any skip is turned into a failure: CI must really run them.
"""

import os
import sys

import pytest

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
