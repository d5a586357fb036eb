/*
 * Pointer arguments: enforce means enforce (docs/security.md, "Pointer
 * arguments"). The attacker is a process that may write the target's
 * memory, not a thread of it: this test is the target's parent, outside
 * sysgate, and rewrites the target's sockaddr with process_vm_writev while
 * the target, single-threaded, connects. With pointer_args = "advisory"
 * the race reaches the denied port; with "enforce" no connect whose
 * handler read the address is carried out by the kernel, so the denied
 * port is never reached in 100,000 tries. The other calls enforce cannot
 * carry out on the checked address (AF_UNIX connect, bind, sendto,
 * sendmsg) are refused, with the reason logged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define RACE_TRIES "100000"

/* ---- two loopback listeners, and who connected to them ---- */

typedef struct listeners {
	int fd[2]; /* 0: the allowed port, 1: the denied one */
	int port[2];
	atomic_long accepted[2];
	atomic_bool stop;
	pthread_t thread;
} listeners_t;

static int listen_loopback(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4096), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Accepts whatever is queued on either listener, counting it. */
static void drain(listeners_t *l)
{
	for (int i = 0; i < 2; i++) {
		int c;

		while ((c = accept4(l->fd[i], NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			atomic_fetch_add(&l->accepted[i], 1);
			close(c);
		}
	}
}

static void *accept_main(void *arg)
{
	listeners_t *l = arg;

	while (!atomic_load(&l->stop)) {
		struct pollfd p[2] = { { l->fd[0], POLLIN, 0 }, { l->fd[1], POLLIN, 0 } };

		if (poll(p, 2, 50) > 0)
			drain(l);
	}
	drain(l); /* what the last connections left in the queues */
	return NULL;
}

static void listeners_start(listeners_t *l)
{
	memset(l, 0, sizeof(*l));
	l->fd[0] = listen_loopback(&l->port[0]);
	l->fd[1] = listen_loopback(&l->port[1]);
	assert_int_equal(pthread_create(&l->thread, NULL, accept_main, l), 0);
}

static void listeners_stop(listeners_t *l)
{
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	close(l->fd[0]);
	close(l->fd[1]);
}

/* ---- the writer: the parent rewriting the child's port ---- */

typedef struct writer {
	pid_t pid;
	uint64_t at; /* the address of the port in the child */
	uint16_t port[2]; /* network order: allowed, denied */
	atomic_bool stop;
	long writes;
} writer_t;

static void *writer_main(void *arg)
{
	writer_t *w = arg;

	for (unsigned i = 0; !atomic_load(&w->stop); i++) {
		uint16_t v = w->port[i & 1];
		struct iovec local = { &v, sizeof(v) };
		struct iovec remote = { (void *)(uintptr_t)w->at, sizeof(v) };

		if (process_vm_writev(w->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(v))
			break; /* the child is gone */
		w->writes++;
	}
	return NULL;
}

typedef struct race_result {
	long tries, allowed, denied, refused, other;
	long writes;
} race_result_t;

/* Runs rewrite_race under policy while this process flips its port
 * between the allowed and the denied one; returns what it saw. */
static void race_run(const sgd_proc_t *s, const char *policy, const listeners_t *l,
		     race_result_t *res)
{
	char allowed[16], denied[16], line[256];
	const char *argv[] = { env_path("REWRITE_RACE"), "race", allowed, denied, RACE_TRIES, NULL };
	writer_t w = { 0 };
	pthread_t th;
	int in, out, status;
	unsigned long long buf;

	snprintf(allowed, sizeof(allowed), "%d", l->port[0]);
	snprintf(denied, sizeof(denied), "%d", l->port[1]);
	w.pid = run_under_async(s, policy, argv, &in, &out);
	read_line(out, line, sizeof(line));
	if (sscanf(line, "buf %llx", &buf) != 1)
		fail_msg("no buffer address from the target: '%s'", line);
	w.at = buf + offsetof(struct sockaddr_in, sin_port);
	w.port[0] = htons((uint16_t)l->port[0]);
	w.port[1] = htons((uint16_t)l->port[1]);
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	assert_int_equal(write(in, "go\n", 3), 3);
	read_line(out, line, sizeof(line));
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	close(in);
	close(out);
	assert_int_equal(waitpid(w.pid, &status, 0), w.pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	memset(res, 0, sizeof(*res));
	if (sscanf(line, "race tries %ld allowed %ld denied %ld refused %ld other %ld", &res->tries,
		   &res->allowed, &res->denied, &res->refused, &res->other) != 5)
		fail_msg("no race result from the target: '%s'", line);
	res->writes = w.writes;
	fprintf(stderr,
		"race under %s: tries %ld, allowed %ld, denied port reached %ld, refused %ld, "
		"other %ld; %ld rewrites\n",
		policy, res->tries, res->allowed, res->denied, res->refused, res->other, res->writes);
}

/* The same policy twice, advisory and enforce: connect, bind, sendto and
 * sendmsg read the address and deny the denied port. */
static void start(sgd_proc_t *s, int denied)
{
	static const char fmt[] =
		"local sg = sysgate\n"
		"local function check(c)\n"
		"  if c.addr.family == 'inet' and c.addr.port == %d then\n"
		"    return sg.deny('ECONNREFUSED')\n"
		"  end\n"
		"  return sg.allow()\n"
		"end\n"
		"return sg.policy { name = '%s', pointer_args = '%s', on = {\n"
		"  connect = check, bind = check, sendto = check, sendmsg = check,\n"
		"  execve = function(c)\n"
		"    if c.path == '/nonexistent/denied' then return sg.deny() end\n"
		"    return sg.allow():log('exec')\n"
		"  end } }\n";
	static char src[2][1024];
	static const char *const names[] = { "advisory", "enforce" };
	const char *srcs[2] = { src[0], src[1] };

	for (int i = 0; i < 2; i++)
		snprintf(src[i], sizeof(src[i]), fmt, denied, names[i], names[i]);
	sgd_start(s, NULL, 2, names, srcs);
}

/* A parent rewrites the sockaddr of its single-threaded child between
 * the check and the connect. Advisory, the denied port is reached (the
 * test can fail); enforce, never in 100,000 tries, and every connect that
 * read the address is refused with the reason logged. */
static void test_connect_rewrite_race(void **state)
{
	listeners_t l;
	sgd_proc_t s;
	race_result_t r;
	json_object *log, *d;
	long before;

	(void)state;
	listeners_start(&l);
	start(&s, l.port[1]);

	race_run(&s, "enforce", &l, &r);
	assert_int_equal(r.tries, atol(RACE_TRIES));
	assert_int_equal(r.denied, 0);
	assert_int_equal(r.allowed, 0);
	assert_int_equal(r.refused, r.tries);
	assert_true(r.writes > 0);
	before = atomic_load(&l.accepted[1]);

	race_run(&s, "advisory", &l, &r);
	assert_int_equal(r.denied, 1); /* the race is real: it stops at its first win */

	listeners_stop(&l);
	fprintf(stderr, "accepted: allowed port %ld, denied port %ld (%ld before advisory)\n",
		atomic_load(&l.accepted[0]), atomic_load(&l.accepted[1]), before);
	assert_int_equal(before, 0);

	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	d = NULL;
	for (size_t i = 0; !d && i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *pol = str_field(e, "policy"), *why = str_field(e, "reason");

		if (pol && strcmp(pol, "enforce") == 0 && why)
			d = e;
	}
	if (!d)
		fail_msg("no decision of the enforce run says why");
	assert_string_equal(str_field(d, "verdict"), "deny");
	assert_string_equal(str_field(d, "syscall"), "connect");
	assert_contains(str_field(d, "reason"), "pointer_args = \"enforce\"");
	json_object_put(log);
	sgd_stop(&s);
}

/* Runs rewrite_race call OP ARG under policy; returns its output line. */
static void call_run(const sgd_proc_t *s, const char *policy, const char *op, const char *arg,
		     const char *want)
{
	const char *argv[] = { env_path("REWRITE_RACE"), "call", op, arg, NULL };
	char line[128];
	run_result_t r;

	run_under(s, policy, argv, &r);
	assert_exited(&r, 0);
	snprintf(line, sizeof(line), "%s: %s\n", op, want);
	assert_contains(r.out, line);
}

/* The calls enforce cannot carry out on the checked address are refused:
 * an AF_UNIX connect (sysgated connecting for the target would give the
 * peer sysgated's credentials), bind, sendto and sendmsg with an address.
 * Advisory, the same calls go through: the refusal is enforce's. execve,
 * whose handler reads c.path, is allowed and marked advisory. */
static void test_enforce_refuses(void **state)
{
	static const char *const ops[] = { "connect-unix", "bind-inet", "sendto-inet",
					   "sendmsg-inet" };
	static const char *const calls[] = { "connect", "bind", "sendto", "sendmsg" };
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/sg-rewrite-XXXXXX", port[16];
	sgd_proc_t s;
	json_object *log;
	int fd, execs = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(su.sun_path, sizeof(su.sun_path), "%s/sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	assert_int_equal(listen(fd, 16), 0);
	snprintf(port, sizeof(port), "%d", free_port());
	start(&s, 1); /* the denied port is one nobody uses here */

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const char *arg = i == 0 ? su.sun_path : port;

		call_run(&s, "advisory", ops[i], arg, "ok");
		call_run(&s, "enforce", ops[i], arg, "EPERM");
	}

	assert_true(log_wait(&s, "target_end", 8));
	log = sgd_log(&s);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		json_object *d = NULL;

		for (size_t k = 0; !d && k < json_object_array_length(log); k++) {
			json_object *e = json_object_array_get_idx(log, k);
			const char *pol = str_field(e, "policy"), *sc = str_field(e, "syscall");
			const char *ev = str_field(e, "event");

			if (ev && strcmp(ev, "decision") == 0 && pol && strcmp(pol, "enforce") == 0 &&
			    sc && strcmp(sc, calls[i]) == 0)
				d = e;
		}
		if (!d)
			fail_msg("no decision logged for %s under enforce", calls[i]);
		assert_string_equal(str_field(d, "verdict"), "deny");
		assert_contains(str_field(d, "reason"), "pointer_args = \"enforce\"");
	}
	/* execve is the documented exception: the program was started
	 * (sysgate-run's execve of it is forwarded), and its allow is
	 * marked advisory under enforce too. */
	for (size_t k = 0; k < json_object_array_length(log); k++) {
		json_object *e = json_object_array_get_idx(log, k), *adv;
		const char *pol = str_field(e, "policy"), *sc = str_field(e, "syscall");

		if (!pol || strcmp(pol, "enforce") != 0 || !sc || strcmp(sc, "execve") != 0)
			continue;
		assert_string_equal(str_field(e, "verdict"), "allow");
		assert_true(json_object_object_get_ex(e, "advisory", &adv) &&
			    json_object_get_boolean(adv));
		execs++;
	}
	assert_int_equal(execs, 4); /* one per run under enforce */
	json_object_put(log);
	sgd_stop(&s);
	close(fd);
	unlink(su.sun_path);
	rmdir(dir);
}

POLICY(dirs, "local sg = sysgate\n"
	     "return sg.policy { name = 'dirs', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.abspath:find('^/etc/') then return sg.deny('EACCES') end\n"
	     "    return sg.open()\n"
	     "  end } }\n");

/* Runs rewrite_race MODE DIR N; returns tries, ok, failed, leaked. */
static void dir_run(const sgd_proc_t *s, const char *mode, const char *dir, long out[4])
{
	const char *argv[] = { env_path("REWRITE_RACE"), mode, dir, RACE_TRIES, NULL };
	run_result_t r;
	const char *p;

	run_under(s, "dirs", argv, &r);
	assert_exited(&r, 0);
	p = strstr(r.out, "dir tries ");
	if (!p || sscanf(p, "dir tries %ld ok %ld failed %ld leaked %ld", &out[0], &out[1], &out[2],
			 &out[3]) != 4)
		fail_msg("no result from the target:\n%s\n%s", r.out, r.err);
	fprintf(stderr, "%s race: tries %ld, ok %ld, failed %ld, leaked %ld\n", mode, out[0], out[1],
		out[2], out[3]);
}

/* The brokered open acts on the directory the handler saw. A policy
 * denies c.abspath under /etc and brokers the rest; a second thread of
 * the target flips its cwd (or the directory its dirfd names) between a
 * directory holding a harmless "shadow" and /etc while the first opens
 * "shadow" relative to it. /etc/shadow is never read in 100,000 opens:
 * an open whose directory changed after the check fails with the reason
 * logged. Both sides of the flip are seen, so the race was run. */
static void test_brokered_open_directory_race(void **state)
{
	char dir[] = "/tmp/sg-dirs-XXXXXX", file[64];
	const char *modes[] = { "cwd", "dirfd" };
	sgd_proc_t s;
	json_object *log, *d;
	long r[4];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/shadow", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("ALLOWED\n", f);
	fclose(f);
	START(&s, dirs, NULL);
	for (size_t i = 0; i < 2; i++) {
		dir_run(&s, modes[i], dir, r);
		assert_int_equal(r[0], atol(RACE_TRIES));
		assert_int_equal(r[3], 0);
		assert_true(r[1] > 0); /* the harmless file was opened */
		assert_true(r[2] > 0); /* and /etc was seen, and refused */
	}
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	d = NULL;
	for (size_t i = 0; !d && i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *why = str_field(e, "reason");

		if (why && strstr(why, "working directory"))
			d = e;
	}
	if (!d)
		fail_msg("no brokered open refused for a changed directory in the log");
	assert_string_equal(str_field(d, "verdict"), "open");
	assert_string_equal(str_field(d, "errno"), "EPERM");
	json_object_put(log);
	sgd_stop(&s);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_connect_rewrite_race, sgd_teardown),
		cmocka_unit_test_teardown(test_enforce_refuses, sgd_teardown),
		cmocka_unit_test_teardown(test_brokered_open_directory_race, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
