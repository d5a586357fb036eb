/*
 * The Lua sandbox: one lua_State per policy with a counting allocator,
 * only the safe parts of the standard libraries, read-only globals and
 * library tables, and per-call budgets (instructions, wall-clock time,
 * memory) that a rule cannot escape with pcall.
 *
 * The policy engine owns a sandbox_t and runs every piece of Lua through
 * sandbox_call(), which never raises and leaves the state usable.
 */
#ifndef SG_SANDBOX_H
#define SG_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

typedef struct sandbox sandbox_t;

/* The budget of one sandbox_call(). 0 in any field means no limit of that
 * kind other than the state's memory_total. */
typedef struct sandbox_budget {
	uint64_t instructions; /* Lua VM instructions */
	uint32_t time_ms;      /* wall clock, CLOCK_MONOTONIC */
	size_t memory;         /* bytes above the state's size at the start */
} sandbox_budget_t;

typedef enum sandbox_status {
	SANDBOX_OK = 0,
	SANDBOX_ERROR,  /* the function raised an error */
	SANDBOX_BUDGET, /* a budget ran out (even if the rule caught the error) */
} sandbox_status_t;

/*
 * Creates a state that may never hold more than memory_total bytes, with
 * base (without dofile, loadfile, print, require, rawset, warn; with a
 * text-only load, a setmetatable that refuses __gc and a collectgarbage
 * that only answers "count"), string (without dump), table, math, utf8
 * and an os with only time and clock. owner is kept for sandbox_owner().
 * NULL when out of memory. The caller owns the result.
 */
sandbox_t *sandbox_new(size_t memory_total, void *owner);

/* Closes the state. Accepts NULL. */
void sandbox_free(sandbox_t *sb);

lua_State *sandbox_lua(sandbox_t *sb);

/* The owner given to sandbox_new(), from any function running in it. */
void *sandbox_owner(lua_State *L);

/*
 * For a function run by sandbox_call() before sandbox_lock(): pops the
 * table on top of the stack and makes it the global library `name`.
 */
void sandbox_set_library(lua_State *L, const char *name);

/*
 * Makes the global table and every library table in it read-only proxies
 * and locks the string metatable. Call once, after the libraries are set.
 * 0 or -ENOMEM.
 */
int sandbox_lock(sandbox_t *sb);

/*
 * Runs fn(arg) (arg as a light userdata, fn returns nothing) in protected
 * mode under budget b. On failure writes the reason into why (why_len
 * bytes; why may be NULL). Never raises; the stack is back where it was.
 */
sandbox_status_t sandbox_call(sandbox_t *sb, lua_CFunction fn, void *arg,
			      const sandbox_budget_t *b, char *why, size_t why_len);

/* Bytes the state holds now. */
size_t sandbox_memory(const sandbox_t *sb);

#endif
