/*
 * Integration tests on the real kernel for the cases of HARDENING.md that
 * the other suites do not cover (tests/HARDENING-MAP.md says which test
 * covers which item). The target of most tests is this program itself,
 * run under sysgate-run as `test_hardening --target MODE`, so that it can
 * make the raw syscalls a case needs (x32 numbers, a call from a second
 * thread, a call interrupted by a signal, a seccomp filter of its own).
 * Some tests start sysgated themselves, in a pid namespace or under a
 * seccomp filter that makes this kernel look like an older one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../fail_filter.h"
#include "harness.h"
#include "sysgate/protocol.h"

#define X32_BIT 0x40000000
#define SGD_TEST_CONNS 64 /* sgd.h: SGD_MAX_CONNS, handshakes in progress at once */

static char self_exe[4096];

/* ---- the target side: test_hardening --target MODE -------------------- */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static const char *result(long r)
{
	static char buf[64];

	if (r < 0)
		return strerrorname_np(errno);
	snprintf(buf, sizeof(buf), "ok %ld", r);
	return buf;
}

/* x32: getppid with the x32 bit, a number of the x32 ABI. */
static int target_x32(void)
{
	out("native getppid: %s\n", result(syscall(SYS_getppid)));
	out("x32 getppid: %s\n", result(syscall(SYS_getppid | X32_BIT)));
	return 0;
}

/* getpgid: a call neither the C library nor a sanitizer runtime makes on
 * its own (the ASan runtime makes a mkdir at start-up). */
static void *thread_getpgid(void *arg)
{
	(void)arg;
	out("thread tid %ld\n", (long)syscall(SYS_gettid));
	out("getpgid: %s\n", result(syscall(SYS_getpgid, 0)));
	return NULL;
}

/* thread-getpgid: a second thread makes the call; the main thread waits
 * for it and says so if the process was not killed. */
static int target_thread_getpgid(void)
{
	pthread_t th;

	out("main pid %ld\n", (long)getpid());
	if (pthread_create(&th, NULL, thread_getpgid, NULL) != 0)
		return 2;
	pthread_join(th, NULL);
	out("survived\n");
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * interrupted FIRST SECOND: openat(FIRST) interrupted by a SIGALRM whose
 * handler does not restart it (EINTR), then the same buffer rewritten to
 * SECOND while the process lives on for a second: what the supervisor's
 * handler reads after the interruption is not what the call was made with.
 */
static int target_interrupted(const char *first, const char *second)
{
	static char buf[256];
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	struct itimerval it = { { 0, 0 }, { 0, 150000 } };
	long r;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0)
		return 2;
	snprintf(buf, sizeof(buf), "%s", first);
	r = syscall(SYS_openat, AT_FDCWD, buf, O_RDONLY | O_NOCTTY); /* the policy knows it by O_NOCTTY */
	snprintf(buf, sizeof(buf), "%s", second);
	out("open: %s\n", result(r));
	sleep(1);
	return 0;
}

/* A filter of the target's own, installed on top of sysgate's. */
static long own_filter(uint32_t action_for_openat, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action_for_openat),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* own-filter PATH: a target trying to take its calls back from sysgate. */
static int target_own_filter(const char *path)
{
	long fd;

	out("listener: %s\n", result(own_filter(SECCOMP_RET_USER_NOTIF,
						  SECCOMP_FILTER_FLAG_NEW_LISTENER)));
	out("open after listener: %s\n", result(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY)));
	out("trace: %s\n", result(own_filter(SECCOMP_RET_TRACE, 0) == 0 ? 0 : -1));
	out("open after trace: %s\n", result(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY)));
	out("allow: %s\n", result(own_filter(SECCOMP_RET_ALLOW, 0) == 0 ? 0 : -1));
	fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
	out("open after allow: %s\n", result(fd));
	return 0;
}

/*
 * busy N PATH: N threads each openat(PATH) in a loop, so that the
 * process always has calls waiting on its listener; "busy running" once
 * every thread had an answer, then, when stdin has a line or ends, the
 * threads stop and "busy calls C" is printed.
 */
#define BUSY_MAX_THREADS 32

static const char *busy_path;
static atomic_int busy_stop, busy_calls, busy_answered_threads;

