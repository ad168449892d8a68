// SPDX-License-Identifier: GPL-2.0
/* main.c - allocmap's command line: subcommand dispatch and the argp
 * option parser of `allocmap trace`. The work itself lives in trace_cmd.c. */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include "compare.h"
#include "ctl.h"
#include "demo.h"
#include "diff.h"
#include "log.h"
#include "opts.h"
#include "remote.h"
#include "report_cmd.h"
#include "session.h"
#include "sites_out.h"
#include "top.h"
#include "trace_cmd.h"
#include "unwind.h"

#define AM_VERSION "0.1.0"

const char *argp_program_version = "allocmap " AM_VERSION;
const char *argp_program_bug_address = NULL;

static const char trace_doc[] =
"Trace how a program's allocations map onto the memory it asks the kernel for."
"\n\n"
"Every malloc-family call and every memory syscall (brk, mmap, munmap, mremap, "
"mprotect, madvise) of the target is traced with eBPF; each OS request is paired "
"with the allocator call that caused it, each allocation is placed in the region "
"that backs it, and glibc's mmap threshold is followed as it moves."
"\n\n"
"By default the text shows allocator calls that made OS requests, every OS request "
"(the dynamic loader's startup requests summed up in one line) and the summary; -v "
"shows every call, -q only the summary. --json writes every record whatever -v/-q. "
"Times are seconds since the command's exec (since the attach with -p). A launched "
"command's trace goes to stderr, -p's to stdout, unless -o FILE."
"\v"
"EXAMPLES:\n"
"  allocmap trace -- ./myprog arg1\n"
"      launch ./myprog, trace it from its first malloc\n"
"  allocmap trace -p 1234\n"
"      attach to a running process (all its threads)\n"
"  allocmap trace -p 1234 -d 10 -q\n"
"      10 seconds, summary only\n"
"  allocmap trace --json -o t.jsonl -- ./myprog\n"
"      JSON Lines (schema in docs/reference.md)\n"
"  allocmap trace --html report.html -- ./myprog\n"
"      also a self-contained HTML report\n"
"  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\\n"
"    allocmap trace -- ./myprog\n"
"      trace jemalloc instead of glibc malloc\n"
"  allocmap trace -v -- ./myprog\n"
"      every call, and where each probe was placed\n"
"  allocmap trace --stacks -- ./myprog\n"
"      user stacks of every call and OS request, and the leak report\n"
"  allocmap trace --stacks=os --folded os.folded -- ./myprog\n"
"      stacks of OS requests only; flame graph input\n"
"      (flamegraph.pl os.folded > os.svg)\n"
"  allocmap trace --alloc PyObject_Malloc=malloc --alloc PyObject_Free=free \\\n"
"    --alloc PyObject_Realloc=realloc -- python3 script.py\n"
"      also trace CPython's own allocator (pymalloc)\n"
"  allocmap trace --mode os -p 1234\n"
"      memory syscalls and their stacks only: no uprobes, near-zero overhead\n"
"\n"
"A traced process that execs is stopped (SIGSTOP) until its probes are moved, so "
"no call of the new image is missed; a guardian continues it if allocmap dies.\n"
"\n"
"Needs root (CAP_BPF, CAP_PERFMON) and a kernel with BTF. Stops on Ctrl-C,\n"
"SIGTERM, -d, or when the traced processes exit; in launch mode allocmap exits\n"
"with the command's status.";

enum { OPT_JSON = 1000, OPT_RINGBUF, OPT_HTML, OPT_PERFETTO, OPT_FREE_RETURN, OPT_STACKS, OPT_SAMPLE, OPT_UNWIND,
       OPT_STACK_SIZE, OPT_MODE, OPT_FOLDED, OPT_FOLDED_ALLOC, OPT_FREE_NORET, OPT_ALLOC,
       OPT_TOP, OPT_SORT, OPT_PPROF, OPT_STARTUP, OPT_SOCKET };

