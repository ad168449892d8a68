// SPDX-License-Identifier: GPL-2.0
/* resolve.c - binds each allocator function to the object that provides it,
 * in the dynamic linker's lookup order, and places its probe (see resolve.h).
 *
 * The lookup scope of a dynamically linked program is: the executable, the
 * LD_PRELOAD objects, /etc/ld.so.preload, then the DT_NEEDED dependencies of
 * all of those, breadth-first. We rebuild that order from the ELF files
 * (through /proc/PID/root for a running process, whose loaded set comes from
 * /proc/PID/maps; by searching the library directories for a command), and
 * the first object in it that defines a function is the one calls bind to.
 *
 * musl: the dynamic linker (PT_INTERP, /lib/ld-musl-x86_64.so.1) is the C
 * library itself, and answers to the DT_NEEDED names of its parts (libc.so,
 * libc.musl-x86_64.so.1, libpthread.so.0, ...), so those resolve to the
 * interpreter, at the place in the order where they are first needed, as
 * musl's ldso inserts itself. */
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arch_user.h"
#include "elfsym.h"
#include "model.h"
#include "proc.h"
#include "safeio.h"

#define MAX_OBJS       512
#define CODE_BYTES     128      /* prologue bytes handed to the placer */
#define THRESHOLD_MAX  (32ULL << 20) /* glibc ignores larger mmap thresholds (64-bit) */


static const char *const default_dirs[] = { AM_ARCH_LIB_DIRS };

/* One candidate object. */
struct obj {
	char path[PATH_MAX];    /* as the process sees it */
	char attach[PATH_MAX];  /* as we open it (and uprobes attach to it) */
	dev_t dev;
	ino_t ino;
	struct am_elf *elf;     /* NULL if not an ELF object we can read */
	bool in_order;          /* already placed in the lookup order */
	bool musl;              /* musl's dynamic linker, which is its libc */
};

struct ctx {
	struct obj *objs;       /* MAX_OBJS entries */
	size_t n_objs;
	size_t order[MAX_OBJS]; /* lookup order, indexes into objs */
	size_t n_order;
	pid_t pid;              /* 0 for exec */
	char root[64];          /* "/proc/PID/root" or "" */
	char *const *env;       /* target's environment, NULL-terminated, may be NULL */
	ssize_t exe;            /* the executable in objs[], -1 unknown */
	ssize_t musl_ldso;      /* index of musl's dynamic linker (the executable's interpreter), or -1 */
};

/* Reading a target's objects is bounded in time: its files are opened
 * without blocking (safeio.c), but a slow file system it controls (FUSE)
 * could still stall reads. Past this, the resolution fails. */
#define RESOLVE_TIMEOUT_NS (10ull * 1000000000ull)

const char *am_alloc_kind_name(enum am_alloc_kind k)
{
	switch (k) {
	case AM_ALLOC_GLIBC:    return "glibc";
	case AM_ALLOC_JEMALLOC: return "jemalloc";
	case AM_ALLOC_TCMALLOC: return "tcmalloc";
	case AM_ALLOC_MIMALLOC: return "mimalloc";
	case AM_ALLOC_OTHER:    return "other";
	case AM_ALLOC_MUSL:     return "musl";
	default:                return "unknown";
	}
}

/* strerror() in the lowercase style of our messages. */
static const char *errstr(int errnum, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(errnum));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static void ctx_free(struct ctx *c)
{
	size_t i;

	if (!c->objs)
		return;
	for (i = 0; i < c->n_objs; i++)
		am_elf__close(c->objs[i].elf);
	free(c->objs);
	c->objs = NULL;
}

static void push_order(struct ctx *c, size_t i)
{
	if (c->objs[i].in_order || c->n_order >= MAX_OBJS)
		return;
	c->objs[i].in_order = true;
	c->order[c->n_order++] = i;
}

/* Does loaded object o answer to the DT_NEEDED / LD_PRELOAD name? (ld.so
 * matches a name against the soname and the file name.) */
