/*
 * The call object's lazy decoding: pointer arguments are read from the
 * target only when a handler asks, through the reader the notify layer (or
 * a test) put in the call, and at most once per call.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <string.h>
#include <sys/syscall.h>

#include "call.h"
#include "names.h"

void call_reset(call_t *c)
{
	c->mem_reads = 0;
	c->tgid = 0;
	c->ident_state = 0;
	c->path_state = 0;
	c->path_len = 0;
	c->path[0] = '\0';
	c->path2_state = 0;
	c->path2_len = 0;
	c->path2[0] = '\0';
	c->addr_state = 0;
	c->argv.state = 0;
	c->envp.state = 0;
	c->abspath_state[0] = c->abspath_state[1] = 0;
	c->flags_state = 0;
	c->flags_kind = CALL_FLAGS_NONE;
}

/*
 * The path arguments of x86_64's path-taking syscalls: the index of the
 * first and second path (-1: none). For two-path calls the first is the
 * one the call acts on first (rename's old name, link's target, mount's
 * source); docs/README say which is which.
 */
static void path_args(int nr, int *p1, int *p2)
{
	*p1 = *p2 = -1;
	switch (nr) {
	case SYS_open: case SYS_creat: case SYS_execve:
	case SYS_stat: case SYS_lstat: case SYS_access:
	case SYS_unlink: case SYS_rmdir: case SYS_mkdir: case SYS_mknod:
	case SYS_readlink: case SYS_chmod: case SYS_chown: case SYS_lchown:
	case SYS_utime: case SYS_utimes: case SYS_truncate:
	case SYS_chdir: case SYS_chroot: case SYS_umount2:
	case SYS_setxattr: case SYS_lsetxattr: case SYS_getxattr: case SYS_lgetxattr:
	case SYS_listxattr: case SYS_llistxattr: case SYS_removexattr: case SYS_lremovexattr:
	case SYS_statfs: case SYS_swapon: case SYS_swapoff: case SYS_acct:
		*p1 = 0;
		break;
	case SYS_openat: case SYS_openat2: case SYS_execveat:
	case SYS_newfstatat: case SYS_statx: case SYS_faccessat: case SYS_faccessat2:
	case SYS_unlinkat: case SYS_mkdirat: case SYS_mknodat: case SYS_readlinkat:
	case SYS_fchmodat: case SYS_fchownat: case SYS_utimensat: case SYS_futimesat:
	case SYS_inotify_add_watch: case SYS_name_to_handle_at:
#ifdef SYS_fchmodat2
	case SYS_fchmodat2:
#endif
		*p1 = 1;
		break;
	case SYS_rename: case SYS_link: case SYS_symlink: case SYS_pivot_root:
	case SYS_mount:
		*p1 = 0;
		*p2 = 1;
		break;
	case SYS_renameat: case SYS_renameat2: case SYS_linkat:
		*p1 = 1;
		*p2 = 3;
		break;
	case SYS_symlinkat:
		*p1 = 0;
		*p2 = 2;
		break;
	default:
		break;
	}
}

int call_path_arg(int nr)
{
	int p1, p2;

	path_args(nr, &p1, &p2);
	return p1;
}

int call_path2_arg(int nr)
{
	int p1, p2;

	path_args(nr, &p1, &p2);
	return p2;
}

/* Reads the path at argument idx into buf once; *state caches the result:
 * 1 read, 2 a NULL pointer (no path: utimensat on an fd), <0 -errno. */
static int read_path(call_t *c, int idx, char *buf, size_t cap, size_t *len, int *state)
{
	ssize_t n;

	if (*state != 0)
		return *state < 0 ? *state : 0;
	if (idx < 0 || !c->read_str)
		return -EINVAL;
	if (c->args[idx] == 0) {
		buf[0] = '\0';
		*len = 0;
		*state = 2;
		return 0;
	}
	c->mem_reads++;
	n = c->read_str(c->read_ctx, c, c->args[idx], buf, cap);
	if (n < 0) {
		buf[0] = '\0';
		*state = (int)n;
		return *state;
	}
	*len = (size_t)n;
	*state = 1;
	return 0;
}

