/*
 * The supervisor's sockets: peers are authenticated by more than a uid
 * (docs/security.md). Each test runs the attack as a real program, as a
 * target of uid 0 with every capability dropped (it owns the root-owned
 * socket directory and every root-owned file by DAC), against a real
 * sysgated:
 *
 *   - a target runs `sysgated --takeover` itself: refused, the supervisor
 *     serves on and a target's denied call stays denied;
 *   - an unfiltered process of uid 0 without capabilities asks for a
 *     takeover: refused;
 *   - a target puts its own socket in place of sysgated's and relays a
 *     launch (fake_server): sysgate-run refuses it, the command never runs
 *     and the impostor never sees a listener;
 *   - a target puts its own sockets in place of sysgated's and answers a
 *     `sysgated --takeover` (fake_control): the new supervisor refuses it;
 *   - a target runs sysgate-run: refused, with the reason logged;
 *   - a target of the uid of a sysgated that holds no capabilities tries
 *     to take its fds with pidfd_getfd and open its memory (steal_fds):
 *     refused, sysgated is not dumpable.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* The one call the policy denies: a mkdir of MARK. A marker no runtime
 * makes (LeakSanitizer's getppid in the sanitizer build would be denied
 * and hang it); every other mkdir is allowed, and nothing else forwarded. */
#define MARK "/nonexistent/sysgate-peer-mark"
#define MARK_DENIED "mkdir " MARK ": EPERM"

POLICY(peer, "local function mk(c)\n"
	     "  if c.path == '" MARK "' then return sysgate.deny('EPERM'):log('mark') end\n"
	     "  return sysgate.allow()\n"
	     "end\n"
	     "return sysgate.policy { name = 'peer', on = { mkdir = mk, mkdirat = mk } }\n");

#define SETPRIV "/usr/bin/setpriv"

/* Keeps uid 0 and drops every capability, for this process and what it
 * execs: the bounding set first (that takes CAP_SETPCAP), then the sets. */
static void drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	for (int c = 0; c < 64; c++)
		(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0); /* EINVAL past the last one */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &h, d) < 0)
		_exit(126);
}

typedef struct capless {
	pid_t pid;
	int in, out, err; /* its stdin (write end), stdout and stderr (read ends) */
} capless_t;

/* Starts argv (argv[0] a path) as uid 0 without capabilities. */
static void spawn_capless(const char *const *argv, capless_t *c)
{
	int in[2], out[2], err[2];

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		drop_caps();
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	c->in = in[1];
	c->out = out[0];
	c->err = err[0];
}

static void slurp(int fd, char *buf, size_t len)
{
	size_t off = strlen(buf);
	ssize_t n;

	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
}

/*
 * Waits (up to 30 s) for c to exit, its output into r. If sysgated (pid
 * sgd) exits first, the attack got what it wanted: the test fails, and c
 * is killed, since it may be serving in sysgated's place.
 */
static void wait_capless(capless_t *c, pid_t sgd, run_result_t *r)
{
	int status;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 3000; i++) {
		if (waitpid(c->pid, &r->status, WNOHANG) == c->pid) {
			close(c->in);
			slurp(c->out, r->out, sizeof(r->out));
			slurp(c->err, r->err, sizeof(r->err));
			close(c->out);
			close(c->err);
			return;
		}
		if (sgd > 0 && waitpid(sgd, &status, WNOHANG) == sgd) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, NULL, 0);
			fail_msg("sysgated exited (status 0x%x) while a capless peer attacked it", status);
		}
		sleep_ms(10);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	fail_msg("the attack did not end within 30 s");
}

static void assert_serving(const sgd_proc_t *s)
{
	int status;

	if (waitpid(s->pid, &status, WNOHANG) != 0)
		fail_msg("sysgated is gone (status 0x%x); see %s", status, s->dir);
}

/* The message of the last event ev in s's log that has one; fails without. */
static void assert_logged(const sgd_proc_t *s, const char *ev, const char *needle)
{
	json_object *log;
	const char *msg = NULL;

	assert_true(log_wait(s, ev, 1));
	log = sgd_log(s);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i);

		if (strcmp(str_field(o, "event"), ev) == 0 && str_field(o, "message"))
			msg = str_field(o, "message");
		if (msg && strstr(msg, needle))
			break;
	}
	assert_non_null(msg);
	assert_contains(msg, needle);
	json_object_put(log);
}

/* Another tenant: a target that made one denied call and waits. */
static pid_t victim(const sgd_proc_t *s, int *in, int *out)
{
	const char *argv[] = { probe(), "mkdir", MARK, "wait", "mkdir", MARK, NULL };
	char line[128];
	pid_t pid = run_under_async(s, "peer", argv, in, out);

	read_line(*out, line, sizeof(line));
	assert_string_equal(line, MARK_DENIED);
	return pid;
}