static bool obj_matches_name(const struct obj *o, const char *name)
{
	const char *soname = o->elf ? am_elf__soname(o->elf) : NULL;

	if (strchr(name, '/'))
		return strcmp(o->path, name) == 0;
	return (soname && strcmp(soname, name) == 0) || strcmp(base_name(o->path), name) == 0;
}

static ssize_t find_by_name(struct ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_objs; i++)
		if (obj_matches_name(&c->objs[i], name))
			return (ssize_t)i;
	return -1;
}

static ssize_t find_by_id(struct ctx *c, dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < c->n_objs; i++)
		if (c->objs[i].ino == ino && c->objs[i].dev == dev)
			return (ssize_t)i;
	return -1;
}

/* Matches a name with a slash to a loaded object by file identity (the name
 * may go through symlinks, e.g. /lib -> /usr/lib). */
static ssize_t find_by_path(struct ctx *c, const char *path)
{
	char p[PATH_MAX];
	struct stat st;
	ssize_t i = find_by_name(c, path);

	if (i >= 0)
		return i;
	if (snprintf(p, sizeof(p), "%s%s", c->root, path) >= (int)sizeof(p) || stat(p, &st))
		return -1;
	i = find_by_id(c, st.st_dev, st.st_ino);
	if (i < 0) /* overlayfs may report another st_dev than maps does */
		for (size_t k = 0; k < c->n_objs; k++)
			if (c->objs[k].ino == st.st_ino && !strcmp(base_name(c->objs[k].path), base_name(path)))
				return (ssize_t)k;
	return i;
}

/* Adds an object (exec mode: every object we find on disk). Returns its
 * index or -1. Opens the ELF; a file that is not an ELF of the architecture
 * (AM_ARCH_ELF_MACHINE, arch_user.h) is
 * rejected (the dynamic linker skips such files and keeps searching). */
static ssize_t add_file(struct ctx *c, const char *path)
{
	struct stat st;
	struct obj *o;
	ssize_t i;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return -1;
	i = find_by_id(c, st.st_dev, st.st_ino);
	if (i >= 0)
		return i;
	if (c->n_objs >= MAX_OBJS)
		return -1;
	o = &c->objs[c->n_objs];
	memset(o, 0, sizeof(*o));
	o->elf = am_elf__open(path);
	if (!o->elf)
		return -1;
	if (am_elf__machine(o->elf) != AM_ARCH_ELF_MACHINE) {
		am_elf__close(o->elf);
		o->elf = NULL;
		return -1;
	}
	snprintf(o->path, sizeof(o->path), "%s", path);
	{ /* attach by absolute path: the tracer may chdir before attaching */
		char *abs = realpath(path, NULL);

		snprintf(o->attach, sizeof(o->attach), "%s", abs ? abs : path);
		free(abs);
	}
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	return (ssize_t)c->n_objs++;
}

/* Appends the directories of a ':'-separated list (with $ORIGIN expanded to
 * origin) to the search for name; returns the found object or -1. */
static ssize_t search_dirs(struct ctx *c, const char *list, const char *origin, const char *name)
{
	char dirs[PATH_MAX], *save = NULL, *d;

	if (!list || !*list)
		return -1;
	snprintf(dirs, sizeof(dirs), "%s", list);
	for (d = strtok_r(dirs, ":;", &save); d; d = strtok_r(NULL, ":;", &save)) {
		char dir[PATH_MAX], p[PATH_MAX];
		const char *rest = NULL;
		ssize_t i;

		if (!strncmp(d, "$ORIGIN", 7))
			rest = d + 7;
		else if (!strncmp(d, "${ORIGIN}", 9))
			rest = d + 9;
		if (rest) {
			if (!origin)
				continue;
			if (snprintf(dir, sizeof(dir), "%s%s", origin, rest) >= (int)sizeof(dir))
				continue;
		} else {
			snprintf(dir, sizeof(dir), "%s", d);
		}
		if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
			continue;
		i = add_file(c, p);
		if (i >= 0)
			return i;
	}
	return -1;
}

/* musl's library path: /etc/ld-musl-ARCH.path (for ld-musl-ARCH.so.1),
 * its entries separated by newlines or colons, else /lib:/usr/local/lib:/usr/lib.
 * Returns buf, ':'-separated. */
