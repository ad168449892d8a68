// SPDX-License-Identifier: GPL-2.0
/* jsonw.h - the streaming JSON writer: every piece of JSON allocmap writes
 * (the JSON Lines trace, the HTML report's data block, the Perfetto trace,
 * compare --json and its page's data, demo --json) goes through it, so
 * there is one escaping routine for JSON strings in the tree.
 * Values go into a fixed buffer inside struct jsonw and reach the FILE only
 * when it fills or on jsonw_flush(): no heap allocation and no stdio call per
 * value, since the trace may stream about a million records a second. To
 * build JSON in memory, give it an open_memstream() FILE.
 * Commas are inserted automatically from the nesting state; the caller only
 * opens/closes containers, writes keys before object members, and ends each
 * record with jsonw_eol(). Nesting deeper than JSONW_MAX_DEPTH is a caller
 * bug: the output stays well-formed only up to that depth. */
#ifndef ALLOCMAP_JSONW_H
#define ALLOCMAP_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSONW_BUF_SIZE  (64 * 1024)
#define JSONW_MAX_DEPTH 64

struct jsonw {
	FILE    *f;          /* destination */
	size_t   len;        /* bytes pending in buf */
	unsigned depth;      /* open containers */
	bool     after_key;  /* a key (or jsonw_nl's separator) was written: the
	                        next value needs no comma */
	bool     html;       /* strings safe inside an HTML <script> (jsonw_set_html) */
	bool     err;        /* a write to f failed (sticky) */
	int      errnum;     /* errno of that first failed write */
	uint64_t has_elem;   /* bit d: the container at depth d has an element already */
	char     buf[JSONW_BUF_SIZE];
};

void jsonw_init(struct jsonw *w, FILE *f);
/* A writer on the heap (struct jsonw holds its 64 KiB buffer), initialised;
 * NULL when out of memory. Free it with free() after jsonw_flush(). */
struct jsonw *jsonw_new(FILE *f);
/* html: from now on strings and keys also escape '<', '>' and '&' as
 * \u003c \u003e \u0026 and U+2028/U+2029 as \u2028 \u2029, so that no
 * string can end, comment out or open the <script> element the JSON is
 * embedded in, nor end a line of JavaScript source. Punctuation and
 * numbers never hold those characters: such output has no '<' at all. */
void jsonw_set_html(struct jsonw *w, bool html);
/* Writes pending bytes to the FILE (does not fflush it). 0, or -1 if any
 * write since init failed. */
int jsonw_flush(struct jsonw *w);

void jsonw_obj_open(struct jsonw *w);
void jsonw_obj_close(struct jsonw *w);
void jsonw_arr_open(struct jsonw *w);
void jsonw_arr_close(struct jsonw *w);
/* Ends a JSON Lines record: writes '\n' (call at depth 0, or just before
 * closing a container). */
void jsonw_eol(struct jsonw *w);
/* Inside an array: the separator the next element needs, then '\n', so a
 * long array reads one element per line. A value must follow. */
void jsonw_nl(struct jsonw *w);

/* An object member name; the next call writes its value. */
void jsonw_key(struct jsonw *w, const char *key);

/* Values. Strings are escaped: '"', '\\', and every control character below
 * 0x20 (\n \t \r \b \f, others as \u00XX); well-formed UTF-8 passes through
 * unchanged, every byte that is not (a name from the target may hold any
 * byte) becomes \ufffd, so the output is valid UTF-8 JSON whatever the
 * input. A NULL string is written as null. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
void jsonw_u64(struct jsonw *w, uint64_t v);
void jsonw_s64(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* "0x1f" style string: lowercase, no leading zeros, "0x0" for 0. */
void jsonw_hex(struct jsonw *w, uint64_t v);
/* A double: decimals < 0 as printf's "%.17g" (round-trips), else with that
 * many digits after the point ("%.*f", at most 17). NaN and infinities,
 * which JSON cannot hold, are written as null. printf's decimal point:
 * '.' in the C locale, the only one a JSON writer runs in (only `top`
 * calls setlocale, and it writes no JSON). */
void jsonw_f64(struct jsonw *w, double v, int decimals);
/* v / 10^decimals exactly, with all its decimals: jsonw_ufrac(w, 1234, 3)
 * writes 1.234 (nanoseconds as microseconds without a double's rounding).
 * decimals <= 19. */
void jsonw_ufrac(struct jsonw *w, uint64_t v, unsigned decimals);
/* One value that is already JSON, copied as it is (with the separator it
 * needs): json[0..n) must be a complete value written by a jsonw with the
 * same html setting (e.g. into an open_memstream buffer). Nothing else may
 * be spliced: this is how the writer's guarantees carry over. */
void jsonw_raw(struct jsonw *w, const char *json, size_t n);

/* key + value shorthands */
void jsonw_kstr(struct jsonw *w, const char *key, const char *s);
void jsonw_ku64(struct jsonw *w, const char *key, uint64_t v);
void jsonw_ks64(struct jsonw *w, const char *key, int64_t v);
void jsonw_kbool(struct jsonw *w, const char *key, bool v);
void jsonw_khex(struct jsonw *w, const char *key, uint64_t v);
void jsonw_kf64(struct jsonw *w, const char *key, double v, int decimals);
void jsonw_knull(struct jsonw *w, const char *key);
void jsonw_kobj_open(struct jsonw *w, const char *key);
void jsonw_karr_open(struct jsonw *w, const char *key);

#endif /* ALLOCMAP_JSONW_H */
