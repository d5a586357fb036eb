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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "metrics.h"
#include "target.h"
#include "tenant.h"

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

#define REAP_WAIT_MS 1000

/* The exit status the kernel keeps for a reaped process (6.15+). */
static bool reaped_status(int pidfd, int *status)
{
	struct sg_pidfd_info info;

	memset(&info, 0, sizeof(info));
	info.mask = SG_PIDFD_INFO_EXIT;
	if (ioctl(pidfd, SG_PIDFD_GET_INFO, &info) < 0 || !(info.mask & SG_PIDFD_INFO_EXIT))
		return false;
	*status = info.exit_code;
	return true;
}

/* Field 52 of /proc/<pid>/stat: the wait status of a zombie. */
static bool zombie_status(pid_t pid, int *status)
{
	char path[64], buf[2048];
	const char *p;
	ssize_t n;
	int fd, field = 2;

	/* pid 0: sysgate-run has no pid in the supervisor's pid namespace. */
	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p || strncmp(p, ") Z ", 4) != 0)
		return false;
	for (; *p && field < 52; p++)
		field += *p == ' ';
	if (field != 52)
		return false;
	*status = (int)strtol(p, NULL, 10);
	return true;
}

/*
 * The listener reports POLLHUP when the last task has exited, which may be
 * before its parent reaps it: the status is then read from the zombie. The
 * pidfd is asked before and after, so a process reaped (and its pid
 * reused) in between is never mistaken for ours.
 */
static bool exit_status(int pidfd, pid_t pid, int *status)
{
	int zs;

	if (pidfd < 0)
		return false;
	if (reaped_status(pidfd, status))
		return true;
	if (!zombie_status(pid, &zs))
		return reaped_status(pidfd, status);
	if (reaped_status(pidfd, status))
		return true;
	*status = zs;
	return true;
}

/* A target is freed once every libuv handle it opened is closed (a
 * learned policy being written holds one count in handles, learn_job_t)
 * and every brokered open of it is finished (counted and logged). */
static void target_free(target_t *t)
{
	broker_release(t);
	learn_free(t->learn);
	free(t);
}

static void target_unref(target_t *t)
{
	if (--t->handles == 0 && t->jobs == 0)
		target_free(t);
}

static void target_handle_closed_cb(uv_handle_t *h)
{
	target_unref(h->data);
}

/* The launcher's quotas of learned files and bytes pay for each file written. */
static int target_learn_admit(void *ctx, size_t len, char *why, size_t why_len)
{
	target_t *t = ctx;

	if (!t->d->tenants)
		return 0;
	return tenants_learn_file(t->d->tenants, t->uid, len, why, why_len);
}

/*
 * A learned policy on its way to learn_dir: rendered on the loop (the
 * record changes with every call; the render is bounded by LEARN_MAX_*),
 * written by libuv's thread pool, so that the open, write, fsync and
 * rename of one target's file never hold up another target's calls. The
 * target stays allocated (one count in handles) until the result is
 * logged.
 */
typedef struct learn_job {
	uv_work_t req;
	target_t *t;
	learn_stats_t st;
	learn_about_t about;
	char *src;
	size_t len;
	int r;
	char path[PATH_MAX], why[PATH_MAX + 128];
} learn_job_t;

static void learn_job_work(uv_work_t *req)
{
	learn_job_t *j = req->data;

	j->r = learn_write_src(j->src, j->len, j->t->d->cfg->learn_dir, &j->about, j->path,
			       sizeof(j->path), j->why, sizeof(j->why));
}

static void learn_job_done(uv_work_t *req, int status)
{
	learn_job_t *j = req->data;
	target_t *t = j->t;

	if (status < 0) {
		j->r = status;
		snprintf(j->why, sizeof(j->why), "the write was cancelled: %s", uv_strerror(status));
	}
	log_learned(t, &j->st, j->r == 0 ? j->path : NULL, j->r == 0 ? NULL : j->why);
	free(j->src);
	free(j);
	target_unref(t);
}

/* Learn mode: the policy the target's run amounts to, written to
 * learn_dir when it ends (whatever the reason: a run cut short by a stop
 * is still worth reading), or on request. */
