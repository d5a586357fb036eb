/*
 * The soak test on the real kernel: one sysgated (with its metrics
 * endpoint) serves many short-lived targets (tests/programs/soak.c) making
 * forwarded calls whose answers they check, fork storms
 * (tests/programs/storm.c) and 500-thread storms under sysgate.limit{}
 * rate limits, and targets SIGKILLed while their calls are parked on a
 * throttle. What must hold:
 *
 *   - every call gets the answer the policy gives (the targets check each
 *     one) and the totals are exact: what the targets counted, what
 *     sysgated counted (sysgate_notifications_total, decisions_total);
 *   - a storm's calls are all answered: let through, EAGAIN past the
 *     burst, or throttled and then let through, at no more than the rate;
 *   - no call is left in flight (sysgate_notifications_in_flight is 0)
 *     and no target active once the targets are gone, killed ones too;
 *   - sysgated's open fd count is back to its starting count exactly,
 *     and its RSS to its starting level, within RSS_SLACK_KB (below).
 *     The starting level is measured after a warm-up round, so the Lua
 *     states, the allocator's arenas and the metrics thread exist.
 *
 * Scale. The calls soak runs SOAK_WIDTH targets at a time: one sysgated
 * loop serves them all, and on a 2-vCPU host more at once buys nothing
 * (measured: 45k calls/s with 1 target at a time, 40k with 16, 35k with
 * 64). SYSGATE_SOAK selects how many:
 *
 *   unset  CI: 1,000 targets x 10,000 calls (10,000,000 calls) in the
 *          plain build; 250 x 1,000 in the sanitizer build (where
 *          starting a target costs ~90 ms: sysgate-run is sanitized too).
 *          Measured on a 2-vCPU host: the ten million in 183 s at 55k
 *          calls/s on a quiet host (the whole test 202 s), over 7
 *          minutes at the 22k-39k calls/s of loads of 15 to 25; meson
 *          gives this test 1,200 s (tests/integration/meson.build). The
 *          sanitizer build's scale takes about 52 s.
 *   long   1,000 targets x 100,000 calls (100,000,000 calls), in either
 *          build: about half an hour on a quiet host. Give meson the time:
 *          SYSGATE_SOAK=long meson test -C build soak -t 10
 *   TxN    T targets x N calls (N a multiple of 10)
 *
 * The storms and the kills run at the same size whatever the scale.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define SOAK_WIDTH 32 /* targets running at once */
#define STALL_S 60    /* no target ending for this long: a call was lost */
/*
 * RSS may end this far above the starting level. Measured in the plain
 * build: the calls soak ends within 120 kB of where it started (a million
 * calls, and ten million), the storms within 120 kB, the kills within
 * 250 kB: thousands of parked calls freed at once leave the heap
 * fragmented. That is a plateau, not growth: the next round reuses it
 * (four rounds: +856 kB after the first, +32 kB over the next three);
 * malloc_trim(0), called into sysgated with gdb, gave back 600 kB of it,
 * so sysgated need not trim when its last target ends. A leak of 16
 * bytes a call (seen to fail), or of 1 kB a target in the calls soak, is
 * over the slack; smaller per-target leaks are for the fd count and the
 * sanitizer build. There, the allocator keeps freed memory in quarantine
 * (its RSS grows by design), so RSS is not compared and LeakSanitizer, run
 * when sgd_stop stops sysgated, stands in for it.
 */
#define RSS_SLACK_KB 512

#define POLICY_LIST(X) \
	X(soak) X(fork_deny) X(fork_throttle) X(threads_deny) X(threads_throttle) X(parked)

#define SOAK_LUA \
	"local sg = sysgate\n" \
	"return sg.policy { on = {\n" \
	"  getppid = function(c) return sg.allow() end,\n" \
	"  getpgid = function(c)\n" \
	"    local a = c.args[1]\n" \
	"    if a == 1 then return sg.deny('EACCES') end\n" \
	"    return sg.emulate(a + 7)\n" \
	"  end,\n" \
	"} }\n"

/* storm.c's calls: forks (clone on glibc) and the children's execve. */
#define FORK_ON(l) \
	"  on = { clone = " l ", clone3 = " l ", fork = " l ", vfork = " l ", execve = " l " },\n"
