// SPDX-License-Identifier: GPL-2.0
/* test_output.c - unit tests of the renderers: the JSON writer (escaping,
 * nesting, buffer drain), the flag/errno/size decoders, and the rendering of
 * hand-built records into a memory FILE, compared as exact JSON lines and as
 * exact or partial text lines. Set AM_TEST_JSON_DUMP=FILE to also write every
 * JSON line produced here to FILE (for an external validity check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fmt.h"
#include "jsonw.h"
#include "output.h"
#include "stack.h"

#define T0 1000000ULL /* trace start for the rendering tests */

static FILE *dump; /* AM_TEST_JSON_DUMP */

/* ---- helpers ---- */

struct mem {
	char  *buf;
	size_t len;
	FILE  *f;
};

static struct am_out *out_new(struct mem *m, bool json, int verbosity, bool multi_pid)
{
	struct am_out_opts opts = {
		.json = json, .verbosity = verbosity, .t0_ns = T0, .multi_pid = multi_pid,
	};

	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	opts.f = m->f;
	return am_out__new(&opts);
}

/* Frees o, closes the stream; returns the text (caller frees). */
static char *out_done(struct am_out *o, struct mem *m, bool json)
{
	am_out__free(o);
	fclose(m->f);
	if (json && dump)
		fputs(m->buf, dump);
	return m->buf;
}

static struct am_call_rec call_rec(uint64_t id, enum am_fn fn, uint64_t size, uint64_t ret)
{
	struct am_call_rec c;

	memset(&c, 0, sizeof(c));
	c.ev.type = AM_EV_CALL;
	c.ev.fn = fn;
	c.ev.pid = 4242;
	c.ev.tid = 4242;
	c.ev.id = id;
	c.ev.ts_enter = T0 + 412000;
	c.ev.ts_exit = T0 + 417000;
	c.ev.args[0] = size;
	c.ev.ret = ret;
	c.ev.out = ret;
	c.size = size;
	c.ptr_out = ret;
	c.allocates = fn != AM_FN_FREE;
	c.region = AM_REG_HEAP;
	return c;
}

static struct am_os_rec os_rec(uint64_t id, enum am_sys sys, uint64_t call_id, int64_t ret)
{
	struct am_os_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.type = AM_EV_OS;
	r.ev.sys = sys;
	r.ev.pid = 4242;
	r.ev.tid = 4242;
	r.ev.id = id;
	r.ev.call_id = call_id;
	r.ev.ts_enter = T0 + 413000;
	r.ev.ts_exit = T0 + 414500;
	r.ev.ret = ret;
	r.direct = call_id == 0;
	r.call_id = call_id;
	return r;
}

static struct am_os_rec mmap_rec(uint64_t id, uint64_t call_id, uint64_t len, int64_t ret)
{
	struct am_os_rec r = os_rec(id, AM_SYS_MMAP, call_id, ret);

	r.ev.args[1] = len;
	r.ev.args[2] = 0x3;  /* PROT_READ|PROT_WRITE */
	r.ev.args[3] = 0x22; /* MAP_PRIVATE|MAP_ANONYMOUS */
	r.ev.args[4] = (uint32_t)-1;
	r.region_kind = call_id ? AM_REG_MMAP : AM_REG_DIRECT;
	return r;
}

/* n-th line (0-based) of text, copied into buf; "" if absent */
static const char *line_of(const char *text, int n, char *buf, size_t sz)
{
	const char *p = text, *e;
	size_t k;

	while (n-- > 0 && p && *p) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p) {
		buf[0] = '\0';
		return buf;
	}
	e = strchr(p, '\n');
	k = e ? (size_t)(e - p) : strlen(p);
	if (k >= sz)
		k = sz - 1;
	memcpy(buf, p, k);
	buf[k] = '\0';
	return buf;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* ---- JSON writer ---- */

