/*
 * Integration tests of rate limits on the real kernel: a fork/exec storm
 * (tests/programs/storm.c) under sysgate.limit{} on clone, fork, vfork,
 * clone3 and execve, denied past the burst or throttled to the rate; a
 * throttled call interrupted by SA_RESTART signals again and again, which
 * must be charged once; and a target killed while its calls are parked,
 * which must leave nothing behind (the sanitizer build checks memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define STORM_N "40"

static const char *storm(void)
{
	return env_path("STORM");
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct storm_counts {
	long fork_ok, fork_eagain, fork_other, exec_ok, exec_eagain, exec_other;
} storm_counts_t;

static void storm_parse(const char *out, storm_counts_t *n)
{
	if (sscanf(out, "fork ok %ld eagain %ld other %ld exec ok %ld eagain %ld other %ld",
		   &n->fork_ok, &n->fork_eagain, &n->fork_other, &n->exec_ok, &n->exec_eagain,
		   &n->exec_other) != 6)
		fail_msg("storm printed no counts: '%s'", out);
}

static bool is_true(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* Decisions of the log with message msg (the limit's `under` logs them). */
static size_t count_message(json_object *log, const char *msg)
{
	return log_count(log, "decision", "message", msg);
}

#define STORM_SYSCALLS(l) \
	"  on = { clone = " l ", clone3 = " l ", fork = " l ", vfork = " l ", execve = " l " },\n"

POLICY(storm_deny,
       "local sg = sysgate\n"
       "local l = sg.limit { rate = 10, burst = 20, per = 'target',\n"
       "  over = sg.deny('EAGAIN'), under = sg.allow():log('through') }\n"
       "return sg.policy {\n" STORM_SYSCALLS("l") "}\n");

/*
 * A storm of 40 forks, each child exec'ing /bin/true, under a limit of 10
 * a second with a burst of 20 on the whole target: the first 20 calls
 * (sysgate-run's own execve of storm, then forks and execs as they come)
 * go through, and every call after them fails with EAGAIN, marked limited
 * in the log. Only the time the run took can add tokens: one per 100 ms.
 */
static void test_storm_denied_past_burst(void **state)
{
	const char *argv[] = { storm(), "fork", STORM_N, NULL };
	storm_counts_t n;
	run_result_t r;
	json_object *log;
	double t0, elapsed;
	long through, refill;
	size_t denied, limited = 0;
	sgd_proc_t s;

	(void)state;
	START(&s, storm_deny, NULL);
	t0 = mono_s();
	run_under(&s, "storm_deny", argv, &r);
	elapsed = mono_s() - t0;
	assert_exited(&r, 0);
	storm_parse(r.out, &n);
	through = 1 + n.fork_ok + n.exec_ok;
	refill = (long)(elapsed * 10);
	if (through < 20 || through > 20 + refill)
		fail_msg("%ld calls went through in %.3f s, want 20 (+%ld refilled): %s", through,
			 elapsed, refill, r.out);
	/* Nothing else failed, and every call not let through got EAGAIN. */
	assert_int_equal(n.fork_other, 0);
	assert_int_equal(n.exec_other, 0);
	assert_int_equal(n.fork_ok + n.fork_eagain, 40);
	assert_int_equal(n.exec_ok + n.exec_eagain, n.fork_ok);
	assert_true(n.fork_eagain > 0);
	assert_true(log_wait(&s, "target_end", 1)); /* every decision written */
	log = sgd_log(&s);
	assert_int_equal(count_message(log, "through"), through);
	denied = log_count(log, "decision", "errno", "EAGAIN");
	assert_int_equal(denied, n.fork_eagain + n.exec_eagain);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i);

		if (str_field(o, "errno") && strcmp(str_field(o, "errno"), "EAGAIN") == 0)
			limited += is_true(o, "limited");
	}
	assert_int_equal(limited, denied);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(storm_process,
       "local sg = sysgate\n"
       "local l = sg.limit { rate = 10, burst = 20, over = sg.deny('EAGAIN') }\n"
       "return sg.policy {\n" STORM_SYSCALLS("l") "}\n");

/*
 * The same storm under the defaults (per = "process"): the storm's own
 * bucket holds its execve and its forks, so 19 forks go through; each
 * child is a process of its own with a full bucket for its execve.
 */
