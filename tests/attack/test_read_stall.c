/*
 * Reads of target memory (docs/security.md): a target that points a
 * call's path into a mapped file whose FUSE server never answers makes
 * sysgated's read of the path wait; the read watchdog aborts that FUSE
 * connection, so that the loop goes on serving other targets and new
 * launches, the call fails with EFAULT, and the log names the stall. A
 * server that answers each read late, but before the watchdog acts, is
 * stopped by the target's budget of loop time on reads instead.
 *
 * The server (fuse_stall serve) runs outside sysgate, as the cooperating
 * process; the mount is detached in every path (teardown). No timing is
 * asserted: each wait is bounded (HANG_S) only to tell a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define HANG_S 30

static char mnt[64];
static pid_t server = -1;

/* Reads one line of fd within HANG_S, else fails the test: sysgated hangs. */
static void line_within(int fd, char *buf, size_t len, const char *what)
{
	int64_t end = mono_ms() + HANG_S * 1000;
	size_t off = 0;

	while (off + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - mono_ms();

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			fail_msg("%s: nothing within %d s (a hang); so far \"%.*s\"", what, HANG_S,
				 (int)off, buf);
		if (read(fd, buf + off, 1) != 1)
			break;
		if (buf[off] == '\n')
			break;
		off++;
	}
	buf[off] = '\0';
}

static void expect_line(int fd, const char *want, const char *what)
{
	char line[256];

	line_within(fd, line, sizeof(line), what);
	if (strcmp(line, want) != 0)
		fail_msg("%s: \"%s\", not \"%s\"", what, line, want);
}

/* Waits for pid within HANG_S (then kills it and fails). */
static int wait_within(pid_t pid, const char *what)
{
	int64_t end = mono_ms() + HANG_S * 1000;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (mono_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("%s did not end within %d s (a hang)", what, HANG_S);
		}
		sleep_ms(20);
	}
	return status;
}

static int teardown(void **state)
{
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
		mnt[0] = '\0';
	}
	if (server > 0) {
		kill(server, SIGKILL); /* closing /dev/fuse ends the connection */
		waitpid(server, NULL, 0);
		server = -1;
	}
	return sgd_teardown(state);
}

/* Starts fuse_stall serve on a new mount (delay: NULL, or its DELAY_MS);
 * *out reads what it says. */
