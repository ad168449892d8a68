#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_serve_http.py - `allocmap serve`'s HTTP side with real components: the
daemon traces progs/served (known calls: 300000 + 3 x 1000 bytes live, one
mmap made by malloc) and

  prometheus   a real Prometheus (Debian's) scrapes /metrics every second;
               its HTTP API returns the target's series with those values;
               `promtool check metrics` accepts /metrics (a hostile comm in it)
  pprof        `go tool pprof -top` reads /debug/pprof/heap?pid=N over HTTP
               and shows the program's allocation sites with their bytes
  live_page    headless Chromium loads /live?pid=N, its figures change
               while the program allocates, and it says how many records the
               bounded history dropped (history_kb = 64)
  non_root     a user of its own traces its own process through the socket:
               over HTTP it sees it and not root's (metrics, 404 on root's
               pprof and live page, no daemon figures)
  refusals     bad pids (400), unknown pids (404), a non-loopback address
               without --http-access=open (exit 64)"""

import json
import os
import pwd
import grp
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CI, PROGS, ROOT, TOOL, Fail, Skip, check, chromium, eq, needs,  # noqa: E402
                     run, run_tests)

SERVED = os.path.join(PROGS, "served")
USER = "amhttp"           # the non-root user the test creates
# the user's python: the system's (the one running this may be in root's home)
UPY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
LIVE = 300000 + 3 * 1000  # served's bytes live after "go"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(port, path, timeout=30):
    """(status, headers, body bytes) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wait_for(what, fn, timeout=60.0):
    """fn() until it returns a true value (the daemon's state is polled: it
    says nothing when a tick lands); Fail after timeout seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise Fail("timed out waiting for %s (last: %r)" % (what, last))


def read_line(proc, timeout=30):
    """One line of proc's stdout, or Fail."""
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    if not r:
        raise Fail("no line from pid %d in %ds" % (proc.pid, timeout))
    return proc.stdout.readline().strip()


