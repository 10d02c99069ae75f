# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kernel matrix: fetch a Debian kernel, build an initramfs, boot it in qemu,
run tests/kernels/scenarios.sh inside and collect its report.

Used by test_kernel_matrix.py; also a command line for a person:

    python3 tests/kernels/kmatrix.py fetch [KERNEL]   # download + extract, print the dir
    python3 tests/kernels/kmatrix.py run [KERNEL]     # boot and print the report
    python3 tests/kernels/kmatrix.py shell [KERNEL]   # boot to a shell on the console

KERNEL is one of debkernel.GUESTS -- "debian-5.10" (Debian 11, bullseye),
"debian-6.1" (Debian 12, bookworm; the default), "debian-6.12" (Debian 13,
trixie) -- or "host" (this machine's kernel, the same scenarios in a fresh
network namespace, no qemu). debkernel.py finds, fetches and unpacks the
guests' kernel packages.

Environment:
    TF_KERNEL_PKG      exact package for the guest whose package names it
                       matches (default: the newest installable one)
    TF_QEMU_ACCEL      auto (default: KVM when /dev/kvm works, else TCG), kvm, tcg
    TF_QEMU_KVM_CPU    qemu's -cpu with KVM (default host)
    TF_KERNEL_TIMEOUT  hard limit of one guest run in seconds (default 240 with
                       KVM, 600 with TCG)
    TF_GUEST_SCRIPT    a script to run in the guest instead of scenarios.sh (its
                       "@@" lines on /dev/ttyS1 are the report; debugging aid)

Nothing here is committed output: the .deb, the extracted kernel, the apt
lists and the initramfs live under build/kernels/ (build/ is ignored by git).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = ROOT / "build"
# TCPFLOW_BIN: another build of the tracer (as in tests/integration/tfenv.py)
TRACER = Path(os.environ.get("TCPFLOW_BIN") or BUILD / "tcpflow-trace")
TCPGEN = BUILD / "tests" / "tcpgen"

sys.path.insert(0, str(HERE))
from debkernel import (CACHE, DEFAULT_GUEST, GUESTS, KernelSetupError, run_cmd,  # noqa: E402
                       fetch_kernel, kernel_files, log, module_bytes, resolve_modules)

# nftables for the drop scenarios: nf_tables itself, numgen (drop the first k),
# counter and objref (named counters); dependencies are resolved from each
# module's modinfo.
GUEST_MODULES = ("nf_tables", "nft_numgen", "nft_counter", "nft_objref")
# Modules that are part of nf_tables.ko on newer kernels, not files (and not in
# modules.builtin either): nft_counter is a module on 5.10 only, nft_objref up
# to 6.1. The guest has a request_module() nobody answers (no modprobe), so a
# missing one fails the rules with ENOENT. Absent, a module is satisfied only
# if the named counters work without it: the guest reports which were absent
# and test_kernel_matrix.py asserts that the drops scenario's rules loaded.
OPTIONAL_MODULES = ("nft_counter", "nft_objref")
KVM_PROBE_S = 20        # a working KVM reaches /init within a few seconds


# ---- initramfs -------------------------------------------------------------------

