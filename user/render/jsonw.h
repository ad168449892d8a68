// SPDX-License-Identifier: GPL-2.0
/* jsonw.h - a small streaming JSON writer for the JSON Lines output.
 * Values go into a fixed buffer inside struct jsonw and reach the FILE only
 * when it fills or on jsonw_flush(): no heap allocation and no stdio call per
 * value, since the trace may stream about a million records a second.
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
	bool     after_key;  /* a key was written: the next value needs no comma */
	bool     err;        /* a write to f failed (sticky) */
	int      errnum;     /* errno of that first failed write */
	uint64_t has_elem;   /* bit d: the container at depth d has an element already */
	char     buf[JSONW_BUF_SIZE];
};

void jsonw_init(struct jsonw *w, FILE *f);
/* Writes pending bytes to the FILE (does not fflush it). 0, or -1 if any
 * write since init failed. */
int jsonw_flush(struct jsonw *w);

void jsonw_obj_open(struct jsonw *w);
void jsonw_obj_close(struct jsonw *w);
void jsonw_arr_open(struct jsonw *w);
void jsonw_arr_close(struct jsonw *w);
/* Ends a JSON Lines record: writes '\n' (call at depth 0). */
void jsonw_eol(struct jsonw *w);

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

/* Writes s[0..n) to f as one JSON string, quotes included, escaped as
 * jsonw_strn does. html: also '<', '>', '&' as \u003c.. and U+2028/2029
 * escaped, so that no string can end, comment out or open a <script>
 * element it is embedded in (the HTML report's data block). */
void jsonw_fstr(FILE *f, const char *s, size_t n, bool html);

/* key + value shorthands */
void jsonw_kstr(struct jsonw *w, const char *key, const char *s);
void jsonw_ku64(struct jsonw *w, const char *key, uint64_t v);
void jsonw_ks64(struct jsonw *w, const char *key, int64_t v);
void jsonw_kbool(struct jsonw *w, const char *key, bool v);
void jsonw_khex(struct jsonw *w, const char *key, uint64_t v);
void jsonw_kobj_open(struct jsonw *w, const char *key);
void jsonw_karr_open(struct jsonw *w, const char *key);

#endif /* ALLOCMAP_JSONW_H */
