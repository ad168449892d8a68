// SPDX-License-Identifier: GPL-2.0
/* fmt.c - turns raw syscall argument values into the names strace would
 * print, and sizes into short human strings. Used by both renderers (the
 * JSON schema's "prot", "flags", "advice", "error" strings come from here),
 * so the spelling below is part of the public interface.
 *
 * Flag values are the generic Linux ones (x86_64 and arm64 share them); they
 * are spelled as numbers rather than taken from <sys/mman.h> so that the
 * decoding does not depend on which names the libc headers happen to define. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_user.h"
#include "fmt.h"

struct bit_name {
	uint64_t bit;
	const char *name;
};

/* Appends to buf at *pos, never past sz-1; keeps buf NUL-terminated. */
static void put(char *buf, size_t sz, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t sz, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= sz)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, sz - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos += (size_t)n;
	if (*pos >= sz)
		*pos = sz - 1;
}

/* Appends "|" (unless at the start) and name: the hot path of the flag
 * decoders, kept off vsnprintf. */
static void put_name(char *buf, size_t sz, size_t *pos, const char *name)
{
	size_t n = strlen(name), need = n + (*pos ? 1 : 0);

	if (*pos + need >= sz) {
		put(buf, sz, pos, "%s%s", *pos ? "|" : "", name);
		return;
	}
	if (*pos)
		buf[(*pos)++] = '|';
	memcpy(buf + *pos, name, n);
	*pos += n;
	buf[*pos] = '\0';
}

/* Writes the names of the bits of v found in tab joined by '|', then the
 * remaining unknown bits as one hex value; "zero" when v is 0. The caller
 * may have written a prefix already (*pos > 0), which counts as a name. */
