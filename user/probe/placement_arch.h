// SPDX-License-Identifier: GPL-2.0
/* placement_arch.h - the architecture's half of the probe placement: an
 * instruction decoder (placement_$(ARCH).c, e.g. placement_x86.c) that says,
 * for each instruction on a function's entry path, what the generic walk in
 * placement.c needs to know: does the kernel emulate it at a uprobe (cheap)
 * or single-step it (dear), does it leave the straight-line path, which
 * registers may it write, is it a plain copy of one register to another.
 * Registers are numbered as enum am_preg (bpf/arch.h), the stack pointer
 * after them. */
#ifndef ALLOCMAP_PLACEMENT_ARCH_H
#define ALLOCMAP_PLACEMENT_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../bpf/arch.h"

#define AM_PLACE_SP    AM_PREG__COUNT       /* the stack pointer's index */
#define AM_PLACE_NREGS (AM_PREG__COUNT + 1)

/* One decoded instruction. */
struct am_insn {
	size_t size;                  /* bytes */
	const char *emulated;         /* the kernel emulates it at a probe: a short kind
	                                 ("push", "jmp", "jcc", ...); NULL: single-stepped */
	bool control_flow;            /* may leave the straight-line path (jump, call,
	                                 return, trap, an insn that never falls through) */
	bool regs_known;              /* written[] is known (else assume the worst) */
	bool written[AM_PLACE_NREGS]; /* may write the register; [AM_PLACE_SP]: the stack
	                                 pointer, or a store through it (the return address
	                                 a uretprobe needs may be there) */
	int copy_dst, copy_src;       /* a plain full-width register copy dst <- src
	                                 (enum am_preg), else -1 */
	char mnemonic[32];            /* "push" */
	char ops[160];                /* "rbp" ("" when none) */
};

struct am_decoder;

/* Returns NULL with a one-line reason in why when no decoder can be had. */
struct am_decoder *am_dec_open(char *why, size_t whylen);
/* Decodes the instruction at code (left bytes available, at address pc:
 * used only to print branch targets). Returns 0, or -1 when it does not
 * decode (or runs past left). */
int am_dec_insn(struct am_decoder *d, const uint8_t *code, size_t left, uint64_t pc,
		struct am_insn *out);
void am_dec_close(struct am_decoder *d); /* accepts NULL */

#endif /* ALLOCMAP_PLACEMENT_ARCH_H */
