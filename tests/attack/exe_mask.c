/*
 * exe_mask: a target that lies about its executable's path. It copies
 * itself to a file of its own, makes a user and mount namespace (no
 * privilege needed), bind-mounts the copy over PATH (a file that exists,
 * and is another program, in the supervisor's namespace) and execs PATH.
 * In its namespace the kernel's /proc/<pid>/exe then reads PATH. The
 * exec'd copy calls getppid and prints "getppid: ok" or the errno name.
 *
 *   exe_mask DIR PATH   DIR: where the copy is made (writable by the caller)
 *
 * Exits 77 when no user namespace can be made.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int copy_self(const char *to)
{
	struct stat st;
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), out;
	ssize_t n = 0;

	if (in < 0 || fstat(in, &st) < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0)
		return -1;
	for (off_t left = st.st_size; left > 0 && (n = sendfile(out, in, NULL, (size_t)left)) > 0;)
		left -= n;
	close(in);
	return close(out) == 0 && n >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	char fake[4096], map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2 && strcmp(argv[1], "--call") == 0) {
		long r = syscall(SYS_getppid);

		printf("getppid: %s\n", r >= 0 ? "ok" : strerrorname_np(errno));
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: exe_mask DIR PATH\n");
		return 2;
	}
	snprintf(fake, sizeof(fake), "%s/fake.%d", argv[1], (int)getpid());
	if (copy_self(fake) < 0) {
		perror("exe_mask: copy");
		return 1;
	}
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		/* 77: this kernel (or its config) gives no user namespaces
		 * to an unprivileged process, so the attack cannot be made. */
		perror("exe_mask: unshare");
		return 77;
	}
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
	if (put("/proc/self/setgroups", "deny") < 0 || put("/proc/self/uid_map", map) < 0) {
		perror("exe_mask: uid_map");
		return 1;
	}
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
	if (put("/proc/self/gid_map", map) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(fake, argv[2], NULL, MS_BIND, NULL) < 0) {
		perror("exe_mask: mount");
		return 1;
	}
	/* The copy stays: unlinked, the kernel's path would end "(deleted)"
	 * and fool no rule. */
	printf("masked: %s\n", argv[2]);
	execl(argv[2], "exe_mask", "--call", (char *)NULL);
	perror("exe_mask: exec");
	return 1;
}
