/*
 * Decoding tests on the real kernel: what sysgated says a call's arguments
 * were, checked against readers that owe it nothing. strace traces the
 * oracle target while sysgated decides its calls, and every decoded field
 * the policy logs must equal what strace printed for the same call; a
 * target in a child pid namespace must be logged under the supervisor's
 * view of its pid, as /proc shows it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* The open and clone flag names the policy asks c.has_flag about, in the
 * order it lists the ones that are set. */
static const char *const open_names[] = {
	"O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC",
	"O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_SYNC", "O_DIRECT", "O_LARGEFILE",
	"O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH", "O_TMPFILE", NULL,
};
static const char *const clone_names[] = {
	"CLONE_VM", "CLONE_FS", "CLONE_FILES", "CLONE_SIGHAND", "CLONE_PIDFD", "CLONE_PTRACE",
	"CLONE_VFORK", "CLONE_PARENT", "CLONE_THREAD", "CLONE_NEWNS", "CLONE_SYSVSEM",
	"CLONE_SETTLS", "CLONE_PARENT_SETTID", "CLONE_CHILD_CLEARTID", "CLONE_DETACHED",
	"CLONE_UNTRACED", "CLONE_CHILD_SETTID", "CLONE_NEWCGROUP", "CLONE_NEWUTS",
	"CLONE_NEWIPC", "CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_IO",
	"CLONE_NEWTIME", NULL,
};

/* The syscalls the oracle makes and the policy logs. */
#define TRACED "openat,openat2,mkdirat,renameat,connect,socket,kill,tgkill,prctl,ioctl,clone,execve"

/*
 * Every handler logs the decoded fields of its call as one line of
 * "key=value" fields separated by tabs, in the form the test rebuilds from
 * strace's line (numbers in C's %#x and %#o, as string.format prints
 * them). %s: the two lists of flag names.
 */
static const char decode_fmt[] =
	"local sg = sysgate\n"
	"local OPEN = { %s }\n"
	"local CLONE = { %s }\n"
	"local function names(c, list)\n"
	"  local out = {}\n"
	"  for _, n in ipairs(list) do if c.has_flag(n) then out[#out + 1] = n end end\n"
	"  return table.concat(out, '|')\n"
	"end\n"
	"local function say(f) return sg.allow():log(table.concat(f, '\\t')) end\n"
	"local function open(c)\n"
	"  local f = { c.syscall, 'path=' .. c.path, 'abspath=' .. c.abspath,\n"
	"    string.format('flags=%%#x', c.flags), 'names=' .. names(c, OPEN),\n"
	"    string.format('mode=%%#o', c.mode) }\n"
	"  if c.syscall == 'openat2' then f[#f + 1] = string.format('resolve=%%#x', c.resolve) end\n"
	"  return say(f)\n"
	"end\n"
	"return sg.policy { name = 'decode', on = {\n"
	"  openat = open, openat2 = open,\n"
	"  mkdirat = function(c)\n"
	"    return say{ 'mkdirat', 'path=' .. c.path, 'abspath=' .. c.abspath,\n"
	"      string.format('mode=%%#o', c.args[3]) }\n"
	"  end,\n"
	"  renameat = function(c)\n"
	"    return say{ 'renameat', 'path=' .. c.path, 'abspath=' .. c.abspath,\n"
	"      'path2=' .. c.path2, 'abspath2=' .. c.abspath2 }\n"
	"  end,\n"
	"  connect = function(c)\n"
	"    local a = c.addr\n"
	"    local f = { 'connect', 'family=' .. (a and a.family or 'none') }\n"
	"    if a and (a.family == 'inet' or a.family == 'inet6') then\n"
	"      f[#f + 1] = 'ip=' .. a.ip\n"
	"      f[#f + 1] = 'port=' .. a.port\n"
	"    elseif a and a.family == 'unix' then\n"
	"      f[#f + 1] = 'path=' .. a.path\n"
	"      f[#f + 1] = 'abstract=' .. tostring(a.abstract)\n"
	"    end\n"
	"    return say(f)\n"
	"  end,\n"
	"  socket = function(c)\n"
	"    return say{ 'socket', 'domain=' .. c.domain, 'type=' .. c.type, 'protocol=' .. c.protocol }\n"
	"  end,\n"
	"  kill = function(c) return say{ 'kill', 'signal=' .. c.signal, 'pid=' .. c.target_pid } end,\n"
	"  tgkill = function(c)\n"
	"    return say{ 'tgkill', 'signal=' .. c.signal, 'pid=' .. c.target_pid, 'tid=' .. c.target_tid }\n"
	"  end,\n"
	"  prctl = function(c) return say{ 'prctl', 'option=' .. c.option } end,\n"
	"  ioctl = function(c) return say{ 'ioctl', string.format('request=%%#x', c.request) } end,\n"
	"  clone = function(c)\n"
	"    return say{ 'clone', string.format('flags=%%#x', c.flags), 'names=' .. names(c, CLONE) }\n"
	"  end,\n"
	"  execve = function(c)\n"
	"    return say{ 'execve', 'path=' .. c.path, 'argc=' .. #c.argv,\n"
	"      'truncated=' .. tostring(c.argv.truncated) }\n"
	"  end,\n"
	"} }\n";

