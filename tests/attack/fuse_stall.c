/*
 * fuse_stall: a FUSE file system that never answers a read, and a target
 * that points a call's path into a file of it (for
 * tests/attack/test_read_stall.c). No libfuse: the protocol is spoken on
 * /dev/fuse directly, as far as one file needs.
 *
 *   fuse_stall serve MNT [DELAY_MS]
 *     Outside sysgate, as root: mounts itself on MNT, with one file, "f",
 *     of 16 pages, says "mounted", and answers everything but READ, which
 *     it never answers ("read pending" at the first). With DELAY_MS it
 *     answers each READ that long after it came, every page holding
 *     "/etc/hostname". No readahead: one READ per page faulted in. Says
 *     "connection ended" and exits when the connection is aborted or
 *     unmounted.
 *
 *   fuse_stall target FILE
 *     Under sysgate: maps FILE without touching it ("mapped"), makes an
 *     openat whose path is the mapping, so that sysgated's read of the
 *     path faults into the file system, then an ordinary openat.
 *
 *   fuse_stall pages FILE N
 *     Under sysgate: maps FILE and makes an openat whose path is the
 *     start of page i, for each i < N ("open page i: ...").
 *
 *   fuse_stall other
 *     Under sysgate: says "ready", waits for a line (or the end) on
 *     stdin, then makes a forwarded openat of /etc/hostname.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROOT_ID 1
#define FILE_ID 2
#define PAGE 4096
#define FILE_SIZE (16 * PAGE)

static long delay_ms = -1; /* -1: READ is never answered */

static void out(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, strerrorname_np(errno));
	else
		printf("%s: ok %ld\n", what, r);
	fflush(stdout);
}

static int reply(int fd, const struct fuse_in_header *in, int error, const void *arg, size_t len)
{
	static unsigned char buf[sizeof(struct fuse_out_header) + 2 * PAGE];
	struct fuse_out_header h = { .len = (uint32_t)(sizeof(h) + len), .error = -error,
				     .unique = in->unique };

	if (len > sizeof(buf) - sizeof(h))
		return -1;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), arg, len);
	return write(fd, buf, h.len) == (ssize_t)h.len ? 0 : -1;
}

static void attr_of(uint64_t id, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = id;
	a->nlink = id == ROOT_ID ? 2 : 1;
	a->mode = id == ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0444;
	a->size = id == ROOT_ID ? 0 : FILE_SIZE;
	a->blocks = a->size / 512;
	a->blksize = 4096;
}

static int serve_one(int fd, const unsigned char *msg)
{
	const struct fuse_in_header *in = (const void *)msg;
	const void *arg = msg + sizeof(*in);
	static int reads;

	switch (in->opcode) {
	case FUSE_INIT: {
		struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
					   .minor = FUSE_KERNEL_MINOR_VERSION,
					   .max_readahead = 0,
					   .max_background = 16,
					   .congestion_threshold = 12,
					   .max_write = 4096,
					   .time_gran = 1 };

		return reply(fd, in, 0, &o, sizeof(o));
	}
	case FUSE_LOOKUP: {
		struct fuse_entry_out e = { .nodeid = FILE_ID, .generation = 1,
					    .entry_valid = 3600, .attr_valid = 3600 };

		if (in->nodeid != ROOT_ID || strcmp(arg, "f") != 0)
			return reply(fd, in, ENOENT, NULL, 0);
		attr_of(FILE_ID, &e.attr);
		return reply(fd, in, 0, &e, sizeof(e));
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out a = { .attr_valid = 3600 };

		attr_of(in->nodeid, &a.attr);
		return reply(fd, in, 0, &a, sizeof(a));
	}
	case FUSE_OPEN: {
		struct fuse_open_out o = { .fh = 1 };

		return reply(fd, in, 0, &o, sizeof(o));
	}
	case FUSE_READ: {
		const struct fuse_read_in *ri = arg;
		static char data[2 * PAGE];
		struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
		size_t len = ri->size;

		/* Never answered: whoever faults the page in waits. */
		if (reads++ == 0) {
			printf("read pending\n");
			fflush(stdout);
		}
		if (delay_ms < 0)
			return 0;
		nanosleep(&ts, NULL);
		if (ri->offset >= FILE_SIZE)
			len = 0;
		else if (len > FILE_SIZE - ri->offset)
			len = FILE_SIZE - ri->offset;
		if (len > sizeof(data))
			len = sizeof(data);
		memset(data, 0, sizeof(data));
		for (size_t off = 0; off < len; off += PAGE)
			strcpy(data + off, "/etc/hostname");
		return reply(fd, in, 0, data, len);
	}
	case FUSE_FLUSH:
	case FUSE_RELEASE:
		return reply(fd, in, 0, NULL, 0);
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		return 0; /* no answer expected */
	default:
		return reply(fd, in, ENOSYS, NULL, 0);
	}
}

static int serve(const char *mnt)
{
	static unsigned char buf[FUSE_MIN_READ_BUFFER + 132 * 1024];
	char opts[128];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		out("open /dev/fuse", -1);
		return 2;
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
	if (mount("fuse_stall", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
		out("mount", -1);
		return 2;
	}
	printf("mounted\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue; /* ENOENT: a request interrupted before it was read */
		if (n < 0 && errno == ENODEV)
			break;
		if (n < (ssize_t)sizeof(struct fuse_in_header)) {
			out("read /dev/fuse", -1);
			return 3;
		}
		(void)serve_one(fd, buf);
	}
	printf("connection ended\n");
	return 0;
}

static int target(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	char *map;

	out("open the file", fd);
	if (fd < 0)
		return 2;
	map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		out("mmap", -1);
		return 2;
	}
	printf("mapped\n");
	fflush(stdout);
	out("open in the mapping", syscall(SYS_openat, AT_FDCWD, map, O_RDONLY | O_CLOEXEC));
	out("open after", syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC));
	return 0;
}

static int pages(const char *file, int n)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	char *map, what[32];

	if (fd < 0 || n > FILE_SIZE / PAGE)
		return 2;
	map = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || madvise(map, FILE_SIZE, MADV_RANDOM) < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "open page %d", i);
		out(what, syscall(SYS_openat, AT_FDCWD, map + (size_t)i * PAGE, O_RDONLY | O_CLOEXEC));
	}
	return 0;
}

static int other(void)
{
	char line[16];

	printf("ready\n");
	fflush(stdout);
	(void)fgets(line, sizeof(line), stdin);
	out("open", syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC));
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "serve") == 0) {
		if (argc == 4)
			delay_ms = strtol(argv[3], NULL, 10);
		return serve(argv[2]);
	}
	if (argc == 4 && strcmp(argv[1], "pages") == 0)
		return pages(argv[2], (int)strtol(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "target") == 0)
		return target(argv[2]);
	if (argc == 2 && strcmp(argv[1], "other") == 0)
		return other();
	return 2;
}
