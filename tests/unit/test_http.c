// SPDX-License-Identifier: GPL-2.0
/* test_http.c - `allocmap serve`'s HTTP side (serve/http.c, http_routes.c)
 * against a fake daemon (this file implements srv.h): a real server on a
 * free loopback port, real requests over TCP (IPv4 and IPv6), the peer's
 * uid found with sock_diag. Root sees every target and the daemon's
 * figures; a child that became uid 65534 sees only its own target (404 on
 * root's, the same answer as a pid nobody traces), until --http-allow
 * names it. Bad pids, os-mode profiles, methods, the options, the refusal
 * of a non-loopback address without --http-access=open, hostile comms in
 * HTML, JSON and Prometheus labels, the pages' security headers. */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "http.h"

#define NOBODY 65534
#define FIXTURE "tests/fuzz/corpus/report/example_stacks.jsonl"

/* ---- the fake daemon ---- */
struct am_srv_target {
	struct am_srv_target_info info;
	int refs;
};
struct am_srv {
	struct am_srv_target t[3];
	int last_heap;            /* the heap argument of the last pprof call */
	char *hist;
	size_t hist_len;
};

bool am_srv_visible(const struct am_srv_viewer *v, const struct am_srv_target_info *t)
{
	return v->all || v->uid == t->uid;
}

static struct am_srv *the_srv;

void am_srv_each(struct am_srv *s, const struct am_srv_viewer *v,
		 void (*fn)(void *ctx, struct am_srv_target *t), void *ctx)
{
	for (int i = 0; i < 3; i++)
		if (am_srv_visible(v, &s->t[i].info))
			fn(ctx, &s->t[i]);
}

struct am_srv_target *am_srv_find(struct am_srv *s, const struct am_srv_viewer *v, pid_t pid)
{
	for (int i = 0; i < 3; i++)
		if (s->t[i].info.pid == pid && am_srv_visible(v, &s->t[i].info)) {
			__atomic_add_fetch(&s->t[i].refs, 1, __ATOMIC_SEQ_CST);
			return &s->t[i];
		}
	return NULL;
}

void am_srv_put(struct am_srv_target *t)
{
	if (t)
		__atomic_sub_fetch(&t->refs, 1, __ATOMIC_SEQ_CST);
}

void am_srv_target_info(struct am_srv_target *t, struct am_srv_target_info *out)
{
	*out = t->info;
}

void am_srv_target_summary(struct am_srv_target *t, struct am_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->heap_bytes = 1000u * (unsigned)t->info.pid;
	out->live_bytes = 7;
	out->os_only = t->info.mode == AM_SRV_OS;
	out->sys_by_cause[AM_SYS_BRK][AM_FN_MALLOC] = 2;
}

int am_srv_target_pprof(struct am_srv_target *t, bool heap, uint8_t **out, size_t *len,
			char *err, size_t errlen)
{
	(void)err, (void)errlen;
	the_srv->last_heap = heap;
	*len = (size_t)asprintf((char **)out, "PPROF-%d", (int)t->info.pid);
	return 0;
}

int am_srv_target_history(struct am_srv_target *t, char **buf, size_t *len)
{
	(void)t;
	*buf = malloc(the_srv->hist_len + 1);
	memcpy(*buf, the_srv->hist, the_srv->hist_len);
	*len = the_srv->hist_len;
	return 0;
}

void am_srv_stats(struct am_srv *s, struct am_srv_stats *out)
{
	(void)s;
	memset(out, 0, sizeof(*out));
	out->events = 99;
	out->targets = 3;
}

/* ---- a client ---- */
struct resp {
	int status;
	char head[4096];
	char *body;
	size_t len;
};

