/*
 * The call object: one notified syscall as the policy engine sees it.
 *
 * The notify layer fills the raw part from the kernel's notification and
 * gives a memory reader; the engine decodes pointer arguments through that
 * reader only when a handler asks for them. Unit tests fill the struct by
 * hand and give a fake reader, so the engine runs without a kernel.
 */
#ifndef SG_CALL_H
#define SG_CALL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sysgate/protocol.h"

struct call;

/* Who a target is, as handlers see it in c.target (policy.c reads it
 * there on demand: nothing of it is copied into a Lua state). Owned by the
 * target. */
typedef struct call_target {
	uint64_t id;
	const char *policy;
	const sg_hello_t *hello; /* labels; may be NULL */
	pid_t pid;               /* the process sysgate-run became */
	uid_t uid;               /* the launcher's: the tenant (tenant.h) */
	char uid_label[12];      /* uid in decimal: the sysgate.uid label (label.h) */
	unsigned parked;         /* its calls waiting in a throttle now (limit.c's cap) */
	unsigned tenant_slot;    /* its launcher's key tables in the policy's limits (limit.h) */
} call_target_t;

/*
 * Reads a NUL-terminated string at addr of the calling task into buf (cap
 * bytes, NUL included) and checks that the notification is still valid
 * after the read. Returns the length without NUL, -EFAULT for an unmapped
 * address or failed read, -ENAMETOOLONG when no NUL is within cap (buf then
 * holds the string's first cap - 1 bytes and a NUL), -ENOENT when the
 * notification is no longer valid (the task is gone).
 */
typedef ssize_t (*call_read_str_fn)(void *ctx, const struct call *c, uint64_t addr,
				    char *buf, size_t cap);

/*
 * Reads exactly len bytes at addr of the calling task into buf and checks
 * that the notification is still valid after the read. 0, -EFAULT for an
 * unmapped address or a short read, -ENOENT when the notification is no
 * longer valid.
 */
typedef int (*call_read_mem_fn)(void *ctx, const struct call *c, uint64_t addr, void *buf,
				size_t len);

/*
 * Reads the link /proc/<caller>/<what> ("cwd", "fd/3") into buf (cap bytes,
 * NUL-terminated) and checks that the notification is still valid after
 * the read. The length, or a negative errno.
 */
typedef ssize_t (*call_read_link_fn)(void *ctx, const struct call *c, const char *what, char *buf,
				     size_t cap);

/* Who makes the call, read from /proc on demand. */
typedef struct call_ident {
	uid_t uid, gid;      /* effective */
	int threads;         /* of the process */
	char comm[32];
	/* The path of the executable when it names, in sysgated's mount
	 * namespace, the file the process runs; else "(not PATH: MAJ:MIN:INO)"
	 * (exe.h). exe_dev (st_dev) and exe_ino: that file. */
	char exe[PATH_MAX];
	uint64_t exe_dev, exe_ino;
	char cgroup[PATH_MAX]; /* the cgroup v2 path ("0::" line) */
} call_ident_t;

#define CALL_ARGV_MAX 256        /* arguments (or environment entries) decoded */
#define CALL_ARGV_BYTES 65536    /* bytes of them, in all */
#define CALL_ARG_BYTES 4096      /* bytes of one of them */

/* execve's argv or envp, decoded: count strings at strings[i] in buf.
 * truncated: the program passed more, or longer ones, than the bounds. */
typedef struct call_strv {
	int state; /* 0 not read, 1 read, <0 -errno */
	unsigned count;
	bool truncated;
	uint32_t off[CALL_ARGV_MAX];
	uint32_t len[CALL_ARGV_MAX];
	char buf[CALL_ARGV_BYTES];
} call_strv_t;

typedef enum call_flags_kind {
	CALL_FLAGS_NONE = 0,
	CALL_FLAGS_OPEN,  /* open, openat, openat2, creat: O_* */
	CALL_FLAGS_CLONE, /* clone, clone3, unshare: CLONE_* */
} call_flags_kind_t;

/* A socket address argument, decoded. */
typedef struct call_addr {
	int family;         /* AF_*; AF_UNSPEC when the call passed none */
	char family_name[16]; /* "unix", "inet", "inet6", "netlink", or "af<N>" */
	char ip[64];        /* inet, inet6: the address as text */
	int port;           /* inet, inet6 */
	char path[110];     /* unix: the path; an abstract name starts with '@' */
	bool abstract;      /* unix: in the abstract namespace */
	uint32_t nl_pid, nl_groups; /* netlink */
} call_addr_t;

typedef struct call {
	/* Raw, from the notification. */
	uint64_t id;
	int nr;
	uint32_t arch;
	const char *syscall; /* static name, NULL when unknown */
	uint64_t args[6];
	uint64_t ip;
	pid_t pid; /* the calling thread, in the supervisor's pid namespace */
	const call_target_t *target;

	/* Memory access, given by the notify layer or a test. */
	call_read_str_fn read_str;
	call_read_mem_fn read_mem;
	call_read_link_fn read_link;
	void *read_ctx;
	/* The thread group (process) of pid, resolved on demand through
	 * tgid_fn(read_ctx, c); tgid is 0 until then. NULL: tgid = pid. */
	pid_t (*tgid_fn)(void *ctx, const struct call *c);
	pid_t tgid;
	/* The caller's identity, read on demand through ident_fn(read_ctx, c,
	 * &ident): 0 or a negative errno. ident_state: 0 not read, 1 read,
	 * <0 -errno. */
	int (*ident_fn)(void *ctx, const struct call *c, call_ident_t *out);
	int ident_state;
	call_ident_t ident;
	unsigned mem_reads; /* reads made for this call, for tests and metrics */

	/* Lazily decoded. path_state: 0 not read, 1 read, 2 a NULL pointer
	 * (no path), <0 -errno of the read. path2 likewise. */
	int path_state;
	size_t path_len;
	char path[PATH_MAX];
	int path2_state;
	size_t path2_len;
	char path2[PATH_MAX];
	/* The absolute forms of path and path2: state as path_state. */
	int abspath_state[2];
	char abspath[2][PATH_MAX];
	/* addr_state: 0 not read, 1 read (addr.family AF_UNSPEC: none), <0 -errno. */
	int addr_state;
	call_addr_t addr;
	call_strv_t argv, envp;
	/* call_flags(): state as path_state. */
	int flags_state;
	call_flags_kind_t flags_kind;
	uint64_t flags, mode, resolve;
} call_t;

