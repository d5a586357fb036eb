/*
 * libFuzzer target: the takeover's decoders (supervisor/takeover_msg.c),
 * which read what the other sysgated sends on the control socket: the old
 * one decodes REQUEST, the new one BEGIN, TARGET, END and REFUSE. Every
 * decoder sees every input; the fds that travel with a message are not
 * part of these bytes (takeover.c counts them against tk_target_nfds), so
 * the counts they must match are checked here with fake ones. What must
 * hold besides "no crash":
 *  - a message that decodes is built again the way takeover.c builds it
 *    (tk_header, fields, snprintf into zeroed strings) and comes out byte
 *    for byte the same: one spelling per message;
 *  - at most one decoder accepts an input, the one tk_type names;
 *  - a refusal is one of the documented errors;
 *  - counts stay in their bounds: BEGIN's targets, TARGET's labels, and
 *    the fds a TARGET announces (one, or two with TK_HAS_PIDFD);
 *  - a TARGET's policy and labels are a HELLO the shim's encoder accepts
 *    and its decoder reads back the same: the new supervisor only adopts
 *    a target it would have admitted.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysgate/protocol.h"
#include "takeover_msg.h"

static void same(const void *in, size_t len, const void *out, size_t n)
{
	if (n != len || memcmp(in, out, len) != 0)
		abort();
}

static void refusal(int r)
{
	if (r != -EBADMSG && r != -EPROTONOSUPPORT && r != -EMSGSIZE)
		abort();
}

static void request(const uint8_t *data, size_t size, int *accepted)
{
	static tk_request_t m, re;
	int r = tk_decode_request(data, size, &m);

	if (r < 0) {
		refusal(r);
		return;
	}
	(*accepted)++;
	if (tk_type(data, size) != TK_REQUEST || m.pid == 0 || m.config[0] != '/' ||
	    strnlen(m.config, sizeof(m.config)) >= sizeof(m.config))
		abort();
	tk_header(&re, TK_REQUEST, sizeof(re));
	re.pid = m.pid;
	snprintf(re.config, sizeof(re.config), "%s", m.config);
	same(data, size, &re, sizeof(re));
}

static void begin(const uint8_t *data, size_t size, int *accepted)
{
	tk_begin_t m, re;
	int r = tk_decode_begin(data, size, &m);

	if (r < 0) {
		refusal(r);
		return;
	}
	(*accepted)++;
	if (tk_type(data, size) != TK_BEGIN || m.pid == 0 || m.ntargets > TK_MAX_TARGETS)
		abort();
	tk_header(&re, TK_BEGIN, sizeof(re));
	re.pid = m.pid;
	re.ntargets = m.ntargets;
	re.next_target_id = m.next_target_id;
	same(data, size, &re, sizeof(re));
}

static void end(const uint8_t *data, size_t size, int *accepted)
{
	tk_end_t m, re;
	int r = tk_decode_end(data, size, &m);

	if (r < 0) {
		refusal(r);
		return;
	}
	(*accepted)++;
	if (tk_type(data, size) != TK_END)
		abort();
	tk_header(&re, TK_END, sizeof(re));
	re.ntargets = m.ntargets;
	same(data, size, &re, sizeof(re));
}

/* The policy and labels of m as the HELLO that admitted the target. */
static void as_hello(const tk_target_t *m)
{
	static unsigned char wire[SG_PROTO_MAX_MSG];
	static sg_hello_t h, back;
	ssize_t n;

	memset(&h, 0, sizeof(h));
	memcpy(h.policy, m->policy, sizeof(h.policy));
	h.nlabels = m->nlabels;
	memcpy(h.labels, m->labels, sizeof(h.labels));
	h.mode = m->mode;
	n = sg_proto_encode_hello(&h, wire, sizeof(wire));
	if (n < 0)
		abort();
	memset(&back, 0, sizeof(back));
	if (sg_proto_decode_hello(wire, (size_t)n, &back) < 0 || back.nlabels != h.nlabels ||
	    back.mode != h.mode || strcmp(back.policy, h.policy) != 0)
		abort();
	for (uint32_t i = 0; i < h.nlabels; i++)
		if (strcmp(back.labels[i].key, h.labels[i].key) != 0 ||
		    strcmp(back.labels[i].value, h.labels[i].value) != 0)
			abort();
}

static void target(const uint8_t *data, size_t size, int *accepted)
{
	static tk_target_t m, re;
	size_t nfds;
	int r = tk_decode_target(data, size, &m);

	if (r < 0) {
		refusal(r);
		return;
	}
	(*accepted)++;
	nfds = tk_target_nfds(&m);
	if (tk_type(data, size) != TK_TARGET || m.id == 0 || m.pid == 0 ||
	    m.nlabels > SG_PROTO_MAX_LABELS || nfds != ((m.flags & TK_HAS_PIDFD) ? 2u : 1u) ||
	    nfds > SG_PROTO_MAX_FDS)
		abort();
	/* As tk_encode_target builds it from the target it describes. */
	tk_header(&re, TK_TARGET, sizeof(re));
	re.id = m.id;
	re.started_ns = m.started_ns;
	re.started_wall = m.started_wall;
	re.notifications = m.notifications;
	re.decisions = m.decisions;
	re.denied = m.denied;
	re.errors = m.errors;
	re.gone = m.gone;
	re.advisory = m.advisory;
	re.brokered = m.brokered;
	re.restarts = m.restarts;
	re.would_deny = m.would_deny;
	re.log_suppressed = m.log_suppressed;
	re.pid = m.pid;
	re.uid = m.uid;
	re.mode = m.mode;
	re.flags = nfds == 2 ? TK_HAS_PIDFD : 0;
	re.nlabels = m.nlabels;
	snprintf(re.policy, sizeof(re.policy), "%s", m.policy);
	for (uint32_t i = 0; i < m.nlabels; i++) {
		snprintf(re.labels[i].key, sizeof(re.labels[i].key), "%s", m.labels[i].key);
		snprintf(re.labels[i].value, sizeof(re.labels[i].value), "%s", m.labels[i].value);
	}
	same(data, size, &re, sizeof(re));
	as_hello(&m);
}

static void refuse(const uint8_t *data, size_t size, int *accepted)
{
	static tk_refuse_t re;
	const char *why = tk_refused(data, size);
	const tk_refuse_t *m = (const void *)data;

	if (!why)
		return;
	(*accepted)++;
	if (tk_type(data, size) != TK_REFUSE || why != m->reason ||
	    strnlen(why, sizeof(m->reason)) >= sizeof(m->reason))
		abort();
	tk_header(&re, TK_REFUSE, sizeof(re));
	snprintf(re.reason, sizeof(re.reason), "%s", why);
	same(data, size, &re, sizeof(re));
}

static void accept_msg(const uint8_t *data, size_t size, int *accepted)
{
	tk_header_t re;
	int r = tk_check(data, size, TK_ACCEPT, sizeof(re));

	if (r < 0) {
		refusal(r);
		return;
	}
	(*accepted)++;
	tk_header(&re, TK_ACCEPT, sizeof(re));
	same(data, size, &re, sizeof(re));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The decoders memcpy whole structs out of the input, and tk_refused
	 * points into it: give them an aligned copy, as d->msg is. */
	static _Alignas(16) uint8_t buf[SG_PROTO_MAX_MSG];
	int accepted = 0;

	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	request(buf, size, &accepted);
	begin(buf, size, &accepted);
	target(buf, size, &accepted);
	end(buf, size, &accepted);
	refuse(buf, size, &accepted);
	accept_msg(buf, size, &accepted);
	if (accepted > 1)
		abort();
	return 0;
}