int call_path(call_t *c)
{
	return read_path(c, call_path_arg(c->nr), c->path, sizeof(c->path), &c->path_len,
			 &c->path_state);
}

int call_path2(call_t *c)
{
	return read_path(c, call_path2_arg(c->nr), c->path2, sizeof(c->path2), &c->path2_len,
			 &c->path2_state);
}

int call_ident(call_t *c)
{
	if (c->ident_state == 0) {
		int r = c->ident_fn ? c->ident_fn(c->read_ctx, c, &c->ident) : -ENOSYS;

		c->ident_state = r < 0 ? r : 1;
	}
	return c->ident_state < 0 ? c->ident_state : 0;
}

pid_t call_tgid(call_t *c)
{
	if (c->tgid == 0)
		c->tgid = c->tgid_fn ? c->tgid_fn(c->read_ctx, c) : c->pid;
	return c->tgid;
}

/* Reads the struct open_how of openat2 or clone_args of clone3. */
static int read_struct_flags(call_t *c, uint64_t addr, uint64_t size, uint64_t *out, unsigned n)
{
	if (size < n * sizeof(uint64_t))
		return -EINVAL; /* the kernel refuses it: nothing to decide on */
	if (!c->read_mem)
		return -EFAULT;
	c->mem_reads++;
	return c->read_mem(c->read_ctx, c, addr, out, n * sizeof(uint64_t));
}

/*
 * open, openat and creat take an int of flags and a umode_t mode: the
 * kernel drops the register bits above those, keeps only the permission
 * bits of the mode, and ignores the mode altogether unless the call may
 * create a file (build_open_how() in fs/open.c). Decode what it acts on,
 * not what happens to be in the register: a mode left over from another
 * call must not make a read-only open look like a world-writable create.
 */
static void open_args(call_t *c, uint64_t flags, uint64_t mode)
{
	const uint32_t creates = O_CREAT | (O_TMPFILE & ~O_DIRECTORY);

	c->flags_kind = CALL_FLAGS_OPEN;
	c->flags = (uint32_t)flags;
	c->mode = (c->flags & creates) ? (uint16_t)mode & 07777 : 0;
}

static int decode_flags(call_t *c)
{
	uint64_t how[3];
	int r;

	c->mode = c->resolve = 0;
	switch (c->nr) {
	case SYS_open:
		open_args(c, c->args[1], c->args[2]);
		return 0;
	case SYS_creat:
		open_args(c, O_CREAT | O_WRONLY | O_TRUNC, c->args[1]);
		return 0;
	case SYS_openat:
		open_args(c, c->args[2], c->args[3]);
		return 0;
	case SYS_openat2:
		/* struct open_how { u64 flags, mode, resolve; } */
		r = read_struct_flags(c, c->args[2], c->args[3], how, 3);
		if (r < 0)
			return r;
		c->flags_kind = CALL_FLAGS_OPEN;
		c->flags = how[0];
		c->mode = how[1];
		c->resolve = how[2];
		return 0;
	case SYS_clone:
		/* The kernel reads only the low 32 bits of clone's flags (the
		 * flags above them are clone3's alone). */
		c->flags_kind = CALL_FLAGS_CLONE;
		c->flags = (uint32_t)c->args[0];
		return 0;
	case SYS_unshare:
		/* unshare takes the CLONE_NEW* (and FS, FILES, SYSVSEM) flags
		 * of clone, in a register. */
		c->flags_kind = CALL_FLAGS_CLONE;
		c->flags = c->args[0];
		return 0;
	case SYS_clone3:
		/* struct clone_args starts with u64 flags. */
		r = read_struct_flags(c, c->args[0], c->args[1], how, 1);
		if (r < 0)
			return r;
		c->flags_kind = CALL_FLAGS_CLONE;
		c->flags = how[0];
		return 0;
	default:
		return -EINVAL;
	}
}

bool call_is_open(int nr)
{
	return nr == SYS_open || nr == SYS_openat || nr == SYS_openat2 || nr == SYS_creat;
}

int call_flags(call_t *c)
{
	if (c->flags_state == 0) {
		int r = decode_flags(c);

		c->flags_state = r < 0 ? r : 1;
	}
	return c->flags_state < 0 ? c->flags_state : 0;
}