/* Denied: a rate low enough that a storm outruns it on a loaded host
 * (201 calls would need 18 s); throttled: one that keeps the run short. */
#define FORK_BURST 20
#define FORK_DENY_RATE 10
#define FORK_THROTTLE_RATE 50
#define FORK_DENY_LUA \
	"local sg = sysgate\n" \
	"local l = sg.limit { rate = 10, burst = 20, per = 'target', over = sg.deny('EAGAIN') }\n" \
	"return sg.policy {\n" FORK_ON("l") "}\n"
/* parked = 8: a target's children exec at once, and some find it full. */
#define FORK_THROTTLE_LUA \
	"local sg = sysgate\n" \
	"local l = sg.limit { rate = 50, burst = 20, per = 'target', over = 'throttle',\n" \
	"  parked = 8, over_cap = sg.deny('EAGAIN') }\n" \
	"return sg.policy {\n" FORK_ON("l") "}\n"

/* One bucket for the process: its 500 threads share it. */
#define THREAD_RATE 2000
#define THREAD_BURST 200
#define THREADS_DENY_LUA \
	"return sysgate.policy { on = {\n" \
	"  getppid = sysgate.limit { rate = 2000, burst = 200, over = sysgate.deny('EAGAIN') },\n" \
	"} }\n"
#define THREADS_THROTTLE_LUA \
	"return sysgate.policy { on = {\n" \
	"  getppid = sysgate.limit { rate = 2000, burst = 200, over = 'throttle',\n" \
	"    parked = 64, over_cap = sysgate.deny('EAGAIN') },\n" \
	"} }\n"

/* One call a second past the first: every thread's next call parks. */
#define PARKED_LUA \
	"return sysgate.policy { on = {\n" \
	"  getppid = sysgate.limit { rate = 1, burst = 1, over = 'throttle', parked = 4096 },\n" \
	"} }\n"

#define NAME_(p) #p,
#define SRC_(p) p##_LUA_SRC,
#define soak_LUA_SRC SOAK_LUA
#define fork_deny_LUA_SRC FORK_DENY_LUA
#define fork_throttle_LUA_SRC FORK_THROTTLE_LUA
#define threads_deny_LUA_SRC THREADS_DENY_LUA
#define threads_throttle_LUA_SRC THREADS_THROTTLE_LUA
#define parked_LUA_SRC PARKED_LUA

static const char *const soak_names[] = { POLICY_LIST(NAME_) };
static const char *const soak_srcs[] = { POLICY_LIST(SRC_) };
#define NPOLICIES (sizeof(soak_names) / sizeof(soak_names[0]))

/* --- small helpers -------------------------------------------------------- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *soak_prog(void)
{
	return env_path("SOAK");
}

static const char *storm_prog(void)
{
	return env_path("STORM");
}

/* VmRSS of pid in kB. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

/* --- the metrics endpoint ------------------------------------------------- */

/* The sum of the samples of family name whose labels hold match (every
 * sample when match is NULL); -1 when there is none. */
static double metric(const char *body, const char *name, const char *match)
{
	size_t n = strlen(name);
	double sum = -1;

	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *end = strchr(p, '\n'), *sp;

		if (strncmp(p, name, n) != 0 || (p[n] != '{' && p[n] != ' '))
			continue;
		sp = strchr(p, ' ');
		if (match) {
			const char *m = strstr(p, match);

			if (!m || (end && m > end) || m > sp)
				continue;
		}
		sum = (sum < 0 ? 0 : sum) + strtod(sp + 1, NULL);
	}
	return sum;
}

/* The value of name{policy="policy"} (and more labels in match). */
static double policy_metric(const char *body, const char *name, const char *policy)
{
	char match[128];

	snprintf(match, sizeof(match), "policy=\"%s\"", policy);
	return metric(body, name, match);
}

