// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include "exitcodes.h"
#include "privs.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* What the event loop still needs: bpf() on our own maps and iterators. */
static const cap_value_t kept[] = { CAP_BPF, CAP_PERFMON };

static int switch_user(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "--user: no such user '%s'%s%s", user,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return TF_EXIT_USAGE;
	}
	/* keep the permitted set across setuid, then trim it below */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid)) {
		snprintf(err, errlen, "--user %s: switching user failed: %s (run as root)",
			 user, strerror(errno));
		return TF_EXIT_PERM;
	}
	return 0;
}

/* The kept capabilities we hold now (a kernel without CAP_BPF has none). */
static int held(cap_value_t *out)
{
	cap_t cur = cap_get_proc();
	int n = 0;

	for (size_t i = 0; cur && i < sizeof(kept) / sizeof(kept[0]); i++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (!cap_get_flag(cur, kept[i], CAP_PERMITTED, &v) && v == CAP_SET)
			out[n++] = kept[i];
	}
	cap_free(cur);
	return n;
}

static bool has_cap(cap_t caps, cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;

	return caps && !cap_get_flag(caps, cap, CAP_EFFECTIVE, &v) && v == CAP_SET;
}

bool tf_can_load_bpf(void)
{
	cap_t cur = cap_get_proc();
	bool ok = has_cap(cur, CAP_SYS_ADMIN) || (has_cap(cur, CAP_BPF) && has_cap(cur, CAP_PERFMON));

	cap_free(cur);
	return ok;
}

int tf_drop_privileges(const char *user, char *err, size_t errlen)
{
	cap_value_t keep[sizeof(kept) / sizeof(kept[0])];
	cap_t caps = NULL;
	int rc, n;

	if (user) {
		rc = switch_user(user, err, errlen);
		if (rc)
			return rc;
	}
	n = held(keep);
	caps = cap_init();	/* empty: every set cleared */
	rc = !caps ||
	     (n && cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET)) ||
	     (n && cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET)) ||
	     cap_set_proc(caps);
	if (rc) {
		snprintf(err, errlen, "dropping capabilities failed: %s", strerror(errno));
		rc = TF_EXIT_PERM;
		goto cleanup;
	}
	/* nothing we exec (we exec nothing) may gain privileges back */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS) failed: %s", strerror(errno));
		rc = TF_EXIT_PERM;
	}
cleanup:
	cap_free(caps);
	return rc;
}
