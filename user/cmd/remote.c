// SPDX-License-Identifier: GPL-2.0
/* remote.c - `allocmap trace --socket PATH` (remote.h): the same command
 * line, run by the daemon (serve/session.c) on the user's behalf. The
 * client opens every output file itself, as the user, and passes them
 * with its stdout and stderr over the socket (SCM_RIGHTS); the daemon's
 * session writes into them exactly what `allocmap trace` would have. On
 * Ctrl-C the client asks the session to stop (its summary is still
 * written), then exits with the session's status. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include "jsonw.h"
#include "log.h"
#include "remote.h"
#include "safeio.h"
#include "session.h"

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig)
{
	stop_asked = sig;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The output files of o, each once, in a fixed order. */
static int file_list(const struct am_trace_opts *o, const char **out)
{
	const char *all[] = { o->output, o->html, o->perfetto, o->folded, o->folded_alloc, o->pprof };
	int n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		bool dup = false;

		for (int k = 0; k < n; k++)
			dup |= !strcmp(out[k], all[i] ? all[i] : "");
		if (all[i] && !dup)
			out[n++] = all[i];
	}
	return n;
}

/* The request line: {"v":1,"op":"trace","argv":[SUB,...],"files":[...]}, and
 * for top its terminal: "stdin": true, "term": $TERM. */
static char *request(const char *sub, int argc, char **argv, const char **files, int nf, size_t *len)
{
	char *mem = NULL;
	FILE *f = open_memstream(&mem, len);
	struct jsonw *w = f ? jsonw_new(f) : NULL;

	if (!w) {
		if (f)
			fclose(f);
		free(mem);
		return NULL;
	}
	jsonw_obj_open(w);
	jsonw_ku64(w, "v", 1);
	jsonw_kstr(w, "op", "trace");
	jsonw_karr_open(w, "argv");
	jsonw_str(w, sub);
	for (int i = 1; i < argc; i++)
		jsonw_str(w, argv[i]);
	jsonw_arr_close(w);
	jsonw_karr_open(w, "files");
	for (int i = 0; i < nf; i++)
		jsonw_str(w, files[i]);
	jsonw_arr_close(w);
	if (!strcmp(sub, "top")) {
		jsonw_kbool(w, "stdin", true);
		jsonw_kstr(w, "term", getenv("TERM"));
	}
	jsonw_obj_close(w);
	jsonw_eol(w);
	jsonw_flush(w);
	free(w);
	fclose(f);
	return mem;
}

static int send_request(int sock, const char *req, size_t len, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * AM_SESSION_MAX_FDS)];
	struct iovec iov = { .iov_base = (void *)req, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n) };
	struct cmsghdr *cm;
	ssize_t w;

	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	return w == (ssize_t)len ? 0 : -1;
}

/* One line from the daemon: an error (1), the end with a status, or
 * nothing yet (-1). */
static int handle_reply(const char *sub, const char *line)
{
	json_object *r = json_tokener_parse(line), *v;
	int rc = -1;

	if (!r)
		return -1;
	if (json_object_object_get_ex(r, "ok", &v) && !json_object_get_boolean(v)) {
		const char *e = json_object_object_get_ex(r, "error", &v) ? json_object_get_string(v) : "?";

		am_err("%s: the daemon refused: %s", sub, e);
		rc = 1;
	} else if (json_object_object_get_ex(r, "end", &v) && json_object_get_boolean(v)) {
		rc = json_object_object_get_ex(r, "status", &v) ? json_object_get_int(v) : 1;
	}
	json_object_put(r);
	return rc;
}

/* top: the terminal's input, forwarded to the session (which cannot read
 * a terminal whose foreground is this process). */
static void forward_keys(int *keys)
{
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n <= 0 || write(*keys, buf, (size_t)n) != n) {
		close(*keys);
		*keys = -1;
	}
}

/* Waits for the session's end line; Ctrl-C/SIGTERM ask it to stop. */
static int wait_end(const char *sub, int sock, int keys)
{
	char buf[4096], line[4096];
	size_t ll = 0;
	bool asked = false;

	for (;;) {
		struct pollfd pf[2] = { { .fd = sock, .events = POLLIN }, { .fd = keys >= 0 ? 0 : -1,
								     .events = POLLIN } };
		ssize_t n;

		if (stop_asked && !asked) {
			asked = send(sock, "{\"v\":1,\"op\":\"stop\"}\n", 20, MSG_NOSIGNAL) == 20;
		}
		if (poll(pf, 2, -1) < 0)
			continue; /* EINTR: a signal, asked above */
		if (pf[1].revents)
			forward_keys(&keys);
		if (!pf[0].revents)
			continue;
		n = recv(sock, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			am_err("%s: the daemon closed the connection", sub);
			return 1;
		}
		for (ssize_t i = 0; i < n; i++) {
			int rc;

			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			if ((rc = handle_reply(sub, line)) >= 0)
				return rc;
		}
	}
}

int am_remote(const char *path, const char *sub, int argc, char **argv, const struct am_trace_opts *o)
{
	const char *files[8];
	bool top = !strcmp(sub, "top");
	int fds[AM_SESSION_MAX_FDS] = { 0, 1, 2 }, std = top ? 3 : 2, nf, sock, rc = 1;
	int keys[2] = { -1, -1 };
	struct sigaction sa = { .sa_handler = on_stop };
	char *req = NULL;
	size_t len;

	if (!top) {
		fds[0] = 1;
		fds[1] = 2;
	}
	if (o->cmd) {
		am_err("%s: launching a command through the daemon is not supported: start it "
		       "yourself and attach with -p PID", sub);
		return 1;
	}
	nf = top ? 0 : file_list(o, files);
	if (top && pipe2(keys, O_CLOEXEC)) {
		am_err("%s: %s", sub, strerror(errno));
		return 1;
	}
	if (top)
		fds[0] = keys[0];
	sock = connect_to(path);
	if (sock < 0) {
		am_err("%s: cannot connect to the allocmap daemon at %s: %s", sub, path, strerror(errno));
		return 1;
	}
	for (int i = 0; i < nf; i++) {
		char why[512];

		fds[std + i] = am_open_output(files[i], why, sizeof(why));
		if (fds[std + i] < 0) {
			am_err("cannot open %s: %s", files[i], why);
			nf = i;
			goto out;
		}
	}
	req = request(sub, argc, argv, files, nf, &len);
	if (!req || send_request(sock, req, len, fds, std + nf)) {
		am_err("%s: cannot talk to the allocmap daemon at %s: %s", sub, path,
		       req ? strerror(errno) : "out of memory");
		goto out;
	}
	for (int i = 0; i < nf; i++)
		close(fds[std + i]);
	nf = 0;
	if (keys[0] >= 0)
		close(keys[0]);
	keys[0] = -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (top)
		signal(SIGTSTP, SIG_IGN); /* the session draws on the terminal, not this process */
	rc = wait_end(sub, sock, keys[1]);
	keys[1] = -1;
out:
	for (int k = 0; k < 2; k++)
		if (keys[k] >= 0)
			close(keys[k]);
	for (int i = 0; i < nf; i++)
		close(fds[std + i]);
	free(req);
	close(sock);
	return rc;
}
