// SPDX-License-Identifier: GPL-2.0
/* elfsym.c - ELF symbol lookup with libelf (see elfsym.h).
 * Everything is read once at open: program headers, the two symbol tables
 * and the dynamic section's strings; lookups are then linear scans, which is
 * fine for the ten names per object that allocmap asks for. */
#include "elfsym.h"
#include "safeio.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AM_ELF_MAX_NEEDED 128

struct am_symtab {
	Elf_Data *data;       /* symbols */
	Elf_Data *versym;     /* .gnu.version (dynsym only), may be NULL */
	size_t    strndx;     /* section index of its string table */
	size_t    count;
	bool      present;
};

struct am_elf {
	int       fd;
	Elf      *elf;
	GElf_Ehdr ehdr;
	GElf_Phdr *phdr;      /* e_phnum entries */
	size_t    phnum;
	struct am_symtab dynsym, symtab;
	const char *interp;   /* copy owned by us */
	const char *needed[AM_ELF_MAX_NEEDED];
	size_t    n_needed;
	const char *soname, *runpath, *rpath; /* point into libelf's string data */
};

static bool libelf_ready(void)
{
	static int ready; /* 0 unknown, 1 ok, -1 failed */

	if (!ready)
		ready = elf_version(EV_CURRENT) == EV_NONE ? -1 : 1;
	return ready > 0;
}

static void load_symtab(Elf_Scn *scn, GElf_Shdr *sh, struct am_symtab *t)
{
	Elf_Data *d = elf_getdata(scn, NULL);

	if (!d || !sh->sh_entsize)
		return;
	t->data = d;
	t->strndx = sh->sh_link;
	t->count = sh->sh_size / sh->sh_entsize;
	t->present = t->count > 0;
}

/* Reads DT_NEEDED, DT_SONAME, DT_RUNPATH and DT_RPATH from SHT_DYNAMIC. */
static void load_dynamic(struct am_elf *e, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n, i;

	if (!d || !sh->sh_entsize)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Dyn dyn;
		const char *s;

		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME &&
		    dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH)
			continue;
		s = elf_strptr(e->elf, sh->sh_link, dyn.d_un.d_val);
		if (!s)
			continue;
		switch (dyn.d_tag) {
		case DT_NEEDED:
			if (e->n_needed < AM_ELF_MAX_NEEDED)
				e->needed[e->n_needed++] = s;
			break;
		case DT_SONAME:  e->soname = s; break;
		case DT_RUNPATH: e->runpath = s; break;
		case DT_RPATH:   e->rpath = s; break;
		}
	}
}

struct am_elf *am_elf__open(const char *path)
{
	struct am_elf *e;
	Elf_Scn *scn = NULL;
	size_t i;
	int err;

	if (!libelf_ready()) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = am_open_target(path, false); /* a FIFO there must not block us */
	if (e->fd < 0) {
		err = errno;
		goto fail;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || gelf_getclass(e->elf) != ELFCLASS64 ||
	    !gelf_getehdr(e->elf, &e->ehdr) || elf_getphdrnum(e->elf, &e->phnum)) {
		err = ENOEXEC;
		goto fail;
	}
	if (e->phnum) {
		e->phdr = calloc(e->phnum, sizeof(*e->phdr));
		if (!e->phdr) {
			err = ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < e->phnum; i++) {
		if (!gelf_getphdr(e->elf, (int)i, &e->phdr[i])) {
			err = ENOEXEC;
			goto fail;
		}
		if (e->phdr[i].p_type == PT_INTERP && !e->interp && e->phdr[i].p_filesz < 4096) {
			char *s = calloc(1, e->phdr[i].p_filesz + 1);

			if (s && pread(e->fd, s, e->phdr[i].p_filesz, (off_t)e->phdr[i].p_offset) < 0)
				s[0] = '\0';
			e->interp = s;
		}
	}
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM)
			load_symtab(scn, &sh, &e->dynsym);
		else if (sh.sh_type == SHT_SYMTAB)
			load_symtab(scn, &sh, &e->symtab);
		else if (sh.sh_type == SHT_GNU_versym)
			e->dynsym.versym = elf_getdata(scn, NULL);
		else if (sh.sh_type == SHT_DYNAMIC)
			load_dynamic(e, scn, &sh);
	}
	return e;
fail:
	am_elf__close(e);
	errno = err;
	return NULL;
}

void am_elf__close(struct am_elf *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e->phdr);
	free((char *)e->interp);
	free(e);
}

/* "malloc" matches "malloc", "malloc@GLIBC_2.2.5" and "malloc@@GLIBC_2.2.5". */
static bool name_matches(const char *symname, const char *name)
{
	size_t n = strlen(name);

	return strncmp(symname, name, n) == 0 && (symname[n] == '\0' || symname[n] == '@');
}

