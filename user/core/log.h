// SPDX-License-Identifier: GPL-2.0
/* log.h - one message style for every user-facing error and note:
 * "allocmap: cannot attach to pid 42: no such process". */
#ifndef ALLOCMAP_LOG_H
#define ALLOCMAP_LOG_H

#include <stdio.h>

/* Where this thread's messages go: stderr unless set (`allocmap serve`
 * gives each target's thread its own, so that an attach error reaches the
 * client that asked and the rest the daemon's log). */
extern __thread FILE *am_log_fp;

static inline FILE *am_log_stream(void)
{
	return am_log_fp ? am_log_fp : stderr;
}

#define am_err(fmt, ...)  fprintf(am_log_stream(), "allocmap: " fmt "\n", ##__VA_ARGS__)
#define am_warn(fmt, ...) fprintf(am_log_stream(), "allocmap: warning: " fmt "\n", ##__VA_ARGS__)
#define am_info(fmt, ...) fprintf(am_log_stream(), "allocmap: " fmt "\n", ##__VA_ARGS__)

#endif /* ALLOCMAP_LOG_H */
