// SPDX-License-Identifier: GPL-2.0
/* test_serve.c - the parts of `allocmap serve` that need no BPF: the
 * bounded history (serve/hist.c: whole lines kept, the oldest dropped and
 * counted, lines split across writes, a line larger than the ring) and the
 * config file (serve/conf.c: keys, ranges, a bad line refuses the file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "srv_int.h"

static char *copy(const struct am_hist *h, uint64_t from)
{
	char *s = NULL;
	size_t n;

	return am_hist_copy(h, from, &s, &n) ? NULL : s;
}

static void test_hist(void)
{
	struct am_hist h;
	char *s;

	CHECK_EQ(am_hist_init(&h, 16), 0, "init");
	am_hist_write(&h, "aaaa\nbbbb\n", 10);
	CHECK_STR((s = copy(&h, 0)), "aaaa\nbbbb\n", "two lines kept");
	free(s);
	/* 5 more bytes do not fit with 10 in 16: the oldest line goes, whole */
	am_hist_write(&h, "cc", 2);
	CHECK_STR((s = copy(&h, 0)), "aaaa\nbbbb\n", "a partial line is not in the history");
	free(s);
	am_hist_write(&h, "ccccc\n", 6);
	CHECK_STR((s = copy(&h, 0)), "bbbb\nccccccc\n", "split line joined; oldest dropped whole");
	free(s);
	CHECK_EQ(h.dropped, 1, "one line dropped");
	CHECK_EQ(h.start, 5, "start at the second line");
	CHECK_EQ(h.end, 18, "end: every byte written in whole lines");
	CHECK_STR((s = copy(&h, 10)), "ccccccc\n", "from a cursor (wrapped in the ring)");
	free(s);
	CHECK_STR((s = copy(&h, 0)), "bbbb\nccccccc\n", "a cursor before the start starts there");
	free(s);
	am_hist_write(&h, "0123456789abcdefXYZ\n", 20);
	CHECK_EQ(h.dropped, 2, "a line over the capacity is dropped, counted");
	CHECK_STR((s = copy(&h, 0)), "bbbb\nccccccc\n", "and the rest kept");
	free(s);
	am_hist_write(&h, "0123456789abcdefXYZ", 19);
	am_hist_write(&h, "\nok\n", 4);
	CHECK_EQ(h.dropped, 3, "a long line split over writes, dropped");
	CHECK_STR((s = copy(&h, h.start)), "bbbb\nccccccc\nok\n", "the next line is kept");
	free(s);
	am_hist_free(&h);
}

static int conf_file(const char *text, struct am_srv_conf *c, char *err, size_t errlen)
{
	char path[] = "/tmp/test_serve.XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -2;
	close(fd);
	rc = am_srv_conf_load(path, c, err, errlen);
	unlink(path);
	return rc;
}

static void test_conf(void)
{
	struct am_srv_conf c;
	char err[256] = "";

	am_srv_conf_default(&c);
	CHECK_EQ(c.max_targets, 256, "default max_targets");
	CHECK_EQ(conf_file("# limits\n\nmax_targets = 8\n  history_kb=128  \nringbuf_os_mb = 2\n", &c, err,
			   sizeof(err)), 0, "a good file");
	CHECK_EQ(c.max_targets, 8, "max_targets");
	CHECK_EQ(c.history_bytes, 128 * 1024, "history_kb in bytes");
	CHECK_EQ(c.ringbuf_os_mb, 2, "ringbuf_os_mb");
	CHECK_EQ(conf_file("max_clients = 9\nmax_targets = 0\n", &c, err, sizeof(err)), -1, "0 targets");
	CHECK_STR(err, "line 2: invalid max_targets '0' (1..4096)", "its message");
	CHECK_EQ(c.max_clients, 256, "a refused file changes nothing");
	CHECK_EQ(conf_file("ringbuf_mb = 3\n", &c, err, sizeof(err)), -1, "not a power of two");
	CHECK_STR(err, "line 1: invalid ringbuf_mb '3' (a power of two)", "its message");
	CHECK_EQ(conf_file("colour = blue\n", &c, err, sizeof(err)), -1, "unknown key");
	CHECK_STR(err, "line 1: unknown key 'colour'", "its message");
	CHECK_EQ(conf_file("max_targets 8\n", &c, err, sizeof(err)), -1, "no '='");
	CHECK_STR(err, "line 1: not 'key = value'", "its message");
	CHECK_EQ(conf_file("linger_s = -1\n", &c, err, sizeof(err)), -1, "negative");
	CHECK_EQ(conf_file("linger_s = 99999999999999999999999\n", &c, err, sizeof(err)), -1, "overflow");
	CHECK_EQ(c.linger_s, 300, "linger_s unchanged");
}

int main(void)
{
	test_hist();
	test_conf();
	return check_report("serve");
}
