/*
 * The target is the process that owns the listener (docs/security.md,
 * "Tenants"). A launcher connects and hands over a listener that another
 * process loaded and passed to it over SCM_RIGHTS, and that other process
 * makes the proof call itself (hand_other): sysgated refuses the target,
 * says why in the log, and sysgate-run's ordinary launch still works.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define MARK "/nonexistent/sysgate-ident-mark"

POLICY(ident, "local function mk(c)\n"
	      "  if c.path == '" MARK "' then return sysgate.deny('EPERM') end\n"
	      "  return sysgate.allow()\n"
	      "end\n"
	      "return sysgate.policy { name = 'ident', on = { mkdir = mk, mkdirat = mk } }\n");

#define NOT_OWN "the listener handed over is not the launcher's"

static void test_listener_of_another_process(void **state)
{
	const char *probe_argv[] = { probe(), "mkdir", MARK, NULL };
	const char *argv[] = { env_path("HAND_OTHER"), NULL, "ident", NULL };
	char cmd[1024];
	run_result_t r;
	json_object *log, *ev;
	FILE *p;
	char out[1024] = "";

	(void)state;
	sgd_proc_t s;
	START(&s, ident, NULL);
	argv[1] = s.socket;
	snprintf(cmd, sizeof(cmd), "%s %s %s", argv[0], argv[1], argv[2]);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	assert_contains(out, "refused: " NOT_OWN);
	assert_true(log_wait(&s, "handshake_refused", 1));
	log = sgd_log(&s);
	ev = log_find(log, "handshake_refused", NULL, NULL);
	assert_non_null(ev);
	assert_contains(json_object_to_json_string(ev), NOT_OWN);
	assert_null(log_find(log, "target_start", NULL, NULL));
	json_object_put(log);
	/* The ordinary launch: the proof comes from the target itself. */
	run_under(&s, "ident", probe_argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "mkdir " MARK ": EPERM");
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_listener_of_another_process, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
