#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_musl.py - end-to-end tests of tracing programs linked with musl (issue 14):
.output/progs/musl_dyn (dynamically linked: the libc is the dynamic linker
/lib/ld-musl-x86_64.so.1) and .output/progs/musl_static, both built by the
Makefile with musl-gcc from tests/progs/musl_calls.c, and the same dynamic
program in a container-like target: a minimal root filesystem (the program
and its ld-musl, nothing else) started in its own mount namespace with
`unshare -m` + `chroot`, traced with -p from the host.

Checked: every allocator call the program made, with the pointer it got,
its exact size, the OS requests it caused and the region and reason
allocmap gives it (musl's mallocng: a fixed 131052-byte threshold, groups
of size classes, single-slot groups mapped for one request); "allocator:
musl" in the JSON summary and the text output; no unattached probes for
the functions a binary does not contain; and every memory syscall strace
sees, no more, no fewer (two runs under setarch -R, compared as multisets
with e2e.py's helpers: see e2e.py's module comment and ADDRESS_FIELDS
below), and again on one process that strace -p and allocmap -p both
attach to.

Run as root from the repository root after `make`. Python 3 standard library
only. Prints "ok NAME" / "FAIL NAME: why" / "SKIP NAME: why" per test and
ends with exactly "musl: N passed, N failed"; with CI=true a skip (no
musl-gcc, no root) counts as a failure."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

from harness import Fail, PROGS, ROOT, Skip, check, eq, run_tests
from e2e import (TOOL, Trace, clip, environment_problem, fmt_recs, h, multiset_diff, run,
                 strace_and_trace, strace_records, target_pid, tool_records)

DYN = os.path.join(PROGS, "musl_dyn")
STATIC = os.path.join(PROGS, "musl_static")
LDSO = "/lib/ld-musl-x86_64.so.1"
THRESHOLD = 131052   # mallocng's MMAP_THRESHOLD (src/malloc/mallocng/meta.h)


