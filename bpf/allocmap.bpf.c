// SPDX-License-Identifier: GPL-2.0
/* allocmap.bpf.c - kernel side of allocmap.
 *
 * uprobes/uretprobes on the allocator's malloc family keep a small stack of
 * in-progress calls per thread; raw (BTF) tracepoints on sys_enter/sys_exit
 * record the memory syscalls of traced processes and tag each with the
 * outermost allocator call in progress on that thread, which is its cause.
 * Everything goes to user space over one ring buffer (bpf/allocmap.h).
 *
 * Why it looks the way it does:
 *  - uprobes are attached per pid by user space, so they fire only in traced
 *    processes; the syscall tracepoints fire for every process on the box, so
 *    they filter on the syscall number, then the tgid, first thing.
 *  - tp_btf needs no tracefs (not mounted on a fresh machine).
 *  - a call whose return never comes (longjmp out of a malloc hook, thread
 *    exit) would leave its frame forever and make later calls look nested.
 *    Each frame remembers the stack pointer at entry: the stack grows down,
 *    so a frame whose entry sp is not above the current sp cannot still be
 *    active. Such frames are reported as missed and popped.
 *  - ring buffer wakeups cost more than the probe itself, so events are
 *    submitted without one until the ring passes a fill watermark.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "allocmap.h"

char LICENSE[] SEC("license") = "GPL";

/* set by user space between open and load */
const volatile __u64 wakeup_bytes = 1 << 20; /* force a wakeup past this much unread data */
const volatile bool follow_forks = false;

struct am_counters am_cnt = {};
__u64 next_call_id = 0;
__u64 next_os_id = 0;

struct frame {
	__u64 id;      /* call id */
	__u64 sp;      /* user stack pointer at the probe: *sp is the return address */
	__u64 ts;      /* entry time */
	__u64 args[3];
	__u32 n_os;    /* OS requests made while this was the outermost frame */
	__u8  fn;
	__u8  pad[3];
};

struct thread_state {
	__u32 depth;              /* frames in use */
	__u32 sys;                /* syscall in progress: enum am_sys + 1, 0 = none */
	__u64 sys_ts;
	__u64 sys_args[6];
	struct frame f[AM_MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AM_MAX_TARGETS);
	__type(key, __u32);   /* tgid */
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AM_MAX_THREADS);
	__type(key, __u32);   /* tid */
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20); /* resized by user space */
} rb SEC(".maps");

static const struct thread_state zero_state = {};

static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline struct thread_state *get_state(__u32 tid, bool create)
{
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	if (st || !create)
		return st;
	if (bpf_map_update_elem(&threads, &tid, &zero_state, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&threads, &tid)) {
		__sync_fetch_and_add(&am_cnt.thread_full, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&threads, &tid);
}

/* Report frame f as a call whose return was never seen. */
static __always_inline void emit_missed(struct frame *f, __u32 depth, __u64 pid_tgid)
{
	struct am_call_event *e;

	__sync_fetch_and_add(&am_cnt.missed_ret, 1);
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&am_cnt.lost_call, 1);
		return;
	}
	e->type = AM_EV_CALL;
	e->fn = f->fn;
	e->flags = AM_CALL_MISSED | (depth ? AM_CALL_NESTED : 0);
	e->depth = depth;
	e->n_os = depth ? 0 : f->n_os;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->id = f->id;
	e->ts_enter = f->ts;
	e->ts_exit = 0;
	e->args[0] = f->args[0];
	e->args[1] = f->args[1];
	e->args[2] = f->args[2];
	e->ret = 0;
	e->out = 0;
	bpf_ringbuf_submit(e, rb_flags());
}

/* Pop the frames that cannot be active any more: those whose entry sp is
 * below limit. A frame with entry sp equal to the current sp is still active:
 * that is a tail call (reallocarray jumps to realloc, which jumps to malloc),
 * whose returns arrive chained, innermost first, all at the same sp. */
static __always_inline void pop_stale(struct thread_state *st, __u64 limit, __u64 pid_tgid)
{
#pragma unroll
	for (int i = AM_MAX_DEPTH - 1; i >= 0; i--) {
		if ((__u32)i >= st->depth)
			continue;
		if (st->f[i].sp >= limit)
			break;
		emit_missed(&st->f[i], i, pid_tgid);
		st->depth = i;
	}
}

