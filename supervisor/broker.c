/*
 * The brokered open (VERDICT_OPEN). The supervisor opens the file itself
 * and injects the fd with SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND,
 * which answers the call in the same step: another thread of the target
 * that rewrites the path after the handler read it changes nothing
 * (seccomp_unotify(2), "Design goals; use of SECCOMP_USER_NOTIF_FLAG_CONTINUE").
 *
 * A target must never get through sysgate a file it could not open
 * itself. So the open is made:
 *  - as the calling thread: its fsuid, fsgid, supplementary groups and
 *    effective capabilities (none when it lives in another user
 *    namespace: its capabilities mean nothing in ours), taken by the loop
 *    thread alone with raw syscalls (glibc's setgroups and capset
 *    wrappers would change every thread) and given back right after;
 *  - from its root: an absolute path resolves with RESOLVE_IN_ROOT under
 *    /proc/<tid>/root; a relative one from its cwd or dirfd, and under
 *    RESOLVE_BENEATH when its root is not the supervisor's, so ".." cannot
 *    leave the directory for a root the target cannot see;
 *  - never through a magic link (RESOLVE_NO_MAGICLINKS), and never into
 *    the supervisor's own /proc entries: /proc/self in the supervisor is
 *    the supervisor. A leading /proc/self (/proc/thread-self) is rewritten
 *    to the caller's own entry; any other way into the supervisor's
 *    entries fails with EACCES.
 * The umask applied to a created file is the caller's.
 *
 * Everything here runs on the loop thread and keeps its buffers per
 * thread: no allocation per call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker.h"
#include "target.h"

#define BROKER_MAX_GROUPS 4096     /* supplementary groups of a caller we take on */
#define BROKER_STATUS_MAX 65536    /* /proc/<tid>/status, Groups line included */

/* Who opens: the parts of a thread's credentials that decide an open. */
typedef struct ident {
	uid_t fsuid;
	gid_t fsgid;
	size_t ngroups;
	gid_t groups[BROKER_MAX_GROUPS];
	struct __user_cap_data_struct caps[2]; /* effective, permitted, inheritable */
} ident_t;

/* What the caller's status says besides its identity. */
typedef struct caller {
	ident_t id;
	mode_t cmask; /* its umask */
	pid_t tgid;          /* in the supervisor's pid namespace */
	int ns_tgid, ns_tid; /* in its innermost pid namespace */
} caller_t;

static struct {
	bool ready;
	ident_t self;
	dev_t root_dev;
	ino_t root_ino;
	uint64_t root_mnt;
	ino_t userns;
} broker;

static _Thread_local char status_buf[BROKER_STATUS_MAX];
static _Thread_local caller_t caller;

static int cap_get(struct __user_cap_data_struct caps[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capget, &h, caps) < 0 ? -errno : 0;
}

static int cap_set(const struct __user_cap_data_struct caps[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capset, &h, caps) < 0 ? -errno : 0;
}

/* dev, ino and mount id of what fd (or path from dirfd) names. */
static int root_of(int dirfd, const char *path, dev_t *dev, ino_t *ino, uint64_t *mnt)
{
	struct statx sx;

	*dev = 0;
	*ino = 0;
	*mnt = 0;
	if (statx(dirfd, path, AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &sx) < 0)
		return -errno;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*ino = sx.stx_ino;
	*mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
	return 0;
}

int broker_init(void)
{
	struct stat st;
	int n, r;

	if (broker.ready)
		return 0;
	broker.self.fsuid = geteuid();
	broker.self.fsgid = getegid();
	n = getgroups(BROKER_MAX_GROUPS, broker.self.groups);
	if (n < 0)
		return -errno;
	broker.self.ngroups = (size_t)n;
	r = cap_get(broker.self.caps);
	if (r < 0)
		return r;
	r = root_of(AT_FDCWD, "/", &broker.root_dev, &broker.root_ino, &broker.root_mnt);
	if (r < 0)
		return r;
	if (stat("/proc/self/ns/user", &st) < 0)
		return -errno;
	broker.userns = st.st_ino;
	broker.ready = true;
	return 0;
}

