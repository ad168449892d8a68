// SPDX-License-Identifier: GPL-2.0
/* numarg.h - strict parsers for the numeric options of every subcommand
 * (-d, -p, -i, --ringbuf-mb, --sample, --stack-size, --pause): nan, inf,
 * signs, blanks, junk and values that overflow are refused, so that no
 * option can wrap into another meaning (issue 10: -d 1e11 overflowed the
 * nanosecond deadline and stopped the trace at once; -d nan meant none). */
#ifndef ALLOCMAP_NUMARG_H
#define ALLOCMAP_NUMARG_H

#include <stdint.h>

/* Longest -d accepted: 10^9 s (31 years) stays far from 2^64 ns. */
#define AM_MAX_SECONDS 1e9

/* A duration in seconds: a decimal number (digits with an optional
 * fraction: "2", "0.5", ".5"; no sign, exponent or hex) in
 * [1e-9, AM_MAX_SECONDS]. 0 and *out set, or -1. */
int am_parse_seconds(const char *s, double *out);

/* A decimal integer in [lo, hi], digits only (no sign, no blank). 0 and
 * *out set, or -1. */
int am_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

#endif /* ALLOCMAP_NUMARG_H */
