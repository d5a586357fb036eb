/*
 * Unit tests of rate limits (limit.c through the policy engine):
 * sysgate.limit{} and sysgate.limited() on a clock driven by hand, with
 * plain call_t structs. No kernel involved.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include "names.h"
#include "limit.h"
#include "policy.h"

#define SEC 1000000000ull

static char tmpdir[] = "/tmp/sg-test-limit-XXXXXX";
static char policy_path[256];
static char why[512];
static uint64_t now_ns = 1000 * SEC;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return now_ns;
}

#define GONE 999 /* a tid whose process cannot be identified any more */

/* Threads 1000..1999 belong to process 1000 (a thread storm); any other
 * tid is its own process. */
static pid_t fake_tgid(void *ctx, const call_t *c)
{
	(void)ctx;
	if (c->pid == GONE)
		return 0;
	return c->pid >= 1000 && c->pid < 2000 ? 1000 : c->pid;
}

static void write_policy(const char *text)
{
	FILE *f = fopen(policy_path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Limits are what these tests measure, on a fake clock: the wall-clock
 * budget is set far out of the way, so that a loaded machine pausing the
 * test for 100 ms is not mistaken for a handler over its budget. */
static policy_t *load(const char *text)
{
	static const policy_limits_t limits = { .time_ms = 60000 };
	policy_t *p = NULL;
	sg_error_t err = { 0 };
	char buf[1024];

	write_policy(text);
	if (policy_load("demo", policy_path, &limits, &p, &err) != 0)
		fail_msg("load failed: %s", sg_error_str(&err, buf, sizeof(buf)));
	policy_set_clock(p, fake_clock, NULL);
	return p;
}

static void load_fails(const char *text, int line, const char *fragment)
{
	policy_t *p = NULL;
	sg_error_t err = { 0 };

	write_policy(text);
	assert_true(policy_load("demo", policy_path, NULL, &p, &err) < 0);
	assert_null(p);
	if (!strstr(err.msg, fragment))
		fail_msg("message '%s' lacks '%s'", err.msg, fragment);
	assert_string_equal(err.file, policy_path);
	assert_int_equal(err.line, line);
}

static sg_hello_t hello_a, hello_b, hello_none;
static call_target_t target_a = { .id = 1, .policy = "demo", .hello = &hello_a, .pid = 50 };
static call_target_t target_b = { .id = 2, .policy = "demo", .hello = &hello_b, .pid = 60 };
static call_target_t target_c = { .id = 3, .policy = "demo", .hello = &hello_a, .pid = 70 };
static call_target_t target_n = { .id = 4, .policy = "demo", .hello = &hello_none, .pid = 80 };

static policy_fail_t decide_as(policy_t *p, const char *syscall, const call_target_t *t, pid_t tid,
			       verdict_t *v)
{
	static call_t c;

	memset(&c, 0, sizeof(c));
	c.nr = names_syscall(syscall);
	c.syscall = names_syscall_name(c.nr);
	c.arch = names_native_arch();
	c.id = 77;
	c.pid = tid;
	c.target = t;
	c.tgid_fn = fake_tgid;
	memset(v, 0, sizeof(*v));
	why[0] = '\0';
	return policy_decide(p, &c, v, why, sizeof(why));
}

/* How many of n calls are allowed; the others must be the over verdict,
 * deny EAGAIN, marked limited. */
static int allowed(policy_t *p, const char *syscall, const call_target_t *t, pid_t tid, int n)
{
	int got = 0;
	verdict_t v;

	for (int i = 0; i < n; i++) {
		assert_int_equal(decide_as(p, syscall, t, tid, &v), POLICY_OK);
		if (v.kind == VERDICT_ALLOW) {
			assert_false(v.limited);
			got++;
			continue;
		}
		assert_int_equal(v.kind, VERDICT_DENY);
		assert_int_equal(v.err, EAGAIN);
		assert_true(v.limited);
		assert_int_equal(v.throttle_ns, 0);
	}
	return got;
}

#define LIMIT_POLICY(fields) \
	"local sg = sysgate\n" \
	"local l = sg.limit { " fields " }\n" \
	"return sg.policy { on = { getppid = l, getuid = l, getgid = sg.allow() } }\n"

/* The burst at once, then rate a second; the bucket never holds more
 * than the burst. */
static void test_rate_burst_refill(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 10, burst = 20, per = 'policy', "
					"over = sg.deny('EAGAIN')"));

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 50), 20);
	now_ns += SEC / 2;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 50), 5);
	now_ns += SEC / 10 - 1;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 1), 0);
	now_ns += 1;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 1), 1);
	now_ns += 3600 * SEC;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 50), 20);
	/* Other syscalls of the policy are not limited. */
	assert_int_equal(allowed(p, "getgid", &target_a, 100, 50), 50);
	policy_free(p);
}

