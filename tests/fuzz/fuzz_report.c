// SPDX-License-Identifier: GPL-2.0
/* fuzz_report.c - libFuzzer harness of `allocmap report`: the JSON Lines
 * reader of user/report.c and the report model of user/report_model.c, fed
 * arbitrary (mostly mutated trace) files; both back ends run, their output
 * goes to /dev/null. Any crash, leak or sanitizer report is a finding.
 * Seeds: tests/fuzz/corpus/report/. */
#include "fuzz_util.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	int fd;

	if (size > (1 << 20))
		return 0;
	fd = fuzz_memfile(data, size, path, sizeof(path));
	am_report_html(path, "/dev/null", err, sizeof(err));
	am_report_perfetto(path, "/dev/null", err, sizeof(err));
	close(fd);
	return 0;
}
