/*
 * Unit tests of the config loader: each test writes a config (and the
 * policy files it names) into a fresh temporary directory, loads it, and
 * checks either every value read back or the error's return value, line,
 * file and message.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

/* The one policy most configs name; line 1 of the file unless said. */
#define POLICY_DEMO "policies = ( { name = \"demo\"; file = \"policies/demo.lua\"; } );\n"

typedef struct fixture {
	char dir[64];        /* as mkdtemp made it */
	char real[PATH_MAX]; /* realpath of dir */
	char conf[PATH_MAX]; /* dir/sysgate.conf */
} fixture_t;

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void fx_path(const fixture_t *fx, const char *rel, char *out, size_t cap)
{
	assert_true((size_t)snprintf(out, cap, "%s/%s", fx->dir, rel) < cap);
}

static void write_rel(const fixture_t *fx, const char *rel, const char *text)
{
	char path[PATH_MAX];

	fx_path(fx, rel, path, sizeof(path));
	write_file(path, text, strlen(text));
}

static int setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof(*fx));
	char pol[PATH_MAX];

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-config-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_non_null(realpath(fx->dir, fx->real));
	fx_path(fx, "sysgate.conf", fx->conf, sizeof(fx->conf));
	fx_path(fx, "policies", pol, sizeof(pol));
	assert_int_equal(mkdir(pol, 0755), 0);
	write_rel(fx, "policies/demo.lua", "return sysgate.policy { name = \"demo\" }\n");
	write_rel(fx, "policies/strict.lua", "return sysgate.policy { name = \"strict\" }\n");
	*state = fx;
	return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	fixture_t *fx = *state;

	nftw(fx->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void write_conf(const fixture_t *fx, const char *text)
{
	write_file(fx->conf, text, strlen(text));
}

static int load(const fixture_t *fx, const char *text, sg_config_t *c, sg_error_t *e)
{
	write_conf(fx, text);
	memset(e, 0, sizeof(*e));
	return config_load(fx->conf, c, e);
}

/* Loads text and checks the error: return value, file, line, message. */
static void expect_fail(void **state, const char *text, int rc, int line, const char *frag)
{
	const fixture_t *fx = *state;
	sg_config_t c;
	sg_error_t e;
	int r = load(fx, text, &c, &e);

	if (r != rc || e.line != line || !strstr(e.msg, frag))
		print_error("got %d, %s:%d: %s\n", r, e.file, e.line, e.msg);
	assert_int_equal(r, rc);
	assert_int_equal(e.line, line);
	assert_string_equal(e.file, fx->conf);
	assert_non_null(strstr(e.msg, frag));
	assert_null(c.policies);
	assert_int_equal(c.npolicies, 0);
	config_free(&c);
}

static void expect_ok(void **state, const char *text, sg_config_t *c)
{
	sg_error_t e;
	int r = load(*state, text, c, &e);

	if (r != 0)
		print_error("got %d, %s:%d: %s\n", r, e.file, e.line, e.msg);
	assert_int_equal(r, 0);
}

/* -------------------------------------------------------------- valid */

static void test_full_valid(void **state)
{
	const fixture_t *fx = *state;
	sg_config_t c;
	char want[PATH_MAX + 64];

	expect_ok(state,
		  "socket = \"run/sg.sock\";\n"
		  "socket_mode = \"0660\";\n"
		  "allow_uids = [ 0, 1000 ];\n"
		  "allow_gids = [ 100L, 4294967294L ];\n"
		  "log = \"logs/sysgated.log\";\n"
		  "fallback = \"deny:EACCES\";\n"
		  "lua = {\n"
		  "  instructions = 10000000000L;\n"
		  "  memory = 65536;\n"
		  "  time_ms = 60000;\n"
		  "  memory_total = 4294967296L;\n"
		  "};\n"
		  "policies = (\n"
		  "  { name = \"demo\"; file = \"policies/demo.lua\"; },\n"
		  "  { name = \"strict\";\n"
		  "    file = \"policies/strict.lua\"; fallback = \"kill\"; }\n"
		  ");\n",
		  &c);
	assert_string_equal(c.path, fx->conf);
	snprintf(want, sizeof(want), "%s/run/sg.sock", fx->real);
	assert_string_equal(c.socket, want);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(c.n_allow_uids, 2);
	assert_int_equal(c.allow_uids[0], 0);
	assert_int_equal(c.allow_uids[1], 1000);
	assert_int_equal(c.n_allow_gids, 2);
	assert_int_equal(c.allow_gids[0], 100);
	assert_int_equal(c.allow_gids[1], 4294967294u);
	snprintf(want, sizeof(want), "%s/logs/sysgated.log", fx->real);
	assert_string_equal(c.log, want);
	assert_int_equal(c.fallback.kind, VERDICT_DENY);
	assert_int_equal(c.fallback.err, EACCES);
	assert_true(c.limits.instructions == 10000000000ull);
	assert_int_equal(c.limits.memory, 65536);
	assert_int_equal(c.limits.time_ms, 60000);
	assert_true(c.limits.memory_total == 4294967296ull);
	assert_int_equal(c.npolicies, 2);
	assert_string_equal(c.policies[0].name, "demo");
	snprintf(want, sizeof(want), "%s/policies/demo.lua", fx->real);
	assert_string_equal(c.policies[0].file, want);
	assert_int_equal(c.policies[0].line, 14);
	assert_int_equal(c.policies[0].fallback.kind, VERDICT_DENY);
	assert_int_equal(c.policies[0].fallback.err, EACCES);
	assert_string_equal(c.policies[1].name, "strict");
	snprintf(want, sizeof(want), "%s/policies/strict.lua", fx->real);
	assert_string_equal(c.policies[1].file, want);
	assert_int_equal(c.policies[1].line, 15);
	assert_int_equal(c.policies[1].fallback.kind, VERDICT_KILL);
	config_free(&c);
}

static void test_defaults(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_string_equal(c.socket, "/run/sysgate/sysgate.sock");
	assert_int_equal(c.socket_mode, 0600);
	assert_int_equal(c.n_allow_uids, 1);
	assert_int_equal(c.allow_uids[0], 0);
	assert_int_equal(c.n_allow_gids, 0);
	assert_string_equal(c.log, "-");
	assert_int_equal(c.fallback.kind, VERDICT_DENY);
	assert_int_equal(c.fallback.err, EPERM);
	assert_int_equal(c.limits.instructions, POLICY_DEFAULT_INSTRUCTIONS);
	assert_int_equal(c.limits.memory, POLICY_DEFAULT_MEMORY);
	assert_int_equal(c.limits.time_ms, POLICY_DEFAULT_TIME_MS);
	assert_int_equal(c.limits.memory_total, POLICY_DEFAULT_MEMORY_TOTAL);
	assert_int_equal(c.npolicies, 1);
	assert_int_equal(c.policies[0].line, 1);
	assert_int_equal(c.policies[0].fallback.kind, VERDICT_DENY);
	assert_int_equal(c.policies[0].fallback.err, EPERM);
	assert_false(c.launchers_may_be_filtered);
	config_free(&c);
}

/* launchers_may_be_filtered: a boolean, and nothing else. */
static void test_launchers_may_be_filtered(void **state)
{
	sg_config_t c;

	expect_ok(state, "launchers_may_be_filtered = true;\n" POLICY_DEMO, &c);
	assert_true(c.launchers_may_be_filtered);
	config_free(&c);
	expect_ok(state, "launchers_may_be_filtered = false;\n" POLICY_DEMO, &c);
	assert_false(c.launchers_may_be_filtered);
	config_free(&c);
	expect_fail(state, "\nlaunchers_may_be_filtered = 1;\n" POLICY_DEMO, -EINVAL, 2,
		    "'launchers_may_be_filtered' must be true or false");
}

/* Empty id lists are allowed: allow_uids = [ ] lets no uid in. */
static void test_empty_id_lists(void **state)
{
	sg_config_t c;

	expect_ok(state, "allow_uids = [ ];\nallow_gids = [ ];\n" POLICY_DEMO, &c);
	assert_int_equal(c.n_allow_uids, 0);
	assert_int_equal(c.n_allow_gids, 0);
	config_free(&c);
}

/* A larger per-call memory cap raises the default total with it. */
static void test_lua_memory_raises_default_total(void **state)
{
	sg_config_t c;

	expect_ok(state, "lua = { memory = 134217728; };\n" POLICY_DEMO, &c);
	assert_int_equal(c.limits.memory, 134217728);
	assert_int_equal(c.limits.memory_total, 134217728);
	config_free(&c);
}

/* log_limits: defaults bound the log; a rate alone brings its burst;
 * 0 is unlimited; bad values and keys name their line. */
static void test_log_limits(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_int_equal(c.log_limits.target_rate, LOG_DEFAULT_TARGET_RATE);
	assert_int_equal(c.log_limits.target_burst, LOG_DEFAULT_TARGET_RATE * LOG_DEFAULT_BURST_FACTOR);
	assert_int_equal(c.log_limits.global_rate, LOG_DEFAULT_GLOBAL_RATE);
	assert_int_equal(c.log_limits.handshake_rate, LOG_DEFAULT_HANDSHAKE_RATE);
	assert_int_equal(c.log_limits.handshake_burst,
			 LOG_DEFAULT_HANDSHAKE_RATE * LOG_DEFAULT_BURST_FACTOR);
	assert_int_equal(c.log_limits.report_ms, LOG_DEFAULT_REPORT_MS);
	config_free(&c);
	expect_ok(state, "log_limits = { handshake_rate = 0; handshake_burst = 9; };\n" POLICY_DEMO, &c);
	assert_int_equal(c.log_limits.handshake_rate, 0);
	assert_int_equal(c.log_limits.handshake_burst, 9);
	assert_int_equal(c.log_limits.global_rate, LOG_DEFAULT_GLOBAL_RATE);
	config_free(&c);
	expect_fail(state, "log_limits = {\n  handshake_burst = 0;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'log_limits.handshake_burst' must be between 1");
	expect_ok(state, "log_limits = { target_rate = 5; global_rate = 0; global_burst = 7;\n"
			 "  report_ms = 250; };\n" POLICY_DEMO, &c);
	assert_int_equal(c.log_limits.target_rate, 5);
	assert_int_equal(c.log_limits.target_burst, 50);
	assert_int_equal(c.log_limits.global_rate, 0);
	assert_int_equal(c.log_limits.global_burst, 7);
	assert_int_equal(c.log_limits.report_ms, 250);
	config_free(&c);
	expect_fail(state, "log_limits = {\n  target_rate = -1;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'log_limits.target_rate' must be between 0 and 1000000");
	expect_fail(state, "log_limits = {\n  global_burst = 0;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'log_limits.global_burst' must be between 1");
	expect_fail(state, "log_limits = { report_ms = 5; };\n" POLICY_DEMO, -EINVAL, 1,
		    "'log_limits.report_ms' must be between 100");
	expect_fail(state, "log_limits = {\n rate = 5; };\n" POLICY_DEMO, -EINVAL, 2, "rate");
	expect_fail(state, "log_limits = 5;\n" POLICY_DEMO, -EINVAL, 1, "'log_limits' must be a group");
}

/* broker_timeout_ms: a default, a value, and bounds that name the line. */
static void test_broker_timeout(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_int_equal(c.broker_timeout_ms, CONFIG_BROKER_TIMEOUT_MS);
	config_free(&c);
	expect_ok(state, "broker_timeout_ms = 250;\n" POLICY_DEMO, &c);
	assert_int_equal(c.broker_timeout_ms, 250);
	config_free(&c);
	expect_fail(state, "broker_timeout_ms = 0;\n" POLICY_DEMO, -EINVAL, 1,
		    "'broker_timeout_ms' must be between 10 and 3600000");
	expect_fail(state, "\nbroker_timeout_ms = \"2s\";\n" POLICY_DEMO, -EINVAL, 2,
		    "'broker_timeout_ms' must be an integer");
}

/* tenants: safe defaults; bad values and keys name the field and line. */
static void test_tenants(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_int_equal(c.tenants.targets, TENANT_DEFAULT_TARGETS);
	assert_int_equal(c.tenants.learn_targets, TENANT_DEFAULT_LEARN_TARGETS);
	assert_int_equal(c.tenants.learn_bytes, TENANT_DEFAULT_LEARN_BYTES);
	assert_int_equal(c.tenants.learn_files, TENANT_DEFAULT_LEARN_FILES);
	assert_int_equal(c.tenants.handshakes, TENANT_DEFAULT_HANDSHAKES);
	assert_int_equal(c.tenants.root_handshakes, TENANT_DEFAULT_ROOT_HANDSHAKES);
	assert_true(c.tenants.handshakes <= CONFIG_HANDSHAKES_MAX - c.tenants.root_handshakes);
	config_free(&c);
	expect_ok(state, "tenants = { learn_files = 0; handshakes = 60; root_handshakes = 4; };\n"
		  POLICY_DEMO, &c);
	assert_int_equal(c.tenants.learn_files, 0);
	assert_int_equal(c.tenants.handshakes, 60);
	assert_int_equal(c.tenants.root_handshakes, 4);
	config_free(&c);
	expect_fail(state, "tenants = {\n  handshakes = 0;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'tenants.handshakes' must be between 1 and 64");
	expect_fail(state, "tenants = {\n  root_handshakes = 0;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'tenants.root_handshakes' must be between 1 and 63");
	expect_fail(state, "tenants = {\n  root_handshakes = 8;\n  handshakes = 57;\n};\n" POLICY_DEMO,
		    -EINVAL, 3, "'tenants.handshakes' (57) must be at most 64 - 'tenants.root_handshakes'");
	expect_fail(state, "tenants = {\n  root_handshakes = 60;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'tenants.handshakes' (16) must be at most 64 - 'tenants.root_handshakes' (60)");
	expect_fail(state, "tenants = { learn_files = -1; };\n" POLICY_DEMO, -EINVAL, 1,
		    "'tenants.learn_files' must be between 0");
	expect_ok(state, "tenants = { targets = 3; learn_targets = 0; learn_bytes = 5000000000L; };\n"
		  POLICY_DEMO, &c);
	assert_int_equal(c.tenants.targets, 3);
	assert_int_equal(c.tenants.learn_targets, 0);
	assert_int_equal(c.tenants.learn_bytes, 5000000000ull);
	config_free(&c);
	expect_fail(state, "tenants = {\n  targets = 0;\n};\n" POLICY_DEMO, -EINVAL, 2,
		    "'tenants.targets' must be between 1 and 65536");
	expect_fail(state, "tenants = { learn_targets = -1; };\n" POLICY_DEMO, -EINVAL, 1,
		    "'tenants.learn_targets' must be between 0");
	expect_fail(state, "tenants = { learn_bytes = \"1M\"; };\n" POLICY_DEMO, -EINVAL, 1,
		    "'tenants.learn_bytes' must be an integer");
	expect_fail(state, "tenants = {\n quota = 5; };\n" POLICY_DEMO, -EINVAL, 2,
		    "tenants: unknown key 'quota'");
	expect_fail(state, "tenants = 5;\n" POLICY_DEMO, -EINVAL, 1, "'tenants' must be a group");
}

/* labels: absent means every key free; entries parse; sysgated's keys,
 * unknown fields and bad values name the field and line. */
static void test_labels(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_false(c.labels_set);
	assert_int_equal(c.nlabels, 0);
	config_free(&c);
	expect_ok(state, "labels = ( );\n" POLICY_DEMO, &c);
	assert_true(c.labels_set);
	assert_int_equal(c.nlabels, 0);
	config_free(&c);
	expect_ok(state,
		  "labels = ( { key = \"tenant\"; uids = [ 0, 1000 ]; gids = [ 7 ];\n"
		  "             values = [ \"acme\", \"beta\" ]; }, { key = \"function\"; } );\n"
		  POLICY_DEMO, &c);
	assert_true(c.labels_set);
	assert_int_equal(c.nlabels, 2);
	assert_string_equal(c.labels[0].key, "tenant");
	assert_int_equal(c.labels[0].nuids, 2);
	assert_int_equal(c.labels[0].uids[1], 1000);
	assert_int_equal(c.labels[0].ngids, 1);
	assert_int_equal(c.labels[0].nvalues, 2);
	assert_string_equal(c.labels[0].values[1], "beta");
	assert_string_equal(c.labels[1].key, "function");
	assert_int_equal(c.labels[1].nuids + c.labels[1].ngids + c.labels[1].nvalues, 0);
	config_free(&c);
	expect_fail(state, "labels = (\n { key = \"sysgate.uid\"; } );\n" POLICY_DEMO, -EINVAL, 2,
		    "keys under 'sysgate.' are set by sysgated alone");
	expect_fail(state, "labels = ( { uids = [ 0 ]; } );\n" POLICY_DEMO, -EINVAL, 1,
		    "an entry of 'labels' has no 'key'");
	expect_fail(state, "labels = (\n { key = \"a b\"; } );\n" POLICY_DEMO, -EINVAL, 2,
		    "label key 'a b' is not");
	expect_fail(state, "labels = ( {\n key = \"t\"; owner = 0; } );\n" POLICY_DEMO, -EINVAL, 2,
		    "labels: unknown key 'owner'");
	expect_fail(state, "labels = ( { key = \"t\";\n values = [ ]; } );\n" POLICY_DEMO, -EINVAL,
		    2, "'labels.values' must have 1 to 16 entries");
	expect_fail(state, "labels = { key = \"t\"; };\n" POLICY_DEMO, -EINVAL, 1,
		    "'labels' must be a list of groups");
}

/* A config named by a relative path: path kept as given, directory resolved. */
static void test_relative_config_path(void **state)
{
	const fixture_t *fx = *state;
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	sg_config_t c;
	sg_error_t e;
	int r;

	write_conf(fx, "socket = \"s.sock\";\n" POLICY_DEMO);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	r = config_load("sysgate.conf", &c, &e);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(r, 0);
	assert_string_equal(c.path, "sysgate.conf");
	snprintf(want, sizeof(want), "%s/s.sock", fx->real);
	assert_string_equal(c.socket, want);
	snprintf(want, sizeof(want), "%s/policies/demo.lua", fx->real);
	assert_string_equal(c.policies[0].file, want);
	config_free(&c);
}

static void test_absolute_paths_kept(void **state)
{
	const fixture_t *fx = *state;
	char text[PATH_MAX + 256], want[PATH_MAX + 64];
	sg_config_t c;

	snprintf(want, sizeof(want), "%s/policies/demo.lua", fx->real);
	snprintf(text, sizeof(text),
		 "socket = \"/tmp/sg.sock\";\nlog = \"/var/log/sg.log\";\n"
		 "policies = ( { name = \"demo\"; file = \"%s\"; } );\n", want);
	expect_ok(state, text, &c);
	assert_string_equal(c.socket, "/tmp/sg.sock");
	assert_string_equal(c.log, "/var/log/sg.log");
	assert_string_equal(c.policies[0].file, want);
	config_free(&c);
}

/* sun_path holds 107 bytes and the NUL, and the socket's path leaves
 * room for ".takeover": 98 bytes. */
static void test_socket_path_longest(void **state)
{
	char text[512], sock[99];
	sg_config_t c;

	memset(sock, 'a', sizeof(sock) - 1);
	sock[0] = '/';
	sock[sizeof(sock) - 1] = '\0';
	snprintf(text, sizeof(text), "socket = \"%s\";\n" POLICY_DEMO, sock);
	expect_ok(state, text, &c);
	assert_string_equal(c.socket, sock);
	config_free(&c);
}

static void test_name_longest(void **state)
{
	char text[512], name[SG_PROTO_MAX_NAME + 1];
	sg_config_t c;

	memset(name, 'n', SG_PROTO_MAX_NAME);
	name[SG_PROTO_MAX_NAME] = '\0';
	snprintf(text, sizeof(text),
		 "policies = ( { name = \"%s\"; file = \"policies/demo.lua\"; } );\n", name);
	expect_ok(state, text, &c);
	assert_string_equal(c.policies[0].name, name);
	config_free(&c);
}

static void test_free_null_and_zeroed(void **state)
{
	sg_config_t c;

	(void)state;
	config_free(NULL);
	memset(&c, 0, sizeof(c));
	config_free(&c);
	config_free(&c);
}

/* ------------------------------------------------ file and syntax */

static void test_config_missing(void **state)
{
	const fixture_t *fx = *state;
	char path[PATH_MAX];
	sg_config_t c;
	sg_error_t e;

	fx_path(fx, "nope.conf", path, sizeof(path));
	assert_int_equal(config_load(path, &c, &e), -ENOENT);
	assert_string_equal(e.file, path);
	assert_int_equal(e.line, 0);
	assert_non_null(strstr(e.msg, "No such file or directory"));
	assert_null(c.policies);
	config_free(&c);
}

static void test_config_is_directory(void **state)
{
	const fixture_t *fx = *state;
	sg_config_t c;
	sg_error_t e;

	assert_int_equal(config_load(fx->dir, &c, &e), -EISDIR);
	assert_string_equal(e.file, fx->dir);
	assert_non_null(strstr(e.msg, "Is a directory"));
}

static void test_syntax_error(void **state)
{
	expect_fail(state, "socket = \"/run/s.sock\";\n\nlog = ;\n" POLICY_DEMO,
		    -EINVAL, 3, "syntax error");
}

static void test_duplicate_key(void **state)
{
	expect_fail(state, "log = \"-\";\nlog = \"-\";\n" POLICY_DEMO,
		    -EINVAL, 2, "duplicate setting");
}

static void test_include_refused(void **state)
{
	expect_fail(state, "# config\n@include \"other.conf\"\n" POLICY_DEMO,
		    -EINVAL, 2, "'@include' is not supported");
}

static void test_nul_byte_refused(void **state)
{
	const fixture_t *fx = *state;
	static const char text[] = POLICY_DEMO "\0socket = \"/x\";\n";
	sg_config_t c;
	sg_error_t e;

	write_file(fx->conf, text, sizeof(text) - 1);
	assert_int_equal(config_load(fx->conf, &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "NUL byte"));
	assert_int_equal(e.line, 2);
}

/* libconfig 1.5 would truncate these to 32 bits without a word. */
static void test_plain_integer_overflow(void **state)
{
	expect_fail(state, "\nallow_uids = [ 4294967296 ];\n" POLICY_DEMO,
		    -EINVAL, 2, "integer 4294967296 does not fit 32 bits: write it as 4294967296L");
}

static void test_plain_hex_overflow(void **state)
{
	expect_fail(state, "lua = {\n  memory = 0x100000000;\n};\n" POLICY_DEMO,
		    -EINVAL, 2, "integer 0x100000000 does not fit 32 bits");
}

/* Digits inside strings and comments are not integers. */
static void test_big_digits_in_strings_and_comments(void **state)
{
	sg_config_t c;

	expect_ok(state,
		  "# 99999999999\n/* 99999999999\n 99999999999 */ // 99999999999\n"
		  "log = \"/l/99999999999\\\"99999999999\";\n"
		  POLICY_DEMO,
		  &c);
	assert_string_equal(c.log, "/l/99999999999\"99999999999");
	config_free(&c);
}

/* A float is a float, not an overflowing integer. */
static void test_big_float_is_a_type_error(void **state)
{
	expect_fail(state, "lua = { time_ms = 1e30; };\n" POLICY_DEMO,
		    -EINVAL, 1, "'lua.time_ms' must be an integer");
}

/* libconfig arrays hold one type: mixing 1 and 1L is its error. */
static void test_mixed_int_array(void **state)
{
	expect_fail(state, "allow_uids = [ 0,\n 4294967294L ];\n" POLICY_DEMO,
		    -EINVAL, 2, "mismatched element type");
}

/* ------------------------------------------------------- unknown keys */

static void test_unknown_key_top(void **state)
{
	expect_fail(state, "log = \"-\";\nsokcet = \"/x\";\n" POLICY_DEMO,
		    -EINVAL, 2, "unknown key 'sokcet'");
}

static void test_unknown_key_lua(void **state)
{
	expect_fail(state, "lua = {\n  memory = 65536;\n  memroy = 65536;\n};\n" POLICY_DEMO,
		    -EINVAL, 3, "unknown key 'memroy'");
}

static void test_unknown_key_policy(void **state)
{
	expect_fail(state,
		    "policies = (\n  { name = \"demo\";\n    flie = \"x\";\n"
		    "    file = \"policies/demo.lua\"; }\n);\n",
		    -EINVAL, 3, "policy 'demo': unknown key 'flie'");
}

/* -------------------------------------------------------- wrong types */

/* ------------------------------------------------ modes, learn_dir */

/* modes: what sysgate-run --mode may ask for, per policy; absent, nothing
 * but the policy's own mode. */
static void test_modes(void **state)
{
	const fixture_t *fx = *state;
	char dir[PATH_MAX];
	sg_config_t c;

	expect_ok(state, "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
			 "  modes = [ \"audit\", \"enforce\" ]; },\n"
			 "  { name = \"strict\"; file = \"policies/strict.lua\"; } );\n", &c);
	assert_int_equal(c.policies[0].modes,
			 CONFIG_MODE_BIT(SG_MODE_AUDIT) | CONFIG_MODE_BIT(SG_MODE_ENFORCE));
	assert_int_equal(c.policies[1].modes, 0);
	assert_string_equal(c.learn_dir, "");
	config_free(&c);

	fx_path(fx, "learned", dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	expect_ok(state, "learn_dir = \"learned\";\n"
			 "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
			 "  modes = ( \"learn\" ); } );\n", &c);
	assert_int_equal(c.policies[0].modes, CONFIG_MODE_BIT(SG_MODE_LEARN));
	assert_non_null(strstr(c.learn_dir, "/learned"));
	assert_int_equal(c.learn_dir[0], '/');
	config_free(&c);
}

#define MODES_CASE(fn, text, line, frag) \
	static void fn(void **state) { expect_fail(state, text, -EINVAL, line, frag); }

MODES_CASE(test_modes_unknown,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
	  "  modes = [ \"enforce\",\n \"permissive\" ]; } );\n", 3,
	  "policy 'demo': 'modes' entries must be \"enforce\", \"audit\" or \"learn\", not 'permissive'")
MODES_CASE(test_modes_not_string,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n modes = [ 1 ]; } );\n", 2,
	  "'modes' entries must be")
