// SPDX-License-Identifier: GPL-2.0
/* test_prom.c - the Prometheus writer (render/prom.c): exact samples for a
 * synthetic summary, label escaping of a hostile comm, the figures that
 * are absent when unknown (live bytes in os mode, an unknown threshold),
 * and the daemon's figures only when asked for. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "prom.h"

static char *render(const struct am_prom_target *t, size_t n, const struct am_prom_daemon *d)
{
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);

	CHECK(f != NULL, "memstream");
	CHECK_EQ(am_prom_write(f, t, n, d), 0, "am_prom_write");
	fclose(f);
	return p;
}

/* The whole line that starts with prefix (a sample's name and labels). */
static const char *line_of(const char *text, const char *prefix, char *buf, size_t n)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, prefix, strlen(prefix))) {
			size_t k = strcspn(p, "\n");

			snprintf(buf, n, "%.*s", (int)k, p);
			return buf;
		}
	}
	return NULL;
}

#define L "pid=\"42\",comm=\"prog\",allocator=\"glibc\",mode=\"all\""

static void test_values(void)
{
	static struct am_summary s;
	struct am_prom_target t = { .pid = 42, .comm = "prog", .comm_len = 16, .allocator = "glibc",
				    .mode = "all", .alive = true, .started_unix_ns = 1700000000123456789ull,
				    .history_dropped = 7, .s = &s };
	char b[512], *out;

	memset(&s, 0, sizeof(s));
	s.live_bytes = 300000;
	s.live_count = 3;
	s.heap_bytes = 135168;
	s.mmap_bytes = 200704;
	s.committed_bytes = 335872;
	s.returned_munmap = 401408;
	s.sys_by_cause[AM_SYS_BRK][AM_FN_MALLOC] = 2;
	s.sys_by_cause[AM_SYS_MMAP][AM_FN_MAX] = 5;   /* direct */
	s.sys_unknown[AM_SYS_MUNMAP] = 1;
	s.sys_failed[AM_SYS_MMAP] = 1;
	s.fn[AM_FN_MALLOC].calls = 10;
	s.threshold_known = true;
	s.thr_end.known = true;
	s.thr_end.value = 200704;
	s.bpf.lost_os = 3;
	out = render(&t, 1, NULL);
	CHECK_STR(line_of(out, "allocmap_live_bytes{", b, sizeof(b)), "allocmap_live_bytes{" L "} 300000", "live");
	CHECK_STR(line_of(out, "allocmap_heap_bytes{", b, sizeof(b)), "allocmap_heap_bytes{" L "} 135168", "heap");
	CHECK_STR(line_of(out, "allocmap_os_requests_total{" L ",syscall=\"brk\"", b, sizeof(b)),
		  "allocmap_os_requests_total{" L ",syscall=\"brk\",cause=\"malloc\"} 2", "brk by malloc");
	CHECK_STR(line_of(out, "allocmap_os_requests_total{" L ",syscall=\"mmap\"", b, sizeof(b)),
		  "allocmap_os_requests_total{" L ",syscall=\"mmap\",cause=\"direct\"} 5", "mmap direct");
	CHECK_STR(line_of(out, "allocmap_os_requests_total{" L ",syscall=\"munmap\"", b, sizeof(b)),
		  "allocmap_os_requests_total{" L ",syscall=\"munmap\",cause=\"unknown\"} 1", "munmap unknown");
	CHECK_STR(line_of(out, "allocmap_os_requests_failed_total{" L ",syscall=\"mmap\"", b, sizeof(b)),
		  "allocmap_os_requests_failed_total{" L ",syscall=\"mmap\"} 1", "failed");
	CHECK_STR(line_of(out, "allocmap_returned_bytes_total{" L ",how=\"munmap\"", b, sizeof(b)),
		  "allocmap_returned_bytes_total{" L ",how=\"munmap\"} 401408", "returned");
	CHECK_STR(line_of(out, "allocmap_mmap_threshold_bytes{", b, sizeof(b)),
		  "allocmap_mmap_threshold_bytes{" L "} 200704", "threshold");
	CHECK_STR(line_of(out, "allocmap_lost_events_total{" L ",reason=\"ringbuf_os\"", b, sizeof(b)),
		  "allocmap_lost_events_total{" L ",reason=\"ringbuf_os\"} 3", "lost");
	CHECK_STR(line_of(out, "allocmap_allocator_calls_total{", b, sizeof(b)),
		  "allocmap_allocator_calls_total{" L ",function=\"malloc\"} 10", "calls");
	CHECK_STR(line_of(out, "allocmap_history_dropped_records_total{", b, sizeof(b)),
		  "allocmap_history_dropped_records_total{" L "} 7", "history dropped");
	CHECK_STR(line_of(out, "allocmap_target_start_time_seconds{", b, sizeof(b)),
		  "allocmap_target_start_time_seconds{" L "} 1700000000.123456789", "start");
	CHECK(strstr(out, "# TYPE allocmap_os_requests_total counter\n") != NULL, "TYPE line");
	CHECK(strstr(out, "# HELP allocmap_live_bytes ") != NULL, "HELP line");
	CHECK(!strstr(out, "allocmap_daemon_"), "no daemon figures without d");
	free(out);

	/* unknown: the threshold while unknown, live bytes in os mode */
	s.thr_end.known = false;
	s.os_only = true;
	t.mode = "os";
	out = render(&t, 1, NULL);
	CHECK(!line_of(out, "allocmap_mmap_threshold_bytes{", b, sizeof(b)), "unknown threshold absent");
	CHECK(!line_of(out, "allocmap_live_bytes{", b, sizeof(b)), "os mode: no live bytes");
	CHECK(line_of(out, "allocmap_heap_bytes{", b, sizeof(b)) != NULL, "os mode: heap still there");
	free(out);
}

