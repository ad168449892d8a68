#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_compare.py - end-to-end tests of `allocmap compare` (run as root from the
repository root, after make; tests/run-all.sh runs it).

The central check: the table's OS-request counts equal what strace saw in the
very same run. Two separate runs of one workload do not always make the same
requests (jemalloc's aligned mappings depend on where ASLR put things,
mimalloc purges on a timer), so the test does not strace a second run: it runs
`strace -f ... allocmap compare ...`, which follows allocmap's children, takes
the processes that exec'd the workload (one per traced allocator, in the
order allocmap runs them), and counts each memory syscall they made after
their execve. allocmap attaches before the held child execs, so both count
the same thing: every memory request of the process image, ld.so's mappings
included ("all"); the part made inside allocator calls is checked apart
(glibc grows its brk heap inside malloc; jemalloc and mimalloc never move the
break). uprobes and ptrace coexist: the probe traps never reach strace.

The --html page is read back in headless Chromium: its cards, tables and
lines show the same run's JSON and text figures exactly, every allocator's
lines end at its total calls on the progress axis, the wall-time toggle
redraws them, and a command line or allocator name holding markup stays text.

Prints "ok NAME" / "FAIL NAME: why", ends with "compare: N passed, N failed".
"""
import json
import os
import re
import tempfile

from harness import CHROMIUM, CI, TOOL, Tally, chromium, run

SUITE = "compare"
WORKLOAD = ".output/workloads/small_objects"
MUSL_WORKLOAD = ".output/workloads/musl/small_objects"   # the musl column runs it (make, musl-gcc)
LIBDIR = "/usr/lib/x86_64-linux-gnu"
PRELOADS = {
    "jemalloc": "libjemalloc.so.2",
    "tcmalloc": "libtcmalloc_minimal.so.4",
    "mimalloc": "libmimalloc.so.2",
}
SYSCALLS = ["brk", "mmap", "munmap", "mremap", "mprotect", "madvise"]

T = Tally(SUITE)
ok, fail, check, finish = T.ok, T.fail, T.check, T.finish


def strace_counts(path, workloads):
    """Per process that exec'd one of workloads, in exec order: {syscall: count} of
    the memory syscalls made after its execve, plus 'brk_set' (brk calls with
    an address, i.e. not brk(NULL) queries)."""
    line_re = re.compile(r"^(\d+) +(.*)$")
    procs = {}     # pid -> counts (only after the workload's execve)
    order = []
    with open(path) as f:
        for line in f:
            m = line_re.match(line)
            if not m:
                continue
            pid, rest = int(m.group(1)), m.group(2)
            if rest.startswith("execve(") and any(f'"{w}"' in rest.split(",")[0] for w in workloads) \
                    and not rest.rstrip().endswith("<unfinished ...>") and "= 0" in rest:
                procs[pid] = {s: 0 for s in SYSCALLS}
                procs[pid]["brk_set"] = 0
                order.append(pid)
                continue
            if rest.startswith("<... execve resumed>") and rest.rstrip().endswith("= 0"):
                # an execve split by another process's output: find its start
                continue
            if pid not in procs:
                continue
            name = rest.split("(", 1)[0]
            if name in SYSCALLS:
                procs[pid][name] += 1
                if name == "brk" and not rest.startswith("brk(NULL"):
                    procs[pid]["brk_set"] += 1
    return [procs[p] for p in order]


def noisy_pairs(allocs):
    """The pairs the README's rule calls too noisy to rank: untraced wall-time
    ranges (min..max, ends included) that overlap, or fewer than 2 runs."""
    out = []
    for i, a in enumerate(allocs):
        for b in allocs[i + 1:]:
            ra, rb = [x["wall_ns"] for x in a["untraced"]["runs"]], [x["wall_ns"] for x in b["untraced"]["runs"]]
            if len(ra) < 2 or len(rb) < 2 or (min(ra) <= max(rb) and min(rb) <= max(ra)):
                out.append([a["name"], b["name"]])
    return out


# ---------------------------------------------------------------- the page

UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]


def size3(n):
    """am_fmt_size3 (fmt.c): the size a person reads."""
    if n < 1024:
        return f"{n} B"
    d, k = float(n), 0
    while k < 6 and d >= 999.5:
        d /= 1024
        k += 1
    dec = 2 if d < 9.995 else 1 if d < 99.95 else 0
    return "%.*f %s" % (dec, n / (1 << (10 * k)), UNITS[k])


def page_data(path):
    """The page's data block (the --json document, the table, the timelines)."""
    with open(path) as f:
        page = f.read()
    m = re.search(r'<script id="am-data" type="application/json">(.*?)</script>', page, re.S)
    return page, json.loads(m.group(1)) if m else None


