/*
 * The routes around the shipped policies' rules (escapes finding 6), tried
 * one by one by a target: every way to write under /etc that names the
 * file without a symlink, every way to read /etc/shadow, the new mount
 * API, new user namespaces, execveat, open_by_handle_at, and sends that
 * name an address. One line per route on stdout:
 *
 *   <route> refused <ERRNO>     the call failed, with that errno
 *   <route> done                the call did what it was asked
 *
 * routes etc TAG     writes under /etc: each route names its own new file
 *                    /etc/sysgate-attack-TAG-<route>; the test made
 *                    /etc/sysgate-attack-TAG-victim (a file) and -vdir (a
 *                    directory), and /tmp/sysgate-attack-TAG (scratch)
 * routes shadow TAG  reads of /etc/shadow under other names (never a write
 *                    to it: a policy that failed would let it happen), and
 *                    a create under /etc
 * routes calls       mounts, namespaces, open_by_handle_at, userfaultfd
 * routes exec        execveat of /bin/true, in a child
 * routes send PORT   sendto and sendmsg to 127.0.0.1:PORT over UDP
 *
 * Harmless arguments where a call cannot be tried for real without
 * changing the host (an fd of -1 for the new mount API): the policy
 * refuses in the kernel before any argument is looked at (EPERM), the
 * kernel itself says EBADF, ENOENT or EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/io_uring.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *tag;
static char victim[256], vdir[256], scratch[256];

/* Prints the route's line: r < 0 is a failure with errno. */
static void say(const char *route, long r)
{
	if (r < 0)
		printf("%s refused %s\n", route, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	else
		printf("%s done\n", route);
	fflush(stdout);
}

/* An open that succeeded is a route that went through: closed at once. */
static void say_fd(const char *route, int fd)
{
	say(route, fd);
	if (fd >= 0)
		close(fd);
}

/* An io_uring: its operations (IORING_OP_OPENAT and the rest) never pass
 * through seccomp, so making one is the route. */
static int ring(void)
{
	struct io_uring_params params;

	memset(&params, 0, sizeof(params));
	return (int)syscall(SYS_io_uring_setup, 4, &params);
}

/* /etc/sysgate-attack-TAG-<route>, spelt with prefix in front of "etc"
 * ("/", "//", "/tmp/../", "../" ...). */
static const char *name(const char *prefix, const char *route)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%setc/sysgate-attack-%s-%s", prefix, tag, route);
	return buf;
}

/* The same name relative to /etc. */
static const char *base(const char *route)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "sysgate-attack-%s-%s", tag, route);
	return buf;
}

