// SPDX-License-Identifier: GPL-2.0
/* sites_replay.c - rebuilds call-site profiles from a JSON Lines trace
 * (sites_replay.h).
 *
 * A trace's records are what the correlator delivered, in delivery order:
 * the "os" records an allocator call caused come right before its "call"
 * record, direct ones where they happened, task events in between. Each is
 * decoded back into the fields of am_call_rec / am_os_rec / am_task_event
 * that the aggregation reads (sites.c): ids, pid/tid, times, function,
 * sizes, pointers, region, flags, the stack; for OS requests the arguments
 * that decide what they obtained (length, prot, MAP_ANONYMOUS, the result).
 * Stacks are interned (stack.c) with copies of their strings, which live
 * until am_replay__free. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "sites_replay.h"
#include "stack.h"
#include "strtab.h"

#define REPLAY_FRAMES 256  /* what report.c's reader keeps of a stack */

struct am_replay {
	struct am_sites *sites;
	struct am_stacktab *stacks;
	struct am_strtab str;     /* interned strings */
	struct am_os_rec *pend;   /* "os" records waiting for their "call" */
	size_t n_pend, cap_pend;
	struct am_frame frames[REPLAY_FRAMES];
	uint64_t calls;           /* "call" records seen */
	uint64_t sum_calls;       /* calls the summary counts */
	bool has_summary, has_sites;
	struct { uint32_t pid; const char *obj, *build_id; } *maps; /* the sites record's "mappings" */
	size_t n_maps;
	uint64_t sample, duration_ns;
	bool oom;
	am_replay_call_fn observe;  /* am_replay__observe */
	void *observe_ctx;
};

/* ---------- json ---------- */

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* An integer or a "0x..." string; *has: present. */
static uint64_t jnum(json_object *o, const char *k, bool *has)
{
	json_object *v = jget(o, k);

	if (has)
		*has = v != NULL;
	if (v && json_object_is_type(v, json_type_string))
		return strtoull(json_object_get_string(v), NULL, 0);
	if (v && json_object_is_type(v, json_type_int))
		return (uint64_t)json_object_get_int64(v);
	return 0;
}

static bool jbool(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return v && json_object_get_boolean(v);
}

/* ---------- strings ---------- */

/* The interned copy of s (NULL for NULL, and when memory runs out). */
static const char *intern(struct am_replay *r, const char *s)
{
	const char *c = am_strtab_intern(&r->str, s);

	if (s && !c)
		r->oom = true;
	return c;
}

/* The record's "stack", interned; NULL when it has none. */
static const struct am_stack *stack_of(struct am_replay *r, json_object *o, uint32_t pid)
{
	json_object *st = jget(o, "stack");
	size_t n = 0;
	const struct am_stack *s;

	if (!st || !json_object_is_type(st, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(st) && n < REPLAY_FRAMES; i++) {
		json_object *f = json_object_array_get_idx(st, i);

		if (!f || !json_object_is_type(f, json_type_object))
			continue;
		r->frames[n++] = (struct am_frame){
			.addr = jnum(f, "addr", NULL), .off = jnum(f, "off", NULL),
			.sym = intern(r, jstr(f, "sym")), .obj = intern(r, jstr(f, "obj")),
			.file = intern(r, jstr(f, "file")), .line = (uint32_t)jnum(f, "line", NULL),
		};
	}
	s = am_stacktab__intern(r->stacks, pid, r->frames, n,
				jbool(o, "stack_truncated") ? AM_STK_TRUNCATED : 0);
	if (!s && n)
		r->oom = true;
	return s;
}

/* ---------- records ---------- */

/* "PROT_READ|PROT_WRITE" / "MAP_PRIVATE|MAP_ANONYMOUS" back to bits: the
 * ones am_os_obtained reads (and any "0x.." part). */
static uint64_t bits(const char *s, bool prot)
{
	uint64_t v = 0;

	while (s && *s) {
		size_t n = strcspn(s, "|");

		if (prot && n == 9 && !strncmp(s, "PROT_READ", n))
			v |= PROT_READ;
		else if (prot && n == 10 && !strncmp(s, "PROT_WRITE", n))
			v |= PROT_WRITE;
		else if (prot && n == 9 && !strncmp(s, "PROT_EXEC", n))
			v |= PROT_EXEC;
		else if (!prot && n == 13 && !strncmp(s, "MAP_ANONYMOUS", n))
			v |= MAP_ANONYMOUS;
		else if (n > 2 && !strncmp(s, "0x", 2))
			v |= strtoull(s, NULL, 16);
		s += n + (s[n] == '|');
	}
	return v;
}

static int sys_index(const char *name)
{
	for (int i = 0; name && i < AM_SYS__COUNT; i++)
		if (am_sys_names[i] && !strcmp(am_sys_names[i], name))
			return i;
	return -1;
}

static int os_record(struct am_replay *r, json_object *o)
{
	json_object *cause = jget(o, "cause");
	const char *kind = jstr(cause, "kind");
	int sys = sys_index(jstr(o, "syscall"));
	struct am_os_rec rec = { 0 };
	struct am_os_event *e = &rec.ev;

	if (sys < 0)
		return 0;
	e->sys = (uint8_t)sys;
	e->id = jnum(o, "id", NULL);
	e->pid = (uint32_t)jnum(o, "pid", NULL);
	e->tid = (uint32_t)jnum(o, "tid", NULL);
	e->ts_enter = jnum(o, "ts_ns", NULL);
	e->ts_exit = e->ts_enter + jnum(o, "dur_ns", NULL);
	e->args[0] = jnum(o, "addr", NULL);
	e->args[1] = jnum(o, "len", NULL);
	if (sys == AM_SYS_MMAP || sys == AM_SYS_MPROTECT)
		e->args[2] = bits(jstr(o, "prot"), true);
	if (sys == AM_SYS_MMAP)
		e->args[3] = bits(jstr(o, "flags"), false);
	if (sys == AM_SYS_MREMAP)
		e->args[2] = jnum(o, "new_len", NULL);
	e->ret = jget(o, "error") ? -EINVAL : (int64_t)jnum(o, "ret", NULL);
	rec.direct = kind && !strcmp(kind, "direct");
	rec.cause_unknown = kind && !strcmp(kind, "unknown");
	rec.call_id = kind && !strcmp(kind, "call") ? jnum(cause, "call_id", NULL) : 0;
	e->call_id = rec.call_id;
	if (!rec.call_id) {
		am_sites__os(r->sites, &rec);
		return 0;
	}
	if (r->n_pend == r->cap_pend) {
		size_t nc = r->cap_pend ? r->cap_pend * 2 : 16;
		struct am_os_rec *np = realloc(r->pend, nc * sizeof(*np));

		if (!np)
			return -1;
		r->pend = np;
		r->cap_pend = nc;
	}
	r->pend[r->n_pend++] = rec;
	return 0;
}

static int os_id_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct am_os_rec *)a)->ev.id, y = ((const struct am_os_rec *)b)->ev.id;

	return x < y ? -1 : x > y;
}

