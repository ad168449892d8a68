#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_report_sites.py - end-to-end tests of the HTML report's call-site panel
(user/report/report_sites.c, user/report/assets/sites.js): the table, its
sorting and search, the allocation flame graph and the selected site.

The trace is real: .output/progs/sites (tests/progs/sites.c: four functions
with known allocations) traced with `allocmap trace --json -v --stacks`,
made into a page by `allocmap report`, loaded by headless Chromium
(--dump-dom after the page's script ran; clicks and typing are a script
appended to a copy of the page). The table must hold the four sites with
exactly the figures of the trace's own "sites" record (the live
aggregation) and the known ones; sorting by a column must order the rows by
it; the search box must filter them; every weight of the allocation flame
graph must total the table's column; clicking a site must list its
allocations (call ids, sizes, regions from the JSONL), the OS requests its
calls made and mark them on the address map. Crafted traces check the cap
(more sites than the page keeps: it says so and the sums stay whole) and
hostile frame names (shown as text, no markup runs). A screenshot of the
panel with a site selected is saved to /tmp/allocmap-sites.png for a human
to look at.

Run as root from the repository root after `make`. Ends with exactly
"report_sites: N passed, N failed"; with CI=true a skip counts as a failure.
"""

import html as html_mod
import json
import os
import re
import shutil
import sys
import tempfile

from harness import CHROMIUM, CI, Fail, PROGS, Skip, TOOL, check, eq, run, run_tests
from harness import chromium as harness_chromium

PROG = os.path.join(PROGS, "sites")
SHOT = "/tmp/allocmap-sites.png"
TMP = tempfile.mkdtemp(prefix="t_report_sites.")
PWN = "PWNED-BY-SITE-NAME"

# site function -> calls, bytes, peak bytes, leaked bytes, temporaries, temporary bytes (tests/progs/sites.c)
WANT = {
    "site_peak": (10, 500000, 500000, 0, 0, 0),
    "site_big": (1, 300000, 0, 0, 1, 300000),
    "site_temp": (100, 100000, 0, 0, 100, 100000),
    "site_leak": (3, 21000, 21000, 21000, 0, 0),
}
# data attribute of a row -> key of the JSON record
ATTRS = {"calls": "calls", "bytes": "bytes", "peak": "peak_bytes", "leak": "leak_bytes", "temp": "temp_count",
         "temp-bytes": "temp_bytes", "os": "os_bytes"}


def chromium(args, timeout=90):
    return harness_chromium(args, TMP, timeout)


def dom(html_path):
    p = chromium(["--dump-dom", "--virtual-time-budget=5000", "--window-size=1400,2000", "file://" + html_path])
    check(p.returncode == 0 and "<html" in p.stdout, "chromium --dump-dom failed: %s" % p.stderr[-300:])
    check('data-ready="1"' in p.stdout, "the report's script did not finish (a JavaScript error?)")
    return re.sub(r"<script\b.*?</script>", "", p.stdout, flags=re.S)


def dom_after(html, name, script):
    """The DOM after script ran on a copy of the report (clicks, typing)."""
    with open(html) as f:
        text = f.read()
    copy = os.path.join(TMP, name + ".html")
    with open(copy, "w") as f:
        f.write(text.replace("</body>", "<script>" + script + "</script></body>"))
    return dom(copy)


PROBE = """
const PROBE = {};
function snap(k) {
  const attrs = e => e ? Object.fromEntries(Array.from(e.attributes).map(a => [a.name, a.value])) : null;
  PROBE[k] = {
    rows: Array.from(document.querySelectorAll('#sites-table tr.site-row')).map(attrs),
    svg: attrs(document.getElementById('afg-svg')),
    leaves: Array.from(document.querySelectorAll('#afg .afg-frame.leaf')).map(attrs),
    head: document.getElementById('sites-table-head').textContent,
    sorted: Array.from(document.querySelectorAll('#sites-table th[aria-sort]')).filter(t => t.getAttribute('aria-sort') !== 'none').map(attrs),
  };
}
"""


def probe(html, name, steps):
    """Runs steps (JS calling snap(KEY) after each action) on a copy of the
    report; returns {KEY: {rows, svg, leaves, head, sorted}} as the rendered
    DOM had them (attributes as strings)."""
    script = PROBE + steps + ("\nconst pre = document.createElement('pre'); pre.id = 'probe';"
                              "pre.textContent = JSON.stringify(PROBE); document.body.appendChild(pre);")
    page = dom_after(html, name, script)
    m = re.search(r'<pre id="probe">(.*?)</pre>', page, re.S)
    check(m, "the probe script did not finish")
    return json.loads(html_mod.unescape(m.group(1)))


def names(snapshot):
    return [r["data-name"] for r in snapshot["rows"]]


def report(jsonl, name):
    html = os.path.join(TMP, name + ".html")
    p = run([TOOL, "report", jsonl, "-o", html])
    if p.returncode != 0:
        raise Fail("allocmap report exited %d: %s" % (p.returncode, p.stderr.strip()))
    return html


_trace = {}


def traced():
    """(records, page path) of the sites program, traced once."""
    if not _trace:
        jl = os.path.join(TMP, "sites.jsonl")
        p = run([TOOL, "trace", "--json", "-v", "--stacks", "-o", jl, "--", PROG], timeout=120)
        if p.returncode != 0:
            raise Fail("allocmap trace exited %d: %s" % (p.returncode, p.stderr[-400:]))
        with open(jl) as f:
            _trace["recs"] = [json.loads(l) for l in f if l.strip()]
        _trace["html"] = report(jl, "sites")
    return _trace["recs"], _trace["html"]


def sites_record(recs):
    got = [r for r in recs if r["type"] == "sites"]
    eq(len(got), 1, "sites records in the trace")
    out = {}
    for s in got[0]["sites"]:
        out[s.get("frame", {}).get("sym")] = s
    return got[0], out


def rows(page):
    """The table's rows in order: [(name, {attr: int})]."""
    out = []
    for m in re.finditer(r'<tr class="site-row[^"]*"([^>]*)>', page):
        a = dict(re.findall(r'data-([\w-]+)="([^"]*)"', m.group(1)))
        out.append((a.pop("name"), {k: int(v) for k, v in a.items()}))
    return out


