#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run-all.sh - what `make test` runs from the repository root once everything
# is built: every .output/tests/test_* unit test binary, then the end-to-end
# suites (python3 tests/e2e/e2e.py, then every tests/e2e/t_*.py). Each suite prints "NAME: N passed, N failed";
# this script adds them up and ends with ONE line, "all: N passed, N failed",
# exiting non-zero if anything failed or a suite crashed (died, or printed no
# result line: counted as one failure).
set -u
cd "$(dirname "$0")/.."

. tests/suite-lib.sh

shopt -s nullglob
units=(.output/tests/test_*)
if [ "${#units[@]}" -eq 0 ]; then
	echo "run-all.sh: no unit tests in .output/tests (run make first?)" >&2
fi
for t in "${units[@]}"; do
	[ -x "$t" ] || continue
	run_suite "$(basename "$t")" "$t"
done
run_suite e2e python3 tests/e2e/e2e.py
# further end-to-end suites (report, top, compare, demo, ...): tests/e2e/t_*.py,
# each printing its own "NAME: N passed, N failed" line
for t in tests/e2e/t_*.py; do
	run_suite "$(basename "$t" .py)" python3 "$t"
done

echo "all: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
