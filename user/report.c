/* report.c - placeholder until the HTML/Perfetto report lands (issue 3):
 * every entry point fails with a clear message. */
#include <stdio.h>
#include "report.h"

int am_report_html(const char *in_path, const char *out_path, char *err, size_t errlen)
{
	(void)in_path;
	(void)out_path;
	snprintf(err, errlen, "HTML reports are not implemented yet");
	return -1;
}

int am_report_perfetto(const char *in_path, const char *out_path, char *err, size_t errlen)
{
	(void)in_path;
	(void)out_path;
	snprintf(err, errlen, "Perfetto export is not implemented yet");
	return -1;
}

int am_report_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "allocmap: report is not implemented yet\n");
	return 2;
}