static const char *musl_path(const char *ldso, char *buf, size_t len)
{
	const char *b = base_name(ldso), *dot = strstr(b, ".so");
	char p[PATH_MAX];
	size_t n = 0;
	FILE *f;

	snprintf(buf, len, "/lib:/usr/local/lib:/usr/lib");
	if (!dot || snprintf(p, sizeof(p), "/etc/%.*s.path", (int)(dot - b), b) >= (int)sizeof(p))
		return buf;
	f = fopen(p, "re");
	if (!f)
		return buf;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *q = buf; *q; q++)
		if (*q == '\n')
			*q = ':';
	return buf;
}

/* Finds library name for requester (exec mode), the way ld.so does, minus
 * /etc/ld.so.cache (musl: with its own default path). requester may be NULL
 * (LD_PRELOAD). */
static ssize_t find_lib(struct ctx *c, const char *name, const struct obj *requester)
{
	const char *runpath = NULL, *rpath = NULL, *exe_rpath = NULL;
	char origin[PATH_MAX] = "", dirs[PATH_MAX];
	ssize_t i;
	size_t k;

	if (strchr(name, '/'))
		return add_file(c, name);
	i = find_by_name(c, name);
	if (i >= 0)
		return i;
	if (requester && requester->elf) {
		char *slash;

		runpath = am_elf__runpath(requester->elf);
		rpath = runpath ? NULL : am_elf__rpath(requester->elf);
		snprintf(origin, sizeof(origin), "%s", requester->path);
		slash = strrchr(origin, '/');
		if (slash)
			*slash = '\0';
		if (c->n_objs && c->objs[0].elf && !runpath && !am_elf__runpath(c->objs[0].elf))
			exe_rpath = am_elf__rpath(c->objs[0].elf);
	}
	if ((i = search_dirs(c, rpath, origin, name)) >= 0)
		return i;
	if (exe_rpath && exe_rpath != rpath && (i = search_dirs(c, exe_rpath, NULL, name)) >= 0)
		return i;
	if ((i = search_dirs(c, env_get(c->env, "LD_LIBRARY_PATH"), NULL, name)) >= 0)
		return i;
	if ((i = search_dirs(c, runpath, origin, name)) >= 0)
		return i;
	if (c->musl_ldso >= 0) /* musl's ld.so has its own default path */
		return search_dirs(c, musl_path(c->objs[c->musl_ldso].path, dirs, sizeof(dirs)), NULL, name);
	for (k = 0; k < sizeof(default_dirs) / sizeof(default_dirs[0]); k++)
		if ((i = search_dirs(c, default_dirs[k], NULL, name)) >= 0)
			return i;
	return -1;
}

/* Calls fn for every entry of LD_PRELOAD (':' or ' ' separated) and of
 * /etc/ld.so.preload (whitespace separated), in that order. */
static void for_each_preload(struct ctx *c, void (*fn)(struct ctx *, const char *))
{
	const char *env = env_get(c->env, "LD_PRELOAD");
	char buf[8192], *save = NULL, *t, p[PATH_MAX];
	FILE *f;

	if (env) {
		snprintf(buf, sizeof(buf), "%s", env);
		for (t = strtok_r(buf, ": \t", &save); t; t = strtok_r(NULL, ": \t", &save))
			fn(c, t);
	}
	snprintf(p, sizeof(p), "%s/etc/ld.so.preload", c->root);
	f = am_fopen_target(p);
	if (!f)
		return;
	while (fscanf(f, "%4095s", p) == 1)
		if (p[0] != '#')
			fn(c, p);
	fclose(f);
}

static void preload_exec(struct ctx *c, const char *name)
{
	ssize_t i = find_lib(c, name, NULL);

	if (i >= 0)
		push_order(c, (size_t)i);
}

static void preload_pid(struct ctx *c, const char *name)
{
	ssize_t i = strchr(name, '/') ? find_by_path(c, name) : find_by_name(c, name);

	if (i >= 0)
		push_order(c, (size_t)i);
}

/* Does musl's dynamic linker take DT_NEEDED name for itself? It does for
 * "lib" followed by c., pthread., rt., m., dl., util. or xnet. (ldso/dynlink.c
 * load_library: those are all parts of the one libc). */
