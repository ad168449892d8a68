// SPDX-License-Identifier: GPL-2.0
/* causes.c - test program for the cause link on shapes real programs have
 * (tests/e2e/t_causes.py). Each scenario makes known calls:
 *
 *   tailfree N     N rounds at ONE call site of step(): odd rounds free the
 *                  block with a tail call (jmp free, as git's strbuf_release
 *                  or redis' zfree), even rounds allocate one frame deeper
 *                  (every 8th round 200000 B: an mmap). No call is nested in
 *                  another; every mmap is caused by a malloc, never a free.
 *   longjmp N      N times: my_alloc(7777) mallocs, then raises SIGUSR1 whose
 *                  handler siglongjmps out of my_alloc (trace it with
 *                  --alloc my_alloc=malloc); after each jump my_alloc(100)
 *                  and free at the same level. N returns are missed, no later
 *                  call is nested.
 *   busy           prints "ready" on stdout, then malloc/free pairs of 64 B
 *                  as fast as it can until SIGUSR1, then prints the number of
 *                  pairs and exits (attach while calls are in flight).
 *   alloc_now      malloc(123457) and calloc(3, 4321) first thing, frees,
 *                  exits (the calls a held exec must not miss).
 *   forkexec PROG ARGS...  forks; the child mallocs 54321 B at once, then
 *                  execs PROG ARGS; the parent mallocs 65432 B and waits.
 *   leak_own       4 threads each malloc and free 20 small blocks and exit
 *                  (glibc flushes each thread's cache at its exit).
 *   exec_on_line PROG ARGS...  prints "ready", waits for a line on stdin,
 *                  then execs PROG ARGS (a held exec on demand).
 *   sigjump N      N malloc(64)/free pairs while a 2 ms timer's handler
 *                  siglongjmps back to the loop, wherever it lands (inside
 *                  malloc or free, or not), then 100 malloc/free pairs of
 *                  100..199 B with the timer off; prints "jumps=J". */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

/* One frame deeper than step(): its malloc is not at step's level. */
__attribute__((noinline)) static void *deep_alloc(size_t n)
{
	void *p = malloc(n);

	if (p)
		memset(p, 1, 16);
	return p;
}

/* Frees with a tail call (this file is built with sibling-call
 * optimization: `jmp free`), or allocates one frame deeper. */
__attribute__((noinline)) static void step(void **slot, size_t n)
{
	if (*slot) {
		void *p = *slot;

		*slot = NULL;
		free(p);
		return;
	}
	*slot = deep_alloc(n);
}

static int tailfree(int n)
{
	void *slot = NULL;

	for (int i = 0; i < n; i++)
		step(&slot, i % 16 == 0 ? 200000 : 1000 + (size_t)i); /* the one call site */
	free(slot);
	return 0;
}

static sigjmp_buf env;

static void on_usr1(int sig)
{
	(void)sig;
	siglongjmp(env, 1);
}

__attribute__((noinline)) void *my_alloc(size_t n)
{
	void *p = malloc(n);

	if (n == 7777)
		raise(SIGUSR1); /* never returns: the handler jumps out */
	return p;
}

static int jumps(int n)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	volatile int done = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (volatile int i = 0; i < n; i++) {
		sink = NULL; /* my_alloc(7777) never returns: its block leaks */
		if (!sigsetjmp(env, 1))
			sink = my_alloc(7777);
		else
			done++;
		free(sink);
		sink = my_alloc(100);
		free(sink);
	}
	return done == n ? 0 : 1;
}

static sigjmp_buf jenv;
static volatile long njumps;

static void on_alarm(int sig)
{
	(void)sig;
	njumps++;
	siglongjmp(jenv, 1);
}

static int sigjump(int n)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } }, off = { { 0, 0 }, { 0, 0 } };
	volatile int i = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	sigsetjmp(jenv, 1);
	while (i < n) {
		sink = malloc(64);
		free(sink);
		i++;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	for (int k = 0; k < 100; k++) {
		sink = malloc(100 + (size_t)k);
		free(sink);
	}
	printf("jumps=%ld\n", njumps);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int busy(void)
{
	unsigned long pairs = 0;

	signal(SIGUSR1, on_stop);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		sink = malloc(64);
		free(sink);
		pairs++;
	}
	printf("pairs=%lu\n", pairs);
	return 0;
}

static int alloc_now(void)
{
	void *a = malloc(123457), *b = calloc(3, 4321);

	free(b);
	free(a);
	return 0;
}

static int forkexec(char **argv)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return 1;
	if (pid == 0) {
		sink = malloc(54321); /* first thing after fork */
		free(sink);
		execvp(argv[0], argv);
		_exit(127);
	}
	sink = malloc(65432);
	free(sink);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

static void *worker(void *arg)
{
	void *p[20];

	(void)arg;
	for (int i = 0; i < 20; i++)
		p[i] = malloc(32 + (size_t)i * 8);
	for (int i = 0; i < 20; i++)
		free(p[i]);
	return NULL;
}

static int leak_own(void)
{
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, worker, NULL))
			return 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? atoi(argv[2]) : 0;

	if (!strcmp(s, "tailfree"))
		return tailfree(n ? n : 64);
	if (!strcmp(s, "longjmp"))
		return jumps(n ? n : 50);
	if (!strcmp(s, "busy"))
		return busy();
	if (!strcmp(s, "alloc_now"))
		return alloc_now();
	if (!strcmp(s, "forkexec") && argc > 2)
		return forkexec(argv + 2);
	if (!strcmp(s, "leak_own"))
		return leak_own();
	if (!strcmp(s, "sigjump"))
		return sigjump(n ? n : 20000);
	if (!strcmp(s, "exec_on_line") && argc > 2) {
		char line[16];

		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		execvp(argv[2], argv + 2);
		return 127;
	}
	fprintf(stderr, "usage: causes tailfree|longjmp|busy|alloc_now|forkexec PROG...|leak_own [N]\n");
	return 2;
}
