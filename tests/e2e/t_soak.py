#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_soak.py - the soak of issue 10: the sanitized tracer (make SAN=1:
.output-san/allocmap) follows (-f) a churning multi-threaded target
(tests/progs/churn.c soak: 4 threads of random malloc/free from 16 B to
300 KB, a short-lived allocating child every FORK_MS, a fork+exec every
EXEC_MS) for SOAK_SECONDS, with --stacks=os (the unwinder and symbolizer
run on every OS request) and JSON output. Passes when:
  - the tracer exits 0 with no AddressSanitizer, LeakSanitizer or UBSan
    report, and no lost events;
  - its RSS is bounded: sampled every second while the target runs, the
    peak of the second half of that time exceeds the peak of the first half by at most 32 MiB + 25 %
    (a leak grows with time; the first half holds the warm-up). ASan's
    quarantine is set to 32 MiB so that RSS follows what the tracer holds.
Prints the RSS over time (10 samples) and the figures.

SOAK_SECONDS defaults to 30 (the test run: about a minute with the
-f attaches); SOAK_FORK_MS and SOAK_EXEC_MS set the churn; `make soak` runs 1800 (30 min).
Run as root from the repository root. Ends with `soak: N passed, N failed`."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Fail, ROOT, Skip, check, run_tests  # noqa: E402

SAN_TOOL = os.path.join(ROOT, ".output-san", "allocmap")
CHURN = os.path.join(ROOT, ".output", "progs", "churn")
SECONDS = int(os.environ.get("SOAK_SECONDS", "30"))
FORK_MS = int(os.environ.get("SOAK_FORK_MS", "5000"))
EXEC_MS = int(os.environ.get("SOAK_EXEC_MS", "10000"))
GROWTH_MB = 32
ENV = dict(os.environ,
           # a small quarantine: RSS then follows what the tracer holds
           ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99:quarantine_size_mb=32",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=98")


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
            return int(m.group(1)) if m else None
    except OSError:
        return None


def before(_name):
    if os.geteuid() != 0:
        raise Skip("needs root")
    if not os.path.exists(SAN_TOOL):
        r = subprocess.run(["make", "-s", "-j2", "SAN=1"], cwd=ROOT, capture_output=True, text=True)
        check(r.returncode == 0, "make SAN=1 failed: " + (r.stdout + r.stderr)[-400:])
    if not os.path.exists(CHURN):
        raise Skip("no %s (run make)" % CHURN)


def test_soak():
    with tempfile.TemporaryDirectory(prefix="am-soak-") as d:
        out = os.path.join(d, "trace.jsonl")
        err = open(os.path.join(d, "stderr"), "w+")
        t0 = time.monotonic()
        p = subprocess.Popen([SAN_TOOL, "trace", "-q", "-f", "--json", "--stacks=os", "-o", out, "--",
                              CHURN, "soak", str(SECONDS), "4", str(FORK_MS), str(EXEC_MS)],
                             cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err)
        samples = []  # (seconds since start, RSS kB)
        limit = SECONDS * 3 + 300  # the held -f children make a run longer than the target's
        while p.poll() is None:
            r = rss_kb(p.pid)
            if r:
                samples.append((time.monotonic() - t0, r))
            if time.monotonic() - t0 > limit:
                p.kill()
                p.wait()
                raise Fail("still running after %d s" % limit)
            time.sleep(1)
        wall = time.monotonic() - t0
        err.seek(0)
        stderr = err.read()
        check(not re.search(r"Sanitizer|runtime error", stderr),
              "sanitizer report: " + stderr[-1500:])
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, stderr[-800:]))
        summary = None
        with open(out) as f:
            for line in f:
                rec = json.loads(line)
                if rec["type"] == "summary":
                    summary = rec
        check(summary is not None, "no summary record")
        lost = {k: v for k, v in summary.get("counters", {}).items() if k.startswith("lost") and v}
        check(not lost, "lost events: %r" % lost)
        procs = len((summary.get("threshold") or {}).get("procs", [])) or 1
        calls = sum(f.get("calls", 0) for f in summary.get("functions", {}).values())
    # only while the target runs: after it, the tracer waits for held
    # children and detaches, and its flat tail would hide a growth
    run = [(t, r) for t, r in samples if t <= SECONDS]
    check(len(run) >= 4, "only %d RSS samples while the target ran" % len(run))
    half = len(run) // 2
    first = max(r for _, r in run[:half])
    second = max(r for _, r in run[half:])
    step = max(1, len(samples) // 10)
    print("  soak: %d s target, %.0f s wall, %d processes, %d allocator calls; RSS MiB over time: %s" % (
        SECONDS, wall, procs, calls,
        " ".join("%.0fs:%.1f" % (t, r / 1024) for t, r in samples[::step])))
    print("  soak: peak RSS first half %.1f MiB, second half %.1f MiB" % (first / 1024, second / 1024))
    check(second - first <= GROWTH_MB * 1024 + first // 4,
          "RSS grew %.1f MiB from the first half to the second" % ((second - first) / 1024))


if __name__ == "__main__":
    sys.exit(run_tests("soak", [("soak_follow_churn", test_soak)], only=sys.argv[1:], before=before))
