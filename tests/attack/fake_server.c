/*
 * fake_server: a target that impersonates sysgated to the next
 * sysgate-run. Run as a target of sysgated's uid (uid 0 without
 * capabilities owns the root-owned socket directory), it renames the real
 * socket aside, binds its own in its place and relays the first launch to
 * the real one, keeping a copy of any fd the launcher sends: the new
 * target's listener, whose calls it could then answer itself. A relay, so
 * that nothing sysgated says needs forging: only the sender differs.
 *
 *   fake_server SOCKET
 *
 * Prints "bound" once its socket is in place, then "got a listener" if
 * the launcher handed it one, and "launcher left" when the launch ends.
 * Exits 0 after one launch, 2 when it cannot set up.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MSG 65536

static char msg[MAX_MSG];

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Moves one message (and its fds) from one socket to the other. 1 when
 * it carried an fd, 0 without, -1 when from is closed. */
static int relay(int from, int to, int *kept)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(from, &m, MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (n <= 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	iov.iov_len = (size_t)n;
	if (fd < 0) {
		m.msg_control = NULL;
		m.msg_controllen = 0;
	} else {
		m.msg_controllen = CMSG_SPACE(sizeof(int));
		*kept = dup(fd);
	}
	(void)sendmsg(to, &m, MSG_NOSIGNAL);
	return fd >= 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa, aside;
	char moved[sizeof(sa.sun_path) + 8];
	int srv, conn, real, kept = -1;

	if (argc != 2 || unix_addr(&sa, argv[1]) < 0)
		return 2;
	snprintf(moved, sizeof(moved), "%s.real", argv[1]);
	if (unix_addr(&aside, moved) < 0 || rename(argv[1], moved) < 0) {
		printf("rename: %s\n", strerror(errno));
		return 2;
	}
	srv = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv, 4) < 0) {
		printf("bind: %s\n", strerror(errno));
		return 2;
	}
	printf("bound\n");
	fflush(stdout);
	conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
	real = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (conn < 0 || real < 0 || connect(real, (struct sockaddr *)&aside, sizeof(aside)) < 0) {
		printf("relay: %s\n", strerror(errno));
		return 2;
	}
	for (int i = 0; i < 64; i++) {
		struct pollfd p[2] = { { .fd = conn, .events = POLLIN }, { .fd = real, .events = POLLIN } };

		if (poll(p, 2, 20000) <= 0)
			break;
		if (p[0].revents) {
			int r = relay(conn, real, &kept);

			if (r < 0)
				break;
			if (r > 0) {
				printf("got a listener\n");
				fflush(stdout);
			}
		}
		if (p[1].revents && relay(real, conn, &kept) < 0)
			break;
	}
	printf("launcher left\n");
	return 0;
}