static char *jw_render(void (*fn)(struct jsonw *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jsonw *w = malloc(sizeof(*w));

	jsonw_init(w, f);
	fn(w);
	CHECK_EQ(jsonw_flush(w), 0, "jsonw flush ok");
	free(w);
	fclose(f);
	return buf;
}

static void jw_nesting(struct jsonw *w)
{
	jsonw_obj_open(w);
	jsonw_kstr(w, "a", "x");
	jsonw_karr_open(w, "b");
	jsonw_u64(w, 1);
	jsonw_obj_open(w);
	jsonw_obj_close(w);
	jsonw_arr_open(w);
	jsonw_arr_close(w);
	jsonw_s64(w, -2);
	jsonw_arr_close(w);
	jsonw_kobj_open(w, "c");
	jsonw_kbool(w, "t", true);
	jsonw_kbool(w, "f", false);
	jsonw_key(w, "n");
	jsonw_null(w);
	jsonw_obj_close(w);
	jsonw_khex(w, "h", 0x7f1c2a400010ULL);
	jsonw_obj_close(w);
	jsonw_eol(w);
	jsonw_arr_open(w); /* second record: commas restart */
	jsonw_str(w, "y");
	jsonw_arr_close(w);
	jsonw_eol(w);
}

static void jw_escapes(struct jsonw *w)
{
	jsonw_arr_open(w);
	jsonw_str(w, "q\"b\\s/");
	jsonw_str(w, "\b\f\n\r\t");
	jsonw_str(w, "\x01\x1f\x7f");
	jsonw_str(w, "caf\xc3\xa9 \xe2\x82\xac");
	jsonw_str(w, "");
	jsonw_str(w, NULL);
	jsonw_strn(w, "a\0b", 3);
	jsonw_arr_close(w);
	jsonw_eol(w);
}

static void jw_numbers(struct jsonw *w)
{
	jsonw_arr_open(w);
	jsonw_u64(w, 0);
	jsonw_u64(w, UINT64_MAX);
	jsonw_s64(w, INT64_MIN);
	jsonw_s64(w, INT64_MAX);
	jsonw_s64(w, 0);
	jsonw_hex(w, 0);
	jsonw_hex(w, UINT64_MAX);
	jsonw_hex(w, 0xabc);
	jsonw_arr_close(w);
	jsonw_eol(w);
}

static void jw_big(struct jsonw *w)
{
	int i;

	/* far more than one buffer: 200000 * 10 bytes */
	jsonw_arr_open(w);
	for (i = 0; i < 200000; i++)
		jsonw_str(w, "ab\ncdef");
	jsonw_arr_close(w);
	jsonw_eol(w);
}

static void jw_long_string(struct jsonw *w)
{
	size_t n = JSONW_BUF_SIZE * 2 + 17;
	char *s = malloc(n + 1);

	memset(s, 'z', n);
	s[n] = '\0';
	s[n / 2] = '"';
	jsonw_str(w, s);
	free(s);
}

static void test_jsonw(void)
{
	char *s;
	size_t i, n;

	s = jw_render(jw_nesting);
	CHECK_STR(s, "{\"a\":\"x\",\"b\":[1,{},[],-2],\"c\":{\"t\":true,\"f\":false,\"n\":null},"
		  "\"h\":\"0x7f1c2a400010\"}\n[\"y\"]\n", "jsonw nesting and commas");
	free(s);

	s = jw_render(jw_escapes);
	CHECK_STR(s, "[\"q\\\"b\\\\s/\",\"\\b\\f\\n\\r\\t\",\"\\u0001\\u001f\x7f\","
		  "\"caf\xc3\xa9 \xe2\x82\xac\",\"\",null,\"a\\u0000b\"]\n", "jsonw escaping");
	free(s);

	s = jw_render(jw_numbers);
	CHECK_STR(s, "[0,18446744073709551615,-9223372036854775808,9223372036854775807,0,"
		  "\"0x0\",\"0xffffffffffffffff\",\"0xabc\"]\n", "jsonw numbers");
	free(s);

	s = jw_render(jw_big);
	n = strlen(s);
	CHECK_EQ(n, 1 + 200000 * 11 - 1 + 1 + 1, "jsonw big output length"); /* 200000 x "ab\\ncdef", */
	CHECK(strncmp(s, "[\"ab\\ncdef\",\"ab", 14) == 0, "jsonw big output start");
	CHECK(strcmp(s + n - 13, ",\"ab\\ncdef\"]\n") == 0, "jsonw big output end");
	free(s);

	s = jw_render(jw_long_string);
	n = strlen(s);
	CHECK_EQ(n, JSONW_BUF_SIZE * 2 + 17 + 2 + 1, "jsonw long string length");
	for (i = 1; i < n - 1 && s[i] != '"'; i++)
		;
	CHECK_EQ(i, 2 + (JSONW_BUF_SIZE * 2 + 17) / 2, "jsonw long string escape position");
	CHECK(s[i - 1] == '\\', "jsonw long string escaped quote");
	free(s);
}

/* ---- decoders ---- */

static void test_fmt(void)
{
	char b[AM_FMT_BUF];

	CHECK_STR(am_fmt_prot(b, sizeof(b), 0), "PROT_NONE", "prot 0");
	CHECK_STR(am_fmt_prot(b, sizeof(b), 3), "PROT_READ|PROT_WRITE", "prot rw");
	CHECK_STR(am_fmt_prot(b, sizeof(b), 7), "PROT_READ|PROT_WRITE|PROT_EXEC", "prot rwx");
	CHECK_STR(am_fmt_prot(b, sizeof(b), 0x10), "0x10", "prot unknown only");
	CHECK_STR(am_fmt_prot(b, sizeof(b), 0x31), "PROT_READ|0x30", "prot unknown remainder");
	CHECK_STR(am_fmt_prot(b, sizeof(b), 0x01000001), "PROT_READ|PROT_GROWSDOWN", "prot growsdown");

	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x22), "MAP_PRIVATE|MAP_ANONYMOUS", "mmap anon");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x4022), "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE",
		  "mmap noreserve");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x32), "MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS", "mmap fixed");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x1), "MAP_SHARED", "mmap shared");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x3), "MAP_SHARED_VALIDATE", "mmap shared validate");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0), "0", "mmap 0");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x80000022ULL), "MAP_PRIVATE|MAP_ANONYMOUS|0x80000000",
		  "mmap unknown remainder");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x7), "0x7", "mmap unknown type");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x40022 | (21ULL << 26)),
		  "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB", "mmap huge 2MB");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x40022 | (19ULL << 26)),
		  "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|19<<MAP_HUGE_SHIFT", "mmap huge other");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x22 | 0x4000000),
		  "MAP_PRIVATE|MAP_ANONYMOUS|MAP_UNINITIALIZED", "mmap uninitialized");
	CHECK_STR(am_fmt_mmap_flags(b, sizeof(b), 0x120022),
		  "MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK|MAP_FIXED_NOREPLACE", "mmap stack noreplace");

	CHECK_STR(am_fmt_mremap_flags(b, sizeof(b), 0), "0", "mremap 0");
	CHECK_STR(am_fmt_mremap_flags(b, sizeof(b), 1), "MREMAP_MAYMOVE", "mremap maymove");
	CHECK_STR(am_fmt_mremap_flags(b, sizeof(b), 3), "MREMAP_MAYMOVE|MREMAP_FIXED", "mremap fixed");
	CHECK_STR(am_fmt_mremap_flags(b, sizeof(b), 9), "MREMAP_MAYMOVE|0x8", "mremap unknown");

	CHECK_STR(am_fmt_madv(b, sizeof(b), 4), "MADV_DONTNEED", "madv dontneed");
	CHECK_STR(am_fmt_madv(b, sizeof(b), 8), "MADV_FREE", "madv free");
	CHECK_STR(am_fmt_madv(b, sizeof(b), 14), "MADV_HUGEPAGE", "madv hugepage");
	CHECK_STR(am_fmt_madv(b, sizeof(b), 0), "MADV_NORMAL", "madv normal");
	CHECK_STR(am_fmt_madv(b, sizeof(b), 5), "5", "madv hole");
	CHECK_STR(am_fmt_madv(b, sizeof(b), 1000), "1000", "madv unknown");

	/* the inverses (the report replays records through the accounting
	 * model from these strings): every value round-trips */
	{
		uint64_t v, k;
		bool ok = true;

		for (k = 0; k < 64 && ok; k++) {
			uint64_t x = k | (k & 16 ? 0x03000000 : 0) | (k & 32 ? 0x100 : 0);

			ok = am_parse_prot(am_fmt_prot(b, sizeof(b), x), &v) == 0 && v == x;
		}
		CHECK(ok, "prot round-trips");
		for (k = 0, ok = true; k < 16 && ok; k++)
			ok = am_parse_mremap_flags(am_fmt_mremap_flags(b, sizeof(b), k), &v) == 0 && v == k;
		CHECK(ok, "mremap flags round-trip");
		for (k = 0, ok = true; k < 120 && ok; k++)
			ok = am_parse_madv(am_fmt_madv(b, sizeof(b), k), &v) == 0 && v == k;
		CHECK(ok, "madvise advice round-trips");
		CHECK(am_parse_prot("PROT_READ|", &v) < 0, "prot: trailing bar refused");
		CHECK(am_parse_prot("PROT_BOGUS", &v) < 0, "prot: unknown name refused");
		CHECK(am_parse_prot(NULL, &v) < 0, "prot: absent refused");
		CHECK(am_parse_madv("MADV_", &v) < 0, "advice: unknown name refused");
		CHECK(am_parse_madv("12x", &v) < 0, "advice: not a number refused");
	}

	CHECK_STR(am_fmt_errno(b, sizeof(b), 12), "ENOMEM", "errno ENOMEM");
	CHECK_STR(am_fmt_errno(b, sizeof(b), 22), "EINVAL", "errno EINVAL");
	CHECK_STR(am_fmt_errno(b, sizeof(b), 9999), "errno 9999", "errno unknown");
	CHECK_STR(am_fmt_errno(b, sizeof(b), 0), "errno 0", "errno 0");

	CHECK_STR(am_fmt_size(b, sizeof(b), 0), "0 B", "size 0");
	CHECK_STR(am_fmt_size(b, sizeof(b), 24), "24 B", "size 24");
	CHECK_STR(am_fmt_size(b, sizeof(b), 135168), "132 KiB", "size 132 KiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), 200000), "200000 B", "size 200000");
	CHECK_STR(am_fmt_size(b, sizeof(b), 1052672), "1028 KiB", "size 1028 KiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), 1048576), "1 MiB", "size 1 MiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), 64ULL << 20), "64 MiB", "size 64 MiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), 1500000), "1.4 MiB", "size 1.4 MiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), 1ULL << 30), "1 GiB", "size 1 GiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), 5000000000ULL), "4.7 GiB", "size 4.7 GiB");
	CHECK_STR(am_fmt_size(b, sizeof(b), UINT64_MAX), "17179869184.0 GiB", "size max");
	CHECK_STR(am_fmt_prot(b, 8, 3), "PROT_RE", "decoder truncates to the buffer");
}

/* ---- JSON rendering ---- */

