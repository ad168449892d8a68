// SPDX-License-Identifier: GPL-2.0
/* strtab.h - interned strings: one copy of each, so that equal strings are
 * equal pointers (symbol, object and file names of stack frames, shared by
 * the unwinder and the trace replay). An open-addressing hash set of
 * strdup'ed copies, alive until am_strtab_free. */
#ifndef ALLOCMAP_STRTAB_H
#define ALLOCMAP_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct am_strtab {
	char **s;             /* the copies; NULL: an empty slot */
	size_t n, cap;        /* cap: 0 or a power of two, at most half full */
};

/* The strings' hash (FNV-1a), for tables keyed by an interned string. */
uint64_t am_str_hash(const char *s);

/* The one copy of s (NULL stays NULL); NULL when memory runs out. */
const char *am_strtab_intern(struct am_strtab *t, const char *s);

/* Frees every copy; the table is empty again. */
void am_strtab_free(struct am_strtab *t);

#endif /* ALLOCMAP_STRTAB_H */
