// SPDX-License-Identifier: GPL-2.0
/* spread.h - repeated measurements as a benchmark reports them: median and
 * range (min..max) of N values, and the rule that says when two allocators'
 * runs were too noisy to rank (`allocmap compare --runs N`). Pure functions,
 * unit-tested in tests/unit/test_spread.c. */
#ifndef ALLOCMAP_SPREAD_H
#define ALLOCMAP_SPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct am_spread {
	uint64_t median; /* middle value; for an even count the mean of the two
	                    middle ones, rounded up */
	uint64_t min, max;
	size_t   n;      /* values measured (0: none or out of memory; the rest is 0) */
};

/* Median, min and max of v[0..n). v is not modified. */
struct am_spread am_spread_of(const uint64_t *v, size_t n);

/* The noise rule: two allocators can be ranked by a measurement only when
 * their ranges do not overlap (every run of one is faster than every run of
 * the other). true when a and b overlap (min..max intersect, ends included)
 * or either has fewer than two values (one run shows no spread): "too noisy
 * to rank". */
bool am_spread_overlap(const struct am_spread *a, const struct am_spread *b);

#endif /* ALLOCMAP_SPREAD_H */
