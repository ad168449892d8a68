// SPDX-License-Identifier: GPL-2.0
/* report.h - turns a JSON Lines trace (the README schema) into the
 * self-contained HTML report and the Chrome/Perfetto trace JSON (the
 * `allocmap report` command line is cmd/report_cmd.c). */
#ifndef ALLOCMAP_REPORT_H
#define ALLOCMAP_REPORT_H

#include <stddef.h>

/* Reads the JSONL trace at in_path, writes one self-contained HTML file to
 * out_path. Returns 0, or -1 with a one-line message in err. */
int am_report_html(const char *in_path, const char *out_path, char *err, size_t errlen);
/* The same; source: what the page says it was made from (NULL: in_path),
 * for a trace read through a descriptor (/proc/self/fd/N). */
int am_report_html_named(const char *in_path, const char *source, const char *out_path, char *err, size_t errlen);

/* Reads the JSONL trace at in_path, writes Chrome Trace Event JSON (opens in
 * ui.perfetto.dev) to out_path. Returns 0, or -1 with a message in err. */
int am_report_perfetto(const char *in_path, const char *out_path, char *err, size_t errlen);

/* Reads the JSONL trace at in_path (written with --json -v --stacks),
 * rebuilds its call sites (sites_replay.h) and writes them to out_path as
 * a gzipped pprof profile (pprof.h). Returns 0, or -1 with a message in err. */
int am_report_pprof(const char *in_path, const char *out_path, char *err, size_t errlen);

/* Replays the JSONL trace at in_path through the accounting model and prints
 * its byte figures as one JSON line on stdout (`allocmap report --figures`).
 * Returns 0, or -1 with a message in err. */
int am_report_figures(const char *in_path, char *err, size_t errlen);

#endif /* ALLOCMAP_REPORT_H */
