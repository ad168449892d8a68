// SPDX-License-Identifier: GPL-2.0
/* srv_int.h - the inside of `allocmap serve`'s core, shared by its files:
 * the daemon's settings, starting and stopping targets (srv.c), the
 * bounded history of a target's records (hist.c), the access check
 * (access.c) and the control socket (ctl.c). What the HTTP side may use is
 * srv.h. */
#ifndef ALLOCMAP_SRV_INT_H
#define ALLOCMAP_SRV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "srv.h"

/* The daemon's settings: command line, then the config file (reloaded on
 * SIGHUP: the limits apply to what comes next). */
#define AM_CONF_WATCH_MAX 32
struct am_srv_conf {
	unsigned max_targets;     /* targets kept (alive or lingering), 256 */
	unsigned max_clients;     /* control-socket clients, 256 */
	size_t   history_bytes;   /* per target: JSONL history, 4 MiB */
	unsigned ringbuf_mb;      /* per target ring buffer in mode all, 32 MiB (as trace's) */
	unsigned ringbuf_os_mb;   /* in mode os, 8 MiB (each OS request carries its stack copy:
	                             1 MiB lost events at python3's exit) */
	unsigned linger_s;        /* an exited target's data is kept this long, 300 s */
	size_t   max_request;     /* request line, 64 KiB */
	size_t   client_buf;      /* a client's unsent output, 8 MiB: beyond, it is cut off */
	unsigned pprof_timeout_ms;/* a profile built in the target's thread, 5000 */
	/* `watch = comm PATTERN [os|all]` / `watch = cgroup /PATH [os|all]`:
	 * root's rules, replaced as a whole on every reload */
	struct am_conf_watch {
		char pat[256];
		bool cgroup;
		bool all;
	} watch[AM_CONF_WATCH_MAX];
	unsigned n_watch;
};

void am_srv_conf_default(struct am_srv_conf *c);
/* Reads `key = value` lines into c (unknown keys and bad values: one line
 * in err, -1; c untouched then). 0, or -1. */
int am_srv_conf_load(const char *path, struct am_srv_conf *c, char *err, size_t errlen);

/* ---- the bounded history (hist.c): whole JSON lines in a byte ring,
 * oldest dropped first; positions are absolute byte offsets so a reader
 * keeps a cursor. Not locked: its owner's mutex guards it. ---- */
struct am_hist {
	char    *buf;
	size_t   cap;
	uint64_t start, end;      /* [start, end): the lines kept */
	char    *part;            /* a line being written */
	size_t   plen, pcap;
	bool     skip;            /* the current line was too long: dropped */
	uint64_t dropped;         /* whole lines dropped */
};

int  am_hist_init(struct am_hist *h, size_t cap);
void am_hist_free(struct am_hist *h);
/* Appends bytes (any split of lines). */
void am_hist_write(struct am_hist *h, const char *d, size_t n);
/* Copies [from, end) (from raised to start) into *out (malloc'ed). */
int  am_hist_copy(const struct am_hist *h, uint64_t from, char **out, size_t *len);

/* ---- targets (srv.c) ---- */
struct am_srv_add {
	pid_t pid;
	int   pidfd;              /* taken before the access check (ownership moves to the target) */
	enum am_srv_mode mode;
	uid_t uid;                /* the client's: who may see it */
	gid_t gid;
	bool  owner_check;        /* non-root owner: stop when the process's ids change */
};

struct am_srv *am_srv_new(const struct am_srv_conf *conf, int wake_fd);
void am_srv_set_conf(struct am_srv *s, const struct am_srv_conf *conf);
/* Starts tracing (its thread attaches). NULL with a reason in err (too many
 * targets, out of memory). The reference returned is the caller's. */
struct am_srv_target *am_srv_add(struct am_srv *s, const struct am_srv_add *a, char *err, size_t errlen);
/* 1 attached (tracing), 0 still attaching, -1 failed (reason in err). */
int  am_srv_target_ready(struct am_srv_target *t, char *err, size_t errlen);
/* Stops it and takes it off the list (the thread ends on its own). */
void am_srv_remove(struct am_srv *s, struct am_srv_target *t);
/* The target with this id or pid (0: any) v may see, a new reference. */
struct am_srv_target *am_srv_find_id(struct am_srv *s, const struct am_srv_viewer *v, uint32_t id);
/* Drops exited targets older than the linger time. */
void am_srv_housekeep(struct am_srv *s);
/* Stops every target and waits for their threads (SIGTERM). */
void am_srv_stop_all(struct am_srv *s);
void am_srv_free(struct am_srv *s);
void am_srv_set_clients(struct am_srv *s, unsigned n);
void am_srv_count_drop(struct am_srv *s, uint64_t n);

/* A stream reader: the history from *cursor on (copied, malloc'ed),
 * *cursor moved to its end; *gap: bytes dropped before the reader got
 * them. *over: the target ended and everything was read. 0, or -1. */
int  am_srv_target_read(struct am_srv_target *t, uint64_t *cursor, char **buf, size_t *len,
			uint64_t *gap, bool *over);
/* The latest summary as the JSON "summary" record (one line, malloc'ed). */
int  am_srv_target_summary_json(struct am_srv_target *t, char **buf, size_t *len);
/* "attaching", "tracing", "failed" or "ended". */
const char *am_srv_target_state(struct am_srv_target *t);
/* Why the target ended ("" while running). */
void am_srv_target_end_reason(struct am_srv_target *t, char *out, size_t len);

/* ---- watch rules' exec events (watch.c) ---- */
/* A netlink socket on the kernel's process events (root, initial network
 * namespace), non-blocking; -1 with errno. */
int am_watch_open(void);
/* fn for every pid that exec'd since the last read; the count of them.
 * *overruns counts the times the kernel dropped events (socket full: the
 * caller rescans), *forged the messages not from the kernel (ignored). */
int am_watch_read(int fd, void (*fn)(void *ctx, pid_t pid), void *ctx, uint64_t *overruns,
		  uint64_t *forged);

/* ---- access (access.c) ---- */
/* May uid/gid (a client in pid namespace of pid cpid; 0: not checked, a
 * watch rule's owner was when the rule was made) trace pid? pidfd:
 * opened on pid before the check, still that process after it. 0, or -1
 * with the reason in err (the same words whether it exists or not when it
 * is not the client's). Root: always, but never the daemon itself. */
int am_srv_may_trace(pid_t pid, int pidfd, uid_t uid, gid_t gid, pid_t cpid, char *err, size_t errlen);
/* Are pid's real, effective and saved uid and gid still uid/gid, and is
 * it dumpable (its /proc directory is its euid's)? */
bool am_srv_same_owner(pid_t pid, uid_t uid, gid_t gid);

#endif /* ALLOCMAP_SRV_INT_H */
