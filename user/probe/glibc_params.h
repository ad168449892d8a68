// SPDX-License-Identifier: GPL-2.0
/* glibc_params.h - what glibc's malloc parameters are in a running process,
 * so the correlator never has to invent the mmap threshold: reads glibc's
 * `mp_` (struct malloc_par) out of the target's memory, located and laid
 * out with glibc's own DWARF (Debian's libc6-dbg under
 * /usr/lib/debug/.build-id, the object's own debug info, or debuginfod when
 * DEBUGINFOD_URLS is set); and what an environment pins (MALLOC_*_ variables,
 * GLIBC_TUNABLES). Plain C with libelf/libdw, no libbpf: unit-tested on the
 * test process itself. */
#ifndef ALLOCMAP_GLIBC_PARAMS_H
#define ALLOCMAP_GLIBC_PARAMS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "model.h"

/* Where mp_ and its members are, from the DWARF (never hard-coded). */
struct am_mp_layout {
	uint64_t vaddr;              /* link-time address of mp_ (DW_OP_addr) */
	uint32_t off_mmap_threshold, size_mmap_threshold;
	uint32_t off_no_dyn, size_no_dyn;           /* no_dyn_threshold */
	uint32_t off_trim, size_trim;               /* trim_threshold (0 size: absent) */
	uint32_t struct_size;
};

/* mp_ as read from a process. */
struct am_glibc_params {
	uint64_t mmap_threshold;
	uint64_t trim_threshold;     /* 0 when the DWARF has no such member */
	bool     no_dyn_threshold;   /* the threshold is pinned: frees do not move it */
	uint64_t addr;               /* &mp_ in the target */
	char     debug_file[PATH_MAX + 32]; /* where the DWARF came from */
};

/* Finds mp_ in the DWARF of debug_path (a .debug file, or any ELF with
 * .debug_info). Returns 0, or -1 with a short message in err. */
int am_glibc_mp_layout(const char *debug_path, struct am_mp_layout *l, char *err, size_t errlen);

/* Reads mp_ from process pid, whose glibc malloc lives in obj (the path as
 * the process sees it: "/usr/lib/x86_64-linux-gnu/libc.so.6", or the
 * executable of a static binary). Debug files are looked up by obj's
 * build-id under $ALLOCMAP_DEBUG_DIR (default /usr/lib/debug; tests point it
 * at a directory with nothing in it to see what happens without libc6-dbg),
 * then in obj itself, then through debuginfod when DEBUGINFOD_URLS is set
 * (and ALLOCMAP_DEBUG_DIR is not). Returns 0, or -1 with a short message. */
int am_glibc_params_read(pid_t pid, const char *obj, struct am_glibc_params *out,
			 char *err, size_t errlen);

/* What an environment (NULL-terminated) pins: true when any of
 * MALLOC_MMAP_THRESHOLD_ (valid: <= 32 MiB), MALLOC_TOP_PAD_,
 * MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_MAX_ or their glibc.malloc.*
 * tunables switch the dynamic threshold off; *value is then the threshold
 * (the variable's value, or glibc's start value 128 KiB). */
bool am_glibc_env_pinned(char *const *env, uint64_t *value);

/* The threshold state of a process at attach: mp_ when it can be read,
 * else pinned by its environment, else unknown within glibc's dynamic range
 * [128 KiB, 32 MiB] (an unseen mallopt() is not accounted for). why gets a
 * one-line note for -v (where the value came from, or why it is unknown). */
struct am_thr am_glibc_attach_threshold(pid_t pid, const char *obj, char *why, size_t whylen);

/* The threshold state of a process that just exec'd (glibc's start value,
 * or what its environment pins; unknown when /proc/PID/environ is gone). */
struct am_thr am_glibc_exec_threshold(pid_t pid);

#endif /* ALLOCMAP_GLIBC_PARAMS_H */
