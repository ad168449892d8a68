// SPDX-License-Identifier: GPL-2.0
/* spinner.c - a long-running target for the tracer-lifecycle tests: every
 * 20 ms it mallocs and frees 200000 B (an mmap/munmap pair each time) and
 * prints a heartbeat line "tick N" to stdout, until it has done argv[1]
 * ticks (default 250, about 5 s), then exits 0. A crash (a stray int3 left
 * by a tracer, SIGTRAP) would end it with a signal instead. With a second
 * argument "wait", it first waits for a line on stdin (a test releases it
 * once the tracer is attached: no race with a slow attach). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 250;
	char line[16];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[2], "wait") && !fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 0; i < n; i++) {
		char *p = malloc(200000);

		if (!p)
			return 1;
		p[0] = (char)i;
		free(p);
		printf("tick %d\n", i);
		usleep(20000);
	}
	return 0;
}
