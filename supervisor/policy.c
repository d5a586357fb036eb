/*
 * The policy engine: the `sysgate` Lua module (verdicts and
 * sysgate.policy{}), the load of a policy file into its sandbox, the
 * compiled filter spec, and the decision of one notified call through the
 * policy's handler and the call object `c`.
 *
 * Talks to sandbox.c for everything that runs Lua, to call.c for the lazy
 * decoding of pointer arguments and to names.c for syscall and errno
 * names. The per-call path (policy_decide) allocates nothing in steady
 * state: the call object, its args table, allow/kill and every deny(errno)
 * verdict are made once and reused.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "filter.h"
#include "label.h"
#include "limit.h"
#include "names.h"
#include "policy.h"
#include "sandbox.h"
#include "text.h"

#define PL_VERDICT_MT LIMIT_VERDICT_MT
#define PL_CALL_MT "sysgate.call"
#define PL_COMPILED_MT "sysgate.compiled"
#define PL_TARGET_MT "sysgate.target"
#define PL_LABELS_MT "sysgate.labels"
#define PL_MAX_FILE (1u << 20)   /* bytes of a policy file */
#define PL_MAX_CHUNKNAME 48      /* well below LUA_IDSIZE, so never truncated */
#define PL_MAX_GROUP_DEPTH 4     /* nesting of kernel.deny groups */
#define PL_ERRNO_MAX 4095
#define PL_KERNEL_ERRNO_MAX 4094 /* libseccomp refuses its MAX_ERRNO, 4095, in a filter */
#define PL_LOAD_FACTOR 10        /* loading gets 10x the per-call budget */

/* Where a syscall is named in the policy; each may be named once. */
enum pl_where { PL_NONE = 0, PL_DENY, PL_KILL, PL_ON, PL_ALLOW };

static const char *const pl_where_name[] = { "", "kernel.deny", "kernel.kill", "on", "kernel.allow" };

struct policy {
	sandbox_t *sb;
	char name[SG_PROTO_MAX_NAME + 1];
	char chunk[PL_MAX_CHUNKNAME + 2]; /* "@" + short name, as Lua sees the file */
	policy_limits_t limits;
	sandbox_budget_t call_budget;
	sg_spec_t spec;
	sg_spec_t audit_spec; /* spec, with every kernel deny and kill forwarded instead */
	sg_spec_t learn_spec; /* every syscall forwarded */
	int handler[NAMES_MAX_NR]; /* registry refs; LUA_NOREF when none */

	/* Registry refs of the objects made once per state. */
	int call_ref, args_ref, target_ref, labels_ref;

	/* Load. */
	const char *src;
	size_t src_len;
	bool loading, compiled, returned, attempted;
	uint8_t where[NAMES_MAX_NR];
	uint16_t deny_err[NAMES_MAX_NR];

	/* pointer_args = "enforce": an allow after a pointer argument was
	 * read becomes a brokered open (the open family) or a deny
	 * (pl_pointer_args). */
	bool pointer_enforce;

	/* The policy's own mode (sysgate.policy{ mode = }). */
	sg_mode_t mode;
	/* Rate limits (limit.c), and the limit a throttled call resumes at
	 * (0: a new call, which starts at its handler). */
	limit_ctx_t lim;
	int resume;
	/* The launcher uids with targets of the policy, by tenant slot of
	 * the limits (slot 0 is root's and never listed here). */
	struct {
		uid_t uid;
		unsigned refs;
	} tenant[LIMIT_TENANTS];

	/* The call being decided, and what came out. */
	call_t *call;
	bool args_filled;
	int fault;               /* a pointer argument could not be read: its -errno */
	const char *fault_what;  /* which one: "path", "address", "flags", "argv" */
	bool got;
	const char *badtype;
	verdict_t result;
	char open_path[PATH_MAX]; /* the path of a sysgate.open(path) result */
};

static void pl_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void pl_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static const char *pl_strerror(int err)
{
	const char *s = strerrordesc_np(err);

	return s ? s : "unknown error";
}

/* ---- verdicts ---- */

static int pl_rawfield(lua_State *L, int idx, const char *k);
static void pl_check_keys(lua_State *L, int idx, const char *const *names, bool list, const char *what);

/* A verdict is a userdata; its one user value holds the path of a
 * sysgate.open(path) verdict (nil otherwise). */
static verdict_t *pl_push_verdict(lua_State *L, verdict_kind_t kind, int err, int64_t value)
{
	verdict_t *v = lua_newuserdatauv(L, sizeof(*v), 1);

	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->err = err;
	v->value = value;
	v->flags = -1;
	v->mode = -1;
	v->fd = -1;
	luaL_setmetatable(L, PL_VERDICT_MT);
	return v;
}

/* An errno given as a name or a number 1..4095; raises otherwise. */
static int pl_check_errno(lua_State *L, int idx, const char *where)
{
	int isnum;
	lua_Integer n;
	int err;

	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
		n = lua_tointegerx(L, idx, &isnum);
		if (!isnum || n < 1 || n > PL_ERRNO_MAX)
			return luaL_error(L, "errno %s out of range 1..4095%s", lua_tostring(L, idx), where);
		return (int)n;
	case LUA_TSTRING:
		err = names_errno(lua_tostring(L, idx));
		if (err < 1)
			return luaL_error(L, "unknown errno '%s'%s", lua_tostring(L, idx), where);
		return err;
	default:
		return luaL_error(L, "errno must be a name or a number, not %s%s", luaL_typename(L, idx),
				  where);
	}
}

static int pl_constant(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	return 1;
}

/* deny(e): one verdict per errno, cached in the table upvalue 1. */
static int pl_deny(lua_State *L)
{
	int err = lua_isnoneornil(L, 1) ? EPERM : pl_check_errno(L, 1, "");

	if (lua_rawgeti(L, lua_upvalueindex(1), err) == LUA_TUSERDATA)
		return 1;
	lua_pop(L, 1);
	pl_push_verdict(L, VERDICT_DENY, err, 0);
	lua_pushvalue(L, -1);
	lua_rawseti(L, lua_upvalueindex(1), err);
	return 1;
}

static int pl_emulate(lua_State *L)
{
	pl_push_verdict(L, VERDICT_EMULATE, 0, (int64_t)luaL_checkinteger(L, 1));
	return 1;
}

/*
 * sysgate.open([path[, flags[, mode]]][, {as = "supervisor"}]): the
 * brokered open. A nil path, flags or mode is the call's own; the path is
 * kept as the verdict's user value and copied out when it is returned.
 */
