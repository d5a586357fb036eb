/*
 * The call object's lazy decoding: pointer arguments are read from the
 * target only when a handler asks, through the reader the notify layer (or
 * a test) put in the call, and at most once per call.
 */
#include <errno.h>
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
