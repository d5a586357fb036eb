/*
 * Learn mode (see learn.h): a bounded record of what a target did, and
 * the Lua policy written from it. The record is one open-addressing hash
 * set of (kind, syscall, string) entries of fixed capacity, allocated
 * with the first entry, plus a bitmap of the syscalls seen; nothing grows
 * past the LEARN_MAX_* bounds, whatever the target does.
 *
 * The generated policy denies by default and allows in the kernel every
 * syscall the run made that carries nothing to check; the open family,
 * exec, the calls that change files and the calls that take a socket
 * address get handlers that allow what the run used, by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "learn.h"
#include "names.h"

#define LEARN_CAP 8192u /* slots; above the sum of the bounds, so never over 60% full */

_Static_assert(LEARN_MAX_PATHS + LEARN_MAX_ADDRS + LEARN_MAX_EXECS < LEARN_CAP * 6 / 10,
	       "the table never fills");

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

enum learn_kind {
	LK_READ = 1, /* a file opened for reading only */
	LK_WRITE,    /* a file opened for writing, created or truncated */
	LK_EXEC,     /* a program executed (or tried) */
	LK_PATH,     /* a path a call that changes files named; nr says which call */
	LK_ADDR,     /* a socket address; nr says which call */
};

typedef struct entry {
	uint32_t kind; /* 0: free slot */
	int32_t nr;
	char *s;
} entry_t;

struct learn {
	uint8_t seen[NAMES_MAX_NR];
	uint64_t calls, dropped;
	size_t bytes;
	unsigned paths, addrs, execs;
	entry_t *tab; /* LEARN_CAP slots, allocated with the first entry */
};

/* The calls that change files by name: their paths get a handler each.
 * Calls that only read metadata (stat, access, readlink, chdir...) are
 * allowed in the kernel: they change nothing and open nothing. */
static const char *const changing[] = {
	"unlink", "unlinkat", "rmdir", "mkdir", "mkdirat", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "chown", "lchown",
	"fchownat", "truncate", "mknod", "mknodat", "utime", "utimes", "futimesat", "utimensat",
	"setxattr", "lsetxattr", "removexattr", "lremovexattr", "mount", "umount2", "pivot_root",
	"chroot", "acct", "swapon", "swapoff", NULL,
};

/* Syscalls a program cannot do without and that grant nothing: always
 * allowed, seen or not, because whether a run makes them depends on
 * timing (a signal handler returning, a call restarted after a stop). */
static const char *const baseline[] = { "rt_sigreturn", "restart_syscall", "exit", "exit_group",
					NULL };

/* Looked up by number on every call of a learning target: the names are
 * resolved once (names on this machine only; one loop thread). */
static bool is_changing(int nr)
{
	static int8_t table[NAMES_MAX_NR]; /* 0 unknown, 1 yes, -1 no */
	const char *name;

	if (nr < 0 || nr >= NAMES_MAX_NR)
		return false;
	if (table[nr] == 0) {
		name = names_syscall_name(nr);
		table[nr] = -1;
		for (size_t i = 0; name && changing[i]; i++)
			if (strcmp(name, changing[i]) == 0)
				table[nr] = 1;
	}
	return table[nr] > 0;
}

static bool is_exec(int nr)
{
	return nr == SYS_execve || nr == SYS_execveat;
}

static bool is_addr(int nr)
{
	return nr == SYS_connect || nr == SYS_bind || nr == SYS_sendto || nr == SYS_sendmsg;
}

/* Whether the generated policy decides nr in a handler. */
static bool has_handler(int nr)
{
	return call_is_open(nr) || is_exec(nr) || is_addr(nr) || is_changing(nr);
}

learn_t *learn_new(void)
{
	return calloc(1, sizeof(learn_t));
}

void learn_free(learn_t *l)
{
	if (!l)
		return;
	for (size_t i = 0; l->tab && i < LEARN_CAP; i++)
		free(l->tab[i].s);
	free(l->tab);
	free(l);
}

