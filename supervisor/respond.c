/*
 * The respond stage. A kill is carried out with a pidfd of the calling
 * process (the thread group, not the thread), opened and then checked
 * against the notification so that a reused pid is never signalled.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "respond.h"
#include "target.h"

static int kill_caller(target_t *t, call_t *c)
{
	pid_t tgid = call_tgid(c);
	int pidfd, r = 0;

	if (tgid <= 0)
		return -ESRCH;
	pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	if (pidfd < 0)
		return -errno;
	/* The pidfd now pins a process; it is the caller's only if the
	 * notification is still valid after it was opened. */
	if (receive_id_valid(t->d, t->listener, c->id) < 0)
		r = -ESRCH;
	else if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
		r = -errno;
	close(pidfd);
	return r;
}

int respond_send(target_t *t, call_t *c, verdict_t *v, struct seccomp_notif_resp *resp,
		 size_t resp_size, char *why, size_t why_len)
{
	int killed = 0;

	if (v->kind == VERDICT_KILL)
		killed = kill_caller(t, c); /* if it failed, the call is denied below */
	memset(resp, 0, resp_size);
	verdict_to_resp(v, c->id, resp);
	for (;;) {
		if (ioctl(t->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == ENOENT) {
			t->gone++;
			return -ENOENT;
		}
		snprintf(why, why_len, "cannot answer the call: %s", strerror(errno));
		return -errno;
	}
	if (killed < 0) {
		snprintf(why, why_len, "cannot kill the calling process (%s): the call was denied",
			 strerror(-killed));
		return killed;
	}
	return 0;
}
