// SPDX-License-Identifier: GPL-2.0
/* placement_x86.c - the x86-64 instruction decoder of the probe placement
 * (placement_arch.h). Capstone decodes; which instructions the kernel
 * emulates at a uprobe is decided from the raw bytes, exactly as
 * arch/x86/kernel/uprobes.c does it (no prefixes but REX.B on push), so a
 * disassembler quirk can never make us promise a cheap probe that is in
 * fact single-stepped. Everything about registers is conservative: when in
 * doubt an instruction is taken to write the register. */
#include "placement_arch.h"

#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R_NONE (-1)

struct am_decoder {
	csh h;
	cs_insn *in;
};

/* The full 64-bit register a Capstone id names (enum am_preg), or R_NONE
 * for a narrower one (a 32-bit mov zero-extends: not a copy of a size_t). */
static int reg64(unsigned int r)
{
	switch (r) {
	case X86_REG_RDI: return AM_PREG_RDI;
	case X86_REG_RSI: return AM_PREG_RSI;
	case X86_REG_RDX: return AM_PREG_RDX;
	case X86_REG_RCX: return AM_PREG_RCX;
	case X86_REG_R8:  return AM_PREG_R8;
	case X86_REG_R9:  return AM_PREG_R9;
	case X86_REG_RAX: return AM_PREG_RAX;
	case X86_REG_RBX: return AM_PREG_RBX;
	case X86_REG_RBP: return AM_PREG_RBP;
	case X86_REG_R10: return AM_PREG_R10;
	case X86_REG_R11: return AM_PREG_R11;
	case X86_REG_R12: return AM_PREG_R12;
	case X86_REG_R13: return AM_PREG_R13;
	case X86_REG_R14: return AM_PREG_R14;
	case X86_REG_R15: return AM_PREG_R15;
	default:          return R_NONE;
	}
}

/* Maps any sub-register of a tracked register to it (edi/di/dil -> rdi),
 * rsp and its parts to AM_PLACE_SP. */
static int canon_reg(unsigned int r)
{
	switch (r) {
	case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL: case X86_REG_AH:
		return AM_PREG_RAX;
	case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: case X86_REG_BH:
		return AM_PREG_RBX;
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL:
		return AM_PREG_RBP;
	case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B:
		return AM_PREG_R10;
	case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B:
		return AM_PREG_R11;
	case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B:
		return AM_PREG_R12;
	case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B:
		return AM_PREG_R13;
	case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B:
		return AM_PREG_R14;
	case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B:
		return AM_PREG_R15;
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL:
		return AM_PREG_RDI;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return AM_PREG_RSI;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH:
		return AM_PREG_RDX;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: case X86_REG_CH:
		return AM_PREG_RCX;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B:
		return AM_PREG_R8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B:
		return AM_PREG_R9;
	case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL:
		return AM_PLACE_SP;
	default:
		return R_NONE;
	}
}

/* The kernel's emulated set, by exact encoding. Returns a short name
 * ("push", "jmp", "call", "jcc", "nop") or NULL when single-stepped. */
static const char *emulated_kind(const uint8_t *b, size_t n)
{
	if (n == 1 && b[0] >= 0x50 && b[0] <= 0x57)
		return "push";
	if (n == 1 && b[0] == 0x90)
		return "nop";
	if (n == 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57)
		return "push";
	if (n == 2 && b[0] == 0xeb)
		return "jmp";
	if (n == 2 && b[0] >= 0x70 && b[0] <= 0x7f)
		return "jcc";
	if (n == 5 && b[0] == 0xe9)
		return "jmp";
	if (n == 5 && b[0] == 0xe8)
		return "call";
	if (n == 6 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f)
		return "jcc";
	return NULL;
}

static bool is_endbr64(const uint8_t *b, size_t len)
{
	static const uint8_t endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

	return len >= 4 && memcmp(b, endbr, 4) == 0;
}

/* Does the instruction leave the straight-line path (any jump, call, return,
 * interrupt, or an instruction that never falls through)? */
static bool is_control_flow(const cs_insn *in)
{
	const cs_detail *d = in->detail;
	uint8_t i;

	for (i = 0; i < d->groups_count; i++) {
		switch (d->groups[i]) {
		case CS_GRP_JUMP: case CS_GRP_CALL: case CS_GRP_RET:
		case CS_GRP_INT: case CS_GRP_IRET: case CS_GRP_BRANCH_RELATIVE:
			return true;
		}
	}
	switch (in->id) {
	case X86_INS_SYSCALL: case X86_INS_SYSENTER: case X86_INS_SYSEXIT: case X86_INS_SYSRET:
	case X86_INS_UD2: case X86_INS_UD0: case X86_INS_HLT: case X86_INS_INT3:
	case X86_INS_INT: case X86_INS_INT1: case X86_INS_INTO:
	case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
	case X86_INS_JRCXZ: case X86_INS_JECXZ: case X86_INS_JCXZ:
		return true;
	}
	return false;
}

