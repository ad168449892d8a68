#!/usr/bin/env bash
# run-unit.sh - runs each unit test binary given as an argument (make unit
# passes .output/tests/test_*), prints each one's "SUITE: N passed, N failed"
# line, then one total line "unit: N passed, N failed". Exits non-zero if any
# test failed, or if a binary crashed or printed no result line.
set -u

passed=0 failed=0 status=0
if [ "$#" -eq 0 ]; then
	echo "run-unit.sh: no unit test binaries given" >&2
	echo "unit: 0 passed, 0 failed"
	exit 0
fi
for t in "$@"; do
	name=$(basename "$t")
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: crashed or printed no result line (exit $rc)"
		failed=$((failed + 1))
		status=1
		continue
	fi
	p=$(printf '%s' "$line" | sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\1/')
	f=$(printf '%s' "$line" | sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\2/')
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exit status $rc with no failed check"
		failed=$((failed + 1))
	fi
	[ "$rc" -ne 0 ] || [ "$f" -ne 0 ] && status=1
done
echo "unit: $passed passed, $failed failed"
exit "$status"