static int pl_open(lua_State *L)
{
	static const char *const keys[] = { "as", NULL };
	int n = lua_gettop(L);
	bool as_supervisor = false;
	lua_Integer flags = -1, mode = -1;
	const char *path;
	verdict_t *v;
	size_t len;

	if (n > 0 && lua_type(L, n) == LUA_TTABLE) {
		pl_check_keys(L, n, keys, false, "the options of sysgate.open");
		if (pl_rawfield(L, n, "as") != LUA_TNIL) {
			path = lua_tostring(L, -1);
			if (lua_type(L, -1) != LUA_TSTRING ||
			    (strcmp(path, "supervisor") != 0 && strcmp(path, "caller") != 0))
				return luaL_error(L, "sysgate.open: 'as' must be \"caller\" or \"supervisor\"");
			as_supervisor = path[0] == 's';
		}
		lua_pop(L, 1);
		n--;
	}
	if (n > 3)
		return luaL_error(L, "sysgate.open takes a path, flags, a mode and an options table");
	if (!lua_isnoneornil(L, 1)) {
		path = luaL_checklstring(L, 1, &len);
		if (len == 0 || len >= PATH_MAX || memchr(path, '\0', len))
			return luaL_error(L, "sysgate.open: the path must be 1..%d bytes without NUL",
					  PATH_MAX - 1);
	}
	if (n >= 2 && !lua_isnil(L, 2)) {
		flags = luaL_checkinteger(L, 2);
		if (flags < 0 || flags > INT32_MAX)
			return luaL_error(L, "sysgate.open: flags %I are not open flags", flags);
	}
	if (n >= 3 && !lua_isnil(L, 3)) {
		mode = luaL_checkinteger(L, 3);
		if (mode < 0 || mode > 07777)
			return luaL_error(L, "sysgate.open: mode %I is not a file mode", mode);
	}
	v = pl_push_verdict(L, VERDICT_OPEN, 0, 0);
	v->flags = flags;
	v->mode = mode;
	v->as_supervisor = as_supervisor;
	if (!lua_isnoneornil(L, 1)) {
		lua_pushvalue(L, 1);
		lua_setiuservalue(L, -2, 1);
	}
	return 1;
}

/* verdict:log([message]): a new verdict, the same but logged. */
static int pl_verdict_log(lua_State *L)
{
	const verdict_t *v = luaL_checkudata(L, 1, PL_VERDICT_MT);
	size_t len = 0;
	const char *msg = luaL_optlstring(L, 2, NULL, &len);
	verdict_t *n = pl_push_verdict(L, v->kind, v->err, v->value);

	*n = *v;
	lua_getiuservalue(L, 1, 1);
	lua_setiuservalue(L, -2, 1);
	n->log = true;
	if (msg) {
		/* Cut at a character: the log must not show a cut of ours as
		 * bytes that were not UTF-8. */
		if (len > VERDICT_MAX_MESSAGE)
			len = text_utf8_cut(msg, VERDICT_MAX_MESSAGE);
		memcpy(n->message, msg, len);
		n->message[len] = '\0';
	}
	return 1;
}

static int pl_verdict_tostring(lua_State *L)
{
	const verdict_t *v = luaL_checkudata(L, 1, PL_VERDICT_MT);

	if (v->kind == VERDICT_DENY)
		lua_pushfstring(L, "deny(%d)", v->err);
	else if (v->kind == VERDICT_EMULATE)
		/* cppcheck-suppress invalidLengthModifierError ; %I is lua_pushfstring's lua_Integer, not printf's */
		lua_pushfstring(L, "emulate(%I)", (lua_Integer)v->value);
	else if (v->kind == VERDICT_OPEN && lua_getiuservalue(L, 1, 1) == LUA_TSTRING)
		lua_pushfstring(L, "open(%s)", lua_tostring(L, -1));
	else if (v->kind == VERDICT_OPEN)
		lua_pushliteral(L, "open()");
	else
		lua_pushstring(L, verdict_kind_name(v->kind));
	return 1;
}

/* ---- sysgate.policy{} ---- */

static int pl_rawfield(lua_State *L, int idx, const char *k)
{
	lua_pushstring(L, k);
	return lua_rawget(L, idx);
}

static void pl_add_syscall(lua_State *L, policy_t *p, const char *name, enum pl_where w, int err)
{
	int nr = names_syscall(name);

	if (nr < 0)
		luaL_error(L, "unknown syscall '%s' in %s", name, pl_where_name[w]);
	if (p->where[nr] != PL_NONE)
		luaL_error(L, "syscall '%s' is named twice (in %s and in %s)", name,
			   pl_where_name[p->where[nr]], pl_where_name[w]);
	p->where[nr] = (uint8_t)w;
	p->deny_err[nr] = (uint16_t)err;
}

/* Raises unless every key of the table at idx is one of the names. */
static void pl_check_keys(lua_State *L, int idx, const char *const *names, bool list, const char *what)
{
	lua_Integer n = list ? (lua_Integer)lua_rawlen(L, idx) : 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		/* Only 1..#t is read: a hole or a float key would be ignored. */
		bool ok = list && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
			  lua_tointeger(L, -2) <= n;

		for (size_t i = 0; !ok && names[i]; i++)
			ok = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), names[i]) == 0;
		if (!ok && lua_type(L, -2) == LUA_TSTRING)
			luaL_error(L, "unknown field '%s' in %s", lua_tostring(L, -2), what);
		if (!ok)
			luaL_error(L, "unexpected %s key in %s (use a list of names)",
				   luaL_typename(L, -2), what);
		lua_pop(L, 1);
	}
}

/* kernel.deny and its nested groups: strings take the group's errno.
 * Recursive, and depth stops it at PL_MAX_GROUP_DEPTH. */
static void pl_read_deny(lua_State *L, policy_t *p, int idx, int err, int depth) /* NOLINT(misc-no-recursion): bounded, see above */
{
	static const char *const keys[] = { "errno", NULL };

	if (depth > PL_MAX_GROUP_DEPTH)
		luaL_error(L, "kernel.deny groups nest too deep");
	pl_check_keys(L, idx, keys, true, "kernel.deny");
	if (pl_rawfield(L, idx, "errno") != LUA_TNIL)
		err = pl_check_errno(L, lua_gettop(L), " in kernel.deny");
	if (err > PL_KERNEL_ERRNO_MAX)
		luaL_error(L, "errno %d in kernel.deny: the kernel filter returns 1..%d", err,
			   PL_KERNEL_ERRNO_MAX);
	lua_pop(L, 1);
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, idx); i <= n; i++) {
		lua_rawgeti(L, idx, i);
		if (lua_type(L, -1) == LUA_TSTRING)
			pl_add_syscall(L, p, lua_tostring(L, -1), PL_DENY, err);
		else if (lua_type(L, -1) == LUA_TTABLE)
			pl_read_deny(L, p, lua_gettop(L), err, depth + 1);
		else
			luaL_error(L, "kernel.deny entries must be syscall names or groups, not %s",
				   luaL_typename(L, -1));
		lua_pop(L, 1);
	}
}

static void pl_read_kill(lua_State *L, policy_t *p, int idx)
{
	static const char *const keys[] = { NULL };

	pl_check_keys(L, idx, keys, true, "kernel.kill");
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, idx); i <= n; i++) {
		lua_rawgeti(L, idx, i);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "kernel.kill entries must be syscall names, not %s",
				   luaL_typename(L, -1));
		pl_add_syscall(L, p, lua_tostring(L, -1), PL_KILL, 0);
		lua_pop(L, 1);
	}
}

/* kernel.allow: allowed in the kernel whatever the default (a learned
 * policy's syscalls that need no decision, under default = "deny"). */
static void pl_read_allow(lua_State *L, policy_t *p, int idx)
{
	static const char *const keys[] = { NULL };

	pl_check_keys(L, idx, keys, true, "kernel.allow");
	for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, idx); i <= n; i++) {
		lua_rawgeti(L, idx, i);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "kernel.allow entries must be syscall names, not %s",
				   luaL_typename(L, -1));
		pl_add_syscall(L, p, lua_tostring(L, -1), PL_ALLOW, 0);
		lua_pop(L, 1);
	}
}

