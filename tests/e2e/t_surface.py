#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_surface.py - what a new user sees of `allocmap trace` (issue 11): the
command's wall time from its exec to its exit as the kernel's events say;
one time base (t = 0 at the launched command's exec, at the attach with -p)
shared by the text, the JSON and Perfetto; complete JSON whatever -v/-q;
records in time order (a call before the OS requests it made); a launched
command's trace on stderr and "wrote FILE"; strace's notation for mmap
offsets; the dynamic loader's startup requests marked (checked against
`strace -k`: the requests whose syscall instruction is in ld.so, before any
other) and summed up in the text; both ways of attaching uprobes. Run as
root after `make`; test names as arguments run only those."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from harness import Fail, PROGS, TOOL, check, eq, needs, run, run_tests

EXAMPLE = os.path.join(PROGS, "example")
SCEN = os.path.join(PROGS, "scenarios")
CHURN = os.path.join(PROGS, "churn")
STATIC = os.path.join(PROGS, "static_example")
TMP = tempfile.mkdtemp(prefix="allocmap-surface-")
TIME = re.compile(r"^\s*(\d+)\.(\d{6}) \[")  # a text line's time: seconds.microseconds


def trace_json(args, name="t", env=None, want_rc=0):
    """allocmap trace --json ARGS (-o FILE added); returns (records, stderr)."""
    out = os.path.join(TMP, name + ".jsonl")
    p = run([TOOL, "trace", "--json", "-o", out] + args, env=env)
    if want_rc is not None:
        eq(p.returncode, want_rc, "allocmap's exit status (stderr: %s)" % p.stderr[-300:])
    with open(out) as f:
        return [json.loads(l) for l in f if l.strip()], p.stderr


def of(recs, t, **kw):
    return [r for r in recs if r["type"] == t and all(r.get(k) == v for k, v in kw.items())]


def text_us(line):
    """Microseconds since t = 0 of a text line, or None."""
    m = TIME.match(line)
    return int(m.group(1)) * 1000000 + int(m.group(2)) if m else None


def t_wall_exec_to_exit():
    """The command's wall time is its exit event's time less its exec
    event's, exactly; with -p there is none."""
    recs, _ = trace_json(["--", SCEN, "exit_soon", "30"], "wall")
    s = recs[-1]
    pid = recs[0]["pid"]
    ex, ez = of(recs, "task", kind="exec", pid=pid), of(recs, "task", kind="exit", pid=pid)
    eq((len(ex), len(ez)), (1, 1), "exec and exit records of the command")
    eq(s["target"]["wall_ns"], ez[0]["ts_ns"] - ex[0]["ts_ns"], "summary target.wall_ns")
    check(s["target"]["wall_ns"] >= 30000000, "the command slept 30 ms: wall %d ns" % s["target"]["wall_ns"])


