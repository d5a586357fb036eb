/*
 * The many-target rows of sysgate-bench (see fleet.h): aggregate
 * throughput with N targets against a raw C loop serving N listeners,
 * sysgate-run's spawn overhead, and sysgated's memory per idle target.
 *
 * Targets talk to the bench over two pipes, with records of 8 or 16 bytes
 * (below PIPE_BUF, so writes of many targets never interleave): a target
 * writes a ready record when it runs under its filter, reads its go record
 * (start and end on CLOCK_MONOTONIC) and writes what it counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "fleet.h"
#include "raw_notify.h"
#include "sysgate/sysgate.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define MAX_TARGETS 1000
#define MAX_REPS 64
#define SPAWN_RUNS 200

static const int tput_n[] = { 1, 2, 4, 16, 256 };
#define N_TPUT (int)(sizeof(tput_n) / sizeof(tput_n[0]))

typedef struct {
	int64_t start, end;
} go_t;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads len bytes; false at EOF, on an error, or when nothing came for
 * READ_TIMEOUT_MS: a target that failed to start leaves the others
 * waiting for their go, holding the pipe open, and no EOF would come. */
#define READ_TIMEOUT_MS 60000
static bool full_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pf, 1, READ_TIMEOUT_MS) == 0) {
			fprintf(stderr, "sysgate-bench: no word from a target in %d s\n",
				READ_TIMEOUT_MS / 1000);
			return false;
		}
		n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* The target of the throughput rows: getppid in a loop between the go
 * record's start and end; writes how many calls completed. */
int fleet_tput_target(int in, int out)
{
	int64_t rec = -1, count = 0;
	go_t go;
	struct timespec ts;

	if (write(out, &rec, sizeof(rec)) != sizeof(rec) || !full_read(in, &go, sizeof(go)))
		return 1;
	ts.tv_sec = go.start / 1000000000;
	ts.tv_nsec = go.start % 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	while (now_ns() < go.end) {
		syscall(SYS_getppid);
		count++;
	}
	return write(out, &count, sizeof(count)) == sizeof(count) ? 0 : 1;
}

/* The target of the memory rows: says it runs, then blocks in a read of
 * its stdin until the bench closes it. */
int fleet_idle_target(void)
{
	char c = 'r';

	if (write(1, &c, 1) != 1)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

static int send_fd(int sock, int fd)
{
	char c = 'f';
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

/* A raw target: its filter notifies getppid, its listener goes to the
 * bench over sock, then it runs the throughput loop. */
static _Noreturn void raw_target(int sock, int in, int out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd;

	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0) < 0 ||
	    seccomp_load(ctx) < 0)
		_exit(1);
	fd = seccomp_notify_fd(ctx);
	if (send_fd(sock, fd) < 0)
		_exit(1);
	close(fd);
	_exit(fleet_tput_target(in, out));
}

/* The raw loop for n listeners: poll over all of them, then NOTIF_RECV +
 * NOTIF_SEND(CONTINUE) on each that is readable, until every target is
 * gone. With SYNC_WAKE_UP, as sysgated sets it. */
