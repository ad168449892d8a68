// SPDX-License-Identifier: GPL-2.0
/* demangle.c - C++ (Itanium ABI) and Rust (legacy and v0) demangling with
 * libiberty's cplus_demangle (demangle.h). DMGL_AUTO tries Rust first
 * (legacy Rust names are valid C++ names with a hash segment, which Rust
 * demangling drops), then the C++ ABI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libiberty/demangle.h>
#include "demangle.h"

char *am_demangle(const char *sym)
{
	const char *at;
	char *base, *dm, *out;
	size_t n;

	/* only _Z (C++, legacy Rust) and _R (Rust v0) names are mangled */
	if (!sym || sym[0] != '_' || (sym[1] != 'Z' && sym[1] != 'R'))
		return NULL;
	at = strchr(sym, '@');
	if (!at)
		return cplus_demangle(sym, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
	/* a versioned name from the dynamic symbol table: the name before '@' */
	n = (size_t)(at - sym);
	base = strndup(sym, n);
	if (!base)
		return NULL;
	dm = cplus_demangle(base, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
	free(base);
	if (!dm)
		return NULL;
	n = strlen(dm) + strlen(at) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s%s", dm, at);
	free(dm);
	return out;
}
