/* top.c - placeholder for the live terminal view (`allocmap top`, ncurses): not implemented yet. */
#include <stdio.h>
#include "top.h"

int am_top_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "allocmap: top is not implemented yet\n");
	return 2;
}