/* ---- the caller's identity ---- */

/* The text after "\nKey:" in status, or NULL. */
static const char *status_line(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? p + strlen(key) : NULL;
}

/* The n-th (0-based) number of a "Key:\tN\tN..." line, in base. */
static int status_num(const char *status, const char *key, int n, int base, unsigned long long *out)
{
	const char *p = status_line(status, key);
	char *end;

	if (!p)
		return -EPROTO;
	for (int i = 0; i <= n; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EPROTO;
		errno = 0;
		*out = strtoull(p, &end, base);
		if (errno || end == p)
			return -EPROTO;
		p = end;
	}
	return 0;
}

/* The last number of a "Key:\tN\tN...\n" line: the innermost pid namespace. */
static int status_last(const char *status, const char *key)
{
	const char *p = status_line(status, key);
	long v = -1;
	char *end;

	if (!p)
		return -1;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return (int)v;
		v = strtol(p, &end, 10);
		p = end;
	}
}

static int status_groups(const char *status, ident_t *id)
{
	const char *p = status_line(status, "\nGroups:");
	char *end;

	if (!p)
		return -EPROTO;
	id->ngroups = 0;
	for (;;) {
		unsigned long g;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			return 0;
		if (*p < '0' || *p > '9')
			return -EPROTO;
		if (id->ngroups == BROKER_MAX_GROUPS)
			return -E2BIG;
		errno = 0;
		g = strtoul(p, &end, 10);
		if (errno || g > UINT32_MAX)
			return -EPROTO;
		id->groups[id->ngroups++] = (gid_t)g;
		p = end;
	}
}

/* Reads the calling thread's /proc/<tid>/status into caller. The file is
 * the kernel's, but its size is bounded anyway: a status that does not fit
 * (tens of thousands of groups) is refused rather than half read. */
static int read_caller(pid_t tid, caller_t *out)
{
	char path[64];
	unsigned long long v[2];
	size_t len = 0;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	while ((n = read(fd, status_buf + len, sizeof(status_buf) - 1 - len)) > 0)
		len += (size_t)n;
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r == -ESRCH ? -ENOENT : r;
	if (len == sizeof(status_buf) - 1)
		return -E2BIG;
	status_buf[len] = '\0';
	memset(out->id.caps, 0, sizeof(out->id.caps));
	if (status_num(status_buf, "\nUid:", 3, 10, &v[0]) < 0 ||
	    status_num(status_buf, "\nGid:", 3, 10, &v[1]) < 0 || v[0] > UINT32_MAX ||
	    v[1] > UINT32_MAX)
		return -EPROTO;
	out->id.fsuid = (uid_t)v[0];
	out->id.fsgid = (gid_t)v[1];
	r = status_groups(status_buf, &out->id);
	if (r < 0)
		return r;
	if (status_num(status_buf, "\nCapEff:", 0, 16, &v[0]) < 0)
		return -EPROTO;
	out->id.caps[0].effective = (uint32_t)v[0];
	out->id.caps[1].effective = (uint32_t)(v[0] >> 32);
	out->cmask = status_num(status_buf, "\nUmask:", 0, 8, &v[1]) == 0 ? (mode_t)(v[1] & 0777)
									   : 022;
	if (status_num(status_buf, "\nTgid:", 0, 10, &v[0]) == 0 && v[0] > 0 && v[0] <= INT32_MAX)
		out->tgid = (pid_t)v[0];
	out->ns_tgid = status_last(status_buf, "\nNStgid:");
	out->ns_tid = status_last(status_buf, "\nNSpid:");
	return 0;
}

/* Whether the caller lives in the supervisor's user namespace. */
static bool same_userns(pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)tid);
	return stat(path, &st) == 0 && st.st_ino == broker.userns;
}

