/*
 * own_listener: a target that tries to take its calls back from sysgate,
 * for tests/attack/test_fail_closed.c. PATH is a file the policy denies;
 * the attacks try to create it.
 *
 *   own_listener AS PATH [SGD_PID]
 *     AS: "root" (keeps what it has), "nocaps" (uid 0, no capability) or
 *     "nobody" (uid and gid 65534). Shows the policy at work (creating
 *     PATH fails), prints "ready" and waits for a line on stdin; with
 *     SGD_PID it then kills sysgated itself (SIGKILL). Once a forwarded
 *     call fails with ENOSYS (sysgated is gone) it stacks filters of its
 *     own: one with a listener, answered CONTINUE by a thread (the
 *     attack), the same with TSYNC, one loaded with prctl that allows
 *     the open, one that says TRACE for it; each time it tries to create
 *     PATH. Last, as a tracer of its own child, it asks the kernel to
 *     suspend the child's seccomp.
 *
 *   own_listener traced PATH
 *     The same start; then it asks its parent (own_tracer) to trace it,
 *     stacks a filter that says TRACE for openat and getppid, and makes
 *     an openat and a getppid with openat's arguments, which the tracer
 *     turns into an openat.
 *
 *   own_listener probe
 *     Prints what every guarded call gives under the current filter,
 *     with sysgated alive: a listener of its own, the same with the upper
 *     half of the flags set, another seccomp() call, userfaultfd() and
 *     ioctl(USERFAULTFD_IOC_NEW) both ways, and an ordinary ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;

static const char *result(long r)
{
	static char buf[64];

	if (r < 0)
		return strerrorname_np(errno);
	snprintf(buf, sizeof(buf), "ok %ld", r);
	return buf;
}

static void out(const char *what, long r)
{
	printf("%s: %s\n", what, result(r));
	fflush(stdout);
}

static long create(void)
{
	return syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
}

/* A filter that gives action to every way of opening a file and allows
 * the rest. */
static long own_filter(unsigned op_flags, uint32_t action, int via_prctl)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_creat, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, action),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (via_prctl)
		return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, op_flags, &prog);
}

/* The attacker's supervisor: every notification is answered CONTINUE. */
static void *answer(void *arg)
{
	int fd = (int)(intptr_t)arg;

	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;

		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			return NULL;
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static int become(const char *as)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (strcmp(as, "root") == 0)
		return 0;
	if (strcmp(as, "nobody") == 0)
		return setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
		       setresuid(65534, 65534, 65534) == 0 ? 0 : -1;
	memset(d, 0, sizeof(d));
	return strcmp(as, "nocaps") == 0 ? (int)syscall(SYS_capset, &h, d) : -1;
}

/* Shows the policy, says "ready", waits for the go; with sgd kills it. */
static int start(const char *as, pid_t sgd)
{
	char line[16];

	if (become(as) < 0) {
		perror("own_listener: dropping privileges");
		return -1;
	}
	printf("as %s: uid %d\n", as, (int)getuid());
	out("create under sysgated", create());
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return -1;
	if (sgd > 0)
		out("kill sysgated", kill(sgd, SIGKILL));
	/* Bounded: sysgated's files are closed as it exits. */
	for (int i = 0; i < 2000; i++) {
		if (syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC) < 0 && errno == ENOSYS) {
			printf("forwarded: ENOSYS\n");
			fflush(stdout);
			return 0;
		}
		usleep(5000);
	}
	printf("forwarded: sysgated still answers\n");
	return -1;
}

/* As a tracer of a child of its own (under the same filters): the kernel
 * refuses to suspend seccomp for a tracer that is filtered itself. */
static void suspend_child(void)
{
	pid_t child = fork();
	long r;

	if (child == 0) {
		pause();
		_exit(0);
	}
	r = ptrace(PTRACE_SEIZE, child, NULL, (void *)(long)PTRACE_O_SUSPEND_SECCOMP);
	out("suspend seccomp", r);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static int attack(void)
{
	pthread_t th;
	long fd;

	fd = own_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_RET_USER_NOTIF, 0);
	out("listener", fd);
	if (fd >= 0 && pthread_create(&th, NULL, answer, (void *)(intptr_t)fd) != 0)
		return 2;
	out("create after listener", create());
	out("listener tsync",
	    own_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
			       SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
		       SECCOMP_RET_USER_NOTIF, 0));
	out("create after tsync", create());
	out("prctl allow", own_filter(0, SECCOMP_RET_ALLOW, 1));
	out("create after prctl", create());
	out("trace", own_filter(0, SECCOMP_RET_TRACE, 0));
	out("create after trace", create());
	suspend_child();
	printf("done\n");
	return 0;
}

/* Under own_tracer: the tracer sees TRACE stops and rewrites getppid. */
static int traced(void)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 || raise(SIGSTOP) != 0)
		return 2;
	out("trace filter", own_filter(0, SECCOMP_RET_TRACE, 0));
	out("trace create", create());
	out("trace rewritten", syscall(SYS_getppid, AT_FDCWD, path,
				       O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	printf("done\n");
	return 0;
}

static void probe_uffd_dev(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

	out("uffd dev open", dev);
	if (dev < 0)
		return;
	out("uffd dev ioctl", syscall(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, O_CLOEXEC));
	/* The kernel reads cmd as unsigned int: the upper half is ignored. */
	out("uffd dev ioctl high",
	    syscall(SYS_ioctl, dev, (1UL << 32) | USERFAULTFD_IOC_NEW, O_CLOEXEC));
	close(dev);
}

static int probe(void)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { 1, f };
	uint32_t act = SECCOMP_RET_ALLOW;
	int p[2], n = -1;

	out("listener", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
	/* seccomp() reads flags as unsigned int too. */
	out("listener high", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				     (1UL << 32) | SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
	out("action avail", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act));
	out("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
	probe_uffd_dev();
	if (pipe2(p, O_CLOEXEC) < 0)
		return 2;
	out("ioctl other", syscall(SYS_ioctl, p[0], FIONREAD, &n));
	printf("done\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "probe") == 0)
		return probe();
	if (argc < 3)
		return 2;
	path = argv[2];
	if (strcmp(argv[1], "traced") == 0)
		return start("root", 0) < 0 ? 3 : traced();
	return start(argv[1], argc > 3 ? (pid_t)atoi(argv[3]) : 0) < 0 ? 3 : attack();
}
