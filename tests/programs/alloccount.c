/*
 * alloccount: an LD_PRELOAD library that counts heap allocations (malloc,
 * calloc, realloc, posix_memalign, aligned_alloc) of the process it is
 * loaded into, for the test that the notified path allocates nothing in
 * steady state. SIGUSR2 writes the count so far, as decimal text, to the
 * file $ALLOC_COUNT_FILE. Not for the sanitizer build: the sanitizers
 * interpose the allocator themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static atomic_ulong count;
static char out_path[256];

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	return __libc_memalign(align, n);
}

/* Async-signal-safe: open, write, close, and digits by hand. */
static void dump(int sig)
{
	unsigned long v = atomic_load(&count);
	char buf[32];
	int i = (int)sizeof(buf);
	int fd, saved = errno;

	(void)sig;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)!write(fd, buf + i, sizeof(buf) - (size_t)i);
		close(fd);
	}
	errno = saved;
}

__attribute__((constructor)) static void init(void)
{
	const char *p = getenv("ALLOC_COUNT_FILE");
	struct sigaction sa;

	if (!p || strlen(p) >= sizeof(out_path))
		return;
	memcpy(out_path, p, strlen(p) + 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = dump;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
}