MODES_CASE(test_modes_not_array,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n modes = \"audit\"; } );\n",
	  2, "policy 'demo': 'modes' must be an array of strings")
MODES_CASE(test_modes_twice,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
	  " modes = ( \"audit\", \"audit\" ); } );\n", 2, "mode 'audit' is named twice")
MODES_CASE(test_modes_learn_needs_dir,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
	  " modes = [ \"learn\" ]; } );\n", 2,
	  "policy 'demo': 'modes' allows \"learn\" but the config sets no 'learn_dir'")
MODES_CASE(test_learn_dir_type, "learn_dir = 1;\n" POLICY_DEMO, 1, "'learn_dir' must be a string")

/* What learn mode writes is loaded later as a policy: its directory must
 * exist and be writable by its owner alone. */
static void test_learn_dir_checks(void **state)
{
	const fixture_t *fx = *state;
	char dir[PATH_MAX];

	expect_fail(state, "learn_dir = \"nowhere\";\n" POLICY_DEMO, -ENOENT, 1,
		    "No such file or directory");
	expect_fail(state, "learn_dir = \"policies/demo.lua\";\n" POLICY_DEMO, -ENOTDIR, 1,
		    "is not a directory");
	fx_path(fx, "open", dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0770), 0);
	expect_fail(state, "\nlearn_dir = \"open\";\n" POLICY_DEMO, -EPERM, 2,
		    "must belong to root or uid 0 and be writable by its owner alone (it is uid 0, "
		    "mode 0770)");
	assert_int_equal(chmod(dir, 01777), 0);
	expect_fail(state, "learn_dir = \"open\";\n" POLICY_DEMO, -EPERM, 1, "mode 1777");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	expect_fail(state, "learn_dir = \"open\";\n" POLICY_DEMO, -EPERM, 1, "it is uid 65534");
}

