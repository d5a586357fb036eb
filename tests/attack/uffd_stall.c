/*
 * uffd_stall: a target that serves its own page faults, so that the
 * supervisor's read of a path argument waits on it (for
 * tests/attack/test_fail_closed.c).
 *
 *   uffd_stall target
 *     Under sysgate, as uid 0: creates a userfaultfd with the syscall
 *     (with its capabilities) and, without capabilities, with
 *     ioctl(USERFAULTFD_IOC_NEW) on /dev/userfaultfd (root's, 0600). With
 *     one, it registers a page, makes a forwarded openat whose path lies
 *     in it, and says whose read faulted ("fault by pid P"), then serves
 *     the page ("/etc/hostname") so that nothing hangs.
 *
 *   uffd_stall demo
 *     The same with no sysgate: a filter of its own forwards openat to
 *     its main thread, which reads the path like sysgated does
 *     (process_vm_readv); the read waits until the fault handler serves
 *     the page. Shows why every sysgate filter refuses userfaultfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static long page_size;
static char *page;

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

/* The pid (thread group) of thread tid. */
static long tgid_of(long tid)
{
	char p[64], line[128];
	long tgid = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%ld/status", tid);
	f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	if (f)
		fclose(f);
	return tgid;
}

/* Registers page with uffd (missing faults, with the faulting thread). */
static int arm(int uffd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_THREAD_ID };
	struct uffdio_register reg = { .range = { (uintptr_t)page, (uint64_t)page_size },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };

	if (ioctl(uffd, UFFDIO_API, &api) < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -1;
	return 0;
}

/* The fault handler: one fault, then the page holds "/etc/hostname". */
static void *serve(void *arg)
{
	int uffd = (int)(intptr_t)arg;
	struct pollfd p = { uffd, POLLIN, 0 };
	struct uffd_msg msg;
	char *src = aligned_alloc((size_t)page_size, (size_t)page_size);
	struct uffdio_copy cp;

	long r;

	if (!src || poll(&p, 1, -1) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	/* Served before anything else: while the page is missing, any call
	 * of this process that sysgated decides waits behind the read. */
	memset(src, 0, (size_t)page_size);
	strcpy(src, "/etc/hostname");
	cp = (struct uffdio_copy){ .dst = (uintptr_t)page, .src = (uintptr_t)src,
				   .len = (uint64_t)page_size };
	r = ioctl(uffd, UFFDIO_COPY, &cp);
	printf("fault by pid %ld\n", tgid_of((long)msg.arg.pagefault.feat.ptid));
	out("served", r);
	free(src);
	return NULL;
}

static int stall(int uffd)
{
	pthread_t th;

	if (arm(uffd) < 0 || pthread_create(&th, NULL, serve, (void *)(intptr_t)uffd) != 0)
		return 2;
	out("open in the page", syscall(SYS_openat, AT_FDCWD, page, O_RDONLY | O_CLOEXEC));
	pthread_join(th, NULL);
	return 0;
}

static long dev_uffd(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	long fd;

	out("uffd dev open", dev);
	if (dev < 0)
		return -1;
	fd = syscall(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
	out("uffd dev ioctl", fd);
	close(dev);
	return fd;
}

static int target(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	long fd2;

	out("userfaultfd", fd);
	memset(d, 0, sizeof(d));
	out("drop capabilities", syscall(SYS_capset, &h, d));
	fd2 = dev_uffd();
	if (fd < 0)
		fd = fd2;
	if (fd >= 0)
		return stall((int)fd);
	printf("done\n");
	return 0;
}

/* demo: the supervisor's side, on the main thread. */
static _Atomic int listener = -1;

static void *filtered(void *arg)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	long fd;

	(void)arg;
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	atomic_store(&listener, fd < 0 ? -2 : (int)fd);
	if (fd >= 0)
		out("open in the page", syscall(SYS_openat, AT_FDCWD, page, O_RDONLY | O_CLOEXEC));
	return NULL;
}

static int demo(void)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	char path[64] = "";
	struct iovec local = { path, sizeof(path) - 1 }, remote;
	pthread_t server, th;
	long uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	int fd;

	out("userfaultfd", uffd);
	if (uffd < 0 || arm((int)uffd) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    pthread_create(&server, NULL, serve, (void *)(intptr_t)uffd) != 0 ||
	    pthread_create(&th, NULL, filtered, NULL) != 0)
		return 2;
	while ((fd = atomic_load(&listener)) == -1)
		usleep(1000);
	memset(&req, 0, sizeof(req));
	if (fd < 0 || ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return 2;
	printf("supervisor: pid %ld reads the path\n", (long)getpid());
	fflush(stdout);
	remote = (struct iovec){ (void *)(uintptr_t)req.data.args[1], sizeof(path) - 1 };
	out("supervisor read", process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	printf("supervisor read \"%s\"\n", path);
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	pthread_join(th, NULL);
	pthread_join(server, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	page = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (page == MAP_FAILED || argc != 2)
		return 2;
	if (strcmp(argv[1], "demo") == 0)
		return demo();
	return strcmp(argv[1], "target") == 0 ? target() : 2;
}
