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

__attribute__((noinline)) static void site_leak(void)
{
	for (int i = 0; i < 3; i++) {
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

int main(void)
{
	site_temp();
	site_leak();
	site_peak();
	site_big();
	return 0;
}
