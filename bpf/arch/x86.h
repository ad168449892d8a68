// SPDX-License-Identifier: GPL-2.0
/* x86.h - x86-64 for allocmap: the registers, syscall numbers and stack
 * rules the BPF programs rely on, and the register order the placement
 * (user/probe/placement_x86.c) shares with them. Included through
 * bpf/arch.h only. Compiled by clang -target bpf (with vmlinux.h: struct
 * pt_regs has the kernel's field names di, si, ...) and by the host
 * compiler, which sees the constants and never expands the BPF macros. */
#ifndef ALLOCMAP_ARCH_X86_H
#define ALLOCMAP_ARCH_X86_H

#define AM_ARCH_NAME "x86-64"
#define AM_PAGE_SIZE 4096 /* the (smallest) page size: lengths are rounded to it */

/* Registers an allocator argument can be read from at its probe, in the
 * order of enum am_preg (user/probe/placement.h), which the uprobe cookie's
 * argument map uses (4 bits each: at most 16): the integer-argument
 * registers first, in ABI order, then those an argument may be copied to
 * before the first emulated instruction (mimalloc: mov rsi, rdi).
 * X(ENUM suffix, struct pt_regs field, name as the placement prints it) */
#define AM_PREG_TABLE(X) \
	X(RDI, di,  "rdi") X(RSI, si,  "rsi") X(RDX, dx,  "rdx") X(RCX, cx,  "rcx") \
	X(R8,  r8,  "r8")  X(R9,  r9,  "r9")  X(RAX, ax,  "rax") X(RBX, bx,  "rbx") \
	X(RBP, bp,  "rbp") X(R10, r10, "r10") X(R11, r11, "r11") X(R12, r12, "r12") \
	X(R13, r13, "r13") X(R14, r14, "r14") X(R15, r15, "r15")
#define AM_ARCH_NARGREGS 6 /* integer-argument registers (rdi rsi rdx rcx r8 r9) */
#define AM_ARCH_SP_NAME "rsp"

/* The return address at a function's entry: `call` pushed it, so it is in
 * memory at the entry sp, and a uretprobe swaps it for its trampoline
 * there. AM_ENTRY_RA_SLOT(sp): the address of that slot. At the return
 * probe `ret` has popped it: the entry sp was sp - 8. */
#define AM_ENTRY_RA_SLOT(sp)  (sp)
#define AM_RET_ENTRY_SP(ctx)  (PT_REGS_SP(ctx) - 8)

/* Syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl), one per row of
 * AM_SYSCALL_TABLE (bpf/allocmap.h). */
#define AM_NR_BRK      12
#define AM_NR_MMAP     9
#define AM_NR_MUNMAP   11
#define AM_NR_MREMAP   25
#define AM_NR_MPROTECT 10
#define AM_NR_MADVISE  28
/* clone, fork, vfork, clone3: what a followed child returns from first */
#define AM_NR_IS_FORK(nr) ((nr) == 56 || (nr) == 57 || (nr) == 58 || (nr) == 435)

/* A struct pt_regs * at the raw syscall tracepoints, read with CO-RE: the
 * syscall number at sys_exit, the six arguments (the fourth is in r10, not
 * rcx, which `syscall` clobbers), and the user ip, sp and frame pointer. */
#define AM_SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define AM_SYSCALL_ARGS(regs, a) do {       \
	(a)[0] = BPF_CORE_READ(regs, di);   \
	(a)[1] = BPF_CORE_READ(regs, si);   \
	(a)[2] = BPF_CORE_READ(regs, dx);   \
	(a)[3] = BPF_CORE_READ(regs, r10);  \
	(a)[4] = BPF_CORE_READ(regs, r8);   \
	(a)[5] = BPF_CORE_READ(regs, r9);   \
} while (0)
#define AM_REGS_IP_CORE(regs) BPF_CORE_READ(regs, ip)
#define AM_REGS_SP_CORE(regs) BPF_CORE_READ(regs, sp)
#define AM_REGS_FP_CORE(regs) BPF_CORE_READ(regs, bp)

#endif /* ALLOCMAP_ARCH_X86_H */
