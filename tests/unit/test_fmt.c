// SPDX-License-Identifier: GPL-2.0
/* test_fmt.c - unit tests of the size formats people read (fmt.c):
 * am_fmt_size3 (three significant digits, the unit keeping the number under
 * 1000) and am_fmt_size_in (one unit for a whole column or row), at their
 * edges: 0, 1023, 1024, the carries at 9.995 / 99.95 / 999.5 of a unit, huge. */
#include "check.h"
#include "fmt.h"

#define KIB 1024ULL
#define MIB (1024ULL * KIB)

static void test_size3(void)
{
	char b[AM_FMT_BUF];

	CHECK_STR(am_fmt_size3(b, sizeof(b), 0), "0 B", "0");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 512), "512 B", "512");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1023), "1023 B", "1023: bytes exact");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1024), "1.00 KiB", "1024");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 10234), "9.99 KiB", "9.994 KiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 10235), "10.0 KiB", "9.995 KiB carries to 10.0");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 100045), "97.7 KiB", "97.7 KiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 102348), "99.9 KiB", "just under 99.95 KiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 102349), "100 KiB", "99.95 KiB carries to 100");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 401272), "392 KiB", "392 KiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1023487), "999 KiB", "just under 999.5 KiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1023488), "0.98 MiB", "999.5 KiB: the next unit");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1048064), "1.00 MiB", "1023.5 KiB rounds up to 1.00 MiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), MIB), "1.00 MiB", "1 MiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1677722), "1.60 MiB", "1.60 MiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 119 * MIB), "119 MiB", "119 MiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1ULL << 30), "1.00 GiB", "1 GiB");
	CHECK_STR(am_fmt_size3(b, sizeof(b), UINT64_MAX), "16.0 EiB", "huge: 2^64 - 1");
}

static void test_size_in(void)
{
	char b[AM_FMT_BUF];
	uint64_t max = 1677722; /* 1.60 MiB */

	CHECK_STR(am_fmt_size_in(b, sizeof(b), max, max), "1.60 MiB", "the largest itself");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 401272, max), "0.38 MiB", "smaller in the same unit");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 512, max), "<0.01 MiB", "not 0 but rounds to 0");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 0, max), "0 MiB", "0");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 100045, 119 * MIB), "<1 MiB",
		  "97.7 KiB among 119 MiB");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 115716 * KIB, 128 * MIB), "113 MiB", "a compare row");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 97724 * KIB, 128 * MIB), "95 MiB", "a compare row");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 700, 900), "700 B", "a column of bytes");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 1023488, 1023488), "0.98 MiB", "999.5 KiB as its own column");
	CHECK_STR(am_fmt_size_in(b, sizeof(b), 2 * MIB, MIB), "2.00 MiB", "max below the value: its unit");
}

int main(void)
{
	test_size3();
	test_size_in();
	return check_report("fmt");
}
