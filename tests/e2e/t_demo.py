#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_demo.py - end-to-end tests of `allocmap demo threshold` (run as root from
the repository root, after make; tests/run-all.sh runs it).

The demo traces workloads/threshold_sweep three times; --json gives one
object per traced call with its step and where glibc served it. The expected
"served from" of every call below is glibc 2.36's behaviour, checked with
`ltrace -S -e malloc+free` on this machine (FACTS.md): the top chunk holds
the first 129 KiB request, not the second; freeing the 1 MiB mmapped chunk
raises the threshold to 1028 KiB so 256/512 KiB come from the brk heap; a
threshold pinned at 128 KiB (MALLOC_MMAP_THRESHOLD_) sends them to mmap; one
pinned at 1 MiB (GLIBC_TUNABLES) keeps the second 129 KiB on the heap too.

Prints "ok NAME" / "FAIL NAME: why", ends with "demo: N passed, N failed".
"""
import json
import os
import tempfile

from harness import TOOL, Tally, run

SUITE = "demo"
SWEEP = ".output/workloads/threshold_sweep"

H, M = "heap", "mmap"
# variant -> per step: served-from of each call, in order
EXPECTED = {
    "default": [[H, H], [H], [M], [M], [M], [H], [H], [M], [M], [H, H, M, H, H, H]],
    "env":     [[H, H], [H], [M], [M], [M], [M], [M], [M], [M], [M, M, M, H, H, H]],
    "tunable": [[H, H], [H], [H], [M], [M], [H], [H], [M], [M], [H, H, H, H, H, H]],
}

T = Tally(SUITE)
ok, fail, check, finish = T.ok, T.fail, T.check, T.finish


def main():
    T.require((TOOL, SWEEP))

    r = run([TOOL, "demo", "--help"])
    check("help_examples", r.returncode == 0 and "EXAMPLES" in r.stdout,
          f"exit {r.returncode}")
    r = run([TOOL, "demo", "nosuch"])
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check("bad_topic", r.returncode == 64 and "nosuch" in r.stderr and len(lines) == 1,
          f"exit {r.returncode}, stderr {r.stderr!r}")
    r = run([TOOL, "demo", "threshold", "--only", "bogus"])
    check("bad_only", r.returncode == 64 and "bogus" in r.stderr, f"exit {r.returncode}")

    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "thr.html")
        r = run([TOOL, "demo", "threshold", "--json", "--pause", "0", "--html", html])
        check("json_run", r.returncode == 0, f"exit {r.returncode}: {r.stderr[-400:]}")
        recs = []
        try:
            recs = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
            ok("json_parses")
        except ValueError as e:
            fail("json_parses", str(e))
        for variant, want in EXPECTED.items():
            mine = [x for x in recs if x["variant"] == variant and x["step"] >= 1]
            got = [[x["served_from"] for x in mine if x["step"] == s + 1]
                   for s in range(len(want))]
            check(f"served_from_{variant}", got == want, f"got {got}, want {want}")
            others = [x for x in recs if x["variant"] == variant and x["step"] < 1]
            check(f"no_stray_calls_{variant}", not others, f"calls outside the sweep: {others}")

        def rec(variant, step, i=0):
            mine = [x for x in recs if x["variant"] == variant and x["step"] == step]
            return mine[i] if i < len(mine) else {}

        # the why of each step, as the trace tells it
        d = rec("default", 1)
        check("first_malloc_brk", d.get("os") == "brk(NULL) brk(+132 KiB)", f"{d}")
        d = rec("default", 2)
        check("fit_top_chunk", d.get("reason") == "fit_top_chunk" and d.get("os") == "", f"{d}")
        d = rec("default", 3)
        check("nofit_mmap", d.get("reason") == "over_threshold" and d.get("os") == "mmap(132 KiB)",
              f"{d}")
        d = rec("default", 5)
        check("threshold_rises", d.get("threshold_after") == 1052672 and
              d.get("os") == "munmap(1028 KiB)", f"{d}")
        check("heap_grows_brk", rec("default", 6).get("os", "").startswith("brk(+") and
              rec("default", 7).get("os", "").startswith("brk(+") and
              rec("default", 6).get("threshold") == 1052672,
              f"{rec('default', 6)} {rec('default', 7)}")
        d = rec("default", 9)
        check("threshold_rises_again", d.get("threshold_after") == 4198400, f"{d}")
        # pinned runs: the threshold never moves, and they differ where expected
        for v, thr in (("env", 131072), ("tunable", 1048576)):
            moved = [x for x in recs if x["variant"] == v and "threshold_after" in x]
            thrs = {x["threshold"] for x in recs if x["variant"] == v}
            check(f"pinned_{v}", not moved and thrs == {thr},
                  f"moved {moved}, thresholds {thrs}")
        check("env_differs", rec("env", 6).get("os", "").startswith("mmap(") and
              rec("env", 7).get("os", "").startswith("mmap("),
              f"{rec('env', 6)} {rec('env', 7)}")
        check("tunable_differs", rec("tunable", 3).get("os", "").startswith("brk(+") and
              rec("tunable", 10).get("os", "").startswith("brk(-"),
              f"{rec('tunable', 3)} {rec('tunable', 10)}")
        try:
            page = open(html).read()
        except OSError as e:
            page = ""
            fail("html", str(e))
        if page:
            check("html", page.count("<svg") == 3 and "threshold" in page
                  and "http" not in page and page.rstrip().endswith("</html>"),
                  f"{page.count('<svg')} views")

    # the guided text: each step with its explanation beside it
    r = run([TOOL, "demo", "threshold", "--only", "default", "--pause", "0"])
    out = r.stdout
    check("text_steps", r.returncode == 0 and all(f"{i:2d}. " in out for i in range(1, 11))
          and "top chunk still holds it" in out and "threshold 128 KiB -> 1028 KiB" in out
          and "served from, side by side" in out,
          f"exit {r.returncode}: {out[:600]!r}")
    finish()


if __name__ == "__main__":
    main()
