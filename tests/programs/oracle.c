/*
 * oracle: a target for the decoding test (tests/integration/test_decode.c).
 * It makes each syscall whose arguments sysgated decodes, with arguments
 * known in advance, through syscall(2) so that the registers hold exactly
 * what is written here. The test runs it under strace and under sysgated at
 * once and compares what each of them says the arguments were.
 *
 *   oracle DIR PORT
 *
 * DIR is an existing directory the oracle may write in, PORT a TCP port on
 * 127.0.0.1 (a listener is not needed: a refused connect is as good). It
 * ends by executing /bin/true with a known argv, so its exit status is 0
 * only if every step ran; a step that fails where it should not exits 1.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* glibc defines O_LARGEFILE as 0 on x86_64 (every open there is large);
 * the kernel's bit is this one, and a program can still pass it. */
#define KERNEL_O_LARGEFILE 0100000

/* Bits above the 32 of an int argument: the kernel drops them (the
 * syscall takes an int), so a decoder must too. */
#define HIGH (1UL << 32)

static void check(long r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "oracle: %s: %m\n", what);
		exit(1);
	}
}

static void do_open(const char *dir)
{
	struct open_how how = {
		.flags = O_RDWR | O_CREAT | O_EXCL,
		.mode = 0604,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char f[4096], g[4096];

	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(g, sizeof(g), "%s/g", dir);
	check(syscall(SYS_openat, AT_FDCWD, f, O_WRONLY | O_CREAT | O_CLOEXEC, 0640), "openat");
	check(syscall(SYS_openat, AT_FDCWD, f, O_RDONLY | O_NOFOLLOW | KERNEL_O_LARGEFILE), "openat");
	/* mode is a umode_t: the bits above 16 are dropped too. */
	check(syscall(SYS_openat, AT_FDCWD, f, HIGH | O_RDWR | O_CREAT | O_APPEND, (1UL << 16) | 0600),
	      "openat");
	check(syscall(SYS_openat2, AT_FDCWD, g, &how, sizeof(how)), "openat2");
}

/* mkdirat and renameat relative to a directory fd, so that c.abspath has
 * a directory to resolve against. */
static void do_dirs(const char *dir)
{
	char f[4096], d[4096];
	long dfd;

	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(d, sizeof(d), "%s/d", dir);
	check(syscall(SYS_mkdirat, AT_FDCWD, d, 0751), "mkdirat");
	dfd = syscall(SYS_openat, AT_FDCWD, d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check(dfd, "openat");
	check(syscall(SYS_mkdirat, dfd, "sub", 0700), "mkdirat");
	check(syscall(SYS_renameat, AT_FDCWD, f, dfd, "renamed"), "renameat");
}

/* The result of these does not matter (nothing listens): only what they
 * asked for. */
static void do_connect(const char *dir, int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(5353) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	static const char abstract[] = "\0sysgate-oracle";
	long fd;

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(fd, "socket");
	syscall(SYS_connect, fd, &in, sizeof(in));
	close((int)fd);

	fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	check(fd, "socket");
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/usock", dir);
	syscall(SYS_connect, fd, &un, sizeof(un));
	/* An abstract name is exactly as long as the length says. */
	memcpy(un.sun_path, abstract, sizeof(abstract) - 1);
	syscall(SYS_connect, fd, &un, offsetof(struct sockaddr_un, sun_path) + sizeof(abstract) - 1);
	close((int)fd);

	/* Where IPv6 is off, socket fails: the connect on the bad fd is still
	 * notified, with its address. */
	inet_pton(AF_INET6, "2001:db8::17", &in6.sin6_addr);
	fd = syscall(SYS_socket, AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
	syscall(SYS_connect, fd, &in6, sizeof(in6));
	if (fd >= 0)
		close((int)fd);
}

/* A second thread, so that tgkill names a thread that is not the
 * process: it says its tid on one pipe and waits on the other. */
static int to_main[2], to_thread[2];

static void *thread_main(void *arg)
{
	pid_t tid = gettid();
	char c;

	(void)arg;
	if (write(to_main[1], &tid, sizeof(tid)) != sizeof(tid) || read(to_thread[0], &c, 1) != 1)
		exit(1);
	return NULL;
}

/* Signals whose default action is to do nothing. */
static void do_signals(void)
{
	pthread_t thread;
	pid_t tid;

	check(syscall(SYS_kill, getpid(), SIGCONT), "kill");
	check(syscall(SYS_kill, HIGH | (unsigned long)getpid(), HIGH | SIGCONT), "kill");
	check(syscall(SYS_tgkill, getpid(), gettid(), SIGWINCH), "tgkill");

	check(pipe2(to_main, O_CLOEXEC), "pipe2");
	check(pipe2(to_thread, O_CLOEXEC), "pipe2");
	if (pthread_create(&thread, NULL, thread_main, NULL) != 0 ||
	    read(to_main[0], &tid, sizeof(tid)) != sizeof(tid))
		exit(1);
	check(syscall(SYS_tgkill, getpid(), tid, SIGWINCH), "tgkill");
	if (write(to_thread[1], "", 1) != 1 || pthread_join(thread, NULL) != 0)
		exit(1);
	close(to_main[0]);
	close(to_main[1]);
	close(to_thread[0]);
	close(to_thread[1]);
}

static void do_misc(void)
{
	int p[2], n;

	check(syscall(SYS_prctl, PR_SET_NAME, "oracle-named", 0, 0, 0), "prctl");
	check(pipe2(p, O_CLOEXEC), "pipe2");
	check(syscall(SYS_ioctl, p[0], FIONREAD, &n), "ioctl");
	/* The request is an unsigned int. */
	check(syscall(SYS_ioctl, p[0], HIGH | FIONREAD, &n), "ioctl");
	close(p[0]);
	close(p[1]);
}

/* A fork through the raw clone syscall (glibc's fork uses other flags). */
static void do_clone(void)
{
	long pid = syscall(SYS_clone, CLONE_FS | CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	int status;

	check(pid, "clone");
	if (pid == 0)
		syscall(SYS_exit_group, 0);
	if (waitpid((pid_t)pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		exit(1);
}

int main(int argc, char **argv)
{
	char *const exec_argv[] = { "true", "oracle", "two words", "quote\"d", NULL };
	char *const exec_envp[] = { "ORACLE=1", NULL };

	if (argc != 3) {
		fprintf(stderr, "usage: oracle DIR PORT\n");
		return 2;
	}
	do_open(argv[1]);
	do_dirs(argv[1]);
	do_connect(argv[1], atoi(argv[2]));
	do_signals();
	do_misc();
	do_clone();
	syscall(SYS_execve, "/bin/true", exec_argv, exec_envp);
	fprintf(stderr, "oracle: execve: %m\n");
	return 1;
}
