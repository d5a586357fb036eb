/*
 * rewrite_race: the target of the pointer-argument attacks. It has one
 * thread and shares its memory with no one: the attacker is its parent
 * (the test, outside sysgate), which rewrites its sockaddr with
 * process_vm_writev between sysgated's read and the kernel's.
 *
 *   rewrite_race race ALLOWED DENIED N
 *     prints "buf 0x<address of its struct sockaddr_in>", waits for a
 *     line on stdin (the parent's writer runs), then up to N times: a TCP
 *     socket, connect() to 127.0.0.1 with the port the buffer holds
 *     (ALLOWED, or DENIED when the parent flipped it), the peer's port
 *     asked with getpeername, an abortive close (no TIME_WAIT). It stops
 *     at the first connection to DENIED and prints
 *     "race tries T allowed A denied D refused R other O".
 *   rewrite_race call OP ARG...
 *     makes one call and prints "OP: ok" or "OP: <errno name>":
 *       connect-unix PATH, connect-inet PORT, bind-inet PORT,
 *       sendto-inet PORT, sendmsg-inet PORT (UDP to 127.0.0.1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Volatile: the compiler must not keep the port in a register, the
 * kernel reads it from here. */
static volatile struct sockaddr_in target_addr;

static int race(int allowed, int denied, long n)
{
	long tries = 0, ok_allowed = 0, ok_denied = 0, refused = 0, other = 0;
	char line[16];

	target_addr.sin_family = AF_INET;
	target_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target_addr.sin_port = htons((uint16_t)allowed);
	printf("buf %p\n", (void *)&target_addr);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	while (tries < n && ok_denied == 0) {
		struct linger lg = { 1, 0 };
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0)
			return 2;
		tries++;
		if (connect(s, (const struct sockaddr *)&target_addr, sizeof(target_addr)) == 0) {
			if (getpeername(s, (struct sockaddr *)&peer, &len) == 0 &&
			    ntohs(peer.sin_port) == denied)
				ok_denied++;
			else
				ok_allowed++;
		} else if (errno == EPERM || errno == ECONNREFUSED) {
			refused++;
		} else {
			other++;
		}
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(s);
	}
	printf("race tries %ld allowed %ld denied %ld refused %ld other %ld\n", tries, ok_allowed,
	       ok_denied, refused, other);
	return 0;
}

static void loopback(struct sockaddr_in *sa, const char *port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)atoi(port));
}

static int call(const char *op, const char *arg)
{
	struct sockaddr_in sa;
	struct sockaddr_un su;
	int s, r;

	loopback(&sa, arg);
	if (strcmp(op, "connect-unix") == 0) {
		memset(&su, 0, sizeof(su));
		su.sun_family = AF_UNIX;
		snprintf(su.sun_path, sizeof(su.sun_path), "%s", arg);
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		r = connect(s, (struct sockaddr *)&su, sizeof(su));
	} else if (strcmp(op, "connect-inet") == 0) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	} else if (strcmp(op, "bind-inet") == 0) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		r = bind(s, (struct sockaddr *)&sa, sizeof(sa));
	} else if (strcmp(op, "sendto-inet") == 0) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		r = (int)sendto(s, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
	} else if (strcmp(op, "sendmsg-inet") == 0) {
		struct iovec iov = { "x", 1 };
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov,
				     .msg_iovlen = 1 };

		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		r = (int)sendmsg(s, &mh, 0);
	} else {
		fprintf(stderr, "rewrite_race: bad call '%s'\n", op);
		return 2;
	}
	if (s < 0)
		return 2;
	printf("%s: %s\n", op, r < 0 ? strerrorname_np(errno) : "ok");
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "race") == 0)
		return race(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
	if (argc == 4 && strcmp(argv[1], "call") == 0)
		return call(argv[2], argv[3]);
	fprintf(stderr, "usage: rewrite_race race ALLOWED DENIED N | call OP ARG\n");
	return 2;
}
