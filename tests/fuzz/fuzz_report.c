// SPDX-License-Identifier: GPL-2.0
/* fuzz_report.c - libFuzzer harness of `allocmap report`: the JSON Lines
 * reader of user/report/report.c and the report model of user/report/report_model.c, fed
 * arbitrary (mostly mutated trace) files; both back ends run, their output
 * goes to a memory file (never /dev/null: a failed export removes its
 * output file). Any crash, leak or sanitizer report is a finding.
 * Seeds: tests/fuzz/corpus/report/. */
#include "fuzz_util.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[64];
	char path[64], err[512];
	int fd;

	if (size > (1 << 20))
		return 0;
	if (!out[0])
		fuzz_memfile(NULL, 0, out, sizeof(out)); /* kept open for the whole run */
	fd = fuzz_memfile(data, size, path, sizeof(path));
	am_report_html(path, out, err, sizeof(err));
	am_report_perfetto(path, out, err, sizeof(err));
	close(fd);
	return 0;
}
