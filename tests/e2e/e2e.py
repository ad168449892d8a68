#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""e2e.py - allocmap's end-to-end tests: real BPF tracing of the programs in
tests/progs/, asserting exact sizes, pointers, counts and causes.

Run as root from the repository root, after `make` (make e2e / make test do
both). Python 3 standard library only. Each test prints one line:
    ok NAME | FAIL NAME: why | SKIP NAME: why
and the run ends with exactly "e2e: N passed, N failed" (", N skipped" when
any). Without root or BPF every test is skipped loudly; with CI=true a skip
counts as a failure. Exit status is non-zero on any failure.

Ground truth (glibc 2.36, x86-64, 4 KiB pages; measured with strace -f -e
trace=memory and ltrace -S on this machine) is written next to each check.
The target, .output/progs/scenarios, logs every allocator call it makes with
its pointers (-l LOGFILE), so the pointers allocmap reports are compared with
the ones the program saw, not merely with each other.

Comparing with strace: two runs of a program differ in their addresses
(ASLR), so allocmap's records are compared with strace's from a separate run
made with address randomisation off (`setarch -R`, inherited by the traced
child through exec): a program whose behaviour depends only on its inputs
then makes the very same syscalls with the very same arguments and results,
and the two lists must be equal as multisets, no more, no fewer. (Tracing
`strace prog` with allocmap would trace strace; stracing allocmap would make
strace and allocmap's launcher fight over the child.)
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from harness import CI, Fail, PROGS, ROOT, Skip, TOOL, check, eq, run_tests

SCEN = os.path.join(PROGS, "scenarios")
EXAMPLE = os.path.join(PROGS, "example")
STATIC_NOSYM = os.path.join(PROGS, "static_nosym")
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
RUN_TIMEOUT = 60          # seconds for one allocmap run

PAGE = 4096
THRESH0 = 131072          # glibc's initial M_MMAP_THRESHOLD


def h(v):
    """A schema value (hex string, int or None) as an int."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise Fail("expected an address/integer, got %r" % (v,))
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 16) if v.lower().startswith("0x") else int(v)
        except ValueError:
            raise Fail("not an address: %r" % (v,))
    raise Fail("not an address: %r" % (v,))


def flagset(v):
    """'MAP_PRIVATE|MAP_ANONYMOUS' -> frozenset of names (order-free)."""
    if v is None:
        return frozenset()
    return frozenset(x.strip() for x in str(v).split("|") if x.strip())


def clip(s, n=400):
    """s on one line, at most n characters: its end, where errors are."""
    s = s.strip().replace("\n", " | ")
    return s if len(s) <= n else "..." + s[-n:]


# ----------------------------------------------------------------------------
# running allocmap and reading its JSON Lines

class Trace:
    """The parsed --json output of one allocmap run."""

    def __init__(self, path):
        self.records = []
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise Fail("no trace output %s: %s" % (path, e))
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                raise Fail("line %d is not JSON (%s): %s" % (n, e, clip(line, 120)))
            if not isinstance(r, dict) or "type" not in r:
                raise Fail("line %d has no \"type\": %s" % (n, clip(line, 120)))
            self.records.append(r)
        self.calls = [r for r in self.records if r["type"] == "call"]
        self.os = [r for r in self.records if r["type"] == "os"]
        self.thresholds = [r for r in self.records if r["type"] == "threshold"]
        self.tasks = [r for r in self.records if r["type"] == "task"]
        sums = [r for r in self.records if r["type"] == "summary"]
        check(len(sums) == 1, "want exactly one summary record, got %d" % len(sums))
        check(self.records[-1]["type"] == "summary", "the summary is not the last record")
        self.summary = sums[0]
        self.call_by_id = {}
        for c in self.calls:
            check(c.get("id") not in self.call_by_id, "duplicate call id %r" % c.get("id"))
            self.call_by_id[c.get("id")] = c
        ids = set()
        for o in self.os:
            check(o.get("id") not in ids, "duplicate os id %r" % o.get("id"))
            ids.add(o.get("id"))

    def caused(self, call):
        """OS records whose cause is `call`, by id; checks call['os'] agrees."""
        mine = sorted((o for o in self.os
                       if isinstance(o.get("cause"), dict)
                       and o["cause"].get("kind") == "call"
                       and o["cause"].get("call_id") == call["id"]),
                      key=lambda o: o["id"])
        listed = call.get("os")
        check(isinstance(listed, list), "call %d (%s) has no os array" % (call["id"], call.get("fn")))
        eq(sorted(listed), [o["id"] for o in mine],
           "call %d (%s): its os ids vs os records naming it as cause" % (call["id"], call.get("fn")))
        for o in mine:
            eq(o["cause"].get("fn"), call.get("fn"), "os %d cause.fn" % o["id"])
        return mine

    def os_of_pid(self, pid):
        return [o for o in self.os if o.get("pid") == pid]


def run(cmd, env=None, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL):
    """Run cmd; return (rc, stdout, stderr). A hang is a failure."""
    try:
        p = subprocess.run(cmd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %ds: %s" % (timeout, " ".join(cmd)))
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def stderr_lines(err):
    return [l for l in err.splitlines() if l.strip()]


class LogStep:
    """One line of the scenario's -l log: 'STEP fn=F size=N ptr=P ret=R'."""

    def __init__(self, line):
        parts = line.split()
        self.name = parts[0]
        kv = dict(p.split("=", 1) for p in parts[1:])
        self.kv = kv
        self.fn = kv["fn"]
        self.size = int(kv["size"])
        self.ptr = 0 if kv["ptr"] == "(nil)" else int(kv["ptr"], 16)
        self.ret = 0 if kv["ret"] == "(nil)" else int(kv["ret"], 16)


def read_log(path):
    try:
        with open(path) as f:
            return [LogStep(l) for l in f.read().splitlines() if l.strip()]
    except OSError as e:
        raise Fail("scenario log %s missing: %s" % (path, e))


class Run:
    """One traced scenario: the trace, the program's own log, the target pid."""

    def __init__(self, trace, log, pid, rc, err):
        self.trace, self.log, self.pid, self.rc, self.err = trace, log, pid, rc, err
        self.steps = match_steps(trace, log, pid)

    def step(self, name):
        return self.steps[name]


def target_pid(trace):
    """The traced program's pid: the pid of its call/os records (launch mode
    traces one process)."""
    pids = {r.get("pid") for r in trace.calls + trace.os}
    check(len(pids) == 1, "want records of exactly one pid, got %r" % sorted(pids, key=str))
    return pids.pop()


# glibc 2.36 exports aligned_alloc and memalign at one address: a probe
# cannot tell them apart, so either name is right for either call.
SAME_FN = {"aligned_alloc": {"aligned_alloc", "memalign"}, "memalign": {"aligned_alloc", "memalign"}}


def match_steps(trace, log, pid):
    """Pair each allocator call the program logged with allocmap's call
    record: same function and same pointer(s), first unused record in id
    order. Returns {step name: call record}."""
    calls = sorted((c for c in trace.calls if c.get("pid") == pid and not c.get("nested")),
                   key=lambda c: c["id"])
    used = set()
    out = {}
    for s in log:
        if s.fn in ("mmap", "munmap"):
            continue
        fns = SAME_FN.get(s.fn, {s.fn})
        for c in calls:
            if c["id"] in used or c.get("fn") not in fns:
                continue
            if s.fn == "free":
                if h(c.get("ptr")) == s.ptr:
                    break
            elif h(c.get("ret")) == s.ret and (s.fn not in ("realloc", "reallocarray")
                                               or h(c.get("ptr")) == s.ptr):
                break
        else:
            raise Fail("no call record for step %s: %s(size %d) ptr=%#x ret=%#x (%d call records)"
                       % (s.name, s.fn, s.size, s.ptr, s.ret, len(calls)))
        used.add(c["id"])
        if s.fn != "free":
            eq(c.get("size"), s.size, "%s: size" % s.name)
        out[s.name] = c
    return out


def tool_trace(prog_args, opts=("-v",), env=None, want_rc=None, timeout=RUN_TIMEOUT):
    """allocmap trace --json OPTS -o F -- PROG_ARGS; returns (Trace, rc, stderr)."""
    tmp = tempfile.mkdtemp(prefix="allocmap-e2e-")
    out = os.path.join(tmp, "trace.jsonl")
    cmd = [TOOL, "trace", "--json"] + list(opts) + ["-o", out, "--"] + list(prog_args)
    try:
        rc, so, err = run(cmd, env=env, timeout=timeout)
        if want_rc is not None and rc != want_rc:
            raise Fail("%s exited %d (want %d); stderr: %s"
                       % (" ".join(cmd[:6]) + " ...", rc, want_rc, clip(err)))
        return Trace(out), rc, err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scenario(name, *args, env=None, opts=("-v",)):
    """Trace `scenarios -l LOG NAME ARGS` in launch mode; returns a Run."""
    tmp = tempfile.mkdtemp(prefix="allocmap-log-")
    log = os.path.join(tmp, "log")
    try:
        tr, rc, err = tool_trace([SCEN, "-l", log, name] + list(args), opts=opts, env=env)
        steps = read_log(log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Run(tr, steps, target_pid(tr), rc, err)


_cache = {}


def cached(name, *args):
    key = (name,) + args
    if key not in _cache:
        try:
            _cache[key] = scenario(name, *args)
        except Fail as e:
            _cache[key] = e
    if isinstance(_cache[key], Fail):
        raise Fail("%s run: %s" % (name, _cache[key]))
    return _cache[key]


# ----------------------------------------------------------------------------
# per-scenario assertions (shared by launch and attach mode)

def names(oss):
    return [o.get("syscall") for o in oss]


def brk_pair_first_malloc(r, step):
    """The first allocation: brk(NULL) then brk(+135168) (132 KiB = request +
    128 KiB M_TOP_PAD, page-rounded), both caused by it. Returns the break."""
    c = r.step(step)
    oss = r.trace.caused(c)
    eq(names(oss), ["brk", "brk"], "%s: syscalls it caused" % step)
    eq(h(oss[0].get("addr", "0x0")), 0, "%s: first brk is brk(NULL)" % step)
    start, end = h(oss[0].get("ret")), h(oss[1].get("ret"))
    eq(end - start, 135168, "%s: the heap grows by 132 KiB" % step)
    eq(h(oss[1].get("addr")), end, "%s: second brk's argument = its result" % step)
    check(start <= h(c.get("ret")) < end, "%s: ret %s not inside the new heap [%#x, %#x)"
          % (step, c.get("ret"), start, end))
    eq(c.get("region"), "heap", "%s: region" % step)
    return end


def no_os(r, step):
    c = r.step(step)
    eq(names(r.trace.caused(c)), [], "%s: syscalls it caused" % step)
    return c


def glibc_alloc(c, step, region, reason, threshold):
    eq(c.get("region"), region, "%s: region" % step)
    eq(c.get("reason"), reason, "%s: reason" % step)
    eq(c.get("threshold"), threshold, "%s: threshold" % step)


def one_mmap(r, step, length):
    """step's call caused exactly one mmap of `length`, holding its pointer
    16 bytes in (the chunk header); returns the mapping's address."""
    c = r.step(step)
    oss = r.trace.caused(c)
    eq(names(oss), ["mmap"], "%s: syscalls it caused" % step)
    m = oss[0]
    eq(m.get("len"), length, "%s: mmap len" % step)
    eq(h(m.get("ret")), h(c.get("ret")) - 16, "%s: mmap result = pointer - 16" % step)
    eq(flagset(m.get("prot")), flagset("PROT_READ|PROT_WRITE"), "%s: mmap prot" % step)
    eq(flagset(m.get("flags")), flagset("MAP_PRIVATE|MAP_ANONYMOUS"), "%s: mmap flags" % step)
    eq(m.get("region"), "mmap", "%s: mmap region" % step)
    eq(m["cause"].get("size"), c.get("size"), "%s: cause.size" % step)
    return h(m.get("ret"))


def one_munmap(r, step, addr, length):
    c = r.step(step)
    oss = r.trace.caused(c)
    eq(names(oss), ["munmap"], "%s: syscalls it caused" % step)
    eq(h(oss[0].get("addr")), addr, "%s: munmap addr" % step)
    eq(oss[0].get("len"), length, "%s: munmap len" % step)
    eq(oss[0].get("ret"), 0, "%s: munmap ret" % step)
    eq(oss[0]["cause"].get("fn"), "free", "%s: cause fn" % step)


def threshold_moves(r, want):
    """want: [(old, new, step of the free)] = every threshold record."""
    got = [(t.get("old"), t.get("new"), t.get("call_id"), t.get("chunk")) for t in r.trace.thresholds
           if t.get("pid") == r.pid]
    exp = [(o, n, r.step(s)["id"], n) for o, n, s in want]
    eq(got, exp, "threshold records (old, new, call_id, chunk)")


def assert_mmap_128k(r):
    """malloc(100): brk pair. malloc(131072): at the threshold but fits the
    ~132 KiB top chunk: heap, fit_top_chunk, no syscall. malloc(131072) again:
    no longer fits: mmap(135168), over_threshold. Its free: munmap(135168),
    and the threshold rises 131072 -> 135168."""
    brk_pair_first_malloc(r, "small1")
    glibc_alloc(r.step("small1"), "small1", "heap", "under_threshold", THRESH0)
    glibc_alloc(no_os(r, "fit128k"), "fit128k", "heap", "fit_top_chunk", THRESH0)
    glibc_alloc(r.step("mmap128k"), "mmap128k", "mmap", "over_threshold", THRESH0)
    base = one_mmap(r, "mmap128k", 135168)
    one_munmap(r, "free_mmap128k", base, 135168)
    eq(r.step("free_mmap128k").get("size"), 131072, "free_mmap128k: size of the freed allocation")
    no_os(r, "free_fit128k")
    no_os(r, "free_small1")
    threshold_moves(r, [(THRESH0, 135168, "free_mmap128k")])
    fns = r.trace.summary.get("functions", {})
    eq(fns.get("malloc", {}).get("calls"), 3, "summary malloc calls")
    eq(fns.get("free", {}).get("calls"), 3, "summary free calls")
    sc = r.trace.summary.get("syscalls", {})
    eq(sc.get("mmap", {}).get("by_cause", {}).get("malloc"), 1, "summary mmap by malloc")
    eq(sc.get("munmap", {}).get("by_cause", {}).get("free"), 1, "summary munmap by free")
    th = r.trace.summary.get("threshold") or {}
    eq((th.get("start"), th.get("end"), th.get("changes"), th.get("pinned")),
       (THRESH0, 135168, 1, False), "summary threshold (start, end, changes, pinned)")


# ----------------------------------------------------------------------------
# the tests

def t_launch_first_malloc():
    """Launch mode holds the program until the probes are attached, so even
    the first malloc of main is seen (glibc makes no malloc before main)."""
    r = cached("heap_small")
    first = min((c for c in r.trace.calls if c.get("pid") == r.pid), key=lambda c: c["id"])
    eq(first["id"], r.step("small1")["id"], "first call record is main's malloc(100)")
    brk_pair_first_malloc(r, "small1")


def t_heap_small():
    """malloc(100): brk(NULL) + brk(+135168). malloc(200), malloc(100000):
    carved from the top chunk. malloc(100000) again: under the threshold,
    doesn't fit: brk(+200704). free of it (top of heap, top > 128 KiB trim
    threshold): brk(-102400); free of the first 100000: brk(-98304)."""
    r = cached("heap_small")
    brk = brk_pair_first_malloc(r, "small1")
    glibc_alloc(r.step("small1"), "small1", "heap", "under_threshold", THRESH0)
    for s in ("small2", "fit100k"):
        glibc_alloc(no_os(r, s), s, "heap", "under_threshold", THRESH0)
    g = r.step("grow100k")
    glibc_alloc(g, "grow100k", "heap", "under_threshold", THRESH0)
    oss = r.trace.caused(g)
    eq(names(oss), ["brk"], "grow100k: syscalls it caused")
    eq(h(oss[0].get("ret")) - brk, 200704, "grow100k: heap growth")
    brk = h(oss[0].get("ret"))
    for s, delta in (("free_d", -102400), ("free_c", -98304)):
        oss = r.trace.caused(r.step(s))
        eq(names(oss), ["brk"], "%s: syscalls it caused (heap trim)" % s)
        eq(h(oss[0].get("ret")) - brk, delta, "%s: heap shrink" % s)
        eq(oss[0]["cause"].get("fn"), "free", "%s: cause fn" % s)
        brk = h(oss[0].get("ret"))
    eq(r.step("free_d").get("size"), 100000, "free_d: size of the freed allocation")
    no_os(r, "free_b")
    no_os(r, "free_a")
    eq(r.trace.thresholds, [], "no threshold moves")


def t_mmap_128k():
    assert_mmap_128k(cached("mmap_128k"))


def t_dyn_threshold():
    """malloc(1 MiB): mmap(1052672). Its free: munmap and threshold 131072 ->
    1052672. malloc(262144): now under the threshold: heap, one brk(+262144),
    no mmap. Its free: below the raised trim threshold (2 MiB): no syscall."""
    r = cached("dyn_threshold")
    brk = brk_pair_first_malloc(r, "small1")
    glibc_alloc(r.step("mmap1m"), "mmap1m", "mmap", "over_threshold", THRESH0)
    base = one_mmap(r, "mmap1m", 1052672)
    one_munmap(r, "free_mmap1m", base, 1052672)
    threshold_moves(r, [(THRESH0, 1052672, "free_mmap1m")])
    c = r.step("heap256k")
    glibc_alloc(c, "heap256k", "heap", "under_threshold", 1052672)
    oss = r.trace.caused(c)
    eq(names(oss), ["brk"], "heap256k: syscalls it caused (no mmap)")
    eq(h(oss[0].get("ret")) - brk, 262144, "heap256k: heap growth")
    no_os(r, "free_heap256k")


def t_realloc_mremap():
    """malloc(200000) as the first call: tcache set-up makes the heap
    (brk(NULL), brk(+135168)), then mmap(200704). realloc to 400000:
    mremap(base, 200704, 401408, MREMAP_MAYMOVE), no nested malloc.
    free: munmap(401408); threshold 131072 -> 401408."""
    r = cached("realloc_mremap")
    c = r.step("mmap200k")
    oss = r.trace.caused(c)
    eq(names(oss), ["brk", "brk", "mmap"], "mmap200k: syscalls it caused")
    eq(oss[2].get("len"), 200704, "mmap200k: mmap len")
    base = h(oss[2].get("ret"))
    eq(base, h(c.get("ret")) - 16, "mmap200k: mmap result = pointer - 16")
    glibc_alloc(c, "mmap200k", "mmap", "over_threshold", THRESH0)
    rc = r.step("mremap400k")
    oss = r.trace.caused(rc)
    eq(names(oss), ["mremap"], "mremap400k: syscalls it caused")
    m = oss[0]
    eq(h(m.get("addr")), base, "mremap old address")
    eq(m.get("len"), 200704, "mremap old len")
    eq(m.get("new_len"), 401408, "mremap new len")
    check("MREMAP_MAYMOVE" in flagset(m.get("flags")), "mremap flags %r lack MREMAP_MAYMOVE" % m.get("flags"))
    eq(h(m.get("ret")), h(rc.get("ret")) - 16, "mremap result = realloc's pointer - 16")
    eq(m["cause"].get("fn"), "realloc", "mremap cause fn")
    eq(rc.get("region"), "mmap", "mremap400k: region")
    nested = [x for x in r.trace.calls if x.get("nested")]
    eq(nested, [], "nested calls (glibc realloc of an mmapped chunk calls no malloc)")
    one_munmap(r, "free_mremap400k", h(m.get("ret")), 401408)
    threshold_moves(r, [(THRESH0, 401408, "free_mremap400k")])


def t_calloc():
    """calloc(10, 100): size 1000, nmemb 10, the heap's brk pair.
    calloc(50, 4000): 200000 B over the threshold: mmap(200704); free: munmap."""
    r = cached("calloc")
    brk_pair_first_malloc(r, "calloc_small")
    for s, nmemb, size in (("calloc_small", 10, 1000), ("calloc_mmap", 50, 200000)):
        c = r.step(s)
        eq(c.get("fn"), "calloc", "%s: fn" % s)
        eq(c.get("nmemb"), nmemb, "%s: nmemb" % s)
        eq(c.get("size"), size, "%s: size = nmemb x size" % s)
    glibc_alloc(r.step("calloc_small"), "calloc_small", "heap", "under_threshold", THRESH0)
    glibc_alloc(r.step("calloc_mmap"), "calloc_mmap", "mmap", "over_threshold", THRESH0)
    base = one_mmap(r, "calloc_mmap", 200704)
    one_munmap(r, "free_calloc_mmap", base, 200704)
    no_os(r, "free_calloc_small")
    eq(r.trace.summary.get("functions", {}).get("calloc", {}).get("calls"), 2, "summary calloc calls")


def t_thread_arena():
    """The thread's first malloc(100): mmap(134217728, PROT_NONE,
    MAP_NORESERVE), one or two munmaps totalling 64 MiB (alignment),
    mprotect(135168, RW): all caused by that malloc, region arena. The thread
    stack: mmap(8392704, MAP_STACK) + mprotect(8388608) by pthread_create in
    main: direct. At thread exit glibc madvise(MADV_DONTNEED)s the stack:
    direct, by the thread."""
    r = cached("thread_arena")
    brk_pair_first_malloc(r, "main_malloc")
    c = r.step("thread_malloc")
    check(c.get("tid") != r.pid, "thread_malloc: tid %r = pid: not the thread" % c.get("tid"))
    eq(c.get("region"), "arena", "thread_malloc: region")
    oss = r.trace.caused(c)
    n = names(oss)
    check(n[0] == "mmap" and n[-1] == "mprotect" and n[1:-1] in (["munmap"], ["munmap", "munmap"]),
          "thread_malloc: syscalls it caused %r, want mmap, munmap(s), mprotect" % n)
    m = oss[0]
    eq(m.get("len"), 134217728, "arena reservation len")
    eq(flagset(m.get("prot")), flagset("PROT_NONE"), "arena reservation prot")
    check("MAP_NORESERVE" in flagset(m.get("flags")), "arena mmap flags %r lack MAP_NORESERVE" % m.get("flags"))
    eq(m.get("region"), "arena", "arena mmap region")
    eq(sum(o.get("len") for o in oss[1:-1]), 67108864, "arena: munmapped bytes")
    mp = oss[-1]
    eq(mp.get("len"), 135168, "arena mprotect len")
    eq(flagset(mp.get("prot")), flagset("PROT_READ|PROT_WRITE"), "arena mprotect prot")
    eq(h(mp.get("addr")) % (64 << 20), 0, "arena heap is 64 MiB-aligned")
    for o in oss:
        eq(o.get("tid"), c.get("tid"), "arena syscalls made by the thread")
    direct = [o for o in r.trace.os_of_pid(r.pid) if (o.get("cause") or {}).get("kind") == "direct"]
    stacks = [o for o in direct if o.get("syscall") == "mmap" and "MAP_STACK" in flagset(o.get("flags"))]
    eq(len(stacks), 1, "direct MAP_STACK mmaps")
    s = stacks[0]
    eq(s.get("len"), 8392704, "thread stack mmap len")
    eq(s.get("tid"), r.pid, "thread stack mapped by main")
    eq(s.get("region"), "direct", "thread stack region")
    guard = [o for o in direct if o.get("syscall") == "mprotect"
             and h(o.get("addr")) == h(s.get("ret")) + PAGE]
    eq([o.get("len") for o in guard], [8388608], "thread stack mprotect (direct) lens")
    adv = [o for o in direct if o.get("syscall") == "madvise" and o.get("tid") == c.get("tid")]
    eq([o.get("advice") for o in adv], ["MADV_DONTNEED"], "thread-exit madvise of its stack (direct)")
    eq(h(adv[0].get("addr")), h(s.get("ret")), "thread-exit madvise addr = stack base")


def t_aligned():
    """posix_memalign(64,1000), aligned_alloc(4096,8192), valloc(5000),
    pvalloc(5000), reallocarray(NULL,10,100) then to 20x100: heap, no
    syscall. memalign(256,300000): mmap(303104), over_threshold; its free:
    munmap(303104). Each call exactly one (outermost) record, with its
    align / nmemb / rc; glibc's reallocarray -> realloc -> malloc inside are
    nested."""
    r = cached("aligned")
    brk_pair_first_malloc(r, "small")
    for st in r.log:
        if st.fn == "free" or st.name == "small":
            continue
        c = r.step(st.name)
        if "align" in st.kv:
            eq(c.get("align"), int(st.kv["align"]), "%s: align" % st.name)
        if "nmemb" in st.kv:
            eq(c.get("nmemb"), int(st.kv["nmemb"]), "%s: nmemb" % st.name)
        if "rc" in st.kv:
            eq(c.get("rc"), int(st.kv["rc"]), "%s: rc" % st.name)
        if st.name == "memalign":
            glibc_alloc(c, st.name, "mmap", "over_threshold", THRESH0)
            oss = r.trace.caused(c)
            eq([(o.get("syscall"), o.get("len")) for o in oss], [("mmap", 303104)], "memalign: syscalls")
            eq(h(oss[0].get("ret")), h(c.get("ret")) - 256, "memalign: pointer = mapping + 256")
        else:
            eq(names(r.trace.caused(c)), [], "%s: syscalls it caused" % st.name)
            eq(c.get("region"), "heap", "%s: region" % st.name)
    eq(h(r.step("reallocarray").get("ptr")), 0, "reallocarray: ptr")
    oss = r.trace.caused(r.step("free_memalign"))
    eq([(o.get("syscall"), o.get("len")) for o in oss], [("munmap", 303104)], "free_memalign: syscalls")
    top = [c for c in r.trace.calls if c.get("pid") == r.pid and not c.get("nested")]
    eq(len(top), len(r.steps), "outermost call records (one per call the program made)")
    nested = [c for c in r.trace.calls if c.get("nested")]
    check(all(c.get("fn") in ("realloc", "malloc", "free") for c in nested),
          "unexpected nested calls: %r" % [c.get("fn") for c in nested])
    eq(r.trace.summary.get("functions", {}).get("reallocarray", {}).get("calls"), 2,
       "summary reallocarray calls")


def t_direct_mmap():
    """The program's own mmap(65536)/munmap: cause direct, region direct."""
    r = cached("direct_mmap")
    want = [s for s in r.log if s.fn == "mmap"][0].ret
    ms = [o for o in r.trace.os if o.get("syscall") == "mmap" and h(o.get("ret")) == want]
    eq(len(ms), 1, "mmap records returning %#x" % want)
    m = ms[0]
    eq(m.get("cause"), {"kind": "direct"}, "direct mmap cause")
    eq(m.get("len"), 65536, "direct mmap len")
    eq(m.get("region"), "direct", "direct mmap region")
    eq(m.get("fd"), -1, "direct mmap fd")
    us = [o for o in r.trace.os if o.get("syscall") == "munmap" and h(o.get("addr")) == want]
    eq([(o.get("len"), o.get("cause")) for o in us], [(65536, {"kind": "direct"})], "its munmap")
    check(m["id"] < us[0]["id"], "mmap id before munmap id")
    eq([c for c in r.trace.calls if c.get("pid") == r.pid and c.get("fn") != "free"], [],
       "no allocator calls (the scenario makes none)")


def t_free_end_inferred():
    """free has a return probe by default; with --free-noret its end is
    inferred from the thread's stack. After free(big) made its munmap, a
    direct mmap/munmap one call deeper, and another right after a free at the
    same level, must be direct either way (only the default gives free a
    dur_ns)."""
    check_free_end(((("-v",), ("-v", "--free-noret"))))


def t_free_end_inferred_beside():
    """The same while another allocmap traces another process with free's
    return probed: its uretprobe (a uprobe_multi consumer filtered by pid)
    still puts the kernel's trampoline in free's return-address slot in our
    target, which the inference must take for free still running."""
    other = subprocess.Popen([TOOL, "trace", "-q", "--", "sleep", "30"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        for line in other.stderr:
            if b"tracing" in line:
                break
        else:
            check(False, "the other tracer did not start")
        check_free_end(((("-v", "--free-noret"),)))
    finally:
        other.terminate()
        other.wait()


def check_free_end(runs):
    for opts in runs:
        r = scenario("free_then_direct", opts=opts)
        calls = [c for c in r.trace.calls if c.get("pid") == r.pid]
        big = [c for c in calls if c.get("fn") == "malloc" and c.get("size") == 300000]
        eq(len(big), 1, "malloc(300000) records %s" % (opts,))
        frees = [c for c in calls if c.get("fn") == "free" and c["id"] > big[0]["id"]]
        eq([f.get("size") for f in frees], [300000, 100], "frees after it %s" % (opts,))
        munmaps = [o for o in r.trace.os if o.get("id") in frees[0]["os"]]
        eq([(o["syscall"], o["len"], o["cause"].get("call_id")) for o in munmaps],
           [("munmap", 303104, frees[0]["id"])], "free(big)'s OS requests %s" % (opts,))
        eq(frees[1]["os"], [], "free(small) made no OS request %s" % (opts,))
        later = [o for o in r.trace.os if o.get("pid") == r.pid and o["id"] > munmaps[0]["id"]]
        eq([(o["syscall"], o["len"], o["cause"]) for o in later],
           [("mmap", 40960, {"kind": "direct"}), ("munmap", 40960, {"kind": "direct"}),
            ("mmap", 20480, {"kind": "direct"}), ("munmap", 20480, {"kind": "direct"})],
           "direct mappings after the frees %s" % (opts,))
        with_dur = [f for f in frees if "dur_ns" in f]
        eq(len(with_dur), 0 if "--free-noret" in opts else 2, "frees with dur_ns %s" % (opts,))
        eq(r.trace.summary["counters"]["missed_returns"], 0, "missed returns %s" % (opts,))


def t_attach():
    """-p PID: attach to a running process held in wait_then, wait for the
    "tracing" line on allocmap's stderr, then SIGUSR1 it: the mmap_128k
    sequence must be seen exactly as in launch mode, and allocmap must stop
    by itself when the target exits."""
    tmp = tempfile.mkdtemp(prefix="allocmap-attach-")
    log, out = os.path.join(tmp, "log"), os.path.join(tmp, "trace.jsonl")
    prog = subprocess.Popen([SCEN, "-l", log, "wait_then", "mmap_128k"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tool = None
    try:
        line = prog.stderr.readline().decode()
        m = re.match(r"pid=(\d+)", line)
        check(m, "scenario did not print its pid: %r" % line)
        pid = int(m.group(1))
        eq(pid, prog.pid, "printed pid")
        tool = subprocess.Popen([TOOL, "trace", "--json", "-v", "-o", out, "-p", str(pid)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=ROOT)
        errlines = []
        found = threading.Event()

        def reader():
            for l in iter(tool.stderr.readline, b""):
                errlines.append(l.decode(errors="replace"))
                if "tracing" in errlines[-1]:
                    found.set()
            found.set()
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        found.wait(30)
        check(tool.poll() is None and any("tracing" in l for l in errlines),
              "allocmap never said it was tracing (rc %r); stderr: %s"
              % (tool.poll(), clip("".join(errlines))))
        os.kill(pid, signal.SIGUSR1)
        eq(prog.wait(timeout=30), 0, "target exit status")
        try:
            rc = tool.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tool.send_signal(signal.SIGINT)
            tool.wait(timeout=10)
            raise Fail("allocmap did not stop when the attached target exited")
        th.join(5)
        eq(rc, 0, "allocmap exit status (stderr: %s)" % clip("".join(errlines)))
        tr = Trace(out)
        r = Run(tr, read_log(log), pid, rc, "".join(errlines))
        assert_mmap_128k(r)
    finally:
        for p in (prog, tool):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def t_jemalloc():
    """LD_PRELOAD=libjemalloc.so.2: the calls are seen with their pointers;
    jemalloc maps with mmap (its brk use is at most a brk(NULL) probe);
    malloc(64 MiB) maps a new extent itself (mmap caused by that malloc);
    the glibc threshold does not apply (summary threshold null)."""
    if not os.path.exists(JEMALLOC):
        raise Skip("%s not installed (libjemalloc2)" % JEMALLOC)
    env = dict(os.environ, LD_PRELOAD=JEMALLOC)
    r = scenario("big_alloc", env=env)
    c = r.step("big64m")
    oss = r.trace.caused(c)
    check("mmap" in names(oss), "big64m: syscalls it caused %r include no mmap" % names(oss))
    ret = h(c.get("ret"))
    check(any(h(o.get("ret")) <= ret and ret + (64 << 20) <= h(o.get("ret")) + o.get("len")
              for o in oss if o.get("syscall") == "mmap"),
          "big64m: pointer %#x not inside a mapping it made" % ret)
    check(c.get("region") in ("arena", "mmap"), "big64m: region %r, want arena (or mmap)" % c.get("region"))
    eq(c.get("reason"), None, "big64m: glibc reason on a jemalloc call")
    r.step("free_big64m")
    by_call = [o for o in r.trace.os if (o.get("cause") or {}).get("kind") == "call"]
    check(any(o.get("syscall") == "mmap" for o in by_call), "no mmap caused by any jemalloc call")
    grow = [o for o in by_call if o.get("syscall") == "brk" and h(o.get("addr", "0x0"))]
    eq(grow, [], "brk calls that move the break, caused by jemalloc calls")
    eq(r.trace.summary.get("threshold", "absent"), None, "summary threshold (not glibc)")
    eq(r.trace.thresholds, [], "threshold records")


STRACE_SYSCALLS = ("brk", "mmap", "munmap", "mremap", "mprotect", "madvise")
STRACE_LINE = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\w+)(?:\s+(E\w+))?")


def strace_records(prefix_dir, attached=False):
    """Memory syscalls of the exec'd program from `strace -ff -o DIR/s`
    (attached: of the process `strace -p` attached to, which execs nothing)."""
    files = sorted(os.listdir(prefix_dir), key=lambda f: int(f.rsplit(".", 1)[1]))
    recs = []
    for i, f in enumerate(files):
        started = attached or i > 0  # later files are threads of the exec'd program
        for line in open(os.path.join(prefix_dir, f)):
            m = STRACE_LINE.match(line)
            if not m:
                continue
            name, args, ret, err = m.groups()
            if name == "execve":
                started = ret == "0"
                continue
            if not started or name not in STRACE_SYSCALLS:
                continue
            a = [x.strip() for x in args.split(",")]
            num = lambda s: 0 if s == "NULL" else int(s, 0)
            res = err if err else num(ret)
            if name == "brk":
                key = ("brk", num(a[0]), res)
                full = key
            elif name == "mmap":
                key = ("mmap", num(a[0]), int(a[1]), res)
                full = key + (flagset(a[2]), flagset(a[3]), int(a[4]), int(a[5], 0))
            elif name == "munmap":
                key = full = ("munmap", num(a[0]), int(a[1]), res)
            elif name == "mprotect":
                key = ("mprotect", num(a[0]), int(a[1]), res)
                full = key + (flagset(a[2]),)
            elif name == "madvise":
                key = ("madvise", num(a[0]), int(a[1]), res)
                full = key + (a[2],)
            else:  # mremap(old, old_len, new_len, flags[, new_addr])
                key = ("mremap", num(a[0]), int(a[1]), int(a[2]), res)
                full = key + (flagset(a[3]),)
            recs.append((key, full))
    return recs


def tool_records(trace, pid):
    recs = []
    execs = [t for t in trace.tasks if t.get("kind") == "exec" and t.get("pid") == pid]
    after = execs[-1].get("ts_ns", 0) if execs else -1
    for o in trace.os_of_pid(pid):
        if o.get("ts_ns", 0) < after:
            continue
        name = o.get("syscall")
        res = o.get("error") or (h(o.get("ret")) if name in ("brk", "mmap", "mremap") else o.get("ret"))
        addr = h(o.get("addr", "0x0")) or 0
        if name == "brk":
            key = full = ("brk", addr, res)
        elif name == "mmap":
            key = ("mmap", addr, o.get("len"), res)
            full = key + (flagset(o.get("prot")), flagset(o.get("flags")), o.get("fd"), o.get("offset"))
        elif name == "munmap":
            key = full = ("munmap", addr, o.get("len"), res)
        elif name == "mprotect":
            key = ("mprotect", addr, o.get("len"), res)
            full = key + (flagset(o.get("prot")),)
        elif name == "madvise":
            key = ("madvise", addr, o.get("len"), res)
            full = key + (o.get("advice"),)
        elif name == "mremap":
            key = ("mremap", addr, o.get("len"), o.get("new_len"), res)
            full = key + (flagset(o.get("flags")),)
        else:
            key = full = (name,)
        recs.append((key, full))
    return recs


def multiset_diff(a, b):
    """(items only in a, items only in b), counting repeats."""
    from collections import Counter
    ca, cb = Counter(a), Counter(b)
    return list((ca - cb).elements()), list((cb - ca).elements())


_strace_cache = {}


def strace_and_trace(prog, tool_rc=None):
    """Two runs of prog under setarch -R (same layout): one under strace,
    one under allocmap; returns (strace records, allocmap records of the
    traced process). tool_rc: the exit status allocmap must have, or None."""
    if not shutil.which("strace") or not shutil.which("setarch"):
        raise Skip("strace or setarch missing")
    tmp = tempfile.mkdtemp(prefix="allocmap-strace-")
    try:
        d = os.path.join(tmp, "st")
        os.mkdir(d)
        rc, so, err = run(["setarch", "-R", "strace", "-ff", "-e", "trace=memory,execve",
                           "-o", os.path.join(d, "s"), prog])
        eq(rc, 0, "strace run exit status (%s)" % clip(err))
        srecs = strace_records(d)
        out = os.path.join(tmp, "trace.jsonl")
        rc, so, err = run(["setarch", "-R", TOOL, "trace", "--json", "-o", out, "--", prog])
        if tool_rc is not None:
            eq(rc, tool_rc, "allocmap exit status (%s)" % clip(err))
        tr = Trace(out)
        return srecs, tool_records(tr, target_pid(tr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def strace_vs_tool():
    """Both runs of .output/progs/example (every memory syscall kind);
    returns (strace records, allocmap records). The exit status is
    launch_exit_status's business."""
    if "r" not in _strace_cache:
        _strace_cache["r"] = strace_and_trace(EXAMPLE)
    return _strace_cache["r"]


def fmt_recs(rs, n=6):
    s = "; ".join(repr(tuple(sorted(x) if isinstance(x, frozenset) else
                             (hex(x) if isinstance(x, int) and x > 65536 else x) for x in r))
                  for r in rs[:n])
    return s + (" ... (%d in all)" % len(rs) if len(rs) > n else "")


def t_strace_same_syscalls():
    """Every memory syscall strace sees (name, address, length, result), no
    more, no fewer. See the module comment for why two runs under setarch -R."""
    srecs, trecs = strace_vs_tool()
    check(len(srecs) > 20, "strace saw only %d memory syscalls: parsing broken?" % len(srecs))
    only_s, only_t = multiset_diff([k for k, _ in srecs], [k for k, _ in trecs])
    check(not only_s and not only_t,
          "strace %d vs allocmap %d; missing from allocmap: %s; extra in allocmap: %s"
          % (len(srecs), len(trecs), fmt_recs(only_s) or "none", fmt_recs(only_t) or "none"))


def t_strace_same_flags():
    """The same, comparing also prot, flags, fd, offset and advice."""
    srecs, trecs = strace_vs_tool()
    only_s, only_t = multiset_diff([f for _, f in srecs], [f for _, f in trecs])
    check(not only_s and not only_t,
          "strace says: %s; allocmap says: %s" % (fmt_recs(only_s, 3) or "-", fmt_recs(only_t, 3) or "-"))


def t_readme_example():
    """The README's example: three threshold moves (200704, 802816, 1052672),
    the realloc's mremap, the 256 KiB malloc from the heap; text mode works."""
    tr, rc, err = tool_trace([EXAMPLE], opts=("-v",))
    pid = target_pid(tr)
    eq([(t.get("old"), t.get("new")) for t in tr.thresholds],
       [(THRESH0, 200704), (200704, 802816), (802816, 1052672)], "threshold moves")
    mr = [o for o in tr.os if o.get("syscall") == "mremap"]
    eq([(o["cause"].get("fn"), o.get("len"), o.get("new_len")) for o in mr],
       [("realloc", 401408, 802816)], "mremap records (cause, len, new_len)")
    q = [c for c in tr.calls if c.get("fn") == "malloc" and c.get("size") == 262144]
    eq([(c.get("region"), c.get("reason")) for c in q], [("heap", "under_threshold")], "malloc(262144)")
    eq(names(tr.caused(q[0])), ["brk"], "malloc(262144): syscalls it caused")
    rc, so, err = run([TOOL, "trace", "--", EXAMPLE])
    eq(rc, 0, "text mode exit status (stderr: %s)" % clip(err))
    # a launched command's trace goes to stderr (as strace's): stdout is the
    # program's own, and the example prints nothing
    eq(so, "", "text mode: the program's stdout")
    check("mremap" in err and "realloc" in err, "text mode does not mention the realloc's mremap")


def churn_calls(n):
    # a million traps: ~10 s here, several times that on a loaded machine
    tr, rc, err = tool_trace([SCEN, "churn", str(n)], opts=("-q",), timeout=300)
    s = tr.summary
    cnt = s.get("counters") or {}
    for k in ("lost_events", "lost_call", "lost_os", "lost_task", "missed_returns",
              "depth_overflow", "thread_full", "orphan_returns"):
        eq(cnt.get(k), 0, "churn %d: counters.%s" % (n, k))
    fns = s.get("functions") or {}
    return sum(v.get("calls", 0) for v in fns.values()), fns


def t_no_lost_events():
    """churn 500000 = 1 000 000 calls: none lost, none missed. The known
    extra (calls the program makes besides the loop) is measured by churn 0."""
    base, bfns = churn_calls(0)
    total, fns = churn_calls(500000)
    eq(total, 1000000 + base, "calls traced (1000000 + %d made outside the loop)" % base)
    for fn in ("malloc", "free"):
        eq(fns.get(fn, {}).get("calls", 0) - bfns.get(fn, {}).get("calls", 0), 500000,
           "%s calls in the loop" % fn)


def t_launch_exit_status():
    """allocmap exits with the launched command's status, every time (the
    scenario tests ignore it, so that they report on the trace itself)."""
    got = []
    for args, want in ((["exit_soon", "0"], 0), (["heap_small"], 0), (["no_such_scenario"], 2)) * 2:
        tr, rc, err = tool_trace([SCEN] + args, opts=("-q",))
        got.append((args[0], rc, want))
    bad = [g for g in got if g[1] != g[2]]
    check(not bad, "%d of %d runs exited wrong (scenario, got, want): %s" % (len(bad), len(got), bad))


def bad_input(cmd, want_text=None, env_cmd=None):
    rc, so, err = run(env_cmd or cmd)
    lines = stderr_lines(err)
    check(rc != 0, "exit status 0; stderr: %s" % clip(err))
    check(len(lines) == 1, "want one line on stderr, got %d: %s" % (len(lines), clip(err)))
    if want_text:
        check(any(w in lines[0].lower() for w in want_text),
              "message %r does not say %s" % (lines[0], " or ".join(want_text)))
    return lines[0]


def t_no_such_pid():
    # a free pid the kernel could give (above pid_max -p is a usage error)
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    line = bad_input([TOOL, "trace", "-p", str(pid)], ["no such process"])
    check(str(pid) in line, "message %r does not name pid %d" % (line, pid))


def t_pid_exits_during_attach():
    """The target is gone by the time allocmap looks at it: exited and reaped
    3 ms after it started (allocmap finds no process), or exited and not yet
    reaped (a zombie: it has no memory left to probe). Attach takes a few
    hundred ms, so an exit *after* it is a normal end of trace, not this case.
    Either way here: one line on stderr, non-zero exit, no trace."""
    prog = subprocess.Popen([SCEN, "exit_soon", "3"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reaper = threading.Thread(target=prog.wait, daemon=True)
    reaper.start()
    try:
        try:
            bad_input([TOOL, "trace", "-p", str(prog.pid)])
        except Fail as e:
            raise Fail("target exiting after 3 ms: %s" % e)
    finally:
        reaper.join(10)
    zombie = subprocess.Popen([SCEN, "exit_soon", "0"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while time.time() < deadline:
            with open("/proc/%d/stat" % zombie.pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        else:
            raise Fail("test program did not exit")
        try:
            bad_input([TOOL, "trace", "-p", str(zombie.pid)])
        except Fail as e:
            raise Fail("zombie target: %s" % e)
    finally:
        zombie.wait()


def t_static_nosym():
    """A static binary without symbols has no malloc to probe: its memory
    syscalls are still traced, with one clear note, and their causes are
    unknown (never "direct": its malloc may have made them)."""
    tmp = tempfile.mkdtemp(prefix="allocmap-nosym-")
    out = os.path.join(tmp, "t.jsonl")
    try:
        p = subprocess.run([TOOL, "trace", "--json", "-o", out, "--", STATIC_NOSYM],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace")
        eq(p.returncode, 0, "exit status (stderr: %s)" % clip(err))
        check("no allocator symbols" in err and "memory syscalls only" in err,
              "the note on stderr: %s" % clip(err))
        tr = Trace(out)
        check(len(tr.os) > 0, "memory syscalls traced")
        eq(sorted({json.dumps(o.get("cause"), sort_keys=True) for o in tr.os}),
           ['{"kind": "unknown", "why": "no_allocator"}'], "every cause unknown")
        eq(tr.calls, [], "no allocator calls")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_not_root():
    if not shutil.which("setpriv"):
        raise Skip("setpriv missing (util-linux)")
    tmp = tempfile.mkdtemp(prefix="allocmap-nobody-")
    try:
        os.chmod(tmp, 0o755)
        exe = os.path.join(tmp, "allocmap")
        shutil.copy(TOOL, exe)
        os.chmod(exe, 0o755)
        bad_input(None, ["root", "permission", "privilege", "cap_"],
                  env_cmd=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           exe, "trace", "--", "/bin/true"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


TESTS = [
    ("launch_first_malloc", t_launch_first_malloc),
    ("heap_small", t_heap_small),
    ("mmap_128k", t_mmap_128k),
    ("dyn_threshold", t_dyn_threshold),
    ("realloc_mremap", t_realloc_mremap),
    ("calloc", t_calloc),
    ("thread_arena", t_thread_arena),
    ("aligned", t_aligned),
    ("direct_mmap", t_direct_mmap),
    ("free_end_inferred", t_free_end_inferred),
    ("free_end_inferred_beside", t_free_end_inferred_beside),
    ("attach", t_attach),
    ("jemalloc", t_jemalloc),
    ("strace_same_syscalls", t_strace_same_syscalls),
    ("strace_same_flags", t_strace_same_flags),
    ("readme_example", t_readme_example),
    ("no_lost_events", t_no_lost_events),
    ("launch_exit_status", t_launch_exit_status),
    ("no_such_pid", t_no_such_pid),
    ("pid_exits_during_attach", t_pid_exits_during_attach),
    ("static_nosym", t_static_nosym),
    ("not_root", t_not_root),
]


def environment_problem():
    """Why BPF tracing cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root (BPF needs CAP_BPF and CAP_PERFMON)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "no BTF at /sys/kernel/btf/vmlinux"
    return None


def main(argv):
    problem = environment_problem()
    if problem:
        print("e2e: SKIPPING every test: %s%s" % (problem, " (CI=true: skips fail)" if CI else ""),
              file=sys.stderr)
    missing = [p for p in (TOOL, SCEN, EXAMPLE, STATIC_NOSYM) if not os.path.exists(p)]

    def before(name):
        if problem:
            raise Skip(problem)
        if missing:
            raise Fail("not built: %s (run make)" % ", ".join(os.path.relpath(p, ROOT) for p in missing))

    return run_tests("e2e", TESTS, argv[1:], before)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