class Cpio:
    """A newc cpio archive written by hand: no cpio tool needed, device nodes
    without privileges, owner root, deterministic."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.names = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name = name.lstrip("/")
        if name in self.names:
            return
        self.names.add(name)
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
        self.ino += 1
        self.f.write(hdr.encode() + nb)
        self.f.write(b"\0" * (-(110 + len(nb)) % 4))
        self.f.write(data)
        self.f.write(b"\0" * (-len(data) % 4))

    def dir(self, name):
        name = name.strip("/")
        if not name or name == ".":
            return
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            self._entry("/".join(parts[:i]), 0o040755, nlink=2)

    def file(self, name, src=None, data=None, mode=0o755):
        self.dir(os.path.dirname(name.strip("/")))
        if data is None:
            data = Path(src).read_bytes()     # follows symlinks: the real library
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name, target):
        self.dir(os.path.dirname(name.strip("/")))
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        self.dir(os.path.dirname(name.strip("/")))
        self._entry(name, 0o020000 | mode, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0, nlink=1)
        self.f.close()


def shared_libs(binary):
    """Absolute paths of the shared libraries (and the loader) a program needs."""
    p = run_cmd(["ldd", binary])
    if p.returncode != 0:
        if "not a dynamic executable" in (p.stdout + p.stderr):
            return []
        raise KernelSetupError(f"ldd {binary}: {p.stderr.strip()}")
    libs = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if "=> not found" in line:
            raise KernelSetupError(f"{binary}: {line}")
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"(/\S+)", line)
        if m:
            libs.append(m.group(1))
    return libs


def find_tool(*names):
    for n in names:
        for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            p = Path(d) / n
            if p.exists():
                return p
        w = shutil.which(n)
        if w:
            return Path(w)
    return None


def build_initramfs(out, moddir):
    """The guest's whole root file system: busybox, the tracer, tcpgen, nft,
    their shared libraries, this kernel's nftables modules, the scripts."""
    busybox = find_tool("busybox")
    if busybox is None:
        raise KernelSetupError("busybox not found: apt-get install busybox-static")
    if shared_libs(busybox):
        raise KernelSetupError(f"{busybox} is dynamically linked: apt-get install busybox-static")
    nft = find_tool("nft")
    if nft is None:
        raise KernelSetupError("nft not found: apt-get install nftables")
    for b, hint in ((TRACER, "make"), (TCPGEN, "make tools")):
        if not os.access(b, os.X_OK):
            raise KernelSetupError(f"{b} missing: {hint}")

    mods, absent = resolve_modules(moddir, GUEST_MODULES, OPTIONAL_MODULES)
    configs = sorted((moddir.parents[2] / "boot").glob(f"config-{moddir.name}"))
    c = Cpio(out)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "root", "run",
              "etc", "modules", "lib64"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("init", HERE / "guest-init.sh")
    # TF_GUEST_SCRIPT: run another script instead (debugging in the guest)
    c.file("scenarios.sh", os.environ.get("TF_GUEST_SCRIPT") or HERE / "scenarios.sh")
    c.file("bin/busybox", busybox)
    c.symlink("bin/sh", "busybox")
    c.file("bin/tcpflow-trace", TRACER)
    c.file("bin/tcpgen", TCPGEN)
    c.file("usr/sbin/nft", nft)
    libs = set()
    for b in (TRACER, TCPGEN, nft):
        libs.update(shared_libs(b))
    for lib in sorted(libs):
        c.file(lib, lib)
    c.file("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644)
    c.file("etc/group", data=b"root:x:0:\n", mode=0o644)
    for name, path in mods:
        c.file(f"modules/{name}.ko", data=module_bytes(path), mode=0o644)
    # A Debian host has /boot/config-RELEASE: libbpf reads __kconfig externs there
    for cfg in configs:
        c.file(f"boot/{cfg.name}", cfg, mode=0o644)
    c.file("modules/order", data="".join(f"{n}.ko\n" for n, _ in mods).encode(), mode=0o644)
    c.file("modules/absent", data="".join(f"{n}\n" for n in absent).encode(), mode=0o644)
    c.close()
    return [n for n, _ in mods], sorted(libs)


# ---- running ---------------------------------------------------------------------

@dataclass
class Run:
    kernel: str                     # a key of GUESTS, or "host"
    ok: bool = False                # the run finished ("@@ - done")
    error: str = ""                 # why not
    release: str = ""
    accel: str = ""                 # kvm / tcg / none (host)
    accel_note: str = ""            # why KVM was not used
    seconds: float = 0.0            # the run itself (qemu, or the host's scenarios)
    setup_seconds: float = 0.0      # fetching the kernel, building the initramfs
    report: list = field(default_factory=list)    # raw "@@" lines
    console: str = ""
    modules: list = field(default_factory=list)

    def lines(self, scen, chan):
        out = []
        for line in self.report:
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] == scen and parts[2] == chan:
                out.append(parts[3] if len(parts) > 3 else "")
        return out

    def info(self, scen, key):
        for v in self.lines(scen, "info"):
            k, _, val = v.partition("=")
            if k == key:
                return val
        return None

    def timing(self):
        """Where the time went: setup, and for a guest its boot (uptime when
        /init started) and the scenarios (until /init had them finished)."""
        out = f"{self.seconds:.1f} s"
        boot, end = self.info("-", "boot_s"), self.info("-", "end_s")
        if boot and end:
            out += f" (boot {float(boot):.1f} s, scenarios {float(end) - float(boot):.1f} s)"
        if self.setup_seconds:
            out += f", setup {self.setup_seconds:.1f} s"
        return out

    def tail(self, n=60):
        return "\n".join(self.console.splitlines()[-n:])