static __always_inline int on_enter(struct pt_regs *ctx, __u8 fn, __u64 a0, __u64 a1, __u64 a2)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 sp = PT_REGS_SP(ctx);
	struct thread_state *st;
	struct frame *f;
	__u32 d;

	st = get_state((__u32)pid_tgid, true);
	if (!st)
		return 0;
	if (st->depth)
		pop_stale(st, sp, pid_tgid);
	d = st->depth;
	if (d >= AM_MAX_DEPTH) {
		__sync_fetch_and_add(&am_cnt.depth_overflow, 1);
		return 0;
	}
	f = &st->f[d];
	f->id = __sync_fetch_and_add(&next_call_id, 1) + 1;
	f->sp = sp;
	f->ts = bpf_ktime_get_ns();
	f->args[0] = a0;
	f->args[1] = a1;
	f->args[2] = a2;
	f->n_os = 0;
	f->fn = fn;
	st->depth = d + 1;
	return 0;
}

static __always_inline int on_exit(struct pt_regs *ctx, __u8 fn)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* the return address has been popped: the entry sp was sp - 8 */
	__u64 sp = PT_REGS_SP(ctx) - 8;
	struct am_call_event *e;
	struct thread_state *st;
	struct frame *f;
	__u32 d;

	st = get_state((__u32)pid_tgid, false);
	if (!st || !st->depth) {
		__sync_fetch_and_add(&am_cnt.orphan_ret, 1);
		return 0;
	}
	/* deeper frames that never returned sit below our entry sp */
	pop_stale(st, sp, pid_tgid);
	d = st->depth;
	if (d == 0 || d > AM_MAX_DEPTH) {
		__sync_fetch_and_add(&am_cnt.orphan_ret, 1);
		return 0;
	}
	d--;
	f = &st->f[d];
	if (f->sp != sp || f->fn != fn) {
		__sync_fetch_and_add(&am_cnt.orphan_ret, 1);
		return 0;
	}
	st->depth = d;

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&am_cnt.lost_call, 1);
		return 0;
	}
	e->type = AM_EV_CALL;
	e->fn = fn;
	e->flags = d ? AM_CALL_NESTED : 0;
	e->depth = d;
	e->n_os = f->n_os;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->id = f->id;
	e->ts_enter = f->ts;
	e->ts_exit = bpf_ktime_get_ns();
	e->args[0] = f->args[0];
	e->args[1] = f->args[1];
	e->args[2] = f->args[2];
	e->ret = PT_REGS_RC(ctx);
	e->out = e->ret;
	if (fn == AM_FN_POSIX_MEMALIGN) {
		__u64 out = 0;

		if (e->ret == 0)
			bpf_probe_read_user(&out, sizeof(out), (void *)f->args[0]);
		e->out = out;
	}
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

/* One entry/return pair per function: the function is known from the
 * program, and only the argument registers it has are read. */
#define AM_PROBES(name, FN, A0, A1, A2)					\
SEC("uprobe")								\
int BPF_KPROBE(name##_enter)						\
{									\
	return on_enter(ctx, FN, A0, A1, A2);				\
}									\
SEC("uretprobe")							\
int BPF_KRETPROBE(name##_exit)						\
{									\
	return on_exit(ctx, FN);					\
}

AM_PROBES(malloc,         AM_FN_MALLOC,         PT_REGS_PARM1(ctx), 0, 0)
AM_PROBES(calloc,         AM_FN_CALLOC,         PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0)
AM_PROBES(realloc,        AM_FN_REALLOC,        PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0)
AM_PROBES(reallocarray,   AM_FN_REALLOCARRAY,   PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx))
AM_PROBES(free,           AM_FN_FREE,           PT_REGS_PARM1(ctx), 0, 0)
AM_PROBES(posix_memalign, AM_FN_POSIX_MEMALIGN, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx))
AM_PROBES(aligned_alloc,  AM_FN_ALIGNED_ALLOC,  PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0)
AM_PROBES(memalign,       AM_FN_MEMALIGN,       PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0)
AM_PROBES(valloc,         AM_FN_VALLOC,         PT_REGS_PARM1(ctx), 0, 0)
AM_PROBES(pvalloc,        AM_FN_PVALLOC,        PT_REGS_PARM1(ctx), 0, 0)