static bool musl_self_name(const char *name)
{
	static const char *const parts[] = { "c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet." };

	if (strncmp(name, "lib", 3))
		return false;
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
		if (!strncmp(name + 3, parts[k], strlen(parts[k])))
			return true;
	return false;
}

/* Is interpreter path that of musl's dynamic linker (ld-musl-ARCH.so.1)? */
static bool musl_interp(const char *interp)
{
	return interp && !strncmp(base_name(interp), "ld-musl-", 8);
}

/* Finds the executable's interpreter among the objects when it is musl's
 * (exec mode: adds it from disk) and remembers it as the libc. */
static void find_musl_ldso(struct ctx *c, size_t exe, bool exec_mode)
{
	const char *interp = c->objs[exe].elf ? am_elf__interp(c->objs[exe].elf) : NULL;
	ssize_t i;

	if (!musl_interp(interp))
		return;
	i = exec_mode ? add_file(c, interp) : find_by_path(c, interp);
	if (i < 0 || !c->objs[i].elf)
		return;
	c->objs[i].musl = true;
	c->musl_ldso = i;
}

/* Breadth-first over DT_NEEDED of everything already in the order. */
static void add_needed(struct ctx *c, bool exec_mode)
{
	size_t q, k;

	for (q = 0; q < c->n_order; q++) {
		struct am_elf *e = c->objs[c->order[q]].elf;

		if (!e)
			continue;
		for (k = 0; k < am_elf__needed_count(e); k++) {
			const char *name = am_elf__needed(e, k);
			ssize_t i;

			if (c->musl_ldso >= 0 && musl_self_name(name))
				i = c->musl_ldso;
			else if (exec_mode)
				i = find_lib(c, name, &c->objs[c->order[q]]);
			else
				i = strchr(name, '/') ? find_by_path(c, name) : find_by_name(c, name);
			if (i >= 0)
				push_order(c, (size_t)i);
		}
	}
}

/* Reads the 'glibc.malloc.mmap_threshold' setting from the environment. */
static void read_threshold(char *const *env, struct am_resolution *r)
{
	const char *v = env_get(env, "MALLOC_MMAP_THRESHOLD_"), *t = env_get(env, "GLIBC_TUNABLES");
	char val[64] = "";
	char *end;
	unsigned long long n;

	if (v)
		snprintf(val, sizeof(val), "%s", v);
	/* GLIBC_TUNABLES wins over the alias variable */
	for (const char *p = t; p && *p; ) {
		static const char key[] = "glibc.malloc.mmap_threshold=";
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (len > sizeof(key) - 1 && !strncmp(p, key, sizeof(key) - 1))
			snprintf(val, sizeof(val), "%.*s", (int)(len - (sizeof(key) - 1)), p + sizeof(key) - 1);
		p = colon ? colon + 1 : NULL;
	}
	if (!val[0])
		return;
	errno = 0;
	n = strtoull(val, &end, 0);
	if (errno || *end || end == val || n > THRESHOLD_MAX)
		return; /* glibc ignores it too */
	r->threshold_pinned = true;
	r->threshold_value = n;
}

static enum am_alloc_kind kind_of(const struct obj *o, bool is_exe)
{
	const char *names[2] = { base_name(o->path), o->elf ? am_elf__soname(o->elf) : NULL };
	int i;

