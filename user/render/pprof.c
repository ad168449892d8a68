// SPDX-License-Identifier: GPL-2.0
/* pprof.c - writes call-site profiles as gzipped profile.proto (pprof.h).
 *
 * profile.proto, the fields written (field number: meaning):
 *   Profile   1 sample_type (ValueType), 2 sample, 3 mapping, 4 location,
 *             5 function, 6 string_table, 9 time_nanos, 10 duration_nanos,
 *             11 period_type, 12 period, 13 comment, 14 default_sample_type
 *   ValueType 1 type, 2 unit (string table indexes)
 *   Sample    1 location_id (packed, leaf first), 2 value (packed), 3 label
 *   Label     1 key, 3 num
 *   Mapping   1 id, 5 filename, 6 build_id, 7 has_functions,
 *             8 has_filenames, 9 has_line_numbers
 *   Location  1 id, 2 mapping_id, 3 address, 4 line
 *   Line      1 function_id, 2 line
 *   Function  1 id, 2 name, 3 system_name, 4 filename
 * Zero values are left out (proto3 defaults); the string table starts
 * with "". Mappings carry the object's file name and build id; their
 * address range is not known to the frames, so it is left out (0): every
 * location comes symbolized (has_functions), no tool needs to map them. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "pprof.h"
#include "safeio.h"
#include "stack.h"

enum { WT_VARINT = 0, WT_LEN = 2 };

/* ---------- protobuf encoding ---------- */

struct pb {
	uint8_t *b;
	size_t n, cap;
	bool oom;
};

static void pb_put(struct pb *p, const void *d, size_t n)
{
	if (p->oom)
		return;
	if (p->n + n > p->cap) {
		size_t nc = p->cap ? p->cap : 256;
		uint8_t *nb;

		while (nc < p->n + n)
			nc *= 2;
		nb = realloc(p->b, nc);
		if (!nb) {
			p->oom = true;
			return;
		}
		p->b = nb;
		p->cap = nc;
	}
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	pb_put(p, b, n);
}

static void pb_key(struct pb *p, unsigned field, unsigned wt)
{
	pb_varint(p, (uint64_t)field << 3 | wt);
}

/* A varint field (uint64, int64 as two's complement, bool), left out when 0. */
static void pb_uint(struct pb *p, unsigned field, uint64_t v)
{
	if (!v)
		return;
	pb_key(p, field, WT_VARINT);
	pb_varint(p, v);
}

static void pb_bytes(struct pb *p, unsigned field, const void *d, size_t n)
{
	pb_key(p, field, WT_LEN);
	pb_varint(p, n);
	pb_put(p, d, n);
}

/* Appends sub as embedded message field, then empties sub for reuse. */
static void pb_msg(struct pb *p, unsigned field, struct pb *sub)
{
	if (sub->oom)
		p->oom = true;
	pb_bytes(p, field, sub->b, sub->n);
	sub->n = 0;
}

/* A packed repeated varint field (not written when n is 0). */
static void pb_packed(struct pb *p, unsigned field, const uint64_t *v, size_t n, struct pb *tmp)
{
	if (!n)
		return;
	tmp->n = 0;
	for (size_t i = 0; i < n; i++)
		pb_varint(tmp, v[i]);
	pb_msg(p, field, tmp);
}

/* ---------- tables ---------- */

/* Open-addressing map from a key pair to an id (1..n; 0 = empty slot). */
struct pmap {
	uint64_t *a, *b;
	uint32_t *v;
	size_t cap, n;
};

static uint64_t pair_hash(uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ 0x9E3779B97F4A7C15ULL) * 0xff51afd7ed558ccdULL;

	h ^= b + (h << 6) + (h >> 2);
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 29;
}

