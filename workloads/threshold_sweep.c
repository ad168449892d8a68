// SPDX-License-Identifier: GPL-2.0
/* threshold_sweep.c - the program behind `allocmap demo threshold`: a fixed
 * sequence of malloc/free steps that walks glibc's brk-versus-mmap choice
 * (small requests, a large one that fits the heap's top chunk, the same size
 * when it no longer fits, the dynamic mmap threshold raised by freeing a
 * 1 MiB mmapped chunk, then 256 KiB / 512 KiB / 4 MiB requests).
 *
 *   threshold_sweep [-c FD]
 *
 * With -c FD it waits after each step until one byte arrives on FD (at most
 * 5 s), so the tracer can show the step before the next one starts. The
 * step list must stay in step with user/demo.c. No stdio: it would malloc
 * its own buffers in the middle of the heap the demo is looking at. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KiB 1024UL
#define MiB (1024UL * 1024)

static int ctl_fd = -1;

/* Wait for the tracer's go-ahead (or 5 s) after a step. */
static void step_done(void)
{
	struct pollfd p = { .fd = ctl_fd, .events = POLLIN };
	char c;

	if (ctl_fd < 0)
		return;
	if (poll(&p, 1, 5000) == 1 && read(ctl_fd, &c, 1) != 1)
		ctl_fd = -1; /* the tracer went away: run the rest unpaced */
}

/* Allocate and touch the first byte so nothing is optimised away. */
static void *get(size_t n)
{
	char *p = malloc(n);

	if (p)
		*(volatile char *)p = 1;
	return p;
}

int main(int argc, char **argv)
{
	void *small1, *small2, *fit, *nofit, *big, *k256, *k512, *m4;

	if (argc == 3 && !strcmp(argv[1], "-c"))
		ctl_fd = atoi(argv[2]);

	small1 = get(100);         /* 1: first malloc creates the heap: brk(NULL), brk(+132 KiB) */
	small2 = get(1000);        /*    served from the same heap, no syscall */
	step_done();
	fit = get(129 * KiB);      /* 2: over 128 KiB, but the top chunk holds it: heap */
	step_done();
	nofit = get(129 * KiB);    /* 3: top chunk too small, >= threshold: mmap */
	step_done();
	big = get(1 * MiB);        /* 4: mmap */
	step_done();
	free(big);                 /* 5: munmap; threshold rises to 1 MiB + 4 KiB */
	step_done();
	k256 = get(256 * KiB);     /* 6: under the new threshold: heap grows with brk */
	step_done();
	k512 = get(512 * KiB);     /* 7: same */
	step_done();
	m4 = get(4 * MiB);         /* 8: over the new threshold: mmap */
	step_done();
	free(m4);                  /* 9: munmap; threshold rises to 4 MiB + 4 KiB */
	step_done();
	free(k512);                /* 10: back to the heap's free space, no syscall */
	free(k256);
	free(nofit);
	free(fit);
	free(small2);
	free(small1);
	step_done();
	return 0;
}