	if (o->musl) /* before the names: Debian installs it as .../x86_64-linux-musl/libc.so */
		return AM_ALLOC_MUSL;
	for (i = 0; i < 2; i++) {
		const char *n = names[i];

		if (!n)
			continue;
		if (strstr(n, "jemalloc"))
			return AM_ALLOC_JEMALLOC;
		if (strstr(n, "tcmalloc"))
			return AM_ALLOC_TCMALLOC;
		if (strstr(n, "mimalloc"))
			return AM_ALLOC_MIMALLOC;
		if (!strncmp(n, "libc.so", 7) || !strncmp(n, "libc-2.", 7))
			return AM_ALLOC_GLIBC;
	}
	if (is_exe && o->elf) { /* statically linked allocator: look at its internals */
		if (am_elf__has_sym(o->elf, "_int_malloc") || am_elf__has_sym(o->elf, "main_arena"))
			return AM_ALLOC_GLIBC;
		if (am_elf__has_sym(o->elf, "mallctl") || am_elf__has_sym(o->elf, "je_mallctl"))
			return AM_ALLOC_JEMALLOC;
		if (am_elf__has_sym(o->elf, "tc_malloc"))
			return AM_ALLOC_TCMALLOC;
		if (am_elf__has_sym(o->elf, "mi_malloc"))
			return AM_ALLOC_MIMALLOC;
		/* mallocng, the old musl malloc, musl's bump allocator without free */
		if (am_elf__has_sym(o->elf, "__libc_malloc_impl") || am_elf__has_sym(o->elf, "__malloc_donate") ||
		    am_elf__has_sym(o->elf, "__simple_malloc"))
			return AM_ALLOC_MUSL;
	}
	return AM_ALLOC_OTHER;
}

/* Does o answer to LIB of --alloc SYM@LIB: its path, its file name, or a
 * prefix of its file name ("libglib-2.0" matches libglib-2.0.so.0)? */
static bool obj_matches_lib(const struct obj *o, const char *lib)
{
	const char *b = base_name(o->path), *so = o->elf ? am_elf__soname(o->elf) : NULL;
	size_t n = strlen(lib);

	return !strcmp(o->path, lib) || !strncmp(b, lib, n) || (so && !strncmp(so, lib, n));
}

/* Fills p for function name defined in object o. Returns false when o does
 * not define it. */
static bool bind_fn(const struct obj *o, enum am_fn fn, struct am_fn_probe *p)
{
	struct am_elf_sym s;
	uint8_t code[CODE_BYTES];
	ssize_t n;
	size_t len;
	int ret = am_elf__find_sym(o->elf, am_fn_info(fn)->sym, &s);

	if (ret == -ENOENT || ret == -EINVAL)
		return false;
	memset(p, 0, sizeof(*p));
	snprintf(p->obj, sizeof(p->obj), "%s", o->path);
	snprintf(p->path, sizeof(p->path), "%s", o->attach);
	if (ret == AM_ELF_IFUNC) {
		/* the symbol is the resolver: probing it would trace nothing */
		snprintf(p->place.why, sizeof(p->place.why), "defined as an ifunc: not probed");
		return true;
	}
	p->found = true;
	p->func_off = s.file_off;
	len = s.size && s.size < CODE_BYTES ? s.size : CODE_BYTES;
	n = am_elf__read(o->elf, s.file_off, code, len);
	if (n <= 0 || am_place_probe(code, (size_t)n, s.vaddr, am_fn_nargs(fn), true, &p->place)) {
		char why[sizeof(p->place.why)];

		snprintf(why, sizeof(why), "fallback: %.110s",
			 n <= 0 ? "cannot read the code" : p->place.why);
		memset(&p->place, 0, sizeof(p->place));
		p->place.fallback = true;
		snprintf(p->place.why, sizeof(p->place.why), "%s", why);
	}
	return true;
}

/* Is C++ in the program: a C++ runtime in its lookup scope, or operator
 * new in the executable itself (static libstdc++)? jemalloc and tcmalloc
 * define the C++ operators too, but probing 20 operators in a C program that
 * never calls them only costs attach and detach time. */
static bool uses_cxx(const struct ctx *c)
{
	struct am_elf_sym s;

	for (size_t q = 0; q < c->n_order; q++) {
		const struct obj *o = &c->objs[c->order[q]];
		const char *b = base_name(o->path);

		if (!strncmp(b, "libstdc++", 9) || !strncmp(b, "libc++.", 7))
			return true;
	}
	return c->exe >= 0 && c->objs[c->exe].elf &&
	       am_elf__find_sym(c->objs[c->exe].elf, am_fn_info(AM_FN_NEW)->sym, &s) == 0;
}

