// SPDX-License-Identifier: GPL-2.0
/* guard.h - the guardian process that continues stopped targets if the
 * tracer dies while they are held for attach (see guard.c). */
#ifndef ALLOCMAP_GUARD_H
#define ALLOCMAP_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

struct am_guard;

/* Forks the guardian. Call before loading BPF objects or starting a
 * command, so it holds none of their descriptors. NULL on failure. */
struct am_guard *am_guard__new(void);
/* Lists pid as traced: if the tracer dies, it (and its children) will be
 * continued when stopped. */
void am_guard__add(struct am_guard *g, pid_t pid);
/* Ends the guardian (it continues whatever traced process is still
 * stopped, normally none) and reaps it. Accepts NULL. */
void am_guard__free(struct am_guard *g);

#endif /* ALLOCMAP_GUARD_H */
