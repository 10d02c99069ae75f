# tcpflow-trace -- the kernel matrix (included by the top Makefile).
#
#   sudo make test-kernels   the integration scenarios on this machine's kernel
#                            (in a fresh network namespace) and on Debian 12's
#                            6.1 cloud kernel booted in qemu (KVM when
#                            /dev/kvm works, else TCG); see tests/kernels/kmatrix.py
#
# The kernel .deb is fetched with apt-get download at test time and cached
# under $(BUILD)/kernels/ with its extracted vmlinuz and modules and the
# initramfs built for the run: nothing of it is committed.
#
# Knobs (environment): TF_KERNELS="host debian-6.1", TF_QEMU_ACCEL=auto|kvm|tcg,
# TF_KERNEL_PKG=<exact package>, TF_KERNEL_TIMEOUT=<s>; KMATRIX_ARGS: extra pytest arguments.

KERNELS_DIR := tests/kernels
# qemu without its GUI recommendations; busybox-static is the guest's userland
DEB_KERNELS := qemu-system-x86 busybox-static nftables python3-pytest

.PHONY: test-kernels kernels-deps

kernels-deps:
	$(call apt_install,$(DEB_KERNELS),--no-install-recommends)

test-kernels: kernels-deps $(BIN) $(BUILD)/tests/tcpgen
	$(PYTHON) -m pytest -q -rs $(KERNELS_DIR) $(KMATRIX_ARGS)
