// SPDX-License-Identifier: GPL-2.0
/* test_diff.c - unit tests of `allocmap diff`'s call-site matching
 * (diff_model.c): the keys (function + file:line, function + file, the
 * whole stack outside the allocator, no symbol, no stack), sites of
 * several processes added up, "only in A" / "only in B", the figures of
 * both sides, and the order by absolute change with its ties. Hand-made
 * sites reports, no trace, no root. */
#include <stdlib.h>
#include "check.h"
#include "diff_model.h"

/* site_a at one source line, its pc different in each process and run */
static const struct am_frame A1 = { .addr = 0x555500001010, .off = 0x10, .sym = "site_a", .obj = "prog",
				    .file = "/src/prog.c", .line = 10 };
static const struct am_frame A2 = { .addr = 0x555500009010, .off = 0x10, .sym = "site_a", .obj = "prog",
				    .file = "/src/prog.c", .line = 10 };
static const struct am_frame A3 = { .addr = 0x561200001010, .off = 0x10, .sym = "site_a", .obj = "prog2",
				    .file = "/src/prog.c", .line = 10 };
/* site_b: an edit moved its call from line 20 to 21 */
static const struct am_frame B20 = { .addr = 0x555500002020, .sym = "site_b", .obj = "prog", .file = "/src/prog.c", .line = 20 };
static const struct am_frame B21 = { .addr = 0x561200002030, .sym = "site_b", .obj = "prog", .file = "/src/prog.c", .line = 21 };
static const struct am_frame C = { .addr = 0x561200003030, .off = 0x30, .sym = "site_c", .obj = "prog" };
static const struct am_frame NOSYM = { .addr = 0x561200004040, .off = 0x1234, .obj = "prog" };
static const struct am_frame BARE = { .addr = 0x7fff0000abcd };
static const struct am_frame MAIN1 = { .addr = 0x555500004040, .sym = "main", .obj = "prog", .file = "/src/prog.c", .line = 40 };
static const struct am_frame MAIN2 = { .addr = 0x561200004040, .sym = "main", .obj = "prog", .file = "/src/prog.c", .line = 40 };
static const struct am_frame MALLOC = { .addr = 0x7f0000001000, .sym = "malloc", .obj = "libc.so.6" };
static const struct am_frame LIBC_MALLOC = { .addr = 0x7f0000001100, .sym = "__libc_malloc", .obj = "libc.so.6" };
static const struct am_frame JE_MALLOC = { .addr = 0x7f1000001000, .sym = "malloc", .obj = "libjemalloc.so.2" };

static struct am_site_fig fig(uint64_t calls, uint64_t bytes, uint64_t leak)
{
	return (struct am_site_fig){ .calls = calls, .bytes = bytes, .leak_count = leak ? 1 : 0, .leak_bytes = leak };
}

static const struct am_dsite *row(const struct am_dsites *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->rows[i].key, key))
			return &d->rows[i];
	return NULL;
}

static void test_keys(void)
{
	char b[256];

	CHECK_STR(am_dframe_key(b, sizeof(b), &A1, true), "site_a /src/prog.c:10", "site key: function file:line");
	CHECK_STR(am_dframe_key(b, sizeof(b), &A1, false), "site_a /src/prog.c", "function key: no line");
	CHECK_STR(am_dframe_key(b, sizeof(b), &C, true), "site_c", "no debug info: the function");
	CHECK_STR(am_dframe_key(b, sizeof(b), &NOSYM, true), "prog+0x1234", "no symbol: obj+0xoff");
	CHECK_STR(am_dframe_key(b, sizeof(b), &BARE, true), "0x7fff0000abcd", "nothing: the address");
	CHECK_STR(am_dframe_key(b, sizeof(b), NULL, true), "(stack unknown)", "no frame");
	CHECK_EQ(am_dmatch_by_name("site"), AM_DMATCH_SITE, "--match site");
	CHECK_EQ(am_dmatch_by_name("stack"), AM_DMATCH_STACK, "--match stack");
	CHECK(am_dmatch_by_name("sites") < 0, "--match sites is not a mode");
}

/* A: site_a in pids 10 and 11, site_b at line 20, no stack; B: site_a,
 * site_b at line 21, site_c, no stack. */
static struct am_site sa[4], sb[4];
static struct am_sites_report ra, rb;

