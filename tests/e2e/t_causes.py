#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_causes.py - the cause link on the shapes real programs have (issue 9):
a free reached by a tail call, a longjmp out of a traced call, an attach to a
process busy in malloc, execs into another allocator and -f children that
allocate at once, C++ operator new/delete under glibc, jemalloc and tcmalloc,
allocator-internal frees, a static binary, and refusing to trace allocmap
itself. Each test runs tests/progs/causes (or cxxprog) under allocmap and
asserts exact counts, nesting and causes. Run as root after `make`."""

import json
import os
import signal
import subprocess
import sys
import tempfile

from harness import Fail, PROGS, Skip, TOOL, check, eq, needs, run_tests

CAUSES = os.path.join(PROGS, "causes")
CXX = os.path.join(PROGS, "cxxprog")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
JEMALLOC = os.path.join(LIBDIR, "libjemalloc.so.2")
TCMALLOC = os.path.join(LIBDIR, "libtcmalloc_minimal.so.4")


def trace(args, name, env=None, timeout=120):
    """allocmap trace --json -v ARGS; returns (records, stderr)."""
    with tempfile.TemporaryDirectory(prefix="allocmap-causes-") as tmp:
        out = os.path.join(tmp, name + ".jsonl")
        p = subprocess.run([TOOL, "trace", "--json", "-v", "-o", out] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            raise Fail("allocmap exited %d: %s" % (p.returncode, err[-400:]))
        with open(out) as f:
            return [json.loads(l) for l in f if l.strip()], err


def of(recs, t):
    return [r for r in recs if r["type"] == t]


def summary(recs):
    s = of(recs, "summary")
    check(len(s) == 1, "one summary record")
    return s[0]


def counters_clean(s, what, allow=()):
    c = s["counters"]
    for k in ("lost_events", "missed_returns", "orphan_returns", "depth_overflow", "thread_full",
              "unattached_probes", "orphan_os"):
        if k not in allow:
            eq(c[k], 0, "%s: %s" % (what, k))


def is_free(fn):
    return fn == "free" or fn.startswith("operator delete")


def no_call_inside_a_free(recs, what):
    """Nothing allocates inside a free; a free causes no brk growth and no
    new mapping; an mmap caused by a call of n bytes is at least n bytes."""
    calls = {c["id"]: c for c in of(recs, "call")}
    brk = {}
    for o in of(recs, "os"):
        cause = o["cause"]
        grew = False
        if o["syscall"] == "brk" and not o.get("error"):
            end = int(o["ret"], 16)
            grew = o["pid"] in brk and end > brk[o["pid"]]
            brk[o["pid"]] = end
        if cause.get("kind") != "call" or "call_id" not in cause:
            continue
        c = calls.get(cause["call_id"])
        check(c is not None, "%s: os #%d's call #%s is in the trace" % (what, o["id"], cause["call_id"]))
        check(not c.get("nested"), "%s: os #%d caused by a nested call" % (what, o["id"]))
        if is_free(c["fn"]):
            check(o["syscall"] not in ("mmap", "mremap"), "%s: %s caused by %s" % (what, o["syscall"], c["fn"]))
            check(not grew, "%s: brk growth caused by %s" % (what, c["fn"]))
    # a call served by a mapping of its own made that mapping at least as big
    for c in calls.values():
        if c.get("region") == "mmap" and not is_free(c["fn"]) and c.get("size"):
            lens = [o["len"] for o in of(recs, "os") if o["syscall"] in ("mmap", "mremap")
                    and o["cause"].get("call_id") == c["id"]]
            lens += [o.get("new_len", 0) for o in of(recs, "os") if o["syscall"] == "mremap"
                     and o["cause"].get("call_id") == c["id"]]
            check(lens and max(lens) >= c["size"],
                  "%s: %s(%d) in its own mapping, mapped %r" % (what, c["fn"], c["size"], lens))


def t_tail_called_free():
    """64 rounds at one call site: a free reached by `jmp free`, then a malloc
    one frame deeper. Every call is outermost; the default traces free's
    return, so nothing can be counted inside a free."""
    recs, _ = trace(["--", CAUSES, "tailfree", "64"], "tailfree")
    calls = [c for c in of(recs, "call")]
    mallocs = [c for c in calls if c["fn"] == "malloc"]
    frees = [c for c in calls if c["fn"] == "free"]
    eq(len([c for c in mallocs if c["size"] in range(1000, 1064) or c["size"] == 200000]), 32,
       "the program's 32 mallocs")
    eq([c for c in calls if c.get("nested")], [], "nested calls")
    check(all("dur_ns" in c for c in frees), "every free has its return (dur_ns)")
    no_call_inside_a_free(recs, "tailfree")
    s = summary(recs)
    counters_clean(s, "tailfree")
    eq(s["counters"]["unknown_frees"], 0, "unknown frees")
    big = [c for c in mallocs if c["size"] == 200000]
    mm = [o for o in of(recs, "os") if o["syscall"] == "mmap" and o["cause"].get("call_id") == big[0]["id"]]
    eq([(o["len"], o["cause"]["fn"]) for o in mm], [(200704, "malloc")], "the first 200000 B malloc's mmap")


def t_free_noret_is_the_approximation():
    """--free-noret infers free's end from its return-address slot: on the
    same program it is wrong (calls nested in a free), which is why it is
    not the default and its help says APPROXIMATE."""
    recs, _ = trace(["--free-noret", "--", CAUSES, "tailfree", "64"], "noret")
    check(len([c for c in of(recs, "call") if c.get("nested")]) > 0,
          "the approximation shows its known error here (else this test proves nothing)")
    h = subprocess.run([TOOL, "trace", "--help"], capture_output=True).stdout.decode()
    check("APPROXIMATE" in h and "--free-noret" in h, "--help says what --free-noret trades")


def t_longjmp():
    """50 longjmps out of my_alloc (traced with --alloc): exactly 50 missed
    returns, and every later call at the same level is outermost again."""
    recs, _ = trace(["--alloc", "my_alloc=malloc", "--", CAUSES, "longjmp", "50"], "longjmp")
    calls = of(recs, "call")
    mine = [c for c in calls if c["fn"] == "my_alloc"]
    eq(len(mine), 100, "my_alloc calls")
    eq(len([c for c in mine if c.get("missed")]), 50, "my_alloc calls jumped out of")
    eq([c for c in mine if c.get("nested")], [], "my_alloc calls counted as nested")
    check(all(c.get("nested") for c in calls if c["fn"] == "malloc"), "every malloc is inside a my_alloc")
    eq([c for c in calls if c["fn"] == "free" and c.get("nested")], [], "nested frees")
    check(all(c.get("role") == "malloc" for c in mine), "--alloc calls carry their role")
    s = summary(recs)
    eq(s["counters"]["missed_returns"], 50, "missed returns")
    counters_clean(s, "longjmp", allow=("missed_returns",))


def t_sigjump():
    """A timer's handler siglongjmps out of wherever the loop is, inside
    malloc or free or not, hundreds of times: every jump out of a traced
    call is one missed return, nothing is ever nested or orphaned, and the
    calls after the jumps are outermost."""
    recs, _ = trace(["--", CAUSES, "sigjump", "20000"], "sigjump")
    calls = of(recs, "call")
    eq([c["id"] for c in calls if c.get("nested")][:5], [], "nested calls")
    s = summary(recs)
    eq(s["counters"]["missed_returns"], len([c for c in calls if c.get("missed")]),
       "missed returns counted = calls reported missed")
    counters_clean(s, "sigjump", allow=("missed_returns",))
    last = [c for c in calls if c["fn"] == "malloc" and 100 <= c.get("size", 0) < 200]
    eq(len(last), 100, "the 100 mallocs after the timer stopped")
    eq(s["counters"]["unknown_frees"], 0, "unknown frees")


def t_attach_busy():
    """-p to a process in a malloc/free loop: calls already running when the
    probes go in never poison the thread (nothing nested, nothing orphaned,
    nothing missed)."""
    prog = subprocess.Popen([CAUSES, "busy"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        eq(prog.stdout.readline().strip(), b"ready", "the target's ready line")
        recs, _ = trace(["-p", str(prog.pid), "-d", "1.5"], "busy")
    finally:
        prog.send_signal(signal.SIGUSR1)
        prog.wait(timeout=30)
    calls = of(recs, "call")
    check(len(calls) > 1000, "calls traced: %d" % len(calls))
    eq([c["fn"] for c in calls if c.get("nested")][:5], [], "nested calls")
    eq([c["id"] for c in calls if c.get("missed")][:5], [], "missed calls")
    s = summary(recs)
    counters_clean(s, "busy")
    eq(s["counters"]["unknown_frees"] <= 1, True, "unknown frees (at most the block allocated before)")


def t_exec_held():
    """An exec'd image is held until its probes are in: its first calls are
    seen through `sh -c exec`, through `env LD_PRELOAD=jemalloc` (the probes
    move to another allocator), and in a -f child that forks, allocates at
    once, then execs into jemalloc."""
    want = [("malloc", 123457), ("calloc", 12963)]

    def firsts(recs, pid=None):
        return [(c["fn"], c["size"]) for c in of(recs, "call")
                if (c["fn"], c.get("size")) in want and (pid is None or c["pid"] == pid)]

    recs, err = trace(["--", "sh", "-c", "exec %s alloc_now" % CAUSES], "sh")
    eq(firsts(recs), want, "sh -c exec: the first calls of the exec'd image")
    recs, err = trace(["--", "env", "LD_PRELOAD=" + JEMALLOC, CAUSES, "alloc_now"], "env")
    eq(firsts(recs), want, "env LD_PRELOAD=jemalloc: the first calls")
    check("No such process" not in err, "no late attach: %s" % err[-300:])
    check(summary(recs)["counters"]["held"] >= 1, "the exec was held")
    big = [c for c in of(recs, "call") if c.get("size") == 123457][0]
    eq(big.get("region"), "arena", "jemalloc serves it from its own mappings")
    recs, err = trace(["-f", "--", CAUSES, "forkexec", "env", "LD_PRELOAD=" + JEMALLOC, CAUSES, "alloc_now"],
                      "forkexec")
    calls = of(recs, "call")
    root = recs[0]["pid"]
    child = [c for c in calls if c["fn"] == "malloc" and c.get("size") == 54321]
    eq(len(child), 1, "the child's malloc right after fork")
    check(child[0]["pid"] != root, "made by the child")
    eq(len([c for c in calls if c["fn"] == "malloc" and c.get("size") == 65432 and c["pid"] == root]), 1,
       "the parent's malloc")
    eq(firsts(recs, child[0]["pid"]), want, "the exec'd child's first calls")
    counters_clean(summary(recs), "forkexec")


def cxx_sites(recs):
    """The program's operator-new calls by size, outermost only."""
    got = {}
    for c in of(recs, "call"):
        if c["fn"].startswith("operator new") and not c.get("nested") and not c.get("own"):
            got[c["size"]] = got.get(c["size"], 0) + 1
    return got