static void *busy_thread(void *arg)
{
	bool counted = false;

	(void)arg;
	while (!atomic_load(&busy_stop)) {
		long fd = syscall(SYS_openat, AT_FDCWD, busy_path, O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			close((int)fd);
		atomic_fetch_add(&busy_calls, 1);
		if (!counted) {
			counted = true;
			atomic_fetch_add(&busy_answered_threads, 1);
		}
	}
	return NULL;
}

static int target_busy(int n, const char *path)
{
	pthread_t th[BUSY_MAX_THREADS];
	char c;

	if (n < 1 || n > BUSY_MAX_THREADS)
		return 2;
	busy_path = path;
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, busy_thread, NULL) != 0)
			return 2;
	while (atomic_load(&busy_answered_threads) < n)
		sleep_ms(5);
	out("busy running\n");
	(void)!read(0, &c, 1);
	atomic_store(&busy_stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	out("busy calls %d\n", atomic_load(&busy_calls));
	return 0;
}

static int target_main(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "x32") == 0)
		return target_x32();
	if (argc >= 1 && strcmp(argv[0], "thread-getpgid") == 0)
		return target_thread_getpgid();
	if (argc >= 3 && strcmp(argv[0], "interrupted") == 0)
		return target_interrupted(argv[1], argv[2]);
	if (argc >= 2 && strcmp(argv[0], "own-filter") == 0)
		return target_own_filter(argv[1]);
	if (argc >= 3 && strcmp(argv[0], "busy") == 0)
		return target_busy(atoi(argv[1]), argv[2]);
	fprintf(stderr, "unknown target mode\n");
	return 2;
}

/* ---- a sysgated started by the test itself --------------------------- */

/* The one this file started, for the teardown after a failure. */
static pid_t own_pid;

/*
 * Like sgd_start, but the command is wrapper (NULL-terminated, may be
 * NULL) followed by sysgated; before_exec (may be NULL) runs in the child
 * just before. Policy name with source src.
 */
static void own_start(sgd_proc_t *s, const char *extra, const char *name, const char *src,
		      const char *const *wrapper, void (*before_exec)(void))
{
	char path[512], conf[2048];
	const char *argv[16];
	size_t n = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/sysgate-hard.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->socket, sizeof(s->socket), "%s/sock", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log.jsonl", s->dir);
	snprintf(path, sizeof(path), "%s/%s.lua", s->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	snprintf(conf, sizeof(conf),
		 "socket = \"%s\";\nlog = \"log.jsonl\";\n%s\n"
		 "policies = ( { name = \"%s\"; file = \"%s.lua\"; } );\n",
		 s->socket, extra ? extra : "", name, name);
	snprintf(path, sizeof(path), "%s/sysgate.conf", s->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(conf, f);
	fclose(f);
	for (size_t i = 0; wrapper && wrapper[i]; i++)
		argv[n++] = wrapper[i];
	argv[n++] = env_path("SYSGATED");
	argv[n++] = "-c";
	argv[n++] = path;
	argv[n] = NULL;

	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char o[400];
		int fd;

		snprintf(o, sizeof(o), "%s/sysgated.out", s->dir);
		fd = open(o, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		if (before_exec)
			before_exec();
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	own_pid = s->pid;
	if (!log_wait(s, "supervisor_start", 1))
		fail_msg("sysgated did not start; see %s", s->dir);
}

/* SIGTERM to pid (sysgated, or the wrapper that forwards it), and a clean
 * exit of s->pid. */
static void own_stop(sgd_proc_t *s, pid_t sysgated)
{
	char cmd[400];
	int status;

	assert_int_equal(kill(sysgated, SIGTERM), 0);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	own_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("sysgated did not stop cleanly (status 0x%x); see %s", status, s->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	assert_int_equal(system(cmd), 0);
}

/* SIGKILLs pid and everything below it (a wrapper's sysgated would
 * otherwise outlive a wrapper killed first: strace detaches from it). */
static void kill_tree(pid_t pid)
{
	char path[64], buf[1024] = "";
	FILE *f;

	kill(pid, SIGSTOP);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *p = buf, *end;

		fclose(f);
		buf[n] = '\0';
		for (long c; (c = strtol(p, &end, 10)) > 0; p = end)
			kill_tree((pid_t)c);
	}
	kill(pid, SIGKILL);
}

static int own_teardown(void **state)
{
	if (own_pid > 0) {
		kill_tree(own_pid);
		waitpid(own_pid, NULL, 0);
	}
	own_pid = 0;
	return sgd_teardown(state);
}

/* For a sysgated run under strace: LeakSanitizer cannot work under ptrace
 * (it stops with a fatal error at exit), so the sanitizer build checks
 * leaks in every other test and not in these. */
static void no_leak_check_under_ptrace(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char opts[1024];

	snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* ---- HARDENING 11: calls of another ABI never reach a decision --------- */

POLICY(x32, "return sysgate.policy { name = 'x32', mode = 'audit', default = 'deny',\n"
	    "  on = { getppid = sysgate.allow():log('native') } }\n");

/*
 * An x32 syscall number (getppid | 0x40000000, the same arch in the
 * seccomp data as x86_64) kills the process in the filter. In audit mode
 * with a default deny, the filter forwards every native syscall and the
 * supervisor allows it: an x32 call that got through would be allowed
 * too. It must never be forwarded: the log has the native getppid and no
 * call with the x32 bit. (Without a filter the same call is ENOSYS on
 * this kernel, built without the x32 ABI: the kill is the filter's.)
 */
static void test_x32_killed_in_the_filter(void **state)
{
	const char *argv[] = { self_exe, "--target", "x32", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, x32, NULL);
	run_under(&s, "x32", argv, &r);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGSYS)
		fail_msg("status 0x%x, want SIGSYS; stdout:\n%s", r.status, r.out);
	assert_contains(r.out, "native getppid: ok");
	assert_null(strstr(r.out, "x32 getppid"));
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "decision", "message", "native"), 1);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i), *nr;

		if (json_object_object_get_ex(e, "nr", &nr) && (json_object_get_int64(nr) & X32_BIT))
			fail_msg("an x32 call reached the supervisor: %s", json_object_to_json_string(e));
	}
	json_object_put(log);
	sgd_stop(&s);
}

