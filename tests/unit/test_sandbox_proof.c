/*
 * The Lua sandbox proof (issue 5, item 6; HARDENING 21-24): what a policy
 * must not be able to do, tried the ways a hostile policy would try it.
 * Each test loads real policy files through the policy API (policy.h) and
 * decides plain call_t structs, as test_policy.c does; the attempts that
 * would hang or crash the supervisor if they succeeded run in a child
 * process with a deadline, so that a regression fails the test instead of
 * hanging the suite.
 *
 * Already proven in test_policy.c, and not repeated here (see
 * tests/HARDENING-MAP.md): the withheld globals are nil
 * (test_sandbox_withheld), binary chunks are refused (test_sandbox_binary_chunk,
 * test_load_runtime), globals and libraries are read-only
 * (test_sandbox_readonly), an infinite loop wrapped in pcall dies
 * (test_budget_instructions), string.rep of a gigabyte caught by pcall dies
 * (test_budget_memory), backtracking patterns are refused
 * (test_budget_pattern, test_budget_pattern_bounds), long C calls stop
 * (test_budget_long_c_calls), a result whose __index and __eq throw is a
 * bad result (test_bad_result).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "names.h"
#include "policy.h"

static char tmpdir[] = "/tmp/sg-test-sandbox-XXXXXX";
static char why[512];

/* Writes text to <tmpdir>/<name>.lua and loads it as policy name. */
static policy_t *load_named(const char *name, const char *text, const policy_limits_t *limits)
{
	char path[300], buf[1024];
	sg_error_t err = { 0 };
	policy_t *p = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.lua", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	if (policy_load(name, path, limits, &p, &err) != 0)
		fail_msg("load of %s failed: %s", name, sg_error_str(&err, buf, sizeof(buf)));
	return p;
}

static policy_t *load(const char *text)
{
	return load_named("p", text, NULL);
}

/* Loading text as a policy fails; the message holds fragment. */
static void load_fails(const char *text, const policy_limits_t *limits, const char *fragment)
{
	char path[300];
	sg_error_t err = { 0 };
	policy_t *p = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.lua", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_true(policy_load("bad", path, limits, &p, &err) < 0);
	assert_null(p);
	if (!strstr(err.msg, fragment))
		fail_msg("message '%s' lacks '%s'", err.msg, fragment);
}

static policy_fail_t decide(policy_t *p, const char *syscall, verdict_t *v)
{
	static call_t c;

	memset(&c, 0, sizeof(c));
	c.nr = names_syscall(syscall);
	assert_true(c.nr >= 0);
	c.syscall = names_syscall_name(c.nr);
	c.arch = names_native_arch();
	c.id = 77;
	c.pid = 100;
	memset(v, 0, sizeof(*v));
	why[0] = '\0';
	return policy_decide(p, &c, v, why, sizeof(why));
}

static void assert_why(const char *fragment)
{
	if (!strstr(why, fragment))
		fail_msg("why '%s' lacks '%s'", why, fragment);
}

/* The handler for syscall allowed with :log(message); returns the message. */
static const char *decide_message(policy_t *p, const char *syscall)
{
	static verdict_t v;
	policy_fail_t f = decide(p, syscall, &v);

	if (f != POLICY_OK)
		fail_msg("%s: failed (%d): %s", syscall, (int)f, why);
	assert_int_equal(v.kind, VERDICT_ALLOW);
	return v.message;
}

/*
 * Decides syscall in a child, which must exit (not crash, not hang) within
 * limit_ms; returns the policy_fail_t it got. A child that is killed by a
 * signal (abort from a Lua panic, a crash) or outlives the limit fails the
 * test with the name of the attempt.
 */
