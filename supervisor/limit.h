/*
 * The limit stage of the policy engine: sysgate.limit{} and
 * sysgate.limited(), token buckets (tokens.c) kept in bounded tables of
 * keys, on a clock the engine can replace (tests drive it by hand).
 *
 * A limit is a Lua userdata made while the policy file loads; its table of
 * buckets lives inside it, so the Lua state's allocator counts it and
 * frees it with the state. Nothing here allocates per call: a table has
 * its size from the start, and a full table evicts only a bucket that has
 * refilled (losing nothing) or else fails closed (the call is over).
 *
 * The policy engine (policy.c) owns a limit_ctx_t, registers the two
 * functions in the `sysgate` table and calls limit_step() when a handler
 * is a limit. Not thread-safe: a policy belongs to one loop.
 */
#ifndef SG_LIMIT_H
#define SG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <lua.h>

#include "call.h"
#include "sysgate/protocol.h"

#define LIMIT_MT "sysgate.limit"
#define LIMIT_VERDICT_MT "sysgate.verdict" /* the metatable of policy.c's verdicts */
#define LIMIT_MAX 64              /* sysgate.limit{} per policy */
#define LIMIT_DEFAULT_KEYS 1024u  /* buckets per limit */
#define LIMIT_MAX_KEYS 65536u
#define LIMIT_SHARED_KEYS 1024u   /* buckets of sysgate.limited(), all keys together */
#define LIMIT_MAX_KEY 128u        /* bytes of a sysgate.limited() key */
#define LIMIT_DEFAULT_PARKED 64u  /* calls of one target parked by throttles */
#define LIMIT_MAX_PARKED 4096u
#define LIMIT_MAX_CHARGES 8       /* buckets one decision can give back (limit_refund) */

typedef uint64_t (*limit_clock_fn)(void *ctx);

#define LIMIT_TENANTS 64 /* tenant slots of a policy: root's (0) and 63 launcher uids */

typedef struct limit limit_t;
typedef struct lm_tab lm_tab_t;

/* A token taken by the decision in progress, so that it can be given back. */
typedef struct limit_charge {
	lm_tab_t *tab; /* NULL: its table is gone */
	uint32_t entry, gen;
} limit_charge_t;

typedef struct limit_ctx {
	limit_clock_fn clock; /* CLOCK_MONOTONIC in ns unless replaced */
	void *clock_ctx;
	bool loading;         /* sysgate.limit{} is only allowed while the file loads */
	uint64_t seed;        /* of the key hashes */
	unsigned n;
	limit_t *limits[LIMIT_MAX]; /* index + 1 is a throttled verdict's resume point */
	int refs[LIMIT_MAX];        /* registry refs that keep them */
	limit_t *shared;            /* sysgate.limited()'s table, made on its first use */
	int shared_ref;
	call_t *call;               /* the call being decided, for sysgate.limited() */
	char keybuf[SG_PROTO_MAX_VALUE + 1 + LIMIT_MAX_KEY];
	bool refused;               /* a sysgate.limited() of this decision said false */
	unsigned ncharges;
	limit_charge_t charges[LIMIT_MAX_CHARGES];
	uint64_t tenant_used; /* bit per tenant slot with tables (limit_tenant_add) */
} limit_ctx_t;

typedef enum limit_step {
	LIMIT_THEN,     /* a token was there: the limit's `then` is on the stack */
	LIMIT_OVER,     /* over the limit: the `over` verdict is on the stack */
	LIMIT_THROTTLE, /* over, throttled: the over_cap verdict is on the stack; the
			 * call waits throttle_ns, then goes on with resume */
} limit_step_t;

typedef struct limit_out {
	bool limited;         /* the verdict on the stack is a limit's over or over_cap */
	uint64_t throttle_ns; /* LIMIT_THROTTLE: how long the call waits */
	int resume;           /* LIMIT_THROTTLE: where it goes on (limit_push_then) */
} limit_out_t;

/* The monotonic clock and a fresh hash seed. */
void limit_ctx_init(limit_ctx_t *x);

/*
 * Adds `limit` and `limited` to the table on top of the stack (the sysgate
 * module being built, which must already hold `allow` and `deny`: they
 * make the default verdicts). x must outlive the state.
 */
void limit_register(lua_State *L, limit_ctx_t *x);

/* Whether the value at idx is a limit. */
bool limit_is(lua_State *L, int idx);

/*
 * The limit at the top of the stack decides c: takes a token from the
 * bucket of c's key and replaces the limit with what comes next. Raises
 * (a handler error) only when the call's key cannot be made.
 */
limit_step_t limit_step(lua_State *L, limit_ctx_t *x, call_t *c, limit_out_t *out);

/* Pushes the `then` of the limit a throttled call resumes at; nil when
 * resume names none. */
void limit_push_then(lua_State *L, limit_ctx_t *x, int resume);

/* Forgets the tokens taken so far and whether sysgate.limited() said
 * false (a new decision starts). */
void limit_begin(limit_ctx_t *x);

/* Gives back the tokens taken since limit_begin(): the call they were
 * taken for was gone before its answer, so it did not happen. */
void limit_refund(limit_ctx_t *x);

/*
 * Tenants: each key table is per tenant slot (call_target_t.tenant_slot;
 * the policy engine gives one to each launcher uid), so that one tenant's
 * keys never take another's room. Slot 0 (root, and calls without a
 * target) has the tables made at load, inside the Lua state; a slot from 1
 * gets its own, outside the state: limit_tenant_add makes the tables of
 * every limit (0 or -ENOMEM; sysgate.limited()'s is made on its tenant's
 * first use of it), limit_tenant_remove frees them.
 */
int limit_tenant_add(limit_ctx_t *x, unsigned slot);
void limit_tenant_remove(limit_ctx_t *x, unsigned slot);
/* Frees every slot's tables (the policy is freed). */
void limit_fini(limit_ctx_t *x);

#endif
