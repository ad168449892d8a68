#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_diff.py - end-to-end tests of `allocmap diff A.jsonl B.jsonl` (text,
--json, --html), on two real traces of .output/progs/sites
(tests/progs/sites.c) with a known difference: `sites changed` makes 5
allocations of 7000 bytes at site_leak instead of 3, never calls site_big
(calloc(1, 300000): its own mmap, which moves glibc's mmap threshold when
freed) and calls site_extra (2 x malloc(4000)) instead; site_temp and
site_peak are the same in both.

The deltas are asserted exactly: the sites' figures from the program's
known allocations, the byte figures, calls, syscalls and causes and the
threshold from each trace's own summary record (the tracer's figures,
computed live: an independent source). The page is loaded in headless
Chromium (Debian's `chromium`): no script error, the known deltas in the
DOM, sorting by a click, and names from a hostile trace only ever as text.
Run as root from the repository root after `make`. Ends with exactly
"diff: N passed, N failed"; with CI=true a skip counts as a failure."""

import json
import os
import re
import shutil
import sys
import tempfile

from harness import CHROMIUM, Fail, PROGS, ROOT, Skip, TOOL, check, eq, needs, run, run_tests
from harness import chromium as harness_chromium

PROG = os.path.join(PROGS, "sites")
SRC = os.path.join(ROOT, "tests", "progs", "sites.c")
TMP = tempfile.mkdtemp(prefix="allocmap-diff-")


def src_line(needle):
    with open(SRC) as f:
        lines = [i + 1 for i, l in enumerate(f) if needle in l]
    eq(len(lines), 1, "lines of sites.c with %r" % needle)
    return lines[0]


LINES = {"site_temp": src_line("= malloc(1000)"), "site_leak": src_line("= malloc(7000)"),
         "site_peak": src_line("= malloc(50000)"), "site_big": src_line("= calloc(1, 300000)"),
         "site_extra": src_line("= malloc(4000)")}

_traces = {}


def trace(name, args, prog_args=()):
    """allocmap trace --json ARGS -- sites PROG_ARGS, once: (path, records)."""
    if name not in _traces:
        path = os.path.join(TMP, name + ".jsonl")
        p = run([TOOL, "trace", "--json", "-o", path] + args + ["--", PROG] + list(prog_args), timeout=120)
        if p.returncode != 0:
            raise Fail("allocmap trace %s exited %d: %s" % (name, p.returncode, p.stderr[-400:]))
        with open(path) as f:
            _traces[name] = (path, [json.loads(l) for l in f if l.strip()])
    return _traces[name]


def trace_a():
    return trace("a", ["-v", "--stacks"])


def trace_b():
    return trace("b", ["-v", "--stacks"], ["changed"])


def summary(recs):
    eq(recs[-1]["type"], "summary", "the last record")
    return recs[-1]


def diff(*args, code=0):
    p = run([TOOL, "diff"] + list(args), timeout=120)
    if p.returncode != code:
        raise Fail("allocmap diff %s exited %d (want %d): %s" % (" ".join(args), p.returncode, code, p.stderr[-400:]))
    return p


def diff_json(*args):
    return json.loads(diff("--json", *args).stdout)


def v(a, b):
    """The value object the diff writes for A = a, B = b."""
    return {"a": a, "b": b, "delta": b - a, "ratio": b / a if a else None}


def site_rows(d):
    """The site rows by function name."""
    out = {}
    for r in d["sites"]["rows"]:
        name = r.get("frame", {}).get("sym")
        check(name not in out, "one row per function (%s twice)" % name)
        out[name] = r
    return out


def all_values(o, path=""):
    """Every value object {a, b, delta, ratio} in the document, with its path."""
    if isinstance(o, dict):
        if "delta" in o and "a" in o and "b" in o:
            yield path, o
        for k, x in o.items():
            yield from all_values(x, path + "." + k)
    elif isinstance(o, list):
        for i, x in enumerate(o):
            yield from all_values(x, "%s[%d]" % (path, i))


# site -> (calls, bytes) in A and in B
SITES = {
    "site_temp": ((100, 100000), (100, 100000)),
    "site_leak": ((3, 21000), (5, 35000)),
    "site_peak": ((10, 500000), (10, 500000)),
    "site_big": ((1, 300000), (0, 0)),
    "site_extra": ((0, 0), (2, 8000)),
}

# ---------------------------------------------------------------- tests


def t_json_sites():
    a, _ = trace_a()
    b, _ = trace_b()
    d = diff_json(a, b)
    eq(d["type"], "diff", "document type")
    s = d["sites"]
    eq((s["match"], s["sort"]), ("site", "alloc"), "defaults")
    eq((s["both"], s["only_a"], s["only_b"]), (3, 1, 1), "both, only in A, only in B")
    rows = site_rows(d)
    eq(sorted(rows), sorted(SITES), "site functions")
    for fn, ((ca, ba), (cb, bb)) in SITES.items():
        r = rows[fn]
        eq(r["in"], "both" if ca and cb else "a" if ca else "b", fn + " in")
        eq(r["calls"], v(ca, cb), fn + " calls")
        eq(r["bytes"], v(ba, bb), fn + " bytes")
        eq(r["frame"]["line"], LINES[fn], fn + " line")
        check(r["key"] == "%s %s:%d" % (fn, r["frame"]["file"], LINES[fn]), fn + " key: %r" % r["key"])
    # the one known change at a site in both: 2 more leaked blocks of 7000
    leak = rows["site_leak"]
    eq(leak["leak_bytes"], v(21000, 35000), "site_leak leaked")
    eq(leak["peak_bytes"], v(21000, 35000), "site_leak live at the peak")
    eq(leak["temp_count"], v(0, 0), "site_leak temporaries")
    # the unchanged sites: every figure 0 but the bytes their calls got
    # from the OS, which depend on the heap's state (site_leak's 2 more
    # blocks came before them)
    for fn in ("site_temp", "site_peak"):
        for key, val in all_values(rows[fn]):
            if key != ".os_bytes":
                eq(val["delta"], 0, fn + key)
    eq(rows["site_temp"]["temp_count"], v(100, 100), "site_temp temporaries")
    eq(rows["site_peak"]["peak_bytes"], v(500000, 500000), "site_peak at the peak")
    check(rows["site_big"]["os_bytes"]["a"] >= 300000 and rows["site_big"]["os_bytes"]["b"] == 0,
          "site_big's own mmap: %r" % rows["site_big"]["os_bytes"])
    eq(rows["site_extra"]["temp_count"], v(0, 0), "site_extra: held together, not temporary")
    # sorted by the absolute change in bytes allocated, unchanged last (larger first)
    eq([r["frame"]["sym"] for r in s["rows"]], ["site_big", "site_leak", "site_extra", "site_peak", "site_temp"],
       "row order")
    eq(s["total"]["bytes"], v(921000, 643000), "totals")
    eq(s["rows_omitted"], 0, "every row")


def t_json_figures():
    a, ra = trace_a()
    b, rb = trace_b()
    sa, sb = summary(ra), summary(rb)
    d = diff_json(a, b)
    # the byte figures are the accounting model's: each trace's summary
    eq(sorted(d["bytes"]), sorted(sa["bytes"]), "byte figure names")
    for k in sa["bytes"]:
        eq(d["bytes"][k], v(sa["bytes"][k], sb["bytes"][k]), "bytes." + k)
    eq(d["bytes"]["live_peak"]["delta"], 14000, "live peak: 2 more blocks of 7000 at the peak")
    eq(d["bytes"]["live"]["delta"], 14000, "live at the end: 2 more leaked")
    check(d["bytes"]["mmap_peak"]["a"] >= 300000 and d["bytes"]["mmap_peak"]["b"] == 0, "site_big's mmap")
    # calls per function
    fns = {f["fn"]: f for f in d["functions"]}
    eq(sorted(fns), sorted(set(sa["functions"]) | set(sb["functions"])), "functions")
    for fn, f in fns.items():
        eq(f["calls"], v(sa["functions"].get(fn, {}).get("calls", 0), sb["functions"].get(fn, {}).get("calls", 0)),
           fn + " calls")
    eq(fns["malloc"]["calls"], v(113, 117), "malloc calls (100 + 3 + 10; 100 + 5 + 10 + 2)")
    eq(fns["calloc"]["calls"], v(1, 0), "calloc calls")
    eq(fns["free"]["calls"], v(111, 112), "free calls")
    # OS requests per syscall and cause
    sys_ = {s["syscall"]: s for s in d["syscalls"]}
    eq(sorted(sys_), sorted(set(sa["syscalls"]) | set(sb["syscalls"])), "syscalls")
    for name, s in sys_.items():
        x, y = sa["syscalls"].get(name, {}), sb["syscalls"].get(name, {})
        eq(s["count"], v(x.get("count", 0), y.get("count", 0)), name + " count")
        causes = {c["cause"]: c["count"] for c in s["causes"]}
        want = set(x.get("by_cause", {})) | set(y.get("by_cause", {}))
        eq(sorted(causes), sorted(k for k in want if x.get("by_cause", {}).get(k) or y.get("by_cause", {}).get(k)),
           name + " causes")
        for c, val in causes.items():
            eq(val, v(x.get("by_cause", {}).get(c, 0), y.get("by_cause", {}).get(c, 0)), name + " by " + c)
    eq({c["cause"]: c["count"] for c in sys_["mmap"]["causes"]}["calloc"], v(1, 0), "the calloc's mmap")
    eq({c["cause"]: c["count"] for c in sys_["munmap"]["causes"]}["free"], v(1, 0), "its munmap by free")
    # the threshold: the free of the 300000-byte chunk moved it in A only
    ta, tb = sa["threshold"], sb["threshold"]
    eq(d["threshold"]["start"], v(131072, 131072), "threshold start")
    eq(d["threshold"]["moves"], v(1, 0), "threshold moves")
    eq((ta["end"], tb["end"]), (d["threshold"]["end"]["a"], 131072), "threshold end")
    check(ta["end"] > 300000, "A's threshold rose over the freed chunk: %d" % ta["end"])
    eq(d["threshold"]["end"]["delta"], 131072 - ta["end"], "threshold end delta")
    # regions: the heap's allocations, the calloc's own mmap region
    reg = {r["region"]: r for r in d["regions"]}
    eq(reg["heap"]["allocs"], v(113, 117), "allocations in the heap")
    eq(reg["heap"]["alloc_bytes"], v(621000, 643000), "bytes allocated in the heap")
    eq(reg["mmap"]["made"], v(1, 0), "mmap regions made")
    eq(reg["mmap"]["allocs"], v(1, 0), "allocations in their own mmap")
    eq(reg["mmap"]["alloc_bytes"], v(300000, 0), "bytes in their own mmap")
    eq(reg["heap"]["committed_end"], v(sa["bytes"]["heap"], sb["bytes"]["heap"]), "heap committed at the end")
    for side, recs, path in (("a", ra, a), ("b", rb, b)):
        x = d[side]
        eq((x["path"], x["allocator"], x["summary"], x["truncated"], x["out_of_memory"]),
           (path, "glibc", True, False, False), side + " side")
        eq(x["calls"], sum(1 for r in recs if r["type"] == "call"), side + " calls")
        eq(x["calls"], x["calls_summary"], side + " every call (-v)")
        eq(x["sites_unavailable"], None, side + " has sites")


def t_text():
    a, _ = trace_a()
    b, _ = trace_b()
    out = diff(a, b).stdout
    lines = out.splitlines()
    eq(lines[0], "allocmap diff: A = %s (glibc), B = %s (glibc)" % (a, b), "first line")
    row = lambda fn: [l for l in lines if re.search(r"\s%s \(sites\.c:%d\)" % (fn, LINES[fn]), l)]
    leak = row("site_leak")
    eq(len(leak), 1, "one site_leak row")
    eq(leak[0].split()[:8], ["20.5", "KiB", "34.2", "KiB", "+13.7", "KiB", "1.67x", "3"], "site_leak row")
    check(leak[0].rstrip().endswith("site_leak (sites.c:%d)" % LINES["site_leak"]), "site_leak in both: %r" % leak[0])
    big = row("site_big")
    check(len(big) == 1 and big[0].rstrip().endswith("[only in A]") and "-293 KiB" in big[0], "site_big: %r" % big)
    extra = row("site_extra")
    check(len(extra) == 1 and extra[0].rstrip().endswith("[only in B]") and "+7.81 KiB" in extra[0],
          "site_extra: %r" % extra)
    for fn in ("site_temp", "site_peak"):
        r = row(fn)
        check(len(r) == 1 and r[0].split()[4:7] == ["0", "B", "1.00x"], fn + " unchanged: %r" % r)
    check(any(l.startswith("call sites, matched by function and source line of the call site (--match site): "
                           "3 in both, 1 only in A, 1 only in B;") for l in lines), "sites heading")
    live = [l for l in lines if l.strip().startswith("live, peak")]
    eq(live[0].split()[2:], ["509", "KiB", "522", "KiB", "+13.7", "KiB", "1.03x"], "live peak row")
    moves = [l for l in lines if l.strip().startswith("moves")]
    eq(moves[0].split(), ["moves", "1", "0", "-1", "0.00x"], "threshold moves row")
    # --sort calls --top 2: site_leak (+2, 5 calls) before site_extra (+2, 2 calls)
    out = diff(a, b, "--sort", "calls", "--top", "2").stdout.splitlines()
    i = [k for k, l in enumerate(out) if l.lstrip().startswith("A ") and l.rstrip().endswith("site")][0]
    check("site_leak" in out[i + 1] and "site_extra" in out[i + 2], "--sort calls order: %r" % out[i + 1:i + 3])
    check(out[i + 3].strip() == "... 3 more (all of them with --json)", "--top 2: %r" % out[i + 3])


def t_match_modes():
    a, _ = trace_a()
    b, _ = trace_b()
    d = diff_json(a, b, "--match", "function")
    eq((d["sites"]["match"], d["sites"]["both"], d["sites"]["only_a"], d["sites"]["only_b"]), ("function", 3, 1, 1),
       "--match function")
    eq(site_rows(d)["site_leak"]["key"], "site_leak " + site_rows(d)["site_leak"]["frame"]["file"], "function key")
    d = diff_json(a, b, "--match", "stack", "--sort", "leak")
    s = d["sites"]
    eq((s["match"], s["sort"], s["both"], s["only_a"], s["only_b"]), ("stack", "leak", 3, 1, 1), "--match stack")
    rows = site_rows(d)
    eq(s["rows"][0]["frame"]["sym"], "site_leak", "--sort leak: the leak's change first")
    for fn, r in rows.items():
        eq(r["stack"][0]["sym"], fn, fn + " stack starts at its site")
        eq(r["stack"][1]["sym"], "main", fn + " called from main")
        check(r["key"].startswith("%s %s:%d;main " % (fn, r["frame"]["file"], LINES[fn])), fn + " key %r" % r["key"])
    eq(rows["site_leak"]["leak_bytes"], v(21000, 35000), "stack mode: the same figures")


def t_same_file_twice():
    a, _ = trace_a()
    d = diff_json(a, a)
    vals = list(all_values(d))
    check(len(vals) > 50, "value objects: %d" % len(vals))
    for path, val in vals:
        check(val["delta"] in (0, None), "same trace twice: %s = %r" % (path, val))
    eq((d["sites"]["both"], d["sites"]["only_a"], d["sites"]["only_b"]), (4, 0, 0), "every site in both")
    out = diff(a, a).stdout
    check("[only in" not in out and "+" not in out.split("call sites")[1], "text: no change")


def t_no_sites():
    a, _ = trace_a()
    q, recs = trace("nostacks", ["-v"])
    d = diff_json(q, a)
    eq(d["sites"], None, "no sites compared")
    check("--stacks" in d["a"]["sites_unavailable"], "why: %r" % d["a"]["sites_unavailable"])
    eq(d["b"]["sites_unavailable"], None, "B has them")
    eq(d["bytes"]["live_peak"], v(summary(recs)["bytes"]["live_peak"], 521000), "the figures are still compared")
    out = diff(q, a).stdout
    check("call sites: not compared\n  A: the trace has no call sites" in out, "text says why: %r" % out[-300:])


def t_output_file():
    a, _ = trace_a()
    b, _ = trace_b()
    path = os.path.join(TMP, "d.json")
    p = diff("--json", "-o", path, a, b)
    eq(p.stdout, "", "nothing on stdout with -o")
    with open(path) as f:
        eq(json.load(f), diff_json(a, b), "-o FILE holds the document")


def t_bad_input():
    a, _ = trace_a()
    notrace = os.path.join(TMP, "notrace.txt")
    with open(notrace, "w") as f:
        f.write("hello\n")
    empty = os.path.join(TMP, "empty.jsonl")
    open(empty, "w").close()
    cases = [
        ([a], 64, "give two traces"),
        ([a, a, a], 64, "two traces at a time"),
        ([a, a, "--sort", "size"], 64, "invalid --sort 'size'"),
        ([a, a, "--top", "x"], 64, "invalid --top 'x'"),
        ([a, a, "--match", "line"], 64, "invalid --match 'line'"),
        ([a, a, "--bogus"], 64, "unrecognized option '--bogus'"),
        ([a, a, "--html"], 64, "requires an argument"),
        ([os.path.join(TMP, "missing.jsonl"), a], 1, "cannot open %s" % os.path.join(TMP, "missing.jsonl")),
        ([a, notrace], 1, "%s:1: not an allocmap JSON Lines record" % notrace),
        ([empty, a], 1, "no trace records"),
        ([a, a, "-o", "/nonexistent/d.txt"], 1, "cannot write /nonexistent/d.txt"),
    ]
    for args, code, msg in cases:
        p = run([TOOL, "diff"] + args)
        eq(p.returncode, code, "exit of diff %s" % " ".join(args))
        eq(p.stdout, "", "stdout of diff %s" % " ".join(args))
        check(p.stderr.count("\n") == 1 and p.stderr.startswith("allocmap: diff: ") and msg in p.stderr,
              "one clear line for %s: %r" % (" ".join(args), p.stderr))
    p = run([TOOL, "diff", "--help"])
    check(p.returncode == 0 and "EXAMPLES:" in p.stdout and "--match" in p.stdout, "--help")


# ---------------------------------------------------------------- the page

def chromium(args, timeout=60):
    if not os.path.exists(CHROMIUM):
        raise Skip("chromium not installed (bash scripts/deps.sh)")
    return harness_chromium(args, TMP, timeout)


def dom(html, script=None):
    """The page's DOM after its script ran (and script, when given, after it)."""
    if script:
        with open(html) as f:
            text = f.read()
        html = html + ".run.html"
        with open(html, "w") as f:
            f.write(text.replace("</body>", "<script>" + script + "</script></body>"))
    p = chromium(["--dump-dom", "--virtual-time-budget=5000", "file://" + html])
    check(p.returncode == 0 and "<html" in p.stdout, "chromium --dump-dom failed: %s" % p.stderr[-300:])
    check("data-error=" not in p.stdout, "a script error: %s" % re.findall(r'data-error="[^"]*"', p.stdout))
    check('data-ready="1"' in p.stdout, "the page's script did not finish")
    return re.sub(r"<script\b.*?</script>", "", p.stdout, flags=re.S)


def page_rows(page):
    return re.findall(r'<tr class="site-row" data-key="([^"]*)" data-in="(\w+)" data-delta="(-?\d+)">', page)


def t_html():
    a, ra = trace_a()
    b, rb = trace_b()
    html = os.path.join(TMP, "d.html")
    p = diff(a, b, "--html", html)
    check(p.stdout.startswith("allocmap diff: A = "), "the text still on stdout")
    with open(html) as f:
        text = f.read()
    for mark in ("/*@CSS@*/", "/*@DATA@*/", "/*@JS@*/"):
        check(mark not in text, "placeholder %s filled" % mark)
    check("--heap: #2f6fdb" in text, "the report's stylesheet")
    check("http://" not in text.replace("http://www.w3.org", "") and "https://" not in text, "no network")
    page = dom(html)
    rows = page_rows(page)
    eq([(k.split()[0], i, int(dl)) for k, i, dl in rows],
       [("site_big", "a", -300000), ("site_leak", "both", 14000), ("site_extra", "b", 8000),
        ("site_peak", "both", 0), ("site_temp", "both", 0)], "site rows, by the change")
    check(re.search(r'data-card="live, peak"><div class="k">live, peak</div><div class="v up">\+13\.7 KiB</div>', page),
          "the live-peak card shows +13.7 KiB")
    check('<tr class="cause-row" data-delta="-1" data-sys="mmap" data-cause="calloc">' in page, "mmap by calloc row")
    nsys = len({s for r in (ra, rb) for s in summary(r)["syscalls"]})
    eq(len(re.findall(r'<tr class="sys-row"', page)), nsys, "syscall rows")
    eq(len(re.findall(r'<div class="bar [ab]" data-side="[ab]"', page)),
       2 * len(re.findall(r'<tr class="(?:sys|cause)-row"', page)), "an A and a B bar per row")
    # a click on "B - A" sorts by the signed change, largest first
    page = dom(html, "document.querySelector('th[data-col=delta]').click();")
    eq([k.split()[0] for k, _, _ in page_rows(page)],
       ["site_leak", "site_extra", "site_peak", "site_temp", "site_big"], "sorted by B - A")
    # the figure buttons: leaked
    page = dom(html, "document.querySelector('button[data-fig=leak]').click();")
    eq([(k.split()[0], int(dl)) for k, _, dl in page_rows(page)][0], ("site_leak", 14000), "by the change in leaks")


def t_hostile_names():
    """A trace whose function names hold markup, quotes, a terminal escape
    and U+2028: shown as text everywhere, never as markup or raw bytes."""
    a, _ = trace_a()
    b, _ = trace_b()
    evil = "</script><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">\x1b[2J\u2028&amp;"
    bad = os.path.join(TMP, "hostile.jsonl")
    with open(b) as f, open(bad, "w") as g:
        for line in f:
            g.write(line.replace('"sym":"site_extra"', '"sym":' + json.dumps(evil)))
    d = diff_json(a, bad)
    eq([r["frame"]["sym"] for r in d["sites"]["rows"] if r["in"] == "b"], [evil], "the name, intact in the JSON")
    out = diff(a, bad).stdout
    check("\x1b" not in out and "\\x1b[2J" in out, "text: the escape shown, not sent")
    html = os.path.join(TMP, "hostile.html")
    diff(a, bad, "--html", html)
    with open(html) as f:
        text = f.read()
    check(text.count("</script>") == 2, "no string ends a script element: %d" % text.count("</script>"))
    page = dom(html)
    check('data-pwned="1"' not in page and "<img" not in re.sub(r'="[^"]*"', '=""', page), "no markup from the trace")
    check("&lt;/script&gt;&lt;img src=x onerror=" in page, "the name shown as text")


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("t_") and callable(f)]

if __name__ == "__main__":
    try:
        rc = run_tests("diff", TESTS, sys.argv[1:], before=needs(TOOL, PROG))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
