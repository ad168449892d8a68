// SPDX-License-Identifier: GPL-2.0
/* compare.h - `allocmap compare`: the same command under several allocators, side by side. */
#ifndef ALLOCMAP_COMPARE_H
#define ALLOCMAP_COMPARE_H

/* argv[0] is "allocmap compare". Returns the exit status. */
int am_compare_main(int argc, char **argv);

#endif
