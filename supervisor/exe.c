/*
 * The executable of a process from the kernel (exe.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "exe.h"

#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20
#endif

/* The file at path (AT_EMPTY_PATH with fd), without asking its file
 * system to revalidate: a FUSE server is not consulted for st_dev, st_ino
 * and st_ctime, which the inode holds. *changed (may be NULL): the ctime in
 * ns, which changes when the file is unlinked or replaced, so that a
 * cache keyed on it never takes a reused inode number for the file. */
static int file_id(int dirfd, const char *path, int flags, uint64_t *dev, uint64_t *ino,
		   uint64_t *changed)
{
	struct statx sx;

	if (statx(dirfd, path, flags | AT_STATX_DONT_SYNC, STATX_INO | STATX_CTIME, &sx) < 0)
		return -errno;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*ino = sx.stx_ino;
	if (changed)
		*changed = (uint64_t)sx.stx_ctime.tv_sec * 1000000000u + sx.stx_ctime.tv_nsec;
	return 0;
}

/* 1 when path names the file dev:ino in sysgated's mount namespace, 0
 * when it does not (or cannot be looked up without the file system's
 * help: -EAGAIN, which is not cached). */
static int names_file(const char *path, uint64_t dev, uint64_t ino)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_CACHED };
	uint64_t d = 0, i = 0;
	int fd, r;

	if (path[0] != '/')
		return 0;
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0)
		return errno == EAGAIN ? -EAGAIN : 0;
	r = file_id(fd, "", AT_EMPTY_PATH, &d, &i, NULL);
	close(fd);
	return r == 0 && d == dev && i == ino;
}

int exe_read(pid_t pid, exe_cache_t *cache, char *exe, size_t cap, uint64_t *dev, uint64_t *ino)
{
	char link[32], path[PATH_MAX];
	uint64_t changed = 0;
	ssize_t n;
	int ok;

	exe[0] = '\0';
	*dev = *ino = 0;
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	/* The link's target is the file itself, reached through the
	 * process's mm, not a walk of the path it shows. */
	if (file_id(AT_FDCWD, link, 0, dev, ino, &changed) < 0)
		return -ESRCH;
	/* The same file as a path already found to name it: that path names
	 * it still (whatever name the process used), and the call costs one
	 * statx, as the readlink alone did. */
	if (cache && cache->state == 1 && cache->dev == *dev && cache->ino == *ino &&
	    cache->changed == changed) {
		snprintf(exe, cap, "%s", cache->path);
		return 0;
	}
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return -ESRCH;
	path[n] = '\0';
	if (cache && cache->state && cache->dev == *dev && cache->ino == *ino &&
	    cache->changed == changed && strcmp(cache->path, path) == 0) {
		ok = cache->state == 1;
	} else {
		ok = names_file(path, *dev, *ino);
		if (cache && ok >= 0) {
			memcpy(cache->path, path, (size_t)n + 1);
			cache->dev = *dev;
			cache->ino = *ino;
			cache->changed = changed;
			cache->state = ok ? 1 : 2;
		}
	}
	if (ok == 1)
		snprintf(exe, cap, "%s", path);
	else
		snprintf(exe, cap, "(not %.*s: %u:%u:%llu)", (int)(cap > 80 ? cap - 80 : 0), path,
			 major(*dev), minor(*dev), (unsigned long long)*ino);
	return 0;
}
