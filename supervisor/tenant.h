/*
 * Tenants: the quotas of each launcher uid (config.h's tenant_limits_t).
 * A tenant is the uid that connected to the supervisor's socket and
 * handed over a listener; every target it starts is charged to it, and
 * so is every learned policy written for one of them. Root has no quota:
 * the operator's launches never wait for another uid's to end.
 *
 * One table for the whole supervisor, behind a lock, so that the loops of
 * future worker threads (one sgd_t each) can share it; it takes no part
 * in the per-call path.
 */
#ifndef SG_TENANT_H
#define SG_TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define TENANTS_MAX 1024 /* launcher uids known at once; a new one past it is refused */

typedef struct tenants tenants_t;

/* NULL when out of memory. */
tenants_t *tenants_new(const tenant_limits_t *lim);
void tenants_free(tenants_t *ts); /* accepts NULL */

/* Charges one target of uid (and one learn target when learn). force:
 * charge even over the quota (a target handed over by a takeover, already
 * running). 0, or -EDQUOT with the reason in why. */
int tenants_take(tenants_t *ts, uid_t uid, bool learn, bool force, char *why, size_t why_len);
/* Gives back what tenants_take charged. */
void tenants_give(tenants_t *ts, uid_t uid, bool learn);
/* Charges a learned policy file of bytes about to be written, to the
 * quotas of files and bytes: 0, or -EDQUOT with the reason in why
 * (nothing is charged then). */
int tenants_learn_file(tenants_t *ts, uid_t uid, uint64_t bytes, char *why, size_t why_len);

#endif