static const char *bits(char *buf, size_t sz, size_t pos, uint64_t v,
			const struct bit_name *tab, size_t n, const char *zero)
{
	size_t i;

	if (!sz)
		return buf;
	buf[pos < sz ? pos : sz - 1] = '\0';
	for (i = 0; i < n; i++) {
		if ((v & tab[i].bit) != tab[i].bit)
			continue;
		put_name(buf, sz, &pos, tab[i].name);
		v &= ~tab[i].bit;
	}
	if (v)
		put(buf, sz, &pos, "%s0x%" PRIx64, pos ? "|" : "", v);
	else if (!pos)
		put(buf, sz, &pos, "%s", zero);
	return buf;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct bit_name prot_tab[] = {
	{ 0x1, "PROT_READ" },
	{ 0x2, "PROT_WRITE" },
	{ 0x4, "PROT_EXEC" },
	{ 0x8, "PROT_SEM" },
	{ 0x01000000, "PROT_GROWSDOWN" },
	{ 0x02000000, "PROT_GROWSUP" },
};

const char *am_fmt_prot(char *buf, size_t sz, uint64_t prot)
{
	return bits(buf, sz, 0, prot, prot_tab, N(prot_tab), "PROT_NONE");
}

#define MAP_TYPE_MASK   0x0fULL
#define MAP_HUGETLB_BIT 0x40000ULL
#define MAP_HUGE_SHIFT_ 26
#define MAP_HUGE_MASK_  0x3fULL

static const struct bit_name mmap_tab[] = {
	{ 0x10, "MAP_FIXED" },
	{ 0x20, "MAP_ANONYMOUS" },
#ifdef AM_ARCH_MMAP_FLAGS
	AM_ARCH_MMAP_FLAGS /* the architecture's own (arch_user.h) */
#endif
	{ 0x100, "MAP_GROWSDOWN" },
	{ 0x800, "MAP_DENYWRITE" },
	{ 0x1000, "MAP_EXECUTABLE" },
	{ 0x2000, "MAP_LOCKED" },
	{ 0x4000, "MAP_NORESERVE" },
	{ 0x8000, "MAP_POPULATE" },
	{ 0x10000, "MAP_NONBLOCK" },
	{ 0x20000, "MAP_STACK" },
	{ 0x40000, "MAP_HUGETLB" },
	{ 0x80000, "MAP_SYNC" },
	{ 0x100000, "MAP_FIXED_NOREPLACE" },
};

/* MAP_UNINITIALIZED (1<<26) shares its bit with the huge page size field,
 * which only means something together with MAP_HUGETLB. */
#define MAP_UNINITIALIZED_ 0x4000000ULL

/* Order: the mapping type, the known flags in table order, the huge page
 * size (with MAP_HUGETLB), then any unknown bits as one hex value. */
const char *am_fmt_mmap_flags(char *buf, size_t sz, uint64_t flags)
{
	size_t pos = 0, i;
	uint64_t type = flags & MAP_TYPE_MASK, rest = flags & ~MAP_TYPE_MASK;

	if (!sz)
		return buf;
	buf[0] = '\0';
	if (type == 1)
		put_name(buf, sz, &pos, "MAP_SHARED");
	else if (type == 2)
		put_name(buf, sz, &pos, "MAP_PRIVATE");
	else if (type == 3)
		put_name(buf, sz, &pos, "MAP_SHARED_VALIDATE");
	else if (type)
		rest |= type; /* no name: part of the hex remainder */

	for (i = 0; i < N(mmap_tab); i++) {
		if (!(rest & mmap_tab[i].bit))
			continue;
		put_name(buf, sz, &pos, mmap_tab[i].name);
		rest &= ~mmap_tab[i].bit;
	}
	if (flags & MAP_HUGETLB_BIT) {
		uint64_t shift = (rest >> MAP_HUGE_SHIFT_) & MAP_HUGE_MASK_;

		rest &= ~(MAP_HUGE_MASK_ << MAP_HUGE_SHIFT_);
		if (shift == 16 || shift == 21 || shift == 30)
			put(buf, sz, &pos, "%s%s", pos ? "|" : "",
			    shift == 16 ? "MAP_HUGE_64KB" : shift == 21 ? "MAP_HUGE_2MB" : "MAP_HUGE_1GB");
		else if (shift)
			put(buf, sz, &pos, "%s%" PRIu64 "<<MAP_HUGE_SHIFT", pos ? "|" : "", shift);
	} else if (rest & MAP_UNINITIALIZED_) {
		put(buf, sz, &pos, "%sMAP_UNINITIALIZED", pos ? "|" : "");
		rest &= ~MAP_UNINITIALIZED_;
	}
	if (rest)
		put(buf, sz, &pos, "%s0x%" PRIx64, pos ? "|" : "", rest);
	else if (!pos)
		put(buf, sz, &pos, "0");
	return buf;
}

static const struct bit_name mremap_tab[] = {
	{ 0x1, "MREMAP_MAYMOVE" },
	{ 0x2, "MREMAP_FIXED" },
	{ 0x4, "MREMAP_DONTUNMAP" },
};

const char *am_fmt_mremap_flags(char *buf, size_t sz, uint64_t flags)
{
	return bits(buf, sz, 0, flags, mremap_tab, N(mremap_tab), "0");
}

static const char *const madv_names[] = {
	[0] = "MADV_NORMAL",
	[1] = "MADV_RANDOM",
	[2] = "MADV_SEQUENTIAL",
	[3] = "MADV_WILLNEED",
	[4] = "MADV_DONTNEED",
	[8] = "MADV_FREE",
	[9] = "MADV_REMOVE",
	[10] = "MADV_DONTFORK",
	[11] = "MADV_DOFORK",
	[12] = "MADV_MERGEABLE",
	[13] = "MADV_UNMERGEABLE",
	[14] = "MADV_HUGEPAGE",
	[15] = "MADV_NOHUGEPAGE",
	[16] = "MADV_DONTDUMP",
	[17] = "MADV_DODUMP",
	[18] = "MADV_WIPEONFORK",
	[19] = "MADV_KEEPONFORK",
	[20] = "MADV_COLD",
	[21] = "MADV_PAGEOUT",
	[22] = "MADV_POPULATE_READ",
	[23] = "MADV_POPULATE_WRITE",
	[24] = "MADV_DONTNEED_LOCKED",
	[25] = "MADV_COLLAPSE",
};

const char *am_fmt_madv(char *buf, size_t sz, uint64_t advice)
{
	const char *name = NULL;

	if (advice < N(madv_names))
		name = madv_names[advice];
	else if (advice == 100)
		name = "MADV_HWPOISON";
	else if (advice == 101)
		name = "MADV_SOFT_OFFLINE";
	if (name)
		snprintf(buf, sz, "%s", name);
	else
		snprintf(buf, sz, "%" PRIu64, advice);
	return buf;
}

/* The value of a "NAME|NAME|0x..." string that bits() wrote with tab and
 * zero: 0, or -1 when s is not one it writes. */
static int parse_bits(const char *s, const struct bit_name *tab, size_t n, const char *zero,
		      uint64_t *v)
{
	*v = 0;
	if (!s || !*s)
		return -1;
	if (!strcmp(s, zero))
		return 0;
	while (*s) {
		size_t len = strcspn(s, "|"), i;

		for (i = 0; i < n; i++)
			if (strlen(tab[i].name) == len && !strncmp(s, tab[i].name, len))
				break;
		if (i < n) {
			*v |= tab[i].bit;
		} else if (len > 2 && !strncmp(s, "0x", 2)) {
			char *end;
			uint64_t x = strtoull(s + 2, &end, 16);

			if (end != s + len)
				return -1;
			*v |= x;
		} else {
			return -1;
		}
		s += len;
		if (*s && !*++s)
			return -1;       /* a trailing '|' */
	}
	return 0;
}

int am_parse_prot(const char *s, uint64_t *v)
{
	return parse_bits(s, prot_tab, N(prot_tab), "PROT_NONE", v);
}

int am_parse_mremap_flags(const char *s, uint64_t *v)
{
	return parse_bits(s, mremap_tab, N(mremap_tab), "0", v);
}

int am_parse_madv(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s)
		return -1;
	for (size_t i = 0; i < N(madv_names); i++)
		if (madv_names[i] && !strcmp(s, madv_names[i])) {
			*v = i;
			return 0;
		}
	if (!strcmp(s, "MADV_HWPOISON") || !strcmp(s, "MADV_SOFT_OFFLINE")) {
		*v = s[5] == 'H' ? 100 : 101;
		return 0;
	}
	*v = strtoull(s, &end, 10);
	return *end || *s < '0' || *s > '9' ? -1 : 0;
}

