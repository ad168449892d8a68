#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_hostile_targets.py - adversarial end-to-end tests of issue 10, part B:
what a traced program's owner, or another local user, can do to root's
allocmap, and what bad command lines do to it.

  fifo_library_in_namespace  an unprivileged user (setpriv nobody + unshare
      -Urm) bind-mounts a FIFO over the libc its process has mapped: trace
      -p PID -d 2 --stacks must finish in time and still trace its mallocs
      (the mapped file is read through map_files)
  symlink_outputs  with fs.protected_symlinks=0 (set for the test, then
      restored), a user's symlink in /tmp to a root-only file: every output
      option (-o, --html, --perfetto, --folded, --folded-alloc, report -o,
      report --perfetto, compare --html) refuses it, the file is untouched
  others_file_in_tmp  a file another user owns in /tmp is not clobbered
  setuid_copy / setgid_copy  a setuid (setgid) copy run as nobody refuses
      with one line and exit 77
  numeric_edges  nan, inf, overflowing, negative and signed values of every
      numeric option of trace, top and demo: one usage error line, exit 64
      (every edge of every option: t_options.py)
  duration_edges  -d 1000000000 (the largest) does not stop the trace at once; -d 1
      stops it after about a second
  warning_flood_children  -f on 30 children killed at their fork: one line
      for every probe not attached, not one per probe
  warning_flood_attach  processes exiting during attach (lifetimes swept
      around the attach time): at most 3 lines each

Run as root from the repository root after `make`. Ends with
`hostile_targets: N passed, N failed`."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Fail, PROGS, Skip, TOOL, check, eq, run, run_tests  # noqa: E402

SPINNER = os.path.join(PROGS, "spinner")
EXAMPLE = os.path.join(PROGS, "example")
CHURN = os.path.join(PROGS, "churn")
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


def before(_name):
    if os.geteuid() != 0:
        raise Skip("needs root")
    for p in (TOOL, SPINNER, EXAMPLE, CHURN):
        if not os.path.exists(p):
            raise Skip("no %s (run make)" % p)


def public_dir():
    """A fresh directory under /tmp that nobody can use."""
    d = tempfile.mkdtemp(prefix="am-hostile-")
    os.chmod(d, 0o777)
    return d


# ---- item 3: never block on a file the target controls ---------------------

