/*
 * Modes on the real kernel: audit (deny nothing, log what would have been
 * denied), learn (record a run, write a policy) and the per-target
 * override with sysgate-run --mode, which the config must allow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* A strict policy: mkdir denied and getppid emulated by handlers, an
 * open of /etc/hostname killed by one; kill(2) denied and getpid killed
 * in the kernel. */
#define STRICT_SRC \
	"return sysgate.policy { name = 'strict',\n" \
	"  kernel = { deny = { 'kill', errno = 'EACCES' }, kill = { 'getpid' } },\n" \
	"  on = {\n" \
	"    mkdir = sysgate.deny('EROFS'),\n" \
	"    getppid = sysgate.emulate(4242),\n" \
	"    openat = function(c)\n" \
	"      if c.path == '/etc/hostname' then return sysgate.kill() end\n" \
	"      return sysgate.allow()\n" \
	"    end,\n" \
	"  } }\n"
/* Audit mode as the policy's own, over a default that kills. */
#define AUDITED_SRC \
	"return sysgate.policy { name = 'audited', mode = 'audit', default = 'kill',\n" \
	"  on = { getppid = sysgate.allow() } }\n"

static const char *const strict_names[] = { "strict" };
static const char *const strict_srcs[] = { STRICT_SRC };
static const char *const audit_names[] = { "strict", "audited" };
static const char *const audit_srcs[] = { STRICT_SRC, AUDITED_SRC };
static const char *const audit_entries[] = { "modes = [ \"audit\" ];", NULL };

static json_object *find_would(json_object *log, const char *syscall)
{
	json_object *ev = log_find(log, "would_deny", "syscall", syscall);

	if (!ev)
		fail_msg("no would_deny for %s in the log", syscall);
	assert_string_equal(str_field(ev, "sent"), "allow");
	return ev;
}

/* A program the strict policy breaks (a denied mkdir, an emulated
 * getppid, a kernel-denied kill, a kernel-killed getpid, a handler's
 * kill) completes in audit mode, and the log has a would_deny with the
 * verdict enforce mode gave for each, and no denial. */
static void test_audit(void **state)
{
	char dir[] = "/tmp/sysgate-modes.XXXXXX", sub[64], line[128];
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *ev;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/made", dir);
	const char *argv[] = { probe(), "mkdir", sub, "getppid", "open", "/etc/hostname", "sigcont",
			       "exit", "7", NULL };
	sgd_start_entries(&s, NULL, 2, audit_names, audit_srcs, audit_entries);

	/* Enforced, it is broken at every step and killed at the last. */
	run_under(&s, "strict", argv, &r);
	assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
	snprintf(line, sizeof(line), "mkdir %s: EROFS", sub);
	assert_contains(r.out, line);
	assert_contains(r.out, "getppid: ok 4242");
	assert_null(strstr(r.out, "open /etc/hostname"));

	run_under_mode(&s, "strict", "audit", argv, &r);
	assert_exited(&r, 7);
	snprintf(line, sizeof(line), "mkdir %s: ok 0", sub);
	assert_contains(r.out, line);
	assert_null(strstr(r.out, "getppid: ok 4242"));
	assert_contains(r.out, "open /etc/hostname: ok");
	assert_contains(r.out, "sigcont: ok 0");
	assert_true(log_wait(&s, "target_end", 2));

	log = sgd_log(&s);
	ev = log_find(log, "target_start", "mode", "audit");
	assert_non_null(ev);
	ev = find_would(log, "mkdir");
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "errno"), "EROFS");
	ev = find_would(log, "getppid");
	assert_string_equal(str_field(ev, "verdict"), "emulate");
	assert_string_equal(str_field(ev, "value"), "4242");
	ev = find_would(log, "openat");
	assert_string_equal(str_field(ev, "verdict"), "kill");
	assert_string_equal(str_field(ev, "path"), "/etc/hostname");
	ev = find_would(log, "kill");
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "errno"), "EACCES");
	assert_string_equal(str_field(ev, "reason"), "kernel.deny");
	ev = find_would(log, "getpid");
	assert_string_equal(str_field(ev, "verdict"), "kill");
	assert_string_equal(str_field(ev, "reason"), "kernel.kill");
	assert_int_equal(log_count(log, "would_deny", NULL, NULL), 5);
	/* The enforced run's own decisions are all there is: 3 by handlers. */
	assert_int_equal(log_count(log, "decision", NULL, NULL), 3);
	ev = log_find(log, "target_end", "exit_status", "7");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "denied"), "0");
	assert_string_equal(str_field(ev, "would_deny"), "5");
	json_object_put(log);

	/* A policy whose own mode is audit, over default = "kill": every
	 * call it does not name would kill, and none does. */
	run_under(&s, "audited", argv, &r);
	assert_exited(&r, 7);
	assert_contains(r.out, "sigcont: ok 0");
	assert_true(log_wait(&s, "target_end", 3));
	log = sgd_log(&s);
	ev = log_find(log, "would_deny", "policy", "audited");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "verdict"), "kill");
	assert_string_equal(str_field(ev, "reason"), "default");
	json_object_put(log);
	sgd_stop(&s);
	snprintf(line, sizeof(line), "rm -rf '%s'", dir);
	assert_int_equal(system(line), 0);
}

