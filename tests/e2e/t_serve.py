#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_serve.py - end-to-end tests of `allocmap serve` (the daemon's core:
control socket, targets, access, signals) against real processes:

  basics          hello; add a held thresh_wait (mode all); list; its
                  snapshot has the exact calls, syscalls and threshold;
                  remove; the daemon then holds no BPF object
  exit_frees      a target that exits is kept as not alive, its probes gone
  os_mode         the always-on mode: syscalls and their causes from stacks
  trace_socket    `trace --socket -p` writes what `trace -p` writes
  nonroot         a user traces its own process; is refused root's, another
                  user's, a setuid process's and the daemon's; sees none of
                  root's targets; trace --socket as that user
  setuid_exec     a user's target that execs a setuid program stops; so
                  does a user's trace --socket session
  parallel_stacks four targets unwinding stacks at once: each one's call
                  sites exact
  fifty_clients   50 clients at once, each answered
  disconnects     stream clients that leave mid-stream; the daemon serves on
  fork_exec       a target that forks a child that execs, then execs itself
  top_socket      `top --socket -p` draws the target; q (forwarded) quits it
  watch_rules     comm rules of root and of a user pick up new processes
                  (each only what its owner may trace); removed by owner
  sighup          SIGHUP reloads the config and keeps the targets; a bad
                  config is refused and the old one kept
  sigterm         SIGTERM: exit 0, socket removed, every BPF program the
                  daemon had is gone, the targets run on

Run as root from the repository root after `make`. Prints `ok NAME` /
`FAIL NAME: why` / `SKIP NAME: why` and ends with `serve: N passed, N
failed`. Under CI=true a skip is a failure."""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from harness import Fail, PROGS, Skip, TOOL, check, eq, needs, run_tests

THRESH = os.path.join(PROGS, "thresh_wait")
SPINNER = os.path.join(PROGS, "spinner")
EXAMPLE = os.path.join(PROGS, "example")
SITES = os.path.join(PROGS, "sites")
USERS = ("amserve1", "amserve2")
WAIT = 60  # seconds: a bound on waiting for an event, not a pace


class Daemon:
    """allocmap serve on a socket of its own, its stderr collected."""

    def __init__(self, conf=""):
        self.dir = tempfile.mkdtemp(prefix="amserve.")
        os.chmod(self.dir, 0o755)  # the other users' clients reach the socket
        self.sock = os.path.join(self.dir, "am.sock")
        self.conf = os.path.join(self.dir, "serve.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.p = subprocess.Popen([TOOL, "serve", "--foreground", "--socket", self.sock,
                                   "--config", self.conf], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_log("listening on")

    def _read(self):
        for line in self.p.stderr:
            with self.cv:
                self.log.append(line)
                self.cv.notify_all()
        with self.cv:
            self.log.append(None)
            self.cv.notify_all()

    def wait_log(self, text, start=0):
        """Waits for a line of the daemon's stderr holding text."""
        deadline = time.time() + WAIT
        with self.cv:
            while True:
                for line in self.log[start:]:
                    if line is None:
                        raise Fail("serve exited (%s) waiting for %r: %s" %
                                   (self.p.poll(), text, "".join(l for l in self.log if l)))
                    if text in line:
                        return line
                if time.time() > deadline:
                    raise Fail("no %r from serve: %s" % (text, "".join(self.log)[-600:]))
                self.cv.wait(1)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=WAIT)
        shutil.rmtree(self.dir, ignore_errors=True)
        if rc != 0:
            time.sleep(0.2)  # the reader thread's last lines (diagnostics only)
            raise Fail("serve exited %d: %s" % (rc, "".join(l for l in self.log if l)[-3000:]))
        return rc

    def bpf_fds(self):
        """The BPF objects the daemon holds (fd targets in /proc)."""
        fds = os.path.join("/proc", str(self.p.pid), "fd")
        n = 0
        for fd in os.listdir(fds):
            try:
                if "bpf" in os.readlink(os.path.join(fds, fd)):
                    n += 1
            except OSError:
                pass
        return n

    def prog_ids(self):
        ids = set()
        fdinfo = os.path.join("/proc", str(self.p.pid), "fdinfo")
        for fd in os.listdir(fdinfo):
            try:
                for line in open(os.path.join(fdinfo, fd)):
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
            except OSError:
                pass
        return ids


class Client:
    """One connection: JSON lines each way."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(WAIT)
        self.s.connect(path)
        self.f = self.s.makefile("r")

    def req(self, **obj):
        obj.setdefault("v", 1)
        self.s.sendall((json.dumps(obj) + "\n").encode())
        return self.line()

    def line(self):
        line = self.f.readline()
        check(line, "the daemon closed the connection")
        return json.loads(line)

    def close(self):
        self.f.close()
        self.s.close()


# a client run as another user: SO_PEERCRED is the connecting process's
AS_USER = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\\n")
f = s.makefile("r")
stream = '"stream"' in sys.argv[2]
while True:
    line = f.readline()
    sys.stdout.write(line)
    d = json.loads(line) if line else {"v": 1, "ok": False}
    if not stream or ("v" in d and (d["ok"] is False or d.get("end") is True)):
        break
"""


