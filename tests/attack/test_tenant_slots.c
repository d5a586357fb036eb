/*
 * Tenants: handshake slots and log budgets. A hostile tenant (uid 1000,
 * and 1001 beside it, allowed launchers that are not root) holds every
 * handshake slot it can, floods the log with refused handshakes, and
 * runs learn targets to fill learn_dir; root's launches must still run,
 * root's denied calls must still be written, and each quota must stop
 * the tenant with the reason in the log.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define TENANT 1000
#define TENANT2 1001

/* The tenants may connect: their uids are allowed and the socket's group
 * is TENANT's (each attack program runs with that gid, open_socket); the
 * test's directory is root's 0700. */
#define TENANT_CONFIG "allow_uids = [ 0, 1000, 1001 ];\nsocket_mode = \"0660\";\n"

typedef struct child {
	pid_t pid;
	int in, out;
} child_t;

static void open_socket(const sgd_proc_t *s)
{
	assert_int_equal(chmod(s->dir, 0711), 0);
	assert_int_equal(chown(s->socket, (uid_t)-1, TENANT), 0);
}

/* Starts argv with pipes on its stdin and stdout. */
static void spawn(child_t *c, const char *const *argv)
{
	int in[2], out[2];

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
}

/* Tells c to stop (a line on its stdin), reads its last line into line
 * and waits for it to exit 0. */
static void finish(child_t *c, char *line, size_t len)
{
	int status;

	assert_int_equal(write(c->in, "\n", 1), 1);
	read_line(c->out, line, len);
	close(c->in);
	close(c->out);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

POLICY(open, "local sg = sysgate\n"
	     "return sg.policy { on = { getppid = sg.allow } }\n");

/*
 * Handshake slots are quotas. uid 1000 opens 40 connections and sends
 * nothing (each holds a slot until the handshake timeout, and is opened
 * again as soon as it is cut), then uid 1001 does the same. 1000 gets
 * its share (tenants.handshakes = 30), 1001 what the two may hold
 * together (64 - root_handshakes 16 = 48), the rest of both is refused
 * with the quota's name, and 20 of 20 root launches run meanwhile. They
 * failed with 125 when the 64 slots were everyone's.
 */
static void test_handshake_slots(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	const char *hold_a[] = { env_path("HANDSHAKE_HOLD"), "1000", "1000", "40", NULL, NULL };
	const char *hold_b[] = { env_path("HANDSHAKE_HOLD"), "1001", "1000", "40", NULL, NULL };
	sgd_proc_t s;
	child_t a, b;
	run_result_t r;
	json_object *log;
	char line[128];
	int failed = 0;

	(void)state;
	START(&s, open, TENANT_CONFIG "tenants = { handshakes = 30; root_handshakes = 16; };");
	open_socket(&s);
	hold_a[4] = hold_b[4] = s.socket;
	spawn(&a, hold_a);
	read_line(a.out, line, sizeof(line));
	assert_string_equal(line, "connected 40");
	spawn(&b, hold_b);
	read_line(b.out, line, sizeof(line));
	assert_string_equal(line, "connected 40");
	/* 80 connections against 64 slots: at least 16 are refused whatever
	 * the quotas, and once they are, the rest were accepted before any
	 * launch of root's (the backlog is served in order). */
	assert_true(log_wait(&s, "handshake_refused", 16));

	for (int i = 0; i < 20; i++) {
		run_under(&s, "open", argv, &r);
		if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 ||
		    !strstr(r.out, "getppid: ok")) {
			fprintf(stderr, "root launch %d: status %d: %s\n", i, r.status, r.err);
			failed++;
		}
	}
	finish(&a, line, sizeof(line));
	fprintf(stderr, "uid %d: %s\n", TENANT, line);
	finish(&b, line, sizeof(line));
	fprintf(stderr, "uid %d: %s\n", TENANT2, line);
	fprintf(stderr, "root launches failed: %d of 20\n", failed);
	assert_int_equal(failed, 0);

	log = sgd_log(&s);
	assert_true(log_refusals(log, TENANT, "tenants.handshakes") >= 10);
	assert_true(log_refusals(log, TENANT2, "tenants.root_handshakes") >= 22);
	assert_int_equal(log_refusals(log, 0, ""), 0);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(denying, "local sg = sysgate\n"
		"return sg.policy { on = { getppid = sg.deny('EPERM') } }\n");

/* Sum of `events` of the suppressed events about refused handshakes of
 * uid; *about_target: whether any was about a target. */
static int64_t suppressed_refused(json_object *log, unsigned uid, bool *about_target)
{
	int64_t n = 0;

	*about_target = false;
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i), *v;
		const char *ev = str_field(e, "event"), *what = str_field(e, "what");

		if (!ev || strcmp(ev, "suppressed") != 0)
			continue;
		if (json_object_object_get_ex(e, "target", &v))
			*about_target = true;
		else if (what && strcmp(what, "handshake_refused") == 0 && int_field(e, "uid") == uid)
			n += int_field(e, "events");
	}
	return n;
}

