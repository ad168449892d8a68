#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_real.py - issue 9, truthful causes on real programs: allocmap on programs
installed from Debian (git, python3, sqlite3, a C++ program under glibc,
jemalloc and tcmalloc, python3 launched through `env LD_PRELOAD=...`) and
attached to redis-server under load, with the same assertions on each:

  os_equals_strace    every memory syscall (brk, mmap, munmap, mremap,
                      mprotect, madvise) of the traced process, ld.so's startup
                      included, is in the trace, in the same order per thread,
                      with the same arguments and result, and nothing else is
  no_call_in_free     no allocator call is nested inside a `free` (no
                      allocator's free calls malloc & co.: such nesting means
                      the tracer took free to be running when it was over)
  free_no_growth      a `free` never causes brk growth, a new mapping (an mmap
                      other than glibc's MAP_FIXED PROT_NONE heap shrink) or a
                      growing mremap
  mmap_covers_call    an mmap caused by an allocating call of n bytes is at
                      least n bytes long (the first allocating call of a
                      process image is exempt: jemalloc initializes itself
                      in it and maps single pages there, see
                      initializing_calls)
  counters_zero       the lost_*, missed_*, orphan_* and depth_* counters of
                      the summary are 0
  program_calls_seen  (C++ program and python) requests of sizes only the
                      program itself makes are traced allocating calls: the
                      C++ program's operator new[] of 3000017 bytes and
                      std::vector of 5000011, python's twelve bytearray(n)
                      (one malloc(n + 1) each)
  same_causes, same_nesting, same_live
                      the default run and a --free-return run of the same
                      deterministic command agree on the cause of every OS
                      request both made, on every call's nesting (and the
                      call it is nested in) and on the live bytes (at the
                      end, peak, by region)

Each launched command runs twice, by default and with --free-return; the
check names are WORKLOAD_ASSERTION for the default run,
WORKLOAD_free_return_ASSERTION for the other (every assertion but the
same_* ones holds for both), WORKLOAD_free_return_same_* for the comparison.

The oracle for os_equals_strace is strace on the very same run:
`strace -f --seccomp-bpf -e trace=<memory>,execve,clone,clone3 allocmap trace
... -- CMD` (as tests/e2e/t_compare.py does). strace follows allocmap and the
command it launches; the process allocmap traces is the one its records name,
and strace's lines for that process (and its threads, from clone with
CLONE_THREAD) from its first successful execve on are what allocmap must
report. uprobes and ptrace coexist: probe traps never reach strace. (The
other way round, strace launched under `allocmap -f`, gets strace's child's
syscalls right but not its calls: measured on cxxgrow, 40006 of its ~160000
calls traced, 34 probes unattached; that would test -f, not the causes.)
Both runs of a command are made with
`setarch -R` (no ASLR, inherited by strace, allocmap and the command), python
with PYTHONHASHSEED=0, git on a repository with fixed dates: the default and
the --free-return run make the same calls and syscalls (checked: two runs in
one mode agree), so any difference in causes, nesting or live bytes is the
tracer's. jemalloc purges on a clock, so a slower run may make one madvise
more: causes are compared for the requests both runs made.