class Daemon:
    """allocmap serve in the foreground, its socket in tmp, HTTP on a free
    loopback port; extra: more options."""

    def __init__(self, tmp, extra=()):
        self.sock = os.path.join(tmp, "serve.sock")
        self.port = free_port()
        self.err = open(os.path.join(tmp, "serve.err"), "w+")
        self.p = subprocess.Popen([TOOL, "serve", "--foreground", "--socket", self.sock,
                                   "--http", "127.0.0.1:%d" % self.port] + list(extra),
                                  stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        wait_for("the daemon's HTTP port", lambda: self._up(), 30)

    def _up(self):
        if self.p.poll() is not None:
            self.err.seek(0)
            raise Fail("allocmap serve exited %d: %s" % (self.p.returncode, self.err.read()[-2000:]))
        try:
            return http_get(self.port, "/targets.json", 2)[0] == 200
        except OSError:
            return False

    def stop(self):
        """SIGTERM; Fail unless it exits 0 with no sanitizer report."""
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.seek(0)
        log = self.err.read()
        self.err.close()
        check("Sanitizer" not in log and "runtime error" not in log, "sanitizer report: %s" % log[-3000:])
        eq(self.p.returncode, 0, "allocmap serve's exit status after SIGTERM (%s)" % log[-1000:])


def ctl(sock_path, req, timeout=60):
    """One request on the control socket (JSON lines): the reply object
    (after the hello). The connection is returned too, open."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.write(json.dumps(req) + "\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:
            raise Fail("control socket closed after %r" % req)
        obj = json.loads(line)
        if obj.get("op") != "hello":
            return obj, (s, f)


def start_served(user=None, comm=None):
    """progs/served, as user (a name) or root, named comm (bytes) when
    given: (Popen, pid)."""
    pre = None
    if user:
        pw = pwd.getpwnam(user)

        def pre():
            os.setgroups([])
            os.setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid)
            os.setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid)
    p = subprocess.Popen([SERVED] + ([comm] if comm else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         preexec_fn=pre, bufsize=1)
    line = read_line(p)
    check(line.startswith("ready "), "served said %r" % line)
    return p, int(line.split()[1])


def trace_served(d, user=None, mode="all", comm=None):
    """Starts served, has the daemon trace it (as user's client when given),
    lets it run its calls: (Popen, pid, control connection)."""
    p, pid = start_served(user, comm)
    if user:
        res = add_as(user, d.sock, pid, mode)
        conn = None
    else:
        res, conn = ctl(d.sock, {"v": 1, "op": "add", "pid": pid, "mode": mode})
    check(res.get("ok", True) and res.get("op") == "add", "add pid %d: %r" % (pid, res))
    p.stdin.write("go\n")
    eq(read_line(p), "done", "served's calls")
    return p, pid, conn


def add_as(user, sock_path, pid, mode):
    """The add request made by a client running as user."""
    code = ("import json,socket,sys\n"
            "s=socket.socket(socket.AF_UNIX);s.settimeout(60);s.connect(sys.argv[1]);f=s.makefile('rw')\n"
            "f.write(json.dumps({'v':1,'op':'add','pid':int(sys.argv[2]),'mode':sys.argv[3]})+'\\n');f.flush()\n"
            "while True:\n"
            "  o=json.loads(f.readline())\n"
            "  if o.get('op')!='hello': print(json.dumps(o)); break\n")
    r = run(["runuser", "-u", user, "--", UPY, "-c", code, sock_path, str(pid), mode], timeout=90)
    check(r.returncode == 0, "add as %s: %s" % (user, r.stderr))
    return json.loads(r.stdout)


def get_as(user, port, path):
    """(status, body text) of GET path made by a process of user."""
    code = ("import sys,urllib.request,urllib.error\n"
            "try:\n"
            "  r=urllib.request.urlopen('http://127.0.0.1:%s%s'%(sys.argv[1],sys.argv[2]),timeout=30)\n"
            "  print(r.status);sys.stdout.write(r.read().decode('utf-8','replace'))\n"
            "except urllib.error.HTTPError as e:\n"
            "  print(e.code);sys.stdout.write(e.read().decode('utf-8','replace'))\n")
    r = run(["runuser", "-u", user, "--", UPY, "-c", code, str(port), path], timeout=60)
    check(r.returncode == 0, "GET %s as %s: %s" % (path, user, r.stderr))
    status, _, body = r.stdout.partition("\n")
    return int(status), body


def metric(text, name, **labels):
    """The value of the sample name{labels...} (a subset of its labels), or
    None."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        lab = line[len(name) + 1:line.rindex("}")]
        if all('%s="%s"' % (k, v) in lab for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def end(p):
    if p and p.poll() is None:
        p.stdin.close()
        p.wait(timeout=30)


def with_daemon(fn, extra=()):
    tmp = tempfile.mkdtemp(prefix="am-http.")
    d = Daemon(tmp, extra)
    try:
        fn(d, tmp)
    except BaseException:
        try:
            d.stop()
        except Fail:
            pass        # the test's own failure says more
        raise
    else:
        d.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def live_now(d, pid):
    st, _, body = http_get(d.port, "/metrics")
    return st == 200 and metric(body.decode(), "allocmap_live_bytes", pid=pid) == LIVE and body.decode()


def t_prometheus():
    def body(d, tmp):
        p, pid, conn = trace_served(d)
        # a name with a quote, a backslash, markup, a byte that is not UTF-8 and a tab
        h, hpid, hconn = trace_served(d, comm=b'q"\\<x>\xff\t')
        try:
            text = wait_for("live bytes %d in /metrics" % LIVE, lambda: live_now(d, pid) and live_now(d, hpid))
            check('allocmap_live_bytes{pid="%d",comm="q\\"\\\\<x>\ufffd\ufffd",allocator="glibc",mode="all"} %d\n'
                  % (hpid, LIVE) in text, "the hostile comm escaped in its labels")
            eq(metric(text, "allocmap_os_requests_total", pid=pid, syscall="mmap", cause="malloc"), 1,
               "mmap requests caused by malloc")
            eq(metric(text, "allocmap_allocator_calls_total", pid=pid, function="malloc"), 4, "malloc calls")
            check(metric(text, "allocmap_daemon_targets") is None, "daemon figures carry no labels")
            check("allocmap_daemon_targets 2\n" in text, "root sees the daemon's figures (2 targets)")
            path = os.path.join(tmp, "metrics.txt")
            open(path, "w").write(text)
            r = run(["promtool", "check", "metrics"], stdin=open(path))
            eq(r.returncode, 0, "promtool check metrics: %s%s" % (r.stdout, r.stderr))
            prometheus(d, tmp, pid)
        finally:
            end(p)
            end(h)
    with_daemon(body)


def prometheus(d, tmp, pid):
    """A real Prometheus scrapes the daemon; its API has the series."""
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    # a second job discovers the targets through /sd.json (the format Alloy's
    # discovery.http and Parca's http_sd_configs read): one per traced process,
    # its URL carrying ?pid=N from __param_pid
    open(cfg, "w").write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: allocmap\n"
                         "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                         "  - job_name: allocmap_sd\n    http_sd_configs:\n"
                         "      - url: http://127.0.0.1:%d/sd.json\n        refresh_interval: 1s\n"
                         % (d.port, d.port))
    r = run(["promtool", "check", "config", cfg])
    eq(r.returncode, 0, "promtool check config: %s" % r.stdout)
    r = run(["promtool", "check", "config", os.path.join(ROOT, "contrib", "fleet", "prometheus.yml")])
    eq(r.returncode, 0, "promtool check config contrib/fleet/prometheus.yml: %s" % r.stdout)
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    prom = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % port], stdout=log, stderr=log)
    try:
        def value(q):
            try:
                st, _, b = http_get(port, "/api/v1/query?query=" + urllib.request.quote(q), 5)
            except OSError:
                return None
            if st != 200:
                return None
            res = json.loads(b)["data"]["result"]
            return res[0]["value"][1] if res else None
        got = wait_for("Prometheus to have the target's live bytes",
                       lambda: value('allocmap_live_bytes{job="allocmap",pid="%d"}' % pid), 90)
        eq(got, str(LIVE), "allocmap_live_bytes in Prometheus")
        eq(value('allocmap_os_requests_total{job="allocmap",pid="%d",syscall="mmap",cause="malloc"}' % pid), "1",
           "allocmap_os_requests_total in Prometheus")
        eq(value('allocmap_mmap_threshold_bytes{job="allocmap",pid="%d"}' % pid), "131072",
           "the threshold in Prometheus")
        eq(value('up{job="allocmap"}'), "1", "scrape health")

        def discovered():
            st, _, b = http_get(port, "/api/v1/targets", 5)
            return st == 200 and [t for t in json.loads(b)["data"]["activeTargets"]
                                  if t["labels"].get("job") == "allocmap_sd"]
        sd = wait_for("Prometheus to discover the target through /sd.json", discovered, 60)
        sd = [t for t in sd if t["labels"].get("pid") == str(pid)]
        eq(len(sd), 1, "the target discovered")
        eq(sd[0]["labels"].get("comm"), "served", "its comm label")
        check(sd[0]["scrapeUrl"].endswith("?pid=%d" % pid), "its URL asks for the pid: %s" % sd[0]["scrapeUrl"])
    finally:
        prom.terminate()
        prom.wait(timeout=60)
        log.close()


