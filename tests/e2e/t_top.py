#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_top.py - end-to-end tests of `allocmap top`, the live terminal view.

Drives allocmap top inside tmux (its own server socket, 120x40 panes),
reads the screen with capture-pane and asserts on it: memory rows with
plausible values, an OS request caused by malloc(200000), the glibc
threshold, the loss counters, per-function rates; resizing; `q` quitting
with exit status 0, the attached target still alive and the terminal
restored (alternate screen off, icanon/echo back); the final frame when a
launched command exits; SIGTERM; an error printed once the terminal is
back; refusal when stdout is not a terminal; the call-site pane (--stacks,
keys s and o) with the final figures of the known allocations of
slow_loop, and what it says without --stacks.

Target: tests/progs/scenarios slow_loop (malloc(200000) + malloc(1000) every
100 ms); with MALLOC_MMAP_THRESHOLD_=131072 every malloc(200000) is an
mmap and every free a munmap, so OS requests keep coming after an attach.

Run as root from the repository root (tests/run-all.sh does). Prints
`ok NAME` / `FAIL NAME: why`, then `top: N passed, N failed`. Without root
or tmux it skips loudly; under CI=true a skip is a failure.
"""
import os
import re
import shutil
import signal
import subprocess
import time

from harness import CI, ROOT, TOOL, Tally

SC = os.path.join(ROOT, ".output", "progs", "scenarios")
SOCK = "amtop-%d" % os.getpid()     # a tmux server of our own
W, H = 120, 40

T = Tally("top")
ok, fail = T.ok, T.fail


def check(name, cond, why, screen=None):
    T.check(name, cond, why)
    if not cond and screen is not None:
        print("---- screen ----\n" + screen + "\n----------------", flush=True)
    return cond


def finish():
    subprocess.run(["tmux", "-L", SOCK, "kill-server"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    T.finish()


def tmux(*args):
    return subprocess.run(["tmux", "-L", SOCK, "-f", "/dev/null"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


class Pane:
    """allocmap top running in a tmux session; after it exits the shell prints
    ALLOCMAP_EXIT=rc and the terminal's icanon/echo modes, then idles."""
    n = 0

    def __init__(self, args, env=""):
        Pane.n += 1
        self.name = "t%d" % Pane.n
        cmd = ("cd %s && %s LANG=C.UTF-8 %s top %s; echo ALLOCMAP_EXIT=$?; "
               "echo STTY: $(stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$'); sleep 120"
               % (shq(ROOT), env, shq(TOOL), args))
        for _ in range(5):
            r = tmux("new-session", "-d", "-s", self.name, "-x", str(W), "-y", str(H), cmd)
            # a server still shutting down (its last session just closed)
            # refuses the client: a new one starts on the next try
            if r.returncode == 0 or b"server exited unexpectedly" not in r.stderr:
                break
            time.sleep(0.2)
        if r.returncode:
            raise RuntimeError("tmux new-session: " + r.stderr.decode())

    def screen(self):
        return tmux("capture-pane", "-p", "-t", self.name).stdout.decode("utf-8", "replace")

    def wait(self, pred, timeout):
        """Polls the screen until pred(screen) is truthy; returns (result, screen)."""
        end = time.time() + timeout
        while True:
            s = self.screen()
            r = pred(s)
            if r or time.time() > end:
                return r, s
            time.sleep(0.1)

    def keys(self, *k):
        tmux("send-keys", "-t", self.name, *k)

    def fmt(self, f):
        return tmux("display", "-p", "-t", self.name, f).stdout.decode().strip()

    def exit_code(self, timeout):
        m, s = self.wait(lambda s: "STTY:" in s and re.search(r"ALLOCMAP_EXIT=(\d+)", s), timeout)
        return (int(m.group(1)) if m else None), s

    def allocmap_pid(self):
        sh = int(self.fmt("#{pane_pid}"))
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cl = f.read().split(b"\0")
            except OSError:
                continue
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == sh and cl and cl[0].endswith(b"allocmap"):
                return int(p)
        return None

    def kill(self):
        tmux("kill-session", "-t", self.name)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] not in "ZX"


