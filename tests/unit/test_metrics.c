/*
 * Unit tests of the metrics registry and its text exposition: what each
 * event counts, label escaping, the histogram's cumulative buckets, +Inf,
 * _sum and _count, the shape of the exposition (HELP and TYPE before each
 * family's samples, families contiguous), and the HTTP endpoint on a
 * loopback port: served, 404 and 405, and a taken port refused at start
 * with the config's file and line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"
#include "names.h"

static const char *const two[] = { "demo", "strict" };

static char *render(const metrics_t *m)
{
	size_t len = 0;
	char *text = metrics_render(m, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* The value of the sample written exactly as series (name and labels), or
 * -1 when there is no such line. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void expect(const char *text, const char *series, double want)
{
	double got = value_of(text, series);

	if (got != want)
		fail_msg("%s: got %g, want %g in:\n%s", series, got, want, text);
}

static verdict_t verdict(verdict_kind_t k)
{
	verdict_t v;

	memset(&v, 0, sizeof(v));
	v.kind = k;
	v.fd = -1;
	return v;
}

/* --------------------------------------------------------------- counts */

static void test_decisions_by_policy_syscall_verdict(void **state)
{
	metrics_t *m = metrics_new(2, two);
	int openat = names_syscall("openat"), mkdir_nr = names_syscall("mkdir");
	verdict_t deny = verdict(VERDICT_DENY), allow = verdict(VERDICT_ALLOW);
	verdict_t emulate = verdict(VERDICT_EMULATE);
	char *text;

	assert_non_null(m);
	metrics_note_decision(m, 0, openat, &deny, false, false, 0, 1000);
	metrics_note_decision(m, 0, openat, &deny, false, false, 0, 1000);
	metrics_note_decision(m, 0, openat, &allow, false, false, 0, 1000);
	metrics_note_decision(m, 1, mkdir_nr, &emulate, false, false, 0, 1000);
	metrics_note_decision(m, 1, -1, &deny, false, false, 0, 1000);
	metrics_note_decision(m, 1, 999999, &deny, false, false, 0, 1000);
	metrics_note_decision(m, 2, openat, &deny, false, false, 0, 1000); /* no such policy */
	text = render(m);
	expect(text, "sysgate_decisions_total{policy=\"demo\",syscall=\"openat\",verdict=\"deny\"}", 2);
	expect(text, "sysgate_decisions_total{policy=\"demo\",syscall=\"openat\",verdict=\"allow\"}", 1);
	expect(text, "sysgate_decisions_total{policy=\"strict\",syscall=\"mkdir\",verdict=\"emulate\"}", 1);
	/* Foreign and unnamed numbers share one series. */
	expect(text, "sysgate_decisions_total{policy=\"strict\",syscall=\"unknown\",verdict=\"deny\"}", 2);
	/* Series that never counted are not written. */
	expect(text, "sysgate_decisions_total{policy=\"strict\",syscall=\"openat\",verdict=\"deny\"}", -1);
	expect(text, "sysgate_decisions_total{policy=\"demo\",syscall=\"openat\",verdict=\"kill\"}", -1);
	free(text);
	metrics_free(m);
}

static void test_would_deny_and_rate_limited(void **state)
{
	metrics_t *m = metrics_new(2, two);
	int openat = names_syscall("openat");
	verdict_t v = verdict(VERDICT_ALLOW);
	char *text;

	v.would = VERDICT_KILL;
	metrics_note_decision(m, 1, openat, &v, false, false, 0, 1);
	v.would = VERDICT_NONE;
	v.limited = true;
	metrics_note_decision(m, 1, openat, &v, false, false, 0, 1);
	metrics_note_decision(m, 1, openat, &v, false, false, 0, 1);
	text = render(m);
	expect(text, "sysgate_would_deny_total{policy=\"strict\",syscall=\"openat\",verdict=\"kill\"}", 1);
	expect(text, "sysgate_would_deny_total{policy=\"strict\",syscall=\"openat\",verdict=\"none\"}", -1);
	expect(text, "sysgate_rate_limited_total{policy=\"strict\",syscall=\"openat\"}", 2);
	expect(text, "sysgate_decisions_total{policy=\"strict\",syscall=\"openat\",verdict=\"allow\"}", 3);
	free(text);
	metrics_free(m);
}

