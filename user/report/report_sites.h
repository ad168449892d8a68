// SPDX-License-Identifier: GPL-2.0
/* report_sites.h - the call sites of the HTML report. The trace's records
 * are replayed through the call-site aggregation (sites_replay.h: the same
 * code, so the same figures, as the trace's own "sites" record); alongside,
 * for each allocation stack, the first allocations it made and OS requests
 * its calls caused are kept (capped), with the region of the report's
 * address map each allocation was placed in. The data block gets them as
 * "sites": the sites (the top ones by every column), their figures, where
 * their blocks live at the end, and their stacks for the allocation flame
 * graph, frames string-tabled. Memory: the aggregation's (one entry per
 * stack and per live block) plus fixed caps. */
#ifndef ALLOCMAP_REPORT_SITES_H
#define ALLOCMAP_REPORT_SITES_H

#include <json-c/json.h>
#include "jsonw.h"
#include "report_model.h"

struct am_rsites;

/* NULL when out of memory. */
struct am_rsites *am_rsites__new(void);
/* Accepts NULL. */
void am_rsites__free(struct am_rsites *s);

/* Feeds one record of the trace (the parsed line, before anything edits
 * it), right after m was fed the same record. */
void am_rsites__record(struct am_rsites *s, json_object *rec, const struct rm_model *m);

/* Writes the data block's "sites" key and object. When the trace cannot
 * give call sites (no stacks, calls missing, memory ran out) the object is
 * {"error": one line saying why}. */
void am_rsites__write(struct am_rsites *s, struct jsonw *w, const struct rm_model *m);

#endif /* ALLOCMAP_REPORT_SITES_H */
