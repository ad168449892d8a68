// SPDX-License-Identifier: GPL-2.0
/* serve_cmd.c - `allocmap serve`'s command line (the daemon itself is
 * user/serve/). */
#include <argp.h>
#include <unistd.h>
#include "ctl.h"
#include "log.h"
#include "opts.h"
#include "remote.h"

static const char serve_doc[] =
"The allocmap daemon: traces processes added and removed at run time over a "
"control socket (a JSON-lines protocol, docs/reference.md), each in its own "
"tracer; `allocmap trace --socket` runs a trace through it. Users who are not "
"root may trace the processes they could ptrace themselves."
"\v"
"EXAMPLES:\n"
"  allocmap serve --foreground\n"
"      listen on " AM_SERVE_SOCKET " (group allocmap, if it exists)\n"
"  allocmap serve --socket /tmp/am.sock --config ./serve.conf\n"
"  allocmap serve --http-allow prometheus\n"
"      HTTP on 127.0.0.1:6061 (/metrics, /debug/pprof/heap?pid=N, /live?pid=N);\n"
"      the user prometheus sees every target, others their own processes\n"
"  allocmap serve --http 0.0.0.0:6061 --http-access=open\n"
"      HTTP for other hosts: everyone who can connect sees every target\n"
"\n"
"It stays in the foreground in any case (systemd's Type=simple: "
"scripts/allocmap.service); --foreground says so explicitly. SIGTERM or SIGINT "
"stops every target, detaches every probe, removes the socket and exits 0; "
"SIGHUP re-reads the config file (default " AM_SERVE_CONFIG " when it exists). "
"Needs root.";

enum { OPT_SOCKET = 1000, OPT_GROUP, OPT_CONFIG, OPT_FOREGROUND, OPT_HTTP, OPT_HTTP_ALLOW, OPT_HTTP_ACCESS };

static const struct argp_option serve_options[] = {
	{ "socket", OPT_SOCKET, "PATH", 0, "The control socket (default " AM_SERVE_SOCKET ")", 0 },
	{ "group", OPT_GROUP, "NAME", 0, "Group that may connect (socket 0660; default: allocmap "
	  "when that group exists, else the socket is 0666 and every user may connect)", 0 },
	{ "config", OPT_CONFIG, "FILE", 0, "Settings, `key = value` lines (default " AM_SERVE_CONFIG
	  " when present); re-read on SIGHUP", 0 },
	{ "foreground", OPT_FOREGROUND, NULL, 0, "Do not detach (the daemon never does: for "
	  "systemd and tests)", 0 },
	{ "http", OPT_HTTP, "ADDR:PORT", 0, "HTTP: /metrics, /debug/pprof/{heap,allocs}?pid=N, "
	  "/live?pid=N (default 127.0.0.1:6061; [::1]:PORT for IPv6; off: none)", 0 },
	{ "http-allow", OPT_HTTP_ALLOW, "USER|@GROUP", 0, "Over HTTP this user (or group's members) "
	  "sees every target, as root does; others see their own processes only (repeatable)", 0 },
	{ "http-access", OPT_HTTP_ACCESS, "loopback|open", 0, "open: needed for a non-loopback "
	  "--http address; then EVERYONE who can connect sees EVERY target (default loopback: a "
	  "peer's uid is the owner of its socket)", 0 },
	{ 0 },
};

static error_t serve_parse_http(int key, char *arg, struct argp_state *state)
{
	struct am_serve_opts *o = state->input;
	char err[256];

	if (key == OPT_HTTP && am_http_parse_listen(&o->http, arg, err, sizeof(err)) < 0)
		return am_opts_error(state, "invalid --http '%s' (%s)", arg, err);
	if (key == OPT_HTTP_ALLOW && am_http_parse_allow(&o->http, arg, err, sizeof(err)) < 0)
		return am_opts_error(state, "invalid --http-allow '%s' (%s)", arg, err);
	if (key == OPT_HTTP_ACCESS && am_http_parse_access(&o->http, arg, err, sizeof(err)) < 0)
		return am_opts_error(state, "invalid --http-access '%s' (%s)", arg, err);
	return 0;
}

static error_t serve_parse(int key, char *arg, struct argp_state *state)
{
	struct am_serve_opts *o = state->input;

	switch (key) {
	case OPT_SOCKET:
		if (!*arg)
			return am_opts_error(state, "invalid --socket '' (a path)");
		o->socket = arg;
		o->default_socket = false;
		break;
	case OPT_GROUP:
		o->group = arg;
		break;
	case OPT_CONFIG:
		o->config = arg;
		break;
	case OPT_FOREGROUND:
		o->foreground = true;
		break;
	case OPT_HTTP:
	case OPT_HTTP_ALLOW:
	case OPT_HTTP_ACCESS:
		return serve_parse_http(key, arg, state);
	case ARGP_KEY_END:
		if (!o->http.off && !o->http.open && !am_http_addr_loopback(o->http.addr))
			return am_opts_error(state, "--http %s is not a loopback address: add "
					     "--http-access=open (everyone who can connect sees every target)",
					     o->http.addr);
		break;
	case ARGP_KEY_ARG:
		return am_opts_error(state, "unexpected argument '%s'", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp serve_argp = {
	.options = serve_options, .parser = serve_parse, .doc = serve_doc,
	.children = am_help_children,
};

int am_serve_main(int argc, char **argv)
{
	struct am_serve_opts o = { .socket = AM_SERVE_SOCKET, .default_socket = true };
	int rc;

	am_http_opts_init(&o.http);
	rc = am_opts_parse(&serve_argp, argc, argv, &o);

	if (rc)
		return rc;
	if (geteuid() != 0) {
		am_err("serve: must run as root (it loads eBPF programs for its clients)");
		return 1;
	}
	if (!o.config && !access(AM_SERVE_CONFIG, F_OK))
		o.config = AM_SERVE_CONFIG;
	return am_serve_run(&o);
}
