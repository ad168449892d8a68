// SPDX-License-Identifier: GPL-2.0
/* report.h - turns a JSON Lines trace (the README schema) into the
 * self-contained HTML report and the Chrome/Perfetto trace JSON (the
 * `allocmap report` command line is cmd/report_cmd.c). */
#ifndef ALLOCMAP_REPORT_H
#define ALLOCMAP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct rm_rec;

/* Reads the JSONL trace at in_path, writes one self-contained HTML file to
 * out_path. Returns 0, or -1 with a one-line message in err. */
int am_report_html(const char *in_path, const char *out_path, char *err, size_t errlen);
/* The same; source: what the page says it was made from (NULL: in_path),
 * for a trace read through a descriptor (/proc/self/fd/N). */
int am_report_html_named(const char *in_path, const char *source, const char *out_path, char *err, size_t errlen);

/* Reads the JSONL trace at in_path, writes Chrome Trace Event JSON (opens in
 * ui.perfetto.dev) to out_path. Returns 0, or -1 with a message in err. */
int am_report_perfetto(const char *in_path, const char *out_path, char *err, size_t errlen);

/* Reads the JSONL trace at in_path (written with --json --stacks),
 * rebuilds its call sites (sites_replay.h) and writes them to out_path as
 * a gzipped pprof profile (pprof.h). Returns 0, or -1 with a message in err. */
int am_report_pprof(const char *in_path, const char *out_path, char *err, size_t errlen);

/* Replays the JSONL trace at in_path through the accounting model and prints
 * its byte figures as one JSON line on stdout (`allocmap report --figures`).
 * Returns 0, or -1 with a message in err. */
int am_report_figures(const char *in_path, char *err, size_t errlen);

/* What a pass over a trace saw: its lines, whether its last line was cut
 * (a tracer killed mid-record), stack arrays cut to the reader's cap. */
struct am_report_read {
	unsigned long lines;
	bool truncated;
	uint64_t stacks_cut;
};
/* Called with each record of a trace, in file order: the parsed object and
 * its model view (report_model.h), both valid for the call only. 0, or -1
 * to stop (out of memory). */
typedef int (*am_report_rec_fn)(void *ctx, struct json_object *obj, const struct rm_rec *rec);
/* Reads the JSONL trace at in_path with the report's reader (its caps on
 * hostile input) and hands fn every record; info (may be NULL) gets what
 * the pass saw. 0, or -1 with a one-line message in err: cannot open, a
 * malformed record, no record at all, fn failed. */
int am_report_each(const char *in_path, am_report_rec_fn fn, void *ctx, struct am_report_read *info,
		   char *err, size_t errlen);

#endif /* ALLOCMAP_REPORT_H */