static bool same_ident(const ident_t *a, const ident_t *b)
{
	return a->fsuid == b->fsuid && a->fsgid == b->fsgid && a->ngroups == b->ngroups &&
	       memcmp(a->groups, b->groups, a->ngroups * sizeof(a->groups[0])) == 0 &&
	       a->caps[0].effective == b->caps[0].effective &&
	       a->caps[1].effective == b->caps[1].effective;
}

/* Gives the loop thread back the supervisor's identity. Failing here would
 * leave the loop running as a target: that is not survivable. */
static void ident_restore(void)
{
	const ident_t *s = &broker.self;

	/* Capabilities first: setgroups needs CAP_SETGID back. */
	if (cap_set(s->caps) < 0 || syscall(SYS_setgroups, s->ngroups, s->groups) < 0 ||
	    syscall(SYS_setfsgid, s->fsgid) < 0 || syscall(SYS_setfsuid, s->fsuid) < 0 ||
	    (uid_t)syscall(SYS_setfsuid, -1) != s->fsuid || (gid_t)syscall(SYS_setfsgid, -1) != s->fsgid) {
		fprintf(stderr, "sysgated: cannot take back its own identity after a brokered open: %s\n",
			strerror(errno));
		abort();
	}
}

/* Takes on the caller's identity for the open: 0, or -EPERM when this
 * supervisor cannot (it is not privileged enough), identity unchanged. */
static int ident_take(const ident_t *want)
{
	struct __user_cap_data_struct caps[2];

	/* Only capabilities both have: the caller's effective set limited to
	 * what the supervisor may hold at all. */
	for (int i = 0; i < 2; i++) {
		caps[i].permitted = broker.self.caps[i].permitted;
		caps[i].inheritable = broker.self.caps[i].inheritable;
		caps[i].effective = broker.self.caps[i].effective & want->caps[i].effective;
	}
	if (syscall(SYS_setgroups, want->ngroups, want->groups) < 0)
		goto fail;
	syscall(SYS_setfsgid, want->fsgid);
	syscall(SYS_setfsuid, want->fsuid);
	/* setfsuid and setfsgid say nothing when they refuse: ask. */
	if ((gid_t)syscall(SYS_setfsgid, -1) != want->fsgid ||
	    (uid_t)syscall(SYS_setfsuid, -1) != want->fsuid || cap_set(caps) < 0)
		goto fail;
	return 0;
fail:
	ident_restore();
	return -EPERM;
}

/* ---- /proc ---- */

int broker_proc_self(const char *path, int tgid, int tid, char *out, size_t cap)
{
	static const char self[] = "/proc/self", thread[] = "/proc/thread-self";
	const char *rest;
	int n;

	if (strncmp(path, self, sizeof(self) - 1) == 0 &&
	    (path[sizeof(self) - 1] == '/' || path[sizeof(self) - 1] == '\0')) {
		rest = path + sizeof(self) - 1;
		n = snprintf(out, cap, "/proc/%d%s", tgid, rest);
	} else if (strncmp(path, thread, sizeof(thread) - 1) == 0 &&
		   (path[sizeof(thread) - 1] == '/' || path[sizeof(thread) - 1] == '\0')) {
		rest = path + sizeof(thread) - 1;
		n = snprintf(out, cap, "/proc/%d/task/%d%s", tgid, tid, rest);
	} else {
		return 0;
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 1;
}

bool broker_names_pid(const char *path, int pid)
{
	char num[16];
	size_t len = (size_t)snprintf(num, sizeof(num), "%d", pid);

	for (const char *p = path; (p = strstr(p, num)) != NULL; p++) {
		if ((p == path || p[-1] == '/') && (p[len] == '/' || p[len] == '\0'))
			return true;
	}
	return false;
}

/*
 * The caller's pid and tid as its /proc (under rootfd) numbers them: that
 * procfs belongs to some pid namespace, and /proc/self there names the
 * reader in it. If it shows the supervisor under its own pid, the procfs
 * is the supervisor's namespace's and the caller's numbers are ours; if
 * the supervisor is not in it at all, it is the caller's own namespace's
 * (the innermost). Anything else: -EACCES, nothing is guessed.
 */
static int proc_numbers(int rootfd, call_t *c, int *tgid, int *tid)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	struct statfs sf;
	char link[32], mine[16];
	ssize_t n;
	int fd;

	fd = (int)syscall(SYS_openat2, rootfd, "proc", &how, sizeof(how));
	if (fd < 0)
		return 0; /* no /proc: the path is opened as it is */
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		return 0;
	}
	n = readlinkat(fd, "self", link, sizeof(link) - 1);
	close(fd);
	if (n < 0 && errno == ENOENT) {
		*tgid = caller.ns_tgid;
		*tid = caller.ns_tid;
		return *tgid > 0 && *tid > 0 ? 1 : -EACCES;
	}
	if (n < 0)
		return -EACCES;
	link[n] = '\0';
	/* The link is the reader's pid as text: compare the text, which
	 * neither overflows nor takes "123abc" for 123 as atoi() would. */
	snprintf(mine, sizeof(mine), "%d", (int)getpid());
	if (strcmp(link, mine) != 0)
		return -EACCES;
	*tgid = call_tgid(c);
	*tid = c->pid;
	return *tgid > 0 ? 1 : -EACCES;
}

