// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * LD_PRELOAD fault injection: a kernel that refuses some BPF programs.
 *
 * TF_REFUSE_PROGS=name,name,...  BPF_PROG_LOAD of a program with one of these
 *                                names fails with TF_REFUSE_ERRNO (default
 *                                EPERM), before any verification, as some
 *                                kernel builds refuse iter/bpf_map_elem.
 *                                Names compare on their first 15 characters,
 *                                what the kernel keeps (BPF_OBJ_NAME_LEN).
 * "recursion_misses" in the list: BPF_OBJ_GET_INFO_BY_FD answers as a kernel
 *                                before 5.12, whose bpf_prog_info ends before
 *                                recursion_misses.
 * TF_DEAF_PROGS=name,...         attaching one of these programs succeeds
 *                                without attaching anything (the "link" is
 *                                /dev/null): loaded, believed attached, never
 *                                run, as when a tracepoint's events reach no
 *                                BPF program (docs/KERNEL.md, fact 6).
 *
 * libbpf reaches the kernel through libc's syscall(), so wrapping that one
 * function is enough; every other call goes to the real syscall() unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

/* Is `name` (a kernel program name, at most 15 characters) in list `var`? */
static int listed_in(const char *var, const char *name)
{
	const char *list = getenv(var), *p = list;
	size_t n = strnlen(name, BPF_OBJ_NAME_LEN - 1);

	while (p && *p) {
		size_t len = strcspn(p, ",");
		size_t cmp = len < BPF_OBJ_NAME_LEN - 1 ? len : BPF_OBJ_NAME_LEN - 1;

		if (n && cmp == n && !strncmp(p, name, n))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int listed(const char *name)
{
	return listed_in("TF_REFUSE_PROGS", name);
}

typedef long (*syscall_fn)(long, ...);

/* The program an attach command names, if TF_DEAF_PROGS lists it. */
static int deaf(syscall_fn real, long cmd, const union bpf_attr *attr)
{
	struct bpf_prog_info info = {};
	union bpf_attr q = {};
	__u32 fd;

	if (!attr || !getenv("TF_DEAF_PROGS"))
		return 0;
	if (cmd == BPF_RAW_TRACEPOINT_OPEN)
		fd = attr->raw_tracepoint.prog_fd;
	else if (cmd == BPF_LINK_CREATE)
		fd = attr->link_create.prog_fd;
	else
		return 0;
	q.info.bpf_fd = fd;
	q.info.info_len = sizeof(info);
	q.info.info = (__u64)(unsigned long)&info;
	if (real(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &q, sizeof(q), 0, 0, 0))
		return 0;
	return listed_in("TF_DEAF_PROGS", info.name);
}

static int refuse_errno(void)
{
	const char *e = getenv("TF_REFUSE_ERRNO");

	return e && atoi(e) > 0 ? atoi(e) : EPERM;
}

long syscall(long nr, ...)
{
	static syscall_fn real;
	union bpf_attr *attr;
	long a[6], rc;
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	attr = (union bpf_attr *)a[1];
	if (nr == SYS_bpf && a[0] == BPF_PROG_LOAD && attr && listed(attr->prog_name)) {
		errno = refuse_errno();
		return -1;
	}
	if (nr == SYS_bpf && deaf(real, a[0], attr))
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	rc = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == SYS_bpf && a[0] == BPF_OBJ_GET_INFO_BY_FD && rc == 0 && attr &&
	    listed("recursion_misses") &&
	    attr->info.info_len > offsetof(struct bpf_prog_info, recursion_misses))
		attr->info.info_len = offsetof(struct bpf_prog_info, recursion_misses);
	return rc;
}
