/*
 * The raw C supervisors of sysgate-bench (see raw_notify.h). What each one
 * does per call mirrors the work sysgated does for the same policy, and no
 * more, so that the ratio between the two is the cost of sysgated itself:
 * its event loop, its call objects and the Lua handler.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "raw_broker.h"
#include "raw_notify.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

struct raw {
	int sock;
	raw_kind_t kind;
	bool sync;
	int fd; /* the listener */
	char path[PATH_MAX];
};

int recv_fd(int sock)
{
	char c;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static int id_valid(int fd, uint64_t id)
{
	return ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 ? 0 : -errno;
}

/* The string at addr in pid's memory, as supervisor/receive.c's read_str
 * reads it: process_vm_readv one page at a time up to the NUL, then
 * NOTIF_ID_VALID before the bytes are trusted. Its length or -errno. */
static ssize_t read_str(int fd, const struct seccomp_notif *req, uint64_t addr, char *buf,
			size_t cap)
{
	const size_t page = 4096;
	size_t off = 0;
	ssize_t len = -ENAMETOOLONG;

	if (addr == 0 || req->pid == 0)
		return -EFAULT;
	while (off < cap) {
		size_t chunk = page - ((addr + off) & (page - 1));
		struct iovec local, remote;
		ssize_t n;
		char *nul;

		if (chunk > cap - off)
			chunk = cap - off;
		local.iov_base = buf + off;
		local.iov_len = chunk;
		remote.iov_base = (void *)(uintptr_t)(addr + off);
		remote.iov_len = chunk;
		n = process_vm_readv((pid_t)req->pid, &local, 1, &remote, 1, 0);
		if (n <= 0)
			return -EFAULT;
		nul = memchr(buf + off, '\0', (size_t)n);
		if (nul) {
			len = nul - buf;
			break;
		}
		off += (size_t)n;
	}
	if (id_valid(fd, req->id) < 0)
		return -ENOENT;
	return len;
}

/* The verdict of the path policies: deny RAW_DENIED_PATH, allow (or open)
 * the rest; a path that cannot be read is denied with its error, as
 * sysgated does. The path is openat's second argument. false when the
 * call is already answered (the brokered open's ADDFD+SEND) or gone. */
static bool answer_path(struct raw *r, const struct seccomp_notif *req,
			struct seccomp_notif_resp *resp)
{
	ssize_t n = read_str(r->fd, req, req->data.args[1], r->path, sizeof(r->path));
	int err;

	if (n < 0) {
		resp->error = (int32_t)n;
	} else if (strcmp(r->path, RAW_DENIED_PATH) == 0) {
		resp->error = -EPERM;
	} else if (r->kind == RAW_BROKER) {
		err = raw_broker_open(r->fd, req, r->path);
		if (err == 0 || err == -ENOENT)
			return false;
		resp->error = err;
	} else {
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	}
	return true;
}

static void *raw_serve(void *arg)
{
	struct raw *r = arg;
	struct seccomp_notif_sizes sz;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	int fd = recv_fd(r->sock);

	if (fd < 0)
		return NULL;
	r->fd = fd;
	syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz);
	req = calloc(1, sz.seccomp_notif > sizeof(*req) ? sz.seccomp_notif : sizeof(*req));
	resp = calloc(1, sz.seccomp_notif_resp > sizeof(*resp) ? sz.seccomp_notif_resp : sizeof(*resp));
	if (r->kind == RAW_BROKER && raw_broker_init() < 0)
		goto out;
	if (r->sync)
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
	if (write(r->sock, "g", 1) != 1)
		goto out;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (!(p.revents & POLLIN))
			break; /* POLLHUP: the child is gone */
		memset(req, 0, sizeof(*req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
			continue;
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		if (r->kind == RAW_CONTINUE)
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		else if (!answer_path(r, req, resp))
			continue;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
out:
	free(req);
	free(resp);
	close(fd);
	return NULL;
}

/* The child: filter, hand the listener over, wait for the go, measure. */
static void raw_child(int sock, int out, int nr, double (*loop)(long), long calls)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	char c;
	int fd;
	struct iovec iov = { &c, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	/* Only nr is notified (getppid or openat), and the handoff below
	 * makes neither, so it is never forwarded: this child needs no
	 * helper thread. */
	seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
	if (seccomp_load(ctx) < 0)
		_exit(1);
	fd = seccomp_notify_fd(ctx);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	c = 'f';
	if (sendmsg(sock, &mh, 0) != 1 || read(sock, &c, 1) != 1)
		_exit(1);
	close(fd);
	dprintf(out, "%.1f\n", loop(calls));
	_exit(0);
}

double raw_run(int nr, raw_kind_t kind, bool sync, double (*loop)(long calls), long calls)
{
	struct raw *r = calloc(1, sizeof(*r));
	int sv[2], status;
	pthread_t th;
	double ns = -1;
	char buf[64] = "";
	ssize_t n;
	int p[2];
	pid_t pid;

	if (!r)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe(p) < 0) {
		free(r);
		return -1;
	}
	r->sock = sv[0];
	r->kind = kind;
	r->sync = sync;
	pthread_create(&th, NULL, raw_serve, r);
	pid = fork();
	if (pid == 0)
		raw_child(sv[1], p[1], nr, loop, calls);
	close(sv[1]);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	if (n > 0)
		ns = strtod(buf, NULL);
	close(p[0]);
	waitpid(pid, &status, 0);
	pthread_join(th, NULL);
	close(sv[0]);
	free(r);
	return ns;
}
