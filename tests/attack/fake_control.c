/*
 * fake_control: a target that impersonates a running sysgated to the next
 * `sysgated --takeover`. Run as a target of sysgated's uid (uid 0 without
 * capabilities owns the root-owned socket directory), it moves the real
 * sockets aside, binds its own at both paths and answers a takeover
 * request with its own two listening sockets and no targets, in the
 * takeover's wire format (supervisor/takeover_msg.h, written out here:
 * the attack programs build without the supervisor's headers). A new
 * supervisor that accepted would serve sockets the target also holds and
 * accepts on.
 *
 *   fake_control SOCKET
 *
 * Prints "bound" once its sockets are in place, then "accepted",
 * "refused" or "no answer" for what the new supervisor said. Exits 0
 * after one request, 2 when it cannot set up.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define TK_MAGIC 0x4b544753u
#define TK_VERSION 1u
enum { TK_REQUEST = 1, TK_BEGIN, TK_TARGET, TK_END, TK_ACCEPT, TK_REFUSE };

struct hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t length;
	uint32_t reserved;
};
struct begin {
	struct hdr h;
	uint32_t pid, ntargets;
	uint64_t next_target_id;
};
struct end {
	struct hdr h;
	uint32_t ntargets, reserved;
};
_Static_assert(sizeof(struct begin) == 32 && sizeof(struct end) == 24, "wire sizes");

static char msg[8192];

static void header(void *m, uint16_t type, size_t len)
{
	struct hdr *h = m;

	memset(m, 0, len);
	h->magic = TK_MAGIC;
	h->version = TK_VERSION;
	h->type = type;
	h->length = (uint32_t)len;
}

/* Binds a listening SEQPACKET socket at path, the file there moved aside. */
static int bind_over(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char aside[sizeof(sa.sun_path) + 8];
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	snprintf(aside, sizeof(aside), "%s.real", path);
	if (rename(path, aside) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		return -1;
	return fd;
}

static int send_msg(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

int main(int argc, char **argv)
{
	char ctl_path[200];
	struct begin b;
	struct end e;
	struct pollfd p;
	int fds[2], conn;
	ssize_t n;

	if (argc != 2)
		return 2;
	snprintf(ctl_path, sizeof(ctl_path), "%s.takeover", argv[1]);
	fds[0] = bind_over(argv[1]);
	fds[1] = bind_over(ctl_path);
	if (fds[0] < 0 || fds[1] < 0) {
		printf("bind: %s\n", strerror(errno));
		return 2;
	}
	printf("bound\n");
	fflush(stdout);
	conn = accept4(fds[1], NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || read(conn, msg, sizeof(msg)) <= 0) {
		printf("no request: %s\n", strerror(errno));
		return 2;
	}
	header(&b, TK_BEGIN, sizeof(b));
	b.pid = (uint32_t)getpid();
	b.next_target_id = 1;
	header(&e, TK_END, sizeof(e));
	(void)send_msg(conn, &b, sizeof(b), fds, 2);
	(void)send_msg(conn, &e, sizeof(e), NULL, 0);
	p.fd = conn;
	p.events = POLLIN;
	n = poll(&p, 1, 30000) == 1 ? read(conn, msg, sizeof(msg)) : 0;
	if (n >= (ssize_t)sizeof(struct hdr) && ((struct hdr *)msg)->type == TK_ACCEPT)
		printf("accepted\n");
	else
		printf("%s\n", n > 0 ? "refused" : "no answer");
	return 0;
}