typedef struct flag_name {
	const char *name;
	uint64_t mask, value; /* set when (flags & mask) == value */
} flag_name_t;


#define F(x) { #x, x, x }
static const flag_name_t open_flags[] = {
	{ "O_RDONLY", O_ACCMODE, O_RDONLY },
	{ "O_WRONLY", O_ACCMODE, O_WRONLY },
	{ "O_RDWR", O_ACCMODE, O_RDWR },
	F(O_CREAT), F(O_EXCL), F(O_NOCTTY), F(O_TRUNC), F(O_APPEND), F(O_NONBLOCK),
	F(O_DSYNC), F(O_SYNC), F(O_DIRECT), F(O_DIRECTORY),
	{ "O_LARGEFILE", CALL_O_LARGEFILE, CALL_O_LARGEFILE },
	F(O_NOFOLLOW), F(O_NOATIME), F(O_CLOEXEC), F(O_PATH), F(O_TMPFILE),
};

static const flag_name_t clone_flags[] = {
	F(CLONE_VM), F(CLONE_FS), F(CLONE_FILES), F(CLONE_SIGHAND), F(CLONE_PIDFD),
	F(CLONE_PTRACE), F(CLONE_VFORK), F(CLONE_PARENT), F(CLONE_THREAD), F(CLONE_NEWNS),
	F(CLONE_SYSVSEM), F(CLONE_SETTLS), F(CLONE_PARENT_SETTID), F(CLONE_CHILD_CLEARTID),
	F(CLONE_DETACHED), F(CLONE_UNTRACED), F(CLONE_CHILD_SETTID), F(CLONE_NEWCGROUP),
	F(CLONE_NEWUTS), F(CLONE_NEWIPC), F(CLONE_NEWUSER), F(CLONE_NEWPID), F(CLONE_NEWNET),
	F(CLONE_IO), F(CLONE_NEWTIME),
	{ "CLONE_CLEAR_SIGHAND", 0x100000000ULL, 0x100000000ULL },
	{ "CLONE_INTO_CGROUP", 0x200000000ULL, 0x200000000ULL },
};
#undef F

int call_has_flag(call_flags_kind_t kind, uint64_t flags, const char *name)
{
	const flag_name_t *t = kind == CALL_FLAGS_OPEN ? open_flags : clone_flags;
	size_t n = kind == CALL_FLAGS_OPEN ? sizeof(open_flags) / sizeof(open_flags[0])
					   : sizeof(clone_flags) / sizeof(clone_flags[0]);

	if (kind == CALL_FLAGS_NONE)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return (flags & t[i].mask) == t[i].value;
	return -EINVAL;
}

void call_addr_decode(const void *sa, size_t len, call_addr_t *out)
{
	const unsigned char *b = sa;
	sa_family_t family;

	memset(out, 0, sizeof(*out));
	if (!sa || len < sizeof(family)) {
		out->family = AF_UNSPEC;
		snprintf(out->family_name, sizeof(out->family_name), "none");
		return;
	}
	memcpy(&family, b, sizeof(family));
	out->family = family;
	switch (family) {
	case AF_UNIX: {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;

		snprintf(out->family_name, sizeof(out->family_name), "unix");
		if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
			n = sizeof(((struct sockaddr_un *)0)->sun_path);
		if (n > 0 && b[off] == '\0') {
			/* Abstract: every byte of the name counts, NULs too; show
			 * them as '@' the way ss(8) and /proc/net/unix do. */
			out->abstract = true;
			out->path[0] = '@';
			for (size_t i = 1; i < n && i < sizeof(out->path) - 1; i++)
				out->path[i] = (char)(b[off + i] ? b[off + i] : '@');
		} else {
			size_t k = 0;

			while (k < n && k < sizeof(out->path) - 1 && b[off + k])
				k++;
			memcpy(out->path, b + off, k);
			out->path[k] = '\0';
		}
		break;
	}
	case AF_INET: {
		struct sockaddr_in in;

		snprintf(out->family_name, sizeof(out->family_name), "inet");
		memset(&in, 0, sizeof(in));
		memcpy(&in, b, len < sizeof(in) ? len : sizeof(in));
		inet_ntop(AF_INET, &in.sin_addr, out->ip, sizeof(out->ip));
		out->port = ntohs(in.sin_port);
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 in6;

		snprintf(out->family_name, sizeof(out->family_name), "inet6");
		memset(&in6, 0, sizeof(in6));
		memcpy(&in6, b, len < sizeof(in6) ? len : sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, out->ip, sizeof(out->ip));
		out->port = ntohs(in6.sin6_port);
		break;
	}
	case AF_NETLINK: {
		struct sockaddr_nl nl;

		snprintf(out->family_name, sizeof(out->family_name), "netlink");
		memset(&nl, 0, sizeof(nl));
		memcpy(&nl, b, len < sizeof(nl) ? len : sizeof(nl));
		out->nl_pid = nl.nl_pid;
		out->nl_groups = nl.nl_groups;
		break;
	}
	default:
		if (names_family(family))
			snprintf(out->family_name, sizeof(out->family_name), "%s", names_family(family));
		else
			snprintf(out->family_name, sizeof(out->family_name), "af%u", (unsigned)family);
		break;
	}
}

