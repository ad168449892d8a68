// SPDX-License-Identifier: GPL-2.0
/* test_rss.c - unit tests of the RSS sampler (rss.c): statm lines parsed
 * (and malformed ones refused), this process's own RSS read and seen to
 * grow by what it touches, the sampling period. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "rss.h"

static void test_parse(void)
{
	uint64_t b = 0;

	CHECK(am_rss__parse("2874 436 371 1 0 135 0\n", 4096, &b), "a statm line");
	CHECK_EQ(b, 436 * 4096ULL, "resident pages in bytes");
	CHECK(!am_rss__parse("", 4096, &b), "empty");
	CHECK(!am_rss__parse("12\n", 4096, &b), "one field");
	CHECK(!am_rss__parse("x y\n", 4096, &b), "not numbers");
	CHECK(!am_rss__parse("1 18446744073709551615\n", 4096, &b), "overflowing page count");
}

static void test_own_rss(void)
{
	struct am_rss *r = am_rss__new();
	uint64_t before = 0, after = 0;
	size_t n = 32 << 20;
	char *p = malloc(n);

	CHECK(r && p, "allocated");
	if (!r || !p)
		return;
	CHECK(am_rss__read(r, getpid(), &before), "own RSS read");
	memset(p, 1, n);
	CHECK(am_rss__read(r, getpid(), &after), "own RSS read again (the same descriptor)");
	CHECK(after >= before + n, "touching 32 MiB raised RSS by at least that");
	CHECK(!am_rss__read(r, 0, &after), "pid 0 refused");
	CHECK(!am_rss__read(r, 0x7ffffff0, &after), "no such process");
	am_rss__forget(r, getpid());
	CHECK(am_rss__read(r, getpid(), &after), "read after forget: opened afresh");
	free(p);
	/* the period: due at once, then not until AM_RSS_PERIOD_MS later */
	CHECK(am_rss__due(r, 1000000000ull), "first sample due");
	CHECK(!am_rss__due(r, 1000000000ull + 10000000ull), "10 ms later: not due");
	CHECK(am_rss__due(r, 1000000000ull + AM_RSS_PERIOD_MS * 1000000ull), "a period later: due");
	CHECK(am_rss__due(r, 5000000000ull), "after a long stall: due");
	CHECK(!am_rss__due(r, 5000000000ull + 1), "and the schedule restarts from there");
	am_rss__free(r);
}

int main(void)
{
	test_parse();
	test_own_rss();
	return check_report("rss");
}