/* A target cannot take its calls back: a listener of its own is refused
 * by sysgate's filter (EPERM, the guard of supervisor/filter.c; without
 * it the kernel's EBUSY, while sysgated holds the first, and nothing once
 * sysgated is gone: tests/attack/test_fail_closed.c), and a filter of its
 * own that says TRACE or ALLOW for the call ranks below sysgate's
 * USER_NOTIF: the supervisor still decides the call (EACCES). */
POLICY(own, "return sysgate.policy { name = 'own', on = {\n"
	    "  openat = function(c)\n"
	    "    if c.path == '/etc/hostname' then return sysgate.deny('EACCES') end\n"
	    "    return sysgate.allow()\n"
	    "  end } }\n");

static void test_own_filter_cannot_step_around(void **state)
{
	const char *argv[] = { self_exe, "--target", "own-filter", "/etc/hostname", NULL };
	sgd_proc_t s;
	run_result_t r;

	START(&s, own, NULL);
	run_under(&s, "own", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "listener: EPERM\n");
	assert_contains(r.out, "open after listener: EACCES\n");
	assert_contains(r.out, "trace: ok 0\n");
	assert_contains(r.out, "open after trace: EACCES\n");
	assert_contains(r.out, "allow: ok 0\n");
	assert_contains(r.out, "open after allow: EACCES\n");
	sgd_stop(&s);
}

/* ---- HARDENING 12: the thread makes the call, the process is killed ---- */

POLICY(tkill, "return sysgate.policy { name = 'tkill', on = {\n"
	      "  getpgid = function(c) return sysgate.kill():log(c.pid .. ' ' .. c.tid) end } }\n");

/*
 * A kill verdict on a call made by a second thread kills the whole
 * process: the supervisor opens the pidfd of the thread group (pidfd_open
 * of a thread that is not the leader fails), and the decision names the
 * process as pid and the thread as tid.
 */
