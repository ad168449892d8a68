// SPDX-License-Identifier: GPL-2.0
/* test_tables.c - unit tests of the tables everything derives from
 * (bpf/allocmap.h: AM_FN_TABLE, AM_ROLE_TABLE, AM_SYSCALL_TABLE): every
 * name goes name -> enum -> name through model.c and the report's reader,
 * the JSON renderer writes each syscall and function under its table name
 * (and "ret" as the table says), and docs/reference.md's generated tables
 * are what the tables say. Run from the repository root (make unit does).
 * `test_tables --update docs/reference.md` rewrites that generated part
 * (make readme-tables). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output.h"
#include "report_model.h"

#define README_BEGIN "<!-- BEGIN generated tables: make readme-tables (tests/unit/test_tables.c) -->\n"
#define README_END   "<!-- END generated tables -->\n"

static void test_syscalls(void)
{
	char what[128];

	CHECK_EQ(AM_SYS__COUNT, 6, "six memory syscalls in the table");
	for (int i = 0; i < AM_SYS__COUNT; i++) {
		const char *name = am_sys_name((unsigned)i);

		snprintf(what, sizeof(what), "syscall %d (%s): name -> enum", i, name);
		CHECK_EQ(am_sys_by_name(name), i, what);
		snprintf(what, sizeof(what), "syscall %s: report reader's index", name);
		CHECK_EQ(rm_sys_index(name), i, what);
		CHECK_STR(rm_sys_names[i], name, "syscall: report's name is the table's");
		CHECK_STR(am_sys_info_[i].name, name, "syscall: info row is the name row");
		CHECK(am_sys_info_[i].color && strlen(am_sys_info_[i].color) == 7 &&
		      am_sys_info_[i].color[0] == '#', "syscall colour is #rrggbb");
		for (int j = 0; j < i; j++)
			CHECK(strcmp(am_sys_names[j], name) != 0, "syscall names are unique");
	}
	CHECK_STR(am_sys_name(AM_SYS_MUNMAP), "munmap", "AM_SYS_MUNMAP is munmap");
	CHECK_STR(am_sys_name(AM_SYS__COUNT), "?", "out of range prints ?");
	CHECK_EQ(am_sys_by_name("clone"), -1, "not a memory syscall");
	CHECK_EQ(am_sys_by_name(NULL), -1, "NULL name");
	CHECK_EQ(rm_sys_index("clone"), RM_SYS_OTHER, "report: other");
	CHECK_STR(rm_sys_names[RM_SYS_OTHER], "other", "report: other's name");
	CHECK(am_sys_returns_addr(AM_SYS_MMAP) && am_sys_returns_addr(AM_SYS_BRK) &&
	      am_sys_returns_addr(AM_SYS_MREMAP) && !am_sys_returns_addr(AM_SYS_MUNMAP) &&
	      !am_sys_returns_addr(AM_SYS_MPROTECT) && !am_sys_returns_addr(AM_SYS_MADVISE),
	      "brk, mmap, mremap return an address");
}

static void test_roles(void)
{
	char what[128];

	for (int r = 0; r < AM_ROLE__COUNT; r++) {
		snprintf(what, sizeof(what), "role %s: name -> enum", am_role_name((enum am_role)r));
		CHECK_EQ(am_role_by_name(am_role_name((enum am_role)r)), r, what);
		CHECK(am_role_nargs((enum am_role)r) >= 1 && am_role_nargs((enum am_role)r) <= 3,
		      "a role reads 1 to 3 arguments (the BPF frame keeps 3)");
	}
	CHECK_EQ(am_role_nargs(AM_ROLE_REALLOCARRAY), 3, "reallocarray reads 3");
	CHECK_EQ(am_role_nargs(AM_ROLE_FREE), 1, "free reads 1");
	CHECK_EQ(am_role_by_name("nosuchrole"), -1, "unknown role");
}

/* One JSON line rendered from rec / call through output.c, in buf. */
static const char *render_os(const struct am_os_rec *r, char **buf)
{
	size_t len = 0;
	FILE *f = open_memstream(buf, &len);
	struct am_out_opts o = { .f = f, .json = true, .verbosity = 1 };
	struct am_out *out = am_out__new(&o);

	am_out__os(out, r);
	am_out__free(out);
	fclose(f);
	return *buf;
}