static void pl_read_kernel(lua_State *L, policy_t *p, int idx)
{
	static const char *const keys[] = { "allow", "deny", "kill", NULL };
	int t;

	pl_check_keys(L, idx, keys, false, "kernel");
	t = pl_rawfield(L, idx, "allow");
	if (t == LUA_TTABLE)
		pl_read_allow(L, p, lua_gettop(L));
	else if (t != LUA_TNIL)
		luaL_error(L, "kernel.allow must be a table, not %s", luaL_typename(L, -1));
	lua_pop(L, 1);
	t = pl_rawfield(L, idx, "deny");
	if (t == LUA_TTABLE)
		pl_read_deny(L, p, lua_gettop(L), EPERM, 0);
	else if (t != LUA_TNIL)
		luaL_error(L, "kernel.deny must be a table, not %s", luaL_typename(L, -1));
	lua_pop(L, 1);
	t = pl_rawfield(L, idx, "kill");
	if (t == LUA_TTABLE)
		pl_read_kill(L, p, lua_gettop(L));
	else if (t != LUA_TNIL)
		luaL_error(L, "kernel.kill must be a table, not %s", luaL_typename(L, -1));
	lua_pop(L, 1);
}

static void pl_read_on(lua_State *L, policy_t *p, int idx)
{
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *name;

		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "keys of on must be syscall names, not %s", luaL_typename(L, -2));
		name = lua_tostring(L, -2);
		if (lua_type(L, -1) != LUA_TFUNCTION && !luaL_testudata(L, -1, PL_VERDICT_MT) &&
		    !limit_is(L, -1))
			luaL_error(L, "handler for '%s' must be a function, a verdict or a limit, not %s",
				   name, luaL_typename(L, -1));
		pl_add_syscall(L, p, name, PL_ON, 0);
		p->handler[names_syscall(name)] = luaL_ref(L, LUA_REGISTRYINDEX);
	}
}

static void pl_read_default(lua_State *L, policy_t *p, int idx)
{
	const verdict_t *v;
	const char *s;

	p->spec.default_action = SG_ACT_ALLOW;
	if (lua_isnil(L, idx))
		return;
	if (lua_type(L, idx) == LUA_TSTRING) {
		s = lua_tostring(L, idx);
		if (strcmp(s, "allow") == 0)
			return;
		if (strcmp(s, "deny") == 0) {
			p->spec.default_action = SG_ACT_ERRNO;
			p->spec.default_errno = EPERM;
			return;
		}
		if (strcmp(s, "kill") == 0) {
			p->spec.default_action = SG_ACT_KILL;
			return;
		}
	}
	v = luaL_testudata(L, idx, PL_VERDICT_MT);
	if (!v || v->kind == VERDICT_EMULATE || v->kind == VERDICT_OPEN || v->log) {
		luaL_error(L, "default must be \"allow\", \"deny\", \"kill\", sysgate.allow(), "
			      "sysgate.deny(e) or sysgate.kill()");
		return; /* not reached: luaL_error does not return */
	}
	if (v->kind == VERDICT_DENY && v->err > PL_KERNEL_ERRNO_MAX)
		luaL_error(L, "default errno %d: the kernel filter returns 1..%d", v->err,
			   PL_KERNEL_ERRNO_MAX);
	if (v->kind == VERDICT_DENY) {
		p->spec.default_action = SG_ACT_ERRNO;
		p->spec.default_errno = (uint32_t)v->err;
	} else if (v->kind == VERDICT_KILL) {
		p->spec.default_action = SG_ACT_KILL;
	}
}

static void pl_read_header(lua_State *L, policy_t *p)
{
	const char *s;

	if (pl_rawfield(L, 1, "name") != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "name must be a string");
		if (strcmp(lua_tostring(L, -1), p->name) != 0)
			luaL_error(L, "policy name '%s' does not match the name '%s' it is loaded as",
				   lua_tostring(L, -1), p->name);
	}
	if (pl_rawfield(L, 1, "mode") != LUA_TNIL) {
		s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (strcmp(s, "enforce") == 0)
			p->mode = SG_MODE_ENFORCE;
		else if (strcmp(s, "audit") == 0)
			p->mode = SG_MODE_AUDIT;
		else if (strcmp(s, "learn") == 0)
			p->mode = SG_MODE_LEARN;
		else
			luaL_error(L, "mode must be \"enforce\", \"audit\" or \"learn\"");
	}
	if (pl_rawfield(L, 1, "pointer_args") != LUA_TNIL) {
		s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (strcmp(s, "enforce") != 0 && strcmp(s, "advisory") != 0)
			luaL_error(L, "pointer_args must be \"advisory\" or \"enforce\"");
		p->pointer_enforce = s[0] == 'e';
	}
	lua_pop(L, 3);
}

static void pl_build_spec(policy_t *p)
{
	sg_spec_t *s = &p->spec;

	s->arch = names_native_arch();
	for (int nr = 0; nr < NAMES_MAX_NR; nr++) {
		switch (p->where[nr]) {
		case PL_DENY:
			s->deny[s->n_deny].nr = (uint32_t)nr;
			s->deny[s->n_deny++].err = p->deny_err[nr];
			break;
		case PL_KILL:
			s->kill[s->n_kill++] = (uint32_t)nr;
			break;
		case PL_ON:
			s->notify[s->n_notify++] = (uint32_t)nr;
			break;
		case PL_ALLOW:
			s->allow[s->n_allow++] = (uint32_t)nr;
			break;
		default:
			break;
		}
	}
}

/*
 * The audit filter: what the kernel would deny or kill is forwarded
 * instead, so that the supervisor can allow it and log what would have
 * happened (policy_kernel_verdict); a default deny or kill forwards every
 * syscall the policy does not name. Kernel-allowed calls stay in the
 * kernel.
 */
static void pl_build_audit_spec(policy_t *p)
{
	const sg_spec_t *s = &p->spec;
	sg_spec_t *a = &p->audit_spec;

	*a = *s;
	a->n_deny = a->n_kill = 0;
	for (uint32_t i = 0; i < s->n_deny; i++)
		a->notify[a->n_notify++] = s->deny[i].nr;
	for (uint32_t i = 0; i < s->n_kill; i++)
		a->notify[a->n_notify++] = s->kill[i];
	if (s->default_action != SG_ACT_ALLOW) {
		a->default_action = SG_ACT_NOTIFY;
		a->default_errno = 0;
	}
}

/*
 * sysgate.policy{...}: checks the table and compiles it. Errors are raised
 * here, so luaL_error puts the file:line of this call in front of them.
 */
