// SPDX-License-Identifier: GPL-2.0
/* placement.c - emulation-aware uprobe placement (see placement.h): the walk
 * along a function's entry path, which follows where each argument is and
 * stops at the first instruction the kernel emulates. What an instruction
 * is and does comes from the architecture's decoder (placement_arch.h,
 * placement_$(ARCH).c). Everything about registers is conservative: when
 * in doubt an instruction is taken to write the register, and the probe
 * falls back to the entry. */
#include "model.h"
#include "placement.h"
#include "placement_arch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Register names as the explanations print them (enum am_preg order). */
#define AM_PREG_NAME_(e, field, name) [AM_PREG_##e] = name,
static const char *const reg_names[AM_PREG__COUNT] = { AM_PREG_TABLE(AM_PREG_NAME_) };
#undef AM_PREG_NAME_

static void set_insn_text(struct am_placement *out, const struct am_insn *in)
{
	if (in->ops[0])
		snprintf(out->insn, sizeof(out->insn), "%.20s %.42s", in->mnemonic, in->ops);
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

/* The probe goes on emulated instruction in (kind) at off, n_insn
 * instructions in: each argument is read from its ABI register if it is
 * still there, else from a copy. */
static void at_emulated(struct am_placement *out, const struct am_insn *in, uint64_t off,
			int n_insn, const uint32_t *where, int nargs, bool need_ret)
{
	bool moved = false;

	out->offset = off;
	out->emulated = true;
	out->fallback = false;
	set_insn_text(out, in);
	for (int i = 0; i < nargs; i++) {
		int b = (where[i] & (1u << i)) ? i : __builtin_ctz(where[i]);

		out->argreg[i] = (int8_t)b;
		moved |= b != i;
	}
	if (!n_insn)
		snprintf(out->why, sizeof(out->why), "entry insn is emulated (%s)", in->emulated);
	else
		snprintf(out->why, sizeof(out->why),
			 "first emulated insn (%s); skipped %d insn%s that lose no argument%s%s",
			 in->emulated, n_insn, n_insn == 1 ? "" : "s",
			 need_ret ? " nor touch " AM_ARCH_SP_NAME : "",
			 moved ? " (arguments read from their copies)" : "");
}

/* Updates where[] (registers holding argument i) past instruction in.
 * Returns the first argument left in no register, or nargs. */
static int track_args(const struct am_insn *in, uint32_t *where, int nargs)
{
	int r;

	for (r = 0; r < nargs; r++) {
		uint32_t had = where[r];

		for (int k = 0; k < AM_PREG__COUNT; k++)
			if (in->written[k])
				where[r] &= ~(1u << k);
		/* a plain register copy keeps the argument, in a new place */
		if (in->copy_dst >= 0 && in->copy_src >= 0 && (had & (1u << in->copy_src)))
			where[r] |= 1u << in->copy_dst;
		if (!where[r])
			break;
	}
	return r;
}

/* Why instruction in at off ends the walk without a probe spot (the probe
 * then goes to the entry), or NULL when the walk may go past it. */
static const char *stop_reason(const struct am_insn *in, uint64_t off, uint32_t *where,
			       int nargs, bool need_ret, char *why, size_t whylen)
{
	int r;

	if (in->control_flow) {
		snprintf(why, whylen, "fallback: '%.40s %.30s' at +%" PRIu64 " leaves the straight path",
			 in->mnemonic, in->ops, off);
		return why;
	}
	if (!in->regs_known) {
		snprintf(why, whylen, "fallback: cannot tell which registers '%.40s' at +%" PRIu64 " writes",
			 in->mnemonic, off);
		return why;
	}
	r = track_args(in, where, nargs);
	if (r < nargs || (need_ret && in->written[AM_PLACE_SP])) {
		const char *what = r < nargs ? "the last copy of argument" : "stack pointer (uretprobe)";
		const char *reg = r < nargs ? reg_names[r] : AM_ARCH_SP_NAME;

		char msg[192];

		snprintf(msg, sizeof(msg), "fallback: '%.24s %.32s' at +%" PRIu64 " overwrites %s %s",
			 in->mnemonic, in->ops, off, what, reg);
		size_t n = strnlen(msg, whylen - 1); /* cut to whylen, as ever */

		memcpy(why, msg, n);
		why[n] = '\0';
		return why;
	}
	return NULL;
}

int am_place_probe(const uint8_t *code, size_t len, uint64_t addr, int nargs, bool need_ret,
		   struct am_placement *out)
{
	char entry_text[64] = "", why[128];
	struct am_decoder *d;
	struct am_insn in;
	size_t done = 0;
	int n_insn = 0, ret = 0;
	uint32_t where[AM_ARCH_NARGREGS]; /* registers that hold argument i (bit per am_preg) */

	memset(out, 0, sizeof(*out));
	if (nargs < 0)
		nargs = 0;
	if (nargs > AM_ARCH_NARGREGS)
		nargs = AM_ARCH_NARGREGS;
	for (int i = 0; i < AM_ARCH_NARGREGS; i++) {
		where[i] = 1u << i;
		out->argreg[i] = (int8_t)i;
	}
	if (!code || !len) {
		snprintf(out->why, sizeof(out->why), "no code bytes to decode");
		return -1;
	}
	d = am_dec_open(out->why, sizeof(out->why));
	if (!d)
		return -1;
	for (;; n_insn++, done += in.size) {
		if (n_insn >= AM_PLACE_MAX_INSNS || done >= len) {
			snprintf(why, sizeof(why), "fallback: no emulated insn in the first %d insns (%zu bytes)",
				 n_insn, done);
			at_entry(out, entry_text, false, true, why);
			break;
		}
		if (am_dec_insn(d, code + done, len - done, addr + done, &in)) {
			if (!n_insn) {
				snprintf(out->why, sizeof(out->why), "cannot decode the entry instruction");
				ret = -1;
			} else {
				snprintf(why, sizeof(why), "fallback: cannot decode the insn at +%zu%s",
					 done, len - done < 16 ? " (bytes given end there)" : "");
				at_entry(out, entry_text, false, true, why);
			}
			break;
		}
		if (!n_insn) {
			struct am_placement tmp;

			set_insn_text(&tmp, &in);
			memcpy(entry_text, tmp.insn, sizeof(entry_text));
		}
		if (in.emulated) {
			at_emulated(out, &in, done, n_insn, where, nargs, need_ret);
			break;
		}
		if (stop_reason(&in, done, where, nargs, need_ret, why, sizeof(why))) {
			at_entry(out, entry_text, false, true, why);
			break;
		}
	}
	am_dec_close(d);
	return ret;
}

int am_fn_nargs(enum am_fn fn)
{
	return am_role_nargs(am_fn_role(fn));
}
