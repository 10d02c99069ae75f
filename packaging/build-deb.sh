#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Build the Debian package in a copy of the source tree, so the repository
# stays clean (dpkg-buildpackage writes debian/ build state and puts its
# results next to the source directory).
#
#   packaging/build-deb.sh OUTDIR     -> OUTDIR/tcpflow-trace_*.deb, .changes, ...
#
# The copy is what `make` builds here: tracked and untracked files, without
# ignored ones (build/) and without .git -- like a source tarball, so the
# version comes from debian/changelog.
set -eu
out=${1:?usage: $0 OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/src" "$out"/tcpflow-trace*_*
mkdir "$out/src"
cd "$top"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$out/src" -xf -
else
	tar --exclude=./build --exclude=./.git -cf - . | tar -C "$out/src" -xf -
fi
cd "$out/src"
jobs=$(nproc 2>/dev/null || echo 1)
DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$jobs" \
	dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
	tail -50 "$out/build.log" >&2
	echo "dpkg-buildpackage failed: full log in $out/build.log" >&2
	exit 1
}
ls "$out"/tcpflow-trace_*.deb
