/*
 * Rate limits: sysgate.limit{} as a handler, sysgate.limited() inside one.
 *
 *   sysgate.limit{ rate = R, burst = B, per = "process", over = verdict |
 *                  "throttle", under = handler, keys = N, parked = N,
 *                  over_cap = verdict }
 *   sysgate.limited(key, rate, burst[, per]) -> true | false
 *
 * A limit keeps one token bucket (tokens.c: R tokens a second, at most B)
 * per key; a call takes a token from the bucket of its key and goes on to
 * `under` (also spelt ["then"]: `then` is a Lua keyword), or, when there is
 * none, gets `over`. The key is what `per` names:
 * the calling process (its thread group within the target, never the
 * thread, so that a thread storm shares one bucket), the target, the whole
 * policy, the value of one label of the target, or the syscall.
 *
 * Keys are bounded: a limit has room for `keys` buckets, made when the
 * policy loads, inside the limit's userdata (the Lua allocator counts
 * them). A new key in a full table takes the least recently used bucket
 * if that one has refilled to its burst (a new bucket would be the same,
 * so nothing is lost); otherwise every key was busy within the last
 * burst/rate seconds and the call is over the limit: the table fails
 * closed, and forking a million processes gets a million `over`s, not a
 * million buckets.
 *
 * "throttle": an over call waits instead. Its token is reserved at once
 * (the bucket's level goes below zero), so parked calls leave in order,
 * one every 1/R seconds, and the verdict carries how long to wait and
 * where to resume (receive.c parks the notification on a timer, then asks
 * the engine for `then`). A target may have `parked` calls waiting; past
 * that, and when the table is full, the call gets `over_cap` (deny EAGAIN
 * unless given).
 *
 * sysgate.limited() keeps the buckets of every key a handler names in one
 * table per policy (LIMIT_SHARED_KEYS), made on its first use and bounded
 * the same way; the key is joined to the scope `per` names.
 *
 * A decision remembers the tokens it took (limit_charge_t), so that a call
 * gone before its answer gives them back (limit_refund).
 *
 * The clock is the engine's (limit_ctx_t.clock), read once per limit.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <lauxlib.h>

#include "label.h"
#include "limit.h"
#include "names.h"
#include "tokens.h"

#define LM_NONE UINT32_MAX
#define LM_MAX_RATE 1e9 /* tokens a second: one a nanosecond */

typedef enum lm_per { LM_POLICY = 1, LM_TARGET, LM_PROCESS, LM_LABEL, LM_SYSCALL } lm_per_t;

/* The uservalues of a limit's userdata. */
enum { LM_UV_THEN = 1, LM_UV_OVER, LM_UV_OVER_CAP, LM_NUV = LM_UV_OVER_CAP };

/* A table of keys: cap entries of entry_size bytes, chained from heads
 * (mask + 1 of them), in a list from most to least recently used. */
struct lm_tab {
	uint32_t cap, used, mask, key_bytes, entry_size;
	uint32_t newest, oldest;
	uint32_t *heads;
	unsigned char *entries;
};

struct limit {
	double rate, burst;
	lm_per_t per;
	char label[SG_PROTO_MAX_KEY + 1]; /* per = "label:<key>" */
	bool throttle;
	unsigned parked; /* most calls of one target parked by throttles */
	int index;       /* 1-based in limit_ctx_t.limits; 0 for the shared table */

	/* One table per tenant slot (limit_tenant_add): slot 0, root's and
	 * calls without a target, lives in the userdata; the others are
	 * allocated for a launcher uid while it has targets of the policy. */
	lm_tab_t tab0;
	lm_tab_t *tabs[LIMIT_TENANTS];
};

typedef struct lm_entry {
	tokens_t b;
	uint64_t a, k; /* the integer parts of the key */
	uint32_t hash, chain, newer, older;
	uint32_t gen; /* bumped when the entry gets another key */
	uint16_t len; /* bytes of s */
	uint8_t kind;
	char s[];     /* key_bytes: a label value, a sysgate.limited() key */
} lm_entry_t;

typedef struct lm_key {
	uint8_t kind;
	uint64_t a, k;
	const char *s;
	uint16_t len;
} lm_key_t;