def as_user(user):
    pw = pwd.getpwnam(user)
    return dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])


def one(d, user=None, **obj):
    """One request on a connection of its own; its reply (a stream: every line)."""
    obj.setdefault("v", 1)
    if not user:
        c = Client(d.sock)
        try:
            return c.req(**obj)
        finally:
            c.close()
    r = subprocess.run(["/usr/bin/python3", "-c", AS_USER, d.sock, json.dumps(obj)], capture_output=True,
                       text=True, timeout=WAIT, **as_user(user))
    check(r.returncode == 0 and r.stdout, "client as %s: %s" % (user, r.stderr[-400:]))
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    return lines if obj.get("op") == "stream" and lines[0].get("ok") else lines[0]


def wait_until(what, fn):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise Fail("timed out waiting for %s" % what)


def held_thresh(user=None, args=()):
    """thresh_wait, ready and waiting for its go line."""
    p = subprocess.Popen([THRESH] + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, **(as_user(user) if user else {}))
    line = p.stdout.readline()
    check(line.startswith("ready"), "thresh_wait: %r" % line)
    return p


def finish(p):
    """Lets a held thresh_wait make its calls, then exit."""
    p.stdin.write("go\n")
    p.stdin.flush()
    eq(p.stdout.readline().strip(), "done", "thresh_wait")
    p.stdin.close()
    eq(p.wait(timeout=WAIT), 0, "thresh_wait's exit")


def summary_of(d, pid, user=None):
    r = one(d, user, op="snapshot", pid=pid)
    check(r.get("ok"), "snapshot: %r" % r)
    return r["summary"]


def check_thresh_summary(s):
    """thresh_wait's four calls after its go line (tests/progs/thresh_wait.c)."""
    eq(s["functions"]["malloc"]["calls"], 4, "malloc calls")
    eq(s["functions"]["malloc"]["bytes"], 200000 + 200000 + 1048576 + 600000, "malloc bytes")
    eq(s["functions"]["free"]["calls"], 1, "free calls")
    eq(s["syscalls"]["brk"]["count"], 3, "brk")
    eq(s["syscalls"]["mmap"]["count"], 1, "mmap")
    eq(s["syscalls"]["munmap"]["count"], 1, "munmap")
    eq(s["threshold"]["start"], 200704, "threshold at attach (read from the process)")
    eq(s["threshold"]["end"], 1052672, "threshold at the end")
    eq(s["counters"]["lost_events"], 0, "lost events")


def targets(d, user=None):
    r = one(d, user, op="list")
    check(r.get("ok"), "list: %r" % r)
    return r["targets"]


def add(d, pid, mode="all", user=None):
    r = one(d, user, op="add", pid=pid, mode=mode)
    check(r.get("ok"), "add %d: %r" % (pid, r))
    return r


# ---- the tests ----------------------------------------------------------

def test_basics():
    d = Daemon()
    try:
        h = one(d, op="hello")
        check(h["ok"] and h["protocol"] == 1 and h["uid"] == 0, "hello: %r" % h)
        for op in ("add", "remove", "list", "snapshot", "stream", "trace"):
            check(op in h["caps"], "caps lack %s: %r" % (op, h["caps"]))
        eq(one(d, op="nosuch")["error"], "unknown op", "unknown op")
        eq(one(d, v=2, op="hello")["ok"], False, "protocol 2 refused")
        p = held_thresh()
        r = add(d, p.pid)
        eq((r["pid"], r["mode"], r["existing"]), (p.pid, "all", False), "add reply")
        eq(add(d, p.pid)["existing"], True, "adding it again")
        fill = wait_until("a tick", lambda: one(d, op="stats")["ringbuf_fill"] + 1)
        check(1 <= fill <= 2, "ring buffer fill in 0..1: %r" % (fill - 1))
        ts = targets(d)
        eq([(t["pid"], t["comm"], t["alive"], t["mode"]) for t in ts],
           [(p.pid, "thresh_wait", True, "all")], "list")
        p.stdin.write("go\n")
        p.stdin.flush()
        eq(p.stdout.readline().strip(), "done", "thresh_wait")
        # the snapshot is at most one tick old: wait for the four calls
        wait_until("the snapshot to show 4 mallocs", lambda: summary_of(d, p.pid)
                   ["functions"].get("malloc", {}).get("calls") == 4)
        check_thresh_summary(summary_of(d, p.pid))
        events = summary_of(d, p.pid)["counters"]["events"]
        check(one(d, op="stats")["events"] >= events > 0, "the daemon's events count the target's")
        eq(one(d, op="remove", pid=p.pid)["ok"], True, "remove")
        eq(targets(d), [], "list after remove")
        check(one(d, op="stats")["events"] >= events, "events_total is a counter: the removed "
              "target's events stay in it")
        eq(one(d, op="snapshot", pid=p.pid)["error"], "no such target", "snapshot after remove")
        wait_until("the daemon to hold no BPF object", lambda: d.bpf_fds() == 0)
        p.stdin.close()
        eq(p.wait(timeout=WAIT), 0, "thresh_wait runs on untraced")
    finally:
        eq(d.stop(), 0, "serve's exit status")