/* The function of a call record (registering an --alloc one by its role). */
static int fn_of(json_object *o)
{
	const char *name = jstr(o, "fn"), *role = jstr(o, "role");
	int fn = name ? am_fn_by_name(name) : -1;

	if (fn < 0 && name && role)
		fn = am_fn_register(name, role);
	return fn;
}

static int region_of(const char *name)
{
	for (int i = 0; name && i < AM_REG__COUNT; i++)
		if (am_region_names[i] && !strcmp(am_region_names[i], name))
			return i;
	return AM_REG_UNKNOWN;
}

static int call_record(struct am_replay *r, json_object *o)
{
	struct am_call_rec c = { 0 };
	struct am_call_event *e = &c.ev;
	enum am_role role;
	bool has_dur, has_ret;
	size_t k = 0;
	unsigned done;
	int fn = fn_of(o);

	r->calls++;
	if (fn < 0)
		return 0;
	role = am_fn_role(fn);
	e->fn = (uint8_t)fn;
	e->id = jnum(o, "id", NULL);
	e->pid = (uint32_t)jnum(o, "pid", NULL);
	e->tid = (uint32_t)jnum(o, "tid", NULL);
	e->ts_enter = jnum(o, "ts_ns", NULL);
	e->ts_exit = e->ts_enter + jnum(o, "dur_ns", &has_dur);
	if (!has_dur)
		e->ts_exit = 0;
	e->flags = (jbool(o, "nested") ? AM_CALL_NESTED : 0) | (jbool(o, "missed") ? AM_CALL_MISSED : 0);
	if (!has_dur && !(e->flags & AM_CALL_MISSED))
		e->flags |= AM_CALL_NORET;
	c.size = jnum(o, "size", NULL);
	c.ptr_in = jnum(o, "ptr", &c.has_ptr_in);
	c.ptr_out = jnum(o, "ret", &has_ret);
	c.allocates = am_role_allocates(role);
	if (!c.allocates)
		c.ptr_out = 0;
	c.region = (enum am_region_kind)region_of(jstr(o, "region"));
	c.stack = stack_of(r, o, e->pid);
	/* its OS requests: the pending ones with its id, moved to the front */
	for (size_t i = 0; i < r->n_pend; i++)
		if (r->pend[i].call_id == e->id) {
			struct am_os_rec t = r->pend[k];

			r->pend[k++] = r->pend[i];
			r->pend[i] = t;
		}
	if (k > 1)
		qsort(r->pend, k, sizeof(*r->pend), os_id_cmp);
	c.ts_end = e->ts_exit ? e->ts_exit : k ? r->pend[k - 1].ev.ts_exit : e->ts_enter;
	c.n_os = k;
	done = am_sites__call(r->sites, &c, r->pend, k);
	if (r->observe)
		r->observe(r->observe_ctx, &c, r->pend, k, done);
	if (k) {
		memmove(r->pend, r->pend + k, (r->n_pend - k) * sizeof(*r->pend));
		r->n_pend -= k;
	}
	return 0;
}

