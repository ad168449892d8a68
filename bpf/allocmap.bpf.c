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
 *  - a call whose return never comes (longjmp out of a malloc, thread exit,
 *    an entry seen before its return probe was in) would leave its frame
 *    forever and make later calls look nested. A frame is live only while
 *    (1) its entry sp is not below the current sp (the stack grows down) and
 *    (2) its return-address slot still holds the uretprobe trampoline: the
 *    kernel put it there at the call's entry, a tail call (jmp) leaves it,
 *    and the next call made from the caller's level overwrites it with a
 *    real return address. Dead frames are reported as missed and popped.
 *  - user space attaches every return probe before any entry probe, so an
 *    entry always has its return. With -p, a thread that was already running
 *    may be inside a call that began before the probes were in: until it is
 *    seen entering a traced call at depth 0 (or it started after the attach),
 *    its syscalls outside traced calls are flagged "attaching" (cause
 *    unknown) and returns without an entry are counted as in flight.
 *  - exec and -f: a process is stopped from BPF (SIGSTOP) at exec, and a
 *    followed child at its first return to user space, and user space
 *    continues it once its probes are in, so no call is missed.
 *  - ring buffer wakeups cost more than the probe itself, so events are
 *    submitted without one until the ring passes a fill watermark.
 *  - user stacks (--stacks) are off unless stack_mode says otherwise: the
 *    flag is rodata, so with stacks off the verifier drops that code and the
 *    hot uprobe path is what it was. A stack is the frame-pointer chain
 *    (bpf_get_stack, cheap but short where code has no frame pointers, as
 *    Debian's libc) plus a copy of the user stack from sp and ip/sp/bp, for
 *    user space to unwind with DWARF CFI, as perf --call-graph dwarf does;
 *    once user space has seen a thread's outermost frame, that thread's
 *    stacks are only the copy up to there (see struct am_stack_top).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "allocmap.h"
#include "arch.h"

char LICENSE[] SEC("license") = "GPL";

/* set by user space between open and load */
const volatile __u64 wakeup_bytes = 1 << 20; /* force a wakeup past this much unread data */
const volatile bool follow_forks = false;
const volatile __u8  stack_mode = AM_STACKS_OFF; /* enum am_stack_mode */
const volatile __u32 sample_every = 1;           /* call stacks: ids divisible by this */
const volatile __u32 stack_bytes = 8192;         /* user stack copied per stack: 0 or n*AM_PAGE_SIZE <= AM_STACK_MAX */
const volatile bool  hold = false;               /* stop processes at exec / fork until attached */

struct am_counters am_cnt = {};
__u64 next_call_id = 0;
__u64 next_os_id = 0;

#define frame am_bpf_frame           /* bpf/allocmap.h */
#define thread_state am_bpf_thread

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AM_MAX_TARGETS);
	__type(key, __u32);   /* tgid */
	__type(value, struct am_bpf_target);
} targets SEC(".maps");

#define SIGSTOP_ 19
#define AT_VECTOR_WORDS 56 /* mm_struct.saved_auxv[] (read through CO-RE: its offset moves) */

/* Processes stopped from here until user space has their probes in: its
 * backstop when the ring could not take the event that says so. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AM_MAX_TARGETS);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* when it was stopped (bpf_ktime_get_ns) */
} held SEC(".maps");

static __always_inline void note_held(__u32 tgid)
{
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&held, &tgid, &now, BPF_ANY);
	__sync_fetch_and_add(&am_cnt.held, 1);
}

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

/* --stacks: where each thread's stack ends, as user space learned it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AM_MAX_THREADS);
	__type(key, __u32);   /* tid */
	__type(value, struct am_stack_top);
} stack_tops SEC(".maps");

/* --stacks: pids whose module layout just changed (exec, a file mapped
 * executable), for a user-space thread that reads /proc/PID/maps at once,
 * while the process lives: the main consumer may be busy symbolizing. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} rb_maps SEC(".maps");

static const struct thread_state zero_state = {};

static __always_inline void maps_changed(__u32 pid)
{
	__u32 *p = bpf_ringbuf_reserve(&rb_maps, sizeof(*p), 0);

	if (p) {
		*p = pid;
		bpf_ringbuf_submit(p, BPF_RB_FORCE_WAKEUP);
	}
}

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
	st = bpf_map_lookup_elem(&threads, &tid);
	if (st) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		struct am_bpf_target *tg = bpf_map_lookup_elem(&targets, &tgid);

		st->tgid = tgid;
		/* a thread started after the attach cannot be inside an
		 * untraced call */
		st->clean = !tg || !tg->since ||
			BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), start_time) >= tg->since;
	}
	return st;
}