/* Defaults: per process, over deny EAGAIN, then allow, burst = rate. */
static void test_defaults(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 3"));

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 10), 3);
	assert_int_equal(allowed(p, "getppid", &target_a, 200, 10), 3);
	policy_free(p);
}

/* per = "process": each thread group has its own bucket, and its threads
 * share it, so a thread storm gets one burst, not one per thread. */
static void test_per_process(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 1, burst = 5"));
	int got = 0;

	(void)state;
	for (pid_t tid = 1000; tid < 1100; tid++)
		got += allowed(p, "getppid", &target_a, tid, 1);
	assert_int_equal(got, 5);
	assert_int_equal(allowed(p, "getppid", &target_a, 2000, 10), 5);
	assert_int_equal(allowed(p, "getppid", &target_a, 2001, 10), 5);
	/* The same pid in another target is another process. */
	assert_int_equal(allowed(p, "getppid", &target_b, 2001, 10), 5);
	/* One limit on two syscalls: one bucket. */
	assert_int_equal(allowed(p, "getuid", &target_a, 2000, 10), 0);
	/* A caller that cannot be identified is over the limit. */
	assert_int_equal(allowed(p, "getppid", &target_a, GONE, 1), 0);
	policy_free(p);
}

static void test_per_target(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 1, burst = 4, per = 'target'"));

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 2), 2);
	assert_int_equal(allowed(p, "getppid", &target_a, 200, 10), 2);
	assert_int_equal(allowed(p, "getppid", &target_b, 300, 10), 4);
	policy_free(p);
}

/* per = "label:tenant": targets with the same value share a bucket;
 * targets without the label share one of their own. */
static void test_per_label(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 1, burst = 3, per = 'label:tenant'"));

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 2), 2);
	assert_int_equal(allowed(p, "getppid", &target_c, 200, 10), 1); /* same tenant */
	assert_int_equal(allowed(p, "getppid", &target_b, 300, 10), 3);
	assert_int_equal(allowed(p, "getppid", &target_n, 400, 10), 3);
	policy_free(p);
}

static void test_per_syscall(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 1, burst = 2, per = 'syscall'"));

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 10), 2);
	assert_int_equal(allowed(p, "getppid", &target_b, 200, 10), 0);
	assert_int_equal(allowed(p, "getuid", &target_b, 200, 10), 2);
	policy_free(p);
}

/* A limit has room for `keys` buckets and no more: a new key takes the
 * least recently used bucket only once that one has refilled; until
 * then new keys are over the limit (fail closed). A million processes
 * do not grow the state. */
