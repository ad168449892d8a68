// SPDX-License-Identifier: GPL-2.0
/* test_stacks.c - unit tests of the pure-C stack parts: interning
 * (stack.c), leak grouping, frame names, the folded writer and its byte
 * weights (folded.c), and the correlator attaching stacks to records,
 * deriving a call's stack from its OS request's and grouping leaks. No
 * root, no BPF: synthetic frames and events only. */
#include <stdlib.h>
#include <sys/mman.h>
#include "check.h"
#include "correlate.h"
#include "folded.h"
#include "stack.h"

static const struct am_frame F_MALLOC = { .addr = 0x7f0000001000, .sym = "malloc", .obj = "libc.so.6" };
static const struct am_frame F_SYSM = { .addr = 0x7f0000002000, .obj = "libc.so.6", .off = 0x2000 };
static const struct am_frame F_MMAP = { .addr = 0x7f0000003000, .sym = "mmap64", .obj = "libc.so.6" };
static const struct am_frame F_PARSE = { .addr = 0x555500001141, .off = 0x41, .sym = "parse_config",
					 .obj = "prog", .file = "prog.c", .line = 23 };
static const struct am_frame F_LEAK = { .addr = 0x555500001201, .off = 0x11, .sym = "leak_buffer", .obj = "prog" };
static const struct am_frame F_MAIN = { .addr = 0x555500001301, .off = 0x21, .sym = "main", .obj = "prog" };

static void test_intern(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_frame a[] = { F_MALLOC, F_PARSE, F_MAIN }, b[] = { F_MALLOC, F_LEAK, F_MAIN };
	const struct am_stack *s1, *s2, *s3, *s4;

	s1 = am_stacktab__intern(t, 10, a, 3, 0);
	s2 = am_stacktab__intern(t, 10, b, 3, 0);
	s3 = am_stacktab__intern(t, 10, a, 3, 0);
	s4 = am_stacktab__intern(t, 11, a, 3, 0);
	CHECK(s1 && s2 && s3 && s4, "interned");
	CHECK(s1 == s3, "same stack, same pid: one entry");
	CHECK(s1 != s2, "different frames: two entries");
	CHECK(s1 != s4, "different pid: two entries");
	CHECK_EQ(s1->id, 1, "first id");
	CHECK_EQ(s2->id, 2, "second id");
	CHECK_EQ(am_stacktab__count(t), 3, "three distinct");
	CHECK(am_stacktab__get(t, 2) == s2, "get by id");
	CHECK(am_stacktab__get(t, 0) == NULL && am_stacktab__get(t, 9) == NULL, "bad ids");
	CHECK(am_stacktab__intern(t, 10, a, 0, 0) == NULL, "empty stack");
	CHECK_STR(s1->f[1].sym, "parse_config", "frames copied");
	/* many stacks: the hash grows, pointers stay valid */
	for (int i = 0; i < 5000; i++) {
		struct am_frame f = { .addr = 0x1000 + (uint64_t)i };
		am_stacktab__intern(t, 10, &f, 1, 0);
	}
	CHECK_EQ(am_stacktab__count(t), 5003, "after growth");
	CHECK(am_stacktab__intern(t, 10, a, 3, 0) == s1 && s1->id == 1, "still found after growth");
	am_stacktab__free(t);
	am_stacktab__free(NULL);
}

static void test_leaks(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_frame a[] = { F_MALLOC, F_PARSE, F_MAIN }, b[] = { F_MALLOC, F_LEAK, F_MAIN };
	const struct am_stack *sa = am_stacktab__intern(t, 7, a, 3, 0);
	const struct am_stack *sb = am_stacktab__intern(t, 7, b, 3, 0);
	struct am_leak_in in[] = {
		{ 7, sb, 12345, AM_REG_HEAP }, { 7, sa, 200000, AM_REG_MMAP },
		{ 7, sb, 12345, AM_REG_HEAP }, { 7, NULL, 50, AM_REG_HEAP },
		{ 7, sb, 12345, AM_REG_ARENA }, { 7, NULL, 70, AM_REG_UNKNOWN },
	};
	struct am_leak *g = NULL;
	long n = am_leaks_group(in, 6, &g);

	CHECK_EQ(n, 3, "three groups");
	CHECK(g && g[0].stack == sa, "largest first: parse_config");
	CHECK_EQ(g[0].bytes, 200000, "its bytes");
	CHECK_EQ(g[0].region_count[AM_REG_MMAP], 1, "in an mmap chunk");
	CHECK(g[1].stack == sb, "then leak_buffer");
	CHECK_EQ(g[1].bytes, 37035, "3 x 12345");
	CHECK_EQ(g[1].count, 3, "3 allocations");
	CHECK_EQ(g[1].region_count[AM_REG_HEAP], 2, "2 on the heap");
	CHECK_EQ(g[1].region_bytes[AM_REG_ARENA], 12345, "1 in an arena");
	CHECK(g[2].stack == NULL, "unknown stack last");
	CHECK_EQ(g[2].bytes, 120, "unknown: 50 + 70");
	free(g);
	CHECK_EQ(am_leaks_group(in, 0, &g), 0, "no input");
	CHECK(g == NULL, "no output");
	am_stacktab__free(t);
}

