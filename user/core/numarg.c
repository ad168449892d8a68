// SPDX-License-Identifier: GPL-2.0
/* numarg.c - strict numeric option parsers (see numarg.h). */
#include "numarg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int am_parse_seconds(const char *s, double *out)
{
	size_t digits = 0, i = 0;
	char *end;
	double v;

	/* digits, then an optional '.' and digits: no sign, blank, exponent,
	 * hex, nan or inf, which strtod would all take */
	if (!s)
		return -1;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (s[i] == '.')
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (!digits || s[i])
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 1e-9 || v > AM_MAX_SECONDS)
		return -1;
	*out = v;
	return 0;
}

int am_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}