def program_log(stdout):
    """The program's "NAME 0xPTR" lines as {name: pointer}."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and (parts[1].startswith("0x") or parts[1] == "0"):
            out[parts[0]] = int(parts[1], 16)
    check("done" in out, "the program did not finish: %s" % clip(stdout))
    return out


def traced(prog, tmp, name):
    """allocmap trace --json -v -- PROG: (Trace, program log, stderr)."""
    out = os.path.join(tmp, name + ".jsonl")
    rc, so, err = run([TOOL, "trace", "--json", "-v", "-o", out, "--", prog])
    eq(rc, 0, "allocmap exit status (stderr: %s)" % clip(err))
    return Trace(out), program_log(so), err


# step name -> (fn, size, extra fields, OS requests it causes as
# (syscall, len or (len, new_len)), region, reason); None = not checked
# here (depends on how the binary is linked: see check_steps)
STEPS = [
    ("malloc_300000", "malloc", 300000, {}, [("mmap", 300020)], "mmap", "over_threshold"),
    ("calloc_1000_200", "calloc", 200000, {"nmemb": 1000}, [("mmap", 200020)], "mmap", "over_threshold"),
    # both sizes over the threshold: mremap of its own mapping (no reason:
    # the threshold was not consulted)
    ("realloc_400000", "realloc", 400000, {}, [("mremap", (303104, 401408))], "mmap", None),
    # mallocng maps page_up(20000 + 20) for this request alone
    ("malloc_20000", "malloc", 20000, {}, [("mmap", 20480)], "mmap", "size_class_group"),
    # 5000 + 4096 - 16 bytes: a group of 3 slots of 9344 bytes
    ("aligned_alloc_4096_5000", "aligned_alloc", 5000, {"align": 4096}, [("mmap", 28672)], "arena",
     "size_class_group"),
    ("posix_memalign_64_1000", "posix_memalign", 1000, {"align": 64}, [("mmap", 4096)], "arena",
     "size_class_group"),
    ("valloc_100", "valloc", 100, {}, [("mmap", 16384)], "arena", "size_class_group"),
    ("reallocarray_10_30", "reallocarray", 300, {"nmemb": 10}, [], None, "size_class_group"),
    ("memalign_32_50", "memalign", 50, {"align": 32}, [], None, "size_class_group"),
]

# the nested calls musl's tail jumps and PLT calls make, under each outer call
NESTED = {
    "calloc_1000_200": ["malloc"],
    "valloc_100": ["memalign", "aligned_alloc"],
    "memalign_32_50": ["aligned_alloc"],
    "posix_memalign_64_1000": ["aligned_alloc"],
    "reallocarray_10_30": ["realloc"],
}

FREES = [("free_20000", [("munmap", 20480)], "mmap"),
         ("free_400000", [("munmap", 401408)], "mmap"),
         ("free_calloc", [("munmap", 200704)], "mmap")]


def os_shape(oss):
    out = []
    for o in oss:
        if o["syscall"] == "mremap":
            out.append(("mremap", (o["len"], o["new_len"])))
        else:
            out.append((o["syscall"], o.get("len")))
    return out


def check_steps(tr, log, pid, static):
    """Every step of musl_calls.c against the trace of process pid."""
    calls = sorted((c for c in tr.calls if c.get("pid") == pid), key=lambda c: c["id"])
    outer = [c for c in calls if not c.get("nested")]

    def find(fn, key, ptr):
        got = [c for c in outer if c["fn"] == fn and h(c.get(key)) == ptr]
        eq(len(got), 1, "%s call records with %s=%#x" % (fn, key, ptr))
        return got[0]

    for name, fn, size, extra, want_os, region, reason in STEPS:
        c = find(fn, "ret", log[name])
        eq(c.get("size"), size, "%s: size" % name)
        for k, v in extra.items():
            eq(c.get(k), v, "%s: %s" % (name, k))
        eq(os_shape(tr.caused(c)), want_os, "%s: the OS requests it caused" % name)
        if region:
            eq(c.get("region"), region, "%s: region" % name)
        eq(c.get("reason"), reason, "%s: reason" % name)
        eq(c.get("threshold"), THRESHOLD, "%s: threshold" % name)
        # ids are taken at entry: nested calls follow their outer call's id
        nxt = min([x["id"] for x in outer if x["id"] > c["id"]] or [1 << 62])
        inner = [d["fn"] for d in calls if d.get("nested") and c["id"] < d["id"] < nxt]
        eq(sorted(inner), sorted(NESTED.get(name, [])), "%s: nested calls inside it" % name)
    c = find("realloc", "ret", log["realloc_400000"])
    eq(h(c.get("ptr")), log["malloc_300000"], "realloc's input pointer")
    for name, want_os, region in FREES:
        c = find("free", "ptr", log[name])
        eq(os_shape(tr.caused(c)), want_os, "%s: the OS requests it caused" % name)
        eq(c.get("region"), region, "%s: region of the freed allocation" % name)
    # malloc(100): a slot of a small size class. A static program has no
    # memory from ld.so: the first call sets up the meta area with brk, a
    # guard page (part of the brk heap), and maps a group holding a nested
    # group of 112-byte slots. A dynamic one got memory ld.so donated (the
    # ends of its data pages, in no region allocmap tracks): no syscall.
    c = find("malloc", "ret", log["malloc_100"])
    eq(c.get("reason"), "size_class_group", "malloc_100: reason")
    oss = tr.caused(c)
    if static:
        eq([o["syscall"] for o in oss], ["brk", "brk", "mmap", "mmap"], "malloc_100: OS requests")
        eq(h(oss[0]["addr"]), 0, "malloc_100: brk(NULL) first")
        eq(h(oss[1]["addr"]), h(oss[0]["ret"]) + 8192, "malloc_100: brk grows by 2 pages")
        eq((oss[2].get("prot"), oss[2].get("region"), h(oss[2]["ret"])), ("PROT_NONE", "heap", h(oss[0]["ret"])),
           "malloc_100: guard page at the old break, in the heap")
        eq((oss[3]["len"], oss[3].get("region")), (4096, "arena"), "malloc_100: the group's mapping")
        eq(c.get("region"), "arena", "malloc_100: region")
    else:
        eq(oss, [], "malloc_100: OS requests (donated memory)")
        eq(c.get("region"), "unknown", "malloc_100: region (memory ld.so donated)")
    s = tr.summary
    eq(s.get("allocator"), "musl", "summary allocator")
    eq(s.get("threshold"), {"start": THRESHOLD, "end": THRESHOLD, "changes": 0, "pinned": False,
                            "source": "musl", "fixed": True}, "summary threshold")
    eq(tr.thresholds, [], "threshold records (musl's never moves)")
    cnt = s["counters"]
    for k in ("unattached_probes", "lost_events", "missed_returns", "orphan_returns", "orphan_os",
              "unknown_frees", "depth_overflow"):
        eq(cnt.get(k), 0, "counter %s" % k)


def t_dynamic():
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-")
    try:
        tr, log, err = traced(DYN, tmp, "dyn")
        check("musl allocator %s" % LDSO in err, "allocmap does not name musl's ld.so as the allocator: %s"
              % clip(err))
        check("pvalloc        absent" in err, "pvalloc not reported absent: %s" % clip(err))
        check_steps(tr, log, target_pid(tr), static=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_static():
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-")
    try:
        tr, log, err = traced(STATIC, tmp, "static")
        check("musl allocator %s" % STATIC in err, "allocmap does not name the executable: %s" % clip(err))
        check("pvalloc        absent" in err, "pvalloc not reported absent: %s" % clip(err))
        check_steps(tr, log, target_pid(tr), static=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_nofree():
    """A static program that never frees gets musl's bump allocator, not
    mallocng: allocations from the brk heap, no group or threshold story."""
    prog = os.path.join(PROGS, "musl_nofree_static")
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-")
    try:
        tr, log, err = traced(prog, tmp, "nofree")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    calls = {c["size"]: c for c in tr.calls}
    for name, size, want in (("malloc_100", 100, ["brk", "brk"]), ("malloc_300000", 300000, ["brk"])):
        c = calls.get(size)
        check(c and h(c.get("ret")) == log[name], "%s: no call record with its pointer" % name)
        eq([o["syscall"] for o in tr.caused(c)], want, "%s: OS requests" % name)
        eq((c.get("region"), c.get("reason"), c.get("threshold")), ("heap", None, None), "%s: explanation" % name)
    eq((tr.summary.get("allocator"), tr.summary.get("threshold")), ("musl", None), "summary")
    eq(tr.summary["counters"]["unattached_probes"], 0, "unattached probes")


def t_exec():
    """A glibc shell that execs the musl program: the new image's calls are
    explained by musl's rules, and glibc's threshold does not move."""
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-")
    try:
        out = os.path.join(tmp, "exec.jsonl")
        rc, so, err = run([TOOL, "trace", "--json", "-o", out, "--", "sh", "-c", "exec " + DYN])
        eq(rc, 0, "allocmap exit status (%s)" % clip(err))
        tr = Trace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log = program_log(so)
    calls = {h(c.get("ret")): c for c in tr.calls if c.get("fn") == "malloc"}
    for name, reason in (("malloc_300000", "over_threshold"), ("malloc_20000", "size_class_group")):
        c = calls.get(log[name])
        check(c, "%s: no call record with its pointer" % name)
        eq((c.get("reason"), c.get("threshold")), (reason, THRESHOLD), "%s: explained as musl's" % name)
    eq(tr.thresholds, [], "threshold records (glibc's must not move on musl's frees)")


def t_text():
    """The text output names musl, explains the threshold and warns of nothing."""
    for prog in (DYN, STATIC):
        rc, _, so = run([TOOL, "trace", "--", prog])  # a launched command's trace is on stderr
        eq(rc, 0, "exit status (%s)" % clip(so))
        for want in ("allocator: musl", "malloc(300000) = ", "[mmap: over threshold 131052 B]",
                     "[mmap: single-slot group, under threshold 131052 B]", "[arena: size-class group]",
                     "mmap threshold: 131052 B (fixed", "unattached probes: 0"):
            check(want in so, "%s: %r not in the text output: %s" % (os.path.basename(prog), want, clip(so, 600)))
        check("WARNING" not in so, "%s: a warning: %s" % (os.path.basename(prog), clip(so, 600)))


def t_html():
    """--html: the report's header names musl, its threshold card says fixed."""
    import t_report  # its headless-Chromium DOM dump (t_report.dom)
    if not os.path.exists(t_report.CHROMIUM):
        raise Skip("chromium not installed (bash scripts/deps.sh)")
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-html-")
    try:
        html = os.path.join(tmp, "r.html")
        rc, so, err = run([TOOL, "trace", "-q", "--html", html, "--", DYN])
        eq(rc, 0, "allocmap exit status (%s)" % clip(err))
        page = t_report.dom(html)
        check(re.search(r'id="meta"[^>]*>[^<]*musl allocator', page), "the header does not name musl: %s"
              % clip(re.search(r'id="meta"[^>]*>[^<]*', page).group(0) if 'id="meta"' in page else page))
        check("fixed (musl): never moves" in page, "no fixed-threshold card")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(t_report.TMP, ignore_errors=True)