def t_pprof():
    def body(d, tmp):
        p, pid, conn = trace_served(d)
        try:
            wait_for("live bytes", lambda: live_now(d, pid))
            st, h, b = http_get(d.port, "/debug/pprof/heap?pid=%d" % pid)
            eq(st, 200, "heap status")
            eq(h.get("Content-Type"), "application/octet-stream", "heap content type")
            check(b[:2] == b"\x1f\x8b", "heap is gzipped")
            env = dict(os.environ, PPROF_TMPDIR=tmp, HOME=tmp)
            r = run(["go", "tool", "pprof", "-top", "-unit=B", "-sample_index=inuse_space",
                     "http://127.0.0.1:%d/debug/pprof/heap?pid=%d" % (d.port, pid)], env=env, timeout=120)
            eq(r.returncode, 0, "go tool pprof: %s" % r.stderr)
            rows = {ln.split()[-1]: ln.split()[0] for ln in r.stdout.splitlines()
                    if ln.strip().endswith("_site")}
            eq(rows.get("big_site"), "300000B", "big_site inuse in pprof -top (%s)" % r.stdout)
            eq(rows.get("small_site"), "3000B", "small_site inuse in pprof -top")
            r = run(["go", "tool", "pprof", "-top", "-unit=B",
                     "http://127.0.0.1:%d/debug/pprof/allocs?pid=%d" % (d.port, pid)], env=env, timeout=120)
            eq(r.returncode, 0, "go tool pprof allocs: %s" % r.stderr)
            check("alloc_space" in r.stdout or "big_site" in r.stdout, "allocs profile read: %s" % r.stdout)
            eq(http_get(d.port, "/debug/pprof/heap?pid=x")[0], 400, "bad pid")
            eq(http_get(d.port, "/debug/pprof/heap?pid=%d" % (4 << 20))[0], 404, "untraced pid")
            # once it exits, the profiles as the trace ended, while it lingers
            end(p)

            def ended():
                st, _, b = http_get(d.port, "/targets.json")
                return st == 200 and [t for t in json.loads(b)
                                      if t["pid"] == pid and not t["alive"]]
            wait_for("the target to end", ended)
            r = run(["go", "tool", "pprof", "-top", "-unit=B", "-sample_index=alloc_space",
                     "http://127.0.0.1:%d/debug/pprof/allocs?pid=%d" % (d.port, pid)], env=env, timeout=120)
            eq(r.returncode, 0, "go tool pprof allocs of the ended target: %s" % r.stderr)
            rows = {ln.split()[-1]: ln.split()[0] for ln in r.stdout.splitlines()
                    if ln.strip().endswith("_site")}
            eq(rows.get("big_site"), "300000B", "big_site allocated, after the exit (%s)" % r.stdout)
        finally:
            end(p)
    with_daemon(body)


