// SPDX-License-Identifier: GPL-2.0
/* umulti.h - uprobe_multi links (Linux 6.6 and later): every probe of one
 * object in one process as a single BPF link. The kernel serializes uprobe
 * unregistration and waits for an RCU grace period at each one (~50 ms
 * here): a glibc target's 18 probes cost a second at exit and stall the
 * next run's attach; in one link they cost one wait. libbpf 1.1 (Debian 12)
 * predates these links, so they are made with the bpf syscall directly.
 * Debian 12's own kernel (6.1) has none: the tracer then attaches one
 * perf-event uprobe per function, as before. */
#ifndef ALLOCMAP_UMULTI_H
#define ALLOCMAP_UMULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* enum bpf_attach_type's BPF_TRACE_UPROBE_MULTI (uapi/linux/bpf.h, 6.6):
 * a program must be loaded with it to be attached this way, and is then
 * attachable no other way. */
#define AM_BPF_TRACE_UPROBE_MULTI 48

/* Does the running kernel make uprobe_multi links? Asked once (a trivial
 * program loaded and a link tried on "/", which such a kernel refuses with
 * EBADF and an older one with EINVAL); the answer is cached. */
bool am_umulti_supported(void);

/* One link of n uprobes (retprobe: return probes) of prog_fd, at the file
 * offsets off[] of path, in process pid only, each with its BPF cookie.
 * Returns the link's fd (close-on-exec), or -errno. */
int am_umulti_attach(int prog_fd, const char *path, pid_t pid, const uint64_t *off,
		     const uint64_t *cookies, size_t n, bool retprobe);

#endif /* ALLOCMAP_UMULTI_H */
