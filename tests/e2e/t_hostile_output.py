#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_hostile_output.py - what a hostile trace file or a hostile target can do
to allocmap's outputs (issue 10, part A), each attack checked end to end:

- stored XSS in `allocmap report` (strings where the schema has numbers:
  tid, id, cause.call_id; markup in names) and a data block that `<!--`,
  `<script` or `</script` in a name would end or comment out: the page is
  loaded in headless Chromium, whose title the injected code would change;
- writes that fail: -o /dev/full, stdout on /dev/full, the --html capture in a
  full $TMPDIR (a 4 KiB tmpfs): one line, a non-zero exit, no report;
- the --html capture leaves nothing in $TMPDIR, even when allocmap is killed;
- symbol and object names with terminal escapes, a newline, markup and bytes
  that are not UTF-8 (tests/progs/hostile, its symbol overwritten in the
  binary, copied under a hostile file name): text and --folded stay
  printable and one line per frame, JSON Lines and Perfetto valid UTF-8 JSON;
- the exit record's code is the exit status (and a signal is named);
- a 62 MB trace whose one stack has 2 million frames: `report` stays small.

Run as root after `make`."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from harness import CHROMIUM, Fail, ROOT, Skip, TOOL, check, chromium, eq, run, run_tests

HOSTILE = os.path.join(ROOT, ".output", "progs", "hostile")
EXAMPLE = os.path.join(ROOT, ".output", "progs", "example")
TMP = tempfile.mkdtemp(prefix="t_hostile.")

PLACEHOLDER = b"am_hostile_name_placeholder_0123456789"
# the symbol the target gets: colour and title escapes, a newline that would
# forge a line, a byte that is no UTF-8, a C1 CSI, markup that ends a comment
EVIL = b"\x1b[31mEVIL\x1b]0;pwn\x07\nforged 1\xff\xc2\x9b<!--;"
EVIL = EVIL + b"x" * (len(PLACEHOLDER) - len(EVIL))
EVIL_OBJ = b"hostile\x1b[7m\xfe"     # the executable's file name
PWN = "PWNED"                          # what injected code would put in the title


def chromium_dom(path):
    """The DOM of the page after its scripts ran (5 s of virtual time)."""
    p = chromium(["--dump-dom", "--virtual-time-budget=5000", "file://" + path], TMP, 90)
    check(p.returncode == 0 and "<html" in p.stdout, "chromium --dump-dom failed: %s" % p.stderr[-300:])
    return p.stdout


def title(page):
    m = re.search(r"<title>(.*?)</title>", page, re.S)
    return m.group(1) if m else ""


def report(jsonl, name, perfetto=False):
    html = os.path.join(TMP, name + ".html")
    pf = os.path.join(TMP, name + ".perfetto.json")
    args = [TOOL, "report", jsonl, "-o", html] + (["--perfetto", pf] if perfetto else [])
    p = run(args)
    if p.returncode != 0:
        raise Fail("allocmap report exited %d: %s" % (p.returncode, p.stderr.strip()[-400:]))
    return html, pf


def write_jsonl(name, lines):
    """Writes records (dicts, or bytes taken as they are) one per line."""
    path = os.path.join(TMP, name + ".jsonl")
    with open(path, "wb") as f:
        for l in lines:
            f.write(l if isinstance(l, bytes) else json.dumps(l).encode())
            f.write(b"\n")
    return path


def frame(sym, obj="prog", file="prog.c", addr=0x401000):
    return {"addr": hex(addr), "sym": sym, "off": 4, "obj": obj, "file": file, "line": 7}