/* Binds every function along the lookup order and sets the kind. */
static int bind_all(struct ctx *c, struct am_resolution *r, char *err, size_t errlen)
{
	bool decided[AM_FN_MAX] = { false };
	bool cxx = uses_cxx(c);
	size_t q;
	int fn;

	for (fn = 0; !cxx && fn < am_fn_count(); fn++)
		if (am_fn_is_cxx(fn)) {
			decided[fn] = true;
			snprintf(r->fn[fn].place.why, sizeof(r->fn[fn].place.why),
				 "no C++ runtime in the program");
		}

	for (q = 0; q < c->n_order; q++) {
		const struct obj *o = &c->objs[c->order[q]];

		if (!o->elf)
			continue;
		for (fn = 0; fn < am_fn_count(); fn++) {
			const char *lib = am_fn_info(fn)->lib;

			if (decided[fn] || (lib && !obj_matches_lib(o, lib)) ||
			    !bind_fn(o, (enum am_fn)fn, &r->fn[fn]))
				continue;
			decided[fn] = true;
			if (fn == AM_FN_MALLOC) {
				r->kind = kind_of(o, q == 0);
				r->musl_not_ng = r->kind == AM_ALLOC_MUSL && !o->musl &&
					(!am_elf__has_sym(o->elf, "__libc_malloc_impl") ||
					 !am_elf__has_sym(o->elf, "__libc_free"));
				snprintf(r->alloc_obj, sizeof(r->alloc_obj), "%s", o->path);
			}
		}
	}
	/* an --alloc function missing here may be in an image the process
	 * execs later (a script's interpreter, env, a shell): the tracer says
	 * at the end if it was never probed */
	if (r->fn[AM_FN_MALLOC].found)
		return 0;
	/* no malloc to probe: a Go program, a static binary without symbols.
	 * Its memory syscalls can still be traced, with their causes unknown. */
	r->no_alloc = true;
	if (decided[AM_FN_MALLOC])
		snprintf(r->no_alloc_why, sizeof(r->no_alloc_why), "malloc in %s is an ifunc: cannot probe it",
			 r->fn[AM_FN_MALLOC].obj);
	else if (c->n_order == 1 && c->objs[c->order[0]].elf && am_elf__is_static(c->objs[c->order[0]].elf))
		snprintf(r->no_alloc_why, sizeof(r->no_alloc_why),
			 "no allocator symbols found in %s (a static binary without symbols, or Go?)",
			 c->objs[c->order[0]].path);
	else
		snprintf(r->no_alloc_why, sizeof(r->no_alloc_why), "no loaded object defines malloc");
	(void)err;
	(void)errlen;
	return 0;
}

char **am_read_environ(pid_t pid)
{
	char p[64], *data = NULL, **vec;
	size_t len = 0, cap = 0, n = 0, i;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/environ", (int)pid);
	f = am_fopen_target(p);
	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (len + 4096 + 1 > cap) {
			char *nd = realloc(data, cap = cap ? cap * 2 : 8192);

			if (!nd) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = nd;
		}
		got = fread(data + len, 1, 4096, f);
		len += got;
		if (!got)
			break;
	}
	fclose(f);
	if (!data)
		return NULL;
	data[len] = '\0';
	for (i = 0; i < len; i++)
		if (!data[i])
			n++;
	if (len && data[len - 1])
		n++;
	vec = malloc((n + 1) * sizeof(char *) + len + 1);
	if (vec) {
		char *s = (char *)(vec + n + 1);

		memcpy(s, data, len + 1);
		for (i = 0, n = 0; i < len; i += strlen(s + i) + 1)
			vec[n++] = s + i;
		vec[n] = NULL;
	}
	free(data);
	return vec;
}

int am_find_system_lib(const char *name, char *out, size_t outlen)
{
	for (size_t i = 0; i < sizeof(default_dirs) / sizeof(default_dirs[0]); i++) {
		snprintf(out, outlen, "%s/%s", default_dirs[i], name);
		if (access(out, R_OK) == 0)
			return 0;
	}
	snprintf(out, outlen, "%s/%s", default_dirs[1], name);
	return -1;
}

/* Loads the file-backed mappings of pid into c->objs, in address order,
 * one entry per file. Returns 0 or -errno of opening maps. */
/* Is path the file (dev, ino)? Checked without opening it. */
static bool same_file(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == dev && st.st_ino == ino;
}

