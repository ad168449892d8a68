// SPDX-License-Identifier: GPL-2.0
/* ctl.c - `allocmap serve`'s main loop and control socket (ctl.h): one
 * thread, epoll over the listening socket, the clients, a signalfd
 * (SIGTERM/SIGINT stop, SIGHUP reloads the config, SIGCHLD reaps sessions)
 * and the eventfd the target threads write when they have news. Requests
 * are JSON lines (docs/reference.md, "Control protocol"); identity comes
 * from SO_PEERCRED only. Nothing here blocks on a client: output is
 * buffered per client, and a client whose buffer passes its bound is cut
 * off and counted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include "ctl.h"
#include "jsonw.h"
#include "log.h"
#include "proc.h"
#include "session.h"
#include "srv_int.h"

#define AM_PROTO_VERSION 1

enum cstate { C_IDLE, C_ADDING, C_STREAM, C_SESSION };

struct client {
	int fd;
	struct ucred cred;
	struct am_srv_viewer v;
	char *in;
	size_t in_len;
	bool in_skip;             /* a request line over the limit: refused, skipped to its end */
	char *out;
	size_t out_len, out_cap;
	enum cstate st;
	struct am_srv_target *t;  /* adding or streaming */
	uint64_t cursor;          /* stream: position in the target's history */
	uint64_t gap;             /* stream: bytes it missed */
	bool closing;             /* close once the output is sent */
	bool eof;                 /* the client shut its side down (socat after its request):
	                             what it asked for is still answered, then it is closed */
	bool dead;
	pid_t session;            /* trace session: its process */
};

/* A watch rule: new processes whose comm matches a pattern, or that start
 * in a cgroup (or below it), are added for its owner (checked as an add). */
struct rule {
	uint32_t id;
	uid_t uid;
	gid_t gid;
	enum am_srv_mode mode;
	char *comm;               /* fnmatch pattern, or NULL */
	char *cgroup;             /* cgroup v2 path ("/system.slice/x.service"), or NULL */
	bool conf;                /* a `watch` line of the config file (root's) */
};

#define MAX_RULES 64
#define MAX_PENDING 256

/* A process a rule matched at its exec, waiting for its loader. */
struct pend {
	pid_t pid;
	int pidfd;
	uint32_t rule;
	uint64_t since;
};

struct ctl {
	const struct am_serve_opts *o;
	struct rule rules[MAX_RULES];
	unsigned n_rules;
	uint32_t next_rule;
	int nfd;                  /* exec events (watch.c), once a rule exists */
	struct pend pend[MAX_PENDING];
	unsigned n_pend;
	uint64_t watch_refused;   /* exec'd processes a rule matched but could not add */
	uint64_t watch_overruns;  /* exec events the kernel dropped (a rescan followed) */
	uint64_t watch_forged;    /* netlink messages on the exec socket not from the kernel */
	struct am_srv_conf conf;
	struct am_srv *srv;
	int lfd, epfd, sfd, wfd;
	struct client **cl;
	unsigned n_cl;
	uint64_t cut_off;         /* clients cut off (slow readers, over the limit) */
	bool stop;
};

/* ---- output ---- */

static void drop_client(struct ctl *c, struct client *k, const char *why)
{
	(void)c;
	if (why)
		am_info("serve: client pid %d cut off: %s", k->cred.pid, why);
	k->dead = true;
}

static void queue(struct ctl *c, struct client *k, const char *d, size_t n)
{
	if (k->dead)
		return;
	if (k->out_len + n > c->conf.client_buf) {
		c->cut_off++;
		am_srv_count_drop(c->srv, 1);
		drop_client(c, k, "output not read (client_buf reached)");
		return;
	}
	if (k->out_len + n > k->out_cap) {
		size_t cap = (k->out_len + n) * 2;
		char *p = realloc(k->out, cap);

		if (!p) {
			drop_client(c, k, "out of memory");
			return;
		}
		k->out = p;
		k->out_cap = cap;
	}
	memcpy(k->out + k->out_len, d, n);
	k->out_len += n;
}

/* Sends what it can without blocking; the rest waits for EPOLLOUT. */
static void flush_client(struct ctl *c, struct client *k)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = k };
	ssize_t n = 0;

	while (!k->dead && k->out_len) {
		n = send(k->fd, k->out, k->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop_client(c, k, NULL);
			return;
		}
		memmove(k->out, k->out + n, k->out_len - (size_t)n);
		k->out_len -= (size_t)n;
	}
	if (k->dead)
		return;
	if (!k->out_len && k->closing && k->st == C_IDLE) {
		k->dead = true;
		return;
	}
	if (k->eof) /* nothing more to read: EPOLLIN would fire for ever */
		ev.events = 0;
	if (k->out_len)
		ev.events |= EPOLLOUT;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* A reply built with jsonw in memory. */
struct reply {
	FILE *f;
	char *mem;
	size_t n;
	struct jsonw *w;
};