def base_trace(inject, stack=None):
    """A small valid trace (a malloc making an mmap, a direct mmap, a free,
    a summary) with inject() applied to its OS record."""
    st = stack or [frame("mmap"), frame("malloc", "libc.so.6"), frame("main")]
    os1 = {"type": "os", "ts_ns": 1000, "pid": 42, "tid": 42, "id": 1, "syscall": "mmap", "addr": "0x0",
           "len": 200704, "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS", "fd": -1,
           "offset": 0, "ret": "0x7f0000000000", "dur_ns": 500,
           "cause": {"kind": "call", "call_id": 1, "fn": "malloc", "size": 200000}, "region": "mmap",
           "stack": st, "alloc_frames": 2}
    inject(os1)
    call = {"type": "call", "ts_ns": 900, "pid": 42, "tid": 42, "id": 1, "fn": "malloc", "size": 200000,
            "ret": "0x7f0000000010", "dur_ns": 800, "os": [1], "region": "mmap", "stack": st}
    direct = {"type": "os", "ts_ns": 3000, "pid": 42, "tid": 42, "id": 2, "syscall": "mmap", "addr": "0x0",
              "len": 4096, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS", "fd": -1, "offset": 0,
              "ret": "0x7f0000100000", "dur_ns": 100, "cause": {"kind": "direct"}, "region": "direct"}
    summ = {"type": "summary", "ts_ns": 5000, "pid": 42, "tid": 42, "duration_ns": 5000,
            "functions": {"malloc": {"calls": 1, "bytes": 200000, "nested": 0, "os_calls": 1, "failed": 0}},
            "syscalls": {"mmap": {"count": 2, "failed": 0, "by_cause": {"malloc": 1, "direct": 1}}},
            "bytes": {"live": 200000}, "counters": {"events": 4}, "threshold": None, "target": None}
    return [os1, call, direct, summ]


def page_ok(page, what):
    check('data-ready="1"' in page, "%s: the report's script did not finish (blanked or broken page)" % what)
    check(PWN not in title(page), "%s: injected code ran (title %r)" % (what, title(page)))
    check(not re.search(r"<body[^>]*data-pwned", page), "%s: injected code ran (data-pwned)" % what)


# ---------------- report: the page ----------------

def t_detector_works():
    """The check below would see injected code run: raw markup in a page
    does change the title in this Chromium."""
    path = os.path.join(TMP, "control.html")
    with open(path, "w") as f:
        f.write("<!doctype html><html><head><title>ok</title></head><body>"
                "<img src=x onerror=\"document.title='%s'\"></body></html>" % PWN)
    check(PWN in title(chromium_dom(path)), "control page: Chromium did not run the onerror handler")


XSS = "<img src=x onerror=\"document.title='%s';document.body.setAttribute('data-pwned',1)\">" % PWN


def t_report_xss_by_type():
    """Strings where the schema has numbers (tid, id, cause.call_id, pid,
    size, addresses) and markup in every text field reach the page inert."""
    def inject(o):
        o["tid"] = XSS
        o["id"] = XSS
        o["cause"]["call_id"] = XSS
        o["cause"]["size"] = XSS
        o["cause"]["fn"] = XSS
        o["ret"] = XSS
        o["prot"] = XSS
        o["error"] = XSS
        o["region"] = XSS
    recs = base_trace(inject)
    recs[1]["tid"] = XSS               # the call
    recs[1]["os"] = [XSS, 1]
    recs[1]["fn"] = XSS
    recs[1]["role"] = "malloc"          # registers the name as an --alloc function
    recs[2]["tid"] = XSS               # the direct request keeps a numeric id
    recs[2]["cause"] = {"kind": XSS}
    recs[3]["functions"][XSS] = {"calls": XSS, "bytes": 1}
    recs[3]["syscalls"]["mmap"]["by_cause"][XSS] = XSS
    recs[3]["counters"][XSS] = XSS
    recs[3]["target"] = {"exit": XSS, "wall_ns": XSS, "max_rss_kb": 1}
    recs.insert(3, {"type": "leaks", "ts_ns": 4000, "pid": 42, "tid": 42, "count": XSS, "bytes": 5,
                    "groups": [{"pid": XSS, "count": XSS, "bytes": XSS, "regions": {XSS: {"count": XSS, "bytes": 1}},
                                "stack": [frame(XSS, XSS, XSS)]}]})
    recs.insert(3, {"type": "task", "ts_ns": 3500, "pid": 42, "tid": XSS, "kind": XSS, "code": XSS})
    html, _ = report(write_jsonl("xss", recs), "xss")
    page = chromium_dom(html)
    page_ok(page, "XSS by type")
    body = re.sub(r"<script\b.*?</script>", "", page, flags=re.S)
    check("<img" not in body, "an <img> element was created from the data")
    check("onerror" not in body or "&lt;img" in body, "markup from the data reached the page unescaped")
    check('class="os-row"' in body, "the OS table was not drawn")


