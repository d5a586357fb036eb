/*
 * Verdict validation and translation into the kernel's response.
 * The rules (HARDENING 10): CONTINUE carries val = error = 0; an errno is
 * within 1..4095; anything else becomes a deny so no target stays parked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "verdict.h"

#define ERRNO_MAX 4095

int verdict_validate(const verdict_t *v)
{
	switch (v->kind) {
	case VERDICT_ALLOW:
	case VERDICT_KILL:
		return 0;
	case VERDICT_DENY:
		return v->err >= 1 && v->err <= ERRNO_MAX ? 0 : -EINVAL;
	case VERDICT_OPEN:
		/* The broker validates what it opens; a failed open carries an
		 * errno like a deny, or none yet. */
		return v->err >= 0 && v->err <= ERRNO_MAX ? 0 : -EINVAL;
	case VERDICT_EMULATE:
		/* The kernel turns a negative val with error 0 into a plain return
		 * value; that is what emulate means, so any value is fine. */
		return 0;
	default:
		return -EINVAL;
	}
}

void verdict_to_resp(const verdict_t *v, uint64_t id, struct seccomp_notif_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->id = id;
	if (verdict_validate(v) < 0) {
		resp->error = -EPERM;
		return;
	}
	switch (v->kind) {
	case VERDICT_ALLOW:
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		break;
	case VERDICT_DENY:
		resp->error = -v->err;
		break;
	case VERDICT_EMULATE:
		resp->val = v->value;
		break;
	case VERDICT_OPEN:
		resp->error = v->err ? -v->err : -EPERM;
		break;
	default: /* KILL: the process is being killed; fail the call meanwhile. */
		resp->error = -EPERM;
		break;
	}
}

const char *verdict_kind_name(verdict_kind_t k)
{
	switch (k) {
	case VERDICT_ALLOW: return "allow";
	case VERDICT_DENY: return "deny";
	case VERDICT_EMULATE: return "emulate";
	case VERDICT_KILL: return "kill";
	case VERDICT_OPEN: return "open";
	default: return "none";
	}
}

int verdict_parse(const char *text, verdict_t *v)
{
	memset(v, 0, sizeof(*v));
	if (strcmp(text, "allow") == 0) {
		v->kind = VERDICT_ALLOW;
	} else if (strcmp(text, "kill") == 0) {
		v->kind = VERDICT_KILL;
	} else if (strcmp(text, "deny") == 0) {
		v->kind = VERDICT_DENY;
		v->err = EPERM;
	} else if (strncmp(text, "deny:", 5) == 0) {
		int err = names_errno(text + 5);

		if (err < 1)
			return -EINVAL;
		v->kind = VERDICT_DENY;
		v->err = err;
	} else {
		return -EINVAL;
	}
	return 0;
}
