// SPDX-License-Identifier: GPL-2.0
/* test_spread.c - unit tests of spread.c: median and range of repeated
 * measurements (odd, even, unsorted, one value, none, more values than the
 * stack copy holds) and the "too noisy to rank" overlap rule. */
#include <stdlib.h>

#include "check.h"
#include "spread.h"

static void test_median(void)
{
	uint64_t odd[] = { 50, 10, 40, 20, 30 }, even[] = { 4, 1, 3, 2 }, one[] = { 7 };
	uint64_t odd_round[] = { 1, 2 }, big[] = { UINT64_MAX - 1, UINT64_MAX };
	struct am_spread s;

	s = am_spread_of(odd, 5);
	CHECK_EQ(s.median, 30, "odd count: middle value");
	CHECK_EQ(s.min, 10, "min");
	CHECK_EQ(s.max, 50, "max");
	CHECK_EQ(s.n, 5, "n");
	CHECK_EQ(odd[0], 50, "input not sorted in place");
	s = am_spread_of(even, 4);
	CHECK_EQ(s.median, 3, "even count: mean of 2 and 3 rounded up");
	s = am_spread_of(odd_round, 2);
	CHECK_EQ(s.median, 2, "mean of 1 and 2 rounded up");
	s = am_spread_of(big, 2);
	CHECK_EQ(s.median, UINT64_MAX, "no overflow near the top");
	s = am_spread_of(one, 1);
	CHECK(s.median == 7 && s.min == 7 && s.max == 7 && s.n == 1, "one value");
	s = am_spread_of(NULL, 0);
	CHECK(s.n == 0 && s.median == 0 && s.min == 0 && s.max == 0, "no values");
}

static void test_many(void)
{
	size_t n = 1000;
	uint64_t *v = malloc(n * sizeof(*v));
	struct am_spread s;

	if (!v) {
		CHECK(0, "malloc");
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (i * 7919) % n; /* a permutation of 0..999 */
	s = am_spread_of(v, n);
	CHECK(s.n == 1000 && s.min == 0 && s.max == 999, "1000 values: range");
	CHECK_EQ(s.median, 500, "1000 values: mean of 499 and 500 rounded up");
	free(v);
}

static void test_overlap(void)
{
	struct am_spread a = { .median = 20, .min = 10, .max = 30, .n = 3 };
	struct am_spread b = { .median = 45, .min = 31, .max = 60, .n = 3 };
	struct am_spread c = { .median = 35, .min = 30, .max = 40, .n = 3 };
	struct am_spread none = { 0 };

	CHECK(!am_spread_overlap(&a, &b), "disjoint ranges: rankable");
	CHECK(!am_spread_overlap(&b, &a), "disjoint, either order");
	CHECK(am_spread_overlap(&a, &c), "ranges touching at 30: too noisy");
	CHECK(am_spread_overlap(&c, &b), "overlapping ranges: too noisy");
	CHECK(am_spread_overlap(&a, &none), "no values: cannot rank");
	struct am_spread one_a = { .median = 1, .min = 1, .max = 1, .n = 1 };
	struct am_spread one_b = { .median = 9, .min = 9, .max = 9, .n = 1 };

	CHECK(am_spread_overlap(&one_a, &one_b), "one run each: no spread, cannot rank");
	CHECK(am_spread_overlap(&one_a, &b), "one run against many: cannot rank");
}

int main(void)
{
	test_median();
	test_many();
	test_overlap();
	return check_report("spread");
}
