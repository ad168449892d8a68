// SPDX-License-Identifier: GPL-2.0
/* check.h - a minimal assertion kit for allocmap's C unit tests.
 * Each test binary ends with check_report(), which prints the plain
 * "N passed, N failed" line and returns the process exit code. */
#ifndef ALLOCMAP_CHECK_H
#define ALLOCMAP_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond, what) do { \
	if (cond) check_passed++; \
	else { check_failed++; fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond); } \
} while (0)

#define CHECK_EQ(got, want, what) do { \
	unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
	if (g_ == w_) check_passed++; \
	else { check_failed++; fprintf(stderr, "FAIL %s:%d: %s: got %llu (0x%llx), want %llu (0x%llx)\n", \
			__FILE__, __LINE__, what, g_, g_, w_, w_); } \
} while (0)

#define CHECK_STR(got, want, what) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) check_passed++; \
	else { check_failed++; fprintf(stderr, "FAIL %s:%d: %s: got \"%s\", want \"%s\"\n", \
			__FILE__, __LINE__, what, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

static inline int check_report(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif /* ALLOCMAP_CHECK_H */
