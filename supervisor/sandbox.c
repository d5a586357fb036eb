/*
 * The Lua sandbox (HARDENING 21-24). Each policy runs in its own state made
 * with lua_newstate and the counting allocator below; libraries are opened
 * one by one and trimmed; the global table and the library tables are
 * read-only proxies; every call runs in lua_pcall under an instruction and
 * wall-clock hook (with grace for time the host kept the thread off the
 * CPU, see sb_time_up) and a memory cap. Once a budget is exhausted the hook
 * fires at every instruction and raises, so a rule that catches the error
 * with pcall still dies.
 *
 * One long C call is not interruptible by the count hook. string.rep and
 * friends are stopped by the memory cap. A backtracking pattern
 * (string.find(("a"):rep(4096), "a*a*b")) runs in one C call that allocates
 * nothing, so find, match, gmatch and gsub are wrapped: before the match
 * runs, pattern_cost() bounds its work on the actual subject, and a match
 * that could outlast the time left is refused and exhausts the budget.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "pattern.h"
#include "sandbox.h"

#define SB_HOOK_PERIOD 1000u
/* A call's wall-clock time never goes past this many times its budget,
 * however little of it the loop thread spent on the CPU. */
#define SB_WALL_CAP_FACTOR 10u

typedef enum sb_exhausted {
	SB_FINE = 0,
	SB_INSTRUCTIONS,
	SB_TIME,
	SB_MEMORY,
	SB_PATTERN, /* a pattern match that could outlast the time left */
} sb_exhausted_t;

/* A pattern function's time when the call has no deadline of its own. */
#define SB_PATTERN_MAX_MS 1000.0

struct sandbox {
	lua_State *L;
	void *owner;
	size_t used;  /* bytes the state holds */
	size_t total; /* never more than this */
	size_t cap;   /* the limit of the current call */
	bool in_call;
	sb_exhausted_t exhausted;
	uint64_t executed; /* instructions counted in this call */
	uint64_t max_instructions;
	uint64_t deadline_ns; /* 0: none */
	/* Past the deadline, time the loop thread spent off the CPU (a busy
	 * host, a page fault on a slow disk) is given back in windows of
	 * grace_ns, judged by its CPU clock: see sb_time_up(). */
	uint64_t grace_ns;
	uint64_t grace_cpu_ns; /* the thread's CPU clock at the window's start; 0: none yet */
	uint64_t wall_cap_ns;  /* never past this, CPU or not */
	int period;
	/* A refused request not yet known to be harmless, to recognise Lua's
	 * retry of it after an emergency collection. */
	bool refused;
	const void *refused_ptr;
	size_t refused_size;
};

static uint64_t sb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t sb_thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Whether the call's time is up. The budget is wall-clock time, read from
 * the vDSO at no cost; but a loaded host can keep the loop thread off the
 * CPU for longer than a whole budget, and a three-line handler would then
 * fail for time it never had. So at the deadline the call gets a window of
 * grace (a quarter of its budget), and at the window's end its CPU clock
 * (a real system call, made only here) tells whether it ran for at least
 * half of the window: then the time is up; if not, the host was busy and
 * another window follows, up to SB_WALL_CAP_FACTOR times the budget. A
 * handler that spins is stopped after 1.25 times its budget on a quiet
 * host; one whose thread was descheduled goes on.
 */
static bool sb_time_up(sandbox_t *sb)
{
	uint64_t now, cpu;

	if (!sb->deadline_ns || (now = sb_now_ns()) <= sb->deadline_ns)
		return false;
	if (now >= sb->wall_cap_ns)
		return true;
	cpu = sb_thread_cpu_ns();
	if (cpu == 0 || (sb->grace_cpu_ns && cpu - sb->grace_cpu_ns >= sb->grace_ns / 2))
		return true;
	sb->grace_cpu_ns = cpu;
	sb->deadline_ns = now + sb->grace_ns < sb->wall_cap_ns ? now + sb->grace_ns : sb->wall_cap_ns;
	return false;
}

/*
 * The allocator. In Lua 5.4, when ptr is NULL, osize is a type tag and not
 * a size, so the bytes a call adds are nsize, not nsize - osize. Shrinking
 * and freeing never fail.
 *
 * A refusal during a call exhausts the memory budget, with one exception:
 * the core answers a refusal with an emergency collection (which only
 * frees) and the same request again, and when that retry fits, the refusal
 * was garbage not yet collected, not the rule's live data. Any other
 * request after a refusal (lauxlib's buffers do not retry), a refused
 * retry, or the end of the call with a refusal pending, exhausts it, so a
 * rule that catches a memory error still dies.
 */
