// SPDX-License-Identifier: GPL-2.0
/* guard.c - the guardian: a small process that continues every traced
 * process still stopped when the tracer goes away.
 *
 * The BPF side stops a process (SIGSTOP) at exec, and a followed child at
 * its first return from fork, until the tracer has its probes in place; the
 * tracer then sends SIGCONT. If the tracer dies in between (SIGKILL, a
 * crash), nobody would: the target must never be harmed, so the guardian,
 * forked before anything is loaded, waits for the end of a pipe whose only
 * writer is the tracer, then sends SIGCONT to every traced process, and to
 * every child of one, that is stopped. The tracer lists the pids it traces
 * in a page shared with the guardian. */
#include "guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_PIDS 1022

struct guard_page {
	volatile int n;                 /* entries used in pid[] */
	volatile int pad;
	volatile pid_t pid[GUARD_PIDS]; /* traced processes (0: slot unused) */
};

struct am_guard {
	struct guard_page *page;
	pid_t child;
	int wfd;                        /* the tracer's end: closing it wakes the guardian */
};

/* /proc/PID/stat: state and parent of pid; 0 or -1. */
static int proc_state(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold anything, but not after its ')' */
	if (!p || sscanf(p + 1, " %c %d", state, ppid) != 2)
		return -1;
	return 0;
}

static bool listed(const struct guard_page *g, pid_t pid)
{
	for (int i = 0; i < g->n && i < GUARD_PIDS; i++)
		if (g->pid[i] == pid)
			return true;
	return false;
}

static void release_all(const struct guard_page *g)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end, state;
		pid_t pid, ppid;

		pid = (pid_t)strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || proc_state(pid, &state, &ppid))
			continue;
		if (state == 'T' && (listed(g, pid) || listed(g, ppid)))
			kill(pid, SIGCONT);
	}
	closedir(d);
}

struct am_guard *am_guard__new(void)
{
	struct am_guard *g = calloc(1, sizeof(*g));
	int p[2];

	if (!g)
		return NULL;
	g->page = mmap(NULL, sizeof(*g->page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->page == MAP_FAILED || pipe2(p, O_CLOEXEC)) {
		if (g->page != MAP_FAILED)
			munmap(g->page, sizeof(*g->page));
		free(g);
		return NULL;
	}
	g->child = fork();
	if (g->child < 0) {
		close(p[0]);
		close(p[1]);
		munmap(g->page, sizeof(*g->page));
		free(g);
		return NULL;
	}
	if (g->child == 0) {
		char c;

		/* nothing but its pipe: in a process with several tracers
		 * (serve) another tracer's probe links, or another
		 * guardian's pipe, would otherwise live as long as this */
		for (int fd = 0; fd < 3; fd++)
			if (fd != p[0])
				close(fd);
		syscall(SYS_close_range, 3, p[0] > 3 ? p[0] - 1 : 2, 0);
		syscall(SYS_close_range, p[0] + 1, ~0U, 0);
		signal(SIGINT, SIG_IGN); /* Ctrl-C reaches the whole group: outlive the tracer */
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		prctl(PR_SET_NAME, "allocmap-guard");
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		release_all(g->page);
		_exit(0);
	}
	close(p[0]);
	g->wfd = p[1];
	return g;
}

void am_guard__add(struct am_guard *g, pid_t pid)
{
	if (!g || listed(g->page, pid))
		return;
	for (int i = 0; i < g->page->n; i++)
		if (!g->page->pid[i]) {
			g->page->pid[i] = pid;
			return;
		}
	if (g->page->n < GUARD_PIDS) {
		g->page->pid[g->page->n] = pid;
		__sync_synchronize();
		g->page->n++;
	}
}

void am_guard__free(struct am_guard *g)
{
	if (!g)
		return;
	close(g->wfd);
	while (waitpid(g->child, NULL, 0) < 0 && errno == EINTR)
		;
	munmap(g->page, sizeof(*g->page));
	free(g);
}
