/*
 * Throttled calls: a verdict from a limit with over = "throttle" says how
 * long its call must wait (limit.c reserved its token). The notification
 * is parked here, a copy of it on a libuv timer, while the loop serves
 * everyone else; when the timer fires and the call is still pending, the
 * policy engine decides it from where the limit left it (policy_resume)
 * and receive.c answers it. The calling thread just sees a slow syscall.
 *
 * A call whose task was interrupted while parked is gone (the kernel
 * dropped the notification). If the signal handler returns with
 * SA_RESTART, the same thread makes the same call again: a new
 * notification with the same syscall, arguments and instruction pointer.
 * One thread has at most one pending notification, so a new one from the
 * thread of a parked call means the parked one is gone; if it is the same
 * call, the new notification takes the parked one's place, its reserved
 * token and its timer: the restart is not charged twice. A call that is
 * gone when its timer fires is dropped (its token is not given back, and a
 * restart after that is a new call).
 *
 * Parked calls belong to their target and are freed when it closes; their
 * tasks then get ENOSYS with every other pending call of the target.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "target.h"

struct park {
	uv_timer_t timer;
	target_t *t;
	park_t *prev, *next;
	uint64_t t0;        /* when the notification was received */
	uint64_t parked_ns; /* when the timer was started */
	uint64_t waited_ns; /* in earlier parks of the same call (nested limits) */
	int resume;
	struct seccomp_notif req[]; /* the kernel's size: d->req_size */
};

static void park_free_cb(uv_handle_t *h)
{
	free(h->data);
}

static void park_unlink(park_t *pk)
{
	target_t *t = pk->t;

	if (pk->prev)
		pk->prev->next = pk->next;
	else
		t->parks = pk->next;
	if (pk->next)
		pk->next->prev = pk->prev;
	t->info.parked--;
}

/* A parked call that will not be answered here (gone, taken over by its
 * restart, or its target closing): it is no longer in flight. */
static void park_drop(park_t *pk)
{
	metrics_abandoned(pk->t);
	park_unlink(pk);
	uv_timer_stop(&pk->timer);
	uv_close((uv_handle_t *)&pk->timer, park_free_cb);
}

static void park_cb(uv_timer_t *h)
{
	park_t *pk = h->data;
	target_t *t = pk->t;
	uint64_t waited = pk->waited_ns + (sgd_now_ns() - pk->parked_ns);

	park_unlink(pk);
	if (receive_id_valid(t->d, t->listener, pk->req->id) < 0) {
		t->gone++; /* interrupted or killed meanwhile, and not restarted */
		metrics_abandoned(t);
	} else
		receive_resume(t, pk->req, pk->resume, pk->t0, waited);
	uv_close((uv_handle_t *)&pk->timer, park_free_cb);
}

int throttle_park(target_t *t, const struct seccomp_notif *req, const verdict_t *v, uint64_t t0,
		  uint64_t waited_ns)
{
	sgd_t *d = t->d;
	park_t *pk;
	uint64_t ms = (v->throttle_ns + 999999) / 1000000;

	if (t->closing)
		return -ESHUTDOWN;
	pk = calloc(1, offsetof(park_t, req) + d->req_size);
	if (!pk)
		return -ENOMEM;
	memcpy(pk->req, req, d->req_size);
	pk->t = t;
	pk->t0 = t0;
	pk->waited_ns = waited_ns;
	pk->resume = v->throttle_resume;
	uv_timer_init(d->loop, &pk->timer);
	pk->timer.data = pk;
	/* The loop's clock was read when this iteration began; a timer set
	 * from it would fire early by however long the iteration has run. */
	uv_update_time(d->loop);
	pk->parked_ns = sgd_now_ns();
	uv_timer_start(&pk->timer, park_cb, ms, 0);
	pk->next = t->parks;
	if (t->parks)
		t->parks->prev = pk;
	t->parks = pk;
	t->info.parked++;
	return 0;
}

static bool same_call(const struct seccomp_notif *a, const struct seccomp_notif *b)
{
	return a->data.nr == b->data.nr && a->data.arch == b->data.arch &&
	       a->data.instruction_pointer == b->data.instruction_pointer &&
	       memcmp(a->data.args, b->data.args, sizeof(a->data.args)) == 0;
}

bool throttle_adopt(target_t *t, const struct seccomp_notif *req)
{
	sgd_t *d = t->d;
	uint64_t id;

	if (req->pid == 0)
		return false;
	for (park_t *pk = t->parks; pk; pk = pk->next) {
		if (pk->req->pid != req->pid)
			continue;
		/* It cannot still be pending while its thread makes another
		 * call; if the kernel says it is, leave both alone. */
		if (receive_id_valid(d, t->listener, pk->req->id) == 0)
			return false;
		if (!same_call(pk->req, req)) {
			t->gone++;
			park_drop(pk);
			return false;
		}
		id = req->id;
		memcpy(pk->req, req, d->req_size);
		pk->req->id = id;
		t->restarts++;
		metrics_abandoned(t); /* the interrupted one: its restart is in flight */
		return true;
	}
	return false;
}

void throttle_release(target_t *t)
{
	while (t->parks)
		park_drop(t->parks);
}

void throttle_flush(target_t *t)
{
	while (t->parks) {
		park_t *pk = t->parks;

		uv_timer_stop(&pk->timer);
		park_cb(&pk->timer);
	}
}
