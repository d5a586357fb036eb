/*
 * Integration tests on the real kernel for bad memory and dying targets:
 * path pointers the supervisor cannot read (HARDENING 15, 16), and targets
 * SIGKILLed while a handler decides their parked call (HARDENING 27). Each
 * test starts its own sysgated and runs badmem or probe under sysgate-run;
 * the tests assert what the program saw, what the supervisor logged, and
 * what it still holds (fds, memory) afterwards.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static const char *badmem(void)
{
	return env_path("BADMEM");
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

/* --- targets killed while parked ----------------------------------------- */

/* The handler spins for PARK_MS of CPU time on the call to /sysgate-park,
 * with a budget that lets it; the test kills the caller meanwhile. */
#define PARK_MS 300
#define PARK_PATH "/sysgate-park"
#define PARK_CONFIG "lua = { time_ms = 3000; instructions = 2000000000; };"
#define STR_(x) #x
#define STR(x) STR_(x)

POLICY(slow, "local function spin(ms)\n"
	     "  local t = os.clock()\n"
	     "  while (os.clock() - t) * 1000 < ms do end\n"
	     "end\n"
	     "return sysgate.policy { name = 'slow', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.path == '" PARK_PATH "' then\n"
	     "      spin(" STR(PARK_MS) ")\n"
	     "      return sysgate.allow():log('parked')\n"
	     "    end\n"
	     "    return sysgate.allow()\n"
	     "  end } }\n");

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The log's "time" ("2026-11-27T21:40:02.118004Z") in ns since the epoch. */
static int64_t log_time_ns(json_object *o)
{
	const char *s = str_field(o, "time");
	struct tm tm = { 0 };
	const char *frac;

	assert_non_null(s);
	frac = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(frac);
	assert_true(frac[0] == '.');
	return (int64_t)timegm(&tm) * 1000000000 + strtoll(frac + 1, NULL, 10) * 1000;
}

/* Whether pid is parked in an openat of PARK_PATH: blocked in the seccomp
 * notification (wchan), in syscall 257, with that path at its pointer. The
 * program's loader makes openat calls too; those are not the one. */
static bool parked(pid_t pid)
{
	char buf[256], path[64], mem[sizeof(PARK_PATH)];
	unsigned long long ptr;
	bool ok;
	int fd;

	if (!read_proc(pid, "wchan", buf, sizeof(buf)) || !strstr(buf, "seccomp"))
		return false;
	if (!read_proc(pid, "syscall", buf, sizeof(buf)) || sscanf(buf, "257 %*x %llx", &ptr) != 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, mem, sizeof(mem), (off_t)ptr) == (ssize_t)sizeof(mem) &&
	     memcmp(mem, PARK_PATH, sizeof(mem)) == 0;
	close(fd);
	return ok;
}

/*
 * Starts probe on PARK_PATH, waits until it is parked in that call, lets
 * the handler get well into it and SIGKILLs the probe. Returns the probe's
 * pid; *kill_ns is when it was killed (CLOCK_REALTIME, as the log).
 */
static pid_t kill_parked(const sgd_proc_t *s, int64_t *kill_ns)
{
	const char *argv[] = { probe(), "open", PARK_PATH, NULL };
	char out[256];
	int in_w, out_r, status, i;
	ssize_t n;
	pid_t pid;

	pid = run_under_async(s, "slow", argv, &in_w, &out_r);
	for (i = 0; i < 500 && !parked(pid); i++)
		sleep_ms(10);
	if (i == 500) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("the probe never parked in openat(%s)", PARK_PATH);
	}
	sleep_ms(PARK_MS / 3);
	*kill_ns = realtime_ns();
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("probe status 0x%x, want SIGKILL", status);
	/* It died in the call: it never printed its answer. */
	n = read(out_r, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	assert_string_equal(out, "");
	close(in_w);
	close(out_r);
	return pid;
}

/*
 * What the log says of the killed target pid: the supervisor had received
 * the parked call before the kill and decided it after (the kill landed
 * mid-decision), it logged the target's end with the SIGKILL, and no error
 * (an answer to a call that is gone is not one).
 */
static void assert_killed_mid_decision(const sgd_proc_t *s, pid_t pid, int64_t kill_ns, size_t ends)
{
	char spid[16], sid[24];
	json_object *log, *start, *d = NULL, *end;
	int64_t decided, received;

	assert_true(log_wait(s, "target_end", ends));
	log = sgd_log(s);
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	start = log_find(log, "target_start", "pid", spid);
	assert_non_null(start);
	snprintf(sid, sizeof(sid), "%s", str_field(start, "target"));
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i);

		if (strcmp(str_field(o, "event"), "decision") == 0 &&
		    strcmp(str_field(o, "target"), sid) == 0 && str_field(o, "path") &&
		    strcmp(str_field(o, "path"), PARK_PATH) == 0)
			d = o;
	}
	assert_non_null(d);
	decided = log_time_ns(d);
	received = decided - int_field(d, "latency_ns");
	if (!(received < kill_ns && kill_ns < decided))
		fail_msg("kill at %" PRId64 " not between receive %" PRId64 " and decision %" PRId64,
			 kill_ns, received, decided);
	end = log_find(log, "target_end", "target", sid);
	assert_non_null(end);
	assert_string_equal(str_field(end, "reason"), "exited");
	assert_string_equal(str_field(end, "signal_name"), "KILL");
	assert_int_equal(int_field(end, "errors"), 0);
	assert_int_equal(log_count(log, "error", NULL, NULL), 0);
	json_object_put(log);
}