/* Is dynsym entry i a hidden (non-default, "@" rather than "@@") version? */
static bool is_hidden_version(const struct am_symtab *t, size_t i, const char *symname)
{
	const char *at = strchr(symname, '@');

	if (at)
		return at[1] != '@';
	if (t->versym) {
		GElf_Versym v;

		if (gelf_getversym(t->versym, (int)i, &v))
			return (v & 0x8000) != 0;
	}
	return false;
}

/* Scans one table. any: accept every defined symbol (has_sym); otherwise only
 * global/weak FUNC/IFUNC. A default version wins over a hidden one. Returns 1
 * with *out set, 0 when none. */
static int scan(struct am_elf *e, struct am_symtab *t, const char *name, bool any,
		GElf_Sym *out)
{
	bool have = false, have_hidden = false;
	size_t i;

	if (!t->present)
		return 0;
	for (i = 1; i < t->count; i++) {
		GElf_Sym s;
		const char *sn;
		int type, bind;
		bool hidden;

		if (!gelf_getsym(t->data, (int)i, &s) || s.st_shndx == SHN_UNDEF || !s.st_name)
			continue;
		type = GELF_ST_TYPE(s.st_info);
		bind = GELF_ST_BIND(s.st_info);
		if (!any) {
			if (type != STT_FUNC && type != STT_GNU_IFUNC)
				continue;
			if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
				continue;
		}
		sn = elf_strptr(e->elf, t->strndx, s.st_name);
		if (!sn || !name_matches(sn, name))
			continue;
		hidden = is_hidden_version(t, i, sn);
		if (!have || (have_hidden && !hidden)) {
			*out = s;
			have = true;
			have_hidden = hidden;
		}
		if (!hidden)
			break;
	}
	return have;
}

int am_elf__vaddr_to_off(struct am_elf *e, uint64_t vaddr, uint64_t *file_off)
{
	size_t i;

	for (i = 0; i < e->phnum; i++) {
		const GElf_Phdr *p = &e->phdr[i];

		if (p->p_type != PT_LOAD)
			continue;
		if (vaddr >= p->p_vaddr && vaddr < p->p_vaddr + p->p_filesz) {
			*file_off = vaddr - p->p_vaddr + p->p_offset;
			return 0;
		}
	}
	return -EINVAL;
}

int am_elf__find_sym(struct am_elf *e, const char *name, struct am_elf_sym *out)
{
	GElf_Sym s;
	bool dyn = true;
	int err;

	if (!scan(e, &e->dynsym, name, false, &s)) {
		dyn = false;
		if (!scan(e, &e->symtab, name, false, &s))
			return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	out->vaddr = s.st_value;
	out->size = s.st_size;
	out->ifunc = GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC;
	out->dynamic = dyn;
	err = am_elf__vaddr_to_off(e, s.st_value, &out->file_off);
	if (err)
		return err;
	return out->ifunc ? AM_ELF_IFUNC : 0;
}

int am_elf__find_func(struct am_elf *e, const char *name, uint64_t *file_off, uint64_t *size)
{
	struct am_elf_sym s;
	int ret = am_elf__find_sym(e, name, &s);

	if (ret < 0)
		return ret;
	if (file_off)
		*file_off = s.file_off;
	if (size)
		*size = s.size;
	return ret;
}

bool am_elf__has_sym(struct am_elf *e, const char *name)
{
	GElf_Sym s;

	return scan(e, &e->dynsym, name, true, &s) ||
	       scan(e, &e->symtab, name, true, &s);
}

bool am_elf__has_symbols(struct am_elf *e)
{
	return e->dynsym.present || e->symtab.present;
}

ssize_t am_elf__read(struct am_elf *e, uint64_t file_off, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(e->fd, (char *)buf + done, len - done, (off_t)(file_off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

bool am_elf__is_static(struct am_elf *e)
{
	size_t i;

	for (i = 0; i < e->phnum; i++)
		if (e->phdr[i].p_type == PT_INTERP)
			return false;
	return true;
}

const char *am_elf__interp(struct am_elf *e) { return e->interp && e->interp[0] ? e->interp : NULL; }
int am_elf__type(struct am_elf *e) { return e->ehdr.e_type; }
int am_elf__machine(struct am_elf *e) { return e->ehdr.e_machine; }
size_t am_elf__needed_count(struct am_elf *e) { return e->n_needed; }
const char *am_elf__needed(struct am_elf *e, size_t i) { return i < e->n_needed ? e->needed[i] : NULL; }
const char *am_elf__soname(struct am_elf *e) { return e->soname; }
const char *am_elf__runpath(struct am_elf *e) { return e->runpath; }
const char *am_elf__rpath(struct am_elf *e) { return e->rpath; }
