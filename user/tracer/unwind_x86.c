// SPDX-License-Identifier: GPL-2.0
/* unwind_x86.c - x86-64 registers for the DWARF unwinder (unwind_arch.h):
 * the psABI's DWARF numbers 6 (rbp) and 7 (rsp), and the pc. */
#include <linux/types.h>
#include "unwind_arch.h"

#define DWARF_RBP 6 /* DWARF_RSP is 7: set together, in this order */

const unsigned am_unw_arch_fp_dwarf = DWARF_RBP;

bool am_unw_arch_initial_regs(Dwfl_Thread *thread, const struct am_stack_event *e)
{
	Dwarf_Word regs[2] = { e->bp, e->sp };

	if (!dwfl_thread_state_registers(thread, DWARF_RBP, 2, regs))
		return false;
	dwfl_thread_state_register_pc(thread, e->ip);
	return true;
}
