/*
 * Unit tests of the brokered open's path handling: the /proc/self
 * rewrite and the check that an opened /proc entry is not the
 * supervisor's own. The open itself is tested on the kernel
 * (tests/integration/test_broker.c).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "broker.h"

static void test_proc_self_rewrite(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(broker_proc_self("/proc/self/status", 12, 13, out, sizeof(out)), 1);
	assert_string_equal(out, "/proc/12/status");
	assert_int_equal(broker_proc_self("/proc/self", 12, 13, out, sizeof(out)), 1);
	assert_string_equal(out, "/proc/12");
	assert_int_equal(broker_proc_self("/proc/thread-self/fd", 12, 13, out, sizeof(out)), 1);
	assert_string_equal(out, "/proc/12/task/13/fd");
	/* Only the leading component, and only whole names. */
	assert_int_equal(broker_proc_self("/proc/selfish", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("/proc/12/status", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("/x/proc/self", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("proc/self", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("/proc/self/status", 123456, 1, out, 16), -ENAMETOOLONG);
}

static void test_names_pid(void **state)
{
	(void)state;
	assert_true(broker_names_pid("/proc/42/status", 42));
	assert_true(broker_names_pid("/proc/42", 42));
	assert_true(broker_names_pid("/proc/7/task/42/fd", 42));
	assert_false(broker_names_pid("/proc/420/status", 42));
	assert_false(broker_names_pid("/proc/142/status", 42));
	assert_false(broker_names_pid("/proc/meminfo", 42));
	assert_true(broker_names_pid("/proc/142/x/42", 42)); /* a later match counts */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_self_rewrite),
		cmocka_unit_test(test_names_pid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
