// SPDX-License-Identifier: GPL-2.0
/* static_nosym.c - a trivial program that mallocs, built -static -s (see the
 * Makefile): its allocator is linked in and its symbol table stripped, so
 * allocmap finds no malloc to probe and must refuse with one clear line
 * ("no allocator symbols") and a non-zero exit. */
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char *p = malloc(100);
	if (!p)
		return 1;
	memset(p, 1, 100);
	free(p);
	return 0;
}
