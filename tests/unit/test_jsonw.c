// SPDX-License-Identifier: GPL-2.0
/* test_jsonw.c - unit tests of the one JSON writer (jsonw.c) and of the
 * report's two JSON emitters that go through it: string escaping (every
 * control character, bytes that are no UTF-8, "</script>", U+2028/2029 in
 * html mode), doubles, exact fixed-point numbers, spliced values, one
 * element per line; then the HTML report's data block and the Perfetto
 * trace made from a hostile JSON Lines file, each parsed back with json-c
 * and compared value by value. No root. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jsonw.h"
#include "report.h"

/* ---- helpers ---- */

/* What fn writes through a fresh writer (html mode as asked), as a
 * malloc'ed string. */
static char *render(void (*fn)(struct jsonw *), bool html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jsonw *w = jsonw_new(f);

	jsonw_set_html(w, html);
	fn(w);
	jsonw_flush(w);
	free(w);
	fclose(f);
	return buf;
}

/* s parsed by json-c (the whole of it, one value), or NULL. */
static json_object *parse(const char *s)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));

	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  s[tok->char_offset + strspn(s + tok->char_offset, " \n")] != '\0')) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The string at index i of array a ("" if it is not one). */
static const char *astr(json_object *a, size_t i)
{
	json_object *v = json_object_array_get_idx(a, i);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int ascii_controls_ok(const char *out)
{
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x20 && *p != '\n')
			return 0;
	return 1;
}

/* ---- escaping ---- */

static char controls[33];       /* 0x01..0x1f, then 0x7f */

