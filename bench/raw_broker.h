/*
 * The raw C brokered open of sysgate-bench: the per-call work of
 * supervisor/broker.c for a plain openat(dirfd, absolute path, flags),
 * written out in one function, as the floor sysgated's sysgate.open() is
 * compared with.
 */
#ifndef SYSGATE_BENCH_RAW_BROKER_H
#define SYSGATE_BENCH_RAW_BROKER_H

#include <linux/seccomp.h>

/* Reads this process's identity, once, before the first open: 0 or -errno. */
int raw_broker_init(void);

/* Opens path (already read from the caller's memory and checked) for the
 * openat notification req as the caller and answers it with
 * NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND. 0 when answered, -ENOENT when the
 * call is gone, or the -errno to answer it with. */
int raw_broker_open(int listener, const struct seccomp_notif *req, const char *path);

#endif
