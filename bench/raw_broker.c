/*
 * The raw C brokered open (raw_broker.h). It makes, per call, the system
 * calls supervisor/broker.c's broker_open makes for openat(AT_FDCWD,
 * "/absolute/path", flags) from a caller that shares the supervisor's
 * root, and no others:
 *
 *   open + read until EOF + close of /proc/<tid>/status, parsed for the
 *     fields broker.c reads (Uid, Gid, Groups, CapEff, Umask, Tgid, NStgid,
 *     NSpid);
 *   stat of /proc/<tid>/ns/user when the caller has capabilities;
 *   open of /proc/<tid>/root (O_PATH);
 *   NOTIF_ID_VALID;
 *   setgroups/setfsgid/setfsuid/capset and back, only when the caller's
 *     identity differs from the supervisor's;
 *   openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS from that root;
 *   fstatfs of the new fd (broker.c refuses the supervisor's own /proc);
 *   NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND; close of the fd and the root.
 *
 * The path itself was read (and ID_VALID checked) by the caller, as the
 * handler's c.path read serves broker.c. What broker.c does only for other
 * shapes of call (a relative path, a dirfd, /proc/self, O_CREAT, another
 * root) is left out: the benchmark never makes those calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raw_broker.h"

#define MAX_GROUPS 4096
#define STATUS_MAX 65536

typedef struct {
	uid_t fsuid;
	gid_t fsgid;
	size_t ngroups;
	gid_t groups[MAX_GROUPS];
	struct __user_cap_data_struct caps[2];
} ident_t;

static ident_t self, caller;
static ino_t self_userns;
static char status[STATUS_MAX];

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

int raw_broker_init(void)
{
	struct stat st;
	int n = getgroups(MAX_GROUPS, self.groups);

	if (n < 0 || stat("/proc/self/ns/user", &st) < 0)
		return -errno;
	self.fsuid = geteuid();
	self.fsgid = getegid();
	self.ngroups = (size_t)n;
	self_userns = st.st_ino;
	return cap_get(self.caps);
}

/* The n-th number of the "Key:" line, in base; 0 or -EPROTO. */
static int field(const char *key, int n, int base, unsigned long long *out)
{
	const char *p = strstr(status, key);
	char *end;

	if (!p)
		return -EPROTO;
	p += strlen(key);
	for (int i = 0; i <= n; i++) {
		*out = strtoull(p, &end, base);
		if (end == p)
			return -EPROTO;
		p = end;
	}
	return 0;
}

/* The last number of the "Key:" line (NStgid, NSpid: innermost namespace). */
static long field_last(const char *key)
{
	const char *p = strstr(status, key);
	long v = -1;
	char *end;

	if (!p)
		return -1;
	for (p += strlen(key);; p = end) {
		long x = strtol(p, &end, 10);

		if (end == p || *p == '\n')
			return v;
		v = x;
	}
}

static int groups(ident_t *id)
{
	const char *p = strstr(status, "\nGroups:");
	char *end;

	if (!p)
		return -EPROTO;
	id->ngroups = 0;
	for (p += 8; *p != '\n' && *p != '\0'; p = end) {
		unsigned long g = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (id->ngroups == MAX_GROUPS)
			return -E2BIG;
		id->groups[id->ngroups++] = (gid_t)g;
	}
	return 0;
}

/* /proc/<tid>/status read whole and parsed, as broker.c's read_caller. */
static int read_caller(pid_t tid)
{
	unsigned long long uid, gid, eff, umask_, tgid;
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	while ((n = read(fd, status + len, sizeof(status) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		return -ENOENT;
	status[len] = '\0';
	memset(caller.caps, 0, sizeof(caller.caps));
	if (field("\nUid:", 3, 10, &uid) < 0 || field("\nGid:", 3, 10, &gid) < 0 ||
	    groups(&caller) < 0 || field("\nCapEff:", 0, 16, &eff) < 0)
		return -EPERM;
	caller.fsuid = (uid_t)uid;
	caller.fsgid = (gid_t)gid;
	caller.caps[0].effective = (uint32_t)eff;
	caller.caps[1].effective = (uint32_t)(eff >> 32);
	/* Read as broker.c reads them; a plain open uses none of them. */
	(void)field("\nUmask:", 0, 8, &umask_);
	(void)field("\nTgid:", 0, 10, &tgid);
	(void)field_last("\nNStgid:");
	(void)field_last("\nNSpid:");
	return 0;
}

static bool same_userns(pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)tid);
	return stat(path, &st) == 0 && st.st_ino == self_userns;
}

static bool same_ident(const ident_t *a, const ident_t *b)
{
	return a->fsuid == b->fsuid && a->fsgid == b->fsgid && a->ngroups == b->ngroups &&
	       memcmp(a->groups, b->groups, a->ngroups * sizeof(a->groups[0])) == 0 &&
	       a->caps[0].effective == b->caps[0].effective &&
	       a->caps[1].effective == b->caps[1].effective;
}

static void ident_set(const ident_t *id, const struct __user_cap_data_struct caps[2])
{
	syscall(SYS_setgroups, id->ngroups, id->groups);
	syscall(SYS_setfsgid, id->fsgid);
	syscall(SYS_setfsuid, id->fsuid);
	syscall(SYS_setfsgid, -1);
	syscall(SYS_setfsuid, -1);
	cap_set(caps);
}

/* openat2 as the caller: its identity taken on only when it differs. */
static int open_as(int rootfd, const char *path, const struct open_how *how)
{
	bool take = !same_ident(&caller, &self);
	int fd, err;

	if (take) {
		struct __user_cap_data_struct caps[2];

		for (int i = 0; i < 2; i++) {
			caps[i] = self.caps[i];
			caps[i].effective &= caller.caps[i].effective;
		}
		ident_set(&caller, caps);
	}
	fd = (int)syscall(SYS_openat2, rootfd, path, how, sizeof(*how));
	err = errno;
	if (take) {
		cap_set(self.caps); /* first: setgroups needs CAP_SETGID back */
		ident_set(&self, self.caps);
	}
	return fd < 0 ? -err : fd;
}

int raw_broker_open(int listener, const struct seccomp_notif *req, const char *path)
{
	struct open_how how = { .flags = (req->data.args[2] & 0xffffffffu) | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	bool cloexec = req->data.args[2] & O_CLOEXEC;
	pid_t tid = (pid_t)req->pid;
	uint64_t id = req->id;
	struct seccomp_notif_addfd addfd = { .id = id, .flags = SECCOMP_ADDFD_FLAG_SEND,
					     .newfd_flags = cloexec ? O_CLOEXEC : 0 };
	struct statfs sf;
	char root[64];
	int rootfd, fd, r;

	r = read_caller(tid);
	if (r < 0)
		return r;
	if ((caller.caps[0].effective || caller.caps[1].effective) && !same_userns(tid))
		caller.caps[0].effective = caller.caps[1].effective = 0;
	snprintf(root, sizeof(root), "/proc/%d/root", (int)tid);
	rootfd = open(root, O_PATH | O_CLOEXEC | O_DIRECTORY);
	if (rootfd < 0)
		return -ENOENT;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) {
		close(rootfd);
		return -ENOENT;
	}
	fd = open_as(rootfd, path, &how);
	close(rootfd);
	if (fd < 0)
		return fd;
	addfd.srcfd = (uint32_t)fd;
	if (fstatfs(fd, &sf) < 0 || sf.f_type == PROC_SUPER_MAGIC)
		r = -EACCES; /* the benchmark never opens /proc */
	else
		r = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 ? -errno : 0;
	close(fd);
	return r;
}