/* --mode is the config's to allow, per policy: without `modes` only the
 * policy's own mode is accepted, and a refused mode never runs the
 * command (125, nothing executed). */
static void test_mode_override_refused(void **state)
{
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *ev;
	const char *argv[] = { probe(), "getppid", NULL };

	(void)state;
	sgd_start_entries(&s, NULL, 1, strict_names, strict_srcs, NULL);
	run_under_mode(&s, "strict", "audit", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "mode 'audit' is not allowed for policy 'strict'");
	assert_null(strstr(r.out, "getppid"));
	run_under_mode(&s, "strict", "learn", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "mode 'learn' is not allowed");
	/* Asking for the policy's own mode needs no permission. */
	run_under_mode(&s, "strict", "enforce", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok 4242");
	/* sysgate-run checks the name itself. */
	run_under_mode(&s, "strict", "permissive", argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "invalid mode");

	log = sgd_log(&s);
	assert_int_equal(log_count(log, "handshake_refused", "policy", "strict"), 2);
	ev = log_find(log, "target_start", "policy", "strict");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "mode"), "enforce");
	json_object_put(log);
	sgd_stop(&s);
}

/* A handler that fails gets the fallback in enforce mode; in audit mode
 * the call goes on, with its error event and a would_deny that carries
 * the fallback. */
static const char *const flaky_names[] = { "flaky" };
static const char *const flaky_srcs[] = {
	"return sysgate.policy { name = 'flaky', on = {\n"
	"  geteuid = function(c) error('boom') end } }\n"
};
static const char *const flaky_entries[] = { "modes = [ \"audit\" ];" };

static void test_audit_fallback(void **state)
{
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *ev;
	const char *argv[] = { "/usr/bin/id", "-u", NULL };

	(void)state;
	sgd_start_entries(&s, NULL, 1, flaky_names, flaky_srcs, flaky_entries);
	run_under(&s, "flaky", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "4294967295"); /* geteuid failed with EPERM: -1 */
	run_under_mode(&s, "flaky", "audit", argv, &r);
	assert_exited(&r, 0);
	assert_string_equal(r.out, "0\n");
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	ev = log_find(log, "would_deny", "syscall", "geteuid");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "errno"), "EPERM");
	assert_string_equal(str_field(ev, "fallback"), "true");
	assert_int_equal(log_count(log, "error", "syscall", "geteuid"), 2);
	assert_int_equal(log_count(log, "decision", "syscall", "geteuid"), 1);
	json_object_put(log);
	sgd_stop(&s);
}

/* ---- learn ---- */

/* The workload: reads files, runs ls, cat and sh -c, connects to a
 * loopback port with the probe; with "more", also reads a file and runs
 * a program it did not before. */
static const char workload[] =
	"cd \"$1\"\n"
	"cat a.txt\n"
	"ls\n"
	"sh -c 'cat b.txt; echo inner'\n"
	"\"$2\" connect 127.0.0.1 \"$3\"\n"
	"if [ \"$4\" = more ]; then\n"
	"  cat never.txt\n"
	"  id -u\n"
	"fi\n"
	"exit 3\n";

typedef struct work {
	char dir[64], data[96], script[96], learned[96], port[16];
	int server;
} work_t;

