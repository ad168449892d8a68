// SPDX-License-Identifier: GPL-2.0
/* strtab.c - interned strings (strtab.h): FNV-1a hashing, linear probing,
 * doubling at half full. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "strtab.h"

uint64_t am_str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int grow(struct am_strtab *t)
{
	size_t nc = t->cap ? t->cap * 2 : 1024, j;
	char **ns = calloc(nc, sizeof(*ns));

	if (!ns)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->s[i])
			continue;
		for (j = am_str_hash(t->s[i]) & (nc - 1); ns[j]; j = (j + 1) & (nc - 1))
			;
		ns[j] = t->s[i];
	}
	free(t->s);
	t->s = ns;
	t->cap = nc;
	return 0;
}

const char *am_strtab_intern(struct am_strtab *t, const char *s)
{
	size_t j;

	if (!s)
		return NULL;
	if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
		return NULL;
	for (j = am_str_hash(s) & (t->cap - 1); t->s[j]; j = (j + 1) & (t->cap - 1))
		if (!strcmp(t->s[j], s))
			return t->s[j];
	t->s[j] = strdup(s);
	if (!t->s[j])
		return NULL;
	t->n++;
	return t->s[j];
}

void am_strtab_free(struct am_strtab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->s[i]);
	free(t->s);
	*t = (struct am_strtab){ 0 };
}
