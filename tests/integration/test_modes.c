/*
 * Modes on the real kernel: audit (deny nothing, log what would have been
 * denied), learn (record a run, write a policy) and the per-target
 * override with sysgate-run --mode, which the config must allow.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
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

/* A strict policy: mkdir denied and getppid emulated by handlers, an
 * open of /etc/hostname killed by one; kill(2) denied and getpid killed
 * in the kernel. */
#define STRICT_SRC \
	"return sysgate.policy { name = 'strict',\n" \
	"  kernel = { deny = { 'kill', errno = 'EACCES' }, kill = { 'getpid' } },\n" \
	"  on = {\n" \
	"    mkdir = sysgate.deny('EROFS'),\n" \
	"    getppid = sysgate.emulate(4242),\n" \
	"    openat = function(c)\n" \
	"      if c.path == '/etc/hostname' then return sysgate.kill() end\n" \
	"      return sysgate.allow()\n" \
	"    end,\n" \
	"  } }\n"
/* Audit mode as the policy's own, over a default that kills. */
#define AUDITED_SRC \
	"return sysgate.policy { name = 'audited', mode = 'audit', default = 'kill',\n" \
	"  on = { getppid = sysgate.allow() } }\n"

static const char *const strict_names[] = { "strict" };
static const char *const strict_srcs[] = { STRICT_SRC };
static const char *const audit_names[] = { "strict", "audited" };
static const char *const audit_srcs[] = { STRICT_SRC, AUDITED_SRC };
static const char *const audit_entries[] = { "modes = [ \"audit\" ];", NULL };

static json_object *find_would(json_object *log, const char *syscall)
{
	json_object *ev = log_find(log, "would_deny", "syscall", syscall);

	if (!ev)
		fail_msg("no would_deny for %s in the log", syscall);
	assert_string_equal(str_field(ev, "sent"), "allow");
	return ev;
}

/* A program the strict policy breaks (a denied mkdir, an emulated
 * getppid, a kernel-denied kill, a kernel-killed getpid, a handler's
 * kill) completes in audit mode, and the log has a would_deny with the
 * verdict enforce mode gave for each, and no denial. */
static void test_audit(void **state)
{
	char dir[] = "/tmp/sysgate-modes.XXXXXX", sub[64], line[128];
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *ev;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/made", dir);
	const char *argv[] = { probe(), "mkdir", sub, "getppid", "open", "/etc/hostname", "sigcont",
			       "exit", "7", NULL };
	sgd_start_entries(&s, NULL, 2, audit_names, audit_srcs, audit_entries);

	/* Enforced, it is broken at every step and killed at the last. */
	run_under(&s, "strict", argv, &r);
	assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
	snprintf(line, sizeof(line), "mkdir %s: EROFS", sub);
	assert_contains(r.out, line);
	assert_contains(r.out, "getppid: ok 4242");
	assert_null(strstr(r.out, "open /etc/hostname"));

	run_under_mode(&s, "strict", "audit", argv, &r);
	assert_exited(&r, 7);
	snprintf(line, sizeof(line), "mkdir %s: ok 0", sub);
	assert_contains(r.out, line);
	assert_null(strstr(r.out, "getppid: ok 4242"));
	assert_contains(r.out, "open /etc/hostname: ok");
	assert_contains(r.out, "sigcont: ok 0");
	assert_true(log_wait(&s, "target_end", 2));

	log = sgd_log(&s);
	ev = log_find(log, "target_start", "mode", "audit");
	assert_non_null(ev);
	ev = find_would(log, "mkdir");
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "errno"), "EROFS");
	ev = find_would(log, "getppid");
	assert_string_equal(str_field(ev, "verdict"), "emulate");
	assert_string_equal(str_field(ev, "value"), "4242");
	ev = find_would(log, "openat");
	assert_string_equal(str_field(ev, "verdict"), "kill");
	assert_string_equal(str_field(ev, "path"), "/etc/hostname");
	ev = find_would(log, "kill");
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "errno"), "EACCES");
	assert_string_equal(str_field(ev, "reason"), "kernel.deny");
	ev = find_would(log, "getpid");
	assert_string_equal(str_field(ev, "verdict"), "kill");
	assert_string_equal(str_field(ev, "reason"), "kernel.kill");
	assert_int_equal(log_count(log, "would_deny", NULL, NULL), 5);
	/* The enforced run's own decisions are all there is: 3 by handlers. */
	assert_int_equal(log_count(log, "decision", NULL, NULL), 3);
	ev = log_find(log, "target_end", "exit_status", "7");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "denied"), "0");
	assert_string_equal(str_field(ev, "would_deny"), "5");
	json_object_put(log);

	/* A policy whose own mode is audit, over default = "kill": every
	 * call it does not name would kill, and none does. */
	run_under(&s, "audited", argv, &r);
	assert_exited(&r, 7);
	assert_contains(r.out, "sigcont: ok 0");
	assert_true(log_wait(&s, "target_end", 3));
	log = sgd_log(&s);
	ev = log_find(log, "would_deny", "policy", "audited");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "verdict"), "kill");
	assert_string_equal(str_field(ev, "reason"), "default");
	json_object_put(log);
	sgd_stop(&s);
	snprintf(line, sizeof(line), "rm -rf '%s'", dir);
	assert_int_equal(system(line), 0);
}

/* --mode is the config's to allow, per policy: without `modes` only the
 * policy's own mode is accepted, and a refused mode never runs the
 * command (125, nothing executed). */
static void test_mode_override_refused(void **state)
{
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *ev;
	const char *argv[] = { probe(), "getppid", NULL };

	(void)state;
	sgd_start_entries(&s, NULL, 1, strict_names, strict_srcs, NULL);
	run_under_mode(&s, "strict", "audit", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "mode 'audit' is not allowed for policy 'strict'");
	assert_null(strstr(r.out, "getppid"));
	run_under_mode(&s, "strict", "learn", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "mode 'learn' is not allowed");
	/* Asking for the policy's own mode needs no permission. */
	run_under_mode(&s, "strict", "enforce", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok 4242");
	/* sysgate-run checks the name itself. */
	run_under_mode(&s, "strict", "permissive", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "invalid mode");

	log = sgd_log(&s);
	assert_int_equal(log_count(log, "handshake_refused", "policy", "strict"), 2);
	ev = log_find(log, "target_start", "policy", "strict");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "mode"), "enforce");
	json_object_put(log);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mode_override_refused, sgd_teardown),
		cmocka_unit_test_teardown(test_audit, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
