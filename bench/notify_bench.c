/*
 * sysgate-bench: what one system call costs under each way of deciding it,
 * measured side by side in one run with interleaved repetitions. Two
 * workloads, one table each:
 *
 * getppid():
 *   none     no filter at all
 *   kernel   under sysgate-run with a policy that decides getppid in the
 *            kernel (it has handlers, but none for getppid)
 *   raw      a minimal C supervisor in this process: poll + NOTIF_RECV +
 *            NOTIF_SEND(CONTINUE) in a thread, the floor for a notified call
 *   raw+sync the same with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 *   sysgate  under sysgate-run, forwarded to sysgated, handler returns allow
 *
 * openat(AT_FDCWD, OPEN_PATH, O_RDONLY) + close() (close is not notified):
 *   none     no filter at all
 *   kernel   under sysgate-run with "bench-allow", whose only handler is
 *            getppid's: openat is decided in the kernel
 *   raw path the raw+sync supervisor that also reads the path as sysgated
 *            reads c.path, compares it and answers CONTINUE
 *   sg path  forwarded to sysgated, a handler that compares c.path and
 *            returns allow ("bench-path")
 *   raw open the raw path loop, then the brokered open broker.c makes
 *            (raw_broker.c): the file opened as the caller from its root,
 *            the fd injected with NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND
 *   sg open  the same handler returning sysgate.open() ("bench-open")
 *
 *   sysgate-bench run SYSGATE_RUN SOCKET [CALLS [REPS]]
 *   sysgate-bench target CALLS [PATH] (the measured loop, getppid or
 *                                      opening PATH; prints ns per call)
 *
 * The policies "bench-kernel", "bench-allow", "bench-path" and
 * "bench-open" must be loaded in the sysgated behind SOCKET (bench/run
 * does all of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raw_notify.h"

#define MAX_REPS 64
#define OPEN_PATH "/etc/passwd"

typedef enum { W_GETPPID, W_OPEN } work_t;
typedef enum { H_NONE, H_POLICY, H_RAW } how_t;

/* One row of a table: which loop, decided how, compared with which row. */
typedef struct {
	const char *name;
	work_t work;
	how_t how;
	const char *policy; /* H_POLICY: the sysgated policy */
	raw_kind_t raw;     /* H_RAW: the raw supervisor */
	bool sync;          /* H_RAW: with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP */
	int pair;           /* the raw C row doing the same work, or -1 */
} bench_mode_t;

enum {
	M_NONE, M_KERNEL, M_RAW, M_RAW_SYNC, M_SYSGATE,
	M_OPEN_NONE, M_OPEN_KERNEL, M_OPEN_RAW_PATH, M_OPEN_SYSGATE_PATH,
	M_OPEN_RAW_BROKER, M_OPEN_SYSGATE_BROKER,
	M_COUNT
};

static const bench_mode_t modes[M_COUNT] = {
	[M_NONE] = { "no filter", W_GETPPID, H_NONE, NULL, 0, false, -1 },
	[M_KERNEL] = { "kernel-decided (sysgate policy)", W_GETPPID, H_POLICY, "bench-kernel", 0,
		       false, -1 },
	[M_RAW] = { "raw C notify loop", W_GETPPID, H_RAW, NULL, RAW_CONTINUE, false, -1 },
	[M_RAW_SYNC] = { "raw C loop + SYNC_WAKE_UP", W_GETPPID, H_RAW, NULL, RAW_CONTINUE, true,
			 -1 },
	[M_SYSGATE] = { "sysgated, allow handler", W_GETPPID, H_POLICY, "bench-allow", 0, false,
			M_RAW_SYNC },
	[M_OPEN_NONE] = { "no filter", W_OPEN, H_NONE, NULL, 0, false, -1 },
	[M_OPEN_KERNEL] = { "kernel-decided openat", W_OPEN, H_POLICY, "bench-allow", 0,
			    false, -1 },
	[M_OPEN_RAW_PATH] = { "raw C, reads the path", W_OPEN, H_RAW, NULL, RAW_PATH, true, -1 },
	[M_OPEN_SYSGATE_PATH] = { "sysgated, handler reads c.path", W_OPEN, H_POLICY, "bench-path",
				  0, false, M_OPEN_RAW_PATH },
	[M_OPEN_RAW_BROKER] = { "raw C, brokered open", W_OPEN, H_RAW, NULL, RAW_BROKER, true, -1 },
	[M_OPEN_SYSGATE_BROKER] = { "sysgated, sysgate.open brokered", W_OPEN, H_POLICY,
				    "bench-open", 0, false, M_OPEN_RAW_BROKER },
};

/* The path the open loop passes, copied to a fixed place: 256 bytes before
 * the end of a page, so that every supervisor's page-by-page read copies
 * the same 256 bytes whatever the loader did with argv or .rodata. */
static char open_page[4096] __attribute__((aligned(4096)));
static const char *open_path = open_page + 4096 - 256;