static void test_kill_from_a_thread_kills_the_process(void **state)
{
	const char *argv[] = { self_exe, "--target", "thread-getpgid", NULL };
	long main_pid = 0, tid = 0;
	char want[64];
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *d;
	const char *p;

	START(&s, tkill, NULL);
	run_under(&s, "tkill", argv, &r);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
		fail_msg("status 0x%x, want SIGKILL; stdout:\n%s", r.status, r.out);
	assert_null(strstr(r.out, "survived"));
	assert_null(strstr(r.out, "getpgid:"));
	assert_non_null(p = strstr(r.out, "main pid "));
	main_pid = strtol(p + 9, NULL, 10);
	assert_non_null(p = strstr(r.out, "thread tid "));
	tid = strtol(p + 11, NULL, 10);
	assert_true(main_pid > 0 && tid > 0 && tid != main_pid);
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	d = log_find(log, "decision", "verdict", "kill");
	assert_non_null(d);
	assert_int_equal(int_field(d, "pid"), main_pid);
	assert_int_equal(int_field(d, "tid"), tid);
	snprintf(want, sizeof(want), "%ld %ld", main_pid, tid);
	assert_string_equal(str_field(d, "message"), want);
	assert_int_equal(log_count(log, "error", NULL, NULL), 0);
	assert_string_equal(str_field(log_find(log, "target_end", NULL, NULL), "signal_name"), "KILL");
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(pid0, "return sysgate.policy { name = 'pid0', on = {\n"
	     "  getppid = function(c) return sysgate.allow():log('handler ran') end } }\n");

/* The pid of sysgated as its parent's pid namespace sees it: the child
 * of the unshare process at pid. */
static pid_t child_of(pid_t pid)
{
	char path[64], buf[64] = "";
	FILE *f;

	for (int i = 0; i < 500; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
		f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			fclose(f);
			buf[n] = '\0';
			if (atoi(buf) > 0)
				return atoi(buf);
		}
		sleep_ms(10);
	}
	fail_msg("no child of %d", (int)pid);
	return 0;
}

/*
 * sysgated in a pid namespace of its own (unshare --pid --fork), the
 * target outside it: the notifications carry pid 0, since the caller has
 * no pid the supervisor could name. The call is denied (EPERM) with an
 * error that says why, without running the handler or reading anything
 * of the caller from /proc or its memory (sysgated runs under strace to
 * show it), and the supervisor serves on.
 */
