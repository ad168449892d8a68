// SPDX-License-Identifier: GPL-2.0
/* top.h - the live terminal view (`allocmap top`, ncurses). */
#ifndef ALLOCMAP_TOP_H
#define ALLOCMAP_TOP_H

/* argv[0] is "allocmap top". Returns the exit status. */
int am_top_main(int argc, char **argv);

#endif
