# SPDX-License-Identifier: GPL-2.0
"""harness.py - what every end-to-end suite in tests/ shares: the Fail and
Skip exceptions, the CI rule (under CI=true a skip is a failure), and the
output every suite prints for tests/run-all.sh: `ok NAME (T s)`,
`FAIL NAME: why`, `SKIP NAME: why`, then one closing line
`SUITE: N passed, N failed[, N skipped]`.

Two styles of suite use it: run_tests() runs a list of test functions, each
passing unless it raises; Tally counts named checks one by one (suites whose
steps share one expensive run)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

CI = os.environ.get("CI") == "true"
# the repository root, the allocmap under test (ALLOCMAP=.output-san/allocmap:
# the sanitizer build) and the built test programs and workloads
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("ALLOCMAP") or os.path.join(ROOT, "allocmap")
PROGS = os.path.join(ROOT, ".output", "progs")
WORKLOADS = os.path.join(ROOT, ".output", "workloads")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def run(args, timeout=180, **kw):
    """subprocess.run with output captured as text and stdin from /dev/null
    (unless given); a timeout raises subprocess.TimeoutExpired."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("text", True)
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(args, tmp, timeout=90):
    """Headless Chromium with a fresh profile under tmp (no network, no
    first-run work); args: what it does (--dump-dom, --screenshot=...)."""
    prof = tempfile.mkdtemp(prefix="chromium.", dir=tmp)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=" + prof] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check(cond, msg):
    """Fail with msg unless cond."""
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    """Fail unless got == want, saying both."""
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


def _where(tb):
    """'file.py:LINE' of the innermost frame outside this file."""
    frames = [f for f in traceback.extract_tb(tb) if os.path.basename(f.filename) != "harness.py"]
    if not frames:
        return "?"
    return "%s:%d" % (os.path.basename(frames[-1].filename), frames[-1].lineno)


def needs(*exes, root=True):
    """A before() for run_tests: Skip unless root (when root), Fail when one
    of exes is not built."""
    def before(name):
        if root and os.geteuid() != 0:
            raise Skip("not root: BPF tests need CAP_BPF and CAP_PERFMON")
        missing = [os.path.relpath(p, ROOT) for p in exes if not os.access(p, os.X_OK)]
        if missing:
            raise Fail("not built: %s (run make)" % ", ".join(missing))
    return before


def run_tests(suite, tests, only=(), before=None):
    """Runs tests, a list of (name, fn), in order (only those named in only,
    when it is not empty). before(name), when given, runs first and may raise
    Skip or Fail (a missing build, no root). Returns the exit status."""
    only = set(only)
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            if before:
                before(name)
            fn()
            print("ok %s (%.1fs)" % (name, time.monotonic() - t0))
            passed += 1
        except Skip as e:
            if CI:
                print("FAIL %s: skipped under CI=true: %s" % (name, e))
                failed += 1
            else:
                print("SKIP %s: %s" % (name, e))
                skipped += 1
        except Fail as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
        except Exception as e:  # a bug in the test, a malformed record, a timeout
            print("FAIL %s: %s: %s (%s)" % (name, type(e).__name__, e, _where(sys.exc_info()[2])))
            failed += 1
        sys.stdout.flush()
    line = "%s: %d passed, %d failed" % (suite, passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


class Tally:
    """Named checks counted one by one; finish() prints the closing line."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = self.failed = 0

    def ok(self, name):
        self.passed += 1
        print("ok %s" % name, flush=True)

    def fail(self, name, why):
        self.failed += 1
        print("FAIL %s: %s" % (name, why), flush=True)

    def check(self, name, cond, why):
        if cond:
            self.ok(name)
        else:
            self.fail(name, why)

    def require(self, exes, root=True):
        """Ends the suite here unless it runs as root (when root) and every
        one of exes is built: not root is a loud skip, a failure under
        CI=true; a missing build is a failure."""
        if root and os.geteuid() != 0:
            if CI:
                self.fail("root", "not root, and CI=true: a skipped suite is a failure")
            else:
                print("SKIP %s: not root: these tests need CAP_BPF (run as root)" % self.suite)
            self.finish()
        for p in exes:
            if not os.access(p, os.X_OK):
                self.fail("built", "%s missing: run make first" % p)
                self.finish()

    def finish(self):
        print("%s: %d passed, %d failed" % (self.suite, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