/* The process's uretprobe trampoline (the first slot of its [uprobes]
 * area), read once per thread: a return-address slot that holds it belongs
 * to a call whose return probe is still pending. 0 when unknown. */
static __always_inline __u64 tramp_of(struct thread_state *st)
{
	if (!st->tramp) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		struct xol_area *a = BPF_CORE_READ(t, mm, uprobes_state.xol_area);

		if (a)
			st->tramp = BPF_CORE_READ(a, vaddr);
	}
	return st->tramp;
}

/* The header of a stack record (everything before data[] but n_ips,
 * stack_len and flags). */
static __always_inline void stack_head(struct am_stack_event *e, __u8 kind, __u64 id, __u64 pid_tgid,
				       __u64 ip, __u64 sp, __u64 bp, struct thread_state *st, __u64 tstart)
{
	e->type = AM_EV_STACK;
	e->kind = kind;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->id = id;
	e->ip = ip;
	e->sp = sp;
	e->bp = bp;
	e->call_sp = 0;
	e->n_ret = 0;
	e->flags = 0;
	e->tstart = tstart;
#pragma unroll
	for (int i = 0; i < AM_MAX_DEPTH; i++) {
		e->ret_sp[i] = 0;
		e->ret_ip[i] = 0;
		if (st && (__u32)i < st->depth) {
			e->ret_sp[i] = st->f[i].sp;
			e->ret_ip[i] = st->f[i].ra;
			e->n_ret = i + 1;
		}
	}
	if (e->n_ret)
		e->call_sp = e->ret_sp[0];
}

/* The bytes from sp to the thread's learned stack top (am_stack_top), or 0
 * when unknown or not within stack_bytes (another stack: sigaltstack, a
 * coroutine; or a deeper one than the copy takes). */
static __always_inline __u64 whole_len(__u32 tid, __u64 sp, __u64 tstart)
{
	struct am_stack_top *t = bpf_map_lookup_elem(&stack_tops, &tid);
	__u64 need;

	if (!t || t->tstart != tstart || t->top <= sp)
		return 0;
	need = t->top - sp;
	return need <= stack_bytes && need <= AM_STACK_MAX ? need : 0;
}

/* Emit the whole stack, [sp, sp + need), in a record of SIZE data bytes
 * (a constant: the ring buffer wants one). False when it could not. */
#define EMIT_WHOLE(SIZE)									\
	do {											\
		e = bpf_ringbuf_reserve(&rb, sizeof(*e) + (SIZE), 0);				\
		if (!e)										\
			break;									\
		stack_head(e, kind, id, pid_tgid, ip, sp, bp, st, tstart);			\
		if (need > (SIZE) || bpf_probe_read_user(e->data, need, (void *)sp)) {		\
			bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);				\
			e = NULL;								\
			break;									\
		}										\
		e->n_ips = 0;									\
		e->stack_len = need;								\
		e->flags = AM_SEV_WHOLE;							\
		bpf_ringbuf_submit(e, rb_flags());						\
		return;										\
	} while (0)

/* Emit the user stack of the current thread as record `id` of `kind`.
 * Once user space has learned where the thread's stack ends (whole_len),
 * the record is just that: the copy up to there, in a small record when it
 * fits. Otherwise the copy is stack_bytes from sp (near the top of a stack
 * the whole copy fails, as it would run past the mapping: it is then taken
 * page by page, as far as it goes) with the frame-pointer chain for where
 * it ends; that record's size is a load-time constant (rodata). */
