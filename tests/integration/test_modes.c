/*
 * Modes on the real kernel: audit (deny nothing, log what would have been
 * denied), learn (record a run, write a policy) and the per-target
 * override with sysgate-run --mode, which the config must allow.
 */
#include <errno.h>
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

/* A strict policy: mkdir denied by a handler, getppid emulated, the
 * `chroot` syscall killed in the kernel. */
#define STRICT_SRC \
	"return sysgate.policy { name = 'strict',\n" \
	"  kernel = { deny = { 'mknodat', errno = 'EACCES' } },\n" \
	"  on = {\n" \
	"    mkdir = sysgate.deny('EROFS'),\n" \
	"    getppid = sysgate.emulate(4242),\n" \
	"  } }\n"

static const char *const strict_names[] = { "strict" };
static const char *const strict_srcs[] = { STRICT_SRC };

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