static const char *render_call(const struct am_call_rec *c, char **buf)
{
	size_t len = 0;
	FILE *f = open_memstream(buf, &len);
	struct am_out_opts o = { .f = f, .json = true, .verbosity = 1 };
	struct am_out *out = am_out__new(&o);

	am_out__call(out, c, NULL, 0);
	am_out__free(out);
	fclose(f);
	return *buf;
}

/* The JSON renderer names each syscall and function as the table does. */
static void test_json_names(void)
{
	char want[160], what[160];

	for (int i = 0; i < AM_SYS__COUNT; i++) {
		struct am_os_rec r;
		char *buf = NULL;

		memset(&r, 0, sizeof(r));
		r.ev.type = AM_EV_OS;
		r.ev.sys = (uint8_t)i;
		r.ev.id = 1;
		r.ev.ret = 0x1000;
		r.direct = true;
		render_os(&r, &buf);
		snprintf(want, sizeof(want), "\"syscall\":\"%s\"", am_sys_names[i]);
		snprintf(what, sizeof(what), "json os record of %s names it", am_sys_names[i]);
		CHECK(buf && strstr(buf, want), what);
		snprintf(what, sizeof(what), "json %s: ret is %s", am_sys_names[i],
			 am_sys_returns_addr((unsigned)i) ? "a hex string" : "an integer");
		CHECK(buf && strstr(buf, am_sys_returns_addr((unsigned)i) ? "\"ret\":\"0x1000\"" : "\"ret\":4096"),
		      what);
		free(buf);
	}
	for (int fn = 0; fn < AM_FN__COUNT; fn++) {
		struct am_call_rec c;
		char *buf = NULL;

		memset(&c, 0, sizeof(c));
		c.ev.type = AM_EV_CALL;
		c.ev.fn = (uint8_t)fn;
		c.ev.id = 1;
		render_call(&c, &buf);
		snprintf(want, sizeof(want), "\"fn\":\"%s\"", am_fn_name(fn));
		snprintf(what, sizeof(what), "json call record of %s names it", am_fn_name(fn));
		CHECK(buf && strstr(buf, want), what);
		free(buf);
	}
}

static void test_functions(void)
{
	char what[160];

	CHECK_EQ(am_fn_count(), AM_FN__COUNT, "no --alloc function yet");
	for (int fn = 0; fn < AM_FN__COUNT; fn++) {
		const struct am_fn_info *fi = am_fn_info(fn);

		snprintf(what, sizeof(what), "fn %s: name -> enum", fi->name);
		CHECK_EQ(am_fn_by_name(fi->name), fn, what);
		snprintf(what, sizeof(what), "fn %s: report reader's index", fi->name);
		CHECK_EQ(rm_fn_index(fi->name, NULL), fn, what);
		CHECK_STR(rm_fn_name(fn), fi->name, "fn: report's name is the table's");
		snprintf(what, sizeof(what), "fn %s: C++ exactly when an operator", fi->name);
		CHECK(am_fn_is_cxx(fn) == !strncmp(fi->name, "operator ", 9), what);
		CHECK(!fi->user && !fi->lib, "built-in rows are not --alloc");
		for (int j = 0; j < fn; j++) {
			CHECK(strcmp(am_fn_name(j), fi->name) != 0, "function names are unique");
			CHECK(strcmp(am_fn_info(j)->sym, fi->sym) != 0, "function symbols are unique");
		}
	}
	CHECK_STR(am_fn_info(AM_FN_NEW)->sym, "_Znwm", "operator new is _Znwm");
	CHECK_EQ(rm_fn_index("nosuchfn", NULL), RM_NFN - 1, "report: unknown function is other");
	CHECK_STR(rm_fn_name(RM_NFN - 1), "other", "report: other's name");
}

/* ---- the README's generated part ---- */

struct sbuf {
	char  *s;
	size_t len;
	FILE  *f;
};

