/*
 * Integration tests on the real kernel: each test starts its own sysgated
 * on a temporary socket and runs real programs under sysgate-run. They
 * assert what the program saw (its syscalls' results, its exit status)
 * and what the supervisor logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "sysgate/protocol.h"

POLICY(deny, "return sysgate.policy { name = 'deny', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.path == '/etc/hostname' then return sysgate.deny('EACCES') end\n"
	     "    return sysgate.allow()\n"
	     "  end } }\n");

/* A denied openat returns EACCES to the program, others go through, and
 * the decision is logged with every field an operator reads. */
static void test_deny_openat(void **state)
{
	const char *argv[] = { probe(), "open", "/etc/hostname", "open", "/etc/os-release", "exit", "3", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d, *v;

	START(&s, deny, NULL);
	run_under(&s, "deny", argv, &r);
	assert_exited(&r, 3); /* the command's own exit status comes through */
	assert_contains(r.out, "open /etc/hostname: EACCES");
	assert_contains(r.out, "open /etc/os-release: ok");
	assert_true(log_wait(&s, "target_end", 1));

	log = sgd_log(&s);
	d = log_find(log, "decision", "path", "/etc/hostname");
	assert_non_null(d);
	assert_string_equal(str_field(d, "verdict"), "deny");
	assert_string_equal(str_field(d, "errno"), "EACCES");
	assert_string_equal(str_field(d, "syscall"), "openat");
	assert_string_equal(str_field(d, "policy"), "deny");
	assert_string_equal(str_field(d, "arch"), "x86_64");
	assert_string_equal(str_field(d, "comm"), "probe");
	assert_non_null(strstr(str_field(d, "exe"), "probe"));
	for (const char *k = "time\0target\0pid\0tid\0args\0latency_ns\0"; *k; k += strlen(k) + 1)
		assert_true(json_object_object_get_ex(d, k, &v));
	assert_true(json_object_object_get_ex(d, "args", &v));
	assert_int_equal(json_object_array_length(v), 6);
	/* Allowed calls without :log are not logged. */
	assert_null(log_find(log, "decision", "path", "/etc/os-release"));
	assert_non_null(log_find(log, "target_start", "policy", "deny"));
	d = log_find(log, "target_end", "policy", "deny");
	assert_non_null(d);
	assert_true(json_object_object_get_ex(d, "exit_status", &v));
	assert_int_equal(json_object_get_int(v), 3);
	json_object_put(log);
	sgd_stop(&s);
}

/* Sums "key" over the log's events ev of policy. */
static int64_t log_sum(json_object *log, const char *ev, const char *key)
{
	int64_t sum = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i), *v;

		if (strcmp(str_field(e, "event"), ev) == 0 && json_object_object_get_ex(e, key, &v))
			sum += json_object_get_int64(v);
	}
	return sum;
}

/* The log's budgets: each target gets its own burst of decision events,
 * the rest are counted, reported in `suppressed` events and in
 * target_end, and nothing is lost from the accounting: logged plus
 * suppressed is every denied call. A global budget holds across targets. */
