// SPDX-License-Identifier: GPL-2.0
/* output.c - renders the correlator's records (model.h) as strace-like text
 * or JSON Lines, and the end-of-run summary in both forms.
 *
 * The JSON field names and spellings are the public interface described in
 * README.md; the text form is for people and may change. Both forms share
 * the decoders in fmt.c, so a flag is spelled the same way in either.
 *
 * JSON is complete: every record, whatever the verbosity. The verbosity
 * shapes the text: quiet (-1) keeps only the summary; default (0) keeps
 * calls that made OS requests, every direct OS request, threshold moves and
 * task events; verbose (1) keeps every call.
 *
 * Time order (opts.ordered): each record is queued under its timestamp
 * (order.c) and written once the tracer's progress says nothing older can
 * come; a call under its entry time, so in JSON it precedes the OS requests
 * it made, which are records of their own. A record that comes after a
 * later one was written (a call in progress for longer than the tracer
 * waits) is written at once and counted: "out_of_order" in the summary.
 *
 * User stacks (--stacks, --mode os) are printed with the record they belong
 * to: indented frames under it in text, a "stack" array in JSON; the leak
 * report (live allocations by allocation stack) comes with the summary. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fmt.h"
#include "jsonw.h"
#include "order.h"
#include "output.h"
#include "sites_out.h"

#define LINE_CAP   1024  /* one text line; longer lines are cut */
#define BRK_SLOTS  1024  /* processes whose last brk we remember (text deltas) */
#define HIST_BAR   40    /* width of the histogram bars in the text summary */
#define LEAKS_TEXT 20    /* leak groups printed in the text summary */
#define ORDER_CAP  200000 /* records held for time order at most: past it the oldest goes */
#define STARTUP_GROUPS 8  /* processes whose startup requests are being summed up at once */

/* The startup requests of one process (AM_OS_STARTUP), summed up in one
 * text line once they are over. */
struct startup_group {
	uint32_t pid, tid;       /* pid 0: free */
	uint64_t first, last;    /* their times */
	uint64_t n, by_sys[AM_SYS__COUNT];
	uint64_t mapped;         /* bytes of the mmaps that succeeded (pages) */
};

/* Last program break seen per process, to print brk growth as a delta. */
struct brk_slot {
	uint32_t pid;        /* 0 = free slot */
	uint64_t brk;        /* last break returned by brk() */
};

struct am_out {
	struct am_out_opts o;
	uint64_t last_ts;    /* latest timestamp of any record seen (summary ts_ns) */
	struct brk_slot brk[BRK_SLOTS];
	struct jsonw jw;     /* JSON mode only */
	int      err;        /* errno of the first failed write, 0 */
	/* time order */
	struct am_order *q;  /* records waiting (opts.ordered) */
	uint64_t written_ts; /* timestamp of the latest record written */
	uint64_t late;       /* records written after a later one: out of time order */
	const char *origin;  /* "exec", "attach" (the tracer's origin), or NULL */
	/* delivery order: the order the correlator handed records out, which is
	 * the order its accounting model took them in. Each JSON record carries
	 * it as "seq" (from 1), so that a reader of the time-ordered file can
	 * replay the records through the same model in the same order
	 * (report_model.c, README: Accounting) */
	uint64_t seq_next;   /* the next record's */
	uint64_t cur_seq;    /* the record being written (0: none) */
	struct startup_group startup[STARTUP_GROUPS]; /* text */
};

/* A queued record (order.c): its kind, then the record; a call is followed
 * by the OS requests it made. */
enum qkind { Q_CALL = 1, Q_OS, Q_THRESHOLD, Q_TASK, Q_RSS };

struct qitem {
	uint8_t kind;            /* enum qkind */
	uint64_t seq;            /* delivery order (struct am_out) */
	size_t  n_os;            /* Q_CALL: entries of os[] */
	union {
		struct am_call_rec call;
		struct am_os_rec os;
		struct am_threshold_rec thr;
		struct am_task_event task;
		struct am_rss_rec rss;
	} u;
	struct am_os_rec os[];   /* Q_CALL: its OS requests */
};

/* A text line under construction. */
struct line {
	size_t n;
	char b[LINE_CAP];
};

