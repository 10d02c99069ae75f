/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A very small test harness: TEST(name) functions registered in a table,
 * CHECK* macros that report file:line and go on, one closing line
 * "<program>: N passed, M failed" and exit status 1 on any failure;
 * golden files (tests/unit/golden/) compared byte for byte.
 */
#ifndef TF_TEST_H
#define TF_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tf_test_failed_checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                              \
			tf_test_failed_checks++;                               \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);      \
		if (g_ != w_) {                                                \
			fprintf(stderr, "%s:%d: %s == %lld, want %lld\n",       \
				__FILE__, __LINE__, #got, g_, w_);             \
			tf_test_failed_checks++;                               \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (!g_ || !w_ || strcmp(g_, w_)) {                            \
			fprintf(stderr, "%s:%d: %s ==\n  \"%s\"\nwant\n  \"%s\"\n", \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)",  \
				w_ ? w_ : "(null)");                           \
			tf_test_failed_checks++;                               \
		}                                                              \
	} while (0)

/* ---- golden files ---- */

/* tests/unit/golden, or $TF_GOLDEN_DIR (to run from elsewhere than the repository root) */
static inline const char *tf_golden_dir(void)
{
	const char *d = getenv("TF_GOLDEN_DIR");

	return d && *d ? d : "tests/unit/golden";
}

/* A whole file, NUL-terminated (malloc'd); NULL when it cannot be read. */
static inline char *tf_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t n = 0, cap = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/*
 * out must equal golden/file byte for byte. With UPDATE_GOLDEN set in the
 * environment the file is written instead: after an intended change of an
 * output, read the diff (git diff tests/unit/golden) before committing it.
 * prog names the test program in the hint.
 */
static inline void tf_check_golden(const char *prog, const char *file, const char *out)
{
	char path[512];
	char *want;

	snprintf(path, sizeof(path), "%s/%s", tf_golden_dir(), file);
	if (getenv("UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");

		CHECK(f != NULL);
		if (f) {
			fputs(out, f);
			fclose(f);
			fprintf(stderr, "%s: wrote %s\n", prog, path);
		}
		return;
	}
	want = tf_slurp(path, NULL);
	if (!want) {
		fprintf(stderr, "%s missing (run from the repository root or set TF_GOLDEN_DIR; "
			"UPDATE_GOLDEN=1 build/tests/%s writes it)\n", path, prog);
		CHECK(want != NULL);
		return;
	}
	if (strcmp(out, want)) {
		size_t i = 0, line = 1;

		for (; out[i] && out[i] == want[i]; i++)
			line += out[i] == '\n';
		fprintf(stderr, "%s differs at byte %zu (line %zu):\n  got:  %.80s\n  want: %.80s\n",
			path, i, line, out + i, want + i);
		CHECK(!"golden file differs");
	}
	free(want);
}

struct tf_test_case {
	const char *name;
	void (*fn)(void);
};

#define TF_TEST_MAIN(prog, ...)                                                \
	int main(void)                                                         \
	{                                                                      \
		static const struct tf_test_case cases_[] = { __VA_ARGS__ };   \
		int passed_ = 0, failed_ = 0;                                  \
		for (size_t i_ = 0; i_ < sizeof(cases_) / sizeof(cases_[0]); i_++) { \
			int before_ = tf_test_failed_checks;                   \
			cases_[i_].fn();                                       \
			if (tf_test_failed_checks == before_) {                \
				passed_++;                                     \
			} else {                                               \
				failed_++;                                     \
				fprintf(stderr, "FAIL %s\n", cases_[i_].name); \
			}                                                      \
		}                                                              \
		printf("%s: %d passed, %d failed\n", prog, passed_, failed_);  \
		return failed_ ? 1 : 0;                                        \
	}

#define T(fn) { #fn, fn }

#endif /* TF_TEST_H */
