/*
 * The integration tests' harness (see harness.h). Everything runs real
 * binaries: sysgated, sysgate-run and the probe program, found through
 * the environment meson gives the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* The supervisor of the running test, for the teardown after a failure.
 * Copies, not a pointer to the test's sgd_proc_t: that lives in the failed
 * test's stack frame, which cmocka has left by longjmp and overwritten by
 * the time the teardown runs, so its pid would be any number at all. The
 * pid stays ours to signal until we reap it. */
static pid_t current_pid;
static char current_dir[sizeof(((sgd_proc_t *)0)->dir)];

static void current_forget(void)
{
	current_pid = 0;
	current_dir[0] = '\0';
}

const char *env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v) {
		fprintf(stderr, "harness: %s is not set (run through meson test)\n", name);
		abort();
	}
	return v;
}

const char *probe(void)
{
	return env_path("PROBE");
}

void assert_exited(const run_result_t *r, int code)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
		fail_msg("status 0x%x, want exit %d; stdout:\n%s\nstderr:\n%s", r->status, code, r->out,
			 r->err);
}

void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

bool read_proc(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t int_field(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		fail_msg("no field '%s' in %s", key, o ? json_object_to_json_string(o) : "(null)");
	return json_object_get_int64(v);
}

int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

char *metrics_scrape(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	size_t cap = 1 << 20, off = 0;
	char *buf = malloc(cap), *body;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	assert_non_null(buf);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
	while (off + 1 < cap && (n = read(s, buf + off, cap - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	close(s);
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200 ", 5) != 0)
		fail_msg("scrape: not a 200:\n%.400s", buf);
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	body = strdup(body + 4);
	free(buf);
	return body;
}

/* Ready once it logged supervisor_start: connecting to find out would
 * itself be a handshake, and show up in the log. */
static bool sgd_ready(const sgd_proc_t *s)
{
	char buf[4096] = "";
	FILE *f = fopen(s->log, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, "\"supervisor_start\"") != NULL;
}

void sgd_start(sgd_proc_t *s, const char *extra_config, size_t npol, const char *const *names,
	       const char *const *sources)
{
	sgd_start_entries(s, extra_config, npol, names, sources, NULL);
}

/* Writes the policies and the config into s->dir (log: the log's file
 * name there). The config's path, for sysgated -c. */
static void write_config(const sgd_proc_t *s, const char *log, const char *extra_config,
			 size_t npol, const char *const *names, const char *const *sources,
			 const char *const *entries, char *path, size_t len)
{
	char conf[8192], file[512];
	size_t off;

	off = (size_t)snprintf(conf, sizeof(conf),
			       "socket = \"%s\";\nlog = \"%s\";\n%s\npolicies = (\n", s->socket, log,
			       extra_config ? extra_config : "");
	for (size_t i = 0; i < npol; i++) {
		snprintf(file, sizeof(file), "%s/%s.lua", s->dir, names[i]);
		write_file(file, sources[i]);
		off += (size_t)snprintf(conf + off, sizeof(conf) - off,
					"%s{ name = \"%s\"; file = \"%s.lua\"; %s }\n", i ? "," : "",
					names[i], names[i], entries && entries[i] ? entries[i] : "");
	}
	snprintf(conf + off, sizeof(conf) - off, ");\n");
	snprintf(path, len, "%s/sysgate.conf", s->dir);
	write_file(path, conf);
}

void sgd_write_config(const sgd_proc_t *s, const char *log, const char *extra_config, size_t npol,
		      const char *const *names, const char *const *sources)
{
	char path[512];

	write_config(s, log, extra_config, npol, names, sources, NULL, path, sizeof(path));
}

void sgd_start_entries(sgd_proc_t *s, const char *extra_config, size_t npol,
		       const char *const *names, const char *const *sources,
		       const char *const *entries)
{
	sgd_start_wrapped(s, NULL, extra_config, npol, names, sources, entries);
}

/* Execs SYSGATED -c path, or wrapper[0] wrapper[1]... SYSGATED -c path
 * (wrapper[0] a path); never returns. */
static void exec_sysgated(const char *const *wrapper, const char *path)
{
	const char *sysgated = env_path("SYSGATED"), *argv[64];
	size_t n = 0;

	for (; wrapper && wrapper[n] && n < 60; n++)
		argv[n] = wrapper[n];
	argv[n] = n ? sysgated : "sysgated";
	argv[n + 1] = "-c";
	argv[n + 2] = path;
	argv[n + 3] = NULL;
	execv(n ? argv[0] : sysgated, (char *const *)argv);
	_exit(127);
}

void sgd_start_wrapped(sgd_proc_t *s, const char *const *wrapper, const char *extra_config,
		       size_t npol, const char *const *names, const char *const *sources,
		       const char *const *entries)
{
	/* 5 s, or 120 s under a wrapper: valgrind's start-up alone takes
	 * seconds on a loaded machine. */
	int tries = wrapper ? 12000 : 500;
	char path[512];

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/sysgate-test.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->socket, sizeof(s->socket), "%s/sock", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log.jsonl", s->dir);
	write_config(s, "log.jsonl", extra_config, npol, names, sources, entries, path, sizeof(path));

	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char out[400];
		int fd;

		/* Not the test's stdout: a sysgated left behind by a failed
		 * test must not hold the test runner's pipe open. */
		snprintf(out, sizeof(out), "%s/sysgated.out", s->dir);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		exec_sysgated(wrapper, path);
	}
	current_pid = s->pid;
	memcpy(current_dir, s->dir, sizeof(current_dir));
	for (int i = 0; i < tries; i++) {
		int status;

		if (sgd_ready(s))
			return;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			current_forget();
			fail_msg("sysgated exited during start-up (status 0x%x); see %s", status, s->dir);
		}
		sleep_ms(10);
	}
	fail_msg("sysgated did not open %s", s->socket);
}

/* Starts sysgated -c CONFIG --takeover on s's config, its output in
 * takeover.out (the last takeover's). */
static pid_t takeover_spawn(const sgd_proc_t *s)
{
	char out[400], path[400];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/takeover.out", s->dir);
	snprintf(path, sizeof(path), "%s/sysgate.conf", s->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(env_path("SYSGATED"), "sysgated", "-c", path, "--takeover", (char *)NULL);
		_exit(127);
	}
	return pid;
}

bool sgd_takeover(sgd_proc_t *s, int *status)
{
	pid_t pid = takeover_spawn(s);

	for (int i = 0; i < 3000; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return false;
		if (waitpid(s->pid, status, WNOHANG) == s->pid) {
			s->pid = pid;
			current_pid = pid;
			return true;
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("neither sysgated exited within 30 s of a takeover; see %s", s->dir);
	return false;
}

void sgd_cleanup(sgd_proc_t *s)
{
	char cmd[400];

	if (!s->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "harness: cannot remove %s\n", s->dir);
	s->dir[0] = '\0';
}

int sgd_term(sgd_proc_t *s)
{
	int status;

	assert_int_equal(kill(s->pid, SIGTERM), 0);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	if (s->pid == current_pid)
		current_forget();
	s->pid = 0;
	return status;
}

void sgd_stop(sgd_proc_t *s)
{
	int status = sgd_term(s);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("sysgated did not stop cleanly (status 0x%x); log in %s", status, s->dir);
	sgd_cleanup(s);
}

void sgd_kill(sgd_proc_t *s)
{
	int status;

	assert_int_equal(kill(s->pid, SIGKILL), 0);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	if (s->pid == current_pid)
		current_forget();
	s->pid = 0;
}

int sgd_teardown(void **state)
{
	(void)state;
	if (current_pid > 0) {
		fprintf(stderr, "harness: test failed; sysgated's output and log are kept in %s\n",
			current_dir);
		kill(current_pid, SIGKILL);
		waitpid(current_pid, NULL, 0);
	}
	current_forget();
	return 0;
}

static const char **build_argv(const sgd_proc_t *s, const char *policy, const char *mode,
			       const char *const *argv)
{
	static const char *v[512];
	size_t n = 0;

	v[n++] = "sysgate-run";
	v[n++] = "-s";
	v[n++] = s->socket;
	v[n++] = "-p";
	v[n++] = policy;
	if (mode) {
		v[n++] = "--mode";
		v[n++] = mode;
	}
	v[n++] = "--";
	for (size_t i = 0; argv[i] && n < 511; i++)
		v[n++] = argv[i];
	v[n] = NULL;
	return v;
}

pid_t run_under_async(const sgd_proc_t *s, const char *policy, const char *const *argv, int *stdin_w,
		      int *stdout_r)
{
	const char **v = build_argv(s, policy, NULL, argv);
	int in[2], out[2];
	pid_t pid;

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(env_path("SYSGATE_RUN"), (char *const *)v);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*stdin_w = in[1];
	*stdout_r = out[0];
	return pid;
}

/* Reads fd to EOF into buf (NUL-terminated, truncated to len). */
static void slurp(int fd, char *buf, size_t len)
{
	size_t off = 0;

	for (;;) {
		char tmp[1024];
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && off + 1 < len; i++)
			buf[off++] = tmp[i];
	}
	buf[off] = '\0';
}

void run_under(const sgd_proc_t *s, const char *policy, const char *const *argv, run_result_t *r)
{
	run_under_mode(s, policy, NULL, argv, r);
}

void run_under_mode(const sgd_proc_t *s, const char *policy, const char *mode,
		    const char *const *argv, run_result_t *r)
{
	const char **v = build_argv(s, policy, mode, argv);
	int out[2], err[2];
	pid_t pid;

	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(env_path("SYSGATE_RUN"), (char *const *)v);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* The outputs are small; reading one to EOF before the other cannot
	 * fill the other's pipe. */
	slurp(out[0], r->out, sizeof(r->out));
	slurp(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
}

json_object *sgd_log(const sgd_proc_t *s)
{
	json_object *arr = json_object_new_array();
	FILE *f = fopen(s->log, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return arr;
	for (ssize_t n; (n = getline(&line, &cap, f)) > 0;) {
		json_object *o;

		/* A last line without its newline is one sysgated is still
		 * writing (a test polls the log while it runs): not yet an
		 * event, and not JSON yet. */
		if (line[n - 1] != '\n')
			break;
		o = json_tokener_parse(line);
		if (!o)
			fail_msg("log line is not JSON: %s", line);
		json_object_array_add(arr, o);
	}
	free(line);
	fclose(f);
	return arr;
}

static bool matches(json_object *o, const char *ev, const char *key, const char *val)
{
	json_object *e, *k;

	if (!json_object_object_get_ex(o, "event", &e) || strcmp(json_object_get_string(e), ev) != 0)
		return false;
	if (!key)
		return true;
	return json_object_object_get_ex(o, key, &k) && strcmp(json_object_get_string(k), val) == 0;
}

size_t log_count(json_object *log, const char *ev, const char *key, const char *val)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++)
		n += matches(json_object_array_get_idx(log, i), ev, key, val);
	return n;
}

json_object *log_find(json_object *log, const char *ev, const char *key, const char *val)
{
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *o = json_object_array_get_idx(log, i);

		if (matches(o, ev, key, val))
			return o;
	}
	return NULL;
}

int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

size_t log_refusals(json_object *log, unsigned uid, const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event"), *msg = str_field(e, "message");

		if (ev && strcmp(ev, "handshake_refused") == 0 && int_field(e, "uid") == uid &&
		    msg && strstr(msg, needle))
			n++;
	}
	return n;
}

bool log_wait(const sgd_proc_t *s, const char *ev, size_t count)
{
	for (int i = 0; i < 500; i++) {
		json_object *log = sgd_log(s);
		size_t n = log_count(log, ev, NULL, NULL);

		json_object_put(log);
		if (n >= count)
			return true;
		sleep_ms(10);
	}
	return false;
}

int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

void read_line(int fd, char *buf, size_t len)
{
	size_t off = 0;

	while (off + 1 < len && read(fd, buf + off, 1) == 1 && buf[off] != '\n')
		off++;
	buf[off] = '\0';
}

bool sanitized_build(void)
{
	const char *v = getenv("SANITIZED");

	return v && strcmp(v, "1") == 0;
}

void alloc_counter_preload(const char *file, bool on)
{
	if (on) {
		setenv("LD_PRELOAD", env_path("ALLOCCOUNT"), 1);
		setenv("ALLOC_COUNT_FILE", file, 1);
	} else {
		unsetenv("LD_PRELOAD");
		unsetenv("ALLOC_COUNT_FILE");
	}
}

unsigned long sgd_alloc_count(const sgd_proc_t *s, const char *file)
{
	char buf[64];

	unlink(file);
	assert_int_equal(kill(s->pid, SIGUSR2), 0);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(file, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		if (n > 0)
			return strtoul(buf, NULL, 10);
		usleep(10000);
	}
	fail_msg("no allocation count from sysgated");
	return 0;
}
