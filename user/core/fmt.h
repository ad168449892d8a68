// SPDX-License-Identifier: GPL-2.0
/* fmt.h - decoders shared by the text and JSON renderers: memory syscall
 * arguments (prot, mmap/mremap flags, madvise advice), errno names, and the
 * human size formatter. Each writes a NUL-terminated string into a caller
 * buffer (AM_FMT_BUF bytes is always enough) and returns that buffer, so a
 * call can sit directly in a printf argument list. No heap allocation. */
#ifndef ALLOCMAP_FMT_H
#define ALLOCMAP_FMT_H

#include <stddef.h>
#include <stdint.h>

#define AM_FMT_BUF 256 /* big enough for every decoder below */

/* "PROT_READ|PROT_WRITE", "PROT_NONE" for 0; unknown bits as "|0x..." */
const char *am_fmt_prot(char *buf, size_t sz, uint64_t prot);
/* "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE"; "0" for 0; unknown bits as "|0x..." */
const char *am_fmt_mmap_flags(char *buf, size_t sz, uint64_t flags);
/* "MREMAP_MAYMOVE|MREMAP_FIXED"; "0" for 0; unknown bits as "|0x..." */
const char *am_fmt_mremap_flags(char *buf, size_t sz, uint64_t flags);
/* "MADV_DONTNEED"; an unknown advice as its decimal value */
const char *am_fmt_madv(char *buf, size_t sz, uint64_t advice);
/* The inverses, for readers of a trace: the value a string written by
 * am_fmt_prot / am_fmt_mremap_flags / am_fmt_madv stands for in *v.
 * Return 0, or -1 when s is not a string they write. */
int am_parse_prot(const char *s, uint64_t *v);
int am_parse_mremap_flags(const char *s, uint64_t *v);
int am_parse_madv(const char *s, uint64_t *v);
/* errno name for a positive errno value: "ENOMEM"; unknown: "errno 4242" */
const char *am_fmt_errno(char *buf, size_t sz, int err);
/* Human size, exact when it can be: whole MiB/GiB as "2 MiB", whole KiB as
 * "132 KiB" / "1028 KiB", other sizes under 1 MiB as bytes ("200000 B"),
 * other sizes from 1 MiB up with one decimal ("1.5 MiB", "3.2 GiB"). */
const char *am_fmt_size(char *buf, size_t sz, uint64_t bytes);
/* The size a person reads (tables, top, compare): three significant digits
 * in the largest binary unit that keeps the number under 1000: "512 B",
 * "1.00 KiB", "97.7 KiB", "392 KiB", "1.60 MiB"; bytes under 1024 exactly
 * ("1023 B"); from 999.5 of a unit up, the next one ("0.98 MiB" for
 * 999.5 KiB, "1.00 MiB" for 1023.5 KiB). Exact bytes belong in JSON. */
const char *am_fmt_size3(char *buf, size_t sz, uint64_t bytes);
/* bytes in the unit and with the decimals am_fmt_size3 gives max, so a
 * column or row of sizes (max = its largest) shares one unit and lines up at
 * the point: with max 1.60 MiB, 401272 B is "0.38 MiB"; a value that is not
 * 0 but rounds to 0 there is "<0.01 MiB", 0 is "0 MiB". */
const char *am_fmt_size_in(char *buf, size_t sz, uint64_t bytes, uint64_t max);

/* Length of the well-formed UTF-8 sequence at p (1 for ASCII), 0 when the
 * bytes there are not one (stray continuation byte, overlong form,
 * surrogate, past U+10FFFF, cut by end). Names come from the traced program
 * and may hold any byte: every renderer decides per sequence. */
size_t am_utf8_len(const unsigned char *p, const unsigned char *end);
/* s made printable for a terminal or a line-based file: control characters
 * (C0, DEL, C1), bytes that are not UTF-8 and the backslash itself written as
 * \xNN (\\), so no escape sequence or newline from a symbol, file or object
 * name reaches the output raw. Returns s itself when nothing needs escaping
 * (the usual case), else buf (cut to sz, never mid-escape). */
const char *am_printable(char *buf, size_t sz, const char *s);

#endif /* ALLOCMAP_FMT_H */
