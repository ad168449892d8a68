#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_accounting.py - one accounting model: the report's byte figures equal the
tracer's summary, exactly, for every shipped workload under every allocator.

Run as root from the repository root after `make` (tests/run-all.sh runs it).
Python 3 standard library only. For each workload of workloads/ (built in
.output/workloads/, run with a smaller size so the suite stays under two
minutes) under glibc, jemalloc, tcmalloc and mimalloc (LD_PRELOAD of Debian
12's libraries, as `allocmap compare` does) and musl (the workload's musl
build, when make built one), it traces with `allocmap trace --json -v`, then
makes the report, the Perfetto export and the figures from that JSONL in one
`allocmap report T.jsonl -o R.html --perfetto P.json --figures`, and checks
that every figure the summary record has (bytes live, heap, mmapped,
committed, direct, returned, and their peaks) is the same number in
 - the --figures line,
 - the HTML page's data block: its figures (the cards) and its counts,
 - the page's timeline: the largest value of each line (heap, mmapped,
   live) is that line's peak, its last value the value at the end,
 - the Perfetto counters "brk heap" and "mmapped" (largest and last value),
   and "live" when it was written on every change (under 20 000 samples),
 - the regions of the address map: their committed bytes add up to mmapped
   at the end.
Before the accounting model (memacct.c) the report summed mprotect lengths
and mimalloc's prodcons report was 128 KiB to 4 MiB above the summary.
One more test attaches (-p) to a running program: the heap and mappings it
had before the trace reach the report as "seed" records.

Prints "ok NAME" / "FAIL NAME: why" / "SKIP NAME: why" per workload and
allocator (NAME is WORKLOAD/ALLOCATOR; give names as arguments to run only
those), then "accounting: N passed, N failed".
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import CI, Fail, Skip, check, eq, run_tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "allocmap")
WDIR = os.path.join(ROOT, ".output", "workloads")
SPINNER = os.path.join(ROOT, ".output", "progs", "spinner")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
PRELOADS = {
    "glibc": None,
    "jemalloc": "libjemalloc.so.2",
    "tcmalloc": "libtcmalloc_minimal.so.4",
    "mimalloc": "libmimalloc.so.2",
    "musl": None,     # runs .output/workloads/musl/NAME
}
# each workload's size argument: small enough for the suite's time budget,
# large enough that every allocator maps, protects and gives back memory
ARGS = {
    "small_objects": ["3000"],
    "prodcons": ["1500"],
    "grow_shrink": ["400"],
    "bigbuf": ["40"],
    "threshold_sweep": [],
}
KEYS = ["live", "live_peak", "heap", "heap_peak", "mmap", "mmap_peak", "committed", "committed_peak",
        "direct_mmap", "returned_munmap", "returned_madvise", "returned_brk"]
LIVE_EXACT = 20000      # report.c: Perfetto live samples written on every change up to this many
TMP = tempfile.mkdtemp(prefix="t_accounting.")


def workloads():
    """The shipped workloads: every workloads/*.c (make builds each)."""
    names = sorted(f[:-2] for f in os.listdir(os.path.join(ROOT, "workloads")) if f.endswith(".c"))
    for n in names:
        if n not in ARGS:
            raise SystemExit("t_accounting.py: no size argument for workload %r: add it to ARGS" % n)
    return names


