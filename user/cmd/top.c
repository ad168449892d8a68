// SPDX-License-Identifier: GPL-2.0
/* top.c - `allocmap top`: the live terminal view. Runs a trace with no text
 * output and rides on its hooks: `started` brings the screen up, `tick`
 * (every ~100 ms) reads the keyboard without blocking and, once per refresh
 * interval, samples the summary and redraws; what is drawn is top_view.c.
 *
 * The terminal must come back on every exit, and an error must be readable
 * once it has. So, for the whole run, the `stderr` FILE is swapped for a
 * memory stream (glibc documents stdin/stdout/stderr as assignable) and
 * replayed after endwin(); and in launch mode the command is forked with
 * /dev/null (or --cmd-output FILE) as its stdio so it cannot draw over the
 * screen or eat the keys, the terminal fds being put back right after the
 * fork, in `started`. */
#include <argp.h>
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <term.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "top.h"
#include "ctl.h"
#include "remote.h"
#include "session.h"
#include "top_view.h"
#include "trace_cmd.h"
#include "tracer.h"
#include "opts.h"
#include "proc.h"
#include "safeio.h"

#define TOP_TICK_MS      50    /* asked of the trace loop, which polls every 100 ms */
#define TOP_FINAL_MS     2000  /* the final frame stays this long, or until a key */

struct top_opts {
	struct am_trace_opts trace;  /* -p, -d, -- CMD */
	unsigned interval_ms;        /* -i */
	const char *cmd_output;      /* --cmd-output FILE */
};

/* One run's state. Global because atexit() and the crash handler need it. */
static struct top {
	struct top_view *v;
	const struct top_opts *o;
	/* terminal */
	SCREEN  *scr;
	bool     curses_on;
	/* stderr capture */
	FILE    *real_stderr;        /* the process's stderr while the capture is on */
	FILE    *cap;                /* open_memstream over cap_buf */
	char    *cap_buf;
	size_t   cap_len;
	/* launch mode: the terminal's fds 0, 1, 2, while those are the command's */
	int      saved_fd[3];
	bool     fds_moved;
	/* run */
	bool     started;            /* the trace attached and the screen is up */
	bool     quit;               /* q pressed */
	bool     dirty;              /* redraw at the next tick */
	bool     sites_due;          /* copy the call sites at the next tick */
	struct am_tracer *tr;        /* the trace (its call sites, for the pane) */
	void (*view_task)(void *ctx, const struct am_task_event *e); /* the view's sink's */
	pid_t    child;              /* launched command, or -1 */
	uint64_t t0_ns, next_sample_ns;
	char     fatal[256];         /* an error of ours, printed after the restore */
} T = { .saved_fd = { -1, -1, -1 } };

static volatile sig_atomic_t final_stop;  /* a signal during the final frame */

/* ---------- terminal: capture, fds, screen, restore ---------- */

static void capture_stderr(void)
{
	fflush(stderr);
	T.cap = open_memstream(&T.cap_buf, &T.cap_len);
	if (!T.cap)
		return; /* then errors go straight to the terminal: still readable */
	T.real_stderr = stderr;
	stderr = T.cap;
}

/* Puts stderr back and prints what was written to it meanwhile. */
static void replay_stderr(void)
{
	if (!T.cap)
		return;
	fflush(T.cap);
	stderr = T.real_stderr;
	for (char *l = T.cap_buf, *e; l && l < T.cap_buf + T.cap_len; l = e) {
		e = memchr(l, '\n', (size_t)(T.cap_buf + T.cap_len - l));
		e = e ? e + 1 : T.cap_buf + T.cap_len;
		/* the tracer's "tracing ...; Ctrl-C to stop" is stale once the screen was up */
		if (T.started && !strncmp(l, "allocmap: tracing ", 18))
			continue;
		fwrite(l, 1, (size_t)(e - l), stderr);
	}
	fclose(T.cap);
	free(T.cap_buf);
	T.cap = NULL;
	T.cap_buf = NULL;
	T.cap_len = 0;
}