#define TYPE_CASE(fn, text, line, frag) \
	static void fn(void **state) { expect_fail(state, text, -EINVAL, line, frag); }

TYPE_CASE(test_type_socket, "socket = 1;\n" POLICY_DEMO, 1, "'socket' must be a string")
TYPE_CASE(test_type_socket_mode, "socket_mode = 600;\n" POLICY_DEMO, 1,
	  "'socket_mode' must be a string")
TYPE_CASE(test_type_allow_uids, "allow_uids = 0;\n" POLICY_DEMO, 1,
	  "'allow_uids' must be an array of integers")
TYPE_CASE(test_type_allow_uids_elem, "allow_uids = [ \"root\" ];\n" POLICY_DEMO, 1,
	  "'allow_uids' must be an array of integers")
TYPE_CASE(test_type_allow_gids, "allow_gids = { a = 1; };\n" POLICY_DEMO, 1,
	  "'allow_gids' must be an array of integers")
TYPE_CASE(test_type_allow_gids_elem, "allow_gids = ( 1,\n 2.5 );\n" POLICY_DEMO, 2,
	  "'allow_gids' must be an array of integers")
TYPE_CASE(test_type_log, "log = true;\n" POLICY_DEMO, 1, "'log' must be a string")
TYPE_CASE(test_type_fallback, "fallback = 13;\n" POLICY_DEMO, 1, "'fallback' must be a string")
TYPE_CASE(test_type_lua, "lua = [ 1 ];\n" POLICY_DEMO, 1, "'lua' must be a group")
TYPE_CASE(test_type_lua_instructions, "lua = {\n instructions = \"many\"; };\n" POLICY_DEMO, 2,
	  "'lua.instructions' must be an integer")
