/*
 * Off-loop jobs with a deadline (work.h). One worker thread per slot,
 * started at the slot's first use; a slot goes FREE -> TAKEN (the loop
 * fills its job) -> RUNNING (the worker runs it) -> DONE (the worker
 * posted it) -> FREE (the loop ran done()). One mutex guards the states
 * and the closing flag; each slot has its own condition variable for its
 * worker to wait on. Everything is allocated by work_new.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "work.h"

enum slot_state { SLOT_FREE, SLOT_TAKEN, SLOT_RUNNING, SLOT_DONE };

typedef struct slot {
	work_pool_t *p;
	pthread_t thread;
	bool started;
	bool init_failed;       /* thread_init failed: jobs end unrun */
	pthread_cond_t wake;    /* the worker waits here for RUNNING */
	enum slot_state state;  /* under p->mu */
	const void *owner;      /* the loop's */
	bool expire_called;     /* the loop's */
	bool counted_lost;      /* the loop's */
	_Atomic bool expired;   /* read by the worker */
	_Atomic bool ran;
	uv_timer_t deadline;
	alignas(max_align_t) unsigned char job[];
} slot_t;

struct work_pool {
	uv_loop_t *loop;
	work_conf_t conf;
	pthread_mutex_t mu;
	bool closed, stopping; /* under mu */
	uv_async_t posted;
	slot_t **slots;
	work_stats_t stats; /* the loop's, but threads and busy under mu */
};

static void work_signal_cb(int sig)
{
	(void)sig; /* its only job is to make a blocking call return EINTR */
}

static slot_t *slot_of(const void *job)
{
	return (slot_t *)((const unsigned char *)job - offsetof(slot_t, job));
}

bool work_expired(const void *job)
{
	return atomic_load(&slot_of(job)->expired);
}

bool work_ran(const void *job)
{
	return atomic_load(&slot_of(job)->ran);
}

