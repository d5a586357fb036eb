/*
 * The call object's lazy decoding: pointer arguments are read from the
 * target only when a handler asks, through the reader the notify layer (or
 * a test) put in the call, and at most once per call.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include "call.h"

void call_reset(call_t *c)
{
	c->mem_reads = 0;
	c->tgid = 0;
	c->path_state = 0;
	c->path_len = 0;
	c->path[0] = '\0';
}

int call_path_arg(int nr)
{
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
#endif
#ifdef SYS_creat
	case SYS_creat:
#endif
	case SYS_execve:
		return 0;
	case SYS_openat:
	case SYS_execveat:
		return 1;
	default:
		return -1;
	}
}

int call_path(call_t *c)
{
	int idx;
	ssize_t n;

	if (c->path_state != 0)
		return c->path_state < 0 ? c->path_state : 0;
	idx = call_path_arg(c->nr);
	if (idx < 0 || !c->read_str) {
		c->path_state = -EINVAL;
		return c->path_state;
	}
	c->mem_reads++;
	n = c->read_str(c->read_ctx, c, c->args[idx], c->path, sizeof(c->path));
	if (n < 0) {
		c->path[0] = '\0';
		c->path_state = (int)n;
		return c->path_state;
	}
	c->path_len = (size_t)n;
	c->path_state = 1;
	return 0;
}

pid_t call_tgid(call_t *c)
{
	if (c->tgid == 0)
		c->tgid = c->tgid_fn ? c->tgid_fn(c->read_ctx, c) : c->pid;
	return c->tgid;
}

int call_open_flags(const call_t *c, uint64_t *flags, uint64_t *mode)
{
	switch (c->nr) {
#ifdef SYS_open
	case SYS_open:
		*flags = c->args[1];
		*mode = c->args[2];
		return 0;
#endif
#ifdef SYS_creat
	case SYS_creat:
		*flags = O_CREAT | O_WRONLY | O_TRUNC;
		*mode = c->args[1];
		return 0;
#endif
	case SYS_openat:
		*flags = c->args[2];
		*mode = c->args[3];
		return 0;
	default:
		return -EINVAL;
	}
}

int call_has_open_flag(uint64_t flags, const char *name)
{
	/* mask and value: a flag is set when (flags & mask) == value. */
	static const struct {
		const char *name;
		uint64_t mask, value;
	} table[] = {
		{ "O_RDONLY", O_ACCMODE, O_RDONLY },
		{ "O_WRONLY", O_ACCMODE, O_WRONLY },
		{ "O_RDWR", O_ACCMODE, O_RDWR },
#define F(x) { #x, x, x }
		F(O_CREAT), F(O_EXCL), F(O_NOCTTY), F(O_TRUNC), F(O_APPEND), F(O_NONBLOCK),
		F(O_DSYNC), F(O_SYNC), F(O_DIRECT), F(O_LARGEFILE), F(O_DIRECTORY),
		F(O_NOFOLLOW), F(O_NOATIME), F(O_CLOEXEC), F(O_PATH), F(O_TMPFILE),
#undef F
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, name) == 0)
			return (flags & table[i].mask) == table[i].value;
	return -EINVAL;
}
