/*
 * Unit tests of the token bucket, on a clock driven by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tokens.h"

#define SEC 1000000000ull

static int take_n(tokens_t *b, uint64_t now, int n)
{
	int got = 0;

	for (int i = 0; i < n; i++)
		got += tokens_take(b, now);
	return got;
}

/* A full bucket gives exactly its burst, then rate per second. */
static void test_burst_then_rate(void **state)
{
	tokens_t b;

	(void)state;
	tokens_init(&b, 10, 20, 5 * SEC);
	assert_int_equal(take_n(&b, 5 * SEC, 100), 20);
	assert_int_equal(take_n(&b, 5 * SEC + SEC / 2, 100), 5);
	assert_int_equal(take_n(&b, 7 * SEC + SEC / 2, 100), 20); /* capped at burst */
	assert_int_equal(tokens_wait_ns(&b, 7 * SEC + SEC / 2), SEC / 10 + 1);
	assert_int_equal(take_n(&b, 7 * SEC + SEC / 2 + SEC / 10, 100), 1);
}

/* A clock that goes back adds nothing; fractions add up. */
static void test_clock(void **state)
{
	tokens_t b;

	(void)state;
	tokens_init(&b, 3, 1, 10 * SEC);
	assert_true(tokens_take(&b, 10 * SEC));
	assert_false(tokens_take(&b, 9 * SEC));
	assert_false(tokens_take(&b, 10 * SEC + SEC / 4));
	assert_true(tokens_take(&b, 10 * SEC + SEC / 3 + 1));
	assert_int_equal(tokens_wait_ns(&b, 10 * SEC + SEC / 3 + 1) > 0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
