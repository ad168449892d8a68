// SPDX-License-Identifier: GPL-2.0
/* output.h - the renderers: the correlator's resolved records (model.h) as
 * strace-like text or as JSON Lines (schema in README.md), plus the run
 * summary in either form. An am_out is plugged into the correlator through
 * the am_sink it fills in; it writes to a FILE the caller owns.
 *
 * JSON is always complete (every record, whatever the verbosity): the
 * verbosity shapes the text only. Ordered, both forms are in time order:
 * a call at its entry, before the OS requests it made. */
#ifndef ALLOCMAP_OUTPUT_H
#define ALLOCMAP_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

struct am_out_opts {
	FILE    *f;          /* destination (not closed by am_out__free) */
	bool     json;       /* JSON Lines instead of text */
	int      verbosity;  /* -1 quiet (summary only), 0 default, 1 verbose (every call) */
	uint64_t t0_ns;      /* monotonic ns of t = 0, for relative text timestamps (replaced
	                        by the sink's origin callback when the tracer gives one) */
	bool     multi_pid;  /* print pid in text lines ("[pid/tid]" instead of "[tid]") */
	unsigned sites_top;  /* rows of the text summary's call-site table (0: heading only) */
	int      sites_sort; /* enum am_site_sort: the table's order */
	bool     startup_each; /* text: the dynamic loader's startup requests one by one (else
	                        one line sums them up; JSON has each, "startup": true) */
	bool     ordered;    /* hold records until the sink's progress callback says nothing
	                        older can come, then write them in time order (else each
	                        is written as it arrives) */
	char *const *cmd;    /* the launched command's argv (NULL-terminated), written in
	                        the JSON "trace" record as "cmd"; NULL when attaching */
	bool     rss;        /* JSON: take the RSS samples ("rss" records: the tracer then
	                        samples every 50 ms); serve's bounded history leaves them
	                        out, they would push its records out of it */
};

struct am_out;

/* Returns NULL on allocation failure (errno set). */
struct am_out *am_out__new(const struct am_out_opts *o);
/* Fills sink->ctx and every callback of sink with this renderer (rss only
 * with the rss option). */
void am_out__sink(struct am_out *o, struct am_sink *sink);
/* Pushes everything written so far to the FILE and fflush()es it. */
void am_out__flush(struct am_out *o);

struct jsonw;
struct am_frame;
/* One stack frame as JSON (the README's frame format): every output that
 * writes frames (records' stacks, the sites record) goes through it. */
void am_json_frame(struct jsonw *w, const struct am_frame *f);
/* errno of the first write to the FILE that failed (ENOSPC on a full
 * disk), 0 while every write succeeded: the caller reports it and fails. */
int am_out__error(const struct am_out *o);
/* Flushes, then frees. Accepts NULL. */
void am_out__free(struct am_out *o);
/* Extra lines the tracer wants in the text stream (probe placements with -v,
 * warnings); a trailing newline is added when missing. Printed whatever the
 * verbosity (the caller decides what to send). In JSON mode they go to
 * stderr so that the JSON stream stays pure. */
void am_out__note(struct am_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The sink callbacks themselves, also usable directly (ctx = struct am_out *). */
void am_out__call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n_os);
void am_out__os(void *ctx, const struct am_os_rec *r);
void am_out__threshold(void *ctx, const struct am_threshold_rec *t);
void am_out__task(void *ctx, const struct am_task_event *t);
void am_out__summary(void *ctx, const struct am_summary *s);
void am_out__seed(void *ctx, const struct am_seed_rec *r);
void am_out__rss(void *ctx, const struct am_rss_rec *r);
void am_out__origin(void *ctx, uint64_t t0_ns, const char *kind, uint32_t pid);
void am_out__progress(void *ctx, uint64_t upto_ns);

#endif /* ALLOCMAP_OUTPUT_H */
