/*
 * Tenants: one launcher cannot break or blind another. A hostile tenant
 * is an allowed launcher that is not root (uid 1000 here, run by the
 * tenant_flood program); it starts as many targets as it can, with every
 * label at its longest, and root's targets must not notice: root's
 * launches are admitted, root's handlers decide (no fallback, no budget
 * error), and what the flood gets is exactly its quota, refused with the
 * reason in the log.
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

/* The tenant may connect: its uid is allowed, and the socket's group is
 * its own (flood_start); the test's directory is root's 0700. */
#define TENANT_CONFIG "allow_uids = [ 0, 1000 ];\nsocket_mode = \"0660\";\n"

typedef struct flood {
	pid_t pid;
	int in, out;
	int started, refused;
} flood_t;

/* Starts tenant_flood as uid TENANT with n targets of policy in mode
 * ("-": the policy's own) and waits for its count. */
static void flood_start(flood_t *f, const sgd_proc_t *s, const char *policy, int n,
			const char *mode)
{
	char num[16], line[128];
	int in[2], out[2];

	snprintf(num, sizeof(num), "%d", n);
	assert_int_equal(chmod(s->dir, 0711), 0);
	assert_int_equal(chown(s->socket, (uid_t)-1, TENANT), 0);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(env_path("TENANT_FLOOD"), "tenant_flood", "1000", num, mode,
		      env_path("SYSGATE_RUN"), s->socket, policy, probe(), "getppid", "wait",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->in = in[1];
	f->out = out[0];
	read_line(f->out, line, sizeof(line));
	if (sscanf(line, "flood started %d refused %d", &f->started, &f->refused) != 2)
		fail_msg("tenant_flood said: '%s'", line);
}

/* Lets the flood's targets go and waits for it. */
static void flood_stop(flood_t *f)
{
	int status;

	close(f->in);
	close(f->out);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Events that show a handler did not decide: a fallback decision, or an
 * error event (a budget exhausted). */
static size_t undecided(json_object *log)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i), *fb;
		const char *ev = str_field(e, "event");

		if (ev && strcmp(ev, "decision") == 0 && json_object_object_get_ex(e, "fallback", &fb))
			n++;
		if (ev && strcmp(ev, "error") == 0) {
			fprintf(stderr, "error event: %s\n", json_object_to_json_string(e));
			n++;
		}
	}
	return n;
}

/* The handler allocates, and reads the target's labels, on every call. */
POLICY(shared, "local sg = sysgate\n"
	       "return sg.policy { on = {\n"
	       "  getppid = function(c)\n"
	       "    local s = string.rep('x', 2000) .. tostring(c.target.labels.k00 or '')\n"
	       "    if #s < 2000 then return sg.deny('EINVAL') end\n"
	       "    return sg.allow()\n"
	       "  end,\n"
	       "} }\n");

/*
 * A tenant starts more targets than its quota: it gets its quota, each
 * one past it is refused with the reason, and root's launch still runs.
 */