def svg_attrs(page):
    m = re.search(r'<svg [^>]*id="afg-svg"[^>]*>', page)
    check(m, "no allocation flame graph (afg-svg)")
    return dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(0)))


def click(sel):
    return "document.querySelector(%s).dispatchEvent(new MouseEvent('click', {bubbles: true}));" % json.dumps(sel)


def typed(text):
    return ("{ const i = document.getElementById('sites-search'); i.value = %s;"
            "i.dispatchEvent(new Event('input', {bubbles: true})); }" % json.dumps(text))


# ---------------- tests ----------------

def t_table_figures():
    recs, html = traced()
    rec, by = sites_record(recs)
    page = dom(html)
    got = rows(page)
    eq([n for n, _ in got], ["site_peak", "site_big", "site_temp", "site_leak"], "rows, by bytes allocated")
    for name, a in got:
        s = by[name]
        for attr, key in ATTRS.items():
            eq(a[attr], s[key], "%s %s: page vs the trace's sites record" % (name, key))
        w = WANT[name]
        eq((a["calls"], a["bytes"], a["peak"], a["leak"], a["temp"], a["temp-bytes"]), w, name + " figures vs sites.c")
    check(by["site_big"]["os_bytes"] >= 300000, "site_big's calloc mapped its own chunk")
    # the footer row is the record's total
    foot = re.search(r'<tr class="site-total"><td>total, 4 sites</td>(.*?)</tr>', page, re.S)
    check(foot, "no total row")
    check(re.search(r'id="sites-table-head">Sites: 4, sorted by bytes allocated', page), "table heading")
    check("sites-empty" not in page, "the page says there are no sites")


def t_sort():
    recs, html = traced()
    _, by = sites_record(recs)
    order = ["site_peak", "site_big", "site_temp", "site_leak"]
    want = {
        "calls": ["site_temp", "site_peak", "site_leak", "site_big"],
        "leak_bytes": ["site_leak", "site_peak", "site_big", "site_temp"],   # ties: the report's order
        "temp_count": ["site_temp", "site_big", "site_peak", "site_leak"],
        "os_bytes": sorted(by, key=lambda n: (-by[n]["os_bytes"], order.index(n))),
        "label": ["site_big", "site_leak", "site_peak", "site_temp"],
    }
    steps = "snap('default');\n"
    for col in want:
        steps += click('#sites-table th[data-sort="%s"]' % col) + "snap(%s);\n" % json.dumps(col)
    steps += click('#sites-table th[data-sort="calls"]') + click('#sites-table th[data-sort="calls"]') + "snap('calls_up');\n"
    got = probe(html, "sort", steps)
    eq(names(got["default"]), order, "rows, by bytes allocated")
    for col, rows_want in want.items():
        eq(names(got[col]), rows_want, "rows sorted by " + col)
        eq([(t["data-sort"], t["aria-sort"]) for t in got[col]["sorted"]],
           [(col, "ascending" if col == "label" else "descending")], "header marked sorted after clicking " + col)
    # a second click reverses
    eq(names(got["calls_up"]), ["site_big", "site_leak", "site_peak", "site_temp"], "rows sorted by calls, ascending")
    check(got["calls_up"]["head"].endswith("sorted by calls (smallest first; click a header to sort)"), got["calls_up"]["head"])


