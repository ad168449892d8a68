// SPDX-License-Identifier: GPL-2.0
/* report_cmd.h - the `allocmap report` command line (report_cmd.c). */
#ifndef ALLOCMAP_REPORT_CMD_H
#define ALLOCMAP_REPORT_CMD_H

/* `allocmap report EVENTS.jsonl -o report.html [--perfetto FILE]`: argv[0]
 * is "allocmap report". Returns the exit status. */
int am_report_main(int argc, char **argv);

#endif /* ALLOCMAP_REPORT_CMD_H */
