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

Prints "ok NAME" / "FAIL NAME: why", ends with "compare: N passed, N failed".
"""
import json
import os
import re
import tempfile

from harness import CI, TOOL, Tally, run

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
    # the page's size cells carry the exact bytes as a tooltip
    check("runs_html_exact_bytes", all(f'title="{a["bytes"]["live_peak"]} bytes"' in page
                                       and f'title="{a["bytes"]["os_peak"]} bytes"' in page for a in allocs),
          "no title with the exact live/os peak bytes")


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

        try:
            page = open(html).read()
        except OSError as e:
            page = ""
            fail("html", str(e))
        if page:
            n_svg = page.count("<svg")
            ext = re.findall(r'(?:src|href)\s*=\s*"(?:https?:)?//', page)
            check("html", n_svg == len(traced) and not ext and "<table" in page
                  and page.rstrip().endswith("</html>"),
                  f"{n_svg} timelines for {len(traced)} runs, external refs {ext}")
            # the cursor's data is JSON (jsonw, html-safe): one entry per allocator
            m = re.search(r"const RUNS=(.*?);\nfunction sz", page, re.S)
            try:
                cur = json.loads(m.group(1)) if m else None
            except ValueError as e:
                cur = None
                fail("html_cursor_data", f"not JSON: {e}")
            if cur is not None:
                check("html_cursor_data", [c["name"] for c in cur] == [a["name"] for a in doc["allocators"]]
                      and all(len(c["live"]) == len(c["os"]) == 860 for c in cur),
                      f"names {[c.get('name') for c in cur]}, lengths {[len(c.get('live', [])) for c in cur]}")

    runs_benchmark(installed)

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