static void test_frame_name(void)
{
	char b[64];
	struct am_frame f = { .addr = 0x401234, .off = 0x1234, .obj = "prog" };

	CHECK_STR(am_frame_name(b, sizeof(b), &F_PARSE), "parse_config", "symbol");
	CHECK_STR(am_frame_name(b, sizeof(b), &f), "prog+0x1234", "stripped: obj+offset");
	f.obj = NULL;
	CHECK_STR(am_frame_name(b, sizeof(b), &f), "0x401234", "nothing: address");
	f.sym = "ns::f<a;b>";
	CHECK_STR(am_frame_name(b, sizeof(b), &f), "ns::f<a:b>", "no ';' in a folded frame");
}

/* Reads a whole FILE written by the folded writer. */
static char *slurp(FILE *f)
{
	long n;
	char *s;

	fflush(f);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	return s;
}

static void test_folded(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_folded *fo = am_folded__new();
	struct am_frame a[] = { F_MMAP, F_SYSM, F_MALLOC, F_PARSE, F_MAIN };
	struct am_frame b[] = { F_MALLOC, F_LEAK, F_MAIN };
	const struct am_stack *sa = am_stacktab__intern(t, 1, a, 5, 0);
	const struct am_stack *sb = am_stacktab__intern(t, 1, b, 3, 0);
	struct am_frame b2[] = { F_MALLOC, F_LEAK, F_MAIN };
	const struct am_stack *sb2;
	FILE *f = tmpfile();
	char *s;

	b2[0].addr += 8; /* another call site in malloc: same names, other stack */
	sb2 = am_stacktab__intern(t, 1, b2, 3, 0);
	am_folded__add(fo, 0, sa, 204800);
	am_folded__add(fo, 0, sa, 4096);
	am_folded__add(fo, 1, sb, 100);
	am_folded__add(fo, 1, sb2, 23);
	am_folded__add(fo, 1, NULL, 5);   /* no stack: ignored */
	am_folded__add(fo, 1, sa, 0);     /* no weight: ignored */
	CHECK_EQ(am_folded__write(fo, 0, f), 1, "one OS line");
	s = slurp(f);
	CHECK_STR(s, "main;parse_config;malloc;libc.so.6+0x2000;mmap64 208896\n", "OS bytes, root first");
	free(s);
	fclose(f);
	f = tmpfile();
	CHECK_EQ(am_folded__write(fo, 1, f), 1, "identical lines merged");
	s = slurp(f);
	CHECK_STR(s, "main;leak_buffer;malloc 123\n", "allocated bytes");
	free(s);
	fclose(f);
	am_folded__free(fo);
	am_folded__free(NULL);
	am_stacktab__free(t);
}

static void test_os_bytes(void)
{
	struct am_os_rec r = { 0 };

	r.ev.sys = AM_SYS_MMAP;
	r.ev.args[1] = 200000;
	r.ev.args[2] = PROT_READ | PROT_WRITE;
	r.ev.args[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	r.ev.ret = 0x7f0000000000;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 200704, "anonymous mmap, page rounded");
	r.ev.args[2] = PROT_NONE;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 0, "PROT_NONE reservation");
	r.ev.args[2] = PROT_READ;
	r.ev.args[3] = MAP_PRIVATE;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 0, "file mapping");
	r.ev.args[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	r.ev.ret = -12;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 0, "failed");
	r = (struct am_os_rec){ 0 };
	r.ev.sys = AM_SYS_BRK;
	r.ev.args[0] = 0x5000 + 135168;
	r.ev.ret = 0x5000 + 135168;
	CHECK_EQ(am_folded_os_bytes(&r, 0x5000), 135168, "brk growth");
	CHECK_EQ(am_folded_os_bytes(&r, 0), 0, "brk, previous break unknown");
	r.ev.args[0] = 0;
	CHECK_EQ(am_folded_os_bytes(&r, 0x5000), 0, "brk(NULL)");
	r = (struct am_os_rec){ 0 };
	r.ev.sys = AM_SYS_MREMAP;
	r.ev.args[1] = 200704;
	r.ev.args[2] = 401408;
	r.ev.ret = 0x7f0000000000;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 200704, "mremap growth");
	r = (struct am_os_rec){ 0 };
	r.ev.sys = AM_SYS_MPROTECT;
	r.ev.args[1] = 135168;
	r.ev.args[2] = PROT_READ | PROT_WRITE;
	r.direct = true;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 0, "direct mprotect");
	r.direct = false;
	CHECK_EQ(am_folded_os_bytes(&r, 0), 135168, "arena growth");
}

