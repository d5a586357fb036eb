/*
 * Metrics: counters, gauges and a latency histogram of what the supervisor
 * decides, kept in fixed arrays sized at start (policies x syscalls x
 * verdict kinds), rendered in the Prometheus text exposition format
 * (metrics.c) and served over HTTP by libmicrohttpd on a loopback address
 * (metrics_http.c).
 *
 * Threads: the loop thread counts, the endpoint's own thread reads. Every
 * value is an atomic: each is exact, and values of different series read
 * in one scrape may be a call apart. Counting allocates nothing and takes
 * no lock. Only what reaches sysgated is counted: calls the kernel decides
 * from the filter alone (kernel.deny, kernel.kill, the default) never do.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "config.h"
#include "error.h"
#include "verdict.h"

typedef struct metrics metrics_t;
typedef struct target target_t;

/* The latency histogram's finite upper bounds, in ns and as written in le. */
#define METRICS_NBUCKETS 16

/* A registry for npolicies policies called names[i]; the strings must
 * outlive it. Its arrays cover every syscall number of the native arch.
 * NULL when out of memory. */
metrics_t *metrics_new(size_t npolicies, const char *const *names);
/* Accepts NULL. */
void metrics_free(metrics_t *m);

/*
 * Counting into m for the policy at index policy (< npolicies; anything
 * else is ignored). nr is the syscall number, -1 when it is not one of
 * the native arch. sent is what respond_send returned: 0, -ENOENT (the
 * call was gone) or another negative errno (an error was logged).
 */
void metrics_note_received(metrics_t *m, size_t policy);
void metrics_note_decision(metrics_t *m, size_t policy, int nr, const verdict_t *v, bool error,
			   bool fallback, int sent, uint64_t latency_ns);
/* A received call sysgated will never answer (dropped while parked, or
 * its target closed meanwhile): it leaves the in-flight gauge. */
void metrics_note_abandoned(metrics_t *m, size_t policy);
void metrics_note_target_started(metrics_t *m, size_t policy);
void metrics_note_target_closed(metrics_t *m, size_t policy, const char *reason);

/* The text exposition of m (and of the log's counters), malloc'd and
 * NUL-terminated, its length in *len; the caller frees it. NULL when out
 * of memory. */
char *metrics_render(const metrics_t *m, size_t *len);

/*
 * The registry the hooks below count into, or none (NULL): then every
 * hook is a test and a return. The loop thread calls the hooks; set it
 * before the loop runs and clear it after.
 */
void metrics_activate(metrics_t *m);

void metrics_received(const target_t *t);
/* One call per answered notification. error: decide gave the call an
 * error (logged); t0: when the notification was received. */
void metrics_decided(const target_t *t, const call_t *c, const verdict_t *v, bool error,
		     bool fallback, int sent, uint64_t t0);
void metrics_abandoned(const target_t *t);
void metrics_target_started(const target_t *t);
void metrics_target_closed(const target_t *t, const char *reason);

/* metrics_http.c: when cfg names metrics_listen, creates the registry,
 * activates it and serves it at http://ADDR/metrics from a thread of its
 * own. 0 (also when there is nothing to start) or a negative errno with
 * err naming the config's file and line. */
int metrics_start(const sg_config_t *cfg, sg_error_t *err);
/* Stops serving, deactivates and frees the registry. Safe without start. */
void metrics_stop(void);

#endif