def t_top():
    """allocmap top (in tmux, with t_top.py's Pane) on the shipped workload
    built with musl-gcc: the header names musl's ld.so, the threshold row
    its fixed threshold. (A command that exits before top's first sample
    leaves a final frame without figures: hence a workload that runs.)"""
    import t_top  # its tmux driver (own server socket)
    if not shutil.which("tmux"):
        raise Skip("tmux not installed (bash scripts/deps.sh)")
    wl = os.path.join(ROOT, ".output", "workloads", "musl", "small_objects")
    if not os.path.exists(wl):
        raise Skip("%s not built (musl-gcc)" % wl)
    p = t_top.Pane("-i 100 -- " + t_top.shq(wl))
    try:
        r, screen = p.wait(lambda s: "(musl: fixed" in s and "musl /lib/ld-musl-x86_64.so.1" in s
                           and re.search(r"mmap threshold\s+128 KiB", s)
                           and re.search(r"^ malloc\s+[-\d]", s, re.M), 30)
        check(r, "no frame naming musl, its fixed threshold and malloc's calls:\n" + screen)
        rc, screen = p.exit_code(60)
        eq(rc, 0, "allocmap top exit status")
    finally:
        p.kill()
        t_top.tmux("kill-server")


def t_compare():
    """allocmap compare: musl is a column for a command with a musl build
    (DIR/musl/NAME, as make builds the shipped workloads); asked for by name
    for a command without one, it is reported and skipped."""
    wl = os.path.join(ROOT, ".output", "workloads", "small_objects")
    mwl = os.path.join(ROOT, ".output", "workloads", "musl", "small_objects")
    if not os.path.exists(mwl):
        raise Skip("%s not built (musl-gcc)" % mwl)
    rc, so, err = run([TOOL, "compare", "--json", "--no-untraced", "-a", "glibc,musl", "--", wl, "300"])
    eq(rc, 0, "compare exit status (%s)" % clip(err))
    doc = json.loads(so)
    rows = {a["name"]: a for a in doc["allocators"]}
    m = rows.get("musl", {})
    eq((m.get("bound"), m.get("run"), m.get("exit")), ("musl", mwl, 0), "musl column")
    eq(rows.get("glibc", {}).get("bound"), "glibc", "glibc column")
    check(m["calls"] > 300 and m["os_requests"]["mmap"]["in_calls"] > 0, "musl column figures: %r" % m)
    rc, so, err = run([TOOL, "compare", "--no-untraced", "-a", "glibc,musl", "--", "/bin/true"])
    check(rc == 0 and "musl: no musl build of the command" in err and "skipped" in err
          and "musl" not in so.splitlines()[1], "compare /bin/true: rc %d, stderr %s, stdout %s"
          % (rc, clip(err), clip(so)))


