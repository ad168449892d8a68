// SPDX-License-Identifier: GPL-2.0
/* order.h - a queue that puts records back in time order: the tracer gets
 * a call's record at its return, after the OS requests it made and after
 * other threads' later records; a renderer queues each record under its
 * timestamp and takes them out, oldest first, once the tracer says nothing
 * older can come (am_sink.progress). Items are copies (the caller's bytes),
 * equal timestamps keep the order they were queued in. */
#ifndef ALLOCMAP_ORDER_H
#define ALLOCMAP_ORDER_H

#include <stddef.h>
#include <stdint.h>

struct am_order;

/* Returns NULL on allocation failure. */
struct am_order *am_order__new(void);
/* Frees the queue and every item still in it. Accepts NULL. */
void am_order__free(struct am_order *q);
/* Queues one item under ts: a copy of a[0..alen) followed by b[0..blen)
 * (b may be NULL with blen 0). Returns 0, or -1 on allocation failure
 * (nothing queued). */
int am_order__push(struct am_order *q, uint64_t ts, const void *a, size_t alen, const void *b,
		   size_t blen);
/* Items held. */
size_t am_order__held(const struct am_order *q);
/* Timestamp of the oldest item; UINT64_MAX when empty. */
uint64_t am_order__oldest(const struct am_order *q);
/* Takes out the oldest item (NULL when empty): a pointer to its bytes,
 * valid until the next call on q; *ts and *len are set. */
const void *am_order__pop(struct am_order *q, uint64_t *ts, size_t *len);

#endif /* ALLOCMAP_ORDER_H */