static void test_keys_bounded(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 1, burst = 2, keys = 4"));
	size_t before;

	(void)state;
	for (pid_t pid = 100; pid < 104; pid++)
		assert_int_equal(allowed(p, "getppid", &target_a, pid, 1), 1);
	assert_int_equal(allowed(p, "getppid", &target_a, 104, 1), 0); /* full of busy keys */
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 2), 1); /* old keys keep theirs */
	now_ns += 2 * SEC; /* 101..103 have refilled; 100 is the most recent */
	assert_int_equal(allowed(p, "getppid", &target_a, 104, 3), 2); /* evicts 101 */
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 3), 2); /* 100 was not evicted */
	before = policy_memory(p);
	for (pid_t pid = 5000; pid < 1000000 + 5000; pid++) {
		verdict_t v;

		if (pid % 4 == 0)
			now_ns += 2 * SEC;
		assert_int_equal(decide_as(p, "getppid", &target_a, pid, &v), POLICY_OK);
	}
	assert_int_equal(policy_memory(p), before);
	policy_free(p);
}

/* then: a function, a verdict or another limit; over: any verdict. */
static void test_then_over(void **state)
{
	policy_t *p = load("local sg = sysgate\n"
			   "local per_target = sg.limit { rate = 1, burst = 3, per = 'target',\n"
			   "  over = sg.deny('EBUSY'):log('target over') }\n"
			   "return sg.policy { on = {\n"
			   "  getppid = sg.limit { rate = 1, burst = 2, under = function(c)\n"
			   "    return sg.emulate(c.pid) end },\n"
			   "  getuid = sg.limit { rate = 1, burst = 2, over = sg.kill(),\n"
			   "    under = per_target },\n"
			   "} }\n");
	verdict_t v;

	(void)state;
	assert_int_equal(decide_as(p, "getppid", &target_a, 2345, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_EMULATE);
	assert_int_equal(v.value, 2345);
	assert_false(v.limited);
	/* Two processes of one target: 2 each per process, 3 in all per target. */
	assert_int_equal(decide_as(p, "getuid", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_ALLOW);
	assert_int_equal(decide_as(p, "getuid", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_ALLOW);
	assert_int_equal(decide_as(p, "getuid", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_KILL);
	assert_true(v.limited);
	assert_int_equal(decide_as(p, "getuid", &target_a, 200, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_ALLOW);
	assert_int_equal(decide_as(p, "getuid", &target_a, 200, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_DENY);
	assert_int_equal(v.err, EBUSY);
	assert_true(v.log);
	assert_string_equal(v.message, "target over");
	assert_true(v.limited);
	policy_free(p);
}

/* "throttle": the over call waits for its own token, reserved at once,
 * so the waits grow one 1/rate at a time; past `parked` calls of the
 * target it gets over_cap. When it resumes, `then` decides it. */
static void test_throttle(void **state)
{
	policy_t *p = load("local sg = sysgate\n"
			   "return sg.policy { on = {\n"
			   "  getppid = sg.limit { rate = 10, burst = 2, per = 'target', parked = 3,\n"
			   "    over = 'throttle', under = sg.allow():log('late') },\n"
			   "  getuid = sg.limit { rate = 10, burst = 1, over = 'throttle',\n"
			   "    over_cap = sg.deny('EBUSY') },\n"
			   "} }\n");
	call_target_t t = target_a;
	verdict_t v;
	call_t c;

	(void)state;
	assert_int_equal(decide_as(p, "getppid", &t, 100, &v), POLICY_OK);
	assert_int_equal(decide_as(p, "getppid", &t, 100, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_ALLOW);
	assert_int_equal(v.throttle_ns, 0);
	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(decide_as(p, "getppid", &t, 100, &v), POLICY_OK);
		assert_true(v.throttle_ns >= i * SEC / 10 && v.throttle_ns <= i * SEC / 10 + 1);
		assert_true(v.throttle_resume > 0);
		/* Sent as it is when it cannot be parked: deny EAGAIN. */
		assert_int_equal(v.kind, VERDICT_DENY);
		assert_int_equal(v.err, EAGAIN);
		assert_true(v.limited);
		t.parked++;
	}
	assert_int_equal(decide_as(p, "getppid", &t, 100, &v), POLICY_OK);
	assert_int_equal(v.throttle_ns, 0); /* the target has 3 parked: over_cap */
	assert_int_equal(v.kind, VERDICT_DENY);
	assert_true(v.limited);
	/* The first parked call resumes: then decides it, without a token. */
	memset(&c, 0, sizeof(c));
	c.nr = names_syscall("getppid");
	c.arch = names_native_arch();
	c.pid = 100;
	c.target = &t;
	assert_int_equal(policy_resume(p, &c, v.throttle_resume ? v.throttle_resume : 1, &v, why,
				       sizeof(why)), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_ALLOW);
	assert_true(v.log);
	assert_false(v.limited);
	assert_int_equal(v.throttle_ns, 0);
	assert_int_equal(policy_resume(p, &c, 99, &v, why, sizeof(why)), POLICY_NOHANDLER);
	/* over_cap of its own. */
	t.parked = 0;
	assert_int_equal(decide_as(p, "getuid", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(decide_as(p, "getuid", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(v.err, EBUSY);
	assert_true(v.throttle_ns > 0);
	policy_free(p);
}

/* sysgate.limited(key, rate, burst[, per]) inside a handler. */
static void test_limited(void **state)
{
	policy_t *p = load("local sg = sysgate\n"
			   "return sg.policy { on = {\n"
			   "  getppid = function(c)\n"
			   "    if sg.limited('exec', 1, 2, 'process') then return sg.allow() end\n"
			   "    return sg.deny('EAGAIN')\n"
			   "  end,\n"
			   "  getuid = function(c)\n"
			   "    if sg.limited(c.pid, 1, 3) then return sg.allow() end\n"
			   "    return sg.deny('EAGAIN')\n"
			   "  end,\n"
			   "  getgid = function(c) return sg.limited('', 1, 1) and sg.allow() end,\n"
			   "  getpgrp = sg.limit { rate = 1, ['then'] = sg.emulate(7) },\n"
			   "  getegid = function(c) return sg.limited('k', 0, 1) and sg.allow() end,\n"
			   "  geteuid = function(c) return sg.limited({}, 1, 1) and sg.allow() end,\n"
			   "} }\n");
	verdict_t v;

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 5), 2);
	assert_int_equal(allowed(p, "getppid", &target_a, 200, 5), 2);
	assert_int_equal(allowed(p, "getppid", &target_b, 100, 5), 2);
	/* An integer key (c.pid, the thread group): threads share it. */
	assert_int_equal(allowed(p, "getuid", &target_a, 1000, 1), 1);
	assert_int_equal(allowed(p, "getuid", &target_a, 1001, 5), 2);
	now_ns += SEC;
	assert_int_equal(allowed(p, "getuid", &target_a, 1002, 5), 1);
	assert_int_equal(allowed(p, "getppid", &target_a, GONE, 1), 0);
	assert_int_equal(decide_as(p, "getpgrp", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_EMULATE); /* then, spelt ['then'] */
	assert_int_equal(decide_as(p, "getgid", &target_a, 100, &v), POLICY_ERROR);
	assert_non_null(strstr(why, "key must be 1 to 128 bytes"));
	assert_int_equal(decide_as(p, "getegid", &target_a, 100, &v), POLICY_ERROR);
	assert_non_null(strstr(why, "rate must be above 0"));
	assert_int_equal(decide_as(p, "geteuid", &target_a, 100, &v), POLICY_ERROR);
	assert_non_null(strstr(why, "string or an integer"));
	policy_free(p);
}

/* A call gone before its answer gives its tokens back (policy_refund). */
static void test_refund(void **state)
{
	policy_t *p = load(LIMIT_POLICY("rate = 1, burst = 2"));
	verdict_t v;

	(void)state;
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 2), 2);
	policy_refund(p);
	assert_int_equal(allowed(p, "getppid", &target_a, 100, 2), 1);
	policy_refund(p); /* the last decision took nothing */
	assert_int_equal(decide_as(p, "getppid", &target_a, 100, &v), POLICY_OK);
	assert_int_equal(v.kind, VERDICT_DENY);
	policy_free(p);
}

/* Deciding through limits allocates nothing in steady state. */
static void test_steady_state_no_alloc(void **state)
{
	policy_t *p = load("local sg = sysgate\n"
			   "local inner = sg.limit { rate = 5, burst = 5, per = 'label:tenant' }\n"
			   "return sg.policy { on = {\n"
			   "  getppid = sg.limit { rate = 10, burst = 20, under = inner },\n"
			   "  getuid = sg.limit { rate = 10, burst = 20, under = function(c)\n"
			   "    if sg.limited(c.pid, 1, 1, 'target') and c.nr > 0 then\n"
			   "      return sg.allow() end\n"
			   "    return sg.deny('EAGAIN')\n"
			   "  end },\n"
			   "  getgid = sg.limit { rate = 1, burst = 1, over = 'throttle' },\n"
			   "} }\n");
	const char *const calls[] = { "getppid", "getuid", "getgid" };
	verdict_t v;
	size_t before;

	(void)state;
	/* The first sysgate.limited() makes its table, a large allocation
	 * after which the collector takes a step; the rounds after that are
	 * the steady state. */
	for (int i = 0; i < 30; i++)
		assert_int_equal(decide_as(p, calls[i % 3], &target_a, 100, &v), POLICY_OK);
	before = policy_memory(p);
	for (int i = 0; i < 3000; i++) {
		now_ns += SEC / 7;
		assert_int_equal(decide_as(p, calls[i % 3], &target_a, 100 + i % 50, &v), POLICY_OK);
	}
	assert_int_equal(policy_memory(p), before);
	policy_free(p);
}

/* Bad fields fail the load with the file and line of sysgate.limit. */
/* Each launcher uid has its own tables: even per = "policy" and
 * sysgate.limited() keys are per tenant slot, and a slot's tables go with
 * its last target. */
static void test_tenant_tables(void **state)
{
	policy_t *p = load("local sg = sysgate\n"
			   "return sg.policy { on = {\n"
			   "  getppid = sg.limit { rate = 1, burst = 1, per = 'policy' },\n"
			   "  getgid = function(c)\n"
			   "    if sg.limited('k', 1, 1) then return sg.allow() end\n"
			   "    return sg.deny('EAGAIN')\n"
			   "  end,\n"
			   "} }\n");
	call_target_t tenant = target_b;
	unsigned slot, again, other;

	(void)state;
	assert_int_equal(policy_tenant_add(p, 0, &slot), 0);
	assert_int_equal(slot, 0);
	assert_int_equal(policy_tenant_add(p, 1000, &slot), 0);
	assert_true(slot > 0);
	assert_int_equal(policy_tenant_add(p, 1000, &again), 0);
	assert_int_equal(again, slot);
	assert_int_equal(policy_tenant_add(p, 1001, &other), 0);
	assert_true(other != slot && other > 0);
	tenant.tenant_slot = slot;

	assert_int_equal(allowed(p, "getppid", &tenant, 60, 3), 1);
	assert_int_equal(allowed(p, "getgid", &tenant, 60, 3), 1);
	/* Root's bucket of the same key is its own. */
	assert_int_equal(allowed(p, "getppid", &target_a, 50, 3), 1);
	assert_int_equal(allowed(p, "getgid", &target_a, 50, 3), 1);

	/* Two adds, two removes: then the tables are gone, and a new add
	 * starts full. */
	policy_tenant_remove(p, slot);
	assert_int_equal(allowed(p, "getppid", &tenant, 60, 1), 0);
	policy_tenant_remove(p, slot);
	assert_int_equal(policy_tenant_add(p, 1002, &again), 0);
	tenant.tenant_slot = again;
	assert_int_equal(allowed(p, "getppid", &tenant, 60, 3), 1);

	/* 63 launcher uids besides root at most. */
	for (uid_t u = 2000; u < 2000 + LIMIT_TENANTS - 3; u++)
		assert_int_equal(policy_tenant_add(p, u, &slot), 0);
	assert_int_equal(policy_tenant_add(p, 3000, &slot), -EUSERS);
	assert_int_equal(policy_tenant_add(p, 0, &slot), 0);
	policy_free(p);
}

static void test_load_errors(void **state)
{
	(void)state;
	load_fails("local sg = sysgate\n\nlocal l = sg.limit { burst = 2 }\n"
		   "return sg.policy { on = { getppid = l } }\n", 3, "rate is missing");
	load_fails(LIMIT_POLICY("rate = 0"), 2, "rate must be above 0");
	load_fails(LIMIT_POLICY("rate = 'fast'"), 2, "rate must be a number");
	load_fails(LIMIT_POLICY("rate = 1, burst = 0.5"), 2, "burst must be at least 1");
	load_fails(LIMIT_POLICY("rate = 1, per = 'thread'"), 2, "per must be");
	load_fails(LIMIT_POLICY("rate = 1, per = 'label:'"), 2, "per must be");
	load_fails(LIMIT_POLICY("rate = 1, over = 'deny'"), 2, "over must be a verdict or \"throttle\"");
	load_fails(LIMIT_POLICY("rate = 1, under = sg.allow(), ['then'] = sg.allow()"), 2,
		   "under and then are the same field");
	load_fails(LIMIT_POLICY("rate = 1, under = 42"), 2, "under (then) must be a function");
	load_fails(LIMIT_POLICY("rate = 1, over_cap = 'throttle'"), 2, "over_cap must be a verdict");
	load_fails(LIMIT_POLICY("rate = 1, keys = 0"), 2, "keys must be an integer from 1 to 65536");
	load_fails(LIMIT_POLICY("rate = 1, keys = 1e9"), 2, "keys must be an integer");
	load_fails(LIMIT_POLICY("rate = 1, parked = 1.5"), 2, "parked must be an integer");
	load_fails(LIMIT_POLICY("rate = 1, burts = 2"), 2, "unknown field 'burts' in sysgate.limit");
	load_fails("local sg = sysgate\nfor i = 1, 65 do sg.limit { rate = 1 } end\n"
		   "return sg.policy { }\n", 2, "more than 64 limits");
}

/* sysgate.limit{} is made while the file loads, never by a handler:
 * a handler that tries gets an error, and the state does not grow. */
static void test_limit_in_handler(void **state)
{
	policy_t *p = load("local sg = sysgate\n"
			   "return sg.policy { on = { getppid = function(c)\n"
			   "  return sg.limit { rate = 1 } end } }\n");
	verdict_t v;

	(void)state;
	assert_int_equal(decide_as(p, "getppid", &target_a, 100, &v), POLICY_ERROR);
	assert_non_null(strstr(why, "only be called while the policy file loads"));
	policy_free(p);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(policy_path, sizeof(policy_path), "%s/p.lua", tmpdir);
	hello_a.nlabels = hello_b.nlabels = 2;
	snprintf(hello_a.labels[0].key, sizeof(hello_a.labels[0].key), "zone");
	snprintf(hello_a.labels[0].value, sizeof(hello_a.labels[0].value), "eu");
	hello_b.labels[0] = hello_a.labels[0];
	snprintf(hello_a.labels[1].key, sizeof(hello_a.labels[1].key), "tenant");
	snprintf(hello_a.labels[1].value, sizeof(hello_a.labels[1].value), "acme");
	snprintf(hello_b.labels[1].key, sizeof(hello_b.labels[1].key), "tenant");
	snprintf(hello_b.labels[1].value, sizeof(hello_b.labels[1].value), "initech");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(policy_path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_burst_refill),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_per_process),
		cmocka_unit_test(test_per_target),
		cmocka_unit_test(test_per_label),
		cmocka_unit_test(test_per_syscall),
		cmocka_unit_test(test_keys_bounded),
		cmocka_unit_test(test_then_over),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_limited),
		cmocka_unit_test(test_refund),
		cmocka_unit_test(test_steady_state_no_alloc),
		cmocka_unit_test(test_tenant_tables),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_limit_in_handler),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
