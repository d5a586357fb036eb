/*
 * Unit tests of verdicts: validation (HARDENING 10), translation into the
 * kernel's response, parsing of the configured fallback, and kind names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "verdict.h"

#define ID 0xdeadbeefcafef00dull

static verdict_t make(verdict_kind_t kind, int err, int64_t value)
{
	verdict_t v;

	memset(&v, 0, sizeof(v));
	v.kind = kind;
	v.err = err;
	v.value = value;
	return v;
}

/* Fills resp with garbage first so a field left unset shows. */
static struct seccomp_notif_resp to_resp(const verdict_t *v)
{
	struct seccomp_notif_resp r;

	memset(&r, 0xa5, sizeof(r));
	verdict_to_resp(v, ID, &r);
	assert_true(r.id == ID);
	return r;
}

/* ---------------------------------------------------- verdict_validate */

static void test_validate_deny_errno_bounds(void **state)
{
	verdict_t v;

	(void)state;
	v = make(VERDICT_DENY, 0, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
	v = make(VERDICT_DENY, 1, 0);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_DENY, 4095, 0);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_DENY, 4096, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
	v = make(VERDICT_DENY, -1, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
	v = make(VERDICT_DENY, -EPERM, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
	v = make(VERDICT_DENY, INT32_MIN, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
}

static void test_validate_kinds(void **state)
{
	verdict_t v;

	(void)state;
	v = make(VERDICT_ALLOW, 0, 0);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_KILL, 0, 0);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_EMULATE, 0, 0);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_EMULATE, 0, INT64_MIN);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_EMULATE, 0, INT64_MAX);
	assert_int_equal(verdict_validate(&v), 0);
	v = make(VERDICT_NONE, 0, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
	v = make((verdict_kind_t)99, 0, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
	v = make((verdict_kind_t)-1, 0, 0);
	assert_int_equal(verdict_validate(&v), -EINVAL);
}

/* ----------------------------------------------------- verdict_to_resp */

/* CONTINUE must carry val = error = 0, whatever else the verdict holds. */
static void test_resp_allow(void **state)
{
	verdict_t v = make(VERDICT_ALLOW, 13, 42);
	struct seccomp_notif_resp r = to_resp(&v);

	(void)state;
	assert_int_equal(r.flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
	assert_int_equal(r.val, 0);
	assert_int_equal(r.error, 0);
}

static void test_resp_deny(void **state)
{
	verdict_t v = make(VERDICT_DENY, EACCES, 42);
	struct seccomp_notif_resp r = to_resp(&v);

	(void)state;
	assert_int_equal(r.error, -EACCES);
	assert_int_equal(r.val, 0);
	assert_int_equal(r.flags, 0);
	v = make(VERDICT_DENY, 4095, 0);
	r = to_resp(&v);
	assert_int_equal(r.error, -4095);
}

static void test_resp_emulate(void **state)
{
	verdict_t v = make(VERDICT_EMULATE, 0, 42);
	struct seccomp_notif_resp r = to_resp(&v);

	(void)state;
	assert_true(r.val == 42);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.flags, 0);
	v = make(VERDICT_EMULATE, 0, 0);
	r = to_resp(&v);
	assert_true(r.val == 0);
	assert_int_equal(r.error, 0);
	v = make(VERDICT_EMULATE, 0, INT64_MAX);
	r = to_resp(&v);
	assert_true(r.val == INT64_MAX);
	assert_int_equal(r.error, 0);
}

/* The caller signals the process; meanwhile the call fails. */
static void test_resp_kill(void **state)
{
	verdict_t v = make(VERDICT_KILL, 0, 42);
	struct seccomp_notif_resp r = to_resp(&v);

	(void)state;
	assert_int_equal(r.error, -EPERM);
	assert_int_equal(r.val, 0);
	assert_int_equal(r.flags, 0);
}

/* Anything invalid becomes deny EPERM, never a CONTINUE. */
static void test_resp_invalid(void **state)
{
	const verdict_t bad[] = {
		make(VERDICT_NONE, 0, 0),
		make(VERDICT_DENY, 0, 0),
		make(VERDICT_DENY, 4096, 0),
		make(VERDICT_DENY, -13, 0),
		make((verdict_kind_t)99, 0, 7),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seccomp_notif_resp r = to_resp(&bad[i]);

		assert_int_equal(r.error, -EPERM);
		assert_int_equal(r.val, 0);
		assert_int_equal(r.flags, 0);
	}
}

static void test_resp_id_copied(void **state)
{
	verdict_t v = make(VERDICT_ALLOW, 0, 0);
	struct seccomp_notif_resp r;

	(void)state;
	verdict_to_resp(&v, 0, &r);
	assert_true(r.id == 0);
	verdict_to_resp(&v, UINT64_MAX, &r);
	assert_true(r.id == UINT64_MAX);
	v = make(VERDICT_NONE, 0, 0);
	verdict_to_resp(&v, 12345, &r);
	assert_true(r.id == 12345);
}

/* ------------------------------------------------------- verdict_parse */

static void expect_parse(const char *text, verdict_kind_t kind, int err)
{
	verdict_t v;

	memset(&v, 0x5a, sizeof(v));
	assert_int_equal(verdict_parse(text, &v), 0);
	assert_int_equal(v.kind, kind);
	assert_int_equal(v.err, err);
	assert_true(v.value == 0);
	assert_false(v.log);
	assert_string_equal(v.message, "");
	assert_int_equal(verdict_validate(&v), 0);
}

static void test_parse_accepted(void **state)
{
	(void)state;
	expect_parse("allow", VERDICT_ALLOW, 0);
	expect_parse("kill", VERDICT_KILL, 0);
	expect_parse("deny", VERDICT_DENY, EPERM);
	expect_parse("deny:EPERM", VERDICT_DENY, EPERM);
	expect_parse("deny:EACCES", VERDICT_DENY, EACCES);
	expect_parse("deny:ENOSYS", VERDICT_DENY, ENOSYS);
	expect_parse("deny:E2BIG", VERDICT_DENY, E2BIG);
	expect_parse("deny:ECONNREFUSED", VERDICT_DENY, ECONNREFUSED);
}

static void test_parse_refused(void **state)
{
	static const char *const bad[] = {
		"", "Allow", "ALLOW", "allow ", " allow", "allow:EPERM", "allowed",
		"Deny", "deny ", "deny:", "deny: EPERM", "deny:eperm", "deny:EFOO",
		"deny:13", "deny:-1", "deny:EPERM:x", "deny:EPERM ", "denyEPERM", "deny;EPERM",
		"kill:9", "KILL", "killall", "emulate", "emulate:0", "log", "none",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		verdict_t v;

		memset(&v, 0x5a, sizeof(v));
		if (verdict_parse(bad[i], &v) != -EINVAL)
			print_error("'%s' was accepted\n", bad[i]);
		assert_int_equal(verdict_parse(bad[i], &v), -EINVAL);
		/* A refused text leaves no half-made verdict behind. */
		assert_int_equal(verdict_validate(&v), -EINVAL);
	}
}

/* --------------------------------------------------- verdict_kind_name */

static void test_kind_name(void **state)
{
	(void)state;
	assert_string_equal(verdict_kind_name(VERDICT_ALLOW), "allow");
	assert_string_equal(verdict_kind_name(VERDICT_DENY), "deny");
	assert_string_equal(verdict_kind_name(VERDICT_EMULATE), "emulate");
	assert_string_equal(verdict_kind_name(VERDICT_KILL), "kill");
	assert_string_equal(verdict_kind_name(VERDICT_NONE), "none");
	assert_string_equal(verdict_kind_name((verdict_kind_t)99), "none");
}

/* The names parse back into the same kind where they are parseable. */
static void test_kind_name_round_trip(void **state)
{
	const verdict_kind_t kinds[] = { VERDICT_ALLOW, VERDICT_DENY, VERDICT_KILL };

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		verdict_t v;

		assert_int_equal(verdict_parse(verdict_kind_name(kinds[i]), &v), 0);
		assert_int_equal(v.kind, kinds[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_deny_errno_bounds),
		cmocka_unit_test(test_validate_kinds),
		cmocka_unit_test(test_resp_allow),
		cmocka_unit_test(test_resp_deny),
		cmocka_unit_test(test_resp_emulate),
		cmocka_unit_test(test_resp_kill),
		cmocka_unit_test(test_resp_invalid),
		cmocka_unit_test(test_resp_id_copied),
		cmocka_unit_test(test_parse_accepted),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_kind_name),
		cmocka_unit_test(test_kind_name_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
