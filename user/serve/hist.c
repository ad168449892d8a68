// SPDX-License-Identifier: GPL-2.0
/* hist.c - a target's bounded JSONL history (srv_int.h): whole lines in a
 * byte ring, the oldest dropped (and counted) to make room, positions as
 * absolute offsets so that a stream reader keeps a cursor and learns how
 * much it missed. */
#include <stdlib.h>
#include <string.h>
#include "srv_int.h"

int am_hist_init(struct am_hist *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	h->buf = malloc(cap ? cap : 1);
	h->cap = cap ? cap : 1;
	return h->buf ? 0 : -1;
}

void am_hist_free(struct am_hist *h)
{
	free(h->buf);
	free(h->part);
	memset(h, 0, sizeof(*h));
}

static char at(const struct am_hist *h, uint64_t off)
{
	return h->buf[off % h->cap];
}

/* Drops whole lines from the start until need bytes are free. */
static void make_room(struct am_hist *h, size_t need)
{
	while (h->end - h->start + need > h->cap && h->start < h->end) {
		while (h->start < h->end && at(h, h->start) != '\n')
			h->start++;
		if (h->start < h->end)
			h->start++;
		h->dropped++;
	}
}

/* One whole line (with its '\n') into the ring. */
static void put_line(struct am_hist *h, const char *d, size_t n)
{
	size_t pos, first;

	if (n > h->cap) {
		h->dropped++;
		return;
	}
	make_room(h, n);
	pos = h->end % h->cap;
	first = h->cap - pos < n ? h->cap - pos : n;
	memcpy(h->buf + pos, d, first);
	memcpy(h->buf, d + first, n - first);
	h->end += n;
}

/* Keeps the start of a line until its '\n' comes; a line longer than the
 * ring is dropped. */
static void keep_part(struct am_hist *h, const char *d, size_t n)
{
	if (h->skip)
		return;
	if (h->plen + n > h->cap) {
		h->skip = true;
		h->plen = 0;
		return;
	}
	if (h->plen + n > h->pcap) {
		size_t cap = (h->plen + n) * 2;
		char *p = realloc(h->part, cap);

		if (!p) {
			h->skip = true;
			h->plen = 0;
			return;
		}
		h->part = p;
		h->pcap = cap;
	}
	memcpy(h->part + h->plen, d, n);
	h->plen += n;
}

void am_hist_write(struct am_hist *h, const char *d, size_t n)
{
	while (n) {
		const char *nl = memchr(d, '\n', n);
		size_t k = nl ? (size_t)(nl - d) + 1 : n;

		if (!nl) {
			keep_part(h, d, k);
		} else if (h->skip) {
			h->skip = false;
			h->dropped++;
		} else if (h->plen) {
			keep_part(h, d, k);
			if (!h->skip)
				put_line(h, h->part, h->plen);
			else
				h->dropped++;
			h->skip = false;
			h->plen = 0;
		} else {
			put_line(h, d, k);
		}
		d += k;
		n -= k;
	}
}

int am_hist_copy(const struct am_hist *h, uint64_t from, char **out, size_t *len)
{
	size_t n, pos, first;

	if (from < h->start)
		from = h->start;
	if (from > h->end)
		from = h->end;
	n = (size_t)(h->end - from);
	*out = malloc(n + 1);
	if (!*out)
		return -1;
	pos = from % h->cap;
	first = h->cap - pos < n ? h->cap - pos : n;
	memcpy(*out, h->buf + pos, first);
	memcpy(*out + first, h->buf, n - first);
	(*out)[n] = 0;
	*len = n;
	return 0;
}
