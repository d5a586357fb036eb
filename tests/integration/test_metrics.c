/*
 * The metrics endpoint on the real kernel: a sysgated with metrics_listen
 * on a free loopback port decides a scripted run (denies, logged allows,
 * brokered opens, an emulate, a failing handler, a kill); a plain HTTP
 * GET of /metrics must then give counts equal to the events in its log,
 * and the log counters must equal the log file's lines and bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
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

POLICY(m, "return sysgate.policy { name = 'm', on = {\n"
	  "  openat = function(c)\n"
	  "    if c.path == '/etc/hostname' then return sysgate.deny('EACCES') end\n"
	  "    if c.path == '/kill-me' then return sysgate.kill() end\n"
	  "    if c.path:sub(1, 5) == '/etc/' then return sysgate.open():log() end\n"
	  "    return sysgate.allow():log()\n"
	  "  end,\n"
	  "  mkdir = function(c)\n"
	  "    if c.path == '/boom' then error('boom') end\n"
	  "    return sysgate.emulate(0)\n"
	  "  end } }\n");

POLICY(steady, "return sysgate.policy { name = 'steady', on = {\n"
	       "  getppid = function(c) return sysgate.allow() end } }\n");

/* The value of the sample written exactly as series, -1 when absent. */
static double metric(const char *body, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* The sum of every sample of the family name (any labels). */
static double metric_sum(const char *body, const char *name)
{
	size_t n = strlen(name);
	double sum = 0;

	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == '{' || p[n] == ' '))
			sum += strtod(strchr(p, ' ') + 1, NULL);
	return sum;
}

static void expect_metric(const char *body, const char *series, double want)
{
	double got = metric(body, series);

	if (got != want)
		fail_msg("%s: scraped %g, the log says %g; scrape:\n%s", series, got, want, body);
}

static bool has_key(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v);
}

static int64_t int_field_or(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* Every (syscall, verdict) pair of the log's decisions has a series with
 * that count, and no series counts a decision the log does not have. */
static size_t check_decisions(const char *body, json_object *log)
{
	char series[16][160];
	size_t counts[16], nseries = 0, total = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		char key[160];
		size_t j;

		if (strcmp(str_field(e, "event"), "decision") != 0)
			continue;
		snprintf(key, sizeof(key),
			 "sysgate_decisions_total{policy=\"m\",syscall=\"%s\",verdict=\"%s\"}",
			 str_field(e, "syscall"), str_field(e, "verdict"));
		for (j = 0; j < nseries && strcmp(series[j], key) != 0; j++)
			;
		if (j == nseries) {
			assert_true(nseries < 16);
			snprintf(series[nseries], sizeof(series[0]), "%s", key);
			counts[nseries++] = 0;
		}
		counts[j]++;
		total++;
	}
	for (size_t j = 0; j < nseries; j++)
		expect_metric(body, series[j], (double)counts[j]);
	if (metric_sum(body, "sysgate_decisions_total") != (double)total)
		fail_msg("decisions: %g scraped in all, %zu in the log:\n%s",
			 metric_sum(body, "sysgate_decisions_total"), total, body);
	return total;
}

/* What the log says, counted the way each metric counts. */
typedef struct log_counts {
	size_t decisions, errors, fallbacks, kills, opens_ok, opens_failed;
	size_t started, ended_exited, lines;
	int64_t notifications;
	off_t bytes;
} log_counts_t;

static void count_log(const sgd_proc_t *s, json_object *log, log_counts_t *n)
{
	struct stat st;

	memset(n, 0, sizeof(*n));
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *ev = str_field(e, "event"), *verdict = str_field(e, "verdict");

		n->lines++;
		n->errors += strcmp(ev, "error") == 0;
		n->started += strcmp(ev, "target_start") == 0;
		if (strcmp(ev, "target_end") == 0) {
			n->ended_exited += strcmp(str_field(e, "reason"), "exited") == 0;
			n->notifications += int_field_or(e, "notifications");
		}
		if (strcmp(ev, "decision") != 0)
			continue;
		n->decisions++;
		n->fallbacks += has_key(e, "fallback");
		n->kills += strcmp(verdict, "kill") == 0;
		if (strcmp(verdict, "open") == 0) {
			n->opens_ok += has_key(e, "fd");
			n->opens_failed += !has_key(e, "fd");
		}
	}
	assert_int_equal(stat(s->log, &st), 0);
	n->bytes = st.st_size;
}

