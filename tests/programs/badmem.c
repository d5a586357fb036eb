/*
 * badmem: a target program for the integration tests that hands openat
 * path pointers a supervisor cannot read, or can read only page by page.
 * It runs the operations named on its command line in order and prints
 * one line for each: "OP ADDR: ok" or "OP ADDR: ERRNO_NAME", where ADDR is
 * the pointer it passed (the log's args[1]), in hex.
 *
 *   unmapped     openat(AT_FDCWD, p, O_RDONLY) where p was mapped and then
 *                unmapped again
 *   long         openat on 8192 bytes of 'a' followed by a NUL, all mapped:
 *                no NUL within PATH_MAX
 *   edge PATH    openat on a copy of PATH whose NUL is the last byte of a
 *                mapped page, followed by an unmapped page
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096

static void report(const char *op, const char *p, long r)
{
	printf("%s %#lx: %s\n", op, (unsigned long)(uintptr_t)p, r < 0 ? strerrorname_np(errno) : "ok");
	fflush(stdout);
}

static long do_open(const char *path)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY, 0);

	if (fd >= 0) {
		close((int)fd);
		return 0;
	}
	return fd;
}

/* Maps n pages; the program has nothing to do without them. */
static char *map_pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("badmem: mmap");
		_exit(2);
	}
	return p;
}

static void op_unmapped(void)
{
	char *p = map_pages(1);

	munmap(p, PAGE);
	report("unmapped", p, do_open(p));
}

/* Two pages of 'a' and a third, mapped and zero, that holds the NUL. */
static void op_long(void)
{
	char *p = map_pages(3);

	memset(p, 'a', 2 * PAGE);
	report("long", p, do_open(p));
	munmap(p, 3 * PAGE);
}

static void op_edge(const char *path)
{
	size_t len = strlen(path) + 1;
	char *p = map_pages(2), *s;

	if (len > PAGE) {
		fprintf(stderr, "badmem: path too long for edge\n");
		_exit(2);
	}
	munmap(p + PAGE, PAGE);
	s = p + PAGE - len;
	memcpy(s, path, len);
	report("edge", s, do_open(s));
	munmap(p, PAGE);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "unmapped") == 0) {
			op_unmapped();
		} else if (strcmp(argv[i], "long") == 0) {
			op_long();
		} else if (strcmp(argv[i], "edge") == 0 && i + 1 < argc) {
			op_edge(argv[++i]);
		} else {
			fprintf(stderr, "badmem: bad operation '%s'\n", argv[i]);
			return 2;
		}
	}
	return 0;
}
