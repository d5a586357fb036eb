/*
 * The shipped policies hold against every route (escapes finding 6): the
 * policy files of examples/policies themselves, read from the source tree,
 * served by a real sysgated, and the routes of tests/attack/routes.c tried
 * by a real target under them. Writes are aimed at names of our own under
 * /etc (/etc/sysgate-attack-<pid>-*), which the test makes, checks and
 * removes; /etc/shadow is only ever opened for reading.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static char tag[16];

static const char *routes(void)
{
	return env_path("ROUTES");
}

/* examples/policies/<file>, as it ships. The caller frees it. */
static char *shipped(const char *file)
{
	char path[512];
	struct stat st;
	char *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/examples/policies/%s", env_path("SRCDIR"), file);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	return buf;
}

/* A sysgated serving the shipped policy file as name. */
static void start_shipped(sgd_proc_t *s, const char *name, const char *file)
{
	const char *names[] = { name };
	char *src = shipped(file);
	const char *srcs[] = { src };

	sgd_start(s, NULL, 1, names, srcs);
	free(src);
}

/* Fails unless every line of out (but none missing: n lines) ends in
 * want, showing the routes that did not. */
static void assert_all(const char *out, const char *want, int n)
{
	char copy[sizeof(((run_result_t *)0)->out)], *save = NULL;
	int lines = 0, bad = 0;

	snprintf(copy, sizeof(copy), "%s", out);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *sp = strchr(l, ' ');

		lines++;
		if (!sp || strcmp(sp + 1, want) != 0) {
			fprintf(stderr, "route not refused with %s: %s\n", want, l);
			bad++;
		}
	}
	if (lines != n)
		fprintf(stderr, "%d routes reported, %d expected:\n%s", lines, n, out);
	assert_int_equal(bad, 0);
	assert_int_equal(lines, n);
}