static void start_with_metrics(sgd_proc_t *s, int *port)
{
	char extra[128];

	*port = free_port();
	snprintf(extra, sizeof(extra), "metrics_listen = \"127.0.0.1:%d\";", *port);
	START(s, m, extra);
}

/* A scripted run, then the scrape: each metric equals what the log says. */
static void test_metrics_equal_the_log(void **state)
{
	const char *run1[] = { probe(), "open", "/etc/hostname", "open", "/etc/os-release",
			       "open", "/etc/sysgate-absent", "open", "/", "mkdir", "/made-up",
			       "mkdir", "/boom", "exit", "0", NULL };
	const char *run2[] = { probe(), "open", "/kill-me", "exit", "0", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;
	log_counts_t n;
	int port;
	char *body;

	start_with_metrics(&s, &port);
	run_under(&s, "m", run1, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "open /etc/hostname: EACCES");
	assert_contains(r.out, "open /etc/os-release: ok");
	assert_contains(r.out, "open /etc/sysgate-absent: ENOENT");
	assert_contains(r.out, "mkdir /made-up: ok 0");
	assert_contains(r.out, "mkdir /boom: EPERM");
	run_under(&s, "m", run2, &r);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
		fail_msg("status 0x%x, want SIGKILL; stdout:\n%s", r.status, r.out);
	assert_true(log_wait(&s, "target_end", 2));

	body = metrics_scrape(port);
	log = sgd_log(&s);
	count_log(&s, log, &n);
	/* The script happened as planned, so the equalities below are not 0 == 0. */
	assert_int_equal(n.kills, 1);
	assert_int_equal(n.fallbacks, 1);
	assert_int_equal(n.errors, 1);
	assert_int_equal(n.opens_failed, 1);
	assert_true(n.opens_ok >= 1);
	assert_int_equal(check_decisions(body, log), n.decisions);
	expect_metric(body, "sysgate_decisions_total{policy=\"m\",syscall=\"openat\",verdict=\"deny\"}", 1);
	expect_metric(body, "sysgate_decisions_total{policy=\"m\",syscall=\"mkdir\",verdict=\"emulate\"}", 1);
	expect_metric(body, "sysgate_notifications_total{policy=\"m\"}", (double)n.notifications);
	expect_metric(body, "sysgate_notifications_total{policy=\"m\"}", (double)n.decisions);
	expect_metric(body, "sysgate_notifications_in_flight{policy=\"m\"}", 0);
	expect_metric(body, "sysgate_errors_total{policy=\"m\"}", (double)n.errors);
	expect_metric(body, "sysgate_fallbacks_total{policy=\"m\"}", (double)n.fallbacks);
	expect_metric(body, "sysgate_kills_total{policy=\"m\"}", (double)n.kills);
	expect_metric(body, "sysgate_brokered_opens_total{policy=\"m\",result=\"ok\"}", (double)n.opens_ok);
	expect_metric(body, "sysgate_brokered_opens_total{policy=\"m\",result=\"failed\"}",
		      (double)n.opens_failed);
	expect_metric(body, "sysgate_targets_started_total{policy=\"m\"}", (double)n.started);
	expect_metric(body, "sysgate_targets_ended_total{policy=\"m\",reason=\"exited\"}",
		      (double)n.ended_exited);
	expect_metric(body, "sysgate_targets_active{policy=\"m\"}", 0);
	expect_metric(body, "sysgate_handler_seconds_count{policy=\"m\"}", (double)n.decisions);
	expect_metric(body, "sysgate_handler_seconds_bucket{policy=\"m\",le=\"+Inf\"}", (double)n.decisions);
	assert_true(metric(body, "sysgate_handler_seconds_sum{policy=\"m\"}") > 0);
	/* Nothing in this run is limited or audited. */
	assert_true(metric_sum(body, "sysgate_would_deny_total") == 0);
	assert_true(metric_sum(body, "sysgate_rate_limited_total") == 0);
	/* M5: the log's own volume, to the line and the byte. */
	expect_metric(body, "sysgate_log_events_total", (double)n.lines);
	expect_metric(body, "sysgate_log_bytes_total", (double)n.bytes);
	expect_metric(body, "sysgate_log_events_suppressed_total", 0);
	expect_metric(body, "sysgate_log_write_failures_total", 0);
	json_object_put(log);
	free(body);
	sgd_stop(&s);
}

/* The gauges follow a target that is running, then gone. */
static void test_metrics_active_target(void **state)
{
	const char *argv[] = { probe(), "wait", "open", "/", "exit", "0", NULL };
	sgd_proc_t s;
	int port, in, out, status;
	pid_t pid;
	char *body;

	start_with_metrics(&s, &port);
	pid = run_under_async(&s, "m", argv, &in, &out);
	assert_true(log_wait(&s, "target_start", 1));
	body = metrics_scrape(port);
	expect_metric(body, "sysgate_targets_active{policy=\"m\"}", 1);
	expect_metric(body, "sysgate_targets_started_total{policy=\"m\"}", 1);
	free(body);
	assert_int_equal(write(in, "go\n", 3), 3);
	close(in);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(out);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(log_wait(&s, "target_end", 1));
	body = metrics_scrape(port);
	expect_metric(body, "sysgate_targets_active{policy=\"m\"}", 0);
	expect_metric(body, "sysgate_targets_ended_total{policy=\"m\",reason=\"exited\"}", 1);
	expect_metric(body, "sysgate_notifications_in_flight{policy=\"m\"}", 0);
	free(body);
	sgd_stop(&s);
}

/* The log budget holds events back; the metrics count every decision,
 * and the suppressed counter equals what target_end reports. */
static void test_metrics_count_what_the_log_budget_drops(void **state)
{
	const char *argv[] = { probe(), "mkdir", "/a", "mkdir", "/b", "mkdir", "/c", "mkdir", "/d",
			       "mkdir", "/e", "mkdir", "/f", "exit", "0", NULL };
	char extra[192];
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *end, *v;
	int port = free_port();
	char *body;

	snprintf(extra, sizeof(extra),
		 "metrics_listen = \"127.0.0.1:%d\";\n"
		 "log_limits = { target_rate = 1; target_burst = 2; };", port);
	START(&s, m, extra);
	run_under(&s, "m", argv, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "target_end", 1));
	body = metrics_scrape(port);
	log = sgd_log(&s);
	end = log_find(log, "target_end", NULL, NULL);
	assert_true(json_object_object_get_ex(end, "suppressed", &v));
	assert_true(json_object_get_int(v) > 0);
	expect_metric(body, "sysgate_log_events_suppressed_total", json_object_get_int(v));
	expect_metric(body, "sysgate_decisions_total{policy=\"m\",syscall=\"mkdir\",verdict=\"emulate\"}", 6);
	assert_true(log_count(log, "decision", "syscall", "mkdir") < 6);
	json_object_put(log);
	free(body);
	sgd_stop(&s);
}

