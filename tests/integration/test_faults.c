/*
 * Integration tests on the real kernel for bad memory: path pointers the
 * supervisor cannot read (HARDENING 15, 16). Each test starts its own
 * sysgated and runs badmem under sysgate-run; the tests assert what the
 * program saw and what the supervisor logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define POLICY(name, src) \
	static const char *const name##_names[] = { #name }; \
	static const char *const name##_srcs[] = { src }

#define START(s, name, extra) sgd_start(s, extra, 1, name##_names, name##_srcs)

static const char *badmem(void)
{
	return env_path("BADMEM");
}

static void assert_exited(const run_result_t *r, int code)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
		fail_msg("status 0x%x, want exit %d; stdout:\n%s\nstderr:\n%s", r->status, code, r->out,
			 r->err);
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int64_t int_field(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		fail_msg("no field '%s' in %s", key, o ? json_object_to_json_string(o) : "(null)");
	return json_object_get_int64(v);
}

/* --- unreadable paths ---------------------------------------------------- */

/* The pointer badmem passed for op and what the call returned, from its
 * line "OP 0xADDR: RESULT"; fails the test if the line is missing. */
static uint64_t badmem_line(const char *out, const char *op, char *result, size_t len)
{
	char prefix[32];
	const char *p;
	char *end;
	uint64_t addr;

	snprintf(prefix, sizeof(prefix), "%s 0x", op);
	p = strstr(out, prefix);
	if (!p || (p != out && p[-1] != '\n'))
		fail_msg("no '%s' line in:\n%s", op, out);
	addr = strtoull(p + strlen(op) + 1, &end, 16);
	if (strncmp(end, ": ", 2) != 0)
		fail_msg("malformed '%s' line in:\n%s", op, out);
	end += 2;
	snprintf(result, len, "%.*s", (int)strcspn(end, "\n"), end);
	return addr;
}

/* The event ev whose args[1] (openat's path pointer) is addr. */
static json_object *log_find_path_arg(json_object *log, const char *ev, uint64_t addr)
{
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i), *args;

		if (strcmp(str_field(o, "event"), ev) != 0 || !json_object_object_get_ex(o, "args", &args))
			continue;
		if ((uint64_t)json_object_get_uint64(json_object_array_get_idx(args, 1)) == addr)
			return o;
	}
	return NULL;
}

/*
 * The call at addr was denied with want by the supervisor itself: the log
 * has an error event naming the path argument, and the decision it sent
 * is deny with that errno; nothing ever allowed it.
 */
static void assert_fault_denied(json_object *log, uint64_t addr, const char *want)
{
	json_object *e = log_find_path_arg(log, "error", addr);
	json_object *d = log_find_path_arg(log, "decision", addr);

	if (!e || !d)
		fail_msg("no error and decision event for the call at %#" PRIx64, addr);
	assert_string_equal(str_field(e, "syscall"), "openat");
	assert_non_null(strstr(str_field(e, "message"), "cannot read path argument"));
	assert_string_equal(str_field(e, "verdict"), "deny");
	assert_string_equal(str_field(e, "errno"), want);
	assert_string_equal(str_field(d, "verdict"), "deny");
	assert_string_equal(str_field(d, "errno"), want);
	/* The fault's own deny, not the configured fallback. */
	assert_null(str_field(d, "fallback"));
	/* Nothing was read, so nothing is logged as the path. */
	assert_null(str_field(d, "path"));
}

POLICY(readpath, "return sysgate.policy { name = 'readpath', on = {\n"
		 "  openat = function(c)\n"
		 "    if c.path:sub(-12) == '/nonexistent' then return sysgate.deny('EACCES') end\n"
		 "    return sysgate.allow()\n"
		 "  end } }\n");

/* A path the supervisor cannot read is denied by the supervisor: EFAULT
 * for an unmapped pointer, ENAMETOOLONG for no NUL within PATH_MAX, each
 * with an error event that says which argument, and a deny decision. */