/* The generated README text, from the tables (caller frees). */
static char *readme_tables(void)
{
	struct sbuf b = { 0 };

	b.f = open_memstream(&b.s, &b.len);
	fputs(README_BEGIN, b.f);
	fputs("\nAllocator functions (`AM_FN_TABLE`): the JSON `fn` names, in table order. Where two\n"
	      "names are one function it is probed once and reported under the first.\n\n"
	      "| `fn` | ELF symbol | role | probed |\n|---|---|---|---|\n", b.f);
	for (int fn = 0; fn < AM_FN__COUNT; fn++) {
		const struct am_fn_info *fi = am_fn_info(fn);

		fprintf(b.f, "| `%s` | `%s` | `%s` | %s |\n", fi->name, fi->sym, am_role_name(fi->role),
			am_fn_is_cxx(fn) ? "with a C++ runtime" : "always");
	}
	fputs("\nRoles (`AM_ROLE_TABLE`): how a function's arguments and result read; `--alloc` takes\n"
	      "these names, and a call record of an `--alloc` function says its `role`.\n\n"
	      "| role | arguments read | shape |\n|---|---|---|\n", b.f);
	for (int r = 0; r < AM_ROLE__COUNT; r++)
		fprintf(b.f, "| `%s` | %d | `%s` |\n", am_role_name((enum am_role)r),
			am_role_nargs((enum am_role)r), am_role_shape((enum am_role)r));
	fputs("\nMemory syscalls (`AM_SYSCALL_TABLE`): the JSON `syscall` names.\n\n"
	      "| `syscall` | arguments recorded | `ret` |\n|---|---|---|\n", b.f);
	for (int i = 0; i < AM_SYS__COUNT; i++)
		fprintf(b.f, "| `%s` | %s | %s |\n", am_sys_names[i], am_sys_info_[i].args,
			am_sys_info_[i].ret_addr ? "address (hex string)" : "integer");
	fputs("\n" README_END, b.f);
	fclose(b.f);
	return b.s;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t len = 0;
	FILE *m;
	char buf[8192];
	size_t n;

	if (!f)
		return NULL;
	m = open_memstream(&s, &len);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(f);
	fclose(m);
	return s;
}

/* The README's generated part [*b, *e) in text, or -1 if absent. */
static int find_part(const char *text, const char **b, const char **e)
{
	*b = strstr(text, README_BEGIN);
	*e = *b ? strstr(*b, README_END) : NULL;
	if (!*b || !*e)
		return -1;
	*e += strlen(README_END);
	return 0;
}

static void test_readme(void)
{
	char *text = slurp("docs/reference.md"), *gen = readme_tables();
	const char *b, *e;

	CHECK(text != NULL, "docs/reference.md readable (run from the repository root)");
	if (!text) {
		free(gen);
		return;
	}
	CHECK_EQ(find_part(text, &b, &e), 0, "docs/reference.md has the generated tables");
	if (!find_part(text, &b, &e)) {
		bool same = (size_t)(e - b) == strlen(gen) && !memcmp(b, gen, strlen(gen));

		CHECK(same, "docs/reference.md's tables are the tables' (make readme-tables)");
		if (!same)
			fprintf(stderr, "docs/reference.md's generated tables differ from bpf/allocmap.h's; "
				"run make readme-tables. They should read:\n%s", gen);
	}
	free(text);
	free(gen);
}

/* Rewrites the generated part of path. */
static int update(const char *path)
{
	char *text = slurp(path), *gen = readme_tables();
	const char *b, *e;
	FILE *f;
	int rc = 1;

	if (!text || find_part(text, &b, &e)) {
		fprintf(stderr, "test_tables: %s: %s\n", path,
			text ? "no generated tables part (its BEGIN/END lines)" : "cannot read");
	} else if (!(f = fopen(path, "we"))) {
		perror(path);
	} else {
		fwrite(text, 1, (size_t)(b - text), f);
		fputs(gen, f);
		fputs(e, f);
		rc = fclose(f) ? 1 : 0;
		if (rc)
			perror(path);
	}
	free(text);
	free(gen);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--update"))
		return update(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_tables [--update docs/reference.md]\n");
		return 2;
	}
	test_syscalls();
	test_roles();
	test_functions();
	test_json_names();
	test_readme();
	return check_report("tables");
}
