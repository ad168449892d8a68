// SPDX-License-Identifier: GPL-2.0
/* opts.h - one way to parse the command line of every subcommand (trace,
 * top, compare, demo, report): argp with the same flags, -h/--help, --usage
 * and -V/--version in each (help on stdout, exit 0), one error line
 * "allocmap: SUB: what" and one exit status, 64 (EX_USAGE), for any bad
 * option, missing argument or bad value; numeric options with explicit
 * ranges (nothing wraps); and the target options trace and top share
 * (-p PID, -d SECONDS, -- CMD [ARGS...]). */
#ifndef ALLOCMAP_OPTS_H
#define ALLOCMAP_OPTS_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sysexits.h>

/* The exit status of every usage error, in every subcommand. */
#define AM_EX_USAGE EX_USAGE

/* --ringbuf-mb: a power of two, at most 1 GiB. The kernel wants a power of
 * two number of pages in a u32 (4096 MiB wraps to 0), and the ring buffer
 * is real memory, double-mapped: 1 GiB is already a lot to pin. */
#define AM_RINGBUF_MB_MAX 1024

/* Parses argv (argv[0] is "allocmap SUB") with argp, in order: the first
 * argument that is not an option starts the traced command, whose options
 * are its own. argp's own help options are replaced by am_help_argp, which
 * argp must list among its children. Returns 0, or AM_EX_USAGE after
 * exactly one error line on stderr. */
int am_opts_parse(const struct argp *argp, int argc, char **argv, void *input);

/* For a parser: prints "allocmap: SUB: <message>" and returns the error
 * the parser must return (argp then stops and am_opts_parse returns
 * AM_EX_USAGE). */
error_t am_opts_error(const struct argp_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An unsigned integer option: digits only (no sign, blank, exponent or hex)
 * within [lo, hi]; pow2: also a power of two; multiple: also a multiple of
 * it (0: any). unit names it in the error ("milliseconds", or NULL). */
struct am_uint_opt {
	const char *name;      /* "--ringbuf-mb", "-i" */
	const char *unit;
	uint64_t lo, hi;
	bool pow2;
	uint64_t multiple;
};

/* Parses arg as spec says into *out, or reports "invalid NAME 'ARG'
 * (UNIT, RULES, LO..HI)" and returns the parser's error. */
error_t am_opts_uint(const struct argp_state *st, const struct am_uint_opt *spec, const char *arg,
		     uint64_t *out);

/* SECONDS: a decimal number (digits, an optional fraction) in
 * [1e-9, AM_MAX_SECONDS]. name is the option ("-d"). */
error_t am_opts_seconds(const struct argp_state *st, const char *name, const char *arg, double *out);

/* A pid: 1 .. the kernel's pid_max - 1, appended to pids[*n] (at most max). */
error_t am_opts_pid(const struct argp_state *st, const char *arg, pid_t *pids, int *n, int max);

/* The highest pid the kernel can give: /proc/sys/kernel/pid_max - 1
 * (4194303, the 64-bit limit, when it cannot be read). */
pid_t am_opts_pid_max(void);

/* For ARGP_KEY_ARG: this argument and all after it are the command. */
void am_opts_command(struct argp_state *st, char ***cmd);

/* -h/--help, --usage, -V/--version: a child of every subcommand's argp,
 * as { &am_help_argp, 0, NULL, AM_HELP_GROUP } (listed last in the help). */
extern const struct argp am_help_argp;
#define AM_HELP_GROUP 100

/* The children of a subcommand whose only child is am_help_argp. */
extern const struct argp_child am_help_children[];

/* -p PID (repeatable), -d SECONDS and -- CMD [ARGS...], with the check
 * that exactly one kind of target was given; a child of trace and top,
 * whose input is their struct am_trace_opts. */
extern const struct argp am_target_argp;

#endif /* ALLOCMAP_OPTS_H */
