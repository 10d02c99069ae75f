// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * LD_PRELOAD fault injection: a kernel without BPF ring buffers (< 5.8).
 *
 * Such a kernel answers BPF_MAP_CREATE for an unknown map type with EINVAL.
 * libbpf reaches the kernel through libc's syscall(), so wrapping that one
 * function lets a test see what the tracer does on such a kernel without
 * booting one (none older than 6.1 can be booted here). Every other call goes
 * to the real syscall() unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <sys/syscall.h>

typedef long (*syscall_fn)(long, ...);

long syscall(long nr, ...)
{
	static syscall_fn real;
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	if (nr == SYS_bpf && a[0] == BPF_MAP_CREATE && a[1]) {
		const union bpf_attr *attr = (const union bpf_attr *)a[1];

		if (attr->map_type == BPF_MAP_TYPE_RINGBUF) {
			errno = EINVAL;
			return -1;
		}
	}
	if (!real)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
