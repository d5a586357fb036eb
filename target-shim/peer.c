/*
 * peer.c: the identity of a socket's peer process (include/sysgate/peer.h),
 * read through a pidfd from /proc. No allocation; every read is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sysgate/peer.h"

#define STATUS_MAX 8192 /* a status is some 1.5 KiB */

/* Reads a small file whole into buf (NUL-terminated): 0 or -errno. */
static int read_small(const char *path, char *buf, size_t cap)
{
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	while (off + 1 < cap) {
		ssize_t n = read(fd, buf + off, cap - 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return off ? 0 : -ENODATA;
}

/* The text after "\nKEY:" in buf (the first line has no '\n' before it,
 * and no key we read is on it), or NULL. The one field a process writes
 * itself, Name:, comes first and has its newlines escaped by the kernel,
 * so a target cannot plant a line of its own. */
static const char *field(const char *buf, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s:", key);
	p = strstr(buf, pat);
	return p ? p + strlen(pat) : NULL;
}

/* The pid a pidfd names in this process's /proc: > 0, or -ESRCH when the
 * process is gone (the kernel then says -1) or not visible here (0). */
static int pidfd_pid(int pidfd, pid_t *pid)
{
	char path[64], buf[512];
	const char *v;
	char *end;
	long n;
	int r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	v = strstr(buf, "\nPid:");
	if (!v)
		return -EBADF; /* not a pidfd */
	n = strtol(v + 5, &end, 10);
	if (end == v + 5 || n <= 0)
		return -ESRCH;
	*pid = (pid_t)n;
	return 0;
}

/* The nth (from 0) number of field key, in base: 0 or -EPROTO. */
static int field_num(const char *buf, const char *key, int nth, int base, unsigned long long *out)
{
	const char *v = field(buf, key);

	if (!v)
		return -EPROTO;
	for (int i = 0; i <= nth; i++) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, base);
		if (end == v || errno)
			return -EPROTO;
		*out = n;
		v = end;
	}
	return 0;
}

/* Fills p from the status text of a process. A status without Seccomp:
 * is a kernel without seccomp, where sysgate cannot run: refused like any
 * status that does not parse. */
static int parse_status(const char *buf, sg_peer_t *p)
{
	unsigned long long uid, gid, cap, sec;

	if (field_num(buf, "Uid", 1, 10, &uid) < 0 || field_num(buf, "Gid", 1, 10, &gid) < 0 ||
	    field_num(buf, "CapEff", 0, 16, &cap) < 0 || field_num(buf, "Seccomp", 0, 10, &sec) < 0)
		return -EPROTO;
	p->uid = (uid_t)uid; /* the effective ids: the second of each line */
	p->gid = (gid_t)gid;
	p->cap_eff = cap;
	p->seccomp = sec > 2 ? 2 : (int)sec;
	return 0;
}

static uint64_t userns_of(const char *proc)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/ns/user", proc);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* The process a pidfd names, at pid, has not been reaped: signal 0 finds
 * it (EPERM says it exists too, only not ours to signal). A process
 * outside our pid namespace cannot be signalled (EINVAL) though our /proc
 * may show it: its fdinfo then says whether it is still at pid (-1 once
 * it is reaped). */
static bool pidfd_alive(int pidfd, pid_t pid)
{
	pid_t again;

	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM)
		return true;
	if (errno == ESRCH)
		return false;
	return pidfd_pid(pidfd, &again) == 0 && again == pid;
}

int sg_peer_read_pidfd(int pidfd, unsigned what, sg_peer_t *p)
{
	char proc[32], path[64], buf[STATUS_MAX];
	pid_t pid;
	int r;

	memset(p, 0, sizeof(*p));
	r = pidfd_pid(pidfd, &pid);
	if (r < 0)
		return r;
	snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	snprintf(path, sizeof(path), "%s/status", proc);
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	r = parse_status(buf, p);
	if (r < 0)
		return r;
	if (what & SG_PEER_USERNS)
		p->userns = userns_of(proc);
	/* The pid is freed only once the process is reaped, and from then on
	 * no signal finds it through its pidfd: alive now means the status
	 * read was the process's own, not a newcomer's on a reused pid. */
	if (!pidfd_alive(pidfd, pid))
		return -ESRCH;
	p->pid = pid;
	return 0;
}

int sg_peer_read_self(sg_peer_t *p)
{
	char buf[STATUS_MAX];
	int r;

	memset(p, 0, sizeof(*p));
	r = read_small("/proc/self/status", buf, sizeof(buf));
	if (r == 0)
		r = parse_status(buf, p);
	if (r < 0)
		return r;
	p->pid = getpid();
	p->userns = userns_of("/proc/self");
	return 0;
}

int sg_peer_pidfd(int sock)
{
	socklen_t len = sizeof(int);
	int pidfd = -1;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		return -errno;
	return pidfd >= 0 ? pidfd : -ESRCH;
}
