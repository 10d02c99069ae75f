# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kernel matrix: fetch a Debian kernel, build an initramfs, boot it in qemu,
run tests/kernels/scenarios.sh inside and collect its report.

Used by test_kernel_matrix.py; also a command line for a person:

    python3 tests/kernels/kmatrix.py fetch [KERNEL]   # download + extract, print the dir
    python3 tests/kernels/kmatrix.py run [KERNEL]     # boot and print the report
    python3 tests/kernels/kmatrix.py shell [KERNEL]   # boot to a shell on the console

KERNEL is one of GUESTS below -- "debian-5.10" (Debian 11, bullseye),
"debian-6.1" (Debian 12, bookworm; the default), "debian-6.12" (Debian 13,
trixie) -- or "host" (this machine's kernel, the same scenarios in a fresh
network namespace, no qemu).

A guest's kernel comes from its Debian release's archive. A release that the
machine's apt sources do not list is added for our commands only: a private
sources.list naming the Debian archive URI the machine's sources already use,
with private lists under build/kernels/apt/ (apt's -o Dir::Etc::sourcelist,
Dir::Etc::sourceparts and Dir::State::Lists); the machine's own sources and
lists are not touched.

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

import lzma
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = ROOT / "build"
CACHE = BUILD / "kernels"
# TCPFLOW_BIN: another build of the tracer (as in tests/integration/tfenv.py)
TRACER = Path(os.environ.get("TCPFLOW_BIN") or BUILD / "tcpflow-trace")
TCPGEN = BUILD / "tests" / "tcpgen"



@dataclass(frozen=True)
class Guest:
    """A Debian cloud kernel for the matrix: the release whose archive serves
    it and its package names (group 1, a number, orders them: newest first)."""
    suite: str
    pkg_re: re.Pattern


GUESTS = {
    "debian-5.10": Guest("bullseye", re.compile(r"^linux-image-5\.10\.0-(\d+)-cloud-amd64-unsigned$")),
    "debian-6.1": Guest("bookworm", re.compile(r"^linux-image-6\.1\.0-(\d+)-cloud-amd64-unsigned$")),
    # from Debian 13 the package name carries the upstream patch level
    "debian-6.12": Guest("trixie", re.compile(r"^linux-image-6\.12\.(\d+)\+deb13-cloud-amd64-unsigned$")),
}
DEFAULT_GUEST = "debian-6.1"

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


class KernelSetupError(Exception):
    """The guest could not be prepared (no package, no qemu, ...)."""


def log(msg):
    print(f"kmatrix: {msg}", file=sys.stderr, flush=True)


def _run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run([str(c) for c in cmd], **kw)


# ---- the kernel package ------------------------------------------------------

def _os_release():
    out = {}
    for line in Path("/etc/os-release").read_text(errors="replace").splitlines():
        k, _, v = line.partition("=")
        out[k] = v.strip().strip('"')
    return out


