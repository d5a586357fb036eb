/*
 * libFuzzer target: the policy loader and engine (supervisor/policy.c and
 * the Lua sandbox under it). Each input is written as a policy file in a
 * private directory and loaded with small budgets; a policy that loads has
 * its spec encoded for the wire (it must encode: the supervisor sends it
 * to every target) and its first handlers run on a made-up call whose
 * pointer arguments a fake memory reader answers, as tests/unit/
 * test_policy.c does. Budgets are small so that a loop or a huge
 * string.rep ends in milliseconds; the sandbox must stop it either way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "names.h"
#include "policy.h"

#define MEM_BASE 0x10000u
#define MAX_DECIDE 8 /* handlers run per input */

static char dir[] = "/tmp/sg-fuzz-policy-XXXXXX";
static char file[sizeof(dir) + 16];
static unsigned char mem[0x600]; /* the fake target's memory at MEM_BASE */

static void cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

/* Strings, an argv array, a sockaddr, an open_how and clone_args. */
static void mem_init(void)
{
	uint64_t argv[3] = { MEM_BASE, MEM_BASE + 0x100, 0 };
	uint64_t how[3] = { O_RDWR | O_CREAT, 0644, 0 };
	uint64_t clone_args[8] = { 0x10000000 /* CLONE_NEWUSER */ };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(mem, "/etc/shadow", 12);
	memcpy(mem + 0x100, "tmp/../x", 9);
	memcpy(mem + 0x200, argv, sizeof(argv));
	memcpy(mem + 0x300, &in, sizeof(in));
	memcpy(mem + 0x400, how, sizeof(how));
	memcpy(mem + 0x500, clone_args, sizeof(clone_args));
}

static int read_mem(void *ctx, const call_t *c, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	(void)c;
	if (addr < MEM_BASE || addr - MEM_BASE > sizeof(mem) || len > sizeof(mem) - (addr - MEM_BASE))
		return -EFAULT;
	memcpy(buf, mem + (addr - MEM_BASE), len);
	return 0;
}

static ssize_t read_str(void *ctx, const call_t *c, uint64_t addr, char *buf, size_t cap)
{
	size_t off = addr - MEM_BASE, n;

	(void)ctx;
	(void)c;
	if (addr < MEM_BASE || off >= sizeof(mem))
		return -EFAULT;
	n = strnlen((const char *)mem + off, sizeof(mem) - off);
	if (n == sizeof(mem) - off)
		return -EFAULT;
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(buf, mem + off, n + 1);
	return (ssize_t)n;
}

static ssize_t read_link(void *ctx, const call_t *c, const char *what, char *buf, size_t cap)
{
	(void)ctx;
	(void)c;
	(void)what;
	return snprintf(buf, cap, "/home/user");
}

static int ident(void *ctx, const call_t *c, call_ident_t *out)
{
	(void)ctx;
	(void)c;
	memset(out, 0, sizeof(*out));
	out->uid = out->gid = 1000;
	out->threads = 1;
	snprintf(out->comm, sizeof(out->comm), "fuzz");
	snprintf(out->exe, sizeof(out->exe), "/usr/bin/fuzz");
	snprintf(out->cgroup, sizeof(out->cgroup), "/system.slice/fuzz.service");
	return 0;
}

/* A call of nr whose pointer arguments point into the fake memory. */
static void make_call(call_t *c, int nr, const call_target_t *t)
{
	memset(c, 0, sizeof(*c));
	c->id = 1;
	c->nr = nr;
	c->arch = names_native_arch();
	c->syscall = names_syscall_name(nr);
	c->pid = 100;
	c->target = t;
	c->read_str = read_str;
	c->read_mem = read_mem;
	c->read_link = read_link;
	c->ident_fn = ident;
	for (int i = 0; i < 6; i++)
		c->args[i] = 3;
	if (call_path_arg(nr) >= 0)
		c->args[call_path_arg(nr)] = MEM_BASE;
	if (call_path2_arg(nr) >= 0)
		c->args[call_path2_arg(nr)] = MEM_BASE + 0x100;
	switch (nr) {
	case SYS_execve:
		c->args[1] = c->args[2] = MEM_BASE + 0x200;
		break;
	case SYS_connect:
	case SYS_bind:
		c->args[1] = MEM_BASE + 0x300;
		c->args[2] = sizeof(struct sockaddr_in);
		break;
	case SYS_openat2:
		c->args[2] = MEM_BASE + 0x400;
		c->args[3] = 24;
		break;
	case SYS_clone3:
		c->args[0] = MEM_BASE + 0x500;
		c->args[1] = 64;
		break;
	default:
		break;
	}
}

/* What policy_decide promises: a verdict that can be sent, and a deny
 * after a failed read. */
static void check(policy_fail_t f, const verdict_t *v)
{
	if ((f == POLICY_OK || f == POLICY_FAULT) && verdict_validate(v) < 0)
		abort();
	if (f == POLICY_FAULT && v->kind != VERDICT_DENY)
		abort();
}

static void decide_some(policy_t *p)
{
	static call_t c;
	static const sg_hello_t hello = { .policy = "demo", .nlabels = 1,
					  .labels = { { .key = "app", .value = "web" } } };
	const call_target_t t = { .id = 1, .policy = "demo", .hello = &hello, .pid = 100 };
	char why[256];
	int done = 0;

	for (int nr = 0; nr < NAMES_MAX_NR && done < MAX_DECIDE; nr++) {
		verdict_t v;
		policy_fail_t f;

		if (!policy_handles(p, nr))
			continue;
		done++;
		make_call(&c, nr, &t);
		memset(&v, 0, sizeof(v));
		f = policy_decide(p, &c, &v, why, sizeof(why));
		check(f, &v);
		if (f == POLICY_OK && v.throttle_resume > 0) {
			f = policy_resume(p, &c, v.throttle_resume, &v, why, sizeof(why));
			check(f, &v);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(file, sizeof(file), "%s/demo.lua", dir);
	atexit(cleanup);
	mem_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char wire[SG_PROTO_MAX_MSG];
	const policy_limits_t limits = {
		.instructions = 20000, /* x10 while loading */
		.memory = 1u << 20,
		.time_ms = 10,
		.memory_total = 8u << 20,
	};
	policy_t *p = NULL;
	sg_error_t err = { 0 };
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) < 0)
		abort();
	if (policy_load("demo", file, &limits, &p, &err) < 0) {
		if (p || !err.msg[0])
			abort();
		if (getenv("SG_FUZZ_DEBUG"))
			fprintf(stderr, "policy: %s:%d: %s\n", err.file, err.line, err.msg);
		return 0;
	}
	for (int m = SG_MODE_ENFORCE; m <= SG_MODE_LEARN; m++)
		if (sg_proto_encode_spec(policy_spec_for(p, (sg_mode_t)m), wire, sizeof(wire)) < 0)
			abort();
	decide_some(p);
	policy_free(p);
	return 0;
}