static struct jsonw *reply_open(struct reply *r, bool ok)
{
	memset(r, 0, sizeof(*r));
	r->f = open_memstream(&r->mem, &r->n);
	r->w = r->f ? jsonw_new(r->f) : NULL;
	if (!r->w)
		return NULL;
	jsonw_obj_open(r->w);
	jsonw_ku64(r->w, "v", AM_PROTO_VERSION);
	jsonw_kbool(r->w, "ok", ok);
	return r->w;
}

static void reply_send(struct ctl *c, struct client *k, struct reply *r)
{
	if (r->w) {
		jsonw_obj_close(r->w);
		jsonw_eol(r->w);
		jsonw_flush(r->w);
	}
	if (r->f)
		fclose(r->f);
	if (r->w && r->mem)
		queue(c, k, r->mem, r->n);
	else
		drop_client(c, k, "out of memory");
	free(r->w);
	free(r->mem);
}

static void reply_err(struct ctl *c, struct client *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_err(struct ctl *c, struct client *k, const char *fmt, ...)
{
	struct reply r;
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (reply_open(&r, false))
		jsonw_kstr(r.w, "error", msg);
	reply_send(c, k, &r);
}

/* ---- requests ---- */

static const char *jstr(json_object *req, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(req, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

/* An integer member in [1, max]; 0 when absent, -1 when bad. */
static int64_t jint(json_object *req, const char *key, int64_t max)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	return n >= 1 && n <= max ? n : -1;
}

/* The target a request names by "id" or "pid", that k may see; else an
 * error reply ("no such target" whether it exists or is another user's). */
static struct am_srv_target *req_target(struct ctl *c, struct client *k, json_object *req)
{
	int64_t id = jint(req, "id", UINT32_MAX), pid = jint(req, "pid", INT32_MAX);
	struct am_srv_target *t = NULL;

	if (id < 0 || pid < 0 || (!id && !pid)) {
		reply_err(c, k, "give the target as \"id\" or \"pid\" (a positive integer)");
		return NULL;
	}
	t = id ? am_srv_find_id(c->srv, &k->v, (uint32_t)id) : am_srv_find(c->srv, &k->v, (pid_t)pid);
	if (t && id && pid) {
		struct am_srv_target_info ti;

		am_srv_target_info(t, &ti);
		if (ti.pid != pid) {
			am_srv_put(t);
			t = NULL;
		}
	}
	if (!t)
		reply_err(c, k, "no such target");
	return t;
}

static void op_hello(struct ctl *c, struct client *k)
{
	static const char *const caps[] = { "add", "remove", "list", "snapshot", "stream", "stats",
					    "trace" };
	struct reply r;

	if (reply_open(&r, true)) {
		jsonw_kstr(r.w, "op", "hello");
		jsonw_kstr(r.w, "version", AM_VERSION_STR);
		jsonw_ku64(r.w, "protocol", AM_PROTO_VERSION);
		jsonw_ku64(r.w, "uid", k->cred.uid);
		jsonw_karr_open(r.w, "caps");
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
			jsonw_str(r.w, caps[i]);
		jsonw_arr_close(r.w);
	}
	reply_send(c, k, &r);
}

static void reply_added(struct ctl *c, struct client *k, struct am_srv_target *t, bool existing)
{
	struct am_srv_target_info ti;
	struct reply r;

	am_srv_target_info(t, &ti);
	if (reply_open(&r, true)) {
		jsonw_kstr(r.w, "op", "add");
		jsonw_ku64(r.w, "id", ti.id);
		jsonw_ku64(r.w, "pid", (uint64_t)ti.pid);
		jsonw_kstr(r.w, "mode", ti.mode == AM_SRV_OS ? "os" : "all");
		jsonw_kbool(r.w, "existing", existing);
	}
	reply_send(c, k, &r);
}

/* An alive target of pid in this mode that k sees already? */
static struct am_srv_target *existing(struct ctl *c, struct client *k, pid_t pid, enum am_srv_mode m)
{
	struct am_srv_target *t = am_srv_find(c->srv, &k->v, pid);
	struct am_srv_target_info ti;

	if (!t)
		return NULL;
	am_srv_target_info(t, &ti);
	if (ti.alive && ti.mode == m && ti.uid == k->cred.uid)
		return t;
	am_srv_put(t);
	return NULL;
}

static bool rule_matches(const struct rule *r, pid_t pid);
static void pend_add(struct ctl *c, const struct rule *r, pid_t pid);

/* Processes running already that r matches: taken as if they had just
 * exec'd (their loader is long done). */
static void rule_scan(struct ctl *c, const struct rule *r)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid() || !rule_matches(r, (pid_t)pid))
			continue;
		pend_add(c, r, (pid_t)pid);
	}
	closedir(d);
}

/* A new rule (the exec events listened to from the first one on), and
 * the processes it matches already. NULL with err. */
static struct rule *rule_new(struct ctl *c, uid_t uid, gid_t gid, const char *comm, const char *cg,
			     enum am_srv_mode mode, bool conf, char *err, size_t errlen)
{
	struct rule *r;