static void set_open_path(const char *path)
{
	snprintf(open_page + 4096 - 256, 256, "%s", path);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double loop_getppid(long calls)
{
	double t0;

	for (int i = 0; i < 1000; i++) /* warm-up */
		syscall(SYS_getppid);
	t0 = now_ns();
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / (double)calls;
}

/* One openat + close; the first failure is reported on stderr. */
static bool open_close(long *failed)
{
	long fd = syscall(SYS_openat, AT_FDCWD, open_path, O_RDONLY);

	if (fd < 0) {
		if ((*failed)++ == 0)
			fprintf(stderr, "sysgate-bench: openat(\"%s\"): %s\n", open_path,
				strerror(errno));
		return false;
	}
	close((int)fd);
	return true;
}

/* openat + close; -1 if any open failed (the file must exist, and no
 * supervisor may deny it). */
static double loop_open(long calls)
{
	long failed = 0;
	double t0;

	for (int i = 0; i < 1000; i++) /* warm-up */
		open_close(&failed);
	t0 = now_ns();
	for (long i = 0; i < calls; i++)
		open_close(&failed);
	return failed ? -1 : (now_ns() - t0) / (double)calls;
}

static int target(long calls, const char *path)
{
	if (path)
		set_open_path(path);
	printf("%.1f\n", path ? loop_open(calls) : loop_getppid(calls));
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

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double run_mode(const bench_mode_t *m, const char *self, const char *sysgate_run,
		       const char *sock, long calls)
{
	bool open = m->work == W_OPEN;
	char callsbuf[32];
	char *argv[] = { (char *)sysgate_run, "-s", (char *)sock, "-p", (char *)m->policy, "--",
			 (char *)self, "target", callsbuf, open ? OPEN_PATH : NULL, NULL };

	snprintf(callsbuf, sizeof(callsbuf), "%ld", calls);
	switch (m->how) {
	case H_NONE: return run_child(argv + 6);
	case H_POLICY: return run_child(argv);
	default:
		return raw_run(open ? SYS_openat : SYS_getppid, m->raw, m->sync,
			       open ? loop_open : loop_getppid, calls);
	}
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_row(int m, const double *v, int reps, const double *med, int none)
{
	char range[48];

	snprintf(range, sizeof(range), "%.0f-%.0f", v[0], v[reps - 1]);
	printf("%-34s %10.0f %21s %9.2f", modes[m].name, med[m], range, med[m] / med[none]);
}

static void print_getppid(double ns[][MAX_REPS], int reps, const double *med, long calls)
{
	printf("getppid, %ld calls per run, %d interleaved runs per mode; ns per call\n\n", calls,
	       reps);
	printf("%-34s %10s %21s %9s %9s %9s\n", "mode", "median", "min-max", "/none", "/raw",
	       "/raw+sync");
	for (int m = M_NONE; m <= M_SYSGATE; m++) {
		print_row(m, ns[m], reps, med, M_NONE);
		printf(" %9.2f %9.2f\n", med[m] / med[M_RAW], med[m] / med[M_RAW_SYNC]);
	}
}

/* The open table: each sysgated row against the raw C row doing the same
 * work (raw C rows are their own pair), as the ratio of the medians and as
 * the median of the ratios of each repetition's two runs, which ran back
 * to back and so share whatever else the machine was doing. */
static void print_open(double ns[][MAX_REPS], int reps, const double *med, const double *paired,
		       long calls)
{
	printf("\nopenat(AT_FDCWD, \"%s\", O_RDONLY) + close, %ld calls per run, %d "
	       "interleaved runs per mode; ns per call\n\n",
	       OPEN_PATH, calls, reps);
	printf("%-34s %10s %21s %9s %12s %9s\n", "mode", "median", "min-max", "/none", "/raw C pair",
	       "paired");
	for (int m = M_OPEN_NONE; m < M_COUNT; m++) {
		print_row(m, ns[m], reps, med, M_OPEN_NONE);
		if (modes[m].pair >= 0)
			printf(" %12.2f %9.2f\n", med[m] / med[modes[m].pair], paired[m]);
		else if (modes[m].how == H_RAW)
			printf(" %12.2f %9.2f\n", 1.0, 1.0);
		else
			printf(" %12s %9s\n", "-", "-");
	}
}

static int run(const char *self, const char *sysgate_run, const char *sock, long calls, int reps)
{
	static double ns[M_COUNT][MAX_REPS], med[M_COUNT], paired[M_COUNT];

	for (int r = 0; r < reps; r++) {
		for (int m = 0; m < M_COUNT; m++) {
			ns[m][r] = run_mode(&modes[m], self, sysgate_run, sock, calls);
			if (ns[m][r] < 0) {
				fprintf(stderr, "sysgate-bench: mode '%s' failed\n", modes[m].name);
				return 1;
			}
		}
	}
	for (int m = 0; m < M_COUNT; m++) {
		double ratio[MAX_REPS];

		if (modes[m].pair < 0)
			continue;
		for (int r = 0; r < reps; r++)
			ratio[r] = ns[m][r] / ns[modes[m].pair][r];
		paired[m] = median(ratio, reps);
	}
	for (int m = 0; m < M_COUNT; m++)
		med[m] = median(ns[m], reps);
	print_getppid(ns, reps, med, calls);
	print_open(ns, reps, med, paired, calls);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "target") == 0)
		return target(strtol(argv[2], NULL, 10), argc == 4 ? argv[3] : NULL);
	if (argc >= 4 && strcmp(argv[1], "run") == 0) {
		long calls = argc > 4 ? strtol(argv[4], NULL, 10) : 20000;
		int reps = argc > 5 ? atoi(argv[5]) : 7;
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0 || calls <= 0 || reps <= 0 || reps > MAX_REPS)
			return 2;
		self[n] = '\0';
		set_open_path(OPEN_PATH);
		return run(self, argv[2], argv[3], calls, reps);
	}
	fprintf(stderr, "usage: sysgate-bench run SYSGATE_RUN SOCKET [CALLS [REPS]]\n");
	return 2;
}