def dump(port, pid, tmp):
    r = chromium(["--virtual-time-budget=6000", "--dump-dom", "http://127.0.0.1:%d/live?pid=%d" % (port, pid)], tmp)
    check(r.returncode == 0, "chromium: %s" % r.stderr[-500:])
    return r.stdout


def field(dom, ident):
    """The text of the element with id ident in a dumped DOM."""
    i = dom.find('id="%s"' % ident)
    check(i >= 0, "no #%s in the live page's DOM" % ident)
    j = dom.index(">", i) + 1
    return dom[j:dom.index("<", j)]


def t_live_page():
    def body(d, tmp):
        p, pid, conn = trace_served(d)
        try:
            wait_for("live bytes", lambda: live_now(d, pid))
            st, h, page = http_get(d.port, "/live?pid=%d" % pid)
            eq(st, 200, "live page status")
            check("script-src 'self'" in h.get("Content-Security-Policy", ""), "live page CSP")
            eq(h.get("X-Content-Type-Options"), "nosniff", "nosniff")
            dom1 = dump(d.port, pid, tmp)
            rec1 = int(field(dom1, "records"))
            eq(field(dom1, "live_bytes"), "296 KiB", "live bytes on the page (303000 B)")
            check('src="/report?pid=%d&amp;' % pid in dom1, "the report frame loads")
            for i in range(1, 4):
                p.stdin.write("more\n")
                eq(read_line(p), "more %d" % i, "served's more")
            wait_for("the daemon to see 3 more calls",
                     lambda: metric(http_get(d.port, "/metrics")[2].decode(), "allocmap_live_bytes",
                                    pid=pid) == LIVE + 15000)
            dom2 = dump(d.port, pid, tmp)
            rec2 = int(field(dom2, "records"))
            check(rec2 > rec1, "records on the page: %d then %d" % (rec1, rec2))
            eq(field(dom2, "live_bytes"), "311 KiB", "live bytes on the page (318000 B)")
            st, h, rep = http_get(d.port, "/report?pid=%d" % pid)
            eq(st, 200, "report status")
            check(b"am-data" in rep, "the report page")
            check(field(dom2, "dropped").startswith("No record dropped"), "nothing dropped yet")
            # past the history's bound (64 KiB, the config file's): the page says how many were dropped
            for i in range(4, 400):
                p.stdin.write("more\n")
                eq(read_line(p), "more %d" % i, "served's more")
            j = wait_for("the daemon to drop old records", lambda: dropped(d, pid))
            dom3 = dump(d.port, pid, tmp)
            eq(field(dom3, "dropped"), "%d older records were dropped from the bounded history: the report "
               "starts after them." % j["history_dropped"], "the page says what was dropped")
            eq(int(field(dom3, "records")), j["records"], "records kept on the page")
        finally:
            end(p)
    cfg = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    cfg.write("history_kb = 64\n")
    cfg.close()
    try:
        with_daemon(body, ["--config", cfg.name])
    finally:
        os.unlink(cfg.name)


def dropped(d, pid):
    """/live.json once the daemon saw served's 399 "more" calls and dropped
    records (None before)."""
    st, _, b = http_get(d.port, "/live.json?pid=%d" % pid)
    j = json.loads(b) if st == 200 else {}
    text = http_get(d.port, "/metrics")[2].decode()
    done = metric(text, "allocmap_live_bytes", pid=pid) == LIVE + 399 * 5000
    return j if done and j.get("history_dropped", 0) > 0 else None


