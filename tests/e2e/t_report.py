#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_report.py - end-to-end tests of allocmap's HTML report and Perfetto export.

Run as root from the repository root after `make` (tests/run-all.sh runs it).
Python 3 standard library only. Each test prints `ok NAME` or `FAIL NAME: why`
(or `SKIP NAME: why`); the run ends with exactly "report: N passed, N failed".
Without root, BPF or Chromium the tracing tests are skipped loudly; with
CI=true a skip counts as a failure.

The traces are real: .output/progs/scenarios is traced with
`allocmap trace --json -v`, the report is made from that JSONL with
`allocmap report`, and headless Chromium (Debian's `chromium`) loads it. The
rendered DOM (--dump-dom, after the page's script ran) must show exactly as
many OS-request markers, OS table rows, regions, function rows and counters
as the JSONL has records for. A screenshot of the thread_arena report is
saved to /tmp/allocmap-report.png for a human to look at.

The flame graph and leak report tests trace .output/progs/stacks (known
call paths: parse_config -> malloc(200000) -> mmap, ...) with --stacks=os
and --stacks: every program function's frame must weigh exactly the bytes
its OS requests obtained in the JSONL, the leak table must name
leak_buffer with its bytes; the flame graph section is saved to
/tmp/allocmap-flame.png.
"""

import collections
import html as htmlmod
import json
import os
import re
import shutil
import sys
import tempfile
import time

from harness import CHROMIUM, CI, Fail, ROOT, Skip, TOOL, check, eq, run, run_tests
from harness import chromium as harness_chromium

SCEN = os.path.join(ROOT, ".output", "progs", "scenarios")
STACKS = os.path.join(ROOT, ".output", "progs", "stacks")
ALLFNS = os.path.join(ROOT, ".output", "progs", "allfns")
PHASES = os.path.join(ROOT, ".output", "progs", "phases")
SHOT = "/tmp/allocmap-report.png"
FLAME_SHOT = "/tmp/allocmap-flame.png"
TMP = tempfile.mkdtemp(prefix="t_report.")


def environment_problem():
    if os.geteuid() != 0:
        return "not root (BPF tracing needs CAP_BPF/CAP_PERFMON)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "no BTF at /sys/kernel/btf/vmlinux"
    if not os.path.exists(CHROMIUM):
        return "chromium not installed (bash scripts/deps.sh)"
    return None


_traces = {}


def trace(scenario, *extra, prog=SCEN):
    """JSONL records of `allocmap trace --json -v -- scenarios SCENARIO`."""
    key = (scenario,) + extra
    if key in _traces:
        return _traces[key]
    path = os.path.join(TMP, "%s.jsonl" % "_".join(key))
    p = run([TOOL, "trace", "--json", "-v", "-o", path, "--", prog, scenario] + list(extra), timeout=120)
    if p.returncode != 0:
        raise Fail("allocmap trace %s exited %d: %s" % (scenario, p.returncode, p.stderr.strip()[-400:]))
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    _traces[key] = (path, recs)
    return path, recs


def chromium(args, timeout=60):
    return harness_chromium(args, TMP, timeout)


def dom(html_path):
    p = chromium(["--dump-dom", "--virtual-time-budget=5000", "file://" + html_path])
    check(p.returncode == 0 and "<html" in p.stdout, "chromium --dump-dom failed: %s" % p.stderr[-300:])
    check('data-ready="1"' in p.stdout, "the report's script did not finish (a JavaScript error?)")
    # count rendered elements only, not the script's and data's own text
    return re.sub(r"<script\b.*?</script>", "", p.stdout, flags=re.S)


def report(jsonl, name, perfetto=False):
    html = os.path.join(TMP, name + ".html")
    args = [TOOL, "report", jsonl, "-o", html]
    pf = os.path.join(TMP, name + ".perfetto.json")
    if perfetto:
        args += ["--perfetto", pf]
    p = run(args)
    if p.returncode != 0:
        raise Fail("allocmap report exited %d: %s" % (p.returncode, p.stderr.strip()))
    return html, pf


def count(pattern, text):
    return len(re.findall(pattern, text))


def expected(recs):
    os_recs = [r for r in recs if r["type"] == "os"]
    calls = [r for r in recs if r["type"] == "call"]
    summ = [r for r in recs if r["type"] == "summary"][-1]
    regions = (1 if any(r["syscall"] == "brk" for r in os_recs) else 0) + \
        sum(1 for r in os_recs if r["syscall"] == "mmap" and r.get("region") in ("mmap", "arena") and "error" not in r)
    allocating = [c for c in calls if c["fn"] != "free" and not c.get("nested") and not c.get("missed")
                  and c.get("ret", "0x0") != "0x0"]
    return os_recs, calls, summ, regions, allocating


def check_dom(recs, page):
    os_recs, calls, summ, regions, allocating = expected(recs)
    # the loader's startup requests are folded by default: one row / band per process
    shown = [r for r in os_recs if not r.get("startup")]
    startup = [r for r in os_recs if r.get("startup")]
    check(startup, "no startup request in a launched command's trace")
    eq(count(r'class="os-marker"', page), len(shown), "OS-request markers on the timeline (startup folded)")
    eq(count(r'class="os-row', page), len(shown), "OS table rows (startup folded)")
    eq(re.findall(r'<tr class="startup-row" data-n="(\d+)"', page), [str(len(startup))], "the folded startup row")
    eq(count(r'<div class="region[ "]', page), regions, "regions on the address map")
    eq(count(r'class="fn-row"', page), len(summ["functions"]), "function table rows")
    eq(count(r'class="sys-row"', page), len(summ["syscalls"]), "syscall table rows")
    eq(count(r'class="counter-row"', page), len(summ["counters"]), "summary counter rows")
    m = re.search(r'data-points="(\d+)"', page)
    check(m, "threshold view has no data-points attribute")
    eq(int(m.group(1)), len(allocating), "points in the threshold view")
    check("lost events" in page, "no lost-events card")


# ---------------- tests ----------------

def t_thread_arena_dom():
    path, recs = trace("thread_arena")
    html, _ = report(path, "thread_arena")
    page = dom(html)
    check_dom(recs, page)
    # the arena and the heap, each with the call that created it
    check(count(r'data-kind="arena"', page) == 1, "one arena region expected")
    check(count(r'data-kind="heap"', page) == 1, "one heap region expected")
    check("by malloc(100)" in page, "region rows do not name the creating call")
    # filled markers = OS requests caused by calls, hollow = direct
    direct = sum(1 for r in recs if r["type"] == "os" and r["cause"]["kind"] == "direct" and not r.get("startup"))
    eq(count(r'class="os-marker"[^>]*fill="#fff"', page), direct, "hollow (direct) markers")
    p = chromium(["--screenshot=" + SHOT, "--window-size=1400,2000", "--virtual-time-budget=5000", "file://" + html])
    check(os.path.exists(SHOT) and os.path.getsize(SHOT) > 20000, "no screenshot written: %s" % p.stderr[-200:])


def t_dyn_threshold_dom():
    path, recs = trace("dyn_threshold")
    html, _ = report(path, "dyn_threshold")
    page = dom(html)
    check_dom(recs, page)
    eq(count(r'data-kind="mmap"', page), 1, "mmap chunk regions")
    check("mmap threshold 1 MiB" in page or "1.00 MiB" in page or "1 MiB" in page, "threshold move not shown")


def t_realloc_mremap_dom():
    path, recs = trace("realloc_mremap")
    html, _ = report(path, "realloc_mremap")
    page = dom(html)
    check_dom(recs, page)
    check(count(r'<span class="sys" style="background:#8a4fd8">mremap', page) >= 1, "no mremap row")


def perfetto_expect(recs):
    os_recs = [r for r in recs if r["type"] == "os"]
    calls = [r for r in recs if r["type"] == "call" and r.get("os")]
    by_call = [r for r in os_recs if r["cause"]["kind"] == "call"]
    direct = [r for r in os_recs if r["cause"]["kind"] != "call"]
    return calls, by_call, direct


def check_perfetto(recs, pf):
    with open(pf) as f:
        doc = json.load(f)              # must be valid JSON
    ev = doc["traceEvents"]
    calls, by_call, direct = perfetto_expect(recs)
    xs = [e for e in ev if e["ph"] == "X"]
    eq(len([e for e in xs if e["cat"] == "alloc"]), len(calls), "X slices for calls that made OS requests")
    eq(len([e for e in xs if e["cat"] == "os"]), len(by_call), "nested X slices for OS requests")
    eq(len([e for e in ev if e["ph"] == "i" and e["cat"] == "os"]), len(direct), "instant events for direct OS requests")
    names = collections.Counter(e["name"] for e in ev if e["ph"] == "C")
    for n in ("brk heap", "mmapped", "live"):
        check(names[n] >= 1, "no %r counter events" % n)
    for e in ev:
        check(isinstance(e.get("ts", 0), (int, float)), "ts is not a number")
        if e["ph"] in ("X", "i", "C"):
            check("pid" in e, "event without pid")
        if e["ph"] in ("X", "i"):
            check("tid" in e, "slice/instant without tid")
    # every OS slice sits inside its call's slice, on the same thread
    slices = {(e["args"]["id"]): e for e in xs if e["cat"] == "alloc"}
    for e in xs:
        if e["cat"] != "os":
            continue
        c = slices.get(e["args"]["cause"]["call_id"])
        check(c is not None, "OS slice #%d has no call slice" % e["args"]["id"])
        eq((e["pid"], e["tid"]), (c["pid"], c["tid"]), "OS slice's track")
        check(c["ts"] <= e["ts"] and e["ts"] + e["dur"] <= c["ts"] + c["dur"] + 0.002,
              "OS slice #%d not nested in its call's slice" % e["args"]["id"])


def t_perfetto_structure():
    for scen in ("thread_arena", "realloc_mremap", "dyn_threshold"):
        path, recs = trace(scen)
        _, pf = report(path, scen + "_pf", perfetto=True)
        check_perfetto(recs, pf)


def t_trace_html_and_perfetto_flags():
    html = os.path.join(TMP, "direct.html")
    pf = os.path.join(TMP, "direct.json")
    jl = os.path.join(TMP, "direct.jsonl")
    p = run([TOOL, "trace", "--json", "-v", "-o", jl, "--html", html, "--perfetto", pf, "--", SCEN, "direct_mmap"])
    eq(p.returncode, 0, "allocmap trace --html --perfetto exit status (%s)" % p.stderr.strip()[-300:])
    with open(jl) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    check_dom(recs, dom(html))
    check_perfetto(recs, pf)


def t_stack_records_shown():
    """A later `stack` array on call/os records is optional: the report must
    render with or without it, and show it when present."""
    path, recs = trace("mmap_128k")
    out = os.path.join(TMP, "stack.jsonl")
    frame = {"addr": "0x401136", "sym": "make_big_buffer", "off": 22, "obj": "/usr/bin/x", "file": "x.c", "line": 42}
    with open(out, "w") as f:
        for r in recs:
            if r["type"] in ("call", "os"):
                r = dict(r, stack=[frame, dict(frame, sym="main", line=7)])
            f.write(json.dumps(r) + "\n")
    html, pf = report(out, "stack", perfetto=True)
    page = dom(html)
    check_dom(recs, page)
    check("make_big_buffer" in open(html).read(), "stack frames not carried into the report")
    check_perfetto(recs, pf)


def t_large_trace_decimated():
    path, recs = trace("churn", "30000")
    html, _ = report(path, "churn")
    size = os.path.getsize(html)
    check(size < 8 << 20, "report of %d events is %d bytes: not decimated?" % (len(recs), size))
    t0 = time.monotonic()
    page = dom(html)
    print("  chromium loaded the %d-call report in %.1f s" % (len(recs), time.monotonic() - t0))
    check('data-mode="grid"' in page, "threshold view not aggregated into a grid for %d calls" % len(recs))
    check("random sample" in page, "report does not say the address map is sampled")
    calls = sum(1 for r in recs if r["type"] == "call")
    check(calls >= 60000, "churn 30000 should make >= 60000 calls, got %d" % calls)


def trace_stacks(mode):
    """`allocmap trace --stacks[=os] --json --html` of the stacks program."""
    key = ("stacks", mode)
    if key in _traces:
        return _traces[key]
    jl = os.path.join(TMP, "stacks_%s.jsonl" % mode)
    html = os.path.join(TMP, "stacks_%s.html" % mode)
    p = run([TOOL, "trace", "--stacks=" + mode, "--json", "-o", jl, "--html", html, "--", STACKS], timeout=120)
    if p.returncode != 0:
        raise Fail("allocmap trace --stacks=%s exited %d: %s" % (mode, p.returncode, p.stderr.strip()[-400:]))
    with open(jl) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    _traces[key] = (html, recs)
    return html, recs


def page4k(n):
    return (n + 4095) & ~4095


def os_bytes(r, prev_brk):
    """Bytes an OS request obtained (README, --folded): what the flame graph weighs."""
    if "error" in r:
        return 0
    s = r["syscall"]
    if s == "mmap":
        return page4k(r["len"]) if "MAP_ANONYMOUS" in r.get("flags", "") and r.get("prot") != "PROT_NONE" else 0
    if s == "mremap":
        return max(0, page4k(r["new_len"]) - page4k(r["len"]))
    if s == "brk":
        ret, addr = int(r["ret"], 16), int(r["addr"], 16)
        return ret - prev_brk if addr and ret == addr and prev_brk and ret > prev_brk else 0
    if s == "mprotect":
        return page4k(r["len"]) if "PROT_WRITE" in r.get("prot", "") and r["cause"]["kind"] != "direct" else 0
    return 0


def flame_expect(recs):
    """Per function name: [bytes, count] over the OS requests whose stack holds it."""
    want = collections.defaultdict(lambda: [0, 0])
    brk = {}
    for r in recs:
        if r["type"] != "os":
            continue
        prev = 0
        if r["syscall"] == "brk" and "error" not in r:
            prev = brk.get(r["pid"], 0)
            brk[r["pid"]] = int(r["ret"], 16) or prev
        if not r.get("stack"):
            continue
        w = os_bytes(r, prev)
        for name in set(f.get("sym") for f in r["stack"] if f.get("sym")):
            want[name][0] += w
            want[name][1] += 1
    return want


def frames(page):
    """Rendered flame-graph frames: (name, obj, kind, bytes, count, is_ancestor)."""
    out = []
    for m in re.finditer(r'<g class="fg-frame([^"]*)" data-i="\d+" data-name="([^"]*)" data-obj="([^"]*)" '
                         r'data-bytes="(\d+)" data-count="(\d+)" data-kind="(\w+)"', page):
        out.append((m.group(2), m.group(3), m.group(6), int(m.group(4)), int(m.group(5)), "anc" in m.group(1)))
    return out


def dom_after(html, name, script):
    """The DOM after script ran on a copy of the report (clicks, toggles)."""
    with open(html) as f:
        text = f.read()
    copy = os.path.join(TMP, name + ".html")
    with open(copy, "w") as f:
        f.write(text.replace("</body>", "<script>" + script + "</script></body>"))
    return dom(copy)


def t_flame_stacks_os():
    html, recs = trace_stacks("os")
    page = dom(html)
    fr = frames(page)
    check(fr, "no flame-graph frames rendered")
    check("flame-empty" not in page, "the page says there are no stacks")
    want = flame_expect(recs)
    prog = os.path.basename(STACKS)
    got = collections.defaultdict(lambda: [0, 0])
    for name, obj, kind, b, c, anc in fr:
        if obj == prog:
            got[name][0] += b
            got[name][1] += c
    # the known call paths (tests/progs/stacks.c), weights from the JSONL
    eq(want["parse_config"][0], page4k(200000), "JSONL: parse_config's mmap bytes")
    eq(want["load_table"][0], page4k(1000 * 300), "JSONL: load_table's mmap bytes")
    eq(want["direct_map"][0], 65536, "JSONL: direct_map's mmap bytes")
    check(want["init_heap"][0] >= 132 * 1024, "JSONL: init_heap's brk growth %d" % want["init_heap"][0])
    for name in ("parse_config", "load_table", "init_heap", "direct_map", "run_steps", "main"):
        eq(got[name][0], want[name][0], "flame graph bytes of %s" % name)
        eq(got[name][1], want[name][1] if want[name][0] else 0, "flame graph OS requests of %s" % name)
    eq(got["run_steps"][0], page4k(200000) + page4k(300000), "run_steps = parse_config + load_table")
    check("leak_buffer" not in got, "leak_buffer made no OS request, yet it is in the flame graph")
    # the root weighs every byte, allocator internals are marked, syscalls are leaves
    total = sum(os_bytes_all(recs))
    m = re.search(r'id="flame-svg" [^>]*data-total="(\d+)"', page)
    check(m, "no flame-graph svg with data-total")
    eq(int(m.group(1)), total, "flame graph total bytes")
    check(any(n == "__libc_malloc" and k == "alloc" for n, o, k, b, c, a in fr), "malloc's frame not marked as allocator internals")
    check(any(n == "mmap" and k == "sys" and b == page4k(200000) for n, o, k, b, c, a in fr), "no mmap leaf of parse_config's weight")
    check("bytes obtained from the OS" in page, "the page does not say what the weight is")
    # OS requests (count) mode: munmap frames appear, bytes mode has none
    check(not any(n == "munmap" for n, o, k, b, c, a in fr), "munmap (0 bytes) drawn in bytes mode")
    cpage = dom_after(html, "stacks_count", "document.getElementById('fg-count').click();")
    check('data-mode="count"' in cpage, "count toggle did not switch the flame graph")
    munmaps = sum(1 for r in recs if r["type"] == "os" and r["syscall"] == "munmap" and r.get("stack"))
    eq(sum(c for n, o, k, b, c, a in frames(cpage) if n == "munmap" and k == "sys"), munmaps, "munmap leaves in count mode")
    # click zooms: parse_config fills the width, load_table is gone, ancestors dimmed
    zpage = dom_after(html, "stacks_zoom", "document.querySelector('.fg-frame[data-name=parse_config]')"
                      ".dispatchEvent(new MouseEvent('click', {bubbles: true}));")
    zf = frames(zpage)
    check(any(n == "parse_config" and not a for n, o, k, b, c, a in zf), "parse_config missing after zooming into it")
    check(not any(n == "load_table" for n, o, k, b, c, a in zf), "zoom did not hide load_table")
    check(any(n == "run_steps" and a for n, o, k, b, c, a in zf), "ancestors not shown above the zoomed frame")
    check("reset zoom" in zpage, "no reset control")
    # collapsing allocator internals keeps the weights, drops the inner frames
    cpage = dom_after(html, "stacks_collapse", "document.getElementById('fg-collapse').click();")
    cf = frames(cpage)
    check(not any(n == "sysmalloc" for n, o, k, b, c, a in cf), "collapsed view still shows sysmalloc")
    eq(sum(b for n, o, k, b, c, a in cf if n == "parse_config"), page4k(200000), "parse_config collapsed")
    # with --stacks=os the leak report exists but small heap leaks have no stack
    leaks = [r for r in recs if r["type"] == "leaks"]
    check(leaks, "no leaks record in the --stacks=os trace")
    rows = re.findall(r'<tr class="leak-row" data-top="([^"]*)" data-bytes="(\d+)" data-count="(\d+)"', page)
    eq(len(rows), min(len(leaks[-1]["groups"]), 200), "leak table rows")
    check("stack unknown" in page, "a leak group without a stack is not explained")
    size = os.path.getsize(html)
    check(size < 1 << 20, "stacks report is %d bytes" % size)


def os_bytes_all(recs):
    brk = {}
    for r in recs:
        if r["type"] != "os":
            continue
        prev = 0
        if r["syscall"] == "brk" and "error" not in r:
            prev = brk.get(r["pid"], 0)
            brk[r["pid"]] = int(r["ret"], 16) or prev
        if r.get("stack"):
            yield os_bytes(r, prev)


def t_leaks_stacks_all():
    html, recs = trace_stacks("all")
    page = dom(html)
    rows = re.findall(r'<tr class="leak-row" data-top="([^"]*)" data-bytes="(\d+)" data-count="(\d+)"', page)
    check(rows, "no leak table rows")
    eq(rows[0], ("leak_buffer", str(3 * 12345), "3"), "largest leak group")
    check(re.search(r'<b>leak_buffer</b><span class="where">stacks\.c:\d+', page), "leak row lacks leak_buffer's file:line")
    eq(sum(b for n, o, k, b, c, a in frames(page) if n == "parse_config"), page4k(200000), "parse_config bytes with --stacks")
    # the flame graph and leak sections, on their own, for a human to look at
    with open(html) as f:
        text = f.read()
    shot_html = os.path.join(TMP, "flame_shot.html")
    with open(shot_html, "w") as f:
        f.write(text.replace("</head>", "<style>#timeline-panel,#map-panel,#threshold-panel{display:none}</style></head>"))
    if os.path.exists(FLAME_SHOT):
        os.unlink(FLAME_SHOT)
    p = chromium(["--screenshot=" + FLAME_SHOT, "--window-size=1400,1100", "--virtual-time-budget=5000", "file://" + shot_html])
    check(os.path.exists(FLAME_SHOT) and os.path.getsize(FLAME_SHOT) > 20000, "no flame screenshot: %s" % p.stderr[-200:])


def t_flame_without_stacks():
    path, recs = trace("thread_arena")
    html, _ = report(path, "thread_arena_nostacks")
    page = dom(html)
    check('id="flame-empty"' in page and "--stacks=os" in page, "no-stacks flame section does not say how to get one")
    check('id="leaks-empty"' in page and "--stacks" in page, "no-leaks section does not say how to get one")
    eq(len(frames(page)), 0, "flame frames without stacks")


def data_block(html):
    """The report's embedded data (the am-data JSON) as report.c wrote it."""
    with open(html) as f:
        m = re.search(r'<script id="am-data" type="application/json">(.*?)</script>', f.read(), re.S)
    check(m, "no am-data block in %s" % html)
    return json.loads(m.group(1))


def text_of(page, elem_id):
    m = re.search(r'<[a-z]+ id="%s"[^>]*>(.*?)</' % elem_id, page, re.S)
    check(m, "no #%s in the page" % elem_id)
    return m.group(1)


def t_header_numbers():
    """--stacks: the header counts the summary's events, names the command
    line (escaped: hostile text), and the time axis ends at the last
    activity, not when allocmap finished (the leaks/sites records)."""
    html = os.path.join(TMP, "hdr.html")
    jl = os.path.join(TMP, "hdr.jsonl")
    pf = os.path.join(TMP, "hdr.pf.json")
    evil = "<b id=evil>x</b> 'q'"
    p = run([TOOL, "trace", "--stacks", "--json", "-o", jl, "--html", html, "--perfetto", pf, "--", STACKS, evil],
            timeout=120)
    eq(p.returncode, 0, "allocmap trace --stacks --html exit status (%s)" % p.stderr.strip()[-300:])
    with open(jl) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    eq(recs[0]["cmd"], [STACKS, evil], "the trace record's command line")
    summ = [r for r in recs if r["type"] == "summary"][-1]
    events = [r for r in recs if r["type"] in ("call", "os", "task")]
    eq(summ["counters"]["events"], len(events), "the summary's events = call, os and task records")
    page = dom(html)
    meta = text_of(page, "meta")
    check(meta.endswith("  ·  %d events" % len(events)), "header does not say %d events: %r" % (len(events), meta))
    quoted = "'" + evil.replace("'", "'\\''") + "'"
    shown = ("$ %s %s" % (STACKS, quoted)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    eq(text_of(page, "cmdline"), shown, "the command line shown")
    check('id="evil"' not in page, "the command line was parsed as HTML")
    t0 = recs[0]["ts_ns"]
    end = max(r["ts_ns"] + r.get("dur_ns", 0) for r in events) - t0
    last = max(r["ts_ns"] for r in recs if r["type"] in ("leaks", "sites")) - t0
    check(last > end, "the leaks/sites records should come after the last activity (%d <= %d)" % (last, end))
    eq(data_block(html)["duration"], end, "the report's duration (ns after t = 0)")
    m = re.search(r'<svg [^>]*id="timeline-svg" data-v0="0" data-v1="(\d+)"', page)
    check(m, "no timeline svg with its range")
    eq(int(m.group(1)), end, "the timeline's time axis ends at the last activity")
    with open(pf) as f:
        names = {(e["name"], e.get("tid")): e["args"]["name"] for e in json.load(f)["traceEvents"] if e["ph"] == "M"}
    pid = recs[0]["pid"]
    eq(names.get(("process_name", None)), "stacks (pid %d)" % pid, "Perfetto process name")
    eq(names.get(("thread_name", pid)), "stacks", "Perfetto main thread name")


def t_threshold_exact_and_untimed():
    """dyn_threshold's threshold ends at 1028 KiB: shown so, not rounded to
    1 MiB; a call without dur_ns (a free with no return probe) has no
    average time ('–'), not 0 ns."""
    path, recs = trace("dyn_threshold")
    summ = [r for r in recs if r["type"] == "summary"][-1]
    eq(summ["threshold"]["end"], 1028 * 1024, "dyn_threshold's final threshold")
    out = os.path.join(TMP, "untimed.jsonl")
    with open(out, "w") as f:
        for r in recs:
            if r["type"] == "call" and r["fn"] == "free":
                r = {k: v for k, v in r.items() if k != "dur_ns"}
            f.write(json.dumps(r) + "\n")
    html, _ = report(out, "untimed")
    page = dom(html)
    check(re.search(r'mmap threshold</div><div class="v">1028 KiB</div>', page), "threshold card is not 1028 KiB")
    check('mmap threshold</td><td class="num">128 KiB → 1028 KiB</td>' in page, "threshold counter row not exact")
    rows = dict(re.findall(r'<tr class="fn-row"><td><b>(\w+)</b></td>(?:<td[^>]*>[^<]*</td>){5}<td class="num"[^>]*>([^<]*)</td>', page))
    eq(rows.get("free"), "–", "free's average time without durations")
    check(rows.get("malloc", "–") not in ("–", "0 ns"), "malloc's average time: %r" % rows.get("malloc"))


SORT_SEARCH_JS = r"""
const rowIds = () => Array.from(document.querySelectorAll('#os-table tr.os-row')).map(r => r.id.replace('os-row-', ''));
document.querySelector('#os-table th[data-sort="dur"]').click();
document.body.setAttribute('data-os-sorted', rowIds().slice(0, 5).join(','));
const q = document.getElementById('os-search'); q.value = 'MUNMAP'; q.dispatchEvent(new Event('input'));
document.body.setAttribute('data-os-found', rowIds().join(','));
document.querySelector('#fn-table th:nth-child(2)').click();
document.body.setAttribute('data-fn-calls', Array.from(document.querySelectorAll('#fn-table tr.fn-row')).map(r => r.cells[1].getAttribute('data-v')).join(','));
document.querySelector('#fn-table th:nth-child(2)').click();
document.body.setAttribute('data-fn-calls-rev', Array.from(document.querySelectorAll('#fn-table tr.fn-row')).map(r => r.cells[1].getAttribute('data-v')).join(','));
const c = document.getElementById('counters-search'); c.value = 'lost'; c.dispatchEvent(new Event('input'));
document.body.setAttribute('data-counters-shown', Array.from(document.querySelectorAll('#counters-table tr.counter-row')).filter(r => !r.hidden).map(r => r.cells[0].textContent).join('|'));
"""


def t_tables_sort_search():
    """The OS, function and counter tables sort on a header click (again:
    reversed) and filter with their search boxes: the rows that remain,
    and their order, are the JSONL's."""
    path, recs = trace("thread_arena")
    html, _ = report(path, "sortsearch")
    page = dom_after(html, "sortsearch_after", SORT_SEARCH_JS)
    attr = lambda k: re.search(r'<body[^>]* %s="([^"]*)"' % k, page).group(1)
    os_recs = [r for r in recs if r["type"] == "os" and not r.get("startup")]   # startup: folded
    check(len(os_recs) >= 5, "thread_arena made %d OS requests" % len(os_recs))
    want = [str(r["id"]) for r in sorted(os_recs, key=lambda r: (-r.get("dur_ns", 0), r["id"]))[:5]]
    eq(attr("data-os-sorted").split(","), want, "OS requests sorted by time taken, longest first")
    found = [str(r["id"]) for r in sorted(os_recs, key=lambda r: (-r.get("dur_ns", 0), r["id"])) if r["syscall"] == "munmap"]
    check(found, "thread_arena made no munmap")
    eq(attr("data-os-found").split(","), found, "OS rows found by 'MUNMAP' (case-insensitive), still sorted")
    summ = [r for r in recs if r["type"] == "summary"][-1]
    calls = sorted((f["calls"] for f in summ["functions"].values()), reverse=True)
    eq([int(x) for x in attr("data-fn-calls").split(",")], calls, "functions sorted by calls, most first")
    eq([int(x) for x in attr("data-fn-calls-rev").split(",")], calls[::-1], "a second click reverses")
    lost = [k.replace("_", " ") for k in summ["counters"] if "lost" in k]
    check(lost, "no lost_* counter in the summary")
    eq(attr("data-counters-shown").split("|"), lost, "counter rows left by the search 'lost'")


RANGE_JS = r"""
const rows = () => Array.from(document.querySelectorAll('#os-table tr.os-row')).map(r => r.id.replace('os-row-', '')).join(',');
const sel = document.getElementById('tid-filter');
sel.value = sel.options[2].value; sel.dispatchEvent(new Event('change'));
document.body.setAttribute('data-tid', sel.value);
document.body.setAttribute('data-tid-rows', rows());
// 8 px around the thread's first marker: a range that holds it, whatever the timing
const area = document.querySelector('#timeline-svg rect[style*="crosshair"]'), r = area.getBoundingClientRect();
const svgLeft = document.getElementById('timeline-svg').getBoundingClientRect().left;
const cx = Math.min(...Array.from(document.querySelectorAll('.os-marker')).map(m => +m.getAttribute('cx')));
const ev = (type, x) => area.dispatchEvent(new MouseEvent(type, { clientX: svgLeft + x, clientY: r.top + 20, bubbles: true }));
ev('mousedown', cx - 4); ev('mousemove', cx + 4); ev('mouseup', cx + 4);
const svg = document.getElementById('timeline-svg');
document.body.setAttribute('data-range', svg.getAttribute('data-v0') + ',' + svg.getAttribute('data-v1'));
document.body.setAttribute('data-range-rows', rows());
document.body.setAttribute('data-range-markers', Array.from(document.querySelectorAll('.os-marker')).map(m => m.getAttribute('data-id')).join(','));
document.getElementById('range-clear').click();
document.body.setAttribute('data-cleared-rows', document.querySelectorAll('#os-table tr.os-row').length);
"""


def t_range_and_thread_filter():
    """Choosing a thread, then dragging a time range on the timeline, leaves
    exactly that thread's OS requests in that range in the OS table and on
    the timeline; 'show everything' brings every row back."""
    path, recs = trace("thread_arena")
    html, _ = report(path, "range")
    page = dom_after(html, "range_after", RANGE_JS)
    attr = lambda k: re.search(r'<body[^>]* %s="([^"]*)"' % k, page).group(1)
    os_recs = [r for r in recs if r["type"] == "os" and not r.get("startup")]   # startup: folded
    t0 = recs[0]["ts_ns"]
    tids = sorted({r["tid"] for r in os_recs} | {r["tid"] for r in recs if r["type"] == "call"})
    check(len(tids) >= 2, "thread_arena ran %d threads" % len(tids))
    tid = int(attr("data-tid"))
    eq(tid, tids[1], "the second thread in the filter")
    ids = lambda rs: ",".join(str(r["id"]) for r in rs)
    mine = [r for r in os_recs if r["tid"] == tid]
    check(mine, "thread %d made no OS request" % tid)
    eq(attr("data-tid-rows"), ids(mine), "OS rows of thread %d" % tid)
    v0, v1 = (float(x) for x in attr("data-range").split(","))
    check(0 < v0 < v1, "no range selected: %r" % attr("data-range"))
    inr = [r for r in mine if v0 <= max(0, r["ts_ns"] - t0) <= v1]
    check(inr and len(inr) < len(os_recs), "the range should hold some, not all, requests (%d)" % len(inr))
    eq(attr("data-range-rows"), ids(inr), "OS rows of thread %d in %.0f..%.0f ns" % (tid, v0, v1))
    eq(sorted(attr("data-range-markers").split(",")) if inr else [""], sorted(str(r["id"]) for r in inr) or [""],
       "timeline markers in the range")
    eq(int(attr("data-cleared-rows")), len(os_recs), "OS rows after 'show everything'")


STARTUP_JS = r"""
const ids = sel => Array.from(document.querySelectorAll(sel)).map(e => e.id ? e.id.replace('os-row-', '') : e.getAttribute('data-id')).join(',');
const snap = k => {
  document.body.setAttribute('data-' + k + '-rows', ids('#os-table tr.os-row'));
  document.body.setAttribute('data-' + k + '-markers', ids('.os-marker'));
  document.body.setAttribute('data-' + k + '-group', Array.from(document.querySelectorAll('#os-table tr.startup-row')).map(r => r.getAttribute('data-n') + ':' + r.textContent).join('|'));
  document.body.setAttribute('data-' + k + '-band', Array.from(document.querySelectorAll('.startup-band')).map(r => r.getAttribute('data-n')).join(','));
  document.body.setAttribute('data-' + k + '-buttons', ['tl-startup', 'os-startup'].map(i => document.getElementById(i).getAttribute('data-folded') + ':' + document.getElementById(i).textContent).join('|'));
};
snap('folded');
document.getElementById('tl-startup').click();
snap('open');
document.getElementById('os-startup').click();
snap('again');
"""


def t_startup_fold():
    """The loader's startup requests ("startup":true) are folded by default
    into one table row and one timeline band with their count; either
    control (timeline or table) unfolds both, and folds them again."""
    path, recs = trace("thread_arena")
    html, _ = report(path, "startup")
    page = dom_after(html, "startup_after", STARTUP_JS)
    attr = lambda k: re.search(r'<body[^>]* data-%s="([^"]*)"' % k, page).group(1)
    os_recs = [r for r in recs if r["type"] == "os"]
    startup = [r for r in os_recs if r.get("startup")]
    rest = [r for r in os_recs if not r.get("startup")]
    check(len(startup) >= 5 and rest, "thread_arena: %d startup requests, %d others" % (len(startup), len(rest)))
    # the records' order: startup ones come first, before main
    eq([r["id"] for r in os_recs[:len(startup)]], [r["id"] for r in startup], "startup requests first")
    ids = lambda rs: ",".join(str(r["id"]) for r in rs)
    n = len(startup)
    label = "the %d startup requests" % n
    for state in ("folded", "again"):
        eq(attr(state + "-rows"), ids(rest), "OS rows, %s" % state)
        eq(sorted(attr(state + "-markers").split(",")), sorted(str(r["id"]) for r in rest), "markers, %s" % state)
        eq(attr(state + "-band"), str(n), "the timeline's startup band, %s" % state)
        group = attr(state + "-group")
        check(group.startswith("%d:" % n) and ("startup: %d requests by the dynamic loader, until " % n) in group,
              "the folded row, %s: %r" % (state, group))
        by = collections.Counter(r["syscall"] for r in startup)
        for sc, k in by.items():
            check("%s %d" % (sc, k) in group, "the folded row lacks %s %d: %r" % (sc, k, group))
        eq(attr(state + "-buttons"), "1:\u25b8 show %s|1:\u25b8 show %s" % (label, label), "both controls, %s" % state)
    eq(attr("open-rows"), ids(os_recs), "OS rows, unfolded")
    eq(sorted(attr("open-markers").split(",")), sorted(str(r["id"]) for r in os_recs), "markers, unfolded")
    eq((attr("open-band"), attr("open-group")), ("", ""), "no band nor folded row, unfolded")
    eq(attr("open-buttons"), "0:\u25be fold %s|0:\u25be fold %s" % (label, label), "both controls, unfolded")


SYSCALL_NAMES = ("brk", "mmap", "munmap", "mremap", "mprotect", "madvise")
ADDR = re.compile(r"0x[0-9a-f]{8,}")   # addresses differ between two runs; offsets and sizes do not


def text_notation(path):
    """The calls and the OS requests of a `trace -v --startup` text file, in
    order, as it writes them (tags in [...] and brk's growth left out)."""
    calls, oss = [], []
    tail = re.compile(r" \((?:[+-][^)]*|refused|arena)\)$")
    for line in open(path):
        m = re.match(r"^\s*-?\d+\.\d+ \[\d+(?:/\d+)?\] (.*)$", line) or re.match(r"^\s+-> (.*)$", line)
        if not m:
            continue
        body = m.group(1).rstrip("\n")
        if re.match(r"(\+\+\+|---|threshold |startup: )", body):
            continue
        body = body.split("  [")[0]
        pieces = body.split(" -> ")
        first = pieces[0]
        if line.lstrip().startswith("->") or first.split("(")[0] in SYSCALL_NAMES:
            oss += [tail.sub("", p) for p in pieces]
        else:
            calls.append(first)
            oss += [tail.sub("", p) for p in pieces[1:]]
    return calls, oss


NOTATION_JS = r"""
const recs = %s;
const out = recs.map(r => r.type === 'call' ? window.amReport.callText(r) : window.amReport.osText(r));
const pre = document.createElement('pre'); pre.id = 'notation'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
"""


def t_call_notation():
    """Every function of AM_FN_TABLE called (tests/progs/allfns.cpp), every
    OS request (the loader's too): the page writes each call and request
    exactly as the text output does (calloc(50, 8000), realloc(0x..., 5000),
    posix_memalign([0x...], 64, 1000) = 0, a failed one's memptr, sized
    delete's size, mmap offsets in hex), addresses aside (two runs)."""
    txt = os.path.join(TMP, "allfns.txt")
    p = run([TOOL, "trace", "-v", "--startup", "-o", txt, "--", ALLFNS], timeout=120)
    check(p.returncode == 0, "trace allfns (text) exited %d: %s" % (p.returncode, p.stderr[-300:]))
    jl = os.path.join(TMP, "allfns.jsonl")
    p = run([TOOL, "trace", "--json", "-o", jl, "--", ALLFNS], timeout=120)
    check(p.returncode == 0, "trace allfns (json) exited %d: %s" % (p.returncode, p.stderr[-300:]))
    recs = [json.loads(l) for l in open(jl) if l.strip()]
    mine = [r for r in recs if r["type"] in ("call", "os")]
    html, _ = report(jl, "allfns")
    page = dom_after(html, "allfns_after", NOTATION_JS % json.dumps(mine))
    m = re.search(r'<pre id="notation">(.*?)</pre>', page, re.S)
    check(m, "the page's formatter did not run")
    got = json.loads(htmlmod.unescape(m.group(1)))
    page_calls = [g for g, r in zip(got, mine) if r["type"] == "call"]
    page_os = [g for g, r in zip(got, mine) if r["type"] == "os"]
    text_calls, text_os = text_notation(txt)
    # every function of the table was called (memalign is glibc's aligned_alloc: one address, the first name)
    with open(os.path.join(ROOT, "bpf", "allocmap.h")) as f:
        table = re.findall(r'^\s*X\(\w+,\s*"[^"]*",\s*"([^"]*)",\s*\w+\)', f.read().split("#define AM_FN_TABLE")[1].split("\n\n")[0], re.M)
    check(len(table) >= 30, "AM_FN_TABLE parsed: %r" % table)
    seen = {r["fn"] for r in mine if r["type"] == "call"}
    eq(sorted(set(table) - seen), ["memalign"], "functions of AM_FN_TABLE not called (memalign: reported as aligned_alloc)")
    norm = lambda xs: [ADDR.sub("ADDR", x) for x in xs]
    eq(len(page_calls), len(text_calls), "calls in the page and the text")
    for i, (a, b) in enumerate(zip(norm(page_calls), norm(text_calls))):
        eq(a, b, "call %d (%s) in the page vs the text" % (i + 1, page_calls[i]))
    eq(len(page_os), len(text_os), "OS requests in the page and the text")
    for i, (a, b) in enumerate(zip(norm(page_os), norm(text_os))):
        eq(a, b, "OS request %d in the page vs the text" % (i + 1))
    for want in ("calloc(50, 8000) = ADDR", "calloc(0, 24) = ADDR", "posix_memalign([ADDR], 64, 1000) = 0",
                 "posix_memalign(ADDR, 3, 1000) = EINVAL", "operator delete(sized)(ADDR, 999)", "realloc(NULL, 1000) = ADDR <nested>"):
        check(want in norm(page_calls), "the page lacks %r" % want)
    check(any(re.search(r", 3, 0x[0-9a-f]+\) = ADDR$", x) for x in norm(page_os)), "no mmap offset in hex")


RSS_JS = r"""
const p = document.querySelector('#timeline-svg path[data-series="rss"]');
document.body.setAttribute('data-rss-path', p ? p.getAttribute('data-n') + ',' + p.getAttribute('data-max') : 'none');
document.body.setAttribute('data-rss-legend', document.getElementById('timeline-legend').textContent);
const area = document.querySelector('#timeline-svg rect[style*="crosshair"]'), r = area.getBoundingClientRect();
area.dispatchEvent(new MouseEvent('mousemove', { clientX: r.right - 2, clientY: r.top + 20, bubbles: true }));
document.body.setAttribute('data-rss-tip', document.getElementById('tip').textContent);
"""


def t_rss_over_time():
    """The tracer samples the command's RSS every 50 ms ("rss" records): a
    program that touches 32 MiB after its malloc shows a rise of at least
    32 MiB in the JSON and on the page (the peak card, exact; the timeline's
    RSS line and legend); the text summary keeps its peak RSS; a trace
    without samples (an older allocmap) says RSS unknown, never 0."""
    path, recs = trace("touch", "32", prog=PHASES)
    rss = [r for r in recs if r["type"] == "rss"]
    check(len(rss) >= 5, "%d RSS samples over a run of at least 650 ms" % len(rss))
    pid = [r for r in recs if r["type"] == "trace"][0]["pid"]
    eq({r["pid"] for r in rss}, {pid}, "the samples are the command's")
    ts = [r["ts_ns"] for r in recs]
    check(all(a <= b for a, b in zip(ts, ts[1:])), "records (the samples too) in time order")
    mall = [r for r in recs if r["type"] == "call" and r["fn"] == "malloc" and r.get("size") == 32 << 20]
    eq(len(mall), 1, "the 32 MiB malloc")
    before = [r["rss"] for r in rss if r["ts_ns"] <= mall[0]["ts_ns"]]
    check(before, "no sample before the malloc")
    top = max(r["rss"] for r in rss)
    check(top - before[-1] >= 32 << 20, "RSS rose by %d B, not by 32 MiB" % (top - before[-1]))
    html, _ = report(path, "rss")
    page = dom_after(html, "rss_after", RSS_JS)
    attr = lambda k: re.search(r'<body[^>]* data-%s="([^"]*)"' % k, page).group(1)
    card = re.search(r'<div class="card" id="card-rss">.*?<div class="v" title="([\d,]+) bytes">', page)
    check(card, "no peak RSS card with exact bytes")
    eq(int(card.group(1).replace(",", "")), top, "the peak RSS card (exact bytes)")
    # the line: every sample and the exit's drop to 0, up to the largest in view
    eq(attr("rss-path"), "%d,%d" % (len(rss) + 1, top), "the timeline's RSS line: points, largest")
    check("RSS (resident, sampled every 50 ms)" in attr("rss-legend"), "legend: %r" % attr("rss-legend"))
    check(re.search(r"RSS: \d", attr("rss-tip")), "the hover readout lacks RSS: %r" % attr("rss-tip"))
    # an older trace: no samples, RSS unknown
    old = os.path.join(TMP, "norss.jsonl")
    with open(path) as f, open(old, "w") as g:
        g.writelines(l for l in f if '"type":"rss"' not in l)
    html, _ = report(old, "norss")
    page = dom_after(html, "norss_after", RSS_JS)
    check(re.search(r'<div class="card" id="card-rss">.*?<div class="v">unknown</div>', page), "no 'unknown' peak RSS card without samples")
    eq(attr("rss-path"), "none", "no RSS line without samples")
    check("RSS unknown (not sampled in this trace)" in attr("rss-legend"), "legend without samples: %r" % attr("rss-legend"))
    check("RSS: unknown (not sampled in this trace)" in attr("rss-tip"), "readout without samples: %r" % attr("rss-tip"))
    # the text summary keeps its peak RSS
    p = run([TOOL, "trace", "-q", "--", PHASES, "touch", "8"], timeout=120)
    check(p.returncode == 0 and re.search(r"peak RSS \d", p.stderr), "text summary without peak RSS: %r" % p.stderr[-400:])


FN_RANGE_JS = r"""
const drag = (a, b) => {
  const area = document.querySelector('#timeline-svg rect[style*="crosshair"]');   // redrawn after each range
  const r = area.getBoundingClientRect(), ev = (type, x) => area.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: r.top + 20, bubbles: true }));
  ev('mousedown', r.left + a * r.width); ev('mousemove', r.left + b * r.width); ev('mouseup', r.left + b * r.width);
};
const snap = k => {
  const t = document.getElementById('fn-table');
  const rows = Array.from(t.querySelectorAll('tr.fn-row')).map(r => [r.cells[0].textContent].concat([1, 2, 3, 4, 5].map(i => r.cells[i].getAttribute('data-v'))).join(':'));
  document.body.setAttribute('data-' + k, (t.getAttribute('data-f0') || '') + ',' + (t.getAttribute('data-f1') || '') + '|' + rows.sort().join(' '));
  document.body.setAttribute('data-' + k + '-note', document.getElementById('range-note').textContent);
};
snap('all');
drag(0, %(mid)f); snap('r1');
document.getElementById('range-clear').click();
drag(%(mid)f, 1); snap('r2');
document.getElementById('range-clear').click(); snap('again');
"""


def fn_rows(calls):
    """Function table rows (fn: calls, bytes, made OS requests, failed, nested) of calls."""
    rows = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for c in calls:
        r = rows[c["fn"]]
        free = c["fn"] in ("free",) or c["fn"].startswith("operator delete")
        r[0] += 1
        r[1] += c.get("size", 0)
        r[2] += 1 if c["os"] else 0
        r[3] += 1 if not free and c.get("ret") == "0x0" and c.get("size", 0) > 0 else 0
        r[4] += 1 if c.get("nested") else 0
    return " ".join(sorted("%s:%s" % (k, ":".join(map(str, v))) for k, v in rows.items()))


def t_fn_table_range():
    """The allocator functions table follows the timeline's range: with two
    ranges over a program of two phases (tests/progs/phases.c: mallocs and
    reallocs, then 400 ms later callocs and frees) each holds exactly the calls that began
    in the range the table says it used (its time steps), summed per
    function; cleared, the whole trace's again."""
    path, recs = trace("phases", prog=PHASES)
    html, _ = report(path, "fnrange")
    # the two ranges meet in the middle of the gap between the phases
    t0 = recs[0]["ts_ns"]
    last1 = max(r["ts_ns"] for r in recs if r["type"] == "call" and r["fn"] == "realloc") - t0
    first2 = min(r["ts_ns"] for r in recs if r["type"] == "call" and r["fn"] == "calloc") - t0
    check(first2 - last1 > 300e6, "the phases are %d ns apart" % (first2 - last1))
    mid = (last1 + first2) / 2 / data_block(html)["duration"]
    page = dom_after(html, "fnrange_after", FN_RANGE_JS % {"mid": mid})
    attr = lambda k: re.search(r'<body[^>]* data-%s="([^"]*)"' % k, page).group(1)
    calls = [r for r in recs if r["type"] == "call"]
    eq(attr("all").split("|")[1], fn_rows(calls), "the whole trace's function rows")
    seen = 0
    for k in ("r1", "r2"):
        span, rows = attr(k).split("|")
        f0, f1 = (int(x) for x in span.split(","))
        check(f0 < f1, "%s: no range on the table (%r)" % (k, span))
        mine = [c for c in calls if f0 <= max(0, c["ts_ns"] - t0) < f1]
        eq(rows, fn_rows(mine), "%s: rows of the calls that began in %d..%d ns" % (k, f0, f1))
        seen += len(mine)
        check("the allocator functions table and the flame graph of OS requests: what began in the range" in attr(k + "-note"),
              "%s: the range note" % k)
    # the phases: one in each range (the gap between them is most of the run)
    r1 = attr("r1").split("|")[1]
    r2 = attr("r2").split("|")[1]
    check("realloc:20:" in r1 and "calloc" not in r1, "phase 1 in range 1: %r" % r1)
    check("calloc:100:" in r2 and "realloc" not in r2, "phase 2 in range 2: %r" % r2)
    check(seen <= len(calls), "the ranges overlap")
    eq(attr("again"), attr("all"), "the whole trace after 'show everything'")


FLAME_RANGE_JS = r"""
const drag = (a, b) => {
  const area = document.querySelector('#timeline-svg rect[style*="crosshair"]');
  const r = area.getBoundingClientRect(), ev = (type, x) => area.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: r.top + 20, bubbles: true }));
  ev('mousedown', r.left + a * r.width); ev('mousemove', r.left + b * r.width); ev('mouseup', r.left + b * r.width);
};
const snap = k => {
  const svg = document.getElementById('flame-svg');
  const fr = Array.from(document.querySelectorAll('#flame-svg .fg-frame:not(.anc)')).map(g => [g.getAttribute('data-name'), g.getAttribute('data-obj'), g.getAttribute('data-bytes'), g.getAttribute('data-count')].join('\t'));
  const pre = document.createElement('pre'); pre.id = 'flame-' + k;
  pre.textContent = JSON.stringify({ range: svg.getAttribute('data-range'), total: svg.getAttribute('data-total'), frames: fr });
  document.body.appendChild(pre);
};
drag(0, %(mid)f); snap('r1');
document.getElementById('range-clear').click();
drag(%(mid)f, 1); snap('r2');
document.getElementById('range-clear').click(); snap('all');
"""


def t_flame_range():
    """The flame graph of OS requests follows the timeline's range: for two
    ranges (the stacks program's run cut in its largest gap between OS
    requests that obtained bytes) every
    program function's frame weighs exactly the bytes (and requests) of the
    OS requests made in the range whose stack holds it, the root their sum;
    cleared, the whole trace's again."""
    html, recs = trace_stacks("os")
    t0 = recs[0]["ts_ns"]
    prog = os.path.basename(STACKS)
    weights, brk = [], {}
    for r in recs:   # each request's weight, the break before it as the model tracks it
        if r["type"] != "os":
            continue
        prev = 0
        if r["syscall"] == "brk" and "error" not in r:
            prev = brk.get(r["pid"], 0)
            brk[r["pid"]] = int(r["ret"], 16) or prev
        if r.get("stack"):
            weights.append((max(0, r["ts_ns"] - t0), os_bytes(r, prev), set(f.get("sym") for f in r["stack"] if f.get("sym"))))
    ts = sorted(w[0] for w in weights if w[1])
    check(len(ts) >= 2, "the stacks program obtained bytes %d times" % len(ts))
    gap = max(range(len(ts) - 1), key=lambda i: ts[i + 1] - ts[i])
    mid = (ts[gap] + ts[gap + 1]) / 2 / data_block(html)["duration"]
    page = dom_after(html, "flame_range", FLAME_RANGE_JS % {"mid": mid})
    nonempty = 0
    for k in ("r1", "r2", "all"):
        m = re.search(r'<pre id="flame-%s">(.*?)</pre>' % k, page, re.S)
        check(m, "no flame snapshot %s" % k)
        got = json.loads(htmlmod.unescape(m.group(1)))
        if k == "all":
            check(got["range"] == "", "the flame graph still ranged after 'show everything'")
            lo, hi = 0, float("inf")
        else:
            lo, hi = (float(x) for x in got["range"].split(","))
        mine = [w for w in weights if lo <= w[0] <= hi]
        eq(int(got["total"]), sum(w[1] for w in mine), "%s: the root's bytes" % k)
        frames_ = collections.defaultdict(lambda: [0, 0])
        for line in got["frames"]:
            name, obj, b, c = line.split("\t")
            if obj == prog:
                frames_[name][0] += int(b)
                frames_[name][1] += int(c)
        for name in ("parse_config", "load_table", "init_heap", "direct_map", "run_steps", "main"):
            want = [sum(w[1] for w in mine if name in w[2]), sum(1 for w in mine if name in w[2])]
            eq(frames_[name], want if want[0] else [0, 0], "%s: %s's bytes and requests" % (k, name))
        nonempty += k != "all" and sum(w[1] for w in mine) > 0
    eq(nonempty, 2, "both halves hold OS requests with bytes")


SITES_RANGE_JS = r"""
const drag = (a, b) => {
  const area = document.querySelector('#timeline-svg rect[style*="crosshair"]');
  const r = area.getBoundingClientRect(), ev = (type, x) => area.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: r.top + 20, bubbles: true }));
  ev('mousedown', r.left + a * r.width); ev('mousemove', r.left + b * r.width); ev('mouseup', r.left + b * r.width);
};
const snap = k => {
  const t = document.getElementById('sites-table'), svg = document.getElementById('afg-svg');
  const rows = Array.from(t.querySelectorAll('tr.site-row')).map(r => [r.getAttribute('data-name'), (r.querySelector('.where') || { textContent: '' }).textContent.trim(),
    r.getAttribute('data-calls'), r.getAttribute('data-bytes'), r.cells[3].textContent].join('\t'));
  const tot = t.querySelector('tr.site-total');
  const pre = document.createElement('pre'); pre.id = 'sites-' + k;
  pre.textContent = JSON.stringify({ f0: t.getAttribute('data-f0'), f1: t.getAttribute('data-f1'), rows: rows,
    total: [tot.cells[1].textContent, tot.cells[3].textContent], flame: [svg.getAttribute('data-range'), svg.getAttribute('data-total'), svg.getAttribute('data-calls')],
    note: document.getElementById('range-note').textContent, head: document.getElementById('sites-table-head').textContent });
  document.body.appendChild(pre);
};
snap('all');
drag(0, %(mid)f); snap('r1');
document.getElementById('range-clear').click();
drag(%(mid)f, 1); snap('r2');
document.getElementById('range-clear').click(); snap('again');
"""


def site_sums(calls):
    """{(caller function, file:line): [calls, bytes]} of the allocations in calls."""
    out = collections.defaultdict(lambda: [0, 0])
    for c in calls:
        f = c["stack"][1]
        s = out[(f["sym"], "%s:%d" % (os.path.basename(f["file"]), f["line"]))]
        s[0] += 1
        s[1] += c["size"]
    return out


def t_sites_range():
    """The call sites table and the allocation flame graph (bytes allocated)
    follow the timeline's range: with two ranges over tests/progs/phases
    (traced --stacks), each site's calls and bytes, the table's total and the
    flame graph's root are exactly those of the allocations whose call began
    in the columns the table says it used; live at peak (a state) shows –;
    cleared, the whole trace's figures again."""
    jl = os.path.join(TMP, "phases_stacks.jsonl")
    p = run([TOOL, "trace", "--stacks", "--json", "-o", jl, "--", PHASES, "phases"], timeout=120)
    check(p.returncode == 0, "allocmap trace --stacks phases exited %d: %s" % (p.returncode, p.stderr.strip()[-400:]))
    with open(jl) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    html, _ = report(jl, "sitesrange")
    t0 = recs[0]["ts_ns"]
    calls = [r for r in recs if r["type"] == "call"]
    allocs = [c for c in calls if c["fn"] in ("malloc", "calloc", "realloc") and c.get("ret", "0x0") != "0x0" and c.get("stack")]
    last1 = max(c["ts_ns"] for c in calls if c["fn"] == "realloc") - t0
    first2 = min(c["ts_ns"] for c in calls if c["fn"] == "calloc") - t0
    check(first2 - last1 > 300e6, "the phases are %d ns apart" % (first2 - last1))
    mid = (last1 + first2) / 2 / data_block(html)["duration"]
    page = dom_after(html, "sitesrange_after", SITES_RANGE_JS % {"mid": mid})
    got = {}
    for k in ("all", "r1", "r2", "again"):
        m = re.search(r'<pre id="sites-%s">(.*?)</pre>' % k, page, re.S)
        check(m, "no sites snapshot %s" % k)
        got[k] = json.loads(htmlmod.unescape(m.group(1)))
    whole = site_sums(allocs)
    for k in ("all", "again"):
        g = got[k]
        check(g["f0"] is None and g["flame"][0] == "", "%s: still ranged" % k)
        for line in g["rows"]:
            name, where, c, b, peak = line.split("\t")
            if (name, where) in whole:
                eq([int(c), int(b)], whole[(name, where)], "%s: %s %s calls, bytes" % (k, name, where))
                check(peak != "–", "%s: live at peak shown whole" % k)
        eq(int(g["flame"][1]), sum(c["size"] for c in allocs), "%s: the flame graph's bytes" % k)
    eq(got["again"]["rows"], got["all"]["rows"], "the whole trace's rows after 'show everything'")
    for k, want_fn in (("r1", "realloc"), ("r2", "calloc")):
        g = got[k]
        f0, f1 = int(g["f0"]), int(g["f1"])
        check(f0 < f1, "%s: no range on the table" % k)
        mine = [c for c in allocs if f0 <= max(0, c["ts_ns"] - t0) < f1]
        check(any(c["fn"] == want_fn for c in mine), "%s holds no %s" % (k, want_fn))
        want = site_sums(mine)
        seen = {}
        for line in g["rows"]:
            name, where, c, b, peak = line.split("\t")
            seen[(name, where)] = [int(c), int(b)]
            eq(peak, "–", "%s: live at peak under a range" % k)
        for key in set(want) | set(k2 for k2 in seen if k2 in whole):
            eq(seen.get(key, [0, 0]), want.get(key, [0, 0]), "%s: site %s calls, bytes in %d..%d ns" % (k, key, f0, f1))
        eq(g["total"], ["{:,}".format(len(mine)), "–"], "%s: the total row" % k)
        eq([int(g["flame"][1]), int(g["flame"][2])], [sum(c["size"] for c in mine), len(mine)], "%s: the flame graph's bytes, calls" % k)
        check(g["flame"][0] == "%d,%d" % (f0, f1), "%s: the flame graph's range %r" % (k, g["flame"][0]))
        check("the call sites: calls and bytes allocated of the calls that began in the range" in g["note"], "%s: the range note" % k)
        check("shown as –" in g["head"], "%s: the table says what – means" % k)


def accessible_pages(recs, pid):
    """Page -> accessible, the process's map replayed from its mmap, munmap
    and mprotect records (the model's rule, written again)."""
    pg, m = 4096, {}
    for r in recs:
        if r["type"] != "os" or r["pid"] != pid or "error" in r:
            continue
        sc = r["syscall"]
        if sc == "mmap":
            a, n = int(r["ret"], 16) // pg, (r["len"] + pg - 1) // pg
            for i in range(a, a + n):
                m[i] = r["prot"] != "PROT_NONE"
        elif sc in ("munmap", "mprotect"):
            a, n = int(r["addr"], 16) // pg, (r["len"] + pg - 1) // pg
            for i in range(a, a + n):
                if sc == "munmap":
                    m.pop(i, None)
                elif i in m:
                    m[i] = r["prot"] != "PROT_NONE"
    return m


ARENA_JS = """
setTimeout(() => {
  const row = document.querySelector('.region[data-kind="arena"]');
  const cv = row.querySelector('.bar canvas');
  // the drawing: the reserved end of the bar is hatched, its committed start tinted
  const px = (f) => { const g = cv.getContext('2d'), x = Math.floor(cv.width * f); return g.getImageData(x, Math.floor(cv.height / 2), 1, 1).data[3]; };
  document.body.setAttribute('data-px', px(0.002) + ',' + px(0.9));
  row.click();
  document.body.setAttribute('data-detail', document.getElementById('region-commit').textContent);
  const heap = document.querySelector('.region[data-kind="heap"]');
  document.body.setAttribute('data-heap-commit', heap.hasAttribute('data-committed') ? 'yes' : 'no');
}, 300);
"""


def t_arena_committed_reserved():
    """glibc's thread arena reserves 64 MiB PROT_NONE and commits a piece with
    mprotect: its row, tooltip text and detail show exactly the committed
    bytes the records make accessible and the reserved rest, summing to the
    region's size, and the bar hatches the reserved part."""
    path, recs = trace("thread_arena")
    html, _ = report(path, "arena_commit")
    page = dom_after(html, "arena_commit_after", ARENA_JS)
    arena = [r for r in recs if r["type"] == "os" and r["syscall"] == "mmap" and r.get("region") == "arena"]
    eq(len(arena), 1, "arena mappings")
    a = arena[0]
    pages = accessible_pages(recs, a["pid"])
    lo, hi = int(a["ret"], 16) // 4096, (int(a["ret"], 16) + a["len"]) // 4096
    mapped = [i for i in range(lo, hi) if i in pages]
    committed = 4096 * sum(1 for i in mapped if pages[i])
    reserved = 4096 * len(mapped) - committed
    eq(4096 * len(mapped), 64 << 20, "the arena's heap after the trim (64 MiB)")
    check(0 < committed < 1 << 20, "committed %d B: glibc commits a small piece at first" % committed)
    m = re.search(r'<div class="region[^"]*" data-region="\d+" data-kind="arena" data-committed="(\d+)" data-reserved="(\d+)"', page)
    check(m, "the arena row has no committed/reserved figures")
    eq((int(m.group(1)), int(m.group(2))), (committed, reserved), "the arena row's committed and reserved bytes")
    exact = "committed {:,} B + reserved {:,} B = {:,} B".format(committed, reserved, committed + reserved)
    check('<span class="commit" title="%s">committed ' % exact in page, "the row's text lacks %r" % exact)
    detail = re.search(r'<body[^>]* data-detail="([^"]*)"', page).group(1)
    check(detail.endswith(": " + exact), "region detail: %r" % detail)
    px = re.search(r'<body[^>]* data-px="(\d+),(\d+)"', page)
    check(int(px.group(1)) > 0 and int(px.group(2)) > 0, "the committed start and the hatched reserved end are drawn (alpha %s)" % px.group(0))
    eq(re.search(r'data-heap-commit="(\w+)"', page).group(1), "no", "the brk heap has no reserved part")


def t_bad_input():
    bad = os.path.join(TMP, "bad.jsonl")
    with open(bad, "w") as f:
        f.write("this is not a trace\n")
    p = run([TOOL, "report", bad, "-o", os.path.join(TMP, "bad.html")])
    check(p.returncode != 0, "allocmap report accepted a non-JSONL file")
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    eq(len(lines), 1, "stderr lines for a bad file (%r)" % p.stderr)
    check(lines[0].startswith("allocmap: ") and "bad.jsonl:1" in lines[0], "unclear error: %r" % lines[0])
    check(not os.path.exists(os.path.join(TMP, "bad.html")), "an HTML file was written for bad input")
    p = run([TOOL, "report", os.path.join(TMP, "missing.jsonl"), "-o", os.path.join(TMP, "m.html")])
    check(p.returncode != 0 and p.stderr.count("\n") == 1 and "cannot open" in p.stderr, "missing file: %r" % p.stderr)
    empty = os.path.join(TMP, "empty.jsonl")
    open(empty, "w").close()
    p = run([TOOL, "report", empty, "--perfetto", os.path.join(TMP, "e.json")])
    check(p.returncode != 0 and p.stderr.count("\n") == 1 and "no trace records" in p.stderr, "empty file: %r" % p.stderr)
    p = run([TOOL, "report", empty])
    check(p.returncode != 0 and "nothing to write" in p.stderr, "no output given: %r" % p.stderr)
    p = run([TOOL, "report", "--help"])
    check(p.returncode == 0 and "EXAMPLES" in p.stdout, "--help lacks an EXAMPLES section")
    # JSON is complete without -v: the help must not say otherwise
    check(" -v" not in p.stdout.split("EXAMPLES")[1] and "only calls that made OS requests" not in p.stdout,
          "--help still ties the JSON's completeness to -v: %r" % p.stdout)


TESTS = [
    ("thread_arena_dom", t_thread_arena_dom, True),
    ("dyn_threshold_dom", t_dyn_threshold_dom, True),
    ("realloc_mremap_dom", t_realloc_mremap_dom, True),
    ("perfetto_structure", t_perfetto_structure, True),
    ("trace_html_and_perfetto_flags", t_trace_html_and_perfetto_flags, True),
    ("stack_records_shown", t_stack_records_shown, True),
    ("large_trace_decimated", t_large_trace_decimated, True),
    ("flame_stacks_os", t_flame_stacks_os, True),
    ("leaks_stacks_all", t_leaks_stacks_all, True),
    ("flame_without_stacks", t_flame_without_stacks, True),
    ("header_numbers", t_header_numbers, True),
    ("threshold_exact_and_untimed", t_threshold_exact_and_untimed, True),
    ("tables_sort_search", t_tables_sort_search, True),
    ("range_and_thread_filter", t_range_and_thread_filter, True),
    ("arena_committed_reserved", t_arena_committed_reserved, True),
    ("startup_fold", t_startup_fold, True),
    ("call_notation", t_call_notation, True),
    ("rss_over_time", t_rss_over_time, True),
    ("fn_table_range", t_fn_table_range, True),
    ("flame_range", t_flame_range, True),
    ("sites_range", t_sites_range, True),
    ("bad_input", t_bad_input, False),
]


def main(argv):
    problem = environment_problem()
    if problem:
        print("report: SKIPPING the tracing tests: %s%s" % (problem, " (CI=true: skips fail)" if CI else ""),
              file=sys.stderr)
    missing = [p for p in (TOOL, SCEN, STACKS, ALLFNS, PHASES) if not os.path.exists(p)]
    needs_bpf = {name: bpf for name, _, bpf in TESTS}

    def before(name):
        if missing:
            raise Fail("not built: %s (run make)" % ", ".join(os.path.relpath(p, ROOT) for p in missing))
        if problem and needs_bpf[name]:
            raise Skip(problem)

    rc = run_tests("report", [(name, fn) for name, fn, _ in TESTS], argv[1:], before)
    shutil.rmtree(TMP, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
