/*
 * The read watchdog: a read of a target's memory (process_vm_readv of a
 * path, a sockaddr, argv) faults its pages in, and a page of a file on a
 * FUSE mount is served by the process behind the mount. One that never
 * answers makes the read wait, killably only, and the loop with it: every
 * other target's calls and every new launch. The loop publishes each
 * read (readwatch_begin/end: a few relaxed stores and a clock read, no
 * lock, no allocation); the receive watchdog's thread checks it every
 * tick and, when one has lasted READWATCH_STALL_MS, finds the mapping
 * behind the address in /proc/<pid>/maps and aborts its FUSE connection
 * through fusectl, which fails the pending request: the read returns
 * EFAULT and the call is denied like any failed read. The loop logs it
 * when the read returns (log.c is the loop's alone); a stall it cannot
 * end (a hung network file system) is logged when it ends, if it ends.
 *
 * The state is per sgd_t (per loop); each loop's watchdog checks its own.
 */
#ifndef SG_READWATCH_H
#define SG_READWATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define READWATCH_STALL_MS 500
/* A target whose reads held the loop READWATCH_STALL_MS in all, counting
 * each read of READWATCH_SLOW_MS or more, has its later reads fail at
 * once (receive.c): a file system that answers each read just before the
 * watchdog would act holds the loop that long once, not once per call. */
#define READWATCH_SLOW_MS 50

typedef enum readwatch_outcome {
	READWATCH_NONE = 0,       /* not acted on (yet) */
	READWATCH_ABORTED,        /* the FUSE connection behind it was aborted */
	READWATCH_NOT_FUSE,       /* the mapping is not on a FUSE mount: nothing to abort */
	READWATCH_NO_MAPPING,     /* no mapping holds the address (or maps unreadable) */
	READWATCH_NO_FUSECTL,     /* fusectl is not available to this supervisor */
	READWATCH_ABORT_FAILED,   /* the abort file would not take the write */
	READWATCH_NOUTCOMES
} readwatch_outcome_t;

typedef struct readwatch {
	/* Written by the loop. */
	_Atomic uint64_t since_ns; /* start of the read in progress; 0: none */
	_Atomic int pid;
	_Atomic uint64_t addr;
	/* Written by the watchdog: what it did about the read that started
	 * at stall_since (published last, with release). */
	_Atomic int outcome;
	_Atomic uint32_t dev;
	_Atomic uint64_t stall_since;
	uint64_t handled; /* the watchdog's own: the last read it acted on */
} readwatch_t;

/* What a read that lasted READWATCH_STALL_MS or more came to. */
typedef struct readwatch_stall {
	uint64_t waited_ns;
	readwatch_outcome_t outcome;
	uint32_t dev; /* the mapping's device, kernel encoding (major << 20 | minor) */
} readwatch_stall_t;

/* The fusectl directory (mounted on /sys/fs/fuse/connections when it is
 * not and this process may), opened once: -1 with why when there is
 * none. The caller closes it. */
int readwatch_fusectl_open(char *why, size_t why_len);

/* Publishes a read of pid's memory at addr starting at now (seqlock
 * style: since_ns is the sequence; the fence orders the field stores
 * after the 0 the last readwatch_end stored). */
static inline void readwatch_begin(readwatch_t *w, pid_t pid, uint64_t addr, uint64_t now)
{
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&w->pid, pid, memory_order_relaxed);
	atomic_store_explicit(&w->addr, addr, memory_order_relaxed);
	atomic_store_explicit(&w->since_ns, now, memory_order_release);
}

/* Ends the read begun at since; true when it lasted READWATCH_STALL_MS or
 * more (out filled, with what the watchdog did if it got to it). */
bool readwatch_end(readwatch_t *w, uint64_t since, uint64_t now, readwatch_stall_t *out);

/* The watchdog's check, once per tick: acts on a read that has lasted
 * READWATCH_STALL_MS. fusectl: readwatch_fusectl_open's fd, or -1. */
void readwatch_check(readwatch_t *w, int fusectl, uint64_t now);

/* A name for the log and the metrics. */
const char *readwatch_outcome_name(readwatch_outcome_t o);

/* For the metrics (any thread): the reads every watchdog acted on, by
 * outcome (acted[READWATCH_NONE] is 0), and how many of them have not
 * returned yet. Counted by the watchdogs, so that a read that never
 * returns (a hung network file system) shows while the loop waits. */
void readwatch_stats(uint64_t acted[READWATCH_NOUTCOMES], uint64_t *waiting);

#endif