static uint64_t lm_monotonic(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void limit_ctx_init(limit_ctx_t *x)
{
	memset(x, 0, sizeof(*x));
	x->clock = lm_monotonic;
	x->shared_ref = LUA_NOREF;
	/* Keys come from targets and handlers: a seed they cannot guess keeps
	 * them from piling into one chain. Without entropy the chains are
	 * still bounded by the table. */
	if (getrandom(&x->seed, sizeof(x->seed), GRND_NONBLOCK) != sizeof(x->seed))
		x->seed = (uint64_t)lm_monotonic(NULL);
}

/* ---- the table ---- */

static lm_entry_t *lm_entry(const lm_tab_t *l, uint32_t i)
{
	return (lm_entry_t *)(l->entries + (size_t)i * l->entry_size);
}

static uint64_t lm_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint32_t lm_hash(const limit_ctx_t *x, const lm_key_t *k)
{
	uint64_t h = 0xcbf29ce484222325ull ^ x->seed;

	h = lm_fnv(h, &k->kind, 1);
	h = lm_fnv(h, &k->a, sizeof(k->a));
	h = lm_fnv(h, &k->k, sizeof(k->k));
	h = lm_fnv(h, k->s, k->len);
	return (uint32_t)(h ^ (h >> 32));
}

static bool lm_equal(const lm_entry_t *e, const lm_key_t *k, uint32_t hash)
{
	return e->hash == hash && e->kind == k->kind && e->a == k->a && e->k == k->k &&
	       e->len == k->len && memcmp(e->s, k->s, k->len) == 0;
}

static void lm_unlink(lm_tab_t *l, uint32_t i)
{
	lm_entry_t *e = lm_entry(l, i);

	if (e->newer != LM_NONE)
		lm_entry(l, e->newer)->older = e->older;
	else
		l->newest = e->older;
	if (e->older != LM_NONE)
		lm_entry(l, e->older)->newer = e->newer;
	else
		l->oldest = e->newer;
}

static void lm_make_newest(lm_tab_t *l, uint32_t i)
{
	lm_entry_t *e = lm_entry(l, i);

	e->newer = LM_NONE;
	e->older = l->newest;
	if (l->newest != LM_NONE)
		lm_entry(l, l->newest)->newer = i;
	l->newest = i;
	if (l->oldest == LM_NONE)
		l->oldest = i;
}

static void lm_unchain(lm_tab_t *l, uint32_t i)
{
	lm_entry_t *e = lm_entry(l, i);
	uint32_t *p = &l->heads[e->hash & l->mask];

	while (*p != LM_NONE && *p != i)
		p = &lm_entry(l, *p)->chain;
	if (*p == i)
		*p = e->chain;
}

/* A bucket that has refilled to its burst: a new one would be the same. */
static bool lm_idle(const tokens_t *b, uint64_t now)
{
	double level = b->level;

	if (now > b->last_ns)
		level += (double)(now - b->last_ns) * b->rate / 1e9;
	return level >= b->burst;
}

/* An entry for a new key: a free one, or the least recently used one if
 * it is idle; LM_NONE when the table is full of busy buckets. */
static uint32_t lm_take_entry(lm_tab_t *l, uint64_t now)
{
	uint32_t i = l->oldest;

	if (l->used < l->cap)
		return l->used++;
	if (i == LM_NONE || !lm_idle(&lm_entry(l, i)->b, now))
		return LM_NONE;
	lm_unlink(l, i);
	lm_unchain(l, i);
	return i;
}

/* The bucket of key k, made full if it is new; LM_NONE when the table
 * has no room for it (fail closed). */
static uint32_t lm_find(limit_ctx_t *x, lm_tab_t *l, const lm_key_t *k, double rate, double burst,
			uint64_t now)
{
	uint32_t hash = lm_hash(x, k);
	uint32_t i = l->heads[hash & l->mask];
	lm_entry_t *e;

	while (i != LM_NONE && !lm_equal(lm_entry(l, i), k, hash))
		i = lm_entry(l, i)->chain;
	if (i == LM_NONE) {
		i = lm_take_entry(l, now);
		if (i == LM_NONE)
			return LM_NONE;
		e = lm_entry(l, i);
		tokens_init(&e->b, rate, burst, now);
		e->kind = k->kind;
		e->a = k->a;
		e->k = k->k;
		e->len = k->len;
		memcpy(e->s, k->s, k->len);
		e->hash = hash;
		e->gen++;
		e->chain = l->heads[hash & l->mask];
		l->heads[hash & l->mask] = i;
	} else {
		lm_unlink(l, i);
	}
	lm_make_newest(l, i);
	return i;
}

static size_t lm_heads(uint32_t cap)
{
	size_t n = 1;

	while (n < cap)
		n <<= 1;
	return n;
}

static size_t lm_entry_size(uint32_t key_bytes)
{
	return (offsetof(lm_entry_t, s) + key_bytes + 7) & ~(size_t)7;
}

static size_t lm_heads_off(void)
{
	return (sizeof(limit_t) + 7) & ~(size_t)7;
}

static size_t lm_entries_off(uint32_t cap)
{
	return (lm_heads_off() + lm_heads(cap) * sizeof(uint32_t) + 7) & ~(size_t)7;
}

static size_t lm_tab_size(uint32_t cap, uint32_t key_bytes)
{
	return lm_entries_off(cap) + (size_t)cap * lm_entry_size(key_bytes);
}

/* Lays out an empty table of cap keys in mem (lm_tab_size bytes); the
 * struct itself is at mem (its heads and entries follow it). */
static void lm_tab_init(lm_tab_t *l, unsigned char *mem, uint32_t cap, uint32_t key_bytes)
{
	l->cap = cap;
	l->used = 0;
	l->mask = (uint32_t)lm_heads(cap) - 1;
	l->key_bytes = key_bytes;
	l->entry_size = (uint32_t)lm_entry_size(key_bytes);
	l->newest = l->oldest = LM_NONE;
	l->heads = (uint32_t *)(mem + lm_heads_off());
	l->entries = mem + lm_entries_off(cap);
	for (size_t i = 0; i <= l->mask; i++)
		l->heads[i] = LM_NONE;
}

/* A new limit userdata on the stack, with an empty table of cap keys. */
static limit_t *lm_new(lua_State *L, uint32_t cap, uint32_t key_bytes)
{
	size_t size = lm_tab_size(cap, key_bytes);
	unsigned char *mem = lua_newuserdatauv(L, size, LM_NUV);
	limit_t *l = (limit_t *)mem;

	memset(mem, 0, size);
	lm_tab_init(&l->tab0, mem, cap, key_bytes);
	l->tabs[0] = &l->tab0;
	luaL_setmetatable(L, LIMIT_MT);
	return l;
}

/* A table like l's slot 0 for another tenant, outside the Lua state (so
 * that no tenant's keys count against the state every tenant shares).
 * NULL when out of memory. */
static lm_tab_t *lm_tab_new(const limit_t *l)
{
	size_t size = lm_tab_size(l->tab0.cap, l->tab0.key_bytes);
	unsigned char *mem = calloc(1, size);

	if (mem)
		lm_tab_init((lm_tab_t *)mem, mem, l->tab0.cap, l->tab0.key_bytes);
	return (lm_tab_t *)mem;
}

/* The table of c's tenant; NULL when its slot has none (a tenant of
 * sysgate.limited() whose table could not be made). */
static lm_tab_t *lm_tab_of(limit_ctx_t *x, limit_t *l, const call_t *c)
{
	unsigned slot = c->target ? c->target->tenant_slot : 0;

	if (slot >= LIMIT_TENANTS)
		return NULL;
	if (!l->tabs[slot] && l == x->shared && (x->tenant_used & (1ull << slot)))
		l->tabs[slot] = lm_tab_new(l); /* once per tenant: limited() is made on its first use */
	return l->tabs[slot];
}

static void lm_charge(limit_ctx_t *x, lm_tab_t *l, uint32_t i)
{
	if (x->ncharges < LIMIT_MAX_CHARGES)
		x->charges[x->ncharges++] = (limit_charge_t){ l, i, lm_entry(l, i)->gen };
}

void limit_begin(limit_ctx_t *x)
{
	x->ncharges = 0;
	x->refused = false;
}

void limit_refund(limit_ctx_t *x)
{
	for (unsigned n = 0; n < x->ncharges; n++) {
		lm_entry_t *e;

		if (!x->charges[n].tab)
			continue; /* its tenant's tables are gone */
		e = lm_entry(x->charges[n].tab, x->charges[n].entry);
		if (e->gen != x->charges[n].gen)
			continue; /* the bucket went to another key meanwhile */
		e->b.level += 1;
		if (e->b.level > e->b.burst)
			e->b.level = e->b.burst;
	}
	x->ncharges = 0;
}

/* ---- keys ---- */

/* The key of c for per (label: the label's name). false when there is
 * none: the calling process could not be identified. */
static bool lm_call_key(lm_per_t per, const char *label, call_t *c, lm_key_t *k)
{
	const call_target_t *t = c->target;
	pid_t tgid;

	memset(k, 0, sizeof(*k));
	k->kind = (uint8_t)per;
	k->s = "";
	switch (per) {
	case LM_TARGET:
		k->a = t ? t->id : 0;
		break;
	case LM_PROCESS:
		/* The thread group, never the thread: threads share one bucket. */
		tgid = call_tgid(c);
		if (tgid <= 0)
			return false;
		k->a = t ? t->id : 0;
		k->k = (uint64_t)tgid;
		break;
	case LM_SYSCALL:
		k->a = (uint64_t)(uint32_t)c->nr;
		break;
	case LM_LABEL:
		/* Targets without the label share one bucket (k = 1). */
		k->k = 1;
		if (t && (k->s = label_get(t, label)) != NULL) {
			k->len = (uint16_t)strnlen(k->s, SG_PROTO_MAX_VALUE);
			k->k = 0;
		} else {
			k->s = "";
		}
		break;
	default:
		break;
	}
	return true;
}

/* per = "process" | "target" | "policy" | "label:<key>" | "syscall"; raises
 * with where otherwise. */
static lm_per_t lm_check_per(lua_State *L, int idx, char *label, const char *where)
{
	const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : "";

	if (strcmp(s, "process") == 0)
		return LM_PROCESS;
	if (strcmp(s, "target") == 0)
		return LM_TARGET;
	if (strcmp(s, "policy") == 0)
		return LM_POLICY;
	if (strcmp(s, "syscall") == 0)
		return LM_SYSCALL;
	if (strncmp(s, "label:", 6) == 0 && s[6] && strlen(s + 6) <= SG_PROTO_MAX_KEY) {
		snprintf(label, SG_PROTO_MAX_KEY + 1, "%s", s + 6);
		return LM_LABEL;
	}
	return (lm_per_t)luaL_error(L, "%s: per must be \"process\", \"target\", \"policy\", "
				       "\"syscall\" or \"label:<key>\"", where);
}

/* ---- sysgate.limit{} ---- */

static int lm_field(lua_State *L, int idx, const char *k)
{
	lua_pushstring(L, k);
	return lua_rawget(L, idx);
}

static double lm_check_rate(lua_State *L, int idx, const char *what, double min, const char *where)
{
	double v;

	if (lua_type(L, idx) != LUA_TNUMBER)
		luaL_error(L, "%s: %s must be a number, not %s", where, what, luaL_typename(L, idx));
	v = lua_tonumber(L, idx);
	if (!(v >= min && v <= LM_MAX_RATE) || (min == 0 && v == 0))
		luaL_error(L, "%s: %s must be %s and at most 1e9", where, what,
			   min == 0 ? "above 0" : "at least 1");
	return v;
}

static lua_Integer lm_check_count(lua_State *L, int idx, const char *what, lua_Integer max)
{
	int ok;
	lua_Integer n = lua_tointegerx(L, idx, &ok);

	if (!ok || n < 1 || n > max)
		luaL_error(L, "sysgate.limit: %s must be an integer from 1 to %I", what, max);
	return n;
}

static bool lm_is_verdict(lua_State *L, int idx)
{
	return luaL_testudata(L, idx, LIMIT_VERDICT_MT) != NULL;
}

/* Pushes the verdict upvalue uv (sysgate.allow or deny) called with arg. */
static void lm_default_verdict(lua_State *L, int uv, const char *arg)
{
	lua_pushvalue(L, lua_upvalueindex(uv));
	lua_pushstring(L, arg);
	lua_call(L, 1, 1);
}

/* `then` is a Lua keyword: a policy writes it ["then"], or `under`. */
static void lm_read_then(lua_State *L, int idx)
{
	int t = lm_field(L, idx, "under");

	if (lm_field(L, idx, "then") != LUA_TNIL) {
		if (t != LUA_TNIL)
			luaL_error(L, "sysgate.limit: under and then are the same field; give one");
		lua_remove(L, -2);
	} else {
		lua_pop(L, 1);
	}
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lm_default_verdict(L, 1, "");
	} else if (lua_type(L, -1) != LUA_TFUNCTION && !lm_is_verdict(L, -1) && !limit_is(L, -1)) {
		luaL_error(L, "sysgate.limit: under (then) must be a function, a verdict or a limit, "
			      "not %s", luaL_typename(L, -1));
	}
}