static uint32_t hash(uint32_t kind, int32_t nr, const char *s)
{
	uint32_t h = 2166136261u ^ kind ^ ((uint32_t)nr << 8);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of (kind, nr, s): the entry, or the free slot it would take. */
static entry_t *slot(const learn_t *l, uint32_t kind, int32_t nr, const char *s)
{
	uint32_t i = hash(kind, nr, s) & (LEARN_CAP - 1);

	while (l->tab[i].kind != 0 &&
	       (l->tab[i].kind != kind || l->tab[i].nr != nr || strcmp(l->tab[i].s, s) != 0))
		i = (i + 1) & (LEARN_CAP - 1);
	return &l->tab[i];
}

static bool contains(const learn_t *l, uint32_t kind, int32_t nr, const char *s)
{
	return l->tab && slot(l, kind, nr, s)->kind != 0;
}

/* Counts an entry against its bound; false when it does not fit. */
static bool charge(learn_t *l, uint32_t kind, size_t len)
{
	unsigned *n = kind == LK_EXEC ? &l->execs : kind == LK_ADDR ? &l->addrs : &l->paths;
	unsigned max = kind == LK_EXEC ? LEARN_MAX_EXECS : kind == LK_ADDR ? LEARN_MAX_ADDRS
									   : LEARN_MAX_PATHS;

	if (*n >= max || l->bytes + len + 1 > LEARN_MAX_BYTES)
		return false;
	(*n)++;
	l->bytes += len + 1;
	return true;
}

static void add(learn_t *l, uint32_t kind, int32_t nr, const char *s)
{
	size_t len = strlen(s);
	entry_t *e;

	if (!l->tab && !(l->tab = calloc(LEARN_CAP, sizeof(*l->tab)))) {
		l->dropped++;
		return;
	}
	e = slot(l, kind, nr, s);
	if (e->kind != 0)
		return;
	if (!charge(l, kind, len) || !(e->s = strdup(s))) {
		l->dropped++;
		return;
	}
	e->kind = kind;
	e->nr = nr;
}

/* The key the generated policy computes from c.addr (addr_key in Lua):
 * family, then what identifies the peer. */
static void addr_key(const call_addr_t *a, char *out, size_t len)
{
	if (a->family == AF_INET || a->family == AF_INET6)
		snprintf(out, len, "%s %s %d", a->family_name, a->ip, a->port);
	else if (a->family == AF_UNIX)
		snprintf(out, len, "unix %s", a->path);
	else if (a->family == AF_NETLINK)
		snprintf(out, len, "netlink %u %u", a->nl_pid, a->nl_groups);
	else
		snprintf(out, len, "%s", a->family_name);
}

static bool open_writes(uint64_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
}

void learn_record(learn_t *l, call_t *c)
{
	char key[256];

	l->calls++;
	if (c->nr < 0 || c->nr >= NAMES_MAX_NR)
		return;
	l->seen[c->nr] = 1;
	if (call_is_open(c->nr)) {
		if (call_abspath(c, false) == 0 && call_flags(c) == 0)
			add(l, open_writes(c->flags) ? LK_WRITE : LK_READ, 0, c->abspath[0]);
	} else if (is_exec(c->nr)) {
		if (call_abspath(c, false) == 0)
			add(l, LK_EXEC, 0, c->abspath[0]);
	} else if (is_addr(c->nr)) {
		if (call_addr(c) == 0 && c->addr.family != AF_UNSPEC) {
			addr_key(&c->addr, key, sizeof(key));
			add(l, LK_ADDR, c->nr, key);
		}
	} else if (is_changing(c->nr)) {
		for (int second = 0; second < 2; second++)
			if (call_abspath(c, second) == 0)
				add(l, LK_PATH, c->nr, c->abspath[second]);
	}
}

void learn_stats(const learn_t *l, learn_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	out->calls = l->calls;
	for (int nr = 0; nr < NAMES_MAX_NR; nr++)
		out->syscalls += l->seen[nr];
	out->paths = l->paths;
	out->addrs = l->addrs;
	out->execs = l->execs;
	out->dropped = l->dropped;
}

/* ---- rendering ---- */

/*
 * A Lua string literal for n bytes of s: printable ASCII as it is, except
 * the quote and the backslash, and every other byte as a three-digit
 * decimal escape. The result is plain ASCII whatever the input holds, and
 * Lua reads back exactly the bytes of s.
 */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p >= 0x20 && *p < 0x7f)
			fputc(*p, f);
		else
			fprintf(f, "\\%03u", *p);
	}
	fputc('"', f);
}

