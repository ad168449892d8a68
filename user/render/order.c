// SPDX-License-Identifier: GPL-2.0
/* order.c - the time-order queue of order.h: a binary min-heap on
 * (timestamp, push sequence) of malloc'd copies. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "order.h"

struct item {
	uint64_t ts, seq;
	size_t len;
	unsigned char *data;
};

struct am_order {
	struct item *h;      /* heap, n of cap */
	size_t n, cap;
	uint64_t seq;
	unsigned char *last; /* the item popped last (freed at the next call) */
};

static bool before(const struct item *a, const struct item *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

struct am_order *am_order__new(void)
{
	return calloc(1, sizeof(struct am_order));
}

void am_order__free(struct am_order *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->h[i].data);
	free(q->h);
	free(q->last);
	free(q);
}

int am_order__push(struct am_order *q, uint64_t ts, const void *a, size_t alen, const void *b,
		   size_t blen)
{
	struct item it = { .ts = ts, .seq = q->seq++, .len = alen + blen };
	size_t i;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct item *h = realloc(q->h, cap * sizeof(*h));

		if (!h)
			return -1;
		q->h = h;
		q->cap = cap;
	}
	it.data = malloc(it.len ? it.len : 1);
	if (!it.data)
		return -1;
	if (alen)
		memcpy(it.data, a, alen);
	if (blen)
		memcpy(it.data + alen, b, blen);
	/* sift up */
	for (i = q->n++; i > 0 && before(&it, &q->h[(i - 1) / 2]); i = (i - 1) / 2)
		q->h[i] = q->h[(i - 1) / 2];
	q->h[i] = it;
	return 0;
}

size_t am_order__held(const struct am_order *q)
{
	return q->n;
}

uint64_t am_order__oldest(const struct am_order *q)
{
	return q->n ? q->h[0].ts : UINT64_MAX;
}

const void *am_order__pop(struct am_order *q, uint64_t *ts, size_t *len)
{
	struct item top, last;
	size_t i = 0;

	free(q->last);
	q->last = NULL;
	if (!q->n)
		return NULL;
	top = q->h[0];
	last = q->h[--q->n];
	/* sift the last item down from the root */
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(&q->h[c + 1], &q->h[c]))
			c++;
		if (!before(&q->h[c], &last))
			break;
		q->h[i] = q->h[c];
		i = c;
	}
	if (q->n)
		q->h[i] = last;
	q->last = top.data;
	*ts = top.ts;
	*len = top.len;
	return top.data;
}