/* over: a verdict or "throttle" (then nil is kept, and throttle set). */
static bool lm_read_over(lua_State *L, int idx)
{
	int t = lm_field(L, idx, "over");

	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		lm_default_verdict(L, 2, "EAGAIN");
		return false;
	}
	if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "throttle") == 0) {
		lua_pop(L, 1);
		lua_pushnil(L);
		return true;
	}
	if (!lm_is_verdict(L, -1))
		luaL_error(L, "sysgate.limit: over must be a verdict or \"throttle\", not %s",
			   luaL_typename(L, -1));
	return false;
}

static void lm_read_over_cap(lua_State *L, int idx)
{
	if (lm_field(L, idx, "over_cap") == LUA_TNIL) {
		lua_pop(L, 1);
		lm_default_verdict(L, 2, "EAGAIN");
	} else if (!lm_is_verdict(L, -1)) {
		luaL_error(L, "sysgate.limit: over_cap must be a verdict, not %s", luaL_typename(L, -1));
	}
}

/* Raises unless every key of the table at idx is a known field. */
static void lm_check_fields(lua_State *L, int idx)
{
	static const char *const keys[] = { "rate", "burst", "per", "over", "under", "then",
					    "keys", "parked", "over_cap", NULL };

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		bool ok = false;

		for (size_t i = 0; !ok && keys[i]; i++)
			ok = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), keys[i]) == 0;
		if (!ok && lua_type(L, -2) == LUA_TSTRING)
			luaL_error(L, "unknown field '%s' in sysgate.limit", lua_tostring(L, -2));
		if (!ok)
			luaL_error(L, "unexpected %s key in sysgate.limit", luaL_typename(L, -2));
		lua_pop(L, 1);
	}
}