def run(args, env=None, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def html_data(path):
    """The page's data block (JSON; '<' written as \\u003c)."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    start = page.index('<script id="am-data" type="application/json">') + len(
        '<script id="am-data" type="application/json">')
    return json.loads(page[start:page.index("</script>", start)])


def perfetto_counters(path):
    """{counter name: [values in file order]}."""
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    out = {}
    for e in events:
        if e.get("ph") == "C":
            out.setdefault(e["name"], []).append(e["args"]["bytes"])
    return out


def timeline(data):
    """Per line (heap, mmapped, live): (largest value, last value) of the buckets."""
    b = data["buckets"]
    n = len(b) // 9
    out = []
    for k in range(3):
        hi = max(b[9 * i + 3 * k + 1] for i in range(n))
        out.append((hi, b[9 * (n - 1) + 3 * k + 2]))
    return out


def check_report(jl, base):
    """The report's figures (--figures, the page, its timeline and regions,
    the Perfetto counters) made from jl equal its summary's; returns the
    summary record."""
    html, pf = base + ".html", base + ".perfetto.json"
    with open(jl) as f:
        last = json.loads(f.readlines()[-1])
    eq(last["type"], "summary", "last record")
    summary = last["bytes"]
    eq(sorted(summary), sorted(KEYS), "the summary's byte figures")
    eq(last["counters"]["out_of_memory"], False, "tracer out of memory")

    p = run([TOOL, "report", jl, "-o", html, "--perfetto", pf, "--figures"])
    eq(p.returncode, 0, "report exit status (stderr: %s)" % p.stderr.strip()[-300:])
    figs = json.loads(p.stdout)
    eq(figs["out_of_memory"], False, "report out of memory")
    eq(figs["bytes"], summary, "--figures vs the summary")

    data = html_data(html)
    eq(data["figures"], summary, "the page's figures vs the summary")
    c = data["counts"]
    eq((c["heap"], c["heap_peak"], c["mmapped"], c["mmapped_peak"], c["live"], c["live_peak"]),
       (summary["heap"], summary["heap_peak"], summary["mmap"], summary["mmap_peak"], summary["live"],
        summary["live_peak"]), "the page's counts (heap, peak, mmapped, peak, live, peak)")
    eq(timeline(data), [(summary["heap_peak"], summary["heap"]), (summary["mmap_peak"], summary["mmap"]),
                        (summary["live_peak"], summary["live"])],
       "the timeline's (largest, last) heap, mmapped, live")
    regions = sum(r["committed"] for r in data["regions"] if r["t1"] is None and r["kind"] in ("mmap", "arena"))
    eq(regions, summary["mmap"], "committed bytes of the mapped regions")

    pc = perfetto_counters(pf)
    for name, key in (("brk heap", "heap"), ("mmapped", "mmap")):
        eq((max(pc[name]), pc[name][-1]), (summary[key + "_peak"], summary[key]),
           "Perfetto %r counter (largest, last)" % name)
    if len(pc["live"]) < LIVE_EXACT:
        eq((max(pc["live"]), pc["live"][-1]), (summary["live_peak"], summary["live"]),
           "Perfetto 'live' counter (largest, last)")
    else:
        eq(pc["live"][-1], summary["live"], "Perfetto 'live' counter, last")
    for path in (jl, html, pf):
        os.unlink(path)
    return last


def one(workload, alloc):
    exe = os.path.join(WDIR, "musl", workload) if alloc == "musl" else os.path.join(WDIR, workload)
    if not os.path.exists(exe):
        if alloc == "musl":
            raise Skip("no musl build of %s (musl-gcc not installed?)" % workload)
        raise Fail("not built: %s (run make)" % exe)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if PRELOADS[alloc]:
        lib = os.path.join(LIBDIR, PRELOADS[alloc])
        if not os.path.exists(lib):
            raise Skip("%s not installed (bash scripts/deps.sh)" % lib)
        env["LD_PRELOAD"] = lib
    base = os.path.join(TMP, "%s-%s" % (workload, alloc))
    jl = base + ".jsonl"
    p = run([TOOL, "trace", "--json", "-v", "-o", jl, "--", exe] + ARGS[workload], env=env)
    eq(p.returncode, 0, "trace exit status (stderr: %s)" % p.stderr.strip()[-300:])
    last = check_report(jl, base)
    eq(last.get("allocator"), alloc, "the allocator the tracer found")
    check(last["bytes"]["committed_peak"] > 0 and last["bytes"]["live_peak"] > 0,
          "the run made memory requests: %s" % last["bytes"])


def t_attached():
    """-p: what was mapped before the trace reaches the report (seed records)."""
    if not os.path.exists(SPINNER):
        raise Fail("not built: %s (run make)" % SPINNER)
    spin = subprocess.Popen([SPINNER, "1000"], stdout=subprocess.DEVNULL)  # 20 s; killed after
    try:
        jl = os.path.join(TMP, "attached.jsonl")
        p = run([TOOL, "trace", "-p", str(spin.pid), "-d", "1", "--json", "-v", "-o", jl])
        eq(p.returncode, 0, "trace exit status (stderr: %s)" % p.stderr.strip()[-300:])
        with open(jl) as f:
            seeds = [json.loads(l) for l in f if '"type":"seed"' in l]
        check(any(s["region"] == "heap" for s in seeds), "a seed record for the heap: %s" % seeds[:3])
        last = check_report(jl, jl[:-6])
        check(last["bytes"]["heap"] > 0, "the seeded heap counts: %s" % last["bytes"])
    finally:
        spin.kill()
        spin.wait()


def main(argv):
    problem = None
    if os.geteuid() != 0:
        problem = "not root (BPF tracing needs CAP_BPF/CAP_PERFMON)"
    elif not os.path.exists("/sys/kernel/btf/vmlinux"):
        problem = "no BTF at /sys/kernel/btf/vmlinux"
    if problem:
        print("accounting: SKIPPING: %s%s" % (problem, " (CI=true: skips fail)" if CI else ""), file=sys.stderr)
    tests = [("%s/%s" % (w, a), (lambda w=w, a=a: one(w, a))) for w in workloads() for a in PRELOADS]
    tests.append(("attached", t_attached))

    def before(name):
        if not os.path.exists(TOOL):
            raise Fail("not built: allocmap (run make)")
        if problem:
            raise Skip(problem)

    rc = run_tests("accounting", tests, argv[1:], before)
    shutil.rmtree(TMP, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