static int pl_policy(lua_State *L)
{
	static const char *const keys[] = { "name", "mode", "pointer_args", "default", "kernel", "on",
					    NULL };
	policy_t *p = sandbox_owner(L);
	int t;

	if (!p->loading)
		return luaL_error(L, "sysgate.policy can only be called while the policy file loads");
	if (p->compiled || p->attempted)
		return luaL_error(L, "sysgate.policy is called twice");
	p->attempted = true;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	pl_check_keys(L, 1, keys, false, "sysgate.policy");
	pl_read_header(L, p);
	pl_rawfield(L, 1, "default");
	pl_read_default(L, p, 2);
	lua_pop(L, 1);
	t = pl_rawfield(L, 1, "kernel");
	if (t == LUA_TTABLE)
		pl_read_kernel(L, p, 2);
	else if (t != LUA_TNIL)
		luaL_error(L, "kernel must be a table, not %s", luaL_typename(L, 2));
	lua_pop(L, 1);
	t = pl_rawfield(L, 1, "on");
	if (t == LUA_TTABLE)
		pl_read_on(L, p, 2);
	else if (t != LUA_TNIL)
		luaL_error(L, "on must be a table, not %s", luaL_typename(L, 2));
	lua_pop(L, 1);
	pl_build_spec(p);
	pl_build_audit_spec(p);
	/* Learn mode forwards everything, so that every syscall is seen. */
	p->learn_spec.arch = p->spec.arch;
	p->learn_spec.default_action = SG_ACT_NOTIFY;
	p->compiled = true;
	lua_newuserdatauv(L, 0, 0);
	luaL_setmetatable(L, PL_COMPILED_MT);
	return 1;
}

/* ---- the call object ---- */

/* Values above INT64_MAX (pointers in the upper half, -1 as unsigned)
 * show as negative Lua integers: Lua has no unsigned integer type. */
static void pl_push_args(lua_State *L, policy_t *p)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->args_ref);
	if (p->args_filled)
		return;
	for (int i = 0; i < 6; i++) {
		lua_pushinteger(L, (lua_Integer)p->call->args[i]);
		lua_rawseti(L, -2, i + 1);
	}
	p->args_filled = true;
}

/*
 * c.target and c.target.labels: two userdata made once per state, views
 * of the target record in C (call_target_t, owned by target.c) of the
 * call being decided. Nothing of a target is kept in the policy's Lua
 * state, so the state's budget does not grow with the targets any
 * launcher starts, and no call allocates a table for them.
 */
/* The target of the call being decided; NULL (then raise with
 * pl_no_target) when a handler kept c.target past its call. */
static const call_target_t *pl_target_now(lua_State *L)
{
	policy_t *p = sandbox_owner(L);

	return p->call ? p->call->target : NULL;
}

static int pl_no_target(lua_State *L)
{
	return luaL_error(L, "c.target is only valid during its call");
}

static int pl_target_index(lua_State *L)
{
	policy_t *p = sandbox_owner(L);
	const call_target_t *t = pl_target_now(L);
	const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";

	if (!t)
		return pl_no_target(L);
	if (strcmp(k, "id") == 0)
		lua_pushinteger(L, (lua_Integer)t->id);
	else if (strcmp(k, "policy") == 0)
		lua_pushstring(L, t->policy);
	else if (strcmp(k, "pid") == 0)
		lua_pushinteger(L, t->pid);
	else if (strcmp(k, "uid") == 0)
		lua_pushinteger(L, t->uid);
	else if (strcmp(k, "labels") == 0)
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->labels_ref);
	else
		lua_pushnil(L);
	return 1;
}

/* The launcher's labels and sysgated's own (label.h). */
static int pl_labels_index(lua_State *L)
{
	const call_target_t *t = pl_target_now(L);
	const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
	const char *v = t && k ? label_get(t, k) : NULL;

	if (!t)
		return pl_no_target(L);
	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

/* next() over the labels, for pairs(c.target.labels). */
static int pl_labels_next(lua_State *L)
{
	const call_target_t *t = pl_target_now(L);
	const char *key, *value;
	uint32_t i = 0;

	if (!t)
		return pl_no_target(L);
	if (!lua_isnil(L, 2)) {
		const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;

		while (label_at(t, i, &key, &value) && (!k || strcmp(key, k) != 0))
			i++;
		i++;
	}
	if (!label_at(t, i, &key, &value)) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushstring(L, key);
	lua_pushstring(L, value);
	return 2;
}

static int pl_labels_pairs(lua_State *L)
{
	lua_pushcfunction(L, pl_labels_next); /* a light function: no allocation */
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

static int pl_readonly(lua_State *L)
{
	return luaL_error(L, "c.target is read-only");
}

/* c.target: nil for a call without a target (tests, the fuzzer). */
static void pl_push_target(lua_State *L, policy_t *p)
{
	if (!p->call->target)
		lua_pushnil(L);
	else
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->target_ref);
}

/* Records that the argument what could not be read (the call is then
 * denied, whatever the handler returns) and raises in the handler. */
static int pl_fault_raise(lua_State *L, policy_t *p, int rc, const char *what)
{
	p->fault = rc;
	p->fault_what = what;
	return luaL_error(L, "cannot read %s argument: %s", what, pl_strerror(-rc));
}

/* c.path and c.path2: nil for syscalls without that path, and for a NULL
 * pointer; a failed read raises and marks the call as faulted. */
static int pl_push_path(lua_State *L, policy_t *p, bool second)
{
	call_t *c = p->call;
	int rc;

	if ((second ? call_path2_arg(c->nr) : call_path_arg(c->nr)) < 0) {
		lua_pushnil(L);
		return 1;
	}
	rc = second ? call_path2(c) : call_path(c);
	if (rc < 0)
		return pl_fault_raise(L, p, rc, "path");
	if ((second ? c->path2_state : c->path_state) == 2)
		lua_pushnil(L);
	else if (second)
		lua_pushlstring(L, c->path2, c->path2_len);
	else
		lua_pushlstring(L, c->path, c->path_len);
	return 1;
}

/* c.abspath and c.abspath2: nil where c.path (c.path2) is nil. */
static int pl_push_abspath(lua_State *L, policy_t *p, bool second)
{
	call_t *c = p->call;
	int rc;

	if ((second ? call_path2_arg(c->nr) : call_path_arg(c->nr)) < 0) {
		lua_pushnil(L);
		return 1;
	}
	rc = call_abspath(c, second);
	if (rc == -EINVAL) {
		lua_pushnil(L);
		return 1;
	}
	if (rc < 0)
		return pl_fault_raise(L, p, rc, "path");
	lua_pushstring(L, c->abspath[second]);
	return 1;
}

/* Decodes the call's flags; a failed read (openat2's open_how, clone3's
 * clone_args) marks the call as faulted and raises. */
static int pl_flags(lua_State *L, policy_t *p)
{
	int rc = call_flags(p->call);

	if (rc < 0 && rc != -EINVAL)
		return pl_fault_raise(L, p, rc, "flags");
	return rc;
}

/* c.has_flag(name): open flags for the open family, clone flags for
 * clone and clone3. */
static int pl_has_flag(lua_State *L)
{
	policy_t *p = sandbox_owner(L);
	const char *name = luaL_checkstring(L, 1);
	int r;

	if (!p->call)
		return luaL_error(L, "the call object is only valid during its call");
	if (pl_flags(L, p) < 0)
		return luaL_error(L, "c.has_flag: %s takes no open or clone flags",
				  p->call->syscall ? p->call->syscall : "this syscall");
	r = call_has_flag(p->call->flags_kind, p->call->flags, name);
	if (r < 0)
		return luaL_error(L, "c.has_flag: unknown %s flag '%s'",
				  p->call->flags_kind == CALL_FLAGS_OPEN ? "open" : "clone", name);
	lua_pushboolean(L, r);
	return 1;
}

/* c.addr: a new table for the socket address of connect, bind, sendto and
 * sendmsg (nil for other syscalls, and when the call passes none). */
static int pl_push_addr(lua_State *L, policy_t *p)
{
	const call_addr_t *a = &p->call->addr;
	int rc = call_addr(p->call);

	if (rc == -EINVAL) {
		lua_pushnil(L);
		return 1;
	}
	if (rc < 0) {
		return pl_fault_raise(L, p, rc, "address");
	}
	if (a->family == AF_UNSPEC) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 4);
	lua_pushstring(L, a->family_name);
	lua_setfield(L, -2, "family");
	if (a->family == AF_INET || a->family == AF_INET6) {
		lua_pushstring(L, a->ip);
		lua_setfield(L, -2, "ip");
		lua_pushinteger(L, a->port);
		lua_setfield(L, -2, "port");
	} else if (a->family == AF_UNIX) {
		lua_pushstring(L, a->path);
		lua_setfield(L, -2, "path");
		lua_pushboolean(L, a->abstract);
		lua_setfield(L, -2, "abstract");
	} else if (a->family == AF_NETLINK) {
		lua_pushinteger(L, a->nl_pid);
		lua_setfield(L, -2, "pid");
		lua_pushinteger(L, a->nl_groups);
		lua_setfield(L, -2, "groups");
	}
	return 1;
}