static void test_storm_per_process(void **state)
{
	const char *argv[] = { storm(), "fork", STORM_N, NULL };
	storm_counts_t n;
	run_result_t r;
	double t0, elapsed;
	sgd_proc_t s;

	(void)state;
	START(&s, storm_process, NULL);
	t0 = mono_s();
	run_under(&s, "storm_process", argv, &r);
	elapsed = mono_s() - t0;
	assert_exited(&r, 0);
	storm_parse(r.out, &n);
	if (n.fork_ok < 19 || n.fork_ok > 19 + (long)(elapsed * 10))
		fail_msg("%ld forks went through in %.3f s, want 19: %s", n.fork_ok, elapsed, r.out);
	assert_int_equal(n.fork_ok + n.fork_eagain, 40);
	assert_int_equal(n.exec_ok, n.fork_ok);
	sgd_stop(&s);
}

POLICY(storm_throttle,
       "local sg = sysgate\n"
       "local l = sg.limit { rate = 10, burst = 20, per = 'target', over = 'throttle',\n"
       "  under = sg.allow():log('through') }\n"
       "return sg.policy {\n" STORM_SYSCALLS("l") "}\n");

/*
 * The storm throttled instead: every fork and every exec succeeds, and the
 * run takes at least the time the rate implies. 15 forks and their execs
 * and the first execve are 31 calls; 11 beyond the burst come at 10 a
 * second, so the last one cannot be answered before 1.1 s after the
 * first. Only a lower bound: a slow machine may take longer (and throttle
 * fewer calls, as tokens come while the burst is spent).
 */
static void test_storm_throttled(void **state)
{
	const char *argv[] = { storm(), "fork", "15", NULL };
	storm_counts_t n;
	run_result_t r;
	json_object *log;
	double t0, elapsed;
	size_t throttled = 0;
	sgd_proc_t s;

	(void)state;
	START(&s, storm_throttle, NULL);
	t0 = mono_s();
	run_under(&s, "storm_throttle", argv, &r);
	elapsed = mono_s() - t0;
	assert_exited(&r, 0);
	storm_parse(r.out, &n);
	assert_int_equal(n.fork_ok, 15);
	assert_int_equal(n.exec_ok, 15);
	if (elapsed < 1.05)
		fail_msg("31 calls at 10 a second past a burst of 20 took %.3f s, want >= 1.1 s",
			 elapsed);
	log = sgd_log(&s);
	assert_int_equal(count_message(log, "through"), 31);
	assert_int_equal(log_count(log, "decision", "verdict", "deny"), 0);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i);
		json_object *v;

		if (json_object_object_get_ex(o, "throttle_ns", &v) && json_object_get_int64(v) > 0)
			throttled++;
	}
	/* 11 calls past the burst, less the tokens that came while the
	 * first ones ran. */
	if (throttled < 1 || throttled > 11)
		fail_msg("%zu calls throttled, want 1 to 11", throttled);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(restart,
       "local sg = sysgate\n"
       "return sg.policy { on = {\n"
       "  getppid = sg.limit { rate = 20, burst = 1, over = 'throttle',\n"
       "    under = sg.allow():log('through') },\n"
       "} }\n");

/*
 * A throttled call whose thread takes a signal every 3 ms: each signal
 * interrupts the parked call, and SA_RESTART makes the thread call again
 * with a new notification, a dozen times per 50 ms wait. The restart takes
 * the parked call's place and its token: each of the 10 calls is decided
 * once, none fails, and the run takes about 9 x 50 ms. Charged again at
 * each restart, a call would wait for a token further out every time and
 * never complete, or fail with EAGAIN once the parked cap is reached.
 */
