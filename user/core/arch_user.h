// SPDX-License-Identifier: GPL-2.0
/* arch_user.h - the user-space half of the architecture seam: what user
 * space assumes of the target architecture beyond bpf/arch.h (which it
 * includes: page size, register order): the ELF machine of the objects it
 * probes, the C library's default directories, byte order. One block per
 * architecture, selected like bpf/arch.h by -D__TARGET_ARCH_$(ARCH). */
#ifndef ALLOCMAP_ARCH_USER_H
#define ALLOCMAP_ARCH_USER_H

#include "../bpf/arch.h"

#if defined(__TARGET_ARCH_x86)
#define AM_ARCH_ELF_MACHINE 62 /* EM_X86_64: objects of another machine are not probed */
/* ld.so's default library directories (Debian multiarch first), searched
 * after DT_RPATH, LD_LIBRARY_PATH and DT_RUNPATH */
#define AM_ARCH_LIB_DIRS \
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"
#define AM_ARCH_LITTLE_ENDIAN 1 /* how a target's memory reads (glibc's mp_) */
#define AM_ARCH_MMAP_FLAGS { 0x40, "MAP_32BIT" }, /* mmap flags of this architecture only */
#else
#error "user/core/arch_user.h has no block for this architecture: see README.md, Porting to another architecture"
#endif

#endif /* ALLOCMAP_ARCH_USER_H */
