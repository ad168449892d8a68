// SPDX-License-Identifier: GPL-2.0
/* jsonw.c - the streaming JSON writer (see jsonw.h). Everything is appended
 * to w->buf through reserve(), which drains the buffer to the FILE when the
 * next piece might not fit; the hot paths (integers, hex, plain strings)
 * format by hand instead of going through snprintf (doubles, rare, do). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "jsonw.h"

void jsonw_init(struct jsonw *w, FILE *f)
{
	w->f = f;
	w->len = 0;
	w->depth = 0;
	w->after_key = false;
	w->html = false;
	w->err = false;
	w->errnum = 0;
	w->has_elem = 0;
}

struct jsonw *jsonw_new(FILE *f)
{
	struct jsonw *w = malloc(sizeof(*w));

	if (w)
		jsonw_init(w, f);
	return w;
}

void jsonw_set_html(struct jsonw *w, bool html)
{
	w->html = html;
}

static void fail(struct jsonw *w)
{
	if (!w->err)
		w->errnum = errno ? errno : EIO;
	w->err = true;
}

int jsonw_flush(struct jsonw *w)
{
	if (w->len) {
		errno = 0;
		if (fwrite(w->buf, 1, w->len, w->f) != w->len)
			fail(w);
		w->len = 0;
	}
	return w->err ? -1 : 0;
}

/* Makes room for n more bytes (n <= JSONW_BUF_SIZE) and returns where they go. */
static inline char *reserve(struct jsonw *w, size_t n)
{
	if (w->len + n > sizeof(w->buf))
		jsonw_flush(w);
	return w->buf + w->len;
}

static inline void put_raw(struct jsonw *w, const char *s, size_t n)
{
	if (n > sizeof(w->buf)) {
		jsonw_flush(w);
		errno = 0;
		if (fwrite(s, 1, n, w->f) != n)
			fail(w);
		return;
	}
	memcpy(reserve(w, n), s, n);
	w->len += n;
}

static inline void put_c(struct jsonw *w, char c)
{
	*reserve(w, 1) = c;
	w->len++;
}

/* Separator before a value or a key: a comma unless this is the first
 * element of its container, or the value that follows a key. */
static inline void sep(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth && w->depth <= JSONW_MAX_DEPTH) {
		uint64_t bit = 1ULL << (w->depth - 1);

		if (w->has_elem & bit)
			put_c(w, ',');
		w->has_elem |= bit;
	}
}

static void open_c(struct jsonw *w, char c)
{
	sep(w);
	put_c(w, c);
	w->depth++;
	if (w->depth <= JSONW_MAX_DEPTH)
		w->has_elem &= ~(1ULL << (w->depth - 1));
}

static void close_c(struct jsonw *w, char c)
{
	if (w->depth)
		w->depth--;
	w->after_key = false;
	put_c(w, c);
}

void jsonw_obj_open(struct jsonw *w) { open_c(w, '{'); }
void jsonw_obj_close(struct jsonw *w) { close_c(w, '}'); }
void jsonw_arr_open(struct jsonw *w) { open_c(w, '['); }
void jsonw_arr_close(struct jsonw *w) { close_c(w, ']'); }

void jsonw_eol(struct jsonw *w)
{
	put_c(w, '\n');
	w->after_key = false;
}

void jsonw_nl(struct jsonw *w)
{
	sep(w);
	put_c(w, '\n');
	w->after_key = true;    /* the separator is out: the value needs none */
}

/* 0 = byte passes through; else the character after the backslash
 * ('u' = \u00XX form). esc_html also escapes what could end, comment out
 * or open a <script> element. */
#define ESC_JSON \
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', \
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', \
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', \
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', \
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u', \
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u', \
	[0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\'
static const char esc_tab[256] = { ESC_JSON };
static const char esc_html[256] = { ESC_JSON, ['<'] = 'u', ['>'] = 'u', ['&'] = 'u' };

static const char hexd[] = "0123456789abcdef";

/* Writes \u followed by 4 hex digits of c. */
static void put_u(struct jsonw *w, unsigned c)
{
	char *o = reserve(w, 6);

	o[0] = '\\'; o[1] = 'u';
	o[2] = hexd[c >> 12 & 15]; o[3] = hexd[c >> 8 & 15];
	o[4] = hexd[c >> 4 & 15]; o[5] = hexd[c & 15];
	w->len += 6;
}

/* Writes s[0..n) as a quoted, escaped JSON string (jsonw.h says how): runs
 * of plain bytes are copied in one piece. The one JSON string escaper of
 * the tree; inlined twice by put_string, so that the plain writer's loop
 * has a constant table and no html test (the trace's hot path). */
static inline __attribute__((always_inline)) void
put_string_as(struct jsonw *w, const char *s, size_t n, const char *tab, bool html)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;

	put_c(w, '"');
	for (; p < end; p++) {
		char e = tab[*p];

		if (*p >= 0x80) {
			size_t k = am_utf8_len(p, end);
			/* U+2028/2029 end a line in JavaScript source */
			bool ls = html && k == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
				  (p[2] == 0xa8 || p[2] == 0xa9);

			if (k && !ls) {
				p += k - 1;     /* well-formed: passes through */
				continue;
			}
			put_raw(w, (const char *)run, (size_t)(p - run));
			if (ls) {
				put_u(w, p[2] == 0xa8 ? 0x2028 : 0x2029);
				p += 2;
			} else {
				/* not UTF-8 (a name from the target): U+FFFD,
				 * so the output stays valid JSON */
				put_u(w, 0xfffd);
			}
			run = p + 1;
			continue;
		}
		if (!e)
			continue;
		put_raw(w, (const char *)run, (size_t)(p - run));
		run = p + 1;
		if (e == 'u') {
			put_u(w, *p);
		} else {
			char *o = reserve(w, 2);

			o[0] = '\\'; o[1] = e;
			w->len += 2;
		}
	}
	put_raw(w, (const char *)run, (size_t)(end - run));
	put_c(w, '"');
}