static void lua_list(const char *const *names, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; names[i]; i++)
		off += (size_t)snprintf(out + off, len - off, "%s'%s'", i ? ", " : "", names[i]);
	assert_true(off < len);
}

static void start_decode(sgd_proc_t *s)
{
	static char src[8192];
	static const char *const names[] = { "decode" };
	static const char *const srcs[] = { src };
	char open_list[1024], clone_list[1024];

	lua_list(open_names, open_list, sizeof(open_list));
	lua_list(clone_names, clone_list, sizeof(clone_list));
	assert_true((size_t)snprintf(src, sizeof(src), decode_fmt, open_list, clone_list) < sizeof(src));
	sgd_start(s, NULL, 1, names, srcs);
}

static int64_t int_field_or(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* Appends "\tformat" (no tab before the first field) to buf. */
__attribute__((format(printf, 3, 4)))
static void add(char *buf, size_t len, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	if (off && off + 1 < len)
		buf[off++] = '\t';
	va_start(ap, fmt);
	vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
}

/* ---- Reading strace's lines ---------------------------------------- */

/* One line of `strace -y -X verbose`: the syscall and its arguments, cut
 * in place in buf; line is the whole line, for messages. The struct owns
 * both. */
typedef struct traced {
	char *line, *buf;
	char name[32];
	char *arg[8];
	int narg;
} traced_t;

/* Skips a comment, a quoted string or an fd's path at p; NULL if p starts
 * none of them. */
static char *skip_atom(char *p)
{
	char *e;

	if (p[0] == '/' && p[1] == '*') {
		e = strstr(p + 2, "*/");
		return e ? e + 2 : p + strlen(p);
	}
	if (p[0] == '"') {
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		return *p ? p + 1 : p;
	}
	if (p[0] == '<') {
		e = strchr(p, '>');
		return e ? e + 1 : p + strlen(p);
	}
	return NULL;
}

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/*
 * Splits s, the inside of a (...), [...] or {...}, at its top-level
 * commas, in place, up to the bracket that closes it. Commas in strings,
 * comments (strace writes `inet_pton(AF_INET6, "::1")` in one) and nested
 * brackets do not split. Returns the number of pieces (0 for an empty
 * list), at most max.
 */
static int split(char *s, char **out, int max)
{
	char *start = s, *p = s, *next;
	int n = 0, depth = 0;

	for (;;) {
		if (*p == '\0' || (depth == 0 && strchr(",)]}", *p))) {
			bool end = *p != ',';

			if (*p)
				*p = '\0';
			if (n < max)
				out[n++] = trim(start);
			if (end)
				break;
			start = ++p;
			continue;
		}
		next = skip_atom(p);
		if (next) {
			p = next;
			continue;
		}
		if (strchr("([{", *p))
			depth++;
		else if (strchr(")]}", *p))
			depth--;
		p++;
	}
	return n == 1 && out[0][0] == '\0' ? 0 : n;
}

/* Parses one line into t; false for what is not a syscall line. */
static bool traced_parse(const char *line, traced_t *t)
{
	size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");

	memset(t, 0, sizeof(*t));
	if (n == 0 || n >= sizeof(t->name) || line[n] != '(')
		return false;
	memcpy(t->name, line, n);
	t->line = strdup(line);
	t->buf = strdup(line);
	assert_non_null(t->line);
	assert_non_null(t->buf);
	t->line[strcspn(t->line, "\n")] = '\0';
	t->narg = split(t->buf + n + 1, t->arg, 8);
	return true;
}

static void traced_free(traced_t *t)
{
	free(t->line);
	free(t->buf);
	t->line = t->buf = NULL;
}

/* The numbers an argument ORs together, without strace's comments, fd
 * paths and strings: socket's type, which strace writes as 0x1 and 0x80000
 * joined by '|', each with a comment naming it, is 0x80001. */
static unsigned long long num(const char *a)
{
	unsigned long long v = 0;
	const char *p = a;
	char *end;

	while (*p) {
		if ((p[0] == '/' && p[1] == '*') || p[0] == '<' || p[0] == '"') {
			p = skip_atom((char *)p);
		} else if (*p == '-' || isdigit((unsigned char)*p)) {
			v |= (unsigned long long)strtoll(p, &end, 0);
			p = end;
		} else {
			p++;
		}
	}
	return v;
}

/* The text of an argument's comments, joined with '|': for socket's type
 * above, "SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK". */
static void comments(const char *a, char *out, size_t len)
{
	const char *p = a, *e, *end;
	size_t off = 0;

	out[0] = '\0';
	while ((p = strstr(p, "/*")) && (e = strstr(p + 2, "*/"))) {
		for (p += 2; p < e && *p == ' '; p++)
			;
		for (end = e; end > p && end[-1] == ' '; end--)
			;
		off += (size_t)snprintf(out + off, len - off, "%s%.*s", off ? "|" : "", (int)(end - p), p);
		assert_true(off < len);
		p = e + 2;
	}
}

static bool has_name(const char *names, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = names; *p; p += strcspn(p, "|"), p += *p == '|')
		if (strncmp(p, name, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return true;
	return false;
}

/* The first name in names that starts with prefix, without it and in
 * lower case ("AF_INET6" gives "inet6"); skip: names to pass over. */
static bool name_after(const char *names, const char *prefix, const char *skip, char *out,
		       size_t len)
{
	size_t n = strlen(prefix), k;

	for (const char *p = names; *p; p += strcspn(p, "|"), p += *p == '|') {
		k = strcspn(p, "|");
		if (strncmp(p, prefix, n) != 0 || k <= n || k - n >= len)
			continue;
		snprintf(out, len, "%.*s", (int)k, p);
		if (skip && has_name(skip, out))
			continue;
		for (size_t i = 0; i + n < k; i++)
			out[i] = (char)tolower((unsigned char)p[n + i]);
		out[k - n] = '\0';
		return true;
	}
	return false;
}

/* The first string strace quoted in a, unescaped (strace writes \", \\,
 * \n, \t and the like, octal \ooo and \xhh for other bytes). */
static bool qstr(const char *a, char *out, size_t len)
{
	const char *p = strchr(a, '"');
	size_t n = 0;

	if (!p)
		return false;
	for (p++; *p && *p != '"' && n + 1 < len; p++) {
		char c = *p;

		if (c == '\\' && p[1]) {
			c = *++p;
			if (c == 'n' || c == 't' || c == 'r' || c == 'v' || c == 'f') {
				c = "\n\t\r\v\f"[strchr("ntrvf", c) - "ntrvf"];
			} else if (c == 'x' && isxdigit((unsigned char)p[1]) &&
				   isxdigit((unsigned char)p[2])) {
				char hex[3] = { p[1], p[2], '\0' };

				c = (char)strtol(hex, NULL, 16);
				p += 2;
			} else if (c >= '0' && c <= '7') {
				int v = 0, k = 0;

				for (; k < 3 && *p >= '0' && *p <= '7'; k++, p++)
					v = v * 8 + (*p - '0');
				p--;
				c = (char)v;
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return *p == '"';
}

/* The directory strace -y printed after an fd in angle brackets: that of
 * the fd, or for AT_FDCWD the cwd. */
static void fd_path(const char *a, char *out, size_t len)
{
	const char *b = strchr(a, '<'), *e = strrchr(a, '>');

	assert_true(b && e && e > b);
	snprintf(out, len, "%.*s", (int)(e - b - 1), b + 1);
}

/* The value of the element "key=value" of a struct strace printed. */
static const char *field(char **f, int n, const char *key)
{
	size_t k = strlen(key);

	for (int i = 0; i < n; i++)
		if (strncmp(f[i], key, k) == 0 && f[i][k] == '=')
			return f[i] + k + 1;
	return NULL;
}

/* c.abspath's rule, written anew: path joined to base unless it is
 * absolute, then ".", ".." and repeated slashes folded. */
static void abspath(const char *base, const char *path, char *out, size_t len)
{
	char tmp[2 * PATH_MAX + 2], *save, *t;
	size_t off = 0, mark[PATH_MAX / 2];
	int n = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s", path[0] == '/' ? "" : base, path);
	out[0] = '\0';
	for (t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (strcmp(t, "..") == 0) {
			off = n ? mark[--n] : 0;
			out[off] = '\0';
			continue;
		}
		mark[n++] = off;
		off += (size_t)snprintf(out + off, len - off, "/%s", t);
	}
	if (off == 0)
		snprintf(out, len, "/");
}

/* ---- What strace says the policy must have logged ------------------ */

/* A path argument at i resolved against the directory fd at i - 1. */
static void path_fields(const traced_t *t, int i, const char *key, char *want, size_t len)
{
	char path[PATH_MAX], dir[PATH_MAX], abs[PATH_MAX];

	assert_true(qstr(t->arg[i], path, sizeof(path)));
	fd_path(t->arg[i - 1], dir, sizeof(dir));
	abspath(dir, path, abs, sizeof(abs));
	add(want, len, "%s=%s", key, path);
	add(want, len, "abs%s=%s", key, abs);
}

/* The flag names of the list that strace's names imply: O_SYNC carries
 * O_DSYNC's bit and O_TMPFILE O_DIRECTORY's, which has_flag reports. */
static void flag_names(const char *const *list, const char *strace_names, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; list[i]; i++) {
		bool set = has_name(strace_names, list[i]) ||
			   (strcmp(list[i], "O_DSYNC") == 0 && has_name(strace_names, "O_SYNC")) ||
			   (strcmp(list[i], "O_DIRECTORY") == 0 && has_name(strace_names, "O_TMPFILE"));

		if (set)
			off += (size_t)snprintf(out + off, len - off, "%s%s", off ? "|" : "", list[i]);
	}
}

static void want_open(const traced_t *t, char *want, size_t len)
{
	char names[512], flags[512], *how[4];
	const char *fl = t->arg[2], *mode = t->narg > 3 ? t->arg[3] : NULL;
	char *copy = NULL;
	int n;

	add(want, len, "%s", t->name);
	path_fields(t, 1, "path", want, len);
	if (strcmp(t->name, "openat2") == 0) {
		copy = strdup(t->arg[2]);
		assert_non_null(copy);
		n = split(copy + 1, how, 4);
		fl = field(how, n, "flags");
		mode = field(how, n, "mode");
		assert_non_null(fl);
		assert_non_null(mode);
	}
	comments(fl, names, sizeof(names));
	flag_names(open_names, names, flags, sizeof(flags));
	add(want, len, "flags=%#llx", num(fl));
	add(want, len, "names=%s", flags);
	/* strace shows the mode only when the call creates; the kernel, and
	 * so c.mode, ignores it otherwise. */
	add(want, len, "mode=%#llo", mode ? num(mode) : 0);
	if (copy) {
		const char *r = field(how, n, "resolve");

		assert_non_null(r);
		add(want, len, "resolve=%#llx", num(r));
		free(copy);
	}
}

static void want_connect(const traced_t *t, char *want, size_t len)
{
	char *f[8], *copy = strdup(t->arg[1]), names[256], fam[32], text[256];
	const char *v;
	int n;

	assert_non_null(copy);
	assert_true(copy[0] == '{');
	n = split(copy + 1, f, 8);
	v = field(f, n, "sa_family");
	assert_non_null(v);
	comments(v, names, sizeof(names));
	assert_true(name_after(names, "AF_", NULL, fam, sizeof(fam)));
	add(want, len, "connect");
	add(want, len, "family=%s", fam);
	if (strcmp(fam, "inet") == 0 || strcmp(fam, "inet6") == 0) {
		bool v6 = fam[4] == '6';
		int port;

		/* strace's own reading of the bytes: inet_addr("127.0.0.1"),
		 * inet_pton(AF_INET6, "::1"), htons(4242). */
		v = field(f, n, v6 ? "sin6_addr" : "sin_addr");
		assert_non_null(v);
		comments(v, names, sizeof(names));
		assert_true(qstr(names, text, sizeof(text)));
		add(want, len, "ip=%s", text);
		v = field(f, n, v6 ? "sin6_port" : "sin_port");
		assert_non_null(v);
		comments(v, names, sizeof(names));
		assert_int_equal(sscanf(names, "htons(%d)", &port), 1);
		add(want, len, "port=%d", port);
	} else if (strcmp(fam, "unix") == 0) {
		v = field(f, n, "sun_path");
		assert_non_null(v);
		assert_true(qstr(v, text, sizeof(text)));
		add(want, len, "path=%s%s", v[0] == '@' ? "@" : "", text);
		add(want, len, "abstract=%s", v[0] == '@' ? "true" : "false");
	}
	free(copy);
}

/* A name strace wrote in a comment, or the number where it had none. */
static void name_or_num(const char *a, const char *prefix, const char *skip, const char *key,
			char *want, size_t len)
{
	char names[256], name[64];

	comments(a, names, sizeof(names));
	if (!prefix && names[0] && !strchr(names, '|'))
		add(want, len, "%s=%s", key, names);
	else if (prefix && name_after(names, prefix, skip, name, sizeof(name)))
		add(want, len, "%s=%s", key, name);
	else
		add(want, len, "%s=%lld", key, (long long)num(a));
}

static void want_clone(const traced_t *t, char *want, size_t len)
{
	char names[512], flags[512];
	const char *fl = NULL;

	for (int i = 0; i < t->narg && !fl; i++)
		if (strncmp(t->arg[i], "flags=", 6) == 0)
			fl = t->arg[i] + 6;
	assert_non_null(fl);
	comments(fl, names, sizeof(names));
	flag_names(clone_names, names, flags, sizeof(flags));
	add(want, len, "clone");
	add(want, len, "flags=%#llx", num(fl));
	add(want, len, "names=%s", flags);
}

/* The arguments strace must have printed for each traced syscall, at
 * least: the ones read below. */
static void check_arity(const traced_t *t)
{
	static const struct {
		const char *name;
		int args;
	} arity[] = {
		{ "openat", 3 }, { "openat2", 3 }, { "mkdirat", 3 }, { "renameat", 4 },
		{ "connect", 2 }, { "socket", 3 }, { "kill", 2 }, { "tgkill", 3 },
		{ "prctl", 1 }, { "ioctl", 2 }, { "clone", 1 }, { "execve", 2 },
	};

	for (size_t i = 0; i < sizeof(arity) / sizeof(arity[0]); i++)
		if (strcmp(arity[i].name, t->name) == 0 && t->narg < arity[i].args)
			fail_msg("strace line with too few arguments: %s", t->line);
}

/* The policy's line for the call strace saw, in want. */
static void expect(const traced_t *t, char *want, size_t len)
{
	char path[PATH_MAX], *argv[300], *copy;
	const char *n = t->name;

	want[0] = '\0';
	check_arity(t);
	if (strcmp(n, "openat") == 0 || strcmp(n, "openat2") == 0) {
		want_open(t, want, len);
	} else if (strcmp(n, "mkdirat") == 0) {
		add(want, len, "mkdirat");
		path_fields(t, 1, "path", want, len);
		add(want, len, "mode=%#llo", num(t->arg[2]));
	} else if (strcmp(n, "renameat") == 0) {
		add(want, len, "renameat");
		path_fields(t, 1, "path", want, len);
		path_fields(t, 3, "path2", want, len);
	} else if (strcmp(n, "connect") == 0) {
		want_connect(t, want, len);
	} else if (strcmp(n, "socket") == 0) {
		add(want, len, "socket");
		name_or_num(t->arg[0], "AF_", NULL, "domain", want, len);
		name_or_num(t->arg[1], "SOCK_", "SOCK_CLOEXEC|SOCK_NONBLOCK", "type", want, len);
		add(want, len, "protocol=%lld", (long long)num(t->arg[2]));
	} else if (strcmp(n, "kill") == 0 || strcmp(n, "tgkill") == 0) {
		bool tg = n[0] == 't';

		add(want, len, "%s", n);
		name_or_num(t->arg[tg ? 2 : 1], NULL, NULL, "signal", want, len);
		add(want, len, "pid=%lld", (long long)num(t->arg[0]));
		if (tg)
			add(want, len, "tid=%lld", (long long)num(t->arg[1]));
	} else if (strcmp(n, "prctl") == 0) {
		add(want, len, "prctl");
		name_or_num(t->arg[0], NULL, NULL, "option", want, len);
	} else if (strcmp(n, "ioctl") == 0) {
		add(want, len, "ioctl");
		add(want, len, "request=%#llx", num(t->arg[1]));
	} else if (strcmp(n, "clone") == 0) {
		want_clone(t, want, len);
	} else if (strcmp(n, "execve") == 0) {
		assert_true(qstr(t->arg[0], path, sizeof(path)));
		copy = strdup(t->arg[1]);
		assert_non_null(copy);
		add(want, len, "execve");
		add(want, len, "path=%s", path);
		add(want, len, "argc=%d", split(copy + 1, argv, 300));
		add(want, len, "truncated=false");
		free(copy);
	} else {
		fail_msg("strace line of an unexpected syscall: %s", t->line);
	}
}

/* The fields the decision log carries beside the message (path, path2,
 * addr, argv) must say what strace said too. */
static void check_log_fields(const traced_t *t, json_object *d)
{
	char s[PATH_MAX], *argv[300], *copy;
	json_object *a, *v;
	int n;

	if (strcmp(t->name, "connect") == 0) {
		const char *path;
		char want[1024] = "";

		want_connect(t, want, sizeof(want));
		assert_true(json_object_object_get_ex(d, "addr", &a));
		path = str_field(a, "path");
		if (str_field(a, "ip"))
			snprintf(s, sizeof(s), "connect\tfamily=%s\tip=%s\tport=%d", str_field(a, "family"),
				 str_field(a, "ip"), (int)int_field_or(a, "port"));
		else if (path)
			snprintf(s, sizeof(s), "connect\tfamily=%s\tpath=%s\tabstract=%s",
				 str_field(a, "family"), path, path[0] == '@' ? "true" : "false");
		else
			snprintf(s, sizeof(s), "connect\tfamily=%s", str_field(a, "family"));
		assert_string_equal(s, want);
		return;
	}
	if (strcmp(t->name, "socket") == 0 || strcmp(t->name, "kill") == 0 ||
	    strcmp(t->name, "tgkill") == 0 || strcmp(t->name, "prctl") == 0 ||
	    strcmp(t->name, "ioctl") == 0 || strcmp(t->name, "clone") == 0)
		return;
	assert_true(qstr(t->arg[strcmp(t->name, "execve") == 0 ? 0 : 1], s, sizeof(s)));
	assert_string_equal(str_field(d, "path"), s);
	if (strcmp(t->name, "renameat") == 0) {
		assert_true(qstr(t->arg[3], s, sizeof(s)));
		assert_string_equal(str_field(d, "path2"), s);
	}
	if (strcmp(t->name, "execve") == 0) {
		copy = strdup(t->arg[1]);
		assert_non_null(copy);
		n = split(copy + 1, argv, 300);
		assert_true(json_object_object_get_ex(d, "argv", &a));
		assert_int_equal(json_object_array_length(a), n);
		for (int i = 0; i < n; i++) {
			assert_true(qstr(argv[i], s, sizeof(s)));
			v = json_object_array_get_idx(a, (size_t)i);
			assert_string_equal(json_object_get_string(v), s);
		}
		free(copy);
	}
}

/* ---- The test ------------------------------------------------------- */

static bool is_traced(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = TRACED; *p; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Reads the strace file of the traced process pid: the calls from its
 * execve of the oracle on (before it, sysgate-run ran unfiltered). */
static size_t read_trace(const char *prefix, int64_t pid, const char *oracle, traced_t *out,
			 size_t max)
{
	char path[440], start[PATH_MAX + 16], *line = NULL;
	size_t cap = 0, n = 0;
	bool on = false;
	traced_t t;
	FILE *f;

	snprintf(path, sizeof(path), "%s.%lld", prefix, (long long)pid);
	snprintf(start, sizeof(start), "execve(\"%s\",", oracle);
	f = fopen(path, "r");
	if (!f)
		fail_msg("no strace output %s: %s", path, strerror(errno));
	while (n < max && getline(&line, &cap, f) > 0) {
		on = on || strncmp(line, start, strlen(start)) == 0;
		if (!on || !traced_parse(line, &t))
			continue;
		if (is_traced(t.name))
			out[n++] = t;
		else
			traced_free(&t);
	}
	free(line);
	fclose(f);
	return n;
}

/* The decisions (and errors) of pid from its execve of the oracle on. */
static size_t read_decisions(json_object *log, int64_t pid, const char *oracle, json_object **out,
			     size_t max)
{
	size_t n = 0;
	bool on = false;

	for (size_t i = 0; i < json_object_array_length(log) && n < max; i++) {
		json_object *o = json_object_array_get_idx(log, i);
		const char *ev = str_field(o, "event");

		if (strcmp(ev, "decision") != 0 && strcmp(ev, "error") != 0)
			continue;
		/* The oracle's main thread: strace's file of it holds its
		 * calls alone. */
		if (int_field_or(o, "pid") != pid || int_field_or(o, "tid") != pid)
			continue;
		on = on || (strcmp(str_field(o, "syscall"), "execve") == 0 &&
			    str_field(o, "path") && strcmp(str_field(o, "path"), oracle) == 0);
		if (on)
			out[n++] = o;
	}
	return n;
}

/* Runs sysgate-run -- oracle under strace, writing one trace file per
 * task to prefix.<tid>; returns strace's wait status (the oracle's). */
static int run_traced(const sgd_proc_t *s, const char *prefix, const char *work, const char *port)
{
	const char *argv[] = { env_path("STRACE"), "-ff", "-o", prefix, "-y", "-X", "verbose", "-qq",
			       "-v", "-s", "4096", "-e", "signal=none", "-e", "trace=" TRACED,
			       env_path("SYSGATE_RUN"), "-s", s->socket, "-p", "decode", "--",
			       env_path("ORACLE"), work, port, NULL };
	char out[400];
	int status;
	pid_t pid;

	assert_true(argv[0][0] != '\0'); /* meson found no strace: scripts/deps.sh installs it */
	snprintf(out, sizeof(out), "%s/strace.out", s->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (null < 0 || fd < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Lines the comparison must have met, from the oracle's own arguments: if
 * one is missing, the oracle or the strace parser went wrong, not only
 * sysgated. */
static void check_anchors(char **wants, size_t n, const char *work, const char *port, int64_t pid)
{
	static char a[24][PATH_MAX + 256];
	size_t k = 0;

#define ANCHOR(...) snprintf(a[k++], sizeof(a[0]), __VA_ARGS__)
	ANCHOR("openat\tpath=%s/f\tabspath=%s/f\tflags=0x80041\tnames=O_WRONLY|O_CREAT|O_CLOEXEC\t"
	       "mode=0640", work, work);
	ANCHOR("openat\tpath=%s/f\tabspath=%s/f\tflags=0x28000\t"
	       "names=O_RDONLY|O_LARGEFILE|O_NOFOLLOW\tmode=0", work, work);
	ANCHOR("openat\tpath=%s/f\tabspath=%s/f\tflags=0x442\tnames=O_RDWR|O_CREAT|O_APPEND\t"
	       "mode=0600", work, work);
	ANCHOR("openat2\tpath=%s/g\tabspath=%s/g\tflags=0xc2\tnames=O_RDWR|O_CREAT|O_EXCL\t"
	       "mode=0604\tresolve=0x6", work, work);
	ANCHOR("mkdirat\tpath=%s/d\tabspath=%s/d\tmode=0751", work, work);
	ANCHOR("mkdirat\tpath=sub\tabspath=%s/d/sub\tmode=0700", work);
	ANCHOR("renameat\tpath=%s/f\tabspath=%s/f\tpath2=renamed\tabspath2=%s/d/renamed", work, work,
	       work);
	ANCHOR("socket\tdomain=inet\ttype=stream\tprotocol=0");
	ANCHOR("connect\tfamily=inet\tip=127.0.0.1\tport=%s", port);
	ANCHOR("socket\tdomain=unix\ttype=stream\tprotocol=0");
	ANCHOR("connect\tfamily=unix\tpath=%s/usock\tabstract=false", work);
	ANCHOR("connect\tfamily=unix\tpath=@sysgate-oracle\tabstract=true");
	ANCHOR("socket\tdomain=inet6\ttype=dgram\tprotocol=17");
	ANCHOR("connect\tfamily=inet6\tip=2001:db8::17\tport=5353");
	ANCHOR("kill\tsignal=SIGCONT\tpid=%lld", (long long)pid);
	ANCHOR("tgkill\tsignal=SIGWINCH\tpid=%lld\ttid=%lld", (long long)pid, (long long)pid);
	/* The oracle's second thread: an anchor that ends in '=' matches any
	 * value but the process's own. */
	ANCHOR("tgkill\tsignal=SIGWINCH\tpid=%lld\ttid=", (long long)pid);
	ANCHOR("prctl\toption=PR_SET_NAME");
	ANCHOR("ioctl\trequest=0x541b");
	ANCHOR("clone\tflags=0x611\tnames=CLONE_FS|CLONE_FILES");
	ANCHOR("execve\tpath=/bin/true\targc=4\ttruncated=false");
#undef ANCHOR
	for (size_t i = 0; i < k; i++) {
		size_t seen = 0;

		for (size_t j = 0; j < n; j++)
			seen += strcmp(wants[j], a[i]) == 0 ||
				(a[i][strlen(a[i]) - 1] == '=' &&
				 strncmp(wants[j], a[i], strlen(a[i])) == 0 &&
				 strtoll(wants[j] + strlen(a[i]), NULL, 10) != pid);
		/* kill and ioctl are made twice, the second time with bits
		 * above the int the kernel reads. */
		if (seen < (strncmp(a[i], "kill", 4) == 0 || strncmp(a[i], "ioctl", 5) == 0 ? 2u : 1u))
			fail_msg("the comparison never met the call:\n%s", a[i]);
	}
}

#define MAX_CALLS 256

/*
 * strace and sysgated read the same calls of the oracle at the same time;
 * every decoded field the policy logs (paths and where they point, open
 * and clone flags and their names, modes, socket addresses, socket
 * domain and type, signals and their targets, prctl options, ioctl
 * requests, execve's argv) must equal what strace printed, call by call in
 * order, and so must the log's own path, path2, addr and argv fields.
 */
static void test_strace_oracle(void **state)
{
	char work[400], prefix[400], want[PATH_MAX * 4 + 512];
	static traced_t calls[MAX_CALLS];
	static char *wants[MAX_CALLS];
	json_object *log, *dec[MAX_CALLS];
	const char *oracle = env_path("ORACLE"), *port = "4242";
	size_t nt, nd;
	int64_t pid;
	sgd_proc_t s;
	int status;

	start_decode(&s);
	snprintf(work, sizeof(work), "%s/w", s.dir);
	snprintf(prefix, sizeof(prefix), "%s/trace", s.dir);
	assert_int_equal(mkdir(work, 0700), 0);
	status = run_traced(&s, prefix, work, port);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("strace/oracle status 0x%x; see %s/strace.out", status, s.dir);
	assert_true(log_wait(&s, "target_end", 1));

	log = sgd_log(&s);
	pid = int_field_or(log_find(log, "target_start", "policy", "decode"), "pid");
	assert_true(pid > 0);
	nt = read_trace(prefix, pid, oracle, calls, MAX_CALLS);
	nd = read_decisions(log, pid, oracle, dec, MAX_CALLS);
	for (size_t i = 0; i < nt && i < nd; i++) {
		if (strcmp(calls[i].name, str_field(dec[i], "syscall")) != 0)
			fail_msg("call %zu: strace saw %s, sysgated %s (%s)", i, calls[i].line,
				 str_field(dec[i], "syscall"), str_field(dec[i], "message"));
		expect(&calls[i], want, sizeof(want));
		assert_string_equal(str_field(dec[i], "message"), want);
		assert_string_equal(str_field(dec[i], "verdict"), "allow");
		check_log_fields(&calls[i], dec[i]);
		wants[i] = strdup(want);
		assert_non_null(wants[i]);
	}
	assert_int_equal(nt, nd);
	check_anchors(wants, nt, work, port, pid);
	for (size_t i = 0; i < nt; i++) {
		traced_free(&calls[i]);
		free(wants[i]);
	}
	json_object_put(log);
	sgd_stop(&s);
}

/* Logs the openat of a file called ns-file, and kill, with the pids the
 * handler sees. */
POLICY(ns, "return sysgate.policy { name = 'ns', on = {\n"
	   "  openat = function(c)\n"
	   "    if not c.path:find('/ns%-file$') then return sysgate.allow() end\n"
	   "    return sysgate.allow():log(string.format('%d %d %s', c.pid, c.tid, c.path))\n"
	   "  end,\n"
	   "  kill = function(c)\n"
	   "    return sysgate.allow():log(string.format('%d %s %d', c.pid, c.signal, c.target_pid))\n"
	   "  end } }\n");

/* Reads from fd until buf holds needle (or 10 s pass, or EOF). */
static bool read_until(int fd, char *buf, size_t len, const char *needle)
{
	size_t off = strlen(buf);

	while (!strstr(buf, needle) && off + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) != 1)
			return false;
		n = read(fd, buf + off, len - off - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		off += (size_t)n;
		buf[off] = '\0';
	}
	return strstr(buf, needle) != NULL;
}

/* The pids of /proc/<pid>/status's NSpid line, outermost namespace first. */
static int ns_pids(pid_t pid, long *out, int max)
{
	char path[64], line[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "NSpid:", 6) == 0)
			for (char *p = line + 6, *end; n < max; p = end) {
				long v = strtol(p, &end, 10);

				if (end == p)
					break;
				out[n++] = v;
			}
	fclose(f);
	return n;
}

/*
 * A target in a child pid namespace (unshare --pid --fork, which makes it
 * the namespace's pid 1): the decision log and c.pid give the process as
 * the supervisor sees it, the pid whose /proc status says which pid it has
 * inside, while kill's c.target_pid stays the pid the call names. The
 * probe waits on its stdin so that /proc can be read while it lives.
 */
static void test_pid_namespace(void **state)
{
	char file[400], want[600], out[4096] = "", exe[PATH_MAX], link[64];
	const char *argv[] = { env_path("UNSHARE"), "--pid", "--fork", env_path("SYSGATE_RUN"), "-s",
			       NULL, "-p", "ns", "--", probe(), "getpid", "open", file,
			       "sigcont", "wait", NULL };
	long inner, pids[8];
	int in[2], outp[2], status, n;
	json_object *log, *d;
	int64_t pid;
	sgd_proc_t s;
	pid_t child;
	ssize_t len;
	FILE *f;

	assert_true(argv[0][0] != '\0'); /* meson found no unshare (util-linux) */
	START(&s, ns, NULL);
	argv[5] = s.socket;
	snprintf(file, sizeof(file), "%s/ns-file", s.dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(outp, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	if (!read_until(outp[0], out, sizeof(out), "sigcont:"))
		fail_msg("the probe did not get to wait; it wrote:\n%s", out);
	assert_int_equal(sscanf(strstr(out, "getpid: ok "), "getpid: ok %ld", &inner), 1);
	snprintf(want, sizeof(want), "open %s: ok", file);
	assert_non_null(strstr(out, want));
	assert_true(log_wait(&s, "decision", 2));

	log = sgd_log(&s);
	d = log_find(log, "decision", "syscall", "openat");
	assert_non_null(d);
	pid = int_field_or(d, "pid");
	assert_int_equal(int_field_or(d, "tid"), pid);
	assert_string_equal(str_field(d, "path"), file);
	snprintf(want, sizeof(want), "%lld %lld %s", (long long)pid, (long long)pid, file);
	assert_string_equal(str_field(d, "message"), want);
	/* The process sysgate-run became, as the handshake named it. */
	assert_int_equal(int_field_or(log_find(log, "target_start", "policy", "ns"), "pid"), pid);

	/* While the probe waits: the logged pid is the probe, seen from
	 * outside its namespace, and its innermost pid is what it got from
	 * getpid(). */
	assert_true(pid != inner);
	snprintf(link, sizeof(link), "/proc/%lld/exe", (long long)pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	assert_true(len > 0);
	exe[len] = '\0';
	assert_string_equal(exe, probe());
	n = ns_pids((pid_t)pid, pids, 8);
	assert_true(n >= 2);
	assert_int_equal(pids[0], pid);
	assert_int_equal(pids[n - 1], inner);

	/* kill(getpid(), ...) names the process by its inner pid. */
	d = log_find(log, "decision", "syscall", "kill");
	assert_non_null(d);
	assert_int_equal(int_field_or(d, "pid"), pid);
	snprintf(want, sizeof(want), "%lld SIGCONT %ld", (long long)pid, inner);
	assert_string_equal(str_field(d, "message"), want);
	json_object_put(log);

	assert_int_equal(write(in[1], "\n", 1), 1);
	close(in[1]);
	close(outp[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("unshare status 0x%x", status);
	assert_true(log_wait(&s, "target_end", 1));
	sgd_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_strace_oracle, sgd_teardown),
		cmocka_unit_test_teardown(test_pid_namespace, sgd_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
