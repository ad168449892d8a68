// SPDX-License-Identifier: GPL-2.0
/* test_placement.c - unit tests of probe placement (placement.c), ELF lookup
 * (elfsym.c) and allocator resolution (resolve.c): synthetic prologues for
 * every placement rule, then the real Debian 12 allocators, whose exact
 * offsets were read off `objdump -d` of the packaged libraries. A missing
 * allocator library is skipped loudly, unless CI=true (then it fails). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"
#include "elfsym.h"
#include "placement.h"
#include "resolve.h"
#include "model.h"

/* Defined only when built with -fsanitize=address (libasan then owns malloc). */
extern void __asan_init(void) __attribute__((weak));

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Places a probe in a synthetic prologue; returns the placement. */
static struct am_placement place(const uint8_t *code, size_t len, int nargs, bool need_ret, int *ret)
{
	struct am_placement p;

	*ret = am_place_probe(code, len, 0x1000, nargs, need_ret, &p);
	return p;
}

#define PLACE(bytes, nargs, need_ret) ({ static const uint8_t c_[] = bytes; \
	place(c_, sizeof(c_), nargs, need_ret, &rc); })
#define B(...) { __VA_ARGS__ }

static void test_synthetic(void)
{
	struct am_placement p;
	int rc;

	/* push rbp at entry: emulated, probe at 0 */
	p = PLACE(B(0x55, 0x48, 0x89, 0xe5), 1, true);
	CHECK_EQ(rc, 0, "push entry: rc");
	CHECK_EQ(p.offset, 0, "push entry: offset");
	CHECK(p.emulated && !p.fallback, "push entry: emulated, no fallback");
	CHECK_STR(p.insn, "push rbp", "push entry: insn");

	/* push r12 (REX.B 41 54) at entry */
	p = PLACE(B(0x41, 0x54, 0x55), 1, true);
	CHECK(p.offset == 0 && p.emulated && !p.fallback, "push r12 entry");
	CHECK_STR(p.insn, "push r12", "push r12 entry: insn");

	/* test rdi,rdi; je: probe on the je (glibc free) */
	p = PLACE(B(0x48, 0x85, 0xff, 0x74, 0x10, 0x55), 1, true);
	CHECK_EQ(p.offset, 3, "test;je: offset");
	CHECK(p.emulated && !p.fallback, "test;je: emulated");
	CHECK(starts_with(p.insn, "je "), "test;je: insn is je");
	CHECK(strstr(p.why, "skipped 1 insn") != NULL, "test;je: why counts skipped insns");

	/* cmp rdi,imm32; jcc rel32 (0f 87) */
	p = PLACE(B(0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x87, 0x10, 0x00, 0x00, 0x00), 1, true);
	CHECK_EQ(p.offset, 7, "cmp;ja rel32: offset");
	CHECK(starts_with(p.insn, "ja "), "cmp;ja rel32: insn");

	/* mov rdi,rax clobbers the argument before the push: fallback */
	p = PLACE(B(0x48, 0x89, 0xc7, 0x55), 1, true);
	CHECK_EQ(rc, 0, "arg clobber: rc");
	CHECK(p.offset == 0 && p.fallback && !p.emulated, "arg clobber: fallback at entry");
	CHECK(strstr(p.why, "rdi") != NULL, "arg clobber: why names rdi");
	CHECK_STR(p.insn, "mov rdi, rax", "arg clobber: insn is the entry insn");

	/* a sub-register write counts (mov dil,al) */
	p = PLACE(B(0x40, 0x88, 0xc7, 0x55), 1, false);
	CHECK(p.fallback, "dil write: fallback");
	/* ... but only for the first nargs registers: rsi is free with nargs 1 */
	p = PLACE(B(0x48, 0x89, 0xc6, 0x55), 1, true);
	CHECK(p.offset == 3 && !p.fallback, "rsi write, nargs 1: push used");
	p = PLACE(B(0x89, 0xc6, 0x55), 2, true);
	CHECK(p.fallback, "esi write, nargs 2: fallback");
	/* implicit writes: mul rdx writes rdx:rax (glibc reallocarray) */
	p = PLACE(B(0x48, 0xf7, 0xe2, 0x70, 0x05), 3, true);
	CHECK(p.fallback && strstr(p.why, "rdx"), "mul rdx, nargs 3: fallback");
	p = PLACE(B(0x48, 0xf7, 0xe2, 0x70, 0x05), 2, true);
	CHECK(p.offset == 3 && !p.fallback, "mul rdx, nargs 2: jo used");
	/* xchg esi,edi writes both */
	p = PLACE(B(0x87, 0xfe, 0x55), 1, false);
	CHECK(p.fallback, "xchg: fallback");

	/* sub rsp before the push: fine for an entry probe, not with a uretprobe */
	p = PLACE(B(0x48, 0x83, 0xec, 0x10, 0x55), 1, true);
	CHECK(p.fallback && p.offset == 0, "sub rsp + need_ret: fallback");
	CHECK(strstr(p.why, "rsp") != NULL, "sub rsp + need_ret: why names rsp");
	p = PLACE(B(0x48, 0x83, 0xec, 0x10, 0x55), 1, false);
	CHECK(!p.fallback && p.offset == 4, "sub rsp, no need_ret: push used");
	/* a store through [rsp] may overwrite the return address */
	p = PLACE(B(0x48, 0x89, 0x04, 0x24, 0x55), 1, true);
	CHECK(p.fallback, "store to [rsp] + need_ret: fallback");
	/* pop (not emulated) writes rsp */
	p = PLACE(B(0x41, 0x58, 0x55), 1, true);
	CHECK(p.fallback, "pop r8 + need_ret: fallback");

	/* an indirect jmp leaves the straight path */
	p = PLACE(B(0xff, 0xe0, 0x55), 1, true);
	CHECK(p.fallback && p.offset == 0, "jmp rax: fallback");
	CHECK(strstr(p.why, "straight") != NULL, "jmp rax: why");
	/* ret, and a prefixed (bnd) jmp the kernel would not emulate */
	p = PLACE(B(0xc3, 0x55), 0, false);
	CHECK(p.fallback, "ret: fallback");
	p = PLACE(B(0x48, 0x85, 0xff, 0xf2, 0xe9, 0, 0, 0, 0, 0x55), 1, false);
	CHECK(p.fallback, "bnd jmp: fallback");

	/* endbr64 and a multi-byte nop are single-stepped but harmless */
	p = PLACE(B(0xf3, 0x0f, 0x1e, 0xfa, 0x55), 1, true);
	CHECK(p.offset == 4 && !p.fallback, "endbr64; push: push used");
	p = PLACE(B(0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55), 1, true);
	CHECK(p.offset == 5 && !p.fallback, "nopl; push: push used");
	/* one-byte nop, jmp rel8, call rel32 at entry are emulated */
	p = PLACE(B(0x90, 0x55), 1, true);
	CHECK(p.offset == 0 && p.emulated, "nop entry");
	p = PLACE(B(0xeb, 0x00), 1, true);
	CHECK(p.offset == 0 && p.emulated, "jmp rel8 entry");
	p = PLACE(B(0xe8, 0, 0, 0, 0), 1, true);
	CHECK(p.offset == 0 && p.emulated && starts_with(p.insn, "call"), "call entry");
	/* 0x48 0x50 (REX.W push) is not in the kernel's emulated set */
	p = PLACE(B(0x48, 0x50), 1, true);
	CHECK(!p.emulated && p.fallback, "rex.w push: not emulated");

	/* no emulated insn within the bytes given */
	p = PLACE(B(0x48, 0x89, 0xc0, 0x48, 0x89, 0xc0), 1, true);
	CHECK(p.fallback && p.offset == 0 && rc == 0, "no emulated insn: fallback");
	/* nothing to decode */
	p = PLACE(B(0x06), 1, true); /* push es: invalid in 64-bit mode */
	CHECK_EQ(rc, -1, "undecodable entry: rc -1");
	CHECK_EQ(am_place_probe(NULL, 0, 0, 1, true, &p), -1, "no bytes: rc -1");

	CHECK_EQ(am_fn_nargs(AM_FN_MALLOC), 1, "nargs malloc");
	CHECK_EQ(am_fn_nargs(AM_FN_REALLOCARRAY), 3, "nargs reallocarray");
	CHECK_EQ(am_fn_nargs(AM_FN_POSIX_MEMALIGN), 3, "nargs posix_memalign");
	CHECK_EQ(am_fn_nargs(AM_FN_MEMALIGN), 2, "nargs memalign");
	CHECK_EQ(am_fn_nargs(AM_FN_PVALLOC), 1, "nargs pvalloc");
}

