/*
 * slowclient PORT|PATH N IDLE: a local user starving the metrics
 * endpoint. As uid 65534 (when started as root), it opens N connections
 * to 127.0.0.1:PORT, each from another 127.0.0.0/8 source address (a
 * limit per address would count each once), or to the unix socket PATH:
 * IDLE of them send nothing, the others half a request, and it says
 * "open K refused R": R connects were refused for want of permission. Every second it sends one
 * more byte of header on each half request still open (an idle timeout
 * never fires on those), and on each line "count" of stdin it answers
 * "held K", K its connections the server has not closed. It exits when
 * stdin ends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNS 256

static int conns[MAX_CONNS];
static int nconns;

static int connect_tcp(int port, int i)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)i); /* 127.0.0.2, .3, ... */
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)port);
	if (bind(s, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(s, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		int e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static int open_one(const char *where, int i, int half_request)
{
	static const char half[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
	int s = where[0] == '/' ? connect_unix(where) : connect_tcp(atoi(where), i);

	if (s < 0)
		return -1;
	/* A server that closed it at once has answered already: the
	 * connection counts as closed (count), not as a failure. */
	if (half_request)
		(void)send(s, half, sizeof(half) - 1, MSG_NOSIGNAL);
	return s;
}

/* Whether the server closed s: an end of stream or an error waiting. */
static int closed(int s)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) != 1)
		return 0;
	return recv(s, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

int main(int argc, char **argv)
{
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	char line[64];
	int n, idle, refused = 0;

	if (argc != 4 || (argv[1][0] != '/' && atoi(argv[1]) <= 0) || (n = atoi(argv[2])) <= 0 ||
	    n > MAX_CONNS || (idle = atoi(argv[3])) < 0)
		return 2;
	if (getuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
		return 2;
	for (nconns = 0; nconns < n; nconns++) {
		conns[nconns] = open_one(argv[1], nconns, nconns >= idle);
		if (conns[nconns] < 0 && (errno == EACCES || errno == EPERM)) {
			refused++;
		} else if (conns[nconns] < 0) {
			printf("connect %d: %s\n", nconns, strerror(errno));
			return 1;
		}
	}
	printf("open %d refused %d\n", nconns - refused, refused);
	fflush(stdout);
	for (;;) {
		int r = poll(&in, 1, 1000), held = 0;

		if (r < 0 && errno != EINTR)
			return 1;
		if (r <= 0) {
			for (int i = idle; i < nconns; i++)
				if (conns[i] >= 0 && !closed(conns[i]))
					(void)send(conns[i], "a", 1, MSG_NOSIGNAL);
			continue;
		}
		if (!fgets(line, sizeof(line), stdin))
			return 0;
		for (int i = 0; i < nconns; i++)
			held += conns[i] >= 0 && !closed(conns[i]);
		printf("held %d\n", held);
		fflush(stdout);
	}
}
