/*
 * The stuck-open rows of sysgate-bench: what a forwarded call and a
 * brokered open cost while another target's brokered open of a FIFO
 * never ends, against the same with nothing stuck, measured side by side
 * in one run (repetitions interleaved, in alternating order).
 */
#ifndef SYSGATE_BENCH_STALL_H
#define SYSGATE_BENCH_STALL_H

#include <sys/types.h>

/* Prints the rows on stdout: sysgated (pid sgd) serves sock with the
 * policies "bench-allow" and "bench-open". 0, or 1 after a message on
 * stderr (also when the stuck open stalls the other targets). */
int stall_run(const char *self, const char *sysgate_run, const char *sock, pid_t sgd, long calls,
	      int reps);

/* `sysgate-bench fifo-target PATH`: opens PATH for reading. */
int stall_fifo_target(const char *path);

#endif