/* A sysgated serving every policy of this file, its metrics on *port. */
static void soak_start(sgd_proc_t *s, int *port)
{
	char extra[512];

	*port = free_port();
	/*
	 * A log of a few lines a target: the decisions are counted, in the
	 * metrics and in target_end's "suppressed", not written. The handlers
	 * have the default time budget (100 ms): on a 2-vCPU host at a load
	 * of 25, a call of a three-line handler once took 416 ms from receipt
	 * to answer, and got the fallback while the budget counted time off
	 * the CPU; a fallback here is a wrong answer, so this test also shows
	 * that the time is given back (tests/HARDENING-MAP.md, 22 and 23).
	 */
	snprintf(extra, sizeof(extra),
		 "metrics_listen = \"127.0.0.1:%d\";\n"
		 "log_limits = { target_rate = 1; target_burst = 1; global_rate = 10;\n"
		 "  global_burst = 10; };\n",
		 *port);
	sgd_start(s, extra, NPOLICIES, soak_names, soak_srcs);
}

/* --- running many targets ------------------------------------------------- */

typedef struct job {
	pid_t pid;
	int in, out;
	double t0;
} job_t;

/* What a pool calls for each target that ended: its stdout, its wait
 * status, how long it ran. */
typedef void (*job_done_fn)(const char *out, int status, double elapsed, void *ctx);

/* Kills and reaps what is still running, then fails: nothing has ended
 * for STALL_S, so a call is waiting for an answer that does not come. */
static void pool_stalled(job_t *jobs, int width, int port)
{
	char *body = metrics_scrape(port);
	double in_flight = metric(body, "sysgate_notifications_in_flight", NULL);
	int running = 0;

	for (int i = 0; i < width; i++) {
		if (jobs[i].pid <= 0)
			continue;
		running++;
		kill(jobs[i].pid, SIGKILL);
		waitpid(jobs[i].pid, NULL, 0);
		close(jobs[i].in);
		close(jobs[i].out);
	}
	free(body);
	fail_msg("no target ended for %d s: %d running, %g calls in flight in sysgated", STALL_S,
		 running, in_flight);
}

static void job_reap(job_t *j, int status, job_done_fn fn, void *ctx)
{
	char out[1024];
	size_t off = 0;
	ssize_t n;

	/* The target has exited: its stdout has all it wrote. */
	while (off + 1 < sizeof(out) && (n = read(j->out, out + off, sizeof(out) - 1 - off)) > 0)
		off += (size_t)n;
	out[off] = '\0';
	close(j->in);
	close(j->out);
	j->pid = 0;
	fn(out, status, mono_s() - j->t0, ctx);
}

/*
 * Runs total targets of argv under policy, width at a time, and hands
 * each one's output to fn as it ends. Fails if sysgated exits, or if no
 * target ends for STALL_S.
 */
static void pool_run(const sgd_proc_t *s, int port, const char *policy, const char *const *argv,
		     int total, int width, job_done_fn fn, void *ctx)
{
	job_t jobs[SOAK_WIDTH] = { 0 };
	int started = 0, done = 0, running = 0, status;
	double last = mono_s();

	assert_true(width <= SOAK_WIDTH);
	while (done < total) {
		pid_t pid;
		int i;

		for (i = 0; i < width && running < width && started < total; i++) {
			if (jobs[i].pid)
				continue;
			jobs[i].t0 = mono_s();
			jobs[i].pid = run_under_async(s, policy, argv, &jobs[i].in, &jobs[i].out);
			started++;
			running++;
		}
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == s->pid)
			fail_msg("sysgated exited (status 0x%x); see %s", status, s->dir);
		if (pid <= 0) {
			if (mono_s() - last > STALL_S)
				pool_stalled(jobs, width, port);
			sleep_ms(1);
			continue;
		}
		for (i = 0; i < width && jobs[i].pid != pid; i++)
			;
		assert_true(i < width);
		job_reap(&jobs[i], status, fn, ctx);
		running--;
		done++;
		last = mono_s();
	}
}

/* --- settling and the starting level -------------------------------------- */

typedef struct level {
	int fds;
	long rss_kb;
} level_t;

/* sysgated's fds and RSS now, after a scrape (the metrics thread's
 * connection is closed by then: waits for the fd count to be stable). */
static void level_now(const sgd_proc_t *s, int port, level_t *l)
{
	int prev = -1;

	free(metrics_scrape(port));
	for (int i = 0; i < 100; i++) {
		l->fds = fd_count(s->pid);
		if (l->fds == prev)
			break;
		prev = l->fds;
		sleep_ms(20);
	}
	l->rss_kb = rss_kb(s->pid);
}

/* Waits (up to 5 s) until sysgated has nothing in flight and no target
 * active, as once it has seen the last targets end; fails if it does not.
 * Returns the last scrape, which the caller frees. */
