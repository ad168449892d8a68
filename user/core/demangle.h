// SPDX-License-Identifier: GPL-2.0
/* demangle.h - C++ and Rust symbol names as people read them
 * ("_Znwm" -> "operator new(unsigned long)", "_ZN4core3fmt5write17h..E" ->
 * "core::fmt::write", "_RNv..." -> the Rust v0 path), with GNU libiberty's
 * demangler (Debian libiberty-dev). Used wherever a symbol becomes a frame
 * name (tracer/unwind.c); callers cache the result per symbol. */
#ifndef ALLOCMAP_DEMANGLE_H
#define ALLOCMAP_DEMANGLE_H

/* The demangled form of sym (with its parameter list), malloc'ed, or NULL
 * when sym is not a mangled C++/Rust name (plain C symbols, "main") or does
 * not demangle. A symbol version suffix ("@@GLIBCXX_3.4") is kept after the
 * demangled name. */
char *am_demangle(const char *sym);

#endif /* ALLOCMAP_DEMANGLE_H */