	if ((comm && cg) || (!comm && !cg) || (comm && (!*comm || strlen(comm) > 255)) ||
	    (cg && (cg[0] != '/' || strlen(cg) > 4095))) {
		snprintf(err, errlen, "a rule is one \"comm\" pattern (1..255 bytes) or one \"cgroup\" "
			 "path (absolute)");
		return NULL;
	}
	if (c->n_rules >= MAX_RULES) {
		snprintf(err, errlen, "too many watch rules (%d)", MAX_RULES);
		return NULL;
	}
	if (c->nfd < 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->nfd };

		c->nfd = am_watch_open();
		if (c->nfd < 0) {
			snprintf(err, errlen, "cannot listen to exec events: %s", strerror(errno));
			return NULL;
		}
		epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->nfd, &ev);
	}
	r = &c->rules[c->n_rules];
	*r = (struct rule){ .id = ++c->next_rule, .uid = uid, .gid = gid, .mode = mode, .conf = conf,
			    .comm = comm ? strdup(comm) : NULL, .cgroup = cg ? strdup(cg) : NULL };
	if (!r->comm && !r->cgroup) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->n_rules++;
	rule_scan(c, r);
	return r;
}

static void add_rule(struct ctl *c, struct client *k, const char *comm, const char *cg,
		     enum am_srv_mode mode)
{
	char err[256];
	struct rule *r = rule_new(c, k->cred.uid, k->cred.gid, comm, cg, mode, false, err, sizeof(err));
	struct reply rp;

	if (!r) {
		reply_err(c, k, "%s", err);
		return;
	}
	if (reply_open(&rp, true)) {
		jsonw_kstr(rp.w, "op", "add");
		jsonw_ku64(rp.w, "rule", r->id);
		jsonw_kstr(rp.w, "mode", mode == AM_SRV_OS ? "os" : "all");
	}
	reply_send(c, k, &rp);
}

static void rule_free(struct ctl *c, unsigned i)
{
	free(c->rules[i].comm);
	free(c->rules[i].cgroup);
	memmove(&c->rules[i], &c->rules[i + 1], (c->n_rules - i - 1) * sizeof(c->rules[0]));
	c->n_rules--;
}

/* The config file's watch lines, as root's rules: the previous ones
 * replaced (their targets stay: a target is removed by remove, or its exit). */
static void conf_rules(struct ctl *c)
{
	char err[256];

	for (unsigned i = c->n_rules; i-- > 0;)
		if (c->rules[i].conf)
			rule_free(c, i);
	for (unsigned i = 0; i < c->conf.n_watch; i++) {
		const struct am_conf_watch *w = &c->conf.watch[i];

		if (!rule_new(c, 0, 0, w->cgroup ? NULL : w->pat, w->cgroup ? w->pat : NULL,
			      w->all ? AM_SRV_ALL : AM_SRV_OS, true, err, sizeof(err)))
			am_err("serve: watch %s %s: %s", w->cgroup ? "cgroup" : "comm", w->pat, err);
	}
}

/* Does pid's comm or cgroup match r? */
static bool rule_matches(const struct rule *r, pid_t pid)
{
	char path[64], buf[4200];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), r->comm ? "/proc/%d/comm" : "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (r->comm)
		return fnmatch(r->comm, buf, 0) == 0;
	/* cgroup v2: "0::/path" */
	if (strncmp(buf, "0::", 3))
		return false;
	n = (ssize_t)strlen(r->cgroup);
	return !strncmp(buf + 3, r->cgroup, (size_t)n) && (buf[3 + n] == 0 || buf[3 + n] == '/' ||
							   r->cgroup[n - 1] == '/');
}

/* Has pid's dynamic loader mapped its C library (the allocator's object is
 * mapped by then: LD_PRELOADed and needed ones come before or with it)? A
 * process taken in the middle of its loading would be resolved without
 * its allocator. */
static bool loader_done(pid_t pid)
{
	char path[64], line[512];
	bool done = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return true; /* gone: the add says so */
	while (!done && fgets(line, sizeof(line), f))
		done = strstr(line, "/libc.so") || strstr(line, "/ld-musl-") || strstr(line, "[heap]");
	fclose(f);
	return done;
}

/* Adds pid for rule r, if its owner may trace it. Takes pidfd. */
static void add_for_rule(struct ctl *c, const struct rule *r, pid_t pid, int pidfd)
{
	struct am_srv_viewer v = { .uid = r->uid, .all = r->uid == 0 };
	struct am_srv_add a = { .pid = pid, .pidfd = pidfd, .mode = r->mode, .uid = r->uid,
				.gid = r->gid, .owner_check = r->uid != 0 };
	struct am_srv_target *t = am_srv_find(c->srv, &v, pid);
	char err[512];

	if (t) {
		struct am_srv_target_info ti;

		am_srv_target_info(t, &ti);
		am_srv_put(t);
		if (ti.alive && ti.uid == r->uid) {
			close(pidfd); /* followed already (or a second rule) */
			return;
		}
	}
	if (am_srv_may_trace(pid, pidfd, r->uid, r->gid, 0, err, sizeof(err)) ||
	    !(t = am_srv_add(c->srv, &a, err, sizeof(err)))) {
		close(pidfd);
		c->watch_refused++;
		return;
	}
	am_srv_put(t);
}

