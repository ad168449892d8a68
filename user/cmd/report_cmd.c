// SPDX-License-Identifier: GPL-2.0
/* report_cmd.c - `allocmap report`: the command line (parsed like every
 * subcommand's, opts.c) in front of report.c's HTML and Perfetto writers. */
#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
#include "log.h"
#include "opts.h"
#include "report.h"
#include "report_cmd.h"

struct report_opts {
	const char *in, *html, *perfetto, *pprof;
	bool figures;
};

static const struct argp_option report_options[] = {
	{ "output", 'o', "FILE", 0, "Write the self-contained HTML report to FILE", 0 },
	{ "perfetto", 'P', "FILE", 0, "Write a Chrome/Perfetto trace (JSON) to FILE", 0 },
	{ "figures", 'F', NULL, 0, "Print the byte figures the report shows (the records replayed through "
	  "the tracer's accounting model) as one JSON line on stdout", 0 },
	{ "pprof", 'G', "FILE", 0, "Write the call sites as a gzipped pprof profile to FILE (the trace "
	  "written with --json --stacks)", 0 },
	{ 0 },
};

static error_t report_parse(int key, char *arg, struct argp_state *state)
{
	struct report_opts *o = state->input;

	switch (key) {
	case 'o':
		o->html = arg;
		break;
	case 'P':
		o->perfetto = arg;
		break;
	case 'F':
		o->figures = true;
		break;
	case 'G':
		o->pprof = arg;
		break;
	case ARGP_KEY_ARG:
		if (o->in)
			return am_opts_error(state, "one EVENTS.jsonl at a time (got '%s' too)", arg);
		o->in = arg;
		break;
	case ARGP_KEY_END:
		if (!o->in)
			return am_opts_error(state, "missing EVENTS.jsonl (a trace from: allocmap trace "
					     "--json -o FILE -- CMD)");
		if (!o->html && !o->perfetto && !o->figures && !o->pprof)
			return am_opts_error(state, "nothing to write: give -o FILE.html, --perfetto "
					     "FILE.json, --pprof FILE.pb.gz and/or --figures");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char report_doc[] =
"Turn a JSON Lines trace into a self-contained HTML report (timeline, address map, "
"threshold view, tables) and/or a Chrome trace for ui.perfetto.dev.\n"
"\v"
"The input is what `allocmap trace --json` writes: every record, whatever -v or -q (they shape "
"the text output only). `allocmap trace --html FILE` / `--perfetto FILE` / `--pprof FILE` produce "
"the same files directly.\n\n"
"EXAMPLES:\n"
"  allocmap trace --json -o t.jsonl -- ./prog\n"
"  allocmap report t.jsonl -o report.html\n"
"      the HTML report: open report.html in a browser\n"
"  allocmap report t.jsonl --perfetto t.json\n"
"      open t.json in ui.perfetto.dev\n"
"  allocmap report t.jsonl --figures\n"
"      the byte figures as one JSON line (equal to the trace summary's)\n"
"  allocmap trace --json --stacks -o t.jsonl -- ./prog\n"
"  allocmap report t.jsonl -o r.html --pprof prof.pb.gz\n"
"      call sites in the page; then: go tool pprof -top prof.pb.gz";

static const struct argp report_argp = {
	.options = report_options,
	.parser = report_parse,
	.args_doc = "EVENTS.jsonl",
	.doc = report_doc,
	.children = am_help_children,
};

int am_report_main(int argc, char **argv)
{
	struct report_opts o = { 0 };
	char err[512];
	int rc;

	if ((rc = am_opts_parse(&report_argp, argc, argv, &o)))
		return rc;
	if (o.html && am_report_html(o.in, o.html, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	if (o.perfetto && am_report_perfetto(o.in, o.perfetto, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	if (o.figures && am_report_figures(o.in, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	if (o.pprof && am_report_pprof(o.in, o.pprof, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	return 0;
}