/* The numbers and per of sysgate.limit{} at idx, into l's fields. */
typedef struct lm_params {
	double rate, burst;
	lm_per_t per;
	char label[SG_PROTO_MAX_KEY + 1];
	uint32_t keys, parked;
} lm_params_t;

static void lm_read_params(lua_State *L, int idx, lm_params_t *pp)
{
	const char *w = "sysgate.limit";

	if (lm_field(L, idx, "rate") == LUA_TNIL)
		luaL_error(L, "sysgate.limit: rate is missing (tokens a second)");
	pp->rate = lm_check_rate(L, -1, "rate", 0, w);
	pp->burst = pp->rate < 1 ? 1 : ceil(pp->rate);
	if (lm_field(L, idx, "burst") != LUA_TNIL)
		pp->burst = lm_check_rate(L, -1, "burst", 1, w);
	pp->per = LM_PROCESS;
	if (lm_field(L, idx, "per") != LUA_TNIL)
		pp->per = lm_check_per(L, -1, pp->label, w);
	pp->keys = LIMIT_DEFAULT_KEYS;
	if (lm_field(L, idx, "keys") != LUA_TNIL)
		pp->keys = (uint32_t)lm_check_count(L, -1, "keys", LIMIT_MAX_KEYS);
	pp->parked = LIMIT_DEFAULT_PARKED;
	if (lm_field(L, idx, "parked") != LUA_TNIL)
		pp->parked = (uint32_t)lm_check_count(L, -1, "parked", LIMIT_MAX_PARKED);
	lua_pop(L, 5);
}

