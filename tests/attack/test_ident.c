/*
 * The target is the process that owns the listener (docs/security.md,
 * "Tenants"). A launcher connects and hands over a listener that another
 * process loaded and passed to it over SCM_RIGHTS, and that other process
 * makes the proof call itself (hand_other): sysgated refuses the target,
 * says why in the log, and sysgate-run's ordinary launch still works.
 *
 * The new side of a takeover checks what the old side says of a target
 * against its own config: a fake old side (this test, speaking the
 * takeover protocol, supervisor/takeover_msg.h) hands over a real
 * listener with a mode the config refuses, a pid that is not its pidfd's,
 * or no pidfd: `sysgated --takeover` refuses the takeover, and says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "takeover_msg.h"

#define MARK "/nonexistent/sysgate-ident-mark"

POLICY(ident, "local function mk(c)\n"
	      "  if c.path == '" MARK "' then return sysgate.deny('EPERM') end\n"
	      "  return sysgate.allow()\n"
	      "end\n"
	      "return sysgate.policy { name = 'ident', on = { mkdir = mk, mkdirat = mk } }\n");

#define NOT_OWN "the listener handed over is not the launcher's"

static void test_listener_of_another_process(void **state)
{
	const char *probe_argv[] = { probe(), "mkdir", MARK, NULL };
	const char *argv[] = { env_path("HAND_OTHER"), NULL, "ident", NULL };
	char cmd[1024];
	run_result_t r;
	json_object *log, *ev;
	FILE *p;
	char out[1024] = "";

	(void)state;
	sgd_proc_t s;
	START(&s, ident, NULL);
	argv[1] = s.socket;
	snprintf(cmd, sizeof(cmd), "%s %s %s", argv[0], argv[1], argv[2]);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	assert_contains(out, "refused: " NOT_OWN);
	assert_true(log_wait(&s, "handshake_refused", 1));
	log = sgd_log(&s);
	ev = log_find(log, "handshake_refused", NULL, NULL);
	assert_non_null(ev);
	assert_contains(json_object_to_json_string(ev), NOT_OWN);
	assert_null(log_find(log, "target_start", NULL, NULL));
	json_object_put(log);
	/* The ordinary launch: the proof comes from the target itself. */
	run_under(&s, "ident", probe_argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "mkdir " MARK ": EPERM");
	sgd_stop(&s);
}

/* ---- the takeover's new side --------------------------------------- */

enum lie { LIE_MODE, LIE_PID, LIE_NO_PIDFD };

static void tk_hdr(void *m, uint16_t type, size_t len)
{
	tk_header_t h = { TK_MAGIC, TK_VERSION, type, (uint32_t)len, 0 };

	memset(m, 0, len);
	memcpy(m, &h, sizeof(h));
}

static void send_fds(int sock, const void *p, size_t len, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	struct iovec iov = { (void *)p, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	if (sendmsg(sock, &m, MSG_NOSIGNAL) != (ssize_t)len)
		_exit(40);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		_exit(41);
	return fd;
}

/* A process under a filter of its own, its listener sent back on sock;
 * it ends when the other end (other) is closed. */
static pid_t filtered_child(int sock, int other)
{
	struct sock_filter allow[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 4, allow };
	pid_t pid = fork();
	char c;
	long fd;

	if (pid != 0)
		return pid;
	close(other);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0)
		_exit(42);
	send_fds(sock, "L", 1, (int[]){ (int)fd }, 1);
	close((int)fd);
	while (read(sock, &c, 1) != 0) /* until the fake old side is gone */
		;
	_exit(0);
}

/*
 * The fake old side: listens on the two sockets, answers REQUEST with
 * BEGIN and one TARGET that lies as `lie` says, then writes the new side's
 * answer (its REFUSE reason, or "ACCEPT") to report and waits to be killed.
 */