/* pid, which r matched, kept until its loader is done (service_pending). */
static void pend_add(struct ctl *c, const struct rule *r, pid_t pid)
{
	int fd;

	if (c->n_pend >= MAX_PENDING || (fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		c->watch_refused++;
		return;
	}
	c->pend[c->n_pend++] = (struct pend){ .pid = pid, .pidfd = fd, .rule = r->id,
					      .since = am_now_ns() };
}

/* A process exec'd: kept for every rule its new comm or its cgroup
 * matches, until its loader is done (service_pending). */
static void on_exec(struct ctl *c, pid_t pid)
{
	for (unsigned i = 0; i < c->n_rules; i++)
		if (pid != getpid() && rule_matches(&c->rules[i], pid))
			pend_add(c, &c->rules[i], pid);
}

/* Processes a rule matched, added once their loader is done (or after
 * 500 ms: a static program has no C library to wait for). */
static void service_pending(struct ctl *c)
{
	uint64_t now = am_now_ns();
	unsigned j = 0;

	for (unsigned i = 0; i < c->n_pend; i++) {
		struct pend *p = &c->pend[i];
		const struct rule *r = NULL;

		for (unsigned k = 0; k < c->n_rules; k++)
			if (c->rules[k].id == p->rule)
				r = &c->rules[k];
		if (!r || syscall(SYS_pidfd_send_signal, p->pidfd, 0, NULL, 0)) {
			close(p->pidfd); /* the rule was removed, or the process is gone */
			continue;
		}
		if (!loader_done(p->pid) && now - p->since < 500000000ULL) {
			c->pend[j++] = *p;
			continue;
		}
		add_for_rule(c, r, p->pid, p->pidfd);
	}
	c->n_pend = j;
}

static void exec_cb(void *ctx, pid_t pid)
{
	on_exec(ctx, pid);
}

/* Exec events; after an overrun (events lost) every rule rescans /proc,
 * so that only a process that came and went in between is missed. */
static void on_watch(struct ctl *c)
{
	uint64_t over = c->watch_overruns;

	am_watch_read(c->nfd, exec_cb, c, &c->watch_overruns, &c->watch_forged);
	if (c->watch_overruns != over)
		for (unsigned i = 0; i < c->n_rules; i++)
			rule_scan(c, &c->rules[i]);
}

static void op_add(struct ctl *c, struct client *k, json_object *req)
{
	int64_t pid = jint(req, "pid", INT32_MAX);
	const char *mode = jstr(req, "mode");
	struct am_srv_add a = { .uid = k->cred.uid, .gid = k->cred.gid, .mode = AM_SRV_OS };
	struct am_srv_target *t;
	char err[512];

	if (mode && !strcmp(mode, "all"))
		a.mode = AM_SRV_ALL;
	else if (mode && strcmp(mode, "os")) {
		reply_err(c, k, "invalid mode (os or all)");
		return;
	}
	if (jstr(req, "comm") || jstr(req, "cgroup")) {
		add_rule(c, k, jstr(req, "comm"), jstr(req, "cgroup"), a.mode);
		return;
	}
	if (pid <= 0) {
		reply_err(c, k, "add needs \"pid\" (a positive integer), \"comm\" or \"cgroup\"");
		return;
	}
	a.pid = (pid_t)pid;
	a.owner_check = k->cred.uid != 0;
	a.pidfd = (int)syscall(SYS_pidfd_open, a.pid, 0);
	if (a.pidfd < 0) {
		reply_err(c, k, "no such process%s: pid %d", k->cred.uid ? " (or not yours to trace)" : "",
			  a.pid);
		return;
	}
	if (am_srv_may_trace(a.pid, a.pidfd, a.uid, a.gid, k->cred.pid, err, sizeof(err))) {
		close(a.pidfd);
		reply_err(c, k, "%s", err);
		return;
	}
	if ((t = existing(c, k, a.pid, a.mode))) {
		close(a.pidfd);
		reply_added(c, k, t, true);
		am_srv_put(t);
		return;
	}
	t = am_srv_add(c->srv, &a, err, sizeof(err));
	if (!t) {
		close(a.pidfd);
		reply_err(c, k, "%s", err);
		return;
	}
	k->st = C_ADDING; /* answered once its thread has attached (service_client) */
	k->t = t;
}

/* remove {"rule": ID}: the owner's rule (root: any) */
static void remove_rule(struct ctl *c, struct client *k, int64_t id)
{
	struct reply r;

	for (unsigned i = 0; i < c->n_rules; i++) {
		if (c->rules[i].id != id || (k->cred.uid && c->rules[i].uid != k->cred.uid))
			continue;
		rule_free(c, i);
		if (reply_open(&r, true))
			jsonw_kstr(r.w, "op", "remove");
		reply_send(c, k, &r);
		return;
	}
	reply_err(c, k, "no such rule");
}

static void op_remove(struct ctl *c, struct client *k, json_object *req)
{
	int64_t rule = jint(req, "rule", UINT32_MAX);
	struct am_srv_target *t;
	struct reply r;

	if (rule) {
		remove_rule(c, k, rule);
		return;
	}
	t = req_target(c, k, req);
	if (!t)
		return;
	am_srv_remove(c->srv, t);
	am_srv_put(t);
	if (reply_open(&r, true))
		jsonw_kstr(r.w, "op", "remove");
	reply_send(c, k, &r);
}

static void list_one(void *ctx, struct am_srv_target *t)
{
	struct jsonw *w = ctx;
	struct am_srv_target_info ti;
	char why[512];

	am_srv_target_info(t, &ti);
	am_srv_target_end_reason(t, why, sizeof(why));
	jsonw_obj_open(w);
	jsonw_ku64(w, "id", ti.id);
	jsonw_ku64(w, "pid", (uint64_t)ti.pid);
	jsonw_ku64(w, "uid", ti.uid);
	jsonw_kstr(w, "comm", ti.comm);
	jsonw_kstr(w, "allocator", ti.allocator[0] ? ti.allocator : NULL);
	jsonw_kstr(w, "mode", ti.mode == AM_SRV_OS ? "os" : "all");
	jsonw_ku64(w, "started_unix_ns", ti.started_unix_ns);
	jsonw_kbool(w, "alive", ti.alive);
	jsonw_kstr(w, "state", am_srv_target_state(t));
	jsonw_ku64(w, "history_dropped", ti.history_dropped);
	if (why[0])
		jsonw_kstr(w, "ended", why);
	jsonw_obj_close(w);
}

static void op_list(struct ctl *c, struct client *k)
{
	struct reply r;

	if (reply_open(&r, true)) {
		jsonw_kstr(r.w, "op", "list");
		jsonw_karr_open(r.w, "targets");
		am_srv_each(c->srv, &k->v, list_one, r.w);
		jsonw_arr_close(r.w);
		jsonw_karr_open(r.w, "rules");
		for (unsigned i = 0; i < c->n_rules; i++) {
			const struct rule *ru = &c->rules[i];

			if (!k->v.all && ru->uid != k->cred.uid)
				continue;
			jsonw_obj_open(r.w);
			jsonw_ku64(r.w, "rule", ru->id);
			jsonw_ku64(r.w, "uid", ru->uid);
			if (ru->comm)
				jsonw_kstr(r.w, "comm", ru->comm);
			else
				jsonw_kstr(r.w, "cgroup", ru->cgroup);
			jsonw_kstr(r.w, "mode", ru->mode == AM_SRV_OS ? "os" : "all");
			jsonw_kbool(r.w, "config", ru->conf);
			jsonw_obj_close(r.w);
		}
		jsonw_arr_close(r.w);
	}
	reply_send(c, k, &r);
}

static void op_snapshot(struct ctl *c, struct client *k, json_object *req)
{
	struct am_srv_target *t = req_target(c, k, req);
	struct am_srv_target_info ti;
	char head[160], *sum = NULL;
	size_t n;

	if (!t)
		return;
	am_srv_target_info(t, &ti);
	if (am_srv_target_summary_json(t, &sum, &n)) {
		reply_err(c, k, "out of memory");
	} else {
		/* numbers only before the record: no escaping needed */
		snprintf(head, sizeof(head), "{\"v\":%d,\"ok\":true,\"op\":\"snapshot\",\"id\":%u,"
			 "\"pid\":%d,\"alive\":%s,\"summary\":", AM_PROTO_VERSION, ti.id, ti.pid,
			 ti.alive ? "true" : "false");
		queue(c, k, head, strlen(head));
		queue(c, k, sum, n);
		queue(c, k, "}\n", 2);
	}
	free(sum);
	am_srv_put(t);
}

static void op_stream(struct ctl *c, struct client *k, json_object *req)
{
	struct am_srv_target *t = req_target(c, k, req);
	const char *from = jstr(req, "from");
	struct am_srv_target_info ti;
	struct reply r;
	char *buf;
	size_t n;
	uint64_t gap;
	bool over;

	if (!t)
		return;
	am_srv_target_info(t, &ti);
	k->cursor = 0;
	if (from && !strcmp(from, "now")) {
		/* skip what is there now */
		if (!am_srv_target_read(t, &k->cursor, &buf, &n, &gap, &over))
			free(buf);
	} else if (from && strcmp(from, "start")) {
		reply_err(c, k, "invalid from (start or now)");
		am_srv_put(t);
		return;
	}
	if (reply_open(&r, true)) {
		jsonw_kstr(r.w, "op", "stream");
		jsonw_ku64(r.w, "id", ti.id);
		jsonw_ku64(r.w, "pid", (uint64_t)ti.pid);
	}
	reply_send(c, k, &r);
	k->st = C_STREAM;
	k->t = t;
	k->gap = 0;
}

static void op_stats(struct ctl *c, struct client *k)
{
	struct am_srv_stats st;
	struct reply r;

	/* every user's targets are in these figures (events, rates, counts) */
	if (!k->v.all) {
		reply_err(c, k, "stats is root's (the daemon's figures cover every user's targets)");
		return;
	}
	am_srv_stats(c->srv, &st);
	if (reply_open(&r, true)) {
		jsonw_kstr(r.w, "op", "stats");
		jsonw_ku64(r.w, "events", st.events);
		jsonw_kf64(r.w, "events_per_s", st.events_per_s, 1);
		jsonw_kf64(r.w, "ringbuf_fill", st.ringbuf_fill, 4);
		jsonw_ku64(r.w, "rss_bytes", st.rss_bytes);
		jsonw_ku64(r.w, "targets", st.targets);
		jsonw_ku64(r.w, "dropped", st.dropped);
		jsonw_ku64(r.w, "clients", st.clients);
		jsonw_ku64(r.w, "clients_cut_off", c->cut_off);
		jsonw_ku64(r.w, "watch_refused", c->watch_refused);
		jsonw_ku64(r.w, "watch_overruns", c->watch_overruns);
		jsonw_ku64(r.w, "watch_forged", c->watch_forged);
	}
	reply_send(c, k, &r);
}

static void op_trace(struct ctl *c, struct client *k, json_object *req, int *fds, int n_fds)
{
	char err[512];
	pid_t pid = am_session_start(req, fds, n_fds, k->cred.uid, k->cred.gid, k->cred.pid, err,
				     sizeof(err));

	if (pid < 0) {
		reply_err(c, k, "%s", err);
		return;
	}
	k->st = C_SESSION;
	k->session = pid;
}

/* One request line. fds: descriptors that came with it (SCM_RIGHTS). */
static void handle_line(struct ctl *c, struct client *k, char *line, int *fds, int n_fds)
{
	json_object *req = json_tokener_parse(line), *v;
	const char *op;

	if (!req || !json_object_is_type(req, json_type_object)) {
		reply_err(c, k, "not a JSON object");
	} else if (!json_object_object_get_ex(req, "v", &v) || !json_object_is_type(v, json_type_int) ||
		   json_object_get_int(v) != AM_PROTO_VERSION) {
		reply_err(c, k, "unsupported protocol version (this daemon speaks \"v\": %d)",
			  AM_PROTO_VERSION);
	} else if (!(op = jstr(req, "op"))) {
		reply_err(c, k, "no \"op\"");
	} else if (!strcmp(op, "hello")) {
		op_hello(c, k);
	} else if (!strcmp(op, "add")) {
		op_add(c, k, req);
	} else if (!strcmp(op, "remove")) {
		op_remove(c, k, req);
	} else if (!strcmp(op, "list")) {
		op_list(c, k);
	} else if (!strcmp(op, "snapshot")) {
		op_snapshot(c, k, req);
	} else if (!strcmp(op, "stream")) {
		op_stream(c, k, req);
	} else if (!strcmp(op, "stats")) {
		op_stats(c, k);
	} else if (!strcmp(op, "trace")) {
		op_trace(c, k, req, fds, n_fds);
		n_fds = 0; /* the session took them */
	} else {
		reply_err(c, k, "unknown op");
	}
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	json_object_put(req);
}

/* ---- clients ---- */

static void client_free(struct ctl *c, struct client *k)
{
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	if (k->session > 0)
		am_session_end(k->session); /* its probes go with it */
	am_srv_put(k->t);
	free(k->in);
	free(k->out);
	free(k);
}

static void accept_clients(struct ctl *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		socklen_t len = sizeof(struct ucred);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct client *k, **cl;

		if (fd < 0)
			return;
		if (c->n_cl >= c->conf.max_clients) {
			static const char full[] = "{\"v\":1,\"ok\":false,\"error\":\"too many clients\"}\n";

			if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				errno = 0;
			close(fd);
			am_srv_count_drop(c->srv, 1);
			continue;
		}
		k = calloc(1, sizeof(*k));
		cl = realloc(c->cl, (c->n_cl + 1) * sizeof(*cl));
		if (!k || !cl || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &k->cred, &len)) {
			free(k);
			if (cl)
				c->cl = cl;
			close(fd);
			continue;
		}
		c->cl = cl;
		k->fd = fd;
		k->v.uid = k->cred.uid;
		k->v.all = k->cred.uid == 0;
		ev.data.ptr = k;
		epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
		c->cl[c->n_cl++] = k;
	}
}

