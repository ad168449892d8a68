// SPDX-License-Identifier: GPL-2.0
/* diff.c - `allocmap diff A.jsonl B.jsonl`: its options, then the two
 * traces read (report/diff_model.c), their call sites matched, and the
 * comparison written as text or JSON (report/diff_out.c) and as a page
 * (report/diff_html.c). Usage errors: one line on stderr, exit 64. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "diff.h"
#include "diff_out.h"
#include "log.h"
#include "numarg.h"
#include "sites_out.h"

#define EXIT_USAGE 64

static const char diff_help[] =
"Usage: allocmap diff A.jsonl B.jsonl [--json] [-o FILE] [--html FILE] [--top N]\n"
"                     [--sort COL] [--match HOW]\n"
"\n"
"What changed between two traces (allocmap trace --json -v --stacks): the memory\n"
"figures and their peaks, calls per allocator function, OS requests per syscall\n"
"and cause, regions, the mmap threshold, and the call sites, each as A, B,\n"
"B - A and B / A. Typical use: the same program before and after a change, or\n"
"under two allocators.\n"
"\n"
"  --json         one JSON document instead of text (schema in README.md)\n"
"  -o, --output FILE   write the text or JSON to FILE instead of stdout\n"
"  --html FILE    also write a self-contained HTML page to FILE\n"
"  --top N        call-site rows of the text (default 10, 0: none)\n"
"  --sort COL     order call sites by the change in: alloc (bytes allocated, the\n"
"                 default), peak (live at the peak), leak (live at the end),\n"
"                 temp (temporary allocations), os (bytes from the OS) or calls\n"
"  --match HOW    match call sites across the traces by: site (function and\n"
"                 source file:line of the innermost frame outside the allocator,\n"
"                 the default), function (that frame's function, any line: an\n"
"                 edit that moved lines) or stack (every frame outside the\n"
"                 allocator)\n"
"  -h, --help     this help\n"
"\n"
"The figures come from replaying each trace through the report's model, the\n"
"same as `allocmap report --figures`; call sites need every call (-v) and\n"
"stacks (--stacks), else they are not compared (the rest is).\n"
"\n"
"EXAMPLES:\n"
"  allocmap trace --json -v --stacks -o a.jsonl -- ./prog\n"
"  allocmap trace --json -v --stacks -o b.jsonl -- ./prog.new\n"
"  allocmap diff a.jsonl b.jsonl                  text: the top 10 sites by change\n"
"  allocmap diff a.jsonl b.jsonl --sort peak --top 20\n"
"  allocmap diff a.jsonl b.jsonl --json -o d.json\n"
"  allocmap diff a.jsonl b.jsonl --html d.html    open d.html in a browser\n"
"  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\\n"
"    allocmap trace --json -v --stacks -o je.jsonl -- ./prog\n"
"  allocmap diff a.jsonl je.jsonl --match stack   glibc against jemalloc\n";

struct diff_opts {
	const char *in[2], *out, *html;
	bool json;
	unsigned top;
	int sort, match;
};

/* 0, or -1 with a one-line message printed (a usage error). */
static int parse(int argc, char **argv, struct diff_opts *o)
{
	enum { O_JSON = 1000, O_HTML, O_TOP, O_SORT, O_MATCH };
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "output", required_argument, NULL, 'o' },
		{ "html", required_argument, NULL, O_HTML },
		{ "top", required_argument, NULL, O_TOP },
		{ "sort", required_argument, NULL, O_SORT },
		{ "match", required_argument, NULL, O_MATCH },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, n = 0;
	uint64_t v;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":ho:", lopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(diff_help, stdout);
			exit(0);
		case 'o': o->out = optarg; break;
		case O_JSON: o->json = true; break;
		case O_HTML: o->html = optarg; break;
		case O_TOP:
			if (am_parse_uint(optarg, 0, 1000000, &v)) {
				am_err("diff: invalid --top '%s' (an integer, 0..1000000)", optarg);
				return -1;
			}
			o->top = (unsigned)v;
			break;
		case O_SORT:
			o->sort = am_site_sort_by_name(optarg);
			if (o->sort < 0) {
				am_err("diff: invalid --sort '%s' (alloc, peak, leak, temp, os or calls)", optarg);
				return -1;
			}
			break;
		case O_MATCH:
			o->match = am_dmatch_by_name(optarg);
			if (o->match < 0) {
				am_err("diff: invalid --match '%s' (site, function or stack)", optarg);
				return -1;
			}
			break;
		case ':':
			am_err("diff: option '%s' needs a value (try 'allocmap diff --help')", argv[optind - 1]);
			return -1;
		default:
			am_err("diff: unknown option '%s' (try 'allocmap diff --help')", argv[optind - 1]);
			return -1;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (n == 2) {
			am_err("diff: two traces at a time (got '%s' too)", argv[i]);
			return -1;
		}
		o->in[n++] = argv[i];
	}
	if (n < 2) {
		am_err("diff: give two traces: allocmap diff A.jsonl B.jsonl (try 'allocmap diff --help')");
		return -1;
	}
	return 0;
}

/* The text or JSON to o->out (stdout without it). 0, or -1 with a message. */
static int write_main(const struct diff_opts *o, const struct am_diff *d)
{
	FILE *f = o->out ? fopen(o->out, "w") : stdout;
	struct jsonw *w = NULL;
	int e = 0;

	if (!f) {
		am_err("diff: cannot write %s: %s", o->out, strerror(errno));
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

	if (parse(argc, argv, &o) < 0)
		return EXIT_USAGE;
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