static void target_learned(target_t *t, bool snapshot)
{
	learn_job_t *j;
	int r;

	if (!t->learn)
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		learn_stats_t st;

		learn_stats(t->learn, &st);
		log_learned(t, &st, NULL, "cannot write the learned policy: out of memory");
		return;
	}
	j->req.data = j;
	j->t = t;
	j->about = (learn_about_t){
		.policy = t->pconf->name,
		.target = t->id,
		.pid = t->pid,
		.started = t->started_wall,
		.ended = time(NULL),
		.snapshot = snapshot,
	};
	learn_stats(t->learn, &j->st);
	r = learn_render(t->learn, &j->about, &j->src, &j->len);
	if (r < 0)
		snprintf(j->why, sizeof(j->why), "cannot render the policy of %s: %s",
			 t->pconf->name, strerror(-r));
	else
		r = target_learn_admit(t, j->len, j->why, sizeof(j->why));
	t->handles++;
	if (r == 0 && uv_queue_work(t->d->loop, &j->req, learn_job_work, learn_job_done) == 0)
		return;
	/* No thread to write it: written here, as before. */
	if (r == 0)
		learn_job_work(&j->req);
	else
		j->r = r;
	learn_job_done(&j->req, 0);
}

static void target_close_handle(target_t *t, uv_handle_t *h)
{
	uv_close(h, target_handle_closed_cb);
}

/* Logs target_end with what is known of the exit and lets go of the pidfd. */
static void target_end(target_t *t, const char *reason)
{
	int status = 0;
	bool known = exit_status(t->pidfd, t->pid, &status);

	log_target_end(t, reason, known, status);
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
}

/* target_end, once the target's brokered opens are finished: their
 * decisions come before its end in the log. */
static void target_end_after_jobs(target_t *t, const char *reason)
{
	if (t->jobs > 0)
		t->end_reason = reason;
	else
		target_end(t, reason);
}

void target_job_begin(target_t *t)
{
	t->jobs++;
}

void target_job_end(target_t *t)
{
	const char *reason = t->end_reason;

	if (--t->jobs > 0)
		return;
	if (reason) {
		t->end_reason = NULL;
		target_end(t, reason);
	}
	if (t->handles == 0)
		target_free(t);
}

static void target_reaped(target_t *t)
{
	target_close_handle(t, (uv_handle_t *)&t->reap_poll);
	target_close_handle(t, (uv_handle_t *)&t->reap_timer);
	target_end_after_jobs(t, "exited");
}

static void reap_poll_cb(uv_poll_t *h, int status, int events)
{
	target_reaped(h->data);
}

static void reap_timer_cb(uv_timer_t *h)
{
	target_reaped(h->data);
}

/*
 * The listener reports POLLHUP as the last task exits, which can be before
 * that task is a zombie with a status to read. The pidfd becomes readable
 * once the process has exited; target_end waits for that, or REAP_WAIT_MS
 * at the most. Returns false when there is nothing to wait for.
 */
static bool target_wait_exit(target_t *t)
{
	int status;

	if (t->pidfd < 0 || exit_status(t->pidfd, t->pid, &status))
		return false;
	if (uv_poll_init(t->d->loop, &t->reap_poll, t->pidfd) < 0)
		return false;
	t->reap_poll.data = t;
	t->handles++;
	uv_timer_init(t->d->loop, &t->reap_timer);
	t->reap_timer.data = t;
	t->handles++;
	uv_poll_start(&t->reap_poll, UV_READABLE, reap_poll_cb);
	uv_timer_start(&t->reap_timer, reap_timer_cb, REAP_WAIT_MS, 0);
	return true;
}

static void target_poll_cb(uv_poll_t *h, int status, int events)
{
	target_t *t = h->data;

	const char *end;

	/* libuv reports POLLHUP as readable (or as an error): in every case
	 * drain what is pending; the drain tells whether the target is gone. */
	end = receive_drain(t);
	if (!end && status < 0)
		end = "poll_error";
	if (end)
		target_close(t, end);
}

/* Gives back the launcher's quota t holds (once). */
static void target_uncharge(target_t *t)
{
	if (t->charged && t->d->tenants)
		tenants_give(t->d->tenants, t->uid, t->mode == SG_MODE_LEARN);
	t->charged = false;
	if (t->slotted)
		policy_tenant_remove(t->policy, t->info.tenant_slot);
	t->slotted = false;
}

