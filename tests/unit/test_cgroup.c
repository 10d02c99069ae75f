// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Container ids and pod uids out of cgroup paths as the runtimes name them,
 * and the cgroup2 mount out of mountinfo (pure v2, hybrid, escaped names).
 */
#include <stdlib.h>
#include <unistd.h>
#include "tf_test.h"
#include "cgroup.h"

#define CID "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
#define UID "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
#define UID_ "1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d"

static void parse(const char *path, const char *want_container, const char *want_pod)
{
	char container[TF_CONTAINER_ID_LEN], pod[TF_POD_UID_LEN];

	tf_cgroup_parse(path, container, pod);
	CHECK_STR(container, want_container);
	CHECK_STR(pod, want_pod);
}

static void systemd_units(void)
{
	parse("/system.slice/nginx.service", "", "");
	parse("/user.slice/user-1000.slice/session-3.scope", "", "");
	parse("/", "", "");
	parse("", "", "");
	parse("/init.scope", "", "");
	/* a unit named like a pod is not one */
	parse("/system.slice/podman.service", "", "");
}

static void docker(void)
{
	parse("/system.slice/docker-" CID ".scope", CID, "");	/* systemd driver */
	parse("/docker/" CID, CID, "");				/* cgroupfs driver */
	parse("/system.slice/docker.service", "", "");		/* the daemon itself */
}

static void containerd_and_crio(void)
{
	parse("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/"
	      "cri-containerd-" CID ".scope", CID, UID);
	parse("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/"
	      "crio-" CID ".scope", CID, UID);
	/* CRI-O's monitor process is not the container */
	parse("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/"
	      "crio-conmon-" CID ".scope", "", UID);
	/* guaranteed QoS: no QoS slice */
	parse("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope", CID, UID);
	parse("/machine.slice/libpod-" CID ".scope", CID, "");
}

static void kubepods_cgroupfs(void)
{
	parse("/kubepods/burstable/pod" UID "/" CID, CID, UID);
	parse("/kubepods/pod" UID "/" CID, CID, UID);
	parse("/kubepods/besteffort/pod" UID, "", UID);
	/* the innermost container wins (a runtime nested in a container) */
	parse("/docker/" CID "/kubepods/pod" UID "/0000000000000000000000000000000000000000000000000000000000000001",
	      "0000000000000000000000000000000000000000000000000000000000000001", UID);
}

static void not_ids(void)
{
	/* 63 hex digits, upper case, a uid with a wrong group */
	parse("/docker/3f4e5d6c7b8a99887766554433221100ffeeddccbbaa0011223344556677889", "", "");
	parse("/docker/3F4E5D6C7B8A99887766554433221100FFEEDDCCBBAA00112233445566778899", "", "");
	parse("/kubepods/pod1b2c3d4e-5f60-4a7b-8c9d0-e1f2a3b4c5d", "", "");
	parse("/kubepods.slice/kubepods-pod" UID ".slice", "", "");	/* dashes: not systemd's */
}

static char *mountinfo(const char *text)
{
	static char path[] = "/tmp/test_cgroup_mountinfo_XXXXXX";
	int fd;

	strcpy(path, "/tmp/test_cgroup_mountinfo_XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void mount_found(void)
{
	char mnt[256], root[256], *p;

	/* hybrid: v1 controllers and the v2 hierarchy under unified/ */
	p = mountinfo("30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
		      "31 30 0:27 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"
		      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n");
	CHECK_INT(tf_cgroup_mount(p, mnt, sizeof(mnt), root, sizeof(root)), 0);
	CHECK_STR(mnt, "/sys/fs/cgroup/unified");
	CHECK_STR(root, "/");
	unlink(p);
	/* pure v2, a subtree bind-mounted, a space in the name */
	p = mountinfo("29 23 0:26 /kubepods/pod1 /run/my\\040cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
	CHECK_INT(tf_cgroup_mount(p, mnt, sizeof(mnt), root, sizeof(root)), 0);
	CHECK_STR(mnt, "/run/my cgroup");
	CHECK_STR(root, "/kubepods/pod1");
	unlink(p);
	/* v1 only */
	p = mountinfo("31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
	CHECK_INT(tf_cgroup_mount(p, mnt, sizeof(mnt), root, sizeof(root)), -1);
	unlink(p);
	CHECK_INT(tf_cgroup_mount("/nonexistent/mountinfo", mnt, sizeof(mnt), root, sizeof(root)), -1);
}

TF_TEST_MAIN("test_cgroup", T(systemd_units), T(docker), T(containerd_and_crio),
	     T(kubepods_cgroupfs), T(not_ids), T(mount_found))
