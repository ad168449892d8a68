// SPDX-License-Identifier: GPL-2.0
/* allocmap.h - the whole contract between the BPF programs (bpf/) and the
 * daemon (user/): event records sent over the ring buffer, enums and limits.
 * Fixed-width types only, no libc includes: this file is compiled by both
 * clang -target bpf (with vmlinux.h) and the host compiler (with <stdint.h>
 * providing the __u* names through <linux/types.h>). */
#ifndef ALLOCMAP_H
#define ALLOCMAP_H

#define AM_MAX_DEPTH     4     /* allocator calls nested inside one thread */
#define AM_MAX_TARGETS   1024  /* traced processes (tgids) */
#define AM_MAX_THREADS   16384 /* threads with per-thread state */
#define AM_FP_MAX        32    /* frame-pointer chain entries in a stack record */
#define AM_STACK_MAX     16384 /* most user-stack bytes one stack record can carry */

/* Shapes of allocator functions: how the arguments and the result read.
 * Every traced function, built in or named with --alloc, has one.
 * X(ENUM suffix, name (--alloc SYM=NAME, JSON "role"), integer arguments
 * read, shape). The enum, the names, the argument counts (placement) and
 * the README's role table derive from this. */
#define AM_ROLE_TABLE(X) \
	X(MALLOC,         "malloc",         1, "(size) -> ptr")                          \
	X(CALLOC,         "calloc",         2, "(nmemb, size) -> ptr")                   \
	X(REALLOC,        "realloc",        2, "(ptr, size) -> ptr")                     \
	X(REALLOCARRAY,   "reallocarray",   3, "(ptr, nmemb, size) -> ptr")              \
	X(FREE,           "free",           1, "(ptr)")                                  \
	X(POSIX_MEMALIGN, "posix_memalign", 3, "(memptr, align, size) -> 0 / errno, *memptr") \
	X(MEMALIGN,       "memalign",       2, "(align, size) -> ptr")                   \
	X(VALLOC,         "valloc",         1, "(size) -> page-aligned ptr")             \
	X(PVALLOC,        "pvalloc",        1, "(size rounded up to pages) -> page-aligned ptr") \
	X(NEW_ALIGNED,    "new_aligned",    2, "(size, align) -> ptr: C++ operator new(size_t, align_val_t)") \
	X(FREE_SIZED,     "free_sized",     2, "(ptr, size): C++ sized operator delete")

#define AM_ROLE_ENUM_(e, name, nargs, shape) AM_ROLE_##e,
enum am_role {
	AM_ROLE_TABLE(AM_ROLE_ENUM_)
	AM_ROLE__COUNT,
};
#undef AM_ROLE_ENUM_

/* The built-in allocator functions: one row each, and every layer derives
 * from this table (the enum here; names, symbols and roles in user/core/model.c;
 * the resolver, the placement, the renderers and the JSON names from those).
 * X(ENUM suffix, ELF symbol, name as printed, role). Functions named with
 * --alloc get ids from AM_FN__COUNT up to AM_FN_MAX - 1 at run time. */
