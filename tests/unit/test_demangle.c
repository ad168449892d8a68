// SPDX-License-Identifier: GPL-2.0
/* test_demangle.c - unit tests of am_demangle (demangle.c): C++ names
 * (operators, templates, clones, versioned dynamic symbols), Rust legacy
 * and v0 names, and names that must stay as they are (plain C, garbage). */
#include <stdlib.h>
#include "check.h"
#include "demangle.h"

static void want(const char *sym, const char *dm)
{
	char *got = am_demangle(sym);

	if (dm)
		CHECK_STR(got, dm, sym);
	else
		CHECK(got == NULL, sym);
	free(got);
}

int main(void)
{
	want("_Znwm", "operator new(unsigned long)");
	want("_ZdlPvm", "operator delete(void*, unsigned long)");
	want("_Znam", "operator new[](unsigned long)");
	want("_ZNSt6vectorIlSaIlEE17_M_realloc_insertIJRKlEEEvN9__gnu_cxx17__normal_iteratorIPlS1_EEDpOT_",
	     "void std::vector<long, std::allocator<long> >::_M_realloc_insert<long const&>"
	     "(__gnu_cxx::__normal_iterator<long*, std::vector<long, std::allocator<long> > >, long const&)");
	want("_ZN3foo3barEv.isra.0", "foo::bar() [clone .isra.0]");
	want("_ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE4sizeEv",
	     "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::size() const");
	/* a versioned dynamic symbol keeps its version */
	want("_ZdlPv@@GLIBCXX_3.4", "operator delete(void*)@@GLIBCXX_3.4");
	want("_ZSt9terminatev@GLIBCXX_3.4", "std::terminate()@GLIBCXX_3.4");
	/* Rust: legacy (its hash dropped) and v0 */
	want("_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write");
	want("_ZN3std2rt10lang_start17h1a2b3c4d5e6f7a8bE", "std::rt::lang_start");
	want("_RNvCs1234_7mycrate3foo", "mycrate::foo");
	/* not mangled, or not demangling: NULL, the caller keeps the symbol */
	want("main", NULL);
	want("_start", NULL);
	want("__libc_malloc", NULL);
	want("__libc_start_main@@GLIBC_2.34", NULL);
	want("_Z", NULL);
	want("_ZZ", NULL);
	want("_R", NULL);
	want("_Zfoo@", NULL);
	want("", NULL);
	want(NULL, NULL);
	return check_report("demangle");
}