def t_search():
    _, html = traced()
    steps = "".join(typed(q) + "snap(%s);\n" % json.dumps(q) for q in ("TEMP", "sites.c", "no-such-function", ""))
    got = probe(html, "search", steps)
    eq(names(got["TEMP"]), ["site_temp"], "rows matching 'TEMP'")
    eq(got["TEMP"]["svg"]["class"], "searching", "flame graph in search mode")
    eq(int(got["TEMP"]["svg"]["data-matched"]), 100000, "bytes matched in the flame graph for 'temp'")
    eq([(l["data-name"], "match" in l["class"].split()) for l in got["TEMP"]["leaves"] if "match" in l["class"].split()],
       [("site_temp", True)], "leaves highlighted for 'temp'")
    check(got["TEMP"]["head"].startswith("Sites: 1 of 4 match"), "heading: %r" % got["TEMP"]["head"])
    eq(len(got["sites.c"]["rows"]), 4, "rows matching the file name")
    eq(int(got["sites.c"]["svg"]["data-matched"]), 921000, "bytes matched for the file name (every site)")
    eq(got["no-such-function"]["rows"], [], "rows matching nothing")
    eq(len(got[""]["rows"]), 4, "rows once the search is cleared")
    eq(got[""]["svg"]["class"], "", "flame graph after the search is cleared")
    page = dom_after(html, "search_none", typed("no-such-function"))
    check("no site matches the search" in page, "no 'nothing matches' row")


def t_flame_weights():
    recs, html = traced()
    rec, _ = sites_record(recs)
    total = rec["total"]
    weights = [("bytes", "data-bytes"), ("peak_bytes", "data-peak"), ("leak_bytes", "data-leak"), ("temp_bytes", "data-temp-bytes")]
    got = probe(html, "weights", "".join(click("#afg-w%d" % k) + "snap('w%d');\n" % k for k in range(4)))
    for k, (key, col) in enumerate(weights):
        g = got["w%d" % k]
        eq(g["svg"]["data-weight"], key, "weight shown after clicking button %d" % k)
        eq(int(g["svg"]["data-total"]), sum(int(r[col]) for r in g["rows"]), "flame graph total vs the table's %s" % key)
        eq(int(g["svg"]["data-total"]), total[key], "flame graph total vs the sites record's %s" % key)
        by_site = {}
        for l in g["leaves"]:
            by_site[int(l["data-site"])] = by_site.get(int(l["data-site"]), 0) + int(l["data-w"])
        want = {int(r["data-site"]): int(r[col]) for r in g["rows"] if int(r[col])}
        eq(by_site, want, "flame graph leaves' %s per site" % key)
    # the leaves hang under the program's frames: main above every site
    page = dom(html)
    check(re.search(r'<g class="afg-frame" data-i="\d+" data-name="main" data-site="-1" data-w="921000"', page),
          "no 'main' frame weighing every allocated byte")


def region_of(page, i):
    m = re.search(r'<div class="region[^"]*" data-region="%d" data-kind="(\w+)"' % i, page)
    return m.group(1) if m else None


