/*
 * filter.c: a filter spec's lists compiled into BPF (filter.h).
 *
 * The supervisor compiles each policy's filters when it loads the policy,
 * so that a target's start only loads the program it is sent: libseccomp's
 * build and its probe of the kernel were about 0.2 ms of every spawn.
 *
 * Every filter also carries the guard: calls it refuses in the kernel
 * whatever the policy says (docs/security.md, "Fail closed, also after
 * sysgated is gone").
 *
 * - seccomp() with SECCOMP_FILTER_FLAG_NEW_LISTENER. While sysgated holds
 *   the listener, the kernel refuses a second one in the chain (EBUSY).
 *   Once it is closed (sysgated stopped, was killed, or dropped the
 *   target), a filter of the target's own with a listener would take
 *   every notified call (among equal actions the newest filter wins), and
 *   its answer CONTINUE would run what the policy denies.
 * - userfaultfd(), and ioctl(USERFAULTFD_IOC_NEW) on /dev/userfaultfd: a
 *   target that serves its own page faults could make sysgated's reads of
 *   its memory wait, and with them every target.
 *
 * And every filter forwards the proof call, prctl(SG_PROTO_PROOF_OPTION)
 * (include/sysgate/protocol.h), whatever the policy says of prctl: by it
 * the launcher shows that the listener it hands over is its own filter's.
 * A later such call reaches sysgated too, which answers it as the policy
 * would have answered a prctl (receive.c).
 *
 * userfaultfd is a plain rule. The other two depend on an argument, and
 * libseccomp cannot say it: the kernel reads both arguments as unsigned
 * int, so only their low 32 bits count, and "the low half is not X" is no
 * comparison libseccomp has; nor does it keep a conditional rule beside
 * an unconditional one for the same syscall (the unconditional one wins).
 * So such a syscall gets a rule whose action is a placeholder (a TRACE
 * value: sysgate has no other use for TRACE), and every `ret placeholder`
 * of libseccomp's program becomes a jump to a test appended after it.
 * Only the guarded syscalls' path grows; no other call runs one more
 * instruction than libseccomp's tree needs.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <stddef.h>
#include <stdint.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "names.h"

/* What the guard answers. */
#define GUARD_ERRNO EPERM

/* A guarded syscall whose action depends on an argument's low 32 bits:
 * hit when (arg & k) != 0 for BPF_JSET, arg == k for BPF_JEQ. always: the
 * test is there whatever the policy says of the syscall (else only when
 * the policy lets it through). */
typedef struct guard {
	int nr;
	uint32_t arg;
	uint16_t test; /* BPF_JSET or BPF_JEQ */
	uint32_t k;
	uint32_t hit; /* the kernel's action on a hit */
	bool always;
} guard_t;

static const guard_t guards[] = {
	{ SCMP_SYS(seccomp), 1, BPF_JSET, SECCOMP_FILTER_FLAG_NEW_LISTENER,
	  SECCOMP_RET_ERRNO | GUARD_ERRNO, false },
	{ SCMP_SYS(ioctl), 1, BPF_JEQ, USERFAULTFD_IOC_NEW, SECCOMP_RET_ERRNO | GUARD_ERRNO, false },
	{ SCMP_SYS(prctl), 0, BPF_JEQ, SG_PROTO_PROOF_OPTION, SECCOMP_RET_USER_NOTIF, true },
};

#define N_GUARDS (sizeof(guards) / sizeof(guards[0]))
#define GUARD_INSNS 4 /* appended per guard: load, test, ret rest, ret hit */

/* guards[i]'s placeholder action. */
#define PLACEHOLDER(i) SCMP_ACT_TRACE(0x5347u + (uint32_t)(i))

static uint32_t scmp_action(uint32_t act, uint32_t err)
{
	switch (act) {
	case SG_ACT_ERRNO:
		return SCMP_ACT_ERRNO(err);
	case SG_ACT_KILL:
		return SCMP_ACT_KILL_PROCESS;
	case SG_ACT_NOTIFY:
		return SCMP_ACT_NOTIFY;
	default:
		return SCMP_ACT_ALLOW;
	}
}

/* Whether act lets a call run or reach sysgated: what the guard takes
 * over (a deny or a kill refuses the call already). */