static void lp(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lp(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (l->n >= sizeof(l->b) - 1)
		return;
	va_start(ap, fmt);
	k = vsnprintf(l->b + l->n, sizeof(l->b) - l->n, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	l->n += (size_t)k;
	if (l->n > sizeof(l->b) - 1)
		l->n = sizeof(l->b) - 1;
}

static void lend(struct am_out *o, struct line *l)
{
	l->b[l->n] = '\n';
	if (fwrite(l->b, 1, l->n + 1, o->o.f) != l->n + 1 && !o->err)
		o->err = errno ? errno : EIO;
	l->n = 0;
}

/* ---- names (out-of-range values from a malformed event print as "?") ---- */

static const char *fn_name(unsigned fn)
{
	return am_fn_name((int)fn);
}

static const char *unknown_why_name(unsigned why)
{
	switch (why) {
	case AM_UNK_OS_MODE:   return "os_mode";
	case AM_UNK_NO_ALLOC:  return "no_allocator";
	case AM_UNK_ATTACHING: return "attaching";
	default:               return "?";
	}
}

static const char *sys_name(unsigned sys)
{
	return am_sys_name(sys);
}

static const char *region_name(unsigned r)
{
	return r < AM_REG__COUNT && am_region_names[r] ? am_region_names[r] : "unknown";
}

static const char *reason_name(unsigned r)
{
	return r < AM_WHY__COUNT && am_reason_names[r] ? am_reason_names[r] : "";
}

/* errno of a failed memory syscall (negative raw return), 0 if it
 * succeeded. The brk syscall never fails that way: it refuses by returning
 * the old break, which strace and the summary do not count as an error
 * either; the text form notes it (brk_refused). */
static int os_errno(const struct am_os_event *e)
{
	if (e->ret < 0 && e->ret >= -4095)
		return (int)-e->ret;
	return 0;
}

static bool sys_returns_addr(unsigned sys)
{
	return am_sys_returns_addr(sys);
}

static uint64_t dur(uint64_t enter, uint64_t exit)
{
	return exit >= enter ? exit - enter : 0;
}

#define MREMAP_FIXED_ 0x2ULL

/* ================================ JSON ================================== */

static void json_head(struct jsonw *w, const char *type, uint64_t ts, uint32_t pid, uint32_t tid)
{
	jsonw_obj_open(w);
	jsonw_kstr(w, "type", type);
	jsonw_ku64(w, "ts_ns", ts);
	jsonw_ku64(w, "pid", pid);
	jsonw_ku64(w, "tid", tid);
}

static void json_end(struct jsonw *w)
{
	jsonw_obj_close(w);
	jsonw_eol(w);
}

/* The record's delivery order, "seq" (struct am_out), after its head. */
static void json_seq(struct am_out *o)
{
	if (o->cur_seq)
		jsonw_ku64(&o->jw, "seq", o->cur_seq);
}

/* One frame: {"addr":"0x..","sym":"malloc","off":0,"obj":"libc.so.6",
 * "file":"x.c","line":12}; sym/off, obj, file/line only when known.
 * Without sym, off is the address relative to obj. sym is demangled;
 * "mangled" is the ELF symbol, only when it differs. */
void am_json_frame(struct jsonw *w, const struct am_frame *f)
{
	jsonw_obj_open(w);
	jsonw_khex(w, "addr", f->addr);
	if (f->sym)
		jsonw_kstr(w, "sym", f->sym);
	if (f->sym && f->mangled)
		jsonw_kstr(w, "mangled", f->mangled);
	if (f->sym || f->obj)
		jsonw_ku64(w, "off", f->off);
	if (f->obj)
		jsonw_kstr(w, "obj", f->obj);
	if (f->file) {
		jsonw_kstr(w, "file", f->file);
		jsonw_ku64(w, "line", f->line);
	}
	jsonw_obj_close(w);
}

/* "stack":[frame, ...], innermost first. */
static void json_stack(struct jsonw *w, const char *key, const struct am_stack *st)
{
	jsonw_karr_open(w, key);
	for (uint32_t i = 0; i < st->n; i++)
		am_json_frame(w, &st->f[i]);
	jsonw_arr_close(w);
	if (st->flags & AM_STK_TRUNCATED)
		jsonw_kbool(w, "stack_truncated", true);
}

/* One "os" record. Failed mmap/mremap keep a hex "ret" (MAP_FAILED, what
 * the libc call returns) and
 * failed munmap/mprotect/madvise an integer -1, so that "ret" has one type
 * per syscall; "error" carries the errno name. */
static void json_os(struct am_out *o, const struct am_os_rec *r)
{
	struct jsonw *w = &o->jw;
	const struct am_os_event *e = &r->ev;
	char buf[AM_FMT_BUF];
	int err = os_errno(e);

	json_head(w, "os", e->ts_enter, e->pid, e->tid);
	json_seq(o);
	jsonw_ku64(w, "id", e->id);
	jsonw_kstr(w, "syscall", sys_name(e->sys));
	jsonw_khex(w, "addr", e->args[0]);
	switch (e->sys) {
	case AM_SYS_BRK:
		break;
	case AM_SYS_MMAP:
		jsonw_ku64(w, "len", e->args[1]);
		jsonw_kstr(w, "prot", am_fmt_prot(buf, sizeof(buf), e->args[2]));
		jsonw_kstr(w, "flags", am_fmt_mmap_flags(buf, sizeof(buf), e->args[3]));
		jsonw_ks64(w, "fd", (int32_t)e->args[4]);
		jsonw_ks64(w, "offset", (int64_t)e->args[5]);
		break;
	case AM_SYS_MREMAP:
		jsonw_ku64(w, "len", e->args[1]);
		jsonw_kstr(w, "flags", am_fmt_mremap_flags(buf, sizeof(buf), e->args[3]));
		jsonw_ku64(w, "new_len", e->args[2]);
		if (e->args[3] & MREMAP_FIXED_)
			jsonw_khex(w, "new_addr", e->args[4]);
		break;
	case AM_SYS_MPROTECT:
		jsonw_ku64(w, "len", e->args[1]);
		jsonw_kstr(w, "prot", am_fmt_prot(buf, sizeof(buf), e->args[2]));
		break;
	case AM_SYS_MADVISE:
		jsonw_ku64(w, "len", e->args[1]);
		jsonw_kstr(w, "advice", am_fmt_madv(buf, sizeof(buf), e->args[2]));
		break;
	default:
		jsonw_ku64(w, "len", e->args[1]);
		break;
	}
	if (sys_returns_addr(e->sys))
		jsonw_khex(w, "ret", err ? UINT64_MAX : (uint64_t)e->ret);
	else
		jsonw_ks64(w, "ret", err ? -1 : e->ret);
	if (err)
		jsonw_kstr(w, "error", am_fmt_errno(buf, sizeof(buf), err));
	jsonw_ku64(w, "dur_ns", dur(e->ts_enter, e->ts_exit));
	jsonw_kobj_open(w, "cause");
	if (r->cause_unknown) {
		jsonw_kstr(w, "kind", "unknown");
		jsonw_kstr(w, "why", unknown_why_name(r->unknown_why));
	} else if (r->direct) {
		jsonw_kstr(w, "kind", "direct");
	} else {
		jsonw_kstr(w, "kind", "call");
		if (r->call_id)
			jsonw_ku64(w, "call_id", r->call_id);
		jsonw_kstr(w, "fn", fn_name(r->cause_fn));
		if (r->call_id)
			jsonw_ku64(w, "size", r->cause_size);
	}
	if (r->inferred)
		jsonw_kbool(w, "inferred", true);
	jsonw_obj_close(w);
	if (e->pad0 & AM_OS_STARTUP)
		jsonw_kbool(w, "startup", true); /* the dynamic loader's, as the process started */
	if (e->sys == AM_SYS_MMAP || e->sys == AM_SYS_MREMAP)
		jsonw_kstr(w, "region", region_name(r->region_kind));
	if (r->stack) {
		json_stack(w, "stack", r->stack);
		if (r->inner)
			jsonw_ku64(w, "alloc_frames", r->inner);
	}
	json_end(w);
}

/* "KEY":value when known (value != 0 / known), else "KEY_min" and
 * "KEY_max": a threshold is never written as a number it is not. */
static void json_bounded(struct jsonw *w, const char *key, bool known, uint64_t value,
			 uint64_t lo, uint64_t hi)
{
	char k[32];

	if (known) {
		jsonw_ku64(w, key, value);
		return;
	}
	snprintf(k, sizeof(k), "%s_min", key);
	jsonw_ku64(w, k, lo);
	snprintf(k, sizeof(k), "%s_max", key);
	jsonw_ku64(w, k, hi);
}

/* One "call" record. A call whose return was never seen (missed) or that is
 * traced at entry only has no "ret", "rc" or "dur_ns": they are unknown. */
static void json_call(struct am_out *o, const struct am_call_rec *c,
		      const struct am_os_rec *os, size_t n_os)
{
	struct jsonw *w = &o->jw;
	const struct am_call_event *e = &c->ev;
	bool no_ret = e->flags & (AM_CALL_MISSED | AM_CALL_NORET);
	enum am_role role = am_fn_role(e->fn);
	bool is_free = am_role_frees(role);
	size_t i;

	json_head(w, "call", e->ts_enter, e->pid, e->tid);
	json_seq(o);
	jsonw_ku64(w, "id", e->id);
	jsonw_kstr(w, "fn", fn_name(e->fn));
	if (am_fn_info(e->fn) && am_fn_info(e->fn)->user)
		jsonw_kstr(w, "role", am_role_name(role)); /* --alloc: lets a reader decode it */
	/* free: the size of the freed allocation, only when it is known */
	if (!is_free || (c->ptr_in && !c->free_unknown))
		jsonw_ku64(w, "size", c->size);
	if (role == AM_ROLE_CALLOC || role == AM_ROLE_REALLOCARRAY) {
		jsonw_ku64(w, "nmemb", c->nmemb);
		/* the element size as passed (size is the product, 0 for nmemb 0) */
		jsonw_ku64(w, "elem_size", (uint64_t)e->args[role == AM_ROLE_CALLOC ? 1 : 2]);
	}
	if (role == AM_ROLE_FREE_SIZED)   /* the caller's claim, as the text prints it */
		jsonw_ku64(w, "size_arg", (uint64_t)e->args[1]);
	if (role == AM_ROLE_POSIX_MEMALIGN || role == AM_ROLE_MEMALIGN || role == AM_ROLE_NEW_ALIGNED)
		jsonw_ku64(w, "align", c->align);
	if (role == AM_ROLE_REALLOC || role == AM_ROLE_REALLOCARRAY || is_free)
		jsonw_khex(w, "ptr", c->ptr_in);
	if (!is_free && !no_ret) {
		jsonw_khex(w, "ret", c->ptr_out);
		if (role == AM_ROLE_POSIX_MEMALIGN)
			jsonw_ks64(w, "rc", (int32_t)e->ret);
	}
	/* posix_memalign that wrote no pointer: where it would have (the text's first argument) */
	if (role == AM_ROLE_POSIX_MEMALIGN && (no_ret || (int32_t)e->ret != 0))
		jsonw_khex(w, "memptr", (uint64_t)e->args[0]);
	if (!no_ret)
		jsonw_ku64(w, "dur_ns", dur(e->ts_enter, e->ts_exit));
	jsonw_karr_open(w, "os");
	for (i = 0; i < n_os; i++)
		jsonw_u64(w, os[i].ev.id);
	jsonw_arr_close(w);
	/* region: where ret lives (allocating calls); for free, the region of
	 * the freed allocation when known */
	if (!is_free ? true : c->region != AM_REG_UNKNOWN)
		jsonw_kstr(w, "region", region_name(c->region));
	if (c->reason != AM_WHY_NONE)
		jsonw_kstr(w, "reason", reason_name(c->reason));
	if (c->threshold || c->thr_hi) /* glibc; unknown: what is proved of it */
		json_bounded(w, "threshold", c->threshold != 0, c->threshold, c->thr_lo, c->thr_hi);
	if (e->flags & AM_CALL_NESTED)
		jsonw_kbool(w, "nested", true);
	if (e->flags & AM_CALL_MISSED)
		jsonw_kbool(w, "missed", true);
	if (c->free_unknown)
		jsonw_kbool(w, "unknown_ptr", true);
	if (c->from_obj)
		jsonw_kbool(w, "own", true); /* called from the object that defines it */
	if (c->stack) {
		json_stack(w, "stack", c->stack);
		if (c->stack_derived)
			jsonw_kbool(w, "stack_derived", true);
	}
	json_end(w);
}

static void json_threshold(struct am_out *o, const struct am_threshold_rec *t)
{
	struct jsonw *w = &o->jw;

	json_head(w, "threshold", t->ts_ns, t->pid, t->tid);
	json_seq(o);
	json_bounded(w, "old", t->old_value != 0, t->old_value, t->old_lo, t->old_hi);
	json_bounded(w, "new", t->new_value != 0, t->new_value, t->new_lo, t->new_hi);
	jsonw_ku64(w, "call_id", t->call_id);
	jsonw_ku64(w, "chunk", t->freed_chunk);
	json_end(w);
}

/* {"type":"rss",...,"rss":BYTES}: a process's resident set size, sampled */
static void json_rss(struct am_out *o, const struct am_rss_rec *r)
{
	struct jsonw *w = &o->jw;

	json_head(w, "rss", r->ts_ns, r->pid, r->pid);
	json_seq(o);
	jsonw_ku64(w, "rss", r->bytes);
	json_end(w);
}

/* "SIGKILL", or the number for a signal without a name. */
static const char *sig_name(char *buf, size_t n, int sig)
{
	const char *a = sigabbrev_np(sig);

	if (a)
		snprintf(buf, n, "SIG%s", a);
	else
		snprintf(buf, n, "%d", sig);
	return buf;
}

static void json_task(struct am_out *o, const struct am_task_event *t)
{
	struct jsonw *w = &o->jw;

	json_head(w, "task", t->ts, t->pid, t->tid);
	json_seq(o);
	switch (t->kind) {
	case AM_TASK_FORK:
		jsonw_kstr(w, "kind", "fork");
		jsonw_ku64(w, "child", t->child);
		break;
	case AM_TASK_EXEC:
		jsonw_kstr(w, "kind", "exec");
		break;
	case AM_TASK_EXIT:
		/* t->code is the wait status: code is the exit status the
		 * shell and the summary show (128 + signal when killed) */
		jsonw_kstr(w, "kind", "exit");
		if (WIFSIGNALED(t->code)) {
			char sb[16];

			jsonw_ks64(w, "code", 128 + WTERMSIG(t->code));
			jsonw_kstr(w, "signal", sig_name(sb, sizeof(sb), WTERMSIG(t->code)));
			if (WCOREDUMP(t->code))
				jsonw_kbool(w, "core_dumped", true);
		} else {
			jsonw_ks64(w, "code", WEXITSTATUS(t->code));
		}
		break;
	default:
		jsonw_kstr(w, "kind", "unknown");
		break;
	}
	json_end(w);
}

/* A "seed" record: a mapping there before the trace (-p), at trace start. */
static void json_seed(struct am_out *o, const struct am_seed_rec *r)
{
	struct jsonw *w = &o->jw;

	json_head(w, "seed", o->o.t0_ns, r->pid, r->pid);
	json_seq(o);
	jsonw_khex(w, "start", r->start);
	jsonw_khex(w, "end", r->end);
	jsonw_kstr(w, "region", region_name(r->kind));
	jsonw_kbool(w, "accessible", r->accessible);
	json_end(w);
}

/* The "leaks" record, just before the summary (stacks on only): live
 * allocations grouped by allocation stack, largest first. */
static void json_leaks(struct am_out *o, const struct am_summary *s, uint64_t ts)
{
	struct jsonw *w = &o->jw;
	uint64_t count = 0, bytes = 0;

	json_head(w, "leaks", ts, 0, 0);
	for (size_t i = 0; i < s->n_leaks; i++) {
		count += s->leaks[i].count;
		bytes += s->leaks[i].bytes;
	}
	jsonw_ku64(w, "count", count);
	jsonw_ku64(w, "bytes", bytes);
	jsonw_karr_open(w, "groups");
	for (size_t i = 0; i < s->n_leaks; i++) {
		const struct am_leak *l = &s->leaks[i];

		jsonw_obj_open(w);
		jsonw_ku64(w, "pid", l->pid);
		jsonw_ku64(w, "count", l->count);
		jsonw_ku64(w, "bytes", l->bytes);
		jsonw_kobj_open(w, "regions");
		for (unsigned r = 0; r < AM_REG__COUNT; r++) {
			if (!l->region_count[r])
				continue;
			jsonw_kobj_open(w, region_name(r));
			jsonw_ku64(w, "count", l->region_count[r]);
			jsonw_ku64(w, "bytes", l->region_bytes[r]);
			jsonw_obj_close(w);
		}
		jsonw_obj_close(w);
		if (l->stack)
			json_stack(w, "stack", l->stack);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	json_end(w);
}

/* "start":N or "start_min"/"start_max" (unknown), the same for "end", then
 * "changes", "pinned" and "source" (where the start value came from). */
static void json_thr_fields(struct jsonw *w, const struct am_thr *start, const struct am_thr *end,
			    uint64_t changes)
{
	json_bounded(w, "start", start->known, start->value, start->lo, start->hi);
	json_bounded(w, "end", end->known, end->value, end->lo, end->hi);
	jsonw_ku64(w, "changes", changes);
	jsonw_kbool(w, "pinned", end->pinned);
	jsonw_kstr(w, "source", start->source < AM_THR_SRC__COUNT ?
		   am_thr_source_names[start->source] : "unknown");
}

/* The summary's "functions": per allocator function that was called. */
static void json_sum_functions(struct jsonw *w, const struct am_summary *s)
{
	jsonw_kobj_open(w, "functions");
	for (unsigned i = 0; i < (unsigned)am_fn_count(); i++) {
		const struct am_fn_stats *f = &s->fn[i];

		if (!f->calls)
			continue;
		jsonw_kobj_open(w, fn_name(i));
		jsonw_ku64(w, "calls", f->calls);
		jsonw_ku64(w, "bytes", f->bytes);
		jsonw_ku64(w, "nested", f->nested);
		jsonw_ku64(w, "os_calls", f->os_calls);
		jsonw_ku64(w, "failed", f->failed);
		jsonw_obj_close(w);
	}
	jsonw_obj_close(w);
}

/* The summary's "syscalls": per syscall seen, its count, failures and
 * causes (the function that made it, "direct", "unknown"). */
static void json_sum_syscalls(struct jsonw *w, const struct am_summary *s)
{
	jsonw_kobj_open(w, "syscalls");
	for (unsigned i = 0; i < AM_SYS__COUNT; i++) {
		if (!s->sys_count[i])
			continue;
		jsonw_kobj_open(w, sys_name(i));
		jsonw_ku64(w, "count", s->sys_count[i]);
		jsonw_ku64(w, "failed", s->sys_failed[i]);
		jsonw_kobj_open(w, "by_cause");
		for (unsigned j = 0; j <= AM_FN_MAX; j++)
			if (s->sys_by_cause[i][j])
				jsonw_ku64(w, j == AM_FN_MAX ? "direct" : fn_name(j), s->sys_by_cause[i][j]);
		if (s->sys_unknown[i])
			jsonw_ku64(w, "unknown", s->sys_unknown[i]);
		jsonw_obj_close(w);
		jsonw_obj_close(w);
	}
	jsonw_obj_close(w);
}

/* The summary's "bytes", then "target": the launched command's wall time,
 * peak RSS and exit, null when attached (-p) or still running. */
static void json_sum_bytes_target(struct jsonw *w, const struct am_summary *s)
{
	jsonw_kobj_open(w, "bytes");
	jsonw_ku64(w, "live", s->live_bytes);
	jsonw_ku64(w, "live_peak", s->live_bytes_peak);
	jsonw_ku64(w, "heap", s->heap_bytes);
	jsonw_ku64(w, "heap_peak", s->heap_bytes_peak);
	jsonw_ku64(w, "mmap", s->mmap_bytes);
	jsonw_ku64(w, "mmap_peak", s->mmap_bytes_peak);
	jsonw_ku64(w, "committed", s->committed_bytes);
	jsonw_ku64(w, "committed_peak", s->committed_bytes_peak);
	jsonw_ku64(w, "direct_mmap", s->direct_mmap_bytes);
	jsonw_ku64(w, "returned_munmap", s->returned_munmap);
	jsonw_ku64(w, "returned_madvise", s->returned_madvise);
	jsonw_ku64(w, "returned_brk", s->returned_brk);
	jsonw_obj_close(w);

	jsonw_key(w, "target");
	if (s->target_exit < 0 && !s->target_wall_ns) {
		jsonw_null(w);
		return;
	}
	jsonw_obj_open(w);
	if (s->target_wall_ns) /* from its exec to its exit event; absent: an event was lost */
		jsonw_ku64(w, "wall_ns", s->target_wall_ns);
	jsonw_ku64(w, "max_rss_kb", s->target_maxrss_kb);
	jsonw_ks64(w, "exit", s->target_exit);
	if (s->target_signal) {
		char sb[16];
		jsonw_kstr(w, "signal", sig_name(sb, sizeof(sb), s->target_signal));
	}
	jsonw_obj_close(w);
}

/* The summary's "histogram": request sizes by power-of-two bucket and
 * where they were served, non-empty buckets only. */
static void json_sum_histogram(struct jsonw *w, const struct am_summary *s)
{
	jsonw_karr_open(w, "histogram");
	for (unsigned i = 0; i < AM_HIST_BUCKETS; i++) {
		if (!s->hist_heap[i] && !s->hist_mmap[i] && !s->hist_other[i])
			continue;
		jsonw_obj_open(w);
		jsonw_ku64(w, "lo", 1ULL << i);
		jsonw_ku64(w, "hi", 1ULL << (i + 1));
		jsonw_ku64(w, "heap", s->hist_heap[i]);
		jsonw_ku64(w, "mmap", s->hist_mmap[i]);
		jsonw_ku64(w, "other", s->hist_other[i]);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
}

/* The summary's "threshold": null without one (not glibc or musl); musl's
 * fixed one; glibc's start and end (per process in "procs" when several
 * processes were traced). */
static void json_sum_threshold(struct jsonw *w, const struct am_summary *s)
{
	jsonw_key(w, "threshold");
	if (!s->threshold_known) {
		jsonw_null(w);
		return;
	}
	jsonw_obj_open(w);
	if (s->threshold_fixed) {
		/* musl: a constant of the allocator */
		jsonw_ku64(w, "start", s->threshold_start);
		jsonw_ku64(w, "end", s->threshold_end);
		jsonw_ku64(w, "changes", 0);
		jsonw_kbool(w, "pinned", false);
		jsonw_kstr(w, "source", "musl");
		jsonw_kbool(w, "fixed", true);
	} else {
		json_thr_fields(w, &s->thr_start, &s->thr_end, s->threshold_changes);
		if (s->n_thr_procs > 1) {
			jsonw_karr_open(w, "procs");
			for (size_t k = 0; k < s->n_thr_procs; k++) {
				const struct am_thr_proc *tp = &s->thr_procs[k];

				jsonw_obj_open(w);
				jsonw_ku64(w, "pid", tp->pid);
				json_thr_fields(w, &tp->start, &tp->end, tp->changes);
				jsonw_obj_close(w);
			}
			jsonw_arr_close(w);
		}
	}
	jsonw_obj_close(w);
}

/* The summary's "live_at_end" (by region), then its "counters": what was
 * lost, missed or odd, always written. */
static void json_sum_live_counters(struct jsonw *w, const struct am_summary *s, uint64_t late)
{
	const struct am_counters *b = &s->bpf;

	jsonw_kobj_open(w, "live_at_end");
	for (unsigned i = 0; i < AM_REG__COUNT; i++) {
		if (!s->live_by_region_count[i] && !s->live_by_region_bytes[i])
			continue;
		jsonw_kobj_open(w, region_name(i));
		jsonw_ku64(w, "count", s->live_by_region_count[i]);
		jsonw_ku64(w, "bytes", s->live_by_region_bytes[i]);
		jsonw_obj_close(w);
	}
	jsonw_obj_close(w);

	jsonw_kobj_open(w, "counters");
	jsonw_ku64(w, "events", s->events);
	jsonw_ku64(w, "lost_events", b->lost_call + b->lost_os + b->lost_task);
	jsonw_ku64(w, "lost_call", b->lost_call);
	jsonw_ku64(w, "lost_os", b->lost_os);
	jsonw_ku64(w, "lost_task", b->lost_task);
	jsonw_ku64(w, "missed_returns", b->missed_ret);
	jsonw_ku64(w, "unattached_probes", s->unattached_probes);
	jsonw_ku64(w, "unknown_frees", s->unknown_frees);
	jsonw_ku64(w, "own_unknown_frees", s->own_unknown_frees);
	jsonw_ku64(w, "own_calls", s->own_calls);
	jsonw_ku64(w, "inflight_returns", b->inflight_ret);
	jsonw_ku64(w, "attach_unknown", b->attach_unknown);
	jsonw_ku64(w, "held", b->held);
	jsonw_ku64(w, "depth_overflow", b->depth_overflow);
	jsonw_ku64(w, "thread_full", b->thread_full);
	jsonw_ku64(w, "orphan_returns", b->orphan_ret);
	jsonw_ku64(w, "orphan_os", s->orphan_os);
	jsonw_kbool(w, "out_of_memory", s->oom);
	jsonw_ku64(w, "out_of_order", late);
	if (s->stack_mode != AM_STACKS_OFF) {
		jsonw_ku64(w, "stacks", s->stacks);
		jsonw_ku64(w, "stacks_lost", b->lost_stack);
		jsonw_ku64(w, "stacks_not_copied", b->stack_failed);
		jsonw_ku64(w, "stacks_truncated", s->stacks_truncated);
		jsonw_ku64(w, "stacks_unwind_failed", s->stacks_unwind_failed);
		jsonw_ku64(w, "stacks_missing", s->stacks_missing);
	}
	jsonw_obj_close(w);
}

/* The last record. It belongs to no process: pid and tid are 0, and ts_ns
 * is the end of the trace: t0_ns + duration_ns, or the latest timestamp of
 * any record if that is later (so ts_ns never goes back at the end). */
static void json_summary(struct am_out *o, const struct am_summary *s)
{
	struct jsonw *w = &o->jw;
	uint64_t end = o->o.t0_ns + s->duration_ns;

	if (end < o->last_ts)
		end = o->last_ts;
	if (s->sites)
		am_sites_json(w, s->sites, end);
	if (s->stack_mode != AM_STACKS_OFF)
		json_leaks(o, s, end);
	json_head(w, "summary", end, 0, 0);
	if (s->os_only)
		jsonw_kstr(w, "mode", "os");
	if (o->origin) { /* t = 0 of the trace, as its first record says */
		jsonw_ku64(w, "t0_ns", o->o.t0_ns);
		jsonw_kstr(w, "origin", o->origin);
	}
	jsonw_ku64(w, "duration_ns", s->duration_ns);
	if (s->allocator)
		jsonw_kstr(w, "allocator", s->allocator);
	json_sum_functions(w, s);
	json_sum_syscalls(w, s);
	json_sum_bytes_target(w, s);
	json_sum_histogram(w, s);
	json_sum_threshold(w, s);
	json_sum_live_counters(w, s, o->late);
	json_end(w);
}

/* ================================ text ================================== */

/* "     0.000412 [4242] ": time since t0 (seconds, µs), thread (pid/tid
 * with multi_pid). Returns nothing; the prefix width is l->n afterwards. */
static void text_prefix(struct am_out *o, struct line *l, uint64_t ts, uint32_t pid, uint32_t tid)
{
	char num[40];
	uint64_t rel;
	const char *sign = "";

	if (ts >= o->o.t0_ns) {
		rel = ts - o->o.t0_ns;
	} else {
		rel = o->o.t0_ns - ts;
		sign = "-";
	}
	snprintf(num, sizeof(num), "%s%" PRIu64 ".%06" PRIu64, sign,
		 rel / 1000000000, rel % 1000000000 / 1000);
	if (o->o.multi_pid)
		lp(l, "%13s [%" PRIu32 "/%" PRIu32 "] ", num, pid, tid);
	else
		lp(l, "%13s [%" PRIu32 "] ", num, tid);
}

static void text_ptr(struct line *l, uint64_t p)
{
	if (p)
		lp(l, "0x%" PRIx64, p);
	else
		lp(l, "NULL");
}

/* Previous break of pid, then remember brk as the new one. Returns false
 * when the previous break is unknown. */
static bool brk_swap(struct am_out *o, uint32_t pid, uint64_t brk, uint64_t *prev)
{
	unsigned i, h = (pid * 2654435761u) % BRK_SLOTS;

	for (i = 0; i < BRK_SLOTS; i++) {
		struct brk_slot *s = &o->brk[(h + i) % BRK_SLOTS];

		if (s->pid == pid) {
			*prev = s->brk;
			s->brk = brk;
			return true;
		}
		if (!s->pid) {
			s->pid = pid;
			s->brk = brk;
			return false;
		}
	}
	return false;
}

/* "mmap(NULL, 204800, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
 * = 0x7f3a1c2b6000": one OS request the way strace shows it, with brk growth
 * as a delta and new allocator arenas marked. */
static void text_os_piece(struct am_out *o, struct line *l, const struct am_os_rec *r)
{
	const struct am_os_event *e = &r->ev;
	char a[AM_FMT_BUF], b[AM_FMT_BUF];
	int err = os_errno(e);
	uint64_t v[6]; /* args as uint64_t, for the PRI* formats */
	int64_t ret = e->ret;
	unsigned i;

	for (i = 0; i < 6; i++)
		v[i] = e->args[i];
	switch (e->sys) {
	case AM_SYS_BRK:
		lp(l, "brk(");
		text_ptr(l, v[0]);
		lp(l, ")");
		break;
	case AM_SYS_MMAP:
		/* sizes in decimal, addresses and offsets in hex (0 as 0), as strace */
		lp(l, "mmap(");
		text_ptr(l, v[0]);
		lp(l, ", %" PRIu64 ", %s, %s, %" PRId32 ", %s%" PRIx64 ")", v[1],
		   am_fmt_prot(a, sizeof(a), v[2]), am_fmt_mmap_flags(b, sizeof(b), v[3]),
		   (int32_t)v[4], v[5] ? "0x" : "", v[5]);
		break;
	case AM_SYS_MUNMAP:
		lp(l, "munmap(0x%" PRIx64 ", %" PRIu64 ")", v[0], v[1]);
		break;
	case AM_SYS_MREMAP:
		lp(l, "mremap(0x%" PRIx64 ", %" PRIu64 ", %" PRIu64 ", %s", v[0], v[1],
		   v[2], am_fmt_mremap_flags(a, sizeof(a), v[3]));
		if (v[3] & MREMAP_FIXED_)
			lp(l, ", 0x%" PRIx64, v[4]);
		lp(l, ")");
		break;
	case AM_SYS_MPROTECT:
		lp(l, "mprotect(0x%" PRIx64 ", %" PRIu64 ", %s)", v[0], v[1],
		   am_fmt_prot(a, sizeof(a), v[2]));
		break;
	case AM_SYS_MADVISE:
		lp(l, "madvise(0x%" PRIx64 ", %" PRIu64 ", %s)", v[0], v[1],
		   am_fmt_madv(a, sizeof(a), v[2]));
		break;
	default:
		lp(l, "%s(0x%" PRIx64 ", %" PRIu64 ")", sys_name(e->sys), v[0], v[1]);
		break;
	}

	if (e->sys == AM_SYS_BRK) {
		uint64_t prev = 0, now = (uint64_t)ret;
		bool known = brk_swap(o, e->pid, now, &prev);

		lp(l, " = 0x%" PRIx64, now);
		if (v[0] && now != v[0])
			lp(l, " (refused)");
		else if (known && v[0] && now != prev)
			lp(l, " (%s%s)", now > prev ? "+" : "-",
			   am_fmt_size(a, sizeof(a), now > prev ? now - prev : prev - now));
		return;
	}
	if (err)
		lp(l, " = -1 %s", am_fmt_errno(a, sizeof(a), err));
	else if (sys_returns_addr(e->sys))
		lp(l, " = 0x%" PRIx64, (uint64_t)ret);
	else
		lp(l, " = %" PRId64, ret);
	if (!err && !r->direct && r->region_kind == AM_REG_ARENA &&
	    (e->sys == AM_SYS_MMAP || e->sys == AM_SYS_MREMAP))
		lp(l, " (arena)");
}

/* "malloc(200000) = 0x7f3a1c2b6010", with the call's markers. */
static void text_call_body(struct line *l, const struct am_call_rec *c)
{
	const struct am_call_event *e = &c->ev;
	bool no_ret = e->flags & (AM_CALL_MISSED | AM_CALL_NORET);
	char a[AM_FMT_BUF];
	int rc = (int32_t)e->ret;

	enum am_role role = am_fn_role(e->fn);

	lp(l, "%s(", fn_name(e->fn));
	switch (role) {
	case AM_ROLE_CALLOC:
		lp(l, "%" PRIu64 ", %" PRIu64 ")", c->nmemb, (uint64_t)e->args[1]);
		break;
	case AM_ROLE_REALLOC:
		text_ptr(l, c->ptr_in);
		lp(l, ", %" PRIu64 ")", c->size);
		break;
	case AM_ROLE_REALLOCARRAY:
		text_ptr(l, c->ptr_in);
		lp(l, ", %" PRIu64 ", %" PRIu64 ")", c->nmemb, (uint64_t)e->args[2]);
		break;
	case AM_ROLE_FREE:
		text_ptr(l, c->ptr_in);
		lp(l, ")");
		break;
	case AM_ROLE_FREE_SIZED:
		text_ptr(l, c->ptr_in);
		lp(l, ", %" PRIu64 ")", (uint64_t)e->args[1]);
		break;
	case AM_ROLE_POSIX_MEMALIGN:
		/* strace style: an output argument in brackets once written */
		if (!no_ret && rc == 0)
			lp(l, "[0x%" PRIx64 "]", c->ptr_out);
		else
			lp(l, "0x%" PRIx64, (uint64_t)e->args[0]);
		lp(l, ", %" PRIu64 ", %" PRIu64 ")", c->align, c->size);
		break;
	case AM_ROLE_MEMALIGN:
		lp(l, "%" PRIu64 ", %" PRIu64 ")", c->align, c->size);
		break;
	case AM_ROLE_NEW_ALIGNED:
		lp(l, "%" PRIu64 ", %" PRIu64 ")", c->size, c->align);
		break;
	default:
		lp(l, "%" PRIu64 ")", c->size);
		break;
	}

	if (am_role_frees(role)) {
		/* void */
	} else if (no_ret) {
		lp(l, " = ?");
	} else if (role == AM_ROLE_POSIX_MEMALIGN) {
		if (rc == 0)
			lp(l, " = 0");
		else
			lp(l, " = %s", am_fmt_errno(a, sizeof(a), rc));
	} else {
		lp(l, " = ");
		text_ptr(l, c->ptr_out);
	}
	if (e->flags & AM_CALL_MISSED)
		lp(l, " <return missed>");
	if (e->flags & AM_CALL_NESTED)
		lp(l, " <nested>");
	if (c->free_unknown)
		lp(l, c->from_obj ? " <unknown ptr: the allocator's own free>" : " <unknown ptr>");
	else if (c->from_obj)
		lp(l, " <from the allocator's own object>");
}

/* The threshold a call saw: "196 KiB", or "(unknown, 128 KiB..1.0 MiB)". */
static const char *text_thr(char *buf, size_t n, const struct am_call_rec *c)
{
	char a[AM_FMT_BUF], b[AM_FMT_BUF];

	if (!c->thr_hi)
		return am_fmt_size(buf, n, c->threshold);
	snprintf(buf, n, "(unknown, %s..%s)", am_fmt_size(a, sizeof(a), c->thr_lo),
		 am_fmt_size(b, sizeof(b), c->thr_hi));
	return buf;
}

/* "  [mmap: over threshold 128 KiB]": where the result went and why. */
static void text_call_tag(struct line *l, const struct am_call_rec *c)
{
	const struct am_call_event *e = &c->ev;
	char a[AM_FMT_BUF], b[AM_FMT_BUF];
	const char *reg = region_name(c->region);

	if (am_role_frees(am_fn_role(e->fn))) {
		if (!c->ptr_in || c->free_unknown)
			return;
		if (c->region == AM_REG_UNKNOWN && c->size)
			lp(l, "  [chunk of %s]", am_fmt_size(a, sizeof(a), c->size));
		else if (c->region != AM_REG_UNKNOWN && c->size)
			lp(l, "  [%s chunk of %s]", reg, am_fmt_size(a, sizeof(a), c->size));
		else if (c->region != AM_REG_UNKNOWN)
			lp(l, "  [%s]", reg);
		return;
	}
	if (e->flags & (AM_CALL_MISSED | AM_CALL_NORET))
		return;
	if (!c->ptr_out) {
		lp(l, "  [failed]");
		return;
	}
	switch (c->reason) {
	case AM_WHY_OVER_THRESHOLD:
		lp(l, "  [%s: over threshold %s]", reg, text_thr(a, sizeof(a), c));
		break;
	case AM_WHY_FIT_TOP:
		lp(l, "  [%s: over threshold %s, fit top chunk]", reg, text_thr(a, sizeof(a), c));
		break;
	case AM_WHY_UNDER_THRESHOLD:
		/* said for requests the start value would have sent to mmap, and
		 * whenever the threshold is only known by its bounds */
		if (c->size >= AM_GLIBC_THR_START || c->thr_hi)
			lp(l, "  [%s: under threshold %s]", reg, text_thr(a, sizeof(a), c));
		else
			lp(l, "  [%s]", reg);
		break;
	case AM_WHY_GROUP:
		if (c->region == AM_REG_MMAP)
			lp(l, "  [mmap: single-slot group, under threshold %s]", am_fmt_size(a, sizeof(a), c->threshold));
		else
			lp(l, "  [%s: size-class group]", reg);
		break;
	default:
		if (c->thr_hi && (c->region == AM_REG_HEAP || c->region == AM_REG_ARENA))
			lp(l, "  [%s: threshold unknown, %s..%s]", reg, am_fmt_size(a, sizeof(a), c->thr_lo),
			   am_fmt_size(b, sizeof(b), c->thr_hi));
		else
			lp(l, "  [%s]", reg);
		break;
	}
}

/* One frame: "#1 0x55d0c1a2b2a0 parse_config+0x41 (prog) prog.c:23". */
static void text_frame(struct line *l, unsigned i, const struct am_frame *f)
{
	/* names come from the target: printable, never raw escapes or newlines */
	char sb[LINE_CAP], ob[LINE_CAP], fb[LINE_CAP];
	const char *sym = am_printable(sb, sizeof(sb), f->sym);
	const char *obj = am_printable(ob, sizeof(ob), f->obj);

	lp(l, "#%-2u 0x%" PRIx64 " ", i, f->addr);
	if (sym)
		lp(l, "%s+0x%" PRIx64, sym, f->off);
	else if (obj)
		lp(l, "?? %s+0x%" PRIx64, obj, f->off);
	else
		lp(l, "??");
	if (obj && sym)
		lp(l, " (%s)", obj);
	if (f->file) {
		const char *b = strrchr(f->file, '/');
		lp(l, " %s:%" PRIu32, am_printable(fb, sizeof(fb), b ? b + 1 : f->file), f->line);
	}
}

/* The frames of st, one per line, indented under their record. */
static void text_stack(struct am_out *o, const struct am_stack *st, size_t indent, const char *note)
{
	struct line l;

	l.n = 0;
	for (uint32_t i = 0; i < st->n; i++) {
		lp(&l, "%*s", (int)indent, "");
		text_frame(&l, i, &st->f[i]);
		if (i == 0 && note)
			lp(&l, "  %s", note);
		lend(o, &l);
	}
	if (st->flags & AM_STK_TRUNCATED) {
		lp(&l, "%*s(stack truncated)", (int)indent, "");
		lend(o, &l);
	}
}

static void text_call(struct am_out *o, const struct am_call_rec *c,
		      const struct am_os_rec *os, size_t n_os)
{
	struct line l;
	size_t indent, i;

	l.n = 0;
	text_prefix(o, &l, c->ev.ts_enter, c->ev.pid, c->ev.tid);
	indent = l.n + 2;
	text_call_body(&l, c);
	if (n_os) {
		lp(&l, " -> ");
		text_os_piece(o, &l, &os[0]);
	}
	text_call_tag(&l, c);
	lend(o, &l);
	for (i = 1; i < n_os; i++) {
		lp(&l, "%*s-> ", (int)indent, "");
		text_os_piece(o, &l, &os[i]);
		lend(o, &l);
	}
	if (c->stack)
		text_stack(o, c->stack, indent + 2, c->stack_derived ? "(from its OS request's stack)" : NULL);
	else
		for (i = 0; i < n_os; i++)
			if (os[i].stack) {
				text_stack(o, os[i].stack, indent + 2, "(stack of its first OS request)");
				break;
			}
}

static void text_os(struct am_out *o, const struct am_os_rec *r)
{
	struct line l;

	l.n = 0;
	text_prefix(o, &l, r->ev.ts_enter, r->ev.pid, r->ev.tid);
	text_os_piece(o, &l, r);
	if (r->cause_unknown)
		lp(&l, "  [cause unknown: %s]", r->unknown_why == AM_UNK_ATTACHING ?
		   "its thread may be in a call that began before the probes were in" :
		   r->unknown_why == AM_UNK_NO_ALLOC ? "no allocator probed" : "--mode os, stack does not tell");
	else if (r->direct && (r->ev.pad0 & AM_OS_STARTUP))
		lp(&l, "  [direct: the dynamic loader, at startup]");
	else if (r->direct)
		lp(&l, r->inferred ? "  [direct, from the stack]" : "  [direct]");
	else if (r->inferred)
		lp(&l, "  [%s, from the stack]", fn_name(r->cause_fn));
	else
		lp(&l, "  [%s #%" PRIu64 ", call not seen]", fn_name(r->cause_fn), r->call_id);
	lend(o, &l);
	if (r->stack) {
		l.n = 0;
		text_prefix(o, &l, r->ev.ts_enter, r->ev.pid, r->ev.tid);
		text_stack(o, r->stack, l.n + 2, NULL);
	}
}

/* "     0.000312 [42] startup: 13 requests by the dynamic loader, until
 * 0.002422 (brk 1, mmap 8, mprotect 3, munmap 1; 3.7 MiB mapped)". */
static void text_startup(struct am_out *o, const struct startup_group *g)
{
	char a[AM_FMT_BUF], num[40];
	uint64_t rel = g->last >= o->o.t0_ns ? g->last - o->o.t0_ns : 0;
	struct line l;
	bool any = false;

	l.n = 0;
	text_prefix(o, &l, g->first, g->pid, g->tid);
	snprintf(num, sizeof(num), "%" PRIu64 ".%06" PRIu64, rel / 1000000000, rel % 1000000000 / 1000);
	lp(&l, "startup: %" PRIu64 " request%s by the dynamic loader, until %s (", g->n, g->n == 1 ? "" : "s",
	   num);
	for (unsigned i = 0; i < AM_SYS__COUNT; i++) {
		if (!g->by_sys[i])
			continue;
		lp(&l, "%s%s %" PRIu64, any ? ", " : "", sys_name(i), g->by_sys[i]);
		any = true;
	}
	lp(&l, "; %s mapped)  [--startup lists them]", am_fmt_size(a, sizeof(a), g->mapped));
	lend(o, &l);
}

/* "196 KiB", or "unknown (128 KiB..32 MiB)" when value is 0. */
static const char *thr_bounds(char *buf, size_t n, uint64_t value, uint64_t lo, uint64_t hi)
{
	char a[AM_FMT_BUF], b[AM_FMT_BUF];

	if (value)
		return am_fmt_size(buf, n, value);
	snprintf(buf, n, "unknown (%s..%s)", am_fmt_size(a, sizeof(a), lo), am_fmt_size(b, sizeof(b), hi));
	return buf;
}

static const char *thr_state(char *buf, size_t n, const struct am_thr *t)
{
	return thr_bounds(buf, n, t->known ? t->value : 0, t->lo, t->hi);
}

static void text_threshold(struct am_out *o, const struct am_threshold_rec *t)
{
	struct line l;
	char a[AM_FMT_BUF], b[AM_FMT_BUF], c[AM_FMT_BUF];

	l.n = 0;
	text_prefix(o, &l, t->ts_ns, t->pid, t->tid);
	lp(&l, "threshold %s -> %s (free of a %s mmapped chunk, call #%" PRIu64 ")",
	   thr_bounds(a, sizeof(a), t->old_value, t->old_lo, t->old_hi),
	   thr_bounds(b, sizeof(b), t->new_value, t->new_lo, t->new_hi),
	   am_fmt_size(c, sizeof(c), t->freed_chunk), t->call_id);
	lend(o, &l);
}

static void text_task(struct am_out *o, const struct am_task_event *t)
{
	struct line l;

	l.n = 0;
	text_prefix(o, &l, t->ts, t->pid, t->tid);
	switch (t->kind) {
	case AM_TASK_FORK:
		lp(&l, "+++ fork: child %" PRIu32 " +++", t->child);
		break;
	case AM_TASK_EXEC:
		lp(&l, "+++ exec +++");
		break;
	case AM_TASK_EXIT:
		if (WIFSIGNALED(t->code)) {
			const char *sig = sigabbrev_np(WTERMSIG(t->code));

			if (sig)
				lp(&l, "+++ killed by SIG%s%s +++", sig, WCOREDUMP(t->code) ? " (core dumped)" : "");
			else
				lp(&l, "+++ killed by signal %d +++", WTERMSIG(t->code));
		} else {
			lp(&l, "+++ exited with %d +++", WEXITSTATUS(t->code));
		}
		break;
	default:
		lp(&l, "+++ task event %u +++", t->kind);
		break;
	}
	lend(o, &l);
}

/* Count scaled to a bar of at most HIST_BAR chars; non-zero shows >= 1. */
static unsigned bar_len(uint64_t n, uint64_t max)
{
	unsigned k;

	if (!n || !max)
		return 0;
	k = (unsigned)((n * HIST_BAR + max / 2) / max);
	return k ? k : 1;
}

/* The leak report: live allocations by allocation stack, largest first. */
static void text_leaks(struct am_out *o, const struct am_summary *s)
{
	uint64_t count = 0, bytes = 0;
	char x[AM_FMT_BUF];
	struct line l;

	l.n = 0;
	for (size_t i = 0; i < s->n_leaks; i++) {
		count += s->leaks[i].count;
		bytes += s->leaks[i].bytes;
	}
	if (!s->n_leaks) {
		lp(&l, "leaks: none (no allocation live at end)");
		lend(o, &l);
		return;
	}
	lp(&l, "leaks: %" PRIu64 " allocation%s, %" PRIu64 " bytes live at end, by allocation stack (largest first):",
	   count, count == 1 ? "" : "s", bytes);
	lend(o, &l);
	for (size_t i = 0; i < s->n_leaks && i < LEAKS_TEXT; i++) {
		const struct am_leak *g = &s->leaks[i];
		bool any = false;

		lp(&l, "  %" PRIu64 " bytes (%s) in %" PRIu64 " allocation%s [", g->bytes,
		   am_fmt_size3(x, sizeof(x), g->bytes), g->count, g->count == 1 ? "" : "s");
		for (unsigned r = 0; r < AM_REG__COUNT; r++) {
			if (!g->region_count[r])
				continue;
			lp(&l, "%s%s %" PRIu64, any ? ", " : "", region_name(r), g->region_count[r]);
			any = true;
		}
		lp(&l, "]");
		if (o->o.multi_pid)
			lp(&l, " pid %" PRIu32, g->pid);
		if (!g->stack)
			lp(&l, " stack unknown");
		lend(o, &l);
		if (g->stack)
			text_stack(o, g->stack, 6, NULL);
	}
	if (s->n_leaks > LEAKS_TEXT) {
		lp(&l, "  ... %zu more stacks (all of them in the JSON \"leaks\" record)", s->n_leaks - LEAKS_TEXT);
		lend(o, &l);
	}
}

/* "mmap threshold: 128 KiB -> 1028 KiB (1 change)", "... 64 KiB (pinned)",
 * "... unknown (128 KiB..32 MiB) -> 1028 KiB (1 change)" plus where the
 * start value came from when it was not glibc's start value. */
static void text_thr_line(struct line *l, const char *pfx, const struct am_thr *start,
			  const struct am_thr *end, uint64_t changes)
{
	char x[AM_FMT_BUF], y[AM_FMT_BUF];
	static const char *const from[AM_THR_SRC__COUNT] = {
		[AM_THR_SRC_ENV] = ", from the environment",
		[AM_THR_SRC_PROCESS] = ", read from the process",
		[AM_THR_SRC_UNKNOWN] = ", not readable at attach: no glibc debug info",
		[AM_THR_SRC_FORK] = ", inherited at fork",
	};
	const char *f = start->source < AM_THR_SRC__COUNT && from[start->source] ? from[start->source] : "";

	if (end->pinned && end->known)
		lp(l, "%s%s (pinned%s)", pfx, thr_state(x, sizeof(x), end), f);
	else
		lp(l, "%s%s -> %s (%" PRIu64 " change%s%s)", pfx, thr_state(x, sizeof(x), start),
		   thr_state(y, sizeof(y), end), changes, changes == 1 ? "" : "s", f);
}

/* The summary's header line, then per allocator function (the table's
 * header only when calls were traced) and per syscall with its causes. */
static void text_sum_calls(struct am_out *o, const struct am_summary *s)
{
	char x[AM_FMT_BUF];
	struct line l;

	l.n = 0;
	lp(&l, "--- allocmap summary: %" PRIu64 ".%06" PRIu64 " s, %" PRIu64 " events ---",
	   s->duration_ns / 1000000000, s->duration_ns % 1000000000 / 1000, s->events);
	lend(o, &l);

	if (!s->os_only) {
		lp(&l, "%-16s %10s %12s %8s %9s %8s", "function", "calls", "bytes", "nested", "os_calls",
		   "failed");
		lend(o, &l);
	}
	uint64_t most = 0; /* the bytes column's unit: its largest value's (am_fmt_size_in) */

	for (unsigned i = 0; i < (unsigned)am_fn_count(); i++)
		most = s->fn[i].calls && s->fn[i].bytes > most ? s->fn[i].bytes : most;
	for (unsigned i = 0; i < (unsigned)am_fn_count(); i++) {
		const struct am_fn_stats *f = &s->fn[i];

		if (!f->calls)
			continue;
		lp(&l, "  %-14s %10" PRIu64 " %12s %8" PRIu64 " %9" PRIu64 " %8" PRIu64, fn_name(i),
		   f->calls, am_fmt_size_in(x, sizeof(x), f->bytes, most), f->nested, f->os_calls, f->failed);
		lend(o, &l);
	}

	lp(&l, "%-16s %10s %12s  %s", "syscall", "count", "failed", "by cause");
	lend(o, &l);
	for (unsigned i = 0; i < AM_SYS__COUNT; i++) {
		bool any = false;

		if (!s->sys_count[i])
			continue;
		lp(&l, "  %-14s %10" PRIu64 " %12" PRIu64 " ", sys_name(i), s->sys_count[i], s->sys_failed[i]);
		for (unsigned j = 0; j <= AM_FN_MAX; j++) {
			if (!s->sys_by_cause[i][j])
				continue;
			lp(&l, "%s %s %" PRIu64, any ? "," : "", j == AM_FN_MAX ? "direct" : fn_name(j),
			   s->sys_by_cause[i][j]);
			any = true;
		}
		if (s->sys_unknown[i])
			lp(&l, "%s unknown %" PRIu64, any ? "," : "", s->sys_unknown[i]);
		lend(o, &l);
	}
}

/* The memory table (bytes asked for, brk heap, mappings: at end and at
 * peak), bytes given back, and the launched command's wall time and RSS. */
static void text_sum_memory(struct am_out *o, const struct am_summary *s)
{
	char x[AM_FMT_BUF], y[AM_FMT_BUF];
	/* one unit per column (fmt.h am_fmt_size_in): its largest value's */
	uint64_t end[] = { s->os_only ? 0 : s->live_bytes, s->heap_bytes, s->mmap_bytes,
			   s->committed_bytes, s->direct_mmap_bytes };
	uint64_t peak[] = { s->os_only ? 0 : s->live_bytes_peak, s->heap_bytes_peak, s->mmap_bytes_peak,
			    s->committed_bytes_peak };
	uint64_t me = 0, mp = 0;
	struct line l;

	for (size_t i = 0; i < sizeof(end) / sizeof(end[0]); i++)
		me = end[i] > me ? end[i] : me;
	for (size_t i = 0; i < sizeof(peak) / sizeof(peak[0]); i++)
		mp = peak[i] > mp ? peak[i] : mp;
	l.n = 0;
	lp(&l, "%-24s %12s %12s", "memory", "at end", "peak");
	lend(o, &l);
	if (!s->os_only) {
		lp(&l, "  %-22s %12s %12s  (%" PRIu64 " allocation%s)", "asked for (live)",
		   am_fmt_size_in(x, sizeof(x), s->live_bytes, me),
		   am_fmt_size_in(y, sizeof(y), s->live_bytes_peak, mp),
		   s->live_count, s->live_count == 1 ? "" : "s");
		lend(o, &l);
	}
	lp(&l, "  %-22s %12s %12s", "brk heap", am_fmt_size_in(x, sizeof(x), s->heap_bytes, me),
	   am_fmt_size_in(y, sizeof(y), s->heap_bytes_peak, mp));
	lend(o, &l);
	lp(&l, "  %-22s %12s %12s", "mmapped by allocator", am_fmt_size_in(x, sizeof(x), s->mmap_bytes, me),
	   am_fmt_size_in(y, sizeof(y), s->mmap_bytes_peak, mp));
	lend(o, &l);
	lp(&l, "  %-22s %12s %12s", "from OS (heap + mmap)",
	   am_fmt_size_in(x, sizeof(x), s->committed_bytes, me),
	   am_fmt_size_in(y, sizeof(y), s->committed_bytes_peak, mp));
	lend(o, &l);
	lp(&l, "  %-22s %12s", "mmapped directly", am_fmt_size_in(x, sizeof(x), s->direct_mmap_bytes, me));
	lend(o, &l);
	if (s->returned_munmap || s->returned_madvise || s->returned_brk) {
		char z[AM_FMT_BUF];

		lp(&l, "  %-22s munmap %s, madvise %s, brk shrink %s", "returned to the OS",
		   am_fmt_size3(x, sizeof(x), s->returned_munmap), am_fmt_size3(y, sizeof(y), s->returned_madvise),
		   am_fmt_size3(z, sizeof(z), s->returned_brk));
		lend(o, &l);
	}
	if (s->target_wall_ns || s->target_exit >= 0) {
		if (s->target_wall_ns)
			lp(&l, "  %-22s wall %.3f s", "command", (double)s->target_wall_ns / 1e9);
		else /* its exec or exit event was lost */
			lp(&l, "  %-22s wall unknown", "command");
		lp(&l, ", peak RSS %s", am_fmt_size3(x, sizeof(x), s->target_maxrss_kb * 1024));
		if (s->target_signal)
			lp(&l, ", killed by %s", sig_name(y, sizeof(y), s->target_signal));
		else if (s->target_exit >= 0)
			lp(&l, ", exit %d", s->target_exit);
		lend(o, &l);
	}
}

/* The request-size histogram with bars, when any request was seen. */
static void text_sum_histogram(struct am_out *o, const struct am_summary *s)
{
	char x[AM_FMT_BUF], y[AM_FMT_BUF];
	uint64_t max = 0;
	struct line l;

	l.n = 0;
	for (unsigned i = 0; i < AM_HIST_BUCKETS; i++) {
		uint64_t t = s->hist_heap[i] + s->hist_mmap[i] + s->hist_other[i];

		if (t > max)
			max = t;
	}
	if (!max)
		return;
	lp(&l, "%-24s %8s %8s %8s  %s", "request size", "heap", "mmap", "other",
	   "(# heap, = mmap, . other)");
	lend(o, &l);
	for (unsigned i = 0; i < AM_HIST_BUCKETS; i++) {
		unsigned k;

		if (!s->hist_heap[i] && !s->hist_mmap[i] && !s->hist_other[i])
			continue;
		snprintf(y, sizeof(y), "[%s, ", am_fmt_size(x, sizeof(x), 1ULL << i));
		lp(&l, "  %s%s) ", y, am_fmt_size(x, sizeof(x), 1ULL << (i + 1)));
		lp(&l, "%*s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "  ", l.n < 24 ? (int)(24 - l.n) : 0, "",
		   s->hist_heap[i], s->hist_mmap[i], s->hist_other[i]);
		for (k = bar_len(s->hist_heap[i], max); k; k--)
			lp(&l, "#");
		for (k = bar_len(s->hist_mmap[i], max); k; k--)
			lp(&l, "=");
		for (k = bar_len(s->hist_other[i], max); k; k--)
			lp(&l, ".");
		lend(o, &l);
	}
}

/* The allocator, and its mmap threshold: not followed, n/a, musl's fixed
 * one, glibc's start and end (per process when several were traced). */
static void text_sum_threshold(struct am_out *o, const struct am_summary *s)
{
	char x[AM_FMT_BUF];
	struct line l;

	l.n = 0;
	if (s->allocator) {
		lp(&l, "allocator: %s", s->allocator);
		lend(o, &l);
	}
	if (s->os_only) {
		lp(&l, "mmap threshold: not followed (no allocator call traced)");
		lend(o, &l);
	} else if (!s->threshold_known) {
		lp(&l, "mmap threshold: n/a (allocator is not glibc)");
		lend(o, &l);
	} else if (s->threshold_fixed) {
		lp(&l, "mmap threshold: %s (fixed: musl maps requests of %" PRIu64 " B or more on their own; "
		   "smaller ones share size-class groups)", am_fmt_size(x, sizeof(x), s->threshold_end), s->threshold_end);
		lend(o, &l);
	} else if (s->n_thr_procs <= 1) {
		text_thr_line(&l, "mmap threshold: ", &s->thr_start, &s->thr_end, s->threshold_changes);
		lend(o, &l);
	} else {
		lp(&l, "mmap threshold, per process:");
		lend(o, &l);
		for (size_t k = 0; k < s->n_thr_procs; k++) {
			const struct am_thr_proc *tp = &s->thr_procs[k];
			char pfx[48];

			snprintf(pfx, sizeof(pfx), "  pid %u: ", tp->pid);
			text_thr_line(&l, pfx, &tp->start, &tp->end, tp->changes);
			lend(o, &l);
		}
	}
}

/* Allocations live at the end, by region. */
static void text_sum_live(struct am_out *o, const struct am_summary *s)
{
	char x[AM_FMT_BUF];
	struct line l;
	bool any = false;

	l.n = 0;
	lp(&l, "live at end:");
	for (unsigned i = 0; i < AM_REG__COUNT; i++) {
		if (!s->live_by_region_count[i])
			continue;
		lp(&l, "%s %s %" PRIu64 " (%s)", any ? "," : "", region_name(i), s->live_by_region_count[i],
		   am_fmt_size3(x, sizeof(x), s->live_by_region_bytes[i]));
		any = true;
	}
	if (!any)
		lp(&l, " none");
	lend(o, &l);
}

/* What was lost, missed or odd (always printed, with a warning when the
 * trace is incomplete), and what the odd counts mean. */
static void text_sum_counters(struct am_out *o, const struct am_summary *s)
{
	struct line l2 = { .n = 0 };

	if (o->late) {
		lp(&l2, "out of time order: %" PRIu64 " record%s came after later ones had been written "
		   "(a call or syscall longer than the tracer waits for; see README)", o->late,
		   o->late == 1 ? "" : "s");
		lend(o, &l2);
	}
	const struct am_counters *b = &s->bpf;
	uint64_t lost = b->lost_call + b->lost_os + b->lost_task;
	struct line l;

	l.n = 0;
	if (s->os_only) {
		lp(&l, "OS-only: allocator calls were not traced; an OS request's cause is inferred from its "
		   "stack (its outermost allocator frame) and unknown where the stack does not tell");
		lend(o, &l);
	}
	if (lost || b->missed_ret || s->unattached_probes || b->depth_overflow || b->thread_full ||
	    b->orphan_ret || s->orphan_os || b->lost_stack) {
		lp(&l, "WARNING: events were lost, missed or not traced: the trace is incomplete");
		lend(o, &l);
	}
	if (s->oom) {
		lp(&l, "WARNING: incomplete: allocmap ran out of memory; some records or state were dropped "
		   "and the figures above are partial");
		lend(o, &l);
	}
	lp(&l, "lost events: %" PRIu64 "  missed returns: %" PRIu64 "  unattached probes: %" PRIu64
	   "  unknown frees: %" PRIu64, lost, (uint64_t)b->missed_ret, s->unattached_probes, s->unknown_frees);
	lend(o, &l);
	lp(&l, "lost call/os/task: %" PRIu64 "/%" PRIu64 "/%" PRIu64 "  depth overflow: %" PRIu64
	   "  thread full: %" PRIu64 "  orphan returns: %" PRIu64 "  orphan os: %" PRIu64,
	   (uint64_t)b->lost_call, (uint64_t)b->lost_os, (uint64_t)b->lost_task,
	   (uint64_t)b->depth_overflow, (uint64_t)b->thread_full, (uint64_t)b->orphan_ret,
	   s->orphan_os);
	lend(o, &l);
	if (b->inflight_ret || b->attach_unknown) {
		lp(&l, "attach: %" PRIu64 " calls began before their entry probe was in (not traced); "
		   "%" PRIu64 " OS requests of threads that may have been inside one have an unknown cause",
		   (uint64_t)b->inflight_ret, (uint64_t)b->attach_unknown);
		lend(o, &l);
	}
	if (s->own_calls) {
		lp(&l, "allocator-internal: %" PRIu64 " calls made from the object that defines the function "
		   "(e.g. glibc freeing its thread cache at thread exit)%s", s->own_calls,
		   s->own_unknown_frees ? "" : "");
		if (s->own_unknown_frees)
			lp(&l, "; %" PRIu64 " of them freed cached chunks the program had freed already",
			   s->own_unknown_frees);
		lend(o, &l);
	}
	if (s->unknown_frees) {
		lp(&l, "unknown frees are of pointers never seen allocated: %s", s->attached ?
		   "mostly memory allocated before the attach" :
		   "memory from an allocation path allocmap does not probe (ld.so's own allocator "
		   "before libc's took over, an untraced function), or an invalid free");
		lend(o, &l);
	}
	if (s->stack_mode != AM_STACKS_OFF) {
		lp(&l, "stacks: %" PRIu64 "  lost: %" PRIu64 "  not copied: %" PRIu64 "  truncated: %" PRIu64
		   "  unwind failed: %" PRIu64 "  missing: %" PRIu64, s->stacks, (uint64_t)b->lost_stack,
		   (uint64_t)b->stack_failed, s->stacks_truncated, s->stacks_unwind_failed, s->stacks_missing);
		lend(o, &l);
	}
}

static void text_summary(struct am_out *o, const struct am_summary *s)
{
	text_sum_calls(o, s);
	text_sum_memory(o, s);
	text_sum_histogram(o, s);
	text_sum_threshold(o, s);
	/* with --mode os no allocation was traced: nothing is known live or leaked */
	if (!s->os_only) {
		text_sum_live(o, s);
		if (s->stack_mode != AM_STACKS_OFF)
			text_leaks(o, s);
		if (s->sites)
			am_sites_text(o->o.f, s->sites, o->o.sites_top, (enum am_site_sort)o->o.sites_sort,
				      o->o.multi_pid);
	}
	text_sum_counters(o, s);
}

/* ============================ sink callbacks ============================ */

static inline void seen(struct am_out *o, uint64_t ts)
{
	if (ts > o->last_ts)
		o->last_ts = ts;
}

/* Does the text show this call? (JSON shows every record.) */
static bool text_shows_call(const struct am_out *o, size_t n_os)
{
	return o->o.verbosity > 0 || (o->o.verbosity == 0 && n_os);
}

static void startup_close(struct am_out *o, uint32_t pid);
static void startup_add(struct am_out *o, const struct am_os_rec *r);

/* The pid a record belongs to. */
static uint32_t item_pid(const struct qitem *it)
{
	switch (it->kind) {
	case Q_CALL:      return it->u.call.ev.pid;
	case Q_OS:        return it->u.os.ev.pid;
	case Q_THRESHOLD: return it->u.thr.pid;
	case Q_RSS:       return it->u.rss.pid;
	default:          return it->u.task.pid;
	}
}

/* Writes one record now, in either form. */
static void write_item(struct am_out *o, const struct qitem *it)
{
	o->cur_seq = it->seq;
	if (!o->o.json && !o->o.startup_each) {
		/* the loader's startup requests, one line for them all */
		if (it->kind == Q_OS && (it->u.os.ev.pad0 & AM_OS_STARTUP)) {
			startup_add(o, &it->u.os);
			return;
		}
		startup_close(o, item_pid(it));
	}
	switch (it->kind) {
	case Q_CALL:
		if (o->o.json)
			json_call(o, &it->u.call, it->os, it->n_os);
		else
			text_call(o, &it->u.call, it->os, it->n_os);
		break;
	case Q_OS:
		if (o->o.json)
			json_os(o, &it->u.os);
		else
			text_os(o, &it->u.os);
		break;
	case Q_THRESHOLD:
		if (o->o.json)
			json_threshold(o, &it->u.thr);
		else
			text_threshold(o, &it->u.thr);
		break;
	case Q_TASK:
		if (o->o.json)
			json_task(o, &it->u.task);
		else
			text_task(o, &it->u.task);
		break;
	case Q_RSS:
		if (o->o.json)
			json_rss(o, &it->u.rss);
		break;
	}
}

/* Writes pid's startup line (every process's with pid 0), if it has one. */
static void startup_close(struct am_out *o, uint32_t pid)
{
	for (int i = 0; i < STARTUP_GROUPS; i++) {
		struct startup_group *g = &o->startup[i];

		if (!g->pid || (pid && g->pid != pid))
			continue;
		text_startup(o, g);
		*g = (struct startup_group){ 0 };
	}
}

static void startup_add(struct am_out *o, const struct am_os_rec *r)
{
	const struct am_os_event *e = &r->ev;
	struct startup_group *g = NULL, *old = NULL;

	for (int i = 0; i < STARTUP_GROUPS && !g; i++)
		if (o->startup[i].pid == e->pid)
			g = &o->startup[i];
	for (int i = 0; i < STARTUP_GROUPS && !g; i++) {
		if (!o->startup[i].pid)
			g = &o->startup[i];
		else if (!old || o->startup[i].first < old->first)
			old = &o->startup[i];
	}
	if (!g) { /* more processes starting at once than slots: the oldest goes out */
		text_startup(o, old);
		g = old;
		*g = (struct startup_group){ 0 };
	}
	if (!g->pid) {
		g->pid = e->pid;
		g->tid = e->tid;
		g->first = e->ts_enter;
	}
	g->last = e->ts_enter;
	g->n++;
	if (e->sys < AM_SYS__COUNT)
		g->by_sys[e->sys]++;
	if (e->sys == AM_SYS_MMAP && !os_errno(e))
		g->mapped += am_page_up(e->args[1]);
}

static void write_at(struct am_out *o, uint64_t ts, const struct qitem *it)
{
	write_item(o, it);
	if (ts > o->written_ts)
		o->written_ts = ts;
}

/* Writes the queued records older than upto, oldest first. */
static void release(struct am_out *o, uint64_t upto)
{
	uint64_t ts;
	size_t len;
	const void *it;

	while (o->q && am_order__oldest(o->q) < upto && (it = am_order__pop(o->q, &ts, &len)))
		write_at(o, ts, it);
}

/* One record (head, with n_os OS requests after it for a call) at ts:
 * written at once, or queued for time order. */
static void put(struct am_out *o, uint64_t ts, const struct qitem *head, const struct am_os_rec *os,
		size_t n_os)
{
	size_t hl = offsetof(struct qitem, os);

	if (!o->q) {
		struct qitem *it = malloc(hl + n_os * sizeof(*os));

		if (!it) {
			o->err = o->err ? o->err : ENOMEM;
			return;
		}
		memcpy(it, head, hl);
		if (n_os)
			memcpy(it->os, os, n_os * sizeof(*os));
		write_at(o, ts, it);
		free(it);
		return;
	}
	if (ts < o->written_ts) {
		/* a later record is out already: this one cannot be in order */
		struct qitem *it = malloc(hl + n_os * sizeof(*os));

		o->late++;
		if (it) {
			memcpy(it, head, hl);
			if (n_os)
				memcpy(it->os, os, n_os * sizeof(*os));
			write_at(o, o->written_ts, it);
			free(it);
		}
		return;
	}
	if (am_order__push(o->q, ts, head, hl, os, n_os * sizeof(*os)) < 0) {
		o->err = o->err ? o->err : ENOMEM;
		return;
	}
	/* bounded: past ORDER_CAP records the oldest goes, in order so far */
	if (am_order__held(o->q) > ORDER_CAP)
		release(o, am_order__oldest(o->q) + 1);
}

void am_out__call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n_os)
{
	struct am_out *o = ctx;
	/* numbered as the correlator's accounting took them: its OS requests,
	 * then the call */
	struct qitem h = { .kind = Q_CALL, .n_os = n_os, .u.call = *c, .seq = o->seq_next + n_os };
	uint64_t seq0 = o->seq_next;
	size_t i;

	o->seq_next += n_os + 1;
	seen(o, c->ts_end);
	for (i = 0; i < n_os; i++)
		seen(o, os[i].ev.ts_exit);
	if (!o->o.json) {
		if (text_shows_call(o, n_os))
			put(o, c->ev.ts_enter, &h, os, n_os);
		return;
	}
	/* JSON: the call at its entry, then each OS request it made at its own
	 * time (a reader meets the "call" record first, with the ids of the
	 * "os" records that follow) */
	put(o, c->ev.ts_enter, &h, os, n_os);
	for (i = 0; i < n_os; i++) {
		struct qitem r = { .kind = Q_OS, .u.os = os[i], .seq = seq0 + i };

		put(o, os[i].ev.ts_enter, &r, NULL, 0);
	}
}

void am_out__os(void *ctx, const struct am_os_rec *r)
{
	struct am_out *o = ctx;
	struct qitem h = { .kind = Q_OS, .u.os = *r, .seq = o->seq_next++ };

	seen(o, r->ev.ts_exit);
	if (o->o.json || o->o.verbosity >= 0)
		put(o, r->ev.ts_enter, &h, NULL, 0);
}

void am_out__threshold(void *ctx, const struct am_threshold_rec *t)
{
	struct am_out *o = ctx;
	struct qitem h = { .kind = Q_THRESHOLD, .u.thr = *t, .seq = o->seq_next++ };

	seen(o, t->ts_ns);
	if (o->o.json || o->o.verbosity >= 0)
		put(o, t->ts_ns, &h, NULL, 0);
}

void am_out__task(void *ctx, const struct am_task_event *t)
{
	struct am_out *o = ctx;
	struct qitem h = { .kind = Q_TASK, .u.task = *t, .seq = o->seq_next++ };

	seen(o, t->ts);
	if (o->o.json || o->o.verbosity >= 0)
		put(o, t->ts, &h, NULL, 0);
}

void am_out__rss(void *ctx, const struct am_rss_rec *r)
{
	struct am_out *o = ctx;
	struct qitem h = { .kind = Q_RSS, .u.rss = *r };

	if (!o->o.json)
		return;   /* the text keeps the summary's peak (max RSS) */
	h.seq = o->seq_next++;
	seen(o, r->ts_ns);
	put(o, r->ts_ns, &h, NULL, 0);
}

void am_out__seed(void *ctx, const struct am_seed_rec *r)
{
	struct am_out *o = ctx;

	o->cur_seq = o->seq_next++;
	if (o->o.json)
		json_seed(o, r); /* the text form has the summary's figures only */
}

void am_out__summary(void *ctx, const struct am_summary *s)
{
	struct am_out *o = ctx;

	release(o, UINT64_MAX);
	startup_close(o, 0);
	if (o->o.json)
		json_summary(o, s);
	else
		text_summary(o, s);
	am_out__flush(o);
}

/* The trace's first record (JSON): its time origin. */
static void json_trace_head(struct am_out *o, uint64_t t0, const char *kind, uint32_t pid)
{
	struct jsonw *w = &o->jw;

	json_head(w, "trace", t0, pid, pid);
	jsonw_kstr(w, "origin", kind);
	if (o->o.cmd) {
		jsonw_karr_open(w, "cmd");
		for (char *const *a = o->o.cmd; *a; a++)
			jsonw_str(w, *a);
		jsonw_arr_close(w);
	}
	json_end(w);
}

void am_out__origin(void *ctx, uint64_t t0_ns, const char *kind, uint32_t pid)
{
	struct am_out *o = ctx;

	o->o.t0_ns = t0_ns;
	o->origin = !strcmp(kind, "exec") ? "exec" : "attach";
	if (o->o.json)
		json_trace_head(o, t0_ns, o->origin, pid);
}

void am_out__progress(void *ctx, uint64_t upto_ns)
{
	release(ctx, upto_ns);
}

/* ============================== lifecycle =============================== */

struct am_out *am_out__new(const struct am_out_opts *opts)
{
	struct am_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->o = *opts;
	o->seq_next = 1;
	jsonw_init(&o->jw, opts->f);
	if (opts->ordered && !(o->q = am_order__new())) {
		free(o);
		return NULL;
	}
	return o;
}

void am_out__sink(struct am_out *o, struct am_sink *sink)
{
	sink->ctx = o;
	sink->call = am_out__call;
	sink->os = am_out__os;
	sink->threshold = am_out__threshold;
	sink->task = am_out__task;
	sink->summary = am_out__summary;
	sink->seed = am_out__seed;
	sink->rss = o->o.json && o->o.rss ? am_out__rss : NULL;
	sink->origin = am_out__origin;
	sink->progress = am_out__progress;
}

void am_out__flush(struct am_out *o)
{
	errno = 0;
	if (o->o.json && jsonw_flush(&o->jw) < 0 && !o->err)
		o->err = o->jw.errnum ? o->jw.errnum : EIO;
	errno = 0;
	if ((fflush(o->o.f) || ferror(o->o.f)) && !o->err)
		o->err = errno ? errno : EIO;
}

int am_out__error(const struct am_out *o)
{
	return o->err;
}

void am_out__free(struct am_out *o)
{
	if (!o)
		return;
	release(o, UINT64_MAX); /* a trace cut short: what it had, in order */
	startup_close(o, 0);
	am_out__flush(o);
	am_order__free(o->q);
	free(o);
}

void am_out__note(struct am_out *o, const char *fmt, ...)
{
	FILE *f = o->o.json ? stderr : o->o.f;
	size_t n = strlen(fmt);
	va_list ap;

	if (o->o.json)
		jsonw_flush(&o->jw); /* keep the order if stderr and f are one file */
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (!n || fmt[n - 1] != '\n')
		fputc('\n', f);
}