def t_select():
    recs, html = traced()
    calls = {}
    for r in recs:
        if r["type"] == "call" and not r.get("nested"):
            st = r.get("stack") or []
            fn = next((f.get("sym") for f in st[1:] if f.get("sym") in WANT), None)
            if fn and r["fn"] in ("malloc", "calloc") and r.get("ret", "0x0") != "0x0":
                calls.setdefault(fn, []).append(r)
    # site_big: its one calloc, in its own mmap region, and the mmap it made
    page = dom_after(html, "select_big", click('#sites-table tr.site-row[data-name="site_big"]'))
    check(re.search(r'<div id="site-detail" class="detail" data-site="\d+">', page), "no site detail after the click")
    al = re.findall(r'<tr class="site-alloc" data-call="(\d+)" data-size="(\d+)" data-region="(-?\d+)"', page)
    eq([(int(c), int(s)) for c, s, _ in al], [(calls["site_big"][0]["id"], 300000)], "site_big's allocations")
    eq(region_of(page, int(al[0][2])), "mmap", "site_big's allocation's region")
    os_ids = [int(x) for x in re.findall(r'<tr class="site-os-row" data-os="(\d+)"', page)]
    want_os = calls["site_big"][0]["os"]
    eq(os_ids, want_os, "site_big's OS requests")
    check(any(r["type"] == "os" and r["id"] in want_os and r["syscall"] == "mmap" and r["len"] >= 300000 for r in recs),
          "site_big's OS requests hold no mmap of its chunk")
    check("freed at" in page and "Its allocations: 1" in page, "allocation table heading")
    # site_leak: three blocks live at the end, in the heap, marked on the map
    page = dom_after(html, "select_leak", click('#sites-table tr.site-row[data-name="site_leak"]'))
    al = re.findall(r'<tr class="site-alloc" data-call="(\d+)" data-size="(\d+)" data-region="(-?\d+)"', page)
    eq(sorted(int(c) for c, _, _ in al), sorted(c["id"] for c in calls["site_leak"]), "site_leak's allocations")
    eq(page.count("live at the end</td>"), 3, "site_leak's allocations live at the end")
    live = re.findall(r'<li data-region="(-?\d+)" data-count="(\d+)" data-bytes="(\d+)">', page)
    eq([(region_of(page, int(r)), int(c), int(b)) for r, c, b in live], [("heap", 3, 21000)], "where site_leak's blocks live")
    marked = re.findall(r'<div class="region[^"]*site-mark[^"]*" data-region="(\d+)"', page)
    eq(marked, [live[0][0]], "regions marked on the address map")
    check("selected site: 3 of its listed allocations" in page, "the marked region does not say what it holds")
    check(re.search(r'<tr class="site-row sel" [^>]*data-name="site_leak"', page), "the selected row is not marked")
    # site_temp: 100 allocations, the first 100 of its stack listed, each freed
    page = dom_after(html, "select_temp", click('#sites-table tr.site-row[data-name="site_temp"]'))
    eq(len(re.findall(r'<tr class="site-alloc"', page)), 100, "site_temp's allocations listed")
    eq(page.count("live at the end</td>"), 0, "site_temp's allocations live at the end")
    # a leaf of the flame graph selects its site too
    page = dom_after(html, "select_leaf", click('#afg .afg-frame.leaf[data-name="site_peak"]'))
    al = re.findall(r'<tr class="site-alloc" data-call="(\d+)"', page)
    eq(sorted(int(c) for c in al), sorted(c["id"] for c in calls["site_peak"]), "site_peak's allocations (by its leaf)")
    check(re.search(r'<g class="afg-frame leaf sel" [^>]*data-name="site_peak"', page), "the selected leaf is not marked")


def t_screenshot():
    _, html = traced()
    with open(html) as f:
        text = f.read()
    shot = os.path.join(TMP, "shot.html")
    with open(shot, "w") as f:
        f.write(text.replace("</head>", "<style>#timeline-panel,#threshold-panel,#flame-panel,#leaks-panel,#os-panel,.two{display:none}</style></head>")
                .replace("</body>", "<script>" + typed("site") + click('#sites-table tr.site-row[data-name="site_leak"]') + "</script></body>"))
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    p = chromium(["--screenshot=" + SHOT, "--window-size=1400,2400", "--virtual-time-budget=5000", "file://" + shot])
    check(os.path.exists(SHOT) and os.path.getsize(SHOT) > 20000, "no screenshot: %s" % p.stderr[-200:])


def t_without_stacks():
    jl = os.path.join(TMP, "nostacks.jsonl")
    p = run([TOOL, "trace", "--json", "-v", "-o", jl, "--", PROG], timeout=120)
    check(p.returncode == 0, "allocmap trace: %s" % p.stderr[-300:])
    page = dom(report(jl, "nostacks"))
    check(re.search(r'<div class="empty" id="sites-empty"><div>No call sites in this report: the trace has no call sites '
                    r'\(no "sites" record\): record it with allocmap trace --json --stacks\.</div>', page),
          "the page does not say why there are no sites")
    eq(rows(page), [], "site rows without stacks")


# ---------------- crafted traces ----------------

def frame(sym, obj="prog", file="prog.c", addr=0x401000, line=7):
    return {"addr": hex(addr), "sym": sym, "off": 4, "obj": obj, "file": file, "line": line}


def crafted(n, name_of):
    """n mallocs of n sizes, each from its own site (frame name_of(i) at its own address)."""
    recs = [{"type": "sites", "ts_ns": 1, "pid": 42, "tid": 42, "sample": 1, "total": {}, "sites": [], "stacks": []}]
    for i in range(n):
        st = [frame("malloc", "libc.so.6", "malloc.c", 0x7f0000001000), frame(name_of(i), addr=0x401000 + 16 * i, line=i + 1),
              frame("main", addr=0x400500)]
        recs.append({"type": "call", "ts_ns": 1000 + 10 * i, "pid": 42, "tid": 42, "id": i + 1, "fn": "malloc",
                     "size": 100 + i, "ret": hex(0x10000000 + 0x1000 * i), "dur_ns": 5, "os": [], "region": "heap",
                     "stack": st})
    return recs


