// SPDX-License-Identifier: GPL-2.0
/* test_hostile.c - unit tests of what guards allocmap against hostile input
 * (issue 10): the strict numeric option parsers (user/core/numarg.c) at their
 * edges, and the file openers of user/core/safeio.c: a FIFO or a directory given
 * as a target's file is refused at once instead of blocking, and an output
 * file in a world-writable sticky directory is never reached through a
 * symlink nor taken from another owner; repeated warnings folded into one
 * counted line (user/core/warnagg.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "numarg.h"
#include "safeio.h"
#include "warnagg.h"

static void test_seconds(void)
{
	static const char *bad[] = { "nan", "NaN", "inf", "-inf", "1e308", "1e11", "-1", "0", "",
				     " 5", "5 ", "+5", "5s", "1e-12", "-0", "0x", "1e9999",
				     /* decimal only: no exponent, no hex */
				     "1e3", "1e9", "0x10", "0x1p3", "12abc", ".", "1..2", "1.2.3",
				     /* the edges: just under 1e-9, just over 10^9 */
				     "0.0000000009", "1000000001", "1000000000.000001",
				     "99999999999999999999", "0.000" };
	double d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(am_parse_seconds(bad[i], &d) < 0, bad[i]);
	CHECK(am_parse_seconds("3", &d) == 0 && d == 3, "3");
	CHECK(am_parse_seconds("0.5", &d) == 0 && d == 0.5, "0.5");
	CHECK(am_parse_seconds(".5", &d) == 0 && d == 0.5, ".5");
	CHECK(am_parse_seconds("2.", &d) == 0 && d == 2, "2.");
	CHECK(am_parse_seconds("0.000000001", &d) == 0 && d == 1e-9, "1e-9 (the smallest)");
	CHECK(am_parse_seconds("1000000000", &d) == 0 && d == 1e9, "10^9 (the largest)");
	CHECK(am_parse_seconds("1000000000.0", &d) == 0 && d == 1e9, "10^9 with a fraction");
	/* the largest value still fits in nanoseconds after any start time */
	CHECK((uint64_t)(AM_MAX_SECONDS * 1e9) < UINT64_MAX / 2, "max in ns");
}

static void test_uint(void)
{
	static const char *bad[] = { "-1", "+1", " 1", "1 ", "", "1x", "0x10", "1e3", "12abc", "1.0",
				     "18446744073709551616", "99999999999999999999999" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(am_parse_uint(bad[i], 0, UINT64_MAX, &v) < 0, bad[i]);
	CHECK(am_parse_uint("18446744073709551615", 0, UINT64_MAX, &v) == 0 && v == UINT64_MAX, "u64 max");
	CHECK(am_parse_uint("4096", 4096, 16384, &v) == 0 && v == 4096, "lo edge");
	CHECK(am_parse_uint("16385", 4096, 16384, &v) < 0, "hi edge + 1");
	CHECK(am_parse_uint("0", 1, 10, &v) < 0, "below lo");
}

static void test_target_files(const char *dir)
{
	char fifo[512], file[512];
	int fd;

	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
	fd = am_open_target(fifo, false); /* no writer: a blocking open would hang here */
	CHECK(fd < 0 && errno == ENXIO, "a FIFO is refused at once");
	CHECK(am_open_target(dir, false) < 0 && errno == ENXIO, "a directory is refused");
	CHECK(am_open_target("/dev/zero", false) < 0, "a device is refused");
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	close(fd);
	fd = am_open_target(file, false);
	CHECK(fd >= 0, "a regular file opens");
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "close-on-exec");
	if (fd >= 0)
		close(fd);
	unlink(fifo);
	unlink(file);
}