/* -p, -d and -- CMD are am_target_argp's (opts.c) */
static const struct argp_option trace_options[] = {
	{ "output", 'o', "FILE", 0, "Write the trace to FILE (default: stderr for a launched command, "
	  "stdout with -p)", 0 },
	{ "json", OPT_JSON, NULL, 0, "JSON Lines output (schema in docs/reference.md)", 0 },
	{ "verbose", 'v', NULL, 0, "Print every allocator call and each probe's placement; "
	  "twice: libbpf debug messages too", 0 },
	{ "quiet", 'q', NULL, 0, "Print only the summary (text; --json keeps every record)", 0 },
	{ "startup", OPT_STARTUP, NULL, 0, "List the dynamic loader's startup requests one by one "
	  "(the text sums them up in one line)", 0 },
	{ "follow-forks", 'f', NULL, 0, "Also trace child processes (each is held at its return "
	  "from fork until its probes are in)", 0 },
	{ "html", OPT_HTML, "FILE", 0, "Also write a self-contained HTML report to FILE", 0 },
	{ "perfetto", OPT_PERFETTO, "FILE", 0, "Also write a Chrome/Perfetto trace (JSON) to FILE", 0 },
	{ "alloc", OPT_ALLOC, "SYM[@LIB]=ROLE", 0, "Also trace the program's own allocator function SYM "
	  "(in object LIB, a path or file-name prefix, if given) as a ROLE: malloc, calloc, realloc, "
	  "reallocarray, free, posix_memalign, memalign, valloc, pvalloc, new_aligned (size, align), "
	  "free_sized (ptr, size). OS requests made inside it name it as their cause. Repeatable", 0 },
	{ "free-return", OPT_FREE_RETURN, NULL, 0, "Probe the return of free and operator delete "
	  "(the default)", 0 },
	{ "free-noret", OPT_FREE_NORET, NULL, 0, "APPROXIMATE, faster (about 10 % per malloc/free pair): "
	  "no return probe on free; its end is inferred from its return-address slot, which is wrong "
	  "after a tail-called free (jmp free) when the next call comes from the same call site: "
	  "later calls can then be counted as nested in the free", 0 },
	{ "ringbuf-mb", OPT_RINGBUF, "MB", 0, "Ring buffer size in MiB (a power of two, 1..1024, "
	  "default 32)", 0 },
	{ "socket", OPT_SOCKET, "PATH", 0, "Trace through the allocmap daemon (allocmap serve) "
	  "listening on PATH, as the user you are (processes you could ptrace; -p only). Without it, "
	  "a user who is not root uses " AM_SERVE_SOCKET " when it exists", 0 },
	{ 0 },
};

static const struct argp_option stack_options[] = {
	{ "stacks", OPT_STACKS, "WHAT", OPTION_ARG_OPTIONAL, "User stacks: 'all' (default: every "
	  "allocator call and OS request) or 'os' (OS requests and the calls that caused them); "
	  "adds the leak report to the summary", 0 },
	{ "sample", OPT_SAMPLE, "N", 0, "With --stacks: every Nth call's stack only (OS requests: all; "
	  "1..4294967295)", 0 },
	{ "unwind", OPT_UNWIND, "HOW", 0, "'auto' (default: DWARF CFI over a copy of the stack, frame "
	  "pointers where it ends), 'dwarf', or 'fp' (frame pointers only: cheaper, short without them)", 0 },
	{ "stack-size", OPT_STACK_SIZE, "BYTES", 0, "User stack bytes copied per stack for DWARF "
	  "unwinding (4096..16384, a multiple of 4096; default 8192)", 0 },
	{ "folded", OPT_FOLDED, "FILE", 0, "Write folded stacks weighted by bytes obtained from the OS "
	  "(flame graph input; implies --stacks=os)", 0 },
	{ "folded-alloc", OPT_FOLDED_ALLOC, "FILE", 0, "Write folded stacks weighted by bytes allocated "
	  "(implies --stacks)", 0 },
	{ "top", OPT_TOP, "N", 0, "With stacks: rows of the summary's call-site table (default 10, "
	  "0: none; at most 1000000)", 0 },
	{ "sort", OPT_SORT, "COL", 0, "Order of the call-site table: alloc (bytes allocated, the "
	  "default), peak (live at the peak), leak (live at the end), temp (temporary allocations), "
	  "os (bytes from the OS) or calls", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0, "Write the call sites as a gzipped pprof profile (go tool "
	  "pprof, Pyroscope, Parca; implies --stacks)", 0 },
	{ "mode", OPT_MODE, "MODE", 0, "'all' (default) or 'os': no allocator probes, only memory "
	  "syscalls and their stacks (each cause inferred from its stack's outermost allocator "
	  "frame, unknown where the stack does not tell)", 0 },
	{ 0 },
};

static const struct am_uint_opt ringbuf_opt = {
	.name = "--ringbuf-mb", .unit = "MiB", .lo = 1, .hi = AM_RINGBUF_MB_MAX, .pow2 = true,
};
static const struct am_uint_opt sample_opt = { .name = "--sample", .lo = 1, .hi = UINT32_MAX };
static const struct am_uint_opt stack_size_opt = {
	.name = "--stack-size", .unit = "bytes", .lo = 4096, .hi = 16384, .multiple = 4096,
};
static const struct am_uint_opt top_opt = { .name = "--top", .unit = "rows", .lo = 0, .hi = 1000000 };