def t_report_script_breakout():
    """`<!--` with `<script` and `</script>` in symbol, object and file
    names (plus U+2028, a control character and a byte that is no UTF-8)
    cannot end or comment out the data block: the page draws, the names
    show as text."""
    evil = "<!--<script>" + "</script><script>document.title='%s'</script>" % PWN + "\u2028\x07"
    st = [frame("mmap"), frame("malloc", "libc.so.6"), frame(evil, evil, evil)]
    recs = base_trace(lambda o: None, stack=st)
    lines = [json.dumps(r).encode() for r in recs]
    # a raw byte that is no UTF-8 in a name, as a crafted file may hold
    lines[0] = lines[0].replace(b'"sym": "main"', b'"sym": "main\xff"')
    html, pf = report(write_jsonl("breakout", lines), "breakout", perfetto=True)
    raw = open(html, "rb").read()
    data = raw[raw.index(b'id="am-data"'):]
    data = data[:data.index(b"</script>")]
    for bad in (b"<!--", b"<script", b"</script"):
        check(bad not in data[1:], "%r inside the data block" % bad)
    page = chromium_dom(html)
    page_ok(page, "<!-- in names")
    check("&lt;!--&lt;script&gt;" in page, "the hostile name is not shown as text in the flame graph")


def t_report_outputs_valid_utf8_json():
    """Raw bytes that are no UTF-8 and control characters in a crafted
    trace: the Perfetto file is valid UTF-8 JSON with none of them raw."""
    st = [frame("a\x1b[31m\x01b"), frame("main")]
    recs = base_trace(lambda o: None, stack=st)
    lines = [json.dumps(r).encode().replace(b'"main"', b'"ma\xffin\xc3"') for r in recs]
    _, pf = report(write_jsonl("bytes", lines), "bytes", perfetto=True)
    raw = open(pf, "rb").read()
    text = raw.decode("utf-8")          # strict: raises on a bad byte
    back = json.dumps(json.loads(text), ensure_ascii=False)
    check(not re.search(r"[\x00-\x09\x0b-\x1f]", text), "a raw control character in the Perfetto file")
    check("ma\ufffdin\ufffd" in back, "the bad bytes are not U+FFFD")
    check("a\\u001b[31m\\u0001b" in back, "the control characters did not survive as escapes")