/* Length of the directory part of a path ("/a/b" -> 2, "/a" -> 0: "/"). */
static size_t dir_len(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash ? (size_t)(slash - s) : 0;
}

static bool same_dir(const char *a, const char *b)
{
	size_t n = dir_len(a);

	return n == dir_len(b) && strncmp(a, b, n) == 0;
}

/* By directory, then by name: the files of one directory are adjacent. */
static int cmp_path(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t nx = dir_len(x), ny = dir_len(y);
	int r = strncmp(x, y, nx < ny ? nx : ny);

	if (r == 0 && nx != ny)
		r = nx < ny ? -1 : 1;
	return r ? r : strcmp(x, y);
}

/* The strings of (kind, nr), sorted, in a malloc'ed array (*n of them);
 * a READ entry that is also a WRITE one is left out (a write allows a read). */
static char **collect(const learn_t *l, uint32_t kind, int32_t nr, size_t *n)
{
	char **v = malloc(sizeof(*v) * (LEARN_MAX_PATHS + LEARN_MAX_ADDRS + LEARN_MAX_EXECS + 1));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; l->tab && i < LEARN_CAP; i++) {
		const entry_t *e = &l->tab[i];

		if (e->kind != kind || e->nr != nr)
			continue;
		if (kind == LK_READ && contains(l, LK_WRITE, 0, e->s))
			continue;
		v[(*n)++] = e->s;
	}
	qsort(v, *n, sizeof(*v), cmp_path);
	return v;
}

/* Marks in group[] the files of directories with more than LEARN_GROUP. */
static void mark_groups(char **v, size_t n, bool *group)
{
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && same_dir(v[i], v[j]); j++)
			;
		for (size_t k = i; k < j; k++)
			group[k] = j - i > LEARN_GROUP;
	}
}

static void put_dir(FILE *f, const char *s)
{
	size_t n = dir_len(s);
	char *d = strndup(s, n ? n : 1);

	if (!d)
		return;
	put_quoted(f, d);
	free(d);
}

/* paths({ files... }, { directories... }) for the set (kind, nr). */
static void put_paths(FILE *f, const learn_t *l, uint32_t kind, int32_t nr, bool grouping)
{
	size_t n;
	char **v = collect(l, kind, nr, &n);
	bool *group = calloc(n + 1, sizeof(bool));

	if (!v || !group) {
		fputs("paths({}) -- out of memory while writing\n", f);
		free(v);
		free(group);
		return;
	}
	if (grouping)
		mark_groups(v, n, group);
	fputs("paths({\n", f);
	for (size_t i = 0; i < n; i++) {
		if (group[i])
			continue;
		fputs("  ", f);
		put_quoted(f, v[i]);
		fputs(",\n", f);
	}
	fputs("}, {\n", f);
	for (size_t i = 0; i < n; i++) {
		if (!group[i] || (i > 0 && same_dir(v[i - 1], v[i])))
			continue;
		fputs("  ", f);
		put_dir(f, v[i]);
		fputs(",\n", f);
	}
	fputs("})\n", f);
	free(v);
	free(group);
}