/* Reads what came, with the descriptors passed along; handles every
 * complete line while the client is idle. */
static void read_client(struct ctl *c, struct client *k)
{
	char buf[8192], cbuf[CMSG_SPACE(sizeof(int) * AM_SESSION_MAX_FDS)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int fds[AM_SESSION_MAX_FDS], n_fds = 0;
	ssize_t n = recvmsg(k->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0 && !k->eof && k->st != C_SESSION) {
		/* shut down for writing only (a full close is EPOLLHUP): answer
		 * what it asked, then close */
		k->eof = true;
		k->closing = true;
		return;
	}
	if (n <= 0) {
		k->dead = true; /* gone: its stream or session ends */
		return;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int m = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < m; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (n_fds < AM_SESSION_MAX_FDS)
					fds[n_fds++] = fd;
				else
					close(fd);
			}
		}
	for (ssize_t i = 0; i < n; i++) {
		char ch = buf[i];

		if (ch != '\n') {
			if (k->in_skip)
				continue;
			if (k->in_len + 1 >= c->conf.max_request) {
				k->in_skip = true;
				continue;
			}
			if (!k->in && !(k->in = malloc(c->conf.max_request))) {
				k->dead = true;
				break;
			}
			k->in[k->in_len++] = ch;
			continue;
		}
		if (k->st == C_SESSION) {
			am_session_end(k->session); /* any line: stop (the client's Ctrl-C) */
		} else if (k->in_skip) {
			reply_err(c, k, "request line too long (max_request %zu bytes)", c->conf.max_request);
		} else if (k->st != C_IDLE) {
			reply_err(c, k, "busy: one request at a time (this connection streams or traces)");
		} else if (k->in) {
			k->in[k->in_len] = 0;
			handle_line(c, k, k->in, fds, n_fds);
			n_fds = 0;
		}
		k->in_len = 0;
		k->in_skip = false;
	}
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
}

