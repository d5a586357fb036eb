/*
 * Off-loop jobs with a deadline: a small pool of worker threads for the
 * work the loop must never do itself because a target controls how long
 * it takes (an open of a FIFO, a device, a file on NFS or FUSE; a connect
 * on the target's socket). The loop hands a job to a worker and goes on
 * serving everyone else; the worker runs it and posts the result back to
 * the loop (uv_async), where done() runs. If the job is still running at
 * its deadline, expire() runs on the loop, which answers for the job
 * itself, and the worker is sent WORK_SIGNAL (a no-op handler installed
 * without SA_RESTART), so that an interruptible wait in the job returns
 * EINTR. A worker that is still stuck is signalled again at every further
 * deadline and counted as lost once; its slot stays taken until it comes
 * back, and the other slots go on serving.
 *
 * Bounds: at most `threads` jobs in flight at once, one thread each
 * (started at the slot's first use; lost ones count), and at most
 * `per_owner` of one owner (a target: one hostile target cannot take them
 * all). Each slot's job buffer (job_size bytes) is allocated once, by
 * work_new: handing out a job allocates nothing.
 *
 * Threads: work_take, work_start, work_in_flight, work_disown,
 * work_expire_owner, work_reap, work_for_each and work_close are the loop
 * thread's; run() and
 * work_expired() a worker's; thread_init() runs on each worker once.
 * expire() runs on the loop while run() may still be running on the same
 * job: what it reads of the job must be what run() does not change.
 *
 * Usage:
 *	job = work_take(p, owner);            NULL: bounds reached (-EAGAIN)
 *	fill job...; work_start(p, job);       on failure the slot is free again
 *	... later, on the loop: done(job, expired), once per started job.
 */
#ifndef SG_WORK_H
#define SG_WORK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* The signal that interrupts a worker whose job passed its deadline. The
 * receive watchdog uses SIGRTMIN + 1. */
#define WORK_SIGNAL (SIGRTMIN + 2)

typedef struct work_pool work_pool_t;

typedef struct work_conf {
	unsigned threads;   /* jobs in flight at once, one worker thread each */
	unsigned per_owner; /* jobs in flight of one owner */
	size_t job_size;    /* bytes of each slot's job buffer */
	uint64_t deadline_ms;
	/* Once on each worker thread before its first job, or NULL. 0 or a
	 * negative errno: a thread that cannot be set up runs no job (its
	 * slot's jobs end at once with done(job, false) and run() not run:
	 * work_ran(job) is false). */
	int (*thread_init)(void);
	/* The job, on a worker. */
	void (*run)(void *job);
	/* On the loop: the deadline passed while run() is still going. At
	 * most once per job. */
	void (*expire)(void *job);
	/* On the loop, once run() returned: expired says expire() ran. The
	 * slot is free again once done() returns. */
	void (*done)(void *job, bool expired);
	/* On the loop, or NULL: the job is still running a deadline after
	 * its worker was signalled, and is counted as lost (once). */
	void (*lost)(void *job);
} work_conf_t;

/* Pool statistics, for the log and tests. */
typedef struct work_stats {
	unsigned threads;  /* started so far */
	unsigned busy;     /* jobs in flight now */
	uint64_t jobs;     /* started since work_new */
	uint64_t expired;  /* passed their deadline */
	uint64_t lost;     /* still running a deadline after the signal */
	uint64_t refused;  /* work_take said no: a bound was reached */
} work_stats_t;

/* A pool serving loop; nothing is started yet. 0 or a negative errno. */
int work_new(uv_loop_t *loop, const work_conf_t *conf, work_pool_t **out);

/* A free slot's job buffer (job_size bytes, zeroed the first time only)
 * for owner (not NULL), or NULL when owner has per_owner jobs in flight
 * or every slot is busy. The slot is the caller's until work_start or
 * work_put. */
void *work_take(work_pool_t *p, const void *owner);
/* Gives back a slot taken with work_take and not started. */
void work_put(work_pool_t *p, void *job);
/* Runs job (from work_take) on its slot's worker, starting the thread if
 * it has none yet. 0, or a negative errno (the slot is free again and no
 * callback will run). */
int work_start(work_pool_t *p, void *job);

/* Jobs of owner in flight (taken or started, not done). */
unsigned work_in_flight(const work_pool_t *p, const void *owner);
/* The owner a job was taken for, or NULL once work_disown let it go. */
const void *work_owner(const work_pool_t *p, const void *job);
/* owner is going away: its jobs run to their end, but work_owner says
 * NULL for them from now on. */
void work_disown(work_pool_t *p, const void *owner);
/* Calls expire() now for every running job of owner that has not passed
 * its deadline yet, and signals their workers (a takeover cannot wait). */
void work_expire_owner(work_pool_t *p, const void *owner);

/* On a worker, inside run(): whether the job passed its deadline (then
 * the loop has answered for it, and run() should give up). */
bool work_expired(const void *job);
/* Whether run() ran for this job (see thread_init). */
bool work_ran(const void *job);

void work_stats(const work_pool_t *p, work_stats_t *out);

/* On the loop: runs done() now for every job a worker has posted, as the
 * next turn of the loop would (a stop that will not turn it again). */
void work_reap(work_pool_t *p);
/* On the loop: fn(job, arg) for every job in flight (taken, running, or
 * posted and not yet done). */
void work_for_each(work_pool_t *p, void (*fn)(void *job, void *arg), void *arg);

/* Stops taking jobs and closes the pool's libuv handles (the loop can
 * then end); done() runs for no job after this. */
void work_close(work_pool_t *p);
/* After the loop ended: joins the workers and frees the pool. A worker
 * that is still stuck is left alone, and so is the pool's memory it
 * uses. Accepts NULL. */
void work_free(work_pool_t *p);

#endif