def t_cxx():
    """C++ operators are traced in the object that binds them: libstdc++
    under glibc (operator new is the outermost cause of malloc's mmap),
    jemalloc and tcmalloc (which define them: their malloc never sees these
    calls). cxxprog's sites: new char[300000], new Big (40000 B), a vector
    grown to 100000 longs (18 buffers), 32 new int."""
    want = {300000: 1, 40000: 1, 4: 32}
    for k in range(18):
        want[8 << k] = want.get(8 << k, 0) + 1
    for name, pre in (("glibc", None), ("jemalloc", JEMALLOC), ("tcmalloc", TCMALLOC)):
        cmd = [CXX]
        if pre:
            if not os.path.exists(pre):
                raise Skip("%s not installed" % pre)
            # through env: allocmap itself must not load it (nor ASan's build)
            cmd = ["env", "LD_PRELOAD=" + pre, CXX]
        recs, _ = trace(["--"] + cmd, "cxx-" + name)
        got = cxx_sites(recs)
        eq({k: got.get(k, 0) for k in want}, want, "%s: operator new calls by size" % name)
        deletes = [c for c in of(recs, "call") if c["fn"].startswith("operator delete") and not c.get("nested")]
        check(len(deletes) >= 51, "%s: operator delete calls: %d" % (name, len(deletes)))
        no_call_inside_a_free(recs, name)
        counters_clean(summary(recs), name)
        if name == "glibc":
            arr = [c for c in of(recs, "call") if c["fn"] == "operator new[]" and c.get("size") == 300000]
            eq(len(arr), 1, "new char[300000]")
            mm = [o for o in of(recs, "os") if o["cause"].get("call_id") == arr[0]["id"]]
            eq([(o["syscall"], o["len"], o["cause"]["fn"]) for o in mm], [("mmap", 303104, "operator new[]")],
               "its mmap names operator new[] as cause")