/*
 * A flood of refused handshakes does not silence a target's denials.
 * uid 1000 sends malformed HELLOs, one after the other, while a root
 * target makes 5 denied calls: the global budget is 10 events, and the
 * flood's refusals take none of it (they have their own budget), so all
 * 5 denials are written. Every refusal is written or counted, per uid,
 * in a `suppressed` event of its own. When both shared one budget, the
 * flood left none for the denials.
 */
static void test_refused_flood_budget(void **state)
{
	const char *argv[] = { probe(), "getppid", "getppid", "getppid", "getppid", "getppid", NULL };
	const char *flood[] = { env_path("HELLO_FLOOD"), "1000", "1000", "50000", NULL, NULL };
	sgd_proc_t s;
	child_t f;
	run_result_t r;
	json_object *log = NULL;
	char line[128];
	long sent = -1;
	int64_t written = 0, counted = 0;
	bool about_target = false;

	(void)state;
	START(&s, denying,
	      TENANT_CONFIG "log_limits = { global_rate = 10; global_burst = 10;\n"
			    "  handshake_rate = 10; handshake_burst = 10; report_ms = 200; };");
	open_socket(&s);
	flood[4] = s.socket;
	spawn(&f, flood);
	read_line(f.out, line, sizeof(line));
	assert_string_equal(line, "flooding");

	run_under(&s, "denying", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: EPERM");

	finish(&f, line, sizeof(line));
	assert_int_equal(sscanf(line, "sent %ld", &sent), 1);
	assert_true(sent >= 1000);

	/* Every refusal is written or counted; the last count comes with
	 * the next report (report_ms). Bounded: 10 s. */
	for (int i = 0; i < 1000; i++) {
		json_object_put(log);
		log = sgd_log(&s);
		written = (int64_t)log_refusals(log, TENANT, "malformed HELLO");
		counted = suppressed_refused(log, TENANT, &about_target);
		if (written + counted >= sent)
			break;
		sleep_ms(10);
	}
	fprintf(stderr, "refused handshakes: sent %ld, written %lld, counted %lld; denials written %zu\n",
		sent, (long long)written, (long long)counted,
		log_count(log, "decision", "verdict", "deny"));
	assert_int_equal(log_count(log, "decision", "verdict", "deny"), 5);
	assert_false(about_target);
	assert_int_equal(written + counted, sent);
	assert_true(counted > 0);
	assert_true(log_wait(&s, "target_end", 1));
	json_object_put(log);
	log = sgd_log(&s);
	assert_int_equal(int_field(log_find(log, "target_end", NULL, NULL), "suppressed"), 0);
	json_object_put(log);
	sgd_stop(&s);
}

/* Denied decisions of pid in log. */
static size_t denies_of(json_object *log, long pid)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event"), *v = str_field(e, "verdict");
		json_object *p;

		n += ev && strcmp(ev, "decision") == 0 && v && strcmp(v, "deny") == 0 &&
		     json_object_object_get_ex(e, "pid", &p) && json_object_get_int64(p) == pid;
	}
	return n;
}

/*
 * The global log budget is one per launcher uid. uid 1000's four
 * targets are denied getppid as fast as they can call it (the budget is
 * 10 events, each target's own bucket is no limit), while a root target
 * makes 5 denied calls: all 5 are written, and the tenant's flood is
 * counted as suppressed. When the global bucket was everyone's, the
 * tenant's denials used it up and root's were only counted.
 */
