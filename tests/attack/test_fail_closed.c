/*
 * Fail closed, also after sysgated is gone (docs/security.md): a target
 * whose supervisor stopped or was killed (by the test, or by the target
 * itself) cannot take its calls back with a filter of its own, a
 * cooperating tracer cannot step around sysgate's filter, every filter
 * sysgate compiles (every policy shape, every mode) carries the guard,
 * and no target can make sysgated's reads of its memory wait on a
 * userfaultfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "sysgate/protocol.h"

/* Every way of opening a file is forwarded; creating "pwned" is denied. */
#define FC_SRC(name, extra) \
	"local function f(c)\n" \
	"  if c.path and c.path:find('pwned', 1, true) then return sysgate.deny('EACCES') end\n" \
	"  return sysgate.allow()\n" \
	"end\n" \
	"return sysgate.policy { name = '" name "', " extra \
	"  on = { openat = f, open = f, creat = f, openat2 = f } }\n"

POLICY(fc, FC_SRC("fc", ""));

enum stop { BY_TERM, BY_KILL, BY_TARGET };

/* A directory anyone may write, and the file the policy denies in it. */
static void make_dir(char *dir, size_t len, char *path, size_t plen)
{
	snprintf(dir, len, "/tmp/sysgate-fc.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(path, plen, "%s/pwned", dir);
}

static void remove_dir(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

/* Reads fd to its end into buf. */
static void read_all(int fd, char *buf, size_t len)
{
	size_t off = strlen(buf);
	ssize_t n;

	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	close(fd);
}

/* Reads lines into buf until one is "ready" (or the end). */
static void wait_ready(int fd, char *buf, size_t len)
{
	char line[256];

	buf[0] = '\0';
	do {
		read_line(fd, line, sizeof(line));
		snprintf(buf + strlen(buf), len - strlen(buf), "%s\n", line);
	} while (line[0] && strcmp(line, "ready") != 0);
	if (strcmp(line, "ready") != 0)
		fail_msg("the target did not get ready:\n%s", buf);
}

static void assert_absent(const char *path, const char *out)
{
	struct stat st;

	if (stat(path, &st) == 0 || errno != ENOENT)
		fail_msg("%s was created; the target said:\n%s", path, out);
}

/*
 * The target (own_listener AS) is shown the policy, then sysgated goes
 * (how), then it stacks its own filters and tries to create the denied
 * file each time.
 */
static void own_listener_after(const char *as, enum stop how)
{
	char dir[64], path[96], pid[16], out[8192];
	const char *argv[] = { env_path("OWN_LISTENER"), as, path, how == BY_TARGET ? pid : NULL,
			       NULL };
	int in, rd, status;
	sgd_proc_t s;
	pid_t t;

	make_dir(dir, sizeof(dir), path, sizeof(path));
	START(&s, fc, NULL);
	snprintf(pid, sizeof(pid), "%d", (int)s.pid);
	t = run_under_async(&s, "fc", argv, &in, &rd);
	wait_ready(rd, out, sizeof(out));
	assert_contains(out, "create under sysgated: EACCES\n");
	if (how == BY_TERM)
		(void)sgd_term(&s);
	else if (how == BY_KILL)
		sgd_kill(&s);
	assert_int_equal(write(in, "go\n", 3), 3);
	close(in);
	read_all(rd, out, sizeof(out));
	assert_int_equal(waitpid(t, &status, 0), t);
	if (how == BY_TARGET) {
		assert_contains(out, "kill sysgated: ok 0\n");
		sgd_kill(&s); /* reaps it: the target killed it */
	}
	assert_contains(out, "forwarded: ENOSYS\n");
	assert_contains(out, "listener: EPERM\n");
	assert_contains(out, "create after listener: ENOSYS\n");
	assert_contains(out, "listener tsync: EPERM\n");
	assert_contains(out, "create after tsync: ENOSYS\n");
	assert_contains(out, "prctl allow: ok 0\n");
	assert_contains(out, "create after prctl: ENOSYS\n");
	assert_contains(out, "trace: ok 0\n");
	assert_contains(out, "create after trace: ENOSYS\n");
	assert_contains(out, "suspend seccomp: EPERM\n");
	assert_contains(out, "done\n");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("target status 0x%x:\n%s", status, out);
	assert_absent(path, out);
	sgd_cleanup(&s);
	remove_dir(dir, path);
}

/* SIGTERM: sysgated stops in order; uid 0 with every capability. */
static void test_own_listener_after_sigterm(void **state)
{
	(void)state;
	own_listener_after("root", BY_TERM);
}

/* SIGKILL: an unprivileged uid. */
static void test_own_listener_after_sigkill(void **state)
{
	(void)state;
	own_listener_after("nobody", BY_KILL);
}

/* uid 0 without capabilities shares root sysgated's uid: it may kill it
 * (a denial of service), and then finds every call failed, not free. */
static void test_target_kills_sysgated(void **state)
{
	(void)state;
	own_listener_after("nocaps", BY_TARGET);
}

/*
 * A cooperating tracer outside sysgate (own_tracer, the target's parent):
 * after sysgated is killed, the target's TRACE filter does not outrank
 * sysgate's USER_NOTIF (the openat fails, the tracer never sees it), and
 * a getppid the tracer turns into an openat is filtered again by the
 * kernel as an openat: ENOSYS too.
 */
static void test_tracer_after_sigkill(void **state)
{
	char dir[64], path[96], out[8192];
	int in[2], rd[2], status;
	sgd_proc_t s;
	pid_t t;

	(void)state;
#if !defined(__x86_64__)
	skip(); /* own_tracer rewrites x86_64 registers */
#endif
	make_dir(dir, sizeof(dir), path, sizeof(path));
	START(&s, fc, NULL);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rd, O_CLOEXEC), 0);
	t = fork();
	assert_true(t >= 0);
	if (t == 0) {
		dup2(in[0], 0);
		dup2(rd[1], 1);
		execl(env_path("OWN_TRACER"), "own_tracer", env_path("SYSGATE_RUN"), "-s", s.socket,
		      "-p", "fc", "--", env_path("OWN_LISTENER"), "traced", path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(rd[1]);
	wait_ready(rd[0], out, sizeof(out));
	assert_contains(out, "create under sysgated: EACCES\n");
	sgd_kill(&s);
	assert_int_equal(write(in[1], "go\n", 3), 3);
	close(in[1]);
	read_all(rd[0], out, sizeof(out));
	assert_int_equal(waitpid(t, &status, 0), t);
	assert_contains(out, "forwarded: ENOSYS\n");
	assert_contains(out, "tracer: tracing\n");
	assert_contains(out, "trace filter: ok 0\n");
	assert_contains(out, "trace create: ENOSYS\n");
	assert_contains(out, "trace rewritten: ENOSYS\n");
	assert_contains(out, "tracer: rewrote 1, saw openat 0\n");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("status 0x%x:\n%s", status, out);
	assert_absent(path, out);
	sgd_cleanup(&s);
	remove_dir(dir, path);
}

/* ---- the listener_shared drop: the peer's side, in a child ---------- */

/*
 * A hostile peer hands sysgated the listener of the policy's own filter
 * (the SPEC's program, loaded on its thread "filtered") but keeps a copy
 * and races sysgated for the notifications, like tests/programs/steal.c;
 * sysgated drops it as listener_shared and closes its copy. Then the peer
 * closes its own: the listener is gone, as after sysgated stopped, and
 * the filtered thread tries a listener of its own and the denied create.
 */
static struct {
	const char *path;
	sg_spec_t spec;
	_Atomic int listener; /* -1: not yet; -2: failed */
	_Atomic int stop;
	pthread_t filtered;
} peer;

static void *peer_answer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	for (;;) {
		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			return NULL;
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static void *peer_filtered(void *arg)
{
	struct sock_fprog prog = { (unsigned short)peer.spec.n_bpf, peer.spec.bpf };
	struct sock_filter own[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog own_prog = { sizeof(own) / sizeof(own[0]), own };
	pthread_t th;
	long fd;

	(void)arg;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	atomic_store(&peer.listener, fd < 0 ? -2 : (int)fd);
	if (fd >= 0) /* the proof that the listener is this process's (protocol.h) */
		syscall(SYS_prctl, SG_PROTO_PROOF_OPTION, 0, 0, 0, 0);
	while (!atomic_load(&peer.stop))
		syscall(SYS_getppid);
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &own_prog);
	printf("listener: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	if (fd >= 0)
		pthread_create(&th, NULL, peer_answer, (void *)(intptr_t)fd);
	fd = syscall(SYS_openat, AT_FDCWD, peer.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	printf("create after listener: %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
	fflush(stdout);
	return NULL;
}

/* True when pid sits in ioctl(NOTIF_RECV) for 20 ms in a row (steal.c). */
static bool sgd_in_recv(pid_t pid)
{
	char path[64], line[256], want[32];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	snprintf(want, sizeof(want), "0x%lx", (unsigned long)SECCOMP_IOCTL_NOTIF_RECV);
	for (int k = 0; k < 20; k++) {
		FILE *f = fopen(path, "re");

		if (!f)
			return false;
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		if (strncmp(line, "16 ", 3) != 0 || !strstr(line, want))
			return false;
		usleep(1000);
	}
	return true;
}

/* Hands the listener over, keeps a copy; 0 and the copy in *fd, or -1. */
static int peer_connect(const char *socket_path, int *fd)
{
	static unsigned char buf[SG_PROTO_MAX_MSG];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sg_hello_t h;
	ssize_t n;
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	memset(&h, 0, sizeof(h));
	snprintf(h.policy, sizeof(h.policy), "shared");
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, socket_path, strlen(socket_path));
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	n = sg_proto_encode_hello(&h, buf, sizeof(buf));
	if (n < 0 || sg_proto_send(s, buf, (size_t)n, -1) < 0 ||
	    (n = sg_proto_recv(s, buf, sizeof(buf), NULL, NULL)) <= 0 ||
	    sg_proto_decode_spec(buf, (size_t)n, &peer.spec) < 0)
		return -1;
	atomic_store(&peer.listener, -1);
	if (pthread_create(&peer.filtered, NULL, peer_filtered, NULL) != 0)
		return -1;
	while ((*fd = atomic_load(&peer.listener)) == -1)
		usleep(1000);
	n = sg_proto_encode_listener(buf, sizeof(buf));
	if (*fd < 0 || sg_proto_send(s, buf, (size_t)n, *fd) < 0 ||
	    sg_proto_recv(s, buf, sizeof(buf), NULL, NULL) <= 0)
		return -1;
	return 0;
}

/* The peer: races until sysgated waits on a receive (bounded), then
 * waits for the go, lets go of the listener and lets the thread try. */
static int peer_main(const char *socket_path, pid_t sgd)
{
	time_t end = time(NULL) + 20;
	char line[8];
	int fd;

	if (peer_connect(socket_path, &fd) < 0)
		return 3;
	while (time(NULL) < end) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;

		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue;
		if (sgd_in_recv(sgd)) {
			printf("caught\n");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				return 4;
			atomic_store(&peer.stop, 1);
			close(fd); /* the last copy: the pending getppid fails */
			pthread_join(peer.filtered, NULL);
			return 0;
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	printf("no race won\n");
	return 0;
}

POLICY(shared, "local function f(c)\n"
	       "  if c.path and c.path:find('pwned', 1, true) then return sysgate.deny('EACCES') end\n"
	       "  return sysgate.allow()\n"
	       "end\n"
	       "return sysgate.policy { name = 'shared', on = { getppid = sysgate.allow(),\n"
	       "  openat = f, open = f, creat = f, openat2 = f } }\n");

/* A target dropped as listener_shared is as closed as one whose sysgated
 * is gone: once the last copy of its listener is closed, its own
 * listener is refused and the denied create fails with ENOSYS. */
static void test_listener_shared_drop(void **state)
{
	char dir[64], path[96], line[64], out[4096] = "";
	int in[2], rd[2], status;
	json_object *log;
	sgd_proc_t s;
	pid_t t;

	(void)state;
	make_dir(dir, sizeof(dir), path, sizeof(path));
	START(&s, shared, NULL);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rd, O_CLOEXEC), 0);
	t = fork();
	assert_true(t >= 0);
	if (t == 0) {
		dup2(in[0], 0);
		dup2(rd[1], 1);
		peer.path = path;
		_exit(peer_main(s.socket, s.pid));
	}
	close(in[0]);
	close(rd[1]);
	read_line(rd[0], line, sizeof(line));
	assert_string_equal(line, "caught");
	assert_true(log_wait(&s, "target_end", 1));
	log = sgd_log(&s);
	assert_non_null(log_find(log, "target_end", "reason", "listener_shared"));
	json_object_put(log);
	assert_int_equal(write(in[1], "go\n", 3), 3);
	close(in[1]);
	read_all(rd[0], out, sizeof(out));
	assert_int_equal(waitpid(t, &status, 0), t);
	assert_contains(out, "listener: EPERM\n");
	assert_contains(out, "create after listener: ENOSYS\n");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("peer status 0x%x:\n%s", status, out);
	assert_absent(path, out);
	sgd_stop(&s);
	remove_dir(dir, path);
}

/*
 * The guard is in every filter: whatever the policy says of seccomp,
 * ioctl and userfaultfd (forwarded and allowed, denied in the kernel,
 * allowed in the kernel under a default deny, not named), in enforce,
 * audit and learn mode. With sysgated alive, a filter without the guard
 * would give the kernel's EBUSY for a listener, and create userfaultfds.
 */
#define PROBE_FWD \
	"return sysgate.policy { name = 'fwd', on = { seccomp = sysgate.allow(),\n" \
	"  ioctl = sysgate.allow(), userfaultfd = sysgate.allow() } }\n"
#define PROBE_KDENY \
	"return sysgate.policy { name = 'kdeny', kernel = { deny = { 'seccomp', 'userfaultfd',\n" \
	"  errno = 'EACCES' } } }\n"
#define PROBE_KALLOW \
	"return sysgate.policy { name = 'kallow', default = 'deny',\n" \
	"  kernel = { allow = { 'seccomp', 'ioctl', 'userfaultfd' } } }\n"
#define PROBE_PLAIN "return sysgate.policy { name = 'plain' }\n"

static const char *const probe_names[] = { "fwd", "kdeny", "kallow", "plain" };
static const char *const probe_srcs[] = { PROBE_FWD, PROBE_KDENY, PROBE_KALLOW, PROBE_PLAIN };
static const char *const probe_entries[] = {
	"modes = [ \"audit\", \"learn\" ];", "modes = [ \"audit\", \"learn\" ];",
	"modes = [ \"audit\", \"learn\" ];", "modes = [ \"audit\", \"learn\" ];",
};

static void probe_once(const sgd_proc_t *s, const char *policy, const char *mode, bool kdeny)
{
	const char *argv[] = { env_path("OWN_LISTENER"), "probe", NULL };
	const char *refused = kdeny ? "EACCES" : "EPERM";
	char want[64];
	run_result_t r;

	run_under_mode(s, policy, mode, argv, &r);
	assert_exited(&r, 0);
	snprintf(want, sizeof(want), "listener: %s\n", refused);
	assert_contains(r.out, want);
	snprintf(want, sizeof(want), "listener high: %s\n", refused);
	assert_contains(r.out, want);
	snprintf(want, sizeof(want), "action avail: %s\n", kdeny ? "EACCES" : "ok 0");
	assert_contains(r.out, want);
	snprintf(want, sizeof(want), "userfaultfd: %s\n", refused);
	assert_contains(r.out, want);
	assert_contains(r.out, "uffd dev ioctl: EPERM\n");
	assert_contains(r.out, "uffd dev ioctl high: EPERM\n");
	assert_contains(r.out, "ioctl other: ok 0\n");
}

static void test_guard_in_every_filter(void **state)
{
	char learn[64], extra[128], cmd[96];
	sgd_proc_t s;

	(void)state;
	if (access("/dev/userfaultfd", F_OK) != 0)
		skip();
	snprintf(learn, sizeof(learn), "/tmp/sysgate-fc-learn.XXXXXX");
	assert_non_null(mkdtemp(learn));
	snprintf(extra, sizeof(extra), "learn_dir = \"%s\";", learn);
	sgd_start_entries(&s, extra, 4, probe_names, probe_srcs, probe_entries);
	probe_once(&s, "fwd", NULL, false);
	probe_once(&s, "kdeny", NULL, true);
	probe_once(&s, "plain", NULL, false);
	/* kallow's default deny runs no program in enforce mode; audit
	 * forwards what it would deny, learn forwards everything. */
	for (size_t i = 0; i < 4; i++) {
		probe_once(&s, probe_names[i], "audit", false);
		probe_once(&s, probe_names[i], "learn", false);
	}
	sgd_stop(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", learn);
	assert_int_equal(system(cmd), 0);
}

/*
 * userfaultfd: a uid-0 target cannot create one, with the syscall (as
 * root with capabilities, which the kernel would allow) or through
 * /dev/userfaultfd (without capabilities: the device is root's), so it
 * never gets to point a forwarded call's path into a page it serves.
 */
static void test_userfaultfd_refused(void **state)
{
	const char *argv[] = { env_path("UFFD_STALL"), "target", NULL };
	sgd_proc_t s;
	run_result_t r;

	(void)state;
	if (access("/dev/userfaultfd", F_OK) != 0)
		skip();
	START(&s, fc, NULL);
	run_under(&s, "fc", argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "userfaultfd: EPERM\n");
	assert_contains(r.out, "drop capabilities: ok 0\n");
	assert_contains(r.out, "uffd dev open: ok");
	assert_contains(r.out, "uffd dev ioctl: EPERM\n");
	assert_null(strstr(r.out, "fault by pid"));
	assert_contains(r.out, "done\n");
	sgd_stop(&s);
}

/*
 * Why: with no sysgate filter (a filter of uffd_stall's own forwards its
 * openat to its main thread), the supervisor's read of the path faults
 * into the target's handler and waits until it serves the page; the
 * handler decides what the supervisor reads and when its read returns.
 */
static void test_userfaultfd_stalls_reads(void **state)
{
	const char *argv[] = { "uffd_stall", "demo", NULL };
	char out[4096] = "", want[64];
	int p[2], status;
	const char *sup;
	pid_t t;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	t = fork();
	assert_true(t >= 0);
	if (t == 0) {
		dup2(p[1], 1);
		execv(env_path("UFFD_STALL"), (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	read_all(p[0], out, sizeof(out));
	assert_int_equal(waitpid(t, &status, 0), t);
	if (strstr(out, "userfaultfd: EPERM"))
		skip(); /* not privileged enough for a userfaultfd here */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("status 0x%x:\n%s", status, out);
	assert_non_null(sup = strstr(out, "supervisor: pid "));
	snprintf(want, sizeof(want), "fault by pid %ld\n", strtol(sup + 16, NULL, 10));
	assert_contains(out, want);
	assert_contains(out, "supervisor read \"/etc/hostname\"\n");
	assert_contains(out, "open in the page: ok");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_own_listener_after_sigterm, sgd_teardown),
		cmocka_unit_test_teardown(test_own_listener_after_sigkill, sgd_teardown),
		cmocka_unit_test_teardown(test_target_kills_sysgated, sgd_teardown),
		cmocka_unit_test_teardown(test_tracer_after_sigkill, sgd_teardown),
		cmocka_unit_test_teardown(test_listener_shared_drop, sgd_teardown),
		cmocka_unit_test_teardown(test_guard_in_every_filter, sgd_teardown),
		cmocka_unit_test_teardown(test_userfaultfd_refused, sgd_teardown),
		cmocka_unit_test_teardown(test_userfaultfd_stalls_reads, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
