// SPDX-License-Identifier: GPL-2.0
/* prodcons.c - shipped workload for `allocmap compare`: producers and
 * consumers across threads. Two producer threads malloc messages of
 * 32..4096 B and push them on a bounded queue; two consumer threads pop
 * and free them, so almost every block is freed by a thread other than the
 * one that allocated it (glibc: per-thread arenas; jemalloc/tcmalloc:
 * thread caches flushed to a central pool; mimalloc: delayed cross-thread
 * frees).
 *
 *   prodcons [N]      N messages per producer (default 8000) */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define QCAP 256

static void *q[QCAP];
static size_t qhead, qtail, qlen;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long per_producer;
static uint64_t consumed_bytes;

static void push(void *m)
{
	pthread_mutex_lock(&mu);
	while (qlen == QCAP)
		pthread_cond_wait(&not_full, &mu);
	q[qtail] = m;
	qtail = (qtail + 1) % QCAP;
	qlen++;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&mu);
}

static void *pop(void)
{
	void *m;

	pthread_mutex_lock(&mu);
	while (qlen == 0)
		pthread_cond_wait(&not_empty, &mu);
	m = q[qhead];
	qhead = (qhead + 1) % QCAP;
	qlen--;
	pthread_cond_signal(&not_full);
	pthread_mutex_unlock(&mu);
	return m;
}

static void *producer(void *arg)
{
	uint64_t r = (uintptr_t)arg * 2654435761u + 1;

	for (long i = 0; i < per_producer; i++) {
		size_t n;
		uint32_t *m;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		n = 32 + r % 4065;
		m = malloc(n);
		if (!m)
			abort();
		memset(m, 0x11, n);
		m[0] = (uint32_t)n;
		push(m);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long todo = (long)(uintptr_t)arg;
	uint64_t bytes = 0;

	for (long i = 0; i < todo; i++) {
		uint32_t *m = pop();

		if (!m)
			break; /* poison pill */
		bytes += m[0];
		free(m);
	}
	pthread_mutex_lock(&mu);
	consumed_bytes += bytes;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t p[2], c[2];

	per_producer = argc > 1 ? atol(argv[1]) : 8000;
	if (per_producer < 1)
		per_producer = 1;
	/* each consumer takes exactly half of all messages */
	for (int i = 0; i < 2; i++)
		if (pthread_create(&c[i], NULL, consumer, (void *)(uintptr_t)per_producer))
			return 1;
	for (int i = 0; i < 2; i++)
		if (pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)(i + 1)))
			return 1;
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(c[i], NULL);
	return consumed_bytes == 0;
}
