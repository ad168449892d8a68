// SPDX-License-Identifier: GPL-2.0
/* umulti.c - uprobe_multi links made with the bpf syscall (umulti.h). */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "umulti.h"

#define BPF_F_UPROBE_MULTI_RETURN_ 1U

/* union bpf_attr's link_create with its uprobe_multi member (uapi 6.6),
 * which Debian 12's headers do not have. */
struct umulti_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;           /* link_create.flags: must be 0 */
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t uflags;          /* BPF_F_UPROBE_MULTI_RETURN */
	uint32_t pid;
	uint32_t pad;
};

_Static_assert(offsetof(struct umulti_attr, path) == 16, "link_create union starts at 16");
_Static_assert(offsetof(struct umulti_attr, pid) == 56, "uprobe_multi.pid at 56");

int am_umulti_attach(int prog_fd, const char *path, pid_t pid, const uint64_t *off,
		     const uint64_t *cookies, size_t n, bool retprobe)
{
	struct umulti_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = AM_BPF_TRACE_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)off;
	a.cookies = (uint64_t)(uintptr_t)cookies;
	a.cnt = (uint32_t)n;
	a.uflags = retprobe ? BPF_F_UPROBE_MULTI_RETURN_ : 0;
	a.pid = (uint32_t)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd; /* bpf(2) links are close-on-exec */
}

bool am_umulti_supported(void)
{
	static int known = -1;
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = AM_BPF_TRACE_UPROBE_MULTI);
	uint64_t off = 0;
	int prog, fd;

	if (known >= 0)
		return known;
	known = 0;
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "am_umulti", "GPL", insns, 2, &po);
	if (prog < 0)
		return false;
	fd = am_umulti_attach(prog, "/", 0, &off, NULL, 1, false);
	if (fd >= 0)
		close(fd);
	known = fd == -EBADF; /* "/" is no regular file: the link type exists */
	close(prog);
	return known;
}
