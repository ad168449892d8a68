// SPDX-License-Identifier: GPL-2.0
/* diff_html.c - the self-contained page of `allocmap diff --html FILE`:
 * user/report/assets/diff.{html,js} and the report's report.css, embedded
 * at build time (generated header .output/diff_assets.h), with the diff's
 * JSON document (diff_out.c) as the page's data block, written by jsonw in
 * its html mode: no string from a trace can end or open the <script>
 * element. diff.js draws it and only ever inserts text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "safeio.h"
#include "diff_assets.h"
#include "diff_out.h"

#define HTML_SITES  2000   /* site rows on the page (the largest changes) */
#define HTML_FRAMES 32     /* frames of a stack row on the page */

/* The script, with any "</" as "<\/" so it cannot end its element. */
static void put_script(FILE *f, const char *s)
{
	for (const char *p; (p = strstr(s, "</")); s = p + 2) {
		fwrite(s, 1, (size_t)(p - s), f);
		fputs("<\\/", f);
	}
	fputs(s, f);
}

int am_diff_html(const char *path, const struct am_diff *d, char *err, size_t errlen)
{
	static const char *const marks[3] = { "/*@CSS@*/", "/*@DATA@*/", "/*@JS@*/" };
	const char *p = am_asset_diff_html;
	struct jsonw *w;
	char why[512];
	FILE *f = am_fopen_output(path, why, sizeof(why));   /* as root: no symlink, no FIFO */
	int e = 0;

	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, why);
		return -1;
	}
	w = jsonw_new(f);
	if (!w) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	jsonw_set_html(w, true);
	for (int i = 0; i < 3; i++) {
		const char *q = strstr(p, marks[i]);

		if (!q) {
			e = EINVAL;   /* not reached: the template is ours */
			break;
		}
		fwrite(p, 1, (size_t)(q - p), f);
		if (i == 0) {
			fputs(am_asset_report_css, f);
		} else if (i == 1) {
			am_diff_json(w, d, HTML_SITES, HTML_FRAMES);
			if (jsonw_flush(w) < 0)
				e = w->errnum;
		} else {
			put_script(f, am_asset_diff_js);
		}
		p = q + strlen(marks[i]);
	}
	fputs(p, f);
	free(w);
	errno = 0;
	if (ferror(f) && !e)
		e = errno ? errno : EIO;
	if (fclose(f) && !e)
		e = errno ? errno : EIO;
	if (e) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
		return -1;
	}
	return 0;
}
