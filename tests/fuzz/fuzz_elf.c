// SPDX-License-Identifier: GPL-2.0
/* fuzz_elf.c - libFuzzer harness of the ELF reader (user/probe/elfsym.c) that
 * allocmap runs, as root, on every object a traced program maps: the
 * program's owner controls those files. The input is an ELF file (seeds:
 * small real objects in tests/fuzz/corpus/elf/); every query the resolver
 * makes is asked of it, and the bytes of a found function go through the
 * probe placement decoder (user/probe/placement.c), as resolve.c does. */
#include <string.h>
#include "elfsym.h"
#include "fuzz_util.h"
#include "placement.h"

static const char *const names[] = { "malloc", "free", "calloc", "realloc", "main", "_start",
				     "_Znwm", "je_malloc", "mp_", "" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct am_elf *e;
	int fd;

	if (size > (4 << 20))
		return 0;
	fd = fuzz_memfile(data, size, path, sizeof(path));
	e = am_elf__open(path);
	if (e) {
		struct am_elf_sym sym;
		uint64_t off, len, voff;
		uint8_t code[64];

		(void)am_elf__is_static(e);
		(void)am_elf__interp(e);
		(void)am_elf__type(e);
		(void)am_elf__machine(e);
		(void)am_elf__soname(e);
		(void)am_elf__runpath(e);
		(void)am_elf__rpath(e);
		(void)am_elf__has_symbols(e);
		for (size_t i = 0; i < am_elf__needed_count(e); i++) {
			const char *n = am_elf__needed(e, i);

			if (n)
				(void)strlen(n);
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			(void)am_elf__has_sym(e, names[i]);
			(void)am_elf__find_sym(e, names[i], &sym);
			if (am_elf__find_func(e, names[i], &off, &len) == 0) {
				ssize_t n = am_elf__read(e, off, code, sizeof(code));
				struct am_placement pl;

				if (n > 0)
					am_place_probe(code, (size_t)n, off, 1, true, &pl);
			}
		}
		(void)am_elf__vaddr_to_off(e, 0x1000, &voff);
		(void)am_elf__vaddr_to_off(e, UINT64_MAX - 8, &voff);
		am_elf__close(e);
	}
	close(fd);
	return 0;
}
