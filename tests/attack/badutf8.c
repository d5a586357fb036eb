/*
 * badutf8: a target whose comm, paths, socket address and execve
 * arguments are not UTF-8 (badutf8.h), each in a call its policy denies,
 * so each lands in a `decision` event. It exits 0 once every call was
 * refused as it should be, 1 (saying which) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "badutf8.h"

static int refused(const char *what, long r)
{
	if (r >= 0 || errno != EACCES) {
		printf("%s: not refused with EACCES (%ld, %s)\n", what, r, strerror(errno));
		return 1;
	}
	printf("%s: refused\n", what);
	return 0;
}

int main(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *const argv[] = { "badutf8", BADUTF8_ARG1, BADUTF8_ARG2, BADUTF8_ARG3, NULL };
	char *const envp[] = { NULL };
	int bad = 0, s;

	if (prctl(PR_SET_NAME, BADUTF8_COMM, 0, 0, 0) < 0)
		return 2;
	bad |= refused("openat", syscall(SYS_openat, AT_FDCWD, BADUTF8_PATH, O_RDONLY));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 2;
	memcpy(a.sun_path, BADUTF8_SOCK, sizeof(BADUTF8_SOCK));
	bad |= refused("connect", connect(s, (struct sockaddr *)&a, sizeof(a)));
	bad |= refused("execve", syscall(SYS_execve, BADUTF8_PROG, argv, envp));
	fflush(stdout);
	return bad;
}