def dom(html, tmp, script=None):
    """The page's DOM after its script ran (and script, when given, after it),
    without the script elements' own text; None when Chromium is missing
    (a failure under CI=true) or the page's script failed."""
    if not os.path.exists(CHROMIUM):
        if CI:
            fail("chromium", "chromium missing and CI=true (bash scripts/deps.sh)")
        else:
            print("note: chromium not installed: the page's DOM is not checked")
        return None
    if script:
        with open(html) as f:
            text = f.read()
        html = html + ".run.html"
        with open(html, "w") as f:
            f.write(text.replace("</body>", "<script>" + script + "</script></body>"))
    p = chromium(["--dump-dom", "--virtual-time-budget=5000", "file://" + html], tmp)
    errs = re.findall(r'data-error="[^"]*"', p.stdout)
    if p.returncode != 0 or errs or 'data-ready="1"' not in p.stdout:
        fail("page_script", f"exit {p.returncode}, errors {errs}, {p.stderr[-300:]!r}")
        return None
    return re.sub(r"<script\b.*?</script>", "", p.stdout, flags=re.S)


def attrs(tag_re, page):
    """Every element matching tag_re (a start tag), as a dict of its attributes."""
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', m)) for m in re.findall(tag_re, page)]


def progress_page(html, doc, tmp):
    """The timelines: a line per allocator compared in both byte charts and a
    lane of OS requests, on the progress axis (allocator calls made) that ends
    at each allocator's total calls, with the table's figures at exit; the
    wall-time toggle redraws them on traced time."""
    _, data = page_data(html)
    traced = [a for a in doc["allocators"] if "skipped" not in a]
    names = [a["name"] for a in traced]
    check("page_json", data is not None and data["compare"] == doc,
          "the page's data block is not the --json document of the same run")
    if data is None:
        return
    tl = {t["name"]: t for t in data["timelines"]}
    for a in traced:
        p = tl.get(a["name"], {}).get("points", [])
        calls = p[1::4]
        check(f"timeline_{a['name']}", len(p) >= 8 and calls == sorted(calls) and p[-3] == a["calls"]
              and p[-2] == a["bytes"]["live_exit"] and p[-1] == a["bytes"]["os_exit"]
              and p[0::4] == sorted(p[0::4]),
              f"{len(p) // 4} points, last {p[-4:]}, calls {a['calls']}, bytes {a['bytes']}")
    page = dom(html, tmp)
    if page is None:
        return
    series = attrs(r'<path [^>]*class="series"[^>]*>', page)
    for key, fig in (("os", "os_exit"), ("live", "live_exit")):
        got = {s["data-alloc"]: s for s in series if s.get("data-series") == key}
        check(f"page_lines_{key}", sorted(got) == sorted(names), f"lines {sorted(got)} for {names}")
        for a in traced:
            s = got.get(a["name"], {})
            check(f"page_axis_end_{key}_{a['name']}", s.get("data-mode") == "calls"
                  and s.get("data-last-x") == str(a["calls"]) and s.get("data-last-y") == str(a["bytes"][fig]),
                  f"line {s}, calls {a['calls']}, {fig} {a['bytes'][fig]}")
    lanes = {l["data-alloc"]: l for l in attrs(r'<g [^>]*class="lane"[^>]*>', page)}
    check("page_lanes", sorted(lanes) == sorted(names) and all(
        lanes[a["name"]]["data-marks"] == str(sum(v["all"] for v in a["os_requests"].values())) for a in traced),
          f"lanes {lanes}")
    check("page_axis_title", "allocator calls made by the program so far" in page
          and 'data-x="calls"' in page, "no progress axis title")
    # the toggle: the same lines on traced wall time
    page = dom(html, tmp, "document.querySelector('button[data-x=wall]').click();")
    if page is None:
        return
    series = attrs(r'<path [^>]*class="series"[^>]*>', page)
    last_t = {n: t["points"][-4] for n, t in tl.items()}
    check("page_toggle_wall", 'id="progress-panel" data-x="wall"' in page.replace('class="panel" ', '')
          and len(series) == 2 * len(names)
          and all(s["data-mode"] == "wall" and s["data-last-x"] == str(last_t[s["data-alloc"]]) for s in series)
          and "traced wall time since each trace started" in page
          and re.search(r'<button type="button" id="x-wall" data-x="wall" class="on">', page),
          f"after the toggle: {[(s.get('data-alloc'), s.get('data-mode'), s.get('data-last-x')) for s in series]}")


