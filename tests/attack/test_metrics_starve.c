/*
 * A local user cannot starve the metrics endpoint. The slowclient attack
 * runs as uid 65534, an unprivileged local user, and opens 24
 * connections to the endpoint from 24 loopback addresses: 4 that send
 * nothing and 20 that hold half a request and send one more header byte
 * every second, so that no idle timeout ever closes them. While it holds
 * what it could, a scrape from another uid (root, the test) gets its
 * 200: the promise is that it succeeds, not how fast. The failure
 * detector is a receive timeout of SCRAPE_GIVE_UP_S on the scrape, far
 * beyond the milliseconds a served scrape takes: before the fix the
 * scrape was never served at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define SLOW_CONNS 24
#define SLOW_IDLE 4
#define SCRAPE_GIVE_UP_S 60

POLICY(scraped, "return sysgate.policy { name = 'scraped', on = {\n"
		"  getppid = function(c) return sysgate.allow() end } }\n");

/* A connection to 127.0.0.1:PORT, or to the unix socket PATH. */
static int connect_to(const char *where)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(where)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	int s = socket(where[0] == '/' ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	if (where[0] == '/') {
		assert_true(strlen(where) < sizeof(u.sun_path));
		memcpy(u.sun_path, where, strlen(where) + 1);
		assert_int_equal(connect(s, (struct sockaddr *)&u, sizeof(u)), 0);
	} else {
		assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	return s;
}

/* GET /metrics: true with a 200 and the registry's text, false when the
 * server closed the connection or SCRAPE_GIVE_UP_S passed without it. */
static bool scrape(const char *where, char *buf, size_t cap)
{
	struct timeval tv = { SCRAPE_GIVE_UP_S, 0 };
	const char *req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	int s = connect_to(where);
	size_t off = 0;
	ssize_t n;

	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(send(s, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	while (off + 1 < cap && (n = read(s, buf + off, cap - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	close(s);
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200 ", 5) != 0) {
		fprintf(stderr, "scrape: no 200 (%zu bytes: %.200s)\n", off, buf);
		return false;
	}
	return strstr(buf, "\nsysgate_targets_active{policy=\"scraped\"} ") != NULL;
}

typedef struct slow {
	pid_t pid;
	int in, out;
} slow_t;

/* slowclient WHERE SLOW_CONNS SLOW_IDLE, once it holds its connections:
 * how many connects were refused for want of permission. */
static int slow_start(slow_t *c, const char *where)
{
	char n[16], idle[16], line[64];
	const char *argv[] = { env_path("SLOWCLIENT"), where, n, idle, NULL };
	int in[2], out[2], open = -1, refused = -1;

	snprintf(n, sizeof(n), "%d", SLOW_CONNS);
	snprintf(idle, sizeof(idle), "%d", SLOW_IDLE);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
	read_line(c->out, line, sizeof(line));
	if (sscanf(line, "open %d refused %d", &open, &refused) != 2 || open + refused != SLOW_CONNS)
		fail_msg("slowclient: %s", line);
	return refused;
}

/* How many of its connections the server has not closed. */
static int slow_held(slow_t *c)
{
	char line[64];
	int held = -1;

	assert_int_equal(write(c->in, "count\n", 6), 6);
	read_line(c->out, line, sizeof(line));
	assert_int_equal(sscanf(line, "held %d", &held), 1);
	return held;
}

static void slow_stop(slow_t *c)
{
	int status;

	close(c->in);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	close(c->out);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* With the defaults (metrics_limits: 32 connections, 4 per uid), uid
 * 65534 keeps at most 4 of its 24 connections, whatever addresses they
 * come from, and the scrapes of another uid succeed while it holds them. */
static void test_scrape_while_a_uid_holds_what_it_can(void **state)
{
	static char body[1 << 16];
	char extra[128], port[16];
	sgd_proc_t s;
	slow_t c;

	(void)state;
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(extra, sizeof(extra), "metrics_listen = \"127.0.0.1:%s\";", port);
	START(&s, scraped, extra);
	assert_int_equal(slow_start(&c, port), 0);
	assert_true(scrape(port, body, sizeof(body)));
	assert_true(slow_held(&c) <= 4);
	assert_true(scrape(port, body, sizeof(body))); /* and again */
	slow_stop(&c);
	sgd_stop(&s);
}

/* metrics_allow_uids: a uid not named holds no connection at all (each
 * is closed before anything is read from it), and the named uid's scrape
 * succeeds. */
static void test_scrape_with_allowed_uids_only(void **state)
{
	static char body[1 << 16];
	char extra[160], port[16];
	sgd_proc_t s;
	slow_t c;

	(void)state;
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(extra, sizeof(extra),
		 "metrics_listen = \"127.0.0.1:%s\";\nmetrics_allow_uids = [ 0 ];", port);
	START(&s, scraped, extra);
	assert_int_equal(slow_start(&c, port), 0);
	assert_true(scrape(port, body, sizeof(body)));
	assert_int_equal(slow_held(&c), 0);
	slow_stop(&c);
	sgd_stop(&s);
}

/* metrics_limits.timeout_s: the connections the uid holds, idle ones
 * (the share went to the first four, which send nothing), are closed once
 * idle that long; and the scrape is served meanwhile. The wait is
 * bounded (10 s for a 1 s timeout), not timed. */
static void test_idle_connections_time_out(void **state)
{
	static char body[1 << 16];
	char extra[200], port[16];
	int held = -1;
	sgd_proc_t s;
	slow_t c;

	(void)state;
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(extra, sizeof(extra),
		 "metrics_listen = \"127.0.0.1:%s\";\nmetrics_limits = { timeout_s = 1; };", port);
	START(&s, scraped, extra);
	assert_int_equal(slow_start(&c, port), 0);
	assert_true(scrape(port, body, sizeof(body)));
	for (int i = 0; i < 100 && (held = slow_held(&c)) > 0; i++)
		sleep_ms(100);
	assert_int_equal(held, 0);
	slow_stop(&c);
	sgd_stop(&s);
}

/* A directory for the metrics socket that others may enter (the socket's
 * own mode is what keeps them out), with the socket's path in it. */
static void socket_dir(char *dir, size_t dlen, char *path, size_t plen)
{
	snprintf(dir, dlen, "/tmp/sysgate-metrics.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, plen, "%s/metrics.sock", dir);
}

static void socket_dir_remove(const char *dir, const char *path)
{
	unlink(path); /* the server leaves it: after a takeover it is the successor's */
	assert_int_equal(rmdir(dir), 0);
}

/* metrics_listen as a path: a unix socket of mode 0600 (the default).
 * Uid 65534 cannot connect at all, not even to flood the queue (its
 * connects fail with EACCES), and root's scrape succeeds. */
static void test_unix_socket_keeps_others_out(void **state)
{
	static char body[1 << 16];
	char dir[64], path[96], extra[160];
	sgd_proc_t s;
	slow_t c;

	(void)state;
	socket_dir(dir, sizeof(dir), path, sizeof(path));
	snprintf(extra, sizeof(extra), "metrics_listen = \"%s\";", path);
	START(&s, scraped, extra);
	assert_int_equal(slow_start(&c, path), SLOW_CONNS);
	assert_true(scrape(path, body, sizeof(body)));
	assert_int_equal(slow_held(&c), 0);
	slow_stop(&c);
	sgd_stop(&s);
	socket_dir_remove(dir, path);
}

/* A unix socket opened to a group (metrics_socket_mode "0660",
 * metrics_socket_gid 65534): uid 65534 connects, holds its share (from
 * SO_PEERCRED) and no more, and root's scrape succeeds. */
static void test_unix_socket_group_shares(void **state)
{
	static char body[1 << 16];
	char dir[64], path[96], extra[256];
	sgd_proc_t s;
	slow_t c;

	(void)state;
	socket_dir(dir, sizeof(dir), path, sizeof(path));
	snprintf(extra, sizeof(extra),
		 "metrics_listen = \"%s\";\nmetrics_socket_mode = \"0660\";\n"
		 "metrics_socket_gid = 65534;", path);
	START(&s, scraped, extra);
	assert_int_equal(slow_start(&c, path), 0);
	assert_true(scrape(path, body, sizeof(body)));
	assert_true(slow_held(&c) <= 4);
	slow_stop(&c);
	sgd_stop(&s);
	socket_dir_remove(dir, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_scrape_while_a_uid_holds_what_it_can, sgd_teardown),
		cmocka_unit_test_teardown(test_scrape_with_allowed_uids_only, sgd_teardown),
		cmocka_unit_test_teardown(test_idle_connections_time_out, sgd_teardown),
		cmocka_unit_test_teardown(test_unix_socket_keeps_others_out, sgd_teardown),
		cmocka_unit_test_teardown(test_unix_socket_group_shares, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
