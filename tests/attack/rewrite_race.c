/*
 * rewrite_race: the target of the pointer-argument attacks. In its race
 * mode it has one thread and shares its memory with no one: the attacker
 * is its parent (the test, outside sysgate), which rewrites its sockaddr
 * with process_vm_writev between sysgated's read and the kernel's.
 *
 *   rewrite_race race ALLOWED DENIED N
 *     prints "buf 0x<address of its struct sockaddr_in>", waits for a
 *     line on stdin (the parent's writer runs), then up to N times: a TCP
 *     socket, connect() to 127.0.0.1 with the port the buffer holds
 *     (ALLOWED, or DENIED when the parent flipped it), the peer's port
 *     asked with getpeername, an abortive close (no TIME_WAIT). It stops
 *     at the first connection to DENIED and prints
 *     "race tries T allowed A denied D refused R other O".
 *   rewrite_race cwd DIR N | dirfd DIR N
 *     the directory a relative open starts from, swapped after the check:
 *     a second thread flips the cwd (cwd) or the directory an fd number
 *     names (dirfd, with dup2) between DIR and /etc while the main thread
 *     opens "shadow" relative to it, up to N times, stopping at the first
 *     open that reads /etc/shadow. Prints
 *     "dir tries T ok A failed F leaked L" (DIR/shadow must not start
 *     with "root:").
 *   rewrite_race call OP ARG...
 *     makes one call and prints "OP: ok" or "OP: <errno name>":
 *       connect-unix PATH, connect-inet PORT, bind-inet PORT,
 *       sendto-inet PORT, sendmsg-inet PORT (UDP to 127.0.0.1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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

static const char *flip_dir;
static int flip_fd = -1; /* dirfd: the number flipped; -1: the cwd */
static atomic_bool flip_stop;

static void *flipper(void *arg)
{
	int d = open(flip_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int e = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)arg;
	if (d < 0 || e < 0)
		abort();
	while (!atomic_load(&flip_stop)) {
		if (flip_fd < 0) {
			fchdir(d);
			fchdir(e);
		} else {
			dup2(d, flip_fd);
			dup2(e, flip_fd);
		}
	}
	return NULL;
}

static int dir_race(const char *dir, bool by_fd, long n)
{
	long tries = 0, ok = 0, failed = 0, leaked = 0;
	pthread_t th;

	flip_dir = dir;
	if (chdir(dir) < 0)
		return 2;
	if (by_fd) {
		flip_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (flip_fd < 0)
			return 2;
	}
	if (pthread_create(&th, NULL, flipper, NULL) != 0)
		return 2;
	while (tries < n && leaked == 0) {
		char buf[8] = { 0 };
		int fd = openat(by_fd ? flip_fd : AT_FDCWD, "shadow", O_RDONLY | O_CLOEXEC);

		tries++;
		if (fd < 0) {
			failed++;
			continue;
		}
		if (read(fd, buf, 5) == 5 && strncmp(buf, "root:", 5) == 0)
			leaked++;
		else
			ok++;
		close(fd);
	}
	atomic_store(&flip_stop, true);
	pthread_join(th, NULL);
	printf("dir tries %ld ok %ld failed %ld leaked %ld\n", tries, ok, failed, leaked);
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
	if (argc == 4 && (strcmp(argv[1], "cwd") == 0 || strcmp(argv[1], "dirfd") == 0))
		return dir_race(argv[2], strcmp(argv[1], "dirfd") == 0, atol(argv[3]));
	if (argc == 4 && strcmp(argv[1], "call") == 0)
		return call(argv[2], argv[3]);
	fprintf(stderr, "usage: rewrite_race race ALLOWED DENIED N | cwd DIR N | dirfd DIR N | "
			"call OP ARG\n");
	return 2;
}
