// SPDX-License-Identifier: GPL-2.0
/* unwind.h - turns a BPF stack record (struct am_stack_event: registers, a
 * copy of the user stack, the frame-pointer chain) into symbolized frames,
 * with elfutils libdwfl: DWARF CFI unwinding over the captured copy (as perf
 * --call-graph dwarf does), the frame-pointer chain spliced in where the
 * copy ends, and function+offset / source file:line per frame (C++ and Rust
 * names demangled, the ELF symbol kept in am_frame.mangled). It tells the
 * BPF side where each thread's stack ends (am_unw__set_tops), so that
 * later copies hold just the stack.
 *
 * The module layout of each process comes from /proc/PID/maps, read while
 * the process lives (first stack, exec, every executable file mapping seen in
 * the event stream) and merged, never dropped until exec, so stacks still
 * symbolize after the process exited. Binaries are opened through
 * /proc/PID/root; each object is read once per run (one libelf handle
 * shared by every process mapping it); stripped objects give obj+offset. */
#ifndef ALLOCMAP_UNWIND_H
#define ALLOCMAP_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

enum am_unwind_mode {
	AM_UNWIND_AUTO = 0, /* DWARF over the stack copy, frame pointers where it ends */
	AM_UNWIND_DWARF,    /* DWARF only */
	AM_UNWIND_FP,       /* frame-pointer chain only (no stack copy needed) */
};

#define AM_UNW_MAX_FRAMES 128

struct am_unw;

/* Returns NULL on failure. */
struct am_unw *am_unw__new(enum am_unwind_mode mode);
/* Accepts NULL. Frees every string handed out: call it last. */
void am_unw__free(struct am_unw *u);

/* Read /proc/PID/maps now (if the process lives) and merge it into what is
 * known of pid's modules. */
void am_unw__refresh(struct am_unw *u, uint32_t pid);
/* pid exec'd at monotonic time ts: forget the modules of its old image,
 * then refresh. */
void am_unw__exec(struct am_unw *u, uint32_t pid, uint64_t ts);
/* parent forked child: the child starts with the parent's module layout
 * (a child that exits at once has no /proc/PID/maps left to read). */
void am_unw__fork(struct am_unw *u, uint32_t parent, uint32_t child);
/* pid exited (its last record has been consumed): free what is kept for
 * it (its Dwfl, modules, symbol cache). Frames already returned stay valid:
 * their strings belong to u. */
void am_unw__exit(struct am_unw *u, uint32_t pid);
/* Thread-safe, cheap: take a /proc/PID/maps snapshot now, merged by the
 * next call of the other functions. Called from a thread woken by the BPF
 * side when pid's layout changes, while the consumer may be busy. */
void am_unw__snapshot(struct am_unw *u, uint32_t pid);

/* The BPF map stack_tops (struct am_stack_top): where each thread's stack
 * ends, told to the BPF side once an unwind reached its outermost frame. */
void am_unw__set_tops(struct am_unw *u, int fd);

/* What the unwinder did, for -v. */
struct am_unw_stats {
	uint64_t stacks;         /* records unwound */
	uint64_t whole;          /* of which whole-stack copies (AM_SEV_WHOLE) */
	uint64_t memo_hits;      /* DWARF unwinds answered from memory */
	uint64_t tops_learned;   /* stack tops told to the BPF side */
	uint64_t tops_dropped;   /* and found wrong */
};
void am_unw__stats(const struct am_unw *u, struct am_unw_stats *out);

/* Unwinds and symbolizes the stack record e (len bytes). Writes up to max
 * frames to out, innermost first, and returns their number (0 if the
 * record is malformed). *flags gets AM_STK_*; *cut (OS stacks) the index of
 * the frame of the outermost allocator call in progress (its caller is
 * cut + 1), or -1 when unknown. */
size_t am_unw__stack(struct am_unw *u, const void *e, size_t len, struct am_frame *out,
		     size_t max, uint32_t *flags, int *cut);

#endif /* ALLOCMAP_UNWIND_H */