const char *am_fmt_errno(char *buf, size_t sz, int err)
{
	const char *name = err > 0 ? strerrorname_np(err) : NULL;

	if (name)
		snprintf(buf, sz, "%s", name);
	else
		snprintf(buf, sz, "errno %d", err);
	return buf;
}

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

const char *am_fmt_size(char *buf, size_t sz, uint64_t n)
{
	if (n && n % GIB == 0)
		snprintf(buf, sz, "%" PRIu64 " GiB", n / GIB);
	else if (n && n % MIB == 0)
		snprintf(buf, sz, "%" PRIu64 " MiB", n / MIB);
	else if (n && n % KIB == 0)
		snprintf(buf, sz, "%" PRIu64 " KiB", n / KIB);
	else if (n < MIB)
		snprintf(buf, sz, "%" PRIu64 " B", n);
	else if (n < GIB)
		snprintf(buf, sz, "%.1f MiB", (double)n / MIB);
	else
		snprintf(buf, sz, "%.1f GiB", (double)n / GIB);
	return buf;
}

static const char *const size_unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

/* am_fmt_size3's choice for n: the unit (power of 1024) and decimals */
static void size3_unit(uint64_t n, int *k, int *dec)
{
	double d = (double)n;

	*k = 0;
	*dec = 0;
	if (n < 1024)
		return;
	while (*k < 6 && d >= 999.5) {
		d /= 1024;
		++*k;
	}
	*dec = d < 9.995 ? 2 : d < 99.95 ? 1 : 0;
}

const char *am_fmt_size3(char *buf, size_t sz, uint64_t n)
{
	int k, dec;

	size3_unit(n, &k, &dec);
	if (!k)
		snprintf(buf, sz, "%" PRIu64 " B", n);
	else
		snprintf(buf, sz, "%.*f %s", dec, (double)n / (double)(UINT64_C(1) << (10 * k)),
			 size_unit[k]);
	return buf;
}

const char *am_fmt_size_in(char *buf, size_t sz, uint64_t n, uint64_t max)
{
	int k, dec;
	double d, step;

	size3_unit(max > n ? max : n, &k, &dec);
	if (!k) {
		snprintf(buf, sz, "%" PRIu64 " B", n);
		return buf;
	}
	d = (double)n / (double)(UINT64_C(1) << (10 * k));
	step = dec == 2 ? 0.005 : dec == 1 ? 0.05 : 0.5;
	if (!n)
		snprintf(buf, sz, "0 %s", size_unit[k]);
	else if (d < step)
		snprintf(buf, sz, "<%s %s", dec == 2 ? "0.01" : dec == 1 ? "0.1" : "1", size_unit[k]);
	else
		snprintf(buf, sz, "%.*f %s", dec, d, size_unit[k]);
	return buf;
}

size_t am_utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;               /* continuation byte, 0xc0/0xc1, 0xf5.. */
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;               /* overlong, past Unicode, surrogate */
	return n;
}

/* Bytes of the sequence at p that print as themselves, 0 if it must be
 * escaped: C0 controls, DEL, backslash, C1 controls (U+0080..U+009F,
 * which some terminals obey as escapes), malformed UTF-8. */
static size_t printable_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;

	if (*p < 0x20 || *p == 0x7f || *p == '\\')
		return 0;
	n = am_utf8_len(p, end);
	if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
		return 0;
	return n;
}

const char *am_printable(char *buf, size_t sz, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end;
	size_t o = 0, n;

	if (!s)
		return s;
	end = p + strlen(s);
	for (; p < end; p += n)
		if (!(n = printable_len(p, end)))
			break;
	if (p == end)
		return s;
	if (!sz)
		return "";
	p = (const unsigned char *)s;
	while (p < end) {
		n = printable_len(p, end);
		if (n) {
			if (o + n >= sz)
				break;
			memcpy(buf + o, p, n);
			o += n;
			p += n;
		} else if (*p == '\\') {
			if (o + 2 >= sz)
				break;
			buf[o++] = '\\';
			buf[o++] = '\\';
			p++;
		} else {
			if (o + 4 >= sz)
				break;
			o += (size_t)snprintf(buf + o, sz - o, "\\x%02x", *p);
			p++;
		}
	}
	buf[o] = '\0';
	return buf;
}