static void reports(void)
{
	sa[0] = (struct am_site){ .pid = 10, .frame = &A1, .f = fig(3, 300, 100) };
	sa[1] = (struct am_site){ .pid = 11, .frame = &A2, .f = fig(1, 100, 0) };
	sa[2] = (struct am_site){ .pid = 10, .frame = &B20, .f = fig(2, 50, 0) };
	sa[3] = (struct am_site){ .pid = 10, .frame = NULL, .f = fig(1, 7, 0) };
	sb[0] = (struct am_site){ .pid = 20, .frame = &A3, .f = fig(4, 400, 100) };
	sb[1] = (struct am_site){ .pid = 20, .frame = &B21, .f = fig(2, 80, 0) };
	sb[2] = (struct am_site){ .pid = 20, .frame = &C, .f = fig(1, 1000, 1000) };
	sb[3] = (struct am_site){ .pid = 20, .frame = NULL, .f = fig(1, 7, 0) };
	ra = (struct am_sites_report){ .sites = sa, .n_sites = 4, .total = fig(7, 457, 100) };
	rb = (struct am_sites_report){ .sites = sb, .n_sites = 4, .total = fig(8, 1487, 1100) };
}

static void test_site_match(void)
{
	struct am_dsites d;
	const struct am_dsite *r;

	CHECK_EQ(am_dsites_match(&ra, &rb, AM_DMATCH_SITE, &d), 0, "match by site");
	CHECK_EQ(d.n, 5, "rows: site_a, site_b:20, site_b:21, site_c, unknown");
	CHECK_EQ(d.both, 2, "in both: site_a and the calls without a stack");
	CHECK_EQ(d.only[0], 1, "only in A: site_b at line 20");
	CHECK_EQ(d.only[1], 2, "only in B: site_b at line 21, site_c");
	CHECK_EQ(d.total[0].bytes, 457, "A's total");
	CHECK_EQ(d.total[1].bytes, 1487, "B's total");
	r = row(&d, "site_a /src/prog.c:10");
	CHECK(r && r->in[0] && r->in[1], "site_a in both (pids and addresses differ)");
	if (r) {
		CHECK_EQ(r->f[0].calls, 4, "site_a in A: its two processes added up");
		CHECK_EQ(r->f[0].bytes, 400, "site_a's bytes in A");
		CHECK_EQ(r->f[1].bytes, 400, "site_a's bytes in B");
		CHECK_EQ(r->f[0].leak_bytes, 100, "site_a's leak in A");
		CHECK(r->frame == &A1 || r->frame == &A2, "the row's frame is A's");
	}
	r = row(&d, "site_b /src/prog.c:20");
	CHECK(r && r->in[0] && !r->in[1], "site_b:20 only in A");
	if (r) {
		CHECK_EQ(r->f[0].bytes, 50, "site_b:20 in A");
		CHECK_EQ(r->f[1].calls, 0, "site_b:20 in B: 0");
	}
	r = row(&d, "site_c");
	CHECK(r && !r->in[0] && r->in[1] && r->frame == &C, "site_c only in B, with B's frame");
	r = row(&d, "(stack unknown)");
	CHECK(r && r->in[0] && r->in[1] && !r->frame, "calls without a stack matched");

	am_dsites_sort(&d, AM_SORT_ALLOC);
	CHECK_STR(d.rows[0].key, "site_c", "largest change first: site_c +1000");
	CHECK_STR(d.rows[1].key, "site_b /src/prog.c:21", "then site_b:21 +80");
	CHECK_STR(d.rows[2].key, "site_b /src/prog.c:20", "then site_b:20 -50");
	CHECK_STR(d.rows[3].key, "site_a /src/prog.c:10", "unchanged: the larger first");
	CHECK_STR(d.rows[4].key, "(stack unknown)", "unchanged, smaller");
	am_dsites_sort(&d, AM_SORT_LEAK);
	CHECK_STR(d.rows[0].key, "site_c", "--sort leak: site_c +1000");
	CHECK_STR(d.rows[1].key, "site_a /src/prog.c:10", "--sort leak: no change, 100 in both, before 0s");
	CHECK_STR(d.rows[2].key, "(stack unknown)", "ties at 0: by key");
	am_dsites_sort(&d, AM_SORT_CALLS);
	CHECK_STR(d.rows[0].key, "site_b /src/prog.c:20", "--sort calls: |-2| and |+2|: the key decides");
	CHECK_STR(d.rows[1].key, "site_b /src/prog.c:21", "--sort calls: then site_b:21");
	am_dsites_free(&d);
	CHECK_EQ(d.n, 0, "freed");
}

