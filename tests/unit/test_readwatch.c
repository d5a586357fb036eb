/*
 * Unit tests of the read watchdog's decisions (readwatch.h), on this
 * process's own memory and a clock driven by hand: when it acts, what it
 * finds behind an address, and what the loop learns when the read ends.
 * The FUSE abort itself is tests/attack/test_read_stall.c's.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "readwatch.h"

#define MS 1000000ull
#define T0 (1000 * MS)

/* An fd that is a directory with nothing in it, standing for fusectl. */
static int empty_dir(char *path, size_t len)
{
	snprintf(path, len, "/tmp/sysgate-rw.XXXXXX");
	assert_non_null(mkdtemp(path));
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* Before the deadline nothing is done; a read that ends in time is no
 * stall, and one that ends late without the watchdog's look is one with
 * no action. */
static void test_deadline(void **state)
{
	readwatch_t w;
	readwatch_stall_t st;
	static char buf[64];

	(void)state;
	memset(&w, 0, sizeof(w));
	readwatch_begin(&w, getpid(), (uintptr_t)buf, T0);
	readwatch_check(&w, -1, T0 + (READWATCH_STALL_MS - 1) * MS);
	assert_int_equal(w.handled, 0);
	assert_false(readwatch_end(&w, T0, T0 + (READWATCH_STALL_MS - 1) * MS, &st));
	assert_int_equal(atomic_load(&w.since_ns), 0);

	readwatch_begin(&w, getpid(), (uintptr_t)buf, T0 + MS);
	assert_true(readwatch_end(&w, T0 + MS, T0 + MS + READWATCH_STALL_MS * MS, &st));
	assert_int_equal(st.outcome, READWATCH_NONE);
	assert_int_equal(st.waited_ns, READWATCH_STALL_MS * MS);
	/* Nothing in progress: the watchdog has nothing to look at. */
	readwatch_check(&w, -1, T0 + 10000 * MS);
	assert_int_equal(w.handled, 0);
}

/* An anonymous page is no FUSE file (device 0:0, no fusectl entry); an
 * address nothing maps has no mapping; without fusectl nothing can be
 * aborted. Each is acted on once, and the loop sees it at the end. */
static void test_outcomes(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	char *anon = mmap(NULL, (size_t)page * 2, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char dir[64];
	int fusectl = empty_dir(dir, sizeof(dir));
	uint64_t acted[READWATCH_NOUTCOMES], waiting, before[READWATCH_NOUTCOMES];
	readwatch_t w;
	readwatch_stall_t st;
	const struct {
		uintptr_t addr;
		int fusectl;
		readwatch_outcome_t want;
	} cases[] = {
		{ (uintptr_t)anon + 10, fusectl, READWATCH_NOT_FUSE },
		{ (uintptr_t)anon + (uintptr_t)page + 10, -1, READWATCH_NO_MAPPING },
		{ (uintptr_t)anon + 10, -1, READWATCH_NO_FUSECTL },
	};

	(void)state;
	assert_true(anon != MAP_FAILED);
	assert_true(fusectl >= 0);
	/* The second page is unmapped: nothing holds an address in it. */
	assert_int_equal(munmap(anon + page, (size_t)page), 0);
	readwatch_stats(before, &waiting);
	memset(&w, 0, sizeof(w));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t since = T0 + i * 10000 * MS;

		readwatch_begin(&w, getpid(), cases[i].addr, since);
		readwatch_check(&w, cases[i].fusectl, since + READWATCH_STALL_MS * MS);
		assert_int_equal(w.handled, since);
		assert_int_equal(atomic_load(&w.outcome), cases[i].want);
		readwatch_stats(acted, &waiting);
		assert_int_equal(acted[cases[i].want], before[cases[i].want] + 1);
		assert_int_equal(waiting, 1);
		/* Once per read. */
		readwatch_check(&w, cases[i].fusectl, since + 2 * READWATCH_STALL_MS * MS);
		readwatch_stats(acted, &waiting);
		assert_int_equal(acted[cases[i].want], before[cases[i].want] + 1);
		assert_true(readwatch_end(&w, since, since + 3 * READWATCH_STALL_MS * MS, &st));
		assert_int_equal(st.outcome, cases[i].want);
		assert_int_equal(st.waited_ns, 3 * READWATCH_STALL_MS * MS);
		readwatch_stats(before, &waiting);
		assert_int_equal(waiting, 0);
	}
	/* What the watchdog did about an earlier read is not the next one's. */
	readwatch_begin(&w, getpid(), (uintptr_t)anon, T0 + 99999 * MS);
	assert_true(readwatch_end(&w, T0 + 99999 * MS, T0 + 99999 * MS + READWATCH_STALL_MS * MS,
				  &st));
	assert_int_equal(st.outcome, READWATCH_NONE);
	munmap(anon, (size_t)page);
	close(fusectl);
	rmdir(dir);
}

/* Lines of /proc/<pid>/maps longer than the reader's buffer (8 KiB) do
 * not hide the mappings after them, and their tails are not read as
 * lines: the kernel writes a newline in a path as \\012, so a path of
 * 12 directories named by 200 newlines each makes a line of about
 * 10,000 bytes. */
static void test_long_lines(void **state)
{
	char path[4096], dir[64], name[201], cmd[128];
	int fusectl = empty_dir(dir, sizeof(dir));
	long page = sysconf(_SC_PAGESIZE);
	char *maps[4], *anon;
	readwatch_t w;
	readwatch_stall_t st;
	int fd;

	(void)state;
	memset(name, '\n', 200);
	name[200] = '\0';
	snprintf(path, sizeof(path), "%s", dir);
	for (int i = 0; i < 12; i++) {
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/f");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, page), 0);
	for (int i = 0; i < 4; i++) {
		maps[i] = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
		assert_true(maps[i] != MAP_FAILED);
	}
	anon = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	memset(&w, 0, sizeof(w));
	for (int i = 0; i < 5; i++) {
		uint64_t since = T0 + (uint64_t)i * 10000 * MS;
		char *addr = i < 4 ? maps[i] : anon;

		readwatch_begin(&w, getpid(), (uintptr_t)addr + 1, since);
		readwatch_check(&w, fusectl, since + READWATCH_STALL_MS * MS);
		assert_true(readwatch_end(&w, since, since + READWATCH_STALL_MS * MS, &st));
		/* The file's device is not 0:0 (it is on a real file system);
		 * either way it has no fusectl entry. */
		assert_int_equal(st.outcome, READWATCH_NOT_FUSE);
	}
	for (int i = 0; i < 4; i++)
		munmap(maps[i], (size_t)page);
	munmap(anon, (size_t)page);
	close(fd);
	close(fusectl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_long_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