static long openat2_(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	/* openat2 refuses a mode without O_CREAT or O_TMPFILE. */
	struct open_how how = { .flags = flags, .mode = (flags & O_CREAT) ? 0600 : 0,
				.resolve = resolve };

	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* A file of the scratch directory that rename and link can move. */
static const char *scratch_file(const char *route)
{
	static char buf[512];
	int fd;

	snprintf(buf, sizeof(buf), "%s/%s", scratch, route);
	fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		close(fd);
	return buf;
}

static void open_routes(int etc, int root, int tmp)
{
	const int w = O_WRONLY | O_CREAT | O_CLOEXEC;
	char up[512];

	say_fd("open", open(name("/", "open"), w, 0600));
	say_fd("open-dslash", open(name("//", "open-dslash"), w, 0600));
	say_fd("open-dot", open(name("/./", "open-dot"), O_RDWR | O_CREAT, 0600));
	say_fd("openat-dotdot", openat(AT_FDCWD, name("/tmp/../", "openat-dotdot"), w, 0600));
	say_fd("openat-rel-tmp", openat(AT_FDCWD, name("../", "openat-rel-tmp"), w, 0600));
	say_fd("openat-dirfd", openat(etc, base("openat-dirfd"), w, 0600));
	say_fd("openat-dirfd-tmp", openat(tmp, name("../", "openat-dirfd-tmp"), w, 0600));
	say_fd("creat", creat(name("/", "creat"), 0600));
	say_fd("creat-rel", creat(name("../", "creat-rel"), 0600));
	say_fd("openat2", (int)openat2_(AT_FDCWD, name("/", "openat2"), w, 0));
	say_fd("openat2-beneath", (int)openat2_(etc, base("openat2-beneath"), w, RESOLVE_BENEATH));
	say_fd("openat2-in-root", (int)openat2_(root, name("/", "openat2-in-root"), w, RESOLVE_IN_ROOT));
	/* In the root of a dirfd of /etc, ".." stops at /etc: a lexical
	 * fold that let it climb would see /sysgate-attack-... */
	snprintf(up, sizeof(up), "../../%s", base("openat2-in-root-dotdot"));
	say_fd("openat2-in-root-dotdot", (int)openat2_(etc, up, w, RESOLVE_IN_ROOT));
	say_fd("openat2-no-symlinks",
	       (int)openat2_(AT_FDCWD, name("/tmp/../", "openat2-no-symlinks"), w,
			     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
	say_fd("open-tmpfile", open("/etc", O_TMPFILE | O_WRONLY, 0600));
	/* The victim: opened to change it, by every access mode and flag. */
	say_fd("victim-wronly", open(victim, O_WRONLY | O_APPEND));
	say_fd("victim-rdwr", openat(etc, base("victim"), O_RDWR));
	say_fd("victim-trunc", open(victim, O_RDONLY | O_TRUNC));
	say_fd("victim-openat2-trunc",
	       (int)openat2_(etc, base("victim"), O_WRONLY | O_TRUNC, RESOLVE_BENEATH));
}

static void name_routes(int etc)
{
	char out[512];

	say("truncate", truncate(victim, 0));
	say("mkdir", mkdir(name("/", "mkdir"), 0700));
	say("mkdirat-dirfd", mkdirat(etc, base("mkdirat-dirfd"), 0700));
	say("mknod", mknod(name("../", "mknod"), S_IFREG | 0600, 0));
	say("mknodat-dirfd", mknodat(etc, base("mknodat-dirfd"), S_IFIFO | 0600, 0));
	say("rename-into", rename(scratch_file("r1"), name("/tmp/../", "rename-into")));
	say("renameat-into", renameat(AT_FDCWD, scratch_file("r2"), etc, base("renameat-into")));
	say("renameat2-into", syscall(SYS_renameat2, AT_FDCWD, scratch_file("r3"), etc,
				      base("renameat2-into"), 0));
	snprintf(out, sizeof(out), "%s/victim-link", scratch);
	say("link-out", link(victim, out));
	snprintf(out, sizeof(out), "%s/victim-moved", scratch);
	say("rename-out", rename(victim, out));
	say("link-into", link(scratch_file("l1"), name("//", "link-into")));
	say("linkat-into", linkat(AT_FDCWD, scratch_file("l2"), etc, base("linkat-into"), 0));
	say("symlink-into", symlink(scratch, name("/etc/../", "symlink-into")));
	say("symlinkat-into", symlinkat(scratch, etc, base("symlinkat-into")));
	say("unlink", unlink(victim));
	say("unlinkat-dirfd", unlinkat(etc, base("victim"), 0));
	say("rmdir", rmdir(vdir));
	say("unlinkat-rel-removedir", unlinkat(AT_FDCWD, name("../", "vdir"), AT_REMOVEDIR));
}

static int etc_routes(void)
{
	int etc = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int tmp = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);

	snprintf(victim, sizeof(victim), "/etc/sysgate-attack-%s-victim", tag);
	snprintf(vdir, sizeof(vdir), "/etc/sysgate-attack-%s-vdir", tag);
	snprintf(scratch, sizeof(scratch), "/tmp/sysgate-attack-%s", tag);
	if (etc < 0 || root < 0 || tmp < 0 || chdir("/tmp") < 0) {
		perror("routes: set-up");
		return 2;
	}
	open_routes(etc, root, tmp);
	name_routes(etc);
	return 0;
}

/* Reads one byte of what a route opened: a route that got through has
 * read the secret. */
static void say_read(const char *route, int fd)
{
	char c;

	if (fd >= 0 && read(fd, &c, 1) < 0)
		fd = -1;
	say_fd(route, fd);
}

static int shadow_routes(void)
{
	int etc = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char path[256];

	if (etc < 0 || root < 0 || chdir("/") < 0) {
		perror("routes: set-up");
		return 2;
	}
	say_read("shadow-dslash", open("/etc//shadow", O_RDONLY));
	say_read("shadow-lead-dslash", open("//etc/shadow", O_RDONLY));
	say_read("shadow-dot", openat(AT_FDCWD, "/etc/./shadow", O_RDONLY));
	say_read("shadow-dotdot", openat(AT_FDCWD, "/tmp/../etc/shadow", O_RDONLY));
	say_read("shadow-rel-root", openat(AT_FDCWD, "etc/shadow", O_RDONLY));
	say_read("shadow-rel-dot", open("./etc/../etc/shadow", O_RDONLY));
	say_read("shadow-dirfd", openat(etc, "shadow", O_RDONLY));
	say_read("shadow-dirfd-dot", openat(etc, "./shadow", O_RDONLY));
	say_read("shadow-openat2", (int)openat2_(AT_FDCWD, "/etc/shadow", O_RDONLY, 0));
	say_read("shadow-openat2-in-root", (int)openat2_(root, "/etc/shadow", O_RDONLY, RESOLVE_IN_ROOT));
	say_read("shadow-openat2-beneath", (int)openat2_(etc, "shadow", O_RDONLY, RESOLVE_BENEATH));
	/* Opened for reading and writing, the exact name: nothing is written. */
	say_read("shadow-rdwr", open("/etc/shadow", O_RDWR));
	/* A create under /etc, by creat: the write rule. */
	snprintf(path, sizeof(path), "/etc/sysgate-attack-%s-creat", tag);
	say_fd("etc-creat", creat(path, 0600));
	say_fd("io_uring_setup", ring());
	return 0;
}

/* A child in a new user namespace, by clone's flags in a register. */
static long clone_newuser(void)
{
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid;
}

static long clone3_newuser(void)
{
	struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid;
}

static long by_handle(void)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[128];
	} h = { .fh.handle_bytes = 128 };
	int mount_id, mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (mfd < 0 || name_to_handle_at(AT_FDCWD, "/etc/hostname", &h.fh, &mount_id, 0) < 0)
		return -1;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY);
	if (fd >= 0)
		close(fd);
	close(mfd);
	return fd;
}

