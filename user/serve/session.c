// SPDX-License-Identifier: GPL-2.0
/* session.c - `allocmap trace --socket` on the daemon's side (session.h).
 * The daemon checks nothing of the command line itself: it re-executes its
 * own binary as `allocmap __session UID GID CPID DAEMON N PATH... trace
 * ARGS...` with the client's standard output and error as its own and the
 * files the client opened as descriptors 3..3+N-1. That process parses the
 * options exactly as `allocmap trace` does (usage errors reach the client
 * as they would have), checks each -p pid with the client's ids
 * (access.c), and writes its outputs into the client's descriptors only
 * (safeio.h: am_output_redirect): the output is the same as without the
 * daemon, and no path of the user's is opened as root. A process of its
 * own per session keeps what is process-wide in a trace (stderr, the
 * --alloc table, the signals that stop it) apart from the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "model.h"
#include "safeio.h"
#include "session.h"
#include "srv_int.h"

#define MAX_ARGS 256
#define MAX_ARG  4096

/* The exec argv of a session, malloc'ed (strings borrowed from req). */
static char **session_argv(json_object *argv, json_object *files, uid_t uid, gid_t gid, pid_t cpid,
			   char nums[5][24], char *err, size_t errlen)
{
	size_t na = json_object_array_length(argv), nf = files ? json_object_array_length(files) : 0;
	char **a;
	size_t k = 0;

	if (!na || na > MAX_ARGS) {
		snprintf(err, errlen, "argv: 1 to %d arguments", MAX_ARGS);
		return NULL;
	}
	a = calloc(na + nf + 9, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(nums[0], 24, "%u", (unsigned)uid);
	snprintf(nums[1], 24, "%u", (unsigned)gid);
	snprintf(nums[2], 24, "%d", (int)cpid);
	snprintf(nums[3], 24, "%d", (int)getpid());
	snprintf(nums[4], 24, "%zu", nf);
	a[k++] = "allocmap";
	a[k++] = "__session";
	for (int i = 0; i < 5; i++)
		a[k++] = nums[i];
	for (size_t i = 0; i < nf + na; i++) {
		json_object *v = i < nf ? json_object_array_get_idx(files, i) :
				 json_object_array_get_idx(argv, i - nf);
		const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

		if (!s || strlen(s) > MAX_ARG) {
			snprintf(err, errlen, "argv and files: strings of at most %d bytes", MAX_ARG);
			free(a);
			return NULL;
		}
		a[k++] = (char *)s;
	}
	if (strcmp(a[7 + nf], "trace") && strcmp(a[7 + nf], "top")) {
		snprintf(err, errlen, "only 'trace' and 'top' run through the daemon");
		free(a);
		return NULL;
	}
	return a;
}

/* In the child, between fork and exec (async-signal-safe calls only):
 * the descriptors in place, the signals as a fresh process has them. */
static void child_exec(char **argv, char **envp, const int *hi, int n, int null_fd, bool tty)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* top sets the client's terminal's modes from outside its foreground */
	signal(SIGTTOU, tty ? SIG_IGN : SIG_DFL);
	setpgid(0, 0); /* the daemon's terminal signals are not its */
	if (!tty && dup2(null_fd, 0) < 0)
		_exit(127);
	for (int i = 0; i < n; i++)
		if (dup2(hi[i], i + !tty) < 0)
			_exit(127);
	execve("/proc/self/exe", argv, envp);
	_exit(127);
}

/* The session's environment: the daemon's, with the client's TERM for
 * top (a plain name only). envp[0] is the one string allocated here. */