static int get(int fam, uint16_t port, const char *method, const char *path, struct resp *r)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[512], *all = NULL, *sep;
	size_t n = 0;
	ssize_t k;
	FILE *m = open_memstream(&all, &n);
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(r, 0, sizeof(*r));
	if (fd < 0 || (fam == AF_INET ? connect(fd, (struct sockaddr *)&a4, sizeof(a4))
				      : connect(fd, (struct sockaddr *)&a6, sizeof(a6))) < 0)
		return -1;
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: test\r\n\r\n", method, path);
	if (write(fd, req, strlen(req)) < 0)
		return -1;
	while ((k = read(fd, req, sizeof(req))) > 0)
		fwrite(req, 1, (size_t)k, m);
	close(fd);
	fclose(m);
	sep = all ? strstr(all, "\r\n\r\n") : NULL;
	if (!sep)
		return -1;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - all), all);
	r->status = atoi(all + 9);
	r->len = n - (size_t)(sep + 4 - all);
	r->body = malloc(r->len + 1);
	memcpy(r->body, sep + 4, r->len);
	r->body[r->len] = 0;
	free(all);
	return 0;
}

static int status_of(uint16_t port, const char *path)
{
	struct resp r;
	int st = get(AF_INET, port, "GET", path, &r) < 0 ? -1 : r.status;

	free(r.body);
	return st;
}

static bool body_has(uint16_t port, const char *path, const char *what)
{
	struct resp r;
	bool has = get(AF_INET, port, "GET", path, &r) == 0 && strstr(r.body, what);

	free(r.body);
	return has;
}

/* ---- the tests ---- */
static void fake_init(struct am_srv *s)
{
	FILE *f = fopen(FIXTURE, "r");

	memset(s, 0, sizeof(*s));
	s->t[0].info = (struct am_srv_target_info){ .id = 1, .pid = 100, .uid = 0, .comm = "<script>\"x",
						     .allocator = "glibc", .mode = AM_SRV_ALL, .alive = true };
	s->t[1].info = (struct am_srv_target_info){ .id = 2, .pid = 200, .uid = NOBODY, .comm = "nobodyprog",
						     .allocator = "glibc", .mode = AM_SRV_ALL, .alive = true };
	s->t[2].info = (struct am_srv_target_info){ .id = 3, .pid = 300, .uid = 0, .comm = "osprog",
						     .mode = AM_SRV_OS, .alive = true, .history_dropped = 5 };
	CHECK(f != NULL, "fixture " FIXTURE);
	if (f) {
		FILE *m = open_memstream(&s->hist, &s->hist_len);
		char b[4096];
		size_t k;

		while ((k = fread(b, 1, sizeof(b), f)) > 0)
			fwrite(b, 1, k, m);
		fclose(m);
		fclose(f);
	}
	the_srv = s;
}

