// SPDX-License-Identifier: GPL-2.0
/* demo.h - `allocmap demo threshold`: a guided, traced tour of glibc's brk-versus-mmap choice. */
#ifndef ALLOCMAP_DEMO_H
#define ALLOCMAP_DEMO_H

/* argv[0] is "allocmap demo". Returns the exit status. */
int am_demo_main(int argc, char **argv);

#endif
