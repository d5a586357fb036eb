/*
 * The raw C supervisors of sysgate-bench: the least a notified call costs
 * when a small C loop, not sysgated, answers it. Each runs in a thread of
 * the bench process and serves one forked child that runs the measured
 * loop under a filter notifying one syscall.
 */
#ifndef SYSGATE_BENCH_RAW_NOTIFY_H
#define SYSGATE_BENCH_RAW_NOTIFY_H

#include <stdbool.h>

typedef enum {
	RAW_CONTINUE, /* NOTIF_RECV, NOTIF_SEND(CONTINUE): nothing read */
	RAW_PATH,     /* read the path argument as sysgated reads c.path
		       * (process_vm_readv page by page, then NOTIF_ID_VALID),
		       * compare it, then CONTINUE (or deny "/nope") */
	RAW_BROKER,   /* the same read and compare, then the open sysgated's
		       * sysgate.open() makes (raw_broker.c) */
} raw_kind_t;

/* The path the path-reading supervisors deny, as the bench policies do. */
#define RAW_DENIED_PATH "/nope"

/* Receives one fd (SCM_RIGHTS, close-on-exec) from sock: the fd, or -1.
 * Shared with the fleet's raw loop (fleet.c). */
int recv_fd(int sock);

/* Forks a child that installs a filter notifying syscall nr, hands the
 * listener to a supervisor thread of kind `kind` (with
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP when sync) and runs loop(calls).
 * Returns what loop returned in the child (ns per call), or -1. */
double raw_run(int nr, raw_kind_t kind, bool sync, double (*loop)(long calls), long calls);

#endif
