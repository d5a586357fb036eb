/*
 * The log stays valid UTF-8 JSON whatever bytes a target names. The
 * badutf8 attack (a real target, run from a file whose name is not UTF-8)
 * sets a comm that is not UTF-8 and makes denied calls whose path, socket
 * path and execve arguments are not UTF-8 either. Then Python, an
 * independent and strict reader, decodes every line of the log as UTF-8
 * (errors='strict'), parses it with json.loads (duplicate keys refused),
 * finds no raw control character in it, and gets every value's exact
 * bytes back from its `_b64` field, the string itself being what
 * bytes.decode('utf-8', 'replace') makes of them.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "badutf8.h"

POLICY(badutf8, "local bad = '/nonexistent/'\n"
		"return sysgate.policy { name = 'badutf8', on = {\n"
		"  openat = function(c)\n"
		"    if c.path:sub(1, #bad) == bad then\n"
		"      return sysgate.deny('EACCES'):log('denied ' .. c.path)\n"
		"    end\n"
		"    return sysgate.allow()\n"
		"  end,\n"
		"  connect = function(c)\n"
		"    local a = c.addr\n"
		"    if a and a.family == 'unix' and a.path:sub(1, #bad) == bad then\n"
		"      return sysgate.deny('EACCES')\n"
		"    end\n"
		"    return sysgate.allow()\n"
		"  end,\n"
		"  execve = function(c)\n"
		"    local argv = c.argv\n"
		"    if c.path:sub(1, #bad) == bad then return sysgate.deny('EACCES') end\n"
		"    return sysgate.allow()\n"
		"  end } }\n");

/* argv[1]: the log; then NAME=HEX: some decision event's field NAME
 * ("path", "addr.path", "argv.1") is the bytes HEX. */
static const char checker[] =
	"import base64, json, sys\n"
	"def pairs(kv):\n"
	"    d = {}\n"
	"    for k, v in kv:\n"
	"        if k in d: raise ValueError('duplicate key %r' % k)\n"
	"        d[k] = v\n"
	"    return d\n"
	"raw = open(sys.argv[1], 'rb').read()\n"
	"if not raw.endswith(b'\\n'): sys.exit('the last line is not finished')\n"
	"events = []\n"
	"for n, line in enumerate(raw.split(b'\\n')[:-1], 1):\n"
	"    try:\n"
	"        text = line.decode('utf-8')\n"
	"        bad = [c for c in text if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f\n"
	"               or c in '\\u2028\\u2029']\n"
	"        if bad: raise ValueError('raw controls %r' % bad)\n"
	"        events.append(json.loads(text, object_pairs_hook=pairs))\n"
	"    except ValueError as e:\n"
	"        sys.exit('line %d: %s: %r' % (n, e, line))\n"
	"def field(e, name):\n"
	"    *outer, last = name.split('.')\n"
	"    if last.isdigit():\n"
	"        v, r = e.get(outer[0]), e.get(outer[0] + '_b64')\n"
	"        i = int(last)\n"
	"        if v is None or i >= len(v): return None, None\n"
	"        if r is not None and len(r) != len(v): sys.exit('%s_b64 is not as long' % outer[0])\n"
	"        return v[i], (r[i] if r else None)\n"
	"    for o in outer: e = e.get(o) or {}\n"
	"    return e.get(last), e.get(last + '_b64')\n"
	"decisions = [e for e in events if e.get('event') == 'decision']\n"
	"failed = False\n"
	"for spec in sys.argv[2:]:\n"
	"    name, hexed = spec.split('=')\n"
	"    want = bytes.fromhex(hexed)\n"
	"    try:\n"
	"        text, raw64 = want.decode('utf-8'), None\n"
	"    except UnicodeDecodeError:\n"
	"        text, raw64 = want.decode('utf-8', 'replace'), base64.b64encode(want).decode()\n"
	"    got = [field(e, name) for e in decisions]\n"
	"    if (text, raw64) not in got:\n"
	"        print('no decision with %s = %r (%r, %r); seen: %r' % (name, want, text, raw64, got))\n"
	"        failed = True\n"
	"    elif raw64 and base64.b64decode(raw64, validate=True) != want:\n"
	"        failed = True\n"
	"print('%d lines, %d decisions checked' % (len(events), len(decisions)))\n"
	"sys.exit(1 if failed else 0)\n";

/* "NAME=" and n bytes of b in hex, in a new string. */
static char *spec(const char *name, const char *b, size_t n)
{
	size_t len = strlen(name) + 1 + 2 * n + 1;
	char *s = malloc(len), *p;

	assert_non_null(s);
	p = s + sprintf(s, "%s=", name);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%02x", (unsigned char)b[i]);
	return s;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/* python3 -c checker LOG SPECS...: its exit status. */
static int run_checker(const char *log, char **specs, size_t nspecs)
{
	const char *argv[16] = { "python3", "-c", checker, log };
	int status;
	pid_t pid;

	assert_true(nspecs + 5 <= sizeof(argv) / sizeof(argv[0]));
	for (size_t i = 0; i < nspecs; i++)
		argv[4 + i] = specs[i];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#define SPEC(name, lit) spec(name, lit, sizeof(lit) - 1)

/* Every line of the log is strict UTF-8 JSON, and every value that was
 * not UTF-8 comes back byte for byte from its _b64 field: comm, exe,
 * path, the :log message that quotes it, a unix socket path, execve's
 * path and arguments (argv_b64 as long as argv, null for argv[2], which
 * is UTF-8). */
static void test_log_lines_are_utf8_json(void **state)
{
	char exe[600];
	const char *argv[] = { exe, NULL };
	char *specs[12];
	size_t n = 0;
	run_result_t r;
	sgd_proc_t s;
	int status;

	(void)state;
	START(&s, badutf8, NULL);
	snprintf(exe, sizeof(exe), "%s/exe-\xFF\xFE\xC0\x80", s.dir);
	copy_file(env_path("BADUTF8"), exe);
	run_under(&s, "badutf8", argv, &r);
	assert_exited(&r, 0);
	assert_true(log_wait(&s, "target_end", 1));
	status = sgd_term(&s); /* no line is being written while Python reads */
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	specs[n++] = SPEC("comm", BADUTF8_COMM);
	specs[n++] = spec("exe", exe, strlen(exe));
	specs[n++] = SPEC("path", BADUTF8_PATH);
	specs[n++] = SPEC("message", "denied " BADUTF8_PATH);
	specs[n++] = SPEC("addr.path", BADUTF8_SOCK);
	specs[n++] = SPEC("path", BADUTF8_PROG);
	specs[n++] = SPEC("argv.0", "badutf8");
	specs[n++] = SPEC("argv.1", BADUTF8_ARG1);
	specs[n++] = SPEC("argv.2", BADUTF8_ARG2);
	specs[n++] = SPEC("argv.3", BADUTF8_ARG3);
	assert_int_equal(run_checker(s.log, specs, n), 0);
	for (size_t i = 0; i < n; i++)
		free(specs[i]);
	sgd_cleanup(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_log_lines_are_utf8_json, sgd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
