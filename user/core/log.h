// SPDX-License-Identifier: GPL-2.0
/* log.h - one message style for every user-facing error and note:
 * "allocmap: cannot attach to pid 42: no such process". */
#ifndef ALLOCMAP_LOG_H
#define ALLOCMAP_LOG_H

#include <stdio.h>

#define am_err(fmt, ...)  fprintf(stderr, "allocmap: " fmt "\n", ##__VA_ARGS__)
#define am_warn(fmt, ...) fprintf(stderr, "allocmap: warning: " fmt "\n", ##__VA_ARGS__)
#define am_info(fmt, ...) fprintf(stderr, "allocmap: " fmt "\n", ##__VA_ARGS__)

#endif /* ALLOCMAP_LOG_H */