#define AM_FN_TABLE(X) \
	X(MALLOC,         "malloc",         "malloc",         MALLOC)         \
	X(CALLOC,         "calloc",         "calloc",         CALLOC)         \
	X(REALLOC,        "realloc",        "realloc",        REALLOC)        \
	X(REALLOCARRAY,   "reallocarray",   "reallocarray",   REALLOCARRAY)   \
	X(FREE,           "free",           "free",           FREE)           \
	X(POSIX_MEMALIGN, "posix_memalign", "posix_memalign", POSIX_MEMALIGN) \
	X(ALIGNED_ALLOC,  "aligned_alloc",  "aligned_alloc",  MEMALIGN)       \
	X(MEMALIGN,       "memalign",       "memalign",       MEMALIGN)       \
	X(VALLOC,         "valloc",         "valloc",         VALLOC)         \
	X(PVALLOC,        "pvalloc",        "pvalloc",        PVALLOC)        \
	X(NEW,            "_Znwm",          "operator new",   MALLOC)         \
	X(NEW_ARR,        "_Znam",          "operator new[]", MALLOC)         \
	X(NEW_NT,         "_ZnwmRKSt9nothrow_t",   "operator new(nothrow)",   MALLOC) \
	X(NEW_ARR_NT,     "_ZnamRKSt9nothrow_t",   "operator new[](nothrow)", MALLOC) \
	X(NEW_AL,         "_ZnwmSt11align_val_t",  "operator new(align)",     NEW_ALIGNED) \
	X(NEW_ARR_AL,     "_ZnamSt11align_val_t",  "operator new[](align)",   NEW_ALIGNED) \
	X(NEW_AL_NT,      "_ZnwmSt11align_val_tRKSt9nothrow_t", "operator new(align, nothrow)",   NEW_ALIGNED) \
	X(NEW_ARR_AL_NT,  "_ZnamSt11align_val_tRKSt9nothrow_t", "operator new[](align, nothrow)", NEW_ALIGNED) \
	X(DELETE,         "_ZdlPv",         "operator delete",   FREE)        \
	X(DELETE_ARR,     "_ZdaPv",         "operator delete[]", FREE)        \
	X(DELETE_SZ,      "_ZdlPvm",        "operator delete(sized)",   FREE_SIZED) \
	X(DELETE_ARR_SZ,  "_ZdaPvm",        "operator delete[](sized)", FREE_SIZED) \
	X(DELETE_NT,      "_ZdlPvRKSt9nothrow_t", "operator delete(nothrow)",   FREE) \
	X(DELETE_ARR_NT,  "_ZdaPvRKSt9nothrow_t", "operator delete[](nothrow)", FREE) \
	X(DELETE_AL,      "_ZdlPvSt11align_val_t",  "operator delete(align)",   FREE) \
	X(DELETE_ARR_AL,  "_ZdaPvSt11align_val_t",  "operator delete[](align)", FREE) \
	X(DELETE_SZ_AL,   "_ZdlPvmSt11align_val_t", "operator delete(sized, align)",   FREE_SIZED) \
	X(DELETE_ARR_SZ_AL, "_ZdaPvmSt11align_val_t", "operator delete[](sized, align)", FREE_SIZED) \
	X(DELETE_AL_NT,   "_ZdlPvSt11align_val_tRKSt9nothrow_t", "operator delete(align, nothrow)",   FREE) \
	X(DELETE_ARR_AL_NT, "_ZdaPvSt11align_val_tRKSt9nothrow_t", "operator delete[](align, nothrow)", FREE)

#define AM_FN_ENUM_(e, sym, name, role) AM_FN_##e,
enum am_fn {
	AM_FN_TABLE(AM_FN_ENUM_)
	AM_FN__COUNT,      /* built-in functions */
	AM_FN_MAX = 64,    /* built-in plus --alloc functions */
};
#undef AM_FN_ENUM_

/* The memory syscalls traced: one row each, and every layer derives from
 * this table (the enum here; the BPF side's syscall-number switch through
 * each architecture's AM_NR_<ENUM> in bpf/arch/; names in user/core/model.c;
 * the renderers, the JSON "syscall" names, the report's lanes and colours,
 * per-syscall counters and the README's table from those).
 * X(ENUM suffix, name as printed and in JSON, returns an address (else an
 * int), colour in the HTML pages, what args[] of struct am_os_event hold).
 * A new row needs AM_NR_<ENUM> in every bpf/arch/ header, and its arguments
 * decoded where the renderers print them (output.c, top_view.c, report.js). */
#define AM_SYSCALL_TABLE(X) \
	X(BRK,      "brk",      1, "#2f6fdb", "addr")                                  \
	X(MMAP,     "mmap",     1, "#e08a00", "addr, len, prot, flags, fd, off")       \
	X(MUNMAP,   "munmap",   0, "#d64545", "addr, len")                             \
	X(MREMAP,   "mremap",   1, "#8a4fd8", "old_addr, old_len, new_len, flags, new_addr") \
	X(MPROTECT, "mprotect", 0, "#1f9bb0", "addr, len, prot")                       \
	X(MADVISE,  "madvise",  0, "#c2489b", "addr, len, advice")