def machine_sources():
    """(uri, suites, signed_by) of each "deb" entry of the machine's apt
    sources, one-line (.list) and deb822 (.sources) files alike."""
    etc = Path("/etc/apt")
    out = []
    for f in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            m = re.match(r"deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line.split("#", 1)[0].strip())
            if m:
                opts = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
                out.append((m.group(2), [m.group(3)], opts.get("signed-by")))
    for f in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n[ \t]*\n", f.read_text(errors="replace")):
            fields = {}
            for line in stanza.splitlines():
                if line[:1] in ("#", " ", "\t") or ":" not in line:
                    continue
                k, _, v = line.partition(":")
                fields[k.strip().lower()] = v.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    out.append((uri, fields.get("suites", "").split(), fields.get("signed-by")))
    return out


def apt_options(suite):
    """apt options under which Debian release `suite` is visible: none when
    the machine's sources list it; else a private sources.list with the
    Debian archive URI (and key) the machine's sources use for its own
    release, and private lists and caches under build/kernels/apt/SUITE."""
    sources = machine_sources()
    if any(suite in suites for _, suites, _ in sources):
        return []
    own = _os_release().get("VERSION_CODENAME", "")
    archive = next(((uri, key) for uri, suites, key in sources if own and own in suites), None)
    if archive is None:
        raise KernelSetupError(f"to fetch {suite}'s kernel: no Debian archive in the machine's apt "
                               f"sources (a 'deb' entry for its own release {own or '?'})")
    uri, key = archive
    d = CACHE / "apt" / suite
    (d / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={key}] " if key and key.startswith("/") else ""
    sl = d / "sources.list"
    text = f"deb {signed}{uri} {suite} main\n"
    if not sl.exists() or sl.read_text() != text:
        sl.write_text(text)
    return ["-o", f"Dir::Etc::sourcelist={sl}", "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={d / 'lists'}",
            "-o", f"Dir::Cache::pkgcache={d / 'pkgcache.bin'}",
            "-o", f"Dir::Cache::srcpkgcache={d / 'srcpkgcache.bin'}",
            "-o", "Acquire::Languages=none"]


def _apt_update(opts):
    p = _run(["apt-get", *opts, "-o", "APT::Sandbox::User=root", "update", "-qq"])
    if p.returncode != 0:
        log(f"apt-get update failed: {p.stderr.strip()[-500:]}")


def _pkg_order(guest, name):
    return int(guest.pkg_re.match(name).group(1))


def _candidates(guest, opts):
    """Installable packages of `guest` under apt options `opts`, newest first."""
    p = _run(["apt-cache", *opts, "search", "--names-only", r"^linux-image-.*-cloud-amd64-unsigned$"])
    names = [line.split(" ", 1)[0] for line in p.stdout.splitlines()]
    out = []
    for name in sorted((n for n in names if guest.pkg_re.match(n)),
                       key=lambda n: _pkg_order(guest, n), reverse=True):
        pol = _run(["apt-cache", *opts, "policy", name]).stdout
        m = re.search(r"Candidate:\s*(\S+)", pol)
        if m and m.group(1) != "(none)":
            out.append(name)
    return out


def _cached_debs(guest):
    debs = [d for d in (CACHE / "debs").glob("linux-image-*.deb")
            if guest.pkg_re.match(d.name.split("_")[0])]
    return sorted(debs, key=lambda d: _pkg_order(guest, d.name.split("_")[0]), reverse=True)


def _resolve_package(name, guest):
    """(package, apt options) of the kernel to use, (None, opts) when apt
    knows none; updates the (private) lists once when they have none."""
    pkg = os.environ.get("TF_KERNEL_PKG")
    opts = apt_options(guest.suite)
    if pkg and guest.pkg_re.match(pkg):
        return pkg, opts
    names = _candidates(guest, opts)
    if not names:
        log(f"no {name} cloud kernel in the apt lists of {guest.suite}: apt-get update")
        _apt_update(opts)
        names = _candidates(guest, opts)
    return (names[0] if names else None), opts


def _download(pkg, opts, guest):
    debs = CACHE / "debs"
    argv = ["apt-get", *opts, "download", "-o", "APT::Sandbox::User=root", pkg]
    log(f"apt-get download {pkg}")
    p = _run(argv, cwd=debs)
    if p.returncode != 0:        # stale lists point at a version the mirror dropped
        _apt_update(opts)
        p = _run(argv, cwd=debs)
    deb = next((d for d in _cached_debs(guest) if d.name.startswith(pkg + "_")), None)
    if deb is None:
        log(f"apt-get download {pkg} failed: {p.stderr.strip()}")
    return deb


def _extract(deb, kdir):
    """The kernel image, its config and its modules from a kernel package
    into kdir. Modules go to kdir/lib/modules/ whether the package has them
    there (Debian 11, 12) or under usr/lib/modules/ (Debian 13, merged /usr)."""
    want = re.compile(r"^(boot/(vmlinuz|config)-[^/]+|(usr/)?lib/modules/.+)$")
    dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=dpkg.stdout, mode="r|") as tar:
            for m in tar:
                rel = m.name[2:] if m.name.startswith("./") else m.name
                if not m.isfile() or not want.match(rel) or ".." in rel.split("/"):
                    continue
                out = kdir / (rel[len("usr/"):] if rel.startswith("usr/") else rel)
                out.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (tarfile.TarError, OSError) as e:
        raise KernelSetupError(f"extracting {deb} failed: {e}")
    finally:
        dpkg.stdout.close()
        rc = dpkg.wait()
    if rc != 0:
        raise KernelSetupError(f"dpkg-deb --fsys-tarfile {deb}: exit {rc}")