static void test_restart_not_charged_twice(void **state)
{
	const char *argv[] = { storm(), "restart", "10", "3000", NULL };
	run_result_t r;
	json_object *log;
	double t0, elapsed;
	long ok, failed, signals;
	sgd_proc_t s;

	(void)state;
	START(&s, restart, NULL);
	t0 = mono_s();
	run_under(&s, "restart", argv, &r);
	elapsed = mono_s() - t0;
	assert_exited(&r, 0);
	if (sscanf(r.out, "calls ok %ld failed %ld signals %ld", &ok, &failed, &signals) != 3)
		fail_msg("storm printed no counts: '%s'", r.out);
	assert_int_equal(ok, 10);
	assert_int_equal(failed, 0);
	if (signals < 20)
		fail_msg("only %ld signals in %.3f s: the calls were not interrupted", signals, elapsed);
	if (elapsed < 0.4 || elapsed > 10)
		fail_msg("10 calls at 20 a second took %.3f s, want about 0.45 s", elapsed);
	/* The program may end before the last decision is written: the
	 * target's end comes after it. */
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_int_equal(count_message(log, "through"), 10);
	/* A deny the program never saw (its call was gone, interrupted, by
	 * the time the answer went out: a restart that came after the
	 * parked call's timer fired, which the README says is charged
	 * again) is no failure; one it saw would be counted above. */
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event"), *verdict = str_field(e, "verdict");
		const char *reason = str_field(e, "reason");

		if (strcmp(ev, "decision") == 0 && verdict && strcmp(verdict, "deny") == 0 &&
		    !(reason && strstr(reason, "was gone before the answer")))
			fail_msg("a deny the program saw: %s",
				 json_object_to_json_string(e));
	}
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(slow_storm,
       "local sg = sysgate\n"
       "local l = sg.limit { rate = 0.5, burst = 1, per = 'target', over = 'throttle' }\n"
       "return sg.policy {\n" STORM_SYSCALLS("l") "}\n");

/* Whether pid is blocked in a notified syscall. */
static bool in_seccomp(pid_t pid)
{
	char path[64], buf[128] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "seccomp") != NULL;
}

/*
 * A target killed while its calls are parked on a throttle's timers: the
 * parked calls are freed with the target (the sanitizer build's leak
 * check runs when sgd_stop stops sysgated), its end is logged, no fd is
 * left behind, and the next target is served.
 */
static void test_killed_while_throttled(void **state)
{
	const char *argv[] = { storm(), "fork", "5", NULL };
	int in_w, out_r, status, before, i;
	json_object *log;
	sgd_proc_t s;
	pid_t pid;

	(void)state;
	START(&s, slow_storm, NULL);
	before = fd_count(s.pid);
	for (int round = 0; round < 3; round++) {
		pid = run_under_async(&s, "slow_storm", argv, &in_w, &out_r);
		/* The execve takes the burst; the first fork waits 2 s. */
		for (i = 0; i < 500 && !in_seccomp(pid); i++)
			sleep_ms(10);
		if (i == 500) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("storm never parked in a throttled call");
		}
		sleep_ms(100);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		close(in_w);
		close(out_r);
		assert_true(log_wait(&s, "target_end", (size_t)round + 1));
	}
	for (i = 0; i < 200 && fd_count(s.pid) != before; i++)
		sleep_ms(10);
	assert_int_equal(fd_count(s.pid), before);
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "error", NULL, NULL), 0);
	json_object_put(log);
	sgd_stop(&s);
}

/*
 * sysgated stopped while a call is parked: it exits cleanly (and, in the
 * sanitizer build, without a leak), and the parked call and every
 * forwarded call after it fail with ENOSYS: none is allowed.
 */
static void test_stopped_while_throttled(void **state)
{
	const char *argv[] = { storm(), "fork", "5", NULL };
	char out[256];
	storm_counts_t n;
	int in_w, out_r, status, i;
	ssize_t len;
	sgd_proc_t s;
	pid_t pid;

	(void)state;
	START(&s, slow_storm, NULL);
	pid = run_under_async(&s, "slow_storm", argv, &in_w, &out_r);
	for (i = 0; i < 500 && !in_seccomp(pid); i++)
		sleep_ms(10);
	if (i == 500) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("storm never parked in a throttled call");
	}
	sleep_ms(100);
	sgd_stop(&s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	len = read(out_r, out, sizeof(out) - 1);
	out[len > 0 ? len : 0] = '\0';
	close(in_w);
	close(out_r);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("storm status 0x%x: %s", status, out);
	storm_parse(out, &n);
	assert_int_equal(n.fork_ok, 0);
	assert_int_equal(n.fork_other, 5); /* ENOSYS */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_storm_denied_past_burst, sgd_teardown),
		cmocka_unit_test_teardown(test_storm_per_process, sgd_teardown),
		cmocka_unit_test_teardown(test_storm_throttled, sgd_teardown),
		cmocka_unit_test_teardown(test_restart_not_charged_twice, sgd_teardown),
		cmocka_unit_test_teardown(test_killed_while_throttled, sgd_teardown),
		cmocka_unit_test_teardown(test_stopped_while_throttled, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
