// SPDX-License-Identifier: GPL-2.0
/* placement.c - emulation-aware uprobe placement for x86-64 (see placement.h).
 * Capstone decodes the entry path; which instructions the kernel emulates is
 * decided from the raw bytes, exactly as arch/x86/kernel/uprobes.c does it
 * (no prefixes but REX.B on push), so a disassembler quirk can never make us
 * promise a cheap probe that is in fact single-stepped. Everything about
 * registers is conservative: when in doubt an instruction is taken to write
 * the register, and the probe falls back to the entry. */
#include "model.h"
#include "placement.h"

#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Canonical registers we track: the six argument registers, the other
 * general-purpose registers an argument may be copied into (same order as
 * enum am_preg), then rsp. */
enum { R_RDI, R_RSI, R_RDX, R_RCX, R_R8, R_R9, R_RAX, R_RBX, R_RBP, R_R10, R_R11,
       R_R12, R_R13, R_R14, R_R15, R_RSP, R__COUNT, R_NONE = -1 };
static const char *const reg_names[R__COUNT] = {
	"rdi", "rsi", "rdx", "rcx", "r8", "r9", "rax", "rbx", "rbp", "r10", "r11",
	"r12", "r13", "r14", "r15", "rsp",
};

/* The full 64-bit register a Capstone id names, or R_NONE for a narrower
 * one (a 32-bit mov zero-extends: not a copy of a size_t). */
static int reg64(unsigned int r)
{
	switch (r) {
	case X86_REG_RDI: return R_RDI;
	case X86_REG_RSI: return R_RSI;
	case X86_REG_RDX: return R_RDX;
	case X86_REG_RCX: return R_RCX;
	case X86_REG_R8:  return R_R8;
	case X86_REG_R9:  return R_R9;
	case X86_REG_RAX: return R_RAX;
	case X86_REG_RBX: return R_RBX;
	case X86_REG_RBP: return R_RBP;
	case X86_REG_R10: return R_R10;
	case X86_REG_R11: return R_R11;
	case X86_REG_R12: return R_R12;
	case X86_REG_R13: return R_R13;
	case X86_REG_R14: return R_R14;
	case X86_REG_R15: return R_R15;
	default:          return R_NONE;
	}
}

/* Maps any sub-register of a tracked register to it (edi/di/dil -> rdi). */
static int canon_reg(unsigned int r)
{
	switch (r) {
	case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL: case X86_REG_AH:
		return R_RAX;
	case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: case X86_REG_BH:
		return R_RBX;
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL:
		return R_RBP;
	case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B:
		return R_R10;
	case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B:
		return R_R11;
	case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B:
		return R_R12;
	case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B:
		return R_R13;
	case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B:
		return R_R14;
	case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B:
		return R_R15;
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL:
		return R_RDI;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return R_RSI;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH:
		return R_RDX;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: case X86_REG_CH:
		return R_RCX;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B:
		return R_R8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B:
		return R_R9;
	case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL:
		return R_RSP;
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
static bool regs_written(csh h, const cs_insn *in, bool written[R__COUNT])
{
	const cs_x86 *x = &in->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0, i;

	memset(written, 0, R__COUNT * sizeof(bool));
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
			   canon_reg(op->mem.base) == R_RSP) {
			/* may overwrite the return address a uretprobe needs at [rsp] */
			written[R_RSP] = true;
		}
	}
	/* belt and braces for instructions with implicit rsp/rdx/rax effects */
	switch (in->id) {
	case X86_INS_PUSH: case X86_INS_POP: case X86_INS_PUSHFQ: case X86_INS_POPFQ:
	case X86_INS_PUSHF: case X86_INS_POPF: case X86_INS_ENTER: case X86_INS_LEAVE:
		written[R_RSP] = true;
		break;
	case X86_INS_MUL: case X86_INS_DIV: case X86_INS_IDIV: case X86_INS_CQO:
	case X86_INS_CDQ: case X86_INS_CWD: case X86_INS_RDTSC: case X86_INS_RDTSCP:
	case X86_INS_RDPMC: case X86_INS_RDMSR: case X86_INS_XGETBV:
		written[R_RDX] = written[R_RAX] = true;
		break;
	case X86_INS_IMUL:
		if (x->op_count == 1)
			written[R_RDX] = written[R_RAX] = true;
		break;
	case X86_INS_CPUID:
		written[R_RCX] = written[R_RDX] = written[R_RAX] = written[R_RBX] = true;
		break;
	}
	return true;
}

static void set_insn_text(struct am_placement *out, const cs_insn *in)
{
	if (in->op_str[0])
		snprintf(out->insn, sizeof(out->insn), "%.20s %.42s", in->mnemonic, in->op_str);
	else
		snprintf(out->insn, sizeof(out->insn), "%.63s", in->mnemonic);
}

/* Fills out for a probe at the entry (offset 0) with the given reason. */
static void at_entry(struct am_placement *out, const char *entry_text, bool emulated,
		     bool fallback, const char *why)
{
	out->offset = 0;
	out->emulated = emulated;
	out->fallback = fallback;
	snprintf(out->insn, sizeof(out->insn), "%.63s", entry_text);
	snprintf(out->why, sizeof(out->why), "%.127s", why);
}

