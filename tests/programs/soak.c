/*
 * soak: a target program for the soak test (tests/integration/
 * test_soak.c). It makes forwarded calls, checks each answer against what
 * the test's policy gives, and prints one line of counts; it never decides
 * anything itself.
 *
 *   soak calls N      N calls in a repeating pattern of ten: eight
 *                     getppid() (the policy allows it: the kernel runs it,
 *                     so it must return the real parent, read from
 *                     /proc/self/stat first), one getpgid(1) (denied:
 *                     -1 with EACCES) and one getpgid(1000 + i) (emulated:
 *                     the policy answers its own argument + 7, so an
 *                     answer meant for another call shows); prints
 *                     "calls N allowed A denied D emulated E wrong W",
 *                     and the first wrong answer on stderr
 *   soak threads T N  T threads, released together, each making N
 *                     getppid() calls; prints
 *                     "threads T ok A eagain B other C" (ok: the real
 *                     parent; eagain: -1 with EAGAIN; other: anything else)
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SOAK_MAX_THREADS 4096
#define SOAK_STACK ((size_t)64 * 1024)

static long real_ppid;

/* Field 4 of /proc/self/stat, read without a forwarded call. */
static long stat_ppid(void)
{
	char buf[1024];
	const char *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	long ppid = -1;

	if (f)
		fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: count from the last ')'.
	 * ") S 1234 ...": the state, then the parent. */
	p = strrchr(buf, ')');
	if (p && strlen(p) > 4 && p[1] == ' ' && p[3] == ' ') {
		char *end;

		ppid = strtol(p + 4, &end, 10);
		if (end == p + 4 || *end != ' ')
			ppid = -1;
	}
	return ppid;
}

/* One call of the pattern; true when its answer is the policy's. A wrong
 * one is shown when show is set. */
static bool soak_call(long i, bool show, long *allowed, long *denied, long *emulated)
{
	long r;

	switch (i % 10) {
	case 8:
		errno = 0;
		r = syscall(SYS_getpgid, 1);
		if (r == -1 && errno == EACCES) {
			(*denied)++;
			return true;
		}
		if (show)
			fprintf(stderr, "soak: call %ld getpgid(1) = %ld errno %d, want EACCES\n", i,
				r, errno);
		return false;
	case 9:
		r = syscall(SYS_getpgid, 1000 + i);
		if (r == 1000 + i + 7) {
			(*emulated)++;
			return true;
		}
		if (show)
			fprintf(stderr, "soak: call %ld getpgid(%ld) = %ld errno %d, want %ld\n", i,
				1000 + i, r, errno, 1000 + i + 7);
		return false;
	default:
		r = syscall(SYS_getppid);
		if (r == real_ppid) {
			(*allowed)++;
			return true;
		}
		if (show)
			fprintf(stderr, "soak: call %ld getppid() = %ld errno %d, want %ld\n", i, r,
				errno, real_ppid);
		return false;
	}
}

static int soak_calls(long n)
{
	long allowed = 0, denied = 0, emulated = 0, wrong = 0;

	/* Only the first wrong answer is shown; all are counted. */
	for (long i = 0; i < n; i++)
		wrong += !soak_call(i, wrong == 0, &allowed, &denied, &emulated);
	printf("calls %ld allowed %ld denied %ld emulated %ld wrong %ld\n", n, allowed, denied,
	       emulated, wrong);
	return 0;
}

static pthread_barrier_t start;
static long per_thread;
static atomic_long n_ok, n_eagain, n_other;

static void *storm_thread(void *arg)
{
	long ok = 0, eagain = 0, other = 0;

	(void)arg;
	pthread_barrier_wait(&start);
	for (long i = 0; i < per_thread; i++) {
		long r = syscall(SYS_getppid);

		if (r == real_ppid)
			ok++;
		else if (r == -1 && errno == EAGAIN)
			eagain++;
		else
			other++;
	}
	atomic_fetch_add(&n_ok, ok);
	atomic_fetch_add(&n_eagain, eagain);
	atomic_fetch_add(&n_other, other);
	return NULL;
}

static int soak_threads(long t, long n)
{
	static pthread_t tid[SOAK_MAX_THREADS];
	pthread_attr_t attr;
	long started = 0;

	if (t < 1 || t > SOAK_MAX_THREADS)
		return 2;
	per_thread = n;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SOAK_STACK);
	pthread_barrier_init(&start, NULL, (unsigned)t);
	for (; started < t; started++)
		if (pthread_create(&tid[started], &attr, storm_thread, NULL) != 0)
			break;
	if (started < t) {
		fprintf(stderr, "soak: only %ld of %ld threads started\n", started, t);
		return 3; /* exiting ends the started ones, waiting at the barrier */
	}
	for (long i = 0; i < t; i++)
		pthread_join(tid[i], NULL);
	printf("threads %ld ok %ld eagain %ld other %ld\n", t, atomic_load(&n_ok),
	       atomic_load(&n_eagain), atomic_load(&n_other));
	return 0;
}

int main(int argc, char **argv)
{
	real_ppid = stat_ppid();
	if (real_ppid <= 0)
		return 4;
	if (argc == 3 && strcmp(argv[1], "calls") == 0)
		return soak_calls(strtol(argv[2], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "threads") == 0)
		return soak_threads(strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	fprintf(stderr, "usage: soak calls N | soak threads T N\n");
	return 2;
}
