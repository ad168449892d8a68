// SPDX-License-Identifier: GPL-2.0
/* diff.c - `allocmap diff A.jsonl B.jsonl`: its options, then the two
 * traces read (report/diff_model.c), their call sites matched, and the
 * comparison written as text or JSON (report/diff_out.c) and as a page
 * (report/diff_html.c). Options through opts.h: usage errors are one line
 * on stderr, exit 64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "diff.h"
#include "diff_out.h"
#include "log.h"
#include "opts.h"
#include "safeio.h"
#include "sites_out.h"

static const char diff_doc[] =
"What changed between two traces (allocmap trace --json --stacks): the memory "
"figures and their peaks, calls per allocator function, OS requests per syscall and "
"cause, regions, the mmap threshold, and the call sites, each as A, B, B - A and "
"B / A. Typical use: the same program before and after a change, or under two "
"allocators.\v"
"The figures come from replaying each trace through the report's model, the same as "
"`allocmap report --figures`; call sites need every call (-v) and stacks (--stacks), "
"else they are not compared (the rest is).\n\n"
"EXAMPLES:\n"
"  allocmap trace --json --stacks -o a.jsonl -- ./prog\n"
"  allocmap trace --json --stacks -o b.jsonl -- ./prog.new\n"
"  allocmap diff a.jsonl b.jsonl                  text: the top 10 sites by change\n"
"  allocmap diff a.jsonl b.jsonl --sort peak --top 20\n"
"  allocmap diff a.jsonl b.jsonl --json -o d.json\n"
"  allocmap diff a.jsonl b.jsonl --html d.html    open d.html in a browser\n"
"  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\\n"
"    allocmap trace --json --stacks -o je.jsonl -- ./prog\n"
"  allocmap diff a.jsonl je.jsonl --match stack   glibc against jemalloc";

struct diff_opts {
	const char *in[2], *out, *html;
	int n_in;
	bool json;
	unsigned top;
	int sort, match;
};

enum { O_JSON = 1000, O_HTML, O_TOP, O_SORT, O_MATCH };

static const struct argp_option diff_options[] = {
	{ "json", O_JSON, NULL, 0, "One JSON document instead of text (described in docs/guide.md)", 0 },
	{ "output", 'o', "FILE", 0, "Write the text or JSON to FILE instead of stdout", 0 },
	{ "html", O_HTML, "FILE", 0, "Also write a self-contained HTML page to FILE", 0 },
	{ "top", O_TOP, "N", 0, "Call-site rows of the text (default 10, 0: none)", 0 },
	{ "sort", O_SORT, "COL", 0, "Order call sites by the change in: alloc (bytes allocated, the "
	  "default), peak (live at the peak), leak (live at the end), temp (temporary allocations), "
	  "os (bytes from the OS) or calls", 0 },
	{ "match", O_MATCH, "HOW", 0, "Match call sites across the traces by: site (function and "
	  "file:line of the innermost frame outside the allocator, the default), function (that "
	  "frame's function, any line: an edit that moved lines) or stack (every frame outside the "
	  "allocator)", 0 },
	{ 0 },
};

static const struct am_uint_opt top_spec = { "--top", "rows", 0, 1000000, false, 0 };

static error_t diff_parse(int key, char *arg, struct argp_state *st)
{
	struct diff_opts *o = st->input;
	uint64_t v;
	error_t e;

	switch (key) {
	case 'o': o->out = arg; break;
	case O_JSON: o->json = true; break;
	case O_HTML: o->html = arg; break;
	case O_TOP:
		if ((e = am_opts_uint(st, &top_spec, arg, &v)))
			return e;
		o->top = (unsigned)v;
		break;
	case O_SORT:
		o->sort = am_site_sort_by_name(arg);
		if (o->sort < 0)
			return am_opts_error(st, "invalid --sort '%s' (alloc, peak, leak, temp, os or calls)", arg);
		break;
	case O_MATCH:
		o->match = am_dmatch_by_name(arg);
		if (o->match < 0)
			return am_opts_error(st, "invalid --match '%s' (site, function or stack)", arg);
		break;
	case ARGP_KEY_ARG:
		if (o->n_in == 2)
			return am_opts_error(st, "two traces at a time (got '%s' too)", arg);
		o->in[o->n_in++] = arg;
		break;
	case ARGP_KEY_END:
		if (o->n_in < 2)
			return am_opts_error(st, "give two traces: allocmap diff A.jsonl B.jsonl");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp diff_argp = {
	.options = diff_options,
	.parser = diff_parse,
	.args_doc = "A.jsonl B.jsonl",
	.doc = diff_doc,
	.children = am_help_children,
};

/* The text or JSON to o->out (stdout without it). 0, or -1 with a message. */
static int write_main(const struct diff_opts *o, const struct am_diff *d)
{
	char why[512];
	FILE *f = o->out ? am_fopen_output(o->out, why, sizeof(why)) : stdout;
	struct jsonw *w = NULL;
	int e = 0;

	if (!f) {
		am_err("diff: cannot write %s: %s", o->out, why);
		return -1;
	}
	if (o->json) {
		w = jsonw_new(f);
		if (!w) {
			am_err("diff: out of memory");
			e = ENOMEM;
		} else {
			am_diff_json(w, d, (size_t)-1, UINT32_MAX);
			if (jsonw_flush(w) < 0)
				e = w->errnum;
			free(w);
		}
	} else {
		am_diff_text(f, d);
	}
	errno = 0;
	if ((fflush(f) || ferror(f)) && !e)
		e = errno ? errno : EIO;
	if (f != stdout && fclose(f) && !e)
		e = errno ? errno : EIO;
	if (e && e != ENOMEM)
		am_err("diff: cannot write %s: %s", o->out ? o->out : "the output", strerror(e));
	return e ? -1 : 0;
}

int am_diff_main(int argc, char **argv)
{
	struct diff_opts o = { .top = AM_SITES_TOP_DEFAULT, .sort = AM_SORT_ALLOC, .match = AM_DMATCH_SITE };
	struct am_dtrace *t[2] = { NULL, NULL };
	struct am_diff d = { 0 };
	char err[1024];
	int ret = 1;

	int rc = am_opts_parse(&diff_argp, argc, argv, &o);

	if (rc)
		return rc;
	for (int i = 0; i < 2; i++) {
		t[i] = am_dtrace_read(o.in[i], err, sizeof(err));
		if (!t[i]) {
			am_err("diff: %s", err);
			goto out;
		}
	}
	d = (struct am_diff){ .t = { t[0], t[1] }, .match = o.match, .sort = o.sort, .top = o.top };
	if (t[0]->sites && t[1]->sites) {
		if (am_dsites_match(t[0]->sites, t[1]->sites, o.match, &d.sites) < 0) {
			am_err("diff: out of memory");
			goto out;
		}
		am_dsites_sort(&d.sites, o.sort);
		d.have_sites = true;
	}
	if (write_main(&o, &d) < 0)
		goto out;
	if (o.html && am_diff_html(o.html, &d, err, sizeof(err)) < 0) {
		am_err("diff: %s", err);
		goto out;
	}
	ret = 0;
out:
	if (d.have_sites)
		am_dsites_free(&d.sites);
	am_dtrace_free(t[0]);
	am_dtrace_free(t[1]);
	return ret;
}
