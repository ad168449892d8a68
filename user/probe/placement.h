// SPDX-License-Identifier: GPL-2.0
/* placement.h - where in an allocator function to put its uprobe.
 * The kernel emulates only a few instructions at a probe (x86-64: push reg,
 * direct jmp/call/jcc, one-byte nop) and single-steps every other one out of
 * line, which costs ~30x more (~21 us vs ~0.7 us per hit, FACTS.md). So the
 * probe goes on the first emulated instruction of the function's straight-line
 * entry path, provided nothing before it changed the argument registers (or,
 * when a uretprobe shares the spot, the stack pointer); else at the entry.
 * The walk is generic (placement.c); the instruction decoder is the
 * architecture's (placement_arch.h, placement_$(ARCH).c). */
#ifndef ALLOCMAP_PLACEMENT_H
#define ALLOCMAP_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/allocmap.h"
#include "../bpf/arch.h"

#define AM_PLACE_MAX_INSNS 32 /* instructions walked from the entry */

struct am_placement {
	uint64_t offset;   /* bytes from the function start where the probe goes */
	bool emulated;     /* the kernel emulates the instruction there (cheap) */
	bool fallback;     /* no safe emulated instruction found: probe at entry (offset 0) */
	char insn[64];     /* instruction at the probe, e.g. "push rbp" (x86-64, Intel syntax) */
	char why[128];     /* one-line explanation */
	int8_t argreg[6];  /* register holding argument i at the probe (enum am_preg,
	                      bpf/arch.h): an allocator may copy an argument before
	                      its first emulated insn (mimalloc: mov rsi, rdi) */
};

/* Chooses the probe offset in one function.
 * code/len: the function's first bytes (read >= 64 bytes when available; the
 * walk stops at len or at AM_PLACE_MAX_INSNS instructions); addr: its address,
 * used only to print branch targets; nargs: how many integer argument
 * registers (the first AM_ARCH_NARGREGS of enum am_preg, in ABI order:
 * x86-64 rdi, rsi, rdx, rcx, r8, r9) must still hold the arguments at the
 * probe (or a plain full-width copy of them: out->argreg says which register
 * then holds each); need_ret: a uretprobe goes to the same offset, so
 * nothing before it may touch the stack pointer or store through it.
 * Returns 0 with *out filled (out->fallback when the entry had to be used),
 * or -1 when not even the entry instruction decodes (out->why says so). */
int am_place_probe(const uint8_t *code, size_t len, uint64_t addr, int nargs, bool need_ret,
		   struct am_placement *out);

/* Integer arguments of an allocator function: malloc 1, calloc 2, realloc 2,
 * reallocarray 3, free 1, posix_memalign 3, aligned_alloc 2, memalign 2,
 * valloc 1, pvalloc 1; -1 for an unknown value. */
int am_fn_nargs(enum am_fn fn);

#endif /* ALLOCMAP_PLACEMENT_H */
