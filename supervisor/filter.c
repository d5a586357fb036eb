/*
 * filter.c: a filter spec's lists compiled into BPF (filter.h).
 *
 * The supervisor compiles each policy's filters when it loads the policy,
 * so that a target's start only loads the program it is sent: libseccomp's
 * build and its probe of the kernel were about 0.2 ms of every spawn.
 */
#include <errno.h>
#include <stdint.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "names.h"

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

/* libseccomp refuses a rule whose action is the default (-EACCES); such a
 * rule changes nothing, so it is skipped. */
static int add_rule(scmp_filter_ctx ctx, uint32_t def, uint32_t act, uint32_t nr)
{
	if (act == def)
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
	if (rc < 0 && bad != UINT32_MAX) {
		const char *name = names_syscall_name((int)bad);

		snprintf(err, errlen, "building the filter: the rule for %s (%u): %s",
			 name ? name : "syscall", bad, strerror(-rc));
	} else if (rc < 0)
		snprintf(err, errlen, "building the filter: %s", strerror(-rc));
	else if ((rc = export_bpf(ctx, sp)) < 0)
		snprintf(err, errlen, "exporting the filter: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc;
}
