// SPDX-License-Identifier: GPL-2.0
/* prom.h - the Prometheus text exposition format (version 0.0.4) of
 * `allocmap serve`'s /metrics: per traced target, the summary's figures
 * (the accounting model's, memacct.h), and the daemon's own. A pure writer:
 * no I/O but the FILE it is given, so it is unit-tested from summaries.
 * Every label value comes from the target (comm) or from tables: it is
 * escaped per the format (\\, \", \n) and made valid UTF-8. A figure the
 * tool cannot know is absent, never 0: bytes live in os mode (no allocator
 * call is traced), the mmap threshold while it is unknown. */
#ifndef ALLOCMAP_PROM_H
#define ALLOCMAP_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"

#define AM_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One target: its labels and figures. */
struct am_prom_target {
	uint32_t pid;
	const char *comm;             /* raw bytes from the target */
	size_t comm_len;              /* at most this many bytes of comm (stops at NUL) */
	const char *allocator;        /* "glibc", ...; NULL or "" unknown */
	const char *mode;             /* "os" or "all" */
	bool alive;
	uint64_t started_unix_ns;
	uint64_t history_dropped;     /* records dropped from its bounded history */
	const struct am_summary *s;
};

/* The daemon's own figures (srv.h's am_srv_stats). */
struct am_prom_daemon {
	uint64_t events;
	double   events_per_s;
	double   ringbuf_fill;
	uint64_t rss_bytes;
	unsigned targets;
	uint64_t dropped;
	unsigned clients;
};

/* Writes every metric family with a HELP and a TYPE line, then the
 * samples of the n targets; d NULL leaves the daemon's figures out (a
 * viewer who may not see every target). 0, or -1 when f reports an error. */
int am_prom_write(FILE *f, const struct am_prom_target *t, size_t n, const struct am_prom_daemon *d);

/* Writes s as a label value (no quotes): escaped, invalid UTF-8 and
 * control characters as U+FFFD, at most n bytes of s read. */
void am_prom_label_value(FILE *f, const char *s, size_t n);

#endif /* ALLOCMAP_PROM_H */