TYPE_CASE(test_type_lua_memory, "lua = {\n memory = 65536.0; };\n" POLICY_DEMO, 2,
	  "'lua.memory' must be an integer")
TYPE_CASE(test_type_lua_time_ms, "lua = {\n time_ms = true; };\n" POLICY_DEMO, 2,
	  "'lua.time_ms' must be an integer")
TYPE_CASE(test_type_lua_memory_total, "lua = {\n memory_total = [ 1 ]; };\n" POLICY_DEMO, 2,
	  "'lua.memory_total' must be an integer")
TYPE_CASE(test_type_policy_name,
	  "policies = (\n { name = 7; file = \"policies/demo.lua\"; } );\n", 2,
	  "'name' must be a string")
TYPE_CASE(test_type_policy_file,
	  "policies = (\n { name = \"demo\";\n  file = [ \"a\" ]; } );\n", 3,
	  "policy 'demo': 'file' must be a string")
TYPE_CASE(test_type_policy_fallback,
	  "policies = (\n { name = \"demo\"; file = \"policies/demo.lua\";\n"
	  "   fallback = false; } );\n", 3,
	  "policy 'demo': 'fallback' must be a string")

/* ------------------------------------------------- socket and mode */

TYPE_CASE(test_socket_mode_not_octal, "\nsocket_mode = \"0680\";\n" POLICY_DEMO, 2,
	  "'socket_mode' must be an octal mode")
