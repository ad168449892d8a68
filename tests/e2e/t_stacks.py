#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_stacks.py - end-to-end tests of user stacks, symbols, the leak report,
folded flame-graph output and OS-only mode (allocmap trace --stacks,
--stacks=os, --folded, --folded-alloc, --mode os), on .output/progs/stacks*:
a program whose every allocation comes from a distinct function on a known
path (tests/progs/stacks.c), built with frame pointers, without them, and
stripped.

Run as root from the repository root after `make`. Python 3 standard library
only. Prints "ok NAME" / "FAIL NAME: why" / "SKIP NAME: why" per test and
ends with exactly "stacks: N passed, N failed". Without root every test is
skipped loudly; with CI=true a skip counts as a failure."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from harness import Fail, PROGS, TOOL, check, needs, run_tests

LEAK_BYTES = 3 * 12345   # leak_buffer(): malloc(12345) three times, never freed


def run(args, tmp, name="t", timeout=60):
    """allocmap trace --json ARGS; returns the list of records."""
    out = os.path.join(tmp, name + ".jsonl")
    p = subprocess.run([TOOL, "trace", "--json", "-o", out] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise Fail("allocmap exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-300:]))
    with open(out) as f:
        return [json.loads(l) for l in f if l.strip()]


def names(stack):
    return [f.get("sym") for f in stack]


def os_by_size(recs, size):
    """The os records caused by the call of this size."""
    return [r for r in recs if r["type"] == "os" and r.get("cause", {}).get("size") == size]


def call_of(recs, fn, size):
    for r in recs:
        if r["type"] == "call" and r["fn"] == fn and r.get("size") == size:
            return r
    raise Fail("no %s(%d) call record" % (fn, size))


def summary(recs):
    check(recs and recs[-1]["type"] == "summary", "last record is the summary")
    return recs[-1]


def first_user_frame(stack):
    """The first frame outside the allocator and libc (the caller)."""
    for f in stack:
        if f.get("obj", "").startswith("stacks"):
            return f
    return None


# ---------------------------------------------------------------- tests

def t_os_stacks_name_function(tmp, prog="stacks"):
    recs = run(["--stacks", "--", os.path.join(PROGS, prog)], tmp, prog)
    for size, fn, want in ((200000, "malloc", "parse_config"), (300000, "calloc", "load_table")):
        oss = [r for r in os_by_size(recs, size) if r["syscall"] == "mmap"]
        check(len(oss) == 1, "%s(%d): one mmap, got %d" % (fn, size, len(oss)))
        st = oss[0].get("stack")
        check(st, "mmap of %s(%d) has a stack" % (fn, size))
        f = first_user_frame(st)
        check(f and f.get("sym") == want, "mmap of %s(%d): first frame in the program is %s, want %s (%s)"
              % (fn, size, f and f.get("sym"), want, names(st)))
        check("run_steps" in names(st) and "main" in names(st), "path run_steps <- main: %s" % names(st))
        call = call_of(recs, fn, size)
        cs = call.get("stack")
        check(cs and len(cs) >= 2 and cs[1].get("sym") == want,
              "%s call stack: caller is %s (%s)" % (fn, want, cs and names(cs)))
        check(cs[1].get("file", "").endswith("stacks.c") and cs[1].get("line", 0) > 0,
              "source line of %s: %r" % (want, cs[1]))
    # the program's own mmap: direct, from direct_map()
    d = [r for r in recs if r["type"] == "os" and r["syscall"] == "mmap" and r.get("len") == 65536]
    check(len(d) == 1 and d[0]["cause"]["kind"] == "direct", "one direct mmap(65536)")
    f = first_user_frame(d[0].get("stack", []))
    check(f and f.get("sym") == "direct_map", "direct mmap from direct_map: %s" % names(d[0].get("stack", [])))
    # the frees that unmapped: from release()
    for r in [r for r in recs if r["type"] == "os" and r["syscall"] == "munmap" and r["cause"]["kind"] == "call"]:
        f = first_user_frame(r.get("stack", []))
        check(f and f.get("sym") == "release", "munmap by free from release: %s" % names(r.get("stack", [])))
    c = summary(recs)["counters"]
    check(c.get("stacks", 0) > 0 and c.get("stacks_lost") == 0, "stack counters: %r" % c)


def t_os_stacks_nofp(tmp):
    t_os_stacks_name_function(tmp, "stacks_nofp")


def t_leak_report(tmp):
    recs = run(["--stacks", "--", os.path.join(PROGS, "stacks")], tmp, "leaks")
    leaks = [r for r in recs if r["type"] == "leaks"]
    check(len(leaks) == 1, "one leaks record")
    check(recs[-2]["type"] == "leaks", "leaks just before the summary")
    g = leaks[0]["groups"]
    check(g, "leak groups")
    lb = [x for x in g if "leak_buffer" in names(x.get("stack", []))]
    check(len(lb) == 1, "one group from leak_buffer, got %d" % len(lb))
    check(lb[0]["bytes"] == LEAK_BYTES and lb[0]["count"] == 3,
          "leak_buffer: %d bytes in %d, want %d in 3" % (lb[0]["bytes"], lb[0]["count"], LEAK_BYTES))
    check(lb[0]["regions"].get("heap", {}).get("bytes") == LEAK_BYTES, "held by the heap: %r" % lb[0]["regions"])
    check(lb[0]["stack"][1].get("sym") == "leak_buffer", "caller frame is leak_buffer")
    check(leaks[0]["bytes"] == LEAK_BYTES, "total leaked bytes %d" % leaks[0]["bytes"])
    check(g == sorted(g, key=lambda x: -x["bytes"]), "largest first")
    # the text summary names it too
    p = subprocess.run([TOOL, "trace", "-q", "--stacks", "--", os.path.join(PROGS, "stacks")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stderr.decode()  # a launched command's trace is on stderr
    check("leaks: 3 allocations, %d bytes" % LEAK_BYTES in out, "text leak line: %s" % out[-600:])
    check("leak_buffer+" in out, "text leak report names leak_buffer")


def t_stacks_os_derives_call(tmp):
    recs = run(["-v", "--stacks=os", "--", os.path.join(PROGS, "stacks_nofp")], tmp, "os")
    call = call_of(recs, "malloc", 200000)
    cs = call.get("stack")
    check(cs and call.get("stack_derived") is True, "derived call stack")
    check(cs[1].get("sym") == "parse_config", "caller parse_config: %s" % names(cs))
    small = call_of(recs, "malloc", 12345)
    check("stack" not in small, "calls without OS requests have no stack in --stacks=os")
    os_ = [r for r in os_by_size(recs, 200000) if r["syscall"] == "mmap"][0]
    check(os_.get("alloc_frames", 0) >= 2, "allocator frames counted: %r" % os_.get("alloc_frames"))


def t_stripped(tmp):
    recs = run(["--stacks", "--", os.path.join(PROGS, "stacks_stripped")], tmp, "stripped")
    oss = [r for r in os_by_size(recs, 200000) if r["syscall"] == "mmap"]
    check(len(oss) == 1, "one mmap for malloc(200000)")
    st = oss[0]["stack"]
    mine = [f for f in st if f.get("obj") == "stacks_stripped"]
    check(len(mine) >= 3, "program frames present as obj+offset: %r" % st)
    for f in mine:
        check("sym" not in f and "off" in f and f["addr"].startswith("0x"), "address-only frame: %r" % f)
    check(any(f.get("sym") == "__libc_malloc" or f.get("sym") == "malloc" for f in st), "libc still symbolized")
    summary(recs)


def t_folded(tmp):
    fo, fa = os.path.join(tmp, "os.folded"), os.path.join(tmp, "alloc.folded")
    run(["--stacks", "--folded", fo, "--folded-alloc", fa, "--", os.path.join(PROGS, "stacks")], tmp, "folded")
    for path in (fo, fa):
        with open(path) as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        check(lines, "%s not empty" % os.path.basename(path))
        for l in lines:
            stack, _, n = l.rpartition(" ")
            check(stack and n.isdigit() and int(n) > 0, "folded line %r" % l)
    with open(fo) as f:
        osf = {l.rpartition(" ")[0]: int(l.rpartition(" ")[2]) for l in f}
    pc = [k for k in osf if ";parse_config;" in k]
    check(len(pc) == 1 and osf[pc[0]] == 200704, "parse_config obtained 200704 bytes: %r" % pc)
    check(pc[0].startswith("_start;") or pc[0].split(";")[0] in ("_start", "__libc_start_main"), "root first: %s" % pc[0])
    with open(fa) as f:
        al = {l.rpartition(" ")[0]: int(l.rpartition(" ")[2]) for l in f}
    lb = [v for k, v in al.items() if k.endswith(";leak_buffer;__libc_malloc") or k.endswith(";leak_buffer;malloc")]
    check(sum(lb) == LEAK_BYTES, "leak_buffer allocated %d bytes, want %d" % (sum(lb), LEAK_BYTES))


def t_mode_os(tmp):
    """--mode os traces no allocator call; each OS request's cause is inferred
    from its stack (the outermost allocator frame) and must equal what the
    default mode, which traces the calls, says for the same program."""
    prog = os.path.join(PROGS, "stacks")
    recs = run(["--mode", "os", "--", prog], tmp, "modeos")
    check(not [r for r in recs if r["type"] == "call"], "no call records in --mode os")
    oss = [r for r in recs if r["type"] == "os"]
    big = [r for r in oss if r["syscall"] == "mmap" and r.get("len") == 200704]
    check(len(big) == 1, "the malloc(200000) mmap is seen")
    check(big[0]["cause"] == {"kind": "call", "fn": "malloc", "inferred": True},
          "its cause is inferred: %r" % big[0]["cause"])
    f = first_user_frame(big[0].get("stack", []))
    check(f and f.get("sym") == "parse_config", "its stack names parse_config")
    s = summary(recs)
    check(s.get("mode") == "os", "summary says mode os")
    # every allocator cause the traced run sees is inferred, exactly; a
    # request whose stack could not be unwound whole (ld.so at startup, now
    # and then) may be unknown, never wrong
    full = summary(run(["--", prog], tmp, "full"))
    for sc, v in full["syscalls"].items():
        got = dict(s["syscalls"].get(sc, {}).get("by_cause", {}))
        unknown = got.pop("unknown", 0)
        want = dict(v["by_cause"])
        check({k: n for k, n in got.items() if k != "direct"} == {k: n for k, n in want.items() if k != "direct"},
              "%s by cause: --mode os %r, traced calls %r" % (sc, got, want))
        check(got.get("direct", 0) + unknown == want.get("direct", 0),
              "%s: direct %d + unknown %d == direct %d" % (sc, got.get("direct", 0), unknown, want.get("direct", 0)))
    unknowns = [r for r in oss if r["cause"]["kind"] == "unknown"]
    check(all(r.get("stack_truncated") for r in unknowns), "unknown only where the stack is truncated")
    p = subprocess.run([TOOL, "trace", "--mode", "os", "--", prog],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stderr.decode()  # a launched command's trace is on stderr
    check("[malloc, from the stack]" in out and "OS-only" in out, "text says so")
    check("leaks: none" not in out and "not glibc" not in out, "no claim about allocations it did not trace")


def t_stacks_off_unchanged(tmp):
    recs = run(["--", os.path.join(PROGS, "stacks")], tmp, "off")
    check(not [r for r in recs if "stack" in r], "no stack fields without --stacks")
    check(not [r for r in recs if r["type"] == "leaks"], "no leaks record without --stacks")
    check("stacks" not in summary(recs)["counters"], "no stack counters")


def t_sample(tmp):
    recs = run(["--stacks", "--sample", "2", "--", os.path.join(PROGS, "stacks")], tmp, "sample")
    calls = [r for r in recs if r["type"] == "call" and not r.get("nested")]
    with_stack = [r for r in calls if "stack" in r and not r.get("stack_derived")]
    check(all(r["id"] % 2 == 0 for r in with_stack), "only even call ids have own stacks")
    check(with_stack, "some sampled stacks")
    check(summary(recs)["counters"]["stacks_missing"] == 0, "none missing")


def all_frames(recs):
    """Every frame of every stack in the records (calls, OS requests, leak groups)."""
    out = []
    for r in recs:
        out += r.get("stack", [])
        for g in r.get("groups", []):
            out += g.get("stack", [])
    return out


def t_cxx_names(tmp):
    """C++ frames are demangled in every output (JSON keeps the ELF symbol
    as "mangled"), and _start, which has no line information, gets none:
    at -O2 main sits just before it and its last line used to be lent."""
    prog = os.path.join(PROGS, "cxxgrow_O2")
    fo, fa, html = (os.path.join(tmp, n) for n in ("os.folded", "alloc.folded", "r.html"))
    # every 20th call's own stack (OS requests: all); 160 000 traced calls
    # take a while on a slow machine, and longer under the sanitizers
    recs = run(["--stacks", "--sample", "20", "--folded", fo, "--folded-alloc", fa, "--html", html, "--", prog],
               tmp, "cxx", timeout=300)
    frames = all_frames(recs)
    check(frames, "stacks")
    mangled_syms = [f["sym"] for f in frames if f.get("sym", "").startswith(("_Z", "_R"))]
    check(not mangled_syms, "no mangled sym: %s" % mangled_syms[:3])
    new = [f for f in frames if f.get("mangled") == "_Znwm"]
    check(new and all(f["sym"] == "operator new(unsigned long)" for f in new), "operator new: %r" % new[:1])
    grow = [f for f in frames if f.get("sym", "").startswith(
        "void std::vector<long, std::allocator<long> >::_M_realloc_insert<long const&>(")]
    check(grow and all(f["mangled"].startswith("_ZNSt6vectorIlSaIlEE17_M_realloc_insert") for f in grow),
          "vector growth frame demangled, mangled kept: %r" % grow[:1])
    check(all("mangled" not in f for f in frames if f.get("sym") in ("main", "__libc_malloc")),
          "no mangled key where the name is not mangled")
    start = [f for f in frames if f.get("sym") == "_start" and f.get("obj") == "cxxgrow_O2"]
    check(start, "frames reach the program's _start")
    check(all("file" not in f and "line" not in f for f in start), "_start has no line: %r" % start[:1])
    mains = [f for f in frames if f.get("sym") == "main" and f.get("obj") == "cxxgrow_O2"]
    check(mains and all(f.get("line", 0) > 0 for f in mains), "main keeps its lines")
    # text, folded and the HTML report show the demangled names only
    p = subprocess.run([TOOL, "trace", "--stacks=os", "--", prog], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    out = p.stderr.decode(errors="replace")   # a launched command's trace is on stderr
    check(p.returncode == 0 and "operator new(unsigned long)+0x" in out, "text names operator new")
    check("_Znwm" not in out and " _ZN" not in out, "no mangled name in the text output")
    for path in (fo, fa):
        with open(path) as f:
            txt = f.read()
        names_ = {n for l in txt.splitlines() for n in l.rpartition(" ")[0].split(";")}
        check(not [n for n in names_ if n.startswith(("_Z", "_R"))], "%s: no mangled frame" % os.path.basename(path))
        check("_start" in names_, "%s: has stacks" % os.path.basename(path))
    with open(fa) as f:
        check("operator new(unsigned long)" in f.read(), "folded-alloc names operator new")
    with open(html) as f:
        page = f.read()
    check('"sym":"_Z' not in page, "no mangled sym in the report's data")
    check(page.count("_Znwm") == page.count('"mangled":"_Znwm"'), "_Znwm only as the mangled key")
    check("operator new(unsigned long)" in page, "the report names operator new")


def stack_top_known(tid):
    """Has the BPF side been told where thread tid's stack ends (map
    stack_tops)? Read with bpftool: the event the test awaits."""
    p = subprocess.run(["bpftool", "-j", "map", "dump", "name", "stack_tops"], capture_output=True, timeout=30)
    if p.returncode != 0:
        return False
    # one map matched: its elements; several (other runs): one object each
    out = json.loads(p.stdout or b"[]")
    for e in [e for m in out for e in (m["elements"] if "elements" in m else [m])]:
        if e.get("formatted", {}).get("key") == tid:
            return True
    return False


def t_whole_stacks(tmp):
    """Once the unwinder has seen a thread's outermost frame, that thread's
    stacks are copied only up to there (no frame-pointer walk) and unwinds
    of a stack seen before are remembered: after the first stack of the
    churn loop, every one is such a copy, and all unwind to the same
    complete stack as an 8 KiB copy does."""
    scen = os.path.join(PROGS, "scenarios")
    out = os.path.join(tmp, "whole.jsonl")
    p = subprocess.Popen([TOOL, "trace", "-v", "--json", "-o", out, "--stacks", "--", scen,
                          "wait_then", "churn", "3000"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = b""
    try:
        while b"pid=" not in err:
            line = p.stderr.readline()
            check(line, "scenarios printed its pid: %s" % err.decode(errors="replace")[-300:])
            err += line
        pid = int(re.search(rb"pid=(\d+)", err).group(1))
        deadline = time.monotonic() + 30
        while not stack_top_known(pid):
            check(time.monotonic() < deadline, "the main thread's stack top was never learned")
            time.sleep(0.1)
        p.stdin.write(b"go\n")
        p.stdin.close()
        err += p.stderr.read()
        check(p.wait(timeout=120) == 0, "allocmap exited %s" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    m = re.search(rb"stacks: (\d+) unwound, (\d+) whole-stack copies, (\d+) DWARF unwinds remembered", err)
    check(m, "the -v stacks line: %s" % err.decode(errors="replace")[-400:])
    n, whole, memo = (int(x) for x in m.groups())
    # 3000 mallocs and 3000 frees, all after the top was learned
    check(whole >= 6000 and n - whole < 100, "%d of %d stacks whole-stack copies" % (whole, n))
    check(memo >= 5996, "%d unwinds remembered" % memo)
    with open(out) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    churn = [r for r in recs if r["type"] == "call" and r["fn"] in ("malloc", "free") and "stack" in r and
             any(fr.get("sym") == "sc_churn" or fr.get("sym") == "main" for fr in r["stack"])]
    for fn in ("malloc", "free"):
        st = [[(fr.get("sym"), fr.get("off")) for fr in r["stack"]] for r in churn if r["fn"] == fn]
        check(len(st) >= 3000, "%d %s stacks" % (len(st), fn))
        common = max(set(map(tuple, st)), key=lambda x: st.count(list(x)))
        check(st.count(list(common)) >= 3000, "%s: one stack for the loop's calls" % fn)
        check(common[-1][0] == "_start" and any(f[0] == "main" for f in common), "%s: to _start: %s" % (fn, common))
    check(not [r for r in churn if r.get("stack_truncated")], "none truncated")


def t_fork_child(tmp):
    """-f: a child that allocates and exits at once is unwound with the
    module layout it had from its parent (its /proc/PID/maps is gone by
    the time its stacks are read)."""
    recs = run(["-f", "--stacks", "--", os.path.join(PROGS, "forker")], tmp, "fork")
    child = [r for r in recs if r["type"] == "call" and r["fn"] == "malloc" and r.get("size") == 300000]
    check(len(child) == 1, "the child's malloc(300000)")
    st = child[0].get("stack", [])
    check(names(st)[1:3] == ["main", "__libc_start_call_main"] and st[-1].get("sym") == "_start",
          "child's stack: %s" % names(st))
    check(not child[0].get("stack_truncated"), "not truncated")


TESTS = [t_os_stacks_name_function, t_os_stacks_nofp, t_leak_report, t_stacks_os_derives_call,
         t_stripped, t_folded, t_mode_os, t_stacks_off_unchanged, t_sample, t_cxx_names,
         t_whole_stacks, t_fork_child]


def main():
    before = needs(TOOL, os.path.join(PROGS, "stacks_stripped"))

    def in_tmp(t):
        def run_in_tmp():
            with tempfile.TemporaryDirectory(prefix="allocmap-stacks-") as tmp:
                t(tmp)
        return run_in_tmp

    return run_tests("stacks", [(t.__name__[2:], in_tmp(t)) for t in TESTS], sys.argv[1:], before)


if __name__ == "__main__":
    sys.exit(main())
