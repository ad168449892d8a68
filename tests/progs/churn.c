// SPDX-License-Identifier: GPL-2.0
/* churn.c - a churning target for the hostile-target suite and the soak
 * (tests/e2e/t_hostile_targets.py, tests/soak.sh):
 *   churn soak SECONDS THREADS [FORK_MS EXEC_MS]  THREADS threads of
 *       random malloc/free (16 B..300 KB, so brk, mmap and munmap all
 *       happen) while the main thread forks a short-lived allocating child
 *       every FORK_MS (default 1000) and forks and execs `churn child` every
 *       EXEC_MS (default 5000), for SECONDS; exits 0.
 *   churn burst N [kill]  forks N children at once, each doing one
 *       malloc/free and exiting at once; with "kill", each is SIGKILLed as
 *       soon as it is forked (a flood of processes exiting during attach).
 *   churn child    a few allocations, then exit 0 (the exec'd image). */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void allocate(unsigned *seed, int n)
{
	void *keep[64] = { 0 };

	for (int i = 0; i < n; i++) {
		unsigned k = (unsigned)rand_r(seed) % 64;
		size_t sz = (unsigned)rand_r(seed) % 100 ? 16 + (unsigned)rand_r(seed) % 4096
							 : 100000 + (unsigned)rand_r(seed) % 200000;

		free(keep[k]);
		keep[k] = malloc(sz);
		if (keep[k])
			memset(keep[k], 1, 16);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	/* about 2000 calls a second per thread: a rate the sanitized tracer
	 * follows without losing events, for hours */
	while (!stop) {
		allocate(&seed, 100);
		usleep(100000);
	}
	return NULL;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	unsigned seed = (unsigned)getpid();

	if (argc > 1 && !strcmp(argv[1], "child")) {
		allocate(&seed, 200);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "burst")) {
		int n = atoi(argv[2]);
		int kill_them = argc > 3 && !strcmp(argv[3], "kill");

		for (int i = 0; i < n; i++) {
			pid_t p = fork();

			if (p == 0) {
				free(malloc(100));
				_exit(0);
			}
			if (p > 0 && kill_them)
				kill(p, SIGKILL);
		}
		while (wait(NULL) > 0)
			;
		return 0;
	}
	if (argc > 3 && !strcmp(argv[1], "soak")) {
		double end = now() + atof(argv[2]), next_exec = 0;
		int nt = atoi(argv[3]);
		double fork_s = argc > 4 ? atof(argv[4]) / 1e3 : 1.0;
		double exec_s = argc > 5 ? atof(argv[5]) / 1e3 : 5.0;
		pthread_t *th = calloc((size_t)nt, sizeof(*th));

		for (int i = 0; i < nt; i++)
			pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
		while (now() < end) {
			pid_t p = fork();

			if (p == 0) {
				allocate(&seed, 100);
				_exit(0);
			}
			if (now() >= next_exec) {
				next_exec = now() + exec_s;
				p = fork();
				if (p == 0) {
					execl("/proc/self/exe", argv[0], "child", (char *)NULL);
					_exit(127);
				}
			}
			usleep((useconds_t)(fork_s * 1e6));
			reap();
		}
		stop = 1;
		for (int i = 0; i < nt; i++)
			pthread_join(th[i], NULL);
		while (wait(NULL) > 0)
			;
		free(th);
		return 0;
	}
	fprintf(stderr, "usage: churn soak SECONDS THREADS [FORK_MS EXEC_MS] | burst N [kill] | child\n");
	return 2;
}
