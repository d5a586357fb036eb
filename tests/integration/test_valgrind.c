/*
 * The valgrind soak: one sysgated runs under valgrind's memcheck while
 * targets under sysgate-run make every kind of call it serves, for about
 * SOAK_MS: allowed and denied calls, handlers that read c.path and c.addr,
 * brokered opens (sysgate.open, a create and a read), emulate and kill
 * verdicts, a handler that raises (the fallback), calls throttled by a
 * rate limit, a target SIGKILLed while its call is parked on a throttle's
 * timer, another while a handler decides its call, a metrics scrape, and
 * the log throughout. Then sysgated is stopped with SIGTERM while one more
 * call is parked, and memcheck's report must show no error: no definite
 * leak, no invalid read or write, no use of uninitialised memory.
 *
 * Valgrind 3.19 does not know four syscalls sysgated makes; the preload
 * tests/programs/vgnative.c runs those natively and does memcheck's checks
 * for them. The suppressions in tests/integration/valgrind.supp each say
 * why they are not sysgate's error. Not in the sanitizer build: valgrind
 * cannot run a binary built with AddressSanitizer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* How long the workload runs once sysgated is up, and the fewest rounds
 * it makes however slow the machine is. */
#define SOAK_MS 30000
#define SOAK_MIN_ROUNDS 3
/* Memcheck's exit status when it found an error (a definite leak is one,
 * by --errors-for-leak-kinds=definite). */
#define VG_ERROR_EXIT 97
/* Waits for what sysgated does under valgrind, 20 to 50 times slower. */
#define WAIT_TRIES 3000
#define PARK_MS 300
#define PARK_PATH "/sysgate-park"
#define STR_(x) #x
#define STR(x) STR_(x)

/* A Lua budget for valgrind's pace, and for the handler that spins
 * PARK_MS so that a target can be killed meanwhile. */
#define SOAK_CONFIG "lua = { time_ms = 10000; instructions = 2000000000; };\n"

static const char *const soak_names[] = { "soak", "slow" };
static const char *const soak_srcs[] = {
	"local sg = sysgate\n"
	"local function spin(ms)\n"
	"  local t = os.clock()\n"
	"  while (os.clock() - t) * 1000 < ms do end\n"
	"end\n"
	"return sg.policy { name = 'soak', on = {\n"
	"  openat = function(c)\n"
	"    local p = c.path\n"
	"    if p == '/etc/shadow' then return sg.deny('EACCES') end\n"
	"    if p:sub(-9) == '/brokered' then return sg.open():log('brokered') end\n"
	"    if p == '" PARK_PATH "' then\n"
	"      spin(" STR(PARK_MS) ")\n"
	"      return sg.allow():log('parked')\n"
	"    end\n"
	"    return sg.allow()\n"
	"  end,\n"
	"  mkdir = function(c) error('soak: no mkdir of ' .. c.path) end,\n"
	"  getppid = sg.limit { rate = 50, burst = 2, over = 'throttle' },\n"
	"  getpid = sg.emulate(4242),\n"
	"  connect = function(c)\n"
	"    local a = c.addr\n"
	"    if a and a.port == 25 then return sg.deny('ENETUNREACH'):log('smtp') end\n"
	"    return sg.allow()\n"
	"  end,\n"
	"  kill = function(c)\n"
	"    if c.signal == 'SIGCONT' then return sg.kill() end\n"
	"    return sg.allow()\n"
	"  end } }\n",
	/* One call every 2 s per process: the second getppid waits. */
	"return sysgate.policy { name = 'slow', on = {\n"
	"  getppid = sysgate.limit { rate = 0.5, burst = 1, over = 'throttle' } } }\n",
};

/* --- the workload --------------------------------------------------------- */

/* Whether pid waits in a seccomp notification in syscall nr and, if path
 * is not NULL, with path at its second argument (openat's): the program's
 * loader makes openat calls of its own. */
static bool parked_in(pid_t pid, int nr, const char *path)
{
	char buf[256], mem[64], *end;
	unsigned long long ptr;
	bool ok;
	int fd;

	if (!read_proc(pid, "wchan", buf, sizeof(buf)) || !strstr(buf, "seccomp"))
		return false;
	/* "NR ARG1 ARG2 ...", the arguments in hex. */
	if (!read_proc(pid, "syscall", buf, sizeof(buf)) || strtol(buf, &end, 10) != nr)
		return false;
	strtoull(end, &end, 16);
	ptr = strtoull(end, NULL, 16);
	if (!path)
		return true;
	snprintf(buf, sizeof(buf), "/proc/%d/mem", (int)pid);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, mem, strlen(path) + 1, (off_t)ptr) == (ssize_t)(strlen(path) + 1) &&
	     memcmp(mem, path, strlen(path) + 1) == 0;
	close(fd);
	return ok;
}

/* Starts argv under policy, waits until it is parked in syscall nr (and
 * path), lets sysgated get into it for ms and SIGKILLs it. */