/* Counting allocates nothing: with the endpoint on (and scraped once, so
 * its thread has what it keeps), 10,000 decided calls leave sysgated's
 * allocation count where it was. (Not in the sanitizer build, whose
 * runtimes own the allocator.) */
static void test_metrics_no_alloc_steady_state(void **state)
{
	const char *argv[] = { probe(), "loop", "100", "getppid", "wait", "loop", "10000", "getppid",
			       "wait", NULL };
	char file[64], line[128], extra[128];
	unsigned long before, after;
	sgd_proc_t s;
	int port = free_port(), in, out, status;
	pid_t pid;
	char *body;

	if (sanitized_build())
		skip();
	snprintf(file, sizeof(file), "/tmp/sysgate-allocs-metrics.%d", (int)getpid());
	snprintf(extra, sizeof(extra), "metrics_listen = \"127.0.0.1:%d\";", port);
	alloc_counter_preload(file, true);
	START(&s, steady, extra);
	alloc_counter_preload(file, false);
	pid = run_under_async(&s, "steady", argv, &in, &out);
	read_line(out, line, sizeof(line));
	assert_non_null(strstr(line, "getppid: ok"));
	free(metrics_scrape(port));
	before = sgd_alloc_count(&s, file);
	assert_true(before > 0); /* the counter works: start-up allocates */
	assert_int_equal(write(in, "\n", 1), 1);
	read_line(out, line, sizeof(line));
	assert_non_null(strstr(line, "getppid: ok"));
	after = sgd_alloc_count(&s, file);
	assert_int_equal(after - before, 0);
	body = metrics_scrape(port);
	assert_true(metric(body, "sysgate_decisions_total{policy=\"steady\",syscall=\"getppid\","
				 "verdict=\"allow\"}") >= 10102);
	free(body);
	assert_int_equal(write(in, "\n", 1), 1);
	close(in);
	close(out);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(file);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_metrics_equal_the_log, sgd_teardown),
		cmocka_unit_test_teardown(test_metrics_active_target, sgd_teardown),
		cmocka_unit_test_teardown(test_metrics_count_what_the_log_budget_drops, sgd_teardown),
		cmocka_unit_test_teardown(test_metrics_no_alloc_steady_state, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
