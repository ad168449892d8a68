// SPDX-License-Identifier: GPL-2.0
/* resolve.h - which object each allocator function of a process binds to,
 * and where its uprobe goes. Follows the dynamic linker's interposition
 * order: the executable, LD_PRELOAD and /etc/ld.so.preload objects, then the
 * DT_NEEDED libraries breadth-first (libc among the last); per function the
 * first object that defines it wins. Works for a running pid (objects from
 * /proc/PID/maps, read through /proc/PID/root) or for a command that is about
 * to be exec'd (objects found the way ld.so would find them). */
#ifndef ALLOCMAP_RESOLVE_H
#define ALLOCMAP_RESOLVE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "placement.h"

enum am_alloc_kind {
	AM_ALLOC_UNKNOWN,
	AM_ALLOC_GLIBC,
	AM_ALLOC_JEMALLOC,
	AM_ALLOC_TCMALLOC,
	AM_ALLOC_MIMALLOC,
	AM_ALLOC_OTHER,
	AM_ALLOC_MUSL,       /* musl's malloc (mallocng): its dynamic linker is its libc */
};

struct am_fn_probe {
	bool found;                 /* some object defines it (and it can be probed) */
	char path[PATH_MAX];        /* path to pass to uprobe attach (for a pid: "/proc/PID/root" + obj,
	                               or /proc/PID/map_files/... for a deleted file) */
	char obj[PATH_MAX];         /* path as the process sees it, for messages */
	uint64_t func_off;          /* file offset of the function start */
	struct am_placement place;  /* probe = func_off + place.offset; place.why also says why
	                               a function is !found when an object defines it as an ifunc */
};

struct am_resolution {
	struct am_fn_probe fn[AM_FN_MAX];   /* by enum am_fn / --alloc id */
	bool no_alloc;              /* no malloc to probe (Go, stripped static): syscalls only */
	char no_alloc_why[PATH_MAX + 96];
	enum am_alloc_kind kind;    /* from the object that provides malloc */
	bool musl_not_ng;           /* musl, but not mallocng: the bump allocator of a static program
	                               that never frees, or the malloc of musl < 1.2.1 (static
	                               binaries only; a dynamic musl is assumed to be >= 1.2.1) */
	char alloc_obj[PATH_MAX];   /* that object */
	bool threshold_pinned;      /* MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES glibc.malloc.mmap_threshold
	                               set (to a value glibc accepts, <= 32 MiB) in the environment */
	uint64_t threshold_value;   /* its value when pinned */
};

/* Resolves the allocator functions of running process pid. Placement assumes
 * a uretprobe shares each entry probe (need_ret), so the stack pointer is never disturbed
 * before the probe. Returns 0, or -1 with a short lowercase message in err
 * ("no such process", "cannot read /proc/42/maps: permission denied",
 * "no loaded object defines malloc", ...). */
int am_resolve_pid(pid_t pid, struct am_resolution *r, char *err, size_t errlen);

/* The same for a command before it is exec'd: file is searched in $PATH (of
 * this process, as execvp does) when it has no slash; envp is the
 * environment it will get (LD_PRELOAD, LD_LIBRARY_PATH and the threshold
 * variables are read from it; NULL = no environment). Libraries are searched
 * in DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH ($ORIGIN expanded), then the
 * default directories; /etc/ld.so.cache is not read. Returns 0 or -1 + err. */
int am_resolve_exec(const char *file, char *const envp[], struct am_resolution *r,
		    char *err, size_t errlen);

/* Reads /proc/PID/environ into a NULL-terminated vector: one allocation
 * (pointers then strings), released with free(). NULL when unreadable. */
char **am_read_environ(pid_t pid);

/* Finds a library by file name in the system library directories (the
 * dynamic linker's defaults): 0 with its path in out, or -1 (out then holds
 * the path it would have in the multiarch directory, for messages). */
int am_find_system_lib(const char *name, char *out, size_t outlen);

/* "unknown", "glibc", "jemalloc", "tcmalloc", "mimalloc", "other", "musl". */
const char *am_alloc_kind_name(enum am_alloc_kind k);

#endif /* ALLOCMAP_RESOLVE_H */