static bool sb_fits(const sandbox_t *sb, size_t old, size_t nsize)
{
	return nsize <= old || (sb->used < sb->cap && nsize - old <= sb->cap - sb->used);
}

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	sandbox_t *sb = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		sb->used -= old;
		return NULL;
	}
	if (sb->in_call && sb->refused && nsize > old) {
		bool retry = ptr == sb->refused_ptr && nsize == sb->refused_size;

		sb->refused = false;
		if ((!retry || !sb_fits(sb, old, nsize)) && !sb->exhausted)
			sb->exhausted = SB_MEMORY;
	}
	if (!sb_fits(sb, old, nsize)) {
		if (sb->in_call && !sb->exhausted) {
			sb->refused = true;
			sb->refused_ptr = ptr;
			sb->refused_size = nsize;
		}
		return NULL;
	}
	p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	sb->used = sb->used - old + nsize;
	return p;
}

/* Never reached: every call into Lua is protected. Returning from a panic
 * function would leave the state undefined, so stop here. */
static int sb_panic(lua_State *L)
{
	(void)L;
	abort();
}

static const char *sb_exhausted_name(sb_exhausted_t e)
{
	switch (e) {
	case SB_INSTRUCTIONS: return "instruction";
	case SB_TIME: return "time";
	case SB_MEMORY: return "memory";
	case SB_PATTERN: return "time";
	default: return "no";
	}
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
	sandbox_t *sb;

	lua_getallocf(L, (void **)&sb);
	if (!sb->exhausted && sb->refused)
		sb->exhausted = SB_MEMORY;
	if (!sb->exhausted && ar->event != LUA_HOOKCOUNT) {
		/* A call (or tail call): only the clock. C functions calling C
		 * functions run no instruction, so the count alone misses them. */
		if (sb_time_up(sb))
			sb->exhausted = SB_TIME;
	} else if (!sb->exhausted) {
		sb->executed += (uint64_t)sb->period;
		if (sb->max_instructions && sb->executed > sb->max_instructions)
			sb->exhausted = SB_INSTRUCTIONS;
		else if (sb_time_up(sb))
			sb->exhausted = SB_TIME;
	}
	if (sb->exhausted) {
		/* From now on every instruction and every call raises, so
		 * pcall cannot keep the rule alive, nor can a C function that
		 * calls C functions (gsub or sort with pcall as callback). */
		lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKCALL, 1);
		luaL_error(L, "%s budget exhausted", sb_exhausted_name(sb->exhausted));
	}
}

/* The message handler of every call: makes sure the error is a string
 * without calling any metamethod of the error object. */
static int sb_msgh(lua_State *L)
{
	if (lua_type(L, 1) != LUA_TSTRING)
		lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	return 1;
}

/* load(): text chunks only, with the sandbox's globals as their _ENV. */
static int sb_load(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	const char *name = luaL_optstring(L, 2, "=(load)");

	if (!lua_isnoneornil(L, 4))
		return luaL_error(L, "load: the env argument is not supported");
	if (luaL_loadbufferx(L, s, len, name, "t") == LUA_OK)
		return 1;
	lua_pushnil(L);
	lua_insert(L, -2);
	return 2;
}

static int sb_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");
	int kb, b;

	if (strcmp(opt, "count") != 0)
		return luaL_error(L, "collectgarbage('%s') is not allowed", opt);
	kb = lua_gc(L, LUA_GCCOUNT);
	b = lua_gc(L, LUA_GCCOUNTB);
	lua_pushnumber(L, (lua_Number)kb + (lua_Number)b / 1024);
	return 1;
}

/* setmetatable() without __gc: a finalizer would run at any allocation,
 * outside the call that made it, and in lua_close. */
