/*
 * opener: a target program for the brokered-open tests. Like the probe it
 * runs the operations named on its command line in order and prints one
 * line for each: "OP ARG: ok [values]" or "OP ARG: ERRNO_NAME". Files it
 * opens stay open, so fd limits can be reached.
 *
 *   open PATH          openat(AT_FDCWD, PATH, O_RDONLY): prints the fd
 *   cloexec PATH       the same with O_CLOEXEC: prints the fd's FD_CLOEXEC (1/0)
 *   nocloexec PATH     without O_CLOEXEC: prints the fd's FD_CLOEXEC
 *   read PATH          opens PATH and prints its first line
 *   pidof PATH         opens PATH (a /proc status file) and prints its Pid:
 *                      value and this process's pid
 *   create PATH MODE   openat(O_WRONLY|O_CREAT|O_EXCL, MODE octal): prints
 *                      the file's mode and owner uid
 *   umask MODE         umask(MODE octal)
 *   nofile N           RLIMIT_NOFILE to N
 *   at DIR NAME        openat(open(DIR, O_PATH), NAME, O_RDONLY)
 *   chroot DIR         chroot(DIR) and chdir("/")
 *   chdir DIR          chdir(DIR)
 *   mkdir PATH         mkdir(PATH, 0700)
 *   thread             starts a thread that sleeps (the process has two)
 *   race PATH N        one thread flips a buffer between PATH and
 *                      /etc/shadow while this one opens it N times and
 *                      reads each file: prints how many opens gave PATH's
 *                      content ("ALLOWED"), failed, or leaked anything else
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *op, const char *arg, long r, const char *extra)
{
	if (r < 0)
		printf("%s %s: %s\n", op, arg, strerrorname_np(errno));
	else
		printf("%s %s: ok%s%s\n", op, arg, extra[0] ? " " : "", extra);
	fflush(stdout);
}

static long open_at(int dirfd, const char *path, int flags, mode_t mode)
{
	return syscall(SYS_openat, dirfd, path, flags, mode);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* The race: the path buffer the opening thread passes, flipped by the
 * other thread between the allowed path and /etc/shadow. */
static char race_buf[256];
static char race_paths[2][256];
static atomic_bool race_stop;

static void *flipper(void *arg)
{
	unsigned i = 0;

	(void)arg;
	while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
		/* Byte by byte, volatile: every mix of the two is possible. */
		const char *src = race_paths[i++ & 1];
		volatile char *dst = race_buf;

		for (size_t k = 0; k < sizeof(race_buf); k++) {
			dst[k] = src[k];
			if (!src[k])
				break;
		}
	}
	return NULL;
}

static void race(const char *path, long n, char *out, size_t len)
{
	long ok = 0, failed = 0, leaked = 0;
	pthread_t th;

	snprintf(race_paths[0], sizeof(race_paths[0]), "%s", path);
	snprintf(race_paths[1], sizeof(race_paths[1]), "/etc/shadow");
	memcpy(race_buf, race_paths[0], sizeof(race_buf));
	pthread_create(&th, NULL, flipper, NULL);
	for (long i = 0; i < n; i++) {
		char buf[16] = "";
		long fd = open_at(AT_FDCWD, race_buf, O_RDONLY, 0);

		if (fd < 0) {
			failed++;
			continue;
		}
		if (read((int)fd, buf, 7) == 7 && memcmp(buf, "ALLOWED", 7) == 0)
			ok++;
		else
			leaked++;
		close((int)fd);
	}
	atomic_store(&race_stop, true);
	pthread_join(th, NULL);
	snprintf(out, len, "allowed %ld failed %ld leaked %ld", ok, failed, leaked);
}

int main(int argc, char **argv)
{
	char extra[512];

	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : "";
		const char *arg2 = i + 2 < argc ? argv[i + 2] : NULL;
		long r = 0;

		extra[0] = '\0';
		if (strcmp(op, "open") == 0) {
			r = open_at(AT_FDCWD, arg, O_RDONLY, 0);
			snprintf(extra, sizeof(extra), "%ld", r);
			i++;
		} else if (strcmp(op, "cloexec") == 0 || strcmp(op, "nocloexec") == 0) {
			r = open_at(AT_FDCWD, arg, O_RDONLY | (op[0] == 'c' ? O_CLOEXEC : 0), 0);
			if (r >= 0)
				snprintf(extra, sizeof(extra), "%d", fcntl((int)r, F_GETFD) & FD_CLOEXEC);
			i++;
		} else if (strcmp(op, "read") == 0) {
			r = open_at(AT_FDCWD, arg, O_RDONLY, 0);
			if (r >= 0) {
				ssize_t n = read((int)r, extra, sizeof(extra) - 1);

				extra[n > 0 ? n : 0] = '\0';
				extra[strcspn(extra, "\n")] = '\0';
			}
			i++;
		} else if (strcmp(op, "pidof") == 0) {
			r = open_at(AT_FDCWD, arg, O_RDONLY, 0);
			if (r >= 0) {
				char st[4096];
				ssize_t n = read((int)r, st, sizeof(st) - 1);
				const char *p;

				st[n > 0 ? n : 0] = '\0';
				p = strstr(st, "\nPid:");
				snprintf(extra, sizeof(extra), "%ld self %d", p ? strtol(p + 5, NULL, 10) : -1L,
					 (int)getpid());
			}
			i++;
		} else if (strcmp(op, "create") == 0 && arg2) {
			struct stat st;

			r = open_at(AT_FDCWD, arg, O_WRONLY | O_CREAT | O_EXCL, (mode_t)strtol(arg2, NULL, 8));
			if (r >= 0 && fstat((int)r, &st) == 0)
				snprintf(extra, sizeof(extra), "%04o %d", st.st_mode & 07777, (int)st.st_uid);
			i += 2;
		} else if (strcmp(op, "umask") == 0) {
			umask((mode_t)strtol(arg, NULL, 8));
			i++;
			continue;
		} else if (strcmp(op, "nofile") == 0) {
			struct rlimit rl = { (rlim_t)atol(arg), (rlim_t)atol(arg) };

			r = setrlimit(RLIMIT_NOFILE, &rl);
			i++;
		} else if (strcmp(op, "at") == 0 && arg2) {
			long dirfd = open_at(AT_FDCWD, arg, O_PATH | O_DIRECTORY, 0);

			r = dirfd < 0 ? dirfd : open_at((int)dirfd, arg2, O_RDONLY, 0);
			if (r >= 0) {
				ssize_t n = read((int)r, extra, sizeof(extra) - 1);

				extra[n > 0 ? n : 0] = '\0';
				extra[strcspn(extra, "\n")] = '\0';
			}
			i += 2;
		} else if (strcmp(op, "chroot") == 0) {
			r = chroot(arg);
			if (r == 0)
				r = chdir("/");
			i++;
		} else if (strcmp(op, "chdir") == 0) {
			r = chdir(arg);
			i++;
		} else if (strcmp(op, "mkdir") == 0) {
			r = syscall(SYS_mkdir, arg, 0700);
			i++;
		} else if (strcmp(op, "thread") == 0) {
			pthread_t th;

			errno = pthread_create(&th, NULL, sleeper, NULL);
			r = errno ? -1 : 0;
			arg = "";
		} else if (strcmp(op, "race") == 0 && arg2) {
			race(arg, atol(arg2), extra, sizeof(extra));
			i += 2;
		} else {
			fprintf(stderr, "opener: bad operation '%s'\n", op);
			return 2;
		}
		report(op, arg, r, extra);
	}
	return 0;
}
