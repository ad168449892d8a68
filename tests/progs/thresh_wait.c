// SPDX-License-Identifier: GPL-2.0
/* thresh_wait.c - target of tests/e2e/t_threshold.py: moves glibc's mmap
 * threshold to 196 KiB before anyone attaches, says "ready PID" on stdout,
 * waits for a line on stdin (the tracer is attached), then makes calls whose
 * outcome depends on the threshold:
 *   1. malloc(200000)  nb 200016 < 196 KiB: the heap grows (brk), no mmap
 *   2. malloc(200000)  again: brk again (a second call on this thread proves
 *                      threshold > nb to a tracer that does not know it)
 *   3. malloc(1 MiB)   its own mmap (threshold <= nb), then its free moves the
 *                      threshold to the chunk's size, 1028 KiB
 *   4. malloc(600000)  under 1028 KiB: heap
 * Then prints "done" and waits for stdin to close.
 * With argument "fork" (for -f): after the go line it forks; the child waits
 * for a second line (its probes are attached), does steps 1-4 (its threshold
 * ends at 1028 KiB), the parent waits for it, then mallocs 300000: over its
 * own threshold, still 196 KiB, so its own mmap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile keep[8];

static void steps(void)
{
	char *p;

	keep[1] = malloc(200000);
	keep[2] = malloc(200000);
	p = malloc(1 << 20);
	p[0] = 1;
	free(p);
	keep[3] = malloc(600000);
}

int main(int argc, char **argv)
{
	char line[64];
	char *p;

	keep[0] = malloc(100);                 /* the heap: brk(+132 KiB) */
	p = malloc(196 * 1024 - 100);          /* nb 200624 > top: mmap(200704) */
	p[0] = 1;
	free(p);                               /* threshold -> 200704 = 196 KiB */
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	if (argc > 1 && !strcmp(argv[1], "fork")) {
		pid_t kid = fork();

		if (kid == 0) {
			if (!fgets(line, sizeof(line), stdin))
				_exit(1);
			steps();
			_exit(0);
		}
		waitpid(kid, NULL, 0);
		keep[4] = malloc(300000);      /* parent: still 196 KiB: mmap */
	} else {
		steps();
	}
	printf("done\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