def runs_page(html, doc, tmp):
    """The cards, the allocators' table and the side-by-side table of a
    --runs page show the --json document's figures of the same run: the
    median and range of the untraced runs, sizes as am_fmt_size3 with the
    exact bytes in their tooltips."""
    page = dom(html, tmp)
    if page is None:
        return
    for a in (a for a in doc["allocators"] if "skipped" not in a):
        n, u, b = a["name"], a["untraced"], a["bytes"]
        card = re.search(r'<div class="card" data-card="%s">(.*?)</div></div>' % re.escape(n), page + "</div>", re.S)
        card = card.group(1) if card else ""
        check(f"card_{n}", f'<div class="v" data-wall-ns="{u["wall_ns"]}"' in card
              and f'>{u["wall_ns"] / 1e9:.3f} s</div>' in card
              and f'data-range="{u["wall_ns_min"]}-{u["wall_ns_max"]}"' in card
              and f'title="{b["os_peak"]:,} bytes" data-bytes="{b["os_peak"]}">from OS, peak {size3(b["os_peak"])}' in card,
              f"card {card[:600]!r}, untraced {u}, os_peak {b['os_peak']}")
        row = re.search(r'<tr class="alloc-row" data-alloc="%s">(.*?)</tr>' % re.escape(n), page, re.S)
        vals = re.findall(r'data-v="([^"]*)"', row.group(1)) if row else []
        want = [a["calls"], sum(v["all"] for v in a["os_requests"].values()), a["calls_reaching_os"],
                b["live_peak"], b["os_peak"], b["overhead_peak"], b["os_exit"], u["wall_ns"], u["wall_ns_min"],
                u["wall_ns_max"], u["max_rss_kb"] * 1024, a["traced"]["wall_ns"], a["lost"]["events"]]
        check(f"rank_row_{n}", [float(v) for v in vals] == [float(w) for w in want if w is not None],
              f"row {vals}, want {want}")
    # the side-by-side table: its size cells carry the exact bytes
    check("side_exact_bytes", all(f'title="{a["bytes"]["live_peak"]:,} bytes" data-bytes="{a["bytes"]["live_peak"]}"' in page
                                  and f'title="{a["bytes"]["os_peak"]:,} bytes" data-bytes="{a["bytes"]["os_peak"]}"' in page
                                  for a in doc["allocators"] if "skipped" not in a),
          "no cell with the exact live/os peak bytes")
    # sortable: a click on "from OS, peak" sorts the allocators by it, again reverses
    page = dom(html, tmp, "document.querySelector('#rank-table th[data-col=\"5\"]').click();")
    order = re.findall(r'<tr class="alloc-row" data-alloc="([^"]*)"', page or "")
    want = [a["name"] for a in sorted((a for a in doc["allocators"] if "skipped" not in a),
                                      key=lambda a: -a["bytes"]["os_peak"])]
    check("rank_sort", page is not None and [doc_os(doc, n) for n in order] == [doc_os(doc, n) for n in want],
          f"order {order}, want {want}")


def doc_os(doc, name):
    return next(a["bytes"]["os_peak"] for a in doc["allocators"] if a["name"] == name)


def text_table(out):
    """The text table's rows: (label, [cells]) (sections: (label, None)), the
    column titles, and the note under it."""
    lines = out.splitlines()
    head = lines[1].split()
    rows, note = [], ""
    for line in lines[2:]:
        if line.startswith("too noisy") or line.startswith("one untraced run"):
            note = line
            continue
        if line.startswith("(all ="):
            break
        if not line.startswith(" "):
            rows.append((line, None))
            continue
        parts = re.split(r"\s{2,}", line.strip())
        rows.append((parts[0], parts[1:]))
    return head, rows, note


