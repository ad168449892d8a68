// SPDX-License-Identifier: GPL-2.0
/* warnagg.h - repeated warnings folded into one line with a count (issue
 * 10: a process exiting during attach printed one line per probe, 17; -f
 * on 200 short-lived children thousands). A warning is a kind ("probe not
 * attached"), a pid and an errno; one line is printed per kind and errno:
 *   allocmap: warning: 17 probes not attached to pid 42: No such process (it exited)
 *   allocmap: warning: 340 probes not attached to 20 processes (pids 101, 102, 103, ...): ... */
#ifndef ALLOCMAP_WARNAGG_H
#define ALLOCMAP_WARNAGG_H

#include <stdbool.h>
#include <stdio.h>

struct am_warnagg;

struct am_warnagg *am_warnagg__new(void);
void am_warnagg__free(struct am_warnagg *a); /* accepts NULL */

/* Counts one warning. one, many: the kind's text for a count of 1 and of
 * more ("probe not attached", "probes not attached"); static strings. */
void am_warnagg__add(struct am_warnagg *a, const char *one, const char *many, int pid, int err);

/* Prints one line per kind and errno to f and forgets them; with
 * keep_gone, warnings whose errno is ESRCH (the process is gone) are kept
 * for a later flush, so a stream of short-lived processes makes one line. */
void am_warnagg__flush(struct am_warnagg *a, FILE *f, bool keep_gone);

#endif /* ALLOCMAP_WARNAGG_H */