/* Expected placement of one function: NULL insn = the object does not define it. */
struct want {
	uint64_t offset;
	bool fallback;
	const char *insn; /* prefix of the instruction text at the probe */
};

struct lib {
	const char *name;
	struct want fn[AM_FN_MAX];
};

#define NONE { 0, false, NULL }

/* Read off objdump -d of the Debian 12 packages (glibc 2.36-9, jemalloc 5.3.0,
 * gperftools 2.10, mimalloc 2.0.9, musl 1.2.3-1). A name with a slash is a
 * path. */
static const struct lib libs[] = {
	{ "libc.so.6", {
		{ 0, false, "push r12" },        /* malloc */
		{ 0, false, "push r13" },        /* calloc */
		{ 0, false, "push r15" },        /* realloc */
		{ 0, true,  "mov rax, rsi" },    /* reallocarray: mul rdx clobbers arg 3 before jo */
		{ 3, false, "je " },             /* free: test rdi,rdi; je */
		{ 7, false, "push r12" },        /* posix_memalign: cmpb; push */
		{ 7, false, "je " },             /* aligned_alloc: cmpb; je */
		{ 7, false, "je " },             /* memalign (same code) */
		{ 7, false, "push rbx" },        /* valloc: cmpb; push */
		{ 7, false, "push rbx" },        /* pvalloc */
	} },
	{ "libjemalloc.so.2", {
		{ 7, false, "ja " },             /* malloc: cmp rdi,0x1000; ja */
		{ 0, false, "push r15" },
		{ 0, false, "push r15" },
		NONE,                            /* reallocarray: not defined */
		{ 48, false, "jne " },           /* free: 9 insns of address math, then jne */
		{ 0, false, "push r15" },
		{ 0, false, "push r15" },
		{ 0, false, "push r15" },
		{ 0, false, "push r15" },
		NONE,                            /* pvalloc: not defined */
	} },
	{ "libtcmalloc_minimal.so.4", {
		{ 10, false, "jne " },           /* malloc: mov rax,[rip]; test; jne */
		{ 0, false, "push r13" },
		{ 0, false, "push r15" },
		NONE,
		{ 10, false, "jne " },           /* free */
		{ 11, false, "jne " },           /* posix_memalign: lea; or; test; jne */
		{ 10, false, "ja " },            /* aligned_alloc: mov r8,rdi; cmp; ja */
		{ 10, false, "ja " },            /* memalign */
		{ 0, false, "push rbp" },
		{ 0, false, "push rbx" },
	} },
	{ "libmimalloc.so.2", {
		/* malloc/calloc/realloc copy their arguments, then load the
		 * thread heap into rdi: the probe goes on the first jcc/jmp and
		 * reads the arguments from their copies (see argreg below) */
		{ 21, false, "ja " },            /* malloc: mov rsi,rdi; mov rdi,fs:[rax]; cmp; ja */
		{ 18, false, "je " },            /* calloc: mov rax,rdi; mov rdi,fs:[rdx]; cmp; je */
		{ 20, false, "jmp " },           /* realloc: mov rdx,rsi; mov rsi,rdi; ...; jmp */
		{ 0, false, "jmp " },            /* reallocarray: tail jump to mi_reallocarray */
		{ 6, false, "je " },             /* free: mov rcx,rdi; test rdi,rdi; je */
		{ 0, false, "jmp " },
		{ 0, false, "jmp " },
		{ 0, false, "jmp " },
		{ 0, false, "jmp " },
		{ 0, false, "jmp " },
	} },
	/* musl: the dynamic linker is the libc (Debian: a link to
	 * /usr/lib/x86_64-linux-musl/libc.so). Its public functions are thin
	 * tail jumps to the mallocng internals; a jmp is emulated, and the
	 * arguments are untouched at it */
	{ "/lib/ld-musl-x86_64.so.1", {
		{ 0, false, "jmp " },            /* malloc: jmp __libc_malloc_impl */
		{ 0, false, "push r12" },        /* calloc (calls malloc through the PLT: nested) */
		{ 0, false, "jmp " },            /* realloc: jmp __libc_realloc */
		{ 6, false, "je " },             /* reallocarray: mov rcx,rdx; test rdx,rdx; je */
		{ 0, false, "jmp " },            /* free: jmp __libc_free */
		{ 0, false, "push rbx" },        /* posix_memalign (calls aligned_alloc@plt) */
		{ 0, false, "push rbp" },        /* aligned_alloc */
		{ 0, false, "jmp " },            /* memalign: jmp aligned_alloc@plt */
		{ 8, false, "jmp " },            /* valloc: mov rsi,rdi; mov edi,0x1000; jmp memalign@plt */
		NONE,                            /* pvalloc: musl has none */
	} },
};

