// SPDX-License-Identifier: GPL-2.0
/* prom.c - /metrics in the Prometheus text format 0.0.4 (prom.h): one
 * table of metric families, each written once with HELP and TYPE, then a
 * sample per target (and per label set: syscall, cause, ...). */
#include <inttypes.h>
#include <string.h>
#include "fmt.h"
#include "prom.h"

void am_prom_label_value(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = s ? strnlen(s, n) : 0;

	for (size_t i = 0; i < len;) {
		size_t k = am_utf8_len(p + i, p + len);

		if (p[i] == '\\')
			fputs("\\\\", f);
		else if (p[i] == '"')
			fputs("\\\"", f);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (!k || p[i] < 0x20 || p[i] == 0x7f)
			fputs("\xef\xbf\xbd", f);   /* U+FFFD */
		else
			fwrite(p + i, 1, k, f);
		i += k ? k : 1;
	}
}

/* name{the target's labels[,extra]} (the value follows). extra is written
 * as given: only table names (syscalls, functions) go there, no target
 * byte. */
static void sample(FILE *f, const char *name, const struct am_prom_target *t, const char *extra)
{
	fprintf(f, "%s{pid=\"%" PRIu32 "\",comm=\"", name, t->pid);
	am_prom_label_value(f, t->comm, t->comm_len);
	fputs("\",allocator=\"", f);
	am_prom_label_value(f, t->allocator && *t->allocator ? t->allocator : "unknown", 16);
	fputs("\",mode=\"", f);
	am_prom_label_value(f, t->mode, 8);
	fputc('"', f);
	if (extra && *extra)
		fprintf(f, ",%s", extra);
	fputs("} ", f);
}

static void u64_sample(FILE *f, const char *name, const struct am_prom_target *t, const char *extra,
		       uint64_t v)
{
	sample(f, name, t, extra);
	fprintf(f, "%" PRIu64 "\n", v);
}

static void emit_live(FILE *f, const char *name, const struct am_prom_target *t)
{
	if (!t->s->os_only)
		u64_sample(f, name, t, NULL, t->s->live_bytes);
}

static void emit_live_count(FILE *f, const char *name, const struct am_prom_target *t)
{
	if (!t->s->os_only)
		u64_sample(f, name, t, NULL, t->s->live_count);
}

static void emit_heap(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->heap_bytes);
}

static void emit_mmapped(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->mmap_bytes);
}

static void emit_committed(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->committed_bytes);
}

static void emit_committed_peak(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->committed_bytes_peak);
}

static void emit_direct(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->direct_mmap_bytes);
}

static void emit_returned(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, "how=\"munmap\"", t->s->returned_munmap);
	u64_sample(f, name, t, "how=\"madvise\"", t->s->returned_madvise);
	u64_sample(f, name, t, "how=\"brk\"", t->s->returned_brk);
}

/* A table name as a label value (function names come from --alloc too). */
static void extra_label(char *buf, size_t n, const char *k1, const char *v1, const char *k2, const char *v2)
{
	FILE *m = fmemopen(buf, n, "w");

	buf[0] = 0;
	if (!m)
		return;
	fprintf(m, "%s=\"", k1);
	am_prom_label_value(m, v1, 128);
	fputc('"', m);
	if (k2) {
		fprintf(m, ",%s=\"", k2);
		am_prom_label_value(m, v2, 128);
		fputc('"', m);
	}
	fputc(0, m);
	fclose(m);
}

static void emit_os_requests(FILE *f, const char *name, const struct am_prom_target *t)
{
	char x[512];

	for (unsigned sys = 0; sys < AM_SYS__COUNT; sys++) {
		for (int fn = 0; fn <= AM_FN_MAX; fn++) {
			uint64_t v = t->s->sys_by_cause[sys][fn];

			if (!v)
				continue;
			extra_label(x, sizeof(x), "syscall", am_sys_name(sys), "cause",
				    fn == AM_FN_MAX ? "direct" : am_fn_name(fn));
			u64_sample(f, name, t, x, v);
		}
		if (t->s->sys_unknown[sys]) {
			extra_label(x, sizeof(x), "syscall", am_sys_name(sys), "cause", "unknown");
			u64_sample(f, name, t, x, t->s->sys_unknown[sys]);
		}
	}
}

