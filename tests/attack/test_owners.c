/*
 * Tenants: labels have owners, and c.exe is a file. A hostile tenant is an
 * allowed launcher that is not root (uid 1000, sysgate-run started under
 * setpriv). It claims labels the config gives to root, and sysgated's own
 * labels; and it runs a target that bind-mounts its own binary over the
 * path a rule trusts, in a mount namespace of its own (exe_mask).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define TENANT 1000
#define TENANT_CONFIG "allow_uids = [ 0, 1000 ];\nsocket_mode = \"0660\";\n"

static void slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* Lets uid TENANT reach s's socket (the test's directory is root's 0700). */
static void open_to_tenant(const sgd_proc_t *s)
{
	assert_int_equal(chmod(s->dir, 0711), 0);
	assert_int_equal(chown(s->socket, (uid_t)-1, TENANT), 0);
}

/* sysgate-run -s SOCKET -p policy [-l label]... -- argv..., as uid (0 or
 * TENANT, under setpriv), and waits for it. */
static void launch(const sgd_proc_t *s, unsigned uid, const char *policy,
		   const char *const *labels, const char *const *argv, run_result_t *r)
{
	const char *v[64];
	char ids[3][32];
	int out[2], err[2];
	size_t n = 0;
	pid_t pid;

	if (uid != 0) {
		snprintf(ids[0], sizeof(ids[0]), "--reuid=%u", uid);
		snprintf(ids[1], sizeof(ids[1]), "--regid=%u", uid);
		v[n++] = "/usr/bin/setpriv";
		v[n++] = ids[0];
		v[n++] = ids[1];
		v[n++] = "--clear-groups";
	}
	v[n++] = env_path("SYSGATE_RUN");
	v[n++] = "-s";
	v[n++] = s->socket;
	v[n++] = "-p";
	v[n++] = policy;
	for (size_t i = 0; labels && labels[i]; i++) {
		v[n++] = "-l";
		v[n++] = labels[i];
	}
	v[n++] = "--";
	for (size_t i = 0; argv[i] && n < 63; i++)
		v[n++] = argv[i];
	v[n] = NULL;

	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(v[0], (char *const *)v);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	slurp(out[0], r->out, sizeof(r->out));
	slurp(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
}

/* Occurrences of needle in hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

#define FIVE_CALLS probe(), "getppid", "getppid", "getppid", "getppid", "getppid", NULL

/* Five calls per tenant label, and none more for as long as a test runs. */
POLICY(per_tenant, "local sg = sysgate\n"
		   "local l = sg.limit { rate = 0.001, burst = 5, per = 'label:tenant',\n"
		   "  over = sg.deny('EAGAIN'), under = sg.allow() }\n"
		   "return sg.policy { on = { getppid = l } }\n");

/*
 * Only root owns `tenant`: uid 1000 claiming tenant=acme is refused at the
 * handshake, with the reason on its stderr and in the log, and root's acme
 * target then gets all five of acme's calls. (Before, uid 1000's target
 * ran, drained acme's bucket, and root's got none.)
 */
static void test_label_owner(void **state)
{
	const char *acme[] = { "tenant=acme", NULL };
	const char *argv[] = { FIVE_CALLS };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	(void)state;
	START(&s, per_tenant, TENANT_CONFIG "labels = ( { key = \"tenant\"; uids = [ 0 ]; } );");
	open_to_tenant(&s);
	launch(&s, TENANT, "per_tenant", acme, argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "label 'tenant=acme' may not be set by uid 1000");
	assert_int_equal(count(r.out, "getppid"), 0);

	launch(&s, 0, "per_tenant", acme, argv, &r);
	assert_exited(&r, 0);
	assert_int_equal(count(r.out, "getppid: ok"), 5);

	log = sgd_log(&s);
	assert_int_equal(log_refusals(log, TENANT, "may not be set by uid 1000"), 1);
	json_object_put(log);
	sgd_stop(&s);
}

/* A handler's admin check on a label. */
POLICY(admin_only, "local sg = sysgate\n"
		   "return sg.policy { on = { getppid = function(c)\n"
		   "  if c.target.labels.tenant == 'admin' then return sg.allow() end\n"
		   "  return sg.deny('EPERM')\n"
		   "end } }\n");

/*
 * Values have owners too: uid 1000 may be tenant=beta, not tenant=admin,
 * and may not set a key the config does not list; root may be admin. A
 * key owned by a group is that group's alone.
 */
static void test_label_values(void **state)
{
	const char *admin[] = { "tenant=admin", NULL }, *beta[] = { "tenant=beta", NULL };
	const char *color[] = { "color=red", NULL }, *team[] = { "team=red", NULL };
	const char *argv[] = { probe(), "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	(void)state;
	START(&s, admin_only,
	      TENANT_CONFIG "labels = ( { key = \"tenant\"; uids = [ 1000 ]; values = [ \"beta\" ]; },\n"
			    "           { key = \"tenant\"; uids = [ 0 ]; },\n"
			    "           { key = \"team\"; gids = [ 1000 ]; } );");
	open_to_tenant(&s);
	launch(&s, TENANT, "admin_only", admin, argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "label 'tenant=admin' may not be set by uid 1000");
	assert_int_equal(count(r.out, "getppid"), 0);

	launch(&s, TENANT, "admin_only", color, argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "label 'color' is not in the config's 'labels'");

	launch(&s, TENANT, "admin_only", beta, argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: EPERM");

	launch(&s, 0, "admin_only", admin, argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");

	/* By group: gid 1000's launcher may set team, root (gid 0) may not. */
	launch(&s, TENANT, "admin_only", team, argv, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: EPERM");
	launch(&s, 0, "admin_only", team, argv, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "label 'team=red' may not be set by uid 0 gid 0");

	log = sgd_log(&s);
	assert_int_equal(log_refusals(log, TENANT, "may not be set by uid 1000"), 1);
	assert_int_equal(log_refusals(log, TENANT, "is not in the config's 'labels'"), 1);
	json_object_put(log);
	sgd_stop(&s);
}

/* Three calls per launcher uid, keyed on the label sysgated derives. */
POLICY(per_uid, "local sg = sysgate\n"
		"local l = sg.limit { rate = 0.001, burst = 3, per = 'label:sysgate.uid',\n"
		"  over = sg.deny('EAGAIN'), under = sg.allow() }\n"
		"return sg.policy { on = {\n"
		"  getppid = l,\n"
		"  getpid = function(c)\n"
		"    if c.target.labels['sysgate.uid'] == tostring(c.target.uid) then\n"
		"      return sg.allow() end\n"
		"    return sg.deny('EPERM')\n"
		"  end,\n"
		"} }\n");

/*
 * sysgate.uid is the launcher's uid whatever the launcher says: no one
 * (root included) may set a sysgate.* label, even with no `labels` in the
 * config; handlers see the derived one, and a limit keyed on it gives
 * each uid its own bucket: uid 1000 drains its own, root keeps its.
 */
static void test_own_labels(void **state)
{
	const char *claim_root[] = { "sysgate.uid=0", NULL }, *claim_other[] = { "sysgate.gid=5", NULL };
	const char *drain[] = { probe(), "getpid", "getppid", "getppid", "getppid", "getppid", NULL };
	const char *three[] = { probe(), "getpid", "getppid", "getppid", "getppid", NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log;

	(void)state;
	START(&s, per_uid, TENANT_CONFIG);
	open_to_tenant(&s);
	launch(&s, TENANT, "per_uid", claim_root, three, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "label 'sysgate.uid': keys under 'sysgate.' are set by sysgated alone");
	launch(&s, 0, "per_uid", claim_other, three, &r);
	assert_exited(&r, 125);
	assert_contains(r.err, "keys under 'sysgate.' are set by sysgated alone");

	launch(&s, TENANT, "per_uid", NULL, drain, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getpid: ok");
	assert_int_equal(count(r.out, "getppid: ok"), 3);
	assert_int_equal(count(r.out, "getppid: EAGAIN"), 1);

	launch(&s, 0, "per_uid", NULL, three, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getpid: ok");
	assert_int_equal(count(r.out, "getppid: ok"), 3);

	log = sgd_log(&s);
	assert_int_equal(log_refusals(log, TENANT, "set by sysgated alone"), 1);
	assert_int_equal(log_refusals(log, 0, "set by sysgated alone"), 1);
	json_object_put(log);
	sgd_stop(&s);
}

/* Allows getppid only to the program at .../sg_genuine. */
POLICY(exe_rule, "local sg = sysgate\n"
		 "return sg.policy { on = { getppid = function(c)\n"
		 "  if c.exe:match('/sg_genuine$') then return sg.allow() end\n"
		 "  return sg.deny('EPERM')\n"
		 "end } }\n");

static void copy_file(const char *from, const char *to)
{
	struct stat st;
	int in = open(from, O_RDONLY | O_CLOEXEC), out;

	assert_true(in >= 0);
	assert_int_equal(fstat(in, &st), 0);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(out >= 0);
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = sendfile(out, in, NULL, (size_t)left);

		assert_true(n > 0);
		left -= n;
	}
	close(in);
	assert_int_equal(close(out), 0);
}

/* Removes dir and the files in it. */
static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

/*
 * uid 1000's target makes a user and mount namespace, bind-mounts a copy
 * of itself over the path the rule trusts and execs it: /proc/<pid>/exe
 * reads that path, but the file is not the one the path names in
 * sysgated's namespace, so c.exe does not claim it and the call is
 * denied, the log showing the marked exe. The genuine program at the
 * path is allowed.
 */
static void test_exe_mask(void **state)
{
	char genuine[512], tmp[] = "/tmp/sg_exe_mask.XXXXXX", want[600];
	const char *real[] = { genuine, "getppid", NULL };
	const char *mask[] = { env_path("EXE_MASK"), tmp, genuine, NULL };
	sgd_proc_t s;
	run_result_t r;
	json_object *log, *e;
	const char *exe;

	(void)state;
	START(&s, exe_rule, TENANT_CONFIG);
	open_to_tenant(&s);
	snprintf(genuine, sizeof(genuine), "%s/sg_genuine", s.dir);
	copy_file(probe(), genuine);
	assert_non_null(mkdtemp(tmp));
	assert_int_equal(chown(tmp, TENANT, TENANT), 0);

	launch(&s, TENANT, "exe_rule", NULL, real, &r);
	assert_exited(&r, 0);
	assert_contains(r.out, "getppid: ok");

	launch(&s, TENANT, "exe_rule", NULL, mask, &r);
	if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 77) {
		fprintf(stderr, "no unprivileged user namespaces here: %s", r.err);
		rm_dir(tmp);
		unlink(genuine);
		sgd_stop(&s);
		skip();
	}
	assert_exited(&r, 0);
	assert_contains(r.out, "masked: ");
	assert_contains(r.out, "getppid: EPERM");

	log = sgd_log(&s);
	snprintf(want, sizeof(want), "(not %s: ", genuine);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		e = json_object_array_get_idx(log, i);
		exe = str_field(e, "exe");
		if (exe && strncmp(exe, "(not ", 5) == 0)
			break;
		e = NULL;
	}
	assert_non_null(e);
	assert_contains(str_field(e, "exe"), want);
	json_object_put(log);
	rm_dir(tmp);
	unlink(genuine);
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_label_owner, sgd_teardown),
		cmocka_unit_test_teardown(test_label_values, sgd_teardown),
		cmocka_unit_test_teardown(test_own_labels, sgd_teardown),
		cmocka_unit_test_teardown(test_exe_mask, sgd_teardown),
	};

	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) < 0) {
		fprintf(stderr, "needs root and setpriv(1) (launchers of uid 1000)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