int target_admit(sgd_t *d, uid_t uid, sg_mode_t mode, char *why, size_t why_len)
{
	int r;

	if (!d->tenants)
		return 0;
	r = tenants_take(d->tenants, uid, mode == SG_MODE_LEARN, false, why, why_len);
	if (r == 0)
		tenants_give(d->tenants, uid, mode == SG_MODE_LEARN);
	return r;
}

/* A target not registered yet: nothing is owned. */
static target_t *target_new(sgd_t *d, int listener, int pidfd, pid_t pid, uid_t uid,
			    size_t policy_index, const sg_hello_t *hello, sg_mode_t mode, uint64_t id)
{
	target_t *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->d = d;
	t->id = id;
	t->policy = d->policies[policy_index];
	t->pconf = &d->cfg->policies[policy_index];
	t->hello = *hello;
	t->mode = mode;
	t->listener = listener;
	t->pidfd = pidfd;
	t->pid = pid;
	t->uid = uid;
	t->started_ns = sgd_now_ns();
	t->started_wall = time(NULL);
	if (mode == SG_MODE_LEARN && !(t->learn = learn_new())) {
		free(t);
		return NULL;
	}
	t->info.id = t->id;
	t->info.policy = t->pconf->name;
	t->info.hello = &t->hello;
	t->info.pid = pid;
	t->info.uid = uid;
	snprintf(t->info.uid_label, sizeof(t->info.uid_label), "%u", (unsigned)uid);
	return t;
}

/* Polls t's listener (unless a takeover paused the loop) and links it
 * into d's list. On failure t is freed; the caller still owns the fds. */
static int target_register(target_t *t, bool force)
{
	sgd_t *d = t->d;
	int r = 0;

	/* The quota first: a refused target never touches the loop. */
	if (d->tenants)
		r = tenants_take(d->tenants, t->uid, t->mode == SG_MODE_LEARN, force, NULL, 0);
	t->charged = r == 0 && d->tenants;
	/* Its launcher's own key tables in the policy's rate limits. */
	if (r == 0)
		r = policy_tenant_add(t->policy, t->uid, &t->info.tenant_slot);
	t->slotted = r == 0;
	if (r == 0)
		r = uv_poll_init(d->loop, &t->poll, t->listener);
	if (r < 0) {
		target_uncharge(t);
		learn_free(t->learn);
		free(t);
		return r;
	}
	t->poll.data = t;
	t->handles = 1;
	if (!d->paused)
		r = uv_poll_start(&t->poll, UV_READABLE | UV_DISCONNECT, target_poll_cb);
	if (r < 0) {
		/* Nothing is owned yet: the caller still closes listener and pidfd. */
		target_uncharge(t);
		target_close_handle(t, (uv_handle_t *)&t->poll);
		return r;
	}
	/* The wake-up of the supervisor's thread is synchronous from here on
	 * (kernel >= 6.6): the target's CPU hands over directly instead of
	 * waking an idle one. Older kernels say EINVAL and keep the default. */
	(void)ioctl(t->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);

	t->next = d->targets;
	if (d->targets)
		d->targets->prev = t;
	d->targets = t;
	d->ntargets++;
	metrics_target_started(t);
	return 0;
}

int target_add(sgd_t *d, int listener, int pidfd, pid_t pid, uid_t uid, size_t policy_index,
	       const sg_hello_t *hello, sg_mode_t mode, target_t **out)
{
	target_t *t = target_new(d, listener, pidfd, pid, uid, policy_index, hello, mode,
				 d->next_target_id + 1);
	int r;

	if (!t)
		return -ENOMEM;
	r = target_register(t, false);
	if (r < 0)
		return r;
	d->next_target_id++;
	*out = t;
	log_target_start(t);
	return 0;
}

