#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""t_options.py - the command line of every subcommand (issue 8): one way to
parse them (user/cmd/opts.c), one usage exit status.

  help            -h, --help, --usage and -V of trace, top, compare, demo,
                  report and diff (and of allocmap itself): stdout, exit 0, nothing on
                  stderr
  unknown_option  --no-such-option and -Z in every subcommand: exit 64, one
                  line "allocmap: SUB: ..." naming the option, nothing on stdout
  missing_argument  every option that takes a value, given last without one:
                  exit 64, one line
  numeric_edges   every numeric option at min - 1, min, max, max + 1, an
                  overflowing value and garbage ("", 1e3, 0x10, 12abc, -1, +1,
                  " 1", nan): the bad ones exit 64 with one line naming the
                  option and the value; the good ones are accepted (the value
                  is followed by -h, which exits 0 once the value passed)
  bad_words       --stacks, --unwind, --mode, --sort, --pprof with --mode os,
                  --only, --alloc, demo topics:
                  exit 64, one line
  targets         no target, both kinds, --cmd-output without a command, no
                  command for compare, report without input or output, an
                  unknown allocator, a missing command or sweep program, no
                  command and an unknown command for allocmap: exit 64, one line
  ringbuf_max     (root) --ringbuf-mb 1024, the largest accepted, loads and
                  traces (4096 used to pass the check and wrap to 0)

Most tests need no root; ringbuf_max is skipped without it. Run from the
repository root after `make`; ends with `options: N passed, N failed`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOOL, Skip, check, eq, needs, run, run_tests  # noqa: E402

USAGE = 64

# how each subcommand is invoked up to its options (demo needs its topic)
SUBS = {
    "trace": ["trace"],
    "top": ["top"],
    "compare": ["compare"],
    "demo": ["demo", "threshold"],
    "report": ["report"],
    "diff": ["diff"],
}


def am(args, timeout=30):
    return run([TOOL] + args, timeout=timeout)


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


def usage_error(args, sub, *words):
    """args must fail as a usage error: exit 64, nothing on stdout, exactly
    one stderr line "allocmap: SUB: ..." holding every one of words.
    Returns a complaint, or None."""
    r = am(args)
    err = lines(r.stderr)
    prefix = "allocmap: %s: " % sub if sub else "allocmap: "
    if r.returncode != USAGE:
        return "%r: exit %d, want %d (stderr %r)" % (args, r.returncode, USAGE, r.stderr[:200])
    if len(err) != 1 or not err[0].startswith(prefix):
        return "%r: want one line starting %r, got %r" % (args, prefix, r.stderr[:300])
    if r.stdout:
        return "%r: stdout %r" % (args, r.stdout[:100])
    missing = [w for w in words if w not in err[0]]
    if missing:
        return "%r: %r does not say %r" % (args, err[0], missing)
    return None


def accepted(args):
    """args (ending in -h) must get past every check before -h: exit 0, the
    help on stdout, nothing on stderr. Returns a complaint, or None."""
    r = am(args)
    if r.returncode != 0 or not r.stdout.startswith("Usage: allocmap ") or r.stderr:
        return "%r: exit %d, stderr %r" % (args, r.returncode, r.stderr[:200])
    return None


def expect(bad):
    bad = [b for b in bad if b]
    check(not bad, "%d wrong: %s" % (len(bad), "; ".join(bad[:8])))


def test_help():
    bad = []
    for sub, pre in SUBS.items():
        for h in ("-h", "--help"):
            r = am(pre + [h])
            if r.returncode != 0 or r.stderr or not r.stdout.startswith("Usage: allocmap %s " % sub) \
                    or "-h, --help" not in r.stdout:
                bad.append("%s %s: exit %d, stdout %r, stderr %r"
                           % (sub, h, r.returncode, r.stdout[:80], r.stderr[:120]))
        r = am(pre + ["--usage"])
        if r.returncode != 0 or r.stderr or not r.stdout.startswith("Usage: allocmap %s [" % sub):
            bad.append("%s --usage: exit %d, stdout %r" % (sub, r.returncode, r.stdout[:80]))
        r = am(pre + ["-V"])
        if r.returncode != 0 or not r.stdout.startswith("allocmap ") or len(lines(r.stdout)) != 1:
            bad.append("%s -V: exit %d, stdout %r" % (sub, r.returncode, r.stdout[:80]))
    for h in ("-h", "--help", "help"):
        r = am([h])
        if r.returncode != 0 or r.stderr or not r.stdout.startswith("Usage: allocmap COMMAND"):
            bad.append("allocmap %s: exit %d" % (h, r.returncode))
    expect(bad)


