/*
 * libFuzzer target: the argument decoders of supervisor/call.c, which read
 * what a target put in its registers and memory. The first byte picks
 * what to fuzz:
 *   even: call_addr_decode() on the rest, as raw sockaddr bytes;
 *   odd:  a call whose syscall is picked by the second byte, whose six
 *         arguments are the next 48 bytes (an argument with its top bit
 *         set points at MEM_BASE plus its low 16 bits) and whose memory at
 *         MEM_BASE is the rest of the input, read by a fake reader that
 *         behaves like the real one (-EFAULT outside it, -ENAMETOOLONG
 *         without a NUL within cap); then every decoder runs on it.
 * What the decoders give must hold together: lengths match the strings,
 * argv entries lie inside their buffer, absolute paths start with '/'.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "call.h"

#define MEM_BASE 0x100000000ull

static const int syscalls[] = {
	SYS_open, SYS_openat, SYS_openat2, SYS_creat, SYS_execve, SYS_execveat,
	SYS_connect, SYS_bind, SYS_sendto, SYS_sendmsg, SYS_clone, SYS_clone3,
	SYS_rename, SYS_renameat2, SYS_linkat, SYS_symlinkat, SYS_mount, SYS_utimensat,
	SYS_kill, SYS_tgkill, SYS_pidfd_send_signal, SYS_unlinkat, SYS_newfstatat, SYS_getpid,
};

static const char *const flag_names[] = {
	"O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_TMPFILE", "O_PATH", "O_LARGEFILE",
	"CLONE_NEWUSER", "CLONE_THREAD", "CLONE_INTO_CGROUP", "NOT_A_FLAG", "",
};

typedef struct fake {
	const uint8_t *mem;
	size_t len;
	size_t cwd_len; /* of the link read_link answers */
} fake_t;

static int read_mem(void *ctx, const call_t *c, uint64_t addr, void *buf, size_t len)
{
	const fake_t *f = ctx;

	(void)c;
	if (addr < MEM_BASE || addr - MEM_BASE > f->len || len > f->len - (addr - MEM_BASE))
		return -EFAULT;
	if (len)
		memcpy(buf, f->mem + (addr - MEM_BASE), len);
	return 0;
}

static ssize_t read_str(void *ctx, const call_t *c, uint64_t addr, char *buf, size_t cap)
{
	const fake_t *f = ctx;
	size_t off, n;

	(void)c;
	if (cap == 0 || addr < MEM_BASE || addr - MEM_BASE >= f->len)
		return -EFAULT;
	off = (size_t)(addr - MEM_BASE);
	n = strnlen((const char *)f->mem + off, f->len - off);
	if (n >= cap) {
		/* Like the real reader: cap bytes, the last one made NUL. */
		memcpy(buf, f->mem + off, cap);
		buf[cap - 1] = '\0';
		return -ENAMETOOLONG;
	}
	if (n == f->len - off)
		return -EFAULT; /* runs off the mapped memory */
	memcpy(buf, f->mem + off, n + 1);
	return (ssize_t)n;
}

static ssize_t read_link(void *ctx, const call_t *c, const char *what, char *buf, size_t cap)
{
	const fake_t *f = ctx;
	size_t n = f->cwd_len < cap ? f->cwd_len : cap - 1;

	(void)c;
	if (strcmp(what, "cwd") != 0 && strncmp(what, "fd/", 3) != 0)
		abort();
	memset(buf, 'd', n);
	buf[0] = '/';
	buf[n] = '\0';
	return (ssize_t)n;
}

static void check_strv(const call_strv_t *v)
{
	if (v->count > CALL_ARGV_MAX)
		abort();
	for (unsigned i = 0; i < v->count; i++)
		if ((size_t)v->off[i] + v->len[i] >= sizeof(v->buf) ||
		    strlen(v->buf + v->off[i]) != v->len[i] || v->len[i] >= CALL_ARG_BYTES)
			abort();
}

static void check_path(int rc, int state, const char *path, size_t len)
{
	if (rc == 0 && state == 1 && (len >= PATH_MAX || strlen(path) != len))
		abort();
}

static void decode_all(call_t *c)
{
	int sig;
	int64_t pid, tid;

	check_path(call_path(c), c->path_state, c->path, c->path_len);
	check_path(call_path2(c), c->path2_state, c->path2, c->path2_len);
	for (int second = 0; second < 2; second++)
		if (call_abspath(c, second) == 0 &&
		    (c->abspath[second][0] != '/' || strlen(c->abspath[second]) >= PATH_MAX))
			abort();
	if (call_addr(c) == 0 && strnlen(c->addr.path, sizeof(c->addr.path)) == sizeof(c->addr.path))
		abort();
	if (call_strv(c, false) == 0)
		check_strv(&c->argv);
	if (call_strv(c, true) == 0)
		check_strv(&c->envp);
	if (call_flags(c) == 0)
		for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			(void)call_has_flag(c->flags_kind, c->flags, flag_names[i]);
	(void)call_signal_args(c, &sig, &pid, &tid);
	(void)call_tgid(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static call_t c;
	call_addr_t a;
	fake_t f;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		call_addr_decode(data + 1, size - 1, &a);
		if (strnlen(a.path, sizeof(a.path)) == sizeof(a.path) ||
		    strnlen(a.ip, sizeof(a.ip)) == sizeof(a.ip) ||
		    strnlen(a.family_name, sizeof(a.family_name)) == sizeof(a.family_name))
			abort();
		return 0;
	}
	if (size < 2 + 6 * sizeof(uint64_t))
		return 0;
	memset(&c, 0, sizeof(c));
	c.nr = syscalls[data[1] % (sizeof(syscalls) / sizeof(syscalls[0]))];
	c.pid = 100;
	for (int i = 0; i < 6; i++) {
		uint64_t v;

		memcpy(&v, data + 2 + i * sizeof(v), sizeof(v));
		c.args[i] = v >> 63 ? MEM_BASE + (v & 0xffff) : v;
	}
	f.mem = data + 2 + 6 * sizeof(uint64_t);
	f.len = size - 2 - 6 * sizeof(uint64_t);
	f.cwd_len = (size_t)(data[0] >> 1) * 64; /* up to 8 KiB: past PATH_MAX */
	c.read_str = read_str;
	c.read_mem = read_mem;
	c.read_link = read_link;
	c.read_ctx = &f;
	decode_all(&c);
	return 0;
}