/* ---- correlator with stacks ---- */

static struct am_call_rec got_call;
static struct am_os_rec got_os[4];
static size_t got_n;
static struct am_summary got_sum;

static void on_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	(void)ctx;
	got_call = *c;
	got_n = n < 4 ? n : 4;
	for (size_t i = 0; i < got_n; i++)
		got_os[i] = os[i];
}

static void on_summary(void *ctx, const struct am_summary *s)
{
	(void)ctx;
	got_sum = *s;
}

static void test_corr(uint8_t mode)
{
	struct am_corr_opts o = { .sink = { .call = on_call, .summary = on_summary }, .glibc = true,
				  .stack_mode = mode, .sample_every = 1 };
	struct am_corr *c = am_corr__new(&o);
	struct am_frame os_frames[] = { F_MMAP, F_SYSM, F_MALLOC, F_PARSE, F_MAIN };
	struct am_frame call_frames[] = { F_MALLOC, F_LEAK, F_MAIN };
	struct am_os_event oe = { .type = AM_EV_OS, .sys = AM_SYS_MMAP, .cause_fn = AM_FN_MALLOC,
				  .pid = 5, .tid = 5, .id = 1, .call_id = 1 };
	struct am_call_event ce = { .type = AM_EV_CALL, .fn = AM_FN_MALLOC, .n_os = 1, .pid = 5, .tid = 5,
				    .id = 1 };

	oe.args[1] = 200000;
	oe.args[2] = PROT_READ | PROT_WRITE;
	oe.args[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	oe.args[4] = (uint64_t)-1;
	oe.ret = 0x7f0000000000;
	ce.args[0] = 200000;
	ce.ret = 0x7f0000000010;
	/* the OS stack, cut at frame 2 (malloc) */
	CHECK_EQ(am_corr__stack(c, AM_STACK_OS, 1, 5, os_frames, 5, 0, 2), 0, "os stack accepted");
	CHECK_EQ(am_corr__event(c, &oe, sizeof(oe)), 0, "os event");
	if (mode == AM_STACKS_ALL)
		CHECK_EQ(am_corr__stack(c, AM_STACK_CALL, 1, 5, os_frames + 2, 3, 0, -1), 0, "call stack");
	CHECK_EQ(am_corr__event(c, &ce, sizeof(ce)), 0, "call event");
	CHECK_EQ(got_n, 1, "call delivered with its os request");
	CHECK(got_os[0].stack && got_os[0].stack->n == 5, "os record has its stack");
	CHECK_EQ(got_os[0].inner, 3, "allocator frames: mmap64, sysmalloc, malloc");
	CHECK(got_call.stack && got_call.stack->n == 3, "call has a stack");
	CHECK_STR(got_call.stack->f[1].sym, "parse_config", "caller of malloc");
	CHECK_EQ(got_call.stack_derived, mode == AM_STACKS_OS, "derived only with --stacks=os");

	/* a leaking call with its own stack (all mode) or none (os mode) */
	ce.id = 2;
	ce.n_os = 0;
	ce.args[0] = 12345;
	ce.ret = 0x5000010;
	if (mode == AM_STACKS_ALL)
		am_corr__stack(c, AM_STACK_CALL, 2, 5, call_frames, 3, 0, -1);
	am_corr__event(c, &ce, sizeof(ce));
	am_corr__finish(c, NULL, 0, 1, NULL);
	CHECK_EQ(got_sum.n_leaks, 2, "two leak groups");
	CHECK(got_sum.leaks && got_sum.leaks[0].bytes == 200000, "largest first");
	if (mode == AM_STACKS_ALL) {
		CHECK(got_sum.leaks[1].stack && got_sum.leaks[1].stack->f[1].sym == F_LEAK.sym,
		      "leak_buffer named");
		CHECK_EQ(got_sum.stacks_missing, 0, "nothing missing");
	} else {
		CHECK(got_sum.leaks[1].stack == NULL, "no stack for a call without OS request");
	}
	CHECK_EQ(got_sum.leaks[1].bytes, 12345, "exact bytes");
	CHECK_EQ(got_sum.stacks, mode == AM_STACKS_ALL ? 3 : 1, "stacks counted");
	am_corr__free(c);
}

int main(void)
{
	test_intern();
	test_leaks();
	test_frame_name();
	test_folded();
	test_os_bytes();
	test_corr(AM_STACKS_ALL);
	test_corr(AM_STACKS_OS);
	return check_report("stacks_unit");
}