static __always_inline void emit_stack(void *ctx, __u8 kind, __u64 id, __u64 pid_tgid,
				       __u64 ip, __u64 sp, __u64 bp, struct thread_state *st)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 tstart = BPF_CORE_READ(task, start_time), need = 0;
	struct am_stack_event *e;
	__u32 got = 0, first;
	long n;

	if (stack_bytes >= AM_PAGE_SIZE && stack_bytes <= AM_STACK_MAX)
		need = whole_len((__u32)pid_tgid, sp, tstart);
	if (need && need <= AM_STACK_SMALL)
		EMIT_WHOLE(AM_STACK_SMALL);
	else if (need)
		EMIT_WHOLE(stack_bytes);
	/* not known, or the short copy failed: the full record */
	e = bpf_ringbuf_reserve(&rb, sizeof(*e) + stack_bytes, 0);
	if (!e) {
		__sync_fetch_and_add(&am_cnt.lost_stack, 1);
		return;
	}
	stack_head(e, kind, id, pid_tgid, ip, sp, bp, st, tstart);
	n = bpf_get_stack(ctx, e->ips, sizeof(e->ips), BPF_F_USER_STACK);
	e->n_ips = n > 0 ? (__u64)n / 8 : 0;
	if (stack_bytes >= AM_PAGE_SIZE && stack_bytes <= AM_STACK_MAX) {
		if (!bpf_probe_read_user(e->data, stack_bytes, (void *)sp)) {
			got = stack_bytes;
		} else {
			first = AM_PAGE_SIZE - (sp & (AM_PAGE_SIZE - 1));
			if (!bpf_probe_read_user(e->data, first, (void *)sp)) {
				got = first;
#pragma unroll
				for (int i = 0; i < AM_STACK_MAX / AM_PAGE_SIZE; i++) {
					if (got > stack_bytes - AM_PAGE_SIZE)
						break;
					if (bpf_probe_read_user(e->data + got, AM_PAGE_SIZE, (void *)(sp + got)))
						break;
					got += AM_PAGE_SIZE;
				}
			}
		}
		if (!got)
			__sync_fetch_and_add(&am_cnt.stack_failed, 1);
	}
	e->stack_len = got;
	bpf_ringbuf_submit(e, rb_flags());
}

/* Report frame f as ended without its return being seen: a call that is
 * traced without a return probe (noret: free) and whose caller has moved
 * on, or a call whose return never came (missed: longjmp, thread exit). */
static __always_inline void emit_ended(struct frame *f, __u32 depth, __u64 pid_tgid)
{
	struct am_call_event *e;

	if (!f->noret)
		__sync_fetch_and_add(&am_cnt.missed_ret, 1);
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&am_cnt.lost_call, 1);
		return;
	}
	e->type = AM_EV_CALL;
	e->fn = f->fn;
	e->flags = (f->noret ? AM_CALL_NORET : AM_CALL_MISSED) | (depth ? AM_CALL_NESTED : 0) |
		   (f->from_obj ? AM_CALL_FROM_OBJ : 0);
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
	e->ra = f->ra;
	bpf_ringbuf_submit(e, rb_flags());
}

/* Is noret frame f still running, seen from user stack pointer sp? Only
 * deeper code (sp below its entry sp) can be inside it, and only while its
 * return-address slot still holds its return address: once it has returned,
 * the next call made at its caller's level overwrites that slot, and no
 * syscall or allocator call can happen deeper without such a call. Another
 * tracer's return probe on the same function (another allocmap tracing
 * another process: a uprobe_multi consumer filtered by pid still hijacks
 * every process's return) puts the kernel's uretprobe trampoline in that
 * slot after our entry probe ran; the same rule holds for it. */
static __always_inline bool noret_running(struct thread_state *st, struct frame *f, __u64 sp)
{
	__u64 slot = 0, tramp;

	if (f->sp <= sp)
		return false;
	if (bpf_probe_read_user(&slot, sizeof(slot), (void *)AM_ENTRY_RA_SLOT(f->sp)))
		return false;
	if (slot == f->ra)
		return true;
	tramp = tramp_of(st);
	return tramp && slot == tramp;
}

/* Is frame f (with a return probe) still running, seen from stack pointer
 * sp? Its entry sp must not be below sp, and its return-address slot must
 * still hold the trampoline the kernel put there: a tail call (reallocarray
 * jumps to realloc, which jumps to malloc) keeps it, the next call from the
 * caller's level writes a real return address over it. */