def t_report_huge_stack():
    """A 62 MB trace whose one OS request has a 2-million-frame stack:
    report stays under 200 MB, says the stack was cut; a 20 MB line of one
    string fails with one clear line."""
    recs = base_trace(lambda o: None)
    path = os.path.join(TMP, "huge.jsonl")
    head = json.dumps(dict(recs[0], stack=[])).encode().split(b'"stack": []')
    with open(path, "wb") as f:         # written in pieces: this process stays small
        f.write(head[0] + b'"stack": [')
        fr = b'{"addr":"0x401000","sym":"f"}'
        for i in range(20):
            f.write((b"," if i else b"") + b",".join([fr] * 100000))
        f.write(b"]" + head[1] + b"\n")
        for r in recs[1:]:
            f.write(json.dumps(r).encode() + b"\n")
    size = os.path.getsize(path)
    check(size > 60e6, "the test trace is only %d bytes" % size)
    html = os.path.join(TMP, "huge.html")
    t0 = time.monotonic()
    # /usr/bin/time: the report's own peak RSS, not that of a fork of this process
    p = run(["/usr/bin/time", "-f", "maxrss_kb=%M", TOOL, "report", path, "-o", html])
    took = time.monotonic() - t0
    m = re.search(r"maxrss_kb=(\d+)", p.stderr)
    check(p.returncode == 0 and m, "report failed: %s" % p.stderr[-300:])
    rss = int(m.group(1))
    print("  huge stack: %.0f MB trace, report max RSS %d MB, %.1f s" % (size / 1e6, rss // 1024, took))
    check(rss < 64 * 1024, "report used %d MB" % (rss // 1024))
    page = chromium_dom(html)
    page_ok(page, "huge stack")
    check("longer than 256 frames" in page and "2,000,000" in page, "the page does not say the stack was cut")
    # one line over the bound
    big = json.dumps(dict(recs[1], fn="x" * (20 << 20)))
    p = run([TOOL, "report", write_jsonl("longline", [recs[0], big]), "-o", os.path.join(TMP, "long.html")])
    check(p.returncode != 0, "a 20 MB record was accepted")
    check("longer than 16 MiB" in p.stderr and p.stderr.count("\n") == 1, "message: %r" % p.stderr[-300:])


def t_report_leak_groups_capped():
    """A leaks record of 300 groups: 200 are read (largest first), the page
    counts all 300."""
    recs = base_trace(lambda o: None)
    groups = [{"pid": 42, "count": 1, "bytes": 1000 - i, "regions": {"heap": {"count": 1, "bytes": 1000 - i}},
               "stack": [frame("malloc", "libc.so.6"), frame("leaker%d" % i)]} for i in range(300)]
    recs.insert(3, {"type": "leaks", "ts_ns": 4000, "pid": 42, "tid": 42, "count": 300,
                    "bytes": sum(g["bytes"] for g in groups), "groups": groups})
    html, _ = report(write_jsonl("leaks300", recs), "leaks300")
    page = chromium_dom(html)
    page_ok(page, "300 leak groups")
    body = re.sub(r"<script\b.*?</script>", "", page, flags=re.S)
    eq(len(re.findall(r'class="leak-row"', body)), 200, "leak rows drawn")
    check("300 stacks (largest 200 listed)" in page, "the page does not count every group")


def t_report_failed_perfetto_keeps_device():
    """A report that fails half-way removes its partial Perfetto file, but
    never what is not a regular file (as root, --perfetto /dev/null once
    deleted the device)."""
    dev = os.path.join(TMP, "null-device")
    os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))
    bad = write_jsonl("bad", base_trace(lambda o: None)[:2] + [b"{not json"])
    p = run([TOOL, "report", bad, "--perfetto", dev])
    check(p.returncode != 0, "a malformed trace was accepted")
    check(os.path.exists(dev), "the device node was deleted")
    part = os.path.join(TMP, "partial.json")
    p = run([TOOL, "report", bad, "--perfetto", part])
    check(p.returncode != 0 and not os.path.exists(part), "a partial Perfetto file was left")


# ---------------- trace: failed writes, the capture ----------------

def t_trace_full_output():
    """-o /dev/full and stdout on /dev/full (-p: a launched command's
    trace is on stderr): one line, non-zero exit."""
    p = run([TOOL, "trace", "-o", "/dev/full", "--", EXAMPLE])
    check(p.returncode != 0, "-o /dev/full exited 0")
    check("allocmap: cannot write /dev/full: No space left on device" in p.stderr, "stderr: %r" % p.stderr[-300:])
    target = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        with open("/dev/full", "w") as full:
            q = subprocess.run([TOOL, "trace", "--json", "-d", "0.5", "-p", str(target.pid)], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        target.kill()
        target.wait()
    check(q.returncode != 0, "stdout on /dev/full exited 0")
    check("allocmap: cannot write standard output: No space left on device" in q.stderr,
          "stderr: %r" % q.stderr[-300:])
    eq(q.stderr.count("cannot write"), 1, "one line about the failed write")


def t_trace_html_full_tmpdir():
    """--html with a full $TMPDIR (a 4 KiB tmpfs): fails clearly, writes no
    report from part of the events."""
    d = tempfile.mkdtemp(prefix="fulltmp.", dir=TMP)
    m = run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", d])
    if m.returncode != 0:
        raise Skip("cannot mount a tmpfs: %s" % m.stderr.strip())
    try:
        html = os.path.join(TMP, "fulltmp.html")
        env = dict(os.environ, TMPDIR=d)
        p = run([TOOL, "trace", "-q", "-v", "--html", html, "--", EXAMPLE], env=env)
        check(p.returncode != 0, "exited 0 with a full TMPDIR")
        check("cannot write the capture" in p.stderr and "No space left on device" in p.stderr,
              "stderr: %r" % p.stderr[-400:])
        check(not os.path.exists(html), "a report was written from part of the events")
    finally:
        run(["umount", d])


def t_trace_capture_unlinked():
    """The capture honours $TMPDIR and has no name there while tracing, nor
    after allocmap is killed with SIGKILL."""
    d = tempfile.mkdtemp(prefix="captmp.", dir=TMP)
    env = dict(os.environ, TMPDIR=d)
    html = os.path.join(TMP, "killed.html")
    p = subprocess.Popen([TOOL, "trace", "-q", "--html", html, "--", "sleep", "30"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    target = None
    try:
        line = p.stderr.readline().decode(errors="replace")
        m = re.search(r"tracing .*\(pid (\d+)", line)
        check(m, "allocmap did not start: %r" % line)
        target = int(m.group(1))
        fds = []
        for f in os.listdir("/proc/%d/fd" % p.pid):
            try:
                fds.append(os.readlink("/proc/%d/fd/%s" % (p.pid, f)))
            except FileNotFoundError:      # closed meanwhile (allocmap reads files as it starts)
                pass
        check(any(f.startswith(d + "/") and f.endswith("(deleted)") for f in fds),
              "no unlinked capture in TMPDIR among the tracer's files: %r" % fds)
        eq(os.listdir(d), [], "files in TMPDIR while tracing")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        eq(os.listdir(d), [], "files in TMPDIR after SIGKILL")
        check(not os.path.exists(html), "a report after SIGKILL")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if target:
            try:
                os.kill(target, signal.SIGKILL)   # the traced sleep, by its pid
            except ProcessLookupError:
                pass


# ---------------- trace: hostile names ----------------

_hostile = {}


def hostile_binary():
    """tests/progs/hostile with its symbol renamed EVIL, copied to a file
    named EVIL_OBJ; returns its path (bytes)."""
    if "path" in _hostile:
        return _hostile["path"]
    data = open(HOSTILE, "rb").read()
    check(data.count(PLACEHOLDER) >= 1, "placeholder symbol not found in %s" % HOSTILE)
    d = tempfile.mkdtemp(prefix="hostile.", dir=TMP).encode()
    path = os.path.join(d, EVIL_OBJ)
    with open(path, "wb") as f:
        f.write(data.replace(PLACEHOLDER, EVIL))
    os.chmod(path, 0o755)
    _hostile["path"] = path
    return path


def t_trace_hostile_names_text_folded():
    """Text output and --folded: no escape byte reaches the output, the
    newline does not forge a line, the names are shown escaped."""
    prog = hostile_binary()
    folded = os.path.join(TMP, "hostile.folded")
    p = run([TOOL.encode(), b"trace", b"--stacks=os", b"--folded", folded.encode(), b"--", prog], text=False)
    eq(p.returncode, 0, "allocmap exit status (stderr %r)" % p.stderr[-300:])
    out = p.stderr  # a launched command's trace, with allocmap's own lines
    for bad in (b"\x1b", b"\x07", b"\xff", b"\xc2\x9b", b"\xfe"):
        check(bad not in out, "raw %r in the text output" % bad)
    out.decode("utf-8")
    check(b"\\x1b[31mEVIL\\x1b]0;pwn\\x07\\x0aforged 1\\xff\\xc2\\x9b<!--;" in out,
          "the symbol is not shown escaped in the text output")
    check(b"hostile\\x1b[7m\\xfe" in out, "the object name is not shown escaped")
    check(not re.search(rb"^forged", out, re.M), "the newline in the symbol forged a line")
    lines = open(folded, "rb").read().splitlines()
    check(lines, "empty --folded output")
    for l in lines:
        check(re.match(rb"^\S.* \d+$", l), "a folded line that is not 'stack weight': %r" % l[:200])
        check(not re.search(rb"[\x00-\x1f\x7f]", l), "a control byte in a folded line")
        l.decode("utf-8")
    check(any(b"\\x1b[31mEVIL\\x1b]0:pwn\\x07\\x0aforged 1\\xff\\xc2\\x9b<!--:" in l for l in lines),
          "the symbol is not in the folded stacks (escaped, ';' as ':')")


def t_trace_hostile_names_json():
    """--json --stacks and --perfetto from a target with hostile names:
    every line is valid UTF-8 JSON, the names survive as text."""
    prog = hostile_binary()
    out = os.path.join(TMP, "hostile.jsonl")
    pf = os.path.join(TMP, "hostile.perfetto.json")
    html = os.path.join(TMP, "hostile.html")
    p = run([TOOL.encode(), b"trace", b"--json", b"--stacks", b"-o", out.encode(), b"--perfetto", pf.encode(),
             b"--html", html.encode(), b"--", prog], text=False)
    eq(p.returncode, 0, "allocmap exit status (stderr %r)" % p.stderr[-300:])
    syms = set()
    for l in open(out, "rb"):
        r = json.loads(l.decode("utf-8"))
        for f in r.get("stack", []):
            syms.add(f.get("sym"))
            if f.get("obj", "").startswith("hostile"):
                eq(f["obj"], "hostile\x1b[7m\ufffd", "object name in JSON")
    want = EVIL.decode("utf-8", errors="replace")
    check(want in syms, "the hostile symbol is not in the JSON stacks (got %r)" % sorted(s for s in syms if s)[:8])
    json.loads(open(pf, "rb").read().decode("utf-8"))
    page = chromium_dom(html)
    page_ok(page, "hostile target")


def t_exit_status():
    """The exit record's code is the exit status (3, not 768), and a signal
    is named; the summary (JSON and text) and allocmap's own status agree."""
    prog = hostile_binary()
    out = os.path.join(TMP, "exit.jsonl")
    p = run([TOOL.encode(), b"trace", b"--json", b"-o", out.encode(), b"--", prog, b"3"], text=False)
    eq(p.returncode, 3, "allocmap's exit status")
    recs = [json.loads(l) for l in open(out)]
    ex = [r for r in recs if r["type"] == "task" and r["kind"] == "exit"]
    check(ex, "no exit record")
    eq(ex[-1]["code"], 3, "exit record code")
    check("signal" not in ex[-1], "a signal in a normal exit")
    eq(recs[-1]["target"]["exit"], 3, "summary target exit")
    p = run([TOOL.encode(), b"trace", b"--json", b"-o", out.encode(), b"--", prog, b"kill"], text=False)
    eq(p.returncode, 128 + signal.SIGTERM, "allocmap's exit status after SIGTERM")
    recs = [json.loads(l) for l in open(out)]
    ex = [r for r in recs if r["type"] == "task" and r["kind"] == "exit"][-1]
    eq((ex["code"], ex.get("signal")), (128 + signal.SIGTERM, "SIGTERM"), "exit record of a killed target")
    eq(recs[-1]["target"]["exit"], 128 + signal.SIGTERM, "summary target exit")
    eq(recs[-1]["target"].get("signal"), "SIGTERM", "summary target signal")
    # the text summary says it too
    for arg, want in ((b"3", b", exit 3\n"), (b"kill", b", killed by SIGTERM\n")):
        p = run([TOOL.encode(), b"trace", b"-q", b"--", prog, arg], text=False)
        m = re.search(rb"^  command .*$\n", p.stderr, re.M)
        check(m and m.group(0).endswith(want), "text summary's command line: %r" % (m and m.group(0)))


TESTS = [
    ("detector_works", t_detector_works),
    ("report_xss_by_type", t_report_xss_by_type),
    ("report_script_breakout", t_report_script_breakout),
    ("report_outputs_valid_utf8_json", t_report_outputs_valid_utf8_json),
    ("report_huge_stack", t_report_huge_stack),
    ("report_leak_groups_capped", t_report_leak_groups_capped),
    ("report_failed_perfetto_keeps_device", t_report_failed_perfetto_keeps_device),
    ("trace_full_output", t_trace_full_output),
    ("trace_html_full_tmpdir", t_trace_html_full_tmpdir),
    ("trace_capture_unlinked", t_trace_capture_unlinked),
    ("trace_hostile_names_text_folded", t_trace_hostile_names_text_folded),
    ("trace_hostile_names_json", t_trace_hostile_names_json),
    ("exit_status", t_exit_status),
]

ROOT_ONLY = {"report_failed_perfetto_keeps_device", "trace_full_output", "trace_html_full_tmpdir", "trace_capture_unlinked",
             "trace_hostile_names_text_folded", "trace_hostile_names_json", "exit_status"}
BROWSER = {"detector_works", "report_xss_by_type", "report_script_breakout", "report_huge_stack",
           "report_leak_groups_capped",
           "trace_hostile_names_json"}


def before(name):
    if not os.path.exists(TOOL) or not os.path.exists(HOSTILE):
        raise Skip("not built (make)")
    if name in ROOT_ONLY and (os.geteuid() != 0 or not os.path.exists("/sys/kernel/btf/vmlinux")):
        raise Skip("needs root and BTF")
    if name in BROWSER and not os.path.exists(CHROMIUM):
        raise Skip("chromium not installed (bash scripts/deps.sh)")


def main(argv):
    try:
        return run_tests("hostile_output", TESTS, only=argv[1:], before=before)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
