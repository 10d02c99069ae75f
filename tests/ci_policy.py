# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The one root/CI policy of every pytest suite (integration, packaging, kernels).

Root tests skip loudly without root -- unless CI=true, where a skip is a
failure: CI must really run them. tests/conftest.py applies it to all suites.
"""

import os

import pytest


def in_ci():
    return os.environ.get("CI") == "true"


def require_root(what, how):
    """Skip (or, under CI=true, fail) loudly when not root.

    what: why root is needed; how: the command to run instead."""
    if os.geteuid() == 0:
        return
    msg = f"NOT ROOT: {what}; run it as root ({how})"
    if in_ci():
        pytest.fail(msg + " -- CI=true, a skipped root test is a failure", pytrace=False)
    pytest.skip(msg)
