/* demo.c - placeholder for `allocmap demo threshold`: a guided, traced tour of glibc's brk-versus-mmap choice: not implemented yet. */
#include <stdio.h>
#include "demo.h"

int am_demo_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "allocmap: demo is not implemented yet\n");
	return 2;
}