TYPE_CASE(test_socket_mode_hex, "socket_mode = \"0x180\";\n" POLICY_DEMO, 1,
	  "'socket_mode' must be an octal mode")
TYPE_CASE(test_socket_mode_empty, "socket_mode = \"\";\n" POLICY_DEMO, 1,
	  "'socket_mode' must be an octal mode")
TYPE_CASE(test_socket_mode_signed, "socket_mode = \"-600\";\n" POLICY_DEMO, 1,
	  "'socket_mode' must be an octal mode")
TYPE_CASE(test_socket_mode_special_bits, "socket_mode = \"4660\";\n" POLICY_DEMO, 1,
	  "'socket_mode' must hold permission bits only")
TYPE_CASE(test_socket_mode_others_read, "socket_mode = \"0664\";\n" POLICY_DEMO, 1,
	  "'socket_mode' gives access to others")
TYPE_CASE(test_socket_mode_others_exec, "socket_mode = \"601\";\n" POLICY_DEMO, 1,
	  "'socket_mode' gives access to others")
TYPE_CASE(test_socket_empty, "socket = \"\";\n" POLICY_DEMO, 1, "'socket' must not be empty")
TYPE_CASE(test_log_empty, "log = \"\";\n" POLICY_DEMO, 1, "'log' must not be empty")

/* metrics_listen: a loopback address and port, or nothing at all. */
static void test_metrics_listen_v4(void **state)
{
	sg_config_t c;
	const struct sockaddr_in *a;

	expect_ok(state, "metrics_listen = \"127.0.0.1:9469\";\n" POLICY_DEMO, &c);
	assert_string_equal(c.metrics_listen, "127.0.0.1:9469");
	assert_int_equal(c.metrics_addrlen, sizeof(struct sockaddr_in));
	a = (const struct sockaddr_in *)&c.metrics_addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 9469);
	assert_int_equal(ntohl(a->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(c.metrics_line, 1);
	config_free(&c);
}

static void test_metrics_listen_v6(void **state)
{
	sg_config_t c;
	const struct sockaddr_in6 *a;

	expect_ok(state, "metrics_listen = \"[::1]:65535\";\n" POLICY_DEMO, &c);
	assert_int_equal(c.metrics_addrlen, sizeof(struct sockaddr_in6));
	a = (const struct sockaddr_in6 *)&c.metrics_addr;
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a->sin6_port), 65535);
	assert_true(IN6_IS_ADDR_LOOPBACK(&a->sin6_addr));
	config_free(&c);
}

static void test_metrics_listen_absent(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_int_equal(c.metrics_addrlen, 0);
	assert_string_equal(c.metrics_listen, "");
	config_free(&c);
}

TYPE_CASE(test_metrics_listen_type, "metrics_listen = 9469;\n" POLICY_DEMO, 1,
	  "'metrics_listen' must be a string")
TYPE_CASE(test_metrics_listen_public, "allow_uids = [ 0 ];\nmetrics_listen = \"0.0.0.0:9469\";\n"
	  POLICY_DEMO, 2, "'0.0.0.0:9469' is not a loopback address")
TYPE_CASE(test_metrics_listen_public_v6, "metrics_listen = \"[::]:9469\";\n" POLICY_DEMO, 1,
	  "is not a loopback address")
TYPE_CASE(test_metrics_listen_hostname, "metrics_listen = \"localhost:9469\";\n" POLICY_DEMO, 1,
	  "must be an address and a port")
TYPE_CASE(test_metrics_listen_no_port, "metrics_listen = \"127.0.0.1\";\n" POLICY_DEMO, 1,
	  "must be an address and a port")
TYPE_CASE(test_metrics_listen_v6_unbracketed, "metrics_listen = \"::1:9469\";\n" POLICY_DEMO, 1,
	  "must be an address and a port")
TYPE_CASE(test_metrics_listen_port_big, "metrics_listen = \"127.0.0.1:65536\";\n" POLICY_DEMO, 1,
	  "must be an address and a port")
TYPE_CASE(test_metrics_listen_port_zero, "metrics_listen = \"127.0.0.1:0\";\n" POLICY_DEMO, 1,
	  "the port must be between 1 and 65535")

/* metrics_limits and metrics_allow_uids: what clients of the endpoint
 * may hold, and which uids it serves. */
static void test_metrics_limits(void **state)
{
	sg_config_t c;

	expect_ok(state, POLICY_DEMO, &c);
	assert_int_equal(c.metrics_limits.connections, METRICS_DEFAULT_CONNECTIONS);
	assert_int_equal(c.metrics_limits.per_uid, METRICS_DEFAULT_PER_UID);
	assert_int_equal(c.metrics_limits.timeout_s, METRICS_DEFAULT_TIMEOUT_S);
	assert_int_equal(c.n_metrics_uids, 0);
	config_free(&c);
	expect_ok(state, "metrics_limits = { connections = 8; per_uid = 2; timeout_s = 3; };\n"
		  "metrics_allow_uids = [ 0, 65534 ];\n" POLICY_DEMO, &c);
	assert_int_equal(c.metrics_limits.connections, 8);
	assert_int_equal(c.metrics_limits.per_uid, 2);
	assert_int_equal(c.metrics_limits.timeout_s, 3);
	assert_int_equal(c.n_metrics_uids, 2);
	assert_int_equal(c.metrics_uids[1], 65534);
	config_free(&c);
}