static int decide_bounded(policy_t *p, const char *syscall, long limit_ms)
{
	struct timespec t0, t1;
	int status = 0;
	long ms;
	pid_t pid;

	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		verdict_t v;

		alarm((unsigned)(limit_ms / 1000 + 2));
		_exit((int)decide(p, syscall, &v));
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (r == pid)
			break;
		if (ms > limit_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("%s: still running after %ld ms", syscall, ms);
		}
		usleep(2000);
	}
	if (!WIFEXITED(status))
		fail_msg("%s: the supervisor's process died (signal %d)", syscall,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

/* Every handler in names is decided in a child within limit_ms with the
 * result want; the call after each must still be served in this process. */
static void assert_all_bounded(policy_t *p, const char *const *names, size_t n, int want,
			       long limit_ms)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		int got = decide_bounded(p, names[i], limit_ms);

		if (got != want) {
			print_message("%s: result %d, want %d\n", names[i], got, want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Replaces the line `line` of src (a "local X = ...") with one that sets X
 * to the n bytes at value, as a Lua string literal of \\ddd escapes.
 * Frees src. */
static char *with_string(char *src, const char *line, const char *value, size_t n)
{
	char *at = strstr(src, line), *out, *lit;
	size_t off = 0;

	assert_non_null(at);
	lit = malloc(n * 4 + 3);
	assert_non_null(lit);
	lit[off++] = '\'';
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(lit + off, "\\%03u", (unsigned char)value[i]);
	lit[off++] = '\'';
	lit[off] = '\0';
	assert_true(asprintf(&out, "%.*s%.*s= %s\n%s", (int)(at - src), src,
			     (int)(strchr(line, '=') - line), line, lit, at + strlen(line)) > 0);
	free(lit);
	free(src);
	return out;
}

typedef struct dump_buf {
	char bytes[4096];
	size_t len;
} dump_buf_t;

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	dump_buf_t *b = ud;

	(void)L;
	if (sz > sizeof(b->bytes) - b->len)
		return 1;
	memcpy(b->bytes + b->len, p, sz);
	b->len += sz;
	return 0;
}

/* Real bytecode of `return 42`, made by a plain Lua state, into b. */
static void bytecode(dump_buf_t *b)
{
	lua_State *L = luaL_newstate();

	assert_non_null(L);
	b->len = 0;
	assert_int_equal(luaL_loadstring(L, "return 42"), LUA_OK);
	assert_int_equal(lua_dump(L, dump_writer, b, 1), 0);
	assert_true(b->len > 16 && b->bytes[0] == 0x1b);
	lua_close(L);
}

/* ---- no file, no command, no environment ---- */

/* Each entry tries a way to the file system, a command or the process,
 * and reports what it got; the handler logs the names that succeeded. */
static const char io_policy[] =
	"local sg = sysgate\n"
	"local SECRET = ...\n"
	"local function try(t)\n"
	"  local got = {}\n"
	"  for name, f in pairs(t) do\n"
	"    local ok, v = pcall(f)\n"
	"    if ok and v then got[#got + 1] = name end\n"
	"  end\n"
	"  table.sort(got)\n"
	"  return sg.allow():log(table.concat(got, ' '))\n"
	"end\n"
	"return sg.policy { on = {\n"
	"  getuid = function(c) return try {\n"
	/* reading a file */
	"    io_open = function() return io.open(SECRET) end,\n"
	"    io_lines = function() return io.lines(SECRET) end,\n"
	"    dofile = function() return dofile(SECRET) end,\n"
	"    loadfile = function() return loadfile(SECRET) end,\n"
	"    require = function() return require('os') end,\n"
	"    package = function() return package.loaded.io end,\n"
	"    searchers = function() return package.searchers end,\n"
	"    loadlib = function() return package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', '*') end,\n"
	/* running a command */
	"    execute = function() return os.execute('true') end,\n"
	"    popen = function() return io.popen('true') end,\n"
	/* the process and its files */
	"    exit = function() return os.exit end,\n"
	"    remove = function() return os.remove end,\n"
	"    rename = function() return os.rename end,\n"
	"    tmpname = function() return os.tmpname end,\n"
	"    getenv = function() return os.getenv end,\n"
	"    date = function() return os.date end,\n"
	"    setlocale = function() return os.setlocale end,\n"
	/* debug, print and warn */
	"    debug = function() return debug.getregistry() end,\n"
	"    print = function() return print end,\n"
	"    warn = function() return warn end,\n"
	/* the same through _G, _ENV and a loaded chunk's environment */
	"    g_io = function() return _G.io end,\n"
	"    env_io = function() return _ENV.io end,\n"
	"    g_rawget = function() return rawget(_G, 'io') or rawget(_G, 'string') end,\n"
	"    load_io = function() return load('return io or os.execute or require')() end,\n"
	"    next_g = function() return next(_G) end,\n"
	/* the real libraries behind the proxies */
	"    strmeta = function() return type(getmetatable('')) == 'table' end,\n"
	"    strindex = function() return ('').__index end,\n"
	"    gmeta = function() return type(getmetatable(_G)) == 'table' end,\n"
	"    sgmeta = function() return type(getmetatable(sysgate)) == 'table' end,\n"
	"  } end,\n"
	/* what stays: os.time and os.clock, and only those */
	"  getgid = function(c)\n"
	"    local n = 0\n"
	"    for k in pairs(os) do n = n + 1 end\n"
	"    return sg.allow():log(string.format('%d %s %s', n, type(os.time()), type(os.clock())))\n"
	"  end,\n"
	"} }\n";

/* HARDENING 21: no file can be read, no command run, the process not left
 * or changed, by any of the usual names or through _G, _ENV, rawget,
 * load, or the metatables that lead to the real libraries. */
static void test_no_file_no_command(void **state)
{
	char secret[300], *src;
	policy_t *p;
	FILE *f;

	/* A file the policy could read, as Lua, if it had any way to. */
	snprintf(secret, sizeof(secret), "%s/secret.lua", tmpdir);
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("return 'the secret'\n", f);
	fclose(f);
	/* The file's path as the chunk's first local. */
	assert_true(asprintf(&src, "%s", io_policy) > 0);
	src = with_string(src, "local SECRET = ...\n", secret, strlen(secret));
	p = load(src);
	free(src);

	(void)state;
	assert_string_equal(decide_message(p, "getuid"), "");
	assert_string_equal(decide_message(p, "getgid"), "2 number number");
	policy_free(p);
}

/* ---- no bytecode ---- */

static const char bytecode_policy[] =
	"local sg = sysgate\n"
	"local bin = ...\n"
	"local function r(ok, f) return ok and type(f) == 'function' and 'loaded' or 'refused' end\n"
	"return sg.policy { on = {\n"
	"  getuid = function(c) return sg.allow():log(table.concat({\n"
	/* no string.dump to make bytecode from a function */
	"    tostring(string.dump), tostring(('').dump),\n"
	/* load refuses a binary chunk whatever mode it is asked for */
	"    r(pcall(load, bin, 'x', 'b')), r(pcall(load, bin, 'x', 'bt')),\n"
	/* a reader function could hand the chunk over in pieces */
	"    r(pcall(load, function() return nil end)),\n"
	/* an environment of the caller's choosing */
	"    r(pcall(load, 'return 1', 'x', 't', {})),\n"
	/* text still loads, with the sandbox's own environment */
	"    tostring(load('return string.upper(\"ok\")')()),\n"
	"  }, ' ')) end,\n"
	"} }\n";

/* HARDENING 21: no bytecode, by any mode, reader or environment. A
 * reader function is refused outright (it could hand over bytecode). */
static void test_no_bytecode(void **state)
{
	static dump_buf_t bin;
	char *src;
	policy_t *p;

	bytecode(&bin);
	assert_true(asprintf(&src, "%s", bytecode_policy) > 0);
	src = with_string(src, "local bin = ...\n", bin.bytes, bin.len);
	p = load(src);
	free(src);

	(void)state;
	assert_string_equal(decide_message(p, "getuid"),
			    "nil nil refused refused refused refused OK");
	policy_free(p);
	/* Nor as the policy file itself, in the middle of a text file. */
	load_fails("\x1bLua\x54", NULL, "binary");
}

/* ---- one policy cannot change another ---- */

/* The attacker: every way to change what other code sees of string, the
 * string metatable, the sysgate module, verdicts and the globals. Each
 * attempt is made under pcall; the handler logs those that did not raise. */
static const char attacker_policy[] =
	"local sg = sysgate\n"
	"local evil = function() return sg.kill() end\n"
	"local function try(t)\n"
	"  local got = {}\n"
	"  for name, f in pairs(t) do\n"
	"    if pcall(f) then got[#got + 1] = name end\n"
	"  end\n"
	"  table.sort(got)\n"
	"  return sg.allow():log(table.concat(got, ' '))\n"
	"end\n"
	"return sg.policy { on = {\n"
	"  getuid = function(c) return try {\n"
	"    upper = function() string.upper = evil end,\n"
	"    strnew = function() string.evil = evil end,\n"
	"    setmeta_str = function() setmetatable(string, {}) end,\n"
	"    strmeta_index = function() getmetatable('').__index = { upper = evil } end,\n"
	"    strmeta_via_method = function() ('').upper = evil end,\n"
	"    setmeta_strvalue = function() setmetatable('', {}) end,\n"
	"    allow = function() sysgate.allow = evil end,\n"
	"    deny = function() sg.deny = evil end,\n"
	"    policy = function() sg.policy = evil end,\n"
	"    setmeta_sg = function() setmetatable(sysgate, { __index = { allow = evil } }) end,\n"
	"    verdict_field = function() local v = sg.deny('EACCES'); v.err = 0 end,\n"
	"    verdict_log = function() sg.allow().log = evil end,\n"
	"    verdict_meta = function() setmetatable(sg.allow(), {}) end,\n"
	"    global = function() sysgate = { allow = evil } end,\n"
	"    global_g = function() _G.sysgate = nil end,\n"
	"    global_env = function() _ENV.tostring = evil end,\n"
	"    math_pi = function() math.pi = 3 end,\n"
	"    table_insert = function() table.insert = evil end,\n"
	"    gc_stop = function() collectgarbage('stop') end,\n"
	"    gc_collect = function() collectgarbage('collect') end,\n"
	"  } end,\n"
	/* and then: its own view is unchanged too */
	"  getgid = function(c) return sg.deny('EACCES'):log(('a'):upper() .. string.upper('b')) end,\n"
	"} }\n";

/* The victim: what it sees of string, sysgate and verdicts. */
static const char victim_policy[] =
	"local sg = sysgate\n"
	"return sg.policy { on = {\n"
	"  getuid = function(c)\n"
	"    assert(not string.evil and math.pi > 3.14 and sysgate == sg)\n"
	"    return sysgate.deny('EACCES'):log(('a'):upper() .. string.upper('b') .. tostring(sg.allow()))\n"
	"  end,\n"
	"} }\n";

/* HARDENING 21: policies are loaded side by side, as sysgated loads its
 * config; the attacker tries every change it can make to string, the
 * string metatable, the sysgate module, verdicts and globals, none of
 * which succeeds, and neither its own next call nor the other policy
 * sees any difference. */
static void test_policies_cannot_change_each_other(void **state)
{
	policy_t *victim = load_named("victim", victim_policy, NULL);
	policy_t *attacker = load_named("attacker", attacker_policy, NULL);
	verdict_t v;

	(void)state;
	assert_string_equal(decide_message(attacker, "getuid"), "");
	assert_int_equal(decide(attacker, "getgid", &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_DENY);
	assert_string_equal(v.message, "AB");
	if (decide(victim, "getuid", &v) != POLICY_OK)
		fail_msg("the victim's handler failed: %s", why);
	assert_int_equal(v.kind, VERDICT_DENY);
	assert_int_equal(v.err, EACCES);
	assert_string_equal(v.message, "ABallow");
	policy_free(attacker);
	policy_free(victim);
}

/* ---- the budget cannot be escaped ---- */

static const char escape_policy[] =
	"local sg = sysgate\n"
	"local function spin() while true do end end\n"
	"local function loop_meta(name) return setmetatable({}, { [name] = spin }) end\n"
	"return sg.policy { on = {\n"
	/* a message handler that never returns, around a loop */
	"  getuid = function(c) while true do xpcall(spin, spin) end end,\n"
	/* error() in a loop, caught each time */
	"  getgid = function(c) while true do pcall(error, 'x') end end,\n"
	/* a to-be-closed variable whose __close never returns */
	"  geteuid = function(c)\n"
	"    local x <close> = loop_meta('__close')\n"
	"    return sg.allow()\n"
	"  end,\n"
	/* the same, when the budget runs out in the body */
	"  getegid = function(c)\n"
	"    local x <close> = loop_meta('__close')\n"
	"    spin()\n"
	"  end,\n"
	/* __tostring, __len, __concat, __index that never return, under pcall */
	"  getppid = function(c)\n"
	"    while true do\n"
	"      pcall(tostring, loop_meta('__tostring'))\n"
	"      pcall(function() return #loop_meta('__len') end)\n"
	"      pcall(function() return loop_meta('__concat') .. 'x' end)\n"
	"      pcall(function() return loop_meta('__index').x end)\n"
	"    end\n"
	"  end,\n"
	/* a loop in a chunk made with load, called under pcall */
	"  getpgrp = function(c) pcall(load('while true do end')) return sg.allow() end,\n"
	/* gsub whose replacement function catches its own budget error */
	"  setsid = function(c)\n"
	"    ('x'):rep(100):gsub('x', function() pcall(spin) end)\n"
	"    return sg.allow()\n"
	"  end,\n"
	/* table.sort whose comparator loops under pcall */
	"  sync = function(c)\n"
	"    local t = {} for i = 1, 100 do t[i] = i end\n"
	"    pcall(table.sort, t, function(a, b) spin() end)\n"
	"    return sg.allow()\n"
	"  end,\n"
	/* string.format('%s') calls __tostring */
	"  gettid = function(c) pcall(string.format, '%s', loop_meta('__tostring')) return sg.allow() end,\n"
	/* an error object whose __tostring never returns, caught and rethrown */
	"  getpid = function(c)\n"
	"    local ok, e = pcall(error, loop_meta('__tostring'))\n"
	"    while true do pcall(error, e) end\n"
	"  end,\n"
	"  umask = function(c) return sg.emulate(7) end,\n"
	/* xpcall itself still works: results, and the handler's answer */
	"  getsid = function(c)\n"
	"    local a, b = xpcall(function(x, y) return x + y end, error, 1, 2)\n"
	"    local d, e = xpcall(error, function(m) return 'h:' .. m end, 'x', 0)\n"
	"    local f, g = xpcall(error, function(m) error('again', 0) end, 'x', 0)\n"
	"    return sg.allow():log(table.concat({ tostring(a), b, tostring(d), e, tostring(f), g }, ' '))\n"
	"  end,\n"
	"} }\n";

/* HARDENING 22: no construct keeps a handler alive past its budget: xpcall
 * with a looping message handler (which Lua runs with hooks off when the
 * budget hook raised the error: sandbox.c's xpcall calls it afterwards), __close, metamethods under pcall,
 * load, callbacks of C functions, string.format. Each ends with
 * POLICY_BUDGET within a second (the budget is 100 ms), and the policy
 * serves the next call. coroutine, the other way out, is not there
 * (test_policy.c: test_sandbox_withheld). */
static void test_budget_cannot_be_escaped(void **state)
{
	static const char *const names[] = { "getuid", "getgid", "geteuid", "getegid", "getppid",
					      "getpgrp", "setsid", "sync", "gettid", "getpid" };
	policy_t *p = load(escape_policy);
	verdict_t v;

	(void)state;
	assert_all_bounded(p, names, sizeof(names) / sizeof(names[0]), POLICY_BUDGET, 1000);
	assert_string_equal(decide_message(p, "getsid"), "true 3 false h:x false again");
	/* The same in this process, one after the other: the state serves on. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(decide(p, names[i], &v), POLICY_BUDGET);
		assert_int_equal(decide(p, "umask", &v), POLICY_OK);
		assert_int_equal(v.value, 7);
	}
	policy_free(p);
}

/* ---- the supervisor's memory ---- */

static const char hoard_policy[] =
	"local sg = sysgate\n"
	"local hoard = {}\n"
	"return sg.policy { on = {\n"
	/* Each call keeps 64 KiB more, well within its per-call budget: the
	 * state as a whole must stop growing at memory_total. */
	"  getuid = function(c)\n"
	"    hoard[#hoard + 1] = ('h'):rep(65536 - 32) .. #hoard\n"
	"    return sg.emulate(#hoard)\n"
	"  end,\n"
	"  getgid = function(c) return sg.emulate(7) end,\n"
	"} }\n";

/* HARDENING 23: a policy that keeps a little more at every call cannot
 * take the supervisor's memory: its state stops at memory_total (2 MiB
 * here), the calls that would pass it fail with the memory budget, the
 * calls that need nothing more are still served, and a second policy
 * loaded next to it keeps its own budget whole. */
static void test_state_memory_capped(void **state)
{
	policy_limits_t l = { .memory_total = 2u << 20, .time_ms = 10000 };
	policy_t *p = load_named("hoard", hoard_policy, &l);
	policy_t *other = load_named("other", victim_policy, &l);
	int ok = 0, budget = 0;
	verdict_t v;

	(void)state;
	for (int i = 0; i < 200; i++) {
		policy_fail_t f = decide(p, "getuid", &v);

		if (f == POLICY_OK)
			ok++;
		else if (f == POLICY_BUDGET)
			budget++;
		else
			fail_msg("call %d: %d %s", i, (int)f, why);
		assert_true(policy_memory(p) <= l.memory_total);
	}
	/* 2 MiB hold some 30 of them, minus what the state itself takes. */
	assert_true(ok > 5 && ok < 32);
	assert_int_equal(ok + budget, 200);
	assert_int_equal(decide(p, "getuid", &v), POLICY_BUDGET);
	assert_why("memory budget");
	assert_int_equal(decide(p, "getgid", &v), POLICY_OK);
	assert_int_equal(v.value, 7);
	assert_int_equal(decide(other, "getuid", &v), POLICY_OK);
	assert_string_equal(v.message, "ABallow");
	policy_free(p);
	policy_free(other);

	/* Nor while the file loads, where the per-call budget does not apply. */
	load_fails("local t = {}\n"
		   "for i = 1, 1e6 do t[i] = ('x'):rep(1000) .. i end\n"
		   "return sysgate.policy {}\n",
		   &l, "memory budget");
}

/* ---- results that throw ---- */

static const char result_policy[] =
	"local sg = sysgate\n"
	"local function spin() while true do end end\n"
	"local function boom() error('gotcha') end\n"
	"local function mt(f)\n"
	"  return { __index = f, __newindex = f, __tostring = f, __eq = f, __lt = f, __le = f,\n"
	"           __len = f, __concat = f, __call = f, __close = f, __name = 'sysgate.verdict',\n"
	"           __metatable = 'locked' }\n"
	"end\n"
	"return sg.policy { on = {\n"
	"  getuid = function(c) return setmetatable({}, mt(boom)) end,\n"
	"  getgid = function(c) return setmetatable({}, mt(spin)) end,\n"
	/* a table dressed as a verdict */
	"  geteuid = function(c) return setmetatable({ kind = 'allow' }, { __index = sg.allow() }) end,\n"
	/* the call object itself */
	"  getegid = function(c) return c end,\n"
	/* a to-be-closed result: __close runs as the handler returns */
	"  getppid = function(c)\n"
	"    local r <close> = setmetatable({}, mt(boom))\n"
	"    return r\n"
	"  end,\n"
	"  getpgrp = function(c)\n"
	"    local r <close> = setmetatable({}, mt(spin))\n"
	"    return r\n"
	"  end,\n"
	/* an error object that throws when looked at */
	"  setsid = function(c) error(setmetatable({}, mt(boom))) end,\n"
	"  sync = function(c) error(setmetatable({}, mt(spin))) end,\n"
	/* a verdict logged with a message that throws when turned into text */
	"  gettid = function(c) return sg.allow():log(setmetatable({}, mt(spin))) end,\n"
	/* a finalizer: refused, so the verdict after it stands */
	"  getpid = function(c)\n"
	"    local ok = pcall(setmetatable, {}, { __gc = spin })\n"
	"    local t = setmetatable({}, {})\n"
	"    getmetatable(t).__gc = spin\n"
	"    t = nil\n"
	"    return sg.emulate(ok and 1 or 2)\n"
	"  end,\n"
	"  umask = function(c) return sg.emulate(7) end,\n"
	"} }\n";

/* HARDENING 24: a result, an error object or a log message whose
 * metatable throws or never returns on every metamethod cannot crash or
 * hang the supervisor: the result is converted without metamethods, the
 * error message is made without them, and what does run them runs inside
 * the budget. Every call gets a failure code within a second and the state
 * serves on; __gc is refused (and one added afterwards is never armed). */
static void test_results_that_throw(void **state)
{
	static const struct {
		const char *syscall;
		int want;
	} cases[] = {
		{ "getuid", POLICY_BADRESULT }, { "getgid", POLICY_BADRESULT },
		{ "geteuid", POLICY_BADRESULT }, { "getegid", POLICY_BADRESULT },
		{ "getppid", POLICY_ERROR },     { "getpgrp", POLICY_BUDGET },
		{ "setsid", POLICY_ERROR },      { "sync", POLICY_ERROR },
		{ "gettid", POLICY_ERROR },
	};
	policy_t *p = load(result_policy);
	verdict_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = decide_bounded(p, cases[i].syscall, 1000);

		if (got != cases[i].want)
			fail_msg("%s: result %d, want %d", cases[i].syscall, got, cases[i].want);
		assert_int_equal(decide(p, cases[i].syscall, &v), cases[i].want);
		assert_int_equal(decide(p, "umask", &v), POLICY_OK);
		assert_int_equal(v.value, 7);
	}
	assert_int_equal(decide(p, "setsid", &v), POLICY_ERROR);
	assert_string_equal(why, "(error object is a table value)");
	assert_int_equal(decide(p, "getpid", &v), POLICY_OK);
	assert_int_equal(v.value, 2);
	/* Freeing the state runs no finalizer (none could be armed): it
	 * returns, in a child with a deadline. */
	{
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(3);
			for (int i = 0; i < 5; i++)
				decide(p, "getpid", &v);
			policy_free(p);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	policy_free(p);
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_file_no_command),
		cmocka_unit_test(test_no_bytecode),
		cmocka_unit_test(test_policies_cannot_change_each_other),
		cmocka_unit_test(test_budget_cannot_be_escaped),
		cmocka_unit_test(test_state_memory_capped),
		cmocka_unit_test(test_results_that_throw),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