static bool ci(void)
{
	const char *v = getenv("CI");

	return v && !strcmp(v, "true");
}

static const char *find_lib(const char *name, char *buf, size_t len)
{
	static const char *const dirs[] = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu" };
	size_t i;

	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return access(buf, R_OK) ? NULL : buf;
	}
	for (i = 0; i < 2; i++) {
		snprintf(buf, len, "%s/%s", dirs[i], name);
		if (!access(buf, R_OK))
			return buf;
	}
	return NULL;
}

static void test_real_libs(void)
{
	size_t l;

	for (l = 0; l < sizeof(libs) / sizeof(libs[0]); l++) {
		char path[512];
		struct am_elf *e;
		int fn;

		if (!find_lib(libs[l].name, path, sizeof(path))) {
			if (ci()) {
				CHECK(false, "allocator library missing (CI=true)");
				fprintf(stderr, "FAIL: %s not installed\n", libs[l].name);
			} else {
				fprintf(stderr, "\n*** SKIPPING %s: not installed (install it, or CI=true makes this fail) ***\n\n",
					libs[l].name);
			}
			continue;
		}
		e = am_elf__open(path);
		CHECK(e != NULL, "open allocator library");
		if (!e)
			continue;
		printf("%s:\n", path);
		for (fn = 0; fn <= AM_FN_PVALLOC; fn++) { /* the C functions; C++ below */
			const struct want *w = &libs[l].fn[fn];
			struct am_elf_sym s;
			struct am_placement p;
			uint8_t code[128];
			ssize_t n;
			char what[160];
			int ret = am_elf__find_sym(e, am_fn_name(fn), &s);

			snprintf(what, sizeof(what), "%s %s", libs[l].name, am_fn_name(fn));
			if (!w->insn) {
				CHECK_EQ(ret, -ENOENT, what);
				printf("  %-15s not defined\n", am_fn_name(fn));
				continue;
			}
			CHECK_EQ(ret, 0, what);
			if (ret)
				continue;
			n = am_elf__read(e, s.file_off, code, s.size && s.size < sizeof(code) ? s.size : sizeof(code));
			CHECK(n > 0, what);
			if (n <= 0)
				continue;
			CHECK_EQ(am_place_probe(code, (size_t)n, s.vaddr, am_fn_nargs(fn), true, &p), 0, what);
			printf("  %-15s +%-3" PRIu64 " %-36s %s\n", am_fn_name(fn), p.offset, p.insn, p.why);
			CHECK_EQ(p.offset, w->offset, what);
			CHECK_EQ(p.fallback, w->fallback, what);
			CHECK(starts_with(p.insn, w->insn), what);
			/* every placement is either cheap or an announced fallback at the entry */
			CHECK(p.emulated != p.fallback, what);
			CHECK(!p.fallback || p.offset == 0, what);
			if (!strcmp(libs[l].name, "libmimalloc.so.2")) {
				/* where the arguments are at the probe */
				if (fn == AM_FN_MALLOC)
					CHECK_EQ(p.argreg[0], AM_PREG_RSI, "mimalloc malloc size in rsi");
				if (fn == AM_FN_CALLOC) {
					CHECK_EQ(p.argreg[0], AM_PREG_RAX, "mimalloc calloc nmemb in rax");
					CHECK_EQ(p.argreg[1], AM_PREG_RSI, "mimalloc calloc size in rsi");
				}
				if (fn == AM_FN_REALLOC) {
					CHECK_EQ(p.argreg[0], AM_PREG_RSI, "mimalloc realloc ptr in rsi");
					CHECK_EQ(p.argreg[1], AM_PREG_RDX, "mimalloc realloc size in rdx");
				}
			} else if (fn == AM_FN_VALLOC && strstr(libs[l].name, "musl")) {
				/* musl's valloc moves its size to rsi for memalign(4096, size) */
				CHECK_EQ(p.argreg[0], AM_PREG_RSI, "musl valloc size in rsi");
			} else if (!p.fallback) {
				for (int a = 0; a < am_fn_nargs(fn); a++)
					CHECK_EQ(p.argreg[a], a, "arguments still in their ABI registers");
			}
		}
		am_elf__close(e);
	}
}