static void raw_serve(struct pollfd *p, int n)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	int live = n;

	while (live > 0) {
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (!(p[i].revents & POLLIN)) {
				close(p[i].fd); /* POLLHUP: the target is gone */
				p[i].fd = -1;
				live--;
				continue;
			}
			memset(&req, 0, sizeof(req));
			if (ioctl(p[i].fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
				continue;
			memset(&resp, 0, sizeof(resp));
			resp.id = req.id;
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			ioctl(p[i].fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
		}
	}
}

/* What starting a target under sysgated needs. */
typedef struct {
	const char *self, *sysgate_run, *sock;
	const char *exec_floor; /* bench/exec-floor, beside sysgate-bench */
} fleet_t;

/* In a forked child: becomes sysgate-run -p bench-allow -- sysgate-bench
 * cmd, with in and out as stdin and stdout. */
static _Noreturn void spawn_sysgate(const fleet_t *f, int in, int out, char *cmd)
{
	char *argv[] = { (char *)f->sysgate_run, "-s", (char *)f->sock, "-p", "bench-allow", "--",
			 (char *)f->self, cmd, NULL };

	dup2(in, 0);
	dup2(out, 1);
	execv(argv[0], argv);
	_exit(127);
}

/* One throughput run: n targets for window_ms, raw or under sysgated.
 * Notifications per second, or -1. */
#define LAUNCH_BATCH 32

static double tput_run(const fleet_t *f, bool raw, int n, int window_ms)
{
	static struct pollfd p[MAX_TARGETS];
	static pid_t pids[MAX_TARGETS];
	int go[2], res[2], sv[2] = { -1, -1 };
	int64_t total = 0, rec;
	double rate = -1;
	int started = 0, ready = 0, i;
	go_t g;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		return -1;
	if (raw && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	for (; started < n; started++) {
		pid_t pid = fork();

		if (pid < 0)
			break;
		if (pid == 0) {
			if (raw)
				raw_target(sv[1], go[0], res[1]);
			spawn_sysgate(f, go[0], res[1], "tput-target");
		}
		pids[started] = pid;
		/* sysgated has 64 handshakes in progress at most: start the
		 * targets a batch at a time, each batch in its read first. */
		if (!raw && (started + 1) % LAUNCH_BATCH == 0)
			for (i = 0; i < LAUNCH_BATCH; i++, ready++)
				if (!full_read(res[0], &rec, sizeof(rec)) || rec != -1)
					goto out;
	}
	close(go[0]);
	close(res[1]);
	if (raw)
		close(sv[1]);
	for (i = 0; raw && i < started; i++) {
		p[i].fd = recv_fd(sv[0]);
		p[i].events = POLLIN;
		if (p[i].fd < 0)
			break;
		ioctl(p[i].fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
	}
	if (started < n || (raw && i < n))
		goto out;
	for (i = ready; i < n; i++)
		if (!full_read(res[0], &rec, sizeof(rec)) || rec != -1)
			goto out;
	g.start = now_ns() + 20000000; /* every target is in its read */
	g.end = g.start + (int64_t)window_ms * 1000000;
	for (i = 0; i < n; i++)
		if (write(go[1], &g, sizeof(g)) != sizeof(g))
			goto out;
	if (raw)
		raw_serve(p, n);
	for (i = 0; i < n; i++) {
		if (!full_read(res[0], &rec, sizeof(rec)))
			goto out;
		total += rec;
	}
	rate = (double)total * 1e3 / window_ms;
out:
	close(go[1]);
	close(res[0]);
	if (raw)
		close(sv[0]);
	for (i = 0; i < started; i++)
		waitpid(pids[i], NULL, 0);
	return rate;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *lo, double *hi)
{
	double s[MAX_REPS > SPAWN_RUNS * 5 ? MAX_REPS : SPAWN_RUNS * 5];

	memcpy(s, v, (size_t)n * sizeof(double));
	qsort(s, (size_t)n, sizeof(double), cmp);
	if (lo)
		*lo = s[0];
	if (hi)
		*hi = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int tput(const fleet_t *f, int window_ms, int reps)
{
	static double v[N_TPUT][2][MAX_REPS];
	double ratio[MAX_REPS];

	for (int r = 0; r < reps; r++)
		for (int k = 0; k < N_TPUT; k++)
			for (int raw = 1; raw >= 0; raw--)
				if ((v[k][raw][r] = tput_run(f, raw, tput_n[k], window_ms)) < 0) {
					fprintf(stderr, "sysgate-bench: throughput with %d %s targets "
						"failed\n", tput_n[k], raw ? "raw" : "sysgate");
					return 1;
				}
	printf("\naggregate throughput: getppid loops in N concurrent targets, %d ms per run, %d "
	       "interleaved runs; notifications/s (all targets)\n\n", window_ms, reps);
	printf("%8s %12s %19s %12s %19s %9s %9s\n", "targets", "raw C", "min-max", "sysgated",
	       "min-max", "/raw", "paired");
	for (int k = 0; k < N_TPUT; k++) {
		double rl, rh, sl, sh, rm = median(v[k][1], reps, &rl, &rh);
		double sm = median(v[k][0], reps, &sl, &sh);
		char a[40], b[40];

		for (int r = 0; r < reps; r++)
			ratio[r] = v[k][0][r] / v[k][1][r];
		snprintf(a, sizeof(a), "%.0f-%.0f", rl, rh);
		snprintf(b, sizeof(b), "%.0f-%.0f", sl, sh);
		printf("%8d %12.0f %19s %12.0f %19s %9.2f %9.2f\n", tput_n[k], rm, a, sm, b, sm / rm,
		       median(ratio, reps, NULL, NULL));
		if (tput_n[k] == 4)
			printf("goal: 4 targets >= 0.9x the raw loop: %.2f  %s\n", sm / rm,
			       sm / rm >= 0.9 ? "met" : "NOT met");
	}
	return 0;
}

/* Waits for pid; its run's page faults (minor and major, the program's and
 * what it exec'ed) in *faults. 0, or -1 if it failed. */
static int reap(pid_t pid, double *faults)
{
	struct rusage ru;
	int status;

	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	*faults = (double)(ru.ru_minflt + ru.ru_majflt);
	return 0;
}

/* One run of argv, from fork to waitpid, in ns; -1 if it failed. */
static double time_run(char *const argv[], double *faults)
{
	int64_t t0 = now_ns();
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (reap(pid, faults) < 0)
		return -1;
	return (double)(now_ns() - t0);
}

/* One start of true by a launcher that links libsysgate: fork, then in the
 * child sg_shim_connect() and sg_shim_enter() under bench-allow and exec
 * true, with no program in between (spawn() called sg_shim_prepare()).
 * In ns from fork to waitpid; -1 if it failed. */
static double time_launch(const fleet_t *f, double *faults)
{
	int64_t t0 = now_ns();
	pid_t pid = fork();

	if (pid == 0) {
		sg_shim_opts_t o = { .socket_path = f->sock, .policy = "bench-allow",
				     .progname = "sysgate-bench" };
		sg_shim_t *s;
		char err[256];

		if (sg_shim_connect(&o, &s, err, sizeof(err)) < 0 ||
		    sg_shim_enter(s, err, sizeof(err)) < 0) {
			fprintf(stderr, "sysgate-bench: %s\n", err);
			_exit(126);
		}
		sg_shim_free(s);
		execlp("true", "true", (char *)NULL);
		_exit(127);
	}
	if (reap(pid, faults) < 0)
		return -1;
	return (double)(now_ns() - t0);
}

#define FAULT_PAGES 512

/* What one page fault costs a forked child here: the child writes a byte
 * to each of FAULT_PAGES pages its parent had written (a copy-on-write
 * fault each); ns per page, the median of 21 children; -1 if it failed.
 * On a nested VM a fault costs tens of microseconds, and a fork's child
 * faults on every page it writes and on every 64 KiB of code it runs
 * first, so this prices the faults the spawn rows count. */
static double fault_cost(void)
{
	const long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)page * FAULT_PAGES;
	double v[21];
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t *out = mmap(NULL, sizeof(*out), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ok = mem != MAP_FAILED && out != MAP_FAILED;

	if (ok)
		(void)madvise(mem, len, MADV_NOHUGEPAGE); /* one fault per 4 KiB page */
	for (int r = 0; ok && r < 21; r++) {
		double faults;
		pid_t pid;

		memset(mem, r, len);
		pid = fork();
		if (pid == 0) {
			int64_t t0 = now_ns();

			for (size_t i = 0; i < len; i += (size_t)page)
				((volatile char *)mem)[i] = 1;
			*out = now_ns() - t0;
			_exit(0);
		}
		ok = reap(pid, &faults) == 0;
		v[r] = (double)*out / FAULT_PAGES;
	}
	if (mem != MAP_FAILED)
		munmap(mem, len);
	if (out != MAP_FAILED)
		munmap(out, sizeof(*out));
	return ok ? median(v, 21, NULL, NULL) : -1;
}

/* The rows of the spawn table, in the order they run in each round. */
enum { SP_TRUE, SP_RUN, SP_VERSION, SP_LIB, SP_FLOOR, SP_ROWS };

static const char *const spawn_name[SP_ROWS] = {
	"true",
	"sysgate-run -s SOCK -p bench-allow -- true",
	"sysgate-run --version (its own start only)",
	"launcher linking libsysgate, then exec true",
	"exec-floor true (static, only execs true)",
};

/* sysgate-run -- true against true, interleaved, runs times each; and
 * sysgate-run --version, which is sysgate-run's own exec and start with
 * no handshake, no filter and no second exec: what it costs over true
 * splits the overhead in two. Each row also counts its child's page
 * faults, which fault_cost() prices. */
static int spawn(const fleet_t *f, int runs)
{
	static double ns[SP_ROWS][SPAWN_RUNS * 5], flt[SP_ROWS][SPAWN_RUNS * 5],
		diff[SPAWN_RUNS * 5], libdiff[SPAWN_RUNS * 5];
	char *t[] = { "true", NULL };
	char *v[] = { (char *)f->sysgate_run, "--version", NULL };
	char *x[] = { (char *)f->exec_floor, "/bin/true", NULL };
	char *s[] = { (char *)f->sysgate_run, "-s", (char *)f->sock, "-p", "bench-allow", "--",
		      "true", NULL };
	double med[SP_ROWS], lo[SP_ROWS], hi[SP_ROWS], fmed[SP_ROWS], fcost;
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), out = dup(1);

	/* As a host that forks its launchers does: once, before the forks. */
	if (sg_shim_prepare() < 0) {
		fprintf(stderr, "sysgate-bench: this kernel cannot notify a supervisor\n");
		return 1;
	}

	for (int r = 0; r < runs; r++) {
		ns[SP_TRUE][r] = time_run(t, &flt[SP_TRUE][r]);
		ns[SP_RUN][r] = time_run(s, &flt[SP_RUN][r]);
		dup2(devnull, 1);
		ns[SP_VERSION][r] = time_run(v, &flt[SP_VERSION][r]);
		dup2(out, 1);
		ns[SP_LIB][r] = time_launch(f, &flt[SP_LIB][r]);
		ns[SP_FLOOR][r] = time_run(x, &flt[SP_FLOOR][r]);
		for (int k = 0; k < SP_ROWS; k++)
			if (ns[k][r] < 0) {
				fprintf(stderr, "sysgate-bench: spawn run failed: %s\n",
					spawn_name[k]);
				return 1;
			}
		diff[r] = ns[SP_RUN][r] - ns[SP_TRUE][r];
		libdiff[r] = ns[SP_LIB][r] - ns[SP_TRUE][r];
	}
	close(devnull);
	close(out);
	fcost = fault_cost();
	printf("\nspawn: fork + exec + wait, %d interleaved runs each; us, and the page faults "
	       "of the child (median)\n\n", runs);
	printf("%-44s %10s %21s %8s\n", "command", "median", "min-max", "faults");
	for (int k = 0; k < SP_ROWS; k++) {
		med[k] = median(ns[k], runs, &lo[k], &hi[k]);
		fmed[k] = median(flt[k], runs, NULL, NULL);
		printf("%-44s %10.0f %14.0f-%.0f %8.0f\n", spawn_name[k], med[k] / 1e3, lo[k] / 1e3,
		       hi[k] / 1e3, fmed[k]);
	}
	printf("goal: overhead <= 1 ms median: sysgate-run %.0f us (paired median %.0f us)  %s\n",
	       (med[SP_RUN] - med[SP_TRUE]) / 1e3, median(diff, runs, NULL, NULL) / 1e3,
	       med[SP_RUN] - med[SP_TRUE] <= 1e6 ? "met" : "NOT met");
	printf("floor: any program between fork and true costs at least %.0f us (exec-floor)\n",
	       (med[SP_FLOOR] - med[SP_TRUE]) / 1e3);
	printf("goal: overhead <= 1 ms median: libsysgate launcher %.0f us (paired median %.0f us)  "
	       "%s\n", (med[SP_LIB] - med[SP_TRUE]) / 1e3, median(libdiff, runs, NULL, NULL) / 1e3,
	       med[SP_LIB] - med[SP_TRUE] <= 1e6 ? "met" : "NOT met");
	if (fcost > 0)
		printf("page faults: one costs a forked child %.1f us here (copy-on-write, %d pages); "
		       "the launcher's %.0f over true are about %.0f us of its overhead, "
		       "sysgate-run's %.0f about %.0f us\n", fcost / 1e3, FAULT_PAGES,
		       fmed[SP_LIB] - fmed[SP_TRUE],
		       (fmed[SP_LIB] - fmed[SP_TRUE]) * fcost / 1e3,
		       fmed[SP_RUN] - fmed[SP_TRUE], (fmed[SP_RUN] - fmed[SP_TRUE]) * fcost / 1e3);
	return 0;
}

int fleet_run(const char *self, const char *sysgate_run, const char *sock, int window_ms,
	      int reps, int spawn_runs)
{
	static char floor_path[4096];
	const char *slash = strrchr(self, '/');
	fleet_t f = { self, sysgate_run, sock, floor_path };

	snprintf(floor_path, sizeof(floor_path), "%.*s/exec-floor",
		 slash ? (int)(slash - self) : 1, slash ? self : ".");

	if (reps > MAX_REPS || spawn_runs > SPAWN_RUNS * 5)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (tput(&f, window_ms, reps))
		return 1;
	return spawn(&f, spawn_runs);
}

static long vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

/* sysgated's VmRSS with 0, 1, 100 and 1,000 idle targets, added in steps
 * to the same supervisor (sgd, fresh, serving sock). */
int fleet_rss(const char *self, const char *sysgate_run, const char *sock, pid_t sgd)
{
	static const int steps[] = { 0, 1, 100, 1000 };
	static pid_t pids[MAX_TARGETS];
	fleet_t f = { self, sysgate_run, sock, NULL };
	long rss[4];
	int in[2], out[2], n = 0, rc = 1;
	struct rlimit rl;

	/* Each target holds two pipe ends here; the bench holds none. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return 1;
	for (int s = 0; s < 4; s++) {
		for (; n < steps[s]; n++) {
			char c;
			pid_t pid = fork();

			if (pid < 0)
				goto out;
			if (pid == 0)
				spawn_sysgate(&f, in[0], out[1], "idle");
			pids[n] = pid;
			if (!full_read(out[0], &c, 1)) /* it runs under its filter */
				goto out;
		}
		usleep(200000); /* let sysgated finish with the last handshake */
		rss[s] = vm_rss_kib(sgd);
	}
	printf("\nsysgated memory (VmRSS) with idle targets (each blocked in read(2) of a pipe), "
	       "added to one fresh sysgated\n\n");
	printf("%8s %10s %22s\n", "targets", "VmRSS KiB", "KiB per target over 0");
	for (int s = 0; s < 4; s++) {
		if (steps[s])
			printf("%8d %10ld %22.1f\n", steps[s], rss[s],
			       (double)(rss[s] - rss[0]) / steps[s]);
		else
			printf("%8d %10ld %22s\n", 0, rss[s], "-");
	}
	printf("goal: <= 16 KiB per idle target at 1,000: %.1f  %s\n",
	       (double)(rss[3] - rss[0]) / 1000, rss[3] - rss[0] <= 16 * 1000 ? "met" : "NOT met");
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "sysgate-bench: idle target %d did not start\n", n);
	close(in[1]); /* every idle target reads EOF and ends */
	close(in[0]);
	close(out[0]);
	close(out[1]);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	return rc;
}
