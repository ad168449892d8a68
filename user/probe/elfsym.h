// SPDX-License-Identifier: GPL-2.0
/* elfsym.h - ELF symbol lookup with libelf, as much as probe placement needs:
 * find a defined function by name (versioned names too), turn its virtual
 * address into the FILE offset a uprobe attach wants, read its code bytes,
 * and answer the dynamic-linking questions resolve.c asks (static or not,
 * DT_NEEDED, DT_RUNPATH/DT_RPATH, DT_SONAME, interpreter). */
#ifndef ALLOCMAP_ELFSYM_H
#define ALLOCMAP_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct am_elf;

/* What am_elf__find_sym() found. */
struct am_elf_sym {
	uint64_t vaddr;     /* st_value */
	uint64_t file_off;  /* vaddr translated through the PT_LOAD headers */
	uint64_t size;      /* st_size (0 when the symbol has none) */
	bool     ifunc;     /* STT_GNU_IFUNC: vaddr is the resolver, not the implementation */
	bool     dynamic;   /* found in .dynsym (else .symtab) */
};

#define AM_ELF_IFUNC 1 /* am_elf__find_func(): the symbol is an STT_GNU_IFUNC */

/* Opens an ELF file read-only. Returns NULL with errno set on failure
 * (ENOEXEC when the file is not a 64-bit ELF object). */
struct am_elf *am_elf__open(const char *path);
/* Accepts NULL. */
void am_elf__close(struct am_elf *e);

/* Looks up a DEFINED global/weak STT_FUNC or STT_GNU_IFUNC symbol called
 * name, in .dynsym first, then .symtab. "malloc" also matches the versioned
 * spellings "malloc@@GLIBC_2.2.5" / "malloc@GLIBC_2.2.5"; a default (or
 * unversioned) definition is preferred over a hidden compat version.
 * Returns 0 (STT_FUNC) or AM_ELF_IFUNC with the fields filled, -ENOENT when
 * no such definition exists, -EINVAL when its address lies in no PT_LOAD. */
int am_elf__find_sym(struct am_elf *e, const char *name, struct am_elf_sym *out);

/* The short form: file offset and size of the function. file_off and size
 * may be NULL. Returns 0, AM_ELF_IFUNC, -ENOENT or -EINVAL as above. */
int am_elf__find_func(struct am_elf *e, const char *name, uint64_t *file_off, uint64_t *size);

/* Is there any defined symbol called name (any type, any binding, local
 * ones of .symtab included)? Used to recognise glibc's internals
 * (_int_malloc, main_arena) in static executables. */
bool am_elf__has_sym(struct am_elf *e, const char *name);

/* Does the file have a symbol table at all (.dynsym or .symtab)? */
bool am_elf__has_symbols(struct am_elf *e);

/* Reads up to len bytes at file offset file_off. Returns the number of bytes
 * read (short only at end of file) or -errno. */
ssize_t am_elf__read(struct am_elf *e, uint64_t file_off, void *buf, size_t len);

/* Converts a virtual address to a file offset through PT_LOAD. Returns 0 or
 * -EINVAL when no loaded, file-backed segment holds it. */
int am_elf__vaddr_to_off(struct am_elf *e, uint64_t vaddr, uint64_t *file_off);

/* No PT_INTERP: the program is not run through the dynamic linker (only
 * meaningful for executables: shared libraries have no PT_INTERP either). */
bool am_elf__is_static(struct am_elf *e);
/* PT_INTERP contents, or NULL. */
const char *am_elf__interp(struct am_elf *e);
/* ET_EXEC / ET_DYN / ...; e_machine (EM_X86_64 = 62). */
int am_elf__type(struct am_elf *e);
int am_elf__machine(struct am_elf *e);

/* Dynamic section strings; NULL when absent. Valid until am_elf__close(). */
size_t am_elf__needed_count(struct am_elf *e);
const char *am_elf__needed(struct am_elf *e, size_t i);
const char *am_elf__soname(struct am_elf *e);
const char *am_elf__runpath(struct am_elf *e);
const char *am_elf__rpath(struct am_elf *e);

#endif /* ALLOCMAP_ELFSYM_H */