static bool pmap_grow(struct pmap *m)
{
	size_t nc = m->cap ? m->cap * 2 : 256;
	uint64_t *na = calloc(nc, sizeof(*na)), *nb = calloc(nc, sizeof(*nb));
	uint32_t *nv = calloc(nc, sizeof(*nv));

	if (!na || !nb || !nv) {
		free(na);
		free(nb);
		free(nv);
		return false;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->v[i])
			continue;
		for (j = pair_hash(m->a[i], m->b[i]) & (nc - 1); nv[j]; j = (j + 1) & (nc - 1))
			;
		na[j] = m->a[i];
		nb[j] = m->b[i];
		nv[j] = m->v[i];
	}
	free(m->a);
	free(m->b);
	free(m->v);
	m->a = na;
	m->b = nb;
	m->v = nv;
	m->cap = nc;
	return true;
}

/* The id of (a, b); *fresh when it was just given (the next one). 0 on OOM. */
static uint32_t pmap_id(struct pmap *m, uint64_t a, uint64_t b, bool *fresh)
{
	size_t j;

	*fresh = false;
	if ((m->n + 1) * 2 > m->cap && !pmap_grow(m))
		return 0;
	for (j = pair_hash(a, b) & (m->cap - 1); m->v[j]; j = (j + 1) & (m->cap - 1))
		if (m->a[j] == a && m->b[j] == b)
			return m->v[j];
	m->a[j] = a;
	m->b[j] = b;
	m->v[j] = (uint32_t)++m->n;
	*fresh = true;
	return m->v[j];
}

static void pmap_free(struct pmap *m)
{
	free(m->a);
	free(m->b);
	free(m->v);
}