static __always_inline bool ret_running(struct thread_state *st, struct frame *f, __u64 sp)
{
	__u64 slot = 0, tramp;

	if (f->sp < sp)
		return false;
	tramp = tramp_of(st);
	if (!tramp || bpf_probe_read_user(&slot, sizeof(slot), (void *)AM_ENTRY_RA_SLOT(f->sp)))
		return true; /* cannot tell: keep it */
	return slot == tramp;
}

/* Pop the frames that cannot be active any more, seen from stack pointer
 * limit (all of them when limit is ~0: thread exit). */
/* At a return (slot = false) only frames below the returning one are
 * dead: the slot of a chained tail call is no longer the trampoline there
 * (the return popped it, and the kernel's trampoline pushes over it). */
static __always_inline void pop_stale(struct thread_state *st, __u64 limit, __u64 pid_tgid,
				      bool slot)
{
#pragma unroll
	for (int i = AM_MAX_DEPTH - 1; i >= 0; i--) {
		if ((__u32)i >= st->depth)
			continue;
		if (limit != ~0ULL &&
		    (st->f[i].noret ? noret_running(st, &st->f[i], limit) :
		     slot ? ret_running(st, &st->f[i], limit) : st->f[i].sp >= limit))
			break;
		emit_ended(&st->f[i], i, pid_tgid);
		st->depth = i;
	}
}

struct vma_range {
	__u64 lo, hi, base;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_range *r = data;

	r->lo = vma->vm_start;
	r->hi = vma->vm_end;
	return 0;
}

/* Was the call at ip (a probe in an allocator object) made from the same
 * code mapping, return address ra? The mapping is looked up once per
 * process and object (the last two are kept: libstdc++ and libc), by
 * whichever thread first gets the mmap lock (bpf_find_vma only tries it). */
static __always_inline bool from_same_obj(__u32 tgid, __u64 ip, __u64 ra)
{
	struct am_bpf_target *tg = bpf_map_lookup_elem(&targets, &tgid);
	struct vma_range r = {};
	__u32 k;

	if (!tg)
		return false;
#pragma unroll
	for (int i = 0; i < 2; i++)
		if (ip >= tg->obj_lo[i] && ip < tg->obj_hi[i])
			return ra >= tg->obj_lo[i] && ra < tg->obj_hi[i];
	if (bpf_find_vma(bpf_get_current_task_btf(), ip, vma_cb, &r, 0) || !r.hi)
		return false;
	k = tg->obj_next++ & 1;
	tg->obj_lo[k] = r.lo;
	tg->obj_hi[k] = r.hi;
	return ra >= r.lo && ra < r.hi;
}

static __always_inline int on_enter(struct pt_regs *ctx, __u64 ck, __u64 a0, __u64 a1, __u64 a2)
{
	bool noret = ck & AM_COOKIE_NORET;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 sp = PT_REGS_SP(ctx);
	struct thread_state *st;
	struct frame *f;
	__u32 d;

	st = get_state((__u32)pid_tgid, true);
	if (!st)
		return 0;
	if (st->depth)
		pop_stale(st, sp, pid_tgid, true);
	d = st->depth;
	if (d >= AM_MAX_DEPTH) {
		__sync_fetch_and_add(&am_cnt.depth_overflow, 1);
		return 0;
	}
	if (!st->clean && d == 0) {
		/* a traced call at depth 0 once every probe is in: nothing
		 * untraced can be in progress on this thread */
		__u32 tgid = pid_tgid >> 32;
		struct am_bpf_target *tg = bpf_map_lookup_elem(&targets, &tgid);

		st->clean = !tg || tg->since != ~0ULL;
	}
	f = &st->f[d];
	f->id = __sync_fetch_and_add(&next_call_id, 1) + 1;
	f->sp = sp;
	f->ts = bpf_ktime_get_ns();
	f->args[0] = a0;
	f->args[1] = a1;
	f->args[2] = a2;
	f->n_os = 0;
	f->fn = AM_COOKIE_FN(ck);
	f->role = AM_COOKIE_ROLE(ck);
	f->ra = 0;
	f->noret = noret;
	bpf_probe_read_user(&f->ra, sizeof(f->ra), (void *)AM_ENTRY_RA_SLOT(sp));
	f->from_obj = d == 0 && !(ck & AM_COOKIE_USER) &&
		      from_same_obj(pid_tgid >> 32, PT_REGS_IP(ctx), f->ra);
	st->depth = d + 1;
	if (stack_mode == AM_STACKS_ALL && d == 0 &&
	    (sample_every <= 1 || f->id % sample_every == 0))
		emit_stack(ctx, AM_STACK_CALL, f->id, pid_tgid, PT_REGS_IP(ctx), sp,
			   PT_REGS_FP(ctx), NULL);
	return 0;
}