static void test_metrics_unix_socket(void **state)
{
	sg_config_t c;
	const struct sockaddr_un *a;

	expect_ok(state, "metrics_listen = \"/run/sysgate-metrics/m.sock\";\n"
		  "metrics_socket_mode = \"0660\";\nmetrics_socket_gid = 9090;\n" POLICY_DEMO, &c);
	a = (const struct sockaddr_un *)&c.metrics_addr;
	assert_int_equal(a->sun_family, AF_UNIX);
	assert_string_equal(a->sun_path, "/run/sysgate-metrics/m.sock");
	assert_int_equal(c.metrics_addrlen, offsetof(struct sockaddr_un, sun_path) + 28);
	assert_int_equal(c.metrics_socket_mode, 0660);
	assert_int_equal(c.metrics_socket_gid, 9090);
	config_free(&c);
	expect_ok(state, "metrics_listen = \"/run/m.sock\";\n" POLICY_DEMO, &c);
	assert_int_equal(c.metrics_socket_mode, 0600);
	assert_int_equal(c.metrics_socket_gid, (gid_t)-1);
	config_free(&c);
}

TYPE_CASE(test_metrics_socket_mode_tcp, "metrics_listen = \"127.0.0.1:9469\";\n"
	  "metrics_socket_mode = \"0660\";\n" POLICY_DEMO, 2,
	  "'metrics_socket_mode' is for a unix socket")
TYPE_CASE(test_metrics_socket_gid_absent, "metrics_socket_gid = 5;\n" POLICY_DEMO, 1,
	  "'metrics_socket_gid' is for a unix socket")
TYPE_CASE(test_metrics_socket_mode_others, "metrics_listen = \"/run/m.sock\";\n"
	  "metrics_socket_mode = \"0666\";\n" POLICY_DEMO, 2,
	  "'metrics_socket_mode' gives access to others")
TYPE_CASE(test_metrics_socket_gid_negative, "metrics_listen = \"/run/m.sock\";\n"
	  "metrics_socket_gid = -1;\n" POLICY_DEMO, 2,
	  "'metrics_socket_gid' must be between 0 and")
static void test_metrics_socket_long(void **state)
{
	expect_fail(state,
		    "metrics_listen = \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\";\n" POLICY_DEMO,
		    -ENAMETOOLONG, 1, "is too long (at most 107 bytes)");
}

TYPE_CASE(test_metrics_limits_type, "metrics_limits = 4;\n" POLICY_DEMO, 1,
	  "'metrics_limits' must be a group")
TYPE_CASE(test_metrics_limits_unknown, "metrics_limits = {\n per_ip = 4; };\n" POLICY_DEMO, 2,
	  "metrics_limits: unknown key 'per_ip'")
TYPE_CASE(test_metrics_limits_connections, "metrics_limits = { connections = 1; };\n" POLICY_DEMO, 1,
	  "'metrics_limits.connections' must be between 2 and 1024")
TYPE_CASE(test_metrics_limits_timeout, "metrics_limits = { timeout_s = 0; };\n" POLICY_DEMO, 1,
	  "'metrics_limits.timeout_s' must be between 1 and 600")
TYPE_CASE(test_metrics_limits_per_uid_type, "metrics_limits = { per_uid = \"4\"; };\n" POLICY_DEMO, 1,
	  "'metrics_limits.per_uid' must be an integer")
TYPE_CASE(test_metrics_limits_per_uid_all, "metrics_limits = { connections = 8;\n per_uid = 8; };\n"
	  POLICY_DEMO, 2, "'metrics_limits.per_uid' (8) must be below 'metrics_limits.connections' (8)")
TYPE_CASE(test_metrics_limits_per_uid_default, "metrics_limits = { connections = 4; };\n"
	  POLICY_DEMO, 1, "'metrics_limits.per_uid' (4) must be below")
TYPE_CASE(test_metrics_uids_empty, "metrics_allow_uids = [ ];\n" POLICY_DEMO, 1,
	  "'metrics_allow_uids' is empty")
TYPE_CASE(test_metrics_uids_negative, "metrics_allow_uids = [ -1 ];\n" POLICY_DEMO, 1,
	  "'metrics_allow_uids' entry -1 must be between 0 and")
TYPE_CASE(test_metrics_listen_port_junk, "metrics_listen = \"127.0.0.1:94x\";\n" POLICY_DEMO, 1,
	  "must be an address and a port")

/* 99 bytes: sun_path would hold it, but not its control socket. */
static void test_socket_path_too_long(void **state)
{
	char text[512], sock[100];

	memset(sock, 'a', sizeof(sock) - 1);
	sock[0] = '/';
	sock[sizeof(sock) - 1] = '\0';
	snprintf(text, sizeof(text), "\nsocket = \"%s\";\n" POLICY_DEMO, sock);
	expect_fail(state, text, -ENAMETOOLONG, 2, "'socket': path '/aaa");
}

/* A short relative name can be too long once joined with the directory. */
static void test_socket_relative_too_long(void **state)
{
	char text[512], sock[101];

	memset(sock, 'r', sizeof(sock) - 1);
	sock[sizeof(sock) - 1] = '\0';
	snprintf(text, sizeof(text), "socket = \"%s\";\n" POLICY_DEMO, sock);
	expect_fail(state, text, -ENAMETOOLONG, 1, "is too long (at most 98 bytes)");
}

/* ----------------------------------------------------------------- ids */

TYPE_CASE(test_uid_negative, "allow_uids = [ 0, -1 ];\n" POLICY_DEMO, 1,
	  "'allow_uids' entry -1 must be between 0 and 4294967294")
TYPE_CASE(test_gid_negative, "allow_gids = [\n  -5 ];\n" POLICY_DEMO, 2,
	  "'allow_gids' entry -5 must be between 0 and 4294967294")
TYPE_CASE(test_uid_no_id, "allow_uids = [ 4294967295L ];\n" POLICY_DEMO, 1,
	  "must be between 0 and 4294967294")

static void test_too_many_uids(void **state)
{
	char text[1024];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "\nallow_uids = [ 0");
	for (int i = 1; i <= CONFIG_MAX_IDS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", %d", i);
	snprintf(text + n, sizeof(text) - n, " ];\n" POLICY_DEMO);
	expect_fail(state, text, -EINVAL, 2, "'allow_uids' has more than 64 entries");
}

static void test_max_uids(void **state)
{
	char text[1024];
	size_t n = 0;
	sg_config_t c;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "allow_uids = [ 0");
	for (int i = 1; i < CONFIG_MAX_IDS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", %d", i);
	snprintf(text + n, sizeof(text) - n, " ];\n" POLICY_DEMO);
	expect_ok(state, text, &c);
	assert_int_equal(c.n_allow_uids, CONFIG_MAX_IDS);
	assert_int_equal(c.allow_uids[CONFIG_MAX_IDS - 1], CONFIG_MAX_IDS - 1);
	config_free(&c);
}

/* ----------------------------------------------------------- fallback */

TYPE_CASE(test_fallback_allow_refused, "log = \"-\";\nfallback = \"allow\";\n" POLICY_DEMO, 2,
	  "'fallback' cannot be \"allow\": a failing handler must not allow the call")
TYPE_CASE(test_policy_fallback_allow_refused,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
	  "  fallback = \"allow\"; } );\n", 2,
	  "policy 'demo': 'fallback' cannot be \"allow\"")
TYPE_CASE(test_fallback_bad_errno, "fallback = \"deny:ENOTANERRNO\";\n" POLICY_DEMO, 1,
	  "'fallback': unknown errno name 'ENOTANERRNO'")
TYPE_CASE(test_fallback_errno_number, "fallback = \"deny:13\";\n" POLICY_DEMO, 1,
	  "unknown errno name '13'")
