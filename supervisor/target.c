/*
 * Targets: a listener fd registered with the loop, the policy it runs
 * under, and the process sysgate-run became. A target lives from READY
 * until its listener reports POLLHUP (the last task using the filter is
 * gone) or the supervisor stops; closing its listener makes every call
 * still to come fail with ENOSYS in the kernel, never succeed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "target.h"

/* PIDFD_GET_INFO with the exit status (kernel 6.15). Defined here because
 * Debian 12's headers predate it; an older kernel answers ENOTTY and the
 * status is simply not known. */
struct sg_pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define SG_PIDFD_GET_INFO _IOWR(0xFF, 11, struct sg_pidfd_info)
#define SG_PIDFD_INFO_EXIT (1ULL << 3)

static bool exit_status(int pidfd, int *status)
{
	struct sg_pidfd_info info;

	if (pidfd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	info.mask = SG_PIDFD_INFO_EXIT;
	if (ioctl(pidfd, SG_PIDFD_GET_INFO, &info) < 0 || !(info.mask & SG_PIDFD_INFO_EXIT))
		return false;
	*status = info.exit_code;
	return true;
}

static void target_free_cb(uv_handle_t *h)
{
	target_t *t = h->data;

	free(t);
}

static void target_poll_cb(uv_poll_t *h, int status, int events)
{
	target_t *t = h->data;

	/* libuv reports POLLHUP as readable (or as an error): in every case
	 * drain what is pending; the drain tells whether the target is gone. */
	if (receive_drain(t) || status < 0)
		target_close(t, status < 0 ? "poll_error" : "exited");
}

int target_add(sgd_t *d, int listener, int pidfd, pid_t pid, uid_t uid, size_t policy_index,
	       const sg_hello_t *hello, target_t **out)
{
	target_t *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->d = d;
	t->id = ++d->next_target_id;
	t->policy = d->policies[policy_index];
	t->pconf = &d->cfg->policies[policy_index];
	t->hello = *hello;
	t->listener = listener;
	t->pidfd = pidfd;
	t->pid = pid;
	t->uid = uid;
	t->started_ns = sgd_now_ns();
	t->info.id = t->id;
	t->info.policy = t->pconf->name;
	t->info.hello = &t->hello;
	t->info.pid = pid;

	r = uv_poll_init(d->loop, &t->poll, listener);
	if (r < 0) {
		free(t);
		return r;
	}
	t->poll.data = t;
	r = policy_target_add(t->policy, &t->info);
	if (r == 0)
		r = uv_poll_start(&t->poll, UV_READABLE | UV_DISCONNECT, target_poll_cb);
	if (r < 0) {
		/* Nothing is owned yet: the caller still closes listener and pidfd. */
		policy_target_remove(t->policy, t->id);
		uv_close((uv_handle_t *)&t->poll, target_free_cb);
		return r;
	}
	/* The wake-up of the supervisor's thread is synchronous from here on
	 * (kernel >= 6.6): the target's CPU hands over directly instead of
	 * waking an idle one. Older kernels say EINVAL and keep the default. */
	(void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);

	t->next = d->targets;
	if (d->targets)
		d->targets->prev = t;
	d->targets = t;
	d->ntargets++;
	*out = t;
	log_target_start(t);
	return 0;
}

void target_close(target_t *t, const char *reason)
{
	sgd_t *d = t->d;
	int status = 0;
	bool known;

	if (t->closing)
		return;
	t->closing = true;
	/* The handle is closed before the fd so that libuv never touches an fd
	 * number that may already be reused; t itself is freed in the close
	 * callback. Once the listener is closed, every notified call of the
	 * target (if any task is left) fails with ENOSYS. */
	uv_close((uv_handle_t *)&t->poll, target_free_cb);
	close(t->listener);
	t->listener = -1;
	known = exit_status(t->pidfd, &status);
	log_target_end(t, reason, known, status);
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
	policy_target_remove(t->policy, t->id);

	if (t->prev)
		t->prev->next = t->next;
	else
		d->targets = t->next;
	if (t->next)
		t->next->prev = t->prev;
	d->ntargets--;
}

void target_close_all(sgd_t *d)
{
	while (d->targets)
		target_close(d->targets, "supervisor_stop");
}

uint64_t target_id(const target_t *t)
{
	return t->id;
}
