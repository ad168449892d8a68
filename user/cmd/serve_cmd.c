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
"\n"
"It stays in the foreground in any case (systemd's Type=simple: "
"scripts/allocmap.service); --foreground says so explicitly. SIGTERM or SIGINT "
"stops every target, detaches every probe, removes the socket and exits 0; "
"SIGHUP re-reads the config file (default " AM_SERVE_CONFIG " when it exists). "
"Needs root.";

enum { OPT_SOCKET = 1000, OPT_GROUP, OPT_CONFIG, OPT_FOREGROUND };

static const struct argp_option serve_options[] = {
	{ "socket", OPT_SOCKET, "PATH", 0, "The control socket (default " AM_SERVE_SOCKET ")", 0 },
	{ "group", OPT_GROUP, "NAME", 0, "Group that may connect (socket 0660; default: allocmap "
	  "when that group exists, else the socket is 0666 and every user may connect)", 0 },
	{ "config", OPT_CONFIG, "FILE", 0, "Settings, `key = value` lines (default " AM_SERVE_CONFIG
	  " when present); re-read on SIGHUP", 0 },
	{ "foreground", OPT_FOREGROUND, NULL, 0, "Do not detach (the daemon never does: for "
	  "systemd and tests)", 0 },
	{ 0 },
};

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
	int rc = am_opts_parse(&serve_argp, argc, argv, &o);

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
