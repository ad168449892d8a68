#!/usr/bin/env bash
# run-all.sh - what `make test` runs from the repository root once everything
# is built: every .output/tests/test_* unit test binary, then the end-to-end
# suites (python3 tests/e2e.py, then every tests/t_*.py). Each suite prints "NAME: N passed, N failed";
# this script adds them up and ends with ONE line, "all: N passed, N failed",
# exiting non-zero if anything failed or a suite crashed (died, or printed no
# result line: counted as one failure).
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 crashed=0

# run_suite NAME CMD...: run CMD, show its output, fold its result line in.
run_suite() {
	local name=$1
	shift
	local out rc line p f
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: crashed or printed no result line (exit $rc)"
		failed=$((failed + 1))
		crashed=1
		return
	fi
	p=$(printf '%s' "$line" | sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\1/')
	f=$(printf '%s' "$line" | sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*$/\2/')
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# e.g. a sanitizer report after the summary line
		echo "FAIL $name: exit status $rc with no failed check"
		failed=$((failed + 1))
		crashed=1
	fi
}

shopt -s nullglob
units=(.output/tests/test_*)
if [ "${#units[@]}" -eq 0 ]; then
	echo "run-all.sh: no unit tests in .output/tests (run make first?)" >&2
fi
for t in "${units[@]}"; do
	[ -x "$t" ] || continue
	run_suite "$(basename "$t")" "$t"
done
run_suite e2e python3 tests/e2e.py
# further end-to-end suites (report, top, compare, demo, ...): tests/t_*.py,
# each printing its own "NAME: N passed, N failed" line
for t in tests/t_*.py; do
	run_suite "$(basename "$t" .py)" python3 "$t"
done

echo "all: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