static void *worker_main(void *arg)
{
	slot_t *s = arg;
	work_pool_t *p = s->p;
	sigset_t only;

	s->init_failed = p->conf.thread_init && p->conf.thread_init() < 0;
	/* Created with every signal blocked: it takes none meant for the
	 * loop (libuv's), only the one that interrupts its job. */
	sigemptyset(&only);
	sigaddset(&only, WORK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &only, NULL);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (s->state != SLOT_RUNNING && !p->stopping)
			pthread_cond_wait(&s->wake, &p->mu);
		if (s->state != SLOT_RUNNING)
			break;
		pthread_mutex_unlock(&p->mu);
		if (!s->init_failed) {
			atomic_store(&s->ran, true);
			p->conf.run(s->job);
		}
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_DONE;
		/* Under the mutex: work_close cannot close the handle between
		 * the test and the send. */
		if (!p->closed)
			uv_async_send(&p->posted);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The loop: every job a worker posted gets its done(). */
static void posted_cb(uv_async_t *h)
{
	work_pool_t *p = h->data;

	for (unsigned i = 0; i < p->conf.threads; i++) {
		slot_t *s = p->slots[i];
		enum slot_state st;

		pthread_mutex_lock(&p->mu);
		st = s->state;
		pthread_mutex_unlock(&p->mu);
		if (st != SLOT_DONE)
			continue;
		uv_timer_stop(&s->deadline);
		p->conf.done(s->job, s->expire_called);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_FREE;
		p->stats.busy--;
		pthread_mutex_unlock(&p->mu);
		s->owner = NULL;
	}
}

static void expire_slot(slot_t *s)
{
	work_pool_t *p = s->p;

	if (!s->expire_called) {
		s->expire_called = true;
		atomic_store(&s->expired, true);
		p->stats.expired++;
		p->conf.expire(s->job);
	} else if (!s->counted_lost) {
		s->counted_lost = true; /* a deadline after the signal, still there */
		p->stats.lost++;
		if (p->conf.lost)
			p->conf.lost(s->job);
	}
	pthread_kill(s->thread, WORK_SIGNAL);
}

/* The loop: a job's deadline passed (and then every deadline after). */
static void deadline_cb(uv_timer_t *h)
{
	slot_t *s = h->data;
	enum slot_state st;

	pthread_mutex_lock(&s->p->mu);
	st = s->state;
	pthread_mutex_unlock(&s->p->mu);
	if (st == SLOT_RUNNING)
		expire_slot(s);
}

int work_new(uv_loop_t *loop, const work_conf_t *conf, work_pool_t **out)
{
	struct sigaction sa = { .sa_handler = work_signal_cb }; /* no SA_RESTART */
	size_t size = (conf->job_size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	work_pool_t *p;

	*out = NULL;
	if (!conf->threads || !conf->per_owner || !conf->run || !conf->done || !conf->expire ||
	    !conf->deadline_ms)
		return -EINVAL;
	sigemptyset(&sa.sa_mask);
	if (sigaction(WORK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->conf = *conf;
	p->slots = calloc(conf->threads, sizeof(slot_t *));
	if (!p->slots) {
		free(p);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < conf->threads; i++) {
		slot_t *s = calloc(1, offsetof(slot_t, job) + size);

		if (!s) {
			for (unsigned j = 0; j < i; j++)
				free(p->slots[j]);
			free(p->slots);
			free(p);
			return -ENOMEM;
		}
		s->p = p;
		pthread_cond_init(&s->wake, NULL);
		uv_timer_init(loop, &s->deadline);
		s->deadline.data = s;
		uv_unref((uv_handle_t *)&s->deadline);
		p->slots[i] = s;
	}
	pthread_mutex_init(&p->mu, NULL);
	uv_async_init(loop, &p->posted, posted_cb);
	p->posted.data = p;
	/* Jobs in flight do not keep the loop running: a stop ends them. */
	uv_unref((uv_handle_t *)&p->posted);
	*out = p;
	return 0;
}

unsigned work_in_flight(const work_pool_t *p, const void *owner)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->conf.threads; i++)
		n += p->slots[i]->owner == owner && owner != NULL;
	return n;
}

void *work_take(work_pool_t *p, const void *owner)
{
	slot_t *free_slot = NULL;

	if (p->closed || !owner)
		return NULL;
	if (work_in_flight(p, owner) >= p->conf.per_owner) {
		p->stats.refused++;
		return NULL;
	}
	pthread_mutex_lock(&p->mu);
	/* A slot whose thread is already there first: threads are started
	 * only when the ones there are all busy. */
	for (unsigned i = 0; i < p->conf.threads; i++) {
		slot_t *s = p->slots[i];

		if (s->state == SLOT_FREE && (!free_slot || (s->started && !free_slot->started)))
			free_slot = s;
	}
	if (free_slot) {
		free_slot->state = SLOT_TAKEN;
		free_slot->owner = owner;
		p->stats.busy++;
	}
	pthread_mutex_unlock(&p->mu);
	if (!free_slot) {
		p->stats.refused++;
		return NULL;
	}
	return free_slot->job;
}

void work_put(work_pool_t *p, void *job)
{
	slot_t *s = slot_of(job);

	pthread_mutex_lock(&p->mu);
	s->state = SLOT_FREE;
	p->stats.busy--;
	pthread_mutex_unlock(&p->mu);
	s->owner = NULL;
}

static int start_thread(slot_t *s)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int r;

	pthread_attr_init(&attr);
	/* Jobs open files and read /proc: no deep stacks (the thread-local
	 * buffers of the job live in this mapping too). */
	pthread_attr_setstacksize(&attr, (size_t)512 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->thread, &attr, worker_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;
	s->started = true;
	s->p->stats.threads++;
	return 0;
}

int work_start(work_pool_t *p, void *job)
{
	slot_t *s = slot_of(job);
	int r;

	if (!s->started && (r = start_thread(s)) < 0) {
		work_put(p, job);
		return r;
	}
	s->expire_called = false;
	s->counted_lost = false;
	atomic_store(&s->expired, false);
	atomic_store(&s->ran, false);
	p->stats.jobs++;
	/* The loop's clock was read when this iteration began. */
	uv_update_time(p->loop);
	uv_timer_start(&s->deadline, deadline_cb, p->conf.deadline_ms, p->conf.deadline_ms);
	pthread_mutex_lock(&p->mu);
	s->state = SLOT_RUNNING;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

const void *work_owner(const work_pool_t *p, const void *job)
{
	(void)p;
	return slot_of(job)->owner;
}

void work_disown(work_pool_t *p, const void *owner)
{
	for (unsigned i = 0; i < p->conf.threads; i++) {
		if (p->slots[i]->owner == owner)
			p->slots[i]->owner = NULL;
	}
}

void work_expire_owner(work_pool_t *p, const void *owner)
{
	for (unsigned i = 0; i < p->conf.threads; i++) {
		slot_t *s = p->slots[i];
		enum slot_state st;

		if (s->owner != owner || s->expire_called)
			continue;
		pthread_mutex_lock(&p->mu);
		st = s->state;
		pthread_mutex_unlock(&p->mu);
		if (st == SLOT_RUNNING)
			expire_slot(s);
	}
}

void work_reap(work_pool_t *p)
{
	if (p && !p->closed)
		posted_cb(&p->posted);
}

void work_for_each(work_pool_t *p, void (*fn)(void *job, void *arg), void *arg)
{
	for (unsigned i = 0; p && i < p->conf.threads; i++) {
		slot_t *s = p->slots[i];
		enum slot_state st;

		pthread_mutex_lock(&p->mu);
		st = s->state;
		pthread_mutex_unlock(&p->mu);
		if (st != SLOT_FREE)
			fn(s->job, arg);
	}
}

void work_stats(const work_pool_t *p, work_stats_t *out)
{
	*out = p->stats;
}

void work_close(work_pool_t *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->closed = true;
	pthread_mutex_unlock(&p->mu);
	uv_close((uv_handle_t *)&p->posted, NULL);
	for (unsigned i = 0; i < p->conf.threads; i++)
		uv_close((uv_handle_t *)&p->slots[i]->deadline, NULL);
}

void work_free(work_pool_t *p)
{
	bool stuck = false;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	for (unsigned i = 0; i < p->conf.threads; i++)
		pthread_cond_signal(&p->slots[i]->wake);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->conf.threads; i++) {
		slot_t *s = p->slots[i];
		struct timespec until;

		if (!s->started)
			continue;
		pthread_kill(s->thread, WORK_SIGNAL);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
			stuck = true; /* its slot, and the pool, stay allocated */
			pthread_detach(s->thread);
			p->slots[i] = NULL;
		}
	}
	if (stuck)
		return;
	for (unsigned i = 0; i < p->conf.threads; i++) {
		pthread_cond_destroy(&p->slots[i]->wake);
		free(p->slots[i]);
	}
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p);
}