static void kill_parked(const sgd_proc_t *s, const char *policy, const char *const *argv, int nr,
			const char *path, int ms)
{
	int in_w, out_r, status, i;
	pid_t pid = run_under_async(s, policy, argv, &in_w, &out_r);

	for (i = 0; i < WAIT_TRIES && !parked_in(pid, nr, path); i++)
		sleep_ms(10);
	if (i == WAIT_TRIES) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("%s's target never parked in syscall %d", policy, nr);
	}
	sleep_ms(ms);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("%s's target: status 0x%x, want SIGKILL", policy, status);
	close(in_w);
	close(out_r);
}

/* One round of everything. dir is where the brokered file goes. Returns
 * how many targets it started. */
static size_t soak_round(const sgd_proc_t *s, const char *dir)
{
	char brokered[400], line[450];
	const char *mixed[] = { probe(), "open", "/etc/hostname", "open", "/etc/shadow",
				"write", brokered, "open", brokered, "mkdir", "/tmp/sysgate-vg-no",
				"getpid", "loop", "6", "getppid", "connect", "127.0.0.1", "25",
				NULL };
	const char *killed[] = { probe(), "getppid", "sigcont", "getppid", NULL };
	const char *park[] = { probe(), "open", PARK_PATH, NULL };
	const char *slow[] = { probe(), "loop", "3", NULL };
	run_result_t r;

	snprintf(brokered, sizeof(brokered), "%s/brokered", dir);
	run_under(s, "soak", mixed, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open /etc/hostname: ok");
	assert_contains(r.out, "open /etc/shadow: EACCES");
	assert_contains(r.out, "mkdir /tmp/sysgate-vg-no: EPERM");
	assert_contains(r.out, "getpid: ok 4242");
	assert_contains(r.out, "connect 127.0.0.1: ENETUNREACH");
	snprintf(line, sizeof(line), "write %s: ok", brokered);
	assert_contains(r.out, line);
	snprintf(line, sizeof(line), "open %s: ok", brokered);
	assert_contains(r.out, line);

	/* The kill verdict: the probe dies in its kill(). */
	run_under(s, "soak", killed, &r);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
		fail_msg("status 0x%x, want SIGKILL:\n%s", r.status, r.out);

	/* Killed while the handler decides its openat, and while its
	 * getppid waits on the throttle's timer. */
	kill_parked(s, "soak", park, 257, PARK_PATH, PARK_MS / 3);
	kill_parked(s, "slow", slow, 110, NULL, 50);
	return 4;
}

/* GET /metrics; fails the test unless it answers with the counters. */
static void scrape(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	static char buf[1 << 16];
	size_t off = 0;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
	while (off + 1 < sizeof(buf) && (n = read(s, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	close(s);
	assert_contains(buf, " 200 OK\r\n");
	assert_contains(buf, "sysgate_notifications_total{policy=\"soak\"}");
}

/* Waits, longer than log_wait, until the log holds count events ev. */
static void wait_events(const sgd_proc_t *s, const char *ev, size_t count)
{
	size_t n = 0;

	for (int i = 0; i < WAIT_TRIES; i++) {
		json_object *log = sgd_log(s);

		n = log_count(log, ev, NULL, NULL);
		json_object_put(log);
		if (n >= count)
			return;
		sleep_ms(10);
	}
	fail_msg("%zu %s events in the log, want %zu", n, ev, count);
}

/* The workload did what it says: the log has each kind of event. */
static void assert_workload(const sgd_proc_t *s, size_t rounds)
{
	json_object *log = sgd_log(s);

	assert_true(log_count(log, "decision", "message", "brokered") >= 2 * rounds);
	assert_true(log_count(log, "error", "syscall", "mkdir") >= rounds);
	assert_true(log_count(log, "decision", "verdict", "kill") >= rounds);
	assert_true(log_count(log, "decision", "message", "smtp") >= rounds);
	assert_true(log_count(log, "target_end", "signal_name", "KILL") >= 3 * rounds);
	json_object_put(log);
}

/* --- memcheck's verdict --------------------------------------------------- */

/* The valgrind log, whole (it is small unless memcheck found something;
 * then its first MiB). The caller frees it. */
static char *read_all(const char *path)
{
	size_t cap = 1 << 20, off = 0;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "r");

	assert_non_null(buf);
	if (!f)
		fail_msg("no valgrind log at %s", path);
	off = fread(buf, 1, cap - 1, f);
	buf[off] = '\0';
	fclose(f);
	return buf;
}

/* Each "definitely lost: N bytes" line of the log has N = 0 (there is
 * none when nothing at all was left allocated). */
static bool definite_leak(const char *vg)
{
	const char *p = vg;

	while ((p = strstr(p, "definitely lost: ")) != NULL) {
		p += strlen("definitely lost: ");
		if (strncmp(p, "0 bytes", 7) != 0)
			return true;
	}
	return false;
}

/* What memcheck says when sysgated did wrong, and what valgrind says
 * when it ran sysgated differently from the kernel. */
static const char *const vg_findings[] = {
	"Invalid read", "Invalid write", "Invalid free", "Mismatched free",
	"uninitialised", "Uninitialised", "unaddressable", "overlap", "unhandled amd64-linux syscall",
	"unhandled ioctl",
};

/* Fails the test, printing the report's lines after its banner, unless
 * memcheck found nothing and sysgated stopped cleanly. dir: sysgated's. */
static void assert_memcheck_clean(int status, const char *vg_log, const char *dir)
{
	char *vg = read_all(vg_log);
	const char *why = NULL;

	if (WIFEXITED(status) && WEXITSTATUS(status) == VG_ERROR_EXIT)
		why = "memcheck reported errors (exit " STR(VG_ERROR_EXIT) ")";
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		why = "sysgated did not stop cleanly under valgrind";
	else if (!strstr(vg, "ERROR SUMMARY: 0 errors"))
		why = "the ERROR SUMMARY is not 0 errors";
	else if (definite_leak(vg))
		why = "memory is definitely lost";
	for (size_t i = 0; !why && i < sizeof(vg_findings) / sizeof(vg_findings[0]); i++)
		if (strstr(vg, vg_findings[i]))
			why = vg_findings[i];
	if (why) {
		const char *body = strstr(vg, "Parent PID:");

		fprintf(stderr, "valgrind log %s (kept):\n%s\n", vg_log, body ? body : vg);
	}
	free(vg);
	if (why)
		fail_msg("%s (status 0x%x); sysgated's config and log are kept in %s", why, status,
			 dir);
}

/* --- the test --------------------------------------------------------------- */

static void test_soak_under_memcheck(void **state)
{
	const char *vg_bin = getenv("VALGRIND"), *native = getenv("VGNATIVE");
	char vg_log[] = "/tmp/sysgate-valgrind.XXXXXX", log_opt[64], supp_opt[512],
	     preload[512], exit_opt[32], extra[256];
	const char *wrapper[] = { "/usr/bin/env", preload, vg_bin, "--tool=memcheck",
				  "--leak-check=full", "--show-leak-kinds=definite",
				  "--errors-for-leak-kinds=definite", exit_opt, "--num-callers=30",
				  supp_opt, log_opt, NULL };
	const char *last[] = { probe(), "loop", "3", NULL };
	size_t rounds = 0, targets = 0;
	int64_t t0, t_up, t_soak;
	int fd, port, status, in_w, out_r, i;
	sgd_proc_t s;
	pid_t pid;

	(void)state;
	if (sanitized_build()) {
		printf("valgrind soak skipped: valgrind cannot run a sysgated built with "
		       "AddressSanitizer; the plain build runs it\n");
		skip();
	}
	if (!vg_bin || !*vg_bin)
		fail_msg("valgrind not found when meson configured; scripts/deps.sh installs it");
	if (!native || !*native)
		fail_msg("valgrind/valgrind.h not found when meson configured, so there is no "
			 "tests/programs/vgnative.c preload; scripts/deps.sh installs valgrind");
	fd = mkstemp(vg_log);
	assert_true(fd >= 0);
	close(fd);
	snprintf(log_opt, sizeof(log_opt), "--log-file=%s", vg_log);
	snprintf(supp_opt, sizeof(supp_opt), "--suppressions=%s/tests/integration/valgrind.supp",
		 env_path("SRCDIR"));
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", native);
	snprintf(exit_opt, sizeof(exit_opt), "--error-exitcode=%d", VG_ERROR_EXIT);
	port = free_port();
	snprintf(extra, sizeof(extra), SOAK_CONFIG "metrics_listen = \"127.0.0.1:%d\";", port);

	t0 = mono_ms();
	sgd_start_wrapped(&s, wrapper, extra, 2, soak_names, soak_srcs, NULL);
	t_up = mono_ms();
	scrape(port);
	while (rounds < SOAK_MIN_ROUNDS || mono_ms() - t_up < SOAK_MS) {
		targets += soak_round(&s, s.dir);
		rounds++;
	}
	scrape(port);
	wait_events(&s, "target_end", targets);
	assert_workload(&s, rounds);
	t_soak = mono_ms();

	/* Stopped while a call is parked: the parked call is freed, and the
	 * target's calls fail with ENOSYS from then on. */
	pid = run_under_async(&s, "slow", last, &in_w, &out_r);
	for (i = 0; i < WAIT_TRIES && !parked_in(pid, 110, NULL); i++)
		sleep_ms(10);
	status = sgd_term(&s);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(in_w);
	close(out_r);
	printf("valgrind soak: start-up %.1f s, %zu rounds (%zu targets) in %.1f s, stop %.1f s\n",
	       (double)(t_up - t0) / 1000, rounds, targets, (double)(t_soak - t_up) / 1000,
	       (double)(mono_ms() - t_soak) / 1000);
	if (i == WAIT_TRIES)
		fail_msg("the last target never parked in its throttled getppid");

	assert_memcheck_clean(status, vg_log, s.dir);
	unlink(vg_log);
	sgd_cleanup(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_soak_under_memcheck, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