# Where the strace records (e2e.strace_records) hold addresses. A launched
# program's mappings are one page lower under allocmap than under strace,
# even with setarch -R: the first uprobe hit maps the kernel's [uprobes]
# page (the out-of-line single-step area), and musl maps nothing earlier
# that would leave a gap for it. So the launch-mode comparison leaves mmap,
# munmap, mprotect, madvise and mremap addresses out (brk is unaffected),
# and the same-process comparison (strace -p and allocmap -p on one
# process) compares everything.
ADDRESS_FIELDS = {"mmap": (1, 3), "munmap": (1,), "mprotect": (1,), "madvise": (1,), "mremap": (1, 4)}


def without_addresses(rec):
    drop = ADDRESS_FIELDS.get(rec[0], ())
    return tuple("ADDR" if i in drop and not isinstance(v, str) else v for i, v in enumerate(rec))


def compare(srecs, trecs, what):
    only_s, only_t = multiset_diff(srecs, trecs)
    check(not only_s and not only_t,
          "%s: strace %d vs allocmap %d; missing from allocmap: %s; extra in allocmap: %s"
          % (what, len(srecs), len(trecs), fmt_recs(only_s) or "none", fmt_recs(only_t) or "none"))


def same_as_strace_launched(prog):
    """Launch mode, from exec on (ld.so's own requests included): separate
    runs under setarch -R, addresses of mappings left out (see above)."""
    srecs, trecs = strace_and_trace(prog, tool_rc=0)
    check(len(srecs) >= 15, "strace saw only %d memory syscalls: parsing broken?" % len(srecs))
    compare([without_addresses(f) for _, f in srecs], [without_addresses(f) for _, f in trecs], "launched")


