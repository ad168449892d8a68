// SPDX-License-Identifier: GPL-2.0
/* rss.h - the resident set size of traced processes, sampled from
 * /proc/PID/statm at a fixed period (the tracer's event loop calls it):
 * each process's statm is opened once (am_open_target: no symlink followed,
 * never blocking) and read with one pread per sample. Plain C, no libbpf. */
#ifndef ALLOCMAP_RSS_H
#define ALLOCMAP_RSS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AM_RSS_PERIOD_MS 50   /* sampling period */
#define AM_RSS_PROCS     256  /* processes sampled at once (statm descriptors kept open) */

struct am_rss;

/* Returns NULL on allocation failure. */
struct am_rss *am_rss__new(void);
/* Closes every descriptor. Accepts NULL. */
void am_rss__free(struct am_rss *r);
/* Is a sample due at now (CLOCK_MONOTONIC ns)? true at most once a period:
 * the caller then reads every process it follows. */
bool am_rss__due(struct am_rss *r, uint64_t now);
/* pid's resident bytes now into *bytes: true, or false when it cannot be
 * read (gone, no procfs, more than AM_RSS_PROCS processes at once). Its
 * statm is opened at the first call and kept. */
bool am_rss__read(struct am_rss *r, pid_t pid, uint64_t *bytes);
/* pid exited: its descriptor is closed (a later process with its number is
 * opened afresh). */
void am_rss__forget(struct am_rss *r, pid_t pid);
/* The resident pages of a statm line ("size resident shared ..."), in
 * bytes (page: the page size); false when the line is not one. */
bool am_rss__parse(const char *line, uint64_t page, uint64_t *bytes);

#endif /* ALLOCMAP_RSS_H */
