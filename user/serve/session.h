// SPDX-License-Identifier: GPL-2.0
/* session.h - `allocmap trace --socket` on the daemon's side (session.c):
 * the client's command line runs in a process of its own, the daemon's
 * own binary re-executed as `allocmap __session ...`, with the client's
 * descriptors as its standard output, standard error and output files. */
#ifndef ALLOCMAP_SESSION_H
#define ALLOCMAP_SESSION_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

/* stdout, stderr, and the output files (-o, --html, --perfetto, --folded,
 * --folded-alloc, --pprof) */
#define AM_SESSION_MAX_FDS 8

/* Starts the session req asks for ({"op":"trace","argv":[...],
 * "files":[PATH...]}: fds[0] its stdout, fds[1] its stderr, fds[2 + i]
 * the file opened for files[i]). Takes fds (closed here). The session's
 * pid, or -1 with the reason in err. */
pid_t am_session_start(json_object *req, int *fds, int n_fds, uid_t uid, gid_t gid, pid_t cpid,
		       char *err, size_t errlen);
/* The client left: the session stops as on Ctrl-C (its summary still
 * written), and is reaped later (SIGCHLD). */
void am_session_end(pid_t pid);

/* The session's side (main.c: `allocmap __session ...`): takes the file
 * descriptors and their names, the client's ids; *next: where the
 * subcommand's argv starts. 0, or -1 (printed). */
int am_session_setup(int argc, char **argv, int *next);
/* Running as a session? */
bool am_session_active(void);
/* In a session: may the client trace pids (and no command)? 0, or 1
 * after one line on stderr. Outside a session: 0. */
int am_session_check(const pid_t *pids, int n, char **cmd);
/* After the attach: each checked pid is still the process checked. */
int am_session_recheck(void);
/* A sink's task callback: in a session of a user who is not root, a traced
 * process that execs a program that is not the user's (setuid, not
 * dumpable) ends the session at once, before any record after that exec
 * is written (one line on stderr, exit 1). Nothing outside a session. */
struct am_task_event;
void am_session_task(void *ctx, const struct am_task_event *e);
/* Is e an exec of a traced process into a program the session's user may
 * not trace (setuid, not dumpable)? Then the session must end at once. */
bool am_session_exec_refused(const struct am_task_event *e);

#endif /* ALLOCMAP_SESSION_H */