static void put_set(FILE *f, const learn_t *l, uint32_t kind, int32_t nr)
{
	size_t n;
	char **v = collect(l, kind, nr, &n);

	fputs("set {\n", f);
	for (size_t i = 0; v && i < n; i++) {
		fputs("  ", f);
		put_quoted(f, v[i]);
		fputs(",\n", f);
	}
	fputs("}\n", f);
	free(v);
}

static void put_time(FILE *f, time_t t)
{
	struct tm tm;
	char buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs(buf, f);
}

static void put_header(FILE *f, const learn_t *l, const learn_about_t *a)
{
	learn_stats_t st;

	learn_stats(l, &st);
	fputs("-- Learned by sysgated in learn mode from target ", f);
	fprintf(f, "%llu (pid %d) under policy ", (unsigned long long)a->target, (int)a->pid);
	put_quoted(f, a->policy);
	fputs(",\n-- from ", f);
	put_time(f, a->started);
	fputs(a->snapshot ? " to " : " to its end at ", f);
	put_time(f, a->ended);
	if (a->snapshot)
		fputs(" (a snapshot: the target was still running)", f);
	fprintf(f, ": %llu calls, %u syscalls, %u paths, %u addresses, %u programs.\n",
		(unsigned long long)st.calls, st.syscalls, st.paths, st.addrs, st.execs);
	if (st.dropped)
		fprintf(f, "-- %llu more entries were NOT recorded: the run went over the bounds of "
			   "learn mode\n-- (%d paths, %d addresses, %d programs, %u bytes). What "
			   "they allowed is denied here.\n",
			(unsigned long long)st.dropped, LEARN_MAX_PATHS, LEARN_MAX_ADDRS,
			LEARN_MAX_EXECS, LEARN_MAX_BYTES);
	fputs("--\n"
	      "-- It allows what this run did and denies everything else. A run shows only\n"
	      "-- what it exercised: read it before it enforces.\n"
	      "--  * kernel.allow: syscalls the run made that carry nothing to check, decided\n"
	      "--    in the kernel without a round trip;\n"
	      "--  * on: opens (read or write), execs, calls that change files and socket\n"
	      "--    addresses, allowed when the run used the same path or address;\n"
	      "--  * everything else is denied in the kernel (EPERM).\n"
	      "-- Paths are compared by name, made absolute (c.abspath), symlinks not\n"
	      "-- followed. A directory in the second list of paths() allows every file\n"
	      "-- directly in it: the run used more than ", f);
	fprintf(f, "%d files there.\n", LEARN_GROUP);
	fputs("-- Allows after reading a path are advisory (see pointer_args in the README).\n\n", f);
}

static const char lua_helpers[] =
	"local sg = sysgate\n"
	"\n"
	"local function set(list)\n"
	"  local s = {}\n"
	"  for _, v in ipairs(list) do s[v] = true end\n"
	"  return s\n"
	"end\n"
	"\n"
	"local function paths(files, dirs)\n"
	"  return { files = set(files), dirs = set(dirs) }\n"
	"end\n"
	"\n"
	"-- \"/a/b\" -> \"/a\", \"/a\" -> \"/\"\n"
	"local function dir_of(p)\n"
	"  local i = #p\n"
	"  while i > 1 and p:byte(i) ~= 47 do i = i - 1 end\n"
	"  if i <= 1 then return \"/\" end\n"
	"  return p:sub(1, i - 1)\n"
	"end\n"
	"\n"
	"local function allowed(ps, p)\n"
	"  return ps.files[p] == true or ps.dirs[dir_of(p)] == true\n"
	"end\n"
	"\n"
	"local function addr_key(a)\n"
	"  if a.family == \"inet\" or a.family == \"inet6\" then\n"
	"    return a.family .. \" \" .. a.ip .. \" \" .. a.port\n"
	"  elseif a.family == \"unix\" then\n"
	"    return \"unix \" .. a.path\n"
	"  elseif a.family == \"netlink\" then\n"
	"    return \"netlink \" .. a.pid .. \" \" .. a.groups\n"
	"  end\n"
	"  return a.family\n"
	"end\n"
	"\n"
	"local function no(what)\n"
	"  return sg.deny(\"EACCES\"):log(what .. \" not in the learned policy\")\n"
	"end\n\n";