/* Whatever a client waits for: its add's answer, its stream's records. */
static void service_client(struct ctl *c, struct client *k)
{
	char err[512], *buf;
	size_t n;
	uint64_t gap;
	bool over;
	int rc;

	if (k->st == C_ADDING) {
		rc = am_srv_target_ready(k->t, err, sizeof(err));
		if (rc == 0)
			return;
		if (rc > 0)
			reply_added(c, k, k->t, false);
		else
			reply_err(c, k, "%s", err);
		if (rc < 0)
			am_srv_remove(c->srv, k->t);
		am_srv_put(k->t);
		k->t = NULL;
		k->st = C_IDLE;
	} else if (k->st == C_STREAM && k->out_len < c->conf.client_buf / 2) {
		if (am_srv_target_read(k->t, &k->cursor, &buf, &n, &gap, &over))
			return;
		k->gap += gap;
		queue(c, k, buf, n);
		free(buf);
		if (over) {
			struct reply r;

			am_srv_target_end_reason(k->t, err, sizeof(err));
			if (reply_open(&r, true)) {
				jsonw_kbool(r.w, "end", true);
				jsonw_kstr(r.w, "reason", err);
				jsonw_ku64(r.w, "missed_bytes", k->gap);
			}
			reply_send(c, k, &r);
			am_srv_put(k->t);
			k->t = NULL;
			k->st = C_IDLE;
		}
	}
}

