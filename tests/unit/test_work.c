/*
 * The off-loop job pool (supervisor/work.c) on a real libuv loop: a job
 * that ends is done() without expiring; a job that blocks in an
 * interruptible wait past its deadline is expired on the loop, its worker
 * interrupted (the read returns EINTR) and then done(expired); the bounds
 * per owner and overall refuse a take.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "work.h"

typedef struct job {
	int fd;           /* read one byte from it; -1: return at once */
	bool stubborn;    /* read again when interrupted: a worker that is lost */
	int result;       /* read's return, or -errno */
	bool expired_seen; /* work_expired() after the read */
} job_t;

static int expires, dones, dones_expired, losts;

static void run(void *arg)
{
	job_t *j = arg;
	char c;

	if (j->fd < 0) {
		j->result = 0;
		return;
	}
	do
		j->result = read(j->fd, &c, 1) < 0 ? -errno : 1;
	while (j->stubborn && j->result == -EINTR);
	j->expired_seen = work_expired(j);
}

static void expire(void *arg)
{
	(void)arg;
	expires++;
}

static void lost(void *arg)
{
	(void)arg;
	losts++;
}

static void done(void *arg, bool expired)
{
	(void)arg;
	dones++;
	dones_expired += expired;
}

static void keep_cb(uv_timer_t *h)
{
	(void)h;
}

static void run_until(uv_loop_t *loop, const int *count, int want)
{
	for (int i = 0; i < 1000 && *count < want; i++)
		uv_run(loop, UV_RUN_ONCE);
	assert_int_equal(*count, want);
}

static void test_pool(void **state)
{
	/* A deadline a loaded host's thread start cannot pass by itself: the
	 * quick job must not expire (seen with 50 ms, four builds running). */
	const work_conf_t conf = { .threads = 2, .per_owner = 1, .job_size = sizeof(job_t),
				   .deadline_ms = 1000, .run = run, .expire = expire, .done = done,
				   .lost = lost };
	uv_loop_t loop;
	uv_timer_t keep;
	work_pool_t *p;
	work_stats_t st;
	int a, b, c, pipefd[2];
	job_t *j, *k;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	/* The pool's handles do not keep the loop running: this does. */
	uv_timer_init(&loop, &keep);
	uv_timer_start(&keep, keep_cb, 60000, 60000);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(work_new(&loop, &conf, &p), 0);

	/* A quick job: done, not expired. */
	j = work_take(p, &a);
	assert_non_null(j);
	j->fd = -1;
	assert_int_equal(work_start(p, j), 0);
	run_until(&loop, &dones, 1);
	assert_int_equal(expires, 0);
	assert_int_equal(work_in_flight(p, &a), 0);

	/* A job stuck on an empty pipe: one per owner, two overall. */
	j = work_take(p, &a);
	assert_non_null(j);
	j->fd = pipefd[0];
	assert_int_equal(work_start(p, j), 0);
	assert_null(work_take(p, &a));
	k = work_take(p, &b);
	assert_non_null(k);
	assert_null(work_take(p, &c)); /* both slots busy */
	work_put(p, k);
	/* The deadline expires it, the signal ends the read. */
	run_until(&loop, &dones, 2);
	assert_int_equal(expires, 1);
	assert_int_equal(dones_expired, 1);
	assert_int_equal(j->result, -EINTR);
	assert_true(j->expired_seen);
	work_stats(p, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.busy, 0);

	/* A job that goes back to its wait when interrupted: expired, then
	 * lost a deadline later; its slot stays taken until it ends. */
	j = work_take(p, &a);
	assert_non_null(j);
	j->fd = pipefd[0];
	j->stubborn = true;
	assert_int_equal(work_start(p, j), 0);
	run_until(&loop, &losts, 1);
	assert_int_equal(expires, 2);
	assert_int_equal(work_in_flight(p, &a), 1);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	run_until(&loop, &dones, 3);
	assert_int_equal(j->result, 1);
	work_stats(p, &st);
	assert_int_equal(st.lost, 1);

	work_close(p);
	uv_close((uv_handle_t *)&keep, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	work_free(p);
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
