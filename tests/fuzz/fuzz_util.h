// SPDX-License-Identifier: GPL-2.0
/* fuzz_util.h - what the libFuzzer harnesses of tests/fuzz/ share: the
 * input put in an anonymous memory file, so that code reading by path
 * (the JSONL reader, the ELF reader) reads exactly the fuzzer's bytes. */
#ifndef ALLOCMAP_FUZZ_UTIL_H
#define ALLOCMAP_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a fresh memfd and its /proc/self/fd path to path.
 * Returns the fd (the caller closes it), or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		abort(); /* the harness is broken, not the code under test */
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

#endif /* ALLOCMAP_FUZZ_UTIL_H */
