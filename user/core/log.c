// SPDX-License-Identifier: GPL-2.0
/* log.c - the per-thread destination of allocmap's messages (log.h). */
#include "log.h"

__thread FILE *am_log_fp;