static bool lets_through(uint32_t act)
{
	return act == SCMP_ACT_ALLOW || act == SCMP_ACT_NOTIFY;
}

/* Whether the guard decides nr when the policy's action is act. */
static bool guarded(uint32_t nr, uint32_t act)
{
	if (nr == (uint32_t)SCMP_SYS(userfaultfd))
		return lets_through(act);
	for (size_t i = 0; i < N_GUARDS; i++)
		if (nr == (uint32_t)guards[i].nr)
			return guards[i].always || lets_through(act);
	return false;
}

/* What sp says of nr, as a libseccomp action (def: its default's). */
static uint32_t spec_action(const sg_spec_t *sp, uint32_t def, uint32_t nr)
{
	for (uint32_t i = 0; i < sp->n_notify; i++)
		if (sp->notify[i] == nr)
			return SCMP_ACT_NOTIFY;
	for (uint32_t i = 0; i < sp->n_deny; i++)
		if (sp->deny[i].nr == nr)
			return SCMP_ACT_ERRNO(sp->deny[i].err);
	for (uint32_t i = 0; i < sp->n_kill; i++)
		if (sp->kill[i] == nr)
			return SCMP_ACT_KILL_PROCESS;
	for (uint32_t i = 0; i < sp->n_allow; i++)
		if (sp->allow[i] == nr)
			return SCMP_ACT_ALLOW;
	return def;
}

/* libseccomp refuses a rule whose action is the default (-EACCES); such a
 * rule changes nothing, so it is skipped. A rule that would let a guarded
 * call through is left to the guard's rules (add_guards). */
static int add_rule(scmp_filter_ctx ctx, uint32_t def, uint32_t act, uint32_t nr)
{
	if (act == def || guarded(nr, act))
		return 0;
	return seccomp_rule_add(ctx, act, (int)nr, 0);
}

/* Adds every rule; on a failure *bad is the syscall whose rule failed. */
static int add_rules(scmp_filter_ctx ctx, const sg_spec_t *sp, uint32_t def, uint32_t *bad)
{
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < sp->n_notify; i++)
		rc = add_rule(ctx, def, SCMP_ACT_NOTIFY, *bad = sp->notify[i]);
	for (uint32_t i = 0; rc == 0 && i < sp->n_deny; i++)
		rc = add_rule(ctx, def, SCMP_ACT_ERRNO(sp->deny[i].err), *bad = sp->deny[i].nr);
	for (uint32_t i = 0; rc == 0 && i < sp->n_kill; i++)
		rc = add_rule(ctx, def, SCMP_ACT_KILL_PROCESS, *bad = sp->kill[i]);
	for (uint32_t i = 0; rc == 0 && i < sp->n_allow; i++)
		rc = add_rule(ctx, def, SCMP_ACT_ALLOW, *bad = sp->allow[i]);
	return rc;
}

/*
 * The guard's rules: userfaultfd fails with GUARD_ERRNO, and each guards[i]
 * syscall the policy lets through (or any, for an always one) gets
 * PLACEHOLDER(i), with rest[i] what
 * the policy says of it (patch_guard makes the test). On a failure *bad is
 * the syscall whose rule failed.
 */
static int add_guards(scmp_filter_ctx ctx, const sg_spec_t *sp, uint32_t def,
		      uint32_t rest[N_GUARDS], uint32_t *bad)
{
	uint32_t uffd = (uint32_t)SCMP_SYS(userfaultfd);
	int rc = 0;

	if (lets_through(spec_action(sp, def, uffd)) && SCMP_ACT_ERRNO(GUARD_ERRNO) != def)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(GUARD_ERRNO), (int)(*bad = uffd), 0);
	for (size_t i = 0; rc == 0 && i < N_GUARDS; i++) {
		rest[i] = spec_action(sp, def, (uint32_t)guards[i].nr);
		if (guards[i].always || lets_through(rest[i]))
			rc = seccomp_rule_add(ctx, PLACEHOLDER(i), guards[i].nr, 0);
		*bad = (uint32_t)guards[i].nr;
	}
	return rc;
}

/* The offset in seccomp_data of argument arg's low 32 bits. */
static uint32_t arg_low(uint32_t arg)
{
	size_t off = offsetof(struct seccomp_data, args) + arg * sizeof(uint64_t);

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	off += sizeof(uint32_t);
#endif
	return (uint32_t)off;
}

