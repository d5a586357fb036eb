/*
 * Integration tests on the real kernel for sysgated --takeover: a new
 * supervisor on the same config takes the running one's sockets and
 * targets over, and the targets' calls go on without one failing; a
 * takeover the new config cannot honour is refused and the old supervisor
 * serves on, as after a malformed or foreign request on its control
 * socket; a call parked by a throttle is answered before the handover; a
 * supervisor killed after a takeover still fails closed (ENOSYS), as
 * test_kernel's test_supervisor_killed_enosys shows without one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define LOOP_PATH "/etc/hostname"
/* No log budget (every decision is counted from the log), and a time
 * budget no descheduled handler runs out of on a loaded machine (its
 * fallback would be a failed call that has nothing to do with takeover). */
#define NO_LOG_LIMITS \
	"log_limits = { target_rate = 0; global_rate = 0; };\nlua = { time_ms = 10000; };"

/* The same supervisor's dir with another log file, to read that log. */
static sgd_proc_t log_view(const sgd_proc_t *s, const char *name)
{
	sgd_proc_t v = *s;

	snprintf(v.log, sizeof(v.log), "%s/%s", s->dir, name);
	return v;
}

/* Decisions on LOOP_PATH in s's log, for target id (0: any). */
static size_t loop_decisions(const sgd_proc_t *s, const char *target)
{
	json_object *log = sgd_log(s);
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i);
		const char *p = str_field(o, "path");

		if (strcmp(str_field(o, "event"), "decision") == 0 && p && strcmp(p, LOOP_PATH) == 0 &&
		    (!target || strcmp(str_field(o, "target"), target) == 0))
			n++;
	}
	json_object_put(log);
	return n;
}

/* Lines of s's log that look like a decision on LOOP_PATH: a cheap count
 * while the log grows (a line being written may be half there). */
static size_t decision_lines(const sgd_proc_t *s)
{
	FILE *f = fopen(s->log, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0)
		n += strstr(line, "\"event\":\"decision\"") && strstr(line, "\"path\":\"" LOOP_PATH "\"");
	free(line);
	fclose(f);
	return n;
}

/* Waits (up to 10 s) for at least n decisions on LOOP_PATH in s's log. */
static void wait_decisions(const sgd_proc_t *s, size_t n)
{
	struct timespec ts = { 0, 10000000L };

	for (int i = 0; i < 1000; i++) {
		if (decision_lines(s) >= n)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("fewer than %zu decisions in %s", n, s->log);
}

/* Reads the target's stdout to EOF into out. A call left unanswered
 * (received by a supervisor that then let go of it) would hang the
 * target: that fails the test after 20 s. */
static void read_all(int fd, char *out, size_t len)
{
	size_t off = strlen(out);

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20000) == 0)
			fail_msg("the target is stuck; its output so far: %s", out);
		n = read(fd, out + off, len - 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	out[off] = '\0';
}

/* The takeover event of role in s's log, which must say result. */
static json_object *takeover_event(json_object *log, const char *role, const char *result)
{
	json_object *o = log_find(log, "takeover", "role", role);

	if (!o)
		fail_msg("no takeover event of role %s", role);
	assert_string_equal(str_field(o, "result"), result);
	return o;
}

/* The takeover event lists target id. */
static void assert_lists(json_object *ev, const char *id)
{
	json_object *ids;

	assert_true(json_object_object_get_ex(ev, "target_ids", &ids));
	for (size_t i = 0; i < json_object_array_length(ids); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(ids, i)), id) == 0)
			return;
	fail_msg("target %s not in %s", id, json_object_to_json_string(ev));
}

