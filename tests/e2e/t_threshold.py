#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_threshold.py - end-to-end tests of glibc's mmap threshold when allocmap
attaches to a process whose threshold had already moved (issue #9 item 7).

The target, .output/progs/thresh_wait, moves its threshold to 196 KiB
(malloc + free of 196 KiB - 100 bytes: an mmap of 200704 bytes, so glibc sets
the threshold to exactly 200704), prints "ready PID" and waits for a line on
stdin. allocmap attaches with -p; once it says "tracing" the test sends the
line, and the target mallocs 200000 twice (heap: under 196 KiB), 1 MiB (its
own mmap) and frees it (threshold -> 1028 KiB), then 600000 (heap). No
sleeps: every step waits for a line from the other side.

- known: with libc6-dbg's DWARF, allocmap reads mp_ at attach: every record
  carries the real threshold (200704, then 1052672), never 128 KiB.
- unknown: with the lookup pointed at an empty directory
  (ALLOCMAP_DEBUG_DIR), the threshold is unknown: no value, no reason that
  would need one, bounds narrowed by what the process does, and known again
  after the free of the 1 MiB chunk.
- fork: -f, the target forks after the go line; the child inherits 196 KiB
  and moves its own threshold to 1028 KiB; the parent's stays 196 KiB.
"""

import json
import os
import re
import subprocess
import sys
import threading

from harness import Fail, ROOT, Skip, TOOL, check, eq, run_tests

PROG = os.path.join(ROOT, ".output", "progs", "thresh_wait")
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
TIMEOUT = 30

T196 = 200704          # glibc's threshold after freeing the 196 KiB chunk
T1028 = 1052672        # ... after freeing the 1 MiB chunk (1 MiB + 4 KiB)
START, MAX = 131072, 32 << 20


def clip(s, n=600):
    return s if len(s) <= n else s[:n] + "..."


def libc_debug_file():
    """The libc6-dbg file of this machine's libc, or None."""
    try:
        out = subprocess.run(["readelf", "-n", LIBC], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    if not m:
        return None
    p = "/usr/lib/debug/.build-id/%s/%s.debug" % (m.group(1)[:2], m.group(1)[2:])
    return p if os.path.exists(p) else None


class Stderr:
    """allocmap's stderr, read by a thread; wait_for() blocks until a line
    matches (or allocmap exits)."""

    def __init__(self, proc):
        self.lines = []
        self.cv = threading.Condition()
        self.done = False
        self.t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.t.start()

    def _read(self, proc):
        for l in iter(proc.stderr.readline, b""):
            with self.cv:
                self.lines.append(l.decode(errors="replace"))
                self.cv.notify_all()
        with self.cv:
            self.done = True
            self.cv.notify_all()

    def wait_for(self, pred, what):
        with self.cv:
            ok = self.cv.wait_for(lambda: pred(self.lines) or self.done, TIMEOUT)
            if not ok or not pred(self.lines):
                raise Fail("allocmap never %s; stderr: %s" % (what, clip("".join(self.lines))))

    def text(self):
        with self.cv:
            return "".join(self.lines)


def attach_run(opts=(), env=None, fork=False, json_out=True):
    """Runs the target and allocmap -p on it; returns (records or text,
    stderr text, target pid)."""
    out = "/tmp/allocmap-t_threshold-%d.out" % os.getpid()
    e = dict(os.environ)
    e.pop("DEBUGINFOD_URLS", None)
    e.update(env or {})
    prog = subprocess.Popen([PROG] + (["fork"] if fork else []), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    tool = None
    try:
        line = prog.stdout.readline().decode()
        m = re.match(r"ready (\d+)", line)
        check(m, "target did not say ready: %r" % line)
        pid = int(m.group(1))
        cmd = [TOOL, "trace", "-v", "-o", out] + (["--json"] if json_out else []) + list(opts)
        tool = subprocess.Popen(cmd + ["-p", str(pid)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e, cwd=ROOT)
        err = Stderr(tool)
        err.wait_for(lambda ls: any("tracing" in l for l in ls), "said it was tracing")
        prog.stdin.write(b"go\n")
        prog.stdin.flush()
        if fork:
            # the child waits for a second line until its probes are attached:
            # -v names every probe once per attached process, pvalloc last
            err.wait_for(lambda ls: sum("probe pvalloc" in l for l in ls) >= 2,
                         "attached the forked child's probes")
            prog.stdin.write(b"go\n")
            prog.stdin.flush()
        line = prog.stdout.readline().decode()
        eq(line.strip(), "done", "target's last line")
        prog.stdin.close()
        eq(prog.wait(timeout=TIMEOUT), 0, "target exit status")
        try:
            rc = tool.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Fail("allocmap did not stop when the target exited")
        err.t.join(5)
        eq(rc, 0, "allocmap exit status (stderr: %s)" % clip(err.text()))
        with open(out) as f:
            data = f.read()
        if not json_out:
            return data, err.text(), pid
        recs = [json.loads(l) for l in data.splitlines() if l.strip()]
        check(recs and recs[-1]["type"] == "summary", "no summary record last")
        return recs, err.text(), pid
    finally:
        for p in (prog, tool):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        if os.path.exists(out):
            os.unlink(out)


def mallocs(recs, pid, size):
    return [r for r in recs if r["type"] == "call" and r["fn"] == "malloc" and r["size"] == size
            and r["pid"] == pid]


def one(recs, pid, size):
    got = mallocs(recs, pid, size)
    eq(len(got), 1, "malloc(%d) calls of pid %d" % (size, pid))
    return got[0]


def need_debug():
    if not libc_debug_file():
        raise Skip("no libc6-dbg debug file for %s (bash scripts/deps.sh installs it)" % LIBC)


def t_known():
    """libc6-dbg present: the threshold read at attach is the real one."""
    need_debug()
    recs, err, pid = attach_run()
    check(re.search(r"mmap threshold %d, read from mp_ at 0x[0-9a-f]+" % T196, err),
          "-v does not say where the threshold came from: %s" % clip(err))
    m200 = mallocs(recs, pid, 200000)
    eq(len(m200), 2, "malloc(200000) calls")
    for c in m200:
        eq(c.get("region"), "heap", "malloc(200000) region")
        eq(c.get("reason"), "under_threshold", "malloc(200000) reason")
        eq(c.get("threshold"), T196, "malloc(200000) threshold")
    big = one(recs, pid, 1 << 20)
    eq((big.get("region"), big.get("reason"), big.get("threshold")), ("mmap", "over_threshold", T196),
       "malloc(1 MiB)")
    th = [r for r in recs if r["type"] == "threshold"]
    eq([(t.get("old"), t.get("new")) for t in th], [(T196, T1028)], "threshold moves")
    last = one(recs, pid, 600000)
    eq((last.get("reason"), last.get("threshold")), ("under_threshold", T1028), "malloc(600000)")
    s = recs[-1]["threshold"]
    eq((s.get("start"), s.get("end"), s.get("changes"), s.get("pinned"), s.get("source")),
       (T196, T1028, 1, False, "process"), "summary threshold")
    # the text the issue quoted: no invented 128 KiB
    text, _, _ = attach_run(json_out=False)
    lines = [l for l in text.splitlines() if "malloc(200000)" in l]
    eq(len(lines), 2, "text malloc(200000) lines")
    for l in lines:
        check("[heap: under threshold 196 KiB]" in l and "128 KiB" not in l, "text line: %s" % l)
    check("mmap threshold: 196 KiB -> 1028 KiB (1 change, read from the process)" in text,
          "text summary: %s" % clip(text[-800:]))
    print("#   " + lines[0].strip())


def t_unknown():
    """No debug information: unknown, narrowed, then known again."""
    recs, err, pid = attach_run(env={"ALLOCMAP_DEBUG_DIR": "/nonexistent"})
    check(re.search(r"pid %d: mmap threshold unknown" % pid, err) and "libc6-dbg" in err,
          "stderr does not say the threshold is unknown and why: %s" % clip(err))
    first, second = mallocs(recs, pid, 200000)
    check("threshold" not in first and "reason" not in first,
          "first malloc(200000) states a threshold or reason: %r" % first)
    eq((first.get("threshold_min"), first.get("threshold_max")), (START, MAX), "first bounds")
    # a second call on the thread that grew the heap: threshold > nb (200016)
    check("threshold" not in second, "second malloc(200000) states a value: %r" % second)
    eq((second.get("reason"), second.get("threshold_min"), second.get("threshold_max")),
       ("under_threshold", 200017, MAX), "second malloc(200000)")
    big = one(recs, pid, 1 << 20)
    eq((big.get("region"), big.get("reason"), big.get("threshold_min"), big.get("threshold_max")),
       ("mmap", "over_threshold", 200017, (1 << 20) + 16), "malloc(1 MiB): threshold <= nb")
    check("threshold" not in big, "malloc(1 MiB) states a value: %r" % big)
    th = [r for r in recs if r["type"] == "threshold"]
    eq(len(th), 1, "threshold records")
    eq((th[0].get("old"), th[0].get("old_min"), th[0].get("old_max"), th[0].get("new")),
       (None, 200017, (1 << 20) + 16, T1028), "threshold record: unknown -> known")
    last = one(recs, pid, 600000)
    eq((last.get("reason"), last.get("threshold")), ("under_threshold", T1028), "malloc(600000)")
    s = recs[-1]["threshold"]
    eq((s.get("start"), s.get("start_min"), s.get("start_max"), s.get("end"), s.get("source")),
       (None, START, MAX, T1028, "unknown"), "summary threshold")
    text, _, _ = attach_run(env={"ALLOCMAP_DEBUG_DIR": "/nonexistent"}, json_out=False)
    lines = [l for l in text.splitlines() if "malloc(200000)" in l]
    eq(len(lines), 2, "text malloc(200000) lines")
    check("[heap: threshold unknown, 128 KiB..32 MiB]" in lines[0], "text: %s" % lines[0])
    check("128 KiB]" not in lines[1] and "unknown" in lines[1], "text: %s" % lines[1])
    check("over threshold 128 KiB" not in text, "an invented 128 KiB threshold in the text")
    check("mmap threshold: unknown (128 KiB..32 MiB) -> 1028 KiB" in text,
          "text summary: %s" % clip(text[-800:]))
    print("#   " + lines[0].strip())
    print("#   " + lines[1].strip())


def t_fork():
    """-f: one threshold per process; the child starts from its parent's."""
    need_debug()
    recs, err, pid = attach_run(opts=["-f"], fork=True)
    forks = [r for r in recs if r["type"] == "task" and r.get("kind") == "fork"]
    eq(len(forks), 1, "fork records")
    kid = forks[0]["child"]
    k200 = mallocs(recs, kid, 200000)
    eq(len(k200), 2, "child's malloc(200000) calls")
    for c in k200:
        # (the child's inherited heap is not in its region map: no region, no reason)
        eq(c.get("threshold"), T196, "child's malloc(200000): inherited 196 KiB")
    kbig = one(recs, kid, 1 << 20)
    eq((kbig.get("region"), kbig.get("reason"), kbig.get("threshold")), ("mmap", "over_threshold", T196),
       "child's malloc(1 MiB)")
    th = [r for r in recs if r["type"] == "threshold"]
    eq([(t["pid"], t.get("old"), t.get("new")) for t in th], [(kid, T196, T1028)], "threshold moves")
    eq(one(recs, kid, 600000).get("threshold"), T1028, "child's malloc(600000)")
    p = one(recs, pid, 300000)
    eq((p.get("region"), p.get("reason"), p.get("threshold")), ("mmap", "over_threshold", T196),
       "parent's malloc(300000): its own threshold, not the child's")
    procs = recs[-1]["threshold"].get("procs")
    check(procs and len(procs) == 2, "summary threshold procs: %r" % recs[-1]["threshold"])
    by = {x["pid"]: x for x in procs}
    eq((by[pid].get("start"), by[pid].get("end"), by[pid].get("source")), (T196, T196, "process"),
       "parent's summary")
    eq((by[kid].get("start"), by[kid].get("end"), by[kid].get("source")), (T196, T1028, "fork"),
       "child's summary")


TESTS = [
    ("known", t_known),
    ("unknown", t_unknown),
    ("fork", t_fork),
]


def main(argv):
    problem = None
    if os.geteuid() != 0:
        problem = "not root (BPF needs CAP_BPF and CAP_PERFMON)"
    elif not os.path.exists("/sys/kernel/btf/vmlinux"):
        problem = "no BTF at /sys/kernel/btf/vmlinux"
    missing = [p for p in (TOOL, PROG) if not os.path.exists(p)]

    def before(name):
        if problem:
            raise Skip(problem)
        if missing:
            raise Fail("not built: %s (run make)" % ", ".join(os.path.relpath(p, ROOT) for p in missing))

    return run_tests("threshold", TESTS, argv[1:], before)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
