// SPDX-License-Identifier: GPL-2.0
/* conf.c - `allocmap serve`'s config file (srv_int.h): `key = value` lines,
 * '#' comments, read at start and on SIGHUP. A file with one bad line is
 * refused whole (the settings in force stay). Keys and ranges are in
 * docs/reference.md, "allocmap serve". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "safeio.h"
#include "srv_int.h"

struct key {
	const char *name;
	uint64_t lo, hi, scale;
	size_t off;
	bool is_size;             /* a size_t field, else unsigned */
};

#define K(n, lo, hi, sc, f, sz) { n, lo, hi, sc, offsetof(struct am_srv_conf, f), sz }
static const struct key keys[] = {
	K("max_targets", 1, 4096, 1, max_targets, false),
	K("max_clients", 1, 65536, 1, max_clients, false),
	K("history_kb", 64, 1 << 20, 1024, history_bytes, true),
	K("ringbuf_mb", 1, 1024, 1, ringbuf_mb, false),
	K("ringbuf_os_mb", 1, 1024, 1, ringbuf_os_mb, false),
	K("linger_s", 0, 86400 * 7, 1, linger_s, false),
	K("max_request_kb", 1, 1024, 1024, max_request, true),
	K("client_buf_kb", 64, 1 << 20, 1024, client_buf, true),
	K("pprof_timeout_ms", 100, 600000, 1, pprof_timeout_ms, false),
};

void am_srv_conf_default(struct am_srv_conf *c)
{
	*c = (struct am_srv_conf){
		.max_targets = 256, .max_clients = 256, .history_bytes = 4u << 20, .ringbuf_mb = 32,
		.ringbuf_os_mb = 8,
		.linger_s = 300, .max_request = 64 << 10, .client_buf = 8u << 20,
		.pprof_timeout_ms = 5000,
	};
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* `watch = comm PATTERN [os|all]` or `watch = cgroup /PATH [os|all]` (mode
 * os by default). 0, or -1 with err. */
static int set_watch(struct am_srv_conf *c, char *v, char *err, size_t errlen)
{
	char *kind = strtok(v, " \t"), *pat = strtok(NULL, " \t"), *mode = strtok(NULL, " \t");
	struct am_conf_watch *w = &c->watch[c->n_watch];

	if (!kind || !pat || strtok(NULL, " \t") || (strcmp(kind, "comm") && strcmp(kind, "cgroup")) ||
	    (mode && strcmp(mode, "os") && strcmp(mode, "all"))) {
		snprintf(err, errlen, "invalid watch (comm PATTERN [os|all], or cgroup /PATH [os|all])");
		return -1;
	}
	if (strlen(pat) >= sizeof(w->pat) || (kind[0] == 'c' && kind[1] == 'g' && pat[0] != '/')) {
		snprintf(err, errlen, "invalid watch %s '%s' (a cgroup path is absolute; at most 255 bytes)",
			 kind, pat);
		return -1;
	}
	if (c->n_watch >= AM_CONF_WATCH_MAX) {
		snprintf(err, errlen, "too many watch lines (at most %d)", AM_CONF_WATCH_MAX);
		return -1;
	}
	snprintf(w->pat, sizeof(w->pat), "%s", pat);
	w->cgroup = !strcmp(kind, "cgroup");
	w->all = mode && !strcmp(mode, "all");
	c->n_watch++;
	return 0;
}

/* One `key = value` line into c. 0, or -1 with err. */
static int set_key(struct am_srv_conf *c, char *k, char *v, char *err, size_t errlen)
{
	if (!strcmp(k, "watch"))
		return set_watch(c, v, err, errlen);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *kk = &keys[i];
		char *end;
		unsigned long long n;

		if (strcmp(k, kk->name))
			continue;
		errno = 0;
		n = strtoull(v, &end, 10);
		if (!*v || *end || errno || *v == '-' || n < kk->lo || n > kk->hi) {
			snprintf(err, errlen, "invalid %s '%s' (%llu..%llu)", k, v,
				 (unsigned long long)kk->lo, (unsigned long long)kk->hi);
			return -1;
		}
		if (!strncmp(k, "ringbuf", 7) && (n & (n - 1))) {
			snprintf(err, errlen, "invalid %s '%s' (a power of two)", k, v);
			return -1;
		}
		if (kk->is_size)
			*(size_t *)((char *)c + kk->off) = (size_t)(n * kk->scale);
		else
			*(unsigned *)((char *)c + kk->off) = (unsigned)(n * kk->scale);
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", k);
	return -1;
}

int am_srv_conf_load(const char *path, struct am_srv_conf *out, char *err, size_t errlen)
{
	struct am_srv_conf c = *out;
	char line[512], e[256];
	FILE *f = am_fopen_target(path);
	int no = 0, rc = 0;

	if (!f) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		return -1;
	}
	c.n_watch = 0; /* the file's watch lines replace the previous ones */
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		no++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "line %d: not 'key = value'", no);
			rc = -1;
			break;
		}
		*eq = 0;
		if (set_key(&c, trim(s), trim(eq + 1), e, sizeof(e))) {
			snprintf(err, errlen, "line %d: %s", no, e);
			rc = -1;
		}
	}
	fclose(f);
	if (!rc)
		*out = c;
	return rc;
}
