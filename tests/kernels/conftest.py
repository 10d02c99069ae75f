# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kernel matrix policy: one run per kernel, shared by every test of that
kernel; a skip is a failure under CI=true (the guest test must really run);
a summary of how each kernel ran (accelerator, seconds) at the end."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import kmatrix  # noqa: E402
from ci_policy import in_ci  # noqa: E402

_runs = {}


def kernels():
    """TF_KERNELS picks the kernels to run: by default the host and every
    guest of kmatrix.GUESTS (Debian's 5.10, 6.1, 6.12)."""
    return os.environ.get("TF_KERNELS", " ".join(["host", *kmatrix.GUESTS])).split()


def pytest_generate_tests(metafunc):
    if "kernel" in metafunc.fixturenames:
        metafunc.parametrize("kernel", kernels(), scope="session")


@pytest.fixture(scope="session")
def run(kernel):
    """The finished run of `kernel` (booted once, then reused by every test)."""
    if os.geteuid() != 0:
        pytest.skip("NOT ROOT: the kernel matrix loads BPF programs and boots qemu; "
                    "run it as root (sudo make test-kernels)")
    if kernel not in _runs:
        _runs[kernel] = kmatrix.run_kernel(kernel)
    r = _runs[kernel]
    if not r.report and r.error:
        # nothing ran at all: setup problem (package, qemu, build)
        pytest.skip(f"{kernel}: {r.error}") if not in_ci() else pytest.fail(
            f"{kernel}: {r.error}", pytrace=False)
    return r


def pytest_terminal_summary(terminalreporter):
    for name, r in _runs.items():
        how = r.accel + (f" ({r.accel_note.splitlines()[0]})" if r.accel_note else "")
        terminalreporter.write_line(
            f"kernel matrix: {name} {r.release}: {'completed' if r.ok else 'DID NOT COMPLETE'} "
            f"in {r.timing()}, accel {how}")