def test_fifo_library():
    d = public_dir()
    ns = None
    try:
        spinner = os.path.join(d, "spinner")
        shutil.copy(SPINNER, spinner)
        os.chmod(spinner, 0o755)
        pidfile = os.path.join(d, "pid")
        # after the mount no dynamically linked program starts in the
        # namespace (its libc is the FIFO): only shell builtins follow it
        script = ("mkfifo {d}/fifo && {s} 600 >/dev/null & sleep 0.2; "
                  "mount --bind {d}/fifo {libc} && echo $! > {p}; wait"
                  ).format(d=d, s=spinner, libc=LIBC, p=pidfile)
        ns = subprocess.Popen(AS_NOBODY + ["unshare", "-Urm", "sh", "-c", script],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
        for _ in range(100):
            if (os.path.exists(pidfile) and open(pidfile).read().endswith("\n")) or ns.poll() is not None:
                break
            time.sleep(0.05)
        if not os.path.exists(pidfile) or not open(pidfile).read().endswith("\n"):
            raise Skip("cannot set up the namespace: %s" % ns.stderr.read().decode(errors="replace")[-300:])
        pid = int(open(pidfile).read())
        planted = "/proc/%d/root%s" % (pid, LIBC)
        check(stat.S_ISFIFO(os.stat(planted).st_mode), "%s is not the planted FIFO" % planted)
        out = os.path.join(tempfile.mkdtemp(prefix="am-hostile-out-"), "t.jsonl")
        try:
            r = run([TOOL, "trace", "-q", "--json", "--stacks", "-o", out, "-p", str(pid), "-d", "2"],
                    timeout=40)
        except subprocess.TimeoutExpired:
            raise Fail("allocmap hung on the FIFO planted at %s" % LIBC)
        eq(r.returncode, 0, "exit status (stderr: %r)" % r.stderr[-300:])
        summ = [json.loads(l) for l in open(out) if '"summary"' in l][-1]
        calls = summ["functions"].get("malloc", {}).get("calls", 0)
        check(calls >= 20, "malloc calls traced: %d (want the spinner's, about 100)" % calls)
        shutil.rmtree(os.path.dirname(out))
    finally:
        if ns and ns.poll() is None:
            os.killpg(ns.pid, signal.SIGKILL)
            ns.wait()
        shutil.rmtree(d, ignore_errors=True)


# ---- item 4: output files in sticky directories -----------------------------

class ProtectedSymlinksOff:
    """fs.protected_symlinks=0 for the block (as on the VM of the report)."""
    PATH = "/proc/sys/fs/protected_symlinks"

    def __enter__(self):
        self.old = open(self.PATH).read().strip()
        with open(self.PATH, "w") as f:
            f.write("0")

    def __exit__(self, *exc):
        with open(self.PATH, "w") as f:
            f.write(self.old)


def a_trace_jsonl(d):
    out = os.path.join(d, "in.jsonl")
    r = run([TOOL, "trace", "--json", "-v", "-o", out, "--", EXAMPLE])
    eq(r.returncode, 0, "trace for report input: " + r.stderr[-300:])
    return out


def test_symlink_outputs():
    private = tempfile.mkdtemp(prefix="am-hostile-root-")  # 0700, root's
    victim = os.path.join(private, "victim")
    with open(victim, "w") as f:
        f.write("secret\n")
    os.chmod(victim, 0o600)
    jsonl = a_trace_jsonl(private)
    cases = [
        ("trace -o", lambda l: [TOOL, "trace", "-q", "-o", l, "--", EXAMPLE]),
        ("trace --html", lambda l: [TOOL, "trace", "-q", "--html", l, "--", EXAMPLE]),
        ("trace --perfetto", lambda l: [TOOL, "trace", "-q", "--perfetto", l, "--", EXAMPLE]),
        ("trace --folded", lambda l: [TOOL, "trace", "-q", "--folded", l, "--", EXAMPLE]),
        ("trace --folded-alloc", lambda l: [TOOL, "trace", "-q", "--folded-alloc", l, "--", EXAMPLE]),
        ("report -o", lambda l: [TOOL, "report", jsonl, "-o", l]),
        ("report --perfetto", lambda l: [TOOL, "report", jsonl, "--perfetto", l]),
        ("compare --html", lambda l: [TOOL, "compare", "--allocators", "glibc", "--html", l, "--", EXAMPLE]),
    ]
    bad = []
    try:
        with ProtectedSymlinksOff():
            for what, argv in cases:
                link = tempfile.mktemp(prefix="am-hostile-link-", dir="/tmp")
                os.symlink(victim, link)
                os.lchown(link, NOBODY, NOBODY)
                try:
                    r = run(argv(link), timeout=120)
                finally:
                    os.unlink(link)
                if open(victim).read() != "secret\n":
                    bad.append("%s overwrote the symlink's target" % what)
                    with open(victim, "w") as f:
                        f.write("secret\n")
                elif r.returncode == 0 or "symlink" not in r.stderr:
                    bad.append("%s: exit %d, stderr %r" % (what, r.returncode, r.stderr[-200:]))
    finally:
        shutil.rmtree(private)
    check(not bad, "; ".join(bad))


def test_others_file():
    theirs = tempfile.mktemp(prefix="am-hostile-theirs-", dir="/tmp")
    with open(theirs, "w") as f:
        f.write("theirs\n")
    os.chown(theirs, NOBODY, NOBODY)
    own = tempfile.mktemp(prefix="am-hostile-own-", dir="/tmp")
    try:
        r = run([TOOL, "trace", "-q", "-o", theirs, "--", EXAMPLE])
        check(r.returncode != 0 and "not a regular file of uid 0" in r.stderr,
              "exit %d, stderr %r" % (r.returncode, r.stderr[-200:]))
        eq(open(theirs).read(), "theirs\n", "their file")
        r = run([TOOL, "trace", "-q", "-o", own, "--", EXAMPLE])
        eq(r.returncode, 0, "a new file of our own in /tmp: " + r.stderr[-200:])
        r = run([TOOL, "trace", "-q", "-o", own, "--", EXAMPLE])
        eq(r.returncode, 0, "our own file again: " + r.stderr[-200:])
        check("summary" in open(own).read() or os.path.getsize(own) > 0, "output written")
    finally:
        for p in (theirs, own):
            if os.path.exists(p):
                os.unlink(p)


# ---- item 5: setuid / setgid installs ---------------------------------------

def setid_copy(mode):
    d = tempfile.mkdtemp(prefix="am-hostile-suid-")
    os.chmod(d, 0o755)
    copy = os.path.join(d, "allocmap")
    shutil.copy(TOOL, copy)
    os.chown(copy, 0, 0)
    os.chmod(copy, mode)
    try:
        r = run(AS_NOBODY + [copy, "trace", "-p", "1", "-d", "1"])
    finally:
        shutil.rmtree(d)
    eq(r.returncode, 77, "exit status (stderr %r)" % r.stderr)
    err = lines(r.stderr)
    eq(len(err), 1, "stderr lines")
    check("refusing to run setuid or setgid" in err[0], "message: %r" % err[0])


def test_setuid():
    setid_copy(0o4755)


def test_setgid():
    setid_copy(0o2755)


# ---- item 10: numeric options at their edges ----------------------------------

NUMERIC = [
    # (subcommand and option, values, exit status)
    (["trace", "-d"], ["nan", "NaN", "inf", "-inf", "1e308", "1e11", "-1", "0", "", "1e-12", " 1"], 64),
    (["trace", "--ringbuf-mb"], ["0", "3", "8192", "-1", "99999999999999999999", "+8"], 64),
    (["trace", "--sample"], ["0", "-1", "4294967296", "1e3", "nan"], 64),
    (["trace", "--stack-size"], ["4095", "20000", "-4096", "12288.0"], 64),
    (["trace", "-p"], ["0", "-1", "2147483648", "+1", " 1", "99999999999999999999", "1e3"], 64),
    (["top", "-d"], ["nan", "inf", "1e11", "-1", "0"], 64),
    (["top", "-i"], ["99", "60001", "-1", "1e3", "nan"], 64),
    (["top", "-p"], ["0", "-5", "4294967297"], 64),
    (["demo", "threshold", "--pause"], ["-1", "60001", "nan", "18446744073709551616"], 64),
]


def test_numeric_edges():
    bad = []
    for pre, values, want in NUMERIC:
        for v in values:
            argv = [TOOL] + pre + [v]
            if pre[0] == "trace" and pre[1] != "-p":
                argv += ["--", "true"]
            if pre[0] == "top" and pre[1] != "-p":
                argv += ["--", "true"]
            r = run(argv, timeout=20)
            err = lines(r.stderr)
            if r.returncode != want or len(err) != 1 or "invalid" not in err[0]:
                bad.append("%s %r: exit %d, stderr %r" % (" ".join(pre), v, r.returncode, r.stderr[:160]))
    check(not bad, "; ".join(bad))


def test_duration_edges():
    sp = subprocess.Popen([SPINNER, "100"], stdout=subprocess.DEVNULL)  # about 2 s
    try:
        r = run([TOOL, "trace", "-q", "-p", str(sp.pid), "-d", "1000000000"], timeout=60)
        exited = sp.poll() is not None   # the tracer ends on the target's exit, not before
    finally:
        sp.kill()
        sp.wait()
    eq(r.returncode, 0, "-d 1000000000 exit (stderr %r)" % r.stderr[-200:])
    check(exited, "-d 1000000000 stopped before the target's exit")
    sp = subprocess.Popen([SPINNER, "1000"], stdout=subprocess.DEVNULL)  # about 20 s
    try:
        t0 = time.monotonic()
        r = run([TOOL, "trace", "-q", "-p", str(sp.pid), "-d", "1"], timeout=60)
        took = time.monotonic() - t0
        alive = sp.poll() is None        # -d ended the trace, not the target's exit
    finally:
        sp.kill()
        sp.wait()
    eq(r.returncode, 0, "-d 1 exit")
    check(took >= 1.0, "-d 1 returned after %.2f s" % took)
    check(alive, "-d 1: the target had exited when the trace ended")


# ---- item 11: warning floods ---------------------------------------------------

def test_flood_children():
    r = run([TOOL, "trace", "-q", "-f", "--", CHURN, "burst", "30", "kill"], timeout=180)
    eq(r.returncode, 0, "exit (stderr %r)" % r.stderr[-300:])
    err = [l for l in lines(r.stderr) if "warning" in l]
    check(len(err) <= 2, "%d warning lines: %r" % (len(err), err[:4]))
    check(not any("cannot attach" in l for l in err), "per-probe lines: %r" % err[:2])


def test_flood_attach():
    worst, hit = [], 0
    # the window is narrow and depends on the machine's load: a sweep of
    # lifetimes around the attach time (0.2 to 1.2 s)
    for ticks in (10, 14, 17, 20, 25, 30, 40, 60):
        sp = subprocess.Popen([SPINNER, str(ticks)], stdout=subprocess.DEVNULL)
        try:
            r = run([TOOL, "trace", "-q", "-p", str(sp.pid), "-d", "3"], timeout=60)
        finally:
            sp.wait()
        err = lines(r.stderr)
        worst.append(len(err))
        hit += any("probes not attached" in l for l in err)
        check(len(err) <= 3, "%d stderr lines (target of %d ticks): %r" % (len(err), ticks, err[:5]))
        check(not any("cannot attach return probe" in l or "cannot attach entry probe" in l for l in err),
              "per-probe lines: %r" % err[:3])
    print("  stderr lines per run: %s; %d runs exited during attach" % (worst, hit))


if __name__ == "__main__":
    sys.exit(run_tests("hostile_targets", [
        ("fifo_library_in_namespace", test_fifo_library),
        ("symlink_outputs", test_symlink_outputs),
        ("others_file_in_tmp", test_others_file),
        ("setuid_copy", test_setuid),
        ("setgid_copy", test_setgid),
        ("numeric_edges", test_numeric_edges),
        ("duration_edges", test_duration_edges),
        ("warning_flood_children", test_flood_children),
        ("warning_flood_attach", test_flood_attach),
    ], only=sys.argv[1:], before=before))