def attach_run(name, *extra):
    """-p of `scenarios wait_then mmap_128k`, let go once attached; returns
    (records, target pid)."""
    out = os.path.join(TMP, name + ".jsonl")
    target = subprocess.Popen([SCEN, "wait_then", "mmap_128k"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    tr = subprocess.Popen([TOOL, "trace", "--json", "-o", out, "-p", str(target.pid)] + list(extra),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    try:
        deadline = time.time() + 60  # waits for an event (the attach), not a speed limit
        while time.time() < deadline:
            line = tr.stderr.readline()
            if not line or "tracing" in line:
                break
        target.stdin.write("go\n")
        target.stdin.close()
        target.wait(timeout=60)
        tr.communicate(timeout=60)
    finally:
        for p in (target, tr):
            if p.poll() is None:
                p.kill()
                p.wait()
    eq(tr.returncode, 0, "allocmap -p exit status")
    with open(out) as f:
        return [json.loads(l) for l in f if l.strip()], target.pid


def t_origin_exec():
    """Launched: the first record is the time origin, at the command's exec."""
    recs, _ = trace_json(["--", EXAMPLE], "origin")
    h, s = recs[0], recs[-1]
    eq((h["type"], h.get("origin")), ("trace", "exec"), "first record")
    ex = of(recs, "task", kind="exec", pid=h["pid"])
    eq(h["ts_ns"], ex[0]["ts_ns"], "t = 0 is the exec record's time")
    eq((s.get("t0_ns"), s.get("origin")), (h["ts_ns"], "exec"), "summary t0_ns, origin")
    check(all(r["ts_ns"] >= h["ts_ns"] for r in recs), "a record before t = 0")
    check(s["ts_ns"] == h["ts_ns"] + s["duration_ns"] or s["ts_ns"] > h["ts_ns"] + s["duration_ns"],
          "summary ts_ns = t0 + duration (or the last record's time)")


def t_origin_attach():
    """-p: t = 0 is when the first process was taken, before any record."""
    recs, pid = attach_run("attach")
    h, s = recs[0], recs[-1]
    eq((h["type"], h.get("origin"), h["pid"]), ("trace", "attach", 0), "first record")
    check(all(r["ts_ns"] >= h["ts_ns"] for r in recs), "a record before t = 0")
    eq(s.get("t0_ns"), h["ts_ns"], "summary t0_ns")
    eq(s["target"], None, "summary target with -p")
    mm = [o for o in of(recs, "os", syscall="mmap") if o["pid"] == pid and o["cause"]["kind"] == "call"]
    check(mm, "the target's malloc-made mmap after the attach")


def t_one_time_base():
    """A line of text is found in Perfetto at the same time: every call line
    and direct mmap line of the text is the Perfetto event of that record,
    and their times (µs since t = 0) agree."""
    txt, pf = os.path.join(TMP, "base.txt"), os.path.join(TMP, "base.perfetto.json")
    p = run([TOOL, "trace", "--startup", "-o", txt, "--perfetto", pf, "--", EXAMPLE])
    eq(p.returncode, 0, "exit status (stderr %s)" % p.stderr[-300:])
    doc = json.load(open(pf))
    check(doc["otherData"].get("t0_ns", 0) > 0, "Perfetto otherData.t0_ns")
    ev = {}
    for e in doc["traceEvents"]:
        a = e.get("args") or {}
        if a.get("type") == "os" and a.get("syscall") == "mmap" and a["cause"]["kind"] == "direct":
            ev["mmap = %s" % a["ret"]] = e["ts"]
        elif a.get("type") == "call" and e.get("ph") in ("X", "B") and "ret" in a:
            ev["%s = %s" % (a["fn"], a["ret"])] = e["ts"]
    matched = 0
    for line in open(txt):
        us = text_us(line)
        m = re.search(r"\] (\w+)\(.*?\) = (0x[0-9a-f]+)", line)
        if us is None or not m:
            continue
        key = "%s = %s" % (m.group(1), m.group(2))
        if key in ev:
            eq(us, int(ev[key]), "time of %r in the text vs Perfetto (µs)" % key)
            matched += 1
    check(matched >= 10, "only %d text lines found in Perfetto" % matched)


def t_json_complete():
    """--json has every call whatever -v/-q: as many call records as the
    summary counts."""
    for opts in ([], ["-q"], ["-v"]):
        recs, _ = trace_json(opts + ["--", EXAMPLE], "complete")
        want = sum(f["calls"] for f in recs[-1]["functions"].values())
        eq(len(of(recs, "call")), want, "call records with %r" % opts)
        check(any(not c["os"] for c in of(recs, "call")), "calls without OS requests with %r" % opts)


def t_report_whole():
    """`trace --json -o t.jsonl; report t.jsonl` gives the page `--html`
    gives (but for the trace's name and the generation time)."""
    jl, a, b = (os.path.join(TMP, n) for n in ("whole.jsonl", "whole-a.html", "whole-b.html"))
    p = run([TOOL, "trace", "--json", "-o", jl, "--html", a, "--", EXAMPLE])
    eq(p.returncode, 0, "trace exit status (stderr %s)" % p.stderr[-300:])
    q = run([TOOL, "report", jl, "-o", b])
    eq(q.returncode, 0, "report exit status (stderr %s)" % q.stderr[-300:])
    norm = lambda f: re.sub(r'"(source|generated)":"[^"]*"', "", open(f).read())
    pa, pb = norm(a), norm(b)
    check(pa == pb, "the pages differ (%d vs %d bytes)" % (len(pa), len(pb)))
    check('"type":"summary"' in pa, "no summary in the page")


def t_time_order():
    """Four threads of malloc/free: the JSON is in time order, a call
    before the OS requests it made, nothing late; the text too."""
    recs, _ = trace_json(["--", CHURN, "soak", "1", "4"], "order")
    ts = [r["ts_ns"] for r in recs]
    bad = [i for i in range(1, len(ts)) if ts[i] < ts[i - 1]]
    check(not bad, "%d records before the one above them, first at line %d" % (len(bad), bad[0] + 1 if bad else 0))
    eq(recs[-1]["counters"]["out_of_order"], 0, "counters.out_of_order")
    line_of = {("os", r["id"]): i for i, r in enumerate(recs) if r["type"] == "os"}
    n = 0
    for i, c in enumerate(recs):
        if c["type"] == "call":
            for oid in c["os"]:
                check(line_of[("os", oid)] > i, "os %d before its call %d" % (oid, c["id"]))
                n += 1
    check(n >= 20, "only %d OS requests made in calls" % n)
    check(len({r["tid"] for r in of(recs, "call")}) >= 4, "calls from four threads")
    txt = os.path.join(TMP, "order.txt")
    p = run([TOOL, "trace", "-v", "-o", txt, "--", CHURN, "soak", "1", "4"])
    eq(p.returncode, 0, "text run exit status")
    times = [u for u in map(text_us, open(txt)) if u is not None]
    check(len(times) > 100, "text lines with a time: %d" % len(times))
    check(times == sorted(times), "text lines out of time order")


def t_stderr_default():
    """A launched command's trace goes to stderr, its own output stays on
    stdout; -p's trace to stdout; each file written is said."""
    p = run([TOOL, "trace", "--", "/bin/echo", "hello"])
    eq((p.returncode, p.stdout), (0, "hello\n"), "exit status and stdout")
    check("+++ exec +++" in p.stderr and "allocmap summary" in p.stderr, "the trace is not on stderr")
    files = {k: os.path.join(TMP, "w." + k) for k in ("txt", "html", "json", "folded")}
    p = run([TOOL, "trace", "-q", "-o", files["txt"], "--html", files["html"], "--perfetto", files["json"],
             "--folded", files["folded"], "--", EXAMPLE])
    eq(p.returncode, 0, "exit status with files (stderr %s)" % p.stderr[-300:])
    for k, f in files.items():
        eq(p.stderr.count("allocmap: wrote %s\n" % f), 1, "'wrote' line for %s" % k)
        check(os.path.getsize(f) > 0, "%s is empty" % f)
    eq(p.stdout, "", "stdout with every output in a file")
    target = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        q = run([TOOL, "trace", "-q", "-d", "0.3", "-p", str(target.pid)])
    finally:
        target.kill()
        target.wait()
    eq(q.returncode, 0, "-p exit status")
    check("allocmap summary" in q.stdout, "-p: the trace is not on stdout")


def t_notation():
    """strace's notation: sizes in decimal, mmap offsets in hex (0 as 0);
    calloc(nmemb, size)."""
    p = run([TOOL, "trace", "--startup", "--", EXAMPLE])
    eq(p.returncode, 0, "exit status")
    mm = [l for l in p.stderr.splitlines() if re.search(r"\] mmap\(", l)]
    check(mm, "no mmap line")
    for l in mm:
        check(re.search(r", -?\d+, (0|0x[0-9a-f]+)\) = ", l), "mmap offset not in strace's notation: %s" % l)
    check(any(re.search(r", 3, 0x[0-9a-f]+\) = ", l) for l in mm), "no file mapping with an offset")
    check("calloc(50, 8000) = 0x" in p.stderr, "calloc(50, 8000) not in the text")


def strace_startup(prog):
    """(syscall, length) of the memory syscalls strace -k shows made from
    ld.so (its innermost frame), before the first made elsewhere."""
    out = os.path.join(TMP, "strace.txt")
    p = run(["strace", "-f", "-k", "-o", out, "-e", "trace=memory", prog])
    eq(p.returncode, 0, "strace exit status (%s)" % p.stderr[-200:])
    seq, cur = [], None
    for line in open(out):
        body = line.split(None, 1)[1] if line[0].isdigit() else line
        m = re.match(r"(brk|mmap|munmap|mprotect|mremap|madvise)\((.*?)\)\s+= ", body)
        if m:
            args = [a.strip() for a in m.group(2).split(",")]
            cur = (m.group(1), None if m.group(1) == "brk" else int(args[1], 0))
            continue
        if cur and body.startswith(" > "):
            if "ld-linux" not in body:
                return seq
            seq.append(cur)
            cur = None
    return seq


def t_startup_matches_strace():
    """The records marked startup are exactly the memory syscalls strace -k
    shows made from ld.so before any other; the text sums them up in one
    line, --startup lists them."""
    if not shutil.which("strace"):
        raise Fail("strace is not installed")
    want = strace_startup(EXAMPLE)
    check(len(want) >= 5, "strace saw only %d loader requests" % len(want))
    recs, _ = trace_json(["--", EXAMPLE], "startup")
    su = [o for o in of(recs, "os") if o.get("startup")]
    got = [(o["syscall"], o.get("len")) for o in su]
    eq(got, want, "startup records (syscall, len) vs strace -k")
    first_other = min(i for i, r in enumerate(recs) if r["type"] == "os" and not r.get("startup"))
    check(all(recs.index(o) < first_other for o in su), "a startup record after another request")
    check(all(o["cause"]["kind"] == "direct" for o in su), "a startup request with a cause")
    p = run([TOOL, "trace", "--", EXAMPLE])
    lines = [l for l in p.stderr.splitlines() if "startup:" in l]
    eq(len(lines), 1, "startup lines in the text")
    check(" %d requests by the dynamic loader" % len(su) in lines[0], "startup line: %s" % lines[0])
    p = run([TOOL, "trace", "--startup", "--", EXAMPLE])
    eq(p.stderr.count("[direct: the dynamic loader, at startup]"), len(su), "--startup lines")
    check("startup:" not in p.stderr, "--startup still sums them up")


def t_startup_static():
    """A static program has no interpreter: no startup request."""
    recs, err = trace_json(["--", STATIC], "static")
    check(of(recs, "os"), "no OS request at all")
    eq([o["id"] for o in of(recs, "os") if o.get("startup")], [], "startup records of a static program")


def t_uprobe_links_alike():
    """One perf link per probe (ALLOCMAP_NO_UPROBE_MULTI, as on Linux < 6.6)
    and uprobe_multi links trace the same calls."""
    res = []
    for env in (None, dict(os.environ, ALLOCMAP_NO_UPROBE_MULTI="1")):
        recs, _ = trace_json(["--", EXAMPLE], "links", env=env)
        s = recs[-1]
        eq(s["counters"]["unattached_probes"], 0, "unattached probes")
        res.append({k: v["calls"] for k, v in s["functions"].items()})
    eq(res[1], res[0], "calls per function, one link per probe vs uprobe_multi")


TESTS = [
    ("wall_exec_to_exit", t_wall_exec_to_exit),
    ("origin_exec", t_origin_exec),
    ("origin_attach", t_origin_attach),
    ("one_time_base", t_one_time_base),
    ("json_complete", t_json_complete),
    ("report_whole", t_report_whole),
    ("time_order", t_time_order),
    ("stderr_default", t_stderr_default),
    ("notation", t_notation),
    ("startup_matches_strace", t_startup_matches_strace),
    ("startup_static", t_startup_static),
    ("uprobe_links_alike", t_uprobe_links_alike),
]

if __name__ == "__main__":
    try:
        rc = run_tests("surface", TESTS, sys.argv[1:], needs(TOOL, EXAMPLE, SCEN, CHURN, STATIC))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