static char *assert_quiet(int port, const char *what)
{
	double in_flight = -1, active = -1;
	char *body = NULL;

	for (int i = 0; i < 250; i++) {
		free(body);
		body = metrics_scrape(port);
		in_flight = metric(body, "sysgate_notifications_in_flight", NULL);
		active = metric(body, "sysgate_targets_active", NULL);
		if (in_flight == 0 && active == 0)
			return body;
		sleep_ms(20);
	}
	fail_msg("%s: %g calls still in flight, %g targets active:\n%s", what, in_flight, active,
		 body);
	return body;
}

/*
 * The targets are gone: nothing in flight, no target active, the fd
 * count back to base exactly and RSS within RSS_SLACK_KB of it. Returns
 * the scrape.
 */
static char *assert_back_to(const sgd_proc_t *s, int port, const level_t *base, const char *what)
{
	char *body = assert_quiet(port, what);
	level_t now;

	for (int i = 0; i < 100 && fd_count(s->pid) != base->fds; i++)
		sleep_ms(20);
	level_now(s, port, &now);
	fprintf(stderr, "soak: %s: fds %d (start %d), RSS %ld kB (start %ld kB)\n", what, now.fds,
		base->fds, now.rss_kb, base->rss_kb);
	if (now.fds != base->fds)
		fail_msg("%s: sysgated has %d fds open, %d at the start", what, now.fds, base->fds);
	if (!sanitized_build() && now.rss_kb > base->rss_kb + RSS_SLACK_KB)
		fail_msg("%s: sysgated's RSS is %ld kB, %ld kB at the start (slack %d kB)", what,
			 now.rss_kb, base->rss_kb, RSS_SLACK_KB);
	return body;
}

/* Every forwarded call of policy was answered: as many decisions as
 * notifications (none abandoned: no target was killed), and want of
 * them if want >= 0. */
static void assert_all_answered(const char *body, const char *policy, double want)
{
	double notif = policy_metric(body, "sysgate_notifications_total", policy);
	double dec = policy_metric(body, "sysgate_decisions_total", policy);
	double errors = policy_metric(body, "sysgate_errors_total", policy);

	if (notif != dec || (want >= 0 && notif != want) || errors != 0)
		fail_msg("policy %s: %g calls forwarded, %g answered, want %g; %g errors", policy,
			 notif, dec, want, errors);
}

/* --- 1. many targets, many calls ----------------------------------------- */

typedef struct calls_sum {
	long targets, calls, allowed, denied, emulated, wrong;
	long want_calls; /* each target's */
} calls_sum_t;

static void calls_done(const char *out, int status, double elapsed, void *ctx)
{
	calls_sum_t *sum = ctx;
	long n = 0, a = 0, d = 0, e = 0, w = 0;

	(void)elapsed;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(out, "calls %ld allowed %ld denied %ld emulated %ld wrong %ld", &n, &a, &d, &e,
		   &w) != 5)
		fail_msg("a soak target ended with status 0x%x, output '%s'", status, out);
	if (n != sum->want_calls || a + d + e + w != n)
		fail_msg("a soak target made %ld calls, want %ld: '%s'", n, sum->want_calls, out);
	sum->targets++;
	sum->calls += n;
	sum->allowed += a;
	sum->denied += d;
	sum->emulated += e;
	sum->wrong += w;
}

/* The scale of the calls soak (see the header comment). */
static void soak_scale(long *targets, long *calls)
{
	const char *v = getenv("SYSGATE_SOAK");

	*targets = sanitized_build() ? 250 : 1000;
	*calls = sanitized_build() ? 1000 : 10000;
	if (v && strcmp(v, "long") == 0) {
		*targets = 1000;
		*calls = 100000;
	} else if (v && *v && (sscanf(v, "%ldx%ld", targets, calls) != 2 || *targets < 1 ||
			       *calls < 10 || *calls % 10 != 0)) {
		fail_msg("SYSGATE_SOAK='%s': want 'long' or TxN (N a multiple of 10)", v);
	}
}