def test_unknown_option():
    bad = []
    for sub, pre in SUBS.items():
        bad.append(usage_error(pre + ["--no-such-option"], sub, "unrecognized option",
                               "--no-such-option"))
        bad.append(usage_error(pre + ["-Z"], sub, "invalid option", "Z"))
        # a value given to an option that takes none
        bad.append(usage_error(pre + ["--help=x"], sub, "--help"))
    expect(bad)


def test_missing_argument():
    opts = {
        "trace": ["-p", "-d", "-o", "--ringbuf-mb", "--html", "--perfetto", "--alloc", "--sample",
                  "--unwind", "--stack-size", "--folded", "--folded-alloc", "--mode", "--top", "--sort",
                  "--pprof"],
        "top": ["-p", "-d", "-i", "--cmd-output"],
        "compare": ["-a", "--html"],
        "demo": ["--pause", "--only", "--program", "--html"],
        "report": ["-o", "-P", "--pprof"],
        "diff": ["-o", "--html", "--top", "--sort", "--match"],
    }
    bad = []
    for sub, names in opts.items():
        for o in names:
            bad.append(usage_error(SUBS[sub] + [o], sub, "requires an argument", o.lstrip("-")))
    expect(bad)


def pid_max():
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read())


GARBAGE = ["", "1e3", "0x10", "12abc", "-1", "+1", " 1", "1 ", "nan", "99999999999999999999"]


def numeric():
    """(subcommand, option, good values, bad values), the edges first."""
    pm = pid_max()
    return [
        ("trace", "-p", ["1", str(pm - 1)], ["0", str(pm), "2147483648", "4294967297"]),
        ("top", "-p", ["1", str(pm - 1)], ["0", str(pm)]),
        ("trace", "-d", ["0.000000001", "1000000000", "0.5", ".5", "1000000000.0"],
         ["0", "0.0000000009", "1000000001", "1000000000.000001", "1e9", "inf", "-0"]),
        ("top", "-d", ["0.000000001", "1000000000"], ["0", "1000000001"]),
        ("trace", "--ringbuf-mb", ["1", "1024", "32"],
         ["0", "2048", "4096", "3", "1023", "18446744073709551616"]),
        ("trace", "--sample", ["1", "4294967295"], ["0", "4294967296"]),
        ("trace", "--stack-size", ["4096", "16384", "8192"], ["4095", "16385", "4097", "20480", "0"]),
        ("trace", "--top", ["0", "1000000"], ["1000001"]),
        ("diff", "--top", ["0", "1000000"], ["1000001"]),
        ("top", "-i", ["100", "60000"], ["99", "60001", "0"]),
        ("demo", "--pause", ["0", "60000"], ["60001", "18446744073709551616"]),
    ]


def test_numeric_edges():
    bad = []
    n = 0
    for sub, opt, good, worse in numeric():
        for v in good:
            bad.append(accepted(SUBS[sub] + [opt, v, "-h"]))
            n += 1
        for v in worse + GARBAGE:
            # a valid target after the value: only the value can be wrong
            tail = ["--", "true"] if sub in ("trace", "top") and opt != "-p" else []
            bad.append(usage_error(SUBS[sub] + [opt, v] + tail, sub, "invalid", opt, "'%s'" % v))
            n += 1
    print("  %d values checked" % n)
    expect(bad)