int target_adopt(sgd_t *d, int listener, int pidfd, size_t policy_index, const target_t *rec,
		 target_t **out)
{
	target_t *t = target_new(d, listener, pidfd, rec->pid, rec->uid, policy_index, &rec->hello,
				 rec->mode, rec->id);
	int r;

	if (!t)
		return -ENOMEM;
	t->started_ns = rec->started_ns;
	t->started_wall = rec->started_wall;
	t->notifications = rec->notifications;
	t->decisions = rec->decisions;
	t->denied = rec->denied;
	t->errors = rec->errors;
	t->gone = rec->gone;
	t->advisory = rec->advisory;
	t->brokered = rec->brokered;
	t->restarts = rec->restarts;
	t->would_deny = rec->would_deny;
	t->log_suppressed = rec->log_suppressed;
	/* Already running: charged to its launcher even over the quota. */
	r = target_register(t, true);
	if (r < 0)
		return r;
	if (d->next_target_id < t->id)
		d->next_target_id = t->id;
	*out = t;
	return 0;
}

void target_pause_all(sgd_t *d)
{
	for (target_t *t = d->targets; t; t = t->next)
		uv_poll_stop(&t->poll);
}

void target_hold(target_t *t)
{
	if (t->held || t->closing)
		return;
	t->held = true;
	uv_poll_stop(&t->poll);
}

void target_unhold(target_t *t)
{
	if (!t->held || t->closing)
		return;
	t->held = false;
	if (!t->d->paused)
		uv_poll_start(&t->poll, UV_READABLE | UV_DISCONNECT, target_poll_cb);
}

void target_resume_all(sgd_t *d)
{
	for (target_t *t = d->targets; t; t = t->next)
		if (!t->held)
			uv_poll_start(&t->poll, UV_READABLE | UV_DISCONNECT, target_poll_cb);
}

void target_release_all(sgd_t *d)
{
	while (d->targets) {
		target_t *t = d->targets;

		d->targets = t->next;
		d->ntargets--;
		t->closing = true;
		target_close_handle(t, (uv_handle_t *)&t->poll);
		throttle_release(t);
		close(t->listener);
		t->listener = -1;
		if (t->pidfd >= 0)
			close(t->pidfd);
		t->pidfd = -1;
		target_uncharge(t);
	}
}

void target_close(target_t *t, const char *reason)
{
	sgd_t *d = t->d;

	if (t->closing)
		return;
	t->closing = true;
	/* The handle is closed before the fd so that libuv never touches an fd
	 * number that may already be reused; t itself is freed once its
	 * handles are closed. Once the listener is closed, every notified call
	 * of the target (if any task is left) fails with ENOSYS. */
	target_close_handle(t, (uv_handle_t *)&t->poll);
	throttle_release(t);
	close(t->listener);
	t->listener = -1;
	target_uncharge(t);
	if (t->prev)
		t->prev->next = t->next;
	else
		d->targets = t->next;
	if (t->next)
		t->next->prev = t->prev;
	d->ntargets--;
	metrics_target_closed(t, reason);

	target_learned(t, false);
	if (strcmp(reason, "exited") != 0 || !target_wait_exit(t))
		target_end_after_jobs(t, reason);
}

void target_learn_snapshot_all(sgd_t *d)
{
	for (target_t *t = d->targets; t; t = t->next) {
		t->snapshot_due = false;
		target_learned(t, true);
	}
}

/* One due snapshot per turn; the idle handle stops when none is left. */
static void learn_idle_cb(uv_idle_t *h)
{
	sgd_t *d = h->data;

	for (target_t *t = d->targets; t; t = t->next) {
		if (t->snapshot_due) {
			t->snapshot_due = false;
			target_learned(t, true);
			return;
		}
	}
	uv_idle_stop(h);
}

void target_learn_snapshot_request(sgd_t *d)
{
	bool any = false;

	for (target_t *t = d->targets; t; t = t->next)
		any |= t->snapshot_due = t->learn != NULL;
	if (!any || d->stopping)
		return;
	if (!d->learn_idle_ready) {
		uv_idle_init(d->loop, &d->learn_idle);
		d->learn_idle.data = d;
		d->learn_idle_ready = true;
	}
	uv_idle_start(&d->learn_idle, learn_idle_cb);
}

void target_close_all(sgd_t *d)
{
	while (d->targets)
		target_close(d->targets, "supervisor_stop");
	if (d->learn_idle_ready && !uv_is_closing((uv_handle_t *)&d->learn_idle))
		uv_close((uv_handle_t *)&d->learn_idle, NULL);
}

uint64_t target_id(const target_t *t)
{
	return t->id;
}