#define AM_SYS_ENUM_(e, name, ret_addr, color, args) AM_SYS_##e,
enum am_sys {
	AM_SYSCALL_TABLE(AM_SYS_ENUM_)
	AM_SYS__COUNT,
};
#undef AM_SYS_ENUM_

enum am_ev_type {
	AM_EV_CALL = 1, /* struct am_call_event */
	AM_EV_OS   = 2, /* struct am_os_event */
	AM_EV_TASK = 3, /* struct am_task_event */
	AM_EV_STACK = 4, /* struct am_stack_event + stack_len bytes */
};

/* What user stacks are captured (rodata stack_mode). */
enum am_stack_mode {
	AM_STACKS_OFF = 0,
	AM_STACKS_OS  = 1, /* OS requests only (the causing call's stack is derived from them) */
	AM_STACKS_ALL = 2, /* OS requests and outermost allocator calls (--sample N: every Nth call) */
};

/* am_stack_event.kind: which record the stack belongs to */
enum am_stack_kind {
	AM_STACK_CALL = 1, /* id is a call id: captured at the call's entry */
	AM_STACK_OS   = 2, /* id is an OS request id: captured at the syscall's exit */
};

/* am_call_event.flags */
#define AM_CALL_NESTED  0x01 /* made inside another allocator call (glibc realloc -> malloc) */
#define AM_CALL_MISSED  0x02 /* the return was never seen (longjmp, thread exit): ret/out invalid */
#define AM_CALL_NORET   0x04 /* function traced at entry only (no return probe) */
#define AM_CALL_FROM_OBJ 0x08 /* called from the object that defines it (outermost calls
				 only): e.g. glibc freeing its own caches at thread exit */

/* am_os_event.pad0 (flags) */
#define AM_OS_ATTACHING 0x01 /* the thread may be inside a call that began before the
				probes were in (-p): its cause cannot be known */
#define AM_OS_STARTUP   0x02 /* made by the dynamic loader's own code (the syscall
				instruction in ld.so's text) while the process starts: after
				its exec, before any memory syscall made from elsewhere */

/* BPF cookie of an allocator uprobe: which function it is and where its
 * arguments are at the probe. One entry and one return program serve every
 * function; the cookie tells them apart.
 * bits 0..11   with AM_COOKIE_ARGMAP: argument i is read from the register
 *              whose enum am_preg index (bpf/arch.h, from the architecture's
 *              AM_PREG_TABLE) is in bits 4i..4i+3; without it, from the ABI
 *              registers. The probe may sit past an instruction that copied
 *              an argument (mimalloc on x86-64: mov rsi, rdi;
 *              mov rdi, fs:[...]) to stay on an emulated insn.
 * bits 16..23  enum am_fn (or an --alloc function id)
 * bits 24..27  enum am_role
 * bit  60      AM_COOKIE_USER: an --alloc function (never "allocator-internal")
 * bit  61      AM_COOKIE_NORET: traced without a return probe (--free-noret)
 * bit  63      AM_COOKIE_ARGMAP */
#define AM_COOKIE_ARGMAP (1ULL << 63)
#define AM_COOKIE_NORET  (1ULL << 61)
#define AM_COOKIE_USER   (1ULL << 60)
#define AM_COOKIE_FN(c)   ((__u8)((c) >> 16))
#define AM_COOKIE_ROLE(c) ((__u8)(((c) >> 24) & 0xf))
#define AM_COOKIE_MAKE(fn, role) (((__u64)(fn) << 16) | ((__u64)(role) << 24))

/* Emitted when an allocator call returns (or is found to have never returned).
 * OS requests it caused were emitted before it and carry its id. */
struct am_call_event {
	__u8  type;      /* AM_EV_CALL */
	__u8  fn;        /* enum am_fn */
	__u8  flags;     /* AM_CALL_* */
	__u8  depth;     /* 0 = outermost */
	__u32 n_os;      /* OS requests attributed to this call (outermost only) */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u64 id;        /* call id, unique in a run, starts at 1 */
	__u64 ts_enter;  /* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
	__u64 ts_exit;
	__u64 args[3];   /* raw arguments, see enum am_fn */
	__u64 ret;       /* return value (pointer, or int for posix_memalign) */
	__u64 out;       /* posix_memalign: *memptr after the call; else = ret */
	__u64 ra;        /* return address at entry: where the call came from */
};