/*
 * Appends guards[i]'s test to sp->bpf and turns every `ret PLACEHOLDER(i)`
 * into a jump to it (classic BPF jumps forward only: the test comes last).
 * -EPROTO if libseccomp's program has no such return: a filter without
 * the guard is never sent.
 */
static int patch_guard(sg_spec_t *sp, size_t i, uint32_t rest)
{
	const guard_t *g = &guards[i];
	const uint32_t at = sp->n_bpf;
	const struct sock_filter test[GUARD_INSNS] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_low(g->arg)),
		BPF_JUMP(BPF_JMP | g->test | BPF_K, g->k, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, rest),
		BPF_STMT(BPF_RET | BPF_K, g->hit),
	};
	uint32_t found = 0;

	if (at + GUARD_INSNS > SG_PROTO_MAX_BPF)
		return -E2BIG;
	for (uint32_t pc = 0; pc < at; pc++) {
		struct sock_filter *f = &sp->bpf[pc];

		if (f->code == (BPF_RET | BPF_K) && f->k == PLACEHOLDER(i)) {
			*f = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, at - pc - 1);
			found++;
		}
	}
	if (found == 0)
		return -EPROTO;
	memcpy(&sp->bpf[at], test, sizeof(test));
	sp->n_bpf = at + GUARD_INSNS;
	return 0;
}

static int patch_guards(sg_spec_t *sp, const uint32_t rest[N_GUARDS])
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < N_GUARDS; i++)
		if (guards[i].always || lets_through(rest[i]))
			rc = patch_guard(sp, i, rest[i]);
	return rc;
}

/* Exports ctx's BPF through a memfd into sp->bpf. */
static int export_bpf(scmp_filter_ctx ctx, sg_spec_t *sp)
{
	struct stat st = { 0 };
	int fd = memfd_create("sysgate-bpf", MFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = seccomp_export_bpf(ctx, fd);
	if (rc == 0 && fstat(fd, &st) < 0)
		rc = -errno;
	if (rc == 0 && (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
			st.st_size / sizeof(struct sock_filter) > SG_PROTO_MAX_BPF))
		rc = -E2BIG;
	if (rc == 0 && pread(fd, sp->bpf, (size_t)st.st_size, 0) != st.st_size)
		rc = -EIO;
	close(fd);
	if (rc == 0)
		sp->n_bpf = (uint32_t)(st.st_size / sizeof(struct sock_filter));
	return rc;
}

int filter_compile(sg_spec_t *sp, char *err, size_t errlen)
{
	uint32_t def = scmp_action(sp->default_action, sp->default_errno), bad = UINT32_MAX;
	uint32_t rest[N_GUARDS] = { 0 }; /* 0 is no action lets_through() takes */
	/* libseccomp takes errno 1 to 4094 (4095 is its MAX_ERRNO, refused). */
	scmp_filter_ctx ctx = seccomp_init(def);
	int rc;

	sp->n_bpf = 0;
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init refused the default action (errno %u?)",
			 sp->default_errno);
		return -EINVAL;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0) {
		/* The binary-tree optimizer is an optimisation only: libseccomp
		 * builds without it still give a correct filter. */
		(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		rc = add_rules(ctx, sp, def, &bad);
	}
	if (rc == 0)
		rc = add_guards(ctx, sp, def, rest, &bad);
	if (rc < 0 && bad != UINT32_MAX) {
		const char *name = names_syscall_name((int)bad);

		snprintf(err, errlen, "building the filter: the rule for %s (%u): %s",
			 name ? name : "syscall", bad, strerror(-rc));
	} else if (rc < 0)
		snprintf(err, errlen, "building the filter: %s", strerror(-rc));
	else if ((rc = export_bpf(ctx, sp)) < 0)
		snprintf(err, errlen, "exporting the filter: %s", strerror(-rc));
	else if ((rc = patch_guards(sp, rest)) < 0)
		snprintf(err, errlen, "adding the guard to the filter: %s", strerror(-rc));
	seccomp_release(ctx);
	if (rc < 0)
		sp->n_bpf = 0;
	return rc;
}