static void run_calls(const sgd_proc_t *s, int port, long targets, long calls, calls_sum_t *sum)
{
	char n[32];
	const char *argv[] = { soak_prog(), "calls", n, NULL };

	snprintf(n, sizeof(n), "%ld", calls);
	memset(sum, 0, sizeof(*sum));
	sum->want_calls = calls;
	pool_run(s, port, "soak", argv, (int)targets, SOAK_WIDTH, calls_done, sum);
	/* Exactly every call, each with the policy's answer. */
	assert_int_equal(sum->targets, targets);
	if (sum->wrong != 0) {
		char *body = metrics_scrape(port);

		fail_msg("%ld calls got a wrong answer (the first is above); sysgated counts %g "
			 "fallbacks, %g errors", sum->wrong,
			 policy_metric(body, "sysgate_fallbacks_total", "soak"),
			 policy_metric(body, "sysgate_errors_total", "soak"));
	}
	assert_int_equal(sum->calls, targets * calls);
	assert_int_equal(sum->allowed, targets * calls / 10 * 8);
	assert_int_equal(sum->denied, targets * calls / 10);
	assert_int_equal(sum->emulated, targets * calls / 10);
}

/*
 * Many targets making forwarded calls, SOAK_WIDTH at a time: every call
 * gets its answer, sysgated counted exactly those calls and answered each,
 * and it ends holding what it held after the warm-up.
 */
static void test_soak_calls(void **state)
{
	long targets, calls, warm_targets = SOAK_WIDTH, warm_calls = 1000;
	calls_sum_t sum;
	level_t base;
	char *body;
	double t0, elapsed, total, ended;
	sgd_proc_t s;
	int port;

	(void)state;
	soak_scale(&targets, &calls);
	soak_start(&s, &port);
	run_calls(&s, port, warm_targets, warm_calls, &sum);
	level_now(&s, port, &base);

	t0 = mono_s();
	run_calls(&s, port, targets, calls, &sum);
	elapsed = mono_s() - t0;
	fprintf(stderr, "soak: %ld targets x %ld calls in %.1f s: %.0f calls/s, %.1f targets/s\n",
		targets, calls, elapsed, (double)sum.calls / elapsed, (double)targets / elapsed);

	body = assert_back_to(&s, port, &base, "calls soak");
	total = (double)(warm_targets * warm_calls + targets * calls);
	assert_all_answered(body, "soak", total);
	ended = metric(body, "sysgate_targets_ended_total", "policy=\"soak\",reason=\"exited\"");
	if (ended != (double)(warm_targets + targets))
		fail_msg("%g targets ended, want %ld", ended, warm_targets + targets);
	free(body);
	sgd_stop(&s);
}

/* --- 2. fork storms ------------------------------------------------------- */

typedef struct storm_sum {
	long forks;            /* each target's */
	bool throttle;         /* else deny past the burst */
	long targets, through, eagain;
} storm_sum_t;

static void fork_done(const char *out, int status, double elapsed, void *ctx)
{
	storm_sum_t *sum = ctx;
	long fok = 0, fea = 0, fot = 0, eok = 0, eea = 0, eot = 0, through;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(out, "fork ok %ld eagain %ld other %ld exec ok %ld eagain %ld other %ld", &fok,
		   &fea, &fot, &eok, &eea, &eot) != 6)
		fail_msg("a storm ended with status 0x%x, output '%s'", status, out);
	/* Every call answered: let through or EAGAIN, nothing else. */
	if (fot != 0 || eot != 0 || fok + fea != sum->forks || eok + eea != fok)
		fail_msg("a storm of %ld forks saw: %s", sum->forks, out);
	/* sysgate-run's execve of storm, the forks, the children's execs. */
	through = 1 + fok + eok;
	/* At the rate: the bucket lived no longer than the target ran. */
	if (!sum->throttle && through > FORK_BURST + (long)(elapsed * FORK_DENY_RATE) + 1)
		fail_msg("%ld calls let through in %.3f s at %d/s past a burst of %d: %s", through,
			 elapsed, FORK_DENY_RATE, FORK_BURST, out);
	/* Throttled: the calls past the burst waited for their tokens. */
	if (sum->throttle && elapsed < (double)(through - FORK_BURST) / FORK_THROTTLE_RATE - 0.01)
		fail_msg("%ld calls let through in only %.3f s at %d/s past a burst of %d: %s",
			 through, elapsed, FORK_THROTTLE_RATE, FORK_BURST, out);
	sum->targets++;
	sum->through += through;
	sum->eagain += fea + eea;
}