def test_exit_frees():
    d = Daemon()
    try:
        p = held_thresh()
        add(d, p.pid)
        check(d.bpf_fds() > 0, "a target's BPF objects")
        finish(p)
        t = wait_until("the target to end", lambda: [t for t in targets(d) if not t["alive"]])
        eq(t[0]["ended"], "the process exited", "why it ended")
        wait_until("its BPF objects to be freed", lambda: d.bpf_fds() == 0)
        # what it saw stays readable until removed
        check_thresh_summary(summary_of(d, p.pid))
    finally:
        eq(d.stop(), 0, "serve's exit status")


def stream_records(d, pid, user=None):
    """Every record of a target's stream, from the start to its end line."""
    if user:
        lines = one(d, user, op="stream", pid=pid)
        check(lines[0].get("ok") and lines[-1].get("end") is True, "stream: %r" % lines[-1:])
        return lines[1:-1], lines[-1]
    c = Client(d.sock)
    try:
        r = c.req(op="stream", pid=pid)
        check(r.get("ok"), "stream: %r (targets: %r)" % (r, targets(d)))
        recs = []
        while True:
            x = c.line()
            if "v" in x and x.get("end") is True:
                return recs, x
            recs.append(x)
    finally:
        c.close()


def test_os_mode():
    d = Daemon()
    try:
        p = held_thresh()
        eq(add(d, p.pid, mode="os")["mode"], "os", "mode")
        finish(p)
        recs, end = stream_records(d, p.pid)
        eq(end["reason"], "the process exited", "end line")
        s = [r for r in recs if r["type"] == "summary"]
        eq(len(s), 1, "one summary record")
        s = s[0]
        eq(s["mode"], "os", "summary mode")
        eq({k: v["count"] for k, v in s["syscalls"].items()}, {"brk": 3, "mmap": 1, "munmap": 1},
           "syscalls")
        # causes from the stacks: malloc's brk and mmap, free's munmap
        eq(s["syscalls"]["munmap"]["by_cause"], {"free": 1}, "munmap's cause")
        eq(s["syscalls"]["mmap"]["by_cause"], {"malloc": 1}, "mmap's cause")
        check(not [r for r in recs if r["type"] == "call"], "no call records in mode os")
    finally:
        eq(d.stop(), 0, "serve's exit status")


def normalize(text):
    text = re.sub(r"\d+\.\d{6}", "T", text)
    text = re.sub(r"0x[0-9a-f]+", "0xA", text)
    text = re.sub(r"\[\d+\]", "[P]", text)
    return re.sub(r"pid \d+", "pid P", text)


def traced_run(cmd, out, user=None):
    """thresh_wait traced by cmd (+ -p PID -o out): (its stderr, the file)."""
    p = held_thresh(user)
    t = subprocess.Popen(cmd + ["-p", str(p.pid), "-o", out], stdin=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, **(as_user(user) if user else {}))
    first = t.stderr.readline()
    if "tracing 1 process" not in first:
        t.kill()
        raise Fail("%s: %r" % (cmd, first + t.stderr.read()))
    finish(p)
    rest = t.stderr.read()
    eq(t.wait(timeout=WAIT), 0, "%s exit status" % cmd)
    with open(out) as f:
        return first + rest, f.read()


def test_trace_socket():
    d = Daemon()
    tmp = tempfile.mkdtemp(prefix="amserve.")
    try:
        a_err, a = traced_run([TOOL, "trace"], os.path.join(tmp, "a.txt"))
        b_err, b = traced_run([TOOL, "trace", "--socket", d.sock], os.path.join(tmp, "b.txt"))
        check("malloc(1048576)" in a, "the local trace: %s" % a[:400])
        eq(normalize(b), normalize(a), "trace --socket output")
        eq(normalize(b_err).replace("b.txt", "a.txt"), normalize(a_err), "trace --socket stderr")
        # a launched command is refused with one clear line
        r = subprocess.run([TOOL, "trace", "--socket", d.sock, "--", EXAMPLE], capture_output=True,
                           text=True, timeout=WAIT)
        eq(r.returncode, 1, "launch through the daemon")
        check("attach with -p" in r.stderr, "message: %r" % r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        eq(d.stop(), 0, "serve's exit status")


def ensure_users():
    for u in USERS:
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", u],
                           check=True, capture_output=True)