static void test_root(uint16_t port)
{
	struct resp r;
	struct json_object *j;

	CHECK_EQ(get(AF_INET, port, "GET", "/metrics", &r), 0, "GET /metrics");
	CHECK_EQ(r.status, 200, "metrics status");
	CHECK(strstr(r.head, "text/plain; version=0.0.4") != NULL, "metrics content type");
	CHECK(strstr(r.body, "allocmap_heap_bytes{pid=\"100\",comm=\"<script>\\\"x\",allocator=\"glibc\",mode=\"all\"} 100000\n") != NULL, "root: pid 100");
	CHECK(strstr(r.body, "allocmap_heap_bytes{pid=\"200\",comm=\"nobodyprog\",allocator=\"glibc\",mode=\"all\"} 200000\n") != NULL, "root: pid 200");
	CHECK(strstr(r.body, "allocmap_daemon_events_total 99\n") != NULL, "root: daemon figures");
	free(r.body);

	CHECK_EQ(get(AF_INET, port, "GET", "/debug/pprof/heap?pid=100", &r), 0, "heap");
	CHECK_EQ(r.status, 200, "heap status");
	CHECK(strstr(r.head, "Content-Type: application/octet-stream") != NULL, "heap type");
	CHECK_STR(r.body, "PPROF-100", "heap body");
	CHECK_EQ(the_srv->last_heap, 1, "heap asked for inuse");
	free(r.body);
	CHECK_EQ(status_of(port, "/debug/pprof/allocs?pid=200"), 200, "allocs");
	CHECK_EQ(the_srv->last_heap, 0, "allocs asked for alloc_space");
	CHECK_EQ(status_of(port, "/debug/pprof/heap?pid=300"), 409, "os mode: 409");
	CHECK(body_has(port, "/debug/pprof/heap?pid=300", "os mode"), "os mode: says why");
	CHECK_EQ(status_of(port, "/debug/pprof/heap?pid=999"), 404, "unknown pid");
	CHECK_EQ(status_of(port, "/debug/pprof/heap?pid=abc"), 400, "bad pid");
	CHECK_EQ(status_of(port, "/debug/pprof/heap?pid=-1"), 400, "negative pid");
	CHECK_EQ(status_of(port, "/debug/pprof/heap?pid=99999999999"), 400, "huge pid");
	CHECK_EQ(status_of(port, "/debug/pprof/heap"), 400, "no pid");
	CHECK_EQ(status_of(port, "/nope"), 404, "unknown path");

	CHECK_EQ(get(AF_INET, port, "POST", "/metrics", &r), 0, "POST");
	CHECK_EQ(r.status, 405, "POST refused");
	free(r.body);

	CHECK_EQ(get(AF_INET, port, "GET", "/", &r), 0, "index");
	CHECK(strstr(r.body, "&lt;script&gt;&quot;x") && !strstr(r.body, "<script>\""), "index escapes comm");
	CHECK(strstr(r.head, "Content-Security-Policy: default-src 'none'") != NULL, "index CSP");
	CHECK(strstr(r.head, "X-Content-Type-Options: nosniff") != NULL, "nosniff");
	free(r.body);

	CHECK_EQ(get(AF_INET, port, "GET", "/targets.json", &r), 0, "targets.json");
	j = json_tokener_parse(r.body);
	CHECK(j && json_object_array_length(j) == 3, "three targets");
	if (j && json_object_array_length(j) == 3)
		CHECK_STR(json_object_get_string(json_object_object_get(json_object_array_get_idx(j, 0), "comm")),
			  "<script>\"x", "comm round-trips through JSON");
	json_object_put(j);
	free(r.body);

	CHECK_EQ(get(AF_INET, port, "GET", "/sd.json", &r), 0, "sd.json");
	CHECK(strstr(r.body, "\"targets\":[\"test\"]") && strstr(r.body, "\"__param_pid\":\"200\""), "http_sd groups");
	free(r.body);

	CHECK_EQ(get(AF_INET, port, "GET", "/live?pid=100", &r), 0, "live");
	CHECK_EQ(r.status, 200, "live status");
	CHECK(strstr(r.head, "script-src 'self'") != NULL, "live CSP");
	CHECK(strstr(r.body, "/live.js") != NULL, "live page loads live.js");
	free(r.body);
	CHECK_EQ(get(AF_INET, port, "GET", "/live.json?pid=300", &r), 0, "live.json");
	j = json_tokener_parse(r.body);
	CHECK(j != NULL, "live.json parses");
	CHECK_EQ(json_object_get_int64(json_object_object_get(j, "records")), 19, "records: the fixture's lines");
	{
		struct json_object *lb = NULL;

		CHECK(json_object_object_get_ex(j, "live_bytes", &lb) && !lb, "os mode: live bytes null (unknown)");
	}
	CHECK_EQ(json_object_get_int64(json_object_object_get(j, "history_dropped")), 5, "history dropped");
	json_object_put(j);
	free(r.body);
	CHECK_EQ(get(AF_INET, port, "GET", "/report?pid=100", &r), 0, "report");
	CHECK_EQ(r.status, 200, "report status");
	CHECK(strstr(r.body, "am-data") != NULL, "report page");
	CHECK(strstr(r.head, "frame-ancestors 'self'") != NULL, "report CSP");
	free(r.body);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(the_srv->t[i].refs, 0, "every reference put back");
}