static void jw_hostile(struct jsonw *w)
{
	for (int i = 0; i < 31; i++)
		controls[i] = (char)(i + 1);
	controls[31] = 0x7f;
	jsonw_arr_open(w);
	jsonw_strn(w, "a\0b", 3);                                       /* 0 */
	jsonw_str(w, controls);                                          /* 1 */
	jsonw_str(w, "</script><!--<script>&x>");                        /* 2 */
	jsonw_str(w, "ls\xe2\x80\xa8ps\xe2\x80\xa9");                    /* 3: U+2028, U+2029 */
	jsonw_str(w, "bad\xff|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82");     /* 4: no UTF-8 */
	jsonw_str(w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");       /* 5: UTF-8 */
	jsonw_str(w, "q\"b\\s/");                                        /* 6 */
	jsonw_arr_close(w);
	jsonw_eol(w);
}

/* An object whose key is hostile. */
static void jw_hostile_key(struct jsonw *w)
{
	jsonw_obj_open(w);
	jsonw_kstr(w, "</script>\xe2\x80\xa8", "v");
	jsonw_obj_close(w);
	jsonw_eol(w);
}

static void check_hostile(const char *out, bool html, const char *what)
{
	json_object *a = parse(out);
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: parses back", what);
	CHECK(a && json_object_is_type(a, json_type_array), msg);
	if (!a)
		return;
	snprintf(msg, sizeof(msg), "%s: no raw control character", what);
	CHECK(ascii_controls_ok(out), msg);
	CHECK(json_object_get_string_len(json_object_array_get_idx(a, 0)) == 3 &&
	      !memcmp(json_object_get_string(json_object_array_get_idx(a, 0)), "a\0b", 3), "NUL kept");
	CHECK_STR(astr(a, 1), controls, "every control character round-trips");
	CHECK_STR(astr(a, 2), "</script><!--<script>&x>", "markup round-trips");
	CHECK_STR(astr(a, 3), "ls\xe2\x80\xa8ps\xe2\x80\xa9", "U+2028/2029 round-trip");
	/* every byte that starts no well-formed sequence becomes U+FFFD */
	CHECK_STR(astr(a, 4), "bad\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd", "bad UTF-8 as U+FFFD");
	CHECK_STR(astr(a, 5), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "UTF-8 passes");
	CHECK_STR(astr(a, 6), "q\"b\\s/", "quote and backslash");
	json_object_put(a);
	if (html) {
		CHECK(!strchr(out, '<') && !strchr(out, '>') && !strchr(out, '&'), "html: no < > & at all");
		CHECK(strstr(out, "\\u2028") && strstr(out, "\\u2029") && !strstr(out, "\xe2\x80\xa8") &&
		      !strstr(out, "\xe2\x80\xa9"), "html: U+2028/2029 escaped");
		CHECK(strstr(out, "\"\\u003c/script\\u003e\\u003c!--\\u003cscript\\u003e\\u0026x\\u003e\"") != NULL,
		      "html: exact markup escapes");
	} else {
		CHECK(strstr(out, "\"</script><!--<script>&x>\"") != NULL, "plain: markup as is");
		CHECK(strstr(out, "ls\xe2\x80\xa8ps\xe2\x80\xa9") != NULL, "plain: U+2028 as is");
	}
}

static void test_escaping(void)
{
	char *s;
	json_object *o;

	for (int html = 0; html < 2; html++) {
		s = render(jw_hostile, html);
		check_hostile(s, html, html ? "html" : "plain");
		/* exact bytes of the escapes */
		CHECK(strstr(s, "\"a\\u0000b\"") != NULL, "NUL as \\u0000");
		CHECK(strstr(s, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
			     "\\u000e\\u000f\\u0010") != NULL, "control escapes, exact");
		CHECK(strstr(s, "\"bad\\ufffd|\\ufffd|") != NULL, "U+FFFD as an escape");
		free(s);
		s = render(jw_hostile_key, html);
		o = parse(s);
		CHECK(o && json_object_object_get_ex(o, "</script>\xe2\x80\xa8", NULL), "hostile key round-trips");
		CHECK(!html || !strchr(s, '<'), "html: the key is escaped too");
		json_object_put(o);
		free(s);
	}
}

/* ---- numbers ---- */

static void jw_numbers(struct jsonw *w)
{
	jsonw_arr_open(w);
	jsonw_f64(w, 0.1, -1);
	jsonw_f64(w, 2.0 / 3.0, 4);
	jsonw_f64(w, -1.5, 2);
	jsonw_f64(w, 1e300, -1);
	jsonw_f64(w, NAN, 4);
	jsonw_f64(w, INFINITY, -1);
	jsonw_f64(w, -INFINITY, 2);
	jsonw_f64(w, 3, 0);
	jsonw_ufrac(w, 0, 3);
	jsonw_ufrac(w, 1234, 3);
	jsonw_ufrac(w, 5, 3);
	jsonw_ufrac(w, UINT64_MAX, 3);
	jsonw_ufrac(w, UINT64_MAX, 19);
	jsonw_ufrac(w, 42, 0);
	jsonw_arr_close(w);
	jsonw_eol(w);
}

static void jw_big_double(struct jsonw *w)
{
	jsonw_f64(w, -1.7976931348623157e308, 17);
	jsonw_eol(w);
}

static void test_numbers(void)
{
	char *s = render(jw_numbers, false);
	json_object *a = parse(s);

	CHECK_STR(s, "[0.10000000000000001,0.6667,-1.50,1.0000000000000001e+300,null,null,null,3,"
		  "0.000,1.234,0.005,18446744073709551.615,1.8446744073709551615,42]\n", "numbers, exact");
	CHECK(a && json_object_array_length(a) == 14, "numbers parse back");
	CHECK(a && json_object_get_double(json_object_array_get_idx(a, 0)) == 0.1, "%.17g round-trips");
	json_object_put(a);
	free(s);
	s = render(jw_big_double, false);
	a = parse(s);
	CHECK(a && json_object_get_double(a) == -1.7976931348623157e308, "-DBL_MAX with 17 decimals");
	CHECK_EQ(strlen(s), 1 + 309 + 1 + 17 + 1, "-DBL_MAX with 17 decimals, length");
	json_object_put(a);
	free(s);
}

/* ---- splicing and lines ---- */

static void jw_splice(struct jsonw *w)
{
	static const char inner[] = "{\"k\":[1,2]}";

	jsonw_obj_open(w);
	jsonw_key(w, "a");
	jsonw_raw(w, inner, strlen(inner));
	jsonw_karr_open(w, "b");
	jsonw_raw(w, "[]", 2);
	jsonw_raw(w, "7", 1);
	jsonw_nl(w);
	jsonw_u64(w, 8);
	jsonw_nl(w);
	jsonw_str(w, "x");
	jsonw_eol(w);
	jsonw_arr_close(w);
	jsonw_kstr(w, "c", "d");
	jsonw_obj_close(w);
	jsonw_eol(w);
}

static void test_splice(void)
{
	char *s = render(jw_splice, false);
	json_object *o = parse(s);

	CHECK_STR(s, "{\"a\":{\"k\":[1,2]},\"b\":[[],7,\n8,\n\"x\"\n],\"c\":\"d\"}\n", "raw and nl, exact");
	CHECK(o != NULL, "raw and nl parse back");
	json_object_put(o);
	free(s);
}

/* ---- the report's emitters ---- */

#define EVIL "</script><!--<script>x='&'\xe2\x80\xa8\x07\"\\"

/* A small trace: a malloc making an mmap whose stack holds hostile names
 * (one with a byte that is no UTF-8), a direct mmap, a threshold move, a
 * leaks record and a summary holding a double and a number past INT64_MAX. */
static const char trace_lines[] =
	"{\"type\":\"os\",\"ts_ns\":1000,\"pid\":42,\"tid\":43,\"id\":1,\"syscall\":\"mmap\",\"addr\":\"0x0\","
	"\"len\":200704,\"ret\":\"0x7f0000000000\",\"dur_ns\":1500,\"region\":\"mmap\","
	"\"cause\":{\"kind\":\"call\",\"call_id\":1,\"fn\":\"malloc\",\"size\":200000},"
	"\"stack\":[{\"addr\":\"0x1\",\"sym\":\"mmap\",\"obj\":\"libc.so.6\"},"
	"{\"addr\":\"0x2\",\"sym\":\"" "</script><!--<script>x='&'\\u2028\\u0007\\\"\\\\" "\",\"obj\":\"ev\xffil\"}],"
	"\"alloc_frames\":1}\n"
	"{\"type\":\"call\",\"ts_ns\":900,\"pid\":42,\"tid\":43,\"id\":1,\"fn\":\"malloc\",\"size\":200000,"
	"\"ret\":\"0x7f0000000010\",\"dur_ns\":2000,\"os\":[1],\"region\":\"mmap\"}\n"
	"{\"type\":\"os\",\"ts_ns\":3001,\"pid\":42,\"tid\":42,\"id\":2,\"syscall\":\"mmap\",\"addr\":\"0x0\","
	"\"len\":4096,\"ret\":\"0x7f0000100000\",\"dur_ns\":100,\"cause\":{\"kind\":\"direct\"},\"region\":\"direct\"}\n"
	"{\"type\":\"threshold\",\"ts_ns\":4000,\"pid\":42,\"tid\":42,\"old\":131072,\"new\":1052672,\"call_id\":1}\n"
	"{\"type\":\"leaks\",\"ts_ns\":5000,\"pid\":0,\"tid\":0,\"count\":1,\"bytes\":200000,"
	"\"groups\":[{\"pid\":42,\"count\":1,\"bytes\":200000,\"note\":\"" "<b>\\u2029" "\"}]}\n"
	"{\"type\":\"summary\",\"ts_ns\":5000,\"pid\":0,\"tid\":0,\"duration_ns\":5000,\"ratio\":0.25,"
	"\"big\":18446744073709551615,\"neg\":-3,\"nan\":null}\n";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int c;

	if (!f || !m) {
		if (f)
			fclose(f);
		if (m)
			fclose(m);
		free(buf);
		return NULL;
	}
	while ((c = getc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

static json_object *path_get(json_object *o, const char *a, const char *b)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

/* True when array a holds the string s. */
static bool has_str(json_object *a, const char *s)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (!strcmp(astr(a, i), s))
			return true;
	return false;
}

static void check_data_block(const char *page)
{
	static const char open_tag[] = "<script id=\"am-data\" type=\"application/json\">";
	const char *p = page ? strstr(page, open_tag) : NULL;
	const char *q = p ? strstr(p + sizeof(open_tag) - 1, "</script>") : NULL;
	char *data;
	json_object *d, *v;

	CHECK(p && q, "html: the data block is there");
	if (!p || !q)
		return;
	p += sizeof(open_tag) - 1;
	data = strndup(p, (size_t)(q - p));
	CHECK(!strchr(data, '<'), "html: no '<' in the data block");
	CHECK(!strstr(data, "\xe2\x80\xa8") && !strstr(data, "\xe2\x80\xa9"), "html: no raw U+2028/2029");
	d = parse(data);
	CHECK(d != NULL, "html: the data block parses back");
	CHECK(has_str(path_get(path_get(d, "flame", NULL), "strings", NULL), EVIL),
	      "html: the hostile name reaches the flame graph intact");
	CHECK(has_str(path_get(path_get(d, "flame", NULL), "strings", NULL), "ev\xef\xbf\xbdil"),
	      "html: the byte that is no UTF-8 as U+FFFD");
	v = path_get(d, "summary", "ratio");
	CHECK(v && json_object_get_double(v) == 0.25, "html: a double of the summary");
	v = path_get(d, "summary", "big");
	CHECK(v && json_object_get_uint64(v) == UINT64_MAX, "html: a number past INT64_MAX");
	v = path_get(d, "summary", "neg");
	CHECK(v && json_object_get_int64(v) == -3, "html: a negative number");
	v = path_get(d, "leaks", "groups_total");
	CHECK(v && json_object_get_int64(v) == 1, "html: leaks record");
	v = json_object_array_get_idx(path_get(d, "leaks", "groups"), 0);
	CHECK_STR(v ? json_object_get_string(path_get(v, "note", NULL)) : "", "<b>\xe2\x80\xa9", "html: leak group as is");
	v = path_get(d, "os", NULL);
	CHECK(v && json_object_array_length(v) == 2, "html: both OS records listed");
	CHECK(json_object_array_length(path_get(d, "calls", NULL)) == 1, "html: the call listed");
	CHECK(json_object_array_length(path_get(d, "tasks", NULL)) == 0, "html: no task");
	v = path_get(d, "counts", "records");
	CHECK(v && json_object_get_int64(v) == 5, "html: records counted (not the summary)");
	v = path_get(d, "counts", "truncated");
	CHECK(v && json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v), "html: a boolean");
	json_object_put(d);
	free(data);
}

/* The event of the Perfetto trace with that name and phase, or NULL. */
static json_object *pf_find(json_object *ev, const char *name, const char *ph)
{
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		json_object *n = path_get(e, "name", NULL), *p = path_get(e, "ph", NULL);

		if (n && p && !strcmp(json_object_get_string(n), name) && !strcmp(json_object_get_string(p), ph))
			return e;
	}
	return NULL;
}

