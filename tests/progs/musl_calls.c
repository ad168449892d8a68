// SPDX-License-Identifier: GPL-2.0
/* musl_calls.c - a program with known allocator calls for the musl
 * end-to-end tests (tests/e2e/t_musl.py). The Makefile builds it with musl-gcc,
 * dynamically linked (.output/progs/musl_dyn: the libc is the dynamic
 * linker /lib/ld-musl-x86_64.so.1) and statically (.output/progs/musl_static),
 * not with the system compiler. Built with -DNO_FREE -static
 * (.output/progs/musl_nofree_static) it only mallocs: a static program that
 * never frees gets musl's bump allocator instead of mallocng.
 *
 * Every call prints "NAME 0xPTR" on stdout (write(2) and a stack buffer:
 * nothing here allocates but the calls under test), so the test compares the
 * pointers allocmap reports with those the program got. With --wait it first
 * prints "ready PID" and blocks until a byte arrives on stdin: the test
 * attaches with -p, then lets it go (a handshake, not a sleep). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *name, const void *p)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s %#lx\n", name, (unsigned long)(uintptr_t)p);

	if (write(1, buf, (size_t)n) != n)
		_exit(3);
}

int main(int argc, char **argv)
{
	void *small, *big, *cal, *mid, *al, *pm = NULL, *ma, *va, *ra;

	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		char buf[64], c;
		int n = snprintf(buf, sizeof(buf), "ready %d\n", (int)getpid());

		if (write(1, buf, (size_t)n) != n || read(0, &c, 1) != 1)
			return 2;
	}
	/* under the fixed threshold (131052 B): slots of size-class groups */
	small = malloc(100);
	say("malloc_100", small);
	/* at or over it: a mapping of its own, n + 20 bytes */
	big = malloc(300000);
	say("malloc_300000", big);
#ifdef NO_FREE
	(void)cal; (void)mid; (void)al; (void)pm; (void)ma; (void)va; (void)ra;
	say("done", NULL);
	return 0;
#endif
	cal = calloc(1000, 200);
	say("calloc_1000_200", cal);
	/* both sizes over the threshold: mremap */
	big = realloc(big, 400000);
	say("realloc_400000", big);
	/* a single-slot group mapped for this request alone: 20480 bytes */
	mid = malloc(20000);
	say("malloc_20000", mid);
	/* aligned_alloc asks mallocng for 5000 + 4096 - 16 bytes: a 3-slot group */
	al = aligned_alloc(4096, 5000);
	say("aligned_alloc_4096_5000", al);
	if (posix_memalign(&pm, 64, 1000))
		return 1;
	say("posix_memalign_64_1000", pm);
	/* memalign and valloc are tail jumps to aligned_alloc (nested calls) */
	ma = memalign(32, 50);
	say("memalign_32_50", ma);
	va = valloc(100);
	say("valloc_100", va);
	ra = reallocarray(NULL, 10, 30);
	say("reallocarray_10_30", ra);

	free(mid);   /* munmap(20480) */
	say("free_20000", mid);
	free(big);   /* munmap(401408) */
	say("free_400000", big);
	free(cal);   /* munmap(200704) */
	say("free_calloc", cal);
	free(al);
	free(pm);
	free(ma);
	free(va);
	free(ra);
	free(small);
	say("done", NULL);
	return 0;
}
