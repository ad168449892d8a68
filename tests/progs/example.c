// SPDX-License-Identifier: GPL-2.0
/* example.c - the README's built-in example: a short tour of how glibc's
 * malloc turns allocator calls into memory syscalls. Run it under allocmap:
 *
 *     ./allocmap trace -- .output/progs/example
 *
 * Each step says what glibc 2.36 does (x86-64, 4 KiB pages); allocmap should
 * show exactly that, with the call that caused each syscall. Prints nothing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *worker(void *arg)
{
	(void)arg;
	/* 7. A thread's first malloc gets an arena of its own: glibc reserves
	 *    128 MiB (mmap PROT_NONE, MAP_NORESERVE), munmaps all but a 64 MiB-
	 *    aligned half, and mprotects the part it uses read/write. */
	char *p = malloc(64);
	memset(p, 7, 64);
	free(p);
	return NULL;
}

int main(void)
{
	/* 1. The first malloc creates the heap: brk(NULL) finds the break, then
	 *    brk(+132 KiB): the request plus 128 KiB of padding (M_TOP_PAD). */
	char *small[8];
	for (int i = 0; i < 8; i++) {
		small[i] = malloc(100 + i * 100);
		memset(small[i], i, 100 + i * 100);
	}

	/* 2. 100 000 B twice: under the 128 KiB mmap threshold, so the heap's
	 *    top chunk serves it; the second does not fit and brk grows the heap. */
	char *h1 = malloc(100000), *h2 = malloc(100000);
	memset(h1, 1, 100000);
	memset(h2, 2, 100000);

	/* 3. 200 000 B is over the threshold and does not fit the top chunk:
	 *    a private mmap of its own (200 704 B: size + header, page-rounded).
	 *    Its free is a munmap, and raises the threshold to 200 704 (step 6). */
	char *big = malloc(200000);
	memset(big, 3, 200000);
	free(big);

	/* 4. calloc: 10 x 100 B from the heap; 50 x 8000 B = 400 000 B (still over
	 *    the raised threshold) from a fresh mmap, which is zero already. */
	char *c1 = calloc(10, 100), *c2 = calloc(50, 8000);

	/* 5. realloc of an mmapped chunk: mremap(MREMAP_MAYMOVE) grows the
	 *    mapping, possibly moving it; no copy in user space. */
	c2 = realloc(c2, 800000);
	memset(c2, 5, 800000);
	free(c2);                          /* munmap; threshold -> 802 816 */

	/* 6. The dynamic threshold: freeing an mmapped chunk of size S raises
	 *    the threshold to S. After 1 MiB is mmapped and freed, a 256 KiB
	 *    request is under the threshold and comes from the heap (one brk). */
	char *m = malloc(1 << 20);
	memset(m, 6, 1 << 20);
	free(m);                           /* threshold -> 1 052 672 */
	char *q = malloc(256 << 10);       /* heap, not mmap */
	memset(q, 6, 256 << 10);

	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);  /* its stack: mmap MAP_STACK, direct */
	pthread_join(t, NULL);

	/* 8. The program's own mapping: no allocator involved, cause "direct". */
	void *d = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d != MAP_FAILED)
		munmap(d, 65536);

	free(q);
	free(c1);
	free(h2);                          /* no brk shrink here: the trim threshold */
	free(h1);                          /* rose with the mmap threshold, to 2 MiB */
	for (int i = 0; i < 8; i++)
		free(small[i]);
	return 0;
}
