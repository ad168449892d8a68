#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""gen_corr_seeds.py - writes the seed corpus of fuzz_corr (tests/fuzz/
corpus/corr/): short ring-buffer record streams in the harness's input
format (an options byte, then opcode + struct bytes, bpf/allocmap.h
layouts): a malloc that mmaps then its free's munmap, a brk heap growth, a
fork/exec/exit, and OS requests with stacks. Run it again after a change of
the event structs."""
import os
import struct
import sys

CALL = struct.Struct("<BBBBIIIQQQ3QQQQ")      # struct am_call_event, 88 bytes
OS = struct.Struct("<BBBBIIIQQQQ6Qq")          # struct am_os_event, 104 bytes
TASK = struct.Struct("<BBHIIIIiQ")             # struct am_task_event, 32 bytes
assert (CALL.size, OS.size, TASK.size) == (88, 104, 32)

MALLOC, FREE = 0, 4   # enum am_fn
BRK, MMAP, MUNMAP = 0, 1, 2  # enum am_sys
PID = 100


def call(fn, cid, size, ret, n_os=0, ptr=0, t=1000):
    args = (ptr, 0, 0) if fn == FREE else (size, 0, 0)
    return bytes([0]) + CALL.pack(1, fn, 0, 0, n_os, PID, PID, cid, t, t + 50, *args, ret, ret, 0x555555555123)


def os_(sid, sys_, args, ret, call_id=0, cause_fn=0, t=1010):
    a = list(args) + [0] * (6 - len(args))
    return bytes([1]) + OS.pack(2, sys_, cause_fn, 0, 0, PID, PID, sid, call_id, t, t + 5, *a, ret)


def task(kind, child=0, code=0, t=2000):
    return bytes([2]) + TASK.pack(3, kind, 0, 0, PID, PID, child, code, t)


def stack(kind, sid, first, n):
    return bytes([3, kind, PID - 100, first, n]) + struct.pack("<H", sid)


seeds = {
    "mmap_malloc_free": bytes([0x01]) + os_(1, MMAP, (0, 200704, 3, 0x22, 2**64 - 1, 0), 0x7f0000100000, 1)
    + call(MALLOC, 1, 200000, 0x7f0000100010, 1)
    + os_(2, MUNMAP, (0x7f0000100000, 200704), 0, 2, FREE)
    + call(FREE, 2, 0, 0, 1, ptr=0x7f0000100010),
    "brk_heap": bytes([0x41]) + os_(1, BRK, (0,), 0x555555559000, 1)
    + os_(2, BRK, (0x55555557a000,), 0x55555557a000, 1)
    + call(MALLOC, 1, 24, 0x5555555592a0, 2) + call(FREE, 2, 0, 0, 0, ptr=0x5555555592a0),
    "fork_exec_exit": bytes([0x23]) + task(1, child=101) + task(4) + task(2, code=1)
    + os_(3, MMAP, (0, 4096, 3, 0x22, 2**64 - 1, 0), 0x7f0000200000) + task(3, code=0),
    "stacks": bytes([0x89]) + stack(2, 1, 1, 4) + os_(1, MMAP, (0, 200704, 3, 0x22, 2**64 - 1, 0),
                                                     0x7f0000100000, 1)
    + stack(1, 1, 0, 3) + call(MALLOC, 1, 200000, 0x7f0000100010, 1),
}

out = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "corpus", "corr")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
