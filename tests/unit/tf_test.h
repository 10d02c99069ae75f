/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A very small test harness: TEST(name) functions registered in a table,
 * CHECK* macros that report file:line and go on, one closing line
 * "<program>: N passed, M failed" and exit status 1 on any failure.
 */
#ifndef TF_TEST_H
#define TF_TEST_H

#include <inttypes.h>
#include <stdio.h>
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