static int load_maps(struct ctx *c)
{
	char p[64], line[PATH_MAX + 256];
	FILE *f;

	uint64_t deadline = am_now_ns() + RESOLVE_TIMEOUT_NS;
	int ret = 0;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)c->pid);
	f = am_fopen_target(p);
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, off, ino;
		unsigned int maj, min;
		char perms[8], *path, *nl;
		int pos = 0;
		bool deleted = false;
		struct obj *o;
		struct stat st;
		size_t plen;

		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &maj, &min,
			   &ino, &pos) < 7 || !pos)
			continue;
		path = line + pos;
		nl = strchr(path, '\n');
		if (nl)
			*nl = '\0';
		if (path[0] != '/' || !ino)
			continue;
		plen = strlen(path);
		if (plen > 10 && !strcmp(path + plen - 10, " (deleted)")) {
			path[plen - 10] = '\0';
			deleted = true;
		}
		if (find_by_id(c, makedev(maj, min), (ino_t)ino) >= 0 || c->n_objs >= MAX_OBJS)
			continue;
		o = &c->objs[c->n_objs];
		memset(o, 0, sizeof(*o));
		snprintf(o->path, sizeof(o->path), "%s", path);
		if (!deleted && snprintf(o->attach, sizeof(o->attach), "%s%s", c->root, path) >= (int)sizeof(o->attach))
			continue;
		/* A deleted file, or one whose path is not the same file under the
		 * process's root: maps shows paths as seen from our root, so a
		 * process chroot'ed in another mount namespace shows host paths.
		 * The map_files link opens the mapped file itself. */
		if (deleted || stat(o->attach, &st) || st.st_ino != (ino_t)ino)
			snprintf(o->attach, sizeof(o->attach), "/proc/%d/map_files/%lx-%lx", (int)c->pid, start, end);
		o->dev = makedev(maj, min);
		o->ino = (ino_t)ino;
		if (am_now_ns() > deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		if (!deleted && !same_file(o->attach, o->dev, o->ino))
			/* the path now names another file (replaced, or a FIFO planted in
			 * the target's mount namespace): read the mapped one itself */
			snprintf(o->attach, sizeof(o->attach), "/proc/%d/map_files/%lx-%lx", (int)c->pid,
				 start, end);
		o->elf = am_elf__open(o->attach); /* NULL for data files (locale-archive, fonts) */
		c->n_objs++;
	}
	fclose(f);
	return ret;
}

/* The executable's entry among the mappings: same file as /proc/PID/exe. */
static ssize_t find_exe(struct ctx *c)
{
	char p[64], link[PATH_MAX];
	struct stat st;
	ssize_t i, n;

	snprintf(p, sizeof(p), "/proc/%d/exe", (int)c->pid);
	if (!stat(p, &st)) {
		i = find_by_id(c, st.st_dev, st.st_ino);
		if (i >= 0)
			return i;
		for (size_t k = 0; k < c->n_objs; k++)
			if (c->objs[k].ino == st.st_ino)
				return (ssize_t)k;
	}
	n = readlink(p, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		return find_by_name(c, link);
	}
	return -1;
}