def text_and_page(tmp):
    """The text output and the page of one run: the page's side-by-side table
    is the text's, cell for cell, its note ("too noisy to rank ...") the
    text's, and the cards' medians the text's."""
    html = os.path.join(tmp, "text.html")
    r = run([TOOL, "compare", "--runs", "2", "-a", "glibc,jemalloc", "--html", html, "--", WORKLOAD, "3000"],
            timeout=150)
    if r.returncode != 0:
        fail("text_page", f"exit {r.returncode}: {r.stderr[-500:]}")
        return
    head, rows, note = text_table(r.stdout)
    page = dom(html, tmp)
    if page is None:
        return
    side = re.search(r'<table id="side-table" class="data side">(.*?)</table>', page, re.S).group(1)
    got = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", side, re.S)[1:]:
        cells = [re.sub(r"<[^>]*>", "", c).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        got.append((cells[0], None) if 'class="sec"' in tr else (cells[0], cells[1:]))
    check("text_page_table", got == rows, f"page {got[:6]} ... != text {rows[:6]} ...")
    notes = re.findall(r'<div class="note" id="noise-note">([^<]*)</div>', page)
    check("text_page_note", (notes == [note]) if note else
          (notes == ["ranked by untraced wall time: no two allocators' min–max ranges overlap"]),
          f"page note {notes}, text note {note!r}")
    medians = dict(zip(head, next(c for l, c in rows if l.startswith("wall time, untraced"))))
    for n, v in medians.items():
        check(f"text_page_card_{n}", re.search(r'<div class="card" data-card="%s">.*?<div class="v" [^>]*>%s</div>'
                                               % (n, re.escape(v)), page, re.S), f"no card {n} with {v}")


def hostile_cmdline(tmp):
    """An argument and an allocator name that are markup: inert data in the
    page, shown as text."""
    arg = "<script>document.title='pwned'</script>\"'&<b>"
    name = "<i>x\"y"
    html = os.path.join(tmp, "hostile.html")
    r = run([TOOL, "compare", "--no-untraced", "-a", f"glibc,{name}={LIBDIR}/{PRELOADS['jemalloc']}", "--html", html,
             "--", WORKLOAD, arg, "x\n\x1b[31m"], timeout=120)
    if r.returncode != 0:
        fail("hostile_cmdline", f"exit {r.returncode}: {r.stderr[-300:]}")
        return
    check("hostile_text", "\x1b" not in r.stdout and r.stdout.splitlines()[0] ==
          f"allocmap compare: {WORKLOAD} {arg} x\\x0a\\x1b[31m", f"text head {r.stdout.splitlines()[:1]!r}")
    raw, data = page_data(html)
    check("hostile_raw", "<script>document" not in raw and "<b>" not in raw and "<i>" not in raw
          and raw.count("<script") == 2 and data is not None and data["compare"]["command"] == [WORKLOAD, arg, "x\n\x1b[31m"]
          and [a["name"] for a in data["compare"]["allocators"]] == ["glibc", name],
          "the argument or the name reached the page raw, or the data block lost them")
    page = dom(html, tmp)
    if page is None:
        return
    # one <b> per allocator in the run settings, no <i>
    check("hostile_dom", "<title>allocmap compare</title>" in page and page.count("<b>") == 2 and "<i>" not in page
          and "$ .output/workloads/small_objects '&lt;script&gt;document.title='\\''pwned'\\''&lt;/script&gt;\"'\\''&amp;&lt;b&gt;' $'x\\x0a\\x1b[31m'" in page
          and 'data-alloc="&lt;i&gt;x&quot;y"' in page and page.count('class="series"') == 4,
          f"cmdline {re.findall(r'<div id=.cmdline[^>]*>[^<]*', page)}")
    shot = os.path.join(tmp, "hostile.png")
    p = chromium(["--screenshot=" + shot, "--window-size=1400,1600", "--virtual-time-budget=5000", "file://" + html], tmp)
    check("page_screenshot", os.path.exists(shot) and os.path.getsize(shot) > 20000, f"no screenshot: {p.stderr[-200:]}")


def runs_benchmark(installed):
    """--runs N: N untraced runs recorded per allocator, the medians and ranges
    are those of the recorded runs, the noisy pairs follow the rule, the HTML
    table and note say the same; bad N is a usage error."""
    for bad in ("0", "1001", "abc", "-1"):
        r = run([TOOL, "compare", "--runs", bad, "--", WORKLOAD])
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(f"runs_bad_{bad}", r.returncode == 64 and len(lines) == 1 and "--runs" in lines[0],
              f"exit {r.returncode}, stderr {r.stderr!r}")
    names = [n for n in ("glibc", "jemalloc", "mimalloc") if n in installed]
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "cmp.html")
        r = run([TOOL, "compare", "--json", "--runs", "3", "--html", html, "-a", ",".join(names),
                 "--", WORKLOAD], timeout=150)
        if r.returncode != 0:
            fail("runs_json", f"exit {r.returncode}: {r.stderr[-500:]}")
            return
        doc = json.loads(r.stdout)
        page = open(html).read()
    allocs = [a for a in doc["allocators"] if "skipped" not in a]
    check("runs_count", doc.get("untraced_runs") == 3 and [a["name"] for a in allocs] == names
          and all(len(a["untraced"]["runs"]) == 3 for a in allocs),
          f"untraced_runs {doc.get('untraced_runs')}, runs {[a.get('untraced') for a in allocs]}")
    for a in allocs:
        u = a["untraced"]
        walls = sorted(x["wall_ns"] for x in u["runs"])
        rss = sorted(x["max_rss_kb"] for x in u["runs"])
        check(f"runs_median_{a['name']}",
              u["wall_ns"] == walls[1] and u["wall_ns_min"] == walls[0] and u["wall_ns_max"] == walls[2]
              and u["max_rss_kb"] == rss[1] and u["max_rss_kb_min"] == rss[0]
              and u["max_rss_kb_max"] == rss[2] and all(x["exit"] == 0 for x in u["runs"])
              and all(x["wall_ns"] > 0 and x["max_rss_kb"] > 0 for x in u["runs"]), f"untraced {u}")
        # the default workload keeps > 1 MiB live at its peak: a real ratio
        b = a["bytes"]
        check(f"runs_overhead_{a['name']}", b["live_peak"] >= 1 << 20
              and b["overhead_peak"] == round(b["os_peak"] / b["live_peak"], 4), f"bytes {b}")
    want = noisy_pairs(allocs)
    check("runs_noisy_rule", doc.get("too_noisy_to_rank") == want,
          f"too_noisy_to_rank {doc.get('too_noisy_to_rank')}, rule gives {want}")
    note = "too noisy to rank by untraced wall time"
    check("runs_html", "wall time, untraced (median of 3)" in page and "range (min-max)" in page
          and (note in page) == bool(want)
          and all(f"{x} and {y}" in page for x, y in want), "html table or note disagree with JSON")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "cmp.html"), "w") as f:
            f.write(page)
        runs_page(os.path.join(tmp, "cmp.html"), doc, tmp)


