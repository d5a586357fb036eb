/*
 * The decision log: one JSON object per line, written with json-c to
 * stdout or to a file opened O_APPEND. Events: supervisor_start,
 * supervisor_stop, handshake_refused, target_start, decision, error,
 * target_end, read_stall. Write failures are counted, never fatal: the log must not
 * take the supervisor down. Every line is valid UTF-8 JSON: a string
 * whose bytes are not UTF-8 is written repaired (U+FFFD) with its exact
 * bytes in base64 beside it, in <key>_b64 (text.h).
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "call.h"
#include "config.h"
#include "error.h"
#include "learn.h"
#include "verdict.h"

typedef struct target target_t;
typedef struct sgd sgd_t;

/* Process details read before the answer is sent (the task may be gone
 * after it), for logged calls only. */
typedef struct log_proc {
	char comm[32];
	char exe[256];
} log_proc_t;

/* path: "-" for stdout or a file path. */
int log_open(const char *path, sg_error_t *err);
void log_close(void);
/* Lines that could not be written (a full pipe, a failing disk). */
uint64_t log_write_failures(void);

/* The budgets of per-call events and, apart, of refused handshakes
 * (config.h). */
void log_set_limits(const log_limits_t *l);
/* Events written, their bytes, and events suppressed by the budgets,
 * since start. Safe to call from another thread than the loop's (the
 * metrics endpoint's). */
void log_stats(uint64_t *events, uint64_t *bytes, uint64_t *suppressed);
/* Writes a `suppressed` event for each target that had events
 * suppressed since the last report, and one for each peer uid that had
 * refused handshakes suppressed. */
void log_report_suppressed(sgd_t *d);

void log_proc_read(pid_t tid, pid_t tgid, log_proc_t *out);

void log_supervisor(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_refused(pid_t pid, uid_t uid, gid_t gid, const char *policy, const char *reason);
void log_target_start(const target_t *t);
void log_target_end(const target_t *t, const char *reason, bool status_known, int status);

/* Takes one per-call event from the budgets (the target's and the whole
 * supervisor's), or counts one as suppressed: true when the caller may
 * log it. The caller of log_decision takes it first. */
bool log_budget_take(target_t *t);

/* A decision, whose budget the caller took (log_budget_take).
 * fallback_reason is NULL for a handler's own verdict. */
void log_decision(target_t *t, call_t *c, const log_proc_t *proc, const verdict_t *v,
		  uint64_t latency_ns, bool fallback);

/* A takeover (takeover.c), as seen by one side: role "old" (handing
 * over) or "new" (taking over), result "done" or "refused", the peer's
 * pid, the targets handed over (ids: their ids, may be NULL) and why. */
void log_takeover(const char *role, const char *result, pid_t peer, const uint64_t *ids,
		  size_t nids, const char *message);

/* Learn mode: the policy learned from t was written to path, or could
 * not be (why). */
void log_learned(const target_t *t, const learn_stats_t *st, const char *path, const char *why);

/* A read of the caller's memory for c, at addr, held the loop for
 * waited_ns; action: what the watchdog did (readwatch_outcome_name), or
 * "slow_reads" (this read made the target's slow reads too many), dev
 * the device of the mapping (0: unknown). Not budgeted: a target logs it
 * once at most, as its later reads fail at once. */
void log_read_stall(const target_t *t, const call_t *c, uint64_t addr, uint64_t waited_ns,
		    const char *action, uint32_t dev);

/* An error on a call: a handler that failed, an unreadable argument, a
 * call of an unknown arch. v is the verdict that was sent instead. */
void log_error(target_t *t, call_t *c, const log_proc_t *proc, const verdict_t *v,
	       const char *message);

#endif