static void put_file(const char *dir, const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void work_init(work_t *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char path[160];

	snprintf(w->dir, sizeof(w->dir), "/tmp/sysgate-modes.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	assert_int_equal(chmod(w->dir, 0755), 0);
	snprintf(w->data, sizeof(w->data), "%s/data", w->dir);
	assert_int_equal(mkdir(w->data, 0755), 0);
	put_file(w->data, "a.txt", "alpha\n", path, sizeof(path));
	put_file(w->data, "b.txt", "beta\n", path, sizeof(path));
	put_file(w->data, "never.txt", "never\n", path, sizeof(path));
	put_file(w->dir, "work.sh", workload, w->script, sizeof(w->script));
	/* learn_dir: the supervisor's alone. */
	snprintf(w->learned, sizeof(w->learned), "%s/learned", w->dir);
	assert_int_equal(mkdir(w->learned, 0700), 0);
	/* The loopback peer: connections wait in its backlog. */
	w->server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(w->server >= 0);
	assert_int_equal(bind(w->server, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(w->server, 64), 0);
	assert_int_equal(getsockname(w->server, (struct sockaddr *)&sa, &len), 0);
	snprintf(w->port, sizeof(w->port), "%d", ntohs(sa.sin_port));
}

static void work_free(work_t *w)
{
	char cmd[128];

	close(w->server);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	assert_int_equal(system(cmd), 0);
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const char *const work_names[] = { "work" };
static const char *const work_srcs[] = { "return sysgate.policy { name = 'work' }\n" };
static const char *const work_entries[] = { "modes = [ \"learn\" ];" };

/* Runs sysgated --check on a config naming the file; its stdout. */
static void check_policy(const work_t *w, const char *file, char *out, size_t len)
{
	char conf[160], cmd[512];
	FILE *f, *p;
	size_t n;

	snprintf(conf, sizeof(conf), "%s/check.conf", w->dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "socket = \"%s/check.sock\";\npolicies = ( { name = \"learned\"; file = \"%s\"; } );\n",
		w->dir, file);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' --check 2>&1", env_path("SYSGATED"), conf);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
}

/* Learn a policy from a real workload, load it in enforce mode, run the
 * workload again: the same output and exit status, and nothing denied.
 * Reading a file it never read, and running a program it never ran, are
 * denied. */
static void test_learn_roundtrip(void **state)
{
	work_t w;
	sgd_proc_t s;
	run_result_t learned_run, r;
	json_object *log, *ev;
	char extra[160], out[1024], *src;
	const char *file, *names[1] = { "learned" }, *srcs[1];

	(void)state;
	work_init(&w);
	const char *argv[] = { "/bin/sh", w.script, w.data, probe(), w.port, NULL };
	const char *more[] = { "/bin/sh", w.script, w.data, probe(), w.port, "more", NULL };

	snprintf(extra, sizeof(extra), "learn_dir = \"%s\";", w.learned);
	sgd_start_entries(&s, extra, 1, work_names, work_srcs, work_entries);
	run_under_mode(&s, "work", "learn", argv, &learned_run);
	assert_exited(&learned_run, 3);
	assert_contains(learned_run.out, "alpha\na.txt\nb.txt\nnever.txt\n");
	assert_contains(learned_run.out, "beta\ninner\n");
	assert_contains(learned_run.out, "connect 127.0.0.1: ok 0");
	assert_true(log_wait(&s, "learned", 1));
	log = sgd_log(&s);
	ev = log_find(log, "learned", "policy", "work");
	assert_non_null(ev);
	file = str_field(ev, "file");
	assert_non_null(file);
	assert_int_equal(strncmp(file, w.learned, strlen(w.learned)), 0);
	assert_string_equal(str_field(ev, "dropped"), "0");
	assert_non_null(log_find(log, "target_start", "mode", "learn"));
	assert_int_equal(log_count(log, "decision", NULL, NULL), 0);
	src = slurp_file(file);
	check_policy(&w, file, out, sizeof(out));
	assert_contains(out, "ok, 1 policy");
	json_object_put(log);
	sgd_stop(&s);

	/* What it learned, by name. */
	assert_contains(src, "default = \"deny\"");
	assert_contains(src, "/data/a.txt\"");
	assert_contains(src, "\"/usr/bin/ls\"");
	assert_contains(src, "\"inet 127.0.0.1 ");
	assert_null(strstr(src, "never.txt\""));

	srcs[0] = src;
	sgd_start(&s, NULL, 1, names, srcs);
	run_under(&s, "learned", argv, &r);
	assert_exited(&r, 3);
	assert_string_equal(r.out, learned_run.out);
	assert_string_equal(r.err, learned_run.err);
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "decision", NULL, NULL), 0);
	assert_int_equal(log_count(log, "error", NULL, NULL), 0);
	assert_non_null(log_find(log, "target_end", "denied", "0"));
	json_object_put(log);

	/* Outside what was learned: denied, and the rest still works. */
	run_under(&s, "learned", more, &r);
	assert_exited(&r, 3);
	assert_contains(r.out, "connect 127.0.0.1: ok 0");
	assert_null(strstr(r.out, "never\n"));
	assert_contains(r.err, "never.txt: Permission denied");
	assert_contains(r.err, "id: Permission denied");
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	ev = log_find(log, "decision", "path", "never.txt");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "errno"), "EACCES");
	assert_string_equal(str_field(ev, "message"), "read not in the learned policy");
	ev = log_find(log, "decision", "syscall", "execve");
	assert_non_null(ev);
	assert_string_equal(str_field(ev, "verdict"), "deny");
	assert_string_equal(str_field(ev, "message"), "exec not in the learned policy");
	json_object_put(log);
	sgd_stop(&s);
	free(src);
	work_free(&w);
}