/* c.uid, c.gid, c.threads, c.comm, c.exe (exe.h), c.exe_dev, c.exe_ino,
 * c.cgroup: read once per call.
 * An identity that cannot be read (the caller is gone) raises. */
static int pl_push_ident(lua_State *L, call_t *c, const char *k)
{
	const call_ident_t *id = &c->ident;
	int rc = call_ident(c);

	if (rc < 0)
		return luaL_error(L, "cannot read the caller's %s: %s", k, pl_strerror(-rc));
	if (strcmp(k, "uid") == 0)
		lua_pushinteger(L, id->uid);
	else if (strcmp(k, "gid") == 0)
		lua_pushinteger(L, id->gid);
	else if (strcmp(k, "threads") == 0)
		lua_pushinteger(L, id->threads);
	else if (strcmp(k, "comm") == 0)
		lua_pushstring(L, id->comm);
	else if (strcmp(k, "exe") == 0)
		lua_pushstring(L, id->exe);
	else if (strcmp(k, "exe_dev") == 0)
		lua_pushinteger(L, (lua_Integer)id->exe_dev);
	else if (strcmp(k, "exe_ino") == 0)
		lua_pushinteger(L, (lua_Integer)id->exe_ino);
	else
		lua_pushstring(L, id->cgroup);
	return 1;
}

