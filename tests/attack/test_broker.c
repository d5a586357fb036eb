/*
 * The brokered open under attack (docs/security.md, "The brokered open"):
 * each test runs tests/attack/broker_attack.c as a target of a real
 * sysgated and checks what the target got, and that sysgated goes on
 * serving everyone else.
 *
 *  - a FIFO open that never ends stalls nothing but its own call: other
 *    targets' calls and new sysgate-runs are served meanwhile, one target
 *    holds at most two workers, and at the deadline the call fails EINTR,
 *    as it does when a takeover cannot wait for it;
 *  - no brokered open makes a terminal sysgated's: a pts a target opens
 *    and hangs up does not kill a sysgated that leads its own session,
 *    and /dev/tty is the caller's (ENXIO: it has none), not sysgated's;
 *  - no route into /proc reaches an entry of any of sysgated's tasks.
 *
 * No assertion is timed: waits are for a state (a worker blocked in
 * openat2, a process ended), bounded only so that a broken sysgated
 * fails the test instead of hanging it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define BOUND_MS 60000 /* a state that does not come in this long never will */

static const char *attack(void)
{
	return env_path("BROKER_ATTACK");
}

/* Brokers what lies under /tmp/sysgate-attack (a prefix check, as
 * policies write them), paths relative to a dirfd or the cwd, and /dev;
 * lets the kernel decide the rest, as the caller. */
static const char *const pol_names[] = { "prefix" };
static const char *const pol_srcs[] = {
	"return sysgate.policy { name = 'prefix', on = {\n"
	"  openat = function(c)\n"
	"    if c.path:find('^/tmp/sysgate%-attack') or c.path:find('^/dev/') or\n"
	"       c.path:sub(1, 1) ~= '/' then\n"
	"      return sysgate.open()\n"
	"    end\n"
	"    return sysgate.allow()\n"
	"  end } }\n",
};

typedef struct dir {
	char path[64];
	char fifo[96];
	char plain[96];
	char link[96];
} dir_t;