/* Errors as many as the log's error events; kills only when sent. */
static void test_errors_fallbacks_kills_opens(void **state)
{
	metrics_t *m = metrics_new(2, two);
	verdict_t kill = verdict(VERDICT_KILL), open_ok = verdict(VERDICT_OPEN);
	verdict_t open_failed = verdict(VERDICT_OPEN), deny = verdict(VERDICT_DENY);
	char *text;

	open_ok.fd = 5;
	open_failed.err = ENOENT;
	metrics_note_decision(m, 0, 1, &deny, true, true, 0, 1);        /* handler failed */
	metrics_note_decision(m, 0, 1, &deny, true, false, -EIO, 1);    /* and the answer too */
	metrics_note_decision(m, 0, 1, &deny, false, false, -ENOENT, 1); /* gone: no error */
	metrics_note_decision(m, 0, 1, &kill, false, false, 0, 1);
	metrics_note_decision(m, 0, 1, &kill, true, true, -ENOENT, 1);   /* fallback kill */
	metrics_note_decision(m, 0, 1, &kill, false, false, -ESRCH, 1);  /* could not kill */
	metrics_note_decision(m, 0, 2, &open_ok, false, false, 0, 1);
	metrics_note_decision(m, 0, 2, &open_failed, false, false, 0, 1);
	metrics_note_decision(m, 0, 2, &open_failed, false, false, 0, 1);
	text = render(m);
	expect(text, "sysgate_errors_total{policy=\"demo\"}", 5);
	expect(text, "sysgate_fallbacks_total{policy=\"demo\"}", 2);
	expect(text, "sysgate_kills_total{policy=\"demo\"}", 2);
	expect(text, "sysgate_brokered_opens_total{policy=\"demo\",result=\"ok\"}", 1);
	expect(text, "sysgate_brokered_opens_total{policy=\"demo\",result=\"failed\"}", 2);
	expect(text, "sysgate_errors_total{policy=\"strict\"}", 0);
	expect(text, "sysgate_kills_total{policy=\"strict\"}", 0);
	free(text);
	metrics_free(m);
}

static void test_gauges(void **state)
{
	metrics_t *m = metrics_new(2, two);
	verdict_t allow = verdict(VERDICT_ALLOW);
	char *text;

	for (int i = 0; i < 3; i++)
		metrics_note_received(m, 0);
	metrics_note_decision(m, 0, 1, &allow, false, false, 0, 1);
	for (int i = 0; i < 4; i++)
		metrics_note_target_started(m, 1);
	metrics_note_target_closed(m, 1, "exited");
	metrics_note_target_closed(m, 1, "listener_shared");
	metrics_note_target_closed(m, 1, "something new");
	text = render(m);
	expect(text, "sysgate_notifications_total{policy=\"demo\"}", 3);
	expect(text, "sysgate_notifications_in_flight{policy=\"demo\"}", 2);
	free(text);
	metrics_note_abandoned(m, 0);
	text = render(m);
	expect(text, "sysgate_notifications_in_flight{policy=\"demo\"}", 1);
	expect(text, "sysgate_notifications_total{policy=\"demo\"}", 3);
	expect(text, "sysgate_notifications_in_flight{policy=\"strict\"}", 0);
	expect(text, "sysgate_targets_started_total{policy=\"strict\"}", 4);
	expect(text, "sysgate_targets_ended_total{policy=\"strict\",reason=\"exited\"}", 1);
	expect(text, "sysgate_targets_ended_total{policy=\"strict\",reason=\"listener_shared\"}", 1);
	expect(text, "sysgate_targets_ended_total{policy=\"strict\",reason=\"other\"}", 1);
	expect(text, "sysgate_targets_ended_total{policy=\"strict\",reason=\"supervisor_stop\"}", 0);
	expect(text, "sysgate_targets_active{policy=\"strict\"}", 1);
	expect(text, "sysgate_targets_active{policy=\"demo\"}", 0);
	free(text);
	metrics_free(m);
}

/* ------------------------------------------------------------ histogram */

