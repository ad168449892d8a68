// SPDX-License-Identifier: GPL-2.0
/* glibc_params.c - reads glibc's malloc parameters (mp_, struct malloc_par)
 * from a running process, see glibc_params.h.
 *
 * The steps: the object that holds glibc's malloc (libc.so.6, or a static
 * executable) is opened through /proc/PID/root; its NT_GNU_BUILD_ID names
 * the detached debug file (DEBUG_DIR/.build-id/xx/rest.debug, as
 * libc6-dbg installs it). In that file's DWARF, the top-level variable
 * `mp_` gives its link-time address (DW_OP_addr) and its type the offsets
 * and sizes of mmap_threshold, no_dyn_threshold and trim_threshold. The load
 * bias comes from /proc/PID/maps (the object's mapping at file offset 0
 * against its first PT_LOAD), and the bytes from process_vm_readv
 * (/proc/PID/mem as a fallback). Nothing about glibc's layout is assumed:
 * another glibc build has other offsets and they are read again. */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "arch_user.h"
#include "glibc_params.h"
#include "resolve.h"
#include "safeio.h"

#define DEFAULT_DEBUG_DIR "/usr/lib/debug"

/* ---------- DWARF ---------- */

/* The type die refers to, past typedefs and qualifiers. */
static bool peel_type(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	Dwarf_Die t;

	if (!dwarf_attr_integrate(die, DW_AT_type, &a) || !dwarf_formref_die(&a, &t))
		return false;
	for (int i = 0; i < 16; i++) {
		int tag = dwarf_tag(&t);

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
			break;
		if (!dwarf_attr_integrate(&t, DW_AT_type, &a) || !dwarf_formref_die(&a, &t))
			return false;
	}
	*out = t;
	return true;
}

/* Offset and byte size of member name of struct st; false when absent. */
static bool member(Dwarf_Die *st, const char *name, uint32_t *off, uint32_t *size)
{
	Dwarf_Die m, t;

	if (dwarf_child(st, &m) != 0)
		return false;
	do {
		Dwarf_Attribute a;
		Dwarf_Word w;
		const char *n;
		int bs;

		if (dwarf_tag(&m) != DW_TAG_member || !(n = dwarf_diename(&m)) || strcmp(n, name))
			continue;
		if (!dwarf_attr(&m, DW_AT_data_member_location, &a) || dwarf_formudata(&a, &w))
			return false;
		if (!peel_type(&m, &t) || (bs = dwarf_bytesize(&t)) <= 0 || bs > 8)
			return false;
		*off = (uint32_t)w;
		*size = (uint32_t)bs;
		return true;
	} while (dwarf_siblingof(&m, &m) == 0);
	return false;
}

/* A top-level DW_TAG_variable "mp_" of cu with a DW_OP_addr location. */
static bool find_mp(Dwarf_Die *cu, Dwarf_Die *var, uint64_t *vaddr)
{
	Dwarf_Die d;

	if (dwarf_child(cu, &d) != 0)
		return false;
	do {
		Dwarf_Attribute a;
		Dwarf_Op *ops;
		size_t nops;
		const char *n;

		if (dwarf_tag(&d) != DW_TAG_variable || !(n = dwarf_diename(&d)) || strcmp(n, "mp_"))
			continue;
		if (!dwarf_attr(&d, DW_AT_location, &a) || dwarf_getlocation(&a, &ops, &nops) ||
		    nops != 1 || ops[0].atom != DW_OP_addr)
			continue; /* a declaration, or not a plain static */
		*var = d;
		*vaddr = ops[0].number;
		return true;
	} while (dwarf_siblingof(&d, &d) == 0);
	return false;
}

