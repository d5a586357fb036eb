/*
 * The executable of a target's process, from the kernel: the file
 * /proc/<pid>/exe leads to (its device and inode), and its path only
 * when that path names the same file in sysgated's own mount namespace.
 * A process in a mount namespace of its own can make the kernel's path
 * string say anything (bind-mount its binary over /usr/bin/python3 and
 * exec that): the path alone is the target's word, the file is not.
 */
#ifndef SG_EXE_H
#define SG_EXE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

/* What the last check of one (path, file) pair found; one per target, so
 * that a process running one program checks its path once, and while the
 * file is the same one its path is not read again. */
typedef struct exe_cache {
	char path[PATH_MAX];
	uint64_t dev, ino, changed; /* st_ctime in ns: a replaced file, a reused inode number */
	int state; /* 0 empty, 1 the path names the file, 2 it does not */
} exe_cache_t;

/*
 * Reads the executable of pid into exe (cap bytes): its path when, in
 * sysgated's mount namespace, the path names the file the process runs;
 * else "(not PATH: MAJ:MIN:INO)" (PATH cut to fit), which no real path
 * equals. *dev (the kernel's st_dev, as stat(2) gives it) and *ino are
 * the file's. cache (may be NULL) remembers the last pair checked. The
 * path is looked up with RESOLVE_CACHED: a walk that needs the file
 * system (a FUSE server, a network mount) is not made on the loop and
 * the path is not claimed. 0, or a negative errno (the process is gone).
 */
int exe_read(pid_t pid, exe_cache_t *cache, char *exe, size_t cap, uint64_t *dev, uint64_t *ino);

#endif