static void test_histogram_buckets(void **state)
{
	metrics_t *m = metrics_new(2, two);
	verdict_t allow = verdict(VERDICT_ALLOW);
	const uint64_t ns[] = { 1000, 5000, 5001, 120000, 2000000000ull };
	const char *prefix = "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"";
	uint64_t last = 0;
	int buckets = 0;
	char *text;

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		metrics_note_decision(m, 0, 1, &allow, false, false, 0, ns[i]);
	text = render(m);
	/* le is "less than or equal": 5000 ns falls in le="5e-06". */
	expect(text, "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"5e-06\"}", 2);
	expect(text, "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"1e-05\"}", 3);
	expect(text, "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"0.0001\"}", 3);
	expect(text, "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"0.00025\"}", 4);
	expect(text, "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"1\"}", 4);
	expect(text, "sysgate_handler_seconds_bucket{policy=\"demo\",le=\"+Inf\"}", 5);
	expect(text, "sysgate_handler_seconds_count{policy=\"demo\"}", 5);
	expect(text, "sysgate_handler_seconds_count{policy=\"strict\"}", 0);
	expect(text, "sysgate_handler_seconds_bucket{policy=\"strict\",le=\"+Inf\"}", 0);
	assert_non_null(strstr(text, "sysgate_handler_seconds_sum{policy=\"demo\"} 2.000131001\n"));
	/* Cumulative: never decreasing, in order, +Inf last. */
	for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
		const char *val = strchr(p, ' ');
		uint64_t v = strtoull(val + 1, NULL, 10);

		assert_true(v >= last);
		last = v;
		buckets++;
		if (buckets == METRICS_NBUCKETS + 1)
			assert_true(strncmp(p + strlen(prefix), "+Inf\"", 5) == 0);
	}
	assert_int_equal(buckets, METRICS_NBUCKETS + 1);
	free(text);
	metrics_free(m);
}

/* ------------------------------------------------------------- format */

static void test_label_values_escaped(void **state)
{
	const char *const names[] = { "a\"b\\c\nd" };
	metrics_t *m = metrics_new(1, names);
	char *text;

	metrics_note_received(m, 0);
	text = render(m);
	expect(text, "sysgate_notifications_total{policy=\"a\\\"b\\\\c\\nd\"}", 1);
	/* The raw name never appears: no line is cut by its newline. */
	assert_null(strstr(text, "a\"b"));
	for (const char *p = text; *p; p = strchr(p, '\n') + 1)
		assert_true(*p == '#' || strncmp(p, "sysgate_", 8) == 0);
	free(text);
	metrics_free(m);
}

/* The family a sample belongs to: its name less a histogram suffix. */
static void family_of(const char *line, char *out, size_t cap)
{
	size_t n = strcspn(line, "{ ");
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	snprintf(out, cap, "%.*s", (int)n, line);
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(suffixes[i]);

		if (n > l && strcmp(out + n - l, suffixes[i]) == 0 &&
		    strncmp(out, "sysgate_handler_seconds", 23) == 0)
			out[n - l] = '\0';
	}
}

/* Every sample follows its family's HELP and TYPE; a family's samples are
 * contiguous; counters end in _total; every line ends in a newline. */
static void test_exposition_shape(void **state)
{
	metrics_t *m = metrics_new(2, two);
	verdict_t deny = verdict(VERDICT_DENY);
	char *text, fam[128], current[128] = "", seen[4096] = " ";
	const char *p;

	metrics_note_decision(m, 0, names_syscall("openat"), &deny, false, false, 0, 1);
	text = render(m);
	assert_true(text[strlen(text) - 1] == '\n');
	for (p = text; *p; p = strchr(p, '\n') + 1) {
		char name[128], type[32], key[140];

		if (strncmp(p, "# HELP ", 7) == 0) {
			sscanf(p + 7, "%127s", name);
			snprintf(key, sizeof(key), " %s ", name);
			assert_null(strstr(seen, key)); /* declared once */
			assert_true(strlen(seen) + strlen(key) < sizeof(seen));
			strcat(seen, key + 1);
			snprintf(current, sizeof(current), "%s", name);
			continue;
		}
		if (strncmp(p, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(p + 7, "%127s %31s", name, type), 2);
			assert_string_equal(name, current);
			if (strcmp(type, "counter") == 0)
				assert_non_null(strstr(name, "_total"));
			else
				assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "histogram") == 0);
			continue;
		}
		family_of(p, fam, sizeof(fam));
		if (strcmp(fam, current) != 0)
			fail_msg("sample of %s under the family %s:\n%.80s", fam, current, p);
	}
	assert_non_null(strstr(seen, " sysgate_log_bytes_total "));
	assert_non_null(strstr(seen, " sysgate_log_events_suppressed_total "));
	free(text);
	metrics_free(m);
}

