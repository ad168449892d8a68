// SPDX-License-Identifier: GPL-2.0
/* phases.c - workloads for the HTML report's time tests (tests/e2e/t_report.py):
 *
 *   touch N   malloc(N MiB) (an mmap chunk: its pages not resident yet), 150 ms,
 *             touch every page, 500 ms, free: the RSS the tracer samples every
 *             50 ms rises by N MiB after "bytes from the OS" rose at the malloc
 *             (the holds give it periods to sample in: RSS has no event)
 *   phases    two phases 400 ms apart (time-range tests): 200 malloc(100+i) and
 *             20 realloc of them to 5000 B, then 100 calloc(4, 50) and every
 *             block freed
 *
 * Apart from scenarios.c on purpose: a new function there changes how gcc
 * lays out its other scenarios, and free_then_direct's --free-noret result
 * (e2e.py free_end_inferred) depends on that layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void hold_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int touch(long mib)
{
	size_t n = (size_t)(mib > 0 ? mib : 32) << 20;
	volatile char *p = malloc(n);

	if (!p)
		return 1;
	hold_ms(150);
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	hold_ms(500);
	free((void *)p);
	return 0;
}

static int phases(void)
{
	static void *a[200], *c[100];

	for (int i = 0; i < 200; i++)
		if (!(a[i] = malloc(100 + (size_t)i)))
			return 1;
	for (int i = 0; i < 20; i++) {
		void *p = realloc(a[i], 5000);

		if (!p)
			return 1;
		a[i] = p;
	}
	hold_ms(400);
	for (int i = 0; i < 100; i++)
		if (!(c[i] = calloc(4, 50)))
			return 1;
	for (int i = 0; i < 200; i++)
		free(a[i]);
	for (int i = 0; i < 100; i++)
		free(c[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "touch"))
		return touch(argc > 2 ? strtol(argv[2], NULL, 10) : 32);
	if (argc > 1 && !strcmp(argv[1], "phases"))
		return phases();
	fprintf(stderr, "usage: phases touch N | phases\n");
	return 2;
}