struct enc {
	struct pb out;                 /* the Profile message, samples first */
	struct pb msg, tmp;            /* scratch */
	/* the string table: copies, and a hash of them */
	char **str;
	size_t n_str, cap_str;
	uint32_t *str_slot;            /* index + 1, 0 = empty */
	size_t cap_slot;
	struct pmap fn, map, loc;      /* (name, file) / (pid, obj) / (pid, addr) -> id */
	const struct am_pprof_meta *meta;
	bool oom;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static bool str_rehash(struct enc *e)
{
	size_t nc = e->cap_slot ? e->cap_slot * 2 : 512;
	uint32_t *ns = calloc(nc, sizeof(*ns));

	if (!ns)
		return false;
	for (size_t i = 0; i < e->n_str; i++) {
		size_t j;

		for (j = str_hash(e->str[i]) & (nc - 1); ns[j]; j = (j + 1) & (nc - 1))
			;
		ns[j] = (uint32_t)(i + 1);
	}
	free(e->str_slot);
	e->str_slot = ns;
	e->cap_slot = nc;
	return true;
}

/* Index of s in the string table (added if new); 0 ("") on OOM. */
static uint64_t str_ix(struct enc *e, const char *s)
{
	size_t j;
	char *c;

	if ((e->n_str + 1) * 2 > e->cap_slot && !str_rehash(e))
		goto oom;
	for (j = str_hash(s) & (e->cap_slot - 1); e->str_slot[j]; j = (j + 1) & (e->cap_slot - 1))
		if (!strcmp(e->str[e->str_slot[j] - 1], s))
			return e->str_slot[j] - 1;
	if (e->n_str == e->cap_str) {
		size_t nc = e->cap_str ? e->cap_str * 2 : 256;
		char **na = realloc(e->str, nc * sizeof(*na));

		if (!na)
			goto oom;
		e->str = na;
		e->cap_str = nc;
	}
	c = strdup(s);
	if (!c)
		goto oom;
	e->str[e->n_str] = c;
	e->str_slot[j] = (uint32_t)++e->n_str;
	return e->n_str - 1;
oom:
	e->oom = true;
	return 0;
}

/* The id of function (name, file), written to the output when new. */
static uint64_t fn_id(struct enc *e, const char *name, const char *file)
{
	uint64_t n = str_ix(e, name), f = file ? str_ix(e, file) : 0;
	bool fresh;
	uint32_t id = pmap_id(&e->fn, n, f, &fresh);

	if (!id) {
		e->oom = true;
		return 0;
	}
	if (fresh) {
		pb_uint(&e->msg, 1, id);
		pb_uint(&e->msg, 2, n);
		pb_uint(&e->msg, 3, n);
		pb_uint(&e->msg, 4, f);
		pb_msg(&e->out, 5, &e->msg);
	}
	return id;
}

/* The id of the mapping of object obj in pid, written when new; 0 unknown. */
static uint64_t map_id(struct enc *e, uint32_t pid, const struct am_frame *f)
{
	uint64_t o;
	bool fresh;
	uint32_t id;

	if (!f->obj)
		return 0;
	o = str_ix(e, f->obj);
	id = pmap_id(&e->map, pid, o, &fresh);
	if (!id) {
		e->oom = true;
		return 0;
	}
	if (fresh) {
		const char *bid = f->build_id;

		if (!bid && e->meta->build_id)
			bid = e->meta->build_id(e->meta->ctx, pid, f->obj);
		pb_uint(&e->msg, 1, id);
		pb_uint(&e->msg, 5, o);
		pb_uint(&e->msg, 6, bid ? str_ix(e, bid) : 0);
		pb_uint(&e->msg, 7, 1);             /* has_functions */
		pb_uint(&e->msg, 8, f->file != NULL); /* has_filenames */
		pb_uint(&e->msg, 9, f->line != 0);  /* has_line_numbers */
		pb_msg(&e->out, 3, &e->msg);
	}
	return id;
}

/* The id of the location of frame f of pid (f NULL: pid's "[no stack]"). */
static uint64_t loc_id(struct enc *e, uint32_t pid, const struct am_frame *f)
{
	char name[512];
	bool fresh;
	uint32_t id = pmap_id(&e->loc, (uint64_t)pid | (f ? 0 : 1ULL << 32), f ? f->addr : 0, &fresh);
	uint64_t fid, mid;

	if (!id) {
		e->oom = true;
		return 0;
	}
	if (!fresh)
		return id;
	fid = fn_id(e, f ? am_frame_name(name, sizeof(name), f) : "[no stack]", f ? f->file : NULL);
	mid = f ? map_id(e, pid, f) : 0;
	pb_uint(&e->msg, 1, id);
	pb_uint(&e->msg, 2, mid);
	pb_uint(&e->msg, 3, f ? f->addr : 0);
	pb_uint(&e->tmp, 1, fid);
	pb_uint(&e->tmp, 2, f ? f->line : 0);
	pb_msg(&e->msg, 4, &e->tmp);
	pb_msg(&e->out, 4, &e->msg);
	return id;
}

/* One sample: the stack from its call site outward, and its values. */
static void sample(struct enc *e, const struct am_site_stack *s, uint64_t *locs)
{
	const struct am_stack *st = s->stack;
	uint32_t from = st && s->skip < st->n ? s->skip : 0;
	size_t n = 0;
	uint64_t v[5] = { s->f.calls, s->f.bytes, s->f.leak_count, s->f.leak_bytes, s->f.os_bytes };
	struct pb lab = { 0 };

	if (st)
		for (uint32_t i = from; i < st->n; i++)
			locs[n++] = loc_id(e, s->pid, &st->f[i]);
	else
		locs[n++] = loc_id(e, s->pid, NULL);
	/* the ids above may have written locations: the sample goes after them */
	pb_packed(&e->msg, 1, locs, n, &e->tmp);
	pb_packed(&e->msg, 2, v, 5, &e->tmp);
	pb_uint(&lab, 1, str_ix(e, "pid"));
	pb_uint(&lab, 3, s->pid);
	pb_msg(&e->msg, 3, &lab);
	free(lab.b);
	pb_msg(&e->out, 2, &e->msg);
}

static void value_type(struct enc *e, unsigned field, const char *type, const char *unit)
{
	pb_uint(&e->msg, 1, str_ix(e, type));
	pb_uint(&e->msg, 2, str_ix(e, unit));
	pb_msg(&e->out, field, &e->msg);
}

int am_pprof_encode(const struct am_sites_report *r, const struct am_pprof_meta *m,
		    uint8_t **out, size_t *len)
{
	static const char *const types[5][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
		{ "os_space", "bytes" },
	};
	struct enc e = { .meta = m };
	uint32_t most = 1;
	uint64_t *locs;
	int ret = -1;

	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < r->n_stacks; i++)
		if (r->stacks[i].stack && r->stacks[i].stack->n > most)
			most = r->stacks[i].stack->n;
	locs = malloc(most * sizeof(*locs));
	if (!locs)
		return -1;
	str_ix(&e, "");
	for (int i = 0; i < 5; i++)
		value_type(&e, 1, types[i][0], types[i][1]);
	for (size_t i = 0; i < r->n_stacks; i++)
		sample(&e, &r->stacks[i], locs);
	pb_uint(&e.out, 9, m->time_ns);
	pb_uint(&e.out, 10, m->duration_ns);
	value_type(&e, 11, "space", "bytes");
	pb_uint(&e.out, 12, m->period ? m->period : 1);
	pb_uint(&e.out, 13, str_ix(&e, "allocmap call-site profile: inuse = live at the end of the trace, "
				   "os_space = bytes obtained from the OS by the stack's calls"));
	pb_uint(&e.out, 14, str_ix(&e, m->default_type ? m->default_type : "alloc_space"));
	for (size_t i = 0; i < e.n_str; i++)
		pb_bytes(&e.out, 6, e.str[i], strlen(e.str[i]));
	if (!e.oom && !e.out.oom && !e.msg.oom && !e.tmp.oom) {
		*out = e.out.b;
		*len = e.out.n;
		e.out.b = NULL;
		ret = 0;
	}
	for (size_t i = 0; i < e.n_str; i++)
		free(e.str[i]);
	free(e.str);
	free(e.str_slot);
	free(e.out.b);
	free(e.msg.b);
	free(e.tmp.b);
	pmap_free(&e.fn);
	pmap_free(&e.map);
	pmap_free(&e.loc);
	free(locs);
	return ret;
}