static void emit_os_failed(FILE *f, const char *name, const struct am_prom_target *t)
{
	char x[256];

	for (unsigned sys = 0; sys < AM_SYS__COUNT; sys++) {
		extra_label(x, sizeof(x), "syscall", am_sys_name(sys), NULL, NULL);
		u64_sample(f, name, t, x, t->s->sys_failed[sys]);
	}
}

static void emit_calls(FILE *f, const char *name, const struct am_prom_target *t)
{
	char x[256];

	if (t->s->os_only)
		return;
	for (int fn = 0; fn < am_fn_count(); fn++) {
		if (!t->s->fn[fn].calls)
			continue;
		extra_label(x, sizeof(x), "function", am_fn_name(fn), NULL, NULL);
		u64_sample(f, name, t, x, t->s->fn[fn].calls);
	}
}

/* glibc's (when known now) or musl's fixed threshold; absent otherwise. */
static void emit_threshold(FILE *f, const char *name, const struct am_prom_target *t)
{
	const struct am_summary *s = t->s;

	if (s->os_only || !s->threshold_known)
		return;
	if (s->threshold_fixed)
		u64_sample(f, name, t, NULL, s->threshold_end);
	else if (s->thr_end.known)
		u64_sample(f, name, t, NULL, s->thr_end.value);
}

/* Every counter that means something was not seen. */
static void emit_lost(FILE *f, const char *name, const struct am_prom_target *t)
{
	const struct am_summary *s = t->s;
	const struct { const char *reason; uint64_t v; } r[] = {
		{ "ringbuf_call", s->bpf.lost_call },
		{ "ringbuf_os", s->bpf.lost_os },
		{ "ringbuf_task", s->bpf.lost_task },
		{ "ringbuf_stack", s->bpf.lost_stack },
		{ "missed_return", s->bpf.missed_ret },
		{ "depth_overflow", s->bpf.depth_overflow },
		{ "thread_map_full", s->bpf.thread_full },
		{ "orphan_return", s->bpf.orphan_ret },
		{ "stack_unreadable", s->bpf.stack_failed },
		{ "cause_unknown_at_attach", s->bpf.attach_unknown },
		{ "orphan_os", s->orphan_os },
		{ "malformed", s->malformed },
		{ "stack_missing", s->stacks_missing },
	};
	char x[128];

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		snprintf(x, sizeof(x), "reason=\"%s\"", r[i].reason);
		u64_sample(f, name, t, x, r[i].v);
	}
}

static void emit_incomplete(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->oom ? 1 : 0);
}

static void emit_history_dropped(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->history_dropped);
}

static void emit_alive(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->alive ? 1 : 0);
}

static void emit_start(FILE *f, const char *name, const struct am_prom_target *t)
{
	sample(f, name, t, NULL);
	fprintf(f, "%" PRIu64 ".%09" PRIu64 "\n", t->started_unix_ns / 1000000000,
		t->started_unix_ns % 1000000000);
}

static void emit_events(FILE *f, const char *name, const struct am_prom_target *t)
{
	u64_sample(f, name, t, NULL, t->s->events);
}

