// SPDX-License-Identifier: GPL-2.0
/* access.c - who may trace what through `allocmap serve` (srv_int.h). A
 * non-root client may trace what it could ptrace itself, and the kernel
 * decides it: a forked child drops to the client's uid and gid (no
 * supplementary groups, no capabilities) and opens /proc/PID/environ,
 * which the kernel allows under PTRACE_MODE_READ_FSCREDS only (same real,
 * effective and saved ids, target dumpable, no other LSM objection). The
 * pid was pinned by a pidfd before, and is checked still to be that
 * process after. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "srv_int.h"

/* The same pid namespace as the daemon's? */
static bool same_pidns(pid_t cpid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", cpid);
	if (stat(path, &a) || stat("/proc/self/ns/pid", &b))
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* In a child with the client's ids: can it open /proc/PID/environ? Only
 * raw system calls between fork and _exit (the daemon has threads). */
static bool kernel_says_yes(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64];
	pid_t kid;
	int st;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	kid = fork();
	if (kid < 0)
		return false;
	if (kid == 0) {
		int fd;

		if (syscall(SYS_setgroups, 0, NULL) || syscall(SYS_setresgid, gid, gid, gid) ||
		    syscall(SYS_setresuid, uid, uid, uid))
			_exit(2);
		fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		_exit(fd >= 0 ? 0 : 1);
	}
	while (waitpid(kid, &st, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int am_srv_may_trace(pid_t pid, int pidfd, uid_t uid, gid_t gid, pid_t cpid, char *err, size_t errlen)
{
	if (pid == getpid()) {
		snprintf(err, errlen, uid == 0 ? "pid %d is the daemon itself" :
			 "no such process (or not yours to trace): pid %d", pid);
		return -1;
	}
	if (uid == 0)
		return 0;
	if (cpid > 0 && !same_pidns(cpid)) {
		snprintf(err, errlen, "clients in another pid namespace are not supported");
		return -1;
	}
	if (!kernel_says_yes(pid, uid, gid) || syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0)) {
		snprintf(err, errlen, "no such process (or not yours to trace): pid %d", pid);
		return -1;
	}
	return 0;
}

/* Reads "Uid:" or "Gid:" (real, effective, saved, fs) from status. */
static bool ids_are(const char *status, const char *key, unsigned id)
{
	const char *p = strstr(status, key);
	unsigned r, e, s, f;

	return p && sscanf(p + strlen(key), "%u %u %u %u", &r, &e, &s, &f) == 4 && r == id &&
	       e == id && s == id && f == id;
}

bool am_srv_same_owner(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64], buf[4096];
	struct stat st;
	ssize_t n;
	int fd;

	/* a process that is not dumpable has its /proc directory owned by root */
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st) || st.st_uid != uid || st.st_gid != gid)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return ids_are(buf, "\nUid:", uid) && ids_are(buf, "\nGid:", gid);
}