/* A return with no entry: a call already running when the probes went in
 * (-p: the thread is not known clean yet), or a bug. */
static __always_inline void no_entry(struct thread_state *st)
{
	if (st->clean)
		__sync_fetch_and_add(&am_cnt.orphan_ret, 1);
	else
		__sync_fetch_and_add(&am_cnt.inflight_ret, 1);
}

static __always_inline int on_exit(struct pt_regs *ctx, __u8 fn)
{
	__u32 tid;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* the return address has been popped: the stack pointer at entry */
	__u64 sp = AM_RET_ENTRY_SP(ctx);
	struct am_call_event *e;
	struct thread_state *st;
	struct frame *f;
	__u32 d;

	tid = (__u32)pid_tgid;
	st = get_state(tid, true);
	if (!st)
		return 0;
	/* deeper frames that never returned sit below our entry sp */
	if (st->depth)
		pop_stale(st, sp, pid_tgid, false);
	d = st->depth;
	if (d == 0 || d > AM_MAX_DEPTH) {
		no_entry(st);
		return 0;
	}
	d--;
	f = &st->f[d];
	if (f->sp != sp || f->fn != fn) {
		no_entry(st);
		return 0;
	}
	/* the frame is popped once its record is in the ring: user space,
	 * which orders records by time, sees a call either in progress (the
	 * threads map) or in the ring, never in neither */
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		st->depth = d;
		__sync_fetch_and_add(&am_cnt.lost_call, 1);
		return 0;
	}
	e->type = AM_EV_CALL;
	e->fn = fn;
	e->flags = (d ? AM_CALL_NESTED : 0) | (f->from_obj ? AM_CALL_FROM_OBJ : 0);
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
	e->ra = f->ra;
	if (f->role == AM_ROLE_POSIX_MEMALIGN) {
		__u64 out = 0;

		if (e->ret == 0)
			bpf_probe_read_user(&out, sizeof(out), (void *)f->args[0]);
		e->out = out;
	}
	bpf_ringbuf_submit(e, rb_flags());
	st->depth = d;
	return 0;
}

/* Register number (enum am_preg order: AM_PREG_TABLE of bpf/arch/) -> its
 * value at the probe. The verifier forbids a variable offset into ctx, so
 * every candidate is loaded at a constant offset first (a few ns), then
 * picked from the stack. */
static __always_inline __u64 preg(struct pt_regs *ctx, __u64 r)
{
	__u64 v[16];

#pragma unroll
	for (int i = AM_PREG__COUNT; i < 16; i++)
		v[i] = 0;
#define AM_PREG_LOAD_(e, field, name) v[AM_PREG_##e] = ctx->field;
	AM_PREG_TABLE(AM_PREG_LOAD_)
#undef AM_PREG_LOAD_
	asm volatile("" ::: "memory");
	return v[r & 15];
}

/* Argument i of the probed function, wherever the placement found it
 * (cookie: the probe's attach cookie, read once per hit). */
static __always_inline __u64 am_arg(struct pt_regs *ctx, __u64 cookie, int i)
{
	if (!(cookie & AM_COOKIE_ARGMAP))
		return i == 0 ? PT_REGS_PARM1(ctx) : i == 1 ? PT_REGS_PARM2(ctx) : PT_REGS_PARM3(ctx);
	return preg(ctx, (cookie >> (4 * i)) & 0xf);
}

/* One entry and one return program for every allocator function: the
 * attach cookie says which function and role a probe is for (bpf/allocmap.h),
 * so a new function (C++ operators, --alloc) is a row in user space only. */
