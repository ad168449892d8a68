#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_sanitize.py - keeps allocmap's user-space code clean under
-fsanitize=address,undefined: builds the SAN=1 flavour (.output-san/), runs
its unit tests, then traces real programs with the sanitized tracer through a
subset of the end-to-end and lifecycle suites. Any AddressSanitizer,
LeakSanitizer or UBSan report fails the suite (halt_on_error, and the suites'
one-line-stderr checks catch leak reports).

Run as root from the repository root (tests/run-all.sh does). Ends with
`sanitize: N passed, N failed`. Under CI=true a skip is a failure."""

import glob
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CI = os.environ.get("CI") == "true"
SAN_TOOL = os.path.join(ROOT, ".output-san", "allocmap")
ENV = dict(os.environ,
           ALLOCMAP=SAN_TOOL,
           ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98")
# end-to-end cases that exercise every user-space path: launch, attach,
# threads, bad input, lifecycle (signals, -f, several -p). Not the jemalloc
# case: it sets LD_PRELOAD for allocmap itself, and ASan refuses to run when
# another library is preloaded before its runtime.
E2E = ["launch_first_malloc", "dyn_threshold", "realloc_mremap", "thread_arena", "aligned",
       "attach", "readme_example", "no_such_pid", "static_nosym", "not_root"]
LIFE = ["sigterm_tracer", "several_pids", "follow_forks"]
# and tests/e2e/t_threshold.py whole: reading mp_ through glibc's DWARF at attach


def run(cmd, timeout):
    return subprocess.run(cmd, cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def check_suite(name, r):
    out = r.stdout + r.stderr
    if "Sanitizer" in out or "runtime error" in out:
        i = max(out.find("Sanitizer"), out.find("runtime error"))
        return "sanitizer report: " + out[max(0, i - 200):i + 600]
    if r.returncode != 0:
        return "exit %d: %s" % (r.returncode, out[-800:])
    return None


def main():
    passed = failed = 0

    def report(name, why):
        nonlocal passed, failed
        if why is None:
            print("ok %s" % name)
            passed += 1
        else:
            print("FAIL %s: %s" % (name, why))
            failed += 1
        sys.stdout.flush()

    t0 = time.time()
    r = run(["make", "-s", "SAN=1", "all"] +
            [".output-san/tests/" + os.path.basename(t)[:-2] for t in glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c"))],
            900)
    if r.returncode != 0:
        report("build", "make SAN=1 failed: " + (r.stdout + r.stderr)[-800:])
        print("sanitize: %d passed, %d failed" % (passed, failed))
        return 1
    report("build (%.0fs)" % (time.time() - t0), None)

    for t in sorted(glob.glob(os.path.join(ROOT, ".output-san", "tests", "test_*"))):
        report("unit " + os.path.basename(t), check_suite(t, run([t], 600)))

    if os.geteuid() != 0:
        why = "not root: the traced suites need BPF"
        if CI:
            report("traced", "skipped under CI=true: " + why)
        else:
            print("SKIP traced: " + why)
    else:
        report("e2e under sanitizers",
               check_suite("e2e", run([sys.executable, "tests/e2e/e2e.py"] + E2E, 900)))
        report("lifecycle under sanitizers",
               check_suite("lifecycle", run([sys.executable, "tests/e2e/t_lifecycle.py"] + LIFE, 600)))
        report("threshold under sanitizers",
               check_suite("threshold", run([sys.executable, "tests/e2e/t_threshold.py"], 600)))
        # the cause link: holds, exec, longjmp, C++, --alloc, attach
        report("causes under sanitizers",
               check_suite("causes", run([sys.executable, "tests/e2e/t_causes.py"], 900)))
        # compare: untraced and traced runs, the table, the JSON and the page's data
        html = os.path.join(ROOT, ".output-san", "compare.html")
        report("compare --html under sanitizers",
               check_suite("compare", run([SAN_TOOL, "compare", "--runs", "2", "-a", "glibc,jemalloc,musl",
                                           "--html", html, "--", ".output/workloads/small_objects", "2000"], 300)))
    print("sanitize: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