static int sb_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (t == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed");
		lua_pop(L, 1);
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/*
 * xpcall(f, h, ...) with h called after the error has unwound, as an
 * ordinary function. Lua's own xpcall calls h where the error is raised,
 * and when the budget hook raises it that is inside the hook, where Lua
 * has switched hooks off until a pcall catches the error: a handler that
 * loops would then run forever, with no hook to stop it, and the
 * supervisor with it. The policy loses nothing it could use: without the
 * debug library h could not look at the stack it was raised in anyway.
 */
static int sb_xpcall(lua_State *L)
{
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK)
		return lua_gettop(L) - n;
	/* false, h(error): an error in h is the result, as it would be. */
	lua_pushboolean(L, 0);
	lua_pushvalue(L, 2);
	lua_rotate(L, -3, -1);
	lua_pcall(L, 1, 1, 0);
	return 2;
}

static void sb_open_base(lua_State *L)
{
	static const char *const removed[] = {
		"dofile", "loadfile", "print", "require", "rawset", "warn", NULL,
	};
	static const luaL_Reg replaced[] = {
		{ "load", sb_load },
		{ "collectgarbage", sb_collectgarbage },
		{ "setmetatable", sb_setmetatable },
		{ "xpcall", sb_xpcall },
		{ NULL, NULL },
	};

	luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
	for (size_t i = 0; removed[i]; i++) {
		lua_pushnil(L);
		lua_setfield(L, -2, removed[i]);
	}
	luaL_setfuncs(L, replaced, 0);
	lua_pop(L, 1);
}

/* os is a new table with only time and clock, taken from the real library,
 * which is then dropped. */
static void sb_open_os(lua_State *L)
{
	luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
	lua_createtable(L, 0, 2);
	lua_getfield(L, -2, "time");
	lua_setfield(L, -2, "time");
	lua_getfield(L, -2, "clock");
	lua_setfield(L, -2, "clock");
	lua_setglobal(L, LUA_OSLIBNAME);
	lua_pop(L, 1);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_pushnil(L);
	lua_setfield(L, -2, LUA_OSLIBNAME);
	lua_pop(L, 1);
}

/* For a guard: calls the library function it wraps (upvalue 1) with the
 * guard's arguments and returns what it returns. */
static int sb_call_wrapped(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* Replaces lib.name with guard, a closure over the original (upvalue 1)
 * and kind (upvalue 2). */
static void sb_wrap(lua_State *L, const char *lib, const char *name, lua_CFunction guard, int kind)
{
	lua_getglobal(L, lib);
	lua_getfield(L, -1, name);
	lua_pushinteger(L, kind);
	lua_pushcclosure(L, guard, 2);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

enum { SB_FIND, SB_MATCH, SB_GMATCH, SB_GSUB };

/* find, match, gmatch and gsub, guarded by pattern_cost(): upvalue 1 is
 * the library's own function, upvalue 2 which one it is. */
static int sb_pattern_guard(lua_State *L)
{
	int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
	size_t ls, lp;
	const char *p;
	double cost, left_ms = SB_PATTERN_MAX_MS;
	sandbox_t *sb;

	luaL_checklstring(L, 1, &ls);
	p = luaL_checklstring(L, 2, &lp);
	cost = pattern_cost(ls, p, lp, kind == SB_FIND && lua_toboolean(L, 4), kind == SB_FIND,
			    kind != SB_GMATCH);
	if (kind == SB_GSUB && lua_type(L, 3) == LUA_TSTRING)
		cost += ((double)ls + 1) * ((double)lua_rawlen(L, 3) + 1);
	lua_getallocf(L, (void **)&sb);
	if (sb->deadline_ns) {
		uint64_t now;

		(void)sb_time_up(sb); /* past the deadline: a window of grace, or none */
		now = sb_now_ns();

		left_ms = now < sb->deadline_ns ? (double)(sb->deadline_ns - now) / 1e6 : 0;
	}
	if (cost > left_ms * PATTERN_UNITS_PER_MS) {
		if (sb->in_call && !sb->exhausted) {
			sb->exhausted = SB_PATTERN;
			lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKCALL, 1);
		}
		return luaL_error(L, "pattern '%s' on a %zu-byte subject could take longer than the "
				  "%.0f ms left", p, ls, left_ms);
	}
	return sb_call_wrapped(L);
}

/* string.rep("", n) loops n times over memcpy(p, s, 0): answer it here. */
static int sb_rep_guard(lua_State *L)
{
	size_t l, lsep = 0;

	luaL_checklstring(L, 1, &l);
	luaL_optlstring(L, 3, "", &lsep);
	if (l + lsep == 0 && luaL_checkinteger(L, 2) > 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	return sb_call_wrapped(L);
}

/* table.move over more slots than the state could ever hold, and
 * insert/remove on a table whose length comes from __len, loop in C over
 * nothing: refuse them. */
static int sb_table_guard(lua_State *L)
{
	int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
	sandbox_t *sb;

	lua_getallocf(L, (void **)&sb);
	if (kind == 0) { /* move */
		lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);

		if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= sb->total / sizeof(lua_Number))
			return luaL_error(L, "table.move: range too large");
	} else if (luaL_getmetafield(L, 1, "__len") != LUA_TNIL) {
		return luaL_error(L, "table.insert/remove: tables with __len are not supported");
	}
	return sb_call_wrapped(L);
}