static bool pl_is_ident(const char *k)
{
	static const char *const keys[] = { "uid", "gid", "threads", "comm", "exe", "exe_dev",
					    "exe_ino", "cgroup" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* c.argv (the strings) and c.envkeys (each entry's name, up to '='): new
 * tables, with truncated = true when the bounds cut the program's list. */
static int pl_push_strv(lua_State *L, policy_t *p, bool envp)
{
	const call_strv_t *v = envp ? &p->call->envp : &p->call->argv;
	int rc = call_strv(p->call, envp);

	if (rc == -EINVAL) {
		lua_pushnil(L);
		return 1;
	}
	if (rc < 0) {
		return pl_fault_raise(L, p, rc, envp ? "envp" : "argv");
	}
	lua_createtable(L, (int)v->count, 1);
	for (unsigned i = 0; i < v->count; i++) {
		const char *str = v->buf + v->off[i];
		size_t len = v->len[i];

		if (envp) {
			const char *eq = memchr(str, '=', len);

			len = eq ? (size_t)(eq - str) : len;
		}
		lua_pushlstring(L, str, len);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_pushboolean(L, v->truncated);
	lua_setfield(L, -2, "truncated");
	return 1;
}

/* Pushes name, or the number when the table has no name for it. */
static void pl_push_name(lua_State *L, const char *name, lua_Integer v)
{
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushinteger(L, v);
}

/*
 * The arguments decoded from registers alone: c.domain, c.type and
 * c.protocol (socket, socketpair), c.signal, c.target_pid and c.target_tid
 * (the kill family), c.option (prctl), c.request (ptrace: a name; ioctl: a
 * number). Returns 0 when k is none of them, else 1 with the value (nil
 * when the syscall has no such argument) pushed.
 */
static int pl_push_regs(lua_State *L, const call_t *c, const char *k)
{
	int sig;
	int64_t pid, tid;
	bool sock = c->nr == SYS_socket || c->nr == SYS_socketpair;

	if (strcmp(k, "domain") == 0 || strcmp(k, "type") == 0 || strcmp(k, "protocol") == 0) {
		if (!sock)
			lua_pushnil(L);
		else if (k[0] == 'd')
			pl_push_name(L, names_family((int)c->args[0]), (int)c->args[0]);
		else if (k[0] == 't')
			pl_push_name(L, names_socktype((int)c->args[1]), (lua_Integer)(c->args[1] & 0xf));
		else
			lua_pushinteger(L, (lua_Integer)(int)c->args[2]);
	} else if (strcmp(k, "signal") == 0 || strcmp(k, "target_pid") == 0 ||
		   strcmp(k, "target_tid") == 0) {
		if (call_signal_args(c, &sig, &pid, &tid) < 0)
			lua_pushnil(L);
		else if (k[0] == 's')
			pl_push_name(L, names_signal(sig), sig);
		else
			lua_pushinteger(L, k[7] == 'p' ? pid : tid);
	} else if (strcmp(k, "option") == 0) {
		/* The kernel takes an int: the upper half of the register is
		 * not part of the option, and must not hide its name. */
		if (c->nr == SYS_prctl)
			pl_push_name(L, names_prctl((int)c->args[0]), (int)c->args[0]);
		else
			lua_pushnil(L);
	} else if (strcmp(k, "request") == 0) {
		if (c->nr == SYS_ptrace)
			pl_push_name(L, names_ptrace(c->args[0]), (lua_Integer)c->args[0]);
		else if (c->nr == SYS_ioctl)
			lua_pushinteger(L, (lua_Integer)(uint32_t)c->args[1]);
		else
			lua_pushnil(L);
	} else {
		return 0;
	}
	return 1;
}

/* c.flags, c.mode, c.resolve: nil for syscalls without such flags (mode
 * and resolve: for the open family; resolve: openat2's). */
static int pl_push_flags(lua_State *L, policy_t *p, const char *k)
{
	const call_t *c = p->call;

	if (pl_flags(L, p) < 0 || (k[0] != 'f' && c->flags_kind != CALL_FLAGS_OPEN) ||
	    (k[0] == 'r' && c->nr != SYS_openat2))
		lua_pushnil(L);
	else if (k[0] == 'f')
		lua_pushinteger(L, (lua_Integer)c->flags);
	else if (k[0] == 'm')
		lua_pushinteger(L, (lua_Integer)c->mode);
	else
		lua_pushinteger(L, (lua_Integer)c->resolve);
	return 1;
}

static int pl_call_index(lua_State *L)
{
	policy_t *p = sandbox_owner(L);
	call_t *c = p->call;
	const char *k;

	if (!c)
		return luaL_error(L, "the call object is only valid during its call");
	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	k = lua_tostring(L, 2);
	if (strcmp(k, "syscall") == 0)
		lua_pushstring(L, c->syscall ? c->syscall : names_syscall_name(c->nr));
	else if (strcmp(k, "nr") == 0)
		lua_pushinteger(L, c->nr);
	else if (strcmp(k, "path") == 0)
		return pl_push_path(L, p, false);
	else if (strcmp(k, "path2") == 0)
		return pl_push_path(L, p, true);
	else if (strcmp(k, "abspath") == 0 || strcmp(k, "abspath2") == 0)
		return pl_push_abspath(L, p, k[7] == '2');
	else if (strcmp(k, "args") == 0)
		pl_push_args(L, p);
	else if (strcmp(k, "pid") == 0)
		lua_pushinteger(L, call_tgid(c));
	else if (strcmp(k, "tid") == 0)
		lua_pushinteger(L, c->pid);
	else if (strcmp(k, "target") == 0)
		pl_push_target(L, p);
	else if (strcmp(k, "arch") == 0)
		lua_pushstring(L, names_arch_name(c->arch));
	else if (strcmp(k, "id") == 0)
		lua_pushinteger(L, (lua_Integer)c->id);
	else if (strcmp(k, "flags") == 0 || strcmp(k, "mode") == 0 || strcmp(k, "resolve") == 0)
		return pl_push_flags(L, p, k);
	else if (strcmp(k, "addr") == 0)
		return pl_push_addr(L, p);
	else if (pl_is_ident(k))
		return pl_push_ident(L, c, k);
	else if (pl_push_regs(L, c, k))
		return 1;
	else if (strcmp(k, "argv") == 0 || strcmp(k, "envkeys") == 0)
		return pl_push_strv(L, p, k[0] == 'e');
	else if (strcmp(k, "has_flag") == 0)
		lua_pushcfunction(L, pl_has_flag); /* a light function: no allocation */
	else
		lua_pushnil(L);
	return 1;
}

static int pl_call_newindex(lua_State *L)
{
	return luaL_error(L, "the call object is read-only");
}

/* ---- set-up of the state ---- */

static void pl_new_metatable(lua_State *L, const char *name, const luaL_Reg *mm)
{
	luaL_newmetatable(L, name);
	luaL_setfuncs(L, mm, 0);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
}

static void pl_setup_verdicts(lua_State *L)
{
	static const luaL_Reg mm[] = { { "__tostring", pl_verdict_tostring }, { NULL, NULL } };
	static const luaL_Reg methods[] = { { "log", pl_verdict_log }, { NULL, NULL } };

	pl_new_metatable(L, PL_VERDICT_MT, mm);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	pl_new_metatable(L, PL_COMPILED_MT, mm + 1);
	lua_pop(L, 1);
}

static void pl_setup_module(lua_State *L)
{
	policy_t *p = sandbox_owner(L);

	lua_createtable(L, 0, 8);
	pl_push_verdict(L, VERDICT_ALLOW, 0, 0);
	lua_pushcclosure(L, pl_constant, 1);
	lua_setfield(L, -2, "allow");
	pl_push_verdict(L, VERDICT_KILL, 0, 0);
	lua_pushcclosure(L, pl_constant, 1);
	lua_setfield(L, -2, "kill");
	lua_newtable(L);
	lua_pushcclosure(L, pl_deny, 1);
	lua_setfield(L, -2, "deny");
	lua_pushcfunction(L, pl_emulate);
	lua_setfield(L, -2, "emulate");
	lua_pushcfunction(L, pl_open);
	lua_setfield(L, -2, "open");
	lua_pushcfunction(L, pl_policy);
	lua_setfield(L, -2, "policy");
	limit_register(L, &p->lim);
	sandbox_set_library(L, "sysgate");
}

static int pl_setup_cb(lua_State *L)
{
	static const luaL_Reg call_mm[] = {
		{ "__index", pl_call_index },
		{ "__newindex", pl_call_newindex },
		{ NULL, NULL },
	};
	static const luaL_Reg target_mm[] = {
		{ "__index", pl_target_index },
		{ "__newindex", pl_readonly },
		{ NULL, NULL },
	};
	static const luaL_Reg labels_mm[] = {
		{ "__index", pl_labels_index },
		{ "__newindex", pl_readonly },
		{ "__pairs", pl_labels_pairs },
		{ NULL, NULL },
	};
	policy_t *p = lua_touserdata(L, 1);

	pl_setup_verdicts(L);
	pl_setup_module(L);
	lua_newuserdatauv(L, 0, 0);
	pl_new_metatable(L, PL_CALL_MT, call_mm);
	lua_setmetatable(L, -2);
	p->call_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_createtable(L, 6, 0);
	for (int i = 1; i <= 6; i++) {
		lua_pushinteger(L, 0);
		lua_rawseti(L, -2, i);
	}
	p->args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newuserdatauv(L, 0, 0);
	pl_new_metatable(L, PL_TARGET_MT, target_mm);
	lua_setmetatable(L, -2);
	p->target_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newuserdatauv(L, 0, 0);
	pl_new_metatable(L, PL_LABELS_MT, labels_mm);
	lua_setmetatable(L, -2);
	p->labels_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* ---- load ---- */

static int pl_load_cb(lua_State *L)
{
	policy_t *p = lua_touserdata(L, 1);

	if (luaL_loadbufferx(L, p->src, p->src_len, p->chunk, "t") != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, 1);
	p->returned = p->compiled && luaL_testudata(L, -1, PL_COMPILED_MT) != NULL;
	return 0;
}

static int pl_read_file(const char *path, char **out, size_t *len, sg_error_t *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)PL_MAX_FILE) {
		rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size + 1);
	if (n < 0 || n > st.st_size) {
		rc = n < 0 ? -errno : -EFBIG;
		goto out;
	}
	*out = buf;
	*len = (size_t)n;
	buf = NULL;
out:
	if (rc < 0)
		sg_error_set(err, path, 0, "cannot read the policy file: %s", pl_strerror(-rc));
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* "demo.lua:3: msg" (Lua's position for our chunk name) -> line 3, "msg". */
static void pl_load_error(const policy_t *p, const char *path, const char *why, sg_error_t *err)
{
	const char *src = p->chunk + 1;
	size_t n = strlen(src);
	char *end;
	long line;

	if (strncmp(why, src, n) == 0 && why[n] == ':' && isdigit((unsigned char)why[n + 1])) {
		line = strtol(why + n + 1, &end, 10);
		if (end[0] == ':' && end[1] == ' ' && line > 0 && line < 1000000000) {
			sg_error_set(err, path, (int)line, "%s", end + 2);
			return;
		}
	}
	sg_error_set(err, path, 0, "%s", why);
}

static void pl_set_chunkname(policy_t *p, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	snprintf(p->chunk, sizeof(p->chunk), "@%.*s", PL_MAX_CHUNKNAME, base);
}

static void pl_set_limits(policy_t *p, const policy_limits_t *l)
{
	p->limits.instructions = l && l->instructions ? l->instructions : POLICY_DEFAULT_INSTRUCTIONS;
	p->limits.memory = l && l->memory ? l->memory : POLICY_DEFAULT_MEMORY;
	p->limits.time_ms = l && l->time_ms ? l->time_ms : POLICY_DEFAULT_TIME_MS;
	p->limits.memory_total = l && l->memory_total ? l->memory_total : POLICY_DEFAULT_MEMORY_TOTAL;
	p->call_budget.instructions = p->limits.instructions;
	p->call_budget.time_ms = p->limits.time_ms;
	p->call_budget.memory = p->limits.memory;
}

/* Makes the state, the sysgate module and the locked globals. */
static int pl_new_state(policy_t *p, const char *path, sg_error_t *err)
{
	p->sb = sandbox_new(p->limits.memory_total, p);
	if (!p->sb || sandbox_call(p->sb, pl_setup_cb, p, &p->call_budget, NULL, 0) != SANDBOX_OK ||
	    sandbox_lock(p->sb) < 0) {
		sg_error_set(err, path, 0, "cannot create the Lua state: out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int pl_run_file(policy_t *p, const char *path, sg_error_t *err)
{
	sandbox_budget_t b = {
		.instructions = p->limits.instructions * PL_LOAD_FACTOR,
		.time_ms = p->limits.time_ms * PL_LOAD_FACTOR,
		.memory = 0, /* memory_total caps the load */
	};
	char why[512];
	sandbox_status_t st;

	p->loading = p->lim.loading = true;
	st = sandbox_call(p->sb, pl_load_cb, p, &b, why, sizeof(why));
	p->loading = p->lim.loading = false;
	if (st == SANDBOX_BUDGET) {
		sg_error_set(err, path, 0, "loading the policy: %s", why);
		return -E2BIG;
	}
	if (st != SANDBOX_OK) {
		pl_load_error(p, path, why, err);
		return -EINVAL;
	}
	if (!p->returned) {
		sg_error_set(err, path, 0, "the file does not return sysgate.policy{...}");
		return -EINVAL;
	}
	return 0;
}

/* Compiles the BPF of every filter a target of p can be sent: the work of
 * libseccomp is done once here, never in a target's start. */
static int pl_compile_filters(policy_t *p, const char *path, sg_error_t *err)
{
	struct {
		sg_spec_t *spec;
		const char *mode;
	} f[] = { { &p->spec, "enforce" }, { &p->audit_spec, "audit" }, { &p->learn_spec, "learn" } };
	char why[256];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int rc = filter_compile(f[i].spec, why, sizeof(why));

		if (rc < 0) {
			sg_error_set(err, path, 0, "policy '%s': its %s filter: %s", p->name, f[i].mode,
				     why);
			return rc;
		}
	}
	return 0;
}

int policy_load(const char *name, const char *path, const policy_limits_t *limits,
		policy_t **out, sg_error_t *err)
{
	policy_t *p;
	char *src = NULL;
	int rc;

	if (!name || strlen(name) > SG_PROTO_MAX_NAME || !path) {
		sg_error_set(err, path, 0, "invalid policy name");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		sg_error_set(err, path, 0, "out of memory");
		return -ENOMEM;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->mode = SG_MODE_ENFORCE;
	limit_ctx_init(&p->lim);
	for (int i = 0; i < NAMES_MAX_NR; i++)
		p->handler[i] = LUA_NOREF;
	pl_set_chunkname(p, path);
	pl_set_limits(p, limits);
	rc = pl_read_file(path, &src, &p->src_len, err);
	if (rc == 0)
		rc = pl_new_state(p, path, err);
	if (rc == 0) {
		p->src = src;
		rc = pl_run_file(p, path, err);
		p->src = NULL;
	}
	free(src);
	if (rc == 0)
		rc = pl_compile_filters(p, path, err);
	if (rc < 0) {
		policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void policy_free(policy_t *p)
{
	if (!p)
		return;
	limit_fini(&p->lim); /* before the state: the limits live in it */
	sandbox_free(p->sb);
	free(p);
}

const char *policy_name(const policy_t *p)
{
	return p->name;
}

const sg_spec_t *policy_spec(const policy_t *p)
{
	return &p->spec;
}

sg_mode_t policy_mode(const policy_t *p)
{
	return p->mode;
}

const sg_spec_t *policy_spec_for(const policy_t *p, sg_mode_t mode)
{
	if (mode == SG_MODE_LEARN)
		return &p->learn_spec;
	return mode == SG_MODE_AUDIT ? &p->audit_spec : &p->spec;
}

void policy_kernel_verdict(const policy_t *p, int nr, verdict_t *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->kind = VERDICT_ALLOW;
	if (nr >= 0 && nr < NAMES_MAX_NR && p->where[nr] == PL_ALLOW) {
		out->reason = "kernel.allow";
	} else if (nr >= 0 && nr < NAMES_MAX_NR && p->where[nr] == PL_DENY) {
		out->kind = VERDICT_DENY;
		out->err = p->deny_err[nr];
		out->reason = "kernel.deny";
	} else if (nr >= 0 && nr < NAMES_MAX_NR && p->where[nr] == PL_KILL) {
		out->kind = VERDICT_KILL;
		out->reason = "kernel.kill";
	} else if (p->spec.default_action == SG_ACT_ERRNO) {
		out->kind = VERDICT_DENY;
		out->err = (int)p->spec.default_errno;
		out->reason = "default";
	} else if (p->spec.default_action == SG_ACT_KILL) {
		out->kind = VERDICT_KILL;
		out->reason = "default";
	}
}

bool policy_handles(const policy_t *p, int nr)
{
	return nr >= 0 && nr < NAMES_MAX_NR && p->handler[nr] != LUA_NOREF;
}

bool policy_decides(const policy_t *p, int nr)
{
	return nr >= 0 && nr < NAMES_MAX_NR &&
	       (p->where[nr] == PL_ON || p->where[nr] == PL_DENY || p->where[nr] == PL_KILL);
}

bool policy_unchecked(const policy_t *p, int nr)
{
	return nr >= 0 && nr < NAMES_MAX_NR &&
	       (p->where[nr] == PL_ALLOW ||
		(p->where[nr] == PL_NONE && p->spec.default_action == SG_ACT_ALLOW));
}

/* ---- decide ---- */

/*
 * Pushes what decides the call: its handler, or for a throttled call that
 * resumes, the `then` of the limit that parked it. A limit steps to its
 * `then` or its `over` (limit.c) until a function or a verdict is left.
 */
static void pl_run_handler(lua_State *L, policy_t *p, limit_out_t *lo)
{
	if (p->resume)
		limit_push_then(L, &p->lim, p->resume);
	else
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->handler[p->call->nr]);
	/* Limits nest only through `then`, made before the limit that names
	 * them: the chain is finite. */
	while (limit_is(L, -1)) {
		if (limit_step(L, &p->lim, p->call, lo) != LIMIT_THEN)
			break;
	}
	if (lua_type(L, -1) == LUA_TFUNCTION) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->call_ref);
		lua_call(L, 1, 1);
	}
}

/* Runs the handler (or takes the constant verdict) and converts the result
 * without metamethods: luaL_testudata only compares metatables. */
static int pl_decide_cb(lua_State *L)
{
	policy_t *p = lua_touserdata(L, 1);
	limit_out_t lo = { 0 };
	const verdict_t *v;

	pl_run_handler(L, p, &lo);
	v = luaL_testudata(L, -1, PL_VERDICT_MT);
	if (!v) {
		p->badtype = luaL_typename(L, -1);
		return 0;
	}
	p->result = *v;
	p->result.path = NULL;
	/* A handler that says no after sysgate.limited() said no is taken to
	 * say it because of the limit. */
	p->result.limited = lo.limited || (p->lim.refused && v->kind != VERDICT_ALLOW);
	p->result.throttle_ns = lo.throttle_ns;
	p->result.throttle_resume = lo.resume;
	if (v->kind == VERDICT_OPEN && lua_getiuservalue(L, -1, 1) == LUA_TSTRING) {
		/* Checked by sysgate.open: 1..PATH_MAX-1 bytes, no NUL. */
		snprintf(p->open_path, sizeof(p->open_path), "%s", lua_tostring(L, -1));
		p->result.path = p->open_path;
	}
	p->got = true;
	return 0;
}

static void pl_fault(const policy_t *p, verdict_t *out, char *why, size_t why_len)
{
	memset(out, 0, sizeof(*out));
	out->kind = VERDICT_DENY;
	/* What the kernel itself would say for these; anything else is a
	 * pointer that could not be read. */
	out->err = p->fault == -ENAMETOOLONG ? ENAMETOOLONG
		   : p->fault == -EBADF ? EBADF
		   : p->fault == -ENOTDIR ? ENOTDIR
		   : EFAULT;
	if (p->fault == -ENOENT)
		pl_why(why, why_len, "cannot read %s argument: the call is gone (its task was killed "
				     "or interrupted)", p->fault_what);
	else
		pl_why(why, why_len, "cannot read %s argument: %s", p->fault_what,
		       pl_strerror(-p->fault));
}

/*
 * An allow after the handler read a pointer argument. The kernel reads the
 * argument again when the call goes on, and whoever can write the
 * caller's memory may have changed the bytes since the handler saw them:
 * another thread, a process sharing the memory (vfork, posix_spawn,
 * CLONE_VM, a shared mapping), or any process allowed to write it
 * (process_vm_writev, ptrace, /proc/<pid>/mem: the parent under Yama's
 * default, every process of the same uid without Yama). How many threads
 * the caller has proves nothing. "advisory" sends the allow and marks it;
 * "enforce" never lets the kernel act on bytes it re-reads: the open
 * family becomes a brokered open of the checked path (the call never
 * runs), and every other call is denied. Except execve and execveat,
 * which no one but the caller can carry out: sysgate-run's own execve of
 * the program is one of them, so denying them would make a policy that
 * looks at c.path or c.argv unusable. Their allow stays advisory, marked
 * as such, under both; README and docs/security.md say so.
 */
static void pl_pointer_args(const policy_t *p, call_t *c, verdict_t *v)
{
	if (!p->pointer_enforce || c->nr == SYS_execve || c->nr == SYS_execveat) {
		v->advisory = true;
		return;
	}
	if (call_is_open(c->nr)) {
		v->kind = VERDICT_OPEN;
		v->path = NULL;
		v->flags = v->mode = -1;
		v->reason = "pointer_args = \"enforce\": the allow is carried out as a brokered "
			    "open of the checked path";
		return;
	}
	v->kind = VERDICT_DENY;
	v->err = EPERM;
	v->reason = "pointer_args = \"enforce\": an allow that read a pointer argument is denied "
		    "(the kernel would read the argument again, and it may have been rewritten since)";
}

/* Decides c from its handler (resume 0) or from where a throttle parked
 * it. */
static policy_fail_t pl_decide(policy_t *p, call_t *c, int resume, verdict_t *out, char *why,
			       size_t why_len)
{
	sandbox_status_t st;

	p->call = p->lim.call = c;
	p->resume = resume;
	p->args_filled = false;
	p->fault = 0;
	p->got = false;
	p->badtype = "nothing";
	limit_begin(&p->lim);
	st = sandbox_call(p->sb, pl_decide_cb, p, &p->call_budget, why, why_len);
	p->call = p->lim.call = NULL;
	/* Never allow after a failed read, even when the handler caught it. */
	if (p->fault < 0) {
		pl_fault(p, out, why, why_len);
		return POLICY_FAULT;
	}
	if (st == SANDBOX_BUDGET)
		return POLICY_BUDGET;
	if (st == SANDBOX_ERROR)
		return POLICY_ERROR;
	if (!p->got) {
		pl_why(why, why_len, "the handler returned a %s, not a verdict", p->badtype);
		return POLICY_BADRESULT;
	}
	if (p->result.kind == VERDICT_OPEN && !call_is_open(c->nr)) {
		pl_why(why, why_len, "sysgate.open answers open, openat, openat2 and creat, not %s",
		       c->syscall ? c->syscall : "this syscall");
		return POLICY_BADRESULT;
	}
	*out = p->result;
	if (out->kind == VERDICT_ALLOW && c->mem_reads > 0)
		pl_pointer_args(p, c, out);
	return POLICY_OK;
}

policy_fail_t policy_decide(policy_t *p, call_t *c, verdict_t *out, char *why, size_t why_len)
{
	if (!policy_handles(p, c->nr)) {
		pl_why(why, why_len, "no handler for syscall %d", c->nr);
		return POLICY_NOHANDLER;
	}
	return pl_decide(p, c, 0, out, why, why_len);
}

policy_fail_t policy_resume(policy_t *p, call_t *c, int resume, verdict_t *out, char *why,
			    size_t why_len)
{
	if (resume < 1 || resume > (int)p->lim.n) {
		pl_why(why, why_len, "no limit %d to resume at", resume);
		return POLICY_NOHANDLER;
	}
	return pl_decide(p, c, resume, out, why, why_len);
}

void policy_refund(policy_t *p)
{
	limit_refund(&p->lim);
}

void policy_set_clock(policy_t *p, uint64_t (*clock)(void *ctx), void *ctx)
{
	p->lim.clock = clock;
	p->lim.clock_ctx = ctx;
}

/* ---- tenants ---- */

int policy_tenant_add(policy_t *p, uid_t uid, unsigned *slot)
{
	unsigned free_slot = 0;
	int r;

	*slot = 0;
	if (uid == 0)
		return 0;
	for (unsigned i = 1; i < LIMIT_TENANTS; i++) {
		if (p->tenant[i].refs && p->tenant[i].uid == uid) {
			p->tenant[i].refs++;
			*slot = i;
			return 0;
		}
		if (!p->tenant[i].refs && !free_slot)
			free_slot = i;
	}
	if (!free_slot)
		return -EUSERS;
	r = limit_tenant_add(&p->lim, free_slot);
	if (r < 0)
		return r;
	p->tenant[free_slot].uid = uid;
	p->tenant[free_slot].refs = 1;
	*slot = free_slot;
	return 0;
}

void policy_tenant_remove(policy_t *p, unsigned slot)
{
	if (slot == 0 || slot >= LIMIT_TENANTS || !p->tenant[slot].refs)
		return;
	if (--p->tenant[slot].refs == 0)
		limit_tenant_remove(&p->lim, slot);
}

size_t policy_memory(const policy_t *p)
{
	return sandbox_memory(p->sb);
}