/* ---- the open ---- */

/* /proc/<tid>/<what> as an O_PATH fd. */
static int proc_fd(pid_t tid, const char *what, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, what);
	fd = open(path, O_PATH | O_CLOEXEC | flags);
	if (fd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	return fd;
}

/* The directory a relative path of c starts from: its dirfd, or its cwd. */
static int base_dir(call_t *c)
{
	char what[32];
	int dirfd = (int)c->args[0];
	int fd;

	if ((c->nr != SYS_openat && c->nr != SYS_openat2) || dirfd == AT_FDCWD)
		return proc_fd(c->pid, "cwd", O_DIRECTORY);
	if (dirfd < 0)
		return -EBADF;
	snprintf(what, sizeof(what), "fd/%d", dirfd);
	fd = proc_fd(c->pid, what, 0);
	return fd == -ENOENT ? -EBADF : fd;
}

static bool same_root(int rootfd)
{
	dev_t dev;
	ino_t ino;
	uint64_t mnt;

	return root_of(rootfd, "", &dev, &ino, &mnt) == 0 && dev == broker.root_dev &&
	       ino == broker.root_ino && mnt == broker.root_mnt;
}

/* Says why a brokered open failed, when that is not the open's own error. */
static int fail(verdict_t *v, int err, const char *reason)
{
	v->err = err;
	v->reason = reason;
	return err;
}

/* Whether fd is one of the supervisor's own /proc entries, reached some
 * other way than a leading /proc/self (a symlink such as /etc/mtab, a
 * dirfd): the caller asked for its own, and must not get ours. */
static bool is_own_proc_entry(int fd)
{
	struct statfs sf;
	char self[64], link[PATH_MAX];
	ssize_t n;

	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return false;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, link, sizeof(link) - 1);
	if (n <= 0)
		return true; /* cannot tell: not the caller's to have */
	link[n] = '\0';
	return broker_names_pid(link, getpid());
}

/* Installs fd in the caller and answers the call with it: 0 with v->fd,
 * -ENOENT when the call is gone, or the errno the call fails with. */