/* Launch mode: fds 0/1/2 become the command's (stdin /dev/null, stdout and
 * stderr to path or /dev/null) until restore_fds(); the terminal's are kept. */
static int move_fds(const char *path, char *why, size_t whylen)
{
	int in, out;

	for (int i = 0; i < 3; i++) {
		T.saved_fd[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
		if (T.saved_fd[i] < 0)
			goto fail;
	}
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		goto fail;
	/* the command's output file is an output file like any other */
	out = path ? am_open_output(path, why, whylen) : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (out < 0) {
		if (!path)
			snprintf(why, whylen, "%s", strerror(errno));
		close(in);
		return -1;
	}
	fflush(stdout);
	dup2(in, 0);
	dup2(out, 1);
	dup2(out, 2);
	close(in);
	close(out);
	T.fds_moved = true;
	return 0;
fail:
	snprintf(why, whylen, "%s", strerror(errno));
	return -1;
}

static void restore_fds(void)
{
	for (int i = 0; i < 3; i++) {
		if (T.saved_fd[i] < 0)
			continue;
		if (T.fds_moved)
			dup2(T.saved_fd[i], i);
		close(T.saved_fd[i]);
		T.saved_fd[i] = -1;
	}
	T.fds_moved = false;
}

/* Brings curses up on the terminal. Returns 0 or -1 (T.fatal says why). */
static int screen_start(void)
{
	T.scr = newterm(NULL, stdout, stdin);
	if (!T.scr) {
		snprintf(T.fatal, sizeof(T.fatal), "cannot drive the terminal (TERM=%s)",
			 getenv("TERM") ? getenv("TERM") : "unset");
		return -1;
	}
	set_term(T.scr);
	T.curses_on = true;
	cbreak();              /* Ctrl-C still signals: the trace stops cleanly on SIGINT */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE); /* the trace loop must never block on the keyboard */
	curs_set(0);
	return 0;
}

static void screen_stop(void)
{
	if (!T.curses_on)
		return;
	T.curses_on = false;
	endwin();
	fflush(stdout);
	delscreen(T.scr);
	T.scr = NULL;
}

/* Every way out goes through here (also atexit): screen, fds, stderr. */
static void restore_all(void)
{
	screen_stop();
	restore_fds();
	replay_stderr();
}

/* Fatal signals: give the terminal back before dying. endwin() is not
 * async-signal-safe; for a process about to die, that is the better risk. */
static void on_crash(int sig)
{
	if (T.curses_on)
		endwin();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_crash_handlers(void)
{
	static const int sigs[] = { SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* leave a sanitizer's handlers alone: their report is worth more */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
		    !(old.sa_flags & SA_SIGINFO))
			signal(sigs[i], on_crash);
	}
}

static void on_final_signal(int sig)
{
	final_stop = sig;
}

/* ---------- trace hooks ---------- */

/* A session through the daemon ends at once, its screen put back, when a
 * traced process execs a program its user may not trace (setuid): what
 * follows is not theirs to see. */
static void top_task(void *ctx, const struct am_task_event *e)
{
	if (am_session_exec_refused(e)) {
		restore_all();
		am_err("pid %u exec'd a program that is not yours (setuid, or not dumpable): top stopped",
		       e->pid);
		_exit(1);
	}
	if (T.view_task)
		T.view_task(ctx, e);
}