int call_signal_args(const call_t *c, int *sig, int64_t *pid, int64_t *tid)
{
	*pid = *tid = 0;
	switch (c->nr) {
	case SYS_kill:
		*pid = (int32_t)c->args[0];
		*sig = (int)c->args[1];
		return 0;
	case SYS_tkill:
		*tid = (int32_t)c->args[0];
		*sig = (int)c->args[1];
		return 0;
	case SYS_tgkill:
		*pid = (int32_t)c->args[0];
		*tid = (int32_t)c->args[1];
		*sig = (int)c->args[2];
		return 0;
	case SYS_rt_sigqueueinfo:
		*pid = (int32_t)c->args[0];
		*sig = (int)c->args[1];
		return 0;
	case SYS_rt_tgsigqueueinfo:
		*pid = (int32_t)c->args[0];
		*tid = (int32_t)c->args[1];
		*sig = (int)c->args[2];
		return 0;
	case SYS_pidfd_send_signal:
		*sig = (int)c->args[1];
		return 0;
	default:
		return -EINVAL;
	}
}

/* Where a call keeps its socket address: the pointer and length arguments,
 * or for sendmsg the struct msghdr that holds them. */
static int addr_location(call_t *c, uint64_t *ptr, uint64_t *len)
{
	struct msghdr mh;
	int r;

	switch (c->nr) {
	case SYS_connect:
	case SYS_bind:
		*ptr = c->args[1];
		*len = c->args[2];
		return 0;
	case SYS_sendto:
		*ptr = c->args[4];
		*len = c->args[5];
		return 0;
	case SYS_sendmsg:
		if (!c->read_mem)
			return -EFAULT;
		c->mem_reads++;
		r = c->read_mem(c->read_ctx, c, c->args[1], &mh, sizeof(mh));
		if (r < 0)
			return r;
		*ptr = (uint64_t)(uintptr_t)mh.msg_name;
		*len = mh.msg_namelen;
		return 0;
	default:
		return -EINVAL;
	}
}

int call_addr(call_t *c)
{
	struct sockaddr_storage ss;
	uint64_t ptr, len;
	int r;

	if (c->addr_state != 0)
		return c->addr_state < 0 ? c->addr_state : 0;
	r = addr_location(c, &ptr, &len);
	if (r == -EINVAL)
		return r; /* not a call with an address: nothing to cache */
	if (r == 0 && (ptr == 0 || len < sizeof(sa_family_t))) {
		/* No address (sendto on a connected socket), or one the kernel
		 * refuses anyway: decoded as none, nothing read. */
		call_addr_decode(NULL, 0, &c->addr);
		c->addr_state = 1;
		return 0;
	}
	if (r == 0 && !c->read_mem)
		r = -EFAULT;
	if (r == 0) {
		/* The kernel refuses more than a sockaddr_storage: read no more. */
		if (len > sizeof(ss))
			len = sizeof(ss);
		c->mem_reads++;
		r = c->read_mem(c->read_ctx, c, ptr, &ss, (size_t)len);
	}
	if (r < 0) {
		c->addr_state = r;
		return r;
	}
	call_addr_decode(&ss, (size_t)len, &c->addr);
	c->addr_state = 1;
	return 0;
}

