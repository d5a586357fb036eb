/*
 * Unit tests of the brokered open's path handling: the /proc/self
 * rewrite and the check that an opened /proc entry is not one of the
 * supervisor's tasks. The open itself is tested on the kernel
 * (tests/integration/test_broker.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "broker.h"

static void test_proc_self_rewrite(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(broker_proc_self("/proc/self/status", 12, 13, out, sizeof(out)), 1);
	assert_string_equal(out, "/proc/12/status");
	assert_int_equal(broker_proc_self("/proc/self", 12, 13, out, sizeof(out)), 1);
	assert_string_equal(out, "/proc/12");
	assert_int_equal(broker_proc_self("/proc/thread-self/fd", 12, 13, out, sizeof(out)), 1);
	assert_string_equal(out, "/proc/12/task/13/fd");
	/* Only the leading component, and only whole names. */
	assert_int_equal(broker_proc_self("/proc/selfish", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("/proc/12/status", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("/x/proc/self", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("proc/self", 12, 13, out, sizeof(out)), 0);
	assert_int_equal(broker_proc_self("/proc/self/status", 123456, 1, out, 16), -ENAMETOOLONG);
}

/* Which entries of a procfs are the calling thread group's: its pid, and
 * any of its threads' ids, as first component; nothing else. */
static int idle_pipe[2];
static _Atomic pid_t idle_tid;

static void *idle(void *arg)
{
	char c;

	(void)arg;
	idle_tid = gettid();
	return read(idle_pipe[0], &c, 1) < 0 ? NULL : NULL;
}

static void test_proc_task(void **state)
{
	char path[64];
	pthread_t th;
	int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)state;
	assert_true(procfd >= 0);
	snprintf(path, sizeof(path), "%d/status", (int)getpid());
	assert_int_equal(broker_proc_task(procfd, path, 0), 1);
	snprintf(path, sizeof(path), "%d", (int)getpid());
	assert_int_equal(broker_proc_task(procfd, path, 0), 1);
	snprintf(path, sizeof(path), "%d/task/%d/mem", (int)getpid(), (int)gettid());
	assert_int_equal(broker_proc_task(procfd, path, 0), 1);
	assert_int_equal(broker_proc_task(procfd, "meminfo", 0), 0);
	assert_int_equal(broker_proc_task(procfd, "sys/kernel/pid_max", 0), 0);
	assert_int_equal(broker_proc_task(procfd, "", 0), 0);
	if (getpid() != 1)
		assert_int_equal(broker_proc_task(procfd, "1/status", 0), 0);
	/* The child that made the open is ours too. */
	assert_int_equal(broker_proc_task(procfd, "4194300/maps", 4194300), 1);
	assert_int_equal(broker_proc_task(procfd, "4194300/maps", 4194301), 0);
	/* A thread of ours that is not the leader: its tid names it too. */
	assert_int_equal(pipe(idle_pipe), 0);
	assert_int_equal(pthread_create(&th, NULL, idle, NULL), 0);
	for (int i = 0; i < 10000 && idle_tid == 0; i++)
		usleep(1000);
	assert_true(idle_tid > 0);
	snprintf(path, sizeof(path), "%d/maps", (int)idle_tid);
	assert_int_equal(broker_proc_task(procfd, path, 0), 1);
	assert_int_equal(write(idle_pipe[1], "x", 1), 1);
	pthread_join(th, NULL);
	close(idle_pipe[0]);
	close(idle_pipe[1]);
	close(procfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_self_rewrite),
		cmocka_unit_test(test_proc_task),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