/* Sets written[r] for every tracked register the instruction may write.
 * Sources: Capstone's implicit+explicit register list, every register operand
 * not known to be read-only, and, for rsp, a store through [rsp]. Returns
 * false when Capstone cannot say (the caller then assumes the worst). */
static bool regs_written(csh h, const cs_insn *in, bool written[AM_PLACE_NREGS])
{
	const cs_x86 *x = &in->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0, i;

	memset(written, 0, AM_PLACE_NREGS * sizeof(bool));
	if (cs_regs_access(h, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
		return false;
	for (i = 0; i < nwr; i++) {
		int r = canon_reg(wr[i]);

		if (r != R_NONE)
			written[r] = true;
	}
	for (i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_REG && (op->access & CS_AC_WRITE || !op->access)) {
			int r = canon_reg(op->reg);

			if (r != R_NONE)
				written[r] = true;
		} else if (op->type == X86_OP_MEM && (op->access & CS_AC_WRITE || !op->access) &&
			   canon_reg(op->mem.base) == AM_PLACE_SP) {
			/* may overwrite the return address a uretprobe needs at [rsp] */
			written[AM_PLACE_SP] = true;
		}
	}
	/* belt and braces for instructions with implicit rsp/rdx/rax effects */
	switch (in->id) {
	case X86_INS_PUSH: case X86_INS_POP: case X86_INS_PUSHFQ: case X86_INS_POPFQ:
	case X86_INS_PUSHF: case X86_INS_POPF: case X86_INS_ENTER: case X86_INS_LEAVE:
		written[AM_PLACE_SP] = true;
		break;
	case X86_INS_MUL: case X86_INS_DIV: case X86_INS_IDIV: case X86_INS_CQO:
	case X86_INS_CDQ: case X86_INS_CWD: case X86_INS_RDTSC: case X86_INS_RDTSCP:
	case X86_INS_RDPMC: case X86_INS_RDMSR: case X86_INS_XGETBV:
		written[AM_PREG_RDX] = written[AM_PREG_RAX] = true;
		break;
	case X86_INS_IMUL:
		if (x->op_count == 1)
			written[AM_PREG_RDX] = written[AM_PREG_RAX] = true;
		break;
	case X86_INS_CPUID:
		written[AM_PREG_RCX] = written[AM_PREG_RDX] = written[AM_PREG_RAX] = written[AM_PREG_RBX] = true;
		break;
	}
	return true;
}

struct am_decoder *am_dec_open(char *why, size_t whylen)
{
	struct am_decoder *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->h) != CS_ERR_OK) {
		snprintf(why, whylen, "capstone: cannot open an x86-64 decoder");
		free(d);
		return NULL;
	}
	cs_option(d->h, CS_OPT_DETAIL, CS_OPT_ON);
	d->in = cs_malloc(d->h);
	if (!d->in) {
		cs_close(&d->h);
		free(d);
		snprintf(why, whylen, "capstone: out of memory");
		return NULL;
	}
	return d;
}

void am_dec_close(struct am_decoder *d)
{
	if (!d)
		return;
	cs_free(d->in, 1);
	cs_close(&d->h);
	free(d);
}

int am_dec_insn(struct am_decoder *d, const uint8_t *code, size_t left, uint64_t pc,
		struct am_insn *out)
{
	const uint8_t *p = code;
	cs_insn *in = d->in;

	memset(out, 0, sizeof(*out));
	out->copy_dst = out->copy_src = R_NONE;
	if (is_endbr64(code, left)) {
		/* Capstone 4 may not know it; it writes nothing and is single-stepped */
		out->size = 4;
		out->regs_known = true;
		snprintf(out->mnemonic, sizeof(out->mnemonic), "endbr64");
		return 0;
	}
	if (!cs_disasm_iter(d->h, &p, &left, &pc, in))
		return -1;
	out->size = in->size;
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", in->mnemonic);
	snprintf(out->ops, sizeof(out->ops), "%s", in->op_str);
	out->emulated = emulated_kind(code, in->size);
	out->control_flow = is_control_flow(in);
	out->regs_known = regs_written(d->h, in, out->written);
	/* a plain 64-bit register copy keeps an argument, in a new place */
	if (in->id == X86_INS_MOV && in->detail->x86.op_count == 2 &&
	    in->detail->x86.operands[0].type == X86_OP_REG &&
	    in->detail->x86.operands[1].type == X86_OP_REG) {
		out->copy_dst = reg64(in->detail->x86.operands[0].reg);
		out->copy_src = reg64(in->detail->x86.operands[1].reg);
	}
	return 0;
}