/* Runs fn in a child and says what it returned there: a new namespace
 * changes the process that makes it (unshare puts it in a user namespace
 * where it has no uid), and each route must start from the same place. */
static void in_child(const char *route, long (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		long r = fn();

		_exit(r < 0 ? (errno & 0xff) : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) {
		printf("%s lost\n", route);
		return;
	}
	errno = WEXITSTATUS(st);
	say(route, errno ? -1 : 0);
}

static long unshare_newuser(void)
{
	return unshare(CLONE_NEWUSER);
}

static int call_routes(void)
{
	say("mount", mount("none", "/sysgate-attack-nowhere", "tmpfs", 0, NULL));
	say("umount2", umount2("/sysgate-attack-nowhere", 0));
	say("pivot_root", syscall(SYS_pivot_root, "/sysgate-attack-nowhere", "/sysgate-attack-nowhere"));
	say("fsopen", syscall(SYS_fsopen, "sysgate-attack-nofs", 0));
	say("fsconfig", syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
	say("fsmount", syscall(SYS_fsmount, -1, 0, 0));
	say("fspick", syscall(SYS_fspick, -1, "", 0));
	say("move_mount", syscall(SYS_move_mount, -1, "", -1, "", 0));
	say("open_tree", syscall(SYS_open_tree, -1, "", 0));
	say("mount_setattr", syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
	in_child("unshare-newuser", unshare_newuser);
	in_child("clone-newuser", clone_newuser);
	in_child("clone3-newuser", clone3_newuser);
	say("setns", setns(-1, CLONE_NEWUSER));
	say("open_by_handle_at", by_handle());
	say("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
	say_fd("io_uring_setup", ring());
	return 0;
}

static int exec_route(void)
{
	static char *const argv[] = { "true", NULL };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, environ, 0);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 2;
	errno = EPERM;
	say("execveat", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
	return 0;
}

static int send_routes(int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr mh = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
			     .msg_iovlen = 1 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 2;
	say("sendto", sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)));
	say("sendmsg", sendmsg(fd, &mh, 0));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "etc") == 0) {
		tag = argv[2];
		return etc_routes();
	}
	if (argc == 3 && strcmp(argv[1], "shadow") == 0) {
		tag = argv[2];
		return shadow_routes();
	}
	if (argc == 2 && strcmp(argv[1], "calls") == 0)
		return call_routes();
	if (argc == 2 && strcmp(argv[1], "exec") == 0)
		return exec_route();
	if (argc == 3 && strcmp(argv[1], "send") == 0)
		return send_routes(atoi(argv[2]));
	fprintf(stderr, "usage: routes etc TAG | shadow TAG | calls | exec | send PORT\n");
	return 2;
}
