#!/bin/busybox sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# /init of the kernel-matrix guest (initramfs built by kmatrix.py): mount
# the pseudo file systems, load the nftables modules of this kernel in
# dependency order, bring up lo, run scenarios.sh with its report on the
# second serial port (/dev/ttyS1), power off. The console (ttyS0) shows
# progress and errors only.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /root

report() { printf '@@ - %s\n' "$*" > /dev/ttyS1; }

echo "tf-guest: init on $(uname -r)"
report "info boot_s=$(cut -d' ' -f1 /proc/uptime)"

# nf_tables and what it needs, in the order kmatrix.py resolved (one file
# name per line, dependencies first).
mods_ok=yes
while read -r m; do
	[ -n "$m" ] || continue
	if ! insmod "/modules/$m" 2>/tmp/insmod.err; then
		mods_ok=no
		report "modfail $m $(cat /tmp/insmod.err)"
	fi
done < /modules/order
report "info modules=$mods_ok"
# modules this kernel has no file for (kmatrix.py OPTIONAL_MODULES)
report "info modules_absent=$(echo $(cat /modules/absent))"

ip link set lo up

if [ -n "$(grep -o 'tf.shell' /proc/cmdline)" ]; then
	echo "tf-guest: tf.shell on the kernel command line: a shell instead of the scenarios"
	setsid cttyhack sh
else
	OUT=/dev/ttyS1 TF_BIN=/bin/tcpflow-trace TCPGEN=/bin/tcpgen sh /scenarios.sh
	echo "tf-guest: scenarios finished ($?)"
	report "info end_s=$(cut -d' ' -f1 /proc/uptime)"
fi
sync
poweroff -f
