/*
 * The respond stage: carry out a verdict (signal the process for kill)
 * and send the kernel its answer, validated (HARDENING 10).
 */
#ifndef SG_RESPOND_H
#define SG_RESPOND_H

#include <linux/seccomp.h>
#include <stddef.h>

#include "call.h"
#include "verdict.h"

typedef struct target target_t;

/* Sends v for c; an OPEN here is one that failed before it started
 * (broker_open), answered with its v->err. resp is a zero-able buffer of resp_size bytes (the
 * kernel's size). Returns 0, -ENOENT when the call is gone (the task was
 * killed or interrupted; nothing is left to answer), or another -errno
 * with the reason in why: the answer could not be sent, or a kill could
 * not be carried out (the call was then denied). */
int respond_send(target_t *t, call_t *c, verdict_t *v, struct seccomp_notif_resp *resp,
		 size_t resp_size, char *why, size_t why_len);

#endif
