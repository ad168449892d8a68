// SPDX-License-Identifier: GPL-2.0
/* srv.h - the contract between `allocmap serve`'s core (the targets it
 * traces: srv.c and friends) and its HTTP side (http.c): what a reader of
 * the daemon's state may ask, from any thread. Every function here is
 * thread-safe. Visibility is decided here, once: a viewer sees a target
 * only when am_srv_visible() says so, and every function that takes a
 * viewer applies it, so a renderer cannot forget. */
#ifndef ALLOCMAP_SRV_H
#define ALLOCMAP_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "model.h"

struct am_srv;          /* the daemon */
struct am_srv_target;   /* one traced target (a process, and its children
                           when followed): reference-counted */

/* Who is asking: a socket peer's SO_PEERCRED, or an HTTP peer's uid (the
 * owner of the connecting loopback socket). all: root, or a member of the
 * daemon's access group, or an HTTP peer the configuration lets see
 * everything. */
struct am_srv_viewer {
	uid_t uid;
	bool  all;
};

enum am_srv_mode { AM_SRV_OS, AM_SRV_ALL };

struct am_srv_target_info {
	uint32_t id;                 /* unique for the daemon's lifetime */
	pid_t    pid;                /* the process, in the daemon's pid namespace */
	uid_t    uid;                /* the uid that may see it (its owner when added) */
	char     comm[16];           /* raw bytes from the target: escape before use */
	char     allocator[16];      /* "glibc", "jemalloc", ...; "" unknown */
	enum am_srv_mode mode;
	uint64_t started_unix_ns;    /* when its tracing started */
	bool     alive;              /* false once the process exited (kept until removed) */
	uint64_t history_dropped;    /* records dropped from the start of the bounded history */
};

/* The daemon's own figures, for /metrics. */
struct am_srv_stats {
	uint64_t events;             /* ring-buffer records consumed, all targets */
	double   events_per_s;       /* over the last few seconds */
	double   ringbuf_fill;       /* 0..1, the fullest target ring at the last poll */
	uint64_t rss_bytes;          /* the daemon's resident set */
	unsigned targets;            /* targets traced now */
	uint64_t dropped;            /* records or state dropped by the memory bounds */
	unsigned clients;            /* control-socket clients connected */
};

bool am_srv_visible(const struct am_srv_viewer *v, const struct am_srv_target_info *t);

/* fn for every target v may see, holding a reference during the call. */
void am_srv_each(struct am_srv *s, const struct am_srv_viewer *v,
		 void (*fn)(void *ctx, struct am_srv_target *t), void *ctx);
/* The target tracing pid that v may see (a new reference), else NULL: a
 * target v may not see is reported exactly as one that does not exist. */
struct am_srv_target *am_srv_find(struct am_srv *s, const struct am_srv_viewer *v, pid_t pid);
void am_srv_put(struct am_srv_target *t);

void am_srv_target_info(struct am_srv_target *t, struct am_srv_target_info *out);
/* The latest snapshot (at most one tick old). out->thr_procs is NULL (the
 * per-process thresholds stay in the target's thread). */
void am_srv_target_summary(struct am_srv_target *t, struct am_summary *out);
/* The target's call sites as a gzipped pprof profile (pprof.h), built in the
 * target's thread; heap: inuse_space as the default sample type, else
 * alloc_space. 0 and *out malloc'ed; -1 with a one-line reason in err
 * (no stacks in this mode, timed out, out of memory). */
int am_srv_target_pprof(struct am_srv_target *t, bool heap, uint8_t **out, size_t *len,
			char *err, size_t errlen);
/* A copy of the target's bounded JSONL history (what `trace --json` would
 * have written, oldest records dropped first when the bound is reached),
 * malloc'ed. 0, or -1 out of memory. */
int am_srv_target_history(struct am_srv_target *t, char **buf, size_t *len);

void am_srv_stats(struct am_srv *s, struct am_srv_stats *out);

#endif /* ALLOCMAP_SRV_H */