static int install(target_t *t, call_t *c, verdict_t *v, int fd, bool cloexec)
{
	struct seccomp_notif_addfd addfd = {
		.id = c->id,
		.flags = SECCOMP_ADDFD_FLAG_SEND,
		.srcfd = (uint32_t)fd,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	int r;

	/* An interrupted ADDFD has either installed the fd or been taken
	 * back by the kernel: trying again is safe. */
	do
		r = ioctl(t->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	while (r < 0 && errno == EINTR);
	if (r >= 0) {
		v->fd = r;
		return 0;
	}
	if (errno == ENOENT)
		return -ENOENT;
	/* EMFILE at the caller's RLIMIT_NOFILE, and the like: the call fails
	 * as the kernel's own open would. */
	return fail(v, errno, "the fd could not be installed in the caller");
}

/* Whether dirfd, the directory the open will start from, is the one the
 * handler's c.abspath was made from. Another thread sharing the caller's
 * cwd (or its fd table) can chdir (or dup2 another directory onto the
 * dirfd) between the handler's look and this open: the fd is what will be
 * used, so its path is what is compared. */
static bool same_base(const call_t *c, int dirfd)
{
	static _Thread_local char base[PATH_MAX];
	char self[64];
	ssize_t n;

	if (c->abspath_state[0] != 1)
		return true;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", dirfd);
	n = readlink(self, base, sizeof(base) - 1);
	if (n < 0)
		return false;
	base[n] = '\0';
	return call_abspath_from(c->abspath[0], c->path, c->path_len, base,
				 c->nr == SYS_openat2 && (c->resolve & RESOLVE_IN_ROOT));
}

/* Where the open starts (dirfd) and how it resolves, for path of c. 0, a
 * positive errno for the call, or -ENOENT when the caller is gone. *path
 * may be replaced by its /proc/self rewrite. */
static int place(call_t *c, verdict_t *v, int rootfd, const char **path, struct open_how *how,
		 int *dirfd)
{
	static _Thread_local char rewritten[PATH_MAX];
	int r, tgid, tid;

	if ((*path)[0] != '/' || (how->resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH))) {
		*dirfd = base_dir(c);
		if (*dirfd < 0)
			return *dirfd == -ENOENT ? -ENOENT : -*dirfd;
		if (!same_base(c, *dirfd))
			return fail(v, EPERM, "the caller's working directory (or dirfd) is not the "
					      "one the handler saw in c.abspath");
		if (!(how->resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH)) && !same_root(rootfd))
			how->resolve |= RESOLVE_BENEATH;
		return 0;
	}
	/* Only a path that starts with /proc/self or /proc/thread-self needs
	 * the caller's numbers (a dry run of the rewrite tells). */
	r = broker_proc_self(*path, 1, 1, rewritten, sizeof(rewritten));
	if (r > 0)
		r = proc_numbers(rootfd, c, &tgid, &tid);
	if (r > 0)
		r = broker_proc_self(*path, tgid, tid, rewritten, sizeof(rewritten));
	if (r == -ENAMETOOLONG)
		return fail(v, ENAMETOOLONG, "the path is too long once /proc/self is rewritten");
	if (r < 0)
		return fail(v, EACCES, "the caller's /proc does not say which entry is its own");
	if (r > 0)
		*path = rewritten;
	*dirfd = rootfd;
	how->resolve |= RESOLVE_IN_ROOT;
	return 0;
}

/* Opens path from dirfd as the caller (or as the supervisor): the fd, or
 * a negative errno; -EPERM with v->reason when the identity cannot be
 * taken on. */