SEC("uprobe")
int BPF_KPROBE(alloc_enter)
{
	__u64 ck = bpf_get_attach_cookie(ctx);

	return on_enter(ctx, ck, am_arg(ctx, ck, 0), am_arg(ctx, ck, 1), am_arg(ctx, ck, 2));
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit)
{
	return on_exit(ctx, AM_COOKIE_FN(bpf_get_attach_cookie(ctx)));
}

/* syscall number -> enum am_sys + 1 (0: not a memory syscall): a case per
 * row of AM_SYSCALL_TABLE, its number from bpf/arch/ */
static __always_inline __u32 mem_sys(long nr)
{
	switch (nr) {
#define AM_SYS_CASE_(e, name, ret_addr, color, args) case AM_NR_##e: return AM_SYS_##e + 1;
	AM_SYSCALL_TABLE(AM_SYS_CASE_)
#undef AM_SYS_CASE_
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
		pop_stale(st, AM_REGS_SP_CORE(regs), pid_tgid, true);
	st->sys = sys;
	st->sys_ts = bpf_ktime_get_ns();
	AM_SYSCALL_ARGS(regs, st->sys_args);
	return 0;
}

static __always_inline void emit_task(__u8 kind, __u32 pid, __u32 tid, __u32 child, __s32 code);

/* A followed child returning from fork/clone for the first time: stop it
 * before it runs any code of its own, until user space has its probes in. */
static __always_inline void hold_child(long nr, long ret)
{
	__u64 pid_tgid;
	__u32 tgid;
	struct am_bpf_target *tg;

	if (ret != 0 || !AM_NR_IS_FORK(nr))
		return;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	if (tgid != (__u32)pid_tgid)
		return; /* a new thread, not a new process */
	tg = bpf_map_lookup_elem(&targets, &tgid);
	if (!tg || !(tg->flags & AM_TGT_HOLD_START))
		return;
	tg->flags &= ~AM_TGT_HOLD_START;
	if (bpf_send_signal(SIGSTOP_))
		return;
	note_held(tgid);
	emit_task(AM_TASK_HELD, tgid, tgid, 0, 0);
}

static long loader_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_range *r = data;

	/* the interpreter's text maps its file at offset == address - base
	 * (ld.so's segments have p_vaddr == p_offset) */
	r->lo = vma->vm_start;
	r->hi = vma->vm_end;
	r->base = vma->vm_start - vma->vm_pgoff * AM_PAGE_SIZE;
	return 0;
}

/* Is this memory syscall (user ip) one of the dynamic loader's while the
 * process starts (AM_TGT_STARTUP)? The first one finds the loader's code
 * mapping: the mapping of ip, if the interpreter's file is what it maps
 * (its base is the exec's AT_BASE). The first syscall from anywhere else
 * ends the startup. */