/* C++ operator new/delete, where Debian's objects define them: libstdc++
 * (under glibc they call malloc/free), and jemalloc and tcmalloc, which
 * define them themselves. Every one is found by its mangled name (the table's
 * symbol), and its placement is cheap or an announced fallback at entry,
 * with the arguments where the cookie says. */
static void test_cxx_operators(void)
{
	static const char *const objs[] = { "libstdc++.so.6", "libjemalloc.so.2", "libtcmalloc_minimal.so.4" };

	for (size_t l = 0; l < sizeof(objs) / sizeof(objs[0]); l++) {
		char path[512];
		struct am_elf *e;
		int found = 0;

		snprintf(path, sizeof(path), "/usr/lib/x86_64-linux-gnu/%s", objs[l]);
		if (access(path, R_OK)) {
			CHECK(!getenv("CI"), "C++ allocator library installed under CI");
			continue;
		}
		e = am_elf__open(path);
		CHECK(e != NULL, "open C++ allocator library");
		if (!e)
			continue;
		printf("%s (C++ operators):\n", path);
		for (int fn = AM_FN_NEW; fn < AM_FN__COUNT; fn++) {
			const struct am_fn_info *fi = am_fn_info(fn);
			struct am_elf_sym s;
			struct am_placement p;
			uint8_t code[128];
			ssize_t n;
			char what[160];

			if (am_elf__find_sym(e, fi->sym, &s))
				continue;
			found++;
			snprintf(what, sizeof(what), "%s %s", objs[l], fi->name);
			n = am_elf__read(e, s.file_off, code, s.size && s.size < sizeof(code) ? s.size : sizeof(code));
			CHECK(n > 0, what);
			if (n <= 0)
				continue;
			CHECK_EQ(am_place_probe(code, (size_t)n, s.vaddr, am_fn_nargs(fn), true, &p), 0, what);
			printf("  %-34s +%-3" PRIu64 " %-30s %s\n", fi->name, p.offset, p.insn, p.why);
			CHECK(p.emulated != p.fallback, what);
			CHECK(!p.fallback || p.offset == 0, what);
		}
		/* new, new[], delete, delete[] and their sized/aligned/nothrow forms */
		CHECK(found >= 12, objs[l]);
		am_elf__close(e);
	}
}

