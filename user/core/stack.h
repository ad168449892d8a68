// SPDX-License-Identifier: GPL-2.0
/* stack.h - user stacks as plain data, with no libdw or libbpf: the table
 * that interns resolved stacks (identical stacks of a process share one id,
 * so live allocations and flame-graph weights refer to stacks by id), and
 * the grouping of live allocations into the leak report. Unit-tested
 * without root (tests/test_stacks.c). */
#ifndef ALLOCMAP_STACK_H
#define ALLOCMAP_STACK_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct am_stacktab;

/* Returns NULL on allocation failure. */
struct am_stacktab *am_stacktab__new(void);
/* Frees every stack it interned. Accepts NULL. */
void am_stacktab__free(struct am_stacktab *t);
/* The interned copy of frames f[0..n) of pid (keyed by pid, flags and the
 * frame addresses; the strings are shared, not copied). NULL when n is 0 or
 * on allocation failure. */
const struct am_stack *am_stacktab__intern(struct am_stacktab *t, uint32_t pid,
					   const struct am_frame *f, size_t n, uint32_t flags);
/* Stack with this id, or NULL. */
const struct am_stack *am_stacktab__get(const struct am_stacktab *t, uint32_t id);
/* Number of distinct stacks. */
size_t am_stacktab__count(const struct am_stacktab *t);

/* One live allocation, as input to the leak grouping. */
struct am_leak_in {
	uint32_t pid;
	const struct am_stack *stack; /* NULL: unknown */
	uint64_t size;
	uint8_t  region;              /* enum am_region_kind */
};

/* Groups allocations by (pid, stack): one group per distinct stack, plus
 * one per pid for the allocations without a stack. Sorted by bytes, then
 * count, largest first (ties: stack id, unknown last). *out is malloc'ed
 * (free() it); returns the number of groups, or -1 on allocation failure. */
long am_leaks_group(const struct am_leak_in *in, size_t n, struct am_leak **out);

/* A frame's name as flame graphs and one-line summaries show it: the
 * symbol, else "obj+0xOFF" (offset in the object unknown: the address),
 * else "0xADDR". Never contains ';'. Returns buf. */
char *am_frame_name(char *buf, size_t size, const struct am_frame *f);

#endif /* ALLOCMAP_STACK_H */