/* Resets the decoded part before a call is reused. */
void call_reset(call_t *c);

/* The index (0-5) of the (first) path argument of syscall nr, or -1 when
 * it takes no path; call_path2_arg the same for the second path of the
 * two-path calls (rename, link, symlink, mount, pivot_root and their *at
 * forms). */
int call_path_arg(int nr);
int call_path2_arg(int nr);

/* Decodes c->path (c->path2) once, cached in the call: 0 (path_state 2
 * when the pointer is NULL), -EINVAL for a syscall without that path, or
 * the read's negative errno. */
int call_path(call_t *c);
int call_path2(call_t *c);

/* c->path (second: c->path2) made absolute against the directory the
 * kernel resolves it from (the dirfd of an *at call, else the caller's
 * cwd, as the supervisor's /proc/<tid>/cwd and fd/<n> links show them)
 * and lexically normalised ("//", "." and ".." folded; under openat2's
 * RESOLVE_IN_ROOT, "/" and ".." stop at the dirfd, as in the kernel).
 * Symlinks are not followed. Cached: 0 with c->abspath[second], -EINVAL
 * when there is no such path, -ENAMETOOLONG when the directory or the
 * result does not fit PATH_MAX, -ENOTDIR for a path from an fd that is
 * not a directory (an empty path gives that fd's link as it is), or a
 * read's negative errno. */
int call_abspath(call_t *c, bool second);

/* Whether base, the directory path (plen bytes) is resolved from now (as
 * the supervisor sees its path), makes the abspath call_abspath made: the
 * cwd or dirfd may have been changed by another thread since the handler
 * saw it. root: the path resolves in base as its root (openat2's
 * RESOLVE_IN_ROOT). true for an absolute path outside such a root, which
 * no directory was joined to. Takes copies, not the call, so that a
 * worker can check a job's. */
bool call_abspath_from(const char *abspath, const char *path, size_t plen, const char *base,
		       bool root);

/* Decodes the socket address of connect, bind, sendto and sendmsg once
 * (cached in the call): 0 with c->addr filled (family AF_UNSPEC when the
 * call passes no address, or one too short to hold a family), -EINVAL
 * for other syscalls, or the read's negative errno. */
int call_addr(call_t *c);

/* Decodes len bytes of a struct sockaddr into out. Never reads past len. */
void call_addr_decode(const void *sa, size_t len, call_addr_t *out);

/* The signal of kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo
 * and pidfd_send_signal, with the process (*pid) and thread (*tid) it is
 * sent to where the call names them (0 otherwise): 0, or -EINVAL for
 * other syscalls. */
int call_signal_args(const call_t *c, int *sig, int64_t *pid, int64_t *tid);

/* Decodes execve's (execveat's) argv (envp = false) or envp once, bounded
 * by CALL_ARGV_MAX / CALL_ARGV_BYTES / CALL_ARG_BYTES with truncation
 * flagged: 0, -EINVAL for other syscalls, or the read's negative errno. */
int call_strv(call_t *c, bool envp);

/*
 * The flags of c and the family they belong to, decoded once: the open
 * flags and mode of open, openat and creat (whose flags are
 * O_CREAT|O_WRONLY|O_TRUNC) from the registers, of openat2 from its struct
 * open_how (with resolve); the clone flags of clone and unshare from the
 * registers, of clone3 from its struct clone_args. Register arguments are decoded as
 * the kernel reads them: open's flags are an int and clone's the low 32
 * bits; the mode is its permission bits, and 0 when the call cannot create
 * a file. 0, -EINVAL for syscalls without such flags, or a read's negative
 * errno.
 */
int call_flags(call_t *c);

/* glibc defines O_LARGEFILE as 0 on x86_64, where every open is large;
 * the bit a program can pass, and the kernel knows, is this one. */
#define CALL_O_LARGEFILE 0100000

/* open, openat, openat2 and creat: the calls a brokered open answers. */
bool call_is_open(int nr);

/* Whether flags of family kind have the flag called name ("O_WRONLY",
 * "CLONE_NEWUSER"): 1 or 0, or -EINVAL for a name not of that family.
 * O_RDONLY, O_WRONLY and O_RDWR compare the access mode, not a bit. */
int call_has_flag(call_flags_kind_t kind, uint64_t flags, const char *name);

/* The calling process (thread group), resolved once per call; 0 when it
 * could not be resolved. */
pid_t call_tgid(call_t *c);

/* The caller's identity, read once per call: 0, or a negative errno (no
 * ident_fn: -ENOSYS). */
int call_ident(call_t *c);

#endif
