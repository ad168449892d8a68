#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_lifecycle.py - end-to-end tests of the tracer's lifecycle around a real
target: the target must never be harmed. SIGKILL or SIGTERM of allocmap
leaves an attached target running to completion (no stray breakpoints), -d
stops on time, several -p are traced together, the target's exit ends an
attach-mode trace, and -f follows a forked child.

Run as root from the repository root after `make` (tests/run-all.sh does).
Prints `ok NAME` / `FAIL NAME: why` / `SKIP NAME: why` and ends with
`lifecycle: N passed, N failed`. Under CI=true a skip is a failure."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from harness import Fail, PROGS, Skip, TOOL, needs, run_tests

SPINNER = os.path.join(PROGS, "spinner")
FORKER = os.path.join(PROGS, "forker")


def start_tracer(args):
    """Starts allocmap with args; returns (proc, stderr_lines_so_far) once it
    printed its "tracing" line (it is attached), or fails after 60 s."""
    p = subprocess.Popen([TOOL, "trace"] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 60  # a wait for an event, not a speed limit (sanitizer build, loaded machine)
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "tracing" in line:
            return p, lines
    p.kill()
    p.wait()
    raise Fail("allocmap did not attach: %s" % "".join(lines)[-400:])


def spinner(ticks):
    """A spinner that starts its ticks only when release()d: tests attach
    first, then release, so a slow attach (a loaded machine, the sanitizer
    build) never meets a target that already exited."""
    return subprocess.Popen([SPINNER, str(ticks), "wait"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def release(*targets):
    for t in targets:
        t.stdin.write("go\n")
        t.stdin.close()
        t.stdin = None  # communicate() must not touch it again


def expect_clean_finish(target, ticks, what):
    try:
        out, _ = target.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        target.kill()
        raise Fail("%s: target hung" % what)
    if target.returncode != 0:
        raise Fail("%s: target ended with status %d (signal = harmed)" % (what, target.returncode))
    n = len(re.findall(r"^tick \d+$", out, re.M))
    if n != ticks:
        raise Fail("%s: target printed %d ticks, want %d" % (what, n, ticks))


def t_sigkill_tracer():
    target = spinner(100)
    tr, _ = start_tracer(["-q", "-p", str(target.pid)])
    release(target)
    time.sleep(0.4)
    tr.kill()
    tr.wait()
    expect_clean_finish(target, 100, "after SIGKILL of allocmap")


def t_sigterm_tracer():
    target = spinner(100)
    tr, _ = start_tracer(["-p", str(target.pid)])
    release(target)
    time.sleep(0.4)
    tr.send_signal(signal.SIGTERM)
    out, err = tr.communicate(timeout=20)
    if tr.returncode != 0:
        raise Fail("allocmap exited %d after SIGTERM: %s" % (tr.returncode, err[-300:]))
    if "allocmap summary" not in out or "lost events: 0" not in out:
        raise Fail("no summary with counters after SIGTERM: %s" % out[-300:])
    expect_clean_finish(target, 100, "after SIGTERM of allocmap")


def t_sigint_launch():
    """Ctrl-C delivered to allocmap alone: it stops, prints its summary, and
    the launched command goes on untraced to its normal end."""
    tr, lines = start_tracer(["-q", "--", SPINNER, "60"])
    m = re.search(r"pid (\d+)", "".join(lines))
    if not m:
        raise Fail("no child pid in %r" % lines)
    child = int(m.group(1))
    time.sleep(0.3)
    tr.send_signal(signal.SIGINT)
    out, err = tr.communicate(timeout=20)
    if tr.returncode != 130:
        raise Fail("allocmap exited %d after SIGINT, want 130: %s" % (tr.returncode, err[-300:]))
    if "allocmap summary" not in err:  # a launched command's trace is on stderr
        raise Fail("no summary after SIGINT")
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % child) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break  # finished and reaped by init
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        raise Fail("launched child still running 10 s later")


def t_duration():
    target = spinner(200)
    tr, _ = start_tracer(["-q", "-d", "1", "-p", str(target.pid)])
    release(target)
    out, err = tr.communicate(timeout=20)
    if tr.returncode != 0 or "allocmap summary" not in out:
        raise Fail("-d 1: status %d, output %s %s" % (tr.returncode, out[-200:], err[-200:]))
    if target.poll() is not None:
        raise Fail("target ended early (status %s)" % target.returncode)
    expect_clean_finish(target, 200, "after -d")


def t_target_exit_ends_attach():
    # the target waits for a line on stdin: it runs its 40 ticks and exits
    # only once the tracer says it is attached, however long that takes
    target = spinner(40)
    tr, _ = start_tracer(["--json", "-v", "-p", str(target.pid)])
    release(target)
    out, err = tr.communicate(timeout=30)
    if tr.returncode != 0:
        raise Fail("status %d: %s" % (tr.returncode, err[-300:]))
    recs = [json.loads(l) for l in out.splitlines() if l.strip()]
    if not recs or recs[-1]["type"] != "summary":
        raise Fail("no summary record last")
    exits = [r for r in recs if r["type"] == "task" and r.get("kind") == "exit"]
    if len(exits) != 1 or exits[0]["pid"] != target.pid:
        raise Fail("want one exit task record for pid %d, got %r" % (target.pid, exits))
    target.wait()


def t_several_pids():
    a, b = spinner(150), spinner(150)
    tr, _ = start_tracer(["--json", "-v", "-d", "1", "-p", str(a.pid), "-p", str(b.pid)])
    release(a, b)
    out, err = tr.communicate(timeout=30)
    if tr.returncode != 0:
        raise Fail("status %d: %s" % (tr.returncode, err[-300:]))
    recs = [json.loads(l) for l in out.splitlines() if l.strip()]
    for t in (a, b):
        n = sum(1 for r in recs if r["type"] == "call" and r["pid"] == t.pid
                and r["fn"] == "malloc" and r["size"] == 200000)
        if n < 10:
            raise Fail("pid %d: %d malloc(200000) calls in 1 s, want >= 10" % (t.pid, n))
    for t in (a, b):
        expect_clean_finish(t, 150, "several -p")


def t_follow_forks():
    for follow in (True, False):
        args = (["-f"] if follow else []) + ["--json", "-v", "-o", "/dev/stdout", "--", FORKER]
        tr, _ = start_tracer(args)
        out, err = tr.communicate(timeout=30)
        if tr.returncode != 0:
            raise Fail("forker exited %d (-f=%s): %s" % (tr.returncode, follow, err[-300:]))
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        parent = [r for r in recs if r["type"] == "call" and r["fn"] == "malloc" and r.get("size") == 200000]
        child = [r for r in recs if r["type"] == "call" and r["fn"] == "malloc" and r.get("size") == 300000]
        forks = [r for r in recs if r["type"] == "task" and r.get("kind") == "fork"]
        if len(parent) != 1:
            raise Fail("parent's malloc(200000): %d records" % len(parent))
        if not follow:
            if child or forks:
                raise Fail("without -f the child was traced: %r %r" % (child, forks))
            continue
        if len(forks) != 1 or len(child) != 1:
            raise Fail("-f: fork records %d, child malloc(300000) records %d" % (len(forks), len(child)))
        c = child[0]
        if c["pid"] != forks[0]["child"] or c["pid"] == parent[0]["pid"]:
            raise Fail("child malloc has pid %d, fork said %d" % (c["pid"], forks[0]["child"]))
        mm = [r for r in recs if r["type"] == "os" and r["syscall"] == "mmap"
              and r["cause"].get("call_id") == c["id"]]
        if len(mm) != 1 or mm[0]["len"] != 303104:
            raise Fail("child's malloc(300000) should cause one mmap(303104): %r" % mm)


def t_follow_fork_exec():
    """-f through a shell: sh forks, the child execs the test program (a new
    image: allocmap resolves it again from /proc/PID/exe and re-attaches),
    which waits for a line on stdin and then makes the mmap_128k sequence."""
    scen = os.path.join(PROGS, "scenarios")
    script = "(sleep 0.8; echo go) | %s wait_then mmap_128k; true" % scen
    tr, _ = start_tracer(["-f", "--json", "-v", "-o", "/dev/stdout", "--", "sh", "-c", script])
    out, err = tr.communicate(timeout=30)
    if tr.returncode != 0:
        raise Fail("status %d: %s" % (tr.returncode, err[-300:]))
    recs = [json.loads(l) for l in out.splitlines() if l.strip()]
    execs = [r for r in recs if r["type"] == "task" and r.get("kind") == "exec"]
    if len(execs) < 2:
        raise Fail("want exec records for sh and its child, got %r" % execs)
    mm = [r for r in recs if r["type"] == "os" and r["syscall"] == "mmap" and r.get("len") == 135168
          and r["cause"].get("fn") == "malloc"]
    if len(mm) != 1:
        raise Fail("want one mmap(135168) caused by malloc in the exec'd child, got %d" % len(mm))
    if mm[0]["pid"] == tr.pid or mm[0]["pid"] == execs[0]["pid"]:
        raise Fail("the mmap came from pid %d, not from a forked child" % mm[0]["pid"])


def t_other_mount_namespace():
    """The target runs in its own mount namespace, from files that exist only
    there (a private tmpfs holding a copy of the program and of jemalloc,
    LD_PRELOADed): allocmap, in the root namespace, must find both through
    /proc/PID/root and trace the jemalloc calls."""
    import shutil
    if not shutil.which("unshare"):
        raise Skip("unshare missing (util-linux)")
    jem = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    if not os.path.exists(jem):
        raise Skip("libjemalloc2 missing")
    d = "/tmp/allocmap-ns-%d" % os.getpid()
    os.makedirs(d, exist_ok=True)
    script = ("mount -t tmpfs none {d} && cp {spin} {d}/spinner && cp {jem} {d}/libjem.so && "
              "LD_PRELOAD={d}/libjem.so exec {d}/spinner 150 wait").format(d=d, spin=SPINNER, jem=jem)
    # the spinner waits for a line on stdin, written once allocmap is attached
    target = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        # wait until the exec'd spinner (same pid as sh) maps the private jemalloc
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with open("/proc/%d/maps" % target.pid) as f:
                    if "libjem.so" in f.read():
                        break
            except OSError:
                pass
            time.sleep(0.02)
        else:
            raise Fail("target never mapped the private jemalloc")
        if os.path.exists(os.path.join(d, "libjem.so")):
            raise Fail("tmpfs leaked into the root namespace: test is meaningless")
        tr, lines = start_tracer(["--json", "-v", "-d", "1", "-p", str(target.pid)])
        target.stdin.write("go\n")
        target.stdin.close()
        target.stdin = None  # communicate() must not touch it again
        out, err = tr.communicate(timeout=30)
        if tr.returncode != 0:
            raise Fail("status %d: %s" % (tr.returncode, err[-300:]))
        if "jemalloc" not in "".join(lines):
            raise Fail("allocator not resolved as jemalloc: %s" % "".join(lines))
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        n = sum(1 for r in recs if r["type"] == "call" and r["fn"] == "malloc" and r.get("size") == 200000)
        if n < 10:
            raise Fail("%d malloc(200000) calls seen in 1 s, want >= 10" % n)
        expect_clean_finish(target, 150, "namespaced target")
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        try:
            os.rmdir(d)
        except OSError:
            pass


TESTS = [
    ("sigkill_tracer", t_sigkill_tracer),
    ("sigterm_tracer", t_sigterm_tracer),
    ("sigint_launch", t_sigint_launch),
    ("duration", t_duration),
    ("target_exit_ends_attach", t_target_exit_ends_attach),
    ("several_pids", t_several_pids),
    ("follow_forks", t_follow_forks),
    ("follow_fork_exec", t_follow_fork_exec),
    ("other_mount_namespace", t_other_mount_namespace),
]


def main(argv):
    return run_tests("lifecycle", TESTS, argv[1:], needs(TOOL, SPINNER, FORKER))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