def write_jsonl(name, recs):
    path = os.path.join(TMP, name + ".jsonl")
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    return path


def t_capped():
    """2000 sites: the page keeps the top 300 by each column (here the same
    300, the largest) and says so; the rest row holds the others."""
    n = 2000
    html = report(write_jsonl("many", crafted(n, lambda i: "f%04d" % i)), "many")
    size = os.path.getsize(html)
    check(size < 2 << 20, "a 2000-site report is %d bytes" % size)
    page = dom(html)
    got = rows(page)
    eq(len(got), 300, "rows for 2000 sites")
    eq([r for r, _ in got[:3]], ["f1999", "f1998", "f1997"], "largest sites first")
    check(re.search(r'Sites: 300 of 2,000, sorted by bytes allocated', page), "the heading does not say 300 of 2000")
    rest = re.search(r'<tr class="site-rest"><td>1,700 other sites \(not in the page\)</td><td class="num">1,700</td>', page)
    check(rest, "no row summing up the 1700 other sites")
    check("The page lists the top 300 sites by each column (300 of 2,000)" in page, "no note on the cap")
    total = sum(100 + i for i in range(n))
    eq(int(svg_attrs(page)["data-total"]), total, "flame graph total (drawn stacks + the rest)")


XSS = "<img src=x onerror=\"document.title='%s';document.body.setAttribute('data-pwned',1)\">" % PWN
BREAK = "<!--<script></script><script>document.title='%s'</script>\u2028" % PWN


def t_hostile_names():
    """Markup, script breakouts and a line separator in symbol, object and
    file names reach the panel, the graph and the detail as text."""
    names = [XSS, BREAK, "a\x1b[31mb"]
    recs = crafted(3, lambda i: names[i])
    for r in recs[1:]:
        for f in r["stack"]:
            f["obj"] = XSS
            f["file"] = BREAK
    html = report(write_jsonl("hostile", recs), "hostile")
    raw = open(html, "rb").read()
    data = raw[raw.index(b'id="am-data"'):]
    data = data[:data.index(b"</script>")]
    for bad in (b"<!--", b"<script", b"</script"):
        check(bad not in data[1:], "%r inside the data block" % bad)
    script = (click('#sites-table tr.site-row') + typed("[31m") + click('#afg .afg-frame.leaf'))
    page = dom_after(html, "hostile_click", script)
    check(PWN not in (re.search(r"<title>(.*?)</title>", page, re.S) or [""])[0], "injected code ran (title)")
    check(not re.search(r"<body[^>]*data-pwned", page), "injected code ran (data-pwned)")
    check("<img" not in page, "an <img> element was created from a name")
    eq([n for n, _ in rows(page)], ["a\x1b[31mb"], "rows matching '[31m'")
    check("&lt;img src=x" in page, "the hostile name is not shown as text")
    check(re.search(r'<div id="site-detail" class="detail" data-site="\d+">', page), "no detail for a hostile site")


TESTS = [
    ("table_figures", t_table_figures, True),
    ("sort", t_sort, True),
    ("search", t_search, True),
    ("flame_weights", t_flame_weights, True),
    ("select", t_select, True),
    ("screenshot", t_screenshot, True),
    ("without_stacks", t_without_stacks, True),
    ("capped", t_capped, False),
    ("hostile_names", t_hostile_names, False),
]


def main(argv):
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = "chromium not installed (bash scripts/deps.sh)"
    elif os.geteuid() != 0:
        problem = "not root (BPF tracing needs CAP_BPF/CAP_PERFMON)"
    missing = [p for p in (TOOL, PROG) if not os.access(p, os.X_OK)]
    needs_bpf = {name: bpf for name, _, bpf in TESTS}

    def before(name):
        if missing:
            raise Fail("not built: %s (run make)" % ", ".join(missing))
        if not os.path.exists(CHROMIUM):
            raise Skip("chromium not installed (bash scripts/deps.sh)")
        if problem and needs_bpf[name]:
            raise Skip(problem)

    if problem:
        print("report_sites: SKIPPING: %s%s" % (problem, " (CI=true: skips fail)" if CI else ""), file=sys.stderr)
    rc = run_tests("report_sites", [(name, fn) for name, fn, _ in TESTS], argv[1:], before)
    shutil.rmtree(TMP, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