/* Emitted at the exit of a memory syscall made by a traced thread. */
struct am_os_event {
	__u8  type;      /* AM_EV_OS */
	__u8  sys;       /* enum am_sys */
	__u8  cause_fn;  /* enum am_fn of the causing call when call_id != 0 */
	__u8  pad0;      /* AM_OS_* flags */
	__u32 pad1;
	__u32 pid;
	__u32 tid;
	__u64 id;        /* OS request id, unique in a run, starts at 1 */
	__u64 call_id;   /* outermost allocator call in progress, 0 = direct */
	__u64 ts_enter;
	__u64 ts_exit;
	__u64 args[6];   /* see enum am_sys */
	__s64 ret;       /* raw syscall return (negative errno on failure) */
};

/* A user stack, emitted before the record it belongs to (same thread, so
 * the ring buffer keeps that order). Debian's libc has no frame pointers:
 * user space unwinds data[] (a copy of the stack from sp upward) with DWARF
 * CFI, starting from ip/sp/bp, and splices in the frame-pointer chain ips[]
 * (bpf_get_stack) where the copy ends. The record is stack_bytes (rodata)
 * long after the header, or AM_STACK_SMALL for an AM_SEV_WHOLE copy that
 * fits; only stack_len bytes of data[] are valid. */
struct am_stack_event {
	__u8  type;      /* AM_EV_STACK */
	__u8  kind;      /* enum am_stack_kind */
	__u16 n_ips;     /* valid entries in ips[] */
	__u32 stack_len; /* bytes of data[] copied from sp (0: copy failed or not asked) */
	__u32 pid;
	__u32 tid;
	__u64 id;        /* call id or OS request id */
	__u64 ip, sp, bp;/* user registers at the capture point */
	__u64 call_sp;   /* AM_STACK_OS: entry sp of the outermost allocator call in
			    progress (*call_sp is its return address), 0 = none */
	__u32 n_ret;     /* AM_STACK_OS: allocator calls in progress (<= AM_MAX_DEPTH) */
	__u32 flags;     /* AM_SEV_* */
	__u64 tstart;    /* the thread's start time (task start_time): am_stack_top.tstart */
	/* Their return addresses as they were at entry, and where they sit:
	 * the uretprobe replaces each with its trampoline in the stack. */
	__u64 ret_sp[AM_MAX_DEPTH];
	__u64 ret_ip[AM_MAX_DEPTH];
	__u64 ips[AM_FP_MAX]; /* frame-pointer chain, innermost first (ips[0] = ip) */
	__u8  data[];
};

/* am_stack_event.flags */
#define AM_SEV_WHOLE 0x1 /* data[] runs from sp to the thread's stack top (am_stack_top):
			    it holds every frame, and ips[] was not taken (user space
			    walks the frame-pointer chain in data[]) */

/* Whole-stack copies this short go in records this long. */
#define AM_STACK_SMALL 1024

/* What user space learned of a thread's stack (map stack_tops, keyed by
 * tid; written by user space, deleted at the thread's exit): its outermost
 * frame lies below top, so a copy of [sp, top) holds the whole stack. An
 * unwind that reached the outermost frame sets it; each later stack of that
 * thread then copies that much instead of stack_bytes, and skips
 * bpf_get_stack, whose frame-pointer walk faults at the end of every chain
 * (Debian's libc uses rbp as a plain register). Valid only for the thread
 * started at tstart: tids are reused. */
struct am_stack_top {
	__u64 top;
	__u64 tstart;
};

enum am_task_kind {
	AM_TASK_FORK = 1, /* pid = parent tgid, child = new tgid (followed with -f) */
	AM_TASK_EXEC = 2, /* pid exec'd a new image; code = 1: it is held (SIGSTOP) until continued */
	AM_TASK_EXIT = 3, /* the whole process (thread group) exited */
	AM_TASK_HELD = 4, /* pid is stopped (SIGSTOP from BPF) until its probes are in:
			     a -f child at its return from fork, or a process at exec */
};