static void run_forks(const sgd_proc_t *s, int port, const char *policy, bool throttle,
		      int targets, long forks, storm_sum_t *sum)
{
	char n[32];
	const char *argv[] = { storm_prog(), "fork", n, NULL };

	snprintf(n, sizeof(n), "%ld", forks);
	memset(sum, 0, sizeof(*sum));
	sum->forks = forks;
	sum->throttle = throttle;
	pool_run(s, port, policy, argv, targets, 10, fork_done, sum);
	assert_int_equal(sum->targets, targets);
}

/*
 * Fork storms, ten targets at a time, each forking 100 children that
 * exec: under a limit denying past the burst, every fork and exec
 * succeeds or fails with EAGAIN, and no more go through than the rate
 * allows; throttled, the calls past the burst wait for their tokens
 * (those finding the target's parked calls at the cap get EAGAIN).
 */
static void test_fork_storm(void **state)
{
	storm_sum_t deny, thr;
	level_t base;
	char *body;
	sgd_proc_t s;
	int port;

	(void)state;
	soak_start(&s, &port);
	run_forks(&s, port, "fork_deny", false, 2, 100, &deny);
	run_forks(&s, port, "fork_throttle", true, 2, 30, &thr);
	level_now(&s, port, &base);

	run_forks(&s, port, "fork_deny", false, 20, 100, &deny);
	assert_true(deny.eagain > 0);
	run_forks(&s, port, "fork_throttle", true, 10, 60, &thr);
	fprintf(stderr, "soak: fork storms: deny %ld through %ld EAGAIN, throttle %ld through %ld "
		"EAGAIN\n", deny.through, deny.eagain, thr.through, thr.eagain);

	body = assert_back_to(&s, port, &base, "fork storms");
	assert_all_answered(body, "fork_deny", -1);
	assert_all_answered(body, "fork_throttle", -1);
	free(body);
	sgd_stop(&s);
}

/* --- 3. thread storms ----------------------------------------------------- */

#define STORM_THREADS "500"
#define STORM_CALLS 20

static void threads_done(const char *out, int status, double elapsed, void *ctx)
{
	storm_sum_t *sum = ctx;
	long t = 0, ok = 0, eagain = 0, other = 0;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(out, "threads %ld ok %ld eagain %ld other %ld", &t, &ok, &eagain, &other) != 4)
		fail_msg("a thread storm ended with status 0x%x, output '%s'", status, out);
	if (other != 0 || ok + eagain != t * STORM_CALLS)
		fail_msg("a storm of %ld threads x %d calls saw: %s", t, STORM_CALLS, out);
	if (!sum->throttle && ok > THREAD_BURST + (long)(elapsed * THREAD_RATE) + 1)
		fail_msg("%ld calls let through in %.3f s at %d/s past a burst of %d", ok, elapsed,
			 THREAD_RATE, THREAD_BURST);
	if (sum->throttle && elapsed < (double)(ok - THREAD_BURST) / THREAD_RATE - 0.01)
		fail_msg("%ld calls let through in only %.3f s at %d/s past a burst of %d", ok,
			 elapsed, THREAD_RATE, THREAD_BURST);
	/* Throttled, some calls past the burst waited and went through. */
	if (sum->throttle && ok <= THREAD_BURST)
		fail_msg("no call was throttled: %s", out);
	sum->targets++;
	sum->through += ok;
	sum->eagain += eagain;
}

static void run_threads(const sgd_proc_t *s, int port, const char *policy, bool throttle,
			int targets, storm_sum_t *sum)
{
	char n[16];
	const char *argv[] = { soak_prog(), "threads", STORM_THREADS, n, NULL };

	snprintf(n, sizeof(n), "%d", STORM_CALLS);
	memset(sum, 0, sizeof(*sum));
	sum->throttle = throttle;
	pool_run(s, port, policy, argv, targets, 2, threads_done, sum);
	assert_int_equal(sum->targets, targets);
}

/*
 * Targets of 500 threads each making 20 calls at once, their process
 * sharing one bucket: denied past the burst, or throttled with at most 64
 * parked (the rest EAGAIN): every call is answered.
 */
