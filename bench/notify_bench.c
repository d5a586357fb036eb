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
 * Both tables also have: "bare", a filter with the kernel-decided row's
 * rules built directly with libseccomp in the target (target --bare);
 * "deny", forwarded to sysgated, whose handler denies ("bench-deny": all
 * getppid, openat of OPEN_PATH); and strace's fault injection of EPERM
 * into the same calls, with and without --seccomp-bpf (CALLS / STRACE_DIV
 * calls per run)
 *
 *   sysgate-bench run SYSGATE_RUN SOCKET [CALLS [REPS]]
 *   sysgate-bench stall SYSGATE_RUN SOCKET SYSGATED_PID [CALLS [REPS]]
 *                                      (the getppid and brokered-open loops
 *                                      with another target's FIFO open stuck
 *                                      in sysgated and without: stall.c)
 *   sysgate-bench target [--denied] [--bare] CALLS [PATH] (the measured loop, getppid or
 *                                      opening PATH; prints ns per call)
 *
 * The policies "bench-kernel", "bench-allow", "bench-path", "bench-deny" and
 * "bench-open" must be loaded in the sysgated behind SOCKET (bench/run
 * does all of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "stall.h"
#include "raw_notify.h"

#define MAX_REPS 64
#define OPEN_PATH "/etc/passwd"

typedef enum { W_GETPPID, W_OPEN } work_t;
typedef enum { H_NONE, H_POLICY, H_RAW, H_BARE, H_STRACE, H_STRACE_BPF } how_t;

/* One row of a table: which loop, decided how, compared with which row. */
typedef struct {
	const char *name;
	work_t work;
	how_t how;
	const char *policy; /* H_POLICY: the sysgated policy */
	raw_kind_t raw;     /* H_RAW: the raw supervisor */
	bool sync;          /* H_RAW: with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP */
	int pair;           /* the raw C row doing the same work, or 0 (M_NONE is none) */
	bool denied;        /* the loop's calls fail with EPERM, and must */
} bench_mode_t;

enum {
	M_NONE, M_KERNEL, M_BARE, M_RAW, M_RAW_SYNC, M_SYSGATE, M_DENY, M_STRACE, M_STRACE_BPF,
	M_OPEN_NONE, M_OPEN_KERNEL, M_OPEN_BARE, M_OPEN_RAW_PATH, M_OPEN_SYSGATE_PATH,
	M_OPEN_RAW_BROKER, M_OPEN_SYSGATE_BROKER, M_OPEN_DENY, M_OPEN_STRACE, M_OPEN_STRACE_BPF,
	M_COUNT
};

#define ROW(n, w, h, ...) { .name = n, .work = w, .how = h, __VA_ARGS__ }
static const bench_mode_t modes[M_COUNT] = {
	[M_NONE] = ROW("no filter", W_GETPPID, H_NONE),
	[M_KERNEL] = ROW("kernel-decided (sysgate policy)", W_GETPPID, H_POLICY,
			 .policy = "bench-kernel"),
	[M_BARE] = ROW("bare libseccomp filter, same rules", W_GETPPID, H_BARE),
	[M_RAW] = ROW("raw C notify loop", W_GETPPID, H_RAW, .raw = RAW_CONTINUE),
	[M_RAW_SYNC] = ROW("raw C loop + SYNC_WAKE_UP", W_GETPPID, H_RAW, .raw = RAW_CONTINUE,
			   .sync = true),
	[M_SYSGATE] = ROW("sysgated, allow handler", W_GETPPID, H_POLICY, .policy = "bench-allow",
			  .pair = M_RAW_SYNC),
	[M_DENY] = ROW("sysgated, deny handler", W_GETPPID, H_POLICY, .policy = "bench-deny",
		       .denied = true),
	[M_STRACE] = ROW("strace -f -e inject", W_GETPPID, H_STRACE, .denied = true),
	[M_STRACE_BPF] = ROW("strace --seccomp-bpf -f -e inject", W_GETPPID, H_STRACE_BPF,
			     .denied = true),
	[M_OPEN_NONE] = ROW("no filter", W_OPEN, H_NONE),
	[M_OPEN_KERNEL] = ROW("kernel-decided openat", W_OPEN, H_POLICY, .policy = "bench-allow"),
	[M_OPEN_BARE] = ROW("bare libseccomp filter, same rules", W_OPEN, H_BARE),
	[M_OPEN_RAW_PATH] = ROW("raw C, reads the path", W_OPEN, H_RAW, .raw = RAW_PATH,
				.sync = true),
	[M_OPEN_SYSGATE_PATH] = ROW("sysgated, handler reads c.path", W_OPEN, H_POLICY,
				    .policy = "bench-path", .pair = M_OPEN_RAW_PATH),
	[M_OPEN_RAW_BROKER] = ROW("raw C, brokered open", W_OPEN, H_RAW, .raw = RAW_BROKER,
				  .sync = true),
	[M_OPEN_SYSGATE_BROKER] = ROW("sysgated, sysgate.open brokered", W_OPEN, H_POLICY,
				      .policy = "bench-open", .pair = M_OPEN_RAW_BROKER),
	[M_OPEN_DENY] = ROW("sysgated, deny handler", W_OPEN, H_POLICY, .policy = "bench-deny",
			    .denied = true),
	[M_OPEN_STRACE] = ROW("strace -f -e inject", W_OPEN, H_STRACE, .denied = true),
	[M_OPEN_STRACE_BPF] = ROW("strace --seccomp-bpf -f -e inject", W_OPEN, H_STRACE_BPF,
				  .denied = true),
};

/* The kernel deny list of the "bench-kernel" and "bench-allow" policies
 * (examples/policies/function-host.lua's), which the bare filter repeats. */
static const char *const bare_deny[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open",
	"mount", "umount2", "pivot_root", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module", "userfaultfd",
};

/* strace stops the tracee twice per call: its rows run this many times
 * fewer calls, so that they do not take most of the run. */
#define STRACE_DIV 10

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

/* Set in the target: its calls must fail with EPERM (a deny handler,
 * strace's injection), or must not fail. A call that does otherwise fails
 * the run, so no row measures a decision it did not make. */
static bool want_denied;

/* One getppid; false (reported once on stderr) if it did not do what
 * want_denied says. */
static bool one_getppid(long *failed)
{
	long r = syscall(SYS_getppid);

	if (want_denied == (r < 0 && errno == EPERM))
		return true;
	if ((*failed)++ == 0)
		fprintf(stderr, "sysgate-bench: getppid() %s\n",
			want_denied ? "was not denied" : "failed");
	return false;
}

/* getppid; -1 if any call did not do what want_denied says. */
static double loop_getppid(long calls)
{
	long failed = 0;
	double t0;

	for (int i = 0; i < 1000; i++) /* warm-up */
		one_getppid(&failed);
	t0 = now_ns();
	for (long i = 0; i < calls; i++)
		one_getppid(&failed);
	return failed ? -1 : (now_ns() - t0) / (double)calls;
}

/* One openat + close (or one openat denied with EPERM, when want_denied);
 * the first failure is reported on stderr. */
static bool open_close(long *failed)
{
	long fd = syscall(SYS_openat, AT_FDCWD, open_path, O_RDONLY);

	if (fd >= 0)
		close((int)fd);
	if (want_denied == (fd < 0 && errno == EPERM))
		return true;
	if ((*failed)++ == 0)
		fprintf(stderr, "sysgate-bench: openat(\"%s\"): %s\n", open_path,
			fd >= 0 ? "not denied" : strerror(errno));
	return false;
}

/* openat + close; -1 if any open failed (the file must exist, and no
 * supervisor may deny it), or, when want_denied, if any was not denied. */
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

/* The bare filter of the H_BARE rows: what the shim's filter for
 * "bench-kernel" (getppid loop) or "bench-allow" (open loop) says, built
 * directly with libseccomp's defaults: allow by default, bare_deny fails
 * with EPERM, and the policy's one handler (openat, or getppid) notified.
 * The notified call is never made by the loop. */
static int load_bare_filter(bool open)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < sizeof(bare_deny) / sizeof(bare_deny[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
				      seccomp_syscall_resolve_name(bare_deny[i]), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, open ? SCMP_SYS(getppid) : SCMP_SYS(openat),
				      0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	if (ctx)
		seccomp_release(ctx);
	return rc;
}

/* sysgate-bench target [--denied] [--bare] CALLS [PATH] */
static int target(int argc, char **argv)
{
	bool bare = false;
	const char *path;
	long calls;
	int i = 2;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--denied") == 0)
			want_denied = true;
		else if (strcmp(argv[i], "--bare") == 0)
			bare = true;
		else
			return 2;
	}
	if (i >= argc)
		return 2;
	calls = strtol(argv[i], NULL, 10);
	path = i + 1 < argc ? argv[i + 1] : NULL;
	if (path)
		set_open_path(path);
	if (bare && load_bare_filter(path != NULL) < 0) {
		fprintf(stderr, "sysgate-bench: loading the bare filter failed\n");
		return 1;
	}
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
		execvp(argv[0], argv);
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

/* Runs one repetition of mode m: ns per call, or -1. */
static double run_mode(const bench_mode_t *m, const char *self, const char *sysgate_run,
		       const char *sock, long calls)
{
	bool open = m->work == W_OPEN;
	const char *nr = open ? "openat" : "getppid";
	char callsbuf[32], inject[64];
	char *argv[24];
	int n = 0;

	if (m->how == H_RAW)
		return raw_run(open ? SYS_openat : SYS_getppid, m->raw, m->sync,
			       open ? loop_open : loop_getppid, calls);
	if (m->how == H_STRACE || m->how == H_STRACE_BPF)
		calls = calls / STRACE_DIV > 0 ? calls / STRACE_DIV : 1;
	snprintf(callsbuf, sizeof(callsbuf), "%ld", calls);
	snprintf(inject, sizeof(inject), "inject=%s:error=EPERM", nr);
	if (m->how == H_POLICY) {
		char *pre[] = { (char *)sysgate_run, "-s", (char *)sock, "-p", (char *)m->policy,
				"--" };

		memcpy(argv, pre, sizeof(pre));
		n = 6;
	} else if (m->how == H_STRACE || m->how == H_STRACE_BPF) {
		argv[n++] = "strace";
		if (m->how == H_STRACE_BPF)
			argv[n++] = "--seccomp-bpf";
		argv[n++] = "-f";
		argv[n++] = "-o";
		argv[n++] = "/dev/null";
		/* Only the loop's call is traced: with everything traced
		 * there is nothing for --seccomp-bpf to filter, and strace
		 * drops it. The loader's opens must go through: strace
		 * injects into the opens of the loop's path only, which it
		 * reads (-P). */
		argv[n++] = "-e";
		argv[n++] = open ? "trace=openat" : "trace=getppid";
		if (open) {
			argv[n++] = "-P";
			argv[n++] = OPEN_PATH;
		}
		argv[n++] = "-e";
		argv[n++] = inject;
		argv[n++] = "--";
	}
	argv[n++] = (char *)self;
	argv[n++] = "target";
	if (m->denied)
		argv[n++] = "--denied";
	if (m->how == H_BARE)
		argv[n++] = "--bare";
	argv[n++] = callsbuf;
	if (open)
		argv[n++] = OPEN_PATH;
	argv[n] = NULL;
	return run_child(argv);
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
	for (int m = M_NONE; m <= M_STRACE_BPF; m++) {
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
		if (modes[m].pair > 0)
			printf(" %12.2f %9.2f\n", med[m] / med[modes[m].pair], paired[m]);
		else if (modes[m].how == H_RAW)
			printf(" %12.2f %9.2f\n", 1.0, 1.0);
		else
			printf(" %12s %9s\n", "-", "-");
	}
}

/* The median over the repetitions of row a's time divided by row b's in
 * the same repetition (the two ran close together). */
static double paired_ratio(double ns[][MAX_REPS], int reps, int a, int b)
{
	double ratio[MAX_REPS];

	for (int r = 0; r < reps; r++)
		ratio[r] = ns[a][r] / ns[b][r];
	return median(ratio, reps);
}

static void print_goal(const char *what, double ratio, double paired, bool met)
{
	printf("  %-60s %7.2f  (paired %6.2f)  %s\n", what, ratio, paired, met ? "met" : "NOT met");
}

/* The goals that these two tables measure, as ratios of this
 * run's medians (and paired: the median of each repetition's own ratio). */
static void print_goals(double ns[][MAX_REPS], int reps, const double *med)
{
	static const struct {
		const char *what;
		int a, b;
		bool at_least; /* goal: a/b >= limit, else a/b <= limit */
		double limit;
	} g[] = {
		{ "getppid: allow handler / raw C + sync (<= 1.25)", M_SYSGATE, M_RAW_SYNC, false, 1.25 },
		{ "openat: c.path handler / raw C reading the path (<= 1.25)", M_OPEN_SYSGATE_PATH,
		  M_OPEN_RAW_PATH, false, 1.25 },
		{ "getppid: kernel-decided / bare libseccomp (<= 1.1)", M_KERNEL, M_BARE, false, 1.1 },
		{ "openat: kernel-decided / bare libseccomp (<= 1.1)", M_OPEN_KERNEL, M_OPEN_BARE, false,
		  1.1 },
		{ "getppid: strace inject / sysgated deny (>= 15)", M_STRACE, M_DENY, true, 15 },
		{ "getppid: strace --seccomp-bpf inject / sysgated deny (>= 15)", M_STRACE_BPF, M_DENY,
		  true, 15 },
		{ "openat: strace inject / sysgated deny (>= 15)", M_OPEN_STRACE, M_OPEN_DENY, true, 15 },
		{ "openat: strace --seccomp-bpf inject / sysgated deny (>= 15)", M_OPEN_STRACE_BPF,
		  M_OPEN_DENY, true, 15 },
	};

	printf("\ngoals (ratio of the medians):\n");
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		double r = med[g[i].a] / med[g[i].b];

		print_goal(g[i].what, r, paired_ratio(ns, reps, g[i].a, g[i].b),
			   g[i].at_least ? r >= g[i].limit : r <= g[i].limit);
	}
}

static int run(const char *self, const char *sysgate_run, const char *sock, long calls, int reps)
{
	static double ns[M_COUNT][MAX_REPS], order[M_COUNT][MAX_REPS], med[M_COUNT],
		paired[M_COUNT];

	for (int r = 0; r < reps; r++) {
		for (int m = 0; m < M_COUNT; m++) {
			ns[m][r] = run_mode(&modes[m], self, sysgate_run, sock, calls);
			if (ns[m][r] < 0) {
				fprintf(stderr, "sysgate-bench: mode '%s' failed\n", modes[m].name);
				return 1;
			}
		}
	}
	for (int m = 0; m < M_COUNT; m++)
		if (modes[m].pair > 0)
			paired[m] = paired_ratio(ns, reps, m, modes[m].pair);
	/* The medians sort the rows; the goals' paired ratios need them in
	 * the order they ran. */
	memcpy(order, ns, sizeof(ns));
	for (int m = 0; m < M_COUNT; m++)
		med[m] = median(ns[m], reps);
	print_getppid(ns, reps, med, calls);
	print_open(ns, reps, med, paired, calls);
	print_goals(order, reps, med);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "target") == 0)
		return target(argc, argv);
	if (argc == 2 && strcmp(argv[1], "tput-target") == 0)
		return fleet_tput_target(0, 1);
	if (argc == 2 && strcmp(argv[1], "idle") == 0)
		return fleet_idle_target();
	if (argc == 3 && strcmp(argv[1], "fifo-target") == 0)
		return stall_fifo_target(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "stall") == 0) {
		long calls = argc > 5 ? strtol(argv[5], NULL, 10) : 20000;
		int reps = argc > 6 ? atoi(argv[6]) : 7;
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0 || calls <= 0 || reps <= 0 || reps > MAX_REPS)
			return 2;
		self[n] = '\0';
		return stall_run(self, argv[2], argv[3], (pid_t)atoi(argv[4]), calls, reps);
	}
	if ((argc == 7 || argc == 5) && (strcmp(argv[1], "fleet") == 0 || strcmp(argv[1], "rss") == 0)) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			return 2;
		self[n] = '\0';
		if (argv[1][0] == 'r')
			return fleet_rss(self, argv[2], argv[3], (pid_t)atoi(argv[4]));
		if (argc == 7)
			return fleet_run(self, argv[2], argv[3], atoi(argv[4]), atoi(argv[5]),
					 atoi(argv[6]));
	}
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
	fprintf(stderr, "usage: sysgate-bench run SYSGATE_RUN SOCKET [CALLS [REPS]]\n"
			"       sysgate-bench fleet SYSGATE_RUN SOCKET WINDOW_MS REPS SPAWN_RUNS\n"
			"       sysgate-bench rss SYSGATE_RUN SOCKET SYSGATED_PID\n"
			"       sysgate-bench stall SYSGATE_RUN SOCKET SYSGATED_PID [CALLS [REPS]]\n");
	return 2;
}