def setuid_copy(tmp):
    """A setuid-root copy of thresh_wait (what a user runs, root's ids)."""
    path = os.path.join(tmp, "thresh_suid")
    shutil.copy(THRESH, path)
    os.chown(path, 0, 0)
    os.chmod(path, 0o4755)
    return path


def refused(d, pid, user):
    r = one(d, user, op="add", pid=pid, mode="os")
    eq(r.get("ok"), False, "add %d as %s" % (pid, user))
    return r["error"]


def test_nonroot():
    ensure_users()
    d = Daemon()
    tmp = tempfile.mkdtemp(prefix="amserve.")
    os.chmod(tmp, 0o755)
    u1, u2 = USERS
    procs = []
    try:
        rootp = held_thresh()
        procs.append(rootp)
        add(d, rootp.pid)
        mine = held_thresh(u1)
        procs.append(mine)
        other = held_thresh(u2)
        procs.append(other)
        suid = subprocess.Popen([setuid_copy(tmp)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, **as_user(u1))
        procs.append(suid)
        check(suid.stdout.readline().startswith("ready"), "the setuid copy runs")
        eq(os.stat("/proc/%d" % suid.pid).st_uid, 0, "the setuid copy runs as root")
        no = "no such process (or not yours to trace): pid %d"
        eq(refused(d, rootp.pid, u1), no % rootp.pid, "root's process")
        eq(refused(d, other.pid, u1), no % other.pid, "another user's process")
        eq(refused(d, suid.pid, u1), no % suid.pid, "a setuid process")
        eq(refused(d, d.p.pid, u1), no % d.p.pid, "the daemon")
        eq(refused(d, 4194000, u1), no % 4194000, "a pid that does not exist")
        eq(refused(d, d.p.pid, None), "pid %d is the daemon itself" % d.p.pid, "root: the daemon")
        r = add(d, mine.pid, mode="all", user=u1)
        eq(r["mode"], "all", "own process")
        ts = targets(d, u1)
        eq([(t["pid"], t["uid"]) for t in ts], [(mine.pid, pwd.getpwnam(u1).pw_uid)], "u1's list")
        eq(len(targets(d)), 2, "root's list")
        eq(targets(d, u2), [], "u2's list")
        r = one(d, u1, op="stats")
        check(not r.get("ok") and "root" in r.get("error", ""), "u1's stats refused: %r" % r)
        eq(one(d, op="stats")["targets"], 2, "root's stats")
        eq(one(d, u1, op="snapshot", pid=rootp.pid)["error"], "no such target", "root's snapshot")
        eq(one(d, u1, op="stream", pid=rootp.pid)["error"], "no such target", "root's stream")
        eq(one(d, u1, op="remove", pid=rootp.pid)["error"], "no such target", "root's remove")
        finish(mine)
        wait_until("u1's target to end", lambda: not targets(d, u1)[0]["alive"])
        check_thresh_summary(summary_of(d, mine.pid, u1))
        # trace --socket as u1: its own process, and root's refused
        home = os.path.join(tmp, u1)
        os.mkdir(home)
        os.chown(home, pwd.getpwnam(u1).pw_uid, pwd.getpwnam(u1).pw_gid)
        out = os.path.join(home, "u1.txt")
        err, text = traced_run([TOOL, "trace", "--socket", d.sock], out, user=u1)
        check("malloc(1048576)" in text, "u1's trace: %s" % (err + text)[:500])
        eq(os.stat(out).st_uid, pwd.getpwnam(u1).pw_uid, "the -o file is u1's")
        r = subprocess.run([TOOL, "trace", "--socket", d.sock, "-p", str(rootp.pid)],
                           capture_output=True, text=True, timeout=WAIT, **as_user(u1))
        eq(r.returncode, 1, "trace --socket of root's process")
        eq(r.stderr.strip(), "allocmap: cannot attach to pid %d: no such process (or not yours to "
           "trace)" % rootp.pid, "its message")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        eq(d.stop(), 0, "serve's exit status")


def test_setuid_exec():
    ensure_users()
    d = Daemon()
    tmp = tempfile.mkdtemp(prefix="amserve.")
    os.chmod(tmp, 0o755)
    u1 = USERS[0]
    try:
        suid = setuid_copy(tmp)
        # a shell of u1's that execs the setuid program once told to
        sh = subprocess.Popen(["sh", "-c", "read x; exec %s" % suid], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, **as_user(u1))
        add(d, sh.pid, mode="all", user=u1)
        sh.stdin.write("go\n")
        sh.stdin.flush()
        check(sh.stdout.readline().startswith("ready"), "the setuid program runs")
        t = wait_until("the target to stop", lambda: [t for t in targets(d, u1) if not t["alive"]])
        check("not its owner's" in t[0]["ended"], "why: %r" % t[0])
        recs, end = stream_records(d, sh.pid, u1)
        check(not [r for r in recs if r["type"] == "call" and r.get("size") == 196 * 1024 - 100],
              "u1 saw the setuid program's calls")
        sh.stdin.write("go\n")
        sh.stdin.close()
        sh.stdout.readline()
        eq(sh.wait(timeout=WAIT), 0, "the setuid program ran to its end")
        # the same through trace --socket: the session ends at the exec
        home = os.path.join(tmp, u1)
        os.mkdir(home)
        os.chown(home, pwd.getpwnam(u1).pw_uid, pwd.getpwnam(u1).pw_gid)
        out = os.path.join(home, "t.txt")
        sh = subprocess.Popen(["sh", "-c", "read x; exec %s" % suid], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, **as_user(u1))
        t = subprocess.Popen([TOOL, "trace", "--socket", d.sock, "-p", str(sh.pid), "-o", out],
                             stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             **as_user(u1))
        check("tracing 1 process" in t.stderr.readline(), "trace --socket attached")
        sh.stdin.write("go\n")
        sh.stdin.flush()
        check(sh.stdout.readline().startswith("ready"), "the setuid program runs")
        err = t.stderr.read()
        eq(t.wait(timeout=WAIT), 1, "trace --socket's exit")
        check("exec'd a program that is not yours" in err, "its message: %r" % err)
        with open(out) as f:
            text = f.read()
        check("malloc(200604)" not in text, "the setuid program's calls in u1's file")
        sh.stdin.write("go\n")
        sh.stdin.close()
        sh.stdout.readline()
        eq(sh.wait(timeout=WAIT), 0, "the setuid program ran to its end")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        eq(d.stop(), 0, "serve's exit status")


def test_top_setuid():
    """top --socket of a user who is not root ends, its terminal put back,
    when the process it watches execs a setuid program."""
    if not shutil.which("tmux"):
        raise Skip("no tmux (scripts/deps.sh installs it)")
    ensure_users()
    d = Daemon()
    tmp = tempfile.mkdtemp(prefix="amserve.")
    os.chmod(tmp, 0o755)
    u1 = USERS[0]
    srv = "amserve-suid-%d" % os.getpid()
    tm = ["tmux", "-L", srv, "-f", "/dev/null"]
    sh = None
    try:
        suid = setuid_copy(tmp)
        sh = subprocess.Popen(["sh", "-c", "read x; exec %s" % suid], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, **as_user(u1))
        cmd = "runuser -u %s -- %s top --socket %s -p %d; echo EXIT=$?; sleep 60" % (
            u1, TOOL, d.sock, sh.pid)
        subprocess.run(tm + ["new-session", "-d", "-s", "t", "-x", "120", "-y", "40", cmd], check=True)

        def screen():
            return subprocess.run(tm + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                                  text=True).stdout
        wait_until("top's screen", lambda: "pid %d (sh)" % sh.pid in screen())
        sh.stdin.write("go\n")
        sh.stdin.flush()
        check(sh.stdout.readline().startswith("ready"), "the setuid program runs")
        wait_until("top to end", lambda: "EXIT=" in screen())
        check("EXIT=1" in screen(), "top's exit: %s" % screen()[-600:])
        check("exec'd a program that is not yours" in screen(), "its message: %s" % screen()[-600:])
        check("mmap threshold" not in screen(), "the screen put back: %s" % screen()[-600:])
        sh.stdin.write("go\n")
        sh.stdin.close()
        sh.stdout.readline()
        eq(sh.wait(timeout=WAIT), 0, "the setuid program ran to its end")
    finally:
        subprocess.run(tm + ["kill-server"], capture_output=True)
        if sh and sh.poll() is None:
            sh.kill()
            sh.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        eq(d.stop(), 0, "serve's exit status")


def test_parallel_stacks():
    """Four targets in mode all unwinding at once, each in its own thread:
    each one's call sites are exactly tests/progs/sites.c's."""
    d = Daemon()
    try:
        shs = [subprocess.Popen(["sh", "-c", "read x; exec %s" % SITES], stdin=subprocess.PIPE,
                                text=True) for _ in range(4)]
        for sh in shs:
            add(d, sh.pid)
        for sh in shs:
            sh.stdin.write("go\n")
            sh.stdin.close()
        for sh in shs:
            eq(sh.wait(timeout=WAIT), 0, "sites' exit")
            recs, end = stream_records(d, sh.pid)
            sites = [r for r in recs if r["type"] == "sites"]
            eq(len(sites), 1, "one sites record")
            # (the shell's own allocations before its exec have sites of their own)
            got = sorted((x["frame"]["sym"], x["calls"]) for x in sites[0]["sites"]
                         if (x["frame"].get("sym") or "").startswith("site_"))
            eq(got, [("site_big", 1), ("site_leak", 3), ("site_peak", 10), ("site_temp", 100)],
               "pid %d's call sites" % sh.pid)
    finally:
        eq(d.stop(), 0, "serve's exit status")


def test_fifty_clients():
    d = Daemon()
    try:
        p = held_thresh()
        add(d, p.pid)
        cs = [Client(d.sock) for _ in range(50)]
        for c in cs:  # every request in before any answer is read
            c.s.sendall(b'{"v":1,"op":"list"}\n{"v":1,"op":"snapshot","pid":%d}\n' % p.pid)
        for c in cs:
            eq([t["pid"] for t in c.line()["targets"]], [p.pid], "list")
            eq(c.line()["pid"], p.pid, "snapshot")
        eq(one(d, op="stats")["clients"], 51, "clients counted")
        for c in cs:
            c.close()
        finish(p)
        wait_until("the clients to be gone", lambda: one(d, op="stats")["clients"] == 1)
    finally:
        eq(d.stop(), 0, "serve's exit status")


def test_disconnects():
    d = Daemon()
    try:
        sp = subprocess.Popen([SPINNER, "100000"], stdout=subprocess.DEVNULL)
        add(d, sp.pid)
        for _ in range(10):
            c = Client(d.sock)
            eq(c.req(op="stream", pid=sp.pid)["ok"], True, "stream")
            c.line()  # a record, then leave mid-stream
            c.s.shutdown(socket.SHUT_RDWR)
            c.close()
        wait_until("the streams to be gone", lambda: one(d, op="stats")["clients"] == 1)
        eq([t["alive"] for t in targets(d)], [True], "the target is still traced")
        sp.kill()
        sp.wait()
    finally:
        eq(d.stop(), 0, "serve's exit status")


def test_fork_exec():
    d = Daemon()
    try:
        sh = subprocess.Popen(["sh", "-c", "read x; %s; exec %s" % (EXAMPLE, EXAMPLE)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        add(d, sh.pid)
        sh.stdin.write("go\n")
        sh.stdin.close()
        eq(sh.wait(timeout=WAIT), 0, "the shell's exit")
        recs, end = stream_records(d, sh.pid)
        eq(end["reason"], "the process exited", "end")
        big = [r["pid"] for r in recs if r["type"] == "call" and r["fn"] == "malloc" and
               r.get("size") == 200000]
        eq(len(big), 2, "example's malloc(200000), once per run")
        check(sh.pid in big and len(set(big)) == 2, "one in the forked child, one in the shell "
              "after its exec: %r" % big)
        execs = [r["pid"] for r in recs if r["type"] == "task" and r["kind"] == "exec"]
        eq(sorted(set(execs)), sorted(set(big)), "the execs seen")
        eq([t["comm"] for t in targets(d) if t["pid"] == sh.pid], ["example"],
           "the target's name after its exec")
    finally:
        eq(d.stop(), 0, "serve's exit status")


def test_sighup():
    d = Daemon("history_kb = 256\n")
    try:
        p = held_thresh()
        add(d, p.pid)
        with open(d.conf, "w") as f:
            f.write("# more room\nhistory_kb = 512\nmax_targets = 8\n")
        n = len(d.log)
        d.p.send_signal(signal.SIGHUP)
        d.wait_log("reloaded", n)
        with open(d.conf, "w") as f:
            f.write("history_kb = lots\n")
        n = len(d.log)
        d.p.send_signal(signal.SIGHUP)
        line = d.wait_log("kept the previous settings", n)
        check("line 1: invalid history_kb 'lots'" in line, "message: %r" % line)
        eq([(t["pid"], t["alive"]) for t in targets(d)], [(p.pid, True)], "targets kept")
        finish(p)
        wait_until("the summary", lambda: summary_of(d, p.pid)["functions"].get("malloc", {})
                   .get("calls") == 4)
    finally:
        eq(d.stop(), 0, "serve's exit status")


def test_top_socket():
    """allocmap top --socket in a tmux pane: the screen of the target, the
    q key (forwarded to the session), the exit status and closing line."""
    if not shutil.which("tmux"):
        raise Skip("no tmux (scripts/deps.sh installs it)")
    d = Daemon()
    srv = "amserve-%d" % os.getpid()
    tm = ["tmux", "-L", srv, "-f", "/dev/null"]
    sp = subprocess.Popen([SPINNER, "100000"], stdout=subprocess.DEVNULL)
    try:
        cmd = "%s top --socket %s -p %d; echo EXIT=$?; sleep 60" % (TOOL, d.sock, sp.pid)
        subprocess.run(tm + ["new-session", "-d", "-s", "t", "-x", "120", "-y", "40", cmd], check=True)

        def screen():
            return subprocess.run(tm + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                                  text=True).stdout
        wait_until("top's screen", lambda: "pid %d (spinner)" % sp.pid in screen() and
                   "mmap threshold" in screen())
        subprocess.run(tm + ["send-keys", "-t", "t", "q"], check=True)
        wait_until("top to quit", lambda: "EXIT=" in screen())
        check("EXIT=0" in screen(), "top's exit: %s" % screen()[-600:])
        check("allocmap top: pid %d (spinner)" % sp.pid in screen(), "its closing line")
    finally:
        subprocess.run(tm + ["kill-server"], capture_output=True)
        sp.kill()
        sp.wait()
        eq(d.stop(), 0, "serve's exit status")


def test_watch_rules():
    ensure_users()
    d = Daemon()
    u1 = USERS[0]
    procs = []
    try:
        r = one(d, op="add", comm="thresh_w*", mode="all")
        check(r.get("ok") and r["rule"] >= 1, "root's rule: %r" % r)
        r1 = one(d, u1, op="add", comm="thresh_wait", mode="os")
        check(r1.get("ok"), "u1's rule: %r" % r1)
        eq([x["comm"] for x in one(d, op="list")["rules"]], ["thresh_w*", "thresh_wait"], "root's rules")
        eq([x["uid"] for x in one(d, u1, op="list")["rules"]], [pwd.getpwnam(u1).pw_uid], "u1's rules")
        p = held_thresh()
        procs.append(p)
        mine = held_thresh(u1)
        procs.append(mine)

        def tracing(user, pid):
            return [t for t in targets(d, user) if t["pid"] == pid and t["state"] == "tracing"]
        wait_until("root's rule to pick up thresh_wait", lambda: tracing(None, p.pid))
        wait_until("u1's rule to pick up its thresh_wait", lambda: tracing(u1, mine.pid))
        ts = targets(d, u1)
        eq(sorted(t["pid"] for t in ts), [mine.pid], "u1 sees its own only (%r; root's rules %r)" %
           (ts, one(d, op="list")))
        finish(p)
        # picked up after its loader: whether its calls before "ready" are
        # seen depends on when; its calls after "go" are seen, each once
        recs, end = stream_records(d, p.pid)
        eq([r["size"] for r in recs if r["type"] == "call" and r["fn"] == "malloc" and
            r["size"] in (200000, 1048576, 600000)], [200000, 200000, 1048576, 600000],
           "thresh_wait's steps")
        s = [r for r in recs if r["type"] == "summary"][0]
        eq(s["allocator"], "glibc", "the allocator, resolved after the loader")
        eq(s["threshold"]["end"], 1052672, "threshold at the end")
        finish(mine)
        wait_until("u1's target to end", lambda: not tracing(u1, mine.pid))
        recs, end = stream_records(d, mine.pid, u1)
        eq([(r["syscall"], r.get("len")) for r in recs if r["type"] == "os" and
            r["syscall"] in ("mmap", "munmap") and r.get("len") == 1052672],
           [("mmap", 1052672), ("munmap", 1052672)], "u1's target: the 1 MiB chunk's mmap, munmap")
        eq(one(d, u1, op="remove", rule=r["rule"])["error"], "no such rule", "u1 removes root's rule")
        eq(one(d, op="remove", rule=r["rule"])["ok"], True, "root removes its rule")
        eq(one(d, u1, op="remove", rule=r1["rule"])["ok"], True, "u1 removes its rule")
        eq(one(d, op="list")["rules"], [], "no rules left")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        eq(d.stop(), 0, "serve's exit status")


def test_conf_watch():
    """`watch` lines of the config file: root's rules, made at start (a
    matching process running already is taken), replaced on SIGHUP; a bad
    one refuses the file."""
    old = held_thresh()
    procs = [old]
    d = Daemon("watch = comm thresh_wait all\n")
    try:
        eq([(x["comm"], x["mode"], x["config"], x["uid"]) for x in one(d, op="list")["rules"]],
           [("thresh_wait", "all", True, 0)], "the config's rule")

        def tracing(pid):
            return [t for t in targets(d) if t["pid"] == pid and t["state"] == "tracing"]
        wait_until("the rule to take the running thresh_wait", lambda: tracing(old.pid))
        new = held_thresh()
        procs.append(new)
        wait_until("the rule to take a new thresh_wait", lambda: tracing(new.pid))
        finish(old)
        wait_until("the summary", lambda: summary_of(d, old.pid)["functions"].get("malloc", {})
                   .get("calls") == 4)
        check_thresh_summary(summary_of(d, old.pid))
        with open(d.conf, "w") as f:
            f.write("watch = comm\n")
        n = len(d.log)
        d.p.send_signal(signal.SIGHUP)
        line = d.wait_log("kept the previous settings", n)
        check("line 1: invalid watch" in line, "message: %r" % line)
        eq(len(one(d, op="list")["rules"]), 1, "the rule kept")
        with open(d.conf, "w") as f:
            f.write("# no rules\n")
        n = len(d.log)
        d.p.send_signal(signal.SIGHUP)
        d.wait_log("reloaded", n)
        eq(one(d, op="list")["rules"], [], "the rule gone with its line")
        check(tracing(new.pid), "its target stays")
        finish(new)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        eq(d.stop(), 0, "serve's exit status")


def test_half_close():
    """A client that shuts its side down after its request (socat, `nc -N`)
    still gets the answer, also one that waits for the target's attach."""
    d = Daemon()
    p = held_thresh()
    try:
        def ask(req):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(WAIT)
            s.connect(d.sock)
            s.sendall((json.dumps(dict(req, v=1)) + "\n").encode())
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            s.close()
            return [json.loads(l) for l in data.decode().splitlines()]
        r = ask({"op": "add", "pid": p.pid, "mode": "all"})
        eq([(x.get("ok"), x.get("op"), x.get("pid")) for x in r], [(True, "add", p.pid)],
           "the add's answer after the client's shutdown")
        r = ask({"op": "list"})
        eq([t["pid"] for t in r[0]["targets"]], [p.pid], "list's answer")
        finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        eq(d.stop(), 0, "serve's exit status")


def test_watch_forged():
    """The exec-event socket takes the kernel's messages only: one sent to
    its port by a process (root here: the kernel refuses other users) is
    counted and ignored."""
    d = Daemon()
    try:
        check(one(d, op="add", comm="thresh_wait").get("ok"), "a rule (opens the socket)")
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)  # NETLINK_CONNECTOR
        nl.bind((0, 0))
        ev = struct.pack("=IIQii", 0x2, 0, 0, d.p.pid, d.p.pid)    # PROC_EVENT_EXEC
        cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(ev), 0) + ev    # CN_IDX_PROC, CN_VAL_PROC
        nl.sendto(struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, os.getpid()) + cn, (d.p.pid, 0))
        nl.close()
        eq(wait_until("the forged message", lambda: one(d, op="stats")["watch_forged"]), 1,
           "forged messages counted")
        eq(targets(d), [], "nothing added")
    finally:
        eq(d.stop(), 0, "serve's exit status")


