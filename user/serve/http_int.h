// SPDX-License-Identifier: GPL-2.0
/* http_int.h - what http.c (the server, options, who is asking) and
 * http_routes.c (the endpoints) share; not for other files. */
#ifndef ALLOCMAP_HTTP_INT_H
#define ALLOCMAP_HTTP_INT_H

#include <microhttpd.h>
#include "http.h"

struct am_http {
	struct MHD_Daemon *d;
	struct am_srv *srv;
	struct am_http_opts o;
	uint16_t port;
	bool loopback;                 /* listening on a loopback address */
	volatile bool starting;        /* in am_http_start: libmicrohttpd's complaint goes in why */
	char why[160];
};

/* A finished response: status, type, body (malloc'ed, owned by the
 * response once queued) and the page's Content-Security-Policy (NULL:
 * none needed, not HTML). */
struct am_http_resp {
	unsigned status;
	const char *ctype;
	char *body;
	size_t len;
	const char *csp;
	const char *disposition;       /* Content-Disposition, or NULL */
};

/* Fills r for the GET of path (query args read from c) by viewer v. */
void am_http_route(struct am_http *h, struct MHD_Connection *c, const char *path,
		   const struct am_srv_viewer *v, struct am_http_resp *r);
/* r as a text/plain message (printf-style). */
void am_http_text(struct am_http_resp *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* ALLOCMAP_HTTP_INT_H */