def restored(name, p, screen):
    """The terminal is back: no alternate screen, cooked mode, no frame left."""
    alt = p.fmt("#{alternate_on}")
    check(name + "_alternate_screen_off", alt == "0", "alternate_on=%s" % alt, screen)
    m = re.search(r"STTY: (.*)", screen)
    modes = m.group(1).split() if m else []
    check(name + "_tty_modes_restored", "icanon" in modes and "echo" in modes,
          "stty modes %r" % modes, screen)
    check(name + "_no_frame_left", "LATEST OS REQUESTS" not in screen and "MEMORY" not in screen,
          "curses frame still on the screen", screen)


def start_loop(rounds=0, pinned=True):
    env = dict(os.environ)
    if pinned:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    args = [SC, "slow_loop"] + ([str(rounds)] if rounds else [])
    return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SIZE = r"(\d+(?:\.\d+)?) (B|KiB|MiB|GiB)"
UNITS = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}


def size_of(screen, label):
    """The 'now' column of a MEMORY row, in bytes (None if absent)."""
    m = re.search(r"^ " + label + r"\s+" + SIZE, screen, re.M)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def shows(screen, label, exact):
    """The 'now' column of a MEMORY row is exact bytes as shown in the
    column's unit: within half of its last digit (the column shares the unit
    of its largest value, so 196 KiB may read 0.19 MiB)."""
    m = re.search(r"^ " + label + r"\s+" + SIZE, screen, re.M)
    if not m:
        return False
    dec = len(m.group(1).split(".")[1]) if "." in m.group(1) else 0
    return abs(float(m.group(1)) * UNITS[m.group(2)] - exact) <= 0.5 * 10 ** -dec * UNITS[m.group(2)]


# ---------------------------------------------------------------- tests