def prog_exists(pid):
    return subprocess.run(["bpftool", "prog", "show", "id", str(pid)], capture_output=True).returncode == 0


def test_sigterm():
    d = Daemon()
    sp = subprocess.Popen([SPINNER, "100000"], stdout=subprocess.PIPE, text=True)
    try:
        p = held_thresh()
        add(d, sp.pid)
        add(d, p.pid, mode="os")
        ids = d.prog_ids()
        check(len(ids) >= 4, "the daemon's programs: %r" % ids)
        eq(d.stop(), 0, "serve's exit status after SIGTERM")
        check(not os.path.exists(d.sock), "the socket was removed")
        check("every target detached" in "".join(l for l in d.log if l), "its last line")
        left = wait_until("every program to go", lambda: not [i for i in ids if prog_exists(i)]
                          or None) and []
        eq(left, [], "programs left")
        eq(sp.poll(), None, "the spinner runs on")
        sp.stdout.readline()
        finish(p)
    finally:
        if sp.poll() is None:
            sp.kill()
            sp.wait()
        if d.p.poll() is None:
            d.stop()


TESTS = [
    ("basics", test_basics),
    ("exit_frees", test_exit_frees),
    ("os_mode", test_os_mode),
    ("trace_socket", test_trace_socket),
    ("nonroot", test_nonroot),
    ("setuid_exec", test_setuid_exec),
    ("parallel_stacks", test_parallel_stacks),
    ("fifty_clients", test_fifty_clients),
    ("disconnects", test_disconnects),
    ("fork_exec", test_fork_exec),
    ("top_socket", test_top_socket),
    ("watch_rules", test_watch_rules),
    ("conf_watch", test_conf_watch),
    ("watch_forged", test_watch_forged),
    ("half_close", test_half_close),
    ("top_setuid", test_top_setuid),
    ("sighup", test_sighup),
    ("sigterm", test_sigterm),
]

if __name__ == "__main__":
    sys.exit(run_tests("serve", TESTS, sys.argv[1:], needs(TOOL, THRESH, SPINNER, EXAMPLE, SITES)))
