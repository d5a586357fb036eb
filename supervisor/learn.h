/*
 * Learn mode: what one target did, recorded call by call (the syscalls it
 * made, the files it opened for reading or writing, the files it changed,
 * the programs it executed and the socket addresses it used), and turned
 * into a Lua policy for the same engine when the target ends.
 *
 * Everything recorded comes from the target, so it is untrusted: it is
 * bounded (LEARN_MAX_*; what does not fit is counted as dropped and said
 * in the generated file), and every string is written into the Lua source
 * quoted, never raw. Not thread-safe: a learn_t belongs to one target.
 */
#ifndef SG_LEARN_H
#define SG_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "call.h"

#define LEARN_MAX_PATHS 4096         /* file paths, all sets together */
#define LEARN_MAX_ADDRS 256          /* socket addresses */
#define LEARN_MAX_EXECS 256          /* executed programs */
/* Bytes of all recorded strings. A byte is written as at most four
 * ("\ddd"), so the generated file stays under the 1 MiB a policy file
 * may have, even when every byte must be escaped. */
#define LEARN_MAX_BYTES (224u << 10)
#define LEARN_GROUP 16               /* more files than this in one directory: the directory */

typedef struct learn learn_t;

typedef struct learn_stats {
	uint64_t calls;   /* calls recorded */
	unsigned syscalls; /* distinct syscalls */
	unsigned paths, addrs, execs;
	uint64_t dropped; /* entries over a bound, not recorded */
} learn_stats_t;

/* Who was learned, for the generated file's header. */
typedef struct learn_about {
	const char *policy; /* the policy the target ran under */
	uint64_t target;
	pid_t pid;
	time_t started, ended; /* wall clock */
	bool snapshot;         /* written on request while the target runs */
	/* When set, asked once the policy is rendered, before anything is
	 * written: 0 to write its len bytes, or a negative errno with the
	 * reason in why (the launcher's quota of learned bytes, tenant.c). */
	int (*admit)(void *ctx, size_t len, char *why, size_t why_len);
	void *admit_ctx;
} learn_about_t;

/* A new, empty record; NULL when out of memory. Freed with learn_free. */
learn_t *learn_new(void);
void learn_free(learn_t *l); /* accepts NULL */

/* Records one call. Pointer arguments are read through the call (and
 * checked by it); a call whose arguments cannot be read is recorded as a
 * syscall only. Never fails: what does not fit is counted as dropped. */
void learn_record(learn_t *l, call_t *c);

void learn_stats(const learn_t *l, learn_stats_t *out);

/* The generated policy as Lua source, malloc'ed into *out (the caller
 * frees it) with its length: 0 or -ENOMEM. */
int learn_render(const learn_t *l, const learn_about_t *about, char **out, size_t *len);

/*
 * Renders and writes the policy into dir as "<policy>-<target>-<time>.lua"
 * ("...-<time>-snapshot.lua" for a snapshot),
 * mode 0600: written to a temporary file created with O_EXCL and renamed
 * without replacing anything, in a directory that must belong to root or
 * the supervisor's uid and be writable by its owner alone. 0 with the
 * file's path in path, or a negative errno with the reason in why.
 */
int learn_write(const learn_t *l, const char *dir, const learn_about_t *about, char *path,
		size_t path_len, char *why, size_t why_len);

/* The file part of learn_write: src (len bytes, from learn_render) into
 * dir as learn_write names it. Touches no learn_t, so a thread other than
 * the loop's may do it (the fsync is the slow part). */
int learn_write_src(const char *src, size_t len, const char *dir, const learn_about_t *about,
		    char *path, size_t path_len, char *why, size_t why_len);

#endif