static void test_function_match(void)
{
	struct am_dsites d;
	const struct am_dsite *r;

	CHECK_EQ(am_dsites_match(&ra, &rb, AM_DMATCH_FUNCTION, &d), 0, "match by function");
	CHECK_EQ(d.n, 4, "rows: site_a, site_b, site_c, unknown");
	CHECK_EQ(d.both, 3, "site_b matched across the moved line");
	r = row(&d, "site_b /src/prog.c");
	CHECK(r && r->in[0] && r->in[1], "site_b in both");
	if (r) {
		CHECK_EQ(r->f[0].bytes, 50, "site_b in A");
		CHECK_EQ(r->f[1].bytes, 80, "site_b in B");
	}
	am_dsites_free(&d);
}

static void test_stack_match(void)
{
	/* the same path under glibc (malloc < __libc_malloc inside) and
	 * jemalloc: the allocator's frames are not in the key */
	const struct am_frame fa[] = { LIBC_MALLOC, MALLOC, A1, MAIN1 }, fb[] = { JE_MALLOC, A3, MAIN2 };
	const struct am_frame fa2[] = { MALLOC, B20, MAIN1 }, fb2[] = { JE_MALLOC, B20, A3, MAIN2 };
	const struct am_stack sta = { .id = 1, .pid = 10, .n = 4, .f = fa }, stb = { .id = 1, .pid = 20, .n = 3, .f = fb };
	const struct am_stack sta2 = { .id = 2, .pid = 10, .n = 3, .f = fa2 }, stb2 = { .id = 2, .pid = 20, .n = 4, .f = fb2 };
	struct am_site_stack xa[3] = {
		{ .stack = &sta, .pid = 10, .skip = 2, .f = fig(5, 500, 0) },
		{ .stack = &sta2, .pid = 10, .skip = 1, .f = fig(1, 10, 0) },
		{ .stack = NULL, .pid = 10, .f = fig(1, 1, 0) },
	};
	struct am_site_stack xb[2] = {
		{ .stack = &stb, .pid = 20, .skip = 1, .f = fig(5, 600, 0) },
		{ .stack = &stb2, .pid = 20, .skip = 1, .f = fig(1, 10, 0) },
	};
	struct am_sites_report a = { .stacks = xa, .n_stacks = 3 }, b = { .stacks = xb, .n_stacks = 2 };
	struct am_dsites d;
	const struct am_dsite *r;

	CHECK_EQ(am_dsites_match(&a, &b, AM_DMATCH_STACK, &d), 0, "match by stack");
	CHECK_EQ(d.n, 4, "rows: the shared stack, two different ones, no stack");
	CHECK_EQ(d.both, 1, "one stack in both");
	r = row(&d, "site_a /src/prog.c:10;main /src/prog.c:40");
	CHECK(r && r->in[0] && r->in[1], "the path matched under two allocators");
	if (r) {
		CHECK_EQ(r->f[0].bytes, 500, "its bytes in A");
		CHECK_EQ(r->f[1].bytes, 600, "its bytes in B");
		CHECK(r->stack == &sta && r->skip == 2 && r->frame == &sta.f[2], "A's stack, its site frame");
	}
	CHECK(row(&d, "site_b /src/prog.c:20;main /src/prog.c:40") != NULL, "site_b called from main: A only");
	CHECK(row(&d, "site_b /src/prog.c:20;site_a /src/prog.c:10;main /src/prog.c:40") != NULL,
	      "site_b called from site_a: B only, a different stack");
	r = row(&d, "(stack unknown)");
	CHECK(r && r->in[0] && !r->in[1], "no stack: A only");
	am_dsites_sort(&d, AM_SORT_ALLOC);
	CHECK_STR(d.rows[0].key, "site_a /src/prog.c:10;main /src/prog.c:40", "+100 first");
	am_dsites_free(&d);
}

static void test_empty(void)
{
	struct am_sites_report e = { 0 };
	struct am_dsites d;

	CHECK_EQ(am_dsites_match(&e, &ra, AM_DMATCH_SITE, &d), 0, "empty A");
	CHECK_EQ(d.n, 3, "B's sites (site_a of two processes: one row)");
	CHECK_EQ(d.only[1], 3, "all only in B");
	am_dsites_sort(&d, AM_SORT_OS);
	am_dsites_free(&d);
	CHECK_EQ(am_dsites_match(&e, &e, AM_DMATCH_STACK, &d), 0, "both empty");
	CHECK_EQ(d.n, 0, "no rows");
	am_dsites_sort(&d, AM_SORT_ALLOC);
	am_dsites_free(&d);
}

int main(void)
{
	test_keys();
	reports();
	test_site_match();
	test_function_match();
	test_stack_match();
	test_empty();
	return check_report("diff");
}