static void test_thread_storm(void **state)
{
	storm_sum_t deny, thr;
	level_t base;
	char *body;
	sgd_proc_t s;
	int port;

	(void)state;
	soak_start(&s, &port);
	run_threads(&s, port, "threads_deny", false, 1, &deny);
	run_threads(&s, port, "threads_throttle", true, 1, &thr);
	level_now(&s, port, &base);

	run_threads(&s, port, "threads_deny", false, 6, &deny);
	assert_true(deny.eagain > 0);
	run_threads(&s, port, "threads_throttle", true, 6, &thr);
	fprintf(stderr, "soak: thread storms: deny %ld through %ld EAGAIN, throttle %ld through "
		"%ld EAGAIN\n", deny.through, deny.eagain, thr.through, thr.eagain);

	body = assert_back_to(&s, port, &base, "thread storms");
	assert_all_answered(body, "threads_deny", 7.0 * 500 * STORM_CALLS);
	assert_all_answered(body, "threads_throttle", 7.0 * 500 * STORM_CALLS);
	free(body);
	sgd_stop(&s);
}

/* --- 4. killed while parked ----------------------------------------------- */

#define PARK_THREADS 100

/*
 * n targets of PARK_THREADS threads under the `parked` policy: one call
 * of each goes through, the other threads' calls park (one leaves a
 * second). Once sysgated holds them all, the targets are SIGKILLed.
 */
static void kill_round(const sgd_proc_t *s, int port, int n)
{
	const char *argv[] = { soak_prog(), "threads", "100", "5", NULL };
	double want = (double)n * (PARK_THREADS - 1) - n, in_flight = 0;
	job_t jobs[SOAK_WIDTH];
	int status, i;

	assert_true(n <= SOAK_WIDTH);
	for (i = 0; i < n; i++)
		jobs[i].pid = run_under_async(s, "parked", argv, &jobs[i].in, &jobs[i].out);
	for (i = 0; i < 1500 && in_flight < want; i++) {
		char *body = metrics_scrape(port);

		in_flight = policy_metric(body, "sysgate_notifications_in_flight", "parked");
		free(body);
		sleep_ms(20);
	}
	for (i = 0; i < n; i++) {
		assert_int_equal(kill(jobs[i].pid, SIGKILL), 0);
		assert_int_equal(waitpid(jobs[i].pid, &status, 0), jobs[i].pid);
		close(jobs[i].in);
		close(jobs[i].out);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("a parked target ended with status 0x%x before it was killed",
				 status);
	}
	if (in_flight < want)
		fail_msg("only %g calls parked in sysgated, want %g", in_flight, want);
}

/*
 * Targets SIGKILLed while thousands of their calls are parked on a
 * throttle's timers, in rounds: each round's parked calls are dropped
 * with their targets (nothing in flight, no error), the fds and memory
 * come back, and sysgated serves the next target.
 */
static void test_killed_while_parked(void **state)
{
	const int rounds = 3, per_round = 20;
	calls_sum_t sum;
	level_t base;
	json_object *log;
	char *body;
	sgd_proc_t s;
	int port;

	(void)state;
	soak_start(&s, &port);
	kill_round(&s, port, per_round);
	free(assert_quiet(port, "warm-up"));
	level_now(&s, port, &base);

	for (int r = 0; r < rounds; r++) {
		kill_round(&s, port, per_round);
		free(assert_back_to(&s, port, &base, "killed while parked"));
	}
	run_calls(&s, port, 1, 1000, &sum);
	body = assert_back_to(&s, port, &base, "after the kills");
	if (policy_metric(body, "sysgate_errors_total", "parked") != 0)
		fail_msg("errors while dropping parked calls:\n%s", body);
	free(body);
	log = sgd_log(&s);
	if (log_count(log, "target_end", "signal_name", "KILL") != (size_t)(rounds + 1) * per_round)
		fail_msg("%zu targets ended by SIGKILL, want %d",
			 log_count(log, "target_end", "signal_name", "KILL"), (rounds + 1) * per_round);
	json_object_put(log);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_soak_calls, sgd_teardown),
		cmocka_unit_test_teardown(test_fork_storm, sgd_teardown),
		cmocka_unit_test_teardown(test_thread_storm, sgd_teardown),
		cmocka_unit_test_teardown(test_killed_while_parked, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