int am_place_probe(const uint8_t *code, size_t len, uint64_t addr, int nargs, bool need_ret,
		   struct am_placement *out)
{
	char entry_text[64] = "", why[128];
	csh h;
	cs_insn *in;
	const uint8_t *p = code;
	size_t left = len;
	uint64_t pc = addr;
	int n_insn = 0, ret = 0;
	uint32_t where[6]; /* registers that hold argument i (bit per R_*) */

	memset(out, 0, sizeof(*out));
	if (nargs < 0)
		nargs = 0;
	if (nargs > 6)
		nargs = 6;
	for (int i = 0; i < 6; i++) {
		where[i] = 1u << i;
		out->argreg[i] = (int8_t)i;
	}
	if (!code || !len) {
		snprintf(out->why, sizeof(out->why), "no code bytes to decode");
		return -1;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		snprintf(out->why, sizeof(out->why), "capstone: cannot open an x86-64 decoder");
		return -1;
	}
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(h);
	if (!in) {
		cs_close(&h);
		snprintf(out->why, sizeof(out->why), "capstone: out of memory");
		return -1;
	}

	for (;;) {
		const uint8_t *start = p;
		uint64_t off = pc - addr;
		const char *kind;
		bool written[R__COUNT];
		int r;

		if (n_insn >= AM_PLACE_MAX_INSNS || !left) {
			snprintf(why, sizeof(why), "fallback: no emulated insn in the first %d insns (%zu bytes)",
				 n_insn, len - left);
			at_entry(out, entry_text, false, true, why);
			break;
		}
		if (is_endbr64(p, left)) {
			/* Capstone 4 may not know it; it writes nothing and is single-stepped */
			if (!n_insn)
				snprintf(entry_text, sizeof(entry_text), "endbr64");
			p += 4, left -= 4, pc += 4, n_insn++;
			continue;
		}
		if (!cs_disasm_iter(h, &p, &left, &pc, in)) {
			if (!n_insn) {
				snprintf(out->why, sizeof(out->why), "cannot decode the entry instruction");
				ret = -1;
			} else {
				snprintf(why, sizeof(why), "fallback: cannot decode the insn at +%" PRIu64 "%s",
					 off, left < 16 ? " (bytes given end there)" : "");
				at_entry(out, entry_text, false, true, why);
			}
			break;
		}
		if (!n_insn) {
			struct am_placement tmp;

			set_insn_text(&tmp, in);
			memcpy(entry_text, tmp.insn, sizeof(entry_text));
		}
		kind = emulated_kind(start, in->size);
		if (kind) {
			out->offset = off;
			out->emulated = true;
			out->fallback = false;
			set_insn_text(out, in);
			/* where each argument is now: its ABI register if still there */
			bool moved = false;

			for (int i = 0; i < nargs; i++) {
				int b = (where[i] & (1u << i)) ? i : __builtin_ctz(where[i]);

				out->argreg[i] = (int8_t)b;
				moved |= b != i;
			}
			if (!n_insn)
				snprintf(out->why, sizeof(out->why), "entry insn is emulated (%s)", kind);
			else
				snprintf(out->why, sizeof(out->why),
					 "first emulated insn (%s); skipped %d insn%s that lose no argument%s%s",
					 kind, n_insn, n_insn == 1 ? "" : "s", need_ret ? " nor touch rsp" : "",
					 moved ? " (arguments read from their copies)" : "");
			break;
		}
		if (is_control_flow(in)) {
			snprintf(why, sizeof(why), "fallback: '%.40s %.30s' at +%" PRIu64 " leaves the straight path",
				 in->mnemonic, in->op_str, off);
			at_entry(out, entry_text, false, true, why);
			break;
		}
		if (!regs_written(h, in, written)) {
			snprintf(why, sizeof(why), "fallback: cannot tell which registers '%.40s' at +%" PRIu64 " writes",
				 in->mnemonic, off);
			at_entry(out, entry_text, false, true, why);
			break;
		}
		{
			/* a plain 64-bit register copy keeps the argument, in a new place */
			int dst = R_NONE, src = R_NONE;

			if (in->id == X86_INS_MOV && in->detail->x86.op_count == 2 &&
			    in->detail->x86.operands[0].type == X86_OP_REG &&
			    in->detail->x86.operands[1].type == X86_OP_REG) {
				dst = reg64(in->detail->x86.operands[0].reg);
				src = reg64(in->detail->x86.operands[1].reg);
			}
			for (r = 0; r < nargs; r++) {
				uint32_t had = where[r];

				for (int k = 0; k < R_RSP; k++)
					if (written[k])
						where[r] &= ~(1u << k);
				if (dst != R_NONE && src != R_NONE && (had & (1u << src)))
					where[r] |= 1u << dst;
				if (!where[r])
					break;
			}
		}
		if (r < nargs || (need_ret && written[R_RSP])) {
			const char *what = r < nargs ? "the last copy of argument" : "stack pointer (uretprobe)";
			const char *reg = r < nargs ? reg_names[r] : "rsp";

			snprintf(why, sizeof(why), "fallback: '%.24s %.32s' at +%" PRIu64 " overwrites %s %s",
				 in->mnemonic, in->op_str, off, what, reg);
			at_entry(out, entry_text, false, true, why);
			break;
		}
		n_insn++;
	}
	cs_free(in, 1);
	cs_close(&h);
	return ret;
}

int am_fn_nargs(enum am_fn fn)
{
	return am_role_nargs(am_fn_role(fn));
}