/* ---- the daemon ---- */

static void reload(struct ctl *c)
{
	struct am_srv_conf conf = c->conf;
	char err[512];

	if (!c->o->config)
		return;
	if (am_srv_conf_load(c->o->config, &conf, err, sizeof(err))) {
		am_err("serve: %s: %s (kept the previous settings)", c->o->config, err);
		return;
	}
	c->conf = conf;
	am_srv_set_conf(c->srv, &conf);
	conf_rules(c);
	am_info("serve: reloaded %s", c->o->config);
}

static void on_signal(struct ctl *c)
{
	struct signalfd_siginfo si;

	while (read(c->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			c->stop = true;
		else if (si.ssi_signo == SIGHUP)
			reload(c);
	}
	/* sessions that ended */
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p <= 0)
			break;
		for (unsigned i = 0; i < c->n_cl; i++) {
			struct client *k = c->cl[i];
			char end[96];

			if (k->session != p)
				continue;
			snprintf(end, sizeof(end), "{\"v\":%d,\"ok\":true,\"end\":true,\"status\":%d}\n",
				 AM_PROTO_VERSION, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			queue(c, k, end, strlen(end));
			k->session = 0;
			k->closing = true;
			k->st = C_IDLE;
		}
	}
}

/* One pass over the clients: service, send, close the dead. */
static void sweep(struct ctl *c)
{
	unsigned j = 0;

	for (unsigned i = 0; i < c->n_cl; i++) {
		struct client *k = c->cl[i];

		if (!k->dead)
			service_client(c, k);
		if (!k->dead)
			flush_client(c, k);
		if (k->dead)
			client_free(c, k);
		else
			c->cl[j++] = k;
	}
	c->n_cl = j;
	am_srv_set_clients(c->srv, c->n_cl);
}

static void loop(struct ctl *c)
{
	struct epoll_event evs[64];
	uint64_t last_house = 0;

	while (!c->stop) {
		int n = epoll_wait(c->epfd, evs, 64, c->n_pend ? 10 : 1000);

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &c->lfd) {
				accept_clients(c);
			} else if (p == &c->sfd) {
				on_signal(c);
			} else if (p == &c->nfd) {
				on_watch(c);
			} else if (p == &c->wfd) {
				uint64_t cnt;

				if (read(c->wfd, &cnt, sizeof(cnt)) < 0)
					cnt = 0;
			} else {
				struct client *k = p;

				/* what it sent before it went is still read */
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
					read_client(c, k);
				if (evs[i].events & (EPOLLHUP | EPOLLERR))
					k->dead = true; /* closed: its stream or session ends */
			}
		}
		if (c->n_pend)
			service_pending(c);
		sweep(c);
		if (am_now_ns() - last_house > 1000000000ULL) {
			am_srv_housekeep(c->srv);
			last_house = am_now_ns();
		}
	}
}