/* gzip (RFC 1952) of d[0..n) into *out (malloc'ed). 0, or -1. */
static int gzip(const uint8_t *d, size_t n, uint8_t **out, size_t *len)
{
	z_stream z = { 0 };
	uLong cap;
	uint8_t *b;

	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, (uLong)n) + 64;
	b = malloc(cap);
	if (!b) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)d;
	z.avail_in = (uInt)n;
	z.next_out = b;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(b);
		return -1;
	}
	*out = b;
	*len = z.total_out;
	deflateEnd(&z);
	return 0;
}

int am_pprof_gzip(const struct am_sites_report *r, const struct am_pprof_meta *m,
		  uint8_t **out, size_t *len)
{
	uint8_t *raw = NULL;
	size_t nraw;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (am_pprof_encode(r, m, &raw, &nraw) == 0 && nraw <= UINT32_MAX)
		rc = gzip(raw, nraw, out, len);
	free(raw);
	return rc;
}

int am_pprof_write(const char *path, const struct am_sites_report *r, const struct am_pprof_meta *m,
		   char *err, size_t errlen)
{
	uint8_t *raw = NULL, *gz = NULL;
	size_t nraw, ngz;
	FILE *f;
	struct stat st;
	int ret = -1;

	if (am_pprof_encode(r, m, &raw, &nraw) < 0 || nraw > UINT32_MAX || gzip(raw, nraw, &gz, &ngz) < 0) {
		snprintf(err, errlen, "out of memory");
		free(raw);
		return -1;
	}
	free(raw);
	f = am_fopen_output(path, err, errlen);
	if (!f) {
		free(gz);
		return -1;
	}
	errno = 0;
	if (fwrite(gz, 1, ngz, f) == ngz && !fflush(f) && !ferror(f))
		ret = 0;
	else
		snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
	/* remove a partial file, never a device (/dev/null) or a FIFO */
	if (ret < 0 && !fstat(fileno(f), &st) && S_ISREG(st.st_mode))
		unlink(path);
	if (fclose(f) && !ret) {
		snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
		ret = -1;
	}
	free(gz);
	return ret;
}