static __always_inline bool loader_startup(struct am_bpf_target *tg, __u64 ip)
{
	if (!(tg->flags & AM_TGT_STARTUP))
		return false;
	if (!tg->ld_hi) {
		struct vma_range r = {};

		if (!bpf_find_vma(bpf_get_current_task_btf(), ip, loader_vma_cb, &r, 0) &&
		    r.hi && r.base == tg->ld_base) {
			tg->ld_lo = r.lo;
			tg->ld_hi = r.hi;
		}
	}
	if (tg->ld_hi && ip >= tg->ld_lo && ip < tg->ld_hi)
		return true;
	tg->flags &= ~AM_TGT_STARTUP;
	return false;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = AM_SYSCALL_NR(regs);
	__u32 sys = mem_sys(nr);
	struct am_os_event *e;
	struct thread_state *st;
	struct am_bpf_target *tg;
	__u64 pid_tgid, id, flags;
	__u32 tgid;

	if (!sys) {
		if (hold && follow_forks)
			hold_child(nr, ret);
		return 0;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	tg = bpf_map_lookup_elem(&targets, &tgid);
	if (!tg)
		return 0;
	st = get_state((__u32)pid_tgid, false);
	if (!st || st->sys != sys)
		return 0;
	/* st->sys is cleared once the record is in the ring (see on_exit) */

	id = __sync_fetch_and_add(&next_os_id, 1) + 1;
	flags = rb_flags();
	if (stack_mode != AM_STACKS_OFF) {
		/* the user registers are the same at exit as at entry */
		emit_stack(ctx, AM_STACK_OS, id, pid_tgid, AM_REGS_IP_CORE(regs),
			   AM_REGS_SP_CORE(regs), AM_REGS_FP_CORE(regs), st);
		/* a file mapped executable (ld.so, dlopen): wake user space now,
		 * while the process lives, to read its module layout */
		if (sys == AM_SYS_MMAP + 1 && (st->sys_args[2] & 4 /* PROT_EXEC */) &&
		    (__s32)st->sys_args[4] >= 0 && ret >= 0) {
			flags = BPF_RB_FORCE_WAKEUP;
			maps_changed(pid_tgid >> 32);
		}
	}

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		st->sys = 0;
		__sync_fetch_and_add(&am_cnt.lost_os, 1);
		return 0;
	}
	e->type = AM_EV_OS;
	e->sys = sys - 1;
	e->pad0 = 0;
	if (!st->depth && !st->clean) {
		e->pad0 = AM_OS_ATTACHING;
		__sync_fetch_and_add(&am_cnt.attach_unknown, 1);
	}
	if (loader_startup(tg, AM_REGS_IP_CORE(regs)))
		e->pad0 |= AM_OS_STARTUP;
	e->pad1 = 0;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->id = id;
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
	bpf_ringbuf_submit(e, flags);
	st->sys = 0;
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
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* rare and time-critical (the tracer reacts to them): always wake */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct am_bpf_target tg = { .flags = hold ? AM_TGT_HOLD_START : 0 };

	if (!follow_forks || ptgid == ctgid || !is_target(ptgid))
		return 0;
	if (bpf_map_update_elem(&targets, &ctgid, &tg, BPF_ANY))
		return 0;
	emit_task(AM_TASK_FORK, ptgid, BPF_CORE_READ(parent, pid), ctgid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);
	struct am_bpf_target *tg = bpf_map_lookup_elem(&targets, &tgid);
	bool held = false;

	if (!tg)
		return 0;
	/* the old image's calls are gone with it; the new one starts clean */
	bpf_map_delete_elem(&threads, &tid);
	tg->since = 0;
	/* with an interpreter (auxv AT_BASE, 0 for a static program), its
	 * memory syscalls come first: the process's startup */
	tg->flags &= ~AM_TGT_STARTUP;
	tg->ld_base = tg->ld_lo = tg->ld_hi = 0;
	{
		struct mm_struct *mm = BPF_CORE_READ(p, mm);
		__u64 type = 0, val = 0;

#pragma unroll
		for (int i = 0; i + 1 < AT_VECTOR_WORDS; i += 2) {
			if (!mm || bpf_core_read(&type, sizeof(type), &mm->saved_auxv[i]) || type == 0 /* AT_NULL */)
				break;
			if (type == 7 /* AT_BASE */) {
				bpf_core_read(&val, sizeof(val), &mm->saved_auxv[i + 1]);
				break;
			}
		}
		if (val) {
			tg->ld_base = val;
			tg->flags |= AM_TGT_STARTUP;
		}
	}
	if (tg->flags & AM_TGT_SKIP_EXEC) {
		tg->flags &= ~AM_TGT_SKIP_EXEC; /* our own launch: probes are in */
	} else if (hold && !bpf_send_signal(SIGSTOP_)) {
		/* stopped before the new image runs: user space moves the
		 * probes if it binds another allocator, then continues it */
		held = true;
		note_held(tgid);
	}
	if (stack_mode != AM_STACKS_OFF) {
		/* a new stack: its top is learned again (same tid, same start time) */
		bpf_map_delete_elem(&stack_tops, &tid);
		maps_changed(tgid);
	}
	emit_task(AM_TASK_EXEC, tgid, tid, 0, held);
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
			pop_stale(st, ~0ULL, pid_tgid, false); /* all of them */
		bpf_map_delete_elem(&threads, &tid);
	}
	if (stack_mode != AM_STACKS_OFF)
		bpf_map_delete_elem(&stack_tops, &tid);
	if (BPF_CORE_READ(p, signal, live.counter) == 0) {
		emit_task(AM_TASK_EXIT, tgid, tid, 0, BPF_CORE_READ(p, exit_code));
		bpf_map_delete_elem(&targets, &tgid);
	}
	return 0;
}
