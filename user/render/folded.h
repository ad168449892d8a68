// SPDX-License-Identifier: GPL-2.0
/* folded.h - flame-graph input: user stacks in Brendan Gregg's folded format
 * ("main;parse_config;malloc 200000", root first, one line per distinct
 * stack), weighted by bytes obtained from the OS (--folded) or by bytes
 * allocated (--folded-alloc). An am_folded is an am_sink: plug it into the
 * correlator's stream, then write the files at the end. No libbpf/libdw. */
#ifndef ALLOCMAP_FOLDED_H
#define ALLOCMAP_FOLDED_H

#include <stdint.h>
#include <stdio.h>
#include "model.h"

struct am_folded;

/* Returns NULL on allocation failure. */
struct am_folded *am_folded__new(void);
void am_folded__free(struct am_folded *f);   /* accepts NULL */
/* Fills sink with this accumulator (call and os callbacks). */
void am_folded__sink(struct am_folded *f, struct am_sink *sink);

/* Add weight w to stack s in the OS-bytes (which 0) or allocated-bytes
 * (which 1) table. The sink callbacks use it; tests may too. */
void am_folded__add(struct am_folded *f, int which, const struct am_stack *s, uint64_t w);

/* Bytes an OS request obtained from the kernel, for the flame graph:
 * anonymous mmap (not PROT_NONE), mremap growth, brk growth (prev_brk: the
 * break before, 0 unknown), and mprotect to writable of an allocator
 * reservation (arena growth; with cause unknown too). 0 otherwise. */
uint64_t am_folded_os_bytes(const struct am_os_rec *r, uint64_t prev_brk);

/* Writes table which (0 OS bytes, 1 allocated bytes) to out, lines sorted,
 * identical lines merged. Returns the number of lines, -1 on error. */
long am_folded__write(struct am_folded *f, int which, FILE *out);

#endif /* ALLOCMAP_FOLDED_H */
