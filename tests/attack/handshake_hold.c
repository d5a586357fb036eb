/*
 * handshake_hold: a tenant that holds handshake slots. Becomes UID and
 * GID (an allowed launcher that is not root), opens N connections to SOCKET and
 * sends nothing on them, so that each one holds a handshake slot in
 * sysgated until its timeout. Prints "connected N" once all are open,
 * then keeps them: a connection cut by the handshake timeout is opened
 * again at once (the slot is taken back before anyone else's launch can
 * get it), one refused for another reason (a quota) is not. Stops when
 * its stdin has a line or ends (at the latest after two minutes) and
 * prints "refused R reopened O".
 *
 *   handshake_hold UID GID N SOCKET
 */
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_N 256

static int open_one(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the n bytes of buf hold s. */
static int holds(const char *buf, size_t n, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(buf + i, s, len) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct pollfd p[MAX_N + 1];
	int n, refused = 0, reopened = 0;
	uid_t uid;
	gid_t gid;

	if (argc != 5) {
		fprintf(stderr, "usage: handshake_hold UID GID N SOCKET\n");
		return 2;
	}
	uid = (uid_t)atoi(argv[1]);
	gid = (gid_t)atoi(argv[2]);
	n = atoi(argv[3]);
	if (n < 1 || n > MAX_N)
		return 2;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		perror("handshake_hold: become the tenant");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		p[i].fd = open_one(argv[4]);
		p[i].events = POLLIN;
		if (p[i].fd < 0) {
			perror("handshake_hold: connect");
			return 2;
		}
	}
	p[n].fd = 0;
	p[n].events = POLLIN;
	printf("connected %d\n", n);
	fflush(stdout);

	for (int round = 0; round < 1200; round++) {
		if (poll(p, (nfds_t)n + 1, 100) < 0)
			continue;
		if (p[n].revents)
			break;
		for (int i = 0; i < n; i++) {
			char buf[4096];
			ssize_t r;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			close(p[i].fd);
			p[i].fd = -1;
			if (r > 0 && holds(buf, (size_t)r, "timed out")) {
				p[i].fd = open_one(argv[4]);
				reopened += p[i].fd >= 0;
			} else {
				refused++;
			}
		}
	}
	printf("refused %d reopened %d\n", refused, reopened);
	fflush(stdout);
	return 0;
}