def _parse_report(text):
    return [l.rstrip("\r") for l in text.replace("\r\n", "\n").splitlines() if l.startswith("@@ ")]


def kvm_usable():
    """(True, "") when /dev/kvm can be opened read-write, else (False, why)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return False, f"/dev/kvm: {e.strerror}"
    os.close(fd)
    return True, ""


def _qemu_argv(accel, vmlinuz, initrd, console, report, shell):
    qemu = find_tool("qemu-system-x86_64")
    if qemu is None:
        raise KernelSetupError("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    append = "console=ttyS0 loglevel=5 panic=-1 rdinit=/init" + (" tf.shell" if shell else "")
    argv = [str(qemu), "-nographic", "-nodefaults", "-no-reboot", "-m", "1024", "-smp", "2",
            "-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append]
    if accel == "kvm":
        argv += ["-accel", "kvm", "-cpu", os.environ.get("TF_QEMU_KVM_CPU", "host")]
    else:
        argv += ["-accel", "tcg", "-cpu", "max"]
    if shell:
        argv += ["-serial", "mon:stdio", "-serial", f"file:{report}"]
    else:
        argv += ["-monitor", "none", "-serial", f"file:{console}", "-serial", f"file:{report}"]
    return argv


def _boot_once(accel, vmlinuz, initrd, workdir, timeout):
    """One qemu run. Returns (status, console, report_text, seconds) with status
    "done", "timeout", "kvm-dead" (no kernel banner in time) or "exit N: ..."."""
    console, report = workdir / f"console-{accel}.log", workdir / f"report-{accel}.txt"
    for f in (console, report):
        f.unlink(missing_ok=True)
    argv = _qemu_argv(accel, vmlinuz, initrd, console, report, shell=False)
    errf = open(workdir / f"qemu-{accel}.stderr", "w+")
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                         start_new_session=True)
    status = None
    try:
        while p.poll() is None:
            el = time.monotonic() - t0
            if el > timeout:
                status = "timeout"
                break
            if accel == "kvm" and el > KVM_PROBE_S:
                text = console.read_text(errors="replace") if console.exists() else ""
                if "tf-guest: init" not in text:     # guest-init.sh's first line
                    status = "kvm-dead"
                    break
            time.sleep(0.2)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    secs = time.monotonic() - t0
    errf.seek(0)
    err = errf.read().strip()
    errf.close()
    text = console.read_text(errors="replace") if console.exists() else ""
    rep = report.read_text(errors="replace") if report.exists() else ""
    if status is None:
        status = "done" if p.returncode == 0 else f"exit {p.returncode}: {err[-300:]}"
    return status, text, rep, secs


def run_guest(name=DEFAULT_GUEST, workdir=None):
    """Boot guest `name`'s kernel with our initramfs and collect the report."""
    r = Run(name)
    workdir = Path(workdir or CACHE / f"run-{name}")
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        kdir = fetch_kernel(name)
        vmlinuz, moddir = kernel_files(kdir)
        r.release = moddir.name
        initrd = workdir / "initramfs.cpio"
        r.modules, _ = build_initramfs(initrd, moddir)
    except KernelSetupError as e:
        r.error = str(e)
        return r
    finally:
        r.setup_seconds = time.monotonic() - t0

    want = os.environ.get("TF_QEMU_ACCEL", "auto")
    if want not in ("auto", "kvm", "tcg"):
        r.error = f"TF_QEMU_ACCEL={want}: use auto, kvm or tcg"
        return r
    tries = []
    if want in ("auto", "kvm"):
        ok, why = kvm_usable()
        if ok:
            tries.append("kvm")
        elif want == "kvm":
            r.error = f"TF_QEMU_ACCEL=kvm but {why}"
            return r
        else:
            r.accel_note = why
    if want in ("auto", "tcg"):
        tries.append("tcg")

    total = 0.0
    for accel in tries:
        timeout = float(os.environ.get("TF_KERNEL_TIMEOUT", 240 if accel == "kvm" else 600))
        try:
            status, console, rep, secs = _boot_once(accel, vmlinuz, initrd, workdir, timeout)
        except KernelSetupError as e:
            r.error = str(e)
            return r
        total += secs
        r.accel, r.console, r.report = accel, console, _parse_report(rep)
        if accel == "kvm" and want == "auto" and (status == "kvm-dead" or status.startswith("exit")):
            # /dev/kvm opens but does not run a guest (e.g. nested virtualization
            # without support): software emulation instead
            r.accel_note = ("KVM did not boot the guest: " +
                            ("the guest's /init did not start within %d s" % KVM_PROBE_S if status == "kvm-dead"
                             else status))
            log(f"{r.accel_note}; falling back to TCG")
            continue
        break
    r.seconds = total
    r.ok = any(l.startswith("@@ - done") for l in r.report)
    if not r.ok:
        r.error = (f"the guest run did not finish ({status}, accel {r.accel}, {secs:.0f} s); "
                   f"console tail:\n{r.tail()}")
    return r