static int open_as(verdict_t *v, int dirfd, const char *path, struct open_how *how)
{
	bool take = !v->as_supervisor && !same_ident(&caller.id, &broker.self);
	mode_t old_umask = 0;
	int fd, err;

	if (take && ident_take(&caller.id) < 0) {
		fail(v, EPERM, "the supervisor cannot take on the caller's identity");
		return -EPERM;
	}
	if (how->mode)
		old_umask = umask(0); /* the caller's umask is already applied */
	fd = (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
	err = errno;
	if (how->mode)
		umask(old_umask);
	if (take)
		ident_restore();
	return fd < 0 ? -err : fd;
}

/*
 * The open_how the kernel would build for the call (fs/open.c,
 * build_open_how), or for the verdict's own flags and mode: unknown flags
 * dropped, O_PATH keeping only the flags it allows, a mode only with
 * O_CREAT or O_TMPFILE. openat2 itself refuses what openat ignores.
 */
static void open_how_of(const call_t *c, const verdict_t *v, struct open_how *how)
{
	const uint64_t valid = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
			       O_NONBLOCK | O_SYNC | FASYNC | O_DIRECT | CALL_O_LARGEFILE |
			       O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH |
			       (__O_TMPFILE & ~O_DIRECTORY);
	bool own = v->flags < 0;

	how->flags = own ? c->flags : (uint64_t)v->flags;
	how->mode = v->mode >= 0 ? (uint64_t)v->mode : c->mode;
	how->resolve = own ? c->resolve : 0;
	if (own && c->nr == SYS_openat2)
		return; /* the caller's open_how, as it gave it */
	how->flags &= valid;
	if (how->flags & O_PATH)
		how->flags &= O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
	/* __O_TMPFILE holds O_DIRECTORY's bit too: test O_TMPFILE's own. */
	how->mode = (how->flags & (O_CREAT | (__O_TMPFILE & ~O_DIRECTORY))) ? how->mode & 07777 : 0;
}

/* ADDFD does not install O_PATH files (the kernel takes the source fd
 * with fget, which refuses them): an O_PATH open is brokered as a
 * read-only open of the same file, which the caller must then be allowed
 * to read. */
static void no_o_path(struct open_how *how)
{
	if (how->flags & O_PATH)
		how->flags = (how->flags & (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) | O_RDONLY;
}

int broker_open(target_t *t, call_t *c, verdict_t *v)
{
	struct open_how how = { 0 };
	const char *path = v->path;
	int rootfd = -1, dirfd = -1, fd = -1, r;
	bool cloexec;

	v->fd = -1;
	v->err = 0;
	if (!broker.ready && broker_init() < 0)
		return fail(v, EPERM, "the supervisor's identity could not be read");
	if (!path) {
		r = call_path(c);
		if (r == -ENOENT)
			return -ENOENT;
		if (r < 0 || c->path_state == 2)
			return fail(v, r == -ENAMETOOLONG ? ENAMETOOLONG : EFAULT,
				    "the call's path could not be read");
		path = c->path;
	}
	r = call_flags(c);
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return fail(v, EFAULT, "the call's open_how could not be read");
	open_how_of(c, v, &how);
	no_o_path(&how);
	cloexec = how.flags & O_CLOEXEC;
	how.flags |= O_CLOEXEC; /* in the supervisor; the caller's fd gets its own */

	caller.tgid = 0;
	r = read_caller(c->pid, &caller);
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return fail(v, EPERM, r == -E2BIG ? "the caller has too many groups to be taken on"
						 : "the caller's identity could not be read");
	how.mode &= ~(uint64_t)caller.cmask;
	if ((caller.id.caps[0].effective || caller.id.caps[1].effective) && !same_userns(c->pid))
		caller.id.caps[0].effective = caller.id.caps[1].effective = 0;

	rootfd = proc_fd(c->pid, "root", O_DIRECTORY);
	if (rootfd < 0) {
		r = rootfd == -ENOENT ? -ENOENT : fail(v, -rootfd, "the caller's root cannot be opened");
		goto out;
	}
	r = place(c, v, rootfd, &path, &how, &dirfd);
	if (r != 0)
		goto out;
	how.resolve |= RESOLVE_NO_MAGICLINKS;
	/* Everything read about the caller is its own only if the call is
	 * still there: else the tid may be someone else's by now. */
	if (receive_id_valid(t->d, t->listener, c->id) < 0) {
		r = -ENOENT;
		goto out;
	}
	if (c->tgid == 0)
		c->tgid = caller.tgid; /* for the log: once answered, /proc may not say */
	fd = open_as(v, dirfd, path, &how);
	if (fd < 0) {
		r = -fd; /* the open's own error, as the kernel would give it */
		goto out;
	}
	if (is_own_proc_entry(fd)) {
		r = fail(v, EACCES, "the path leads into the supervisor's own /proc entries");
		goto out;
	}
	r = install(t, c, v, fd, cloexec);
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0 && dirfd != rootfd)
		close(dirfd);
	if (rootfd >= 0)
		close(rootfd);
	if (r == 0 && v->fd < 0)
		r = EPERM; /* never report an answer that was not sent */
	if (r > 0)
		v->err = r;
	return r;
}
