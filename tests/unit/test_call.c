/*
 * Unit tests of the argument decoders' bounds (supervisor/call.c) with a
 * fake memory reader: what execve's argv and envp decode to when a program
 * passes more, or longer, strings than the bounds hold.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "call.h"

#define VEC 0x10000ull  /* where the pointer array lies */
#define STR 0x900000ull /* where the one string lies */

/* A target whose argv is n pointers to one string of slen bytes. */
typedef struct fake {
	unsigned n;
	size_t slen;
	bool fill_on_too_long; /* as the real reader does; or leave buf alone */
} fake_t;

static int fake_read_mem(void *ctx, const call_t *c, uint64_t addr, void *buf, size_t len)
{
	const fake_t *f = ctx;
	uint64_t *p = buf;

	(void)c;
	if (addr < VEC || (addr - VEC) % 8 || len % 8)
		return -EFAULT;
	for (size_t i = 0; i < len / 8; i++)
		p[i] = (addr - VEC) / 8 + i < f->n ? STR : 0;
	return 0;
}

static ssize_t fake_read_str(void *ctx, const call_t *c, uint64_t addr, char *buf, size_t cap)
{
	const fake_t *f = ctx;

	(void)c;
	if (addr != STR)
		return -EFAULT;
	if (f->slen >= cap) {
		if (f->fill_on_too_long) {
			memset(buf, 'a', cap - 1);
			buf[cap - 1] = '\0';
		}
		return -ENAMETOOLONG;
	}
	memset(buf, 'a', f->slen);
	buf[f->slen] = '\0';
	return (ssize_t)f->slen;
}

static call_t *make_call(fake_t *f)
{
	static call_t c;

	memset(&c, 0, sizeof(c));
	c.nr = SYS_execve;
	c.pid = 100;
	c.args[1] = VEC;
	c.read_mem = fake_read_mem;
	c.read_str = fake_read_str;
	c.read_ctx = f;
	return &c;
}

/* Every decoded entry lies inside the buffer and its length is that of
 * the bytes there. */
static void assert_consistent(const call_strv_t *v)
{
	assert_true(v->count <= CALL_ARGV_MAX);
	for (unsigned i = 0; i < v->count; i++) {
		assert_true((size_t)v->off[i] + v->len[i] < sizeof(v->buf));
		assert_int_equal(strlen(v->buf + v->off[i]), v->len[i]);
		assert_true(v->len[i] < CALL_ARG_BYTES);
	}
}

/* 256 pointers to one 1,000-byte string: more bytes in all than the
 * total bound. The entries that fit are whole, the one at the bound is
 * cut short, and the vector says it was truncated. */
static void test_argv_total_bound(void **state)
{
	fake_t f = { .n = CALL_ARGV_MAX, .slen = 1000, .fill_on_too_long = true };
	call_t *c = make_call(&f);
	unsigned whole = CALL_ARGV_BYTES / 1001;

	(void)state;
	assert_int_equal(call_strv(c, false), 0);
	assert_consistent(&c->argv);
	assert_true(c->argv.truncated);
	assert_int_equal(c->argv.count, whole + 1);
	for (unsigned i = 0; i < whole; i++)
		assert_int_equal(c->argv.len[i], 1000);
	assert_int_equal(c->argv.len[whole], CALL_ARGV_BYTES - whole * 1001 - 1);
}

/* A reader that reports a string too long without filling buf (the
 * buffer still holds an earlier call's bytes): the entry's length is
 * that of what is in the buffer, never a length its bytes do not have. */
static void test_argv_too_long_reader_leaves_buf(void **state)
{
	fake_t f = { .n = CALL_ARGV_MAX, .slen = 1000, .fill_on_too_long = false };
	call_t *c = make_call(&f);

	(void)state;
	memset(c->argv.buf, 0, sizeof(c->argv.buf));
	memset(c->argv.buf + CALL_ARGV_BYTES - 100, 'x', 50);
	assert_int_equal(call_strv(c, false), 0);
	assert_consistent(&c->argv);
	assert_true(c->argv.truncated);
}

/* One string longer than the bound of one entry: cut to CALL_ARG_BYTES
 * - 1 bytes, and the vector says it was truncated. */
static void test_argv_one_too_long(void **state)
{
	fake_t f = { .n = 1, .slen = 10 * CALL_ARG_BYTES, .fill_on_too_long = true };
	call_t *c = make_call(&f);

	(void)state;
	assert_int_equal(call_strv(c, false), 0);
	assert_consistent(&c->argv);
	assert_true(c->argv.truncated);
	assert_int_equal(c->argv.count, 1);
	assert_int_equal(c->argv.len[0], CALL_ARG_BYTES - 1);
}

/* More pointers than the count bound: CALL_ARGV_MAX entries, truncated. */
static void test_argv_count_bound(void **state)
{
	fake_t f = { .n = 10 * CALL_ARGV_MAX, .slen = 3, .fill_on_too_long = true };
	call_t *c = make_call(&f);

	(void)state;
	assert_int_equal(call_strv(c, false), 0);
	assert_consistent(&c->argv);
	assert_true(c->argv.truncated);
	assert_int_equal(c->argv.count, CALL_ARGV_MAX);
}

static ssize_t dir_read_str(void *ctx, const call_t *c, uint64_t addr, char *buf, size_t cap)
{
	(void)ctx;
	(void)c;
	(void)addr;
	return snprintf(buf, cap, "../b/./x");
}

static ssize_t dir_read_link(void *ctx, const call_t *c, const char *what, char *buf, size_t cap)
{
	(void)ctx;
	(void)c;
	assert_string_equal(what, "cwd");
	return snprintf(buf, cap, "/srv/a");
}

/* call_abspath_from: the brokered open's directory is compared with the
 * one c.abspath was made from, by the path it makes of the call's path;
 * an absolute path has no directory to compare. */
static void test_abspath_from(void **state)
{
	static call_t c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.nr = SYS_open;
	c.pid = 100;
	c.args[0] = STR;
	c.read_str = dir_read_str;
	c.read_link = dir_read_link;
	assert_int_equal(call_abspath(&c, false), 0);
	assert_string_equal(c.abspath[0], "/srv/b/x");
	assert_true(call_abspath_from(c.abspath[0], c.path, c.path_len, "/srv/a", false));
	/* ".." makes the same name of it from a sibling */
	assert_true(call_abspath_from(c.abspath[0], c.path, c.path_len, "/srv/c", false));
	assert_false(call_abspath_from(c.abspath[0], c.path, c.path_len, "/etc", false));
	assert_false(call_abspath_from(c.abspath[0], c.path, c.path_len, "/srv/a/b", false));
	/* An absolute path was joined to no directory. */
	assert_true(call_abspath_from("/etc/x", "/etc/x", 6, "/srv/a", false));
	/* In a root (RESOLVE_IN_ROOT) the directory counts, also for an
	 * absolute path, and ".." stops at it. */
	assert_true(call_abspath_from("/srv/a/etc/x", "/etc/x", 6, "/srv/a", true));
	assert_false(call_abspath_from("/srv/a/etc/x", "/etc/x", 6, "/srv/b", true));
	assert_true(call_abspath_from("/srv/a/x", "../../x", 7, "/srv/a", true));
	assert_false(call_abspath_from("/srv/a/x", "../../x", 7, "/srv/a/b/c", true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_total_bound),
		cmocka_unit_test(test_argv_too_long_reader_leaves_buf),
		cmocka_unit_test(test_argv_one_too_long),
		cmocka_unit_test(test_argv_count_bound),
		cmocka_unit_test(test_abspath_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