static void test_escaping_and_daemon(void)
{
	static struct am_summary s;
	/* a comm with a quote, a backslash, a newline, a control byte and a
	 * byte that is not UTF-8; an allocator unknown */
	struct am_prom_target t = { .pid = 7, .comm = "a\"b\\c\nd\x01\xff", .comm_len = 16,
				    .allocator = "", .mode = "all", .s = &s };
	struct am_prom_daemon d = { .events = 12, .events_per_s = 2.5, .ringbuf_fill = 0.25,
				    .rss_bytes = 4096, .targets = 1, .dropped = 0, .clients = 3 };
	char b[512], *out;

	memset(&s, 0, sizeof(s));
	out = render(&t, 1, &d);
	CHECK_STR(line_of(out, "allocmap_heap_bytes{", b, sizeof(b)),
		  "allocmap_heap_bytes{pid=\"7\",comm=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\xef\xbf\xbd\","
		  "allocator=\"unknown\",mode=\"all\"} 0", "escaped comm");
	CHECK_STR(line_of(out, "allocmap_daemon_events_total ", b, sizeof(b)), "allocmap_daemon_events_total 12", "events");
	CHECK_STR(line_of(out, "allocmap_daemon_events_per_second ", b, sizeof(b)),
		  "allocmap_daemon_events_per_second 2.5", "events/s");
	CHECK_STR(line_of(out, "allocmap_daemon_clients ", b, sizeof(b)), "allocmap_daemon_clients 3", "clients");
	/* the comm is at most comm_len bytes, NUL or not */
	t.comm = "0123456789abcdefXYZ";
	free(out);
	out = render(&t, 1, NULL);
	CHECK(strstr(out, "comm=\"0123456789abcdef\"") != NULL, "comm cut at comm_len");
	free(out);
}

/* Every metric family written is documented in docs/guide.md (run from the
 * repository root, as run-unit.sh does). */
static void test_documented(void)
{
	static struct am_summary s;
	struct am_prom_target t = { .pid = 1, .comm = "x", .comm_len = 16, .mode = "all", .s = &s };
	struct am_prom_daemon d = { 0 };
	char *out = render(&t, 1, &d), *doc = NULL, name[128];
	size_t n = 0;
	FILE *f = fopen("docs/guide.md", "r");

	CHECK(f != NULL, "docs/guide.md");
	if (!f)
		return;
	if (getdelim(&doc, &n, 0, f) < 0)
		doc = NULL;
	fclose(f);
	for (const char *p = out; doc && (p = strstr(p, "# TYPE ")); p++) {
		char want[140];

		sscanf(p + 7, "%127s", name);
		snprintf(want, sizeof(want), "| `%s` |", name);
		CHECK(strstr(doc, want) != NULL, name);
	}
	free(doc);
	free(out);
}

int main(void)
{
	test_documented();
	test_values();
	test_escaping_and_daemon();
	return check_report("test_prom");
}
