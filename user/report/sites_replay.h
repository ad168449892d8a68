// SPDX-License-Identifier: GPL-2.0
/* sites_replay.h - call-site profiles rebuilt from a JSON Lines trace
 * (`allocmap report TRACE.jsonl --pprof FILE`): each record is turned back
 * into the resolved record the correlator delivered (model.h) and fed to
 * the same aggregation as a live trace (sites.h), so the figures are the
 * ones the trace's own "sites" record holds. Needs every call (the trace
 * written with -v) and their stacks (--stacks). */
#ifndef ALLOCMAP_SITES_REPLAY_H
#define ALLOCMAP_SITES_REPLAY_H

#include <json-c/json.h>
#include <stddef.h>
#include "pprof.h"
#include "sites.h"

struct am_replay;

/* Returns NULL on allocation failure. */
struct am_replay *am_replay__new(void);
/* Accepts NULL. Frees the report and every string of its stacks. */
void am_replay__free(struct am_replay *r);

/* Feeds one record (a JSON object of the trace, in file order). 0, or -1
 * when memory runs out. */
int am_replay__record(struct am_replay *r, json_object *rec);

/* Called with every "call" record fed, as the aggregation saw it: the
 * resolved call (its stack interned, valid until am_replay__free), the OS
 * requests it caused, and what am_sites__call did with it (AM_SITE_*). */
typedef void (*am_replay_call_fn)(void *ctx, const struct am_call_rec *c,
				  const struct am_os_rec *os, size_t n_os, unsigned done);
void am_replay__observe(struct am_replay *r, am_replay_call_fn fn, void *ctx);

/* Every block live now (am_sites__each_live). */
void am_replay__each_live(const struct am_replay *r,
			  void (*fn)(void *ctx, uint32_t pid, uint64_t ptr, uint64_t size,
				     const struct am_stack *stack),
			  void *ctx);

/* The call sites once every record is fed, and what the pprof header
 * needs (period: the trace's --sample rate; duration). NULL with a
 * one-line reason in err: no stacks in the trace, calls missing (not
 * written with -v), out of memory. */
const struct am_sites_report *am_replay__finish(struct am_replay *r, struct am_pprof_meta *m,
						char *err, size_t errlen);

#endif /* ALLOCMAP_SITES_REPLAY_H */