/* x86-64 syscall numbers -> enum am_sys + 1 (0: not a memory syscall) */
static __always_inline __u32 mem_sys(long nr)
{
	switch (nr) {
	case 12: return AM_SYS_BRK + 1;
	case 9:  return AM_SYS_MMAP + 1;
	case 11: return AM_SYS_MUNMAP + 1;
	case 25: return AM_SYS_MREMAP + 1;
	case 10: return AM_SYS_MPROTECT + 1;
	case 28: return AM_SYS_MADVISE + 1;
	default: return 0;
	}
}

static __always_inline bool is_target(__u32 tgid)
{
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	__u32 sys = mem_sys(id);
	struct thread_state *st;
	__u64 pid_tgid;

	if (!sys)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!is_target(pid_tgid >> 32))
		return 0;
	st = get_state((__u32)pid_tgid, true);
	if (!st)
		return 0;
	if (st->depth)
		pop_stale(st, BPF_CORE_READ(regs, sp), pid_tgid);
	st->sys = sys;
	st->sys_ts = bpf_ktime_get_ns();
	st->sys_args[0] = BPF_CORE_READ(regs, di);
	st->sys_args[1] = BPF_CORE_READ(regs, si);
	st->sys_args[2] = BPF_CORE_READ(regs, dx);
	st->sys_args[3] = BPF_CORE_READ(regs, r10);
	st->sys_args[4] = BPF_CORE_READ(regs, r8);
	st->sys_args[5] = BPF_CORE_READ(regs, r9);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	__u32 sys = mem_sys(BPF_CORE_READ(regs, orig_ax));
	struct am_os_event *e;
	struct thread_state *st;
	__u64 pid_tgid;

	if (!sys)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!is_target(pid_tgid >> 32))
		return 0;
	st = get_state((__u32)pid_tgid, false);
	if (!st || st->sys != sys)
		return 0;
	st->sys = 0;

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&am_cnt.lost_os, 1);
		return 0;
	}
	e->type = AM_EV_OS;
	e->sys = sys - 1;
	e->pad0 = 0;
	e->pad1 = 0;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->id = __sync_fetch_and_add(&next_os_id, 1) + 1;
	if (st->depth) {
		e->call_id = st->f[0].id;
		e->cause_fn = st->f[0].fn;
		st->f[0].n_os++;
	} else {
		e->call_id = 0;
		e->cause_fn = 0;
	}
	e->ts_enter = st->sys_ts;
	e->ts_exit = bpf_ktime_get_ns();
	e->args[0] = st->sys_args[0];
	e->args[1] = st->sys_args[1];
	e->args[2] = st->sys_args[2];
	e->args[3] = st->sys_args[3];
	e->args[4] = st->sys_args[4];
	e->args[5] = st->sys_args[5];
	e->ret = ret;
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

static __always_inline void emit_task(__u8 kind, __u32 pid, __u32 tid, __u32 child, __s32 code)
{
	struct am_task_event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&am_cnt.lost_task, 1);
		return;
	}
	e->type = AM_EV_TASK;
	e->kind = kind;
	e->pad0 = 0;
	e->pad1 = 0;
	e->pid = pid;
	e->tid = tid;
	e->child = child;
	e->code = code;
	e->ts = bpf_ktime_get_ns();
	/* rare and time-critical (the tracer reacts to them): always wake */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (!follow_forks || ptgid == ctgid || !is_target(ptgid))
		return 0;
	if (bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY))
		return 0;
	emit_task(AM_TASK_FORK, ptgid, BPF_CORE_READ(parent, pid), ctgid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!is_target(tgid))
		return 0;
	emit_task(AM_TASK_EXEC, tgid, BPF_CORE_READ(p, pid), 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct thread_state *st;

	if (!is_target(tgid))
		return 0;
	st = get_state(tid, false);
	if (st) {
		/* calls this thread never returned from */
		if (st->depth)
			pop_stale(st, ~0ULL, pid_tgid); /* all of them */
		bpf_map_delete_elem(&threads, &tid);
	}
	if (BPF_CORE_READ(p, signal, live.counter) == 0) {
		emit_task(AM_TASK_EXIT, tgid, tid, 0, BPF_CORE_READ(p, exit_code));
		bpf_map_delete_elem(&targets, &tgid);
	}
	return 0;
}
