// SPDX-License-Identifier: GPL-2.0
/* bigbuf.c - shipped workload for `allocmap compare`: large buffers.
 * Allocates buffers of 64 KiB..8 MiB (touching one byte per page), grows
 * some with realloc, keeps up to 8 alive at once, and frees them. Every
 * request is near or above glibc's mmap threshold, so the dynamic threshold,
 * mremap, and each allocator's handling of huge sizes show up.
 *
 *   bigbuf [N]      N buffers (default 300) */
#include <stdint.h>
#include <stdlib.h>

#define LIVE 8

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void touch(char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 300;
	char *slot[LIVE] = { 0 };
	size_t len[LIVE] = { 0 };

	for (long i = 0; i < n; i++) {
		int k = (int)(rnd() % LIVE);
		size_t sz = (size_t)64 << 10 << (rnd() % 7); /* 64 KiB .. 4 MiB, plus up to as much again */

		sz += rnd() % sz;
		if (slot[k] && rnd() % 3 == 0) {
			/* grow in place or move: realloc */
			char *p = realloc(slot[k], len[k] + sz / 2);

			if (!p)
				abort();
			slot[k] = p;
			len[k] += sz / 2;
		} else {
			free(slot[k]);
			slot[k] = malloc(sz);
			if (!slot[k])
				abort();
			len[k] = sz;
		}
		touch(slot[k], len[k]);
	}
	for (int k = 0; k < LIVE; k++)
		free(slot[k]);
	return 0;
}