/* The line of one route, e.g. "clone3-newuser refused ENOSYS". */
static void assert_route(const char *out, const char *route, const char *result)
{
	char line[128];

	snprintf(line, sizeof(line), "%s %s\n", route, result);
	assert_contains(out, line);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Names under /etc that start with /etc/sysgate-attack-<pid>- and are
 * not the test's own victim and vdir: each one a route that got through. */
static int stray_names(void)
{
	char prefix[64], victim[80], vdir[80];
	struct dirent *e;
	DIR *d = opendir("/etc");
	int n = 0;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), "sysgate-attack-%s-", tag);
	snprintf(victim, sizeof(victim), "%svictim", prefix);
	snprintf(vdir, sizeof(vdir), "%svdir", prefix);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    strcmp(e->d_name, victim) != 0 && strcmp(e->d_name, vdir) != 0) {
			fprintf(stderr, "created under /etc: %s\n", e->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

static void cleanup_etc(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf /etc/sysgate-attack-%s-* /tmp/sysgate-attack-%s", tag,
		 tag);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	cleanup_etc();
	return sgd_teardown(state);
}

/*
 * function-host: nothing under /etc is changed by name. Every open for
 * writing (open, openat, openat2 with and without RESOLVE flags, creat,
 * O_TMPFILE, O_WRONLY, O_RDWR, O_TRUNC), truncate, mkdir, mknod, rename
 * into and out of /etc, link into and out of it, symlink into it, unlink
 * and rmdir, by /etc/x, //etc//x, /./etc/x, /tmp/../etc/x, ../etc/x from
 * /tmp and x from a dirfd of /etc: refused with EACCES, and /etc unchanged.
 */
static void test_function_host_etc(void **state)
{
	char victim[128], vdir[128], scratch[128], link[160], buf[64] = "";
	const char *argv[] = { routes(), "etc", tag, NULL };
	run_result_t r;
	sgd_proc_t s;
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(victim, sizeof(victim), "/etc/sysgate-attack-%s-victim", tag);
	snprintf(vdir, sizeof(vdir), "/etc/sysgate-attack-%s-vdir", tag);
	snprintf(scratch, sizeof(scratch), "/tmp/sysgate-attack-%s", tag);
	cleanup_etc();
	write_file(victim, "victim\n");
	assert_int_equal(mkdir(vdir, 0700), 0);
	assert_int_equal(mkdir(scratch, 0700), 0);

	start_shipped(&s, "function-host", "function-host.lua");
	run_under(&s, "function-host", argv, &r);
	assert_exited(&r, 0);
	assert_all(r.out, "refused EACCES", 37);

	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "victim\n");
	assert_int_equal(stat(vdir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stray_names(), 0);
	snprintf(link, sizeof(link), "%s/victim-link", scratch);
	assert_int_equal(access(link, F_OK), -1);
	sgd_stop(&s);
	cleanup_etc();
}

/*
 * function-host: every way to mount (the old API and fsopen, fsconfig,
 * fsmount, fspick, move_mount, open_tree, mount_setattr), new user
 * namespaces by clone, clone3 and unshare, setns, open_by_handle_at and
 * userfaultfd are refused: EPERM, and ENOSYS for clone3 (libc falls back
 * to clone, whose flags the policy sees).
 */
static void test_function_host_calls(void **state)
{
	static const char *const eperm[] = {
		"mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
		"move_mount", "open_tree", "mount_setattr", "unshare-newuser", "clone-newuser",
		"setns", "open_by_handle_at", "userfaultfd",
	};
	const char *argv[] = { routes(), "calls", NULL };
	run_result_t r;
	sgd_proc_t s;

	(void)state;
	start_shipped(&s, "function-host", "function-host.lua");
	run_under(&s, "function-host", argv, &r);
	assert_exited(&r, 0);
	for (size_t i = 0; i < sizeof(eperm) / sizeof(eperm[0]); i++)
		assert_route(r.out, eperm[i], "refused EPERM");
	assert_route(r.out, "clone3-newuser", "refused ENOSYS");
	assert_route(r.out, "io_uring_setup", "refused ENOSYS");
	sgd_stop(&s);
}

/*
 * function-host: execveat is an exec like execve (logged, and under the
 * same rate limit), and sendto and sendmsg that name an address are
 * logged with it, like connect.
 */
static void test_function_host_exec_send(void **state)
{
	char port[16], msg[64];
	const char *exec[] = { routes(), "exec", NULL };
	const char *send[] = { routes(), "send", port, NULL };
	run_result_t r;
	sgd_proc_t s;
	json_object *log;

	(void)state;
	snprintf(port, sizeof(port), "%d", free_port());
	start_shipped(&s, "function-host", "function-host.lua");
	run_under(&s, "function-host", exec, &r);
	assert_exited(&r, 0);
	assert_route(r.out, "execveat", "done");
	run_under(&s, "function-host", send, &r);
	assert_exited(&r, 0);
	assert_route(r.out, "sendto", "done");
	assert_route(r.out, "sendmsg", "done");
	assert_true(log_wait(&s, "target_end", 2));
	log = sgd_log(&s);
	assert_non_null(log_find(log, "decision", "message", "exec /bin/true"));
	assert_non_null(log_find(log, "decision", "syscall", "execveat"));
	snprintf(msg, sizeof(msg), "sendto 127.0.0.1:%s", port);
	assert_non_null(log_find(log, "decision", "message", msg));
	snprintf(msg, sizeof(msg), "sendmsg 127.0.0.1:%s", port);
	assert_non_null(log_find(log, "decision", "message", msg));
	json_object_put(log);
	sgd_stop(&s);
}

/*
 * demo: /etc/shadow is never opened, by /etc//shadow, //etc/shadow,
 * /etc/./shadow, /tmp/../etc/shadow, etc/shadow from /, shadow from a
 * dirfd of /etc, openat2 (plain, RESOLVE_IN_ROOT, RESOLVE_BENEATH) or
 * O_RDWR: EACCES each time; a create under /etc is EROFS.
 */
static void test_demo_shadow(void **state)
{
	char created[128];
	const char *argv[] = { routes(), "shadow", tag, NULL };
	run_result_t r;
	sgd_proc_t s;

	(void)state;
	start_shipped(&s, "demo", "demo.lua");
	run_under(&s, "demo", argv, &r);
	assert_exited(&r, 0);
	assert_route(r.out, "etc-creat", "refused EROFS");
	assert_route(r.out, "io_uring_setup", "refused ENOSYS"); /* IORING_OP_OPENAT */
	/* Every line before etc-creat's: the shadow routes. */
	{
		char out[sizeof(r.out)];
		char *at = strstr(r.out, "etc-creat ");

		snprintf(out, sizeof(out), "%.*s", (int)(at - r.out), r.out);
		assert_all(out, "refused EACCES", 12);
	}
	snprintf(created, sizeof(created), "/etc/sysgate-attack-%s-creat", tag);
	assert_int_equal(access(created, F_OK), -1);
	sgd_stop(&s);
	cleanup_etc();
}

/* sysgated --check on the shipped config: every shipped policy decides
 * whole families, so it warns about none. */
static void test_shipped_check_clean(void **state)
{
	char cmd[1024], err[4096] = "";
	int status;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s -c %s/examples/sysgate.conf --check 2>&1 >/dev/null",
		 env_path("SYSGATED"), env_path("SRCDIR"));
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(err, 1, sizeof(err) - 1, f);
	err[n] = '\0';
	status = pclose(f);
	if (n)
		fprintf(stderr, "%s", err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(n, 0);
}

/* A policy that decides openat alone: --check names the file and the
 * family on stderr, and the check still passes. */
static void test_check_warns_family(void **state)
{
	char dir[] = "/tmp/sysgate-family.XXXXXX", path[300], cmd[900], err[2048] = "";
	int status;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/half.lua", dir);
	write_file(path, "local sg = sysgate\n"
			 "return sg.policy { on = { openat = function(c) return sg.allow() end },\n"
			 "  kernel = { deny = { 'mount' } } }\n");
	snprintf(path, sizeof(path), "%s/sysgate.conf", dir);
	write_file(path, "socket = \"sock\";\npolicies = ( { name = \"half\"; file = \"half.lua\"; } );\n");
	snprintf(cmd, sizeof(cmd), "%s -c %s --check 2>&1 >/dev/null", env_path("SYSGATED"), path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(err, 1, sizeof(err) - 1, f);
	err[n] = '\0';
	status = pclose(f);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_contains(err, "warning: ");
	assert_contains(err, "half.lua: policy 'half' decides openat but not open, openat2, creat, "
			     "open_by_handle_at");
	assert_contains(err, "(the open family)");
	assert_contains(err, "decides mount but not umount2, pivot_root, fsopen");
	assert_contains(err, "(the mount family)");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_function_host_etc, teardown),
		cmocka_unit_test_teardown(test_function_host_calls, sgd_teardown),
		cmocka_unit_test_teardown(test_function_host_exec_send, sgd_teardown),
		cmocka_unit_test_teardown(test_demo_shadow, teardown),
		cmocka_unit_test(test_shipped_check_clean),
		cmocka_unit_test(test_check_warns_family),
	};

	snprintf(tag, sizeof(tag), "%d", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
