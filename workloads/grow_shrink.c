// SPDX-License-Identifier: GPL-2.0
/* grow_shrink.c - shipped workload for `allocmap compare`: a working set
 * that grows, shrinks and grows again. Allocates N blocks of 1..64 KiB
 * (touching every page), frees 90 % of them in random order, then grows
 * back to half the peak and frees everything. Shows what each allocator
 * gives back to the OS (glibc: brk trim and munmap of mmapped chunks;
 * jemalloc: decay-based madvise, which a short run does not reach;
 * tcmalloc: madvise of free spans; mimalloc: delayed madvise of segments).
 *
 *   grow_shrink [N]      N blocks (default 3000, about 100 MiB at peak) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void *block(void)
{
	size_t n = 1024 + rnd() % (63 * 1024);
	char *p = malloc(n);

	if (!p)
		abort();
	for (size_t i = 0; i < n; i += 4096)
		p[i] = (char)i;
	p[n - 1] = 1;
	return p;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3000;
	void **b;

	if (n < 10)
		n = 10;
	b = calloc((size_t)n, sizeof(*b));
	if (!b)
		return 1;
	for (long i = 0; i < n; i++)
		b[i] = block();
	/* shrink to 10 %: a random permutation of frees */
	for (long i = n - 1; i > 0; i--) {
		long j = (long)(rnd() % (uint64_t)(i + 1));
		void *t = b[i];

		b[i] = b[j];
		b[j] = t;
	}
	for (long i = n / 10; i < n; i++) {
		free(b[i]);
		b[i] = NULL;
	}
	/* grow back to half */
	for (long i = n / 10; i < n / 2; i++)
		b[i] = block();
	for (long i = 0; i < n; i++)
		free(b[i]);
	free(b);
	return 0;
}
