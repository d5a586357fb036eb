/*
 * Unit tests of learn mode: calls are recorded from plain call_t structs
 * with a fake memory reader, the learned policy is rendered, loaded by the
 * policy engine and asked to decide calls it saw and calls it did not.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "learn.h"
#include "names.h"
#include "policy.h"

static char tmpdir[] = "/tmp/sg-test-learn-XXXXXX";

/* The fake target: the string every path argument points to, and the
 * socket address connect's pointer points to. */
typedef struct fake {
	const char *path;
	struct sockaddr_in sin;
} fake_t;

static ssize_t fake_str(void *ctx, const call_t *c, uint64_t addr, char *buf, size_t cap)
{
	const fake_t *f = ctx;

	(void)c;
	(void)addr;
	snprintf(buf, cap, "%s", f->path);
	return (ssize_t)strlen(buf);
}

static int fake_mem(void *ctx, const call_t *c, uint64_t addr, void *buf, size_t len)
{
	const fake_t *f = ctx;

	(void)c;
	if (addr != 0x9000 || len > sizeof(f->sin))
		return -EFAULT;
	memcpy(buf, &f->sin, len);
	return 0;
}

static ssize_t fake_link(void *ctx, const call_t *c, const char *what, char *buf, size_t cap)
{
	(void)ctx;
	(void)c;
	return strcmp(what, "cwd") == 0 ? snprintf(buf, cap, "/home/u") : -EBADF;
}

/* A call of syscall on path (or to 127.0.0.1:port for connect), with
 * flags as openat's. */
static call_t *make(const char *syscall, const char *path, int flags, int port)
{
	static call_t c;
	static fake_t f;

	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	f.path = path ? path : "";
	f.sin.sin_family = AF_INET;
	f.sin.sin_port = htons((uint16_t)port);
	f.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.nr = names_syscall(syscall);
	assert_true(c.nr >= 0);
	c.syscall = names_syscall_name(c.nr);
	c.arch = names_native_arch();
	c.id = 7;
	c.pid = 100;
	c.read_str = fake_str;
	c.read_mem = fake_mem;
	c.read_link = fake_link;
	c.read_ctx = &f;
	if (strcmp(syscall, "openat") == 0) {
		c.args[0] = (uint64_t)(int64_t)AT_FDCWD;
		c.args[1] = 0x7000;
		c.args[2] = (uint64_t)flags;
	} else if (strcmp(syscall, "connect") == 0) {
		c.args[1] = 0x9000;
		c.args[2] = sizeof(struct sockaddr_in);
	} else if (strcmp(syscall, "unlinkat") == 0) {
		c.args[0] = (uint64_t)(int64_t)AT_FDCWD;
		c.args[1] = 0x7000;
	} else if (call_path_arg(c.nr) >= 0) {
		c.args[call_path_arg(c.nr)] = 0x7000;
	}
	return &c;
}