def wait_for(proc, word, timeout=30):
    """Collects proc's stderr lines in a thread until one holds word;
    returns (the list of lines so far, which keeps growing, the thread)."""
    lines, seen = [], threading.Event()

    def reader():
        for l in iter(proc.stderr.readline, b""):
            lines.append(l.decode(errors="replace"))
            if word in lines[-1]:
                seen.set()
        seen.set()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    seen.wait(timeout)
    check(proc.poll() is None and any(word in l for l in lines),
          "%s never said %r (rc %r): %s" % (proc.args[0], word, proc.poll(), clip("".join(lines))))
    return lines, th


def same_as_strace_attached(prog):
    """One process, strace -p and allocmap -p both attached before its
    calls (the --wait handshake): every record, addresses included."""
    if not shutil.which("strace"):
        raise Skip("strace missing")
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-strace-")
    procs = []
    try:
        d = os.path.join(tmp, "st")
        os.mkdir(d)
        out = os.path.join(tmp, "trace.jsonl")
        target = subprocess.Popen([prog, "--wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        procs.append(target)
        check(target.stdout.readline().startswith(b"ready "), "the target did not get ready")
        st = subprocess.Popen(["strace", "-p", str(target.pid), "-ff", "-e", "trace=memory",
                               "-o", os.path.join(d, "s")], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(st)
        wait_for(st, "attached")
        tool = subprocess.Popen([TOOL, "trace", "--json", "-o", out, "-p", str(target.pid)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(tool)
        lines, th = wait_for(tool, "tracing")
        target.stdin.write(b"g")
        target.stdin.close()
        target.stdout.read()
        eq(target.wait(timeout=30), 0, "target exit status")
        eq(tool.wait(timeout=30), 0, "allocmap exit status (%s)" % clip("".join(lines)))
        st.wait(timeout=30)
        srecs = strace_records(d, attached=True)
        tr = Trace(out)
        trecs = tool_records(tr, target.pid)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    check(len(srecs) >= 14, "strace saw only %d memory syscalls: parsing broken?" % len(srecs))
    compare([f for _, f in srecs], [f for _, f in trecs], "attached")


def t_strace_dynamic():
    same_as_strace_launched(DYN)
    same_as_strace_attached(DYN)


def t_strace_static():
    same_as_strace_launched(STATIC)
    same_as_strace_attached(STATIC)


def make_rootfs(tmp):
    """A root filesystem with the dynamic program and its ld-musl only."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "lib"))
    shutil.copy(os.path.realpath(LDSO), os.path.join(root, "lib", os.path.basename(LDSO)))
    shutil.copy(DYN, os.path.join(root, "prog"))
    return root


def t_container():
    """unshare -m + chroot into a minimal root filesystem, --wait for the
    handshake, attach with -p from the host, then let it go."""
    if not shutil.which("unshare") or not shutil.which("chroot"):
        raise Skip("unshare or chroot missing (util-linux, coreutils)")
    tmp = tempfile.mkdtemp(prefix="allocmap-musl-ct-")
    prog = tool = None
    try:
        root = make_rootfs(tmp)
        out = os.path.join(tmp, "trace.jsonl")
        prog = subprocess.Popen(["unshare", "-m", "chroot", root, "/prog", "--wait"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = prog.stdout.readline().decode()
        check(line.startswith("ready "), "the target did not get ready: %r %s"
              % (line, clip(prog.stderr.read().decode(errors="replace") if prog.poll() is not None else "")))
        pid = int(line.split()[1])
        eq(pid, prog.pid, "target pid (unshare and chroot exec in place)")
        eq(os.readlink("/proc/%d/root" % pid), root, "the target's root")
        check(os.readlink("/proc/%d/ns/mnt" % pid) != os.readlink("/proc/self/ns/mnt"),
              "the target is not in its own mount namespace")
        tool = subprocess.Popen([TOOL, "trace", "--json", "-v", "-o", out, "-p", str(pid)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        errlines, th = wait_for(tool, "tracing")
        err = "".join(errlines)
        check("musl allocator" in err and "ld-musl-x86_64.so.1" in err,
              "allocmap does not name musl's ld.so as the allocator: %s" % clip(err))
        prog.stdin.write(b"g")
        prog.stdin.close()
        so = prog.stdout.read().decode()
        eq(prog.wait(timeout=30), 0, "target exit status")
        try:
            rc = tool.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Fail("allocmap did not stop when the attached target exited")
        th.join(5)
        eq(rc, 0, "allocmap exit status (%s)" % clip("".join(errlines)))
        tr = Trace(out)
        check_steps(tr, program_log(so), pid, static=False)
        direct = [o for o in tr.os_of_pid(pid) if o.get("cause", {}).get("kind") != "call"]
        eq(direct, [], "OS requests after the handshake not caused by an allocator call")
    finally:
        for p in (prog, tool):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


TESTS = [
    ("musl_dynamic", t_dynamic),
    ("musl_static", t_static),
    ("musl_nofree", t_nofree),
    ("musl_exec", t_exec),
    ("musl_text", t_text),
    ("musl_html", t_html),
    ("musl_top", t_top),
    ("musl_compare", t_compare),
    ("musl_strace_dynamic", t_strace_dynamic),
    ("musl_strace_static", t_strace_static),
    ("musl_container", t_container),
]


def main(argv):
    problem = environment_problem()
    missing = [p for p in (TOOL, DYN, STATIC, LDSO) if not os.path.exists(p)]

    def before(name):
        if problem:
            raise Skip(problem)
        if missing:
            raise Skip("missing: %s (install musl-tools: scripts/deps.sh, then make)" % ", ".join(missing))

    return run_tests("musl", TESTS, argv[1:], before)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
