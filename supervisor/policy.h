/*
 * The policy engine: loads a policy file into its own sandboxed Lua 5.4
 * state, compiles its static part into a filter spec, and decides notified
 * calls by running the policy's handler with a call object.
 *
 * The engine takes no kernel objects: a decision is a call_t in, a
 * verdict_t out. Each policy has its own Lua state, so one policy cannot
 * see or change another's. Not thread-safe: a policy belongs to one loop.
 */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "call.h"
#include "error.h"
#include "verdict.h"
#include "sysgate/protocol.h"

typedef struct policy policy_t;

/* A field of 0 (or limits == NULL in policy_load) means its default. */
typedef struct policy_limits {
	uint64_t instructions; /* Lua VM instructions per call */
	size_t memory;         /* bytes a call may allocate above the state's size before it */
	uint32_t time_ms;      /* wall-clock budget per call */
	size_t memory_total;   /* bytes the whole state may hold */
} policy_limits_t;

#define POLICY_DEFAULT_INSTRUCTIONS 1000000u
#define POLICY_DEFAULT_MEMORY (8u << 20)
#define POLICY_DEFAULT_TIME_MS 100u
#define POLICY_DEFAULT_MEMORY_TOTAL (64u << 20)

/* Why a decision did not produce the handler's own verdict. */
typedef enum policy_fail {
	POLICY_OK = 0,
	POLICY_ERROR,     /* the handler raised an error */
	POLICY_BUDGET,    /* instruction, time or memory budget exhausted */
	POLICY_BADRESULT, /* the handler returned something that is not a verdict */
	POLICY_NOHANDLER, /* no handler for this syscall */
	POLICY_FAULT,     /* a pointer argument could not be read: verdict is deny */
} policy_fail_t;

/*
 * Loads the policy file at path as the policy called name (the name the
 * config gives; a `name` in the file must match it). Errors name the file
 * and line: syntax errors, a missing `sysgate.policy{}` result, unknown
 * syscall or errno names, unknown fields. On success *out is the caller's.
 */
int policy_load(const char *name, const char *path, const policy_limits_t *limits,
		policy_t **out, sg_error_t *err);

/* Frees the Lua state. Accepts NULL. */
void policy_free(policy_t *p);

const char *policy_name(const policy_t *p);

/* The filter spec of the policy: kernel deny/kill lists, notified syscalls
 * (those with a handler) and the default action. */
const sg_spec_t *policy_spec(const policy_t *p);

/* The policy's own mode: SG_MODE_ENFORCE unless it says otherwise. */
sg_mode_t policy_mode(const policy_t *p);

/* The filter spec a target in mode gets: policy_spec() in enforce mode;
 * in audit mode the same with every kernel deny and kill, and a default
 * deny or kill, forwarded to the supervisor; in learn mode, a filter that
 * forwards every syscall. */
const sg_spec_t *policy_spec_for(const policy_t *p, sg_mode_t mode);

/* What the enforce filter does with nr without asking the supervisor
 * (kernel.deny, kernel.kill or the default), for audit mode: an ALLOW,
 * DENY or KILL verdict whose reason (static text) says which part of the
 * policy decides: "kernel.deny", "kernel.kill" or "default". */
void policy_kernel_verdict(const policy_t *p, int nr, verdict_t *out);

/* True when nr has a handler. */
bool policy_handles(const policy_t *p, int nr);

/* True when the policy names nr in on, kernel.deny or kernel.kill. */
bool policy_decides(const policy_t *p, int nr);

/* True when nr reaches the kernel's allow without a decision: named in
 * kernel.allow, or not named at all under a default allow. */
bool policy_unchecked(const policy_t *p, int nr);

/*
 * Runs the handler for c->nr. Returns POLICY_OK with the handler's verdict
 * in *out, or a failure code with a reason in why (why_len bytes); on
 * failure *out is left for the caller to fill with the fallback, except for
 * POLICY_FAULT where *out is already the deny to send (EFAULT or the read's
 * errno). Never raises, never aborts; the Lua state stays usable.
 */
policy_fail_t policy_decide(policy_t *p, call_t *c, verdict_t *out, char *why, size_t why_len);

/*
 * A throttled call (a verdict with throttle_ns, from a limit with over =
 * "throttle") that waited its time goes on here: the `then` of the limit
 * whose throttle_resume the verdict carried decides it, as policy_decide
 * would. The verdict may throttle again (a nested limit).
 */
policy_fail_t policy_resume(policy_t *p, call_t *c, int resume, verdict_t *out, char *why,
			    size_t why_len);

/* Gives back the tokens the last decision (or resume) took from rate
 * limits: its call was gone before the answer, so it did not run, and a
 * restart of it (SA_RESTART) is charged once. */
void policy_refund(policy_t *p);

/* Replaces the monotonic clock (ns) of the policy's rate limits; for tests. */
void policy_set_clock(policy_t *p, uint64_t (*clock)(void *ctx), void *ctx);

/*
 * Tenants: a launcher uid's targets share key tables of the policy's rate
 * limits (limit.h) that no other launcher's use: add gives uid's slot
 * (made with its tables when it had none; root's is 0 and always there)
 * for call_target_t.tenant_slot; each add is undone by one remove. 0,
 * -ENOMEM, or -EUSERS when the policy serves LIMIT_TENANTS - 1 launcher
 * uids already.
 */
int policy_tenant_add(policy_t *p, uid_t uid, unsigned *slot);
void policy_tenant_remove(policy_t *p, unsigned slot);

/* Bytes the Lua state holds now. */
size_t policy_memory(const policy_t *p);

#endif