/* The same, started without capabilities: a sysgated that holds none can
 * read the memory (the path) of a target that holds none, not of one with
 * capabilities of its own. */
static pid_t victim_capless(const sgd_proc_t *s, int *in, int *out)
{
	const char *argv[] = { env_path("SYSGATE_RUN"), "-s", s->socket, "-p", "peer", "--",
			       probe(), "mkdir", MARK, "wait", "mkdir", MARK, NULL };
	char line[128];
	capless_t c;

	spawn_capless(argv, &c);
	close(c.err);
	read_line(c.out, line, sizeof(line));
	assert_string_equal(line, MARK_DENIED);
	*in = c.in;
	*out = c.out;
	return c.pid;
}

/* Its next call is still denied by sysgated; then it ends. */
static void victim_still_denied(pid_t pid, int in, int out)
{
	char line[128];
	int status;

	assert_int_equal(write(in, "\n", 1), 1);
	read_line(out, line, sizeof(line));
	assert_string_equal(line, MARK_DENIED);
	close(in);
	close(out);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * A target runs the real `sysgated --takeover` on the config (its uid
 * owns the control socket and can read the config). Before: the running
 * sysgated handed every target's listener, other tenants' included, over
 * to it and exited. Now it is refused: it runs under a seccomp filter.
 */
static void test_target_cannot_take_over(void **state)
{
	sgd_proc_t s;
	capless_t c;
	run_result_t r;
	char conf[400];
	int in, out;
	pid_t v;

	START(&s, peer, NULL);
	v = victim(&s, &in, &out);
	snprintf(conf, sizeof(conf), "%s/sysgate.conf", s.dir);
	{
		const char *argv[] = { env_path("SYSGATE_RUN"), "-s", s.socket, "-p", "peer", "--",
				       env_path("SYSGATED"), "-c", conf, "--takeover", NULL };

		spawn_capless(argv, &c);
	}
	wait_capless(&c, s.pid, &r);
	assert_exited(&r, 1);
	assert_contains(r.err, "runs under a seccomp filter");
	assert_serving(&s);
	assert_logged(&s, "takeover", "runs under a seccomp filter");
	victim_still_denied(v, in, out);
	sgd_stop(&s);
}

/*
 * Not a target, but uid 0 without a capability: no takeover either, it
 * lacks what sysgated holds (CAP_SYS_ADMIN among them).
 */
static void test_capless_peer_cannot_take_over(void **state)
{
	sgd_proc_t s;
	capless_t c;
	run_result_t r;
	char conf[400];
	int in, out;
	pid_t v;

	START(&s, peer, NULL);
	v = victim(&s, &in, &out);
	snprintf(conf, sizeof(conf), "%s/sysgate.conf", s.dir);
	{
		const char *argv[] = { env_path("SYSGATED"), "-c", conf, "--takeover", NULL };

		spawn_capless(argv, &c);
	}
	wait_capless(&c, s.pid, &r);
	assert_exited(&r, 1);
	assert_contains(r.err, "lacks capabilities the supervisor holds");
	assert_serving(&s);
	assert_logged(&s, "takeover", "lacks capabilities the supervisor holds");
	victim_still_denied(v, in, out);
	sgd_stop(&s);
}

/*
 * A target renames sysgated's socket aside, binds its own in its place
 * and relays the next launch to the real sysgated, word for word
 * (fake_server). launchers_may_be_filtered lets the relay through to
 * sysgated, the hardest case: every byte sysgate-run reads is the real
 * supervisor's, only its sender is the target. Before: sysgate-run took
 * the SPEC, loaded the filter and handed the new listener to the target.
 * Now it refuses the sender, and the command never runs.
 */
static void test_target_cannot_impersonate_the_server(void **state)
{
	const char *argv[] = { probe(), "mkdir", MARK, NULL };
	sgd_proc_t s;
	capless_t c;
	run_result_t r, fake;
	char line[128];

	START(&s, peer, "launchers_may_be_filtered = true;");
	{
		const char *fargv[] = { env_path("SYSGATE_RUN"), "-s", s.socket, "-p", "peer", "--",
					env_path("FAKE_SERVER"), s.socket, NULL };

		spawn_capless(fargv, &c);
	}
	read_line(c.out, line, sizeof(line));
	assert_string_equal(line, "bound");
	run_under(&s, "peer", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "runs under a seccomp filter");
	if (strstr(r.out, "mkdir"))
		fail_msg("the command ran: %s", r.out);
	wait_capless(&c, s.pid, &fake);
	assert_exited(&fake, 0);
	if (strstr(fake.out, "got a listener"))
		fail_msg("the impostor got the new target's listener: %s", fake.out);
	assert_serving(&s);
	sgd_stop(&s);
}

/*
 * A target moves sysgated's sockets aside, binds its own at both paths
 * and answers the operator's `sysgated --takeover` with them and no
 * targets (fake_control). Before: the new supervisor took them, told the
 * impostor ACCEPT and served a socket the target also accepts on, beside
 * the real sysgated. Now it refuses the sender of BEGIN and exits.
 */
static void test_target_cannot_fake_the_control_socket(void **state)
{
	sgd_proc_t s;
	capless_t c;
	run_result_t fake;
	char line[128], path[400], out[4096] = "";
	int status, fd;

	START(&s, peer, NULL);
	{
		const char *argv[] = { env_path("SYSGATE_RUN"), "-s", s.socket, "-p", "peer", "--",
				       env_path("FAKE_CONTROL"), s.socket, NULL };

		spawn_capless(argv, &c);
	}
	read_line(c.out, line, sizeof(line));
	assert_string_equal(line, "bound");
	if (sgd_takeover(&s, &status))
		fail_msg("the real sysgated exited: it was not the one asked");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	snprintf(path, sizeof(path), "%s/takeover.out", s.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	slurp(fd, out, sizeof(out));
	close(fd);
	assert_contains(out, "not served by a supervisor");
	assert_contains(out, "runs under a seccomp filter");
	wait_capless(&c, s.pid, &fake);
	if (strstr(fake.out, "accepted"))
		fail_msg("the new supervisor took the impostor's sockets: %s", fake.out);
	assert_serving(&s);
	sgd_stop(&s);
}

/*
 * A target starts sysgate-run: a launcher under a seccomp filter may be a
 * target, and is refused with the reason logged (launchers_may_be_filtered
 * is false by default). Before: it was served a second filter's SPEC and
 * its command ran.
 */
static void test_target_is_refused_as_launcher(void **state)
{
	sgd_proc_t s;
	run_result_t r;

	START(&s, peer, NULL);
	{
		const char *argv[] = { env_path("SYSGATE_RUN"), "-s", s.socket, "-p", "peer", "--",
				       probe(), "mkdir", MARK, NULL };

		run_under(&s, "peer", argv, &r);
	}
	assert_exited(&r, 125);
	assert_contains(r.err, "runs under a seccomp filter");
	if (strstr(r.out, "mkdir"))
		fail_msg("the command ran: %s", r.out);
	assert_logged(&s, "handshake_refused", "runs under a seccomp filter");
	assert_serving(&s);
	sgd_stop(&s);
}

/*
 * sysgated of uid 0 holding no capability (started under setpriv), as a
 * sysgated of an unprivileged uid holds none: a target of its uid with no
 * capability is its equal to the kernel's ptrace checks, but for
 * dumpability. Before: it took sysgated's fds (a listener among them) with
 * pidfd_getfd. Now sysgated is not dumpable: EPERM, and its memory EACCES.
 */
static void test_target_cannot_take_sysgated_fds(void **state)
{
	const char *const wrapper[] = { SETPRIV, "--inh-caps=-all", "--bounding-set=-all", "--", NULL };
	sgd_proc_t s;
	capless_t c;
	run_result_t r;
	char pid[32];
	int in, out;
	pid_t v;

	if (access(SETPRIV, X_OK) != 0)
		skip();
	sgd_start_wrapped(&s, wrapper, NULL, 1, peer_names, peer_srcs, NULL);
	v = victim_capless(&s, &in, &out);
	snprintf(pid, sizeof(pid), "%d", (int)s.pid);
	{
		const char *argv[] = { env_path("SYSGATE_RUN"), "-s", s.socket, "-p", "peer", "--",
				       env_path("STEAL_FDS"), pid, NULL };

		spawn_capless(argv, &c);
	}
	wait_capless(&c, s.pid, &r);
	assert_exited(&r, 0);
	if (strstr(r.out, "stole"))
		fail_msg("a target took sysgated's fd: %s", r.out);
	assert_contains(r.out, "getfd: EPERM");
	assert_contains(r.out, "mem: EACCES");
	assert_serving(&s);
	victim_still_denied(v, in, out);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_target_cannot_take_over, sgd_teardown),
		cmocka_unit_test_teardown(test_capless_peer_cannot_take_over, sgd_teardown),
		cmocka_unit_test_teardown(test_target_cannot_impersonate_the_server, sgd_teardown),
		cmocka_unit_test_teardown(test_target_cannot_fake_the_control_socket, sgd_teardown),
		cmocka_unit_test_teardown(test_target_is_refused_as_launcher, sgd_teardown),
		cmocka_unit_test_teardown(test_target_cannot_take_sysgated_fds, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
