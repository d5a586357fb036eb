/*
 * Syscall families: calls that reach the same effect by different doors
 * (openat and open, mount and fsmount, execve and execveat). A policy that
 * decides one member and lets the others through without a decision has a
 * rule with a hole in it; `sysgated --check` says so.
 */
#ifndef SG_FAMILY_H
#define SG_FAMILY_H

#include <stddef.h>

#include "policy.h"

#define FAMILY_MAX_MEMBERS 12
#define FAMILY_LIST_LEN 256 /* bytes of a list of member names */

typedef struct family {
	const char *name;   /* "open" */
	const char *effect; /* what the members reach: "open files" */
	const char *members[FAMILY_MAX_MEMBERS + 1]; /* NULL-terminated */
} family_t;

/* The families, in the order --check reports them; n is set to their
 * number. */
const family_t *family_table(size_t *n);

/*
 * Called for a family the policy decides in part: decided lists the
 * members named in on, kernel.deny or kernel.kill, open the members that
 * reach the kernel's allow without a decision (comma-separated names).
 */
typedef void (*family_gap_cb)(void *ctx, const family_t *f, const char *decided, const char *open);

/* Calls gap(ctx, ...) once per family p decides in part; returns how
 * many. Members the machine's libseccomp does not know are skipped. */
int family_check(const policy_t *p, family_gap_cb gap, void *ctx);

#endif
