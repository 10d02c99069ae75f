# tcpflow-trace -- the kernel matrix (included by the top Makefile).
#
#   sudo make test-kernels   the integration scenarios on this machine's kernel
#                            (in a fresh network namespace) and on Debian's
#                            5.10 (11), 6.1 (12) and 6.12 (13) cloud kernels
#                            booted in qemu one after the other (KVM when
#                            /dev/kvm works, else TCG); see tests/kernels/kmatrix.py;
#                            then the SYN retransmission tests as on a kernel
#                            without tcp_syn_linear_timeouts
#
# The kernel .debs are fetched with apt-get download at test time (Debian 11
# and 13 through private apt lists: the machine's sources stay as they are)
# and cached under $(BUILD)/kernels/ with their extracted vmlinuz and modules
# and the initramfs built for each run: nothing of it is committed.
#
# Knobs (environment): TF_KERNELS="host debian-5.10 debian-6.1 debian-6.12",
# TF_QEMU_ACCEL=auto|kvm|tcg, TF_KERNEL_PKG=<exact package>,
# TF_KERNEL_TIMEOUT=<s>; KMATRIX_ARGS: extra pytest arguments.

KERNELS_DIR := tests/kernels
# qemu without its GUI recommendations; busybox-static is the guest's userland;
# iproute2 and tcpdump for the integration tests run as on an old kernel
DEB_KERNELS := qemu-system-x86 busybox-static nftables python3-pytest iproute2 tcpdump
# The integration tests whose expectations differ on kernels without
# tcp_syn_linear_timeouts (before 6.5: Debian 11 and 12): run here as on such
# a kernel (TF_TEST_NO_LINEAR_TIMEOUTS, see tests/integration/tfenv.py).
OLD_SYN_TESTS := tests/integration/test_retrans.py tests/integration/test_harness.py -k syn

.PHONY: test-kernels kernels-deps

kernels-deps:
	$(call apt_install,$(DEB_KERNELS),--no-install-recommends)

test-kernels: kernels-deps $(BIN) $(BUILD)/tests/tcpgen
	$(PYTHON) -m pytest -q -rs $(KERNELS_DIR) $(KMATRIX_ARGS)
	TF_TEST_NO_LINEAR_TIMEOUTS=1 $(PYTHON) -m pytest -q -rs $(OLD_SYN_TESTS)
