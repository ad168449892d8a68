// SPDX-License-Identifier: GPL-2.0
/* hostile.c - a target whose names attack allocmap's outputs (issue 10):
 * tests/e2e/t_hostile_output.py copies this binary under a file name holding an
 * escape sequence and bytes that are not UTF-8, and overwrites the symbol
 * name below (same length, in .strtab and the DWARF strings) with terminal
 * escapes, a newline, markup and invalid UTF-8. Its one large malloc makes
 * an mmap whose stack holds that frame.
 *
 *   hostile [STATUS|kill]    exits with STATUS (default 0), or kills itself
 *                            with SIGTERM */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* the test finds this exact name in the binary: keep it unique */
__attribute__((noinline)) void am_hostile_name_placeholder_0123456789(void)
{
	char *p = malloc(300000);

	if (p) {
		memset(p, 1, 300000);
		free(p);
	}
}

int main(int argc, char **argv)
{
	am_hostile_name_placeholder_0123456789();
	if (argc > 1 && !strcmp(argv[1], "kill"))
		raise(SIGTERM);
	return argc > 1 ? atoi(argv[1]) : 0;
}
