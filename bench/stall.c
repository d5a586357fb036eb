/*
 * The stuck-open rows (stall.h). Each repetition measures the two loops
 * (getppid forwarded to an allow handler, "bench-allow"; an open brokered
 * by sysgate.open(), "bench-open") once with a FIFO open of another
 * target stuck in sysgated and once without, in alternating order. The
 * stuck target opens a FIFO nobody writes to, under "bench-open"; it is
 * counted as stuck once a task of sysgated is blocked in openat2, and let
 * go by opening the FIFO's write end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stall.h"

#define STALL_MAX_REPS 64
#define STALL_OPEN_PATH "/etc/passwd"
#define STALL_LOOP_TIMEOUT_S 60 /* a loop that takes this long is stalled */

int stall_fifo_target(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 1;
	close(fd);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Tasks of sgd blocked in openat2 now. */
static int stuck_opens(pid_t sgd)
{
	char path[320];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)sgd);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char first[32] = "";
		FILE *sc;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.32s/syscall", (int)sgd, e->d_name);
		sc = fopen(path, "r");
		if (!sc)
			continue;
		if (fscanf(sc, "%31s", first) == 1 && atol(first) == SYS_openat2)
			n++;
		fclose(sc);
	}
	closedir(d);
	return n;
}

/* Runs a measured loop under policy; ns per call, or -1 (also when it
 * does not end in STALL_LOOP_TIMEOUT_S: the loop is stalled). */
static double measure(const char *self, const char *sysgate_run, const char *sock,
		      const char *policy, long calls, bool open)
{
	char ncalls[32], buf[64] = "";
	const char *argv[12];
	int p[2], status, n = 0;
	ssize_t len = 0;
	pid_t pid;

	snprintf(ncalls, sizeof(ncalls), "%ld", calls);
	argv[n++] = sysgate_run;
	argv[n++] = "-s";
	argv[n++] = sock;
	argv[n++] = "-p";
	argv[n++] = policy;
	argv[n++] = "--";
	argv[n++] = self;
	argv[n++] = "target";
	argv[n++] = ncalls;
	if (open)
		argv[n++] = STALL_OPEN_PATH;
	argv[n] = NULL;
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < STALL_LOOP_TIMEOUT_S * 100; i++) {
		ssize_t r = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len);

		if (r > 0)
			len += r;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			while ((r = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
				len += r;
			close(p[0]);
			buf[len] = '\0';
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || len == 0)
				return -1;
			return strtod(buf, NULL);
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	fprintf(stderr, "sysgate-bench: a %s loop did not end in %d s: the stuck open stalls it\n",
		open ? "brokered open" : "getppid", STALL_LOOP_TIMEOUT_S);
	return -1;
}

/* Starts the target whose brokered open of fifo never ends, and waits
 * until sysgated is blocked in it: its pid, or -1. */
static pid_t stick(const char *self, const char *sysgate_run, const char *sock, pid_t sgd,
		   const char *fifo, int before)
{
	const char *argv[] = { sysgate_run, "-s", sock, "-p", "bench-open", "--", self,
			       "fifo-target", fifo, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; pid > 0 && i < 2000; i++) {
		if (stuck_opens(sgd) > before)
			return pid;
		sleep_ms(5);
	}
	fprintf(stderr, "sysgate-bench: the FIFO open never got stuck in sysgated\n");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return -1;
}

static int unstick(pid_t pid, const char *fifo)
{
	int wr = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC), status;

	if (wr < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	waitpid(pid, &status, 0);
	close(wr);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[STALL_MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int stall_run(const char *self, const char *sysgate_run, const char *sock, pid_t sgd, long calls,
	      int reps)
{
	static const char *const names[2] = { "getppid, forwarded, allowed", "openat, brokered" };
	static const char *const policies[2] = { "bench-allow", "bench-open" };
	double ns[2][2][STALL_MAX_REPS], ratio[2][STALL_MAX_REPS]; /* [loop][stuck][rep] */
	char dir[] = "/tmp/sysgate-stall.XXXXXX", fifo[64];
	int rc = 1;

	if (reps > STALL_MAX_REPS || !mkdtemp(dir))
		return 1;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	if (mkfifo(fifo, 0600) < 0)
		goto out;
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < 2; k++) {
			bool stuck = (k + r) % 2; /* alternate which goes first */
			int before = stuck_opens(sgd);
			pid_t pid = stuck ? stick(self, sysgate_run, sock, sgd, fifo, before) : 0;

			if (pid < 0)
				goto out;
			for (int l = 0; l < 2; l++) {
				ns[l][stuck][r] = measure(self, sysgate_run, sock, policies[l], calls, l);
				if (ns[l][stuck][r] < 0) {
					if (pid > 0)
						unstick(pid, fifo);
					goto out;
				}
			}
			if (pid > 0 && unstick(pid, fifo) < 0) {
				fprintf(stderr, "sysgate-bench: the FIFO target did not end well\n");
				goto out;
			}
		}
		for (int l = 0; l < 2; l++)
			ratio[l][r] = ns[l][1][r] / ns[l][0][r];
	}
	printf("\nwhile another target's brokered open of a FIFO is stuck, %ld calls per run, %d "
	       "runs, ns per call (median)\n",
	       calls, reps);
	printf("%-32s %12s %12s %10s\n", "loop", "nothing stuck", "FIFO stuck", "ratio");
	for (int l = 0; l < 2; l++)
		printf("%-32s %12.0f %12.0f %10.2f\n", names[l], median(ns[l][0], reps),
		       median(ns[l][1], reps), median(ratio[l], reps));
	rc = 0;
out:
	unlink(fifo);
	rmdir(dir);
	return rc;
}