/* The "Stacks, leaks, flame graphs" group: a child of trace_argp. */
static error_t stack_parse(int key, char *arg, struct argp_state *state)
{
	struct am_trace_opts *o = state->input;
	uint64_t n;
	error_t err;

	switch (key) {
	case OPT_STACKS:
		if (!arg || !strcmp(arg, "all"))
			o->stack_mode = AM_STACKS_ALL;
		else if (!strcmp(arg, "os"))
			o->stack_mode = o->stack_mode == AM_STACKS_ALL ? AM_STACKS_ALL : AM_STACKS_OS;
		else
			return am_opts_error(state, "invalid --stacks '%s' (all or os)", arg);
		break;
	case OPT_SAMPLE:
		if ((err = am_opts_uint(state, &sample_opt, arg, &n)))
			return err;
		o->sample = (unsigned)n;
		break;
	case OPT_UNWIND:
		if (!strcmp(arg, "auto"))
			o->unwind = AM_UNWIND_AUTO;
		else if (!strcmp(arg, "dwarf"))
			o->unwind = AM_UNWIND_DWARF;
		else if (!strcmp(arg, "fp"))
			o->unwind = AM_UNWIND_FP;
		else
			return am_opts_error(state, "invalid --unwind '%s' (auto, dwarf or fp)", arg);
		break;
	case OPT_STACK_SIZE:
		if ((err = am_opts_uint(state, &stack_size_opt, arg, &n)))
			return err;
		o->stack_bytes = (unsigned)n;
		break;
	case OPT_MODE:
		if (!strcmp(arg, "os"))
			o->os_only = true;
		else if (strcmp(arg, "all"))
			return am_opts_error(state, "invalid --mode '%s' (all or os)", arg);
		break;
	case OPT_FOLDED:
		o->folded = arg;
		break;
	case OPT_FOLDED_ALLOC:
		o->folded_alloc = arg;
		break;
	case OPT_TOP:
		if ((err = am_opts_uint(state, &top_opt, arg, &n)))
			return err;
		o->sites_top = (unsigned)n;
		break;
	case OPT_SORT:
		o->sites_sort = am_site_sort_by_name(arg);
		if (o->sites_sort < 0)
			return am_opts_error(state, "invalid --sort '%s' (alloc, peak, leak, temp, os or calls)",
					     arg);
		break;
	case OPT_PPROF:
		o->pprof = arg;
		break;
	case ARGP_KEY_END:
		/* what each stack-consuming option needs */
		if (o->pprof && o->os_only)
			return am_opts_error(state, "--pprof needs the allocator calls (not --mode os)");
		if ((o->folded_alloc || (o->pprof && o->stack_mode == AM_STACKS_OFF)) && !o->os_only)
			o->stack_mode = AM_STACKS_ALL;
		if ((o->folded || o->os_only) && o->stack_mode == AM_STACKS_OFF)
			o->stack_mode = AM_STACKS_OS;
		if (o->os_only && o->stack_mode == AM_STACKS_ALL)
			o->stack_mode = AM_STACKS_OS; /* no calls to take stacks of */
		if (o->sample > 1 && o->stack_mode != AM_STACKS_ALL)
			return am_opts_error(state, "--sample needs --stacks (all)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp stack_argp = { .options = stack_options, .parser = stack_parse };

static error_t trace_parse(int key, char *arg, struct argp_state *state)
{
	struct am_trace_opts *o = state->input;
	char err[256];
	uint64_t n;
	error_t e;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = o; /* am_target_argp */
		state->child_inputs[1] = o; /* stack_argp */
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case 'v':
		o->verbosity = o->verbosity < 0 ? 1 : o->verbosity + 1;
		break;
	case 'q':
		o->verbosity = -1;
		break;
	case OPT_STARTUP:
		o->startup_each = true;
		break;
	case 'f':
		o->follow_forks = true;
		break;
	case OPT_FREE_RETURN:
		o->free_noret = false;
		break;
	case OPT_FREE_NORET:
		o->free_noret = true;
		break;
	case OPT_ALLOC:
		if (am_fn_add(arg, err, sizeof(err)) < 0)
			return am_opts_error(state, "%s", err);
		break;
	case OPT_HTML:
		o->html = arg;
		break;
	case OPT_PERFETTO:
		o->perfetto = arg;
		break;
	case OPT_SOCKET:
		o->socket = arg;
		break;
	case OPT_RINGBUF:
		if ((e = am_opts_uint(state, &ringbuf_opt, arg, &n)))
			return e;
		o->ringbuf_mb = (unsigned)n;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child trace_children[] = {
	{ &am_target_argp, 0, NULL, 0 },
	{ &stack_argp, 0, "Stacks, leaks, flame graphs:", 1 },
	{ &am_help_argp, 0, NULL, AM_HELP_GROUP },
	{ 0 },
};

static const struct argp trace_argp = {
	.options = trace_options,
	.parser = trace_parse,
	.args_doc = "-p PID | -- CMD [ARGS...]",
	.doc = trace_doc,
	.children = trace_children,
};

static int cmd_trace(int argc, char **argv)
{
	struct am_trace_opts o = { .ringbuf_mb = 32, .sites_top = AM_SITES_TOP_DEFAULT };
	int rc = am_opts_parse(&trace_argp, argc, argv, &o);
	const char *sock = o.socket;

	if (rc)
		return rc;
	/* a session of the daemon runs the trace itself */
	if (!sock && !am_session_active() && geteuid() != 0 && !access(AM_SERVE_SOCKET, F_OK))
		sock = AM_SERVE_SOCKET;
	if (sock && !am_session_active())
		return am_remote(sock, "trace", argc, argv, &o);
	return am_trace_cmd(&o);
}

static void usage(void)
{
	printf(
"Usage: allocmap COMMAND [OPTIONS]\n"
"\n"
"Show how a program's allocations map onto the memory it asks the kernel for.\n"
"\n"
"Commands:\n"
"  trace     trace a running process (-p PID) or a command (-- CMD ARGS)\n"
"  report    turn a JSON Lines trace into an HTML report or a Perfetto trace\n"
"  top       live terminal view of a process's memory\n"
"  compare   run one command under glibc, jemalloc, tcmalloc, mimalloc, side by side\n"
"  diff      what changed between two JSON Lines traces (A.jsonl B.jsonl)\n"
"  demo      guided tours (demo threshold: glibc's brk-versus-mmap choice)\n"
"  serve     the daemon: traces processes added at run time, for root and other users\n"
"\n"
"Examples:\n"
"  allocmap trace -- ./myprog            launch and trace ./myprog\n"
"  allocmap trace -p 1234 -d 5           attach to pid 1234 for 5 seconds\n"
"  allocmap trace --help                 every option of trace\n"
"\n"
"Options: -h, --help  this help;  -V, --version  print the version\n"
"Every command takes -h/--help. A usage error (unknown command or option, missing\n"
"or bad value) prints one line and exits 64 (EX_USAGE).\n");
}

/* A setuid or setgid copy would lend root to every user (root-owned writes,
 * tracing root's processes): allocmap only runs with the ids it was given. */
static int refuse_setid(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg)) {
		am_err("cannot read the process ids: %s", strerror(errno));
		return -1;
	}
	if (ru != eu || ru != su || rg != eg || rg != sg) {
		am_err("refusing to run setuid or setgid (real uid %u gid %u, effective uid %u gid %u, "
		       "saved uid %u gid %u): run it as root instead", ru, rg, eu, eg, su, sg);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (refuse_setid())
		return EX_NOPERM;
	if (argc < 2) {
		am_err("no command (try 'allocmap --help')");
		return AM_EX_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage();
		return 0;
	}
	if (!strcmp(argv[1], "__session")) {
		/* a trace run by allocmap serve for a client (serve/session.c) */
		int next;

		if (am_session_setup(argc, argv, &next))
			return 1;
		if (!strcmp(argv[next], "top")) {
			argv[next] = "allocmap top";
			return am_top_main(argc - next, argv + next);
		}
		argv[next] = "allocmap trace";
		return cmd_trace(argc - next, argv + next);
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("%s\n", argp_program_version);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "trace", cmd_trace },
		{ "report", am_report_main },
		{ "top", am_top_main },
		{ "compare", am_compare_main },
		{ "demo", am_demo_main },
		{ "diff", am_diff_main },
		{ "serve", am_serve_main },
	};
	static char names[sizeof(cmds) / sizeof(cmds[0])][32];

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		snprintf(names[i], sizeof(names[i]), "allocmap %s", cmds[i].name);
		argv[1] = names[i];
		return cmds[i].fn(argc - 1, argv + 1);
	}
	am_err("unknown command '%s' (try 'allocmap --help')", argv[1]);
	return AM_EX_USAGE;
}
