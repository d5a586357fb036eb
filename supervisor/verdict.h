/*
 * A verdict on one notified syscall, as the policy engine returns it, and
 * its translation into the response the kernel receives. Every verdict is
 * validated before it is turned into a response (an invalid one becomes a
 * deny, so no target is left parked).
 */
#ifndef SG_VERDICT_H
#define SG_VERDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/seccomp.h>

#define VERDICT_MAX_MESSAGE 255

typedef enum verdict_kind {
	VERDICT_NONE = 0, /* not a verdict: invalid */
	VERDICT_ALLOW,    /* SECCOMP_USER_NOTIF_FLAG_CONTINUE */
	VERDICT_DENY,     /* fail with err */
	VERDICT_EMULATE,  /* return value without running the call */
	VERDICT_KILL,     /* SIGKILL the calling process */
	VERDICT_OPEN,     /* the supervisor opens the file and injects the fd (broker.c) */
} verdict_kind_t;

typedef struct verdict {
	verdict_kind_t kind;
	int err;       /* DENY: 1..4095 */
	int64_t value; /* EMULATE */
	bool log;      /* :log() was called */
	char message[VERDICT_MAX_MESSAGE + 1];

	/* OPEN: what to open. path NULL: the call's own path, the bytes the
	 * handler read; flags, mode < 0: the call's own. as_supervisor: with
	 * the supervisor's identity instead of the caller's. */
	const char *path;
	int64_t flags, mode;
	bool as_supervisor;
	/* OPEN, once carried out: the fd number in the target, or err (the
	 * errno the call failed with instead). */
	int fd;

	/* ALLOW after the handler read a pointer argument, sent as it is
	 * (pointer_args = "advisory"): the bytes may have changed since. */
	bool advisory;
	/* Why the verdict is not the handler's own one (pointer_args =
	 * "enforce" turned it into another), or how an OPEN failed. Static
	 * text or NULL. */
	const char *reason;

	/* Rate limits: the verdict is a limit's `over` one (limited), or the
	 * answer waits throttle_ns before it is sent. */
	bool limited;
	uint64_t throttle_ns;
	/* throttle_ns before it is sent: where the engine goes on when the
	 * wait is over (policy_resume); 0 otherwise. */
	int throttle_resume;
	/* Audit mode: what the handler decided (DENY, KILL, EMULATE, OPEN),
	 * sent as an allow instead; VERDICT_NONE otherwise. */
	verdict_kind_t would;
	int would_err;
} verdict_t;

/* 0 when v can be sent as it is, -EINVAL otherwise. */
int verdict_validate(const verdict_t *v);

/* Fills resp for notification id. An invalid verdict becomes deny EPERM;
 * KILL becomes deny EPERM too (the caller signals the process first); an
 * OPEN becomes its err, or EPERM when it has none (a successful OPEN is
 * answered by the kernel with the fd, never through a response). */
void verdict_to_resp(const verdict_t *v, uint64_t id, struct seccomp_notif_resp *resp);

/* "allow", "deny", "emulate", "kill", "open". */
const char *verdict_kind_name(verdict_kind_t k);

/* Parses "allow", "deny" (EPERM), "deny:ENAME", "kill" into v; -EINVAL when
 * the text is none of these. Used for the configured fallback. */
int verdict_parse(const char *text, verdict_t *v);

#endif