TYPE_CASE(test_fallback_not_a_verdict, "fallback = \"emulate\";\n" POLICY_DEMO, 1,
	  "'fallback' must be \"deny\", \"deny:ENAME\" or \"kill\", not 'emulate'")
TYPE_CASE(test_policy_fallback_bad_errno,
	  "policies = ( { name = \"demo\"; file = \"policies/demo.lua\";\n"
	  "  fallback = \"deny:EFOO\"; } );\n", 2,
	  "policy 'demo': 'fallback': unknown errno name 'EFOO'")

static void test_fallback_deny_plain(void **state)
{
	sg_config_t c;

	expect_ok(state, "fallback = \"deny\";\n" POLICY_DEMO, &c);
	assert_int_equal(c.fallback.kind, VERDICT_DENY);
	assert_int_equal(c.fallback.err, EPERM);
	config_free(&c);
}

static void test_fallback_kill_inherited(void **state)
{
	sg_config_t c;

	expect_ok(state, "fallback = \"kill\";\n" POLICY_DEMO, &c);
	assert_int_equal(c.fallback.kind, VERDICT_KILL);
	assert_int_equal(c.policies[0].fallback.kind, VERDICT_KILL);
	config_free(&c);
}

/* --------------------------------------------------------- lua limits */

#define LUA(body) "lua = {\n" body "};\n" POLICY_DEMO

TYPE_CASE(test_lua_instructions_low, LUA("  instructions = 999;\n"), 2,
	  "'lua.instructions' must be between 1000 and 10000000000")
TYPE_CASE(test_lua_instructions_high, LUA("  instructions = 10000000001L;\n"), 2,
	  "'lua.instructions' must be between 1000 and 10000000000")
TYPE_CASE(test_lua_memory_low, LUA("  memory = 65535;\n"), 2,
	  "'lua.memory' must be between 65536 and 1073741824")
TYPE_CASE(test_lua_memory_high, LUA("  memory = 1073741825;\n"), 2,
	  "'lua.memory' must be between 65536 and 1073741824")
TYPE_CASE(test_lua_time_ms_low, LUA("  time_ms = 0;\n"), 2,
	  "'lua.time_ms' must be between 1 and 60000")
TYPE_CASE(test_lua_time_ms_high, LUA("  time_ms = 60001;\n"), 2,
	  "'lua.time_ms' must be between 1 and 60000")
TYPE_CASE(test_lua_memory_total_below_memory,
	  LUA("  memory = 1048576;\n  memory_total = 1048575;\n"), 3,
	  "'lua.memory_total' must be between 1048576 and 4294967296")
TYPE_CASE(test_lua_memory_total_high, LUA("  memory_total = 4294967297L;\n"), 2,
	  "'lua.memory_total' must be between 8388608 and 4294967296")
TYPE_CASE(test_lua_negative, LUA("  memory = -65536;\n"), 2,
	  "'lua.memory' must be between")

/* ----------------------------------------------------------- policies */

TYPE_CASE(test_policies_missing, "log = \"-\";\n", 0, "missing 'policies'")
TYPE_CASE(test_policies_empty, "log = \"-\";\npolicies = ( );\n", 2, "'policies' is empty")
TYPE_CASE(test_policies_group, "policies = {\n demo = \"x\"; };\n", 1,
	  "'policies' must be a list of groups")
TYPE_CASE(test_policies_array, "policies = [ \"demo\" ];\n", 1,
	  "'policies' must be a list of groups")
TYPE_CASE(test_policies_scalar_entry,
	  "policies = (\n { name = \"demo\"; file = \"policies/demo.lua\"; },\n \"strict\" );\n", 3,
	  "'policies' must be a list of groups")

static void test_too_many_policies(void **state)
{
	size_t cap = 64 * (CONFIG_MAX_POLICIES + 2), n = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "\npolicies = (\n");
	for (int i = 0; i <= CONFIG_MAX_POLICIES; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s{ name = \"p%d\"; file = \"x\"; }\n",
				      i ? "," : "", i);
	snprintf(text + n, cap - n, ");\n");
	expect_fail(state, text, -EINVAL, 2, "'policies' has more than 256 entries");
	free(text);
}

TYPE_CASE(test_policy_missing_name,
	  "policies = (\n { name = \"demo\"; file = \"policies/demo.lua\"; },\n"
	  " { file = \"policies/strict.lua\"; } );\n", 3,
	  "policies entry 2: missing 'name'")
TYPE_CASE(test_policy_missing_file,
	  "policies = (\n\n { name = \"demo\"; } );\n", 3, "policy 'demo': missing 'file'")
TYPE_CASE(test_policy_bad_name_space,
	  "policies = (\n { name = \"de mo\"; file = \"policies/demo.lua\"; } );\n", 2,
	  "policy name 'de mo' is not valid")
TYPE_CASE(test_policy_bad_name_slash,
	  "policies = ( { name = \"../demo\"; file = \"policies/demo.lua\"; } );\n", 1,
	  "policy name '../demo' is not valid")
TYPE_CASE(test_policy_bad_name_empty,
	  "policies = ( { name = \"\"; file = \"policies/demo.lua\"; } );\n", 1,
	  "policy name '' is not valid")
TYPE_CASE(test_policy_bad_name_too_long,
	  "policies = ( { name = \"n12345678901234567890123456789012345678901234567890123456789012345\";"
	  " file = \"policies/demo.lua\"; } );\n", 1,
	  "is not valid: use 1 to 64 of")
TYPE_CASE(test_policy_duplicate_name,
	  "policies = (\n { name = \"demo\"; file = \"policies/demo.lua\"; },\n"
	  " { name = \"strict\"; file = \"policies/strict.lua\"; },\n"
	  " { name = \"demo\"; file = \"policies/strict.lua\"; } );\n", 4,
	  "duplicate policy name 'demo' (first at line 2)")
TYPE_CASE(test_policy_file_empty,
	  "policies = ( { name = \"demo\";\n file = \"\"; } );\n", 2,
	  "policy 'demo': 'file' must not be empty")

static void test_policy_file_missing(void **state)
{
	const fixture_t *fx = *state;
	char frag[PATH_MAX + 128];

	snprintf(frag, sizeof(frag),
		 "policy 'demo': cannot read '%s/policies/nope.lua': No such file or directory",
		 fx->real);
	expect_fail(state,
		    "log = \"-\";\npolicies = (\n { name = \"demo\"; file = \"policies/nope.lua\"; } );\n",
		    -ENOENT, 3, frag);
}

/* Config and policy files decide what targets may do: someone other than
 * root or the supervisor must not be able to change or replace them. */
