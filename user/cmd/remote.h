// SPDX-License-Identifier: GPL-2.0
/* remote.h - `allocmap trace|top --socket PATH` on the client's side
 * (remote.c), and `allocmap serve`'s command line (serve_cmd.c). */
#ifndef ALLOCMAP_REMOTE_H
#define ALLOCMAP_REMOTE_H

#include "trace_cmd.h"

/* Runs sub ("trace" or "top") with argv (argv[0] "allocmap SUB", o its
 * parsed options) through the daemon at sock: the output files are opened
 * here, as the user, and passed with stdout and stderr (top: stdin, stdout,
 * stderr: the terminal, and $TERM). Returns what the command would have:
 * the session's exit status, or 1 after one line on stderr. */
int am_remote(const char *sock, const char *sub, int argc, char **argv, const struct am_trace_opts *o);

/* `allocmap serve` */
int am_serve_main(int argc, char **argv);

#endif /* ALLOCMAP_REMOTE_H */
