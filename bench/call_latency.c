/*
 * call-latency MS: a target for bench/learn_snapshot. Prints "ready",
 * then for each line on stdin makes getppid calls for MS milliseconds and
 * prints their count and their median, 99.9th percentile and largest
 * latency in microseconds; ends with stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS 2000000

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static long long v[MAX_CALLS];
	int ms = argc > 1 ? atoi(argv[1]) : 3000;
	char c;

	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) == 1) {
		long long end;
		size_t n = 0;

		if (c != '\n')
			continue;
		end = now_ns() + ms * 1000000LL;
		while (now_ns() < end && n < MAX_CALLS) {
			long long t0 = now_ns();

			syscall(SYS_getppid);
			v[n++] = now_ns() - t0;
		}
		if (n == 0)
			continue;
		qsort(v, n, sizeof(v[0]), cmp);
		printf("calls %zu median_us %.1f p999_us %.1f max_us %.1f\n", n, v[n / 2] / 1e3,
		       v[n * 999 / 1000] / 1e3, v[n - 1] / 1e3);
		fflush(stdout);
	}
	return 0;
}