static void test_log_budget(void **state)
{
	const char *argv[43] = { probe() };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;
	int64_t logged, suppressed;

	for (int i = 0; i < 20; i++) {
		argv[1 + 2 * i] = "open";
		argv[2 + 2 * i] = "/etc/hostname";
	}
	START(&s, deny, "log_limits = { target_rate = 1; target_burst = 5; global_rate = 0;\n"
			"  report_ms = 100; };\n");
	run_under(&s, "deny", argv, &r);
	assert_exited(&r, 0);
	run_under(&s, "deny", argv, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	logged = (int64_t)log_count(log, "decision", "policy", "deny");
	suppressed = log_sum(log, "target_end", "suppressed");
	/* 5 a target, and a token a second while it runs. */
	assert_true(logged >= 10 && logged <= 14);
	assert_int_equal(logged + suppressed, 40);
	assert_int_equal(log_sum(log, "suppressed", "events"), suppressed);
	json_object_put(log);
	sgd_stop(&s);

	START(&s, deny, "log_limits = { target_rate = 0; global_rate = 1; global_burst = 3; };\n");
	run_under(&s, "deny", argv, &r);
	run_under(&s, "deny", argv, &r);
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	logged = (int64_t)log_count(log, "decision", "policy", "deny");
	assert_true(logged >= 3 && logged <= 6);
	assert_int_equal(logged + log_sum(log, "target_end", "suppressed"), 40);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(steady, "return sysgate.policy { name = 'steady', on = {\n"
	       "  getppid = function(c)\n"
	       "    if c.syscall ~= 'getppid' or c.pid <= 0 then return sysgate.deny() end\n"
	       "    return sysgate.allow()\n"
	       "  end } }\n");

/* The notified path allocates nothing in steady state: sysgated, with an
 * allocation counter preloaded, answers 10,000 calls of a handler that
 * reads the call object and allows, and its count does not move. (Not in
 * the sanitizer build, whose runtimes own the allocator.) */
static void test_no_alloc_steady_state(void **state)
{
	const char *argv[] = { probe(), "loop", "100", "getppid", "wait", "loop", "10000", "getppid",
			       "wait", NULL };
	char file[64], line[128];
	unsigned long before, after;
	sgd_proc_t s;
	int in, out, status;
	pid_t pid;

	if (sanitized_build())
		skip();
	snprintf(file, sizeof(file), "/tmp/sysgate-allocs.%d", (int)getpid());
	alloc_counter_preload(file, true);
	START(&s, steady, NULL);
	alloc_counter_preload(file, false);
	pid = run_under_async(&s, "steady", argv, &in, &out);
	read_line(out, line, sizeof(line));
	assert_non_null(strstr(line, "getppid: ok"));
	before = sgd_alloc_count(&s, file);
	assert_true(before > 0); /* the counter works: start-up allocates */
	assert_int_equal(write(in, "\n", 1), 1);
	read_line(out, line, sizeof(line));
	assert_non_null(strstr(line, "getppid: ok"));
	after = sgd_alloc_count(&s, file);
	assert_int_equal(after - before, 0);
	assert_int_equal(write(in, "\n", 1), 1);
	close(in);
	close(out);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(file);
	sgd_stop(&s);
}

POLICY(noWrite, "return sysgate.policy { name = 'noWrite', on = {\n"
		"  openat = function(c)\n"
		"    if not c.has_flag('O_RDONLY') or c.has_flag('O_CREAT') then\n"
		"      return sysgate.deny('EROFS'):log(string.format('flags %d mode %o', c.flags, c.mode))\n"
		"    end\n"
		"    return sysgate.allow()\n"
		"  end } }\n");

/* c.has_flag, c.flags and c.mode come from the real openat arguments: a
 * write-open is refused, a read-open goes through. */
static void test_open_flags(void **state)
{
	char file[400], want[64];
	const char *argv[] = { probe(), "write", file, "open", "/etc/hostname", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;
	struct stat st;

	START(&s, noWrite, NULL);
	snprintf(file, sizeof(file), "%s/written", s.dir);
	run_under(&s, "noWrite", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, ": EROFS");
	assert_contains(r.out, "open /etc/hostname: ok");
	assert_int_equal(stat(file, &st), -1);
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	snprintf(want, sizeof(want), "flags %d mode 600", O_WRONLY | O_CREAT | O_TRUNC);
	assert_non_null(log_find(log, "decision", "message", want));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(net, "return sysgate.policy { name = 'net', on = {\n"
	    "  connect = function(c)\n"
	    "    local a = c.addr\n"
	    "    if a.family == 'inet' and a.port == 9 then return sysgate.deny('EACCES'):log(a.ip) end\n"
	    "    return sysgate.allow()\n"
	    "  end,\n"
	    "  bind = function(c) return sysgate.deny('EADDRINUSE'):log(c.addr.family) end } }\n");

/* c.addr is read from the program's memory: a connect to port 9 is
 * refused by the policy (EACCES, not the kernel's ECONNREFUSED), one to
 * another port reaches the kernel; the log carries the address. */
static void test_connect_addr(void **state)
{
	const char *argv[] = { probe(), "connect", "127.0.0.1", "9", "connect", "127.0.0.1", "1",
			       "nlbind", "0x11", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d, *a, *v;

	START(&s, net, NULL);
	run_under(&s, "net", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "connect 127.0.0.1: EACCES");
	assert_contains(r.out, "connect 127.0.0.1: ECONNREFUSED");
	assert_contains(r.out, "nlbind 0x11: EADDRINUSE");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	d = log_find(log, "decision", "message", "127.0.0.1");
	assert_non_null(d);
	assert_true(json_object_object_get_ex(d, "addr", &a));
	assert_true(json_object_object_get_ex(a, "port", &v));
	assert_int_equal(json_object_get_int(v), 9);
	assert_string_equal(str_field(a, "family"), "inet");
	/* A netlink address is logged with its pid and groups. */
	d = log_find(log, "decision", "message", "netlink");
	assert_non_null(d);
	assert_true(json_object_object_get_ex(d, "addr", &a));
	assert_true(json_object_object_get_ex(a, "groups", &v));
	assert_int_equal(json_object_get_int(v), 0x11);
	assert_true(json_object_object_get_ex(a, "pid", &v));
	assert_int_equal(json_object_get_int(v), 0);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(ident, "return sysgate.policy { name = 'ident', on = {\n"
	      "  getppid = function(c)\n"
	      "    return sysgate.allow():log(string.format('%d %d %d %s %s %s', c.uid, c.gid,\n"
	      "      c.threads, c.comm, c.exe, c.cgroup))\n"
	      "  end } }\n");

/* c.uid, c.gid, c.threads, c.comm, c.exe and c.cgroup describe the caller
 * as the kernel sees it: run as root, then as uid 65534 (setpriv drops the
 * ids under the filter before it runs the probe). */
static void test_identity(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	const char *argv2[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				probe(), "getppid", NULL };
	char want[600], cg[512] = "", *line;
	sgd_proc_t s;
	run_result_t r;
	json_object *log;
	FILE *f;

	/* The probe inherits this test's cgroup. */
	f = fopen("/proc/self/cgroup", "r");
	assert_non_null(f);
	while (fgets(cg, sizeof(cg), f) && strncmp(cg, "0::", 3) != 0)
		;
	fclose(f);
	cg[strcspn(cg, "\n")] = '\0';
	line = strncmp(cg, "0::", 3) == 0 ? cg + 3 : cg;

	START(&s, ident, NULL);
	run_under(&s, "ident", argv, &r);
	assert_exited(&r, 0);
	run_under(&s, "ident", argv2, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	snprintf(want, sizeof(want), "0 0 1 probe %s %s", probe(), line);
	assert_non_null(log_find(log, "decision", "message", want));
	snprintf(want, sizeof(want), "65534 65534 1 probe %s %s", probe(), line);
	assert_non_null(log_find(log, "decision", "message", want));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(regs, "return sysgate.policy { name = 'regs', on = {\n"
	     "  kill = function(c) return sysgate.deny('EPERM'):log(c.signal .. ' ' .. c.target_pid) end,\n"
	     "  socket = function(c)\n"
	     "    return sysgate.allow():log(c.domain .. ' ' .. c.type .. ' ' .. c.protocol)\n"
	     "  end } }\n");

/* Arguments decoded from the registers alone: kill's signal and target,
 * socket's domain, type and protocol, as a real program passes them. */
static void test_register_args(void **state)
{
	const char *argv[] = { probe(), "sigcont", "connect", "127.0.0.1", "1", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d;
	char want[64];
	json_object *v;

	START(&s, regs, NULL);
	run_under(&s, "regs", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "sigcont: EPERM");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	d = log_find(log, "decision", "syscall", "kill");
	assert_non_null(d);
	assert_true(json_object_object_get_ex(d, "pid", &v));
	snprintf(want, sizeof(want), "SIGCONT %d", json_object_get_int(v));
	assert_string_equal(str_field(d, "message"), want);
	assert_non_null(log_find(log, "decision", "message", "inet stream 0"));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(argv, "return sysgate.policy { name = 'argv', on = {\n"
	     "  execve = function(c)\n"
	     "    local env = {}\n"
	     "    for _, k in ipairs(c.envkeys) do env[k] = true end\n"
	     "    return sysgate.allow():log(string.format('%d %s %s %s', #c.argv, tostring(c.argv.truncated),\n"
	     "      c.argv[2], tostring(env.SYSGATED)))\n"
	     "  end } }\n");

/* c.argv and c.envkeys of the command's own execve, read from its memory,
 * bounded: 300 arguments are cut to 256 and flagged. */
static void test_exec_argv(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	const char *many[303];
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d, *a;

	many[0] = probe();
	for (int i = 1; i < 301; i++)
		many[i] = "getppid";
	many[301] = NULL;
	START(&s, argv, NULL);
	run_under(&s, "argv", argv, &r);
	assert_exited(&r, 0);
	run_under(&s, "argv", many, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	d = log_find(log, "decision", "message", "2 false getppid true");
	assert_non_null(d);
	assert_true(json_object_object_get_ex(d, "argv", &a));
	assert_int_equal(json_object_array_length(a), 2);
	assert_non_null(log_find(log, "decision", "message", "256 true getppid true"));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(abs, "return sysgate.policy { name = 'abs', on = {\n"
	    "  openat = function(c)\n"
	    "    if c.path:sub(1, 1) == '/' then return sysgate.allow() end\n"
	    "    return sysgate.deny('ENOENT'):log(c.abspath)\n"
	    "  end } }\n");

/* c.abspath of a relative path is the caller's cwd joined and folded, as
 * the kernel would resolve it. */
static void test_abspath(void **state)
{
	const char *argv[] = { probe(), "open", "no/./such/../file", NULL };
	char cwd[PATH_MAX], want[PATH_MAX + 32];
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	START(&s, abs, NULL);
	run_under(&s, "abs", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open no/./such/../file: ENOENT");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	snprintf(want, sizeof(want), "%s/no/file", strcmp(cwd, "/") == 0 ? "" : cwd);
	assert_non_null(log_find(log, "decision", "message", want));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(emulate, "return sysgate.policy { name = 'emulate', on = {\n"
		"  mkdir = function(c) return sysgate.emulate(0):log(c.path) end } }\n");

/* emulate answers the call without running it: mkdir says ok and nothing
 * is created. */
static void test_emulate_mkdir(void **state)
{
	char dir[400];
	const char *argv[] = { probe(), "mkdir", dir, NULL };
	sgd_proc_t s;
	run_result_t r;
	struct stat st;
	json_object *log, *d;

	START(&s, emulate, NULL);
	snprintf(dir, sizeof(dir), "%s/made-by-probe", s.dir);
	run_under(&s, "emulate", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, ": ok 0");
	assert_int_equal(stat(dir, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	d = log_find(log, "decision", "verdict", "emulate");
	assert_non_null(d);
	assert_string_equal(str_field(d, "value"), "0");
	/* mkdir's path, read from the program's memory. */
	assert_string_equal(str_field(d, "message"), dir);
	assert_string_equal(str_field(d, "path"), dir);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(kill, "return sysgate.policy { name = 'kill', on = {\n"
	     "  mkdir = function(c) return sysgate.kill():log('no mkdir') end } }\n");

/* kill ends the calling process with SIGKILL before the call returns. */
static void test_kill_kills(void **state)
{
	const char *argv[] = { probe(), "getppid", "mkdir", "/tmp/sysgate-never", "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d;

	START(&s, kill, NULL);
	run_under(&s, "kill", argv, &r);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
		fail_msg("status 0x%x, want SIGKILL; stdout:\n%s", r.status, r.out);
	assert_contains(r.out, "getppid: ok");
	assert_null(strstr(r.out, "mkdir"));
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	d = log_find(log, "decision", "verdict", "kill");
	assert_non_null(d);
	assert_string_equal(str_field(d, "message"), "no mkdir");
	d = log_find(log, "target_end", NULL, NULL);
	assert_non_null(str_field(d, "signal_name"));
	assert_string_equal(str_field(d, "signal_name"), "KILL");
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(kdeny, "return sysgate.policy { name = 'kdeny',\n"
	      "  kernel = { deny = { 'mkdir', errno = 'EROFS' } },\n"
	      "  on = { getppid = function(c) return sysgate.allow():log('seen') end } }\n");

/* A kernel-denied syscall gets its errno from the filter: no round trip,
 * so no decision is logged for it; a notified one next to it is. */
static void test_kernel_deny_no_notification(void **state)
{
	const char *argv[] = { probe(), "mkdir", "/tmp/sysgate-never", "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, kdeny, NULL);
	run_under(&s, "kdeny", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "mkdir /tmp/sysgate-never: EROFS");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "decision", "syscall", "mkdir"), 0);
	assert_int_equal(log_count(log, "decision", "syscall", "getppid"), 1);
	json_object_put(log);
	sgd_stop(&s);
}

/* An unknown policy: exit 125, a message that names it, and the command
 * never runs. */
static void test_unknown_policy(void **state)
{
	char marker[400];
	const char *argv[] = { probe(), "write", marker, NULL };
	sgd_proc_t s;
	run_result_t r;
	struct stat st;

	START(&s, deny, NULL);
	snprintf(marker, sizeof(marker), "%s/marker", s.dir);
	run_under(&s, "no-such-policy", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "no-such-policy");
	assert_int_equal(stat(marker, &st), -1);
	sgd_stop(&s);
}

/* No supervisor at all: exit 125 and the command never runs. */
static void test_no_supervisor(void **state)
{
	const char *argv[] = { "sysgate-run", "-s", "/tmp/sysgate-test-no-such.sock", "-p", "x", "--",
			       probe(), "write", "/tmp/sysgate-test-marker", NULL };
	struct stat st;
	int status;
	pid_t pid;

	unlink("/tmp/sysgate-test-marker");
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execv(env_path("SYSGATE_RUN"), (char *const *)argv);
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 125);
	assert_int_equal(stat("/tmp/sysgate-test-marker", &st), -1);
}

POLICY(allowall, "return sysgate.policy { name = 'allowall', on = {\n"
		 "  openat = function(c) return sysgate.allow() end } }\n");

/* Killing sysgated while a target runs: the next notified call fails with
 * ENOSYS; it is never allowed. */
static void test_supervisor_killed_enosys(void **state)
{
	const char *argv[] = { probe(), "open", "/etc/hostname", "wait", "open", "/etc/hostname", NULL };
	sgd_proc_t s;
	char out[4096] = "";
	int in_w, out_r, status;
	size_t off = 0;
	pid_t pid;

	START(&s, allowall, NULL);
	pid = run_under_async(&s, "allowall", argv, &in_w, &out_r);
	/* Wait for the first answer, then kill the supervisor. */
	while (!strstr(out, "\n") && off + 1 < sizeof(out)) {
		ssize_t n = read(out_r, out + off, sizeof(out) - 1 - off);

		assert_true(n > 0);
		off += (size_t)n;
		out[off] = '\0';
	}
	assert_contains(out, "open /etc/hostname: ok");
	sgd_kill(&s);
	assert_int_equal(write(in_w, "\n", 1), 1);
	close(in_w);
	for (;;) {
		ssize_t n = read(out_r, out + off, sizeof(out) - 1 - off);

		if (n <= 0)
			break;
		off += (size_t)n;
		out[off] = '\0';
	}
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_contains(out, "open /etc/hostname: ENOSYS");
	sgd_cleanup(&s);
}

static const char *const loop_names[] = { "loop", "allowall" };
static const char *const loop_srcs[] = {
	"return sysgate.policy { name = 'loop', on = {\n"
	"  mkdir = function(c) while true do end end } }\n",
	"return sysgate.policy { name = 'allowall', on = {\n"
	"  openat = function(c) return sysgate.allow():log('fine') end } }\n",
};

/* A handler that never ends is stopped by its budget; the call gets the
 * fallback (EPERM) with an error event, and the next target is served. */
static void test_infinite_loop_fallback(void **state)
{
	const char *argv1[] = { probe(), "mkdir", "/tmp/sysgate-never", NULL };
	const char *argv2[] = { probe(), "open", "/etc/hostname", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d;

	sgd_start(&s, NULL, 2, loop_names, loop_srcs);
	run_under(&s, "loop", argv1, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "mkdir /tmp/sysgate-never: EPERM");
	run_under(&s, "allowall", argv2, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open /etc/hostname: ok");
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	d = log_find(log, "error", "policy", "loop");
	assert_non_null(d);
	assert_string_equal(str_field(d, "verdict"), "deny");
	assert_string_equal(str_field(d, "errno"), "EPERM");
	d = log_find(log, "decision", "policy", "loop");
	assert_non_null(d);
	assert_string_equal(str_field(d, "fallback"), "true");
	assert_non_null(log_find(log, "decision", "message", "fine"));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(raise, "return sysgate.policy { name = 'raise', on = {\n"
	      "  mkdir = function(c) error('handler bug') end,\n"
	      "  getppid = function(c) return 42 end } }\n");

/* A handler that raises, or returns something that is not a verdict, gets
 * the fallback and an error event that says why. */
static void test_handler_errors(void **state)
{
	const char *argv[] = { probe(), "mkdir", "/tmp/sysgate-never", "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, raise, "fallback = \"deny:EACCES\";");
	run_under(&s, "raise", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "mkdir /tmp/sysgate-never: EACCES");
	assert_contains(r.out, "getppid: EACCES");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "error", "policy", "raise"), 2);
	assert_non_null(strstr(str_field(log_find(log, "error", "syscall", "mkdir"), "message"), "handler bug"));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(noexec, "return sysgate.policy { name = 'noexec', on = {\n"
	       "  execve = function(c) return sysgate.deny('EACCES'):log(c.path) end } }\n");

/* The command's own execve is decided by its policy: denied, sysgate-run
 * reports it and exits 126, and the log names the program. */
static void test_exec_denied(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, noexec, NULL);
	run_under(&s, "noexec", argv, &r);
	assert_exited(&r, 126);
	assert_null(strstr(r.out, "getppid"));
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_non_null(log_find(log, "decision", "path", probe()));
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(busy, "local on = {}\n"
	     "for _, n in ipairs{ 'write', 'close', 'futex', 'mmap', 'munmap', 'mprotect', 'brk',\n"
	     "  'sched_yield', 'nanosleep', 'rt_sigprocmask', 'exit', 'madvise', 'execve', 'openat',\n"
	     "  'read', 'fstat', 'newfstatat', 'getppid', 'exit_group', 'set_robust_list', 'rseq' } do\n"
	     "  on[n] = function(c) return sysgate.allow() end\n"
	     "end\n"
	     "return sysgate.policy { name = 'busy', on = on }\n");

/* The shim's own calls between loading the filter and exec (and the
 * command's whole start-up) are forwarded here: nothing may deadlock. */
static void test_handoff_calls_forwarded(void **state)
{
	const char *argv[] = { probe(), "getppid", "open", "/etc/hostname", NULL };
	sgd_proc_t s;
	run_result_t r;

	START(&s, busy, NULL);
	for (int i = 0; i < 5; i++) {
		run_under(&s, "busy", argv, &r);
		assert_exited(&r, 0);
		assert_contains(r.out, "open /etc/hostname: ok");
	}
	sgd_stop(&s);
}

POLICY(strict, "return sysgate.policy { name = 'strict',\n"
	       "  kernel = { kill = { 'sched_yield', 'futex', 'nanosleep', 'clock_nanosleep' } },\n"
	       "  on = { getppid = sysgate.allow():log('served') } }\n");

/* Between loading the filter and exec, sysgate-run's filtered thread makes
 * no syscall at all, so a strict policy that kills the calls a wait or a
 * free() would make cannot end it before the command runs. */
static void test_strict_policy_handoff(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;

	START(&s, strict, NULL);
	for (int i = 0; i < 5; i++) {
		run_under(&s, "strict", argv, &r);
		assert_exited(&r, 0);
		assert_contains(r.out, "getppid: ok");
	}
	sgd_stop(&s);
}

/* sysgate-run takes a filter only from a socket served by the supervisor's
 * uid: a look-alike supervisor run by anyone else is refused (125) and the
 * command never runs. */
static void test_fake_supervisor_refused(void **state)
{
	char dir[] = "/tmp/sysgate-fake.XXXXXX", sock[128], marker[128];
	const char *argv[] = { "sysgate-run", "-s", sock, "-p", "any", "--", probe(), "write", marker, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ready[2], status, err[2];
	char msg[512] = "";
	struct stat st;
	pid_t fake, run;
	ssize_t n;
	char c;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chown(dir, 65534, 65534), 0);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	fake = fork();
	if (fake == 0) {
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(1);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		memcpy(sa.sun_path, sock, strlen(sock));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		for (;;)
			pause(); /* it never needs to answer: the shim checks first */
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	run = fork();
	if (run == 0) {
		dup2(err[1], 2);
		execv(env_path("SYSGATE_RUN"), (char *const *)argv);
		_exit(99);
	}
	close(err[1]);
	n = read(err[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(err[0]);
	assert_int_equal(waitpid(run, &status, 0), run);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 125);
	assert_contains(msg, "uid 65534");
	assert_int_equal(stat(marker, &st), -1);
	snprintf(msg, sizeof(msg), "rm -rf %s", dir);
	assert_int_equal(system(msg), 0);
}

/* sysgated refuses a socket in a directory others can write: a look-alike
 * socket could be put in its place. */
static void test_socket_dir_writable_refused(void **state)
{
	char dir[] = "/tmp/sysgate-dir.XXXXXX", path[300], cmd[700], out[1024] = "";
	FILE *f;
	int status;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.lua", dir);
	f = fopen(path, "w");
	fputs("return sysgate.policy { on = { getppid = sysgate.allow() } }\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/pub", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 01777), 0);
	snprintf(path, sizeof(path), "%s/sysgate.conf", dir);
	f = fopen(path, "w");
	fputs("socket = \"pub/sock\";\npolicies = ( { name = \"p\"; file = \"p.lua\"; } );\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -c %s 2>&1", env_path("SYSGATED"), path);
	f = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	status = pclose(f);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_contains(out, "writable by it alone");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A peer whose uid the config does not allow is refused (125) and the
 * refusal is logged. */
static void test_peer_not_allowed(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, allowall, "allow_uids = [ 4242 ];");
	run_under(&s, "allowall", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "not allowed");
	assert_null(strstr(r.out, "getppid"));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "handshake_refused", NULL, NULL), 1);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(ppid, "return sysgate.policy { name = 'ppid', on = { getppid = sysgate.allow() } }\n");

/* A peer that keeps a copy of the listener it handed over can take a
 * notification between the supervisor's poll and its receive, and then
 * stop making calls: the receive would wait forever and no target would
 * be served. The watchdog interrupts it, the target is dropped as
 * listener_shared, and the supervisor serves on and stops cleanly. */
static void test_shared_listener_does_not_stall(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	char pid[16], out[256] = "";
	int p[2], status;
	sgd_proc_t s;
	run_result_t r;
	json_object *log;
	pid_t steal;
	ssize_t n;

	START(&s, ppid, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)s.pid);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	steal = fork();
	if (steal == 0) {
		dup2(p[1], 1);
		execl(env_path("STEAL"), "steal", s.socket, "ppid", pid, "20", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	assert_int_equal(waitpid(steal, &status, 0), steal);
	out[n > 0 ? n : 0] = '\0';
	assert_contains(out, "caught");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_non_null(log_find(log, "target_end", "reason", "listener_shared"));
	json_object_put(log);
	run_under(&s, "ppid", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");
	sgd_stop(&s);
}

/* --- malformed handshakes ------------------------------------------------ */

static int connect_raw(const sgd_proc_t *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(strlen(s->socket) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, s->socket, strlen(s->socket));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	assert_true(sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0);
}

/* Waits until the supervisor closed the connection (after any REFUSE). */
static void wait_closed(int sock)
{
	char buf[SG_PROTO_MAX_MSG];
	struct pollfd p = { sock, POLLIN, 0 };

	for (int i = 0; i < 100; i++) {
		assert_true(poll(&p, 1, 6000) == 1);
		if (recv(sock, buf, sizeof(buf), 0) <= 0)
			break;
	}
	close(sock);
}

static ssize_t hello(void *buf, size_t cap, const char *policy)
{
	sg_hello_t h;

	memset(&h, 0, sizeof(h));
	snprintf(h.policy, sizeof(h.policy), "%s", policy);
	return sg_proto_encode_hello(&h, buf, cap);
}

/* Every malformed handshake is refused and leaves no fd behind in sysgated
 * (HARDENING 2, 4, 5): count /proc/<sysgated>/fd before and after. */
static void test_malformed_handshakes_leak_no_fd(void **state)
{
	static unsigned char big[SG_PROTO_MAX_MSG + 4096];
	unsigned char msg[SG_PROTO_MAX_MSG];
	int pipefd[2], fds[8], before, after, sock;
	sgd_proc_t s;
	ssize_t len;

	START(&s, allowall, NULL);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	for (int i = 0; i < 8; i++)
		fds[i] = pipefd[i % 2];
	before = fd_count(s.pid);
	assert_true(before > 0);

	/* Garbage instead of a HELLO. */
	sock = connect_raw(&s);
	send_fds(sock, "garbage!garbage!garbage!", 24, NULL, 0);
	wait_closed(sock);
	/* A HELLO with an fd attached. */
	sock = connect_raw(&s);
	len = hello(msg, sizeof(msg), "allowall");
	send_fds(sock, msg, (size_t)len, fds, 1);
	wait_closed(sock);
	/* A HELLO of another version. */
	sock = connect_raw(&s);
	((sg_msg_header_t *)msg)->version = 99;
	send_fds(sock, msg, (size_t)len, NULL, 0);
	wait_closed(sock);
	/* Oversized: more than the supervisor reads (MSG_TRUNC), with fds. */
	sock = connect_raw(&s);
	len = hello(big, sizeof(big), "allowall");
	send_fds(sock, big, sizeof(big), fds, 2);
	wait_closed(sock);
	/* LISTENER with 0, 2 and 8 fds (8 overflows the control buffer:
	 * MSG_CTRUNC), and with an fd that is not a listener. */
	for (size_t n = 0; n <= 8; n++) {
		unsigned char spec[SG_PROTO_MAX_MSG];

		if (n != 0 && n != 1 && n != 2 && n != 8)
			continue;
		sock = connect_raw(&s);
		len = hello(msg, sizeof(msg), "allowall");
		send_fds(sock, msg, (size_t)len, NULL, 0);
		assert_true(recv(sock, spec, sizeof(spec), 0) > 0);
		len = sg_proto_encode_listener(msg, sizeof(msg));
		send_fds(sock, msg, (size_t)len, fds, n);
		wait_closed(sock);
	}
	/* A connection that says nothing and leaves. */
	sock = connect_raw(&s);
	close(sock);

	/* Give the loop a moment to run every close. */
	for (int i = 0; i < 100 && (after = fd_count(s.pid)) != before; i++)
		usleep(10000);
	assert_int_equal(after, before);
	close(pipefd[0]);
	close(pipefd[1]);
	/* And the supervisor still serves. */
	{
		const char *argv[] = { probe(), "open", "/etc/hostname", NULL };
		run_result_t r;

		run_under(&s, "allowall", argv, &r);
		assert_exited(&r, 0);
	}
	sgd_stop(&s);
}

/* --check validates config and policies: a policy with a syntax error is
 * reported with its file and line, exit 1. */
static void test_check_reports_policy_line(void **state)
{
	char dir[] = "/tmp/sysgate-check.XXXXXX", path[300], cmd[700];
	FILE *f;
	int status;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.lua", dir);
	f = fopen(path, "w");
	fputs("local sg = sysgate\n\nreturn sg.policy { on = { openat = function(c) return end end } }\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sysgate.conf", dir);
	f = fopen(path, "w");
	fputs("socket = \"sock\";\npolicies = ( { name = \"bad\"; file = \"bad.lua\"; } );\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -c %s --check 2>%s/err", env_path("SYSGATED"), path, dir);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	snprintf(path, sizeof(path), "%s/err", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(cmd, sizeof(cmd), f));
	fclose(f);
	assert_contains(cmd, "bad.lua:3:");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_deny_openat, sgd_teardown),
		cmocka_unit_test_teardown(test_log_budget, sgd_teardown),
		cmocka_unit_test_teardown(test_no_alloc_steady_state, sgd_teardown),
		cmocka_unit_test_teardown(test_open_flags, sgd_teardown),
		cmocka_unit_test_teardown(test_connect_addr, sgd_teardown),
		cmocka_unit_test_teardown(test_identity, sgd_teardown),
		cmocka_unit_test_teardown(test_register_args, sgd_teardown),
		cmocka_unit_test_teardown(test_exec_argv, sgd_teardown),
		cmocka_unit_test_teardown(test_abspath, sgd_teardown),
		cmocka_unit_test_teardown(test_emulate_mkdir, sgd_teardown),
		cmocka_unit_test_teardown(test_kill_kills, sgd_teardown),
		cmocka_unit_test_teardown(test_kernel_deny_no_notification, sgd_teardown),
		cmocka_unit_test_teardown(test_unknown_policy, sgd_teardown),
		cmocka_unit_test_teardown(test_no_supervisor, sgd_teardown),
		cmocka_unit_test_teardown(test_supervisor_killed_enosys, sgd_teardown),
		cmocka_unit_test_teardown(test_infinite_loop_fallback, sgd_teardown),
		cmocka_unit_test_teardown(test_handler_errors, sgd_teardown),
		cmocka_unit_test_teardown(test_exec_denied, sgd_teardown),
		cmocka_unit_test_teardown(test_handoff_calls_forwarded, sgd_teardown),
		cmocka_unit_test_teardown(test_peer_not_allowed, sgd_teardown),
		cmocka_unit_test_teardown(test_strict_policy_handoff, sgd_teardown),
		cmocka_unit_test_teardown(test_fake_supervisor_refused, sgd_teardown),
		cmocka_unit_test_teardown(test_socket_dir_writable_refused, sgd_teardown),
		cmocka_unit_test_teardown(test_malformed_handshakes_leak_no_fd, sgd_teardown),
		cmocka_unit_test_teardown(test_shared_listener_does_not_stall, sgd_teardown),
		cmocka_unit_test_teardown(test_check_reports_policy_line, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
