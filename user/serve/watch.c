// SPDX-License-Identifier: GPL-2.0
/* watch.c - exec events for `allocmap serve`'s watch rules (srv_int.h):
 * the kernel's process-events connector (netlink, NETLINK_CONNECTOR,
 * CN_IDX_PROC) tells of every exec on the machine; the main loop matches
 * each against the rules (comm pattern, cgroup) and adds what matches. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include "srv_int.h"

/* One netlink message: its header, the connector's, then the payload. */
struct cn_msg_buf {
	struct nlmsghdr nl;
	struct cn_msg cn;
	union {
		enum proc_cn_mcast_op op;
		struct proc_event ev;
	};
} __attribute__((packed));

int am_watch_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	struct cn_msg_buf m;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	/* room for a burst of execs (root may pass rmem_max); an overrun is
	 * counted and recovered by a rescan */
	{
		int sz = 4 << 20;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	memset(&m, 0, sizeof(m));
	m.nl.nlmsg_len = sizeof(m.nl) + sizeof(m.cn) + sizeof(m.op);
	m.nl.nlmsg_type = NLMSG_DONE;
	m.nl.nlmsg_pid = (__u32)getpid();
	m.cn.id.idx = CN_IDX_PROC;
	m.cn.id.val = CN_VAL_PROC;
	m.cn.len = sizeof(m.op);
	m.op = PROC_CN_MCAST_LISTEN;
	if (send(fd, &m, m.nl.nlmsg_len, 0) < 0)
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int am_watch_read(int fd, void (*fn)(void *ctx, pid_t pid), void *ctx, uint64_t *overruns,
		  uint64_t *forged)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	int n = 0;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (len < 0 && errno == ENOBUFS) {
			(*overruns)++; /* events lost: the caller rescans */
			continue;
		}
		if (len <= 0)
			return n; /* EAGAIN: all read */
		/* only the kernel's messages: a local process may send to our port */
		if (fl != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0) {
			(*forged)++;
			continue;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			struct cn_msg *cn = NLMSG_DATA(h);
			struct proc_event ev;

			/* the event sits at a 4-byte offset: copied out, aligned */
			if (h->nlmsg_type != NLMSG_DONE || cn->id.idx != CN_IDX_PROC || cn->len < sizeof(ev))
				continue;
			memcpy(&ev, cn->data, sizeof(ev));
			/* the thread group: an exec makes its thread the leader */
			if (ev.what == PROC_EVENT_EXEC) {
				fn(ctx, (pid_t)ev.event_data.exec.process_tgid);
				n++;
			}
		}
	}
}