static void test_tenant_log_share(void **state)
{
	const char *argv[] = { probe(), "getpid", "getppid", "getppid", "getppid", "getppid",
			       "getppid", NULL };
	const char *flood[] = { env_path("TENANT_FLOOD"), "1000", "4", "-", env_path("SYSGATE_RUN"),
				NULL, "denying", probe(), "getppid", "loop", "300000", "wait", NULL };
	sgd_proc_t s;
	child_t f;
	run_result_t r;
	json_object *log;
	char line[128];
	const char *at;
	int started = -1, refused = -1, status;
	long pid = -1;
	uint64_t suppressed = 0;

	(void)state;
	START(&s, denying,
	      TENANT_CONFIG "log_limits = { global_rate = 10; global_burst = 10;\n"
			    "  target_rate = 1000000; target_burst = 1000000; report_ms = 200; };");
	open_socket(&s);
	flood[5] = s.socket;
	spawn(&f, flood);
	read_line(f.out, line, sizeof(line));
	assert_int_equal(sscanf(line, "flood started %d refused %d", &started, &refused), 2);
	assert_int_equal(started, 4);

	run_under(&s, "denying", argv, &r);
	assert_exited(&r, 0);
	at = strstr(r.out, "getpid: ok ");
	assert_non_null(at);
	pid = strtol(at + strlen("getpid: ok "), NULL, 10);
	assert_true(pid > 0);

	close(f.in);
	close(f.out);
	assert_int_equal(waitpid(f.pid, &status, 0), f.pid);
	assert_true(log_wait(&s, "target_end", 5));
	log = sgd_log(&s);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event");
		json_object *n;

		if (ev && strcmp(ev, "target_end") == 0 && json_object_object_get_ex(e, "suppressed", &n))
			suppressed += (uint64_t)json_object_get_int64(n);
	}
	fprintf(stderr, "root's denials written %zu; the tenant's suppressed %llu\n",
		denies_of(log, pid), (unsigned long long)suppressed);
	assert_true(suppressed > 0); /* the tenant did use up its budget */
	assert_int_equal(denies_of(log, pid), 5);
	json_object_put(log);
	sgd_stop(&s);
}

/* Error events whose message holds needle. */
static size_t errors_with(json_object *log, const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event"), *msg = str_field(e, "message");

		n += ev && strcmp(ev, "error") == 0 && msg && strstr(msg, needle);
	}
	return n;
}

/*
 * Learn mode writes a file as each learn target ends: a tenant may write
 * tenants.learn_files of them since sysgated started, however small. Four
 * learn targets of uid 1000 end, two files are written and two are not,
 * with the quota's name in an error event; root's learn run is written.
 */
static void test_learn_files(void **state)
{
	static const char *const entries[] = { "modes = [ \"learn\" ];" };
	const char *argv[] = { probe(), "getppid", NULL };
	const char *flood[] = { env_path("TENANT_FLOOD"), "1000", "4", "learn", env_path("SYSGATE_RUN"),
				NULL, "open", probe(), "getppid", "wait", NULL };
	char dir[] = "/tmp/sysgate-learned.XXXXXX", extra[512];
	sgd_proc_t s;
	child_t f;
	run_result_t r;
	json_object *log;
	char line[128];
	int started = -1, refused = -1, status;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(extra, sizeof(extra),
		 TENANT_CONFIG "learn_dir = \"%s\";\n"
			       "tenants = { learn_targets = 4; learn_files = 2; };", dir);
	sgd_start_entries(&s, extra, 1, open_names, open_srcs, entries);
	open_socket(&s);
	flood[5] = s.socket;
	spawn(&f, flood);
	read_line(f.out, line, sizeof(line));
	assert_int_equal(sscanf(line, "flood started %d refused %d", &started, &refused), 2);
	assert_int_equal(started, 4);
	assert_int_equal(refused, 0);
	close(f.in);
	close(f.out);
	assert_int_equal(waitpid(f.pid, &status, 0), f.pid);
	assert_true(log_wait(&s, "learned", 2));
	assert_true(log_wait(&s, "error", 2));
	assert_int_equal(count_files(dir), 2);

	run_under_mode(&s, "open", "learn", argv, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "learned", 3));
	assert_int_equal(count_files(dir), 3);

	log = sgd_log(&s);
	assert_int_equal(errors_with(log, "tenants.learn_files"), 2);
	assert_int_equal(log_count(log, "learned", NULL, NULL), 3);
	json_object_put(log);
	sgd_stop(&s);
	snprintf(extra, sizeof(extra), "rm -rf '%s'", dir);
	assert_int_equal(system(extra), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_handshake_slots, sgd_teardown),
		cmocka_unit_test_teardown(test_refused_flood_budget, sgd_teardown),
		cmocka_unit_test_teardown(test_tenant_log_share, sgd_teardown),
		cmocka_unit_test_teardown(test_learn_files, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