static void put_string(struct jsonw *w, const char *s, size_t n)
{
	if (w->html)
		put_string_as(w, s, n, esc_html, true);
	else
		put_string_as(w, s, n, esc_tab, false);
}

void jsonw_key(struct jsonw *w, const char *key)
{
	sep(w);
	put_string(w, key, strlen(key));
	put_c(w, ':');
	w->after_key = true;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
	sep(w);
	put_string(w, s, n);
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (!s) {
		jsonw_null(w);
		return;
	}
	jsonw_strn(w, s, strlen(s));
}

/* Decimal digits of v, written backwards ending at end; returns the start. */
static inline char *u64_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void jsonw_u64(struct jsonw *w, uint64_t v)
{
	char tmp[24], *p = u64_digits(tmp + sizeof(tmp), v);

	sep(w);
	put_raw(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jsonw_s64(struct jsonw *w, int64_t v)
{
	char tmp[24], *p;
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	p = u64_digits(tmp + sizeof(tmp), mag);
	if (v < 0)
		*--p = '-';
	sep(w);
	put_raw(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jsonw_hex(struct jsonw *w, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	*--p = '"';
	do {
		*--p = hexd[v & 15];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	*--p = '"';
	sep(w);
	put_raw(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jsonw_f64(struct jsonw *w, double v, int decimals)
{
	char tmp[352];  /* "%.17f" of -DBL_MAX: 309 digits, sign, point, 17 */
	int n;

	if (!isfinite(v)) {
		jsonw_null(w);
		return;
	}
	if (decimals > 17)
		decimals = 17;
	if (decimals < 0)
		n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	else
		n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
	if (n <= 0 || (size_t)n >= sizeof(tmp)) {
		jsonw_null(w);  /* cannot happen with the sizes above */
		return;
	}
	sep(w);
	put_raw(w, tmp, (size_t)n);
}

void jsonw_ufrac(struct jsonw *w, uint64_t v, unsigned decimals)
{
	char tmp[48], *end = tmp + sizeof(tmp), *p = end;
	uint64_t p10 = 1;

	if (decimals > 19)
		decimals = 19;
	for (unsigned i = 0; i < decimals; i++)
		p10 *= 10;
	if (decimals) {
		uint64_t frac = v % p10;

		for (unsigned i = 0; i < decimals; i++, frac /= 10)
			*--p = (char)('0' + frac % 10);
		*--p = '.';
	}
	p = u64_digits(p, v / p10);
	sep(w);
	put_raw(w, p, (size_t)(end - p));
}

void jsonw_raw(struct jsonw *w, const char *json, size_t n)
{
	sep(w);
	put_raw(w, json, n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
	sep(w);
	if (v)
		put_raw(w, "true", 4);
	else
		put_raw(w, "false", 5);
}

void jsonw_null(struct jsonw *w)
{
	sep(w);
	put_raw(w, "null", 4);
}

void jsonw_kstr(struct jsonw *w, const char *key, const char *s) { jsonw_key(w, key); jsonw_str(w, s); }
void jsonw_ku64(struct jsonw *w, const char *key, uint64_t v) { jsonw_key(w, key); jsonw_u64(w, v); }
void jsonw_ks64(struct jsonw *w, const char *key, int64_t v) { jsonw_key(w, key); jsonw_s64(w, v); }
void jsonw_kbool(struct jsonw *w, const char *key, bool v) { jsonw_key(w, key); jsonw_bool(w, v); }
void jsonw_khex(struct jsonw *w, const char *key, uint64_t v) { jsonw_key(w, key); jsonw_hex(w, v); }
void jsonw_kf64(struct jsonw *w, const char *key, double v, int decimals) { jsonw_key(w, key); jsonw_f64(w, v, decimals); }
void jsonw_knull(struct jsonw *w, const char *key) { jsonw_key(w, key); jsonw_null(w); }
void jsonw_kobj_open(struct jsonw *w, const char *key) { jsonw_key(w, key); jsonw_obj_open(w); }
void jsonw_karr_open(struct jsonw *w, const char *key) { jsonw_key(w, key); jsonw_arr_open(w); }