/* Counting into no registry, or past its policies, does nothing. */
static void test_null_and_out_of_range(void **state)
{
	verdict_t deny = verdict(VERDICT_DENY);

	metrics_note_received(NULL, 0);
	metrics_note_decision(NULL, 0, 1, &deny, true, true, 0, 1);
	metrics_note_target_started(NULL, 0);
	metrics_note_target_closed(NULL, 0, "exited");
	metrics_free(NULL);
	metrics_stop(); /* never started */
}

/* ------------------------------------------------------------ endpoint */

/* A loopback port nobody listens on now; fd keeps it bound when keep. */
static int free_port(int *fd, bool keep)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	if (keep)
		assert_int_equal(listen(s, 1), 0);
	else
		close(s);
	*fd = keep ? s : -1;
	return ntohs(a.sin_port);
}

static void config_for(sg_config_t *cfg, config_policy_t *pol, int port)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&cfg->metrics_addr;

	memset(cfg, 0, sizeof(*cfg));
	memset(pol, 0, sizeof(*pol));
	snprintf(pol->name, sizeof(pol->name), "demo");
	cfg->policies = pol;
	cfg->npolicies = 1;
	snprintf(cfg->path, sizeof(cfg->path), "/etc/sysgate.conf");
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "127.0.0.1:%d", port);
	cfg->metrics_line = 7;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg->metrics_addrlen = sizeof(*a);
}

/* One HTTP/1.0 request; the whole answer into buf. */
static void http(int port, const char *request, char *buf, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t off = 0;
	ssize_t n;

	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(s, request, strlen(request)), (ssize_t)strlen(request));
	while (off + 1 < cap && (n = read(s, buf + off, cap - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	close(s);
}

static void test_endpoint_serves(void **state)
{
	sg_config_t cfg;
	config_policy_t pol;
	sg_error_t err = { 0 };
	static char buf[65536];
	int fd, port = free_port(&fd, false);

	config_for(&cfg, &pol, port);
	assert_int_equal(metrics_start(&cfg, &err), 0);
	http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.0 200") ?: strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "\r\n\r\n# HELP sysgate_"));
	assert_non_null(strstr(buf, "\nsysgate_notifications_total{policy=\"demo\"} 0\n"));
	http(port, "GET / HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 404 "));
	http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 405 "));
	assert_non_null(strstr(buf, "Allow: GET, HEAD"));
	metrics_stop();
	/* Stopped: nothing listens there any more. */
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), -1);
		assert_int_equal(errno, ECONNREFUSED);
		close(s);
	}
}

/* A port someone else holds stops the start, naming the config's line. */
static void test_endpoint_port_taken(void **state)
{
	sg_config_t cfg;
	config_policy_t pol;
	sg_error_t err = { 0 };
	int fd, port = free_port(&fd, true);

	config_for(&cfg, &pol, port);
	assert_int_equal(metrics_start(&cfg, &err), -EADDRINUSE);
	assert_string_equal(err.file, "/etc/sysgate.conf");
	assert_int_equal(err.line, 7);
	assert_non_null(strstr(err.msg, "cannot listen: Address already in use"));
	metrics_stop();
	close(fd);
}

static void test_endpoint_absent(void **state)
{
	sg_config_t cfg;
	config_policy_t pol;
	sg_error_t err = { 0 };

	config_for(&cfg, &pol, 1);
	cfg.metrics_addrlen = 0;
	assert_int_equal(metrics_start(&cfg, &err), 0);
	metrics_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decisions_by_policy_syscall_verdict),
		cmocka_unit_test(test_would_deny_and_rate_limited),
		cmocka_unit_test(test_errors_fallbacks_kills_opens),
		cmocka_unit_test(test_gauges),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_label_values_escaped),
		cmocka_unit_test(test_exposition_shape),
		cmocka_unit_test(test_null_and_out_of_range),
		cmocka_unit_test(test_endpoint_serves),
		cmocka_unit_test(test_endpoint_port_taken),
		cmocka_unit_test(test_endpoint_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
