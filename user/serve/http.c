// SPDX-License-Identifier: GPL-2.0
/* http.c - `allocmap serve`'s HTTP server (http.h): its options, the
 * libmicrohttpd daemon and its bounds, and who is asking. The endpoints
 * are in http_routes.c.
 *
 * Who is asking, over loopback: the peer's socket is a socket of this
 * machine, so the kernel knows its owner. sock_diag (NETLINK_SOCK_DIAG)
 * looks it up by its exact 4-tuple (an inet_diag_req_v2 without
 * NLM_F_DUMP: one socket or ENOENT) and answers with its uid. Nothing the
 * client sends (headers, query) is ever taken as an identity. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "http_int.h"
#include "numarg.h"

void am_http_opts_init(struct am_http_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->addr, sizeof(o->addr), "%s", AM_HTTP_DEFAULT_ADDR);
	o->port = AM_HTTP_DEFAULT_PORT;
}

/* A port number 0..65535, all digits. */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -1;
	v = strtoul(s, &end, 10);
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int am_http_parse_listen(struct am_http_opts *o, const char *arg, char *err, size_t errlen)
{
	char host[64];
	const char *colon;
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	o->given = true;
	if (!strcmp(arg, "off")) {
		o->off = true;
		return 0;
	}
	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		n = (size_t)(rb - arg - 1);
		colon = rb + 1;
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, arg + 1, n);
		host[n] = 0;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || (size_t)(colon - arg) >= sizeof(host))
			goto bad;
		n = (size_t)(colon - arg);
		memcpy(host, arg, n);
		host[n] = 0;
		if (inet_pton(AF_INET, host, &a4) != 1)
			goto bad;
	}
	if (parse_port(colon + 1, &o->port) < 0)
		goto bad;
	snprintf(o->addr, sizeof(o->addr), "%s", host);
	o->off = false;
	return 0;
bad:
	snprintf(err, errlen, "expected ADDR:PORT with a numeric address (127.0.0.1:%d, [::1]:%d) or off",
		 AM_HTTP_DEFAULT_PORT, AM_HTTP_DEFAULT_PORT);
	return -1;
}

/* A name, or a decimal id; getpw/getgr with their _r forms. */
static int lookup_id(const char *name, bool group, unsigned *id)
{
	char buf[16384];
	uint64_t v;

	if (am_parse_uint(name, 0, 0xfffffffeu, &v) == 0) {
		*id = (unsigned)v;
		return 0;
	}
	if (group) {
		struct group g, *gp = NULL;

		if (getgrnam_r(name, &g, buf, sizeof(buf), &gp) || !gp)
			return -1;
		*id = gp->gr_gid;
	} else {
		struct passwd p, *pp = NULL;

		if (getpwnam_r(name, &p, buf, sizeof(buf), &pp) || !pp)
			return -1;
		*id = pp->pw_uid;
	}
	return 0;
}

int am_http_parse_allow(struct am_http_opts *o, const char *arg, char *err, size_t errlen)
{
	bool group = arg[0] == '@';
	const char *name = group ? arg + 1 : arg;
	unsigned id;

	if (!*name || lookup_id(name, group, &id) < 0) {
		snprintf(err, errlen, "no such %s", group ? "group" : "user");
		return -1;
	}
	if ((group ? o->n_allow_gid : o->n_allow_uid) >= AM_HTTP_MAX_ALLOW) {
		snprintf(err, errlen, "at most %d users and %d groups", AM_HTTP_MAX_ALLOW, AM_HTTP_MAX_ALLOW);
		return -1;
	}
	if (group)
		o->allow_gid[o->n_allow_gid++] = id;
	else
		o->allow_uid[o->n_allow_uid++] = id;
	return 0;
}

int am_http_parse_access(struct am_http_opts *o, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "open"))
		o->open = true;
	else if (!strcmp(arg, "loopback"))
		o->open = false;
	else {
		snprintf(err, errlen, "expected loopback or open");
		return -1;
	}
	return 0;
}

static bool v4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

/* An IPv4-mapped IPv6 address as IPv4 (a dual-stack listener's v4 peer). */
static bool v4_mapped(const struct sockaddr_in6 *s6, struct in_addr *out)
{
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return false;
	memcpy(&out->s_addr, &s6->sin6_addr.s6_addr[12], 4);
	return true;
}

static bool sa_loopback(const struct sockaddr *sa)
{
	struct in_addr a4;

	if (sa->sa_family == AF_INET)
		return v4_loopback(&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family != AF_INET6)
		return false;
	if (v4_mapped((const struct sockaddr_in6 *)sa, &a4))
		return v4_loopback(&a4);
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

bool am_http_addr_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return v4_loopback(&a4);
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Puts sa's address and port in the 4-tuple side (src or dst) of id;
 * the family it has there (mapped addresses as IPv4). */
static int diag_side(const struct sockaddr *sa, __be16 *port, __be32 addr[4])
{
	struct in_addr a4;

	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*port = ((const struct sockaddr_in *)sa)->sin_port;
		addr[0] = ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
		return AF_INET;
	}
	*port = ((const struct sockaddr_in6 *)sa)->sin6_port;
	if (v4_mapped((const struct sockaddr_in6 *)sa, &a4)) {
		addr[0] = a4.s_addr;
		return AF_INET;
	}
	memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	return AF_INET6;
}

/* The uid owning the TCP socket whose local end is peer and remote end is
 * local (our side of the connection). 0, or -1 (no such socket, ...). */
