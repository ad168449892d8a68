// SPDX-License-Identifier: GPL-2.0
/* served.c - target of tests/e2e/t_serve_http.py (allocmap serve's HTTP
 * side): says "ready PID" on stdout, waits for a line on stdin (the daemon
 * traces it now), then makes known calls and keeps what they return:
 *   big_site():   malloc(300000)  over glibc's 128 KiB threshold: its own mmap
 *   small_site(): malloc(1000) three times, from the heap
 * so 303000 bytes live, one mmap caused by malloc; prints "done". Each
 * further line "more" makes one more_site() malloc(5000) (kept), answered
 * "more N"; it exits when stdin closes. An argument becomes its comm
 * (prctl PR_SET_NAME: any bytes, for the escaping of hostile names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *volatile keep[1024];
static int nkeep;

__attribute__((noinline)) static void big_site(void)
{
	keep[nkeep++] = malloc(300000);
}

__attribute__((noinline)) static void small_site(void)
{
	keep[nkeep++] = malloc(1000);
}

__attribute__((noinline)) static void more_site(void)
{
	if (nkeep < 1024)
		keep[nkeep++] = malloc(5000);
}

int main(int argc, char **argv)
{
	char line[64];
	int more = 0;

	if (argc > 1)
		prctl(PR_SET_NAME, argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	big_site();
	for (int i = 0; i < 3; i++)
		small_site();
	printf("done\n");
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "more", 4))
			continue;
		more_site();
		printf("more %d\n", ++more);
	}
	return 0;
}
