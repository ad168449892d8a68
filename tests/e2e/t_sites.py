#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_sites.py - end-to-end tests of the call-site profiles (allocmap trace
--stacks: the summary's sites table and the JSON "sites" record, --top,
--sort) and of the pprof export (trace --pprof, report --pprof), on
.output/progs/sites (tests/progs/sites.c): four functions with known
allocations (temporaries, a leak, the live peak, one mmapped calloc).

The pprof files are read by a real consumer, `go tool pprof` (Debian's
golang-go, installed by scripts/deps.sh): its totals and top sites must be
allocmap's own. Run as root from the repository root after `make`.
Ends with exactly "sites: N passed, N failed"; with CI=true a skip counts
as a failure."""

import json
import os
import re
import shutil
import sys
import tempfile

from harness import Fail, PROGS, ROOT, Skip, TOOL, check, eq, needs, run, run_tests

PROG = os.path.join(PROGS, "sites")
SRC = os.path.join(ROOT, "tests", "progs", "sites.c")
TMP = tempfile.mkdtemp(prefix="allocmap-sites-")

# site function -> (calls, bytes each, temporaries, live at the peak, leaked, region)
WANT = {
    "site_temp": (100, 1000, 100, 0, 0, "heap"),
    "site_leak": (3, 7000, 0, 3, 3, "heap"),
    "site_peak": (10, 50000, 0, 10, 0, "heap"),
    "site_big": (1, 300000, 1, 0, 0, "mmap"),
}
PEAK = 3 * 7000 + 10 * 50000
TYPES = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space", "os_space")


def src_line(needle):
    """Line number of the (only) line of sites.c holding needle."""
    with open(SRC) as f:
        lines = [i + 1 for i, l in enumerate(f) if needle in l]
    eq(len(lines), 1, "lines of sites.c with %r" % needle)
    return lines[0]


LINES = {"site_temp": src_line("= malloc(1000)"), "site_leak": src_line("= malloc(7000)"),
         "site_peak": src_line("= malloc(50000)"), "site_big": src_line("= calloc(1, 300000)")}

_cache = {}


def trace(key, args):
    """allocmap trace ARGS -o FILE -- sites, once per key: (the records,
    or None for text; the text)."""
    if key not in _cache:
        js = "--json" in args
        out = os.path.join(TMP, key + (".jsonl" if js else ".txt"))
        p = run([TOOL, "trace", "-o", out] + args + ["--", PROG], timeout=120)
        if p.returncode != 0:
            raise Fail("allocmap trace %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr[-400:]))
        with open(out) as f:
            text = f.read()
        recs = [json.loads(l) for l in text.splitlines() if l.strip()] if js else None
        _cache[key] = (recs, text)
    return _cache[key]


def full():
    """The trace with every call, stacks, and a pprof file."""
    return trace("full", ["--json", "-v", "--stacks", "--pprof", os.path.join(TMP, "live.pb.gz")])[0]


def record(recs, typ):
    got = [r for r in recs if r["type"] == typ]
    eq(len(got), 1, "%s records" % typ)
    return got[0]


def by_fn(sites_rec):
    """The sites of the record by function name."""
    out = {}
    for s in sites_rec["sites"]:
        name = s.get("frame", {}).get("sym")
        check(name not in out, "one site per function (%s twice)" % name)
        out[name] = s
    return out


def obtained(o, prev_brk):
    """Bytes an os record obtained (the README rule), independently."""
    if "error" in o:
        return 0
    page = lambda n: (n + 4095) // 4096 * 4096
    sc = o["syscall"]
    if sc == "mmap":
        return page(o["len"]) if "MAP_ANONYMOUS" in o["flags"] and o["prot"] != "PROT_NONE" else 0
    if sc == "mremap":
        return max(0, page(o["new_len"]) - page(o["len"]))
    if sc == "brk":
        ret, addr = int(o["ret"], 16), int(o["addr"], 16)
        return ret - prev_brk if addr and ret == addr and prev_brk and ret > prev_brk else 0
    if sc == "mprotect":
        return page(o["len"]) if "PROT_WRITE" in o["prot"] and o["cause"]["kind"] != "direct" else 0
    return 0


def os_bytes_by_site(recs):
    """Bytes obtained by the calls of each site function, from the os records."""
    brk, by_call, out = 0, {}, {}
    for r in recs:   # os records in time order (a call's come after it)
        if r["type"] == "os":
            prev = brk
            if r["syscall"] == "brk" and "error" not in r:
                brk = int(r["ret"], 16) or brk
            if r["cause"].get("call_id"):
                by_call[r["cause"]["call_id"]] = by_call.get(r["cause"]["call_id"], 0) + obtained(r, prev)
    for r in recs:
        if r["type"] == "call" and not r.get("nested") and r["id"] in by_call:
            st = r.get("stack") or []
            fn = next((f.get("sym") for f in st[1:] if f.get("sym") in WANT), None)
            out[fn] = out.get(fn, 0) + by_call[r["id"]]
    return out


def go():
    exe = shutil.which("go")
    if not exe:
        raise Skip("go not installed (golang-go: scripts/deps.sh)")
    return exe


def pprof_top(path, index, lines=False):
    """`go tool pprof -top` of path: (total, [(flat, name)] of the non-zero rows)."""
    args = [go(), "tool", "pprof", "-top", "-sample_index=" + index, "-unit=B"] + (["-lines"] if lines else [])
    p = run(args + [path], timeout=120, env=dict(os.environ, HOME=TMP, PPROF_TMPDIR=TMP))
    if p.returncode != 0:
        raise Fail("go tool pprof %s exited %d: %s" % (index, p.returncode, p.stderr[-400:]))
    m = re.search(r"Total samples = (\d+)B?", p.stdout)
    check(m, "go tool pprof prints a total: %s" % p.stdout[:400])
    rows = []
    for l in p.stdout.splitlines():
        m2 = re.match(r"\s*(\d+)B?\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+(.*)$", l)
        if m2 and int(m2.group(1)):
            rows.append((int(m2.group(1)), m2.group(2).strip()))
    return int(m.group(1)), rows, p.stdout


# ---------------------------------------------------------------- tests

def t_json_figures():
    recs = full()
    sites = record(recs, "sites")
    summ = recs[-1]
    eq(summ["type"], "summary", "last record")
    eq([r["type"] for r in recs[-3:]], ["sites", "leaks", "summary"], "the last records")
    got = by_fn(sites)
    eq(sorted(got), sorted(WANT), "site functions")
    for fn, (calls, size, temps, at_peak, leaked, region) in WANT.items():
        s = got[fn]
        eq(s["calls"], calls, fn + " calls")
        eq(s["bytes"], calls * size, fn + " bytes")
        eq((s["temp_count"], s["temp_bytes"]), (temps, temps * size), fn + " temporaries")
        eq((s["peak_count"], s["peak_bytes"]), (at_peak, at_peak * size), fn + " at the peak")
        eq((s["leak_count"], s["leak_bytes"]), (leaked, leaked * size), fn + " leaked")
        eq(s["regions"], {region: {"count": calls, "bytes": calls * size}}, fn + " regions")
        eq(s["stacks"], 1, fn + " stacks")
        eq(s["frame"].get("line"), LINES[fn], fn + " line")
        check(s["frame"].get("file", "").endswith("sites.c"), fn + " file: %r" % s["frame"].get("file"))
    # the peak: the process's and the summary's
    eq(sites["total"]["peak_bytes"], PEAK, "total at the peak")
    eq([p["peak_bytes"] for p in sites["procs"]], [PEAK], "process peak")
    eq(summ["bytes"]["live_peak"], PEAK, "summary live peak")
    eq(sites["total"]["leak_bytes"], summ["bytes"]["live"], "leaked = live at end")
    # OS bytes: what each site's calls obtained, recomputed from the os records
    want_os = os_bytes_by_site(recs)
    for fn in WANT:
        eq(got[fn]["os_bytes"], want_os.get(fn, 0), fn + " os_bytes")
    check(got["site_big"]["os_bytes"] >= 300000, "the calloc's own mmap: %d" % got["site_big"]["os_bytes"])
    eq(sites["total"]["os_bytes"], sum(s["os_bytes"] for s in sites["sites"]), "total os_bytes")
    eq(sites["sample"], 1, "not sampled")
    # stacks: each points at its site; its frame alloc_frames is the site frame
    for st in sites["stacks"]:
        site = sites["sites"][st["site"]]
        eq(st["stack"][st["alloc_frames"]]["addr"], site["frame"]["addr"], "stack -> site frame")
    # sorted by bytes allocated
    eq([s["frame"]["sym"] for s in sites["sites"]], ["site_peak", "site_big", "site_temp", "site_leak"],
       "sites order")


def t_text_table():
    _, out = trace("text", ["-q", "--stacks", "--top", "2", "--sort", "temp"])
    lines = out.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("call sites:")]
    eq(len(head), 1, "one sites table")
    h = lines[head[0]]
    check("4 (4 stacks), 114 allocations of 899 KiB; top 2 by temporary allocations (--sort temp)" in h,
          "heading: %r" % h)
    rows = lines[head[0] + 2:head[0] + 6]
    want = [
        # one unit per column, its largest value's (the total: 899 KiB, 509 KiB, 20.5 KiB)
        ["100", "98 KiB", "0 KiB", "0 KiB", "100", None, "site_temp (sites.c:%d) [heap 100]" % LINES["site_temp"]],
        ["1", "293 KiB", "0 KiB", "0 KiB", "1", None, "site_big (sites.c:%d) [mmap 1]" % LINES["site_big"]],
    ]
    for row, w in zip(rows, want):
        m = re.match(r"\s+(\d+)\s+(\S+ \S+)\s+(\S+ \S+)\s+(\S+ \S+)\s+(\d+)\s+(\S+ \S+)\s+(.*)$", row)
        check(m, "row: %r" % row)
        got = list(m.groups())
        got[5] = None
        eq(got, w, "row")
    eq(rows[2].strip(), '... 2 more sites (all of them in the JSON "sites" record)', "more line")
    m = re.match(r"\s+114\s+899 KiB\s+509 KiB\s+20.5 KiB\s+101\s+\S+ \S+\s+total$", rows[3])
    check(m, "total row: %r" % rows[3])


def t_top_zero_and_bad_sort():
    _, out = trace("top0", ["-q", "--stacks", "--top", "0"])
    lines = out.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("call sites:")]
    eq(len(head), 1, "one heading")
    check("top 0 by bytes allocated (--sort alloc)" in lines[head[0]], "heading: %r" % lines[head[0]])
    check(lines[head[0] + 1].startswith("lost events:"), "no rows: %r" % lines[head[0] + 1])
    p = run([TOOL, "trace", "--stacks", "--sort", "size", "--", PROG])
    eq(p.returncode, 64, "--sort size exit (argp: EX_USAGE)")
    check("invalid --sort 'size'" in p.stderr and p.stderr.count("\n") <= 3, "one clear line: %r" % p.stderr)
    p = run([TOOL, "trace", "--mode", "os", "--pprof", os.path.join(TMP, "x.pb.gz"), "--", PROG])
    eq(p.returncode, 64, "--pprof with --mode os exit")
    check("--pprof needs the allocator calls" in p.stderr, "why: %r" % p.stderr)


def t_pprof_go_tool():
    recs = full()
    sites = record(recs, "sites")
    path = os.path.join(TMP, "live.pb.gz")
    with open(path, "rb") as f:
        eq(f.read(2), b"\x1f\x8b", "gzip magic")
    fig = {"alloc_objects": "calls", "alloc_space": "bytes", "inuse_objects": "leak_count",
           "inuse_space": "leak_bytes", "os_space": "os_bytes"}
    for idx in TYPES:
        total, rows, out = pprof_top(path, idx)
        eq(total, sites["total"][fig[idx]], idx + " total")
        want = sorted(((s[fig[idx]], s["frame"]["sym"]) for s in sites["sites"] if s[fig[idx]]),
                      key=lambda x: -x[0])
        flat = [r for r in rows if r[1] in WANT]
        eq(sorted(flat, key=lambda x: -x[0]), want, idx + " flat by site")
        eq(flat[:1], want[:1], idx + " top site")
    # the program's mapping carries its build id (readelf's)
    p = run([go(), "tool", "pprof", "-raw", path], env=dict(os.environ, HOME=TMP))
    want = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", PROG]).stdout)
    check(want, "readelf shows the program's build id")
    check(re.search(r"^\d+: 0x0/0x0/0x0 sites %s \[FN\]\[FL\]\[LN\]$" % want.group(1), p.stdout, re.M),
          "mapping of sites with build id %s: %s" % (want.group(1), p.stdout[p.stdout.find("Mappings"):]))
    # by line: the site frame's line
    _, rows, _ = pprof_top(path, "alloc_space", lines=True)
    eq(rows[0][1], "site_peak tests/progs/sites.c:%d" % LINES["site_peak"], "top line")


def t_report_pprof_equal():
    full()
    rep = os.path.join(TMP, "report.pb.gz")
    p = run([TOOL, "report", os.path.join(TMP, "full.jsonl"), "--pprof", rep])
    eq(p.returncode, 0, "report --pprof exit (%s)" % p.stderr.strip())
    for idx in TYPES:
        a = pprof_top(os.path.join(TMP, "live.pb.gz"), idx, lines=True)
        b = pprof_top(rep, idx, lines=True)
        eq(b[:2], a[:2], idx + ": report --pprof = trace --pprof")
    # samples, locations, functions, mappings (build ids included): the same
    raw = [run([go(), "tool", "pprof", "-raw", f], env=dict(os.environ, HOME=TMP)).stdout
           for f in (os.path.join(TMP, "live.pb.gz"), rep)]
    raw = [r[r.find("Samples:"):] for r in raw]
    check(raw[0].startswith("Samples:"), "-raw output: %s" % raw[0][:200])
    eq(raw[1], raw[0], "go tool pprof -raw, report vs live")


def t_report_pprof_needs_every_call():
    # --json has every call whatever -v (issue 11): a default trace makes a
    # whole profile; one without the calls (--mode os) is refused
    out = os.path.join(TMP, "default.jsonl")
    p = run([TOOL, "trace", "--json", "--stacks", "-o", out, "--", PROG])
    eq(p.returncode, 0, "trace without -v")
    p = run([TOOL, "report", out, "--pprof", os.path.join(TMP, "default.pb.gz")])
    eq(p.returncode, 0, "report --pprof of a trace without -v: %r" % p.stderr)
    total, _, _ = pprof_top(os.path.join(TMP, "default.pb.gz"), "alloc_space")
    eq(total, record(full(), "sites")["total"]["bytes"], "alloc_space total of the default trace")
    out = os.path.join(TMP, "osonly.jsonl")
    p = run([TOOL, "trace", "--json", "--mode", "os", "-o", out, "--", PROG])
    eq(p.returncode, 0, "trace --mode os")
    p = run([TOOL, "report", out, "--pprof", os.path.join(TMP, "osonly.pb.gz")])
    eq(p.returncode, 1, "report --pprof of a trace without the calls")
    check(p.stderr.count("\n") == 1, "one clear line: %r" % p.stderr)
    check(not os.path.exists(os.path.join(TMP, "osonly.pb.gz")), "no file written")


def t_sampled_period():
    recs, _ = trace("sampled", ["--json", "-v", "--stacks", "--sample", "4",
                                "--pprof", os.path.join(TMP, "sampled.pb.gz")])
    sites = record(recs, "sites")
    eq(sites["sample"], 4, "sample rate in the record")
    # every allocation is counted, stack or not: the totals stay exact
    eq(sites["total"]["calls"], sum(c for c, *_ in WANT.values()), "calls")
    eq(sites["total"]["peak_bytes"], PEAK, "peak")
    p = run([go(), "tool", "pprof", "-raw", os.path.join(TMP, "sampled.pb.gz")], env=dict(os.environ, HOME=TMP))
    check(re.search(r"^Period: 4$", p.stdout, re.M), "period 4: %s" % p.stdout[:300])
    total, _, _ = pprof_top(os.path.join(TMP, "sampled.pb.gz"), "alloc_space")
    eq(total, sites["total"]["bytes"], "sampled alloc_space total")


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("t_") and callable(f)]

if __name__ == "__main__":
    try:
        rc = run_tests("sites", TESTS, sys.argv[1:], before=needs(TOOL, PROG))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
