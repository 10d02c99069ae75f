# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A Debian cloud kernel for the kernel matrix (kmatrix.py): which package,
fetched with apt-get download, extracted to one layout, and its modules.

A guest's kernel comes from its Debian release's archive. A release that the
machine's apt sources do not list is added for our commands only: a private
sources.list naming the Debian archive URI the machine's sources already use,
with private lists under build/kernels/apt/ (apt's -o Dir::Etc::sourcelist,
Dir::Etc::sourceparts and Dir::State::Lists); the machine's own sources and
lists are not touched. Packages and extracted kernels are cached under
build/kernels/ (build/ is ignored by git).

TF_KERNEL_PKG: exact package for the guest whose package names it matches
(default: the newest installable one).
"""

import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / "build" / "kernels"


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


class KernelSetupError(Exception):
    """The guest could not be prepared (no package, no qemu, ...)."""


def log(msg):
    print(f"kmatrix: {msg}", file=sys.stderr, flush=True)


def run_cmd(cmd, **kw):
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
    p = run_cmd(["apt-get", *opts, "-o", "APT::Sandbox::User=root", "update", "-qq"])
    if p.returncode != 0:
        log(f"apt-get update failed: {p.stderr.strip()[-500:]}")


def _pkg_order(guest, name):
    return int(guest.pkg_re.match(name).group(1))


def _candidates(guest, opts):
    """Installable packages of `guest` under apt options `opts`, newest first."""
    p = run_cmd(["apt-cache", *opts, "search", "--names-only", r"^linux-image-.*-cloud-amd64-unsigned$"])
    names = sorted({line.split(" ", 1)[0] for line in p.stdout.splitlines()
                    if guest.pkg_re.match(line.split(" ", 1)[0])},
                   key=lambda n: _pkg_order(guest, n), reverse=True)
    if not names:
        return []
    # one policy call for all: "NAME:" at the start of a line opens each block
    pol = run_cmd(["apt-cache", *opts, "policy", *names]).stdout
    candidate = dict(re.findall(r"^(\S+):\n(?:[ \t].*\n)*?\s*Candidate:\s*(\S+)", pol, re.M))
    return [n for n in names if candidate.get(n, "(none)") != "(none)"]


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
    p = run_cmd(argv, cwd=debs)
    if p.returncode != 0:        # stale lists point at a version the mirror dropped
        _apt_update(opts)
        p = run_cmd(argv, cwd=debs)
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
