# SPDX-License-Identifier: GPL-2.0
# suite-lib.sh - sourced by run-all.sh and run-unit.sh: runs one test suite
# and folds its closing "NAME: N passed, N failed" line into the totals
# (passed, failed; crashed is set when a suite died or printed no such line).

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