def test_cli():
    r = subprocess.run([TOOL, "top", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = r.stdout.decode()
    check("help", r.returncode == 0 and "EXAMPLES" in out and "--interval" in out
          and "-p" in out and "--duration" in out, "rc %d, help: %r" % (r.returncode, out[:300]))
    r = subprocess.run([TOOL, "top"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # a usage error: one line, EX_USAGE (64), as in every subcommand (opts.c)
    check("usage_error", r.returncode == 64 and r.stderr == b"allocmap: top: nothing to trace: "
          b"give -p PID or -- CMD [ARGS...]\n",
          "rc %d, stderr %r" % (r.returncode, r.stderr))
    r = subprocess.run([TOOL, "top", "-p", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    lines = r.stderr.decode().strip().splitlines()
    check("not_a_terminal", r.returncode != 0 and len(lines) == 1 and "terminal" in lines[0]
          and r.stdout == b"", "rc %d, stderr %r" % (r.returncode, r.stderr))


def test_attach():
    tgt = start_loop()
    p = Pane("-p %d" % tgt.pid)
    try:
        # a frame with rates (two samples) and a malloc-caused mmap
        def ready(s):
            return (re.search(r"^ malloc\s+\d", s, re.M)
                    and re.search(r"mmap\s+196 KiB\s+0x[0-9a-f]+\s+malloc\(200000\)", s))
        r, s = p.wait(ready, 20)
        if not check("attach_frame", r, "no frame with rates and a malloc mmap in 20 s", s):
            return
        check("attach_header", "allocmap top" in s and "pid %d (scenarios)" % tgt.pid in s
              and "glibc" in s, "header", s)
        heap, mm, live = size_of(s, "brk heap"), size_of(s, "mmapped"), size_of(s, "live")
        check("attach_memory_rows", heap is not None and (mm == 0 or shows(s, "mmapped", 200704)) and live is not None
              and 1000 <= live <= 2 << 20,
              "heap %r mmapped %r live %r" % (heap, mm, live), s)
        check("attach_trend", re.search(r"^ live .*[▁▂▃▄▅▆▇█]+ " + SIZE + " .. " + SIZE, s, re.M)
              and "delta/s" in s, "no sparkline/delta on the live row", s)
        check("attach_os_request_cause_malloc",
              re.search(r"^\s+\d+\.\d{3}\s+%d\s+mmap\s+196 KiB\s+0x[0-9a-f]+\s+malloc\(200000\)"
                        % tgt.pid, s, re.M)
              and re.search(r"munmap\s+196 KiB\s+0\s+free\(200000\)", s),
              "no mmap line caused by malloc(200000) / munmap by free", s)
        check("attach_threshold", re.search(r"mmap threshold\s+128 KiB\s+\(glibc, pinned", s),
              "threshold row", s)
        check("attach_counters", re.search(r"lost 0\s+missed 0\s+unattached 0", s),
              "counters row", s)
        m = re.search(r"^ malloc\s+(\d+(?:\.\d+)?)\s", s, re.M)
        rate = float(m.group(1)) if m else -1
        check("attach_malloc_rate", 10 <= rate <= 30, "malloc calls/s %r (expected ~20)" % rate, s)
        check("attach_syscall_table", re.search(r"mmap\s+\d+\s+malloc \d+", s)
              and re.search(r"munmap\s+\d+\s+free \d+", s), "syscall table by cause", s)

        # without --stacks the call-site pane says how to get one, and s goes back
        p.keys("s")
        r, s = p.wait(lambda s: "CALL SITES" in s, 5)
        check("sites_without_stacks", r and "call sites need the allocations' stacks: allocmap top --stacks" in s
              and "LATEST OS REQUESTS" not in s, "no call-site pane / no hint without --stacks", s)
        p.keys("s")
        r, s = p.wait(lambda s: "LATEST OS REQUESTS" in s and "CALL SITES" not in s, 5)
        check("sites_toggle_back", r, "s did not bring the OS requests back", s)

        # resize: narrower (the syscall table goes), too small, back
        tmux("resize-window", "-t", p.name, "-x", "80", "-y", "24")
        r, s = p.wait(lambda s: "LATEST OS REQUESTS" in s and "by cause" not in s
                      and re.search(r"malloc\(200000\)", s), 5)
        check("resize_narrow", r and max(len(l) for l in s.splitlines()) <= 80
              and re.search(r"^ live .*[▁▂▃▄▅▆▇█]", s, re.M), "80x24 frame", s)
        tmux("resize-window", "-t", p.name, "-x", "50", "-y", "12")
        r, s = p.wait(lambda s: "terminal too small" in s, 5)
        check("resize_too_small", r, "no 'terminal too small' at 50x12", s)
        tmux("resize-window", "-t", p.name, "-x", str(W), "-y", str(H))
        r, s = p.wait(lambda s: "FUNCTION" in s and "SYSCALL" in s, 5)
        check("resize_back", r, "full frame not back at 120x40", s)

        t = time.time()
        p.keys("q")
        rc, s = p.exit_code(15)
        check("quit_exit_0", rc == 0, "exit status %r after q" % rc, s)
        check("quit_target_alive", alive(tgt.pid), "target died after q")
        check("quit_summary_line", re.search(r"allocmap top: pid %d \(scenarios\) [\d.]+ s: heap "
                                             % tgt.pid, s), "no summary line", s)
        restored("quit", p, s)
        print("# q to shell prompt: %.1f s" % (time.time() - t), flush=True)
    finally:
        p.kill()
        tgt.kill()
        tgt.wait()


def test_launch_exit():
    """The launched command exits: final frame, then exit with its status."""
    out = "/tmp/allocmap-t_top-%d.out" % os.getpid()
    p = Pane("-i 500 --cmd-output %s -- %s slow_loop 25" % (out, shq(SC)))
    try:
        r, s = p.wait(lambda s: "exited with status 0" in s and "Closing in" in s, 20)
        if check("launch_final_frame", r, "no final frame", s):
            check("launch_threshold_moved",
                  re.search(r"mmap threshold\s+196 KiB\s+\(glibc dynamic: started at 128 KiB, moved once\)", s)
                  and re.search(r"threshold\s+128 KiB -> 196 KiB\s+free\(196 KiB chunk\)", s),
                  "dynamic threshold row / threshold event", s)
            check("launch_brk_cause", re.search(r"brk\s+\+196 KiB\s+0x[0-9a-f]+\s+malloc\(200000\)", s),
                  "brk growth caused by malloc(200000)", s)
            # the trend covers the samples taken so far (-i 500), not the line's width
            up = re.search(r"up (\d\d):(\d\d) ", s)
            up_s = int(up.group(1)) * 60 + int(up.group(2)) if up else None
            tr = re.search(r"trend, last (\d+(?:\.\d+)?) s", s)
            check("launch_trend_span", up and tr and 0 < float(tr.group(1)) <= up_s + 1,
                  "trend span %r against uptime %r s" % (tr and tr.group(1), up_s), s)
            seen = re.search(r"newest first, (\d+) OS requests seen", s)
        rc, s = p.exit_code(10)
        check("launch_exit_status", rc == 0, "exit status %r" % rc, s)
        # the closing line counts what the list counted: OS requests only
        closing = re.search(r"allocmap top: .* (\d+) OS requests, \d+ lost", s)
        check("launch_os_count_agrees", r and seen and closing and seen.group(1) == closing.group(1)
              and int(seen.group(1)) > 0,
              "list %r, closing line %r" % (seen and seen.group(1), closing and closing.group(1)), s)
        restored("launch", p, s)
    finally:
        p.kill()
        if os.path.exists(out):
            os.unlink(out)


def hsize(v):
    """fmt.c's am_fmt_size3 (top's sizes): "1000 B", "195 KiB", "11.4 MiB", "1.20 MiB"."""
    if v < 1024:
        return "%d B" % v
    d, i = float(v), 0
    while d >= 999.5 and i < 6:
        d /= 1024
        i += 1
    unit = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"][i]
    return ("%.0f %s" if d >= 99.95 else "%.1f %s" if d >= 9.995 else "%.2f %s") % (d, unit)


def scen_line(needle):
    with open(os.path.join(ROOT, "tests", "progs", "scenarios.c")) as f:
        lines = [i + 1 for i, l in enumerate(f) if needle in l]
    return lines[0] if len(lines) == 1 else None


def site_row(screen, line):
    """The call-site pane's row of scenarios.c:LINE: (calls, allocated,
    peak, live now, temporaries, from OS), or None."""
    m = re.search(r"^\s+(\d+)\s+(\S+ \S+)\s+(\S+ \S+)\s+(\S+ \S+)\s+(\d+)\s+(\S+ \S+)  \S+ \(scenarios\.c:%d\)\s*$"
                  % line, screen, re.M)
    return (int(m.group(1)), m.group(2), m.group(3), m.group(4), int(m.group(5)), m.group(6)) if m else None


def test_sites_pane():
    """--stacks: s shows the call sites in place of the OS requests, o
    sorts them by the next column; slow_loop 80 has two sites, the
    malloc(200000) freed each round and the malloc(1000) kept: the final
    frame shows their exact figures."""
    big, small = scen_line("char *big = malloc(200000);"), scen_line("*slot = malloc(1000);")
    if not check("sites_source_lines", big and small, "slow_loop's malloc lines not found in scenarios.c"):
        return
    out = "/tmp/allocmap-t_top-%d.sites" % os.getpid()
    p = Pane("--stacks -i 300 --cmd-output %s -- %s slow_loop 80" % (out, shq(SC)))
    try:
        r, s = p.wait(lambda s: "LATEST OS REQUESTS" in s, 20)
        if not check("sites_frame", r, "no frame with --stacks", s):
            return
        p.keys("s")
        r, s = p.wait(lambda s: site_row(s, big) and site_row(s, small), 5)
        if check("sites_pane_rows", r, "no rows for scenarios.c:%d and :%d" % (big, small), s):
            b, m = site_row(s, big), site_row(s, small)
            check("sites_pane_live_figures", b[1] == hsize(b[0] * 200000) and m[1] == hsize(m[0] * 1000)
                  and m[3] == hsize(m[0] * 1000) and b[4] == 0 and m[4] == 0,
                  "rows %r %r: bytes are not calls x size, or live/temporaries wrong" % (b, m), s)
            check("sites_pane_header", re.search(r"CALL SITES  2 sites \(2 stacks\), \d+ allocations of .*; "
                                                 r"by bytes allocated \(o: next column\)", s)
                  and "LATEST OS REQUESTS" not in s and "s OS requests   o sort by peak" in s, "pane header/status", s)
        p.keys("o")
        r, s = p.wait(lambda s: "by bytes live at the peak (o: next column)" in s and "o sort by leak" in s, 5)
        check("sites_sort_key", r, "o did not sort by the peak", s)
        for _ in range(4):
            p.keys("o")
        r, s = p.wait(lambda s: "by calls (o: next column)" in s and "o sort by alloc" in s, 5)
        check("sites_sort_cycle", r, "five more o did not reach calls", s)
        r, s = p.wait(lambda s: "exited with status 0" in s and site_row(s, big) and site_row(s, small), 25)
        if check("sites_final_frame", r, "no final frame with the call sites", s):
            check("sites_final_figures", site_row(s, big)[:5] == (80, hsize(80 * 200000), site_row(s, big)[2], "0 B", 0)
                  and site_row(s, small)[:5] == (80, hsize(80 * 1000), hsize(80 * 1000), hsize(80 * 1000), 0),
                  "final rows %r %r" % (site_row(s, big), site_row(s, small)), s)
            check("sites_final_total", re.search(r"^\s+160\s+%s\s+\S+ \S+\s+%s\s+0\s+\S+ \S+  total\s*$"
                                                 % (re.escape(hsize(80 * 201000)), re.escape(hsize(80 * 1000))), s, re.M),
                  "total row", s)
        rc, s = p.exit_code(10)
        check("sites_exit_status", rc == 0, "exit status %r" % rc, s)
    finally:
        p.kill()
        if os.path.exists(out):
            os.unlink(out)


def test_cmd_output():
    """The command's stderr goes to --cmd-output, not over the screen."""
    out = "/tmp/allocmap-t_top-%d.churn" % os.getpid()
    p = Pane("--cmd-output %s -- %s churn 2000" % (out, shq(SC)))
    try:
        rc, s = p.exit_code(20)
        try:
            with open(out) as f:
                text = f.read()
        except OSError:
            text = ""
        check("cmd_output_file", rc == 0 and "churn: 2000 pairs" in text and "churn:" not in s,
              "rc %r, file %r" % (rc, text), s)
    finally:
        p.kill()
        if os.path.exists(out):
            os.unlink(out)


def test_sigterm():
    tgt = start_loop()
    p = Pane("-p %d" % tgt.pid)
    try:
        r, s = p.wait(lambda s: "LATEST OS REQUESTS" in s, 20)
        pid = p.allocmap_pid()
        if not check("sigterm_frame", r and pid, "no frame / allocmap pid", s):
            return
        os.kill(pid, signal.SIGTERM)
        rc, s = p.exit_code(15)
        check("sigterm_exit", rc == 0, "exit status %r after SIGTERM" % rc, s)
        check("sigterm_target_alive", alive(tgt.pid), "target died")
        restored("sigterm", p, s)
    finally:
        p.kill()
        tgt.kill()
        tgt.wait()


def test_error():
    """An attach error is readable on the restored terminal."""
    # a free pid the kernel could give (above pid_max -p is a usage error)
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    p = Pane("-p %d" % pid)
    try:
        rc, s = p.exit_code(15)
        check("error_message", rc == 1 and re.search(r"allocmap: cannot attach to pid %d" % pid, s),
              "rc %r" % rc, s)
        restored("error", p, s)
    finally:
        p.kill()


def main():
    os.chdir(ROOT)
    for f in (TOOL, SC):
        if not os.access(f, os.X_OK):
            fail("build", "%s missing (run make)" % f)
            finish()
    test_cli()
    why = None
    if os.geteuid() != 0:
        why = "not root"
    elif not shutil.which("tmux"):
        why = "tmux not installed"
    if why:
        if CI:
            fail("tmux_tests", "skipped under CI=true: " + why)
        else:
            print("SKIP top tmux tests: %s  <<<<<<<<<<<<<<<< NOT TESTED" % why, flush=True)
        finish()
    t0 = time.time()
    test_attach()
    test_launch_exit()
    test_sites_pane()
    test_cmd_output()
    test_sigterm()
    test_error()
    print("# tmux tests took %.1f s" % (time.time() - t0), flush=True)
    finish()


if __name__ == "__main__":
    main()