def fetch_kernel(name=DEFAULT_GUEST):
    """Download (once) and extract the kernel of guest `name`. Returns the
    directory holding boot/vmlinuz-* and lib/modules/RELEASE."""
    guest = GUESTS[name]
    (CACHE / "debs").mkdir(parents=True, exist_ok=True)
    pkg, deb = None, None
    try:
        pkg, opts = _resolve_package(name, guest)
        deb = next((d for d in _cached_debs(guest) if pkg and d.name.startswith(pkg + "_")), None)
        if deb is None and pkg:
            deb = _download(pkg, opts, guest)
    except KernelSetupError as e:
        log(str(e))
    if deb is None:
        cached = _cached_debs(guest)
        if not cached:
            raise KernelSetupError(f"no {name} cloud kernel package: resolved {pkg!r}, nothing cached "
                                   f"in {CACHE / 'debs'} (package names like {guest.pkg_re.pattern}, "
                                   f"Debian {guest.suite})")
        deb = cached[0]
        log(f"using the cached {deb.name}")
    # keep only the one in use (of this guest)
    for old in _cached_debs(guest):
        if old != deb:
            old.unlink()

    kdir = CACHE / deb.name[:-len(".deb")]
    stamp = kdir / ".extracted"
    if not stamp.exists():
        shutil.rmtree(kdir, ignore_errors=True)
        kdir.mkdir(parents=True)
        _extract(deb, kdir)
        stamp.write_text(deb.name + "\n")
    for other in CACHE.iterdir():
        if (other.is_dir() and other != kdir and other.name.startswith("linux-image-")
                and guest.pkg_re.match(other.name.split("_")[0])):
            shutil.rmtree(other, ignore_errors=True)
    return kdir


def kernel_files(kdir):
    vmlinuz = sorted((kdir / "boot").glob("vmlinuz-*"))
    mods = sorted((kdir / "lib" / "modules").iterdir()) if (kdir / "lib" / "modules").is_dir() else []
    if not vmlinuz or not mods:
        raise KernelSetupError(f"{kdir}: no vmlinuz or lib/modules")
    return vmlinuz[0], mods[0]


# ---- kernel modules ------------------------------------------------------------

MODULE_SUFFIXES = (".ko", ".ko.xz")      # Debian 13 compresses its modules with xz


def module_stem(filename):
    """"nf_tables" for nf_tables.ko or nf_tables.ko.xz, else None."""
    for suffix in MODULE_SUFFIXES:
        if filename.endswith(suffix):
            return filename[:-len(suffix)].replace("-", "_")
    return None


def module_bytes(path):
    """A module file's ELF image (decompressed: busybox insmod takes plain .ko)."""
    data = Path(path).read_bytes()
    if path.name.endswith(".xz"):
        try:
            data = lzma.decompress(data)
        except lzma.LZMAError as e:
            raise KernelSetupError(f"{path}: {e}")
    return data


def modinfo(path):
    """The .modinfo section of a kernel module as a dict (ELF64 little endian)."""
    data = module_bytes(Path(path))
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise KernelSetupError(f"{path}: not an ELF64 LE module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def sec(i):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = sec(shstrndx)
    info = {}
    for i in range(shnum):
        name, off, size = sec(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            for item in data[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, v = item.decode(errors="replace").split("=", 1)
                    info.setdefault(k, v)
    return info


def resolve_modules(moddir, wanted, optional=()):
    """([(name, path)] for `wanted` and their dependencies, dependencies
    first; [names of `optional` modules this kernel has no file for]).
    Built-in modules (modules.builtin) need nothing."""
    index = {}
    for p in (moddir / "kernel").rglob("*.ko*"):
        stem = module_stem(p.name)
        if stem:
            index[stem] = p
    builtin = set()
    bl = moddir / "modules.builtin"
    if bl.exists():
        builtin = {module_stem(Path(l.strip()).name) for l in bl.read_text().splitlines() if l}
    order, seen, absent = [], set(), []

    def visit(name, chain):
        name = name.replace("-", "_")
        if name in seen or name in builtin:
            return
        if name in chain:
            raise KernelSetupError(f"module dependency loop: {' -> '.join(chain + [name])}")
        if name not in index:
            if not chain and name in optional:
                absent.append(name)
                return
            raise KernelSetupError(f"module {name} not in {moddir} (needed by {chain or 'us'})")
        for dep in filter(None, modinfo(index[name]).get("depends", "").split(",")):
            visit(dep, chain + [name])
        seen.add(name)
        order.append((name, index[name]))

    for w in wanted:
        visit(w, [])
    return order, absent


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
    p = _run(["ldd", binary])
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
