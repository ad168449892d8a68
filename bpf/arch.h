// SPDX-License-Identifier: GPL-2.0
/* arch.h - the architecture seam: picks the one header that holds what
 * allocmap knows of the target architecture (registers, syscall numbers,
 * where a function's return address is at its entry, page size). The
 * Makefile passes -D__TARGET_ARCH_$(ARCH) to the BPF and the host compiler
 * alike. Generic code includes this, never bpf/arch/<arch>.h, and names no
 * register. README.md ("Porting to another architecture") says what a new
 * architecture adds. */
#ifndef ALLOCMAP_ARCH_H
#define ALLOCMAP_ARCH_H

#if defined(__TARGET_ARCH_x86)
#include "arch/x86.h"
#else
#error "allocmap supports x86-64 only (__TARGET_ARCH_x86): see README.md, Porting to another architecture"
#endif

/* What every architecture header defines (checked here so that a port
 * missing one fails at its first build, not at run time; a missing
 * AM_NR_<ENUM> for a row of AM_SYSCALL_TABLE fails in allocmap.bpf.c). */
#if !defined(AM_ARCH_NAME) || !defined(AM_PAGE_SIZE) || !defined(AM_PREG_TABLE) || \
    !defined(AM_ARCH_NARGREGS) || !defined(AM_ARCH_SP_NAME) || !defined(AM_ENTRY_RA_SLOT) || \
    !defined(AM_RET_ENTRY_SP) || !defined(AM_NR_IS_FORK) || !defined(AM_SYSCALL_NR) || \
    !defined(AM_SYSCALL_ARGS) || !defined(AM_REGS_IP_CORE) || !defined(AM_REGS_SP_CORE) || \
    !defined(AM_REGS_FP_CORE)
#error "bpf/arch/<arch>.h is incomplete: see bpf/arch/x86.h for what it must define"
#endif

/* Registers an argument can be read from at a probe (placement.h), as the
 * uprobe cookie numbers them (bpf/allocmap.h: 4 bits each). */
#define AM_PREG_ENUM_(e, field, name) AM_PREG_##e,
enum am_preg {
	AM_PREG_TABLE(AM_PREG_ENUM_)
	AM_PREG__COUNT,
};
#undef AM_PREG_ENUM_
_Static_assert(AM_PREG__COUNT <= 16, "the uprobe cookie holds 4-bit register numbers");
_Static_assert(AM_ARCH_NARGREGS <= 6 && AM_ARCH_NARGREGS <= AM_PREG__COUNT,
	       "the argument registers come first in AM_PREG_TABLE");

#endif /* ALLOCMAP_ARCH_H */