static void test_unreadable_path_denied(void **state)
{
	const char *argv[] = { badmem(), "unmapped", "long", NULL };
	char res[64];
	uint64_t unmapped, lng;
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, readpath, NULL);
	run_under(&s, "readpath", argv, &r);
	assert_exited(&r, 0);
	unmapped = badmem_line(r.out, "unmapped", res, sizeof(res));
	assert_string_equal(res, "EFAULT");
	lng = badmem_line(r.out, "long", res, sizeof(res));
	assert_string_equal(res, "ENAMETOOLONG");
	assert_true(log_wait(&s, "target_end", 1));

	log = sgd_log(&s);
	assert_fault_denied(log, unmapped, "EFAULT");
	assert_fault_denied(log, lng, "ENAMETOOLONG");
	assert_int_equal(log_count(log, "error", NULL, NULL), 2);
	assert_int_equal(int_field(log_find(log, "target_end", NULL, NULL), "errors"), 2);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(caught, "local caught = 0\n"
	       "return sysgate.policy { name = 'caught', on = {\n"
	       "  openat = function(c)\n"
	       "    local ok, path = pcall(function() return c.path end)\n"
	       "    if not ok then\n"
	       "      caught = caught + 1\n"
	       "      return sysgate.allow():log('caught: ' .. tostring(path))\n"
	       "    end\n"
	       "    if path == '/nonexistent' then\n"
	       "      return sysgate.deny('EACCES'):log('caught ' .. caught)\n"
	       "    end\n"
	       "    return sysgate.allow()\n"
	       "  end } }\n");

/* Fail closed: a handler that catches the read error with pcall and
 * returns allow still has its call denied. The last call shows that the
 * handler did catch both errors and went on to return. */
static void test_unreadable_path_pcall_still_denied(void **state)
{
	const char *argv[] = { badmem(), "unmapped", "long", "edge", "/nonexistent", NULL };
	char res[64];
	uint64_t unmapped, lng;
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, caught, NULL);
	run_under(&s, "caught", argv, &r);
	assert_exited(&r, 0);
	unmapped = badmem_line(r.out, "unmapped", res, sizeof(res));
	assert_string_equal(res, "EFAULT");
	lng = badmem_line(r.out, "long", res, sizeof(res));
	assert_string_equal(res, "ENAMETOOLONG");
	badmem_line(r.out, "edge", res, sizeof(res));
	assert_string_equal(res, "EACCES");
	assert_true(log_wait(&s, "target_end", 1));

	log = sgd_log(&s);
	assert_fault_denied(log, unmapped, "EFAULT");
	assert_fault_denied(log, lng, "ENAMETOOLONG");
	assert_non_null(log_find(log, "decision", "message", "caught 2"));
	assert_int_equal(log_count(log, "decision", "verdict", "allow"), 0);
	json_object_put(log);
	sgd_stop(&s);
}

/* A path whose NUL is the last byte before an unmapped page is read whole:
 * the supervisor reads page by page and stops at the NUL. Once short, and
 * once exactly PATH_MAX - 1 bytes filling its page, the longest path the
 * kernel takes. The handler's EACCES (the kernel would say ENOENT) shows
 * that it saw the path, and the log has it byte for byte. */
static void test_path_at_page_end_decoded(void **state)
{
	static char full[PATH_MAX];
	const char *argv[] = { badmem(), "edge", "/nonexistent", "edge", full, NULL };
	const char *tail = "nonexistent";
	char res[64], *out;
	uint64_t a, b;
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d;

	memset(full, '/', PATH_MAX - 1 - strlen(tail));
	strcpy(full + PATH_MAX - 1 - strlen(tail), tail);
	assert_int_equal(strlen(full), PATH_MAX - 1);

	START(&s, readpath, NULL);
	run_under(&s, "readpath", argv, &r);
	assert_exited(&r, 0);
	a = badmem_line(r.out, "edge", res, sizeof(res));
	assert_string_equal(res, "EACCES");
	assert_int_equal((a + strlen("/nonexistent") + 1) % 4096, 0);
	out = strstr(r.out, "edge 0x") + 1;
	b = badmem_line(out, "edge", res, sizeof(res));
	assert_string_equal(res, "EACCES");
	assert_int_equal(b % 4096, 0);
	assert_true(log_wait(&s, "target_end", 1));

	log = sgd_log(&s);
	d = log_find_path_arg(log, "decision", a);
	assert_non_null(d);
	assert_string_equal(str_field(d, "path"), "/nonexistent");
	d = log_find_path_arg(log, "decision", b);
	assert_non_null(d);
	assert_string_equal(str_field(d, "path"), full);
	assert_int_equal(log_count(log, "error", NULL, NULL), 0);
	json_object_put(log);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_unreadable_path_denied, sgd_teardown),
		cmocka_unit_test_teardown(test_unreadable_path_pcall_still_denied, sgd_teardown),
		cmocka_unit_test_teardown(test_path_at_page_end_decoded, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
