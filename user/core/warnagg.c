// SPDX-License-Identifier: GPL-2.0
/* warnagg.c - repeated warnings folded into one counted line (warnagg.h). */
#include "warnagg.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KINDS 16 /* distinct (kind, errno) pairs held; more are printed at once */
#define SHOW_PIDS 3  /* pids named in a line */

struct entry {
	const char *one, *many;
	int err;
	uint64_t count;     /* warnings */
	uint64_t n_pids;    /* distinct pids (consecutive duplicates folded) */
	int pids[SHOW_PIDS];
	int last_pid;
};

struct am_warnagg {
	struct entry e[MAX_KINDS];
	size_t n;
};

struct am_warnagg *am_warnagg__new(void)
{
	return calloc(1, sizeof(struct am_warnagg));
}

void am_warnagg__free(struct am_warnagg *a)
{
	free(a);
}

static void print_entry(const struct entry *e, FILE *f)
{
	fprintf(f, "allocmap: warning: %llu %s to ", (unsigned long long)e->count,
		e->count == 1 ? e->one : e->many);
	if (e->n_pids == 1) {
		fprintf(f, "pid %d", e->pids[0]);
	} else {
		fprintf(f, "%llu processes (pids", (unsigned long long)e->n_pids);
		for (uint64_t i = 0; i < e->n_pids && i < SHOW_PIDS; i++)
			fprintf(f, "%s %d", i ? "," : "", e->pids[i]);
		fprintf(f, "%s)", e->n_pids > SHOW_PIDS ? ", ..." : "");
	}
	fprintf(f, ": %s", strerror(e->err));
	if (e->err == ESRCH)
		fprintf(f, " (%s exited)", e->n_pids == 1 ? "it" : "they");
	fputc('\n', f);
}

void am_warnagg__add(struct am_warnagg *a, const char *one, const char *many, int pid, int err)
{
	struct entry *e = NULL;

	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].one == one && a->e[i].err == err) {
			e = &a->e[i];
			break;
		}
	if (!e) {
		struct entry tmp = { .one = one, .many = many, .err = err, .count = 1, .n_pids = 1,
				     .pids = { pid }, .last_pid = pid };

		if (a->n == MAX_KINDS) { /* full: say it now rather than lose it */
			print_entry(&tmp, stderr);
			return;
		}
		a->e[a->n++] = tmp;
		return;
	}
	e->count++;
	if (pid != e->last_pid) {
		if (e->n_pids < SHOW_PIDS)
			e->pids[e->n_pids] = pid;
		e->n_pids++;
		e->last_pid = pid;
	}
}

void am_warnagg__flush(struct am_warnagg *a, FILE *f, bool keep_gone)
{
	size_t kept = 0;

	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		if (keep_gone && a->e[i].err == ESRCH) {
			a->e[kept++] = a->e[i];
			continue;
		}
		print_entry(&a->e[i], f);
	}
	a->n = kept;
}
