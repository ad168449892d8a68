// SPDX-License-Identifier: GPL-2.0
/* small_objects.c - shipped workload for `allocmap compare`: many small
 * objects. Builds a table of N linked nodes of 16..256 B (each with a
 * separately allocated string), replaces a random third of them twice, then
 * frees everything. The allocator's per-object overhead and how it gets its
 * memory from the OS (brk heap, mmap'ed arenas, segments) dominate.
 *
 *   small_objects [N]      N nodes (default 8000: about 53000 allocator calls) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	char *name;        /* separately allocated, 8..120 B */
	size_t len;
	char payload[];    /* 0..232 B */
};

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct node *make(void)
{
	size_t plen = rnd() % 233, nlen = 8 + rnd() % 113;
	struct node *n = malloc(sizeof(*n) + plen);

	if (!n)
		abort();
	n->name = malloc(nlen);
	if (!n->name)
		abort();
	memset(n->name, 'a', nlen - 1);
	n->name[nlen - 1] = '\0';
	n->len = plen;
	memset(n->payload, 0x5a, plen);
	n->next = NULL;
	return n;
}

static void drop(struct node *n)
{
	free(n->name);
	free(n);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 8000;
	struct node **tab;
	uint64_t sum = 0;

	if (n < 1)
		n = 1;
	tab = calloc((size_t)n, sizeof(*tab));
	if (!tab)
		return 1;
	for (long i = 0; i < n; i++)
		tab[i] = make();
	for (int round = 0; round < 2; round++)
		for (long i = 0; i < n / 3; i++) {
			long k = (long)(rnd() % (uint64_t)n);

			drop(tab[k]);
			tab[k] = make();
		}
	for (long i = 0; i < n; i++) {
		sum += tab[i]->len;
		drop(tab[i]);
	}
	free(tab);
	return sum == 0xffffffffffffffffULL; /* keeps the loop honest */
}
