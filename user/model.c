/* model.c - the name tables of the event model (model.h): allocator
 * functions, memory syscalls, region kinds and glibc/musl threshold reasons, in
 * enum order, as the renderers print them. */
#include "model.h"

const char *const am_fn_names[AM_FN__COUNT] = {
	[AM_FN_MALLOC]         = "malloc",
	[AM_FN_CALLOC]         = "calloc",
	[AM_FN_REALLOC]        = "realloc",
	[AM_FN_REALLOCARRAY]   = "reallocarray",
	[AM_FN_FREE]           = "free",
	[AM_FN_POSIX_MEMALIGN] = "posix_memalign",
	[AM_FN_ALIGNED_ALLOC]  = "aligned_alloc",
	[AM_FN_MEMALIGN]       = "memalign",
	[AM_FN_VALLOC]         = "valloc",
	[AM_FN_PVALLOC]        = "pvalloc",
};

const char *const am_sys_names[AM_SYS__COUNT] = {
	[AM_SYS_BRK]      = "brk",
	[AM_SYS_MMAP]     = "mmap",
	[AM_SYS_MUNMAP]   = "munmap",
	[AM_SYS_MREMAP]   = "mremap",
	[AM_SYS_MPROTECT] = "mprotect",
	[AM_SYS_MADVISE]  = "madvise",
};

const char *const am_region_names[AM_REG__COUNT] = {
	[AM_REG_UNKNOWN]     = "unknown",
	[AM_REG_HEAP]        = "heap",
	[AM_REG_MMAP]        = "mmap",
	[AM_REG_ARENA]       = "arena",
	[AM_REG_PREEXISTING] = "preexisting",
	[AM_REG_DIRECT]      = "direct",
};

const char *const am_reason_names[AM_WHY__COUNT] = {
	[AM_WHY_NONE]            = "",
	[AM_WHY_UNDER_THRESHOLD] = "under_threshold",
	[AM_WHY_FIT_TOP]         = "fit_top_chunk",
	[AM_WHY_OVER_THRESHOLD]  = "over_threshold",
	[AM_WHY_GROUP]           = "size_class_group",
};