static int peer_uid(const struct sockaddr *peer, const struct sockaddr *local, uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union { struct nlmsghdr h; char b[8192]; } resp;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	int fd, fam, ret = -1;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	fam = diag_side(peer, &req.r.id.idiag_sport, req.r.id.idiag_src);
	if (diag_side(local, &req.r.id.idiag_dport, req.r.id.idiag_dst) != fam)
		return -1;
	req.r.sdiag_family = (__u8)fam;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) != sizeof(req))
		goto out;
	n = recv(fd, &resp, sizeof(resp), 0);
	for (struct nlmsghdr *h = &resp.h; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
			*uid = ((struct inet_diag_msg *)NLMSG_DATA(h))->idiag_uid;
			ret = 0;
		}
		break;   /* one answer: the socket, or an error */
	}
out:
	close(fd);
	return ret;
}

/* Whether uid may see everything: root, or named with --http-allow
 * (itself, or one of its groups). */
static bool sees_all(const struct am_http_opts *o, uid_t uid)
{
	char buf[16384];
	struct passwd p, *pp = NULL;
	gid_t groups[256];
	int ng = 256;

	if (uid == 0)
		return true;
	for (size_t i = 0; i < o->n_allow_uid; i++)
		if (o->allow_uid[i] == uid)
			return true;
	if (!o->n_allow_gid || getpwuid_r(uid, &p, buf, sizeof(buf), &pp) || !pp)
		return false;
	if (getgrouplist(pp->pw_name, pp->pw_gid, groups, &ng) < 0)
		ng = 256;   /* more groups than that: the first 256 */
	for (int g = 0; g < ng; g++)
		for (size_t i = 0; i < o->n_allow_gid; i++)
			if (o->allow_gid[i] == groups[g])
				return true;
	return false;
}

/* Who is asking on c: 0 and v filled, or -1 (unknown: 403). */
static int viewer_of(struct am_http *h, struct MHD_Connection *c, struct am_srv_viewer *v)
{
	const union MHD_ConnectionInfo *ia = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const union MHD_ConnectionInfo *ifd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	if (h->o.open) {
		v->uid = (uid_t)-1;
		v->all = true;
		return 0;
	}
	if (!ia || !ifd || !ia->client_addr || !sa_loopback(ia->client_addr))
		return -1;
	if (getsockname(ifd->connect_fd, (struct sockaddr *)&local, &len) < 0)
		return -1;
	if (peer_uid(ia->client_addr, (struct sockaddr *)&local, &v->uid) < 0)
		return -1;
	v->all = sees_all(&h->o, v->uid);
	return 0;
}

void am_http_text(struct am_http_resp *r, unsigned status, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r->body, fmt, ap);
	va_end(ap);
	r->status = status;
	r->ctype = "text/plain; charset=utf-8";
	r->len = n < 0 ? 0 : (size_t)n;
	if (n < 0) {
		r->body = NULL;
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static enum MHD_Result queue(struct MHD_Connection *c, struct am_http_resp *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer_with_free_callback(r->len, r->body ? r->body : (char *)"", r->body ? free : NULL);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (r->csp)
		MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
	if (r->disposition)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, r->disposition);
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **state)
{
	struct am_http *h = cls;
	struct am_http_resp r = { 0 };
	struct am_srv_viewer v;

	(void)version;
	(void)upload;
	if (!*state) {      /* first call: headers read; answer now, body or not */
		*state = h;
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			am_http_text(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		else if (viewer_of(h, c, &v) < 0)
			am_http_text(&r, MHD_HTTP_FORBIDDEN, "forbidden: the owner of the connecting "
				     "socket could not be found (only loopback peers are served)\n");
		else
			am_http_route(h, c, url, &v, &r);
		return queue(c, &r);
	}
	*upload_len = 0;    /* a body is ignored (it never reached a route) */
	return MHD_YES;
}

static int bind_addr(const struct am_http_opts *o, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, o->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, o->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		*len = sizeof(*s6);
		return AF_INET6;
	}
	return -1;
}

/* libmicrohttpd's messages: while starting, the reason kept for the one
 * error line; then on stderr. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct am_http *h = cls;

	if (h->starting) {
		vsnprintf(h->why, sizeof(h->why), fmt, ap);
		h->why[strcspn(h->why, "\n")] = 0;
		return;
	}
	fputs("allocmap: serve: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

struct am_http *am_http_start(struct am_srv *s, const struct am_http_opts *o, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fam;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct am_http *h;
	const union MHD_DaemonInfo *di;

	err[0] = 0;
	if (o->off)
		return NULL;
	fam = bind_addr(o, &ss, &sl);
	if (fam < 0) {
		snprintf(err, errlen, "bad --http address %s", o->addr);
		return NULL;
	}
	if (!sa_loopback((struct sockaddr *)&ss) && !o->open) {
		snprintf(err, errlen, "--http %s is not a loopback address: the uid of a remote peer cannot "
			 "be known; add --http-access=open to let everyone who can connect see every target",
			 o->addr);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->srv = s;
	h->o = *o;
	h->loopback = sa_loopback((struct sockaddr *)&ss);
	if (fam == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->starting = true;
	h->d = MHD_start_daemon(flags, o->port, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)AM_HTTP_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)AM_HTTP_CONN_LIMIT,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)AM_HTTP_CONN_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)AM_HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)AM_HTTP_REQ_MEM,
				MHD_OPTION_END);
	h->starting = false;
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s", fam == AF_INET6 ? "[" : "",
			 o->addr, fam == AF_INET6 ? "]" : "", o->port, h->why[0] ? h->why : "libmicrohttpd failed");
		free(h);
		return NULL;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : o->port;
	return h;
}

uint16_t am_http_port(const struct am_http *h)
{
	return h ? h->port : 0;
}

void am_http_stop(struct am_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
