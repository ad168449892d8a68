// SPDX-License-Identifier: GPL-2.0
/* safeio.h - opening files that someone else controls, as root (issue 10).
 *
 * Two kinds: files of the traced program (its ELF objects reached through
 * /proc/PID/root or map_files, its /proc files), which must never block the
 * tracer (a FIFO or a device put where a library was), and output files
 * (-o, --html, --perfetto, --folded, report -o, compare --html, ...), which
 * must never follow another user's symlink in /tmp nor clobber a file
 * another user owns there. */
#ifndef ALLOCMAP_SAFEIO_H
#define ALLOCMAP_SAFEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Opens a target-controlled file read-only without blocking
 * (O_NONBLOCK|O_NOCTTY|O_CLOEXEC, plus O_NOFOLLOW when nofollow) and keeps
 * it only when it is a regular file. An fd, or -1 with errno set (EFTYPE is
 * not Linux: a FIFO, device, socket or directory gives ENXIO). */
int am_open_target(const char *path, bool nofollow);

/* The same, as a stdio stream ("r" with close-on-exec). */
FILE *am_fopen_target(const char *path);

/* Opens path for writing as an output file: truncated, created 0644 if
 * absent. In a world-writable sticky directory (/tmp) a symlink is never
 * followed, an existing file must be a regular file owned by the effective
 * uid, and nothing blocks (no FIFO). Elsewhere it behaves like fopen(path,
 * "w") (symlinks followed, devices such as /dev/null allowed). An fd, or -1
 * with the reason in err, to follow "cannot write PATH: " ("it is a
 * symlink in the world-writable sticky directory /tmp (not followed)"). */
int am_open_output(const char *path, char *err, size_t errlen);

/* The same, as a stdio stream ("w" with close-on-exec); NULL after err. */
FILE *am_fopen_output(const char *path, char *err, size_t errlen);

/* A run on behalf of another user (`allocmap serve`'s trace sessions): the
 * output files are the ones that user opened and passed, paths[i] being
 * fds[i]; am_open_output then returns a copy of that descriptor, and
 * refuses any other path (the daemon never opens a user's path as root).
 * The arrays must outlive every later call. */
void am_output_redirect(const char *const *paths, const int *fds, size_t n);

#endif /* ALLOCMAP_SAFEIO_H */
