// SPDX-License-Identifier: GPL-2.0
/* sites_out.h - the call-site profiles (sites.h) as the summary shows them:
 * a top-N table in the text summary, and the JSON "sites" record (schema
 * in README.md, "Call sites"). */
#ifndef ALLOCMAP_SITES_OUT_H
#define ALLOCMAP_SITES_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "jsonw.h"
#include "sites.h"

#define AM_SITES_TOP_DEFAULT 10

/* The table: the top sites of r by column by, at most top rows (0: none,
 * just the heading line). multi_pid: name each site's process. */
void am_sites_text(FILE *f, const struct am_sites_report *r, unsigned top,
		   enum am_site_sort by, bool multi_pid);

/* The "sites" record (ts: its ts_ns), every site and stack. */
void am_sites_json(struct jsonw *w, const struct am_sites_report *r, uint64_t ts);

/* A site's figures as JSON members (calls, bytes, peak_*, leak_*, temp_*,
 * os_bytes): the sites record's and the report's. */
void am_site_fig_json(struct jsonw *w, const struct am_site_fig *g);

#endif /* ALLOCMAP_SITES_OUT_H */
