// SPDX-License-Identifier: GPL-2.0
/* unwind_arch.h - the architecture's half of the DWARF unwinder (unwind.c):
 * which DWARF registers a stack record's user registers are
 * (unwind_$(ARCH).c, e.g. unwind_x86.c). */
#ifndef ALLOCMAP_UNWIND_ARCH_H
#define ALLOCMAP_UNWIND_ARCH_H

#include <stdbool.h>
#include <elfutils/libdwfl.h>
#include "../bpf/allocmap.h"

/* Hands libdwfl the registers the unwind of stack record e starts from
 * (e->ip, e->sp, e->bp: the user registers at the capture point). */
bool am_unw_arch_initial_regs(Dwfl_Thread *thread, const struct am_stack_event *e);

/* The DWARF number of the frame-pointer register (the one e->bp is). */
extern const unsigned am_unw_arch_fp_dwarf;

#endif /* ALLOCMAP_UNWIND_ARCH_H */
