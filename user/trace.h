/* trace.h - the `allocmap trace` job: options parsed by main.c and the entry
 * point that loads the BPF object, attaches to the targets, runs the event
 * loop and prints the trace. */
#ifndef ALLOCMAP_TRACE_H
#define ALLOCMAP_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AM_MAX_PIDS 64

struct am_trace_opts {
	pid_t pids[AM_MAX_PIDS];  /* -p */
	int   n_pids;
	char **cmd;               /* -- CMD ARGS (NULL-terminated), or NULL */
	double duration;          /* -d seconds, 0 = until exit/signal */
	const char *output;       /* -o FILE, NULL = stdout */
	bool  json;               /* --json */
	int   verbosity;          /* -1 quiet, 0 default, 1 verbose, 2 libbpf debug */
	bool  follow_forks;       /* -f */
	unsigned ringbuf_mb;      /* --ringbuf-mb */
};

/* Runs the trace. Returns the process exit status for allocmap: the launched
 * command's status in launch mode, 0 on success, 1 after an error (already
 * printed as one line on stderr). */
int am_trace_run(const struct am_trace_opts *opts);

#endif /* ALLOCMAP_TRACE_H */