static void test_json_calls(void)
{
	struct mem m;
	struct am_out *o;
	struct am_call_rec c;
	struct am_os_rec os[2];
	char *s, l[1024];

	/* malloc(200000) served by mmap */
	o = out_new(&m, true, 0, false);
	c = call_rec(3, AM_FN_MALLOC, 200000, 0x7f3a1c2b6010ULL);
	c.region = AM_REG_MMAP;
	c.reason = AM_WHY_OVER_THRESHOLD;
	c.threshold = 131072;
	c.n_os = 1;
	os[0] = mmap_rec(7, 3, 204800, 0x7f3a1c2b6000LL);
	os[0].cause_fn = AM_FN_MALLOC;
	os[0].cause_size = 200000;
	am_out__call(o, &c, os, 1);
	s = out_done(o, &m, true);
	CHECK_EQ(count_lines(s), 2, "json malloc+mmap: two lines");
	CHECK_STR(line_of(s, 1, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":7,\"syscall\":\"mmap\","
		  "\"addr\":\"0x0\",\"len\":204800,\"prot\":\"PROT_READ|PROT_WRITE\","
		  "\"flags\":\"MAP_PRIVATE|MAP_ANONYMOUS\",\"fd\":-1,\"offset\":0,\"ret\":\"0x7f3a1c2b6000\","
		  "\"dur_ns\":1500,\"cause\":{\"kind\":\"call\",\"call_id\":3,\"fn\":\"malloc\",\"size\":200000},"
		  "\"region\":\"mmap\"}", "json os record of a call");
	CHECK_STR(line_of(s, 0, l, sizeof(l)),
		  "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":2,\"id\":3,\"fn\":\"malloc\","
		  "\"size\":200000,\"ret\":\"0x7f3a1c2b6010\",\"dur_ns\":5000,\"os\":[7],\"region\":\"mmap\","
		  "\"reason\":\"over_threshold\",\"threshold\":131072}", "json malloc call record");
	free(s);

	/* JSON is complete: the default verbosity keeps calls without OS
	 * requests too (the verbosity shapes the text only) */
	o = out_new(&m, true, 0, false);
	c = call_rec(4, AM_FN_MALLOC, 24, 0x5581d6f3f2a0ULL);
	am_out__call(o, &c, NULL, 0);
	s = out_done(o, &m, true);
	CHECK_STR(s, "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":4,\"fn\":\"malloc\","
		  "\"size\":24,\"ret\":\"0x5581d6f3f2a0\",\"dur_ns\":5000,\"os\":[],\"region\":\"heap\"}\n",
		  "json default keeps a call without OS requests");
	free(s);

	/* calloc, verbose, nested, glibc under threshold */
	o = out_new(&m, true, 1, false);
	c = call_rec(5, AM_FN_CALLOC, 40, 0x5581d6f3f2c0ULL);
	c.ev.args[0] = 10;
	c.ev.args[1] = 4;
	c.nmemb = 10;
	c.ev.flags = AM_CALL_NESTED;
	c.ev.depth = 1;
	c.reason = AM_WHY_UNDER_THRESHOLD;
	c.threshold = 131072;
	am_out__call(o, &c, NULL, 0);
	s = out_done(o, &m, true);
	CHECK_STR(s, "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":5,\"fn\":\"calloc\","
		  "\"size\":40,\"nmemb\":10,\"elem_size\":4,\"ret\":\"0x5581d6f3f2c0\",\"dur_ns\":5000,\"os\":[],"
		  "\"region\":\"heap\",\"reason\":\"under_threshold\",\"threshold\":131072,\"nested\":true}\n",
		  "json calloc nested");
	free(s);

	/* the arguments the text prints that no other field holds: a failed
	 * posix_memalign's memptr, a sized delete's size argument */
	o = out_new(&m, true, 0, false);
	c = call_rec(6, AM_FN_POSIX_MEMALIGN, 1000, 22);
	c.ev.args[0] = 0x7ffd0010;
	c.align = 3;
	c.ptr_out = 0;
	am_out__call(o, &c, NULL, 0);
	c = call_rec(7, AM_FN_DELETE_SZ, 999, 0);
	c.ev.args[0] = 0x5581d6f3f2c0ULL;
	c.ev.args[1] = 999;
	c.ptr_in = 0x5581d6f3f2c0ULL;
	c.has_ptr_in = true;
	am_out__call(o, &c, NULL, 0);
	s = out_done(o, &m, true);
	CHECK(strstr(s, "\"rc\":22,\"memptr\":\"0x7ffd0010\"") != NULL, "json failed posix_memalign: memptr");
	CHECK(strstr(s, "\"size_arg\":999") != NULL, "json sized delete: size_arg");
	free(s);

	/* free(ptr) -> munmap */
	o = out_new(&m, true, 0, false);
	c = call_rec(12, AM_FN_FREE, 200000, 0);
	c.ev.args[0] = 0x7f3a1c2b6010ULL;
	c.ptr_in = 0x7f3a1c2b6010ULL;
	c.has_ptr_in = true;
	c.region = AM_REG_MMAP;
	c.threshold = 131072;
	os[0] = os_rec(8, AM_SYS_MUNMAP, 12, 0);
	os[0].ev.args[0] = 0x7f3a1c2b6000ULL;
	os[0].ev.args[1] = 204800;
	os[0].cause_fn = AM_FN_FREE;
	os[0].cause_size = 200000;
	am_out__call(o, &c, os, 1);
	s = out_done(o, &m, true);
	CHECK_STR(line_of(s, 1, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":8,\"syscall\":\"munmap\","
		  "\"addr\":\"0x7f3a1c2b6000\",\"len\":204800,\"ret\":0,\"dur_ns\":1500,"
		  "\"cause\":{\"kind\":\"call\",\"call_id\":12,\"fn\":\"free\",\"size\":200000}}", "json munmap");
	CHECK_STR(line_of(s, 0, l, sizeof(l)),
		  "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":2,\"id\":12,\"fn\":\"free\","
		  "\"size\":200000,\"ptr\":\"0x7f3a1c2b6010\",\"dur_ns\":5000,\"os\":[8],\"region\":\"mmap\","
		  "\"threshold\":131072}", "json free");
	free(s);

	/* free of an unknown pointer, verbose: no size, no region */
	o = out_new(&m, true, 1, false);
	c = call_rec(13, AM_FN_FREE, 0, 0);
	c.ptr_in = 0x1234;
	c.has_ptr_in = true;
	c.free_unknown = true;
	c.region = AM_REG_UNKNOWN;
	am_out__call(o, &c, NULL, 0);
	s = out_done(o, &m, true);
	CHECK_STR(s, "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":13,\"fn\":\"free\","
		  "\"ptr\":\"0x1234\",\"dur_ns\":5000,\"os\":[],\"unknown_ptr\":true}\n", "json free unknown");
	free(s);

	/* realloc with mremap + posix_memalign + missed malloc, verbose */
	o = out_new(&m, true, 1, false);
	c = call_rec(20, AM_FN_REALLOC, 300000, 0x7f0000001010ULL);
	c.ptr_in = 0x7f3a1c2b6010ULL;
	c.has_ptr_in = true;
	c.region = AM_REG_MMAP;
	os[0] = os_rec(21, AM_SYS_MREMAP, 20, 0x7f0000001000LL);
	os[0].ev.args[0] = 0x7f3a1c2b6000ULL;
	os[0].ev.args[1] = 204800;
	os[0].ev.args[2] = 303104;
	os[0].ev.args[3] = 1;
	os[0].cause_fn = AM_FN_REALLOC;
	os[0].cause_size = 300000;
	os[0].region_kind = AM_REG_MMAP;
	os[1] = os_rec(22, AM_SYS_MADVISE, 20, 0);
	os[1].ev.args[0] = 0x7f0000040000ULL;
	os[1].ev.args[1] = 4096;
	os[1].ev.args[2] = 4;
	os[1].cause_fn = AM_FN_REALLOC;
	os[1].cause_size = 300000;
	am_out__call(o, &c, os, 2);
	c = call_rec(23, AM_FN_POSIX_MEMALIGN, 1000, 0);
	c.ev.args[0] = 0x7ffd0000;
	c.ev.args[1] = 64;
	c.ev.args[2] = 1000;
	c.ev.out = 0x5581d6f40000ULL;
	c.align = 64;
	c.ptr_out = 0x5581d6f40000ULL;
	am_out__call(o, &c, NULL, 0);
	c = call_rec(24, AM_FN_MALLOC, 50, 0);
	c.ev.flags = AM_CALL_MISSED;
	c.region = AM_REG_UNKNOWN;
	am_out__call(o, &c, NULL, 0);
	s = out_done(o, &m, true);
	CHECK_EQ(count_lines(s), 5, "json realloc/posix_memalign/missed: five lines");
	CHECK_STR(line_of(s, 1, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":21,\"syscall\":\"mremap\","
		  "\"addr\":\"0x7f3a1c2b6000\",\"len\":204800,\"flags\":\"MREMAP_MAYMOVE\",\"new_len\":303104,"
		  "\"ret\":\"0x7f0000001000\",\"dur_ns\":1500,"
		  "\"cause\":{\"kind\":\"call\",\"call_id\":20,\"fn\":\"realloc\",\"size\":300000},"
		  "\"region\":\"mmap\"}", "json mremap");
	CHECK_STR(line_of(s, 2, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":2,\"id\":22,\"syscall\":\"madvise\","
		  "\"addr\":\"0x7f0000040000\",\"len\":4096,\"advice\":\"MADV_DONTNEED\",\"ret\":0,\"dur_ns\":1500,"
		  "\"cause\":{\"kind\":\"call\",\"call_id\":20,\"fn\":\"realloc\",\"size\":300000}}", "json madvise");
	CHECK_STR(line_of(s, 0, l, sizeof(l)),
		  "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":3,\"id\":20,\"fn\":\"realloc\","
		  "\"size\":300000,\"ptr\":\"0x7f3a1c2b6010\",\"ret\":\"0x7f0000001010\",\"dur_ns\":5000,"
		  "\"os\":[21,22],\"region\":\"mmap\"}", "json realloc");
	CHECK_STR(line_of(s, 3, l, sizeof(l)),
		  "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":4,\"id\":23,\"fn\":\"posix_memalign\","
		  "\"size\":1000,\"align\":64,\"ret\":\"0x5581d6f40000\",\"rc\":0,\"dur_ns\":5000,\"os\":[],"
		  "\"region\":\"heap\"}", "json posix_memalign");
	CHECK_STR(line_of(s, 4, l, sizeof(l)),
		  "{\"type\":\"call\",\"ts_ns\":1412000,\"pid\":4242,\"tid\":4242,\"seq\":5,\"id\":24,\"fn\":\"malloc\","
		  "\"size\":50,\"os\":[],\"region\":\"unknown\",\"missed\":true}", "json missed malloc");
	free(s);
}

static void test_json_os_misc(void)
{
	struct mem m;
	struct am_out *o;
	struct am_os_rec r;
	struct am_threshold_rec t = {
		.ts_ns = T0 + 2000000, .pid = 4242, .tid = 4243, .old_value = 131072,
		.new_value = 1052672, .call_id = 12, .freed_chunk = 1052672,
	};
	struct am_task_event tk;
	char *s, l[1024];

	o = out_new(&m, true, 0, false);
	r = mmap_rec(30, 0, 65536, 0x7f0000100000LL);            /* direct mmap */
	am_out__os(o, &r);
	r = mmap_rec(31, 0, 1ULL << 40, -12);                     /* failed */
	am_out__os(o, &r);
	r = os_rec(32, AM_SYS_BRK, 40, 0x5581d6f60000LL);          /* orphan brk */
	r.direct = false;
	r.ev.args[0] = 0x5581d6f60000ULL;
	r.cause_fn = AM_FN_MALLOC;
	r.cause_size = 24;
	am_out__os(o, &r);
	r = os_rec(33, AM_SYS_MPROTECT, 0, -1);                    /* EPERM */
	r.ev.args[0] = 0x7f0000100000ULL;
	r.ev.args[1] = 4096;
	r.ev.args[2] = 0;
	am_out__os(o, &r);
	r = os_rec(34, AM_SYS_MREMAP, 0, 0x7f0000200000LL);        /* MREMAP_FIXED */
	r.ev.args[0] = 0x7f0000100000ULL;
	r.ev.args[1] = 4096;
	r.ev.args[2] = 8192;
	r.ev.args[3] = 3;
	r.ev.args[4] = 0x7f0000200000ULL;
	r.region_kind = AM_REG_DIRECT;
	am_out__os(o, &r);
	r = os_rec(35, AM_SYS_BRK, 0, 0x5581d6f60000LL);           /* failed brk */
	r.ev.args[0] = 0x5581e0000000ULL;
	am_out__os(o, &r);
	am_out__threshold(o, &t);
	memset(&tk, 0, sizeof(tk));
	tk.type = AM_EV_TASK;
	tk.pid = 4242;
	tk.tid = 4242;
	tk.ts = T0 + 3000000;
	tk.kind = AM_TASK_FORK;
	tk.child = 4250;
	am_out__task(o, &tk);
	tk.kind = AM_TASK_EXEC;
	am_out__task(o, &tk);
	tk.kind = AM_TASK_EXIT;
	tk.code = 3 << 8;
	am_out__task(o, &tk);
	s = out_done(o, &m, true);
	CHECK_EQ(count_lines(s), 10, "json os/threshold/task: ten lines");
	CHECK_STR(line_of(s, 0, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":1,\"id\":30,\"syscall\":\"mmap\","
		  "\"addr\":\"0x0\",\"len\":65536,\"prot\":\"PROT_READ|PROT_WRITE\","
		  "\"flags\":\"MAP_PRIVATE|MAP_ANONYMOUS\",\"fd\":-1,\"offset\":0,\"ret\":\"0x7f0000100000\","
		  "\"dur_ns\":1500,\"cause\":{\"kind\":\"direct\"},\"region\":\"direct\"}", "json direct mmap");
	CHECK_STR(line_of(s, 1, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":2,\"id\":31,\"syscall\":\"mmap\","
		  "\"addr\":\"0x0\",\"len\":1099511627776,\"prot\":\"PROT_READ|PROT_WRITE\","
		  "\"flags\":\"MAP_PRIVATE|MAP_ANONYMOUS\",\"fd\":-1,\"offset\":0,\"ret\":\"0xffffffffffffffff\","
		  "\"error\":\"ENOMEM\",\"dur_ns\":1500,\"cause\":{\"kind\":\"direct\"},\"region\":\"direct\"}",
		  "json failed mmap");
	CHECK_STR(line_of(s, 2, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":3,\"id\":32,\"syscall\":\"brk\","
		  "\"addr\":\"0x5581d6f60000\",\"ret\":\"0x5581d6f60000\",\"dur_ns\":1500,"
		  "\"cause\":{\"kind\":\"call\",\"call_id\":40,\"fn\":\"malloc\",\"size\":24}}", "json brk");
	CHECK_STR(line_of(s, 3, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":4,\"id\":33,\"syscall\":\"mprotect\","
		  "\"addr\":\"0x7f0000100000\",\"len\":4096,\"prot\":\"PROT_NONE\",\"ret\":-1,\"error\":\"EPERM\","
		  "\"dur_ns\":1500,\"cause\":{\"kind\":\"direct\"}}", "json failed mprotect");
	CHECK_STR(line_of(s, 4, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":5,\"id\":34,\"syscall\":\"mremap\","
		  "\"addr\":\"0x7f0000100000\",\"len\":4096,\"flags\":\"MREMAP_MAYMOVE|MREMAP_FIXED\","
		  "\"new_len\":8192,\"new_addr\":\"0x7f0000200000\",\"ret\":\"0x7f0000200000\",\"dur_ns\":1500,"
		  "\"cause\":{\"kind\":\"direct\"},\"region\":\"direct\"}", "json mremap fixed");
	CHECK_STR(line_of(s, 5, l, sizeof(l)),
		  "{\"type\":\"os\",\"ts_ns\":1413000,\"pid\":4242,\"tid\":4242,\"seq\":6,\"id\":35,\"syscall\":\"brk\","
		  "\"addr\":\"0x5581e0000000\",\"ret\":\"0x5581d6f60000\",\"dur_ns\":1500,"
		  "\"cause\":{\"kind\":\"direct\"}}", "json refused brk: no error, as strace");
	CHECK_STR(line_of(s, 6, l, sizeof(l)),
		  "{\"type\":\"threshold\",\"ts_ns\":3000000,\"pid\":4242,\"tid\":4243,\"seq\":7,\"old\":131072,"
		  "\"new\":1052672,\"call_id\":12,\"chunk\":1052672}", "json threshold");
	CHECK_STR(line_of(s, 7, l, sizeof(l)),
		  "{\"type\":\"task\",\"ts_ns\":4000000,\"pid\":4242,\"tid\":4242,\"seq\":8,\"kind\":\"fork\",\"child\":4250}",
		  "json fork");
	CHECK_STR(line_of(s, 8, l, sizeof(l)),
		  "{\"type\":\"task\",\"ts_ns\":4000000,\"pid\":4242,\"tid\":4242,\"seq\":9,\"kind\":\"exec\"}", "json exec");
	CHECK_STR(line_of(s, 9, l, sizeof(l)),
		  "{\"type\":\"task\",\"ts_ns\":4000000,\"pid\":4242,\"tid\":4242,\"seq\":10,\"kind\":\"exit\",\"code\":3}",
		  "json exit: the exit status, not the wait status");
	free(s);

	/* quiet shapes the text only: JSON keeps every record */
	o = out_new(&m, true, -1, false);
	r = mmap_rec(30, 0, 65536, 0x7f0000100000LL);
	am_out__os(o, &r);
	am_out__threshold(o, &t);
	am_out__task(o, &tk);
	s = out_done(o, &m, true);
	CHECK_EQ(count_lines(s), 3, "json quiet keeps its three records");
	free(s);
}

static struct am_summary summary_fixture(void)
{
	struct am_summary s;

	memset(&s, 0, sizeof(s));
	s.duration_ns = 1500000000ULL;
	s.target_exit = -1; /* attached, not launched: "target":null */
	s.fn[AM_FN_MALLOC] = (struct am_fn_stats){ .calls = 100, .bytes = 400000, .nested = 2, .os_calls = 3, .failed = 1 };
	s.fn[AM_FN_FREE] = (struct am_fn_stats){ .calls = 90, .bytes = 300000 };
	s.sys_count[AM_SYS_BRK] = 2;
	s.sys_by_cause[AM_SYS_BRK][AM_FN_MALLOC] = 2;
	s.sys_count[AM_SYS_MMAP] = 3;
	s.sys_failed[AM_SYS_MMAP] = 1;
	s.sys_by_cause[AM_SYS_MMAP][AM_FN_MALLOC] = 1;
	s.sys_by_cause[AM_SYS_MMAP][AM_FN_MAX] = 2;
	s.live_bytes = 100000;
	s.live_bytes_peak = 300000;
	s.live_count = 10;
	s.heap_bytes = 270336;
	s.heap_bytes_peak = 270336;
	s.mmap_bytes = 0;
	s.mmap_bytes_peak = 204800;
	s.committed_bytes = 270336;
	s.committed_bytes_peak = 475136;
	s.direct_mmap_bytes = 65536;
	s.hist_heap[4] = 90;
	s.hist_other[4] = 3;
	s.hist_mmap[17] = 1;
	s.threshold_known = true;
	s.threshold_start = 131072;
	s.threshold_end = 1052672;
	s.threshold_changes = 1;
	s.thr_start = (struct am_thr){ .known = true, .value = 131072, .source = AM_THR_SRC_DEFAULT };
	s.thr_end = (struct am_thr){ .known = true, .value = 1052672 };
	s.live_by_region_count[AM_REG_HEAP] = 10;
	s.live_by_region_bytes[AM_REG_HEAP] = 100000;
	s.unknown_frees = 3;
	s.events = 300;
	return s;
}

static void test_json_summary(void)
{
	struct mem m;
	struct am_out *o;
	struct am_summary s = summary_fixture();
	char *t;

	o = out_new(&m, true, -1, false);
	am_out__summary(o, &s);
	{
		struct am_task_event late = { .type = AM_EV_TASK, .kind = AM_TASK_EXEC, .ts = T0 + 1600000000ULL };

		am_out__task(o, &late); /* written (JSON is complete, even quiet); its time counts */
	}
	s.threshold_known = false;
	s.bpf.lost_os = 2;
	s.bpf.missed_ret = 1;
	s.bpf.orphan_ret = 4;
	s.orphan_os = 5;
	s.unattached_probes = 6;
	s.bpf.depth_overflow = 7;
	s.bpf.thread_full = 8;
	s.oom = true;
	memset(s.fn, 0, sizeof(s.fn));
	memset(s.sys_count, 0, sizeof(s.sys_count));
	memset(s.hist_heap, 0, sizeof(s.hist_heap));
	memset(s.hist_mmap, 0, sizeof(s.hist_mmap));
	memset(s.hist_other, 0, sizeof(s.hist_other));
	memset(s.live_by_region_count, 0, sizeof(s.live_by_region_count));
	memset(s.live_by_region_bytes, 0, sizeof(s.live_by_region_bytes));
	am_out__summary(o, &s);
	t = out_done(o, &m, true);
	CHECK_STR(t,
		  "{\"type\":\"summary\",\"ts_ns\":1501000000,\"pid\":0,\"tid\":0,\"duration_ns\":1500000000,"
		  "\"functions\":{\"malloc\":{\"calls\":100,\"bytes\":400000,\"nested\":2,\"os_calls\":3,\"failed\":1},"
		  "\"free\":{\"calls\":90,\"bytes\":300000,\"nested\":0,\"os_calls\":0,\"failed\":0}},"
		  "\"syscalls\":{\"brk\":{\"count\":2,\"failed\":0,\"by_cause\":{\"malloc\":2}},"
		  "\"mmap\":{\"count\":3,\"failed\":1,\"by_cause\":{\"malloc\":1,\"direct\":2}}},"
		  "\"bytes\":{\"live\":100000,\"live_peak\":300000,\"heap\":270336,\"heap_peak\":270336,"
		  "\"mmap\":0,\"mmap_peak\":204800,\"committed\":270336,\"committed_peak\":475136,"
		  "\"direct_mmap\":65536,\"returned_munmap\":0,\"returned_madvise\":0,\"returned_brk\":0},\"target\":null,"
		  "\"histogram\":[{\"lo\":16,\"hi\":32,\"heap\":90,\"mmap\":0,\"other\":3},"
		  "{\"lo\":131072,\"hi\":262144,\"heap\":0,\"mmap\":1,\"other\":0}],"
		  "\"threshold\":{\"start\":131072,\"end\":1052672,\"changes\":1,\"pinned\":false,\"source\":\"default\"},"
		  "\"live_at_end\":{\"heap\":{\"count\":10,\"bytes\":100000}},"
		  "\"counters\":{\"events\":300,\"lost_events\":0,\"lost_call\":0,\"lost_os\":0,\"lost_task\":0,"
		  "\"missed_returns\":0,\"unattached_probes\":0,\"unknown_frees\":3,\"own_unknown_frees\":0,\"own_calls\":0,\"inflight_returns\":0,\"attach_unknown\":0,\"held\":0,\"depth_overflow\":0,"
		  "\"thread_full\":0,\"orphan_returns\":0,\"orphan_os\":0,\"out_of_memory\":false,\"out_of_order\":0}}\n"
		  "{\"type\":\"task\",\"ts_ns\":1601000000,\"pid\":0,\"tid\":0,\"seq\":1,\"kind\":\"exec\"}\n"
		  "{\"type\":\"summary\",\"ts_ns\":1601000000,\"pid\":0,\"tid\":0,\"duration_ns\":1500000000,"
		  "\"functions\":{},\"syscalls\":{},"
		  "\"bytes\":{\"live\":100000,\"live_peak\":300000,\"heap\":270336,\"heap_peak\":270336,"
		  "\"mmap\":0,\"mmap_peak\":204800,\"committed\":270336,\"committed_peak\":475136,"
		  "\"direct_mmap\":65536,\"returned_munmap\":0,\"returned_madvise\":0,\"returned_brk\":0},\"target\":null,"
		  "\"histogram\":[],\"threshold\":null,\"live_at_end\":{},"
		  "\"counters\":{\"events\":300,\"lost_events\":2,\"lost_call\":0,\"lost_os\":2,\"lost_task\":0,"
		  "\"missed_returns\":1,\"unattached_probes\":6,\"unknown_frees\":3,\"own_unknown_frees\":0,\"own_calls\":0,\"inflight_returns\":0,\"attach_unknown\":0,\"held\":0,\"depth_overflow\":7,"
		  "\"thread_full\":8,\"orphan_returns\":4,\"orphan_os\":5,\"out_of_memory\":true,\"out_of_order\":0}}\n",
		  "json summary");
	free(t);
}

/* ---- time order (opts.ordered): the tracer's origin and progress ---- */

/* "type" and "ts_ns" - T0 of line n, as "call@100" */
static const char *tag_of(const char *text, int n, char *buf, size_t sz)
{
	char l[2048];
	const char *t, *ts;

	line_of(text, n, l, sizeof(l));
	t = strstr(l, "\"type\":\"");
	ts = strstr(l, "\"ts_ns\":");
	if (!t || !ts) {
		snprintf(buf, sz, "?");
		return buf;
	}
	t += 8;
	snprintf(buf, sz, "%.*s@%llu", (int)(strchr(t, '"') - t), t,
		 strtoull(ts + 8, NULL, 10) - (unsigned long long)T0);
	return buf;
}

static void test_ordered(void)
{
	struct am_out_opts opts = { .json = true, .verbosity = -1, .ordered = true };
	struct am_summary sum = summary_fixture();
	struct am_sink sk;
	struct mem m = { 0 };
	struct am_out *o;
	struct am_call_rec c;
	struct am_os_rec os, d1, d2, d3;
	char *s, b[64];

	m.f = open_memstream(&m.buf, &m.len);
	opts.f = m.f;
	o = am_out__new(&opts);
	am_out__sink(o, &sk);
	CHECK(sk.origin == am_out__origin && sk.progress == am_out__progress, "sink has origin and progress");
	am_out__origin(o, T0 + 50, "exec", 4242);
	/* a call entered at 100 made an mmap at 105; it arrives (at its
	 * return) after another thread's direct mmap at 102 was seen */
	d1 = mmap_rec(1, 0, 4096, 0x7f0000000000LL);
	d1.ev.ts_enter = T0 + 102;
	d1.ev.tid = 4243;
	am_out__os(o, &d1);
	c = call_rec(3, AM_FN_MALLOC, 200000, 0x7f3a1c2b6010ULL);
	c.ev.ts_enter = T0 + 100;
	os = mmap_rec(2, 3, 204800, 0x7f3a1c2b6000LL);
	os.ev.ts_enter = T0 + 105;
	am_out__call(o, &c, &os, 1);
	d2 = mmap_rec(4, 0, 4096, 0x7f0000100000LL);
	d2.ev.ts_enter = T0 + 90;
	am_out__os(o, &d2);
	am_out__flush(o);
	CHECK_EQ(count_lines(m.buf), 1, "ordered: only the header before any progress");
	am_out__progress(o, T0 + 103);
	am_out__flush(o);
	CHECK_EQ(count_lines(m.buf), 4, "ordered: progress 103 writes what is older");
	/* after 102 is out, a record at 95 can only be late */
	d3 = mmap_rec(5, 0, 4096, 0x7f0000200000LL);
	d3.ev.ts_enter = T0 + 95;
	am_out__os(o, &d3);
	am_out__summary(o, &sum);
	am_out__free(o);
	fclose(m.f);
	s = m.buf;
	CHECK_EQ(count_lines(s), 7, "ordered: header, five records, summary");
	CHECK_STR(tag_of(s, 0, b, sizeof(b)), "trace@50", "header first, at t0");
	CHECK(strstr(s, "\"origin\":\"exec\"}") != NULL, "header says the origin");
	CHECK_STR(tag_of(s, 1, b, sizeof(b)), "os@90", "the mmap at 90 first");
	CHECK_STR(tag_of(s, 2, b, sizeof(b)), "call@100", "then the call at its entry");
	CHECK_STR(tag_of(s, 3, b, sizeof(b)), "os@102", "then the other thread's mmap");
	CHECK_STR(tag_of(s, 4, b, sizeof(b)), "os@95", "the late record, written at once");
	CHECK_STR(tag_of(s, 5, b, sizeof(b)), "os@105", "the call's own mmap at its time");
	CHECK(strstr(s, "\"t0_ns\":1000050,\"origin\":\"exec\"") != NULL, "summary names t0");
	CHECK(strstr(s, "\"out_of_order\":1}") != NULL, "summary counts the late record");
	free(s);
}

/* ---- text rendering ---- */

/* The dynamic loader's startup requests: one line sums them up (its time,
 * count per syscall, bytes mapped), closed by the process's next record;
 * startup_each lists them. mmap offsets in hex as strace. */
static void test_text_startup(void)
{
	struct mem m;
	struct am_out *o;
	struct am_os_rec r[3];
	char *s, l[1024];

	for (int each = 0; each < 2; each++) {
		m.buf = NULL;
		m.len = 0;
		m.f = open_memstream(&m.buf, &m.len);
		o = am_out__new(&(struct am_out_opts){ .f = m.f, .t0_ns = T0, .startup_each = each });
		r[0] = os_rec(1, AM_SYS_BRK, 0, 0x5581d6f3f000LL);
		r[1] = mmap_rec(2, 0, 1400832, 0x7f0000001000LL);
		r[1].ev.args[3] = 0x812;  /* MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE */
		r[1].ev.args[4] = 3;
		r[1].ev.args[5] = 0x26000;
		r[1].ev.ts_enter = T0 + 500000;
		r[2] = mmap_rec(3, 0, 8192, 0x7f0000200000LL);
		r[2].ev.ts_enter = T0 + 900000;
		r[0].ev.pad0 = r[1].ev.pad0 = AM_OS_STARTUP;
		for (int i = 0; i < 3; i++)
			am_out__os(o, &r[i]);
		s = out_done(o, &m, false);
		if (!each) {
			CHECK_EQ(count_lines(s), 2, "startup: one line for two requests, then the next");
			CHECK_STR(line_of(s, 0, l, sizeof(l)), "     0.000413 [4242] startup: 2 requests by the "
				  "dynamic loader, until 0.000500 (brk 1, mmap 1; 1368 KiB mapped)  [--startup lists "
				  "them]", "startup line");
		} else {
			CHECK_EQ(count_lines(s), 3, "startup_each: every request");
			CHECK_STR(line_of(s, 1, l, sizeof(l)), "     0.000500 [4242] mmap(NULL, 1400832, "
				  "PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000) = "
				  "0x7f0000001000  [direct: the dynamic loader, at startup]", "startup_each line, hex offset");
		}
		CHECK(strstr(s, "MAP_ANONYMOUS, -1, 0) = 0x7f0000200000  [direct]\n") != NULL,
		      "the next request, offset 0 as 0");
		free(s);
	}
}

static void test_text(void)
{
	struct mem m;
	struct am_out *o;
	struct am_call_rec c;
	struct am_os_rec os[3];
	struct am_threshold_rec t = {
		.ts_ns = T0 + 2000000, .pid = 4242, .tid = 4242, .old_value = 131072,
		.new_value = 1052672, .call_id = 12, .freed_chunk = 1052672,
	};
	struct am_task_event tk;
	char *s, l[1024];

	o = out_new(&m, false, 0, false);
	/* the heap is first seen at 0x5581d6f3f000 (brk(0)), then grown */
	os[0] = os_rec(1, AM_SYS_BRK, 0, 0x5581d6f3f000LL);
	am_out__os(o, &os[0]);
	c = call_rec(2, AM_FN_MALLOC, 24, 0x5581d6f3f2a0ULL);
	c.ev.ts_enter = T0 + 13000;
	c.reason = AM_WHY_UNDER_THRESHOLD;
	c.threshold = 131072;
	os[0] = os_rec(2, AM_SYS_BRK, 2, 0x5581d6f60000LL);
	os[0].ev.args[0] = 0x5581d6f60000ULL;
	am_out__call(o, &c, os, 1);
	c = call_rec(3, AM_FN_MALLOC, 200000, 0x7f3a1c2b6010ULL);
	c.region = AM_REG_MMAP;
	c.reason = AM_WHY_OVER_THRESHOLD;
	c.threshold = 131072;
	os[0] = mmap_rec(7, 3, 204800, 0x7f3a1c2b6000LL);
	am_out__call(o, &c, os, 1);
	c = call_rec(12, AM_FN_FREE, 200000, 0);
	c.ev.ts_enter = T0 + 900000;
	c.ptr_in = 0x7f3a1c2b6010ULL;
	c.region = AM_REG_MMAP;
	os[0] = os_rec(8, AM_SYS_MUNMAP, 12, 0);
	os[0].ev.args[0] = 0x7f3a1c2b6000ULL;
	os[0].ev.args[1] = 204800;
	am_out__call(o, &c, os, 1);
	os[0] = mmap_rec(9, 0, 65536, 0x7f0000100000LL);
	os[0].ev.ts_enter = T0 + 1000000;
	am_out__os(o, &os[0]);
	am_out__threshold(o, &t);
	/* a call without OS requests is not printed by default */
	c = call_rec(13, AM_FN_MALLOC, 10, 0x5581d6f3f2c0ULL);
	am_out__call(o, &c, NULL, 0);
	/* several OS requests: continuation lines */
	c = call_rec(14, AM_FN_MALLOC, 100, 0x7f2000000910ULL);
	c.ev.tid = 4243;
	c.region = AM_REG_ARENA;
	c.reason = AM_WHY_UNDER_THRESHOLD;
	c.threshold = 131072;
	os[0] = mmap_rec(10, 14, 134217728, 0x7f1ff8000000LL);
	os[0].ev.args[2] = 0;
	os[0].ev.args[3] = 0x4022;
	os[0].region_kind = AM_REG_ARENA;
	os[1] = os_rec(11, AM_SYS_MUNMAP, 14, 0);
	os[1].ev.args[0] = 0x7f1ff8000000ULL;
	os[1].ev.args[1] = 0x8000000;
	os[2] = os_rec(12, AM_SYS_MPROTECT, 14, 0);
	os[2].ev.args[0] = 0x7f2000000000ULL;
	os[2].ev.args[1] = 135168;
	os[2].ev.args[2] = 3;
	am_out__call(o, &c, os, 3);
	/* a failing mmap */
	c = call_rec(15, AM_FN_MALLOC, 1ULL << 40, 0);
	c.region = AM_REG_UNKNOWN;
	os[0] = mmap_rec(13, 15, (1ULL << 40) + 4096, -12);
	am_out__call(o, &c, os, 1);
	memset(&tk, 0, sizeof(tk));
	tk.pid = 4242;
	tk.tid = 4242;
	tk.ts = T0 + 5000000;
	tk.kind = AM_TASK_EXIT;
	tk.code = 9; /* killed by SIGKILL */
	am_out__task(o, &tk);
	s = out_done(o, &m, false);

	CHECK_STR(line_of(s, 0, l, sizeof(l)),
		  "     0.000413 [4242] brk(NULL) = 0x5581d6f3f000  [direct]", "text brk(0)");
	CHECK_STR(line_of(s, 1, l, sizeof(l)),
		  "     0.000013 [4242] malloc(24) = 0x5581d6f3f2a0 -> brk(0x5581d6f60000) = 0x5581d6f60000 "
		  "(+132 KiB)  [heap]", "text malloc -> brk");
	CHECK_STR(line_of(s, 2, l, sizeof(l)),
		  "     0.000412 [4242] malloc(200000) = 0x7f3a1c2b6010 -> mmap(NULL, 204800, PROT_READ|PROT_WRITE, "
		  "MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f3a1c2b6000  [mmap: over threshold 128 KiB]",
		  "text malloc -> mmap");
	CHECK_STR(line_of(s, 3, l, sizeof(l)),
		  "     0.000900 [4242] free(0x7f3a1c2b6010) -> munmap(0x7f3a1c2b6000, 204800) = 0  "
		  "[mmap chunk of 200000 B]", "text free -> munmap");
	CHECK_STR(line_of(s, 4, l, sizeof(l)),
		  "     0.001000 [4242] mmap(NULL, 65536, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = "
		  "0x7f0000100000  [direct]", "text direct mmap");
	CHECK_STR(line_of(s, 5, l, sizeof(l)),
		  "     0.002000 [4242] threshold 128 KiB -> 1028 KiB (free of a 1028 KiB mmapped chunk, call #12)",
		  "text threshold");
	CHECK_STR(line_of(s, 6, l, sizeof(l)),
		  "     0.000412 [4243] malloc(100) = 0x7f2000000910 -> mmap(NULL, 134217728, PROT_NONE, "
		  "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7f1ff8000000 (arena)  [arena]",
		  "text arena creation, first line");
	CHECK_STR(line_of(s, 7, l, sizeof(l)),
		  "                       -> munmap(0x7f1ff8000000, 134217728) = 0", "text continuation 1");
	CHECK_STR(line_of(s, 8, l, sizeof(l)),
		  "                       -> mprotect(0x7f2000000000, 135168, PROT_READ|PROT_WRITE) = 0",
		  "text continuation 2");
	CHECK_STR(line_of(s, 9, l, sizeof(l)),
		  "     0.000412 [4242] malloc(1099511627776) = NULL -> mmap(NULL, 1099511631872, PROT_READ|PROT_WRITE, "
		  "MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM  [failed]", "text failed mmap");
	CHECK_STR(line_of(s, 10, l, sizeof(l)), "     0.005000 [4242] +++ killed by SIGKILL +++", "text exit by signal");
	CHECK_EQ(count_lines(s), 11, "text default: eleven lines");
	free(s);

	/* verbose: every call, markers, multi_pid */
	o = out_new(&m, false, 1, true);
	c = call_rec(20, AM_FN_MALLOC, 10, 0x5581d6f3f2c0ULL);
	c.reason = AM_WHY_UNDER_THRESHOLD;
	c.ev.flags = AM_CALL_NESTED;
	am_out__call(o, &c, NULL, 0);
	c = call_rec(21, AM_FN_REALLOC, 0, 0);
	c.ptr_in = 0x1234;
	c.free_unknown = true;
	c.ev.flags = AM_CALL_MISSED;
	c.region = AM_REG_UNKNOWN;
	am_out__call(o, &c, NULL, 0);
	c = call_rec(22, AM_FN_CALLOC, 40, 0x5581d6f3f300ULL);
	c.nmemb = 10;
	c.ev.args[1] = 4;
	c.reason = AM_WHY_FIT_TOP;
	c.threshold = 32;
	am_out__call(o, &c, NULL, 0);
	c = call_rec(23, AM_FN_POSIX_MEMALIGN, 1000, 12);
	c.ev.args[0] = 0x7ffd0010;
	c.align = 64;
	c.ptr_out = 0;
	am_out__call(o, &c, NULL, 0);
	c = call_rec(24, AM_FN_FREE, 0, 0);
	am_out__call(o, &c, NULL, 0);
	c = call_rec(26, AM_FN_FREE, 200000, 0);
	c.ptr_in = 0x7f3a1c2b6010ULL;
	c.region = AM_REG_UNKNOWN;
	am_out__call(o, &c, NULL, 0);
	os[0] = os_rec(25, AM_SYS_BRK, 0, 0x5581d6f60000LL); /* refused: old break back */
	os[0].ev.args[0] = 0x5581e0000000ULL;
	am_out__os(o, &os[0]);
	s = out_done(o, &m, false);
	CHECK_STR(line_of(s, 5, l, sizeof(l)),
		  "     0.000412 [4242/4242] free(0x7f3a1c2b6010)  [chunk of 200000 B]", "text free, region unknown");
	CHECK_STR(line_of(s, 6, l, sizeof(l)),
		  "     0.000413 [4242/4242] brk(0x5581e0000000) = 0x5581d6f60000 (refused)  [direct]",
		  "text refused brk");
	CHECK_STR(line_of(s, 0, l, sizeof(l)),
		  "     0.000412 [4242/4242] malloc(10) = 0x5581d6f3f2c0 <nested>  [heap]", "text verbose nested");
	CHECK_STR(line_of(s, 1, l, sizeof(l)),
		  "     0.000412 [4242/4242] realloc(0x1234, 0) = ? <return missed> <unknown ptr>",
		  "text verbose missed + unknown");
	CHECK_STR(line_of(s, 2, l, sizeof(l)),
		  "     0.000412 [4242/4242] calloc(10, 4) = 0x5581d6f3f300  [heap: over threshold 32 B, fit top chunk]",
		  "text verbose calloc fit top");
	CHECK_STR(line_of(s, 3, l, sizeof(l)),
		  "     0.000412 [4242/4242] posix_memalign(0x7ffd0010, 64, 1000) = ENOMEM  [failed]",
		  "text verbose posix_memalign failure");
	CHECK_STR(line_of(s, 4, l, sizeof(l)), "     0.000412 [4242/4242] free(NULL)", "text verbose free(NULL)");
	free(s);

	/* notes go to the text stream with a newline; quiet drops records */
	o = out_new(&m, false, -1, false);
	am_out__note(o, "probe %s at 0x%x", "malloc", 0x1234);
	am_out__note(o, "second\n");
	am_out__threshold(o, &t);
	s = out_done(o, &m, false);
	CHECK_STR(s, "probe malloc at 0x1234\nsecond\n", "text notes, quiet drops records");
	free(s);
}

static void test_text_summary(void)
{
	struct mem m;
	struct am_out *o;
	struct am_summary s = summary_fixture();
	struct am_sink sink;
	char *t;

	o = out_new(&m, false, -1, false);
	am_out__sink(o, &sink);
	CHECK(sink.ctx == o && sink.call && sink.os && sink.threshold && sink.task && sink.summary,
	      "sink filled in");
	sink.summary(sink.ctx, &s);
	t = out_done(o, &m, false);
	CHECK(strstr(t, "--- allocmap summary: 1.500000 s, 300 events ---\n") == t, "summary header");
	CHECK(strstr(t, "\n  malloc                100      391 KiB        2         3        1\n") != NULL,
	      "summary malloc row");
	CHECK(strstr(t, "  mmap                    3            1  malloc 1, direct 2\n") != NULL,
	      "summary syscall row with causes");
	CHECK(strstr(t, "  brk heap                    264 KiB      264 KiB\n") != NULL, "summary heap bytes");
	CHECK(strstr(t, "  from OS (heap + mmap)       264 KiB      464 KiB\n") != NULL, "summary committed bytes");
	CHECK(strstr(t, "incomplete") == NULL, "no out-of-memory line");
	CHECK(strstr(t, "(10 allocations)") != NULL, "summary live count");
	CHECK(strstr(t, "  [16 B, 32 B)                 90        0        3  #######################################.\n") != NULL,
	      "summary histogram row with bar");
	CHECK(strstr(t, "  [128 KiB, 256 KiB)            0        1        0  =\n") != NULL,
	      "summary histogram mmap row");
	CHECK(strstr(t, "mmap threshold: 128 KiB -> 1028 KiB (1 change)\n") != NULL, "summary threshold");
	CHECK(strstr(t, "live at end: heap 10 (97.7 KiB)\n") != NULL, "summary live at end");
	CHECK(strstr(t, "\nlost events: 0  missed returns: 0  unattached probes: 0  unknown frees: 3\n") != NULL,
	      "summary counters line");
	CHECK(strstr(t, "WARNING") == NULL, "no warning without losses");
	free(t);

	s.bpf.lost_call = 1;
	s.bpf.lost_task = 1;
	s.threshold_pinned = true;
	s.thr_end.pinned = true;
	s.threshold_known = true;
	o = out_new(&m, false, 0, false);
	am_out__summary(o, &s);
	t = out_done(o, &m, false);
	CHECK(strstr(t, "\nWARNING: ") != NULL, "warning with losses");
	CHECK(strstr(t, "\nlost events: 2  missed returns: 0") != NULL, "lost events summed");
	CHECK(strstr(t, "lost call/os/task: 1/0/1") != NULL, "lost detail");
	CHECK(strstr(t, "mmap threshold: 1028 KiB (pinned)\n") != NULL, "pinned threshold");
	free(t);

	s.oom = true;
	o = out_new(&m, false, 0, false);
	am_out__summary(o, &s);
	t = out_done(o, &m, false);
	CHECK(strstr(t, "\nWARNING: incomplete: allocmap ran out of memory; ") != NULL, "out-of-memory line");
	free(t);
	s.oom = false;

	s.bpf.lost_call = 0;
	s.bpf.lost_task = 0;
	s.threshold_known = false;
	memset(s.live_by_region_count, 0, sizeof(s.live_by_region_count));
	o = out_new(&m, false, 0, false);
	am_out__summary(o, &s);
	t = out_done(o, &m, false);
	CHECK(strstr(t, "mmap threshold: n/a (allocator is not glibc)\n") != NULL, "threshold n/a");
	CHECK(strstr(t, "live at end: none\n") != NULL, "live at end none");
	CHECK(strstr(t, "WARNING") == NULL, "no warning again");
	free(t);

	am_out__free(NULL);	/* must be a no-op: a crash fails the suite */
}

/* A threshold that is not known (attached without glibc's debug info):
 * never a number, the bounds instead, in text and JSON. */
static void test_unknown_threshold(void)
{
	struct mem m;
	struct am_out *o;
	struct am_call_rec c;
	struct am_os_rec os[1];
	struct am_threshold_rec t = {
		.ts_ns = T0 + 2000000, .pid = 4242, .tid = 4242, .old_lo = 200017, .old_hi = 1048592,
		.new_value = 1052672, .call_id = 4, .freed_chunk = 1052672,
	};
	struct am_summary s;
	char *txt;
	int json;

	for (json = 0; json < 2; json++) {
		o = out_new(&m, json, 0, false);
		c = call_rec(1, AM_FN_MALLOC, 200000, 0x5581d6f3f2a0ULL);
		c.thr_lo = 131072;
		c.thr_hi = 33554432;
		os[0] = os_rec(1, AM_SYS_BRK, 1, 0x5581d6f90000LL);
		os[0].ev.args[0] = 0x5581d6f90000ULL;
		am_out__call(o, &c, os, 1);
		c = call_rec(3, AM_FN_MALLOC, 1048576, 0x7f3a1c2b6010ULL);
		c.region = AM_REG_MMAP;
		c.reason = AM_WHY_OVER_THRESHOLD;
		c.thr_lo = 200017;
		c.thr_hi = 1048592;
		os[0] = mmap_rec(2, 3, 1052672, 0x7f3a1c2b6000LL);
		am_out__call(o, &c, os, 1);
		am_out__threshold(o, &t);
		memset(&s, 0, sizeof(s));
		s.threshold_known = true;
		s.threshold_end = 1052672;
		s.threshold_changes = 1;
		s.thr_start = (struct am_thr){ .lo = 131072, .hi = 33554432, .source = AM_THR_SRC_UNKNOWN };
		s.thr_end = (struct am_thr){ .known = true, .value = 1052672 };
		am_out__summary(o, &s);
		txt = out_done(o, &m, json);
		if (!json) {
			CHECK(strstr(txt, "  [heap: threshold unknown, 128 KiB..32 MiB]\n") != NULL, "text: no reason, bounds");
			CHECK(strstr(txt, "  [mmap: over threshold (unknown, 200017 B..1.0 MiB)]\n") != NULL,
			      "text: over, bounds");
			CHECK(strstr(txt, "threshold unknown (200017 B..1.0 MiB) -> 1028 KiB (free of") != NULL,
			      "text: threshold record from unknown");
			CHECK(strstr(txt, "mmap threshold: unknown (128 KiB..32 MiB) -> 1028 KiB (1 change, not readable") != NULL,
			      "text: summary");
			CHECK(strstr(txt, "128 KiB]") == NULL && strstr(txt, "threshold 128 KiB") == NULL,
			      "text: no invented 128 KiB");
		} else {
			CHECK(strstr(txt, "\"threshold_min\":131072,\"threshold_max\":33554432}") != NULL, "json: call bounds");
			CHECK(strstr(txt, "\"reason\":\"over_threshold\",\"threshold_min\":200017,\"threshold_max\":1048592") != NULL,
			      "json: over with bounds");
			CHECK(strstr(txt, "\"threshold\":1") == NULL && strstr(txt, "\"threshold\":2") == NULL,
			      "json: no call threshold value");
			CHECK(strstr(txt, "\"old_min\":200017,\"old_max\":1048592,\"new\":1052672,") != NULL,
			      "json: threshold record");
			CHECK(strstr(txt, "\"threshold\":{\"start_min\":131072,\"start_max\":33554432,\"end\":1052672,"
				     "\"changes\":1,\"pinned\":false,\"source\":\"unknown\"}") != NULL, "json: summary");
		}
		free(txt);
	}
}

/* ---- names from a hostile target (issue 10) ---- */

static void jw_hostile(struct jsonw *w)
{
	jsonw_arr_open(w);
	jsonw_str(w, "a\xff" "b");              /* a byte that is no UTF-8 */
	jsonw_str(w, "\xc0\x80");               /* overlong NUL */
	jsonw_str(w, "\xed\xa0\x80");           /* a surrogate */
	jsonw_str(w, "\xf4\x90\x80\x80");       /* past U+10FFFF */
	jsonw_str(w, "x\xe2\x82");              /* cut short */
	jsonw_str(w, "\xf0\x9f\x98\x80\x1b[31m"); /* valid 4 bytes, then ESC */
	jsonw_arr_close(w);
	jsonw_eol(w);
}

static void test_hostile(void)
{
	char b[64], l[256], *s;
	size_t n;
	FILE *f;
	struct mem m;
	struct am_out *o;
	struct am_task_event tk;
	struct am_frame fr = { .addr = 0x1000, .sym = "evil\nforged 1;x" };
	struct jsonw *jw;

	s = jw_render(jw_hostile);
	CHECK_STR(s, "[\"a\\ufffdb\",\"\\ufffd\\ufffd\",\"\\ufffd\\ufffd\\ufffd\",\"\\ufffd\\ufffd\\ufffd\\ufffd\","
		  "\"x\\ufffd\\ufffd\",\"\xf0\x9f\x98\x80\\u001b[31m\"]\n", "jsonw: any byte gives valid UTF-8 JSON");
	free(s);

	s = NULL;
	f = open_memstream(&s, &n);
	jw = jsonw_new(f);
	jsonw_set_html(jw, true);
	jsonw_strn(jw, "</script><!--<script>&\xe2\x80\xa8\xff\n", 27);
	jsonw_eol(jw);
	jsonw_set_html(jw, false);
	jsonw_strn(jw, "</x>", 4);
	jsonw_eol(jw);
	jsonw_flush(jw);
	free(jw);
	fclose(f);
	CHECK_STR(s, "\"\\u003c/script\\u003e\\u003c!--\\u003cscript\\u003e\\u0026\\u2028\\ufffd\\n\"\n\"</x>\"\n",
		  "jsonw html: inert in a script element");
	free(s);

	CHECK_STR(am_printable(b, sizeof(b), "\x1b]0;pwn\x07red\nx\\y\xff\xc2\x9b\x7f" "caf\xc3\xa9"),
		  "\\x1b]0;pwn\\x07red\\x0ax\\\\y\\xff\\xc2\\x9b\\x7f" "caf\xc3\xa9", "printable: escapes, C1, bad UTF-8");
	const char *plain = "operator new(unsigned long) caf\xc3\xa9";
	CHECK(am_printable(b, sizeof(b), plain) == plain, "printable: a clean name is itself");
	CHECK(am_printable(b, sizeof(b), NULL) == NULL, "printable: NULL stays NULL");
	CHECK_STR(am_printable(b, 8, "\n\n\n"), "\\x0a", "printable: cut, never mid-escape");
	CHECK_STR(am_frame_name(b, sizeof(b), &fr), "evil\\x0aforged 1:x", "folded frame name: one line");

	/* a signal in the exit record */
	memset(&tk, 0, sizeof(tk));
	tk.pid = tk.tid = 7;
	tk.ts = T0;
	tk.kind = AM_TASK_EXIT;
	o = out_new(&m, true, 0, false);
	tk.code = 9;                          /* SIGKILL */
	am_out__task(o, &tk);
	tk.code = 11 | 0x80;                  /* SIGSEGV, core dumped */
	am_out__task(o, &tk);
	s = out_done(o, &m, true);
	CHECK_STR(line_of(s, 0, l, sizeof(l)), "{\"type\":\"task\",\"ts_ns\":1000000,\"pid\":7,\"tid\":7,\"seq\":1,"
		  "\"kind\":\"exit\",\"code\":137,\"signal\":\"SIGKILL\"}", "json exit by a signal");
	CHECK_STR(line_of(s, 1, l, sizeof(l)), "{\"type\":\"task\",\"ts_ns\":1000000,\"pid\":7,\"tid\":7,\"seq\":2,"
		  "\"kind\":\"exit\",\"code\":139,\"signal\":\"SIGSEGV\",\"core_dumped\":true}", "json exit with a core");
	free(s);
}

/* musl: the reasons' text tags, the allocator and the fixed threshold in
 * the text and JSON summaries. */
static void test_musl(void)
{
	struct mem m;
	struct am_out *o;
	struct am_call_rec c;
	struct am_os_rec os[1];
	struct am_summary s = summary_fixture();
	char *t;

	o = out_new(&m, false, 0, false);
	c = call_rec(2, AM_FN_MALLOC, 20000, 0x7f3a1c2b6050ULL);
	c.region = AM_REG_MMAP;
	c.reason = AM_WHY_GROUP;
	c.threshold = 131052;
	os[0] = mmap_rec(7, 2, 20480, 0x7f3a1c2b6000LL);
	am_out__call(o, &c, os, 1);
	c = call_rec(3, AM_FN_MALLOC, 5000, 0x7f3a1c2a1000ULL);
	c.region = AM_REG_ARENA;
	c.reason = AM_WHY_GROUP;
	c.threshold = 131052;
	os[0] = mmap_rec(8, 3, 28672, 0x7f3a1c2a0000LL);
	os[0].region_kind = AM_REG_ARENA;
	am_out__call(o, &c, os, 1);
	s.allocator = "musl";
	s.threshold_fixed = true;
	s.threshold_start = s.threshold_end = 131052;
	s.threshold_changes = 0;
	am_out__summary(o, &s);
	t = out_done(o, &m, false);
	CHECK(strstr(t, "malloc(20000) = 0x7f3a1c2b6050 -> mmap(NULL, 20480, ") != NULL &&
	      strstr(t, "  [mmap: single-slot group, under threshold 131052 B]\n") != NULL,
	      "musl single-slot group tag");
	CHECK(strstr(t, " (arena)  [arena: size-class group]\n") != NULL, "musl group tag");
	CHECK(strstr(t, "\nallocator: musl\nmmap threshold: 131052 B (fixed: musl maps requests of 131052 B "
		      "or more on their own; smaller ones share size-class groups)\n") != NULL,
	      "musl summary: allocator, fixed threshold");
	free(t);

	o = out_new(&m, true, 0, false);
	am_out__summary(o, &s);
	t = out_done(o, &m, true);
	CHECK(strstr(t, "\"duration_ns\":1500000000,\"allocator\":\"musl\",\"functions\"") != NULL,
	      "musl json: allocator");
	CHECK(strstr(t, "\"threshold\":{\"start\":131052,\"end\":131052,\"changes\":0,\"pinned\":false,"
		      "\"source\":\"musl\",\"fixed\":true}") != NULL, "musl json: fixed threshold");
	free(t);
}

int main(void)
{
	const char *dump_path = getenv("AM_TEST_JSON_DUMP");

	if (dump_path)
		dump = fopen(dump_path, "w");
	test_jsonw();
	test_fmt();
	test_json_calls();
	test_json_os_misc();
	test_json_summary();
	test_ordered();
	test_text_startup();
	test_text();
	test_text_summary();
	test_unknown_threshold();
	test_hostile();
	test_musl();
	if (dump)
		fclose(dump);
	return check_report("output");
}
