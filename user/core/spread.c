// SPDX-License-Identifier: GPL-2.0
/* spread.c - median and range of repeated measurements, and the overlap rule
 * for ranking them (spread.h). */
#include <stdlib.h>
#include <string.h>

#include "spread.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct am_spread am_spread_of(const uint64_t *v, size_t n)
{
	struct am_spread s = { 0 };
	uint64_t small[64], *w = small;

	if (!n)
		return s;
	if (n > sizeof(small) / sizeof(small[0])) {
		w = malloc(n * sizeof(*w));
		if (!w)
			return s; /* n = 0: unknown */
	}
	memcpy(w, v, n * sizeof(*w));
	qsort(w, n, sizeof(*w), cmp_u64);
	s.n = n;
	s.min = w[0];
	s.max = w[n - 1];
	if (n % 2)
		s.median = w[n / 2];
	else /* mean of the two middle values without overflow, rounded up */
		s.median = w[n / 2 - 1] + (w[n / 2] - w[n / 2 - 1] + 1) / 2;
	if (w != small)
		free(w);
	return s;
}

bool am_spread_overlap(const struct am_spread *a, const struct am_spread *b)
{
	if (a->n < 2 || b->n < 2)
		return true;
	return a->min <= b->max && b->min <= a->max;
}