/* Renders l into a file and loads it as a policy. */
static policy_t *load_learned(const learn_t *l, char **src_out)
{
	learn_about_t about = { .policy = "work", .target = 3, .pid = 1234, .started = 0, .ended = 60 };
	char path[300], buf[1024], *src = NULL;
	size_t len = 0;
	sg_error_t err = { 0 };
	policy_t *p = NULL;
	FILE *f;

	assert_int_equal(learn_render(l, &about, &src, &len), 0);
	assert_true(len < (1u << 20));
	snprintf(path, sizeof(path), "%s/learned.lua", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(src, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	if (policy_load("learned", path, NULL, &p, &err) < 0)
		fail_msg("the learned policy does not load: %s\n%s", sg_error_str(&err, buf, sizeof(buf)),
			 src);
	if (src_out)
		*src_out = src;
	else
		free(src);
	return p;
}

/* The verdict p gives a call. */
static verdict_kind_t verdict(policy_t *p, call_t *c, int *err)
{
	char why[256];
	verdict_t v;
	policy_fail_t f = policy_decide(p, c, &v, why, sizeof(why));

	if (f != POLICY_OK)
		fail_msg("decision failed (%d): %s", f, why);
	*err = v.err;
	return v.kind;
}

#define ALLOWS(p, call) \
	do { \
		int e_; \
		assert_int_equal(verdict(p, call, &e_), VERDICT_ALLOW); \
	} while (0)
#define DENIES(p, call) \
	do { \
		int e_; \
		assert_int_equal(verdict(p, call, &e_), VERDICT_DENY); \
		assert_int_equal(e_, EACCES); \
	} while (0)

static const char hostile[] = "/tmp/a\"b\\c\nd]]--\x01\xff\" .. os.exit() .. \"";

static learn_t *sample(void)
{
	learn_t *l = learn_new();
	char path[64];

	assert_non_null(l);
	learn_record(l, make("openat", "/etc/hostname", O_RDONLY, 0));
	learn_record(l, make("openat", "rel/file", O_RDONLY, 0)); /* against the cwd */
	learn_record(l, make("openat", "/tmp/out", O_WRONLY | O_CREAT | O_TRUNC, 0));
	learn_record(l, make("openat", hostile, O_RDONLY, 0));
	for (int i = 0; i <= LEARN_GROUP; i++) {
		snprintf(path, sizeof(path), "/data/many/f%02d", i);
		learn_record(l, make("openat", path, O_RDONLY, 0));
	}
	learn_record(l, make("execve", "/usr/bin/ls", 0, 0));
	learn_record(l, make("connect", NULL, 0, 4444));
	learn_record(l, make("unlinkat", "/tmp/gone", 0, 0));
	learn_record(l, make("getpid", NULL, 0, 0));
	learn_record(l, make("read", NULL, 0, 0));
	learn_record(l, make("read", NULL, 0, 0));
	return l;
}

/* What a run did is allowed, by path, address and program; what it did
 * not do is denied; syscalls without arguments to check are allowed in
 * the kernel and the rest of them denied there. */
static void test_roundtrip(void **state)
{
	learn_t *l = sample();
	learn_stats_t st;
	policy_t *p;
	const sg_spec_t *s;
	bool allow[NAMES_MAX_NR] = { false }, notify[NAMES_MAX_NR] = { false };
	char *src;

	(void)state;
	learn_stats(l, &st);
	assert_int_equal(st.calls, 4 + LEARN_GROUP + 1 + 6);
	assert_int_equal(st.paths, 4 + LEARN_GROUP + 1 + 1);
	assert_int_equal(st.execs, 1);
	assert_int_equal(st.addrs, 1);
	assert_int_equal(st.dropped, 0);
	p = load_learned(l, &src);
	s = policy_spec(p);
	assert_int_equal(s->default_action, SG_ACT_ERRNO);
	assert_int_equal(s->default_errno, EPERM);
	for (uint32_t i = 0; i < s->n_allow; i++)
		allow[s->allow[i]] = true;
	for (uint32_t i = 0; i < s->n_notify; i++)
		notify[s->notify[i]] = true;
	assert_true(allow[names_syscall("getpid")] && allow[names_syscall("read")]);
	assert_true(allow[names_syscall("exit_group")] && allow[names_syscall("rt_sigreturn")]);
	assert_false(allow[names_syscall("write")] || notify[names_syscall("write")]);
	assert_int_equal(s->n_notify, 4);
	assert_true(notify[names_syscall("openat")] && notify[names_syscall("execve")] &&
		    notify[names_syscall("connect")] && notify[names_syscall("unlinkat")]);
	/* Readable: a grouped directory stands for its files. */
	assert_non_null(strstr(src, "\"/data/many\""));
	assert_null(strstr(src, "/data/many/f00"));
	free(src);

	ALLOWS(p, make("openat", "/etc/hostname", O_RDONLY, 0));
	DENIES(p, make("openat", "/etc/hostname", O_RDWR, 0));
	DENIES(p, make("openat", "/etc/passwd", O_RDONLY, 0));
	ALLOWS(p, make("openat", "/home/u/rel/file", O_RDONLY, 0));
	ALLOWS(p, make("openat", "rel/file", O_RDONLY, 0));
	ALLOWS(p, make("openat", "/tmp/out", O_WRONLY | O_CREAT | O_TRUNC, 0));
	ALLOWS(p, make("openat", "/tmp/out", O_RDONLY, 0));
	DENIES(p, make("openat", "/tmp/out2", O_WRONLY | O_CREAT, 0));
	ALLOWS(p, make("openat", hostile, O_RDONLY, 0));
	DENIES(p, make("openat", "/tmp/a\"b\\c", O_RDONLY, 0));
	ALLOWS(p, make("openat", "/data/many/never-seen", O_RDONLY, 0));
	DENIES(p, make("openat", "/data/many/sub/x", O_RDONLY, 0));
	DENIES(p, make("openat", "/data/many", O_WRONLY | O_CREAT, 0));
	ALLOWS(p, make("execve", "/usr/bin/ls", 0, 0));
	DENIES(p, make("execve", "/usr/bin/id", 0, 0));
	ALLOWS(p, make("connect", NULL, 0, 4444));
	DENIES(p, make("connect", NULL, 0, 4445));
	ALLOWS(p, make("unlinkat", "/tmp/gone", 0, 0));
	DENIES(p, make("unlinkat", "/tmp/out", 0, 0));
	policy_free(p);
	learn_free(l);
}

/* Learned data is the target's: bounded in entries and bytes, whatever it
 * does; what does not fit is counted, said in the file, and denied. The
 * worst case (every byte escaped) still loads. */
static void test_bounds(void **state)
{
	learn_t *l = learn_new();
	learn_stats_t st;
	char path[4096], *src;
	policy_t *p;

	(void)state;
	for (int i = 0; i < LEARN_MAX_PATHS + 10; i++) {
		snprintf(path, sizeof(path), "/d%d/f", i);
		learn_record(l, make("openat", path, O_RDONLY, 0));
	}
	for (int i = 0; i < LEARN_MAX_EXECS + 3; i++) {
		snprintf(path, sizeof(path), "/bin/p%d", i);
		learn_record(l, make("execve", path, 0, 0));
	}
	learn_stats(l, &st);
	assert_int_equal(st.paths, LEARN_MAX_PATHS);
	assert_int_equal(st.execs, LEARN_MAX_EXECS);
	assert_int_equal(st.dropped, 13);
	p = load_learned(l, &src);
	assert_non_null(strstr(src, "13 more entries were NOT recorded"));
	DENIES(p, make("openat", "/d4100/f", O_RDONLY, 0));
	ALLOWS(p, make("openat", "/d4000/f", O_RDONLY, 0));
	free(src);
	policy_free(p);
	learn_free(l);

	/* Long paths of bytes that all need escaping: the byte bound. */
	l = learn_new();
	for (int i = 0; i < 200; i++) {
		memset(path, 0x01, 2000);
		snprintf(path, 16, "/%d", i);
		path[strlen(path)] = '/';
		path[2000] = '\0';
		learn_record(l, make("openat", path, O_RDONLY, 0));
	}
	learn_stats(l, &st);
	assert_true(st.paths < 200 && st.dropped == 200 - st.paths);
	assert_true((st.paths + 1) * 2001 > LEARN_MAX_BYTES);
	p = load_learned(l, NULL);
	policy_free(p);
	learn_free(l);
}

/* learn_write: a new 0600 file in the directory, never over another one,
 * and never in a directory others may write. */
static void test_write(void **state)
{
	learn_about_t about = { .policy = "work", .target = 9, .pid = 1, .started = 0, .ended = 86400 };
	learn_t *l = sample();
	char dir[300], path[600], why[600];
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/out", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(learn_write(l, dir, &about, path, sizeof(path), why, sizeof(why)), 0);
	assert_non_null(strstr(path, "/out/work-9-19700102T000000Z.lua"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The same name again: refused, the first file kept. */
	assert_int_equal(learn_write(l, dir, &about, path, sizeof(path), why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "cannot write in learn_dir"));
	assert_int_equal(chmod(dir, 0777), 0);
	about.target = 10;
	assert_int_equal(learn_write(l, dir, &about, path, sizeof(path), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by its owner alone"));
	learn_free(l);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
