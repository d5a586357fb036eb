/*
 * ctty_wrap PTS PROGRAM ARGS...: runs PROGRAM as the leader of a new
 * session whose controlling terminal is PTS, the way a sysgated started
 * from an operator's terminal has one (tests/attack/test_broker.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: ctty_wrap PTS PROGRAM ARGS...\n");
		return 2;
	}
	if (setsid() < 0) {
		perror("ctty_wrap: setsid");
		return 1;
	}
	fd = open(argv[1], O_RDWR); /* a session leader's first terminal: its own */
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) {
		perror("ctty_wrap: the terminal");
		return 1;
	}
	execv(argv[2], argv + 2);
	perror("ctty_wrap: exec");
	return 127;
}
