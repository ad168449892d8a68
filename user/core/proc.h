// SPDX-License-Identifier: GPL-2.0
/* proc.h - small process and clock helpers shared by the tracer (trace.c),
 * its live view (top.c), compare runs and the unwinder. */
#ifndef ALLOCMAP_PROC_H
#define ALLOCMAP_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(), so of every event. */
uint64_t am_now_ns(void);

/* Is pid a live process? One that exited but was not reaped yet (a zombie)
 * counts as gone: it runs no code and has no memory left to trace. */
bool am_proc_alive(pid_t pid);

#endif /* ALLOCMAP_PROC_H */
