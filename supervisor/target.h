/*
 * A target: one listener fd handed over by sysgate-run, the policy it runs
 * under, and the process that became the command. Owned by the sgd_t's
 * target list; freed in the poll handle's close callback.
 */
#ifndef SG_TARGET_H
#define SG_TARGET_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "call.h"
#include "config.h"
#include "exe.h"
#include "learn.h"
#include "policy.h"
#include "sgd.h"
#include "tokens.h"

struct target {
	sgd_t *d;
	uint64_t id;
	policy_t *policy;
	const config_policy_t *pconf; /* the config entry: name, fallback */
	call_target_t info;           /* what handlers see as c.target */
	sg_hello_t hello;             /* labels */
	sg_mode_t mode;               /* the mode it runs in: the policy's, or the one it asked for */

	int listener; /* owned; closed with the target */
	int pidfd;    /* owned; -1 when none: the process sysgate-run became */
	pid_t pid;
	uid_t uid;     /* the launcher's: the tenant it is charged to (tenant.c) */
	bool charged;  /* holds one of its launcher's targets (tenants_take) */
	bool slotted;  /* holds its launcher's tenant slot in the policy (policy_tenant_add) */
	uv_poll_t poll;
	uv_poll_t reap_poll;   /* the pidfd, while waiting for the exit status */
	uv_timer_t reap_timer; /* how long to wait for it */
	int handles;           /* open libuv handles; freed when none is left */
	bool closing;
	bool held; /* not polled: its brokered opens in flight are at the bound */
	unsigned jobs;          /* brokered opens started, not finished */
	const char *end_reason; /* closed: target_end waits for jobs to be 0 */
	uint64_t started_ns;

	/* Counters for the target_end event. */
	uint64_t notifications, decisions, denied, errors, gone;
	uint64_t advisory; /* allows sent after a pointer read, unchecked (pointer_args) */
	uint64_t brokered; /* calls answered by a brokered open (or its failure) */
	uint64_t restarts; /* restarts of parked calls that took their place (throttle.c) */

	/* Reads of its memory held the loop too long (receive.c: vm_read):
	 * its later reads fail at once. read_slow_ns: their time so far. */
	bool read_stalled;
	uint64_t read_slow_ns;

	park_t *parks;     /* calls parked by throttles; info.parked counts them */

	exe_cache_t exe_cache; /* c.exe's last check (exe.h) */

	uint64_t would_deny; /* audit mode: calls allowed that enforce mode would not have */
	learn_t *learn;      /* learn mode: what the target did; owned */
	bool snapshot_due;   /* a snapshot was asked for and is not rendered yet */
	time_t started_wall; /* for the learned policy's header */

	/* The log budget of this target (log.c). */
	tokens_t log_tokens;
	uint64_t log_suppressed, log_suppressed_since;

	target_t *prev, *next;
};

#endif
