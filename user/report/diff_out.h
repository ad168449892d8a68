// SPDX-License-Identifier: GPL-2.0
/* diff_out.h - `allocmap diff` rendered: the text tables, the JSON
 * document (schema in README.md, "Comparing two traces") and the
 * self-contained HTML page, whose data block is that same document. */
#ifndef ALLOCMAP_DIFF_OUT_H
#define ALLOCMAP_DIFF_OUT_H

#include <stdbool.h>
#include <stdio.h>
#include "diff_model.h"
#include "jsonw.h"

/* Everything a rendering needs. */
struct am_diff {
	const struct am_dtrace *t[2];     /* A, B */
	struct am_dsites sites;           /* sorted; valid when have_sites */
	bool have_sites;                  /* else t[i]->sites_err says why (either may be NULL) */
	enum am_dmatch match;
	enum am_site_sort sort;
	unsigned top;                     /* text: site rows */
};

void am_diff_text(FILE *f, const struct am_diff *d);
/* The JSON document (one object, then a newline); at most max_sites site
 * rows and max_frames frames of a stack row (the page's caps). */
void am_diff_json(struct jsonw *w, const struct am_diff *d, size_t max_sites, unsigned max_frames);
/* The page to path. 0, or -1 with a message in err. */
int am_diff_html(const char *path, const struct am_diff *d, char *err, size_t errlen);

#endif /* ALLOCMAP_DIFF_OUT_H */
