/* compare.c - placeholder for `allocmap compare`: the same command under several allocators, side by side: not implemented yet. */
#include <stdio.h>
#include "compare.h"

int am_compare_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "allocmap: compare is not implemented yet\n");
	return 2;
}
