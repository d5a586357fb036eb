/*
 * The integration tests' harness: start a sysgated on a temporary
 * directory with given policies, run programs under sysgate-run, read the
 * decision log back as JSON, count the supervisor's open fds.
 */
#ifndef SG_TEST_HARNESS_H
#define SG_TEST_HARNESS_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sgd_proc {
	char dir[256];    /* temporary directory: config, policies, log, socket */
	char socket[300];
	char log[300];
	pid_t pid;
} sgd_proc_t;

typedef struct run_result {
	int status;        /* waitpid status of sysgate-run */
	char out[8192];    /* its stdout */
	char err[8192];    /* its stderr */
} run_result_t;

/* Writes policy NAME with the Lua source src into a new temp dir with a
 * config naming it (and extra config lines, may be NULL), starts sysgated
 * and waits for its socket. npol pairs of (name, source). */
void sgd_start(sgd_proc_t *s, const char *extra_config, size_t npol, const char *const *names,
	       const char *const *sources);
/* The same, with entries[i] (may be NULL) added inside policy i's group
 * of the config, e.g. "modes = [ \"audit\" ];". */
void sgd_start_entries(sgd_proc_t *s, const char *extra_config, size_t npol,
		       const char *const *names, const char *const *sources,
		       const char *const *entries);
/* The same, with sysgated started under a wrapper: wrapper (NULL-ended,
 * wrapper[0] a path; NULL: none) comes before sysgated's path and its
 * arguments, e.g. { "/usr/bin/valgrind", "--tool=memcheck", NULL }. The
 * wrapper's pid is s->pid; it may take up to 120 s to be ready. */
void sgd_start_wrapped(sgd_proc_t *s, const char *const *wrapper, const char *extra_config,
		       size_t npol, const char *const *names, const char *const *sources,
		       const char *const *entries);
/* Rewrites s's config (and policy files) in place: log is the log's
 * file name in s->dir; s->log is left as it was. */
void sgd_write_config(const sgd_proc_t *s, const char *log, const char *extra_config, size_t npol,
		      const char *const *names, const char *const *sources);
/* Starts a second sysgated with --takeover on s's config and waits until
 * one of the two exits. The old one: the takeover is done, s->pid is the
 * new one's, *status the old one's wait status; true. The new one: it was
 * refused, *status is its wait status, s is unchanged; false. Its output
 * is in s->dir/takeover.out. */
bool sgd_takeover(sgd_proc_t *s, int *status);
/* SIGTERM, wait, assert a clean exit; removes the temp dir. */
void sgd_stop(sgd_proc_t *s);
/* SIGTERM, wait; returns the wait status and keeps the dir. */
int sgd_term(sgd_proc_t *s);
/* SIGKILL, wait; keeps the dir. */
void sgd_kill(sgd_proc_t *s);
void sgd_cleanup(sgd_proc_t *s);
/* cmocka teardown: kills a sysgated a failed test left running. */
int sgd_teardown(void **state);

/* Runs sysgate-run -s SOCKET -p POLICY -- argv... and waits for it. If
 * stdin_fd >= 0 it becomes the program's stdin. */
void run_under(const sgd_proc_t *s, const char *policy, const char *const *argv, run_result_t *r);
/* The same with sysgate-run --mode MODE (mode NULL: no --mode). */
void run_under_mode(const sgd_proc_t *s, const char *policy, const char *mode,
		    const char *const *argv, run_result_t *r);
pid_t run_under_async(const sgd_proc_t *s, const char *policy, const char *const *argv, int *stdin_w,
		      int *stdout_r);

/* Reads every log line as JSON; returns a json array (caller puts it). */
json_object *sgd_log(const sgd_proc_t *s);
/* Events in log whose "event" is ev and, if key is not NULL, whose key
 * has the string value val. */
size_t log_count(json_object *log, const char *ev, const char *key, const char *val);
json_object *log_find(json_object *log, const char *ev, const char *key, const char *val);
/* handshake_refused events of uid whose message holds needle. */
size_t log_refusals(json_object *log, unsigned uid, const char *needle);
/* Files in dir whose names do not start with '.'. */
int count_files(const char *dir);
/* Waits (up to 5 s) until the log holds an event ev. */
bool log_wait(const sgd_proc_t *s, const char *ev, size_t count);

/* A test's policy: POLICY(name, source) declares it, START(&s, name,
 * extra_config) starts a sysgated serving it alone. */
#define POLICY(name, src) \
	static const char *const name##_names[] = { #name }; \
	static const char *const name##_srcs[] = { src }

#define START(s, name, extra) sgd_start(s, extra, 1, name##_names, name##_srcs)

/* The probe program (tests/programs/probe.c). */
const char *probe(void);
/* Fails the test unless r exited with code, showing its output. */
void assert_exited(const run_result_t *r, int code);
/* Fails the test unless needle is in hay, showing hay. */
void assert_contains(const char *hay, const char *needle);
/* The string value of key in o, or NULL. */
const char *str_field(json_object *o, const char *key);

/* Reads one line of fd into buf, without its newline. */
void read_line(int fd, char *buf, size_t len);

/* The zero-allocation tests: alloc_counter_preload(file, true) makes the
 * next sysgated started count its allocations (tests/programs/
 * alloccount.c), false stops it for what is started after;
 * sgd_alloc_count asks that sysgated for its count so far. Not in the
 * sanitizer build (sanitized_build()), whose runtimes own the allocator. */
bool sanitized_build(void);
void alloc_counter_preload(const char *file, bool on);
unsigned long sgd_alloc_count(const sgd_proc_t *s, const char *file);

/* Number of open fds of pid. */
int fd_count(pid_t pid);

/* Reads a small /proc file of pid (/proc/PID/NAME) into buf, NUL-terminated;
 * false if it is gone or empty. */
bool read_proc(pid_t pid, const char *name, char *buf, size_t len);
/* Sleeps ms milliseconds. */
void sleep_ms(int ms);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t mono_ms(void);
/* The integer value of key in o; fails the test when there is none. */
int64_t int_field(json_object *o, const char *key);

/* A loopback port nobody listens on: bound to port 0, read, let go. */
int free_port(void);
/* GET /metrics from 127.0.0.1:port; the body (after the headers), which
 * the caller frees. Fails the test unless the status is 200. */
char *metrics_scrape(int port);

const char *env_path(const char *name);

#endif
