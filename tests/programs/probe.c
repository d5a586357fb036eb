/*
 * probe: a target program for the integration tests. It runs the
 * operations named on its command line in order and prints one line for
 * each: "OP ARG: ok [value]" or "OP ARG: ERRNO_NAME". It never decides
 * anything itself; the tests read what the kernel and sysgated made of
 * each call.
 *
 *   open PATH        openat(AT_FDCWD, PATH, O_RDONLY)
 *   write PATH       openat(AT_FDCWD, PATH, O_WRONLY|O_CREAT|O_TRUNC, 0600)
 *   mkdir PATH       mkdir(PATH, 0700)
 *   getppid          getppid()
 *   getpid           getpid(): the pid in the probe's own pid namespace
 *   loop N           getppid() N times, prints nothing
 *   connect IP PORT  a TCP connect to IP (v4) and PORT
 *   nlbind GROUPS    bind a NETLINK_ROUTE socket to pid 0 and the GROUPS mask
 *   sigcont          kill(getpid(), SIGCONT): harmless, for the signal decoding
 *   wait             reads one line from stdin (for a test to act meanwhile)
 *   openloop PATH    openat(PATH, O_RDONLY) every 200 us until stdin has a
 *                    line (or ends), then "openloop PATH: ok N failed M [ERRNO]",
 *                    ERRNO the first failure's
 *   exit N           exits with status N
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void report(const char *op, const char *arg, long r)
{
	if (r < 0)
		printf("%s%s%s: %s\n", op, arg ? " " : "", arg ? arg : "", strerrorname_np(errno));
	else
		printf("%s%s%s: ok %ld\n", op, arg ? " " : "", arg ? arg : "", r);
	fflush(stdout);
}

static long do_open(const char *path, int flags)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, flags, 0600);

	if (fd >= 0) {
		close((int)fd);
		return 0;
	}
	return fd;
}

/* Forwarded calls until stdin has something to read: the takeover test
 * upgrades the supervisor meanwhile. Every result counts. The pause keeps
 * the log (a line per call) to a size the test can read back. */
static void open_loop(const char *path)
{
	struct pollfd in = { .fd = 0, .events = POLLIN };
	unsigned long ok = 0, failed = 0;
	int first = 0;

	while (poll(&in, 1, 0) == 0) {
		struct timespec pause = { 0, 200000 };

		nanosleep(&pause, NULL);
		if (do_open(path, O_RDONLY) == 0) {
			ok++;
		} else {
			if (!failed)
				first = errno;
			failed++;
		}
	}
	printf("openloop %s: ok %lu failed %lu%s%s\n", path, ok, failed, failed ? " " : "",
	       failed ? strerrorname_np(first) : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(op, "open") == 0 && arg) {
			report(op, arg, do_open(arg, O_RDONLY));
			i++;
		} else if (strcmp(op, "write") == 0 && arg) {
			report(op, arg, do_open(arg, O_WRONLY | O_CREAT | O_TRUNC));
			i++;
		} else if (strcmp(op, "mkdir") == 0 && arg) {
			report(op, arg, syscall(SYS_mkdir, arg, 0700));
			i++;
		} else if (strcmp(op, "getppid") == 0) {
			report(op, NULL, syscall(SYS_getppid));
		} else if (strcmp(op, "getpid") == 0) {
			report(op, NULL, syscall(SYS_getpid));
		} else if (strcmp(op, "loop") == 0 && arg) {
			for (long n = strtol(arg, NULL, 10); n > 0; n--)
				syscall(SYS_getppid);
			i++;
		} else if (strcmp(op, "connect") == 0 && arg && i + 2 < argc) {
			struct sockaddr_in sa = { .sin_family = AF_INET };
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			long r;

			sa.sin_port = htons((uint16_t)atoi(argv[i + 2]));
			inet_pton(AF_INET, arg, &sa.sin_addr);
			r = syscall(SYS_connect, fd, &sa, sizeof(sa));
			report(op, arg, r);
			close(fd);
			i += 2;
		} else if (strcmp(op, "nlbind") == 0 && arg) {
			struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
			int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

			nl.nl_groups = (uint32_t)strtoul(arg, NULL, 0);
			report(op, arg, syscall(SYS_bind, fd, &nl, sizeof(nl)));
			close(fd);
			i++;
		} else if (strcmp(op, "sigcont") == 0) {
			report(op, NULL, syscall(SYS_kill, getpid(), SIGCONT));
		} else if (strcmp(op, "wait") == 0) {
			char line[64];

			if (!fgets(line, sizeof(line), stdin))
				return 2;
		} else if (strcmp(op, "openloop") == 0 && arg) {
			open_loop(arg);
			i++;
		} else if (strcmp(op, "exit") == 0 && arg) {
			return atoi(arg);
		} else {
			fprintf(stderr, "probe: bad operation '%s'\n", op);
			return 2;
		}
	}
	return 0;
}
