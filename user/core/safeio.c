// SPDX-License-Identifier: GPL-2.0
/* safeio.c - opening target-controlled files without blocking and output
 * files without following another user's symlink (see safeio.h). */
#include "safeio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int am_open_target(const char *path, bool nofollow)
{
	struct stat st;
	int fd, e;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -1;
	if (fstat(fd, &st)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = ENXIO;
		return -1;
	}
	return fd;
}

FILE *am_fopen_target(const char *path)
{
	int fd = am_open_target(path, false);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* Is the directory that holds path world-writable and sticky (/tmp,
 * /var/tmp, /dev/shm)? There another user can plant a name before us. */
static bool in_sticky_dir(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		snprintf(dir, dirlen, ".");
	else if (slash == path)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
	if (stat(dir, &st))
		return false;
	return S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && (st.st_mode & S_IWOTH);
}

static const char *const *redir_paths;
static const int *redir_fds;
static size_t redir_n;
static bool redir_on;

void am_output_redirect(const char *const *paths, const int *fds, size_t n)
{
	redir_paths = paths;
	redir_fds = fds;
	redir_n = n;
	redir_on = true;
}

/* The descriptor the client opened for path (a copy), or -1. */
static int redirected(const char *path, char *err, size_t errlen)
{
	for (size_t i = 0; i < redir_n; i++)
		if (!strcmp(redir_paths[i], path)) {
			int fd = fcntl(redir_fds[i], F_DUPFD_CLOEXEC, 3);

			if (fd < 0)
				snprintf(err, errlen, "%s", strerror(errno));
			return fd;
		}
	snprintf(err, errlen, "not opened by the client (the daemon opens no path for it)");
	errno = EPERM;
	return -1;
}

int am_open_output(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd, fl;

	if (redir_on)
		return redirected(path, err, errlen);

	if (!in_sticky_dir(path, dir, sizeof(dir))) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (fd < 0)
			snprintf(err, errlen, "%s", strerror(errno));
		return fd;
	}
	/* a new file of our own, or an existing one that is ours */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd >= 0)
		return fd;
	if (errno != EEXIST) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, errlen, "it is a symlink in the world-writable sticky "
				 "directory %s (not followed)", dir);
		else
			snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "it exists in the world-writable sticky directory %s "
			 "and is not a regular file of uid %u", dir, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) || (fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

FILE *am_fopen_output(const char *path, char *err, size_t errlen)
{
	int fd = am_open_output(path, err, errlen);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
	}
	return f;
}