The attach run: redis-server is started by the test under the same strace
(with -ttt timestamps), `allocmap trace -p PID -d 3` attaches while
redis-benchmark loads it (under_load checks that it did). Its
os_equals_strace: allocmap's records are one contiguous stretch of strace's
per thread, and every memory syscall strace saw between allocmap's "tracing"
line and the end of the trace is in it (see a_attach_os_equals_strace). The
structural assertions are the same as for launched commands; there is no
--free-return run to compare with (a server's work is not repeatable).

Run as root from the repository root after `make`. Prints `ok NAME` /
`FAIL NAME: why` / `SKIP NAME: why`, ends with `real: N passed, N failed`.
Under CI=true a skip is a failure. `python3 tests/e2e/t_real.py NAME...` runs
only the named checks."""

import difflib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from harness import Fail, ROOT, Skip, TOOL, needs, run, run_tests

CXXGROW = os.path.join(ROOT, ".output", "progs", "cxxgrow")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
JEMALLOC = os.path.join(LIBDIR, "libjemalloc.so.2")
TCMALLOC = os.path.join(LIBDIR, "libtcmalloc_minimal.so.4")
SYSCALLS = ["brk", "mmap", "munmap", "mremap", "mprotect", "madvise"]
ALLOCATING = {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
              "aligned_alloc", "memalign", "valloc", "pvalloc", "operator new", "operator new[]",
              "operator new(nothrow)", "operator new[](nothrow)", "operator new(align)",
              "operator new[](align)", "operator new(align, nothrow)", "operator new[](align, nothrow)"}


def frees(fn):
    """free and every form of C++ operator delete."""
    return fn == "free" or fn.startswith("operator delete")
# Debian's programs, not whatever PATH finds first (pyenv, /usr/local)
GIT, PYTHON, SQLITE = "/usr/bin/git", "/usr/bin/python3", "/usr/bin/sqlite3"
REDIS, REDIS_BENCH, REDIS_CLI = "/usr/bin/redis-server", "/usr/bin/redis-benchmark", "/usr/bin/redis-cli"
TMP = tempfile.mkdtemp(prefix="allocmap-real-")

PY_WORK = (
    "import json\n"
    "d = {}\n"
    "for i in range(60000):\n"
    "    d.setdefault(i % 977, []).append(str(i) * (1 + i % 7))\n"
    "big = [bytearray(200000 + 4096 * i) for i in range(12)]\n"
    "grow = b''\n"
    "for i in range(40):\n"
    "    grow += bytes(30000)\n"
    "s = json.dumps({str(k): v[:50] for k, v in d.items()})\n"
    "print(len(s), len(grow), sum(len(b) for b in big))\n")
# bytearray(n) is one malloc(n + 1) (PyObject_Malloc passes requests over
# 512 bytes to malloc): sizes nothing else in the run asks for
PY_ODD_SIZES = [200000 + 4096 * i + 1 for i in range(12)]

SQL = """
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, val REAL, blob BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000)
INSERT INTO t SELECT x, 'name-' || x || substr('abcdefghijklmnopqrstuvwxyz', 1, x % 26),
                     x * 1.5, zeroblob(x % 500) FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(val), max(length(blob)) FROM t WHERE name LIKE 'name-1%';
