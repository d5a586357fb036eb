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
 *    namespace: its capabilities mean nothing in ours), taken by the
 *    opening thread alone with raw syscalls (glibc's setgroups and capset
 *    wrappers would change every thread) and given back right after;
 *  - from its root: an absolute path resolves with RESOLVE_IN_ROOT under
 *    /proc/<tid>/root; a relative one from its cwd or dirfd, and under
 *    RESOLVE_BENEATH when its root is not the supervisor's, so ".." cannot
 *    leave the directory for a root the target cannot see;
 *  - never through a magic link (RESOLVE_NO_MAGICLINKS), and never into
 *    the supervisor's own /proc entries: /proc/self in the supervisor is
 *    the supervisor. A leading /proc/self (/proc/thread-self) is rewritten
 *    to the caller's own entry; a file that turns out, once open, to be an
 *    entry of any task of the supervisor's thread group fails with EACCES;
 *  - never as the supervisor's terminal: O_NOCTTY always, and /dev/tty
 *    (which names the opener's controlling terminal) fails with ENXIO.
 * The umask applied to a created file is the caller's.
 *
 * The open runs off the loop, on a worker of a pool (work.c): a FIFO, a
 * device, NFS or FUSE can make it block for as long as the target likes,
 * and the loop serves everyone. The loop reads what the handler read
 * (the path, the flags), copies it into a job preallocated per slot and
 * goes on; the worker reads the caller's identity, opens, checks, and
 * answers the call itself (ADDFD, or the error); the loop counts and
 * logs it when the worker posts it back. At most BROKER_PER_TARGET opens
 * of one target are in flight (the loop stops receiving its calls
 * meanwhile), BROKER_THREADS in all (beyond: EAGAIN). An open still
 * running after broker_timeout_ms (the config's) is answered EINTR by the
 * loop and its worker interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "metrics.h"
#include "target.h"
#include "work.h"

#define BROKER_MAX_GROUPS 4096     /* supplementary groups of a caller we take on */
#define BROKER_STATUS_MAX 65536    /* /proc/<tid>/status, Groups line included */
#define BROKER_PROC_ROOT_INO 1     /* a procfs root's inode (PROC_ROOT_INO) */
#define BROKER_RESP_MAX 64         /* the kernel's seccomp_notif_resp fits */

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

int broker_proc_task(int procroot, const char *rest, pid_t child)
{
	char self[32], mine[16], task[96];
	size_t len = strcspn(rest, "/");
	ssize_t n;

	if (len == 0 || len > 10 || strspn(rest, "0123456789") < len)
		return 0; /* not a task's entry: /proc/sys, /proc/meminfo */
	/* /proc/self, read by this thread, is the supervisor's thread group
	 * as this procfs numbers it; none when it cannot see us at all (the
	 * procfs of a pid namespace below ours). */
	n = readlinkat(procroot, "self", self, sizeof(self) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -EACCES;
	self[n] = '\0';
	if (strlen(self) == len && memcmp(self, rest, len) == 0)
		return 1;
	/* The child that made the open (open_apart) is a copy of us; it is
	 * numbered as we number it only in our own namespace's procfs, and
	 * cannot be told in another's. */
	if (child > 0) {
		snprintf(mine, sizeof(mine), "%d", (int)getpid());
		if (strcmp(self, mine) != 0)
			return -EACCES;
		snprintf(mine, sizeof(mine), "%d", (int)child);
		if (strlen(mine) == len && memcmp(mine, rest, len) == 0)
			return 1;
	}
	/* Any thread of ours: workers, the watchdog, the metrics server. */
	snprintf(task, sizeof(task), "%s/task/%.*s", self, (int)len, rest);
	if (faccessat(procroot, task, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -EACCES;
}

/* The procfs root (inode 1 on the device dev) along the absolute path
 * link, walked from base one real directory at a time (no symlink, no
 * magic link): the fd, or a negative errno. rest: what follows it. */
static int proc_root_along(int base, const char *link, dev_t dev, const char **rest)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
				.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	const char *p = link;
	char name[NAME_MAX + 1];
	int fd = (int)syscall(SYS_openat2, base, ".", &how, sizeof(how)), root = -1;

	while (fd >= 0) {
		struct stat st;
		size_t len;
		int next;

		if (fstat(fd, &st) < 0)
			break;
		while (*p == '/')
			p++;
		/* The last procfs root on the way, not the first: a procfs
		 * bound inside another is where the file is. */
		if (st.st_dev == dev && st.st_ino == BROKER_PROC_ROOT_INO) {
			if (root >= 0)
				close(root);
			root = fd;
			fd = -1;
			*rest = p;
		}
		len = strcspn(p, "/");
		if (len == 0 || len > NAME_MAX)
			break;
		if (p[len + strspn(p + len, "/")] == '\0') {
			/* The file itself: every directory above it was seen. */
			if (fd >= 0)
				close(fd);
			return root >= 0 ? root : -EACCES;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		next = (int)syscall(SYS_openat2, fd >= 0 ? fd : root, name, &how, sizeof(how));
		if (fd >= 0)
			close(fd);
		fd = next;
	}
	if (fd >= 0)
		close(fd);
	if (root >= 0)
		close(root);
	return -EACCES;
}

/*
 * Whether fd, a file the broker just opened, is an entry of a task of the
 * supervisor's own thread group, in any procfs: 1 yes, 0 no, -EACCES when
 * it cannot be told (then it is refused too). Decided on the file, not on
 * the caller's string: whatever route led there (.., a symlink, a dirfd,
 * /proc/self, a thread id, /proc/<pid>/task/<tid>), the kernel's own path
 * of the open file names the procfs instance's root and the task below
 * it. That root is looked for in the supervisor's tree, then in the
 * caller's (a procfs mounted in its own mount namespace).
 */
static int own_proc_entry(int fd, int rootfd, pid_t child)
{
	struct statfs sf;
	struct stat st;
	char self[64], link[PATH_MAX];
	ssize_t n;
	int r = -EACCES;

	if (fstatfs(fd, &sf) < 0)
		return -EACCES;
	if (sf.f_type != PROC_SUPER_MAGIC)
		return 0;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, link, sizeof(link) - 1);
	if (n <= 0 || n == (ssize_t)sizeof(link) - 1 || link[0] != '/' || fstat(fd, &st) < 0)
		return -EACCES;
	link[n] = '\0';
	if (st.st_ino == BROKER_PROC_ROOT_INO)
		return 0; /* a procfs root itself: no task's */
	for (int i = 0; i < 2 && r == -EACCES; i++) {
		int base = i == 0 ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : rootfd;
		const char *rest = NULL;
		int root = base < 0 ? -EACCES : proc_root_along(base, link, st.st_dev, &rest);

		if (i == 0 && base >= 0)
			close(base);
		if (root < 0)
			continue;
		r = broker_proc_task(root, rest, child);
		close(root);
	}
	return r;
}

/* ---- the job: everything the open needs, copied, and its answer ---- */

struct broker_job {
	/* Set on the loop before the job starts; read-only afterwards. */
	int listener; /* a dup of the target's: the target may close meanwhile */
	unsigned long id_valid_ioctl;
	size_t resp_size;
	uint64_t id;
	pid_t pid; /* the calling thread */
	int nr;
	int dirfd; /* openat, openat2: the call's dirfd */
	char path[PATH_MAX];
	/* When the handler read c.abspath of the call's own path and it was
	 * joined to a directory: it, the path it was made of, and whether
	 * that directory is a root (RESOLVE_IN_ROOT); abs[0] = '\0' else. */
	char abs[PATH_MAX], abs_of[PATH_MAX];
	size_t abs_of_len;
	bool abs_root;
	pid_t apart; /* the child of open_apart that made the open, or 0 */
	struct open_how how;
	bool cloexec, as_supervisor;
	/* The worker's answer: fd in the caller, or err (reason: why, when
	 * not the open's own error); sent: 0 answered, -ENOENT the call was
	 * gone, -EINPROGRESS the loop had answered, another -errno. */
	int fd, err, sent;
	const char *reason;
	pid_t tgid;
	/* Responses as the kernel's size has them (8-byte aligned). */
	alignas(8) unsigned char resp[BROKER_RESP_MAX];      /* the worker's answer */
	alignas(8) unsigned char resp_loop[BROKER_RESP_MAX]; /* the loop's, while the worker runs */
	_Atomic bool answered; /* the worker's answer was taken */
	/* The loop's answer when the deadline passed (job_expire), and
	 * whether the call was counted and logged (job_finish). */
	int expire_sent;
	bool finished;
	/* What the loop logs once the call is answered (receive.c). */
	broker_pending_t pending;
};

static struct {
	work_pool_t *pool;
	sgd_t *d;
} pool;

static int job_fail(broker_job_t *j, int err, const char *reason)
{
	j->err = err;
	j->reason = reason;
	return err;
}

/* NOTIF_ID_VALID from a worker, with the ioctl number the loop found. */
static int job_id_valid(const broker_job_t *j)
{
	uint64_t id = j->id;

	while (ioctl(j->listener, j->id_valid_ioctl, &id) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Answers the job's call with err from buf (the worker's or the loop's:
 * both may answer at once, and the kernel takes one): 0, or the negative
 * errno of the send. */
static int send_err(broker_job_t *j, unsigned char *buf, int err)
{
	struct seccomp_notif_resp *resp = (struct seccomp_notif_resp *)(void *)buf;

	memset(buf, 0, j->resp_size);
	resp->id = j->id;
	resp->error = -err;
	while (ioctl(j->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * The caller's pid and tid as its /proc (under rootfd) numbers them: that
 * procfs belongs to some pid namespace, and /proc/self there names the
 * reader in it. If it shows the supervisor under its own pid, the procfs
 * is the supervisor's namespace's and the caller's numbers are ours; if
 * the supervisor is not in it at all, it is the caller's own namespace's
 * (the innermost). Anything else: -EACCES, nothing is guessed.
 */
static int proc_numbers(int rootfd, const broker_job_t *j, int *tgid, int *tid)
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
	*tgid = caller.tgid;
	*tid = j->pid;
	return *tgid > 0 ? 1 : -EACCES;
}

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

/* The directory a relative path of the call starts from: its dirfd, or
 * its cwd. */
static int base_dir(const broker_job_t *j)
{
	char what[32];
	int fd;

	if ((j->nr != SYS_openat && j->nr != SYS_openat2) || j->dirfd == AT_FDCWD)
		return proc_fd(j->pid, "cwd", O_DIRECTORY);
	if (j->dirfd < 0)
		return -EBADF;
	snprintf(what, sizeof(what), "fd/%d", j->dirfd);
	fd = proc_fd(j->pid, what, 0);
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

/* Whether dirfd, the directory the open will start from, is the one the
 * handler's c.abspath was made from. Another thread sharing the caller's
 * cwd (or its fd table) can chdir (or dup2 another directory onto the
 * dirfd) between the handler's look and this open: the fd is what will be
 * used, so its path is what is compared. */
static bool same_base(const broker_job_t *j, int dirfd)
{
	static _Thread_local char base[PATH_MAX];
	char self[64];
	ssize_t n;

	if (!j->abs[0])
		return true;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", dirfd);
	n = readlink(self, base, sizeof(base) - 1);
	if (n < 0)
		return false;
	base[n] = '\0';
	return call_abspath_from(j->abs, j->abs_of, j->abs_of_len, base, j->abs_root);
}

/* Where the open starts (dirfd) and how it resolves, for *path. 0, a
 * positive errno for the call, or -ENOENT when the caller is gone. *path
 * may be replaced by its /proc/self rewrite. */
static int place(broker_job_t *j, int rootfd, const char **path, int *dirfd)
{
	static _Thread_local char rewritten[PATH_MAX];
	struct open_how *how = &j->how;
	int r, tgid, tid;

	if ((*path)[0] != '/' || (how->resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH))) {
		*dirfd = base_dir(j);
		if (*dirfd < 0)
			return *dirfd == -ENOENT ? -ENOENT : -*dirfd;
		if (!same_base(j, *dirfd))
			return job_fail(j, EPERM, "the caller's working directory (or dirfd) is not "
						  "the one the handler saw in c.abspath");
		if (!(how->resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH)) && !same_root(rootfd))
			how->resolve |= RESOLVE_BENEATH;
		return 0;
	}
	/* Only a path that starts with /proc/self or /proc/thread-self needs
	 * the caller's numbers (a dry run of the rewrite tells). */
	r = broker_proc_self(*path, 1, 1, rewritten, sizeof(rewritten));
	if (r > 0)
		r = proc_numbers(rootfd, j, &tgid, &tid);
	if (r > 0)
		r = broker_proc_self(*path, tgid, tid, rewritten, sizeof(rewritten));
	if (r == -ENAMETOOLONG)
		return job_fail(j, ENAMETOOLONG, "the path is too long once /proc/self is rewritten");
	if (r < 0)
		return job_fail(j, EACCES, "the caller's /proc does not say which entry is its own");
	if (r > 0)
		*path = rewritten;
	*dirfd = rootfd;
	how->resolve |= RESOLVE_IN_ROOT;
	return 0;
}

/* Opens path from dirfd as the caller (or as the supervisor): the fd, or
 * a negative errno; -EPERM with a reason when the identity cannot be
 * taken on. The worker's umask is 0 (broker_thread_init): the caller's
 * is already applied to the mode. A signal that is not the deadline's
 * (one meant for the job before) does not end the open. */
/* The child of open_apart: the open again, its fd sent over sock. Only
 * raw system calls: it is a copy of one thread of a threaded process. */
static void open_apart_child(const broker_job_t *j, int dirfd, const char *path, int sock)
{
	alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int fd = (int)syscall(SYS_openat2, dirfd, path, &j->how, sizeof(j->how));

	if (fd < 0)
		syscall(SYS_exit_group, errno > 0 && errno < 256 ? errno : EACCES);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	syscall(SYS_exit_group, sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : EACCES);
}

/*
 * A file on procfs is opened again by a child process that shares no
 * thread group with the supervisor, with the caller's identity (taken
 * on by this thread, and so the child's). The kernel lets any thread of
 * a process into its own /proc/<pid>/mem, environ, maps and the like
 * without a ptrace check: opened by a worker, a route to the
 * supervisor's own entries that no path check foresaw (a procfs bind
 * mounted anywhere in the caller's mount namespace, nested in another)
 * would be let through. From the child the kernel checks the caller's
 * access as it would the caller's own open, and the supervisor is not
 * dumpable. The fd or a negative errno; a deadline ends the child.
 */
static int open_apart(broker_job_t *j, int dirfd, const char *path)
{
	alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int sv[2], fd = -1, st = 0;
	ssize_t n;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* No exit signal (nothing else here waits for it), no shared memory. */
	pid = (pid_t)syscall(SYS_clone, 0UL, NULL, NULL, NULL, NULL);
	if (pid == 0)
		open_apart_child(j, dirfd, path, sv[1]);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -EAGAIN;
	}
	j->apart = pid;
	do {
		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR && work_expired(j))
			kill(pid, SIGKILL);
	} while (n < 0 && errno == EINTR);
	cm = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(sv[0]);
	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	if (fd >= 0)
		return fd;
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		return -WEXITSTATUS(st);
	return work_expired(j) ? -EINTR : -EACCES;
}

static bool on_procfs(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) < 0 || sf.f_type == PROC_SUPER_MAGIC;
}

static int open_as(broker_job_t *j, int dirfd, const char *path)
{
	bool take = !j->as_supervisor && !same_ident(&caller.id, &broker.self);
	int fd, err;

	if (take && ident_take(&caller.id) < 0) {
		job_fail(j, EPERM, "the supervisor cannot take on the caller's identity");
		return -EPERM;
	}
	do {
		fd = (int)syscall(SYS_openat2, dirfd, path, &j->how, sizeof(j->how));
		err = errno;
	} while (fd < 0 && err == EINTR && !work_expired(j));
	if (fd >= 0 && on_procfs(fd)) {
		close(fd);
		fd = open_apart(j, dirfd, path);
		err = -fd;
	}
	if (take)
		ident_restore();
	return fd < 0 ? -err : fd;
}

/* The device of /dev/tty: opened, it is the opener's controlling terminal. */
static bool is_dev_tty(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(5, 0);
}

/* Installs fd in the caller and answers the call with it: 0 with j->fd,
 * -ENOENT when the call is gone or was answered already, or the errno
 * the call fails with. */
static int install(broker_job_t *j, int fd)
{
	struct seccomp_notif_addfd addfd = {
		.id = j->id,
		.flags = SECCOMP_ADDFD_FLAG_SEND,
		.srcfd = (uint32_t)fd,
		.newfd_flags = j->cloexec ? O_CLOEXEC : 0,
	};
	int r;

	/* An interrupted ADDFD has either installed the fd or been taken
	 * back by the kernel: trying again is safe. */
	do
		r = ioctl(j->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	while (r < 0 && errno == EINTR);
	if (r >= 0) {
		j->fd = r;
		/* Now, not when the worker is back: a deadline that passes
		 * in between must not take the installed fd for a call gone. */
		atomic_store(&j->answered, true);
		return 0;
	}
	/* ENOENT: the call is gone; EINPROGRESS: the loop answered it at
	 * the deadline. Either way the fd is the supervisor's to close. */
	if (errno == ENOENT || errno == EINPROGRESS)
		return -ENOENT;
	/* EMFILE at the caller's RLIMIT_NOFILE, and the like: the call fails
	 * as the kernel's own open would. */
	return job_fail(j, errno, "the fd could not be installed in the caller");
}

/* The open itself, on a worker: the fd installed (0), -ENOENT when the
 * call is gone, or a positive errno for the call (j->err). */
static int job_open(broker_job_t *j)
{
	const char *path = j->path;
	int rootfd = -1, dirfd = -1, fd = -1, r;

	caller.tgid = 0;
	r = read_caller(j->pid, &caller);
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return job_fail(j, EPERM, r == -E2BIG ? "the caller has too many groups to be taken on"
						     : "the caller's identity could not be read");
	j->how.mode &= ~(uint64_t)caller.cmask;
	if ((caller.id.caps[0].effective || caller.id.caps[1].effective) && !same_userns(j->pid))
		caller.id.caps[0].effective = caller.id.caps[1].effective = 0;

	rootfd = proc_fd(j->pid, "root", O_DIRECTORY);
	if (rootfd < 0) {
		r = rootfd == -ENOENT ? -ENOENT : job_fail(j, -rootfd, "the caller's root cannot be opened");
		goto out;
	}
	r = place(j, rootfd, &path, &dirfd);
	if (r != 0)
		goto out;
	j->how.resolve |= RESOLVE_NO_MAGICLINKS;
	/* Everything read about the caller is its own only if the call is
	 * still there: else the tid may be someone else's by now. */
	if (job_id_valid(j) < 0) {
		r = -ENOENT;
		goto out;
	}
	j->tgid = caller.tgid; /* for the log: once answered, /proc may not say */
	fd = open_as(j, dirfd, path);
	if (fd < 0) {
		r = -fd; /* the open's own error, as the kernel would give it */
		goto out;
	}
	r = own_proc_entry(fd, rootfd, j->apart);
	if (r != 0) {
		r = job_fail(j, EACCES, r > 0 ? "the path leads into the supervisor's own /proc entries"
					      : "the file is in a /proc whose owner cannot be told");
		goto out;
	}
	/* /dev/tty is the opener's terminal: opened here, the supervisor's.
	 * The caller gets what the kernel gives a process without one. */
	if (is_dev_tty(fd)) {
		r = job_fail(j, ENXIO, "/dev/tty would be the supervisor's terminal, not the caller's");
		goto out;
	}
	r = install(j, fd);
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0 && dirfd != rootfd)
		close(dirfd);
	if (rootfd >= 0)
		close(rootfd);
	return r;
}

/* work_conf_t.run, on a worker: the open and the call's answer. */
static void job_run(void *arg)
{
	broker_job_t *j = arg;
	int r = job_open(j);

	if (r == 0) {
		j->sent = 0;
	} else if (r == -ENOENT) {
		j->sent = -ENOENT;
	} else {
		if (r < 0 || r > 4095)
			r = job_fail(j, EPERM, "the brokered open failed");
		j->err = r;
		j->sent = send_err(j, j->resp, r);
	}
	if (j->sent == 0)
		atomic_store(&j->answered, true);
}

/* The call of j is answered (sent: 0, or -ENOENT when it was gone, or
 * the answer's -errno), with the outcome in j->pending.v: it is counted
 * and logged, once, and no longer holds its target. back: the worker is
 * back, and what it wrote may be read. */
static void job_finish(broker_job_t *j, int sent, bool back)
{
	target_t *t = (target_t *)work_owner(pool.pool, j);

	j->finished = true;
	if (!t)
		return;
	if (j->pending.tgid == 0 && back)
		j->pending.tgid = j->tgid;
	receive_open_done(t, &j->pending, sent);
	target_job_end(t); /* may free t */
}

static void outcome(broker_job_t *j, int fd, int err, const char *reason)
{
	j->pending.v.fd = fd;
	j->pending.v.err = err;
	j->pending.v.reason = reason;
}

/* work_conf_t.expire, on the loop: the open is still going at its
 * deadline. The call is answered EINTR now, as a FIFO open interrupted
 * by a signal would be; the worker's answer, if it comes, is refused by
 * the kernel (a call is answered once). The call is finished here unless
 * the worker answered it first. */
static void job_expire(void *arg)
{
	broker_job_t *j = arg;

	j->expire_sent = send_err(j, j->resp_loop, EINTR);
	if (j->expire_sent == 0) {
		outcome(j, -1, EINTR, "the open did not end before its deadline");
		job_finish(j, 0, false);
	} else if (j->expire_sent == -ENOENT && !atomic_load(&j->answered)) {
		outcome(j, -1, 0, NULL);
		job_finish(j, -ENOENT, false); /* gone, and its worker may never be back */
	}
}

/* work_conf_t.done, on the loop: the worker is back. */
static void job_done(void *arg, bool expired)
{
	broker_job_t *j = arg;
	target_t *t = (target_t *)work_owner(pool.pool, j);
	int sent;

	(void)expired;
	/* Its slot is free once this returns: t's calls may come again. */
	if (t)
		target_unhold(t);
	if (!j->finished) {
		if (!work_ran(j)) {
			outcome(j, -1, EPERM, "a worker of the broker could not be set up");
			sent = send_err(j, j->resp_loop, EPERM);
		} else {
			outcome(j, j->sent == 0 && j->err == 0 ? j->fd : -1, j->err, j->reason);
			sent = j->sent == -EINPROGRESS ? -ENOENT : j->sent;
		}
		job_finish(j, sent, true);
	}
	close(j->listener);
	j->listener = -1;
}

/* work_conf_t.lost, on the loop: said once per worker, since it may
 * never come back and the pool is smaller by one until it does. */
static void job_lost(void *arg)
{
	const broker_job_t *j = arg;
	work_stats_t st;

	work_stats(pool.pool, &st);
	log_supervisor("error",
		       "a brokered open of %s did not end when its worker was interrupted; "
		       "%llu worker(s) of %d lost so far",
		       j->path, (unsigned long long)st.lost, BROKER_THREADS);
}

/* work_conf_t.thread_init: a worker's own umask (the process's is shared
 * by every thread, and the loop creates files too): fs_struct unshared,
 * then 0 for good, since the caller's umask is applied to the mode. */
static int broker_thread_init(void)
{
	if (unshare(CLONE_FS) < 0)
		return -errno;
	umask(0);
	return 0;
}

int broker_start(sgd_t *d)
{
	const work_conf_t conf = {
		.threads = BROKER_THREADS,
		.per_owner = BROKER_PER_TARGET,
		.job_size = sizeof(broker_job_t),
		.deadline_ms = d->cfg->broker_timeout_ms ? d->cfg->broker_timeout_ms
							 : CONFIG_BROKER_TIMEOUT_MS,
		.thread_init = broker_thread_init,
		.run = job_run,
		.expire = job_expire,
		.done = job_done,
		.lost = job_lost,
	};
	int r = broker_init();

	if (r < 0)
		return r;
	if (d->resp_size > BROKER_RESP_MAX)
		return -EOVERFLOW;
	r = work_new(d->loop, &conf, &pool.pool);
	if (r < 0)
		return r;
	pool.d = d;
	return 0;
}

/* A stop: the call of a job still out will not be counted nor logged
 * (its worker answers it, or the listener's closing does); its target
 * need not wait for it. */
static void job_abandon(void *arg, void *unused)
{
	broker_job_t *j = arg;
	target_t *t = (target_t *)work_owner(pool.pool, j);

	(void)unused;
	if (j->finished)
		return;
	j->finished = true;
	if (t) {
		metrics_abandoned(t);
		target_job_end(t); /* may free t */
	}
}

void broker_stop(void)
{
	work_reap(pool.pool);
	work_for_each(pool.pool, job_abandon, NULL);
	work_close(pool.pool);
}

void broker_free(void)
{
	work_free(pool.pool);
	pool.pool = NULL;
}

bool broker_full(const target_t *t)
{
	return pool.pool && work_in_flight(pool.pool, t) >= BROKER_PER_TARGET;
}

unsigned broker_in_flight(const target_t *t)
{
	return pool.pool ? work_in_flight(pool.pool, t) : 0;
}

void broker_flush(target_t *t)
{
	if (pool.pool)
		work_expire_owner(pool.pool, t);
}

void broker_release(target_t *t)
{
	if (pool.pool)
		work_disown(pool.pool, t);
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

/* Says why a brokered open failed, when that is not the open's own error. */
static int fail(verdict_t *v, int err, const char *reason)
{
	v->err = err;
	v->reason = reason;
	return err;
}

/* What the worker needs to check that the open starts from the directory
 * the handler's c.abspath was made from: only when the call's own path is
 * opened and a directory was joined to it (call_flags was read). */
static void abspath_to_job(const call_t *c, const char *path, broker_job_t *j)
{
	j->abs_root = c->nr == SYS_openat2 && (c->resolve & RESOLVE_IN_ROOT);
	j->abs[0] = '\0';
	if (path != c->path || c->abspath_state[0] != 1 || (path[0] == '/' && !j->abs_root))
		return;
	memcpy(j->abs, c->abspath[0], strlen(c->abspath[0]) + 1);
	memcpy(j->abs_of, c->path, c->path_len + 1);
	j->abs_of_len = c->path_len;
}

int broker_open(target_t *t, call_t *c, verdict_t *v, broker_pending_t **pending)
{
	const char *path = v->path;
	broker_job_t *j;
	size_t len;
	int r;

	v->fd = -1;
	v->err = 0;
	*pending = NULL;
	if (!pool.pool)
		return fail(v, EPERM, "the broker is not running");
	if (!path) {
		r = call_path(c);
		if (r == -ENOENT)
			return -ENOENT;
		if (r < 0 || c->path_state == 2)
			return fail(v, r == -ENAMETOOLONG ? ENAMETOOLONG : EFAULT,
				    "the call's path could not be read");
		path = c->path;
	}
	len = strlen(path);
	if (len >= PATH_MAX)
		return fail(v, ENAMETOOLONG, "the path to open is too long");
	r = call_flags(c);
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return fail(v, EFAULT, "the call's open_how could not be read");
	j = work_take(pool.pool, t);
	if (!j)
		return fail(v, EAGAIN, "every worker of the broker is busy");
	j->listener = fcntl(t->listener, F_DUPFD_CLOEXEC, 0);
	if (j->listener < 0) {
		r = errno;
		work_put(pool.pool, j);
		return fail(v, r, "the listener could not be handed to a worker");
	}
	memcpy(j->path, path, len + 1);
	abspath_to_job(c, path, j);
	memset(&j->how, 0, sizeof(j->how));
	open_how_of(c, v, &j->how);
	no_o_path(&j->how);
	j->cloexec = j->how.flags & O_CLOEXEC;
	/* O_CLOEXEC in the supervisor (the caller's fd gets its own); never
	 * a terminal for the supervisor's session (O_NOCTTY). */
	j->how.flags |= O_CLOEXEC | O_NOCTTY;
	j->id_valid_ioctl = t->d->id_valid_ioctl;
	j->resp_size = t->d->resp_size;
	j->id = c->id;
	j->pid = c->pid;
	j->apart = 0;
	j->nr = c->nr;
	j->dirfd = (int)c->args[0];
	j->as_supervisor = v->as_supervisor;
	j->fd = -1;
	j->err = 0;
	j->sent = 0;
	j->reason = NULL;
	j->tgid = 0;
	j->expire_sent = -ENOENT;
	j->finished = false;
	atomic_store(&j->answered, false);
	r = work_start(pool.pool, j);
	if (r < 0) {
		close(j->listener);
		return fail(v, EAGAIN, "no worker of the broker could be started");
	}
	target_job_begin(t);
	*pending = &j->pending;
	return -EINPROGRESS;
}
