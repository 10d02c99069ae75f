// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The optional-feature notices and --check lines, byte for byte (a contract). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include "tf_test.h"
#include "kfeatures.h"

static char *capture(const struct tf_features *fs, bool check, int *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (check)
		tf_features_check_lines(fs, f);
	else
		*n = tf_features_notify(fs, f);
	fclose(f);
	return buf;
}

static void nothing_refused_no_notice(void)
{
	struct tf_features fs = { 0 };
	int n = -1;
	char *out = capture(&fs, false, &n);

	CHECK_INT(n, 0);
	CHECK_STR(out, "");
	free(out);
}

static void notice_per_feature(void)
{
	struct tf_features fs = { 0 };
	int n = 0;
	char *out;

	tf_feature_set(&fs, TF_FEAT_CONN_TABLE_ITER, TF_FS_FALLBACK, TF_FW_REFUSED, -EPERM,
		       "iter/bpf_map_elem program dump_conns");
	tf_feature_set(&fs, TF_FEAT_RESETS, TF_FS_OFF, TF_FW_MISSING, ENOENT,
		       "tracepoint tcp:tcp_send_reset");
	out = capture(&fs, false, &n);
	CHECK_INT(n, 2);
	CHECK_STR(out,
		  "tcpflow-trace: feature conn_table_iter fallback: the live connection table is "
		  "read key by key (2 syscalls per connection) (the kernel refused "
		  "iter/bpf_map_elem program dump_conns: Operation not permitted / EPERM)\n"
		  "tcpflow-trace: feature resets off: resets are not seen: `reset` stays null, reset "
		  "and refused closes show as timeout or connect_failed (tracepoint "
		  "tcp:tcp_send_reset not in this kernel: No such file or directory / ENOENT)\n");
	free(out);
}

static void check_lines(void)
{
	struct tf_features fs = { 0 };
	char *out, *line;

	tf_feature_set(&fs, TF_FEAT_TCP_ITER, TF_FS_OFF, TF_FW_REFUSED, EACCES,
		       "iter/tcp program sweep");
	out = capture(&fs, true, NULL);
	/* one line per feature, in table order, the name first */
	line = out;
	for (int i = 0; i < TF_FEAT_MAX; i++) {
		CHECK(!strncmp(line, tf_feature_name(i), strlen(tf_feature_name(i))));
		line = strchr(line, '\n');
		CHECK(line != NULL);
		if (!line)
			break;
		line++;
	}
	CHECK(line && !*line);
	CHECK(strstr(out, "\ntcp_iter             refused    iter/tcp program sweep: "
			  "Permission denied / EACCES; lost: no TIME-WAIT census"));
	CHECK(strstr(out, "\nresets               available  "));
	free(out);
}

TF_TEST_MAIN("test_kfeatures", T(nothing_refused_no_notice), T(notice_per_feature), T(check_lines))