static void test_elfsym(void)
{
	char path[512];
	struct am_elf *e;
	uint64_t off = 0, size = 0;
	bool needs_ld = false;
	size_t i;

	errno = 0;
	CHECK(am_elf__open("/nonexistent/lib.so") == NULL && errno == ENOENT, "open missing file: ENOENT");
	CHECK(am_elf__open("/etc/passwd") == NULL && errno == ENOEXEC, "open non-ELF: ENOEXEC");
	am_elf__close(NULL);

	if (!find_lib("libc.so.6", path, sizeof(path))) {
		CHECK(false, "libc.so.6 present");
		return;
	}
	e = am_elf__open(path);
	CHECK(e != NULL, "open libc");
	if (!e)
		return;
	CHECK_EQ(am_elf__find_func(e, "malloc", &off, &size), 0, "libc malloc found");
	CHECK(off > 0 && size > 0, "libc malloc has offset and size");
	CHECK_EQ(am_elf__find_func(e, "malloc@@GLIBC_2.2.5", NULL, NULL), -ENOENT, "lookup takes bare names");
	CHECK_EQ(am_elf__find_func(e, "mallo", NULL, NULL), -ENOENT, "no prefix match");
	CHECK_EQ(am_elf__find_func(e, "no_such_function_here", NULL, NULL), -ENOENT, "missing symbol");
	CHECK_EQ(am_elf__find_func(e, "strcpy", NULL, NULL), AM_ELF_IFUNC, "strcpy is an ifunc");
	CHECK_EQ(am_elf__find_func(e, "stdout", NULL, NULL), -ENOENT, "an object is not a function");
	CHECK_STR(am_elf__soname(e), "libc.so.6", "libc soname");
	for (i = 0; i < am_elf__needed_count(e); i++)
		if (!strcmp(am_elf__needed(e, i), "ld-linux-x86-64.so.2"))
			needs_ld = true;
	CHECK(needs_ld, "libc needs ld-linux-x86-64.so.2");
	am_elf__close(e);

	e = am_elf__open("/bin/true");
	CHECK(e != NULL, "open /bin/true");
	if (e) {
		CHECK(!am_elf__is_static(e), "/bin/true is dynamic");
		CHECK(am_elf__interp(e) && strstr(am_elf__interp(e), "ld-linux"), "/bin/true interp");
		am_elf__close(e);
	}
}