/* The supervisor is alive and a new target is served. */
static void assert_serves(const sgd_proc_t *s)
{
	const char *argv[] = { probe(), "open", "/etc/hostname", NULL };
	run_result_t r;

	assert_int_equal(waitpid(s->pid, NULL, WNOHANG), 0);
	run_under(s, "slow", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open /etc/hostname: ok");
}

/* Waits (up to 2 s) for sysgated's fd count to come back to want. */
static int fd_count_settled(pid_t pid, int want)
{
	int n = fd_count(pid);

	for (int i = 0; i < 200 && n != want; i++) {
		sleep_ms(10);
		n = fd_count(pid);
	}
	return n;
}

/* A target SIGKILLed while its call is parked and its handler runs
 * leaves no fd behind (listener, pidfd), its end is logged, and the
 * supervisor serves the next target; again and again, without growth. */
static void test_killed_while_parked_leaves_no_fd(void **state)
{
	sgd_proc_t s;
	int before;
	size_t ends = 0;

	START(&s, slow, PARK_CONFIG);
	before = fd_count(s.pid);
	assert_true(before > 0);
	for (int i = 0; i < 5; i++) {
		int64_t kill_ns;
		pid_t pid = kill_parked(&s, &kill_ns);

		assert_killed_mid_decision(&s, pid, kill_ns, ++ends);
		assert_int_equal(fd_count_settled(s.pid, before), before);
		assert_serves(&s);
		assert_true(log_wait(&s, "target_end", ++ends));
		assert_int_equal(fd_count_settled(s.pid, before), before);
	}
	sgd_stop(&s);
}

/* Resident anonymous memory of pid (heap and Lua states; not the page
 * cache of its binaries), in KiB. */
static long rss_anon_kb(pid_t pid)
{
	char buf[4096];
	const char *p;

	if (!read_proc(pid, "status", buf, sizeof(buf)) || !(p = strstr(buf, "\nRssAnon:")))
		fail_msg("no RssAnon in /proc/%d/status", (int)pid);
	return strtol(p + strlen("\nRssAnon:"), NULL, 10);
}

#define KILL_WARMUP 4
#define KILL_CYCLES 20
#define RSS_MARGIN_KB 96

/*
 * Nor any memory. The sanitizer build's LeakSanitizer checks sysgated at
 * exit (sgd_stop fails on the report's exit status: abort_on_error, or
 * LeakSanitizer's own exit code). The plain build also compares sysgated's
 * resident anonymous memory before and after KILL_CYCLES kills, after a
 * warm-up in which the allocators and the Lua state grow to their size:
 * measured, it still grows by 20 to 40 KiB until the Lua collector's pace
 * settles. Every target holds a target_t of almost 9 KiB (its HELLO), so
 * one leaked per kill adds some 180 KiB, well over the margin.
 */
static void test_killed_while_parked_leaves_no_memory(void **state)
{
	sgd_proc_t s;
	long before = 0, after;
	size_t ends = 0;

	START(&s, slow, PARK_CONFIG);
	for (int i = 0; i < KILL_WARMUP + KILL_CYCLES; i++) {
		int64_t kill_ns;
		pid_t pid;

		if (i == KILL_WARMUP)
			before = rss_anon_kb(s.pid);
		pid = kill_parked(&s, &kill_ns);
		assert_killed_mid_decision(&s, pid, kill_ns, ++ends);
	}
	after = rss_anon_kb(s.pid);
	assert_serves(&s);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's quarantine holds freed memory back, so resident memory grows
	 * whether or not anything leaked; LeakSanitizer decides here, and only
	 * if nobody turned it off. */
	(void)before;
	(void)after;
	assert_null(strstr(getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "", "detect_leaks=0"));
#else
	if (after - before > RSS_MARGIN_KB)
		fail_msg("sysgated grew from %ld to %ld KiB over %d killed targets", before, after,
			 KILL_CYCLES);
#endif
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_unreadable_path_denied, sgd_teardown),
		cmocka_unit_test_teardown(test_unreadable_path_pcall_still_denied, sgd_teardown),
		cmocka_unit_test_teardown(test_path_at_page_end_decoded, sgd_teardown),
		cmocka_unit_test_teardown(test_killed_while_parked_leaves_no_fd, sgd_teardown),
		cmocka_unit_test_teardown(test_killed_while_parked_leaves_no_memory, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