int am_glibc_mp_layout(const char *debug_path, struct am_mp_layout *l, char *err, size_t errlen)
{
	Dwarf *dw;
	Dwarf_Off off = 0, next;
	size_t hsize;
	Dwarf_Die cu, var, st;
	bool found = false;
	int fd, pass;

	memset(l, 0, sizeof(*l));
	fd = am_open_target(debug_path, false);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", debug_path, strerror(errno));
		return -1;
	}
	dw = dwarf_begin(fd, DWARF_C_READ);
	if (!dw) {
		snprintf(err, errlen, "%s has no DWARF", debug_path);
		close(fd);
		return -1;
	}
	/* mp_ is static in malloc.c: look at that unit first, then at all */
	for (pass = 0; pass < 2 && !found; pass++) {
		for (off = 0; !found && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0;
		     off = next) {
			const char *name;

			if (!dwarf_offdie(dw, off + hsize, &cu))
				continue;
			name = dwarf_diename(&cu);
			if (pass == 0 && (!name || !strstr(name, "malloc.c")))
				continue;
			found = find_mp(&cu, &var, &l->vaddr);
		}
	}
	if (!found) {
		snprintf(err, errlen, "no mp_ in the DWARF of %s", debug_path);
		goto fail;
	}
	if (!peel_type(&var, &st) || dwarf_tag(&st) != DW_TAG_structure_type) {
		snprintf(err, errlen, "mp_ in %s is not a struct", debug_path);
		goto fail;
	}
	if (!member(&st, "mmap_threshold", &l->off_mmap_threshold, &l->size_mmap_threshold) ||
	    !member(&st, "no_dyn_threshold", &l->off_no_dyn, &l->size_no_dyn)) {
		snprintf(err, errlen, "mp_ in %s has no mmap_threshold/no_dyn_threshold", debug_path);
		goto fail;
	}
	if (!member(&st, "trim_threshold", &l->off_trim, &l->size_trim))
		l->off_trim = l->size_trim = 0;
	{
		int ss = dwarf_bytesize(&st);

		l->struct_size = ss > 0 ? (uint32_t)ss : 0;
	}
	if (l->off_mmap_threshold + l->size_mmap_threshold > l->struct_size ||
	    l->off_no_dyn + l->size_no_dyn > l->struct_size ||
	    l->off_trim + l->size_trim > l->struct_size) {
		snprintf(err, errlen, "mp_ in %s: member offsets past the struct", debug_path);
		goto fail;
	}
	dwarf_end(dw);
	close(fd);
	return 0;
fail:
	dwarf_end(dw);
	close(fd);
	return -1;
}

/* ---------- the object: build-id and load bias ---------- */

struct obj_info {
	unsigned char build_id[64];
	int build_id_len;
	uint64_t first_vaddr;    /* page-aligned p_vaddr of the PT_LOAD at file offset 0 */
	bool has_debug_info;     /* the object itself has .debug_info */
};

static int obj_info(const char *path, struct obj_info *oi, char *err, size_t errlen)
{
	Elf *e;
	const void *id = NULL;
	ssize_t n;
	size_t nph = 0, shstrndx;
	Elf_Scn *scn = NULL;
	bool have_load = false;
	int fd;

	memset(oi, 0, sizeof(*oi));
	elf_version(EV_CURRENT);
	fd = am_open_target(path, false); /* the target's file: never block on it */
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		snprintf(err, errlen, "%s is not an ELF object", path);
		goto fail;
	}
	n = dwelf_elf_gnu_build_id(e, &id);
	if (n > 0 && (size_t)n <= sizeof(oi->build_id)) {
		memcpy(oi->build_id, id, (size_t)n);
		oi->build_id_len = (int)n;
	}
	if (elf_getphdrnum(e, &nph) == 0) {
		for (size_t i = 0; i < nph && !have_load; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_offset == 0) {
				oi->first_vaddr = ph.p_vaddr & ~(uint64_t)(AM_PAGE_SIZE - 1);
				have_load = true;
			}
		}
	}
	if (!have_load) {
		snprintf(err, errlen, "%s has no PT_LOAD at offset 0", path);
		goto fail;
	}
	if (elf_getshdrstrndx(e, &shstrndx) == 0) {
		while ((scn = elf_nextscn(e, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS &&
			    (name = elf_strptr(e, shstrndx, sh.sh_name)) && !strcmp(name, ".debug_info"))
				oi->has_debug_info = true;
		}
	}
	elf_end(e);
	close(fd);
	return 0;
fail:
	if (e)
		elf_end(e);
	close(fd);
	return -1;
}

