// SPDX-License-Identifier: GPL-2.0
/* rss.c - resident set size of traced processes from /proc/PID/statm
 * (rss.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rss.h"
#include "safeio.h"

struct slot {
	pid_t pid;        /* 0: free */
	int   fd;         /* its statm, -1 when it could not be opened */
};

struct am_rss {
	struct slot s[AM_RSS_PROCS];
	uint64_t next;    /* when the next sample is due */
	uint64_t page;
};

struct am_rss *am_rss__new(void)
{
	struct am_rss *r = calloc(1, sizeof(*r));
	long pg = sysconf(_SC_PAGESIZE);

	if (r)
		r->page = pg > 0 ? (uint64_t)pg : 4096;
	return r;
}

void am_rss__free(struct am_rss *r)
{
	if (!r)
		return;
	for (int i = 0; i < AM_RSS_PROCS; i++)
		if (r->s[i].pid && r->s[i].fd >= 0)
			close(r->s[i].fd);
	free(r);
}

bool am_rss__due(struct am_rss *r, uint64_t now)
{
	if (now < r->next)
		return false;
	/* the next one a period from the schedule, not from a late loop turn */
	r->next = r->next && now - r->next < AM_RSS_PERIOD_MS * 1000000ull ? r->next : now;
	r->next += AM_RSS_PERIOD_MS * 1000000ull;
	return true;
}

bool am_rss__parse(const char *line, uint64_t page, uint64_t *bytes)
{
	unsigned long long size, res;
	int n = 0;

	if (sscanf(line, "%llu %llu%n", &size, &res, &n) != 2 || n <= 0)
		return false;
	if (res > UINT64_MAX / page)
		return false;
	*bytes = (uint64_t)res * page;
	return true;
}

static struct slot *slot_of(struct am_rss *r, pid_t pid)
{
	struct slot *free_slot = NULL;
	char path[64];

	for (int i = 0; i < AM_RSS_PROCS; i++) {
		if (r->s[i].pid == pid)
			return &r->s[i];
		if (!r->s[i].pid && !free_slot)
			free_slot = &r->s[i];
	}
	if (!free_slot)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	free_slot->pid = pid;
	free_slot->fd = am_open_target(path, true);
	return free_slot;
}

bool am_rss__read(struct am_rss *r, pid_t pid, uint64_t *bytes)
{
	struct slot *s = pid > 0 ? slot_of(r, pid) : NULL;
	char buf[256];
	ssize_t n;

	if (!s || s->fd < 0)
		return false;
	n = pread(s->fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;   /* ESRCH: it exited */
	buf[n] = '\0';
	return am_rss__parse(buf, r->page, bytes);
}

void am_rss__forget(struct am_rss *r, pid_t pid)
{
	for (int i = 0; i < AM_RSS_PROCS; i++) {
		if (r->s[i].pid != pid)
			continue;
		if (r->s[i].fd >= 0)
			close(r->s[i].fd);
		r->s[i].pid = 0;
		r->s[i].fd = -1;
	}
}