static void sb_guard_loops(lua_State *L)
{
	static const char *const tnames[] = { "move", "insert", "remove" };

	sb_wrap(L, LUA_STRLIBNAME, "rep", sb_rep_guard, 0);
	for (int k = 0; k < 3; k++)
		sb_wrap(L, LUA_TABLIBNAME, tnames[k], sb_table_guard, k);
}

static void sb_guard_patterns(lua_State *L)
{
	static const char *const names[] = { [SB_FIND] = "find", [SB_MATCH] = "match",
					     [SB_GMATCH] = "gmatch", [SB_GSUB] = "gsub" };

	for (int k = SB_FIND; k <= SB_GSUB; k++)
		sb_wrap(L, LUA_STRLIBNAME, names[k], sb_pattern_guard, k);
}

static int sb_open_cb(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		{ NULL, NULL },
	};

	sb_open_base(L);
	for (const luaL_Reg *l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	sb_guard_patterns(L);
	sb_guard_loops(L);
	sb_open_os(L);
	return 0;
}

static int sb_lib_newindex(lua_State *L)
{
	return luaL_error(L, "cannot change library '%s' (read-only)",
			  lua_tostring(L, lua_upvalueindex(1)));
}

static int sb_global_newindex(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "cannot set global '%s' (use local)", lua_tostring(L, 2));
	return luaL_error(L, "cannot set globals (use local)");
}