/* Reads the NULL-terminated pointer array at addr one page at a time (a
 * read never crosses into a page that may be unmapped), then each string,
 * all within the bounds of call_strv_t. */
static int read_strv(call_t *c, uint64_t addr, call_strv_t *v)
{
	uint64_t ptrs[CALL_ARGV_MAX];
	unsigned n = 0;
	size_t used = 0;
	int r;

	v->count = 0;
	v->truncated = false;
	if (addr == 0)
		return 0; /* Linux takes a NULL argv or envp as empty */
	while (n < CALL_ARGV_MAX) {
		uint64_t at = addr + (uint64_t)n * sizeof(uint64_t);
		unsigned room = (unsigned)((4096 - (at & 4095)) / sizeof(uint64_t));
		unsigned k, want = room < CALL_ARGV_MAX - n ? room : CALL_ARGV_MAX - n;

		if (want == 0)
			want = 1;
		c->mem_reads++;
		r = c->read_mem(c->read_ctx, c, at, &ptrs[n], want * sizeof(uint64_t));
		if (r < 0)
			return r;
		for (k = 0; k < want && ptrs[n + k]; k++)
			;
		n += k;
		if (k < want)
			break; /* the NULL that ends it */
	}
	if (n == CALL_ARGV_MAX)
		v->truncated = true; /* at least as many as the bound; maybe more */
	for (unsigned i = 0; i < n; i++) {
		size_t cap = CALL_ARGV_BYTES - used;
		ssize_t len;

		if (cap > CALL_ARG_BYTES)
			cap = CALL_ARG_BYTES;
		if (cap < 2) {
			v->truncated = true;
			break;
		}
		c->mem_reads++;
		len = c->read_str(c->read_ctx, c, ptrs[i], v->buf + used, cap);
		if (len == -ENAMETOOLONG) {
			/* Longer than the bound: keep what fits, say so. The
			 * length is taken from the bytes, not assumed: a reader
			 * may have filled less than cap, and whatever it left
			 * in buf must not pass for the string's own bytes. */
			v->buf[used + cap - 1] = '\0';
			len = (ssize_t)strlen(v->buf + used);
			v->truncated = true;
		} else if (len < 0) {
			return (int)len;
		}
		v->off[i] = (uint32_t)used;
		v->len[i] = (uint32_t)len;
		used += (size_t)len + 1;
		v->count = i + 1;
	}
	return 0;
}

int call_strv(call_t *c, bool envp)
{
	call_strv_t *v = envp ? &c->envp : &c->argv;
	int idx;

	if (v->state != 0)
		return v->state < 0 ? v->state : 0;
	if (c->nr == SYS_execve)
		idx = envp ? 2 : 1;
	else if (c->nr == SYS_execveat)
		idx = envp ? 3 : 2;
	else
		return -EINVAL;
	if (!c->read_mem || !c->read_str)
		v->state = -EFAULT;
	else
		v->state = read_strv(c, c->args[idx], v);
	if (v->state == 0)
		v->state = 1;
	return v->state < 0 ? v->state : 0;
}

/* Folds "//", "." and ".." of the absolute path in buf, in place. ".."
 * never climbs above buf + floor (0: the root; openat2's RESOLVE_IN_ROOT:
 * the end of its dirfd's path, the root it resolves in). */