/* Start of obj's mapping at file offset 0 in /proc/PID/maps. */
static int load_base(pid_t pid, const char *obj, uint64_t *base)
{
	char p[64], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int rc = -1;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	f = am_fopen_target(p);
	if (!f)
		return -1;
	while (getline(&line, &cap, f) >= 0) {
		unsigned long long s, e, off;
		int pos = -1;
		char *path;

		if (sscanf(line, "%llx-%llx %*s %llx %*x:%*x %*u %n", &s, &e, &off, &pos) != 3 || pos < 0)
			continue;
		path = line + pos;
		path[strcspn(path, "\n")] = 0;
		if (off == 0 && !strcmp(path, obj)) {
			*base = s;
			rc = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---------- debuginfod, when configured (dlopen: optional at run time) ---------- */

static int debuginfod_fetch(const unsigned char *id, int len, char *path, size_t pathlen)
{
	typedef void *(*begin_fn)(void);
	typedef int (*find_fn)(void *, const unsigned char *, int, char **);
	typedef void (*end_fn)(void *);
	const char *urls = getenv("DEBUGINFOD_URLS");
	void *h, *cl;
	begin_fn begin;
	find_fn find;
	end_fn end;
	char *got = NULL;
	int fd = -1;

	if (!urls || !*urls || !len)
		return -1;
	h = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
	begin = (begin_fn)dlsym(h, "debuginfod_begin");
	find = (find_fn)dlsym(h, "debuginfod_find_debuginfo");
	end = (end_fn)dlsym(h, "debuginfod_end");
	if (begin && find && end && (cl = begin())) {
		fd = find(cl, id, len, &got);
		end(cl);
	}
	if (fd >= 0 && got)
		snprintf(path, pathlen, "%s", got);
	if (fd >= 0)
		close(fd);
	free(got);
	dlclose(h);
	return fd >= 0 && path[0] ? 0 : -1;
}

/* ---------- reading the process ---------- */

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	char p[64];
	ssize_t n;
	int fd;

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	snprintf(p, sizeof(p), "/proc/%d/mem", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static uint64_t get_uint(const unsigned char *b, uint32_t size)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v = v << 8 | b[AM_ARCH_LITTLE_ENDIAN ? size - 1 - i : i];
	return v;
}

/* One layout cached by build-id (and the lookup directory it was found
 * with): -f and several -p share their libc. */
static struct {
	unsigned char id[64];
	int len;
	char dir[PATH_MAX];
	struct am_mp_layout l;
	char file[PATH_MAX + 32];
} cache;

int am_glibc_params_read(pid_t pid, const char *obj, struct am_glibc_params *out,
			 char *err, size_t errlen)
{
	char path[PATH_MAX + 32], dbg[PATH_MAX + 32], e1[PATH_MAX + 96] = "";
	const char *dir = getenv("ALLOCMAP_DEBUG_DIR");
	struct obj_info oi;
	struct am_mp_layout l;
	unsigned char buf[512];
	uint64_t base;
	bool have = false;

	memset(out, 0, sizeof(*out));
	if (!obj || !*obj) {
		snprintf(err, errlen, "no allocator object");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, obj);
	if (obj_info(path, &oi, err, errlen) < 0)
		return -1;
	if (load_base(pid, obj, &base) < 0) {
		snprintf(err, errlen, "%s is not mapped in pid %d", obj, (int)pid);
		return -1;
	}
	if (oi.build_id_len && cache.len == oi.build_id_len &&
	    !memcmp(cache.id, oi.build_id, (size_t)oi.build_id_len) && !strcmp(cache.dir, dir ? dir : "")) {
		l = cache.l;
		snprintf(dbg, sizeof(dbg), "%s", cache.file);
		have = true;
	}
	/* 1. the detached debug file named by the build-id */
	if (!have && oi.build_id_len >= 2) {
		int k = snprintf(dbg, sizeof(dbg), "%s/.build-id/%02x/", dir && *dir ? dir : DEFAULT_DEBUG_DIR,
				 oi.build_id[0]);

		for (int i = 1; i < oi.build_id_len && k > 0 && (size_t)k + 8 < sizeof(dbg); i++)
			k += snprintf(dbg + k, sizeof(dbg) - (size_t)k, "%02x", oi.build_id[i]);
		if (k > 0 && (size_t)k + 7 < sizeof(dbg))
			snprintf(dbg + k, sizeof(dbg) - (size_t)k, ".debug");
		if (!access(dbg, R_OK))
			have = am_glibc_mp_layout(dbg, &l, e1, sizeof(e1)) == 0;
		else
			snprintf(e1, sizeof(e1), "no debug file %s (install libc6-dbg)", dbg);
	} else if (!have) {
		snprintf(e1, sizeof(e1), "%s has no build-id", obj);
	}
	/* 2. the object's own DWARF (a static binary built with it) */
	if (!have && oi.has_debug_info) {
		snprintf(dbg, sizeof(dbg), "%s", path);
		have = am_glibc_mp_layout(dbg, &l, err, errlen) == 0;
	}
	/* 3. debuginfod, when configured (never when a test redirected the lookup) */
	if (!have && !(dir && *dir) && !debuginfod_fetch(oi.build_id, oi.build_id_len, dbg, sizeof(dbg)))
		have = am_glibc_mp_layout(dbg, &l, err, errlen) == 0;
	if (!have) {
		snprintf(err, errlen, "%s", e1[0] ? e1 : "no debug information for glibc");
		return -1;
	}
	if (oi.build_id_len) {
		memcpy(cache.id, oi.build_id, (size_t)oi.build_id_len);
		cache.len = oi.build_id_len;
		snprintf(cache.dir, sizeof(cache.dir), "%s", dir ? dir : "");
		cache.l = l;
		snprintf(cache.file, sizeof(cache.file), "%s", dbg);
	}

	if (l.struct_size == 0 || l.struct_size > sizeof(buf)) {
		snprintf(err, errlen, "mp_ has an unexpected size (%u bytes)", l.struct_size);
		return -1;
	}
	out->addr = base - oi.first_vaddr + l.vaddr;
	if (read_mem(pid, out->addr, buf, l.struct_size) < 0) {
		snprintf(err, errlen, "cannot read mp_ at 0x%llx in pid %d: %s",
			 (unsigned long long)out->addr, (int)pid, strerror(errno));
		return -1;
	}
	out->mmap_threshold = get_uint(buf + l.off_mmap_threshold, l.size_mmap_threshold);
	out->no_dyn_threshold = get_uint(buf + l.off_no_dyn, l.size_no_dyn) != 0;
	out->trim_threshold = l.size_trim ? get_uint(buf + l.off_trim, l.size_trim) : 0;
	snprintf(out->debug_file, sizeof(out->debug_file), "%s", dbg);
	if (out->mmap_threshold > AM_GLIBC_THR_MAX) {
		/* glibc never holds more: wrong debug file, or not glibc's mp_ */
		snprintf(err, errlen, "implausible mmap_threshold %llu read from pid %d",
			 (unsigned long long)out->mmap_threshold, (int)pid);
		return -1;
	}
	return 0;
}

/* ---------- the environment ---------- */

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static bool parse_num(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;

	if (!s || !*s)
		return false;
	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*v = n;
	return true;
}

bool am_glibc_env_pinned(char *const *env, uint64_t *value)
{
	static const char *const alias[] = { "MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_" };
	static const char *const tun[] = { "top_pad", "trim_threshold", "mmap_max" };
	const char *t = env_get(env, "GLIBC_TUNABLES");
	bool pinned = false, thr_set = false;
	uint64_t v, thr = AM_GLIBC_THR_START;

	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (parse_num(env_get(env, alias[i]), &v))
			pinned = true;
	if (parse_num(env_get(env, "MALLOC_MMAP_THRESHOLD_"), &v) && v <= AM_GLIBC_THR_MAX) {
		thr = v;
		thr_set = true;
	}
	/* GLIBC_TUNABLES=glibc.malloc.mmap_threshold=N:glibc.malloc.top_pad=N... wins */
	for (const char *p = t; p && *p; ) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char item[128];
		char *eq;

		snprintf(item, sizeof(item), "%.*s", (int)(len < sizeof(item) - 1 ? len : sizeof(item) - 1), p);
		p = colon ? colon + 1 : NULL;
		eq = strchr(item, '=');
		if (!eq || strncmp(item, "glibc.malloc.", 13))
			continue;
		*eq = 0;
		if (!parse_num(eq + 1, &v))
			continue;
		if (!strcmp(item + 13, "mmap_threshold")) {
			if (v <= AM_GLIBC_THR_MAX) {
				thr = v;
				thr_set = true;
			}
			continue;
		}
		for (size_t i = 0; i < sizeof(tun) / sizeof(tun[0]); i++)
			if (!strcmp(item + 13, tun[i]))
				pinned = true;
	}
	if (thr_set)
		pinned = true;
	if (pinned && value)
		*value = thr;
	return pinned;
}

/* ---------- threshold states ---------- */

static struct am_thr thr_from_env(char *const *env, uint8_t dflt_source)
{
	uint64_t v;

	if (am_glibc_env_pinned(env, &v))
		return (struct am_thr){ .known = true, .pinned = true, .value = v, .source = AM_THR_SRC_ENV };
	return (struct am_thr){ .known = true, .value = AM_GLIBC_THR_START, .source = dflt_source };
}

struct am_thr am_glibc_attach_threshold(pid_t pid, const char *obj, char *why, size_t whylen)
{
	struct am_glibc_params gp;
	struct am_thr t;
	char err[512];
	char **env;

	if (am_glibc_params_read(pid, obj, &gp, err, sizeof(err)) == 0) {
		snprintf(why, whylen, "pid %d: mmap threshold %llu%s, read from mp_ at 0x%llx (DWARF: %s)",
			 (int)pid, (unsigned long long)gp.mmap_threshold,
			 gp.no_dyn_threshold ? " (pinned)" : "", (unsigned long long)gp.addr, gp.debug_file);
		return (struct am_thr){ .known = true, .pinned = gp.no_dyn_threshold,
					.value = gp.mmap_threshold, .source = AM_THR_SRC_PROCESS };
	}
	env = am_read_environ(pid);
	if (env && am_glibc_env_pinned(env, NULL)) {
		t = thr_from_env(env, AM_THR_SRC_ENV);
		snprintf(why, whylen, "pid %d: mmap threshold %llu, pinned by the environment (%s)",
			 (int)pid, (unsigned long long)t.value, err);
	} else {
		/* glibc starts at 128 KiB and only raises it, to 32 MiB at most */
		t = (struct am_thr){ .lo = AM_GLIBC_THR_START, .hi = AM_GLIBC_THR_MAX,
				     .source = AM_THR_SRC_UNKNOWN };
		snprintf(why, whylen, "pid %d: mmap threshold unknown until the process shows it (%s)",
			 (int)pid, err);
	}
	free(env);
	return t;
}

struct am_thr am_glibc_exec_threshold(pid_t pid)
{
	char **env = am_read_environ(pid);
	struct am_thr t;

	if (!env)
		return (struct am_thr){ .lo = 0, .hi = AM_GLIBC_THR_MAX, .source = AM_THR_SRC_UNKNOWN };
	t = thr_from_env(env, AM_THR_SRC_DEFAULT);
	free(env);
	return t;
}