def t_own_frees():
    """Frees glibc makes when a thread exits (its cache flush) are the
    allocator's own: not unknown frees of the program."""
    recs, err = trace(["--", CAUSES, "leak_own"], "own")
    s = summary(recs)
    eq(s["counters"]["unknown_frees"], 0, "unknown frees")
    check(s["counters"]["own_calls"] >= 1, "allocator-internal calls counted")
    own = [c for c in of(recs, "call") if c.get("own")]
    check(own and all(c["fn"] == "free" for c in own), "flagged in the call records")


def t_static_absent():
    """A static glibc binary does not contain every function: absent is not
    a failed attach."""
    recs, err = trace(["--", os.path.join(PROGS, "static_example")], "static")
    eq(summary(recs)["counters"]["unattached_probes"], 0, "unattached probes")
    check("unattached" not in err.lower() and "cannot attach" not in err, "no attach warning: %s" % err[-300:])


def t_refuse_self():
    """allocmap refuses to trace itself (its own probes would fire in its
    event loop)."""
    p = subprocess.run(["sh", "-c", "exec %s trace -p $$ -d 3" % TOOL], capture_output=True, timeout=30)
    err = p.stderr.decode(errors="replace")
    check(p.returncode != 0 and "allocmap itself" in err and len(err.strip().splitlines()) == 1,
          "one clear line and a failure: rc %d, %r" % (p.returncode, err))


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def t_guardian_releases_held():
    """The tracer dies (SIGKILL) while a process it traces is held at exec:
    the guardian continues it, and it runs to its end."""
    import time
    prog = subprocess.Popen([CAUSES, "exec_on_line", CAUSES, "alloc_now"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    tool = None
    try:
        eq(prog.stdout.readline().strip(), b"ready", "the target's ready line")
        tool = subprocess.Popen([TOOL, "trace", "-q", "-p", str(prog.pid)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in tool.stderr:
            if "tracing" in line:
                break
        check(tool.poll() is None, "allocmap is tracing")
        os.kill(tool.pid, signal.SIGSTOP)     # it cannot continue anything now
        prog.stdin.write(b"go\n")
        prog.stdin.close()
        prog.stdin = None
        deadline = time.time() + 10
        while proc_state(prog.pid) != "T" and time.time() < deadline:
            time.sleep(0.01)
        eq(proc_state(prog.pid), "T", "the target is held (stopped) at its exec")
        tool.kill()
        tool.wait()
        eq(prog.wait(timeout=20), 0, "the target, continued by the guardian, ran to its end")
    finally:
        if tool and tool.poll() is None:
            tool.kill()
            tool.wait()
        if prog.poll() is None:
            prog.kill()
            prog.wait()


TESTS = [
    ("tail_called_free", t_tail_called_free),
    ("free_noret_is_the_approximation", t_free_noret_is_the_approximation),
    ("longjmp", t_longjmp),
    ("sigjump", t_sigjump),
    ("attach_busy", t_attach_busy),
    ("exec_held", t_exec_held),
    ("cxx", t_cxx),
    ("own_frees", t_own_frees),
    ("static_absent", t_static_absent),
    ("refuse_self", t_refuse_self),
    ("guardian_releases_held", t_guardian_releases_held),
]


def main(argv):
    return run_tests("causes", TESTS, argv[1:], needs(TOOL, CAUSES, CXX))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