static void test_target_quota(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	sgd_proc_t s;
	flood_t f;
	run_result_t r;
	json_object *log;

	(void)state;
	START(&s, shared, TENANT_CONFIG "tenants = { targets = 8; };");
	flood_start(&f, &s, "shared", 12, "-");
	assert_int_equal(f.started, 8);
	assert_int_equal(f.refused, 4);
	run_under(&s, "shared", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");
	flood_stop(&f);
	log = sgd_log(&s);
	assert_int_equal(log_refusals(log, TENANT, "tenants.targets"), 4);
	assert_int_equal(log_refusals(log, 0, ""), 0);
	json_object_put(log);
	sgd_stop(&s);
}

/*
 * The policy's Lua state is shared by every tenant of the policy: a
 * hundred targets with every label at its longest (~11 KB each) used to
 * fill a 512 KiB state, so that root's running target got the fallback and
 * root's new launch was refused. Targets live outside the state now.
 */
static void test_lua_memory(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	const char *held[] = { probe(), "getppid", "wait", "getppid", NULL };
	sgd_proc_t s;
	flood_t f;
	run_result_t r;
	json_object *log;
	char line[256];
	int in, out, status;
	pid_t root;

	(void)state;
	START(&s, shared,
	      TENANT_CONFIG "tenants = { targets = 100; };\n"
			    "lua = { memory = 131072; memory_total = 524288; };");
	root = run_under_async(&s, "shared", held, &in, &out);
	read_line(out, line, sizeof(line));
	assert_non_null(strstr(line, "getppid: ok"));

	flood_start(&f, &s, "shared", 110, "-");

	/* Root's running target decides, and root's new launch runs. */
	assert_int_equal(write(in, "\n", 1), 1);
	read_line(out, line, sizeof(line));
	assert_non_null(strstr(line, "getppid: ok"));
	close(in);
	close(out);
	assert_int_equal(waitpid(root, &status, 0), root);
	run_under(&s, "shared", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");
	flood_stop(&f);
	assert_int_equal(f.started, 100);
	assert_int_equal(f.refused, 10);

	log = sgd_log(&s);
	assert_int_equal(undecided(log), 0);
	assert_int_equal(log_refusals(log, 0, ""), 0);
	assert_int_equal(log_refusals(log, TENANT, "tenants.targets"), 10);
	json_object_put(log);
	sgd_stop(&s);
}

/*
 * Learn mode keeps a record per target in sysgated and writes a file as
 * each ends: a tenant may run learn_targets of them at once, and write
 * learn_bytes; what is over is refused (the launch) or not written (the
 * file), with the reason in the log. Root's learn run is written.
 */
static void test_learn_quota(void **state)
{
	static const char *const entries[] = { "modes = [ \"learn\" ];" };
	const char *argv[] = { probe(), "getppid", NULL };
	char dir[] = "/tmp/sysgate-learned.XXXXXX", extra[512];
	sgd_proc_t s;
	flood_t f;
	run_result_t r;
	json_object *log;
	size_t errors = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(extra, sizeof(extra),
		 TENANT_CONFIG "learn_dir = \"%s\";\n"
			       "tenants = { learn_targets = 2; learn_bytes = 100; };", dir);
	sgd_start_entries(&s, extra, 1, shared_names, shared_srcs, entries);
	flood_start(&f, &s, "shared", 4, "learn");
	assert_int_equal(f.started, 2);
	assert_int_equal(f.refused, 2);
	flood_stop(&f);
	assert_true(log_wait(&s, "target_end", 2));
	assert_int_equal(count_files(dir), 0);

	run_under_mode(&s, "shared", "learn", argv, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "learned", 1));
	assert_int_equal(count_files(dir), 1);

	log = sgd_log(&s);
	assert_int_equal(log_refusals(log, TENANT, "tenants.learn_targets"), 2);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event"), *msg = str_field(e, "message");

		errors += ev && strcmp(ev, "error") == 0 && msg && strstr(msg, "tenants.learn_bytes");
	}
	assert_int_equal(errors, 2);
	json_object_put(log);
	sgd_stop(&s);
	snprintf(extra, sizeof(extra), "rm -rf '%s'", dir);
	assert_int_equal(system(extra), 0);
}

/* A rate limit whose buckets, once taken, stay busy for the test's
 * whole run (one token per 100 s), in a table of 8 keys. */
POLICY(limited, "local sg = sysgate\n"
		"return sg.policy { on = {\n"
		"  getppid = sg.limit{ rate = 0.01, burst = 1, per = \"process\", keys = 8 },\n"
		"} }\n");

/* Decisions of limited calls (over the limit). */
static size_t overs(json_object *log)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i), *v;
		const char *ev = str_field(e, "event");

		n += ev && strcmp(ev, "decision") == 0 &&
		     json_object_object_get_ex(e, "limited", &v) && json_object_get_boolean(v);
	}
	return n;
}

/*
 * A limit's table of keys fails closed when full of busy buckets. The
 * tenant's twelve processes fill its eight keys (four of them are over),
 * and root's new process still gets a bucket of its own: root's keys are
 * in a table no other launcher uses.
 */
static void test_limit_tables(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	sgd_proc_t s;
	flood_t f;
	run_result_t r;
	json_object *log;

	(void)state;
	START(&s, limited, TENANT_CONFIG);
	flood_start(&f, &s, "limited", 12, "-");
	assert_int_equal(f.started, 12);
	run_under(&s, "limited", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");
	flood_stop(&f);
	log = sgd_log(&s);
	assert_int_equal(overs(log), 4);
	json_object_put(log);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_target_quota, sgd_teardown),
		cmocka_unit_test_teardown(test_lua_memory, sgd_teardown),
		cmocka_unit_test_teardown(test_learn_quota, sgd_teardown),
		cmocka_unit_test_teardown(test_limit_tables, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
