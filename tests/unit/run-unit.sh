#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run-unit.sh - runs each unit test binary given as an argument (make unit
# passes .output/tests/test_*), prints each one's "SUITE: N passed, N failed"
# line, then one total line "unit: N passed, N failed". Exits non-zero if any
# test failed, or if a binary crashed or printed no result line.
set -u

cd "$(dirname "$0")/../.."
. tests/suite-lib.sh

if [ "$#" -eq 0 ]; then
	echo "run-unit.sh: no unit test binaries given" >&2
	echo "unit: 0 passed, 0 failed"
	exit 0
fi
for t in "$@"; do
	run_suite "$(basename "$t")" "$t"
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
