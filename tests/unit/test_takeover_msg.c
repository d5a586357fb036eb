/*
 * test_takeover_msg.c: the takeover's wire format (supervisor/takeover_msg.c):
 * strict decoding of every message, and fds sent with tk_send arriving
 * close-on-exec through sg_proto_recv over a real socketpair.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "takeover_msg.h"

static tk_target_t tgt;
static unsigned char buf[SG_PROTO_MAX_MSG];

static void good_target(tk_target_t *m)
{
	tk_header(m, TK_TARGET, sizeof(*m));
	m->id = 7;
	m->pid = 4242;
	m->mode = SG_MODE_ENFORCE;
	m->flags = TK_HAS_PIDFD;
	m->nlabels = 1;
	snprintf(m->policy, sizeof(m->policy), "demo");
	snprintf(m->labels[0].key, sizeof(m->labels[0].key), "tenant");
	snprintf(m->labels[0].value, sizeof(m->labels[0].value), "a b");
}

static int decode(const void *m, size_t len)
{
	tk_target_t out;

	return tk_decode_target(m, len, &out);
}

static void test_target_good(void **state)
{
	tk_target_t out;

	(void)state;
	good_target(&tgt);
	assert_int_equal(tk_decode_target(&tgt, sizeof(tgt), &out), 0);
	assert_string_equal(out.policy, "demo");
	assert_string_equal(out.labels[0].value, "a b");
	assert_int_equal(out.pid, 4242);
}

/* Each mutation of a good TARGET, and the error it must give. */
static void test_target_refused(void **state)
{
	(void)state;
	good_target(&tgt);
	assert_int_equal(decode(&tgt, sizeof(tgt) - 1), -EBADMSG); /* length */
	tgt.h.magic ^= 1;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.h.version = 2;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EPROTONOSUPPORT);
	good_target(&tgt);
	tgt.h.reserved = 1;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.h.type = TK_END;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.reserved = 1;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.pad[6] = 1;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.flags = 2;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.id = 0;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.pid = 0;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.mode = SG_MODE_POLICY;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	tgt.mode = SG_MODE_LEARN + 1;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	memset(tgt.policy, 'p', sizeof(tgt.policy)); /* no NUL */
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.policy[10] = 'x'; /* a byte after the NUL */
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	snprintf(tgt.policy, sizeof(tgt.policy), "../etc");
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.nlabels = SG_PROTO_MAX_LABELS + 1;
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EMSGSIZE);
	good_target(&tgt);
	tgt.labels[1].key[0] = 'k'; /* beyond nlabels, not zero */
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.labels[0].value[1] = '\n';
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	good_target(&tgt);
	tgt.labels[0].key[0] = '\0';
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	/* Two labels with one key: a HELLO with them is refused, so no
	 * target has them (found by tests/fuzz/fuzz_takeover.c). */
	good_target(&tgt);
	tgt.nlabels = 2;
	snprintf(tgt.labels[1].key, sizeof(tgt.labels[1].key), "tenant");
	snprintf(tgt.labels[1].value, sizeof(tgt.labels[1].value), "b");
	assert_int_equal(decode(&tgt, sizeof(tgt)), -EBADMSG);
	snprintf(tgt.labels[1].key, sizeof(tgt.labels[1].key), "tenant2");
	assert_int_equal(decode(&tgt, sizeof(tgt)), 0);
}

static void test_request_begin_end(void **state)
{
	static tk_request_t req, rout;
	tk_begin_t b, bout;
	tk_end_t e, eout;

	(void)state;
	tk_header(&req, TK_REQUEST, sizeof(req));
	req.pid = 1;
	snprintf(req.config, sizeof(req.config), "/etc/sysgate/sysgate.conf");
	assert_int_equal(tk_decode_request(&req, sizeof(req), &rout), 0);
	assert_int_equal(tk_decode_request(&req, sizeof(req) + 1, &rout), -EBADMSG);
	snprintf(req.config, sizeof(req.config), "relative.conf");
	assert_int_equal(tk_decode_request(&req, sizeof(req), &rout), -EBADMSG);
	memset(req.config, 'c', sizeof(req.config));
	req.config[0] = '/';
	assert_int_equal(tk_decode_request(&req, sizeof(req), &rout), -EBADMSG);

	tk_header(&b, TK_BEGIN, sizeof(b));
	b.pid = 1;
	b.ntargets = TK_MAX_TARGETS;
	assert_int_equal(tk_decode_begin(&b, sizeof(b), &bout), 0);
	b.ntargets = TK_MAX_TARGETS + 1;
	assert_int_equal(tk_decode_begin(&b, sizeof(b), &bout), -EMSGSIZE);

	tk_header(&e, TK_END, sizeof(e));
	e.ntargets = 3;
	assert_int_equal(tk_decode_end(&e, sizeof(e), &eout), 0);
	assert_int_equal(eout.ntargets, 3);
	e.reserved = 1;
	assert_int_equal(tk_decode_end(&e, sizeof(e), &eout), -EBADMSG);
}

static void test_refuse_reason(void **state)
{
	tk_refuse_t m;

	(void)state;
	tk_header(&m, TK_REFUSE, sizeof(m));
	snprintf(m.reason, sizeof(m.reason), "no");
	assert_string_equal(tk_refused(&m, sizeof(m)), "no");
	memset(m.reason, 'r', sizeof(m.reason));
	assert_null(tk_refused(&m, sizeof(m)));
	assert_null(tk_refused(&m, sizeof(m.h)));
}

static bool cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* Two fds with a TARGET over a real SOCK_SEQPACKET pair: both arrive,
 * close-on-exec, and the message decodes. */
static void test_send_two_fds(void **state)
{
	int sp[2], p[2], fds[SG_PROTO_MAX_FDS];
	size_t nfds = 0;
	ssize_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe(p), 0); /* not close-on-exec here */
	good_target(&tgt);
	assert_int_equal(tk_send(sp[0], &tgt, sizeof(tgt), p, 2), 0);
	n = sg_proto_recv(sp[1], buf, sizeof(buf), fds, &nfds);
	assert_int_equal(n, sizeof(tgt));
	assert_int_equal(nfds, 2);
	assert_true(cloexec(fds[0]) && cloexec(fds[1]));
	assert_int_equal(decode(buf, (size_t)n), 0);
	assert_int_equal(tk_send(sp[0], &tgt, sizeof(tgt), p, 3), -EINVAL);
	for (int i = 0; i < 2; i++) {
		close(fds[i]);
		close(p[i]);
		close(sp[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_good),
		cmocka_unit_test(test_target_refused),
		cmocka_unit_test(test_request_begin_end),
		cmocka_unit_test(test_refuse_reason),
		cmocka_unit_test(test_send_two_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
