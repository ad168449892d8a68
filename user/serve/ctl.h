// SPDX-License-Identifier: GPL-2.0
/* ctl.h - `allocmap serve`'s entry point (ctl.c): its options and the
 * main loop that owns the control socket. */
#ifndef ALLOCMAP_CTL_H
#define ALLOCMAP_CTL_H

#include <stdbool.h>
#include "http.h"

#define AM_SERVE_SOCKET "/run/allocmap/allocmap.sock"
#define AM_SERVE_CONFIG "/etc/allocmap/serve.conf"
#define AM_SERVE_EX_CONFIG 78 /* EX_CONFIG: the config file is wrong */
#define AM_VERSION_STR "0.1.0"

struct am_serve_opts {
	const char *socket;       /* --socket PATH */
	bool default_socket;      /* the default: its directory is made (0750 root:group) */
	const char *group;        /* --group NAME: the socket's group (default "allocmap" if it exists) */
	const char *config;       /* --config PATH, or the default one when present, or NULL */
	bool foreground;          /* --foreground (serve never forks: see docs) */
	struct am_http_opts http; /* --http, --http-allow, --http-access (http.h) */
};

/* Runs until SIGTERM/SIGINT: 0, or 1 after one line on stderr (78 for a
 * bad config file). */
int am_serve_run(const struct am_serve_opts *o);

#endif /* ALLOCMAP_CTL_H */
