// SPDX-License-Identifier: GPL-2.0
/* diff.h - `allocmap diff A.jsonl B.jsonl`: what changed between two traces. */
#ifndef ALLOCMAP_DIFF_H
#define ALLOCMAP_DIFF_H

/* argv[0] is "allocmap diff". Returns the exit status: 0, 64 for a usage
 * error, 1 when a trace cannot be read or an output written. */
int am_diff_main(int argc, char **argv);

#endif /* ALLOCMAP_DIFF_H */