/* sysgate.limit{...}: upvalues 1 and 2 are sysgate.allow and sysgate.deny,
 * 3 the limit_ctx_t. */
static int lm_limit(lua_State *L)
{
	limit_ctx_t *x = lua_touserdata(L, lua_upvalueindex(3));
	lm_params_t pp = { 0 };
	bool throttle;
	limit_t *l;

	if (!x->loading)
		return luaL_error(L, "sysgate.limit can only be called while the policy file loads");
	if (x->n >= LIMIT_MAX)
		return luaL_error(L, "sysgate.limit: more than %d limits in one policy", LIMIT_MAX);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lm_check_fields(L, 1);
	lm_read_params(L, 1, &pp);
	lm_read_then(L, 1);              /* 2 */
	throttle = lm_read_over(L, 1);   /* 3 */
	lm_read_over_cap(L, 1);          /* 4 */
	l = lm_new(L, pp.keys, pp.per == LM_LABEL ? SG_PROTO_MAX_VALUE : 0);
	l->rate = pp.rate;
	l->burst = pp.burst;
	l->per = pp.per;
	memcpy(l->label, pp.label, sizeof(l->label));
	l->throttle = throttle;
	l->parked = pp.parked;
	for (int uv = LM_UV_THEN; uv <= LM_NUV; uv++) {
		lua_pushvalue(L, 1 + uv);
		lua_setiuservalue(L, -2, uv);
	}
	lua_pushvalue(L, -1);
	x->refs[x->n] = luaL_ref(L, LUA_REGISTRYINDEX);
	x->limits[x->n++] = l;
	l->index = (int)x->n;
	return 1;
}