static void test_resolve(void)
{
	struct am_resolution *r = calloc(1, sizeof(*r));
	char err[256], prefix[64];
	char *env_je[] = { "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "PATH=/usr/bin:/bin", NULL };
	char *env_thr[] = { "MALLOC_MMAP_THRESHOLD_=65536", NULL };
	char *env_tun[] = { "GLIBC_TUNABLES=glibc.malloc.check=0:glibc.malloc.mmap_threshold=0x40000",
			    "MALLOC_MMAP_THRESHOLD_=65536", NULL };
	char *env_big[] = { "MALLOC_MMAP_THRESHOLD_=1099511627776", NULL };
	int ret;

	if (!r) {
		CHECK(false, "calloc");
		return;
	}

	/* our own process: glibc, malloc in libc.so.6, attach path via /proc/PID/root
	 * (under -fsanitize=address libasan interposes malloc: that is what binds) */
	ret = am_resolve_pid(getpid(), r, err, sizeof(err));
	CHECK_EQ(ret, 0, "resolve self");
	if (ret)
		fprintf(stderr, "resolve self: %s\n", err);
	CHECK(r->fn[AM_FN_MALLOC].found, "self: malloc found");
	if (&__asan_init) {
		printf("(ASan build: malloc binds to %s)\n", r->fn[AM_FN_MALLOC].obj);
		CHECK(starts_with(base_name(r->fn[AM_FN_MALLOC].obj), "libasan.so"), "self (asan): malloc in libasan");
		CHECK_EQ(r->kind, AM_ALLOC_OTHER, "self (asan): kind other");
		CHECK(r->fn[AM_FN_MALLOC].place.emulated || r->fn[AM_FN_MALLOC].place.fallback,
		      "self (asan): malloc placed");
	} else {
		CHECK_EQ(r->kind, AM_ALLOC_GLIBC, "self: kind glibc");
		CHECK_STR(am_alloc_kind_name(r->kind), "glibc", "self: kind name");
		CHECK_STR(base_name(r->fn[AM_FN_MALLOC].obj), "libc.so.6", "self: malloc in libc.so.6");
		CHECK_EQ(r->fn[AM_FN_FREE].place.offset, 3, "self: glibc free probed on its je");
		CHECK_STR(base_name(r->alloc_obj), "libc.so.6", "self: alloc_obj");
	}
	snprintf(prefix, sizeof(prefix), "/proc/%d/root/", (int)getpid());
	CHECK(starts_with(r->fn[AM_FN_MALLOC].path, prefix), "self: attach path under /proc/PID/root");
	CHECK(!access(r->fn[AM_FN_MALLOC].path, R_OK), "self: attach path readable");

	/* a pid that cannot exist (above any pid_max) */
	ret = am_resolve_pid(0x7ffffff0, r, err, sizeof(err));
	CHECK_EQ(ret, -1, "bad pid fails");
	CHECK_STR(err, "no such process", "bad pid message");

	/* exec with jemalloc preloaded */
	if (access("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", R_OK)) {
		fprintf(stderr, "\n*** SKIPPING exec+LD_PRELOAD jemalloc: libjemalloc2 not installed ***\n\n");
		CHECK(!ci(), "libjemalloc.so.2 present (CI=true)");
	} else {
		ret = am_resolve_exec("/bin/true", env_je, r, err, sizeof(err));
		CHECK_EQ(ret, 0, "exec jemalloc");
		if (ret)
			fprintf(stderr, "exec jemalloc: %s\n", err);
		CHECK_EQ(r->kind, AM_ALLOC_JEMALLOC, "exec jemalloc: kind");
		CHECK_STR(base_name(r->fn[AM_FN_FREE].obj), "libjemalloc.so.2", "exec jemalloc: free in jemalloc");
		CHECK_EQ(r->fn[AM_FN_FREE].place.offset, 48, "exec jemalloc: free probe offset");
		CHECK_EQ(r->fn[AM_FN_MALLOC].place.offset, 7, "exec jemalloc: malloc probe offset");
		CHECK(r->fn[AM_FN_REALLOCARRAY].found, "exec jemalloc: reallocarray found");
		CHECK(!strcmp(base_name(r->fn[AM_FN_REALLOCARRAY].obj), "libc.so.6") ||
		      !strcmp(base_name(r->fn[AM_FN_REALLOCARRAY].obj), "libjemalloc.so.2"),
		      "exec jemalloc: reallocarray from libc or jemalloc");
		CHECK(r->fn[AM_FN_FREE].path[0] == '/' && !access(r->fn[AM_FN_FREE].path, R_OK), "exec: attach path absolute and readable");
		CHECK(!r->threshold_pinned, "exec jemalloc: threshold not pinned");
	}

	/* same by PATH lookup, plain glibc */
	ret = am_resolve_exec("true", NULL, r, err, sizeof(err));
	CHECK_EQ(ret, 0, "exec true via PATH");
	CHECK_EQ(r->kind, AM_ALLOC_GLIBC, "exec true: glibc");
	CHECK_STR(base_name(r->fn[AM_FN_CALLOC].obj), "libc.so.6", "exec true: calloc in libc");

	ret = am_resolve_exec("/nonexistent/prog", NULL, r, err, sizeof(err));
	CHECK_EQ(ret, -1, "exec missing file fails");
	CHECK(starts_with(err, "cannot find /nonexistent/prog"), "exec missing file message");
	ret = am_resolve_exec("/etc/passwd", NULL, r, err, sizeof(err));
	CHECK_EQ(ret, -1, "exec non-ELF fails");

	/* the pinned mmap threshold */
	CHECK_EQ(am_resolve_exec("/bin/true", env_thr, r, err, sizeof(err)), 0, "exec thr");
	CHECK(r->threshold_pinned && r->threshold_value == 65536, "MALLOC_MMAP_THRESHOLD_ pins");
	CHECK_EQ(am_resolve_exec("/bin/true", env_tun, r, err, sizeof(err)), 0, "exec tunables");
	CHECK(r->threshold_pinned && r->threshold_value == 0x40000, "GLIBC_TUNABLES pins, wins over the alias");
	CHECK_EQ(am_resolve_exec("/bin/true", env_big, r, err, sizeof(err)), 0, "exec big thr");
	CHECK(!r->threshold_pinned, "threshold above 32 MiB is ignored (as glibc does)");

	CHECK_STR(am_alloc_kind_name(AM_ALLOC_TCMALLOC), "tcmalloc", "kind name tcmalloc");
	CHECK_STR(am_alloc_kind_name(AM_ALLOC_UNKNOWN), "unknown", "kind name unknown");
	free(r);
}

/* No object defines it (the tracer reports it absent, not unattached). */
static bool absent(const struct am_fn_probe *p)
{
	return !p->found && !p->place.why[0];
}

/* musl programs built by the Makefile (make builds them before the tests
 * run from the repository root): a dynamic one binds every function to its
 * interpreter, which is the libc; a static one to itself; functions nothing
 * defines are absent (not unattached). Also a running one (pid mode). */
static void test_resolve_musl(void)
{
	static const char *const dyn = ".output/progs/musl_dyn", *const stat = ".output/progs/musl_static";
	struct am_resolution *r = calloc(1, sizeof(*r));
	char err[256];
	int ret, fn;

	if (!r) {
		CHECK(false, "calloc");
		return;
	}
	if (access(dyn, X_OK) || access(stat, X_OK) || access("/lib/ld-musl-x86_64.so.1", R_OK)) {
		fprintf(stderr, "\n*** SKIPPING musl resolution: %s, %s or /lib/ld-musl-x86_64.so.1 missing "
			"(musl-tools; make) ***\n\n", dyn, stat);
		CHECK(!ci(), "musl programs present (CI=true)");
		free(r);
		return;
	}
	ret = am_resolve_exec(dyn, NULL, r, err, sizeof(err));
	CHECK_EQ(ret, 0, "exec musl_dyn");
	if (ret)
		fprintf(stderr, "exec musl_dyn: %s\n", err);
	CHECK_EQ(r->kind, AM_ALLOC_MUSL, "musl_dyn: kind musl");
	CHECK(!r->musl_not_ng, "musl_dyn: mallocng");
	CHECK_STR(am_alloc_kind_name(r->kind), "musl", "kind name musl");
	CHECK_STR(r->alloc_obj, "/lib/ld-musl-x86_64.so.1", "musl_dyn: allocator is the interpreter");
	for (fn = 0; fn <= AM_FN_PVALLOC; fn++) { /* the C functions: no C++ in these programs */
		char what[64];

		snprintf(what, sizeof(what), "musl_dyn: %s", am_fn_name(fn));
		if (fn == AM_FN_PVALLOC) {
			CHECK(absent(&r->fn[fn]), what);
			continue;
		}
		CHECK(r->fn[fn].found, what);
		CHECK_STR(r->fn[fn].obj, "/lib/ld-musl-x86_64.so.1", what);
	}
	CHECK_EQ(r->fn[AM_FN_MALLOC].place.offset, 0, "musl_dyn: malloc probed on its jmp");
	CHECK(starts_with(r->fn[AM_FN_MALLOC].place.insn, "jmp "), "musl_dyn: malloc insn jmp");
	CHECK(r->fn[AM_FN_FREE].place.emulated, "musl_dyn: free emulated");

	ret = am_resolve_exec(stat, NULL, r, err, sizeof(err));
	CHECK_EQ(ret, 0, "exec musl_static");
	CHECK_EQ(r->kind, AM_ALLOC_MUSL, "musl_static: kind musl");
	CHECK(!r->musl_not_ng, "musl_static: mallocng");
	CHECK_STR(r->fn[AM_FN_MALLOC].obj, stat, "musl_static: malloc in the executable");
	CHECK(r->fn[AM_FN_CALLOC].found && r->fn[AM_FN_VALLOC].found, "musl_static: the functions it uses");
	CHECK(absent(&r->fn[AM_FN_PVALLOC]), "musl_static: pvalloc absent");
	CHECK(r->fn[AM_FN_MALLOC].place.offset == 0 && starts_with(r->fn[AM_FN_MALLOC].place.insn, "jmp "),
	      "musl_static: malloc probed on its jmp to __libc_malloc_impl");
	CHECK(r->fn[AM_FN_FREE].place.offset == 0 && starts_with(r->fn[AM_FN_FREE].place.insn, "jmp "),
	      "musl_static: free probed on its jmp to __libc_free");

	/* a static program that never frees: musl's bump allocator */
	ret = am_resolve_exec(".output/progs/musl_nofree_static", NULL, r, err, sizeof(err));
	CHECK_EQ(ret, 0, "exec musl_nofree_static");
	CHECK(r->kind == AM_ALLOC_MUSL && r->musl_not_ng, "musl_nofree_static: musl, not mallocng");
	CHECK(r->fn[AM_FN_MALLOC].found && absent(&r->fn[AM_FN_FREE]), "musl_nofree_static: malloc, no free");

	/* a running musl program: its interpreter is among its mappings */
	{
		int in[2], out[2];
		pid_t pid;
		char buf[64] = "";

		if (pipe(in) || pipe(out)) {
			CHECK(false, "pipe");
			free(r);
			return;
		}
		pid = fork();
		if (pid == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			execl(dyn, dyn, "--wait", (char *)NULL);
			_exit(127);
		}
		close(in[0]);
		close(out[1]);
		CHECK(read(out[0], buf, sizeof(buf) - 1) > 0 && starts_with(buf, "ready"), "musl_dyn --wait is ready");
		ret = am_resolve_pid(pid, r, err, sizeof(err));
		CHECK_EQ(ret, 0, "pid musl_dyn");
		if (ret)
			fprintf(stderr, "pid musl_dyn: %s\n", err);
		CHECK_EQ(r->kind, AM_ALLOC_MUSL, "pid musl_dyn: kind musl");
		CHECK(r->fn[AM_FN_FREE].found && strstr(r->fn[AM_FN_FREE].obj, "musl"), "pid musl_dyn: free in musl's libc");
		CHECK(absent(&r->fn[AM_FN_PVALLOC]), "pid musl_dyn: pvalloc absent");
		if (write(in[1], "g", 1) != 1)
			CHECK(false, "release musl_dyn");
		close(in[1]);
		while (read(out[0], buf, sizeof(buf)) > 0)
			;
		close(out[0]);
		waitpid(pid, NULL, 0);
	}
	free(r);
}

int main(void)
{
	test_synthetic();
	test_real_libs();
	test_cxx_operators();
	test_elfsym();
	test_resolve();
	test_resolve_musl();
	return check_report("placement");
}
