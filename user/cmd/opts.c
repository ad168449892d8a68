// SPDX-License-Identifier: GPL-2.0
/* opts.c - the command-line parsing every subcommand shares (see opts.h).
 *
 * How argp is bent into one error line and one exit status: argp's getopt
 * prefixes its messages ("unrecognized option '--x'", "option requires an
 * argument -- 'p'") with argv[0], so argv[0] is "allocmap: SUB" while argp
 * runs; argp's own "Try `... --help'" line is suppressed by a NULL
 * err_stream, which also keeps argp from exiting, so that every error
 * comes back here as a return value and becomes AM_EX_USAGE. The parsers
 * report their own errors through am_opts_error, in the same format. */
#include "opts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "numarg.h"
#include "trace_cmd.h" /* struct am_trace_opts, AM_MAX_PIDS */

/* Kernel's PID_MAX_LIMIT on 64-bit: pid_max can never be set above it. */
#define AM_PID_MAX_LIMIT (4 * 1024 * 1024)

static char err_name[64] = "allocmap";   /* "allocmap: SUB": prefix of every error */
static const char *help_name = "allocmap"; /* "allocmap SUB": in the help's Usage line */

int am_opts_parse(const struct argp *argp, int argc, char **argv, void *input)
{
	const char *sub = strchr(argv[0], ' ');
	char *argv0 = argv[0];
	int err;

	help_name = argv[0];
	snprintf(err_name, sizeof(err_name), "allocmap: %s", sub ? sub + 1 : argv[0]);
	argv[0] = err_name;
	err = argp_parse(argp, argc, argv, ARGP_IN_ORDER | ARGP_NO_HELP, NULL, input);
	argv[0] = argv0;
	return err ? AM_EX_USAGE : 0;
}

error_t am_opts_error(const struct argp_state *st, const char *fmt, ...)
{
	va_list ap;

	(void)st;
	fprintf(stderr, "%s: ", err_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EINVAL;
}

error_t am_opts_uint(const struct argp_state *st, const struct am_uint_opt *spec, const char *arg,
		     uint64_t *out)
{
	char rules[160];
	uint64_t v;
	size_t n;

	if (!am_parse_uint(arg, spec->lo, spec->hi, &v) && (!spec->pow2 || !(v & (v - 1))) &&
	    (!spec->multiple || v % spec->multiple == 0)) {
		*out = v;
		return 0;
	}
	n = (size_t)snprintf(rules, sizeof(rules), "%s%san integer in %" PRIu64 "..%" PRIu64,
			     spec->unit ? spec->unit : "", spec->unit ? ", " : "", spec->lo, spec->hi);
	if (spec->pow2 && n < sizeof(rules))
		n += (size_t)snprintf(rules + n, sizeof(rules) - n, ", a power of two");
	if (spec->multiple && n < sizeof(rules))
		snprintf(rules + n, sizeof(rules) - n, ", a multiple of %" PRIu64, spec->multiple);
	return am_opts_error(st, "invalid %s '%s' (%s)", spec->name, arg, rules);
}

error_t am_opts_seconds(const struct argp_state *st, const char *name, const char *arg, double *out)
{
	if (am_parse_seconds(arg, out))
		return am_opts_error(st, "invalid %s '%s' (seconds, a decimal number in 0.000000001..%.0f)",
				     name, arg, AM_MAX_SECONDS);
	return 0;
}

pid_t am_opts_pid_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	char buf[32] = "";
	uint64_t v;

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (am_parse_uint(buf, 2, AM_PID_MAX_LIMIT, &v))
		v = AM_PID_MAX_LIMIT;
	return (pid_t)(v - 1);
}

error_t am_opts_pid(const struct argp_state *st, const char *arg, pid_t *pids, int *n, int max)
{
	pid_t hi = am_opts_pid_max();
	uint64_t v;

	if (*n >= max)
		return am_opts_error(st, "at most %d -p options", max);
	if (am_parse_uint(arg, 1, (uint64_t)hi, &v))
		return am_opts_error(st, "invalid -p '%s' (a pid: an integer in 1..%d, below the kernel's pid_max)",
				     arg, (int)hi);
	pids[(*n)++] = (pid_t)v;
	return 0;
}

void am_opts_command(struct argp_state *st, char ***cmd)
{
	*cmd = &st->argv[st->next - 1];
	st->next = st->argc;
}

/* ---------- -h, --help, --usage, -V ---------- */

enum { OPT_USAGE = 0x2000 };

static const struct argp_option help_options[] = {
	{ "help", 'h', NULL, 0, "Give this help list", 0 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", 0 },
	{ "version", 'V', NULL, 0, "Print the version", 0 },
	{ 0 },
};

static error_t help_parse(int key, char *arg, struct argp_state *st)
{
	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		/* every subcommand has this child: no "Try --help" line, no exit (see the top) */
		st->err_stream = NULL;
		break;
	case 'h':
	case OPT_USAGE:
		st->name = (char *)help_name; /* "Usage: allocmap SUB ..." */
		argp_state_help(st, stdout, key == 'h' ? ARGP_HELP_STD_HELP
						       : ARGP_HELP_USAGE | ARGP_HELP_EXIT_OK);
		break; /* not reached: both exit 0 */
	case 'V':
		printf("%s\n", argp_program_version);
		exit(0);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp am_help_argp = { .options = help_options, .parser = help_parse };

const struct argp_child am_help_children[] = {
	{ &am_help_argp, 0, NULL, AM_HELP_GROUP },
	{ 0 },
};

/* ---------- targets: -p, -d, -- CMD ---------- */

static const struct argp_option target_options[] = {
	{ "pid", 'p', "PID", 0, "Attach to running process PID (repeatable)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS (a decimal number, at most 1000000000)", 0 },
	{ 0 },
};

static error_t target_parse(int key, char *arg, struct argp_state *st)
{
	struct am_trace_opts *o = st->input;

	switch (key) {
	case 'p':
		return am_opts_pid(st, arg, o->pids, &o->n_pids, AM_MAX_PIDS);
	case 'd':
		return am_opts_seconds(st, "-d", arg, &o->duration);
	case ARGP_KEY_ARG:
		am_opts_command(st, &o->cmd);
		break;
	case ARGP_KEY_END:
		if (!o->cmd && o->n_pids == 0)
			return am_opts_error(st, "nothing to trace: give -p PID or -- CMD [ARGS...]");
		if (o->cmd && o->n_pids)
			return am_opts_error(st, "give either -p PID or a command, not both");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp am_target_argp = { .options = target_options, .parser = target_parse };