static void test_outputs(const char *dir)
{
	char sticky[512], plain[512], p[600], q[600], err[512];
	struct stat st;
	int fd;

	snprintf(sticky, sizeof(sticky), "%s/sticky", dir);
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	mkdir(sticky, 0777);
	chmod(sticky, 01777);
	mkdir(plain, 0755);

	/* a new file in a sticky directory */
	snprintf(p, sizeof(p), "%s/new", sticky);
	fd = am_open_output(p, err, sizeof(err));
	CHECK(fd >= 0, "new file in a sticky dir");
	if (fd >= 0) {
		CHECK(write(fd, "abc", 3) == 3, "write");
		close(fd);
	}
	/* our own existing file there is truncated and reused */
	fd = am_open_output(p, err, sizeof(err));
	CHECK(fd >= 0 && !fstat(fd, &st) && st.st_size == 0, "own file truncated");
	if (fd >= 0)
		close(fd);
	/* a symlink there is not followed, its target untouched */
	snprintf(q, sizeof(q), "%s/victim", plain);
	fd = open(q, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "secret", 6) == 6, "victim");
	close(fd);
	snprintf(p, sizeof(p), "%s/link", sticky);
	CHECK(symlink(q, p) == 0, "symlink");
	fd = am_open_output(p, err, sizeof(err));
	CHECK(fd < 0 && strstr(err, "symlink"), "symlink in a sticky dir refused");
	CHECK(!stat(q, &st) && st.st_size == 6, "victim untouched");
	/* a file of another owner there is not clobbered */
	snprintf(p, sizeof(p), "%s/theirs", sticky);
	fd = open(p, O_WRONLY | O_CREAT, 0666);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1, "theirs");
	close(fd);
	if (geteuid() == 0 && chown(p, 65534, 65534) == 0) {
		fd = am_open_output(p, err, sizeof(err));
		CHECK(fd < 0 && strstr(err, "not a regular file of uid"), "another owner's file refused");
		CHECK(!stat(p, &st) && st.st_size == 1, "their file untouched");
	}
	/* a FIFO there does not block */
	snprintf(p, sizeof(p), "%s/fifo", sticky);
	CHECK(mkfifo(p, 0666) == 0, "mkfifo");
	fd = am_open_output(p, err, sizeof(err));
	CHECK(fd < 0, "a FIFO in a sticky dir refused at once");
	/* elsewhere a symlink is followed (the user's own choice) */
	snprintf(p, sizeof(p), "%s/link", plain);
	CHECK(symlink(q, p) == 0, "symlink (plain)");
	fd = am_open_output(p, err, sizeof(err));
	CHECK(fd >= 0 && !fstat(fd, &st) && st.st_size == 0, "symlink followed in a plain dir");
	if (fd >= 0)
		close(fd);
	CHECK(am_open_output("/dev/null", err, sizeof(err)) >= 0, "/dev/null is an output");
}

static void test_warnagg(void)
{
	struct am_warnagg *a = am_warnagg__new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (int i = 0; i < 17; i++)
		am_warnagg__add(a, "probe not attached", "probes not attached", 42, ESRCH);
	am_warnagg__flush(a, f, false);
	fflush(f);
	CHECK_STR(buf, "allocmap: warning: 17 probes not attached to pid 42: No such process (it exited)\n",
		  "one line for one process");
	fclose(f);
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	for (int pid = 100; pid < 300; pid++)
		for (int i = 0; i < 17; i++)
			am_warnagg__add(a, "probe not attached", "probes not attached", pid, ESRCH);
	am_warnagg__add(a, "probe not attached", "probes not attached", 7, EINVAL);
	am_warnagg__flush(a, f, true); /* ESRCH kept for later */
	fflush(f);
	CHECK_STR(buf, "allocmap: warning: 1 probe not attached to pid 7: Invalid argument\n",
		  "other errors at once");
	am_warnagg__flush(a, f, false);
	fflush(f);
	CHECK_STR(buf, "allocmap: warning: 1 probe not attached to pid 7: Invalid argument\n"
		  "allocmap: warning: 3400 probes not attached to 200 processes (pids 100, 101, 102, ...): "
		  "No such process (they exited)\n", "200 processes in one line");
	fclose(f);
	free(buf);
	am_warnagg__free(a);
}

int main(void)
{
	test_warnagg();
	char dir[] = "/tmp/am-hostile-XXXXXX", cmd[64];

	test_seconds();
	test_uint();
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_target_files(dir);
	test_outputs(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return check_report("hostile");
}
