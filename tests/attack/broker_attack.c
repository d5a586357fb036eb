/*
 * The brokered-open attacks, run as a target (tests/attack/test_broker.c).
 * Each operation prints one line, "<op> <arg>: ok ..." or "<op> <arg>:
 * <ERRNO NAME>", to stdout:
 *   open PATH r|w|rw      open the file
 *   read PATH             open it and print its first line
 *   procat DIR REL        open DIR as a directory, then REL from it
 *   fifo PATH N           N threads open the FIFO for reading at once;
 *                         prints "fifo PATH: opening" first, then the
 *                         counts of results
 *   ptmx                  a pty pair through the broker: /dev/ptmx,
 *                         unlocked, its /dev/pts/N; then the master is
 *                         closed (a hangup of the pts)
 *   tty                   in a new session (no terminal): /dev/tty, and
 *                         writes ATTACK-TTY to it when it opens
 *   procbind DIR          in a user and mount namespace of its own, binds
 *                         /proc at DIR and again at DIR/sys (a procfs
 *                         nested in a procfs); the operations after it
 *                         run there, e.g. open DIR/sys/PID/mem rw
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *op, const char *arg, int err, const char *extra)
{
	if (err == 0)
		printf("%s %s: ok%s%s\n", op, arg, extra ? " " : "", extra ? extra : "");
	else
		printf("%s %s: %s\n", op, arg, strerrorname_np(err) ? strerrorname_np(err) : "E?");
	fflush(stdout);
}

static int open_mode(const char *path, const char *mode)
{
	int flags = strcmp(mode, "rw") == 0 ? O_RDWR : strcmp(mode, "w") == 0 ? O_WRONLY : O_RDONLY;
	int fd = open(path, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void op_read(const char *path)
{
	char buf[128] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		report("read", path, errno, NULL);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	report("read", path, 0, buf);
}

static void op_procat(const char *dir, const char *rel)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0) {
		report("procat-dir", dir, errno, NULL);
		return;
	}
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	report("procat", rel, fd < 0 ? errno : 0, NULL);
	if (fd >= 0)
		close(fd);
	close(dfd);
}

static const char *fifo_path;
static atomic_int fifo_ok, fifo_eintr, fifo_other;

static void *fifo_thread(void *arg)
{
	int fd = open(fifo_path, O_RDONLY | O_CLOEXEC);

	(void)arg;
	if (fd >= 0) {
		fifo_ok++;
		close(fd);
	} else if (errno == EINTR) {
		fifo_eintr++;
	} else {
		fifo_other++;
	}
	return NULL;
}

static void op_fifo(const char *path, int n)
{
	pthread_t th[64];
	char extra[64];

	if (n < 1 || n > 64)
		n = 1;
	fifo_path = path;
	report("fifo", path, 0, "opening");
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, fifo_thread, NULL) != 0)
			n = i;
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (fifo_ok == n)
		snprintf(extra, sizeof(extra), "%d", n);
	if (fifo_ok == n)
		report("fifo", path, 0, extra);
	else if (fifo_eintr == n)
		report("fifo", path, EINTR, NULL);
	else
		printf("fifo %s: ok %d EINTR %d other %d\n", path, fifo_ok, fifo_eintr, fifo_other);
	fflush(stdout);
}

static void op_ptmx(void)
{
	char pts[64], extra[80];
	int m, s, n = -1, unlock = 0;

	m = open("/dev/ptmx", O_RDWR | O_CLOEXEC);
	if (m < 0) {
		report("ptmx", "/dev/ptmx", errno, NULL);
		return;
	}
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0) {
		report("ptmx", "ioctl", errno, NULL);
		return;
	}
	snprintf(pts, sizeof(pts), "/dev/pts/%d", n);
	s = open(pts, O_RDWR | O_CLOEXEC); /* no O_NOCTTY: the broker must add it */
	if (s < 0) {
		report("ptmx", pts, errno, NULL);
		close(m);
		return;
	}
	close(m); /* the pts hangs up */
	close(s);
	snprintf(extra, sizeof(extra), "%s closed", pts);
	report("ptmx", "/dev/ptmx", 0, extra);
}

static void op_tty(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd;

		if (setsid() < 0) {
			report("tty", "setsid", errno, NULL);
			_exit(1);
		}
		fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			report("tty", "/dev/tty", errno, NULL);
			_exit(0);
		}
		report("tty", "/dev/tty", write(fd, "ATTACK-TTY\n", 11) == 11 ? 0 : errno, "written");
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		report("tty", "fork", errno, NULL);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));
	int err = n < 0 ? errno : 0;

	if (fd >= 0)
		close(fd);
	return err;
}

/* The caller's own namespaces (no privilege needed) with /proc bound at
 * dir and at dir/sys: a path to the supervisor's entries that starts
 * with a procfs root that is not the one holding them. */
static void op_procbind(const char *dir)
{
	char map[64], sys[256];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int err = unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ? errno : 0;

	/* Mapping the outer uid 0 needs CAP_SETFCAP; the namespace's
	 * capabilities, all a mount needs, come without a map. */
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (!err && uid != 0) {
		err = write_file("/proc/self/uid_map", map);
		if (!err)
			err = write_file("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (!err)
			err = write_file("/proc/self/gid_map", map);
	}
	if (!err && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		err = errno;
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	if (!err && mount("/proc", dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		err = errno;
	if (!err && mount("/proc", sys, NULL, MS_BIND | MS_REC, NULL) < 0)
		err = errno;
	report("procbind", dir, err, NULL);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		const char *a = i + 1 < argc ? argv[i + 1] : NULL;
		const char *b = i + 2 < argc ? argv[i + 2] : NULL;

		if (strcmp(op, "open") == 0 && a && b) {
			int fd = open_mode(a, b);

			report("open", a, fd < 0 ? -fd : 0, NULL);
			if (fd >= 0)
				close(fd);
			i += 2;
		} else if (strcmp(op, "read") == 0 && a) {
			op_read(a);
			i++;
		} else if (strcmp(op, "procat") == 0 && a && b) {
			op_procat(a, b);
			i += 2;
		} else if (strcmp(op, "fifo") == 0 && a && b) {
			op_fifo(a, atoi(b));
			i += 2;
		} else if (strcmp(op, "ptmx") == 0) {
			op_ptmx();
		} else if (strcmp(op, "tty") == 0) {
			op_tty();
		} else if (strcmp(op, "procbind") == 0 && a) {
			op_procbind(a);
			i++;
		} else {
			fprintf(stderr, "broker_attack: bad operation %s\n", op);
			return 2;
		}
	}
	return 0;
}