static void read_comm(pid_t pid, char *buf, size_t sz)
{
	char path[64];
	FILE *f;

	snprintf(buf, sz, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)sz, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void on_started(void *ctx, const struct am_trace_info *info)
{
	const struct top_opts *o = ctx;
	struct top_view_target tg = {
		.pids = info->pids, .n_pids = info->n_pids, .child = info->child,
		.allocator = info->allocator, .alloc_obj = info->alloc_obj, .t0_ns = info->t0_ns,
	};
	char name[64];

	/* the command is forked by now, with its own stdio: take the terminal back */
	restore_fds();
	if (o->trace.cmd) {
		const char *b = strrchr(o->trace.cmd[0], '/');

		snprintf(name, sizeof(name), "%s", b ? b + 1 : o->trace.cmd[0]);
	} else {
		read_comm(info->n_pids ? info->pids[0] : 0, name, sizeof(name));
	}
	tg.name = name;
	top_view__set_target(T.v, &tg);
	T.t0_ns = info->t0_ns;
	T.child = info->child;
	if (screen_start() < 0)
		return;
	install_crash_handlers();
	T.started = true;
	T.next_sample_ns = 0;
	top_view__draw(T.v, am_now_ns(), NULL, false);
}

static int on_tick(void *ctx, const struct am_summary *now, uint64_t ns)
{
	const struct top_opts *o = ctx;
	int ch;

	if (!T.curses_on)
		return 1; /* the screen never came up: stop (T.fatal says why) */
	while ((ch = getch()) != ERR) {
		if (ch == 'q' || ch == 'Q') {
			T.quit = true;
			/* detaching every probe takes a moment: say so */
			top_view__draw(T.v, ns, T.o->trace.cmd ? "detaching; the command keeps running untraced..."
						   : "detaching; the target keeps running...", false);
			return 1;
		}
		if (ch == 'd' || ch == 'D') {
			top_view__toggle_direct(T.v);
			T.dirty = true;
		} else if (ch == 's' || ch == 'S' || ch == 'o' || ch == 'O') {
			if (ch == 's' || ch == 'S')
				top_view__toggle_sites(T.v);
			else
				top_view__next_sort(T.v);
			T.sites_due = T.dirty = true;
		} else if (ch == KEY_RESIZE || ch == 12 /* Ctrl-L */) {
			clearok(curscr, TRUE);
			T.dirty = true;
		}
	}
	if (ns >= T.next_sample_ns) {
		uint64_t iv = (uint64_t)o->interval_ms * 1000000;

		top_view__sample(T.v, now, ns);
		T.sites_due = true;
		T.next_sample_ns = T.next_sample_ns && T.next_sample_ns + iv > ns ? T.next_sample_ns + iv
										    : ns + iv;
		T.dirty = true;
	}
	if (T.sites_due && top_view__sites_shown(T.v)) {
		/* the tracer counts sites only with stacks (--stacks) */
		top_view__sites(T.v, T.tr ? am_tracer__sites(T.tr) : NULL,
				o->trace.stack_mode == AM_STACKS_ALL ? "out of memory: no call sites"
				: "call sites need the allocations' stacks: allocmap top --stacks ...");
		T.sites_due = false;
	}
	if (T.dirty) {
		top_view__draw(T.v, ns, NULL, false);
		T.dirty = false;
	}
	return 0;
}

/* ---------- the end ---------- */

/* Why the trace ended, for the final frame's status line; false when there
 * is no reason to linger (q, a signal, an error). ret is the trace's exit status. */
static bool end_reason(char *buf, size_t sz, int ret)
{
	const struct am_trace_opts *to = &T.o->trace;
	bool all_gone = true;

	if (to->cmd) {
		all_gone = T.child <= 0 || !am_proc_alive(T.child);
	} else {
		for (int i = 0; i < to->n_pids; i++)
			if (top_view__exit_status(T.v, to->pids[i]) < 0 && am_proc_alive(to->pids[i]))
				all_gone = false;
	}
	if (all_gone && to->cmd) {
		snprintf(buf, sz, "'%s' exited with status %d", to->cmd[0], ret);
		return true;
	}
	if (all_gone) {
		int st = to->n_pids == 1 ? top_view__exit_status(T.v, to->pids[0]) : -1;

		if (st >= 0 && WIFSIGNALED(st))
			snprintf(buf, sz, "target exited (killed by signal %d)", WTERMSIG(st));
		else if (st >= 0)
			snprintf(buf, sz, "target exited with status %d", WEXITSTATUS(st));
		else
			snprintf(buf, sz, "target%s exited", to->n_pids > 1 ? "s" : "");
		return true;
	}
	if (to->duration > 0 && am_now_ns() - T.t0_ns + 200000000ull >= (uint64_t)(to->duration * 1e9)) {
		snprintf(buf, sz, "%g s elapsed (-d): detached", to->duration);
		return true;
	}
	return false;
}

/* The last frame, after the trace ended on its own: shown for TOP_FINAL_MS
 * or until a key, Ctrl-C or SIGTERM. */
static void final_frame(const char *why)
{
	struct sigaction sa = { .sa_handler = on_final_signal };
	uint64_t end = am_now_ns() + (uint64_t)TOP_FINAL_MS * 1000000;
	char status[400];
	int ch;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	snprintf(status, sizeof(status), "%s.  Closing in %d s; any key closes now.", why,
		 TOP_FINAL_MS / 1000);
	top_view__draw(T.v, am_now_ns(), status, true);
	timeout(100);
	while (!final_stop && am_now_ns() < end) {
		ch = getch();
		if (ch == KEY_RESIZE)
			top_view__draw(T.v, am_now_ns(), status, true);
		else if (ch != ERR)
			break;
	}
}

/* ---------- command line ---------- */

static const char top_doc[] =
"Live terminal view of a process's memory: brk heap, mmapped and live bytes with "
"their trend, the latest OS requests with the allocator call that caused each, "
"per-function call rates, glibc's mmap threshold and the lost-event counters; "
"with --stacks, the call sites (bytes allocated, live at the peak, live now, "
"temporaries, bytes from the OS).\n"
"\n"
"Keys: q quits (detaches; an attached process keeps running), d hides/shows "
"direct OS requests, s shows the call sites in place of the OS requests (and "
"back), o sorts them by the next column, Ctrl-L redraws. When the target exits (or -d elapses) the "
"final frame stays for 2 s or until a key; a one-line summary is printed after "
"the screen is restored.\n"
"\v"
"EXAMPLES:\n"
"  allocmap top -p 1234                  watch a running process (q to quit)\n"
"  allocmap top -i 500 -p 1234 -p 1240   two processes, refreshed twice a second\n"
"  allocmap top -- ./myprog arg1         launch ./myprog, watch it from its first malloc\n"
"  allocmap top --stacks -p 1234         with the call sites: press s\n"
"  allocmap top -d 30 --cmd-output out.log -- ./myprog\n"
"                                        30 s at most; ./myprog's output to out.log\n"
"\n"
"In launch mode the command's stdin is /dev/null and its stdout/stderr go to\n"
"--cmd-output FILE (default /dev/null), so it cannot draw over the screen; q\n"
"leaves it running untraced, Ctrl-C stops both. stdout must be a terminal.\n"
"Needs root (CAP_BPF, CAP_PERFMON) and a kernel with BTF.";

enum { OPT_CMD_OUTPUT = 1000, OPT_STACKS, OPT_SOCKET };

/* -p, -d and -- CMD are am_target_argp's (opts.c) */
static const struct argp_option top_options[] = {
	{ "interval", 'i', "MS", 0, "Refresh every MS milliseconds (default 1000, 100..60000)", 0 },
	{ "cmd-output", OPT_CMD_OUTPUT, "FILE", 0, "Launch mode: the command's stdout and stderr "
	  "go to FILE (default /dev/null)", 0 },
	{ "stacks", OPT_STACKS, NULL, 0, "Take every allocation's stack, for the call-site pane (key s); "
	  "costs the target more per call", 0 },
	{ "socket", OPT_SOCKET, "PATH", 0, "Through the allocmap daemon listening on PATH, as the user "
	  "you are (-p only); without it, a user who is not root uses " AM_SERVE_SOCKET " when it exists",
	  0 },
	{ 0 },
};

static const struct am_uint_opt interval_opt = {
	.name = "-i", .unit = "milliseconds", .lo = 100, .hi = 60000,
};

static error_t top_parse(int key, char *arg, struct argp_state *state)
{
	struct top_opts *o = state->input;
	uint64_t v;
	error_t err;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->trace; /* am_target_argp */
		break;
	case 'i':
		if ((err = am_opts_uint(state, &interval_opt, arg, &v)))
			return err;
		o->interval_ms = (unsigned)v;
		break;
	case OPT_CMD_OUTPUT:
		o->cmd_output = arg;
		break;
	case OPT_STACKS:
		o->trace.stack_mode = AM_STACKS_ALL;
		break;
	case OPT_SOCKET:
		o->trace.socket = arg;
		break;
	case ARGP_KEY_END:
		if (o->cmd_output && !o->trace.cmd)
			return am_opts_error(state, "--cmd-output needs a command (-- CMD [ARGS...])");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child top_children[] = {
	{ &am_target_argp, 0, NULL, 0 },
	{ &am_help_argp, 0, NULL, AM_HELP_GROUP },
	{ 0 },
};

static const struct argp top_argp = {
	.options = top_options,
	.parser = top_parse,
	.args_doc = "-p PID | -- CMD [ARGS...]",
	.doc = top_doc,
	.children = top_children,
};

int am_top_main(int argc, char **argv)
{
	static struct top_opts o = { .interval_ms = 1000 };
	struct am_trace_hooks hooks = {
		.ctx = &o, .started = on_started, .tick = on_tick, .tick_ms = TOP_TICK_MS,
	};
	struct am_tracer_opts to;
	struct am_tracer *tr;
	char why[320], line[512];
	int err, ret;

	o.trace.ringbuf_mb = 32;
	if ((err = am_opts_parse(&top_argp, argc, argv, &o)))
		return err;
	if (!o.trace.socket && !am_session_active() && geteuid() != 0 && !access(AM_SERVE_SOCKET, F_OK))
		o.trace.socket = AM_SERVE_SOCKET;
	if (o.trace.socket && !am_session_active())
		return am_remote(o.trace.socket, "top", argc, argv, &o.trace);
	if ((err = am_session_check(o.trace.pids, o.trace.n_pids, o.trace.cmd)))
		return err;
	if (!isatty(STDOUT_FILENO)) {
		am_err("top draws on a terminal and stdout is not one (for a text stream: allocmap trace)");
		return 1;
	}
	setlocale(LC_ALL, "");
	/* fail on a bad TERM now, before anything is attached */
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK) {
		am_err("cannot drive the terminal (TERM=%s): %s", getenv("TERM") ? getenv("TERM") : "unset",
		       err == 0 ? "unknown terminal type" : "no terminfo database");
		return 1;
	}
	del_curterm(cur_term);

	T.o = &o;
	T.v = top_view__new(o.interval_ms);
	if (!T.v) {
		am_err("out of memory");
		return 1;
	}
	hooks.sink = top_view__sink(T.v);
	T.view_task = hooks.sink.task;
	hooks.sink.task = top_task;
	am_trace_tracer_opts(&o.trace, &to);
	to.hooks = &hooks;
	atexit(restore_all);
	capture_stderr();
	if (o.trace.cmd && (err = move_fds(o.cmd_output, why, sizeof(why))) < 0) {
		restore_all();
		am_err("cannot open %s: %s", o.cmd_output ? o.cmd_output : "/dev/null", why);
		top_view__free(T.v);
		return 1;
	}

	tr = am_tracer__new(&to);
	T.tr = tr;
	ret = tr ? am_tracer__trace(tr) : 1;
	T.tr = NULL;
	am_tracer__free(tr);

	if (T.curses_on && !T.quit && end_reason(why, sizeof(why), ret))
		final_frame(why);
	restore_all();
	if (T.fatal[0]) {
		am_err("%s", T.fatal);
		ret = ret ? ret : 1;
	} else if (T.started) {
		top_view__summary_line(T.v, line, sizeof(line));
		printf("allocmap top: %s\n", line);
	}
	top_view__free(T.v);
	T.v = NULL;
	return ret;
}