def test_bad_words():
    bad = [
        usage_error(["trace", "--stacks=some", "--", "true"], "trace", "--stacks", "some"),
        usage_error(["trace", "--unwind", "lbr", "--", "true"], "trace", "--unwind", "lbr"),
        usage_error(["trace", "--mode", "calls", "--", "true"], "trace", "--mode", "calls"),
        usage_error(["trace", "--alloc", "nosuchrole", "--", "true"], "trace", "nosuchrole"),
        usage_error(["trace", "--sample", "2", "--", "true"], "trace", "--sample needs --stacks"),
        usage_error(["trace", "--sort", "size", "--", "true"], "trace", "--sort", "size"),
        usage_error(["trace", "--pprof", "p.pb.gz", "--mode", "os", "--", "true"], "trace", "--pprof"),
        usage_error(["demo", "threshold", "--only", "bogus"], "demo", "--only", "bogus"),
        usage_error(["demo", "nosuch"], "demo", "nosuch"),
        usage_error(["diff", "a", "b", "--match", "line"], "diff", "--match", "line"),
        usage_error(["diff", "a", "b", "--sort", "size"], "diff", "--sort", "size"),
        usage_error(["demo", "threshold", "threshold"], "demo", "threshold"),
    ]
    expect(bad)


def test_targets():
    bad = [
        usage_error(["trace"], "trace", "nothing to trace"),
        usage_error(["trace", "-q"], "trace", "nothing to trace"),
        usage_error(["trace", "-p", "1", "--", "true"], "trace", "not both"),
        usage_error(["top"], "top", "nothing to trace"),
        usage_error(["top", "-p", "1", "--", "true"], "top", "not both"),
        usage_error(["top", "--cmd-output", "/dev/null", "-p", "1"], "top", "--cmd-output"),
        usage_error(["compare"], "compare", "no command"),
        usage_error(["compare", "--", "/nonexistent/prog"], "compare", "/nonexistent/prog"),
        usage_error(["compare", "-a", "glibc,nosuch", "--", "true"], "compare", "nosuch"),
        usage_error(["compare", "-a", "glibc,glibc", "--", "true"], "compare", "twice"),
        usage_error(["compare", "-a", "=x", "--", "true"], "compare", "NAME=PATH"),
        usage_error(["demo"], "demo", "which demo"),
        usage_error(["demo", "threshold", "--program", "/nonexistent/sweep"], "demo",
                    "/nonexistent/sweep"),
        usage_error(["report"], "report", "missing EVENTS.jsonl"),
        usage_error(["report", "t.jsonl"], "report", "nothing to write"),
        usage_error(["diff"], "diff", "two traces"),
        usage_error(["diff", "a.jsonl"], "diff", "two traces"),
        usage_error(["diff", "a.jsonl", "b.jsonl", "c.jsonl"], "diff", "c.jsonl"),
        usage_error(["report", "a.jsonl", "b.jsonl", "-o", "x.html"], "report", "b.jsonl"),
        usage_error([], None, "no command"),
        usage_error(["nosuch"], None, "unknown command", "nosuch"),
        usage_error(["-x"], None, "unknown command", "-x"),
    ]
    expect(bad)


def test_ringbuf_max():
    if os.geteuid() != 0:
        raise Skip("needs root (loads the BPF programs)")
    r = am(["trace", "-q", "--ringbuf-mb", "1024", "--", "/bin/true"], timeout=120)
    eq(r.returncode, 0, "exit of trace --ringbuf-mb 1024 (stderr %r)" % r.stderr[-300:])
    check("lost events: 0" in r.stderr, "no summary (a launched command's trace is on stderr): %r" % r.stderr[-300:])


if __name__ == "__main__":
    sys.exit(run_tests("options", [
        ("help", test_help),
        ("unknown_option", test_unknown_option),
        ("missing_argument", test_missing_argument),
        ("numeric_edges", test_numeric_edges),
        ("bad_words", test_bad_words),
        ("targets", test_targets),
        ("ringbuf_max", test_ringbuf_max),
    ], only=sys.argv[1:], before=needs(TOOL, root=False)))