/* ---- sysgate.limited() ---- */

/* The key of sysgate.limited(key, ..., per) into k, using x->keybuf:
 * the scope's own key joined with the handler's. false when the calling
 * process cannot be identified (it is gone). */
static bool lm_limited_key(lua_State *L, limit_ctx_t *x, lm_key_t *k)
{
	char label[SG_PROTO_MAX_KEY + 1] = "", num[32];
	lm_per_t per = lua_isnoneornil(L, 4) ? LM_POLICY : lm_check_per(L, 4, label, "sysgate.limited");
	const char *key;
	size_t len, off;

	if (lua_type(L, 1) == LUA_TNUMBER && lua_isinteger(L, 1)) {
		/* Formatted here: lua_tolstring would make a Lua string per call. */
		len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)lua_tointeger(L, 1));
		key = num;
	} else if (lua_type(L, 1) == LUA_TSTRING) {
		key = lua_tolstring(L, 1, &len);
		if (len == 0 || len > LIMIT_MAX_KEY)
			luaL_error(L, "sysgate.limited: the key must be 1 to %d bytes", LIMIT_MAX_KEY);
	} else {
		luaL_error(L, "sysgate.limited: the key must be a string or an integer, not %s",
			   luaL_typename(L, 1));
		return false;
	}
	if (!x->call) {
		luaL_error(L, "sysgate.limited can only be called by a handler");
		return false; /* not reached: luaL_error raises */
	}
	if (!lm_call_key(per, label, x->call, k))
		return false;
	k->kind |= 0x80;
	off = k->len;
	memcpy(x->keybuf, k->s, off);
	x->keybuf[off++] = '\0';
	memcpy(x->keybuf + off, key, len);
	k->s = x->keybuf;
	k->len = (uint16_t)(off + len);
	return true;
}

static limit_t *lm_shared(lua_State *L, limit_ctx_t *x)
{
	limit_t *l;

	if (x->shared)
		return x->shared;
	l = lm_new(L, LIMIT_SHARED_KEYS, (uint32_t)sizeof(x->keybuf));
	x->shared_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	x->shared = l;
	return l;
}

/* sysgate.limited(key, rate, burst[, per]) -> true when a token was
 * there (and is now taken); upvalue 1 is the limit_ctx_t. */
static int lm_limited(lua_State *L)
{
	limit_ctx_t *x = lua_touserdata(L, lua_upvalueindex(1));
	double rate = lm_check_rate(L, 2, "rate", 0, "sysgate.limited");
	double burst = lm_check_rate(L, 3, "burst", 1, "sysgate.limited");
	uint64_t now = x->clock(x->clock_ctx);
	lm_tab_t *l = NULL;
	lm_key_t k;
	uint32_t i;
	tokens_t *b;

	/* No key (the caller is gone), no table for its tenant, or a table
	 * full of busy keys: fail closed. */
	i = LM_NONE;
	if (lm_limited_key(L, x, &k) && (l = lm_tab_of(x, lm_shared(L, x), x->call)))
		i = lm_find(x, l, &k, rate, burst, now);
	if (i == LM_NONE) {
		x->refused = true;
		lua_pushboolean(L, 0);
		return 1;
	}
	b = &lm_entry(l, i)->b;
	if (b->rate != rate || b->burst != burst) {
		/* The same key with new numbers: refill at the old rate first. */
		(void)tokens_wait_ns(b, now);
		b->rate = rate;
		b->burst = burst;
		if (b->level > burst)
			b->level = burst;
	}
	if (!tokens_take(b, now)) {
		x->refused = true;
		lua_pushboolean(L, 0);
		return 1;
	}
	lm_charge(x, l, i);
	lua_pushboolean(L, 1);
	return 1;
}

static int lm_tostring(lua_State *L)
{
	const limit_t *l = luaL_checkudata(L, 1, LIMIT_MT);

	lua_pushfstring(L, "limit(%f/s, burst %f)", l->rate, l->burst);
	return 1;
}

