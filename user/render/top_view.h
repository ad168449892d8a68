// SPDX-License-Identifier: GPL-2.0
/* top_view.h - the state and the screen of `allocmap top`: collects the
 * resolved records of a running trace (latest OS requests with their causes,
 * threshold moves, exits), keeps a history of per-interval summaries (trends,
 * rates) and the top call sites, and draws one ncurses frame from them. The command itself (options,
 * terminal set-up and restore, the trace hooks) lives in top.c. */
#ifndef ALLOCMAP_TOP_VIEW_H
#define ALLOCMAP_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "model.h"

struct top_view;

/* Who is being watched: copied in, nothing is kept by reference. */
struct top_view_target {
	const pid_t *pids;       /* traced processes */
	int   n_pids;
	pid_t child;             /* launched command, or -1 */
	const char *name;        /* command name shown in the header */
	const char *allocator;   /* "glibc", ... */
	const char *alloc_obj;   /* object providing malloc */
	uint64_t t0_ns;          /* CLOCK_MONOTONIC start of the trace */
};

/* Returns NULL on allocation failure. interval_ms is the refresh period,
 * used to label the trend window. */
struct top_view *top_view__new(unsigned interval_ms);
/* Accepts NULL. */
void top_view__free(struct top_view *v);

/* The sink through which the trace hands the view its records. */
struct am_sink top_view__sink(struct top_view *v);
void top_view__set_target(struct top_view *v, const struct top_view_target *t);

/* Takes one sample (the summary so far at now_ns): history and rates move
 * on by one interval. */
void top_view__sample(struct top_view *v, const struct am_summary *s, uint64_t now_ns);
/* The final summary arrived through the sink (the trace ended). */
bool top_view__have_final(const struct top_view *v);

/* Exit status (wait status) of pid as reported by the trace, or -1. */
int top_view__exit_status(const struct top_view *v, pid_t pid);

/* Keys that change what is drawn. */
void top_view__toggle_direct(struct top_view *v);
/* 's': the call-site pane in place of the OS request list (and back). */
void top_view__toggle_sites(struct top_view *v);
bool top_view__sites_shown(const struct top_view *v);
/* 'o': the pane's next column to sort by (alloc, peak, leak, temp, os, calls). */
void top_view__next_sort(struct top_view *v);

/* The call sites now (sites.h): the top rows by the pane's column are
 * copied, nothing is kept by reference. r NULL: the pane shows why. The
 * final summary's sites (through the sink) replace them too. */
struct am_sites_report;
void top_view__sites(struct top_view *v, const struct am_sites_report *r, const char *why);

/* Draws one frame on stdscr and refreshes the terminal. status is the
 * bottom line's message (NULL: the key help); alert draws it highlighted. */
void top_view__draw(struct top_view *v, uint64_t now_ns, const char *status, bool alert);

/* One plain-text line describing the run so far, for after the screen is
 * gone: "pid 42 (prog): 5.1 s, heap 132.0 KiB, ...". */
void top_view__summary_line(const struct top_view *v, char *buf, size_t sz);

#endif /* ALLOCMAP_TOP_VIEW_H */