int am_replay__record(struct am_replay *r, json_object *o)
{
	const char *type = jstr(o, "type");

	if (!type)
		return 0;
	if (!strcmp(type, "os"))
		return os_record(r, o);
	if (!strcmp(type, "call"))
		return call_record(r, o);
	if (!strcmp(type, "task")) {
		const char *kind = jstr(o, "kind");
		struct am_task_event t = { .type = AM_EV_TASK, .pid = (uint32_t)jnum(o, "pid", NULL),
					   .tid = (uint32_t)jnum(o, "tid", NULL), .ts = jnum(o, "ts_ns", NULL) };

		if (kind && !strcmp(kind, "exec")) {
			t.kind = AM_TASK_EXEC;
			am_sites__task(r->sites, &t);
		}
	} else if (!strcmp(type, "sites")) {
		json_object *maps = jget(o, "mappings");
		size_t n = maps && json_object_is_type(maps, json_type_array) ? json_object_array_length(maps) : 0;

		r->has_sites = true;
		r->sample = jnum(o, "sample", NULL);
		free(r->maps);
		r->n_maps = 0;
		r->maps = calloc(n ? n : 1, sizeof(*r->maps));
		if (!r->maps)
			return -1;
		for (size_t i = 0; i < n; i++) {
			json_object *m = json_object_array_get_idx(maps, i);
			const char *obj = intern(r, jstr(m, "obj")), *bid = intern(r, jstr(m, "build_id"));

			if (obj && bid) {
				r->maps[r->n_maps].pid = (uint32_t)jnum(m, "pid", NULL);
				r->maps[r->n_maps].obj = obj;
				r->maps[r->n_maps++].build_id = bid;
			}
		}
	} else if (!strcmp(type, "summary")) {
		json_object *fns = jget(o, "functions");

		r->has_summary = true;
		r->duration_ns = jnum(o, "duration_ns", NULL);
		r->sum_calls = 0;
		if (fns && json_object_is_type(fns, json_type_object)) {
			json_object_object_foreach(fns, name, st) {
				(void)name;
				r->sum_calls += jnum(st, "calls", NULL);
			}
		}
	}
	return 0;
}

void am_replay__observe(struct am_replay *r, am_replay_call_fn fn, void *ctx)
{
	r->observe = fn;
	r->observe_ctx = ctx;
}

void am_replay__each_live(const struct am_replay *r,
			  void (*fn)(void *ctx, uint32_t pid, uint64_t ptr, uint64_t size,
				     const struct am_stack *stack),
			  void *ctx)
{
	am_sites__each_live(r->sites, fn, ctx);
}

/* The build id the sites record gives object obj of pid, or NULL. */
static const char *build_id(void *ctx, uint32_t pid, const char *obj)
{
	const struct am_replay *r = ctx;

	for (size_t i = 0; i < r->n_maps; i++)
		if (r->maps[i].pid == pid && !strcmp(r->maps[i].obj, obj))
			return r->maps[i].build_id;
	return NULL;
}

const struct am_sites_report *am_replay__finish(struct am_replay *r, struct am_pprof_meta *m,
						char *err, size_t errlen)
{
	const struct am_sites_report *rep;

	/* OS requests whose call never came (delivered last, alone, live too) */
	for (size_t i = 0; i < r->n_pend; i++)
		am_sites__os(r->sites, &r->pend[i]);
	r->n_pend = 0;
	if (!r->has_sites) {
		snprintf(err, errlen, "the trace has no call sites (no \"sites\" record): record it with "
			 "allocmap trace --json --stacks");
		return NULL;
	}
	if (r->has_summary && r->calls < r->sum_calls) {
		snprintf(err, errlen, "the trace has %llu of the %llu allocator calls its summary counts: "
			 "record it again (allocmap trace --json --stacks)",
			 (unsigned long long)r->calls, (unsigned long long)r->sum_calls);
		return NULL;
	}
	rep = r->oom ? NULL : am_sites__report(r->sites);
	if (!rep) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*m = (struct am_pprof_meta){ .period = r->sample > 1 ? r->sample : 1, .duration_ns = r->duration_ns,
				     .build_id = build_id, .ctx = r };
	return rep;
}

struct am_replay *am_replay__new(void)
{
	struct am_replay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->sites = am_sites__new(1);
	r->stacks = am_stacktab__new();
	if (!r->sites || !r->stacks) {
		am_replay__free(r);
		return NULL;
	}
	return r;
}

void am_replay__free(struct am_replay *r)
{
	if (!r)
		return;
	am_sites__free(r->sites);
	am_stacktab__free(r->stacks);
	am_strtab_free(&r->str);
	free(r->pend);
	free(r->maps);
	free(r);
}