def ensure_user():
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        r = run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", USER])
        check(r.returncode == 0, "useradd: %s" % r.stderr)


def t_non_root():
    ensure_user()

    def body(d, tmp):
        os.chmod(tmp, 0o755)
        mine, mine_pid, _ = trace_served(d, user=USER)
        roots, root_pid, conn = trace_served(d)
        try:
            wait_for("both targets", lambda: live_now(d, mine_pid) and live_now(d, root_pid))
            st, text = get_as(USER, d.port, "/metrics")
            eq(st, 200, "metrics for %s" % USER)
            eq(metric(text, "allocmap_live_bytes", pid=mine_pid), LIVE, "its own target's live bytes")
            eq(metric(text, "allocmap_live_bytes", pid=root_pid), None, "root's target in its metrics")
            check('pid="%d"' % root_pid not in text, "root's pid nowhere in its metrics")
            check("allocmap_daemon_" not in text, "no daemon figures for a user")
            eq(get_as(USER, d.port, "/debug/pprof/heap?pid=%d" % root_pid)[0], 404, "root's heap")
            eq(get_as(USER, d.port, "/debug/pprof/heap?pid=%d" % mine_pid)[0], 200, "its own heap")
            eq(get_as(USER, d.port, "/live?pid=%d" % root_pid)[0], 404, "root's live page")
            eq(get_as(USER, d.port, "/live.json?pid=%d" % root_pid)[0], 404, "root's live data")
            eq(get_as(USER, d.port, "/report?pid=%d" % root_pid)[0], 404, "root's report")
            st, text = get_as(USER, d.port, "/targets.json")
            eq([t["pid"] for t in json.loads(text)], [mine_pid], "targets.json for a user")
            st, text = get_as(USER, d.port, "/sd.json")
            check(str(root_pid) not in text, "root's target not in sd.json")
        finally:
            end(mine)
            end(roots)
    with_daemon(body, ["--group", USER])


def t_refusals():
    r = run([TOOL, "serve", "--foreground", "--socket", "/nonexistent/x.sock", "--http", "0.0.0.0:1"], timeout=30)
    eq(r.returncode, 64, "non-loopback without --http-access=open: exit status")
    eq(len(r.stderr.strip().splitlines()), 1, "one line on stderr (%r)" % r.stderr)
    check("--http-access=open" in r.stderr, "it names the option: %r" % r.stderr)
    for bad in (["--http", "localhost"], ["--http", "127.0.0.1:70000"], ["--http-allow", "no-such-user-am"],
                ["--http-allow", "@no-such-group-am"], ["--http-access", "sideways"]):
        r = run([TOOL, "serve"] + bad, timeout=30)
        eq(r.returncode, 64, "serve %s: exit status" % " ".join(bad))
        eq(len(r.stderr.strip().splitlines()), 1, "serve %s: one line (%r)" % (" ".join(bad), r.stderr))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    tmp = tempfile.mkdtemp(prefix="am-http.")
    try:
        r = run([TOOL, "serve", "--foreground", "--socket", os.path.join(tmp, "s.sock"),
                 "--http", "127.0.0.1:%d" % taken.getsockname()[1]], timeout=60)
    finally:
        taken.close()
        shutil.rmtree(tmp, ignore_errors=True)
    eq(r.returncode, 1, "--http on a port in use: exit status")
    check("cannot listen on 127.0.0.1:" in r.stderr and "Address already in use" in r.stderr,
          "it says why: %r" % r.stderr)
    eq(len([ln for ln in r.stderr.splitlines() if ln.startswith("allocmap: ")]), 1,
       "one error line (%r)" % r.stderr)


def main():
    if not shutil.which("promtool") or not shutil.which("prometheus"):
        raise SystemExit(run_tests("t_serve_http", [("deps", lambda: (_ for _ in ()).throw(
            Skip("prometheus is not installed (scripts/deps.sh)")))]))
    tests = [("refusals", t_refusals), ("prometheus", t_prometheus), ("pprof", t_pprof),
             ("live_page", t_live_page), ("non_root", t_non_root)]
    return run_tests("t_serve_http", tests, only=sys.argv[1:], before=needs(TOOL, SERVED))


if __name__ == "__main__":
    sys.exit(main())
