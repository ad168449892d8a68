// SPDX-License-Identifier: GPL-2.0
/* fuzz_corr.c - libFuzzer harness of the correlator's event decoder
 * (user/core/correlate.c: am_corr__event, am_corr__stack, am_corr__finish) fed
 * random ring-buffer records, rendered by the JSON or text renderer
 * (user/render/output.c) to /dev/null. Input: one options byte, then records,
 * each an opcode byte (low 2 bits: call, os, task, stack; bit 2: the record
 * is cut short) followed by the record's bytes. Pids, tids and ids are
 * folded into small ranges so that records meet each other (a free finds
 * its malloc, an OS request its call). Seeds: tests/fuzz/corpus/corr/. */
#include <string.h>
#include "correlate.h"
#include "fuzz_util.h"
#include "output.h"

static const struct am_frame frames[] = {
	{ .addr = 0x7f0000001000, .off = 16, .sym = "malloc", .obj = "libc.so.6", .file = NULL, .line = 0 },
	{ .addr = 0x7f0000002000, .off = 32, .sym = "_int_malloc", .obj = "libc.so.6", .file = "malloc.c", .line = 4100 },
	{ .addr = 0x555555555100, .off = 5, .sym = "main", .obj = "prog", .file = "prog.c", .line = 12 },
	{ .addr = 0x555555555200, .off = 0x1200, .sym = NULL, .obj = "prog", .file = NULL, .line = 0 },
	{ .addr = 0x7f0000003000, .off = 8, .sym = "operator new(unsigned long)", .obj = "libstdc++.so.6", .file = NULL, .line = 0 },
	{ .addr = 0x7f0000004000, .off = 1, .sym = "free", .obj = "libc.so.6", .file = NULL, .line = 0 },
	{ .addr = 0x7f0000005000, .off = 2, .sym = "mmap64", .obj = "libc.so.6", .file = NULL, .line = 0 },
	{ .addr = 0x7f0000006000, .off = 3, .sym = "__libc_start_main", .obj = "libc.so.6", .file = NULL, .line = 0 },
};

struct in {
	const uint8_t *p;
	size_t left;
};

/* Up to n bytes of input into buf, zero-padding what is missing. */
static size_t take(struct in *in, void *buf, size_t n)
{
	size_t k = in->left < n ? in->left : n;

	memset(buf, 0, n);
	memcpy(buf, in->p, k);
	in->p += k;
	in->left -= k;
	return k;
}

static uint8_t byte(struct in *in)
{
	uint8_t b = 0;

	take(in, &b, 1);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct in in = { data, size };
	struct am_corr_opts co = { 0 };
	struct am_out_opts oo = { 0 };
	struct am_counters cnt = { 0 };
	struct am_summary sum;
	struct am_corr *c;
	struct am_out *out;
	uint8_t opt;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (size > (1 << 16))
		return 0;
	opt = byte(&in);
	oo.f = devnull;
	oo.json = opt & 0x40;
	oo.verbosity = (opt & 0x80) ? 1 : 0;
	oo.multi_pid = opt & 0x20;
	out = am_out__new(&oo);
	if (!out)
		return 0;
	am_out__sink(out, &co.sink);
	co.glibc = opt & 1;
	co.attached = co.threshold_attach = opt & 2;
	co.stack_mode = (opt >> 2) % 3;
	co.os_only = opt & 0x10;
	co.sample_every = 1 + (opt >> 5);
	c = am_corr__new(&co);
	if (!c) {
		am_out__free(out);
		return 0;
	}
	while (in.left) {
		uint8_t op = byte(&in);
		bool cut = op & 4;

		switch (op & 3) {
		case 0: {
			struct am_call_event e;
			size_t n = take(&in, &e, sizeof(e));

			e.type = AM_EV_CALL;
			e.pid = 100 + e.pid % 3;
			e.tid = e.pid + e.tid % 3;
			e.id %= 512;
			e.args[0] %= 1 << 22; /* sizes: mostly plausible, pointers collide */
			e.ret %= 1 << 16;
			am_corr__event(c, &e, cut ? n % sizeof(e) : sizeof(e));
			break;
		}
		case 1: {
			struct am_os_event e;
			size_t n = take(&in, &e, sizeof(e));

			e.type = AM_EV_OS;
			e.pid = 100 + e.pid % 3;
			e.tid = e.pid + e.tid % 3;
			e.id %= 512;
			e.call_id %= 512;
			am_corr__event(c, &e, cut ? n % sizeof(e) : sizeof(e));
			break;
		}
		case 2: {
			struct am_task_event e;
			size_t n = take(&in, &e, sizeof(e));

			e.type = AM_EV_TASK;
			e.pid = 100 + e.pid % 3;
			e.child = 100 + e.child % 4;
			am_corr__event(c, &e, cut ? n % sizeof(e) : sizeof(e));
			break;
		}
		case 3: {
			uint8_t b[4];
			uint64_t id = 0;

			take(&in, b, sizeof(b));
			take(&in, &id, 2);
			am_corr__stack(c, b[0] & 3, id % 512, 100 + b[1] % 3, &frames[b[2] % 8],
				       (size_t)(b[3] % 9) <= 8 - b[2] % 8 ? (size_t)(b[3] % 9) : 8 - b[2] % 8,
				       b[3] >> 4, (int)(b[0] >> 2) - 4);
			break;
		}
		}
	}
	am_corr__finish(c, &cnt, 0, 1000000, &sum);
	am_corr__free(c);
	am_out__free(out);
	return 0;
}