static const char lua_handlers[] =
	"\n"
	"local function open(c)\n"
	"  local p = c.abspath\n"
	"  if p == nil then return sg.allow() end\n"
	"  if allowed(write, p) then return sg.allow() end\n"
	"  local writes = not c.has_flag(\"O_RDONLY\") or c.has_flag(\"O_CREAT\") or\n"
	"                 c.has_flag(\"O_TRUNC\")\n"
	"  if not writes and allowed(read, p) then return sg.allow() end\n"
	"  return no(writes and \"write\" or \"read\")\n"
	"end\n"
	"\n"
	"local function exec(c)\n"
	"  local p = c.abspath\n"
	"  if p ~= nil and allowed(execs, p) then return sg.allow() end\n"
	"  return no(\"exec\")\n"
	"end\n"
	"\n"
	"local function changes(ps)\n"
	"  return function(c)\n"
	"    local p, p2 = c.abspath, c.abspath2\n"
	"    if (p == nil or allowed(ps, p)) and (p2 == nil or allowed(ps, p2)) then\n"
	"      return sg.allow()\n"
	"    end\n"
	"    return no(\"change\")\n"
	"  end\n"
	"end\n"
	"\n"
	"local function address(s)\n"
	"  return function(c)\n"
	"    local a = c.addr\n"
	"    if a == nil or s[addr_key(a)] then return sg.allow() end\n"
	"    return no(\"address\")\n"
	"  end\n"
	"end\n\n";

static void put_data(FILE *f, const learn_t *l)
{
	fputs("-- Files opened for reading only.\nlocal read = ", f);
	put_paths(f, l, LK_READ, 0, true);
	fputs("\n-- Files opened for writing, created or truncated (reading them is allowed too).\n"
	      "local write = ", f);
	put_paths(f, l, LK_WRITE, 0, true);
	fputs("\n-- Programs executed, or tried along $PATH.\nlocal execs = ", f);
	put_paths(f, l, LK_EXEC, 0, false);
	fputs("\n-- Paths changed (removed, created, renamed, linked, chmod...), per call.\n"
	      "local changed = {}\n", f);
	for (int nr = 0; nr < NAMES_MAX_NR; nr++) {
		if (!l->seen[nr] || !is_changing(nr))
			continue;
		fprintf(f, "changed.%s = ", names_syscall_name(nr));
		put_paths(f, l, LK_PATH, nr, true);
	}
	fputs("\n-- Socket addresses used (family, address, port), per call.\n"
	      "local addrs = {}\n", f);
	for (int nr = 0; nr < NAMES_MAX_NR; nr++) {
		if (!l->seen[nr] || !is_addr(nr))
			continue;
		fprintf(f, "addrs.%s = ", names_syscall_name(nr));
		put_set(f, l, LK_ADDR, nr);
	}
}

static bool in_baseline(const char *name)
{
	for (size_t i = 0; baseline[i]; i++)
		if (strcmp(name, baseline[i]) == 0)
			return true;
	return false;
}