void limit_register(lua_State *L, limit_ctx_t *x)
{
	static const luaL_Reg mm[] = { { "__tostring", lm_tostring }, { NULL, NULL } };

	luaL_newmetatable(L, LIMIT_MT);
	luaL_setfuncs(L, mm, 0);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
	lua_getfield(L, -1, "allow");
	lua_getfield(L, -2, "deny");
	lua_pushlightuserdata(L, x);
	lua_pushcclosure(L, lm_limit, 3);
	lua_setfield(L, -2, "limit");
	lua_pushlightuserdata(L, x);
	lua_pushcclosure(L, lm_limited, 1);
	lua_setfield(L, -2, "limited");
}

bool limit_is(lua_State *L, int idx)
{
	return luaL_testudata(L, idx, LIMIT_MT) != NULL;
}

/* ---- deciding ---- */

static void lm_replace(lua_State *L, int uv)
{
	lua_getiuservalue(L, -1, uv);
	lua_remove(L, -2);
}

limit_step_t limit_step(lua_State *L, limit_ctx_t *x, call_t *c, limit_out_t *out)
{
	limit_t *l = lua_touserdata(L, -1);
	lm_tab_t *tab = lm_tab_of(x, l, c);
	unsigned parked = c->target ? c->target->parked : 0;
	uint64_t now = x->clock(x->clock_ctx);
	uint32_t i = LM_NONE;
	lm_key_t k;

	if (tab && lm_call_key(l->per, l->label, c, &k))
		i = lm_find(x, tab, &k, l->rate, l->burst, now);
	if (i != LM_NONE && tokens_take(&lm_entry(tab, i)->b, now)) {
		lm_charge(x, tab, i);
		lm_replace(L, LM_UV_THEN);
		return LIMIT_THEN;
	}
	out->limited = true;
	if (!l->throttle) {
		lm_replace(L, LM_UV_OVER);
		return LIMIT_OVER;
	}
	lm_replace(L, LM_UV_OVER_CAP);
	if (i == LM_NONE || parked >= l->parked)
		return LIMIT_OVER;
	/* Reserve the next token: the level goes below zero, and the call
	 * waits for the moment it would have been there. */
	out->throttle_ns = tokens_wait_ns(&lm_entry(tab, i)->b, now);
	lm_entry(tab, i)->b.level -= 1;
	lm_charge(x, tab, i);
	out->resume = l->index;
	return LIMIT_THROTTLE;
}

void limit_push_then(lua_State *L, limit_ctx_t *x, int resume)
{
	if (resume < 1 || resume > (int)x->n) {
		lua_pushnil(L);
		return;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, x->refs[resume - 1]);
	lm_replace(L, LM_UV_THEN);
}

/* ---- tenants ---- */

int limit_tenant_add(limit_ctx_t *x, unsigned slot)
{
	if (slot == 0 || slot >= LIMIT_TENANTS)
		return -EINVAL;
	for (unsigned n = 0; n < x->n; n++) {
		limit_t *l = x->limits[n];

		if (!(l->tabs[slot] = lm_tab_new(l))) {
			limit_tenant_remove(x, slot);
			return -ENOMEM;
		}
	}
	x->tenant_used |= 1ull << slot;
	return 0;
}

void limit_tenant_remove(limit_ctx_t *x, unsigned slot)
{
	if (slot == 0 || slot >= LIMIT_TENANTS)
		return;
	/* Tokens of this decision in a table about to go are not given back. */
	for (unsigned n = 0; n < x->ncharges; n++) {
		for (unsigned j = 0; j < x->n; j++)
			if (x->charges[n].tab == x->limits[j]->tabs[slot])
				x->charges[n].tab = NULL;
		if (x->shared && x->charges[n].tab == x->shared->tabs[slot])
			x->charges[n].tab = NULL;
	}
	for (unsigned n = 0; n < x->n; n++) {
		free(x->limits[n]->tabs[slot]);
		x->limits[n]->tabs[slot] = NULL;
	}
	if (x->shared) {
		free(x->shared->tabs[slot]);
		x->shared->tabs[slot] = NULL;
	}
	x->tenant_used &= ~(1ull << slot);
}

void limit_fini(limit_ctx_t *x)
{
	for (unsigned slot = 1; slot < LIMIT_TENANTS; slot++)
		limit_tenant_remove(x, slot);
}