/* ---- the socket ---- */

/* The directory of the default socket: root's, 0750, group group. */
static int make_dir(const char *path, gid_t gid)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0750) && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != 0) {
		errno = ENOTDIR;
		return -1;
	}
	if (chown(dir, 0, gid) || chmod(dir, gid ? 0750 : 0755))
		return -1;
	return 0;
}

/* Binds the control socket; a stale one (nobody listening) is replaced,
 * a live one is an error. -1 after one line on stderr. */
static int listen_socket(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = c->o->socket;
	gid_t gid = 0;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		am_err("serve: socket path too long: %s", path);
		return -1;
	}
	if (c->o->group) {
		struct group *g = getgrnam(c->o->group);

		if (!g) {
			am_err("serve: no group '%s'", c->o->group);
			return -1;
		}
		gid = g->gr_gid;
	} else {
		struct group *g = getgrnam("allocmap");

		gid = g ? g->gr_gid : 0;
	}
	if (c->o->default_socket && make_dir(path, gid)) {
		am_err("serve: cannot make the socket's directory for %s: %s", path, strerror(errno));
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (!lstat(path, &st)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = S_ISSOCK(st.st_mode) && probe >= 0 &&
			    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (probe >= 0)
			close(probe);
		if (live || !S_ISSOCK(st.st_mode)) {
			am_err("serve: %s: %s", path, live ? "another daemon listens there" :
			       "exists and is not a socket");
			close(fd);
			return -1;
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chown(path, 0, gid) ||
	    chmod(path, gid ? 0660 : 0666) || listen(fd, 128)) {
		am_err("serve: cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	c->lfd = fd;
	return 0;
}

static int add_fd(struct ctl *c, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Signals to the signalfd, blocked in every thread (the target threads
 * inherit the mask). */
static int setup(struct ctl *c)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	c->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	c->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->sfd < 0 || c->wfd < 0 || c->epfd < 0) {
		am_err("serve: %s", strerror(errno));
		return -1;
	}
	if (listen_socket(c))
		return -1;
	if (add_fd(c, c->lfd, &c->lfd) || add_fd(c, c->sfd, &c->sfd) || add_fd(c, c->wfd, &c->wfd))
		return -1;
	return 0;
}

int am_serve_run(const struct am_serve_opts *o)
{
	struct ctl c = { .o = o, .lfd = -1, .epfd = -1, .sfd = -1, .wfd = -1, .nfd = -1 };
	struct am_http *http = NULL;
	char err[512];
	int rc = 1;

	am_srv_conf_default(&c.conf);
	if (o->config && am_srv_conf_load(o->config, &c.conf, err, sizeof(err))) {
		am_err("serve: %s: %s", o->config, err);
		return AM_SERVE_EX_CONFIG;
	}
	if (setup(&c) == 0 && (c.srv = am_srv_new(&c.conf, c.wfd))) {
		http = am_http_start(c.srv, &o->http, err, sizeof(err));
		if (!http && err[0] && !o->http.given) {
			am_warn("serve: no HTTP: %s (--http ADDR:PORT to choose, --http off)", err);
			err[0] = 0;
		}
		if (http || !err[0]) {
			conf_rules(&c);
			am_info("serve: listening on %s", o->socket);
			if (http)
				am_info("serve: HTTP on %s%s%s:%u", strchr(o->http.addr, ':') ? "[" : "",
					o->http.addr, strchr(o->http.addr, ':') ? "]" : "", am_http_port(http));
			loop(&c);
			rc = 0;
		} else {
			am_err("serve: %s", err);
		}
	}
	am_http_stop(http);   /* before the targets go: its threads read them */
	/* SIGTERM: every target stopped and detached, every client gone */
	for (unsigned i = 0; i < c.n_cl; i++) {
		pid_t sp = c.cl[i]->session;

		client_free(&c, c.cl[i]);
		if (sp > 0) /* stopped as on Ctrl-C: its probes detached before the daemon exits */
			while (waitpid(sp, NULL, 0) < 0 && errno == EINTR)
				;
	}
	free(c.cl);
	for (unsigned i = 0; i < c.n_rules; i++) {
		free(c.rules[i].comm);
		free(c.rules[i].cgroup);
	}
	if (c.nfd >= 0)
		close(c.nfd);
	for (unsigned i = 0; i < c.n_pend; i++)
		close(c.pend[i].pidfd);
	if (c.srv)
		am_srv_stop_all(c.srv);
	am_srv_free(c.srv);
	if (c.lfd >= 0) {
		unlink(o->socket);
		close(c.lfd);
	}
	if (!rc)
		am_info("serve: stopped; every target detached");
	return rc;
}