static void start_server(int *out, const char *delay)
{
	int p[2];

	snprintf(mnt, sizeof(mnt), "/tmp/sysgate-rs.XXXXXX");
	assert_non_null(mkdtemp(mnt));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		dup2(p[1], 1);
		execl(env_path("FUSE_STALL"), "fuse_stall", "serve", mnt, delay, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	expect_line(*out, "mounted", "the FUSE server");
}

POLICY(rs, "local function f(c)\n"
	   "  if c.path then return sysgate.allow() end\n"
	   "  return sysgate.allow()\n"
	   "end\n"
	   "return sysgate.policy { name = 'rs', on = { openat = f, open = f } }\n");

/*
 * Target A maps the FUSE file and opens a path inside the mapping; while
 * sysgated's read of it waits on the server (which says so), target B,
 * started before, gets its forwarded openat answered, and a new
 * sysgate-run (C) starts and gets its own answered. A's call fails with
 * EFAULT, and so does its next read (it is marked), the server sees its
 * connection aborted, the log has a read_stall event naming A, and the
 * metrics count it.
 */
static void test_fuse_read_stall(void **state)
{
	char file[96], line[256];
	const char *argv_a[] = { env_path("FUSE_STALL"), "target", file, NULL };
	const char *argv_b[] = { env_path("FUSE_STALL"), "other", NULL };
	int srv, a_in, a_out, b_in, b_out, c_in, c_out, status;
	json_object *log, *ev;
	char extra[64], *body;
	int port = free_port();
	pid_t a, b, c;
	sgd_proc_t s;

	(void)state;
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		skip();
	start_server(&srv, NULL);
	snprintf(file, sizeof(file), "%s/f", mnt);
	snprintf(extra, sizeof(extra), "metrics_listen = \"127.0.0.1:%d\";", port);
	START(&s, rs, extra);

	b = run_under_async(&s, "rs", argv_b, &b_in, &b_out);
	expect_line(b_out, "ready", "target B");

	a = run_under_async(&s, "rs", argv_a, &a_in, &a_out);
	expect_line(a_out, "open the file: ok 3", "target A");
	expect_line(a_out, "mapped", "target A");
	/* sysgated's read of A's path is now waiting on the server. */
	expect_line(srv, "read pending", "the FUSE server");

	assert_int_equal(write(b_in, "go\n", 3), 3);
	expect_line(b_out, "open: ok 3", "target B's forwarded openat");
	close(b_in);
	status = wait_within(b, "target B");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	c = run_under_async(&s, "rs", argv_b, &c_in, &c_out);
	expect_line(c_out, "ready", "a new sysgate-run");
	close(c_in);
	expect_line(c_out, "open: ok 3", "the new target's forwarded openat");
	status = wait_within(c, "the new target");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	expect_line(a_out, "open in the mapping: EFAULT", "target A's stalled call");
	expect_line(a_out, "open after: EFAULT", "target A's next call");
	close(a_in);
	status = wait_within(a, "target A");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	line_within(srv, line, sizeof(line), "the FUSE server");
	assert_string_equal(line, "connection ended");
	close(srv);
	close(a_out);
	close(b_out);
	close(c_out);

	assert_true(log_wait(&s, "read_stall", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "read_stall", NULL, NULL), 1);
	ev = log_find(log, "read_stall", "action", "fuse_aborted");
	assert_non_null(ev);
	assert_int_equal(int_field(ev, "pid"), a);
	assert_string_equal(str_field(ev, "syscall"), "openat");
	assert_non_null(str_field(ev, "device"));
	json_object_put(log);

	body = metrics_scrape(port);
	assert_contains(body, "sysgate_read_stalls_total{action=\"fuse_aborted\"} 1\n");
	assert_contains(body, "sysgate_read_stalls_total{action=\"not_fuse\"} 0\n");
	assert_contains(body, "sysgate_reads_stalled 0\n");
	free(body);
	sgd_stop(&s);
}

/*
 * A server that answers each read 250 ms late stays under the watchdog's
 * 500 ms, but not under the target's budget: every read takes at least
 * that long, so after two the target's reads have held the loop 500 ms,
 * and from the third page on its calls fail EFAULT at once. One
 * read_stall event says so: slow_reads (or fuse_aborted, had a single
 * read taken 500 ms on a loaded machine; the pages after fail either way).
 */
static void test_slow_reads_budget(void **state)
{
	char file[96], want[64];
	const char *argv[] = { env_path("FUSE_STALL"), "pages", file, "6", NULL };
	json_object *log, *ev;
	run_result_t r;
	sgd_proc_t s;
	int srv;
	const char *action;

	(void)state;
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		skip();
	start_server(&srv, "250");
	snprintf(file, sizeof(file), "%s/f", mnt);
	START(&s, rs, NULL);
	run_under(&s, "rs", argv, &r);
	assert_exited(&r, 0);
	for (int i = 2; i < 6; i++) {
		snprintf(want, sizeof(want), "open page %d: EFAULT\n", i);
		assert_contains(r.out, want);
	}
	assert_true(log_wait(&s, "read_stall", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "read_stall", NULL, NULL), 1);
	ev = log_find(log, "read_stall", NULL, NULL);
	action = str_field(ev, "action");
	assert_non_null(action);
	if (strcmp(action, "slow_reads") != 0 && strcmp(action, "fuse_aborted") != 0)
		fail_msg("read_stall action %s", action);
	assert_string_equal(str_field(ev, "syscall"), "openat");
	json_object_put(log);
	close(srv);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fuse_read_stall, teardown),
		cmocka_unit_test_teardown(test_slow_reads_budget, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
