#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_fuzz.py - runs the libFuzzer harnesses of tests/fuzz/ (issue 10) for a
bounded time each, so that a finding fails the test run:
  fuzz_report  the JSONL reader and report model (user/report/report.c, report_model.c)
  fuzz_corr    the correlator's event decoder on random ring-buffer records
  fuzz_elf     the ELF/symbol reader (user/probe/elfsym.c) on mutated ELF files
Each starts from its seed corpus (tests/fuzz/corpus/NAME, in the repository)
plus what earlier runs found (.output-fuzz/corpus/NAME). A crash, a leak, a
sanitizer report, an input slower than 10 s or over 2 GB of RSS is a
failure; the input is kept in .output-fuzz/artifacts/ and named.

FUZZ_SECONDS (default 60) is the time per harness; `make fuzz` runs this
with 300. Builds the harnesses (make fuzz-build) when missing. Ends with
`fuzz: N passed, N failed`."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Fail, ROOT, Skip, check, run_tests  # noqa: E402

OUT = os.path.join(ROOT, ".output-fuzz")
SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
FUZZERS = ["report", "corr", "elf"]
built = {}


def build():
    if "rc" not in built:
        r = subprocess.run(["make", "-s", "fuzz-build"], cwd=ROOT, capture_output=True, text=True)
        built["rc"] = r.returncode
        built["err"] = (r.stdout + r.stderr)[-600:]
    if built["rc"]:
        if subprocess.run(["sh", "-c", "command -v clang"], capture_output=True).returncode:
            raise Skip("no clang to build the fuzzers (scripts/deps.sh installs it)")
        raise Fail("make fuzz-build failed: " + built["err"])


def fuzz(name):
    build()
    exe = os.path.join(OUT, "fuzz_" + name)
    work = os.path.join(OUT, "corpus", name)
    arts = os.path.join(OUT, "artifacts")
    os.makedirs(work, exist_ok=True)
    os.makedirs(arts, exist_ok=True)
    seeds = os.path.join(ROOT, "tests", "fuzz", "corpus", name)
    log = os.path.join(OUT, "fuzz_%s.log" % name)
    t0 = time.monotonic()
    with open(log, "w") as f:
        r = subprocess.run([exe, "-max_total_time=%d" % SECONDS, "-timeout=10", "-rss_limit_mb=2048",
                            "-print_final_stats=1", "-artifact_prefix=%s/%s-" % (arts, name), work, seeds],
                           cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=SECONDS + 120,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
                                    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"))
    text = open(log, errors="replace").read()
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    bad = re.search(r"(ERROR: \w+Sanitizer.*|runtime error:.*|ERROR: libFuzzer.*|==\d+== ERROR.*)", text)
    art = re.search(r"Test unit written to (\S+)", text)
    check(r.returncode == 0 and not bad,
          "exit %d after %.0f s: %s (input: %s; log: %s)" % (
              r.returncode, time.monotonic() - t0, bad.group(1) if bad else "no report",
              art.group(1) if art else "none", log))
    print("  fuzz_%s: %s runs in %.0f s clean" % (name, runs.group(1) if runs else "?",
                                                  time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(run_tests("fuzz", [("fuzz_" + n, lambda n=n: fuzz(n)) for n in FUZZERS],
                       only=sys.argv[1:]))