static void test_pid_zero_denied(void **state)
{
	static char trace[64];
	const char *wrap[] = { env_path("UNSHARE"), "--pid", "--fork", "--kill-child", env_path("STRACE"), "-f", "-qq",
			       "-o", trace, "-e", "trace=%file,process_vm_readv", NULL };
	const char *argv[] = { probe(), "getppid", "getppid", NULL };
	char line[1024];
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *e;
	pid_t sgd;
	FILE *f;

	/* meson found no unshare (util-linux) or strace */
	assert_true(wrap[0][0] != '\0' && wrap[4][0] != '\0');
	snprintf(trace, sizeof(trace), "/tmp/sysgate-hard-trace.%d", (int)getpid());
	own_start(&s, NULL, pid0_names[0], pid0_srcs[0], wrap, no_leak_check_under_ptrace);
	sgd = child_of(child_of(s.pid)); /* unshare, then strace, then sysgated */
	run_under(&s, "pid0", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: EPERM\ngetppid: EPERM\n");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "error", NULL, NULL), 2);
	e = log_find(log, "error", NULL, NULL);
	assert_contains(str_field(e, "message"), "not visible in the supervisor's pid namespace");
	assert_string_equal(str_field(e, "errno"), "EPERM");
	assert_int_equal(int_field(e, "pid"), 0);
	assert_int_equal(log_count(log, "decision", "message", "handler ran"), 0);
	json_object_put(log);
	own_stop(&s, sgd);
	/* Nothing about the caller was looked up: no /proc/0/..., no read of
	 * its memory. */
	f = fopen(trace, "re"); /* a failed assertion leaves it open */
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/proc/0/") || strstr(line, "process_vm_readv(0,"))
			fail_msg("sysgated looked up the invisible caller: %s", line);
	fclose(f);
	unlink(trace);
}

/* ---- HARDENING 14: NOTIF_ID_VALID probed, not assumed ------------------ */

/* Makes this process (then sysgated) see the kernel as one from before
 * SECCOMP_IOCTL_NOTIF_ID_VALID got its corrected number: that ioctl fails
 * with EINVAL, as an unknown one does there; the old number works. */
static void old_id_valid(void)
{
	if (load_fail_filter(SYS_ioctl, 1, (uint32_t)SECCOMP_IOCTL_NOTIF_ID_VALID, EINVAL) < 0)
		_exit(125);
}

POLICY(oldk, "return sysgate.policy { name = 'oldk', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.path == '/etc/hostname' then return sysgate.deny('EACCES'):log(c.path) end\n"
	     "    return sysgate.allow()\n"
	     "  end } }\n");

/* Reads fd to EOF into buf (NUL-terminated, truncated to len). */
static void read_to_end(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
}

/* run_under with sysgate-run --server-may-be-filtered: the sysgated of
 * these tests runs under the test's own filter, which sysgate-run
 * otherwise refuses as it refuses a target serving the socket. */
static void run_under_filtered_server(const sgd_proc_t *s, const char *policy,
				      const char *const *argv, run_result_t *r)
{
	const char *v[32] = { "sysgate-run", "--server-may-be-filtered", "-s", s->socket, "-p",
			      policy, "--" };
	size_t n = 7;
	int out[2], err[2];
	pid_t pid;

	for (size_t i = 0; argv[i] && n < 31; i++)
		v[n++] = argv[i];
	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(env_path("SYSGATE_RUN"), (char *const *)v);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	read_to_end(out[0], r->out, sizeof(r->out));
	read_to_end(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
}

/*
 * On such a kernel sysgated still recognises a listener (the handshake
 * checks it with ID_VALID) and still trusts the paths it reads (each read
 * is confirmed with ID_VALID): the probe's path is denied by the handler,
 * not refused or failed for want of the ioctl.
 */
static void test_id_valid_old_number(void **state)
{
	const char *argv[] = { probe(), "open", "/etc/hostname", "open", "/etc/os-release", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	own_start(&s, NULL, oldk_names[0], oldk_srcs[0], NULL, old_id_valid);
	run_under_filtered_server(&s, "oldk", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open /etc/hostname: EACCES\n");
	assert_contains(r.out, "open /etc/os-release: ok");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_non_null(log_find(log, "decision", "message", "/etc/hostname"));
	assert_int_equal(log_count(log, "error", NULL, NULL), 0);
	json_object_put(log);
	own_stop(&s, s.pid);
}

/* ---- HARDENING 15: bytes read after the call is gone are not trusted ---- */

#define FIRST "/tmp/sysgate-hard-first"
#define SECOND "/tmp/sysgate-hard-second"

POLICY(late, "local function spin(ms)\n"
	     "  local t = os.clock()\n"
	     "  while (os.clock() - t) * 1000 < ms do end\n"
	     "end\n"
	     "return sysgate.policy { name = 'late', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.args[3] ~= 256 then return sysgate.allow() end -- O_NOCTTY: the test's call\n"
	     "    spin(400)\n"
	     "    return sysgate.deny('EACCES'):log('read ' .. c.path)\n"
	     "  end } }\n");

/*
 * The handler reads the path only after the call was interrupted (a
 * signal without SA_RESTART: EINTR) and the program rewrote the buffer.
 * The process is alive, so the read itself succeeds; only the validity
 * check after it shows the bytes belong to no pending call. Nothing may
 * carry the rewritten path as the call's: the read fails as "gone".
 */
static void test_read_after_interruption_not_trusted(void **state)
{
	const char *argv[] = { self_exe, "--target", "interrupted", FIRST, SECOND, NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, late, "lua = { time_ms = 3000; instructions = 2000000000; };");
	run_under(&s, "late", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open: EINTR\n");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *path = str_field(e, "path"), *msg = str_field(e, "message");

		if ((path && strcmp(path, SECOND) == 0) || (msg && strstr(msg, SECOND)))
			fail_msg("bytes read after the call was gone were used: %s",
				 json_object_to_json_string(e));
	}
	assert_non_null(log_find(log, "error", "syscall", "openat"));
	assert_contains(str_field(log_find(log, "error", "syscall", "openat"), "message"), "gone");
	/* Counted as gone, once (HARDENING 9). */
	assert_int_equal(int_field(log_find(log, "target_end", NULL, NULL), "gone"), 1);
	json_object_put(log);
	sgd_stop(&s);
}

/* ---- HARDENING 19: a busy target does not starve the others ------------- */

#define BUSY_PATH "/etc/hostname"
#define FAIR_CALLS 8

POLICY(slow, "local function spin(ms)\n"
	     "  local t = os.clock()\n"
	     "  while (os.clock() - t) * 1000 < ms do end\n"
	     "end\n"
	     "return sysgate.policy { name = 'slow', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.path == '" BUSY_PATH "' then spin(20) end\n"
	     "    return sysgate.allow()\n"
	     "  end,\n"
	     "  getppid = function(c) return sysgate.allow() end } }\n");

/*
 * One target with 8 threads keeps a call waiting on its listener at all
 * times, and each of its calls takes a 20 ms handler. Another target's 8
 * getppid calls must each be served after at most a handler or two of
 * the busy one, not after a whole batch of them: sysgated stops draining
 * a listener once a drain has taken a millisecond. Served in batches of
 * 64, each getppid would wait up to 64 x 20 ms, about 5 s for the 8; the
 * bound of 2.5 s leaves room for a loaded machine.
 */
static void test_busy_target_does_not_starve_others(void **state)
{
	const char *busy[] = { self_exe, "--target", "busy", "8", BUSY_PATH, NULL };
	const char *quick[FAIR_CALLS + 2] = { probe() };
	char line[128];
	int in, outr, status, answered = 0;
	int64_t t0, ms;
	sgd_proc_t s;
	run_result_t r;
	pid_t pid;

	for (int i = 1; i <= FAIR_CALLS; i++)
		quick[i] = "getppid";
	START(&s, slow, "lua = { time_ms = 2000; instructions = 2000000000; };");
	pid = run_under_async(&s, "slow", busy, &in, &outr);
	read_line(outr, line, sizeof(line));
	assert_string_equal(line, "busy running");
	t0 = mono_ms();
	run_under(&s, "slow", quick, &r);
	ms = mono_ms() - t0;
	close(in);
	read_line(outr, line, sizeof(line));
	close(outr);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_exited(&r, 0);
	for (const char *p = r.out; (p = strstr(p, "getppid: ok")); p++)
		answered++;
	assert_int_equal(answered, FAIR_CALLS);
	print_message("%d getppid calls beside the busy target: %lld ms (busy target: %s)\n",
		      FAIR_CALLS, (long long)ms, line);
	if (ms > 2500)
		fail_msg("%d calls took %lld ms beside a busy target", FAIR_CALLS, (long long)ms);
	sgd_stop(&s);
}

/* ---- HARDENING 18: target memory is read, never written ---------------- */

POLICY(reader, "return sysgate.policy { name = 'reader', on = {\n"
	       "  openat = function(c) return sysgate.allow():log(c.path) end,\n"
	       "  connect = function(c) return sysgate.deny('EACCES'):log(c.addr.ip) end,\n"
	       "  execve = function(c) return sysgate.allow():log(c.argv[1] .. ' ' .. #c.envkeys) end,\n"
	       "} }\n");

/*
 * sysgated under strace while its handlers read paths, socket addresses,
 * argv and environment names from the target: it reads with
 * process_vm_readv (the trace must show it, or the test proves nothing),
 * and never writes: no process_vm_writev, no ptrace, no /proc/N/mem.
 */
static void test_never_writes_target_memory(void **state)
{
	static char trace[64];
	const char *wrap[] = { env_path("STRACE"), "-f", "-qq", "-o", trace, "-e",
			       "trace=process_vm_readv,process_vm_writev,ptrace,open,openat,openat2",
			       NULL };
	const char *argv[] = { probe(), "open", "/etc/hostname", "connect", "127.0.0.1", "9", NULL };
	char line[1024];
	int reads = 0;
	sgd_proc_t s;
	run_result_t r;
	FILE *f;

	assert_true(wrap[0][0] != '\0'); /* meson found no strace */
	snprintf(trace, sizeof(trace), "/tmp/sysgate-hard-trace.%d", (int)getpid());
	own_start(&s, NULL, reader_names[0], reader_srcs[0], wrap, no_leak_check_under_ptrace);
	run_under(&s, "reader", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open /etc/hostname: ok");
	assert_contains(r.out, "connect 127.0.0.1: EACCES");
	assert_true(log_wait(&s, "target_end", 1));
	own_stop(&s, child_of(s.pid));
	f = fopen(trace, "re"); /* a failed assertion leaves it open */
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *mem = strstr(line, "/mem\"");

		reads += strstr(line, "process_vm_readv(") != NULL;
		if (strstr(line, "process_vm_writev(") || strstr(line, "ptrace(") ||
		    (mem && strstr(line, "\"/proc/")))
			fail_msg("sysgated may write to a target: %s", line);
	}
	fclose(f);
	unlink(trace);
	assert_true(reads >= 3);
}

/* ---- HARDENING 26: a restarted supervisor serves at once --------------- */

/*
 * sysgated SIGKILLed: it leaves its socket file behind, and its target's
 * next forwarded call fails with ENOSYS. A new sysgated on the same
 * config removes the stale file and serves a new target at once.
 */
POLICY(restart, "return sysgate.policy { name = 'restart', on = { getppid = sysgate.allow() } }\n");

static void test_restarted_supervisor_serves_at_once(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	const char *parked[] = { probe(), "getppid", "wait", "getppid", NULL };
	char conf[400], o[400], line[256] = "";
	int in, outr, status;
	struct stat st;
	sgd_proc_t s;
	run_result_t r;
	size_t off = 0;
	pid_t pid;

	START(&s, restart, NULL);
	pid = run_under_async(&s, "restart", parked, &in, &outr);
	while (!strchr(line, '\n') && off + 1 < sizeof(line)) {
		ssize_t n = read(outr, line + off, sizeof(line) - 1 - off);

		assert_true(n > 0);
		off += (size_t)n;
		line[off] = '\0';
	}
	assert_contains(line, "getppid: ok");
	sgd_kill(&s);
	assert_int_equal(lstat(s.socket, &st), 0); /* left behind */
	snprintf(conf, sizeof(conf), "%s/sysgate.conf", s.dir);
	unlink(s.log);
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		int fd;

		snprintf(o, sizeof(o), "%s/sysgated2.out", s.dir);
		fd = open(o, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(env_path("SYSGATED"), "sysgated", "-c", conf, (char *)NULL);
		_exit(127);
	}
	own_pid = s.pid;
	assert_true(log_wait(&s, "supervisor_start", 1));
	run_under(&s, "restart", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");
	/* The first target's listener died with the old supervisor. */
	assert_int_equal(write(in, "\n", 1), 1);
	close(in);
	off = 0;
	line[0] = '\0';
	for (ssize_t n; (n = read(outr, line + off, sizeof(line) - 1 - off)) > 0;) {
		off += (size_t)n;
		line[off] = '\0';
	}
	close(outr);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_contains(line, "getppid: ENOSYS");
	own_stop(&s, s.pid);
}

/* ---- HARDENING 1, 4: the socket and refused peers ---------------------- */

static int connect_raw(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether /proc/net/unix lists a socket bound to name (a path, or "@x"
 * for an abstract one). */
static bool unix_bound(const char *name)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/proc/net/unix", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *sp = strrchr(line, ' ');

		line[strcspn(line, "\n")] = '\0';
		if (sp && strcmp(sp + 1, name) == 0)
			found = true;
	}
	fclose(f);
	return found;
}

POLICY(sock, "return sysgate.policy { name = 'sock', on = { getppid = sysgate.allow() } }\n");

/* The socket is a file of the configured mode, 0600 by default and 0660
 * when asked, bound to its path and never to an abstract name (which no
 * file mode protects). */
static void test_socket_mode_and_path(void **state)
{
	char abstract[320];
	struct stat st;
	sgd_proc_t s;

	START(&s, sock, NULL);
	assert_int_equal(lstat(s.socket, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(unix_bound(s.socket));
	snprintf(abstract, sizeof(abstract), "@%s", s.socket);
	assert_false(unix_bound(abstract));
	sgd_stop(&s);

	START(&s, sock, "socket_mode = \"0660\";");
	assert_int_equal(lstat(s.socket, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	sgd_stop(&s);
}

/* Waits until the supervisor closed the connection. */
static void wait_closed(int sock)
{
	char buf[SG_PROTO_MAX_MSG];

	for (int i = 0; i < 100; i++)
		if (recv(sock, buf, sizeof(buf), 0) <= 0)
			break;
	close(sock);
}

static int fd_count_settled(pid_t pid, int want)
{
	int n = fd_count(pid);

	for (int i = 0; i < 300 && n != want; i++) {
		sleep_ms(10);
		n = fd_count(pid);
	}
	return n;
}

/*
 * Refusals that come after a connection was accepted leave no fd behind
 * (the connection, the peer's pidfd): a peer whose uid the config does
 * not allow, an unknown policy, a mode the config does not allow, and the
 * 65th handshake in progress at once (64 is the bound). A peer allowed by
 * its gid alone is served.
 */
static void test_refusals_leak_no_fd(void **state)
{
	const char *argv[] = { probe(), "getppid", NULL };
	int socks[SGD_TEST_CONNS], before, n = 0;
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	START(&s, sock, "allow_uids = [ 4242 ];");
	before = fd_count(s.pid);
	for (int i = 0; i < 3; i++) {
		run_under(&s, "sock", argv, &r);
		assert_exited(&r, 125);
		assert_contains(r.err, "not allowed");
	}
	assert_int_equal(fd_count_settled(s.pid, before), before);
	sgd_stop(&s);

	START(&s, sock, "allow_uids = [ 4242 ];\nallow_gids = [ 0 ];");
	before = fd_count(s.pid);
	run_under(&s, "sock", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");
	run_under(&s, "no-such-policy", argv, &r);
	assert_exited(&r, 125);
	run_under_mode(&s, "sock", "audit", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "not allowed");
	assert_true(log_wait(&s, "target_end", 1));
	assert_int_equal(fd_count_settled(s.pid, before), before);

	/* 64 handshakes in progress, then one more: refused at once. */
	for (n = 0; n < SGD_TEST_CONNS; n++) {
		socks[n] = connect_raw(s.socket);
		assert_true(socks[n] >= 0);
	}
	for (int i = 0; i < 100 && fd_count(s.pid) < before + 64; i++)
		sleep_ms(10);
	{
		int extra = connect_raw(s.socket);

		assert_true(extra >= 0);
		wait_closed(extra);
	}
	for (int i = 0; i < n; i++)
		close(socks[i]);
	assert_int_equal(fd_count_settled(s.pid, before), before);
	log = sgd_log(&s);
	assert_non_null(log_find(log, "handshake_refused", "message", "too many handshakes in progress"));
	json_object_put(log);
	run_under(&s, "sock", argv, &r);
	assert_exited(&r, 0);
	sgd_stop(&s);
}

/* Every fd sysgated holds while it serves a target (listener, pidfd,
 * connections, log, socket) is close-on-exec; the listener is among them
 * because it came with MSG_CMSG_CLOEXEC. */
static void test_supervisor_fds_cloexec(void **state)
{
	const char *argv[] = { probe(), "getppid", "wait", NULL };
	char path[128], line[256], link[256];
	int in, outr, status, checked = 0, listeners = 0;
	struct dirent *e;
	sgd_proc_t s;
	DIR *d;
	pid_t pid;

	START(&s, sock, NULL);
	pid = run_under_async(&s, "sock", argv, &in, &outr);
	assert_true(read(outr, line, sizeof(line)) > 0);
	assert_true(log_wait(&s, "target_start", 1));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)s.pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		unsigned long flags = 0;
		ssize_t n;
		FILE *f;

		if (e->d_name[0] == '.' || fd <= 2)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)s.pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		listeners += strstr(link, "seccomp notify") != NULL;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)s.pid, fd);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "flags: %lo", &flags) == 1)
				break;
		fclose(f);
		if (!(flags & O_CLOEXEC))
			fail_msg("sysgated's fd %d (%s) is not close-on-exec", fd, link);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 3);
	assert_int_equal(listeners, 1);
	assert_int_equal(write(in, "\n", 1), 1);
	close(in);
	close(outr);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	sgd_stop(&s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_x32_killed_in_the_filter, sgd_teardown),
		cmocka_unit_test_teardown(test_own_filter_cannot_step_around, sgd_teardown),
		cmocka_unit_test_teardown(test_kill_from_a_thread_kills_the_process, sgd_teardown),
		cmocka_unit_test_teardown(test_pid_zero_denied, own_teardown),
		cmocka_unit_test_teardown(test_id_valid_old_number, own_teardown),
		cmocka_unit_test_teardown(test_read_after_interruption_not_trusted, sgd_teardown),
		cmocka_unit_test_teardown(test_busy_target_does_not_starve_others, sgd_teardown),
		cmocka_unit_test_teardown(test_never_writes_target_memory, own_teardown),
		cmocka_unit_test_teardown(test_restarted_supervisor_serves_at_once, own_teardown),
		cmocka_unit_test_teardown(test_socket_mode_and_path, sgd_teardown),
		cmocka_unit_test_teardown(test_refusals_leak_no_fd, sgd_teardown),
		cmocka_unit_test_teardown(test_supervisor_fds_cloexec, sgd_teardown),
	};
	ssize_t n;

	if (argc > 2 && strcmp(argv[1], "--target") == 0)
		return target_main(argc - 2, argv + 2);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
