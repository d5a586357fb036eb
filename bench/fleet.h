/*
 * The many-target rows of sysgate-bench: aggregate notifications/s with
 * 1, 2, 4, 16 and 256 concurrent targets against a raw C loop serving as
 * many listeners, sysgate-run's spawn overhead over plain `true`, and
 * sysgated's memory with 1, 100 and 1,000 idle targets. Every target
 * under sysgated runs under the policy "bench-allow" (getppid forwarded,
 * allowed).
 */
#ifndef SYSGATE_BENCH_FLEET_H
#define SYSGATE_BENCH_FLEET_H

#include <sys/types.h>

/* Throughput (window_ms per run, reps interleaved runs per row) and
 * spawn overhead (spawn_runs interleaved runs of each command), printed
 * on stdout. 0, or 1 after a message on stderr. */
int fleet_run(const char *self, const char *sysgate_run, const char *sock, int window_ms,
	      int reps, int spawn_runs);

/* sysgated's VmRSS (pid sgd, serving sock, fresh) with 0, 1, 100 and
 * 1,000 idle targets, printed on stdout. 0, or 1. */
int fleet_rss(const char *self, const char *sysgate_run, const char *sock, pid_t sgd);

/* The targets, run as `sysgate-bench tput-target` (stdin: go records,
 * stdout: results) and `sysgate-bench idle`. Their exit status. */
int fleet_tput_target(int in, int out);
int fleet_idle_target(void);

#endif