static void normalise(char *buf, size_t floor)
{
	char *out = buf + floor, *in = buf + floor;

	while (*in) {
		while (*in == '/')
			in++;
		if (!*in)
			break;
		if (in[0] == '.' && (in[1] == '/' || !in[1])) {
			in += 1;
			continue;
		}
		if (in[0] == '.' && in[1] == '.' && (in[2] == '/' || !in[2])) {
			in += 2;
			while (out > buf + floor && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		while (*in && *in != '/')
			*out++ = *in++;
	}
	if (out == buf)
		*out++ = '/';
	*out = '\0';
}

/* The dirfd argument a relative path is resolved from, or AT_FDCWD. */
static int path_dirfd(const call_t *c, int idx)
{
	switch (c->nr) {
	case SYS_open: case SYS_creat: case SYS_execve: case SYS_rename: case SYS_link:
	case SYS_symlink: case SYS_mount: case SYS_pivot_root:
		return AT_FDCWD;
	default:
		/* The *at calls (and inotify_add_watch, name_to_handle_at)
		 * take the dirfd right before the path; symlinkat's first
		 * path (the link's content) is not resolved, its second is
		 * from the dirfd before it. */
		return idx > 0 ? (int)c->args[idx - 1] : AT_FDCWD;
	}
}

/* Whether path of c resolves inside its dirfd as a root (openat2 with
 * RESOLVE_IN_ROOT): 1, 0, or a read's negative errno. */
static int in_root(call_t *c, bool second)
{
	int r;

	if (c->nr != SYS_openat2 || second)
		return 0;
	r = call_flags(c);
	if (r < 0)
		return r;
	return (c->resolve & RESOLVE_IN_ROOT) != 0;
}

/* The directory path of c is resolved from, into base (PATH_MAX bytes):
 * its length, or a negative errno. A link that does not fit is refused,
 * never cut: a cut base would name another directory. */
static ssize_t base_dir(call_t *c, int idx, char *base)
{
	char what[32];
	int fd = path_dirfd(c, idx);
	ssize_t n;

	if (fd == AT_FDCWD)
		snprintf(what, sizeof(what), "cwd");
	else
		snprintf(what, sizeof(what), "fd/%d", fd);
	n = c->read_link ? c->read_link(c->read_ctx, c, what, base, PATH_MAX) : -EFAULT;
	if (n >= 0 && (size_t)n >= PATH_MAX - 1)
		return -ENAMETOOLONG;
	return n;
}

/* base (n bytes) "/" path (plen bytes), normalised, into out (PATH_MAX
 * bytes): 0 or -ENAMETOOLONG. Under RESOLVE_IN_ROOT (root) the base is
 * "/": an absolute path starts there and ".." stops there. */
static int join_abs(char *out, const char *base, size_t n, const char *path, size_t plen,
		    bool root)
{
	if (n + 1 + plen + 1 > PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(out, base, n);
	out[n] = '/';
	memcpy(out + n + 1, path, plen + 1);
	normalise(out, root && n > 1 ? n : 0);
	return 0;
}

int call_abspath(call_t *c, bool second)
{
	int *state = &c->abspath_state[second];
	char *out = c->abspath[second], base[PATH_MAX];
	int idx = second ? call_path2_arg(c->nr) : call_path_arg(c->nr);
	const char *path;
	size_t plen;
	int r, root;
	ssize_t n = 0;

	if (*state != 0)
		return *state < 0 ? *state : 0;
	r = second ? call_path2(c) : call_path(c);
	if (r < 0)
		return r;
	if ((second ? c->path2_state : c->path_state) == 2)
		return -EINVAL; /* a NULL path: nothing to resolve */
	path = second ? c->path2 : c->path;
	plen = second ? c->path2_len : c->path_len;
	root = in_root(c, second);
	if (root < 0)
		return root; /* the flags' own read failed: not cached here */
	base[0] = '\0';
	if (path[0] != '/' || root)
		n = base_dir(c, idx, base);
	if (n >= 0 && base[0] != '\0' && base[0] != '/')
		/* Not a directory ("pipe:[12]", "anon_inode:..."): the kernel
		 * says ENOTDIR to a path from it; an empty path (AT_EMPTY_PATH)
		 * names the fd itself, whose link is all there is to show. */
		n = plen == 0 ? n : -ENOTDIR;
	if (n < 0) {
		*state = (int)n;
		return *state;
	}
	if (base[0] != '\0' && base[0] != '/') {
		memcpy(out, base, (size_t)n + 1);
		*state = 1;
		return 0;
	}
	r = join_abs(out, base, (size_t)n, path, plen, root);
	*state = r < 0 ? r : 1;
	return r;
}

bool call_abspath_from(const char *abspath, const char *path, size_t plen, const char *base,
		       bool root)
{
	char again[PATH_MAX];

	if (path[0] == '/' && !root)
		return true; /* no directory was joined to it */
	return join_abs(again, base, strlen(base), path, plen, root) == 0 &&
	       strcmp(again, abspath) == 0;
}
