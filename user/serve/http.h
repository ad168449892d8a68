// SPDX-License-Identifier: GPL-2.0
/* http.h - `allocmap serve`'s HTTP side: /metrics (Prometheus),
 * /debug/pprof/{heap,allocs}?pid=N (gzipped pprof), /targets.json,
 * /sd.json (Prometheus HTTP service discovery), and a live page per
 * target (/live?pid=N). libmicrohttpd with its own polling threads; it
 * reads the daemon only through srv.h. Who may see what: a loopback peer's
 * uid is the owner of its socket (sock_diag); root, and the users and
 * groups named with --http-allow, see everything; any other uid sees its
 * own targets only (am_srv_visible); a peer whose uid cannot be found gets
 * 403. A non-loopback address needs --http-access=open: then everyone who
 * can connect sees everything. */
#ifndef ALLOCMAP_HTTP_H
#define ALLOCMAP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "srv.h"

#define AM_HTTP_DEFAULT_ADDR "127.0.0.1"
#define AM_HTTP_DEFAULT_PORT 6061       /* not in /etc/services (Debian 12) */
#define AM_HTTP_MAX_ALLOW    32
#define AM_HTTP_CONN_LIMIT   64         /* connections at once */
#define AM_HTTP_THREADS      2          /* a slow report or profile does not hold up /metrics */
#define AM_HTTP_TIMEOUT_S    10         /* idle seconds before a connection is closed */
#define AM_HTTP_REQ_MEM      (32 * 1024) /* per connection: request line and headers */

struct am_http_opts {
	bool     off;                      /* --http off */
	bool     given;                    /* --http was given (else the default: serve runs on
	                                      without HTTP when its port is taken) */
	char     addr[64];                 /* numeric IPv4 or IPv6 address */
	uint16_t port;                     /* 0: any free port (tests) */
	bool     open;                     /* --http-access=open */
	uid_t    allow_uid[AM_HTTP_MAX_ALLOW];
	size_t   n_allow_uid;
	gid_t    allow_gid[AM_HTTP_MAX_ALLOW];
	size_t   n_allow_gid;
};

/* The defaults: 127.0.0.1:6061, loopback access rules. */
void am_http_opts_init(struct am_http_opts *o);
/* --http ADDR:PORT, [V6]:PORT or off. 0, or -1 with a reason in err. */
int am_http_parse_listen(struct am_http_opts *o, const char *arg, char *err, size_t errlen);
/* --http-allow USER or @GROUP (names or numbers). 0, or -1. */
int am_http_parse_allow(struct am_http_opts *o, const char *arg, char *err, size_t errlen);
/* --http-access loopback|open. 0, or -1. */
int am_http_parse_access(struct am_http_opts *o, const char *arg, char *err, size_t errlen);

/* Whether addr (numeric IPv4 or IPv6) is a loopback address. */
bool am_http_addr_loopback(const char *addr);

struct am_http;
/* Starts serving s (which must outlive the server). NULL with a one-line
 * reason in err: refused (a non-loopback address without open), the
 * address in use, ... With o->off: NULL and err "". */
struct am_http *am_http_start(struct am_srv *s, const struct am_http_opts *o, char *err, size_t errlen);
/* The port it listens on (the one chosen when o->port was 0). */
uint16_t am_http_port(const struct am_http *h);
/* Stops the server (waits for requests in progress); NULL is fine. */
void am_http_stop(struct am_http *h);

#endif /* ALLOCMAP_HTTP_H */