struct am_task_event {
	__u8  type;      /* AM_EV_TASK */
	__u8  kind;      /* enum am_task_kind */
	__u16 pad0;
	__u32 pad1;
	__u32 pid;
	__u32 tid;
	__u32 child;     /* AM_TASK_FORK: child tgid */
	__s32 code;      /* AM_TASK_EXIT: exit code (wait status) */
	__u64 ts;
	char  comm[16];  /* the reporting task's name (AM_TASK_EXEC: the new
	                    program's; raw bytes from the target) */
};

/* Counters kept in the BPF object's .bss (struct am_counters am_cnt),
 * read by user space at the end and printed in every summary. */
struct am_counters {
	__u64 lost_call;      /* ring buffer full: call events dropped */
	__u64 lost_os;        /* ring buffer full: OS events dropped */
	__u64 lost_task;      /* ring buffer full: task events dropped */
	__u64 missed_ret;     /* calls whose return was never seen */
	__u64 depth_overflow; /* calls nested deeper than AM_MAX_DEPTH (not traced) */
	__u64 thread_full;    /* threads map full: calls/syscalls not traced */
	__u64 orphan_ret;     /* return probe hit with no matching entry */
	__u64 lost_stack;     /* ring buffer full: stack records dropped */
	__u64 stack_failed;   /* user stack could not be read at all (no copy, FP chain only) */
	__u64 inflight_ret;   /* returns of calls that began before the probes were in (-p) */
	__u64 attach_unknown; /* syscalls whose cause cannot be known: their thread may be in a
				 call that began before the probes were in (-p) */
	__u64 held;           /* processes held (SIGSTOP) until their probes were in */
};

/* Value of the BPF "targets" map (key: tgid). */
struct am_bpf_target {
	__u64 since;   /* threads that started before this time (bpf_ktime_get_ns) may be inside
			  an allocator call that began before the probes were in; 0 = none */
	__u32 flags;   /* AM_TGT_* */
	__u32 obj_next;/* which of obj_lo/hi[] to replace next */
	__u64 obj_lo[2], obj_hi[2]; /* code mappings of the probed objects, last two seen by
				       any thread (bpf_find_vma can fail under mmap_lock
				       contention: one success serves the whole process) */
	__u64 ld_base;         /* AM_TGT_STARTUP: where the kernel loaded the program
				  interpreter (auxv AT_BASE) */
	__u64 ld_lo, ld_hi;    /* its code mapping, once found (0, 0 before) */
};
#define AM_TGT_HOLD_START 0x1 /* -f child: stop it at its first return to user space */
#define AM_TGT_SKIP_EXEC  0x2 /* launched command: its first exec needs no hold */
#define AM_TGT_STARTUP    0x4 /* exec'd with an interpreter, which has made every memory
				 syscall since: they are marked AM_OS_STARTUP */

/* Per-thread state of the BPF side (map "threads", keyed by tid). Shared so
 * that user space can read the frees still pending at the end of a trace. */
struct am_bpf_frame {
	__u64 id;      /* call id */
	__u64 sp;      /* user stack pointer at the probe: *sp is the return address */
	__u64 ts;      /* entry time */
	__u64 args[3];
	__u64 ra;      /* *sp at entry (the real return address): --stacks, and noret frames */
	__u32 n_os;    /* OS requests made while this was the outermost frame */
	__u8  fn;
	__u8  noret;   /* traced without a return probe (free): done once the stack moved on */
	__u8  role;    /* enum am_role */
	__u8  from_obj;/* called from the object that defines it (AM_CALL_FROM_OBJ) */
};

struct am_bpf_thread {
	__u32 depth;              /* frames in use */
	__u32 sys;                /* syscall in progress: enum am_sys + 1, 0 = none */
	__u32 tgid;               /* the thread's process */
	__u8  clean;              /* no untraced allocator call can be in progress (see bpf) */
	__u8  pad[3];
	__u64 tramp;              /* the process's uretprobe trampoline address, 0 = not read yet */
	__u64 sys_ts;
	__u64 sys_args[6];
	struct am_bpf_frame f[AM_MAX_DEPTH];
};

#endif /* ALLOCMAP_H */
