/*
 * hello_flood: a peer that floods the log with refused handshakes.
 * Becomes UID (an allowed launcher that is not root) and, one connection
 * after the other, connects to SOCKET, sends a HELLO cut after its
 * header (refused as malformed), waits for the answer and closes. Prints
 * "flooding" after the first WARM of them, then goes on until it has sent
 * N in all or its stdin has a line or ends, and prints "sent S".
 *
 *   hello_flood UID WARM N SOCKET
 */
#include <grp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sysgate/protocol.h"

/* include/sysgate/protocol.h's header: a HELLO with nothing after it. */
struct header {
	uint32_t magic;
	uint16_t version, type;
	uint32_t length, reserved;
};

static int one(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct header h = { .magic = SG_PROTO_MAGIC, .version = SG_PROTO_VERSION, .type = 1,
			    .length = sizeof(struct header) };
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		close(fd);
		return -1;
	}
	/* The answer (REFUSE) or the end: sysgated refuses, or times out. */
	(void)!recv(fd, buf, sizeof(buf), 0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct pollfd in = { .fd = 0, .events = POLLIN };
	long warm, n, sent = 0;
	uid_t uid;

	if (argc != 5) {
		fprintf(stderr, "usage: hello_flood UID WARM N SOCKET\n");
		return 2;
	}
	uid = (uid_t)atoi(argv[1]);
	warm = atol(argv[2]);
	n = atol(argv[3]);
	if (warm < 0 || n < warm || n > 1000000)
		return 2;
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) {
		perror("hello_flood: become the tenant");
		return 2;
	}
	for (; sent < warm; sent++)
		if (one(argv[4]) < 0) {
			perror("hello_flood: connect");
			return 2;
		}
	printf("flooding\n");
	fflush(stdout);
	for (; sent < n; sent++) {
		if ((sent & 63) == 0 && poll(&in, 1, 0) > 0)
			break;
		if (one(argv[4]) < 0) {
			perror("hello_flood: connect");
			return 2;
		}
	}
	printf("sent %ld\n", sent);
	fflush(stdout);
	return 0;
}