static void check_perfetto(const char *text)
{
	json_object *d = text ? parse(text) : NULL, *ev, *e, *v;

	CHECK(d != NULL, "perfetto: parses back");
	if (!d)
		return;
	CHECK(ascii_controls_ok(text), "perfetto: no raw control character");
	ev = path_get(d, "traceEvents", NULL);
	CHECK(ev && json_object_is_type(ev, json_type_array), "perfetto: traceEvents");
	e = pf_find(ev, "malloc(200000)", "X");
	CHECK(e != NULL, "perfetto: the call's slice");
	v = path_get(e, "ts", NULL);
	CHECK(v && json_object_is_type(v, json_type_double) && json_object_get_double(v) == 0.9,
	      "perfetto: ts in microseconds (900 ns)");
	CHECK(strstr(text, "\"ts\":0.900,\"dur\":2.000,") != NULL, "perfetto: exact fixed-point times");
	e = pf_find(ev, "mmap", "X");
	v = json_object_array_get_idx(path_get(path_get(e, "args", NULL), "stack", NULL), 1);
	CHECK_STR(v ? json_object_get_string(path_get(v, "sym", NULL)) : "", EVIL, "perfetto: hostile name in args");
	CHECK_STR(v ? json_object_get_string(path_get(v, "obj", NULL)) : "", "ev\xef\xbf\xbdil",
		  "perfetto: no UTF-8 as U+FFFD");
	CHECK(pf_find(ev, "mmap (direct)", "i") != NULL, "perfetto: the direct request");
	CHECK(pf_find(ev, "mmap threshold 131072 -> 1052672", "i") != NULL, "perfetto: the threshold move");
	e = pf_find(ev, "process_name", "M");
	/* no "cmd" in this trace's records: the program is unknown */
	CHECK_STR(e ? json_object_get_string(path_get(e, "args", "name")) : "", "pid 42",
		  "perfetto: process name");
	e = pf_find(ev, "thread_name", "M");
	CHECK(e != NULL, "perfetto: a thread name");
	CHECK(strstr(text, "\"traceEvents\":[\n{") != NULL && strstr(text, "},\n{") != NULL &&
	      strstr(text, "}\n]}\n") != NULL, "perfetto: one event per line");
	json_object_put(d);
}

static void test_report_emitters(void)
{
	char dir[] = "/tmp/test_jsonw.XXXXXX", in[64], html[64], pf[64], err[256];
	FILE *f;
	char *s;

	CHECK(mkdtemp(dir) != NULL, "temporary directory");
	snprintf(in, sizeof(in), "%s/t.jsonl", dir);
	snprintf(html, sizeof(html), "%s/r.html", dir);
	snprintf(pf, sizeof(pf), "%s/p.json", dir);
	f = fopen(in, "w");
	CHECK(f && fputs(trace_lines, f) >= 0 && fclose(f) == 0, "write the trace");
	CHECK(am_report_html(in, html, err, sizeof(err)) == 0, "am_report_html");
	s = slurp(html);
	check_data_block(s);
	free(s);
	CHECK(am_report_perfetto(in, pf, err, sizeof(err)) == 0, "am_report_perfetto");
	s = slurp(pf);
	check_perfetto(s);
	free(s);
	unlink(in);
	unlink(html);
	unlink(pf);
	rmdir(dir);
}

int main(void)
{
	test_escaping();
	test_numbers();
	test_splice();
	test_report_emitters();
	return check_report("jsonw");
}