def main():
    T.require((TOOL, WORKLOAD))
    installed = ["glibc"] + [n for n, so in PRELOADS.items()
                             if os.path.exists(os.path.join(LIBDIR, so))]
    missing = [n for n in PRELOADS if n not in installed]
    if os.access(MUSL_WORKLOAD, os.X_OK):
        installed.append("musl")   # a fifth column: the workload built with musl-gcc
    elif CI:
        fail("musl_workload", f"{MUSL_WORKLOAD} missing (musl-tools, make) and CI=true")
    else:
        print(f"note: {MUSL_WORKLOAD} not built (no musl-gcc): no musl column")
    if missing:
        print(f"note: not installed, expected to be skipped: {', '.join(missing)}")

    # --- command line ---
    r = run([TOOL, "compare", "--help"])
    check("help_examples", r.returncode == 0 and "EXAMPLES" in r.stdout
          and "--allocators" in r.stdout, f"exit {r.returncode}, no EXAMPLES in --help")
    r = run([TOOL, "compare", "--allocators", "glibc,nosuch", "--", WORKLOAD])
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check("bad_allocator", r.returncode == 64 and len(lines) == 1 and "nosuch" in lines[0],
          f"exit {r.returncode}, stderr {r.stderr!r}")
    r = run([TOOL, "compare", "--", "/nonexistent/prog"])
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check("bad_command", r.returncode == 64 and len(lines) == 1 and "/nonexistent/prog" in lines[0],
          f"exit {r.returncode}, stderr {r.stderr!r}")

    # --- every installed allocator, under strace, JSON and HTML at once ---
    with tempfile.TemporaryDirectory() as tmp:
        st = os.path.join(tmp, "strace.txt")
        html = os.path.join(tmp, "cmp.html")
        r = run(["strace", "-f", "-qq", "-o", st, "-e", "trace=memory,execve",
                 TOOL, "compare", "--json", "--no-untraced", "--html", html,
                 "--", WORKLOAD, "2000"], timeout=150)
        if r.returncode != 0:
            fail("compare_runs", f"exit {r.returncode}: {r.stderr[-500:]}")
            finish()
        try:
            doc = json.loads(r.stdout)
            ok("json_parses")
        except ValueError as e:
            fail("json_parses", f"{e}: {r.stdout[:300]!r}")
            finish()
        rows = {a["name"]: a for a in doc.get("allocators", [])}
        traced = [a["name"] for a in doc["allocators"] if "skipped" not in a]
        for name in installed:
            a = rows.get(name)
            check(f"traced_{name}", a is not None and "skipped" not in a
                  and a.get("bound") == name and a.get("exit") == 0 and a["calls"] > 2000,
                  f"row {a!r:.300}")
        for name in missing:
            check(f"skipped_{name}", name in rows and "skipped" in rows[name],
                  f"row {rows.get(name)!r}")

        counts = strace_counts(st, (WORKLOAD, MUSL_WORKLOAD))
        check("strace_runs", len(counts) == len(traced),
              f"strace saw {len(counts)} workload execs, table has {len(traced)} runs")
        for name, sc in zip(traced, counts):
            a = rows[name]
            got = {s: a["os_requests"][s]["all"] for s in SYSCALLS}
            got["brk_set"] = a["brk_set"]["all"]
            check(f"strace_match_{name}", got == sc, f"table {got} != strace {sc}")
            check(f"no_lost_{name}", a["lost"]["events"] == 0, f"lost {a['lost']}")

        g = rows.get("glibc", {})
        check("glibc_brk", g.get("os_requests", {}).get("brk", {}).get("in_calls", 0) > 0
              and g.get("brk_set", {}).get("in_calls", 0) > 0,
              f"glibc brk {g.get('os_requests', {}).get('brk')} brk_set {g.get('brk_set')}")
        for name in ("jemalloc", "mimalloc"):
            if name not in traced:
                continue
            a = rows[name]
            check(f"{name}_no_brk", a["brk_set"]["all"] == 0 and a["brk_set"]["in_calls"] == 0,
                  f"{name} moved the break: {a['brk_set']}")
        # the overhead figures are consistent; a ratio only from overhead_floor live
        for name in traced:
            b = rows[name]["bytes"]
            check(f"bytes_{name}", b["os_peak"] >= b["os_exit"] and b["live_peak"] > 0
                  and b["overhead_floor"] == 1 << 20
                  and (b["overhead_peak"] is None if b["live_peak"] < b["overhead_floor"]
                       else b["overhead_peak"] is not None and b["overhead_peak"] > 0.5)
                  and (b["overhead_exit"] is None) == (b["live_exit"] < b["overhead_floor"]),
                  f"bytes {b}")

        page, _ = page_data(html)
        ext = re.findall(r'(?:src|href)\s*=\s*"(?:https?:)?//', page)
        check("html", not ext and "--heap: #2f6fdb" in page and "/*@" not in page
              and page.rstrip().endswith("</html>"), f"external refs {ext}, or not the report's stylesheet")
        progress_page(html, doc, tmp)

    runs_benchmark(installed)
    with tempfile.TemporaryDirectory() as tmp:
        text_and_page(tmp)
        hostile_cmdline(tmp)

    # --- a missing allocator is reported and skipped; the text table ---
    r = run([TOOL, "compare", "--no-untraced", "-a", "glibc,ghost=/nonexistent/libghost.so",
             "--", WORKLOAD, "500"])
    check("missing_skipped", r.returncode == 0 and "ghost" in r.stderr and "skipped" in r.stderr
          and "glibc" in r.stdout and "ghost" not in r.stdout,
          f"exit {r.returncode}, stderr {r.stderr[-300:]!r}")
    check("text_table", all(k in r.stdout for k in
                            ["calls that reached the OS", "overhead at peak", "mprotect",
                             "returned to OS: munmap", "lost events", "peak RSS"]),
          f"table: {r.stdout[:400]!r}")
    finish()


if __name__ == "__main__":
    main()
