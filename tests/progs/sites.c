// SPDX-License-Identifier: GPL-2.0
/* sites.c - a test program with known call sites (tests/e2e/t_sites.py):
 *   site_temp:  100 x malloc(1000), each freed by the next call: temporaries
 *   site_leak:    3 x malloc(7000), never freed: leaked, live at the peak
 *   site_peak:   10 x malloc(50000), held together, then freed in order:
 *                their 10th allocation is the live peak (3 x 7000 + 10 x 50000)
 *   site_big:     1 x calloc(1, 300000): its own mmap (bytes from the OS),
 *                freed by the next call: a temporary
 * and no other allocation (nothing printed). Built -O0 with frame pointers
 * and debug info (Makefile), each site in its own function. */
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

__attribute__((noinline)) static void site_temp(void)
{
	for (int i = 0; i < 100; i++) {
		char *p = malloc(1000);

		if (!p)
			exit(1);
		memset(p, 1, 1000);
		sink = p;
		free(p);
	}
}

__attribute__((noinline)) static void site_leak(int n)
{
	for (int i = 0; i < n; i++) {
		char *p = malloc(7000);

		if (!p)
			exit(1);
		memset(p, 2, 7000);
		sink = p;
	}
}

__attribute__((noinline)) static void site_peak(void)
{
	char *b[10];

	for (int i = 0; i < 10; i++) {
		b[i] = malloc(50000);
		if (!b[i])
			exit(1);
		memset(b[i], 3, 50000);
	}
	for (int i = 0; i < 10; i++)
		free(b[i]);
}

__attribute__((noinline)) static void site_big(void)
{
	char *p = calloc(1, 300000);

	if (!p)
		exit(1);
	p[299999] = 4;
	sink = p;
	free(p);
}

/* `sites changed`: the same program with a known difference
 * (tests/e2e/t_diff.py): site_leak makes 5 allocations instead of 3,
 * site_big is not called, and site_extra (2 x malloc(4000), held together,
 * then freed) is: sites that only one of the two runs has. */
__attribute__((noinline)) static void site_extra(void)
{
	char *a = malloc(4000), *b = malloc(4000);

	if (!a || !b)
		exit(1);
	memset(a, 5, 4000);
	memset(b, 5, 4000);
	sink = b;
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	int changed = argc > 1 && !strcmp(argv[1], "changed");

	site_temp();
	site_leak(changed ? 5 : 3);
	site_peak();
	if (changed)
		site_extra();
	else
		site_big();
	return 0;
}