def run_host(workdir=None):
    """The same scenarios on this machine's kernel, in a new network namespace."""
    r = Run("host", accel="none", release=os.uname().release)
    workdir = Path(workdir or CACHE / "host")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    busybox = find_tool("busybox")
    if busybox is None:
        r.error = "busybox not found: apt-get install busybox-static"
        return r
    for b, hint in ((TRACER, "make"), (TCPGEN, "make tools")):
        if not os.access(b, os.X_OK):
            r.error = f"{b} missing: {hint}"
            return r
    report = workdir / "report.txt"
    env = dict(os.environ, TF_BIN=str(TRACER), TCPGEN=str(TCPGEN), OUT=str(report),
               WORK=str(workdir / "work"), BB=str(busybox))
    t0 = time.monotonic()
    p = subprocess.Popen(["unshare", "--net", str(busybox), "sh", str(HERE / "scenarios.sh")],
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=float(os.environ.get("TF_KERNEL_TIMEOUT", 300)))
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        r.error = "the host run timed out"
    r.seconds = time.monotonic() - t0
    r.console = out or ""
    r.report = _parse_report(report.read_text(errors="replace")) if report.exists() else []
    r.ok = any(l.startswith("@@ - done") for l in r.report)
    if not r.ok and not r.error:
        r.error = f"the host run did not finish (exit {p.returncode}):\n{r.tail()}"
    return r


def run_kernel(kernel, workdir=None):
    if kernel == "host":
        return run_host(workdir)
    if kernel in GUESTS:
        return run_guest(kernel, workdir)
    raise ValueError(f"unknown kernel {kernel!r}: host, {', '.join(GUESTS)}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "run"
    name = argv[2] if len(argv) > 2 else DEFAULT_GUEST
    if cmd in ("fetch", "shell") and name not in GUESTS:
        print(f"unknown guest {name!r}: {', '.join(GUESTS)}", file=sys.stderr)
        return 2
    if cmd == "fetch":
        print(fetch_kernel(name))
        return 0
    if cmd == "run":
        r = run_kernel(name)
        print("\n".join(r.report))
        log(f"{r.kernel} {r.release}: ok={r.ok} accel={r.accel} {r.accel_note} {r.timing()}")
        if r.error:
            log(r.error)
        return 0 if r.ok else 1
    if cmd == "shell":
        kdir = fetch_kernel(name)
        vmlinuz, moddir = kernel_files(kdir)
        work = CACHE / f"run-{name}"
        work.mkdir(parents=True, exist_ok=True)
        build_initramfs(work / "initramfs.cpio", moddir)
        ok, _ = kvm_usable()
        accel = os.environ.get("TF_QEMU_ACCEL", "kvm" if ok else "tcg")
        argv = _qemu_argv("tcg" if accel == "auto" else accel, vmlinuz, work / "initramfs.cpio",
                          None, work / "report-shell.txt", shell=True)
        return subprocess.call(argv)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