static const struct family {
	const char *name, *type, *help;
	void (*emit)(FILE *f, const char *name, const struct am_prom_target *t);
} families[] = {
	{ "allocmap_live_bytes", "gauge", "Bytes in live allocations (absent in os mode: no allocator call is traced).", emit_live },
	{ "allocmap_live_allocations", "gauge", "Live allocations (absent in os mode).", emit_live_count },
	{ "allocmap_heap_bytes", "gauge", "Size of the brk heap (end - start, growth seen since tracing began).", emit_heap },
	{ "allocmap_mmapped_bytes", "gauge", "Accessible bytes of allocator-made mappings (chunks and arenas).", emit_mmapped },
	{ "allocmap_committed_bytes", "gauge", "Bytes held from the OS by the allocator: heap + mmapped.", emit_committed },
	{ "allocmap_committed_peak_bytes", "gauge", "Peak of heap + mmapped since tracing began.", emit_committed_peak },
	{ "allocmap_direct_mmap_bytes", "gauge", "Accessible bytes of mappings the program made itself.", emit_direct },
	{ "allocmap_returned_bytes_total", "counter", "Bytes given back to the OS, by how (munmap and madvise inside allocator calls, brk shrinks).", emit_returned },
	{ "allocmap_os_requests_total", "counter", "Memory syscalls by syscall and cause (the allocator function that made it, direct, or unknown).", emit_os_requests },
	{ "allocmap_os_requests_failed_total", "counter", "Memory syscalls that failed, by syscall.", emit_os_failed },
	{ "allocmap_allocator_calls_total", "counter", "Allocator calls by function (absent in os mode).", emit_calls },
	{ "allocmap_mmap_threshold_bytes", "gauge", "The allocator's mmap threshold now (absent while unknown, and for allocators without one).", emit_threshold },
	{ "allocmap_lost_events_total", "counter", "Events lost or not seen, by reason (ring buffer full, returns missed, ...).", emit_lost },
	{ "allocmap_figures_incomplete", "gauge", "1 when the correlator ran out of memory and the figures are incomplete.", emit_incomplete },
	{ "allocmap_history_dropped_records_total", "counter", "Records dropped from the start of the target's bounded history (the live page).", emit_history_dropped },
	{ "allocmap_target_alive", "gauge", "1 while the traced process runs, 0 once it exited.", emit_alive },
	{ "allocmap_target_start_time_seconds", "gauge", "When tracing the target started (Unix time).", emit_start },
	{ "allocmap_target_events_total", "counter", "Events consumed for the target.", emit_events },
};

static void daemon_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
}

static void write_daemon(FILE *f, const struct am_prom_daemon *d)
{
	daemon_family(f, "allocmap_daemon_events_total", "counter", "Ring-buffer records consumed, all targets.");
	fprintf(f, "%" PRIu64 "\n", d->events);
	daemon_family(f, "allocmap_daemon_events_per_second", "gauge", "Records consumed per second over the last few seconds.");
	fprintf(f, "%.17g\n", d->events_per_s);
	daemon_family(f, "allocmap_daemon_ringbuf_fill_ratio", "gauge", "Fill of the fullest target ring buffer at the last poll (0..1).");
	fprintf(f, "%.17g\n", d->ringbuf_fill);
	daemon_family(f, "allocmap_daemon_resident_memory_bytes", "gauge", "The daemon's resident set size.");
	fprintf(f, "%" PRIu64 "\n", d->rss_bytes);
	daemon_family(f, "allocmap_daemon_targets", "gauge", "Targets traced now.");
	fprintf(f, "%u\n", d->targets);
	daemon_family(f, "allocmap_daemon_clients", "gauge", "Control-socket clients connected.");
	fprintf(f, "%u\n", d->clients);
	daemon_family(f, "allocmap_daemon_dropped_total", "counter", "Records or state dropped by the daemon's memory bounds.");
	fprintf(f, "%" PRIu64 "\n", d->dropped);
}

int am_prom_write(FILE *f, const struct am_prom_target *t, size_t n, const struct am_prom_daemon *d)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[i].name, families[i].help,
			families[i].name, families[i].type);
		for (size_t k = 0; k < n; k++)
			families[i].emit(f, families[i].name, &t[k]);
	}
	if (d)
		write_daemon(f, d);
	return ferror(f) ? -1 : 0;
}
