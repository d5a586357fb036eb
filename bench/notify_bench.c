/*
 * sysgate-bench: what one getppid() costs under each way of deciding it,
 * measured side by side in one run with interleaved repetitions.
 *
 *   none     no filter at all
 *   kernel   under sysgate-run with a policy that decides getppid in the
 *            kernel (it has handlers, but none for getppid)
 *   raw      a minimal C supervisor in this process: poll + NOTIF_RECV +
 *            NOTIF_SEND(CONTINUE) in a thread, the floor for a notified call
 *   raw+sync the same with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 *   sysgate  under sysgate-run, forwarded to sysgated, handler returns allow
 *
 *   sysgate-bench run SYSGATE_RUN SOCKET [CALLS [REPS]]
 *   sysgate-bench target CALLS       (the measured loop; prints ns per call)
 *
 * The policies "bench-kernel" and "bench-allow" must be loaded in the
 * sysgated behind SOCKET (bench/run does all of it).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/seccomp.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

enum { M_NONE, M_KERNEL, M_RAW, M_RAW_SYNC, M_SYSGATE, M_COUNT };
static const char *mode_names[M_COUNT] = { "no filter", "kernel-decided (sysgate policy)",
					   "raw C notify loop", "raw C loop + SYNC_WAKE_UP",
					   "sysgated, allow handler" };

#define MAX_REPS 64

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double loop(long calls)
{
	double t0;

	for (int i = 0; i < 1000; i++) /* warm-up */
		syscall(SYS_getppid);
	t0 = now_ns();
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / (double)calls;
}

static int target(long calls)
{
	printf("%.1f\n", loop(calls));
	return 0;
}

/* Runs argv with stdout to a pipe; returns the ns it printed. */
static double run_child(char *const argv[])
{
	int p[2], status;
	char buf[64] = "";
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return strtod(buf, NULL);
}

struct raw {
	int sock;
	bool sync;
};

static int recv_fd(int sock)
{
	char c;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

/* The raw supervisor: the least a notified call can cost. */
static void *raw_serve(void *arg)
{
	struct raw *r = arg;
	struct seccomp_notif_sizes sz;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	int fd = recv_fd(r->sock);

	if (fd < 0)
		return NULL;
	syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz);
	req = calloc(1, sz.seccomp_notif > sizeof(*req) ? sz.seccomp_notif : sizeof(*req));
	resp = calloc(1, sz.seccomp_notif_resp > sizeof(*resp) ? sz.seccomp_notif_resp : sizeof(*resp));
	if (r->sync)
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
	if (write(r->sock, "g", 1) != 1)
		goto out;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (!(p.revents & POLLIN))
			break; /* POLLHUP: the child is gone */
		memset(req, 0, sizeof(*req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
			continue;
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
out:
	free(req);
	free(resp);
	close(fd);
	return NULL;
}

static double run_raw(long calls, bool sync)
{
	struct raw r = { .sync = sync };
	int sv[2], status;
	pthread_t th;
	double ns = -1;
	int p[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe(p) < 0)
		return -1;
	r.sock = sv[0];
	pthread_create(&th, NULL, raw_serve, &r);
	pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		char c;
		int fd;
		struct iovec iov = { &c, 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		/* Only getppid is notified, so the handoff below is never
		 * forwarded: this child needs no helper thread. */
		seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0);
		if (seccomp_load(ctx) < 0)
			_exit(1);
		fd = seccomp_notify_fd(ctx);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
		c = 'f';
		if (sendmsg(sv[1], &mh, 0) != 1 || read(sv[1], &c, 1) != 1)
			_exit(1);
		close(fd);
		dprintf(p[1], "%.1f\n", loop(calls));
		_exit(0);
	}
	close(sv[1]);
	close(p[1]);
	{
		char buf[64] = "";
		ssize_t n = read(p[0], buf, sizeof(buf) - 1);

		if (n > 0)
			ns = strtod(buf, NULL);
	}
	close(p[0]);
	waitpid(pid, &status, 0);
	pthread_join(th, NULL);
	close(sv[0]);
	return ns;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run(const char *self, const char *sysgate_run, const char *sock, long calls, int reps)
{
	static double ns[M_COUNT][MAX_REPS], med[M_COUNT];
	char callsbuf[32];

	snprintf(callsbuf, sizeof(callsbuf), "%ld", calls);
	for (int r = 0; r < reps; r++) {
		for (int m = 0; m < M_COUNT; m++) {
			char *none[] = { (char *)self, "target", callsbuf, NULL };
			char *kern[] = { (char *)sysgate_run, "-s", (char *)sock, "-p", "bench-kernel", "--",
					 (char *)self, "target", callsbuf, NULL };
			char *sg[] = { (char *)sysgate_run, "-s", (char *)sock, "-p", "bench-allow", "--",
				       (char *)self, "target", callsbuf, NULL };

			switch (m) {
			case M_NONE: ns[m][r] = run_child(none); break;
			case M_KERNEL: ns[m][r] = run_child(kern); break;
			case M_RAW: ns[m][r] = run_raw(calls, false); break;
			case M_RAW_SYNC: ns[m][r] = run_raw(calls, true); break;
			default: ns[m][r] = run_child(sg); break;
			}
			if (ns[m][r] < 0) {
				fprintf(stderr, "sysgate-bench: mode '%s' failed\n", mode_names[m]);
				return 1;
			}
		}
	}
	printf("getppid, %ld calls per run, %d interleaved runs per mode; ns per call\n\n", calls, reps);
	printf("%-34s %10s %21s %9s %9s %9s\n", "mode", "median", "min-max", "/none", "/raw",
	       "/raw+sync");
	for (int m = 0; m < M_COUNT; m++) {
		qsort(ns[m], (size_t)reps, sizeof(double), cmp);
		med[m] = reps % 2 ? ns[m][reps / 2] : (ns[m][reps / 2 - 1] + ns[m][reps / 2]) / 2;
	}
	for (int m = 0; m < M_COUNT; m++) {
		char range[48];

		snprintf(range, sizeof(range), "%.0f-%.0f", ns[m][0], ns[m][reps - 1]);
		printf("%-34s %10.0f %21s %9.2f %9.2f %9.2f\n", mode_names[m], med[m], range,
		       med[m] / med[M_NONE], med[m] / med[M_RAW], med[m] / med[M_RAW_SYNC]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "target") == 0)
		return target(strtol(argv[2], NULL, 10));
	if (argc >= 4 && strcmp(argv[1], "run") == 0) {
		long calls = argc > 4 ? strtol(argv[4], NULL, 10) : 20000;
		int reps = argc > 5 ? atoi(argv[5]) : 7;
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0 || calls <= 0 || reps <= 0 || reps > MAX_REPS)
			return 2;
		self[n] = '\0';
		return run(self, argv[2], argv[3], calls, reps);
	}
	fprintf(stderr, "usage: sysgate-bench run SYSGATE_RUN SOCKET [CALLS [REPS]]\n");
	return 2;
}