SELECT substr(name, 1, 7) AS p, count(*) FROM t GROUP BY p ORDER BY 2 DESC LIMIT 5;
UPDATE t SET blob = zeroblob(1000) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 2 = 0;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY val DESC LIMIT 2000);
"""


# --- the git repository the git workload logs -------------------------------

def make_git_repo():
    repo = os.path.join(TMP, "repo")
    if os.path.isdir(repo):
        return repo
    os.makedirs(repo)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org",
               GIT_CONFIG_NOSYSTEM="1", HOME=TMP)
    run([GIT, "init", "-q", "-b", "main", repo], env=env).check_returncode()
    for i in range(40):
        for f in range(3):
            path = os.path.join(repo, "file%d.txt" % f)
            with open(path, "a") as fh:
                for j in range(20 + i):
                    fh.write("commit %d file %d line %d %s\n" % (i, f, j, "x" * (j % 50)))
        date = "2020-01-01T00:%02d:00Z" % i
        e = dict(env, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        run([GIT, "-C", repo, "add", "-A"], env=e).check_returncode()
        run([GIT, "-C", repo, "commit", "-q", "-m", "commit %d\n\nbody %s" % (i, "y" * i)],
            env=e).check_returncode()
    return repo


# --- workloads ---------------------------------------------------------------

def need(path, what):
    if not (shutil.which(path) if "/" not in path else os.path.exists(path)):
        raise Skip("%s missing (%s): bash scripts/deps.sh" % (path, what))


def w_git():
    need(GIT, "git")
    repo = make_git_repo()
    return {"cmd": [GIT, "--no-pager", "-C", repo, "log", "-p", "--stat"],
            "env": {"HOME": TMP, "GIT_CONFIG_NOSYSTEM": "1"}}


def w_python():
    need(PYTHON, "python3")
    return {"cmd": [PYTHON, "-c", PY_WORK], "env": {"PYTHONHASHSEED": "0"},
            "odd_sizes": PY_ODD_SIZES}


def w_sqlite():
    need(SQLITE, "sqlite3")
    return {"cmd": [SQLITE, ":memory:"], "stdin": SQL}


def w_cxx():
    need(CXXGROW, "make builds it")
    return {"cmd": [CXXGROW], "odd_sizes": [3000017, 5000011]}


def w_cxx_jemalloc():
    need(JEMALLOC, "libjemalloc2")
    return dict(w_cxx(), env={"LD_PRELOAD": JEMALLOC})


def w_cxx_tcmalloc():
    need(TCMALLOC, "libtcmalloc-minimal4")
    return dict(w_cxx(), env={"LD_PRELOAD": TCMALLOC})


def w_env_preload():
    need(JEMALLOC, "libjemalloc2")
    need(PYTHON, "python3")
    return {"cmd": ["/usr/bin/env", "LD_PRELOAD=" + JEMALLOC, "PYTHONHASHSEED=0",
                    PYTHON, "-c", PY_WORK], "odd_sizes": PY_ODD_SIZES}


# the workloads whose odd_sizes program_calls_seen looks for
CALLS_SEEN = {"python", "cxx", "cxx_jemalloc", "cxx_tcmalloc", "env_preload"}

WORKLOADS = [
    ("git", w_git),
    ("python", w_python),
    ("sqlite", w_sqlite),
    ("cxx", w_cxx),
    ("cxx_jemalloc", w_cxx_jemalloc),
    ("cxx_tcmalloc", w_cxx_tcmalloc),
    ("env_preload", w_env_preload),
]


# --- reading the trace and strace's log ----------------------------------------

def load_jsonl(path):
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError as e:
                    raise Fail("%s:%d: not JSON (%s): %r" % (path, n, e, line[:200]))
    if not recs or recs[-1].get("type") != "summary":
        raise Fail("%s: the last record is not the summary" % path)
    return recs


def num(v):
    if v is None or v == "NULL":
        return 0
    if isinstance(v, int):
        return v
    return int(v, 0)


def strace_events(path, pid):
    """{tid: [(key, t), ...]} of the memory syscalls of process pid (its
    threads found through clone with CLONE_THREAD) from its first successful
    execve, keys as os_key() makes them from allocmap's records, t strace's
    -ttt timestamp (CLOCK_REALTIME seconds at the syscall's entry) or None."""
    line_re = re.compile(r"^(\d+) +(?:(\d+\.\d+) +)?(.*)$")
    pending = {}                  # tid -> (text, t) of an <unfinished ...> call
    members = {pid}
    started = False
    ops = {}
    with open(path) as f:
        for line in f:
            m = line_re.match(line.rstrip("\n"))
            if not m:
                continue
            tid, t, rest = int(m.group(1)), m.group(2), m.group(3)
            t = float(t) if t else None
            if rest.endswith("<unfinished ...>"):
                pending[tid] = (rest[:-len("<unfinished ...>")].rstrip(), t)
                continue
            r = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", rest)
            if r:
                head, t = pending.pop(tid, (r.group(1) + "(", t))
                rest = head + r.group(2)
            name = rest.split("(", 1)[0]
            res = re.search(r"\)\s+=\s+(-?\w+)(?:\s+(E[A-Z0-9]+))?", rest)
            if tid not in members:
                continue
            if name == "execve":
                if res and res.group(1) == "0":
                    started = True
                continue
            if name in ("clone", "clone3"):
                if res and "CLONE_THREAD" in rest and res.group(1).isdigit():
                    members.add(int(res.group(1)))
                continue
            if not started or name not in SYSCALLS or not res:
                continue
            argtext = rest[len(name) + 1:rest.rfind(")")]
            args = [a.strip() for a in argtext.split(",")]
            ret = res.group(2) if res.group(1) == "-1" and res.group(2) else num(res.group(1))
            ops.setdefault(tid, []).append((strace_key(name, args, ret), t))
    return ops


def strace_ops(path, pid):
    return {tid: [k for k, _ in l] for tid, l in strace_events(path, pid).items()}


def strace_key(name, args, ret):
    if name == "brk":
        return (name, num(args[0]), ret)
    if name == "mremap":
        return (name, num(args[0]), num(args[1]), num(args[2]), ret)
    return (name, num(args[0]), num(args[1]), ret)


def os_key(r):
    name = r["syscall"]
    ret = r["error"] if "error" in r else num(r.get("ret"))
    if name == "brk":
        return (name, num(r.get("addr")), ret)
    if name == "mremap":
        return (name, num(r.get("addr")), r.get("len"), r.get("new_len"), ret)
    return (name, num(r.get("addr")), r.get("len"), ret)


def of_type(recs, t):
    return [r for r in recs if r.get("type") == t]


# --- one traced run ------------------------------------------------------------

_runs = {}


def traced_run(name, make, free_return):
    """Runs the workload under allocmap (under strace); cached per (name, mode)."""
    key = (name, free_return)
    if key in _runs:
        if isinstance(_runs[key], Exception):
            raise _runs[key]
        return _runs[key]
    try:
        w = make()
        tag = "%s%s" % (name, "_fr" if free_return else "")
        out = os.path.join(TMP, tag + ".jsonl")
        st = os.path.join(TMP, tag + ".strace")
        env = dict(os.environ, **w.get("env", {}))
        args = ["/usr/bin/setarch", platform.machine(), "-R",
                "/usr/bin/strace", "-f", "-qq", "--seccomp-bpf", "-o", st, "-e",
                "trace=%s,execve,clone,clone3" % ",".join(SYSCALLS),
                TOOL, "trace", "--json", "-v", "-o", out]
        if free_return:
            args.append("--free-return")
        args += ["--"] + w["cmd"]
        t0 = time.monotonic()
        r = subprocess.run(args, input=w.get("stdin", ""), capture_output=True, text=True,
                           timeout=150, env=env)
        if r.returncode != 0:
            raise Fail("%s: exit %d: %s" % (" ".join(args[-len(w["cmd"]) - 1:])[:200],
                                            r.returncode, r.stderr[-600:]))
        recs = load_jsonl(out)
        res = {"w": w, "recs": recs, "strace": st, "secs": time.monotonic() - t0}
        _runs[key] = res
        return res
    except (Fail, Skip) as e:
        _runs[key] = e
        raise


_attach = {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def child_of(pid, timeout=10):
    """The first child process of pid (strace's tracee)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.05)
    raise Fail("no child of %d after %d s" % (pid, timeout))


def redis_run():
    """redis-server started here under strace (as for the launched
    workloads: seccomp-bpf, only memory syscalls stop it), with -ttt
    timestamps; `allocmap trace -p PID -d 3` attached while redis-benchmark
    loads it. Cached."""
    if "res" in _attach:
        if isinstance(_attach["res"], Exception):
            raise _attach["res"]
        return _attach["res"]
    st_proc = bench = None
    pid = None
    try:
        need(REDIS, "redis-server")
        need(REDIS_BENCH, "redis-tools")
        need(REDIS_CLI, "redis-tools")
        port = free_port()
        st = os.path.join(TMP, "redis.strace")
        st_proc = subprocess.Popen(
            ["/usr/bin/strace", "-f", "-qq", "--seccomp-bpf", "-ttt", "-o", st, "-e",
             "trace=%s,execve,clone,clone3" % ",".join(SYSCALLS),
             REDIS, "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", TMP],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while True:
            if run([REDIS_CLI, "-p", str(port), "ping"], timeout=5).stdout.strip() == "PONG":
                break
            if time.time() > deadline or st_proc.poll() is not None:
                raise Fail("redis-server did not come up on port %d" % port)
            time.sleep(0.1)
        pid = child_of(st_proc.pid)
        out = os.path.join(TMP, "redis.jsonl")
        # random keys and 4 KiB values: the data set grows, so jemalloc maps
        # memory while the trace runs
        bench = subprocess.Popen([REDIS_BENCH, "-q", "-p", str(port), "-n", "20000",
                                  "-r", "100000", "-d", "4096", "-t", "set,get,lpush"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(0.3)      # the load is on when the probes go in
        tr = subprocess.Popen([TOOL, "trace", "--json", "-v", "-o", out, "-p", str(pid),
                               "-d", "3"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t_attached, err, loaded = None, [], False
        for line in tr.stderr:
            err.append(line)
            if t_attached is None and "tracing" in line:
                t_attached = time.time()
                loaded = bench.poll() is None
        tr.wait(timeout=60)
        t_detached = time.time()
        if tr.returncode != 0:
            raise Fail("allocmap -p %d exited %d: %s" % (pid, tr.returncode, "".join(err)[-600:]))
        if t_attached is None:
            raise Fail("allocmap -p %d never said it was tracing: %s" % (pid, "".join(err)[-600:]))
        if not os.path.exists("/proc/%d" % pid):
            raise Fail("redis-server died while traced")
        recs = load_jsonl(out)
        _attach["res"] = {"recs": recs, "loaded": loaded,
                          "pid": pid,
                          "strace": st, "t_attached": t_attached, "t_detached": t_detached,
                          "clock_off": time.time() - time.monotonic()}
        return _attach["res"]
    except (Fail, Skip) as e:
        _attach["res"] = e
        raise
    finally:
        if bench is not None and bench.poll() is None:
            bench.terminate()
            bench.wait()
        if pid is not None:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        if st_proc is not None:
            try:
                st_proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                st_proc.kill()
                st_proc.wait()


# --- the assertions --------------------------------------------------------------

def traced_pid(recs):
    pids = sorted({r["pid"] for r in recs if r.get("type") in ("os", "call", "task")})
    if len(pids) != 1:
        raise Fail("records name %d processes (%s), want the launched one" % (len(pids), pids))
    return pids[0]


def a_os_equals_strace(res):
    recs = res["recs"]
    pid = traced_pid(recs)
    want = strace_ops(res["strace"], pid)
    if not want:
        raise Fail("strace saw no memory syscall of pid %d after its execve" % pid)
    got = {}
    for r in sorted(of_type(recs, "os"), key=lambda r: r["id"]):
        got.setdefault(r["tid"], []).append(os_key(r))
    if got == want:
        return
    count = lambda ops: {s: sum(1 for l in ops.values() for k in l if k[0] == s) for s in SYSCALLS}
    cg, cw = count(got), count(want)
    diff = ["%s %d/%d" % (s, cg[s], cw[s]) for s in SYSCALLS if cg[s] != cw[s]]
    first = ""
    for tid in sorted(set(got) | set(want)):
        g, w = got.get(tid, []), want.get(tid, [])
        for i in range(max(len(g), len(w))):
            if i >= len(g) or i >= len(w) or g[i] != w[i]:
                first = "tid %d #%d: allocmap %s, strace %s" % (
                    tid, i, g[i] if i < len(g) else "-", w[i] if i < len(w) else "-")
                break
        if first:
            break
    raise Fail("allocmap/strace counts: %s; first difference: %s" % (
        ", ".join(diff) or "equal counts", first))


def outermost_parents(recs):
    """call id -> the outermost call (record) each nested call was made in:
    on the same thread, the last call that is not nested and began before it."""
    calls = sorted(of_type(recs, "call"), key=lambda r: (r["ts_ns"], r["id"]))
    last_outer, parent = {}, {}
    for c in calls:
        if c.get("nested"):
            parent[c["id"]] = last_outer.get(c["tid"])
        else:
            last_outer[c["tid"]] = c
    return parent


def a_no_call_in_free(res):
    recs = res["recs"]
    parent = outermost_parents(recs)
    calls = {c["id"]: c for c in of_type(recs, "call")}
    # inside a free-like call only a free may run (operator delete jumps to free)
    bad = [(calls[i], p) for i, p in parent.items()
           if p is not None and frees(p["fn"]) and not frees(calls[i]["fn"])]
    if bad:
        c, p = bad[0]
        by = {}
        for c2, _ in bad:
            by[c2["fn"]] = by.get(c2["fn"], 0) + 1
        raise Fail("%d of %d nested calls are inside a free (%s); first: call %d %s(%s) "
                   "inside free %d" % (len(bad), len(parent), ", ".join(
                       "%s %d" % kv for kv in sorted(by.items())), c["id"], c["fn"],
                       c.get("size"), p["id"]))


def a_free_no_growth(res):
    recs = res["recs"]
    brk = {}
    bad = []
    for r in sorted(of_type(recs, "os"), key=lambda r: r["id"]):
        name = r["syscall"]
        by_free = frees(r.get("cause", {}).get("fn", ""))
        if name == "brk":
            new = num(r.get("ret"))
            old = brk.get(r["pid"])
            if by_free and "error" not in r and old is not None and new > old:
                bad.append("brk +%d (os %d, free call %d)" % (new - old, r["id"],
                                                              r["cause"]["call_id"]))
            if "error" not in r:
                brk[r["pid"]] = new
        elif by_free and name == "mmap":
            shrink = "MAP_FIXED" in r.get("flags", "") and r.get("prot") == "PROT_NONE"
            if not shrink:
                bad.append("mmap %d bytes %s (os %d, free call %d)" % (
                    r.get("len", 0), r.get("flags"), r["id"], r["cause"]["call_id"]))
        elif by_free and name == "mremap" and r.get("new_len", 0) > r.get("len", 0):
            bad.append("mremap %d -> %d (os %d, free call %d)" % (
                r["len"], r["new_len"], r["id"], r["cause"]["call_id"]))
    if bad:
        raise Fail("%d OS requests that grow memory are caused by free: %s" % (
            len(bad), "; ".join(bad[:4])))


def initializing_calls(recs):
    """Ids of the first allocating call of each process image (after each
    exec record): the call in which the allocator initializes itself.
    jemalloc 5.3's malloc_init, for one, maps, madvises and unmaps a 4096-byte
    page twice (its MADV_DONTNEED probe) inside the first malloc (checked with
    --stacks=os: __mmap called from libjemalloc.so.2 inside malloc(72704))."""
    ids, armed = set(), set()
    for r in sorted((r for r in recs if r.get("type") in ("task", "call")),
                    key=lambda r: (r["ts_ns"], r.get("id", 0))):
        if r["type"] == "task" and r.get("kind") == "exec":
            armed.add(r["pid"])
        elif r["type"] == "call" and r["fn"] in ALLOCATING and r["pid"] in armed:
            armed.discard(r["pid"])
            ids.add(r["id"])
    return ids


def a_mmap_covers_call(res):
    bad = []
    init = initializing_calls(res["recs"])
    for r in of_type(res["recs"], "os"):
        c = r.get("cause", {})
        if r["syscall"] == "mmap" and c.get("kind") == "call" and c.get("fn") in ALLOCATING \
                and c.get("call_id") not in init \
                and "error" not in r and r.get("len", 0) < c.get("size", 0):
            bad.append("mmap(%d) by %s(%d) (os %d, call %d)" % (
                r["len"], c["fn"], c["size"], r["id"], c["call_id"]))
    if bad:
        raise Fail("%d mmaps shorter than the allocating call that caused them: %s" % (
            len(bad), "; ".join(bad[:4])))


def a_counters_zero(res):
    cnt = res["recs"][-1].get("counters", {})
    bad = {k: v for k, v in cnt.items()
           if k.startswith(("lost_", "missed_", "orphan_", "depth_")) and v}
    if bad:
        raise Fail("non-zero counters: %s" % bad)


def a_calls_seen(res):
    seen = {c.get("size") for c in of_type(res["recs"], "call") if c["fn"] in ALLOCATING}
    missing = [n for n in res["w"]["odd_sizes"] if n not in seen]
    if missing:
        n = sum(1 for c in of_type(res["recs"], "call"))
        raise Fail("the program's requests of %s bytes are not in the trace (%d calls traced)"
                   % (missing, n))


def thread_rank(recs):
    first = {}
    for r in sorted((r for r in recs if "tid" in r and r.get("type") in ("os", "call")),
                    key=lambda r: r["ts_ns"]):
        first.setdefault(r["tid"], len(first))
    return first


def causes(recs):
    """{thread rank: [(request, cause)]}: each OS request as strace would
    show it (os_key) with the cause allocmap gave it."""
    rank = thread_rank(recs)
    out = {}
    for r in sorted(of_type(recs, "os"), key=lambda r: r["id"]):
        c = r.get("cause", {})
        # jemalloc purges (madvise) on a clock: which call crosses the decay
        # deadline depends on the run's speed; that it is a call, and
        # whether it allocates or frees, does not
        if r["syscall"] == "madvise":
            cause = (c.get("kind"), frees(c.get("fn", "")))
        else:
            cause = (c.get("kind"), c.get("fn"), c.get("size"))
        out.setdefault(rank[r["tid"]], []).append((os_key(r), cause))
    return out


def nesting(recs):
    rank = thread_rank(recs)
    parent = outermost_parents(recs)
    out = {}
    for c in sorted(of_type(recs, "call"), key=lambda r: r["id"]):
        p = parent.get(c["id"])
        out.setdefault(rank[c["tid"]], []).append(
            (c["fn"], c.get("size"), bool(c.get("nested")), p["fn"] if p else None))
    return out


def first_diff(a, b, what):
    for t in sorted(set(a) | set(b)):
        x, y = a.get(t, []), b.get(t, [])
        for i in range(max(len(x), len(y))):
            if i >= len(x) or i >= len(y) or x[i] != y[i]:
                return "%s of thread #%d differ first at #%d: default %s, --free-return %s " \
                       "(%d and %d in all)" % (what, t, i, x[i] if i < len(x) else "-",
                                              y[i] if i < len(y) else "-", len(x), len(y))
    return None


def a_same_causes(d, f):
    """The OS requests both runs made (matched in order per thread: with
    ASLR off their addresses are the same) have the same causes. A request
    only one run made is the program's timing, not a cause: jemalloc purges
    on a clock (its decay), so a slower run can make one madvise more."""
    a, b = causes(d["recs"]), causes(f["recs"])
    diffs, matched, unmatched = [], 0, 0
    for t in sorted(set(a) | set(b)):
        x, y = a.get(t, []), b.get(t, [])
        sm = difflib.SequenceMatcher(None, [k for k, _ in x], [k for k, _ in y], autojunk=False)
        for i, j, n in sm.get_matching_blocks():
            for k in range(n):
                matched += 1
                if x[i + k][1] != y[j + k][1]:
                    diffs.append((t, x[i + k][0], x[i + k][1], y[j + k][1]))
        unmatched += len(x) + len(y) - 2 * sum(n for _, _, n in sm.get_matching_blocks())
    if not matched:
        raise Fail("no OS request in common between the two runs")
    if diffs:
        by_free = lambda m: sum(1 for l in m.values() for _, c in l if c[1] == "free")
        t, req, cd, cf = diffs[0]
        raise Fail("%d of %d OS requests have another cause by default than with "
                   "--free-return (caused by free in all: %d by default, %d with "
                   "--free-return); first: thread #%d %s: default %s, --free-return %s%s" % (
                       len(diffs), matched, by_free(a), by_free(b), t, req, cd, cf,
                       "; %d requests made in one run only" % unmatched if unmatched else ""))


def a_same_nesting(d, f):
    a, b = nesting(d["recs"]), nesting(f["recs"])
    if a != b:
        cnt = lambda m: sum(1 for l in m.values() for k in l if k[2])
        raise Fail("%s; nested calls: %d default, %d --free-return" % (
            first_diff(a, b, "calls"), cnt(a), cnt(b)))


def a_same_live(d, f):
    sd, sf = d["recs"][-1], f["recs"][-1]
    a = (sd["bytes"]["live"], sd["bytes"]["live_peak"], sd.get("live_at_end"))
    b = (sf["bytes"]["live"], sf["bytes"]["live_peak"], sf.get("live_at_end"))
    if a != b:
        raise Fail("live, live_peak, live_at_end: default %s, --free-return %s" % (a, b))


def a_attach_load(res):
    calls = len(of_type(res["recs"], "call"))
    if not res["loaded"] or calls < 10000:
        raise Fail("not a trace under load: redis-benchmark %s when allocmap attached, "
                   "%d calls traced" % ("running" if res["loaded"] else "not running", calls))


def a_attach_os_equals_strace(res):
    """Attach mode: strace (which launched redis-server) saw every memory
    syscall of its life; allocmap's records must be one contiguous stretch of
    them per thread (located by the first record's arguments and result, the
    nearest in time), and every syscall strace saw between the moment
    allocmap said it was tracing and the end of the trace (summary ts) must
    be in that stretch. Times: strace's -ttt (CLOCK_REALTIME) against
    allocmap's CLOCK_MONOTONIC, converted with the offset between the two
    clocks read here; 10 ms margins at both ends."""
    recs, off = res["recs"], res["clock_off"]
    ev = strace_events(res["strace"], res["pid"])
    summ = recs[-1]
    lo, hi = res["t_attached"] + 0.01, summ["ts_ns"] / 1e9 + off - 0.01
    mine = {}
    for r in sorted(of_type(recs, "os"), key=lambda r: r["id"]):
        mine.setdefault(r["tid"], []).append((os_key(r), r["ts_ns"] / 1e9 + off))
    problems, compared = [], 0
    for tid in sorted(set(ev) | set(mine)):
        s, a = ev.get(tid, []), mine.get(tid, [])
        if a and not s:
            problems.append("tid %d: %d records, strace saw no memory syscall" % (tid, len(a)))
            continue
        start = 0
        if a:
            cand = [i for i, (k, _) in enumerate(s) if k == a[0][0]]
            if not cand:
                problems.append("tid %d: allocmap's first request %s is not in strace's log"
                                % (tid, a[0][0]))
                continue
            start = min(cand, key=lambda i: abs(s[i][1] - a[0][1]))
            got, want = [k for k, _ in a], [k for k, _ in s[start:start + len(a)]]
            compared += len(a)
            if got != want:
                i = next(i for i in range(len(got)) if i >= len(want) or got[i] != want[i])
                problems.append("tid %d #%d of %d: allocmap %s, strace %s" % (
                    tid, i, len(a), got[i], want[i] if i < len(want) else "-"))
                continue
        outside = [(k, t) for i, (k, t) in enumerate(s)
                   if lo <= t <= hi and not start <= i < start + len(a)]
        if outside:
            problems.append("tid %d: %d memory syscalls strace saw while traced are not in "
                            "the trace (first %s at +%.3f s)" % (
                                tid, len(outside), outside[0][0], outside[0][1] - lo))
    if problems:
        raise Fail("; ".join(problems[:4]))


# --- the list of checks ------------------------------------------------------------

STRUCTURAL = [
    ("no_call_in_free", a_no_call_in_free),
    ("free_no_growth", a_free_no_growth),
    ("mmap_covers_call", a_mmap_covers_call),
    ("counters_zero", a_counters_zero),
]


def checks():
    tests = []
    for name, make in WORKLOADS:
        for mode, fr in (("", False), ("_free_return", True)):
            runner = (lambda n=name, m=make, fr=fr: traced_run(n, m, fr))
            tests.append(("%s%s_os_equals_strace" % (name, mode),
                          lambda r=runner: a_os_equals_strace(r())))
            for aname, fn in STRUCTURAL:
                tests.append(("%s%s_%s" % (name, mode, aname), lambda r=runner, fn=fn: fn(r())))
            if name in CALLS_SEEN:
                tests.append(("%s%s_program_calls_seen" % (name, mode),
                              lambda r=runner: a_calls_seen(r())))
        both = (lambda n=name, m=make: (traced_run(n, m, False), traced_run(n, m, True)))
        for aname, fn in (("same_causes", a_same_causes), ("same_nesting", a_same_nesting),
                          ("same_live", a_same_live)):
            tests.append(("%s_free_return_%s" % (name, aname), lambda b=both, fn=fn: fn(*b())))
    for aname, fn in [("under_load", a_attach_load),
                      ("os_equals_strace", a_attach_os_equals_strace)] + STRUCTURAL:
        tests.append(("redis_attach_%s" % aname, lambda fn=fn: fn(redis_run())))
    return tests


def main(argv):
    def before(name):
        needs(TOOL, CXXGROW)(name)
        need("/usr/bin/strace", "strace")
        need("/usr/bin/setarch", "util-linux")

    t0 = time.monotonic()
    try:
        rc = run_tests("real", checks(), argv[1:], before)
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(TMP, ignore_errors=True)
    sys.stdout.flush()
    print("# %.0f s; traced runs: %s" % (time.monotonic() - t0, ", ".join(
        "%s%s %.1fs" % (k[0], "/fr" if k[1] else "", v["secs"])
        for k, v in _runs.items() if isinstance(v, dict))), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