/* Runs as uid NOBODY in a child: what it sees, as a string of results. */
static void as_nobody(uint16_t port, char *out, size_t n)
{
	int p[2];
	pid_t pid;
	ssize_t k;

	out[0] = 0;
	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char b[256];

		close(p[0]);
		if (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
			_exit(1);
		snprintf(b, sizeof(b), "own=%d root=%d none=%d live=%d metrics_own=%d metrics_root=%d daemon=%d",
			 status_of(port, "/debug/pprof/heap?pid=200"), status_of(port, "/debug/pprof/heap?pid=100"),
			 status_of(port, "/debug/pprof/heap?pid=999"), status_of(port, "/live?pid=100"),
			 body_has(port, "/metrics", "pid=\"200\""), body_has(port, "/metrics", "pid=\"100\""),
			 body_has(port, "/metrics", "allocmap_daemon_"));
		if (write(p[1], b, strlen(b)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	k = read(p[0], out, n - 1);
	out[k > 0 ? k : 0] = 0;
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void test_options(void)
{
	struct am_http_opts o;
	char err[256];

	am_http_opts_init(&o);
	CHECK_STR(o.addr, "127.0.0.1", "default address");
	CHECK_EQ(o.port, 6061, "default port");
	CHECK_EQ(am_http_parse_listen(&o, "[::1]:8080", err, sizeof(err)), 0, "[::1]:8080");
	CHECK_STR(o.addr, "::1", "v6 address");
	CHECK_EQ(o.port, 8080, "v6 port");
	CHECK_EQ(am_http_parse_listen(&o, "localhost:80", err, sizeof(err)), -1, "a name is refused");
	CHECK_EQ(am_http_parse_listen(&o, "127.0.0.1:65536", err, sizeof(err)), -1, "port too big");
	CHECK_EQ(am_http_parse_listen(&o, "127.0.0.1:", err, sizeof(err)), -1, "no port");
	CHECK_EQ(am_http_parse_listen(&o, "off", err, sizeof(err)), 0, "off");
	CHECK(o.off, "off set");
	CHECK_EQ(am_http_parse_allow(&o, "root", err, sizeof(err)), 0, "allow root");
	CHECK_EQ(am_http_parse_allow(&o, "@root", err, sizeof(err)), 0, "allow @root");
	CHECK_EQ(am_http_parse_allow(&o, "no-such-user-here", err, sizeof(err)), -1, "unknown user");
	CHECK_EQ(am_http_parse_access(&o, "sideways", err, sizeof(err)), -1, "bad access");
	am_http_opts_init(&o);
	snprintf(o.addr, sizeof(o.addr), "0.0.0.0");
	o.port = 0;
	CHECK(am_http_start(the_srv, &o, err, sizeof(err)) == NULL, "0.0.0.0 refused without open");
	CHECK(strstr(err, "--http-access=open") != NULL, "the refusal names the option");
}

int main(void)
{
	static struct am_srv s;
	struct am_http_opts o;
	struct am_http *h, *h6;
	char err[256], seen[512];
	struct resp r;

	fake_init(&s);
	test_options();
	am_http_opts_init(&o);
	o.port = 0;
	h = am_http_start(&s, &o, err, sizeof(err));
	CHECK(h != NULL, err);
	if (!h)
		return check_report("test_http");
	test_root(am_http_port(h));

	snprintf(o.addr, sizeof(o.addr), "::1");
	h6 = am_http_start(&s, &o, err, sizeof(err));
	CHECK(h6 != NULL, err);
	if (h6) {
		CHECK_EQ(get(AF_INET6, am_http_port(h6), "GET", "/metrics", &r), 0, "GET over IPv6");
		CHECK_EQ(r.status, 200, "IPv6 peer's uid found");
		free(r.body);
		am_http_stop(h6);
	}

	if (geteuid() == 0) {
		as_nobody(am_http_port(h), seen, sizeof(seen));
		CHECK_STR(seen, "own=200 root=404 none=404 live=404 metrics_own=1 metrics_root=0 daemon=0",
			  "uid 65534 sees its own target only");
		am_http_stop(h);
		am_http_opts_init(&o);
		o.port = 0;
		CHECK_EQ(am_http_parse_allow(&o, "65534", err, sizeof(err)), 0, "allow 65534");
		h = am_http_start(&s, &o, err, sizeof(err));
		as_nobody(am_http_port(h), seen, sizeof(seen));
		CHECK_STR(seen, "own=200 root=200 none=404 live=200 metrics_own=1 metrics_root=1 daemon=1",
			  "--http-allow 65534 sees everything");
	} else {
		printf("test_http: not root: the other-uid checks did not run\n");
		CHECK(getenv("CI") == NULL || strcmp(getenv("CI"), "true"), "under CI=true the uid checks must run");
	}
	am_http_stop(h);
	free(s.hist);
	return check_report("test_http");
}