static void assert_socket_0600(const sgd_proc_t *s)
{
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s.takeover", s->socket);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

POLICY(loop, "return sysgate.policy { name = 'loop', on = {\n"
	     "  openat = function(c)\n"
	     "    if c.path == '" LOOP_PATH "' then return sysgate.allow():log('call') end\n"
	     "    return sysgate.allow()\n"
	     "  end } }\n");

#define UPGRADES 2
#define PER_PHASE 300

/*
 * A target opens LOOP_PATH in a loop, as fast as it can, while sysgated is
 * upgraded twice (old → new → newer), each on a config that only moves
 * the log to a file of its own. Not one call fails; every call is decided
 * exactly once, by one of the three (the decisions in the three logs add
 * up to the calls the target made), each of them decided some, and the
 * last one ends the target with the counters of the whole run.
 */
static void test_takeover_no_failed_call(void **state)
{
	const char *argv[] = { probe(), "openloop", LOOP_PATH, NULL };
	const char *argv2[] = { probe(), "open", LOOP_PATH, NULL };
	const char *logs[UPGRADES + 1] = { "log.jsonl", "log-1.jsonl", "log-2.jsonl" };
	run_result_t r;
	char out[4096] = "", id[24];
	unsigned long ok = 0, failed = 0;
	size_t total = 0;
	sgd_proc_t s, v;
	json_object *log, *end, *start;
	int in_w, out_r, status;
	pid_t pid;

	START(&s, loop, NO_LOG_LIMITS);
	assert_socket_0600(&s);
	pid = run_under_async(&s, "loop", argv, &in_w, &out_r);
	wait_decisions(&s, PER_PHASE);
	for (int i = 1; i <= UPGRADES; i++) {
		pid_t old = s.pid;

		sgd_write_config(&s, logs[i], NO_LOG_LIMITS, 1, loop_names, loop_srcs);
		if (!sgd_takeover(&s, &status))
			fail_msg("takeover %d refused (status 0x%x); see %s", i, status, s.dir);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("the old sysgated (pid %d) exited with status 0x%x", (int)old, status);
		assert_socket_0600(&s);
		v = log_view(&s, logs[i]);
		wait_decisions(&v, PER_PHASE);
	}
	assert_int_equal(write(in_w, "\n", 1), 1);
	close(in_w);
	read_all(out_r, out, sizeof(out));
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (sscanf(out, "openloop " LOOP_PATH ": ok %lu failed %lu", &ok, &failed) != 2)
		fail_msg("unexpected output: %s", out);
	if (failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the target saw failed calls or failed: status 0x%x, %s", status, out);

	log = sgd_log(&s);
	snprintf(id, sizeof(id), "%s", str_field(log_find(log, "target_start", NULL, NULL), "target"));
	json_object_put(log);
	for (int i = 0; i <= UPGRADES; i++) {
		size_t n;

		v = log_view(&s, logs[i]);
		n = loop_decisions(&v, id);
		if (n < PER_PHASE)
			fail_msg("%s has %zu decisions of target %s", logs[i], n, id);
		total += n;
		log = sgd_log(&v);
		if (i < UPGRADES) {
			assert_lists(takeover_event(log, "old", "done"), id);
			assert_non_null(log_find(log, "supervisor_stop", NULL, NULL));
			/* Handed over, not ended. */
			assert_null(log_find(log, "target_end", NULL, NULL));
		}
		if (i > 0) {
			assert_lists(takeover_event(log, "new", "done"), id);
			assert_null(log_find(log, "target_start", NULL, NULL));
		}
		json_object_put(log);
	}
	if (total != ok)
		fail_msg("%lu calls made, %zu decided", ok, total);
	/* The socket was handed over too: a new target is accepted by the
	 * last supervisor, with an id the first one never gave out. */
	run_under(&s, "loop", argv2, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open " LOOP_PATH ": ok");
	assert_true(log_wait(&v, "target_end", 2));
	log = sgd_log(&v);
	start = log_find(log, "target_start", NULL, NULL);
	assert_non_null(start);
	assert_true(int_field(start, "target") > strtoll(id, NULL, 10));
	json_object_put(log);
	log = sgd_log(&v);
	end = log_find(log, "target_end", "target", id);
	assert_non_null(end);
	assert_string_equal(str_field(end, "reason"), "exited");
	assert_true(int_field(end, "notifications") >= (int64_t)ok);
	assert_int_equal(int_field(end, "errors"), 0);
	json_object_put(log);
	sgd_stop(&s);
}

static const char *const two_names[] = { "keep", "gone" };
static const char *const two_srcs[] = {
	"return sysgate.policy { name = 'keep', on = {\n"
	"  openat = function(c) return sysgate.allow() end } }\n",
	"return sysgate.policy { name = 'gone', on = {\n"
	"  openat = function(c)\n"
	"    if c.path == '" LOOP_PATH "' then return sysgate.allow():log('call') end\n"
	"    return sysgate.allow()\n"
	"  end } }\n",
};

/* A target under policy that opened LOOP_PATH once and waits on stdin to
 * open it again: its pid, stdin and stdout in the arguments. */
static pid_t start_waiting_target(const sgd_proc_t *s, const char *policy, int *in_w, int *out_r)
{
	const char *argv[] = { probe(), "open", LOOP_PATH, "wait", "open", LOOP_PATH, NULL };
	char out[4096] = "";
	pid_t pid = run_under_async(s, policy, argv, in_w, out_r);

	read_line(*out_r, out, sizeof(out));
	assert_contains(out, "open " LOOP_PATH ": ok");
	return pid;
}

/* Lets the waiting target open again and end; the second open must have
 * been allowed (decided by whichever supervisor serves it). */
static void finish_waiting_target(pid_t pid, int in_w, int out_r)
{
	char out[4096] = "";
	int status;

	assert_int_equal(write(in_w, "\n", 1), 1);
	close(in_w);
	read_all(out_r, out, sizeof(out));
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_contains(out, "open " LOOP_PATH ": ok");
}

/* A takeover on s's (rewritten) config that must be refused: the new
 * sysgated exits 1 and its output has want; the old one, old, runs on
 * with fds open fds. */
static void assert_takeover_refused(sgd_proc_t *s, pid_t old, int fds, const char *want)
{
	char text[8192] = "", path[400];
	int status;
	FILE *f;

	if (sgd_takeover(s, &status))
		fail_msg("the takeover was not refused");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		fail_msg("the refused sysgated exited with status 0x%x, want 1", status);
	snprintf(path, sizeof(path), "%s/takeover.out", s->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	assert_contains(text, want);
	assert_int_equal(s->pid, old);
	assert_int_equal(waitpid(s->pid, NULL, WNOHANG), 0);
	assert_int_equal(fd_count(s->pid), fds);
}

/*
 * A takeover whose config lacks the policy a running target uses is
 * refused: the new sysgated exits 1 and says why, the old one logs the
 * refusal, keeps every fd count as it was, serves the running target on
 * (its next call is decided, by the old one) and accepts new targets.
 */
static void test_takeover_refused_missing_policy(void **state)
{
	const char *argv2[] = { probe(), "open", LOOP_PATH, NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *ev;
	int in_w, out_r, fds;
	pid_t pid, old;

	sgd_start(&s, NULL, 2, two_names, two_srcs);
	old = s.pid;
	pid = start_waiting_target(&s, "gone", &in_w, &out_r);
	fds = fd_count(s.pid);

	sgd_write_config(&s, "log.jsonl", NULL, 1, two_names, two_srcs);
	assert_takeover_refused(&s, old, fds, "'gone', which the new config does not have");
	finish_waiting_target(pid, in_w, out_r);
	/* New targets, under the policy the refused config lacked too. */
	run_under(&s, "gone", argv2, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open " LOOP_PATH ": ok");

	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	ev = takeover_event(log, "old", "refused");
	assert_non_null(strstr(str_field(ev, "message"), "'gone'"));
	ev = takeover_event(log, "new", "refused");
	assert_non_null(strstr(str_field(ev, "message"), "'gone'"));
	assert_int_equal(loop_decisions(&s, NULL), 3);
	assert_int_equal(log_count(log, "target_end", "reason", "exited"), 2);
	json_object_put(log);
	sgd_stop(&s);
}

POLICY(allowall, "return sysgate.policy { name = 'allowall', on = {\n"
		 "  openat = function(c) return sysgate.allow() end } }\n");

/*
 * A takeover does not soften a crash: the supervisor that took over is
 * SIGKILLed, and the target's next forwarded call fails with ENOSYS, as
 * it does without a takeover (test_kernel.c, test_supervisor_killed_enosys).
 * The old supervisor is gone and kept no copy of the listener.
 */
static void test_takeover_then_kill_enosys(void **state)
{
	const char *argv[] = { probe(), "open", LOOP_PATH, "wait", "open", LOOP_PATH, NULL };
	char out[4096] = "";
	sgd_proc_t s;
	int in_w, out_r, status;
	pid_t pid;

	START(&s, allowall, NULL);
	pid = run_under_async(&s, "allowall", argv, &in_w, &out_r);
	read_line(out_r, out, sizeof(out));
	assert_contains(out, "open " LOOP_PATH ": ok");
	assert_true(sgd_takeover(&s, &status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sgd_kill(&s);
	assert_int_equal(write(in_w, "\n", 1), 1);
	close(in_w);
	read_all(out_r, out, sizeof(out));
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_contains(out, "open " LOOP_PATH ": ENOSYS");
	sgd_cleanup(&s);
}

static const char *const v2_srcs[] = {
	"return sysgate.policy { name = 'allowall', on = {\n"
	"  openat = function(c)\n"
	"    if c.path == '" LOOP_PATH "' then return sysgate.deny('EACCES'):log('v2') end\n"
	"    return sysgate.allow()\n"
	"  end } }\n",
};

/*
 * An upgrade can change a policy: the target keeps the filter it started
 * with, and the new supervisor's handler decides what it forwards. Here
 * the second version denies what the first allowed.
 */
static void test_takeover_new_policy_decides(void **state)
{
	const char *argv[] = { probe(), "open", LOOP_PATH, "wait", "open", LOOP_PATH, NULL };
	char out[4096] = "";
	sgd_proc_t s, v;
	json_object *log, *d;
	int in_w, out_r, status;
	pid_t pid;

	START(&s, allowall, NULL);
	pid = run_under_async(&s, "allowall", argv, &in_w, &out_r);
	read_line(out_r, out, sizeof(out));
	assert_contains(out, "open " LOOP_PATH ": ok");
	sgd_write_config(&s, "log-1.jsonl", NULL, 1, allowall_names, v2_srcs);
	assert_true(sgd_takeover(&s, &status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(write(in_w, "\n", 1), 1);
	close(in_w);
	read_all(out_r, out, sizeof(out));
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_contains(out, "open " LOOP_PATH ": EACCES");
	v = log_view(&s, "log-1.jsonl");
	assert_true(log_wait(&v, "target_end", 1));
	log = sgd_log(&v);
	d = log_find(log, "decision", "message", "v2");
	assert_non_null(d);
	assert_string_equal(str_field(d, "verdict"), "deny");
	json_object_put(log);
	sgd_stop(&s);
}

/* The allowall policy with a syntax error on its second line. */
static const char *const broken_srcs[] = {
	"return sysgate.policy { name = 'allowall', on = {\n"
	"  openat = function(c) return sysgate.allow( end } }\n",
};

/*
 * A takeover is how a changed policy is put in place, so it is also the
 * reload of HARDENING 25: one whose policy does not load is refused before
 * the running supervisor is asked for anything. The new sysgated exits 1
 * naming the file and line; the old one keeps serving its target and new
 * ones, with the policy it loaded, and logs no takeover at all.
 */
static void test_takeover_broken_policy_keeps_old(void **state)
{
	const char *argv2[] = { probe(), "open", LOOP_PATH, NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;
	int in_w, out_r, fds;
	pid_t pid, old;

	START(&s, allowall, NULL);
	old = s.pid;
	pid = start_waiting_target(&s, "allowall", &in_w, &out_r);
	fds = fd_count(s.pid);

	sgd_write_config(&s, "log.jsonl", NULL, 1, allowall_names, broken_srcs);
	assert_takeover_refused(&s, old, fds, "allowall.lua:2:");
	finish_waiting_target(pid, in_w, out_r);
	run_under(&s, "allowall", argv2, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open " LOOP_PATH ": ok");

	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	assert_int_equal(log_count(log, "takeover", NULL, NULL), 0);
	json_object_put(log);
	sgd_stop(&s);
}

/* mkdir is emulated (nothing is created), at most once every 4 s: the
 * second mkdir of a target waits 4 s, parked in sysgated. */
POLICY(slowpark, "local sg = sysgate\n"
		 "return sg.policy { name = 'slowpark', on = {\n"
		 "  mkdir = sg.limit { rate = 0.25, burst = 1, per = 'target', over = 'throttle',\n"
		 "    under = sg.emulate(0):log('call') } } }\n");
#define PARK_DIR "/tmp/sysgate-takeover-never"

/* Decisions on mkdir in s's log. */
static size_t mkdir_decisions(const sgd_proc_t *s)
{
	json_object *log = sgd_log(s);
	size_t n = log_count(log, "decision", "syscall", "mkdir");

	json_object_put(log);
	return n;
}

/*
 * A call parked by a throttle when the takeover comes is answered by the
 * old supervisor before it hands over: it waits out its throttle up to
 * 2 s, and is then decided at once, ahead of its time (here it had 4 s to
 * wait). It succeeds, is decided once, and the new supervisor never sees
 * it.
 */
static void test_takeover_parked_call_answered(void **state)
{
	const char *argv[] = { probe(), "mkdir", PARK_DIR, "mkdir", PARK_DIR, NULL };
	char out[4096] = "";
	struct timespec ts = { 0, 300000000L };
	sgd_proc_t s, v;
	json_object *log, *d = NULL;
	int in_w, out_r, status;
	int64_t waited;
	pid_t pid;

	START(&s, slowpark, NULL);
	pid = run_under_async(&s, "slowpark", argv, &in_w, &out_r);
	read_line(out_r, out, sizeof(out));
	assert_contains(out, "mkdir " PARK_DIR ": ok 0");
	nanosleep(&ts, NULL); /* the second call is parked by now */
	sgd_write_config(&s, "log-1.jsonl", NULL, 1, slowpark_names, slowpark_srcs);
	assert_true(sgd_takeover(&s, &status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(in_w);
	read_all(out_r, out, sizeof(out));
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(strstr(strstr(out, "ok") + 2, "mkdir " PARK_DIR ": ok 0") != NULL, 1);

	log = sgd_log(&s);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i), *t;

		if (strcmp(str_field(o, "event"), "decision") == 0 &&
		    json_object_object_get_ex(o, "throttle_ns", &t))
			d = o;
	}
	if (!d)
		fail_msg("the old supervisor logged no throttled decision");
	waited = int_field(d, "throttle_ns");
	if (waited < 1500000000LL || waited >= 4000000000LL)
		fail_msg("the parked call waited %" PRId64 " ns, want 1.5 to 4 s", waited);
	assert_int_equal(mkdir_decisions(&s), 2);
	takeover_event(log, "old", "done");
	json_object_put(log);
	v = log_view(&s, "log-1.jsonl");
	assert_int_equal(mkdir_decisions(&v), 0);
	sgd_stop(&s);
}

/* The control socket's messages, as the tests build them by hand: the
 * header, then REQUEST's pid, reserved word and config path. */
typedef struct {
	uint32_t magic;
	uint16_t version, type;
	uint32_t length, reserved;
	uint32_t pid, reserved2;
	char config[4096];
} request_t;

/* Sends len bytes of msg on a new connection to s's control socket and
 * returns what came back: the answer's type (6: REFUSE), 0 for none;
 * fails unless the supervisor closes the connection then. */
static int ask_control(const sgd_proc_t *s, const void *msg, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	unsigned char buf[4096];
	uint16_t type = 0;
	ssize_t n;
	char path[400];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);

	snprintf(path, sizeof(path), "%s.takeover", s->socket);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
	n = recv(fd, buf, sizeof(buf), 0);
	if (n >= 8)
		memcpy(&type, buf + 6, sizeof(type));
	/* And then the supervisor closes the connection. */
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	return type;
}

/*
 * Requests the control socket refuses: a malformed one, one for another
 * config (a well-formed REQUEST naming /etc/passwd), and a truncated
 * one. Each gets a REFUSE, is logged, costs the supervisor no fd, and
 * leaves it serving a running target and the next real takeover.
 */
static void test_takeover_bad_requests_refused(void **state)
{
	const char *argv[] = { probe(), "open", LOOP_PATH, "wait", "open", LOOP_PATH, NULL };
	static request_t req;
	unsigned char junk[64];
	char out[4096] = "";
	sgd_proc_t s;
	json_object *log;
	int in_w, out_r, status, fds;
	pid_t pid;

	START(&s, loop, NULL);
	pid = run_under_async(&s, "loop", argv, &in_w, &out_r);
	read_line(out_r, out, sizeof(out));
	fds = fd_count(s.pid);

	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(ask_control(&s, junk, sizeof(junk)), 6);
	req.magic = 0x4b544753u;
	req.version = 1;
	req.type = 1;
	req.length = sizeof(req);
	req.pid = (uint32_t)getpid();
	snprintf(req.config, sizeof(req.config), "/etc/passwd");
	assert_int_equal(ask_control(&s, &req, sizeof(req)), 6);
	assert_int_equal(ask_control(&s, &req, sizeof(req) - 1), 6);
	assert_int_equal(waitpid(s.pid, NULL, WNOHANG), 0);
	assert_int_equal(fd_count(s.pid), fds);

	log = sgd_log(&s);
	assert_int_equal(log_count(log, "takeover", "result", "refused"), 3);
	assert_non_null(log_find(log, "takeover", "message", "malformed REQUEST: Bad message"));
	json_object_put(log);

	/* Served on, and taken over for real afterwards. */
	assert_true(sgd_takeover(&s, &status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(write(in_w, "\n", 1), 1);
	close(in_w);
	read_all(out_r, out, sizeof(out));
	close(out_r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(strstr(strstr(out, "ok") + 2, "open " LOOP_PATH ": ok") != NULL, 1);
	sgd_stop(&s);
}

/* A REFUSE as the running supervisor sends it: the header, the reason
 * (NUL-terminated in 513 bytes) and 7 bytes of padding. */
typedef struct {
	uint32_t magic;
	uint16_t version, type;
	uint32_t length, reserved;
	char reason[513];
	char pad[7];
} refuse_t;

#define HOSTILE_REASON "no\x1b]0;owned\x07 \x1b[2Jway \xc3\xa9t\xc3\xa9"

/*
 * The reason of a refusal comes from the peer on the control socket and
 * is printed to the new sysgated's stderr, often a terminal: a peer that
 * sends escape sequences gets them shown as '?', while UTF-8 text is
 * kept. The peer here stands in for the running supervisor: it takes the
 * REQUEST and answers with a REFUSE full of control characters.
 */
static void test_takeover_refusal_reason_escaped(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static refuse_t m;
	char path[400], text[8192] = "";
	unsigned char buf[8192];
	int lfd, status;
	sgd_proc_t s;
	pid_t peer;
	FILE *f;

	START(&s, allowall, NULL);
	sgd_kill(&s);
	snprintf(path, sizeof(path), "%s.takeover", s.socket);
	unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	m.magic = 0x4b544753u;
	m.version = 1;
	m.type = 6;
	m.length = sizeof(m);
	snprintf(m.reason, sizeof(m.reason), "%s", HOSTILE_REASON);
	peer = fork();
	assert_true(peer >= 0);
	if (peer == 0) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0 || recv(c, buf, sizeof(buf), 0) <= 0 ||
		    send(c, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			_exit(1);
		for (;;)
			pause();
	}
	close(lfd);

	/* The peer is the supervisor to take over; it never exits by itself,
	 * so only the new sysgated's exit can end the takeover. */
	s.pid = peer;
	if (sgd_takeover(&s, &status))
		fail_msg("the takeover was not refused");
	kill(peer, SIGKILL);
	assert_int_equal(waitpid(peer, NULL, 0), peer);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		fail_msg("the refused sysgated exited with status 0x%x, want 1", status);
	snprintf(path, sizeof(path), "%s/takeover.out", s.dir);
	f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	assert_contains(text, "refused by the running supervisor: no?]0;owned? ?[2Jway \xc3\xa9t\xc3\xa9");
	assert_null(strchr(text, '\x1b'));
	assert_null(strchr(text, '\x07'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_takeover_no_failed_call, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_refused_missing_policy, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_then_kill_enosys, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_new_policy_decides, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_broken_policy_keeps_old, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_parked_call_answered, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_bad_requests_refused, sgd_teardown),
		cmocka_unit_test_teardown(test_takeover_refusal_reason_escaped, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