/* pairs() over a proxy walks the real table without handing it out. */
static int sb_proxy_next(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int sb_proxy_pairs(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushcclosure(L, sb_proxy_next, 1);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* Pushes an empty table that reads through to the table at real and
 * refuses writes with newindex (which gets name as its upvalue). */
static void sb_push_proxy(lua_State *L, int real, lua_CFunction newindex, const char *name)
{
	lua_newtable(L);
	lua_createtable(L, 0, 4);
	lua_pushvalue(L, real);
	lua_setfield(L, -2, "__index");
	lua_pushstring(L, name);
	lua_pushcclosure(L, newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushvalue(L, real);
	lua_pushcclosure(L, sb_proxy_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

static int sb_lock_cb(lua_State *L)
{
	int g;

	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	g = lua_gettop(L);
	/* Replacing the value of an existing key during lua_next is allowed. */
	lua_pushnil(L);
	while (lua_next(L, g)) {
		if (lua_type(L, -1) == LUA_TTABLE && lua_type(L, -2) == LUA_TSTRING &&
		    strcmp(lua_tostring(L, -2), LUA_GNAME) != 0) {
			sb_push_proxy(L, lua_gettop(L), sb_lib_newindex, lua_tostring(L, -2));
			lua_pushvalue(L, -3);
			lua_insert(L, -2);
			lua_rawset(L, g);
		}
		lua_pop(L, 1);
	}
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);

	sb_push_proxy(L, g, sb_global_newindex, LUA_GNAME);
	lua_pushvalue(L, -1);
	lua_setfield(L, g, LUA_GNAME);
	/* Chunks loaded from now on get the proxy as their _ENV. */
	lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	return 0;
}

sandbox_t *sandbox_new(size_t memory_total, void *owner)
{
	static const sandbox_budget_t none = { 0, 0, 0 };
	sandbox_t *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	sb->owner = owner;
	sb->total = memory_total;
	sb->cap = memory_total;
	sb->L = lua_newstate(sb_alloc, sb);
	if (!sb->L) {
		free(sb);
		return NULL;
	}
	lua_atpanic(sb->L, sb_panic);
	if (sandbox_call(sb, sb_open_cb, NULL, &none, NULL, 0) != SANDBOX_OK) {
		sandbox_free(sb);
		return NULL;
	}
	return sb;
}

void sandbox_free(sandbox_t *sb)
{
	if (!sb)
		return;
	if (sb->L) {
		/* No rule can make a finalizer (setmetatable refuses __gc), but
		 * should one exist, the hook stops it at its first instruction
		 * instead of letting lua_close hang. */
		sb->exhausted = SB_TIME;
		lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, 1);
		lua_close(sb->L);
	}
	free(sb);
}

lua_State *sandbox_lua(sandbox_t *sb)
{
	return sb->L;
}

void *sandbox_owner(lua_State *L)
{
	sandbox_t *sb;

	lua_getallocf(L, (void **)&sb);
	return sb->owner;
}

void sandbox_set_library(lua_State *L, const char *name)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	lua_insert(L, -2);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

int sandbox_lock(sandbox_t *sb)
{
	static const sandbox_budget_t none = { 0, 0, 0 };

	return sandbox_call(sb, sb_lock_cb, NULL, &none, NULL, 0) == SANDBOX_OK ? 0 : -ENOMEM;
}

static void sb_arm(sandbox_t *sb, const sandbox_budget_t *b)
{
	sb->in_call = true;
	sb->exhausted = SB_FINE;
	sb->refused = false;
	sb->executed = 0;
	sb->max_instructions = b->instructions;
	sb->deadline_ns = b->time_ms ? sb_now_ns() + (uint64_t)b->time_ms * 1000000u : 0;
	sb->grace_ns = (uint64_t)b->time_ms * 1000000u / 4;
	sb->grace_cpu_ns = 0;
	sb->wall_cap_ns = sb->deadline_ns + (uint64_t)b->time_ms * 1000000u * (SB_WALL_CAP_FACTOR - 1);
	sb->cap = sb->total;
	if (b->memory && b->memory < sb->total - sb->used)
		sb->cap = sb->used + b->memory;
	sb->period = b->instructions && b->instructions < SB_HOOK_PERIOD ? (int)b->instructions
									   : (int)SB_HOOK_PERIOD;
	lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT | LUA_MASKCALL, sb->period);
}

static void sb_disarm(sandbox_t *sb, size_t used_before)
{
	lua_sethook(sb->L, NULL, 0, 0);
	sb->in_call = false;
	sb->exhausted = SB_FINE;
	sb->refused = false;
	sb->cap = sb->total;
	/* A step of the collector, outside the budget, when the call left
	 * garbage; finalizers cannot exist, so this runs no rule code. */
	if (sb->used > used_before + (size_t)64 * 1024)
		lua_gc(sb->L, LUA_GCSTEP, 0);
}

static void sb_why(lua_State *L, sandbox_t *sb, sandbox_status_t st, char *why, size_t why_len)
{
	const char *msg;

	if (!why || why_len == 0)
		return;
	if (st == SANDBOX_BUDGET) {
		snprintf(why, why_len, "%s budget exhausted%s", sb_exhausted_name(sb->exhausted),
			 sb->exhausted == SB_PATTERN ? ": a pattern match could outlast it" : "");
		return;
	}
	msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error";
	snprintf(why, why_len, "%s", msg);
}

sandbox_status_t sandbox_call(sandbox_t *sb, lua_CFunction fn, void *arg,
			      const sandbox_budget_t *b, char *why, size_t why_len)
{
	lua_State *L = sb->L;
	int top = lua_gettop(L);
	size_t used_before = sb->used;
	sandbox_status_t st;
	int rc;

	sb_arm(sb, b);
	lua_pushcfunction(L, sb_msgh);
	lua_pushcfunction(L, fn);
	lua_pushlightuserdata(L, arg);
	rc = lua_pcall(L, 1, 0, top + 1);
	/* A memory error that reached us is the memory budget even when Lua
	 * could not retry the allocation (no emergency collection inside a
	 * collector step). */
	if ((rc == LUA_ERRMEM || sb->refused) && !sb->exhausted)
		sb->exhausted = SB_MEMORY;
	/* Exhausted wins over success: the rule may have caught the error. */
	st = sb->exhausted ? SANDBOX_BUDGET : rc == LUA_OK ? SANDBOX_OK : SANDBOX_ERROR;
	if (st != SANDBOX_OK)
		sb_why(L, sb, st, why, why_len);
	lua_settop(L, top);
	sb_disarm(sb, used_before);
	return st;
}

size_t sandbox_memory(const sandbox_t *sb)
{
	return sb->used;
}
