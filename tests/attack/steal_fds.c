/*
 * steal_fds: a target of sysgated's uid with no more capabilities than
 * sysgated tries to take sysgated's fds (every target's listener) with
 * pidfd_getfd, and to open its memory.
 *
 *   steal_fds PID
 *
 * Prints "stole fd N: LINK" for every fd it got (a listener reads
 * "anon_inode:seccomp notify"), else "getfd: ERRNO" (the last error); then
 * "mem: ok" or "mem: ERRNO".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[64], link[128];
	int pidfd, err = 0, fd;

	if (argc != 2)
		return 2;
	pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	if (pidfd < 0) {
		printf("pidfd_open: %s\n", strerrorname_np(errno));
		return 2;
	}
	for (int n = 0; n < 256; n++) {
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);
		if (fd >= 0) {
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			l = readlink(path, link, sizeof(link) - 1);
			link[l > 0 ? l : 0] = '\0';
			printf("stole fd %d: %s\n", n, link);
			close(fd);
			err = -1;
			continue;
		}
		if (errno != EBADF && err >= 0)
			err = errno;
	}
	if (err >= 0)
		printf("getfd: %s\n", err ? strerrorname_np(err) : "no fd");
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	printf("mem: %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
	return 0;
}