static _Noreturn void fake_old_side(const sgd_proc_t *s, enum lie lie, int report)
{
	static tk_target_t t;
	static unsigned char in[SG_PROTO_MAX_MSG] __attribute__((aligned(8)));
	char tpath[400];
	int sp[2], lfd, pidfd, ctl, main_sock, conn;
	tk_begin_t b;
	tk_end_t e;
	pid_t child;
	size_t n;
	ssize_t got;
	int fds[SG_PROTO_MAX_FDS];

	snprintf(tpath, sizeof(tpath), "%s.takeover", s->socket);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		_exit(43);
	child = filtered_child(sp[1], sp[0]);
	close(sp[1]);
	main_sock = listen_on(s->socket);
	ctl = listen_on(tpath);
	if (sg_proto_recv(sp[0], in, sizeof(in), fds, &n) != 1 || n != 1)
		_exit(44);
	lfd = fds[0];
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0)
		_exit(45);
	if (write(report, "L", 1) != 1) /* listening: start the new side */
		_exit(46);
	conn = accept4(ctl, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || recv(conn, in, sizeof(in), 0) <= 0) /* REQUEST */
		_exit(47);
	tk_hdr(&b, TK_BEGIN, sizeof(b));
	b.pid = (uint32_t)getpid();
	b.ntargets = 1;
	b.next_target_id = 2;
	send_fds(conn, &b, sizeof(b), (int[]){ main_sock, ctl }, 2);
	tk_hdr(&t, TK_TARGET, sizeof(t));
	t.id = 1;
	t.pid = (uint32_t)(lie == LIE_PID ? getpid() : child);
	t.uid = 0;
	t.mode = lie == LIE_MODE ? SG_MODE_LEARN : SG_MODE_ENFORCE;
	t.flags = lie == LIE_NO_PIDFD ? 0 : TK_HAS_PIDFD;
	snprintf(t.policy, sizeof(t.policy), "ident");
	send_fds(conn, &t, sizeof(t), (int[]){ lfd, pidfd }, lie == LIE_NO_PIDFD ? 1 : 2);
	tk_hdr(&e, TK_END, sizeof(e));
	e.ntargets = 1;
	send_fds(conn, &e, sizeof(e), NULL, 0);
	got = recv(conn, in, sizeof(in) - 1, 0);
	if (got > (ssize_t)sizeof(tk_header_t) && ((const tk_header_t *)in)->type == TK_REFUSE) {
		const char *why = (const char *)in + sizeof(tk_header_t);

		if (write(report, why, strnlen(why, SG_PROTO_MAX_REASON)) < 0)
			_exit(48);
	} else if (write(report, got > 0 ? "ACCEPT" : "EOF", got > 0 ? 6 : 3) < 0) {
		_exit(49);
	}
	if (write(report, "\n", 1) != 1)
		_exit(50);
	close(report);
	for (;;)
		pause();
}

static pid_t fake_pid; /* killed by the teardown if a test fails midway */

static int fake_teardown(void **state)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	fake_pid = 0;
	return sgd_teardown(state);
}

static void takeover_lie(enum lie lie, const char *want)
{
	sgd_proc_t s;
	int pipefd[2], status;
	char out[1024] = "";
	ssize_t n;
	pid_t fake;
	size_t off = 0;

	START(&s, ident, NULL);
	(void)sgd_term(&s); /* its sockets are the fake's to bind */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	fake = fork();
	assert_true(fake >= 0);
	if (fake == 0) {
		close(pipefd[0]);
		fake_old_side(&s, lie, pipefd[1]);
	}
	fake_pid = fake;
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], out, 1), 1);
	s.pid = fake;
	/* The new side refuses and exits; the fake, the old side, is left. */
	assert_false(sgd_takeover(&s, &status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	/* Up to the newline: the filtered child holds the pipe open too. */
	while (off < sizeof(out) - 1 && (off == 0 || out[off - 1] != '\n') &&
	       (n = read(pipefd[0], out + off, sizeof(out) - 1 - off)) > 0)
		off += (size_t)n;
	out[off] = '\0';
	close(pipefd[0]);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	fake_pid = 0;
	assert_contains(out, want);
	sgd_cleanup(&s);
}

static void test_takeover_mode_not_allowed(void **state)
{
	(void)state;
	takeover_lie(LIE_MODE, "in mode 'learn', which the new config does not allow");
}

static void test_takeover_pid_not_pidfds(void **state)
{
	(void)state;
	takeover_lie(LIE_PID, "the fds are not its listener and pidfd");
}

static void test_takeover_without_pidfd(void **state)
{
	(void)state;
	takeover_lie(LIE_NO_PIDFD, "comes without a pidfd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_listener_of_another_process, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_mode_not_allowed, fake_teardown),
		cmocka_unit_test_teardown(test_takeover_pid_not_pidfds, fake_teardown),
		cmocka_unit_test_teardown(test_takeover_without_pidfd, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