int am_resolve_pid(pid_t pid, struct am_resolution *r, char *err, size_t errlen)
{
	struct ctx c = { 0 };
	char **env = NULL, p[64], eb[64];
	ssize_t exe;
	int ret = -1, e;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (err && errlen)
		err[0] = '\0';
	snprintf(p, sizeof(p), "/proc/%d", (int)pid);
	if (pid <= 0 || access(p, F_OK)) {
		snprintf(err, errlen, "no such process");
		return -1;
	}
	c.objs = calloc(MAX_OBJS, sizeof(*c.objs));
	if (!c.objs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c.pid = pid;
	c.musl_ldso = -1;
	snprintf(c.root, sizeof(c.root), "/proc/%d/root", (int)pid);
	e = load_maps(&c);
	if (e) {
		if (e == -ENOENT || e == -ESRCH)
			snprintf(err, errlen, "no such process");
		else if (e == -ETIMEDOUT)
			snprintf(err, errlen, "reading its mapped files took over %llu s (a slow or hostile "
				 "file system?)", RESOLVE_TIMEOUT_NS / 1000000000ull);
		else
			snprintf(err, errlen, "cannot read /proc/%d/maps: %s", (int)pid, errstr(-e, eb, sizeof(eb)));
		goto out;
	}
	if (!c.n_objs) {
		snprintf(err, errlen, "process %d has no mapped files (kernel thread or zombie?)", (int)pid);
		goto out;
	}
	env = am_read_environ(pid);
	c.env = env;
	read_threshold(env, r);

	exe = find_exe(&c);
	c.exe = exe;
	if (exe >= 0) {
		push_order(&c, (size_t)exe);
		find_musl_ldso(&c, (size_t)exe, false);
	}
	if (exe < 0 || !c.objs[exe].elf || !am_elf__is_static(c.objs[exe].elf)) {
		for_each_preload(&c, preload_pid);
		add_needed(&c, false);
		/* dlopen()ed objects come after the initial scope */
		for (i = 0; i < c.n_objs; i++)
			push_order(&c, i);
	}
	ret = bind_all(&c, r, err, errlen);
out:
	free(env);
	ctx_free(&c);
	return ret;
}

/* PATH lookup like execvp: the first executable regular file. */
static int find_in_path(const char *file, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX * 2], *save = NULL, *d;

	if (!file || !*file)
		return -ENOENT;
	if (strchr(file, '/')) {
		snprintf(out, outlen, "%s", file);
		return access(file, F_OK) ? -errno : 0;
	}
	snprintf(buf, sizeof(buf), "%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (snprintf(out, outlen, "%s/%s", *d ? d : ".", file) >= (int)outlen)
			continue;
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* The interpreter of a "#!" script (the kernel runs it instead), in out;
 * -1 when path is not such a script. */
static int script_interp(const char *path, char *out, size_t outlen)
{
	char buf[256];
	ssize_t n;
	size_t i, j;
	int fd = am_open_target(path, false);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return -1;
	buf[n] = '\0';
	for (i = 2; buf[i] == ' ' || buf[i] == '\t'; i++)
		;
	for (j = i; buf[j] && buf[j] != ' ' && buf[j] != '\t' && buf[j] != '\n'; j++)
		;
	if (j == i || buf[i] != '/' || j - i >= outlen)
		return -1;
	memcpy(out, buf + i, j - i);
	out[j - i] = '\0';
	return 0;
}

int am_resolve_exec(const char *file, char *const envp[], struct am_resolution *r,
		    char *err, size_t errlen)
{
	struct ctx c = { 0 };
	char path[PATH_MAX], eb[64];
	ssize_t exe;
	int ret = -1, e;

	memset(r, 0, sizeof(*r));
	if (err && errlen)
		err[0] = '\0';
	e = find_in_path(file, path, sizeof(path));
	if (e) {
		snprintf(err, errlen, "cannot find %s: %s", file ? file : "(null)", errstr(-e, eb, sizeof(eb)));
		return -1;
	}
	/* a script runs its interpreter (which may exec another image: the
	 * tracer holds the process at every exec and moves the probes) */
	for (int depth = 0; depth < 4; depth++) {
		char interp[PATH_MAX];

		if (script_interp(path, interp, sizeof(interp)))
			break;
		snprintf(path, sizeof(path), "%s", interp);
	}
	c.objs = calloc(MAX_OBJS, sizeof(*c.objs));
	if (!c.objs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c.env = envp;
	c.musl_ldso = -1;
	read_threshold(envp, r);
	exe = add_file(&c, path);
	c.exe = exe;
	if (exe < 0) {
		snprintf(err, errlen, "cannot read %s: not an " AM_ARCH_NAME " ELF executable", path);
		goto out;
	}
	push_order(&c, (size_t)exe);
	find_musl_ldso(&c, (size_t)exe, true);
	if (!am_elf__is_static(c.objs[exe].elf)) {
		for_each_preload(&c, preload_exec);
		add_needed(&c, true);
	}
	ret = bind_all(&c, r, err, errlen);
out:
	ctx_free(&c);
	return ret;
}