static void dir_init(dir_t *d)
{
	FILE *fp;

	snprintf(d->path, sizeof(d->path), "/tmp/sysgate-attack.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	assert_int_equal(chmod(d->path, 0755), 0);
	snprintf(d->fifo, sizeof(d->fifo), "%s/fifo", d->path);
	assert_int_equal(mkfifo(d->fifo, 0666), 0);
	assert_int_equal(chmod(d->fifo, 0666), 0);
	snprintf(d->plain, sizeof(d->plain), "%s/plain", d->path);
	fp = fopen(d->plain, "w");
	assert_non_null(fp);
	fputs("PLAIN\n", fp);
	fclose(fp);
	assert_int_equal(chmod(d->plain, 0644), 0);
	snprintf(d->link, sizeof(d->link), "%s/link", d->path);
}

static void dir_free(dir_t *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

/* Waits for pid (bounded), reads out_fd to its end into out. The exit
 * status, or fails the test when pid does not end. */
static int wait_end(pid_t pid, int out_fd, char *out, size_t len)
{
	size_t off = 0;
	int status;

	for (int i = 0; i < BOUND_MS / 10; i++) {
		struct pollfd p = { .fd = out_fd, .events = POLLIN };

		if (out_fd >= 0 && poll(&p, 1, 10) > 0) {
			ssize_t n = read(out_fd, out + off, len - 1 - off);

			if (n > 0)
				off += (size_t)n;
			else {
				close(out_fd);
				out_fd = -1;
			}
			out[off] = '\0';
			continue;
		}
		if (out_fd < 0)
			sleep_ms(10);
		if (out_fd < 0 && waitpid(pid, &status, WNOHANG) == pid)
			return status;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("a target did not end while another target's brokered open was stuck; it "
		 "printed: %s",
		 out);
	return -1;
}

/* Runs argv under policy "prefix" and waits for it (bounded). */
static void run_bounded(const sgd_proc_t *s, const char *const *argv, char *out, size_t len)
{
	int in, fd, status;
	pid_t pid = run_under_async(s, "prefix", argv, &in, &fd);

	close(in);
	out[0] = '\0';
	status = wait_end(pid, fd, out, len);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("target exited with status 0x%x: %s", status, out);
}

/* sysgated's tasks blocked in openat2 now. */
static int stuck_opens(pid_t pid)
{
	char path[300], buf[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "task/%.32s/syscall", e->d_name);
		if (read_proc(pid, path, buf, sizeof(buf)) &&
		    strtol(buf, NULL, 10) == SYS_openat2)
			n++;
	}
	closedir(d);
	return n;
}

/* Waits (bounded) until want of sysgated's tasks are blocked in openat2. */
static void wait_stuck(pid_t pid, int want)
{
	for (int i = 0; i < BOUND_MS / 5 && stuck_opens(pid) < want; i++)
		sleep_ms(5);
	assert_int_equal(stuck_opens(pid), want);
}

/*
 * A target whose eight threads open a FIFO nobody writes to: two of the
 * opens block in workers (one target holds at most two), the others wait
 * in the kernel. Meanwhile another target's brokered open and its other
 * calls are answered, and new sysgate-runs start. When a writer comes,
 * every open ends with the FIFO.
 */
static void test_fifo_stalls_nothing(void **state)
{
	dir_t d;
	sgd_proc_t s;
	char line[256], out[4096];
	int in, fd, wr, status;
	pid_t a;

	(void)state;
	dir_init(&d);
	/* A deadline far away: the FIFO stays stuck for the whole test. */
	sgd_start(&s, "broker_timeout_ms = 3600000;", 1, pol_names, pol_srcs);
	const char *hostile[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				  "--clear-groups", attack(), "fifo", d.fifo, "8", NULL };
	a = run_under_async(&s, "prefix", hostile, &in, &fd);
	close(in);
	read_line(fd, line, sizeof(line));
	snprintf(out, sizeof(out), "fifo %s: ok opening", d.fifo);
	assert_string_equal(line, out);
	wait_stuck(s.pid, 2);

	for (int i = 0; i < 3; i++) {
		const char *other[] = { attack(), "read", d.plain, "open", "/etc/hostname", "r",
					NULL };

		run_bounded(&s, other, out, sizeof(out));
		snprintf(line, sizeof(line), "read %s: ok PLAIN\n", d.plain);
		assert_contains(out, line);
		assert_contains(out, "open /etc/hostname: ok\n");
	}
	/* Still two: the hostile target got no more workers meanwhile. */
	assert_int_equal(stuck_opens(s.pid), 2);

	wr = open(d.fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(wr >= 0);
	status = wait_end(a, fd, out, sizeof(out));
	close(wr);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(line, sizeof(line), "fifo %s: ok 8\n", d.fifo);
	assert_contains(out, line);
	sgd_stop(&s);
	dir_free(&d);
}

/* At the deadline the stuck open's call fails EINTR (what an open of a
 * FIFO interrupted by a signal gives), logged with the reason; the
 * worker is freed for the next call. */
static void test_fifo_deadline(void **state)
{
	dir_t d;
	sgd_proc_t s;
	char line[256], out[4096];
	json_object *log, *e;

	(void)state;
	dir_init(&d);
	sgd_start(&s, "broker_timeout_ms = 200;", 1, pol_names, pol_srcs);
	const char *hostile[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				  "--clear-groups", attack(), "fifo", d.fifo, "1", NULL };
	run_bounded(&s, hostile, out, sizeof(out));
	snprintf(line, sizeof(line), "fifo %s: EINTR\n", d.fifo);
	assert_contains(out, line);

	const char *other[] = { attack(), "read", d.plain, NULL };
	run_bounded(&s, other, out, sizeof(out));
	snprintf(line, sizeof(line), "read %s: ok PLAIN\n", d.plain);
	assert_contains(out, line);

	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	e = log_find(log, "decision", "errno", "EINTR");
	assert_non_null(e);
	assert_string_equal(str_field(e, "verdict"), "open");
	assert_string_equal(str_field(e, "path"), d.fifo);
	assert_contains(str_field(e, "reason"), "deadline");
	json_object_put(log);
	sgd_stop(&s);
	dir_free(&d);
}

/*
 * Eight hostile targets with two stuck FIFO opens each take all 16
 * workers: another target's brokered open fails EAGAIN at once (it is
 * not queued behind them), its calls the kernel decides go through, and
 * once a writer comes every open ends and brokered opens work again.
 */
static void test_all_workers_busy(void **state)
{
	dir_t d;
	sgd_proc_t s;
	char line[256], out[4096];
	int in[8], fd[8], wr, status;
	pid_t a[8];

	(void)state;
	dir_init(&d);
	sgd_start(&s, "broker_timeout_ms = 3600000;", 1, pol_names, pol_srcs);
	const char *hostile[] = { attack(), "fifo", d.fifo, "2", NULL };
	for (int i = 0; i < 8; i++) {
		a[i] = run_under_async(&s, "prefix", hostile, &in[i], &fd[i]);
		close(in[i]);
		read_line(fd[i], line, sizeof(line));
	}
	wait_stuck(s.pid, 16);

	const char *other[] = { attack(), "read", d.plain, "open", "/etc/hostname", "r", NULL };
	run_bounded(&s, other, out, sizeof(out));
	snprintf(line, sizeof(line), "read %s: EAGAIN\n", d.plain);
	assert_contains(out, line);
	assert_contains(out, "open /etc/hostname: ok\n");

	wr = open(d.fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(wr >= 0);
	for (int i = 0; i < 8; i++) {
		status = wait_end(a[i], fd[i], out, sizeof(out));
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		snprintf(line, sizeof(line), "fifo %s: ok 2\n", d.fifo);
		assert_contains(out, line);
	}
	close(wr);
	run_bounded(&s, other, out, sizeof(out));
	snprintf(line, sizeof(line), "read %s: ok PLAIN\n", d.plain);
	assert_contains(out, line);
	sgd_stop(&s);
	dir_free(&d);
}

/* A takeover while a brokered open is stuck: the old sysgated does not
 * wait for it past its wait for parked calls; the open's call is answered
 * EINTR, and the new sysgated serves the target on. */
static void test_takeover_with_stuck_open(void **state)
{
	dir_t d;
	sgd_proc_t s;
	char line[256], out[4096];
	int in, fd, status;
	pid_t a;

	(void)state;
	dir_init(&d);
	sgd_start(&s, "broker_timeout_ms = 3600000;", 1, pol_names, pol_srcs);
	const char *hostile[] = { attack(), "fifo", d.fifo, "1", "read", d.plain, NULL };
	a = run_under_async(&s, "prefix", hostile, &in, &fd);
	close(in);
	read_line(fd, line, sizeof(line));
	wait_stuck(s.pid, 1);
	assert_true(sgd_takeover(&s, &status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = wait_end(a, fd, out, sizeof(out));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(line, sizeof(line), "fifo %s: EINTR\n", d.fifo);
	assert_contains(out, line);
	/* Its next brokered open is the new sysgated's. */
	snprintf(line, sizeof(line), "read %s: ok PLAIN\n", d.plain);
	assert_contains(out, line);
	sgd_stop(&s);
	dir_free(&d);
}

/* The 7th field of /proc/<pid>/stat: its controlling terminal, 0 for none. */
static long ctty_of(pid_t pid)
{
	char buf[1024];
	const char *p;
	long v = -1;

	assert_true(read_proc(pid, "stat", buf, sizeof(buf)));
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %ld", &v), 1);
	return v;
}

/*
 * sysgated leads its own session and has no terminal (setsid, as service
 * managers start it). A target opens a pty pair through the broker and
 * closes the master: were the pts sysgated's controlling terminal, the
 * hangup would SIGHUP it. It has no terminal after, and serves the next
 * target.
 */
static void test_pty_hangup(void **state)
{
	static const char *const wrapper[] = { "/usr/bin/setsid", NULL };
	dir_t d;
	sgd_proc_t s;
	char line[256], out[4096];
	int status;

	(void)state;
	dir_init(&d);
	sgd_start_wrapped(&s, wrapper, NULL, 1, pol_names, pol_srcs, NULL);
	assert_int_equal(getsid(s.pid), s.pid);
	assert_int_equal(ctty_of(s.pid), 0);

	const char *pty[] = { attack(), "ptmx", NULL };
	run_bounded(&s, pty, out, sizeof(out));
	assert_contains(out, "ptmx /dev/ptmx: ok /dev/pts/");

	const char *other[] = { attack(), "read", d.plain, NULL };
	run_bounded(&s, other, out, sizeof(out));
	snprintf(line, sizeof(line), "read %s: ok PLAIN\n", d.plain);
	assert_contains(out, line);
	assert_int_equal(waitpid(s.pid, &status, WNOHANG), 0);
	assert_int_equal(ctty_of(s.pid), 0);
	sgd_stop(&s);
	dir_free(&d);
}

/*
 * sysgated has a terminal (a pty of the test's, as if an operator
 * started it from a shell). A target in a session without one opens
 * /dev/tty through the broker: it gets ENXIO, the kernel's answer for a
 * process without a terminal, and nothing it writes reaches sysgated's.
 */
static void test_dev_tty(void **state)
{
	sgd_proc_t s;
	char out[4096], seen[4096];
	const char *pts;
	size_t off = 0;
	int m, w;

	(void)state;
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	pts = ptsname(m);
	assert_non_null(pts);
	const char *wrapper[] = { env_path("CTTY_WRAP"), pts, NULL };
	sgd_start_wrapped(&s, wrapper, NULL, 1, pol_names, pol_srcs, NULL);
	assert_true(ctty_of(s.pid) != 0);

	const char *tty[] = { attack(), "tty", NULL };
	run_bounded(&s, tty, out, sizeof(out));
	assert_contains(out, "tty /dev/tty: ENXIO\n");

	/* A mark written after the target ended: whatever the target wrote
	 * to the terminal would be read before it. */
	w = open(pts, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	assert_true(w >= 0);
	assert_int_equal(write(w, "MARK\n", 5), 5);
	close(w);
	seen[0] = '\0';
	for (int i = 0; i < BOUND_MS / 10 && !strstr(seen, "MARK"); i++) {
		struct pollfd p = { .fd = m, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = read(m, seen + off, sizeof(seen) - 1 - off);
		if (n > 0)
			off += (size_t)n;
		seen[off] = '\0';
	}
	assert_non_null(strstr(seen, "MARK"));
	if (strstr(seen, "ATTACK"))
		fail_msg("the target wrote into sysgated's terminal: %s", seen);
	sgd_stop(&s);
	close(m);
}

/* sysgated's thread ids other than its pid (the watchdog, the workers). */
static int threads_of(pid_t pid, pid_t *tids, int cap)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL && n < cap) {
		pid_t t = (pid_t)atoi(e->d_name);

		if (t > 0 && t != pid)
			tids[n++] = t;
	}
	closedir(d);
	return n;
}

/* Every route into sysgated's /proc, as who: "nobody" (uid 65534) or
 * "root" (uid 0, every capability dropped). */
static void proc_routes(const sgd_proc_t *s, const dir_t *d, const char *who, pid_t tid)
{
	char up[128], a[192], b[192], c[192], want[256], out[8192];
	const char *pre[8];
	const char *argv[64];
	int n = 0;

	if (strcmp(who, "nobody") == 0) {
		pre[0] = "/usr/bin/setpriv";
		pre[1] = "--reuid=65534";
		pre[2] = "--regid=65534";
		pre[3] = "--clear-groups";
		pre[4] = NULL;
	} else {
		pre[0] = "/usr/bin/setpriv";
		pre[1] = "--bounding-set=-all";
		pre[2] = "--inh-caps=-all";
		pre[3] = "--ambient-caps=-all";
		pre[4] = NULL;
	}
	for (int i = 0; pre[i]; i++)
		argv[n++] = pre[i];
	argv[n++] = attack();
	/* The broker works here: a file of the directory, a /proc file that
	 * is no task's. */
	snprintf(up, sizeof(up), "%s/../../proc", d->path);
	argv[n++] = "read";
	argv[n++] = d->plain;
	snprintf(a, sizeof(a), "%s/meminfo", up);
	argv[n++] = "open";
	argv[n++] = a;
	argv[n++] = "r";
	out[0] = '\0';
	/* ".." after the prefix: a thread's entries, and one of the thread
	 * group's through task/. */
	static char r1[192], r2[192], r3[192], r4[192];
	snprintf(r1, sizeof(r1), "%s/%d/maps", up, (int)tid);
	snprintf(r2, sizeof(r2), "%s/%d/task/%d/maps", up, (int)s->pid, (int)tid);
	snprintf(r3, sizeof(r3), "%s/%d/fdinfo/0", up, (int)tid);
	snprintf(r4, sizeof(r4), "%s/%d/mem", up, (int)tid);
	argv[n++] = "open";
	argv[n++] = r1;
	argv[n++] = "r";
	argv[n++] = "open";
	argv[n++] = r2;
	argv[n++] = "r";
	argv[n++] = "open";
	argv[n++] = r3;
	argv[n++] = "r";
	argv[n++] = "open";
	argv[n++] = r4;
	argv[n++] = "rw";
	/* A symlink in the brokered directory: not a magic link. */
	argv[n++] = "open";
	argv[n++] = d->link;
	argv[n++] = "rw";
	/* A dirfd of /proc, and paths relative to it. */
	snprintf(b, sizeof(b), "%d/maps", (int)tid);
	snprintf(c, sizeof(c), "%d/task/%d/mem", (int)s->pid, (int)tid);
	argv[n++] = "procat";
	argv[n++] = up;
	argv[n++] = b;
	argv[n++] = "procat";
	argv[n++] = up;
	argv[n++] = c;
	argv[n++] = "procat";
	argv[n++] = up;
	argv[n++] = "self/maps";
	argv[n++] = "procat";
	argv[n++] = up;
	argv[n++] = "thread-self/maps";
	argv[n] = NULL;
	run_bounded(s, argv, out, sizeof(out));

	snprintf(want, sizeof(want), "read %s: ok PLAIN\n", d->plain);
	assert_contains(out, want);
	snprintf(want, sizeof(want), "open %s: ok\n", a);
	assert_contains(out, want);
	for (int i = 0; i < 5; i++) {
		const char *p = i == 0 ? r1 : i == 1 ? r2 : i == 2 ? r3 : i == 3 ? r4 : d->link;

		snprintf(want, sizeof(want), "open %s: EACCES\n", p);
		if (!strstr(out, want))
			fail_msg("%s, tid %d: %s should be EACCES:\n%s", who, (int)tid, p, out);
	}
	for (int i = 0; i < 4; i++) {
		const char *p = i == 0 ? b : i == 1 ? c : i == 2 ? "self/maps" : "thread-self/maps";

		snprintf(want, sizeof(want), "procat %s: EACCES\n", p);
		if (!strstr(out, want))
			fail_msg("%s, tid %d: %s from a dirfd of /proc should be EACCES:\n%s", who,
				 (int)tid, p, out);
	}
}

/*
 * No route gives a target an entry of any of sysgated's tasks: not ".."
 * after a prefix the policy checks, not a symlink to /proc/<tid>/mem in a
 * brokered directory, not /proc/<pid>/task/<tid>, not a dirfd of /proc
 * (with a thread id, self or thread-self); as uid 65534 and as uid 0
 * without capabilities; for every thread of sysgated (the watchdog, the
 * workers), found once a brokered open has started a worker.
 */
static void test_own_proc(void **state)
{
	dir_t d;
	sgd_proc_t s;
	pid_t tids[32];
	char out[1024];
	int n;

	(void)state;
	dir_init(&d);
	sgd_start(&s, NULL, 1, pol_names, pol_srcs);
	const char *warm[] = { attack(), "read", d.plain, NULL };
	run_bounded(&s, warm, out, sizeof(out));
	n = threads_of(s.pid, tids, 32);
	assert_true(n >= 2); /* the watchdog and a worker at least */
	for (int i = 0; i < n; i++) {
		char target[64];

		snprintf(target, sizeof(target), "/proc/%d/mem", (int)tids[i]);
		unlink(d.link);
		assert_int_equal(symlink(target, d.link), 0);
		proc_routes(&s, &d, "nobody", tids[i]);
		proc_routes(&s, &d, "root", tids[i]);
	}
	/* And the thread group's leader, through a symlink too. */
	snprintf(out, sizeof(out), "/proc/%d/mem", (int)s.pid);
	unlink(d.link);
	assert_int_equal(symlink(out, d.link), 0);
	proc_routes(&s, &d, "root", s.pid);
	assert_int_equal(waitpid(s.pid, &n, WNOHANG), 0);
	sgd_stop(&s);
	dir_free(&d);
}

/* A procfs bound inside a procfs in the caller's own mount namespace
 * (found by an attacker's review): the path's first procfs root is not
 * the one that holds sysgated's entries, so no walk of the path can
 * tell whose they are. The open is made where the kernel checks it. */
static void test_own_proc_nested_bind(void **state)
{
	static char pm[96], mem[160], env[160], maps[160], meminfo[160], selfenv[160];
	char want[256];
	const char *argv[32];
	dir_t d;
	sgd_proc_t s;
	char out[4096];
	int n = 0;

	(void)state;
	dir_init(&d);
	snprintf(pm, sizeof(pm), "%s/pm", d.path);
	assert_int_equal(mkdir(pm, 0755), 0);
	sgd_start(&s, NULL, 1, pol_names, pol_srcs);
	snprintf(mem, sizeof(mem), "%s/sys/%d/mem", pm, (int)s.pid);
	snprintf(env, sizeof(env), "%s/sys/%d/environ", pm, (int)s.pid);
	snprintf(maps, sizeof(maps), "%s/sys/%d/maps", pm, (int)s.pid);
	snprintf(meminfo, sizeof(meminfo), "%s/sys/meminfo", pm);
	/* /proc/self as the opener sees it: never a copy of sysgated. */
	snprintf(selfenv, sizeof(selfenv), "%s/sys/self/environ", pm);
	/* uid 0 without a capability: its own user namespace needs none. */
	argv[n++] = "/usr/bin/setpriv";
	argv[n++] = "--bounding-set=-all";
	argv[n++] = "--inh-caps=-all";
	argv[n++] = "--ambient-caps=-all";
	argv[n++] = attack();
	argv[n++] = "procbind";
	argv[n++] = pm;
	argv[n++] = "open";
	argv[n++] = meminfo;
	argv[n++] = "r";
	argv[n++] = "open";
	argv[n++] = mem;
	argv[n++] = "rw";
	argv[n++] = "open";
	argv[n++] = env;
	argv[n++] = "r";
	argv[n++] = "open";
	argv[n++] = maps;
	argv[n++] = "r";
	argv[n++] = "open";
	argv[n++] = selfenv;
	argv[n++] = "r";
	argv[n] = NULL;
	run_bounded(&s, argv, out, sizeof(out));
	snprintf(want, sizeof(want), "procbind %s: ok", pm);
	assert_contains(out, want);
	/* The route reaches procfs: a /proc file that is no task's opens. */
	snprintf(want, sizeof(want), "open %s: ok", meminfo);
	assert_contains(out, want);
	if (strstr(out, "/mem: ok") || strstr(out, "/environ: ok") || strstr(out, "/maps: ok"))
		fail_msg("a target opened sysgated's own /proc entries: %s", out);
	assert_int_equal(waitpid(s.pid, &n, WNOHANG), 0);
	sgd_stop(&s);
	dir_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fifo_stalls_nothing, sgd_teardown),
		cmocka_unit_test_teardown(test_fifo_deadline, sgd_teardown),
		cmocka_unit_test_teardown(test_all_workers_busy, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_with_stuck_open, sgd_teardown),
		cmocka_unit_test_teardown(test_pty_hangup, sgd_teardown),
		cmocka_unit_test_teardown(test_dev_tty, sgd_teardown),
		cmocka_unit_test_teardown(test_own_proc, sgd_teardown),
		cmocka_unit_test_teardown(test_own_proc_nested_bind, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