static void test_config_writable_by_others(void **state)
{
	const fixture_t *fx = *state;
	sg_config_t c;
	sg_error_t e;

	write_conf(fx, POLICY_DEMO);
	assert_int_equal(chmod(fx->conf, 0666), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(config_load(fx->conf, &c, &e), -EPERM);
	assert_non_null(strstr(e.msg, "writable by others"));
	config_free(&c);
}

static void test_policy_file_writable_by_others(void **state)
{
	const fixture_t *fx = *state;
	char pol[PATH_MAX];

	fx_path(fx, "policies/demo.lua", pol, sizeof(pol));
	assert_int_equal(chmod(pol, 0666), 0);
	expect_fail(state, POLICY_DEMO, -EPERM, 1, "writable by others");
}

static void test_policy_file_foreign_owner(void **state)
{
	const fixture_t *fx = *state;
	char pol[PATH_MAX];

	fx_path(fx, "policies/demo.lua", pol, sizeof(pol));
	assert_int_equal(chown(pol, 65534, 65534), 0);
	expect_fail(state, POLICY_DEMO, -EPERM, 1, "belongs to uid 65534");
}

static void test_policy_dir_writable_by_others(void **state)
{
	const fixture_t *fx = *state;
	char dir[PATH_MAX];
	sg_config_t c;

	fx_path(fx, "policies", dir, sizeof(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	expect_fail(state, POLICY_DEMO, -EPERM, 1, "is writable by others");
	/* With the sticky bit others cannot replace root's file. */
	assert_int_equal(chmod(dir, 01777), 0);
	expect_ok(state, POLICY_DEMO, &c);
	config_free(&c);
}

/* Root reads a chmod 000 file, so unreadable means a directory or a
 * dangling symlink here. */
static void test_policy_file_is_directory(void **state)
{
	expect_fail(state, "policies = (\n { name = \"demo\"; file = \"policies\"; } );\n",
		    -EISDIR, 2, "policy 'demo': cannot read '");
	expect_fail(state, "policies = (\n { name = \"demo\"; file = \"policies\"; } );\n",
		    -EISDIR, 2, "/policies': Is a directory");
}

static void test_policy_file_dangling_symlink(void **state)
{
	const fixture_t *fx = *state;
	char link[PATH_MAX];

	fx_path(fx, "policies/gone.lua", link, sizeof(link));
	assert_int_equal(symlink("/nonexistent/sysgate/gone.lua", link), 0);
	expect_fail(state, "policies = ( { name = \"demo\"; file = \"policies/gone.lua\"; } );\n",
		    -ENOENT, 1, "gone.lua': No such file or directory");
}

static void test_policy_file_not_regular(void **state)
{
	expect_fail(state, "policies = ( { name = \"demo\"; file = \"/dev/null\"; } );\n",
		    -EINVAL, 1, "cannot read '/dev/null': not a regular file");
}

/* The second entry fails after the first was read: nothing leaks (the
 * sanitizer build checks) and the config is left zeroed. */
static void test_error_after_first_policy(void **state)
{
	expect_fail(state,
		    "policies = (\n { name = \"demo\"; file = \"policies/demo.lua\"; },\n"
		    " { name = \"strict\"; file = \"policies/none.lua\"; } );\n",
		    -ENOENT, 3, "policy 'strict': cannot read");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_full_valid),
		T(test_defaults),
		T(test_launchers_may_be_filtered),
		T(test_empty_id_lists),
		T(test_lua_memory_raises_default_total),
		T(test_log_limits),
		T(test_broker_timeout),
		T(test_tenants),
		T(test_labels),
		T(test_relative_config_path),
		T(test_absolute_paths_kept),
		T(test_socket_path_longest),
		T(test_name_longest),
		T(test_free_null_and_zeroed),
		T(test_config_missing),
		T(test_config_is_directory),
		T(test_syntax_error),
		T(test_duplicate_key),
		T(test_include_refused),
		T(test_nul_byte_refused),
		T(test_plain_integer_overflow),
		T(test_plain_hex_overflow),
		T(test_big_digits_in_strings_and_comments),
		T(test_big_float_is_a_type_error),
		T(test_mixed_int_array),
		T(test_unknown_key_top),
		T(test_unknown_key_lua),
		T(test_unknown_key_policy),
		T(test_modes),
		T(test_modes_unknown),
		T(test_modes_not_string),
		T(test_modes_not_array),
		T(test_modes_twice),
		T(test_modes_learn_needs_dir),
		T(test_learn_dir_type),
		T(test_learn_dir_checks),
		T(test_type_socket),
		T(test_type_socket_mode),
		T(test_type_allow_uids),
		T(test_type_allow_uids_elem),
		T(test_type_allow_gids),
		T(test_type_allow_gids_elem),
		T(test_type_log),
		T(test_type_fallback),
		T(test_type_lua),
		T(test_type_lua_instructions),
		T(test_type_lua_memory),
		T(test_type_lua_time_ms),
		T(test_type_lua_memory_total),
		T(test_type_policy_name),
		T(test_type_policy_file),
		T(test_type_policy_fallback),
		T(test_socket_mode_not_octal),
		T(test_socket_mode_hex),
		T(test_socket_mode_empty),
		T(test_socket_mode_signed),
		T(test_socket_mode_special_bits),
		T(test_socket_mode_others_read),
		T(test_socket_mode_others_exec),
		T(test_socket_empty),
		T(test_log_empty),
		T(test_metrics_listen_v4),
		T(test_metrics_listen_v6),
		T(test_metrics_listen_absent),
		T(test_metrics_listen_type),
		T(test_metrics_listen_public),
		T(test_metrics_listen_public_v6),
		T(test_metrics_listen_hostname),
		T(test_metrics_listen_no_port),
		T(test_metrics_listen_v6_unbracketed),
		T(test_metrics_listen_port_big),
		T(test_metrics_listen_port_zero),
		T(test_metrics_limits),
		T(test_metrics_limits_type),
		T(test_metrics_unix_socket),
		T(test_metrics_socket_mode_tcp),
		T(test_metrics_socket_gid_absent),
		T(test_metrics_socket_mode_others),
		T(test_metrics_socket_gid_negative),
		T(test_metrics_socket_long),
		T(test_metrics_limits_unknown),
		T(test_metrics_limits_connections),
		T(test_metrics_limits_timeout),
		T(test_metrics_limits_per_uid_type),
		T(test_metrics_limits_per_uid_all),
		T(test_metrics_limits_per_uid_default),
		T(test_metrics_uids_empty),
		T(test_metrics_uids_negative),
		T(test_metrics_listen_port_junk),
		T(test_socket_path_too_long),
		T(test_socket_relative_too_long),
		T(test_uid_negative),
		T(test_gid_negative),
		T(test_uid_no_id),
		T(test_too_many_uids),
		T(test_max_uids),
		T(test_fallback_allow_refused),
		T(test_policy_fallback_allow_refused),
		T(test_fallback_bad_errno),
		T(test_fallback_errno_number),
		T(test_fallback_not_a_verdict),
		T(test_policy_fallback_bad_errno),
		T(test_fallback_deny_plain),
		T(test_fallback_kill_inherited),
		T(test_lua_instructions_low),
		T(test_lua_instructions_high),
		T(test_lua_memory_low),
		T(test_lua_memory_high),
		T(test_lua_time_ms_low),
		T(test_lua_time_ms_high),
		T(test_lua_memory_total_below_memory),
		T(test_lua_memory_total_high),
		T(test_lua_negative),
		T(test_policies_missing),
		T(test_policies_empty),
		T(test_policies_group),
		T(test_policies_array),
		T(test_policies_scalar_entry),
		T(test_too_many_policies),
		T(test_policy_missing_name),
		T(test_policy_missing_file),
		T(test_policy_bad_name_space),
		T(test_policy_bad_name_slash),
		T(test_policy_bad_name_empty),
		T(test_policy_bad_name_too_long),
		T(test_policy_duplicate_name),
		T(test_policy_file_empty),
		T(test_policy_file_missing),
		T(test_config_writable_by_others),
		T(test_policy_file_writable_by_others),
		T(test_policy_file_foreign_owner),
		T(test_policy_dir_writable_by_others),
		T(test_policy_file_is_directory),
		T(test_policy_file_dangling_symlink),
		T(test_policy_file_not_regular),
		T(test_error_after_first_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
