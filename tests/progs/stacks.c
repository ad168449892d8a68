// SPDX-License-Identifier: GPL-2.0
/* stacks.c - target program of the --stacks tests (tests/e2e/t_stacks.py): every
 * allocation comes from a distinct, non-inlined function on a known call
 * path, so a test can check that each OS request's stack names the right
 * function and that the leak report names the leaking one with the exact
 * byte count. Built three ways (Makefile): with frame pointers (stacks),
 * without (stacks_nofp) and stripped of symbols and debug info
 * (stacks_stripped). Prints nothing; glibc 2.36 behaviour:
 *
 *   main -> init_heap -> malloc(100)                brk(NULL), brk(+132 KiB)
 *   main -> run_steps -> parse_config -> malloc(200000)   mmap(200704)
 *   main -> run_steps -> load_table -> calloc(1000, 300)  mmap(303104)
 *   main -> run_steps -> leak_buffer -> malloc(12345), 3 times, never freed
 *   main -> direct_map -> mmap(65536), munmap       (direct)
 *   main -> release -> free(config), free(table)    munmap x2
 *
 * Depth: with -d N, the calls above run N extra frames deep (recurse()),
 * to test how much of a deep stack is recovered. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *config, *table, *leaked[3];
static volatile int sink, n_leaks = 3; /* volatile: one call site, not an unrolled loop */

NOINLINE void init_heap(void)
{
	char *p = malloc(100);

	p[0] = 1;
	sink += p[0];
	free(p);
}

NOINLINE void *parse_config(void)
{
	char *p = malloc(200000);

	memset(p, 1, 4096);
	return p;
}

NOINLINE void *load_table(void)
{
	return calloc(1000, 300);
}

NOINLINE void *leak_buffer(void)
{
	char *p = malloc(12345);

	p[0] = 2;
	return p;
}

NOINLINE void run_steps(void)
{
	config = parse_config();
	table = load_table();
	for (int i = 0; i < n_leaks && i < 3; i++)
		leaked[i] = leak_buffer();
	sink += 1;
}

NOINLINE void direct_map(void)
{
	void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m != MAP_FAILED)
		munmap(m, 65536);
	sink += 1;
}

NOINLINE void release(void)
{
	free(config);
	free(table);
	sink += 1;
}

NOINLINE void recurse(int n)
{
	if (n > 0)
		recurse(n - 1);
	else
		run_steps();
	sink += n;
}

int main(int argc, char **argv)
{
	int depth = 0;

	if (argc > 2 && !strcmp(argv[1], "-d"))
		depth = atoi(argv[2]);
	init_heap();
	if (depth > 0)
		recurse(depth);
	else
		run_steps();
	direct_map();
	release();
	return 0;
}