static char **session_env(json_object *req, bool tty, char *err, size_t errlen)
{
	extern char **environ;
	const char *term = NULL;
	json_object *v;
	size_t n = 0;
	char **e;

	if (tty && json_object_object_get_ex(req, "term", &v) && json_object_is_type(v, json_type_string))
		term = json_object_get_string(v);
	if (term && (!*term || strlen(term) > 64 || strspn(term, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_") != strlen(term))) {
		snprintf(err, errlen, "invalid term");
		return NULL;
	}
	while (environ[n])
		n++;
	e = calloc(n + 2, sizeof(*e));
	if (!e || asprintf(&e[0], "TERM=%s", term ? term : "dumb") < 0) {
		free(e);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0, k = 1; i < n; i++)
		if (strncmp(environ[i], "TERM=", 5))
			e[k++] = environ[i];
	return e;
}

pid_t am_session_start(json_object *req, int *fds, int n_fds, uid_t uid, gid_t gid, pid_t cpid,
		       char *err, size_t errlen)
{
	json_object *argv = NULL, *files = NULL, *v;
	int hi[AM_SESSION_MAX_FDS], n_hi = 0, null_fd = -1;
	bool tty = json_object_object_get_ex(req, "stdin", &v) && json_object_get_boolean(v);
	char **envp = NULL;
	char nums[5][24], **a = NULL;
	pid_t pid = -1;

	if (!json_object_object_get_ex(req, "argv", &argv) || !json_object_is_type(argv, json_type_array)) {
		snprintf(err, errlen, "trace needs \"argv\" (an array of strings)");
		goto out;
	}
	if (json_object_object_get_ex(req, "files", &files) && !json_object_is_type(files, json_type_array)) {
		snprintf(err, errlen, "\"files\" must be an array of paths");
		goto out;
	}
	if (n_fds < 2 + tty || (size_t)n_fds - 2 - tty != (files ? json_object_array_length(files) : 0)) {
		snprintf(err, errlen, "trace needs its %sstdout, stderr and one descriptor per file "
			 "(SCM_RIGHTS)", tty ? "stdin, " : "");
		goto out;
	}
	a = session_argv(argv, files, uid, gid, cpid, nums, err, errlen);
	if (!a)
		goto out;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < n_fds; i++) {
		/* above every target number, so no dup2 overwrites a source */
		hi[n_hi] = fcntl(fds[i], F_DUPFD_CLOEXEC, AM_SESSION_MAX_FDS + 3);
		if (hi[n_hi] >= 0)
			n_hi++;
	}
	if (null_fd < 0 || n_hi != n_fds) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	if (!(envp = session_env(req, tty, err, errlen)))
		goto out;
	pid = fork();
	if (pid == 0)
		child_exec(a, envp, hi, n_hi, null_fd, tty);
	if (pid < 0)
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
out:
	for (int i = 0; i < n_hi; i++)
		close(hi[i]);
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	if (null_fd >= 0)
		close(null_fd);
	free(a);
	if (envp) {
		free(envp[0]);
		free(envp);
	}
	return pid;
}

void am_session_end(pid_t pid)
{
	if (pid > 0)
		kill(pid, SIGINT);
}

/* ---- the session's process ---- */

static struct {
	bool on;
	uid_t uid;
	gid_t gid;
	pid_t cpid, daemon;
	int pidfd[64];
	pid_t pid[64];
	int n;
} sess;

static bool parse_id(const char *s, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return !errno && *s && !*end && *out >= 0 && *out <= max;
}

int am_session_setup(int argc, char **argv, int *next)
{
	static const char *paths[AM_SESSION_MAX_FDS];
	static int fds[AM_SESSION_MAX_FDS];
	long v[5];

	/* allocmap __session UID GID CPID DAEMON N PATH... SUB ARGS */
	for (int i = 0; i < 5; i++)
		if (argc < 8 || !parse_id(argv[2 + i], 0x7fffffff, &v[i])) {
			am_err("__session: internal use only (allocmap serve)");
			return -1;
		}
	if (v[4] > AM_SESSION_MAX_FDS - 2 || argc < 8 + v[4]) {
		am_err("__session: internal use only (allocmap serve)");
		return -1;
	}
	for (long i = 0; i < v[4]; i++) {
		paths[i] = argv[7 + i];
		fds[i] = 3 + (int)i;
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	}
	am_output_redirect(paths, fds, (size_t)v[4]);
	sess.on = true;
	sess.uid = (uid_t)v[0];
	sess.gid = (gid_t)v[1];
	sess.cpid = (pid_t)v[2];
	sess.daemon = (pid_t)v[3];
	*next = 7 + (int)v[4];
	return 0;
}

bool am_session_active(void)
{
	return sess.on;
}

int am_session_check(const pid_t *pids, int n, char **cmd)
{
	char err[512];

	if (!sess.on)
		return 0;
	if (cmd) {
		am_err("launching a command through the daemon is not supported: start it yourself "
		       "and attach with -p PID");
		return 1;
	}
	for (int i = 0; i < n && i < 64; i++) {
		int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);

		if (pids[i] == sess.daemon)
			snprintf(err, sizeof(err), "%s", sess.uid ? "no such process (or not yours to trace)" :
				 "that is the allocmap daemon");
		else if (fd < 0)
			snprintf(err, sizeof(err), "no such process%s", sess.uid ? " (or not yours to trace)" : "");
		if (pids[i] == sess.daemon || fd < 0 ||
		    am_srv_may_trace(pids[i], fd, sess.uid, sess.gid, sess.cpid, err, sizeof(err))) {
			char *p = strstr(err, ": pid ");

			if (p)
				*p = 0;
			am_err("cannot attach to pid %d: %s", pids[i], err);
			if (fd >= 0)
				close(fd);
			return 1;
		}
		sess.pidfd[sess.n] = fd;
		sess.pid[sess.n++] = pids[i];
	}
	return 0;
}

int am_session_recheck(void)
{
	for (int i = 0; i < sess.n; i++)
		if (syscall(SYS_pidfd_send_signal, sess.pidfd[i], 0, NULL, 0)) {
			am_err("cannot attach to pid %d: it exited during attach", sess.pid[i]);
			return 1;
		}
	return 0;
}

bool am_session_exec_refused(const struct am_task_event *e)
{
	return sess.on && sess.uid && e->kind == AM_TASK_EXEC &&
	       !am_srv_same_owner((pid_t)e->pid, sess.uid, sess.gid);
}

void am_session_task(void *ctx, const struct am_task_event *e)
{
	(void)ctx;
	if (!am_session_exec_refused(e))
		return;
	/* the records after it are still held by the renderers: they die here */
	am_err("pid %u exec'd a program that is not yours (setuid, or not dumpable): trace stopped",
	       e->pid);
	_exit(1);
}