static void put_policy(FILE *f, const learn_t *l)
{
	int col = 0;

	fputs("return sg.policy {\n"
	      "  default = \"deny\",\n"
	      "  kernel = {\n"
	      "    allow = {", f);
	for (int nr = 0; nr < NAMES_MAX_NR; nr++) {
		const char *name = names_syscall_name(nr);

		if (!name || has_handler(nr) || (!l->seen[nr] && !in_baseline(name)))
			continue;
		if (col == 0 || col > 64) {
			fputs("\n     ", f);
			col = 5;
		}
		/* Names come from libseccomp's table: [a-z0-9_], nothing to quote. */
		col += fprintf(f, " \"%s\",", name);
	}
	fputs("\n    },\n  },\n  on = {\n", f);
	for (int nr = 0; nr < NAMES_MAX_NR; nr++) {
		const char *name = names_syscall_name(nr);

		if (!name || !l->seen[nr] || !has_handler(nr))
			continue;
		if (call_is_open(nr))
			fprintf(f, "    %s = open,\n", name);
		else if (is_exec(nr))
			fprintf(f, "    %s = exec,\n", name);
		else if (is_addr(nr))
			fprintf(f, "    %s = address(addrs.%s),\n", name, name);
		else
			fprintf(f, "    %s = changes(changed.%s),\n", name, name);
	}
	fputs("  },\n}\n", f);
	for (int nr = 0; nr < NAMES_MAX_NR; nr++)
		if (l->seen[nr] && !names_syscall_name(nr))
			fprintf(f, "-- syscall %d was made but has no name here: it is denied\n", nr);
}

int learn_render(const learn_t *l, const learn_about_t *about, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;
	put_header(f, l, about);
	fputs(lua_helpers, f);
	put_data(f, l);
	fputs(lua_handlers, f);
	put_policy(f, l);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ---- writing ---- */

/* "<what> <arg>: <strerror>" into why; returns rc. */
static int why_ret(char *why, size_t len, int rc, const char *what, const char *arg)
{
	snprintf(why, len, "%s %s: %s", what, arg, strerror(-rc));
	return rc;
}

/* The learn directory, opened and checked again (it may have changed
 * since the config was read). */
static int open_dir(const char *dir, char *why, size_t why_len)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return why_ret(why, why_len, -errno, "cannot open learn_dir", dir);
	if (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		snprintf(why, why_len, "learn_dir %s must belong to root or the supervisor's uid and "
			 "be writable by its owner alone", dir);
		return -EPERM;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

int learn_write_src(const char *src, size_t len, const char *dir, const learn_about_t *about,
		    char *path, size_t path_len, char *why, size_t why_len)
{
	char name[SG_PROTO_MAX_NAME + 64], tmp[sizeof(name) + 8], stamp[32];
	struct tm tm;
	int dfd, fd, rc;

	gmtime_r(&about->ended, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* The policy name is [A-Za-z0-9_.-]: it cannot name another directory. */
	snprintf(name, sizeof(name), "%s-%llu-%s%s.lua", about->policy,
		 (unsigned long long)about->target, stamp, about->snapshot ? "-snapshot" : "");
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	dfd = open_dir(dir, why, why_len);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = why_ret(why, why_len, -errno, "cannot create in learn_dir", tmp);
		goto out;
	}
	rc = write_all(fd, src, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* Never over an existing file: a policy someone reviewed stays. */
	if (rc == 0 && syscall(SYS_renameat2, dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0)
		rc = -errno;
	if (rc < 0) {
		why_ret(why, why_len, rc, "cannot write in learn_dir", name);
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	snprintf(path, path_len, "%s/%s", dir, name);
out:
	close(dfd);
	return rc;
}

int learn_write(const learn_t *l, const char *dir, const learn_about_t *about, char *path,
		size_t path_len, char *why, size_t why_len)
{
	char *src = NULL;
	size_t len = 0;
	int rc;

	rc = learn_render(l, about, &src, &len);
	if (rc < 0)
		return why_ret(why, why_len, rc, "cannot render the policy of", about->policy);
	if (about->admit && (rc = about->admit(about->admit_ctx, len, why, why_len)) < 0) {
		free(src);
		return rc;
	}
	rc = learn_write_src(src, len, dir, about, path, path_len, why, why_len);
	free(src);
	return rc;
}