static const char *const learner_names[] = { "learner" };
static const char *const learner_srcs[] = {
	"return sysgate.policy { name = 'learner', mode = 'learn' }\n"
};

/* Reads the target's stdout until it holds want. */
static void read_until(int fd, const char *want)
{
	char buf[4096] = "";
	size_t off = 0;

	while (!strstr(buf, want)) {
		ssize_t n = read(fd, buf + off, sizeof(buf) - 1 - off);

		if (n <= 0)
			fail_msg("the target ended before printing '%s'", want);
		off += (size_t)n;
		buf[off] = '\0';
	}
}

/* A policy whose own mode is learn; SIGUSR1 writes what was learned so
 * far while the target runs, and its end writes the whole run. Learn
 * mode without a learn_dir is a config error. */
static void test_learn_snapshot(void **state)
{
	work_t w;
	sgd_proc_t s;
	json_object *log;
	char extra[160], out[1024], *src;
	const char *file;
	int in, outfd, status;
	pid_t pid;

	(void)state;
	work_init(&w);
	snprintf(extra, sizeof(extra), "learn_dir = \"%s\";", w.learned);
	sgd_start(&s, extra, 1, learner_names, learner_srcs);
	const char *argv[] = { probe(), "open", "/etc/hostname", "wait", "open", "/etc/passwd", NULL };
	pid = run_under_async(&s, "learner", argv, &in, &outfd);
	read_until(outfd, "open /etc/hostname: ok");
	assert_int_equal(kill(s.pid, SIGUSR1), 0);
	assert_true(log_wait(&s, "learned", 1));
	log = sgd_log(&s);
	file = str_field(log_find(log, "learned", "policy", "learner"), "file");
	assert_non_null(file);
	assert_non_null(strstr(file, "-snapshot.lua"));
	src = slurp_file(file);
	assert_contains(src, "\"/etc/hostname\"");
	assert_contains(src, "a snapshot: the target was still running");
	assert_null(strstr(src, "/etc/passwd"));
	free(src);
	json_object_put(log);

	assert_int_equal(write(in, "\n", 1), 1);
	close(in);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(outfd);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(log_wait(&s, "learned", 2));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "learned", NULL, NULL), 2);
	file = NULL;
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		const char *f = str_field(json_object_array_get_idx(log, i), "file");

		if (f && !strstr(f, "snapshot"))
			file = f;
	}
	assert_non_null(file);
	src = slurp_file(file);
	assert_contains(src, "\"/etc/passwd\"");
	check_policy(&w, file, out, sizeof(out));
	assert_contains(out, "ok, 1 policy");
	free(src);
	json_object_put(log);
	sgd_stop(&s);

	/* Learn mode needs somewhere to write. */
	{
		char conf[160], pol[160], cmd[512];
		FILE *p;
		size_t n;

		put_file(w.dir, "learner.lua", learner_srcs[0], pol, sizeof(pol));
		snprintf(out, sizeof(out), "socket = \"%s/s\";\npolicies = ( { name = \"learner\"; "
			 "file = \"%s\"; } );\n", w.dir, pol);
		put_file(w.dir, "nodir.conf", out, conf, sizeof(conf));
		snprintf(cmd, sizeof(cmd), "'%s' -c '%s' --check 2>&1", env_path("SYSGATED"), conf);
		p = popen(cmd, "r");
		assert_non_null(p);
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		assert_int_equal(WEXITSTATUS(pclose(p)), 1);
		assert_contains(out, "policy 'learner' is in learn mode but the config sets no 'learn_dir'");
	}
	work_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mode_override_refused, sgd_teardown),
		cmocka_unit_test_teardown(test_audit, sgd_teardown),
		cmocka_unit_test_teardown(test_audit_fallback, sgd_teardown),
		cmocka_unit_test_teardown(test_learn_roundtrip, sgd_teardown),
		cmocka_unit_test_teardown(test_learn_snapshot, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
