/*
 * test_proto.c: the wire protocol codec (target-shim/proto.c), its fd
 * passing over a real SOCK_SEQPACKET socketpair, and the shim's listener
 * handoff (target-shim/shim.c) against a fake supervisor in this process.
 *
 * The handoff tests fork a child that enters a real seccomp filter; the
 * parent plays sysgated: answers HELLO and LISTENER and serves the
 * notifications with SECCOMP_IOCTL_NOTIF_RECV/SEND.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sysgate/peer.h"
#include "sysgate/protocol.h"
#include "sysgate/sysgate.h"
#include "../fail_filter.h"
#include "filter.h"

#define HDR 16u
static unsigned char buf[SG_PROTO_MAX_MSG + 64];

/* ---- helpers ------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void put32(void *p, size_t off, uint32_t v) { memcpy((char *)p + off, &v, 4); }
static void put16(void *p, size_t off, uint16_t v) { memcpy((char *)p + off, &v, 2); }

/* Sets the header's length field to len (for crafted messages). */
static void set_len(void *p, size_t len) { put32(p, 8, (uint32_t)len); }

static void sample_hello(sg_hello_t *h)
{
	memset(h, 0, sizeof *h);
	strcpy(h->policy, "fn-python.v2_x");
	h->nlabels = 3;
	assert_int_equal(sg_proto_parse_label("tenant=acme", &h->labels[0]), 0);
	assert_int_equal(sg_proto_parse_label("expr=a=b c", &h->labels[1]), 0);
	assert_int_equal(sg_proto_parse_label("empty=", &h->labels[2]), 0);
}

static sg_spec_t *sample_spec(void)
{
	sg_spec_t *s = calloc(1, sizeof *s);

	assert_non_null(s);
	s->arch = seccomp_arch_native();
	s->default_action = SG_ACT_ALLOW;
	s->n_notify = 2;
	s->notify[0] = SYS_openat;
	s->notify[1] = SYS_connect;
	s->n_deny = 2;
	s->deny[0] = (sg_spec_errno_t){ SYS_ptrace, EPERM };
	s->deny[1] = (sg_spec_errno_t){ SG_PROTO_MAX_NR, 4095 };
	s->n_kill = 1;
	s->kill[0] = SYS_reboot;
	return s;
}

static ssize_t enc_hello(void)
{
	sg_hello_t h;

	sample_hello(&h);
	return sg_proto_encode_hello(&h, buf, sizeof buf);
}

static ssize_t enc_spec(void)
{
	sg_spec_t *s = sample_spec();
	ssize_t n = sg_proto_encode_spec(s, buf, sizeof buf);

	free(s);
	return n;
}

static ssize_t enc_refuse(void)
{
	sg_refuse_t r = { .code = ENOENT };

	strcpy(r.reason, "no policy named 'x'");
	return sg_proto_encode_refuse(&r, buf, sizeof buf);
}

static ssize_t enc_listener(void) { return sg_proto_encode_listener(buf, sizeof buf); }

static ssize_t enc_ready(void)
{
	sg_ready_t r = { .target_id = 0x1122334455667788ull };

	return sg_proto_encode_ready(&r, buf, sizeof buf);
}

/* Decodes buf as the given type, whatever it is. */
static int dec(sg_msg_type_t type, const void *p, size_t len)
{
	static sg_hello_t h;
	static sg_spec_t s;
	static sg_refuse_t r;
	static sg_ready_t y;

	switch (type) {
	case SG_MSG_HELLO: return sg_proto_decode_hello(p, len, &h);
	case SG_MSG_SPEC: return sg_proto_decode_spec(p, len, &s);
	case SG_MSG_REFUSE: return sg_proto_decode_refuse(p, len, &r);
	case SG_MSG_LISTENER: return sg_proto_decode_listener(p, len);
	case SG_MSG_READY: return sg_proto_decode_ready(p, len, &y);
	}
	return -999;
}

static const struct {
	sg_msg_type_t type;
	ssize_t (*enc)(void);
} all_msgs[] = {
	{ SG_MSG_HELLO, enc_hello },
	{ SG_MSG_SPEC, enc_spec },
	{ SG_MSG_REFUSE, enc_refuse },
	{ SG_MSG_LISTENER, enc_listener },
	{ SG_MSG_READY, enc_ready },
};
#define NMSGS (sizeof all_msgs / sizeof all_msgs[0])

/* ---- round trips --------------------------------------------------- */

static void test_roundtrip_hello(void **state)
{
	sg_hello_t in, out;
	ssize_t n;

	sample_hello(&in);
	n = sg_proto_encode_hello(&in, buf, sizeof buf);
	assert_true(n > (ssize_t)HDR);
	memset(&out, 0xa5, sizeof out);
	assert_int_equal(sg_proto_decode_hello(buf, (size_t)n, &out), 0);
	assert_string_equal(out.policy, "fn-python.v2_x");
	assert_int_equal(out.nlabels, 3);
	assert_string_equal(out.labels[0].key, "tenant");
	assert_string_equal(out.labels[0].value, "acme");
	assert_string_equal(out.labels[1].key, "expr");
	assert_string_equal(out.labels[1].value, "a=b c");
	assert_string_equal(out.labels[2].key, "empty");
	assert_string_equal(out.labels[2].value, "");

	/* The biggest HELLO there is still fits and round-trips. */
	memset(&in, 0, sizeof in);
	memset(in.policy, 'p', SG_PROTO_MAX_NAME);
	in.nlabels = SG_PROTO_MAX_LABELS;
	for (unsigned i = 0; i < SG_PROTO_MAX_LABELS; i++) {
		memset(in.labels[i].key, 'k', SG_PROTO_MAX_KEY);
		snprintf(in.labels[i].key, 8, "k%02u", i);
		in.labels[i].key[strlen(in.labels[i].key)] = 'k';
		memset(in.labels[i].value, '~', SG_PROTO_MAX_VALUE);
	}
	n = sg_proto_encode_hello(&in, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(sg_proto_decode_hello(buf, (size_t)n, &out), 0);
	assert_int_equal(out.nlabels, SG_PROTO_MAX_LABELS);
	assert_int_equal(strlen(out.labels[31].value), SG_PROTO_MAX_VALUE);
	assert_int_equal(strlen(out.policy), SG_PROTO_MAX_NAME);
}

static void test_roundtrip_spec(void **state)
{
	sg_spec_t *in = sample_spec();
	sg_spec_t *out = calloc(1, sizeof *out);
	ssize_t n;

	assert_non_null(out);
	n = sg_proto_encode_spec(in, buf, sizeof buf);
	assert_int_equal(n, HDR + 32 + 4 * 2 + 8 * 2 + 4 * 1);
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), 0);
	assert_int_equal(out->arch, in->arch);
	assert_int_equal(out->default_action, SG_ACT_ALLOW);
	assert_int_equal(out->n_notify, 2);
	assert_int_equal(out->notify[1], SYS_connect);
	assert_int_equal(out->n_deny, 2);
	assert_int_equal(out->deny[0].nr, SYS_ptrace);
	assert_int_equal(out->deny[0].err, EPERM);
	assert_int_equal(out->deny[1].err, 4095);
	assert_int_equal(out->n_kill, 1);
	assert_int_equal(out->kill[0], SYS_reboot);

	/* Full lists, default ERRNO. */
	memset(in, 0, sizeof *in);
	in->default_action = SG_ACT_ERRNO;
	in->default_errno = ENOSYS;
	in->n_notify = in->n_deny = in->n_kill = SG_PROTO_MAX_RULES;
	for (uint32_t i = 0; i < SG_PROTO_MAX_RULES; i++) {
		in->notify[i] = i;
		in->deny[i] = (sg_spec_errno_t){ SG_PROTO_MAX_RULES + i, 1 + i };
		in->kill[i] = 2 * SG_PROTO_MAX_RULES + i;
	}
	n = sg_proto_encode_spec(in, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), 0);
	assert_int_equal(out->default_errno, ENOSYS);
	assert_int_equal(out->kill[SG_PROTO_MAX_RULES - 1], 3 * SG_PROTO_MAX_RULES - 1);
	free(in);
	free(out);
}

static void test_roundtrip_small(void **state)
{
	sg_refuse_t r;
	sg_ready_t y;
	ssize_t n;

	n = enc_refuse();
	assert_true(n > 0);
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), 0);
	assert_int_equal(r.code, ENOENT);
	assert_string_equal(r.reason, "no policy named 'x'");

	n = enc_listener();
	assert_int_equal(n, HDR + 8);
	assert_int_equal(sg_proto_decode_listener(buf, (size_t)n), 0);

	n = enc_ready();
	assert_int_equal(n, HDR + 8);
	assert_int_equal(sg_proto_decode_ready(buf, (size_t)n, &y), 0);
	assert_true(y.target_id == 0x1122334455667788ull);

	/* An empty reason is allowed. */
	memset(&r, 0, sizeof r);
	r.code = 4095;
	n = sg_proto_encode_refuse(&r, buf, sizeof buf);
	assert_int_equal(n, HDR + 8);
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), 0);
	assert_string_equal(r.reason, "");
}

/* ---- malformed, for every message ----------------------------------- */

static void test_truncated_every_length(void **state)
{
	for (size_t m = 0; m < NMSGS; m++) {
		ssize_t n = all_msgs[m].enc();

		assert_true(n > 0);
		for (size_t len = 0; len < (size_t)n; len++)
			assert_int_equal(dec(all_msgs[m].type, buf, len), -EBADMSG);
		/* And with the header's length field telling the truncated truth. */
		for (size_t len = HDR; len < (size_t)n; len++) {
			set_len(buf, len);
			assert_int_equal(dec(all_msgs[m].type, buf, len), -EBADMSG);
		}
	}
}

static void test_small_output_buffer(void **state)
{
	for (size_t m = 0; m < NMSGS; m++) {
		ssize_t n = all_msgs[m].enc();
		unsigned char small[SG_PROTO_MAX_MSG];

		assert_true(n > 0);
		for (size_t cap = 0; cap < (size_t)n; cap++) {
			ssize_t r;
			sg_hello_t h;
			sg_spec_t *s;
			sg_refuse_t rf = { .code = ENOENT };
			sg_ready_t y = { 1 };

			switch (all_msgs[m].type) {
			case SG_MSG_HELLO:
				sample_hello(&h);
				r = sg_proto_encode_hello(&h, small, cap);
				break;
			case SG_MSG_SPEC:
				s = sample_spec();
				r = sg_proto_encode_spec(s, small, cap);
				free(s);
				break;
			case SG_MSG_REFUSE:
				strcpy(rf.reason, "no policy named 'x'");
				r = sg_proto_encode_refuse(&rf, small, cap);
				break;
			case SG_MSG_LISTENER: r = sg_proto_encode_listener(small, cap); break;
			default: r = sg_proto_encode_ready(&y, small, cap); break;
			}
			assert_int_equal(r, -ENOBUFS);
		}
	}
}

static void test_header_faults(void **state)
{
	for (size_t m = 0; m < NMSGS; m++) {
		sg_msg_type_t t = all_msgs[m].type;
		ssize_t n = all_msgs[m].enc();
		sg_msg_header_t h;

		assert_true(n > 0);
		assert_int_equal(sg_proto_check_header(buf, (size_t)n, &h), 0);
		assert_int_equal(h.type, t);
		assert_int_equal(dec(t, buf, (size_t)n), 0);

		put32(buf, 0, 0x54414754); /* magic */
		assert_int_equal(dec(t, buf, (size_t)n), -EBADMSG);
		put32(buf, 0, SG_PROTO_MAGIC);

		put16(buf, 4, SG_PROTO_VERSION + 1); /* version */
		assert_int_equal(dec(t, buf, (size_t)n), -EPROTONOSUPPORT);
		/* Version 1 had no proof call: its LISTENER names another listener. */
		put16(buf, 4, 1);
		assert_int_equal(dec(t, buf, (size_t)n), -EPROTONOSUPPORT);
		put16(buf, 4, 0);
		assert_int_equal(dec(t, buf, (size_t)n), -EPROTONOSUPPORT);
		put16(buf, 4, SG_PROTO_VERSION);

		put32(buf, 12, 1); /* header reserved */
		assert_int_equal(dec(t, buf, (size_t)n), -EBADMSG);
		put32(buf, 12, 0);

		set_len(buf, (size_t)n + 1); /* length field mismatch */
		assert_int_equal(dec(t, buf, (size_t)n), -EBADMSG);
		set_len(buf, (size_t)n - 1);
		assert_int_equal(dec(t, buf, (size_t)n), -EBADMSG);

		/* Trailing bytes, with a length field that counts them. */
		memset(buf + n, 0, 4);
		set_len(buf, (size_t)n + 4);
		assert_int_equal(dec(t, buf, (size_t)n + 4), -EBADMSG);
		set_len(buf, (size_t)n);

		/* Unknown types, and every known type that is not this one. */
		put16(buf, 6, 0);
		assert_int_equal(sg_proto_check_header(buf, (size_t)n, NULL), -EBADMSG);
		put16(buf, 6, 6);
		assert_int_equal(sg_proto_check_header(buf, (size_t)n, NULL), -EBADMSG);
		put16(buf, 6, (uint16_t)t);
		for (size_t o = 0; o < NMSGS; o++)
			if (all_msgs[o].type != t)
				assert_int_equal(dec(all_msgs[o].type, buf, (size_t)n), -EBADMSG);
		assert_int_equal(dec(t, buf, (size_t)n), 0);
	}
	assert_int_equal(sg_proto_check_header(NULL, 16, NULL), -EBADMSG);
}

static void test_oversized(void **state)
{
	ssize_t n = enc_listener();

	assert_true(n > 0);
	set_len(buf, SG_PROTO_MAX_MSG + 1);
	assert_int_equal(sg_proto_check_header(buf, SG_PROTO_MAX_MSG + 1, NULL), -EMSGSIZE);
	assert_int_equal(sg_proto_decode_listener(buf, SG_PROTO_MAX_MSG + 1), -EMSGSIZE);
	assert_int_equal(sg_proto_send(0, buf, SG_PROTO_MAX_MSG + 1, -1), -EMSGSIZE);
}

/* ---- HELLO content -------------------------------------------------- */

/* Crafts a HELLO by hand so that content the encoder refuses can be sent. */
static size_t raw_hello(const char *name, uint16_t nlabels, const char *const *labels, uint32_t flags)
{
	size_t off = HDR + 8, nlen = strlen(name);
	sg_msg_header_t h = { SG_PROTO_MAGIC, SG_PROTO_VERSION, SG_MSG_HELLO, 0, 0 };

	memcpy(buf, &h, sizeof h);
	put16(buf, HDR, (uint16_t)nlen);
	put16(buf, HDR + 2, nlabels);
	put32(buf, HDR + 4, flags);
	memcpy(buf + off, name, nlen);
	off += nlen;
	for (uint16_t i = 0; i < nlabels; i++) {
		const char *l = labels[i % 2];
		size_t ln = strlen(l);

		put16(buf, off, (uint16_t)ln);
		memcpy(buf + off + 2, l, ln);
		off += 2 + ln;
	}
	set_len(buf, off);
	return off;
}

static int hello_with(const char *name, const char *label)
{
	const char *l[2] = { label, label };
	sg_hello_t out;
	size_t n = raw_hello(name, label ? 1 : 0, l, 0);

	return sg_proto_decode_hello(buf, n, &out);
}

static void test_hello_content(void **state)
{
	const char *two[2] = { "a=1", "b=2" };
	char longv[SG_PROTO_MAX_VALUE + 8];
	sg_hello_t out, in;
	size_t n;

	assert_int_equal(hello_with("ok-name", "k=v"), 0);
	assert_int_equal(hello_with("bad name", NULL), -EBADMSG);
	assert_int_equal(hello_with("bad/name", NULL), -EBADMSG);
	assert_int_equal(hello_with("", NULL), -EBADMSG);
	assert_int_equal(hello_with("x", "novalue"), -EBADMSG);
	assert_int_equal(hello_with("x", "=v"), -EBADMSG);
	assert_int_equal(hello_with("x", "k y=v"), -EBADMSG);
	assert_int_equal(hello_with("x", "k=\x01"), -EBADMSG);
	assert_int_equal(hello_with("x", "k=\x7f"), -EBADMSG);
	assert_int_equal(hello_with("x", "k=caf\xc3\xa9"), -EBADMSG);
	memset(longv, 'v', sizeof longv);
	memcpy(longv, "k=", 2);
	longv[2 + SG_PROTO_MAX_VALUE] = '\0';
	assert_int_equal(hello_with("x", longv), 0);
	longv[2 + SG_PROTO_MAX_VALUE] = 'v';
	longv[3 + SG_PROTO_MAX_VALUE] = '\0';
	assert_int_equal(hello_with("x", longv), -EMSGSIZE);

	/* A NUL inside a name or label is not a short string: refused. */
	n = raw_hello("abc", 0, NULL, 0);
	buf[HDR + 8 + 1] = '\0';
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), -EBADMSG);

	n = raw_hello("x", 2, two, 4); /* flags beyond the mode's two bits */
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), -EBADMSG);
	n = raw_hello("x", 2, two, 0x80000000u);
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), -EBADMSG);
	n = raw_hello("x", SG_PROTO_MAX_LABELS, two, 0);
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), -EBADMSG); /* duplicate keys */
	n = raw_hello("x", SG_PROTO_MAX_LABELS + 1, two, 0);
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), -EMSGSIZE);
	n = raw_hello("x", 2, two, 0);
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), 0);
	put16(buf, HDR, SG_PROTO_MAX_NAME + 1);
	assert_int_equal(sg_proto_decode_hello(buf, n, &out), -EMSGSIZE);
	put16(buf, HDR, 2); /* name_len says more than there is: label bytes misread */
	assert_true(sg_proto_decode_hello(buf, n, &out) < 0);

	/* The encoder refuses what the decoder would. */
	sample_hello(&in);
	strcpy(in.policy, "no spaces");
	assert_int_equal(sg_proto_encode_hello(&in, buf, sizeof buf), -EBADMSG);
	sample_hello(&in);
	in.nlabels = SG_PROTO_MAX_LABELS + 1;
	assert_int_equal(sg_proto_encode_hello(&in, buf, sizeof buf), -EMSGSIZE);
	sample_hello(&in);
	strcpy(in.labels[1].key, "tenant");
	assert_int_equal(sg_proto_encode_hello(&in, buf, sizeof buf), -EBADMSG);
}

/* The mode rides in HELLO's flags: each value round-trips, the policy's
 * own is 0 (what an older shim sends), anything else is refused by both
 * ends. */
static void test_hello_mode(void **state)
{
	const char *two[2] = { "a=1", "b=2" };
	sg_hello_t in, out;
	ssize_t n;

	(void)state;
	for (uint32_t m = SG_MODE_POLICY; m <= SG_MODE_LEARN; m++) {
		sample_hello(&in);
		in.mode = m;
		n = sg_proto_encode_hello(&in, buf, sizeof buf);
		assert_true(n > 0);
		memset(&out, 0xff, sizeof out);
		assert_int_equal(sg_proto_decode_hello(buf, (size_t)n, &out), 0);
		assert_int_equal(out.mode, m);
		n = (ssize_t)raw_hello("x", 2, two, m);
		assert_int_equal(sg_proto_decode_hello(buf, (size_t)n, &out), 0);
		assert_int_equal(out.mode, m);
	}
	sample_hello(&in);
	in.mode = 4;
	assert_int_equal(sg_proto_encode_hello(&in, buf, sizeof buf), -EBADMSG);
	assert_int_equal(sg_proto_parse_mode("enforce"), SG_MODE_ENFORCE);
	assert_int_equal(sg_proto_parse_mode("audit"), SG_MODE_AUDIT);
	assert_int_equal(sg_proto_parse_mode("learn"), SG_MODE_LEARN);
	assert_int_equal(sg_proto_parse_mode("policy"), -EINVAL);
	assert_int_equal(sg_proto_parse_mode("Audit"), -EINVAL);
	assert_int_equal(sg_proto_parse_mode(""), -EINVAL);
	assert_int_equal(sg_proto_parse_mode(NULL), -EINVAL);
	assert_string_equal(sg_proto_mode_name(SG_MODE_AUDIT), "audit");
	assert_string_equal(sg_proto_mode_name(7), "unknown");
}

static void test_validators(void **state)
{
	char name[SG_PROTO_MAX_NAME + 2];
	sg_label_t l;

	assert_int_equal(sg_proto_valid_name("fn-python_3.12"), 0);
	assert_int_equal(sg_proto_valid_name(""), -EINVAL);
	assert_int_equal(sg_proto_valid_name("a b"), -EINVAL);
	assert_int_equal(sg_proto_valid_name("a\n"), -EINVAL);
	assert_int_equal(sg_proto_valid_name(NULL), -EINVAL);
	memset(name, 'n', sizeof name);
	name[SG_PROTO_MAX_NAME] = '\0';
	assert_int_equal(sg_proto_valid_name(name), 0);
	name[SG_PROTO_MAX_NAME] = 'n';
	name[SG_PROTO_MAX_NAME + 1] = '\0';
	assert_int_equal(sg_proto_valid_name(name), -EINVAL);

	assert_int_equal(sg_proto_parse_label("k=v=w", &l), 0);
	assert_string_equal(l.key, "k");
	assert_string_equal(l.value, "v=w");
	assert_int_equal(sg_proto_parse_label("kv", &l), -EINVAL);
	assert_int_equal(sg_proto_parse_label("=v", &l), -EINVAL);
	assert_int_equal(sg_proto_parse_label("k!=v", &l), -EINVAL);
	assert_int_equal(sg_proto_parse_label("k=\t", &l), -EINVAL);
	assert_int_equal(sg_proto_parse_label(NULL, &l), -EINVAL);
}

/* ---- SPEC content --------------------------------------------------- */

/* Offsets in an encoded SPEC. */
#define SP_ACT (HDR + 4)
#define SP_ERR (HDR + 8)
#define SP_NNOTIFY (HDR + 12)
#define SP_RES1 (HDR + 24) /* n_allow, once reserved */
#define SP_NBPF (HDR + 28)
#define SP_ARRAYS (HDR + 32)

static int spec_patched(size_t off, uint32_t v)
{
	static sg_spec_t out;
	ssize_t n = enc_spec();

	assert_true(n > 0);
	put32(buf, off, v);
	return sg_proto_decode_spec(buf, (size_t)n, &out);
}

static int spec_encoded(void (*mod)(sg_spec_t *))
{
	sg_spec_t *s = sample_spec();
	ssize_t n;

	mod(s);
	n = sg_proto_encode_spec(s, buf, sizeof buf);
	free(s);
	return (int)n;
}

static void mod_dup_across(sg_spec_t *s) { s->kill[0] = s->notify[0]; }
static void mod_dup_within(sg_spec_t *s) { s->notify[1] = s->notify[0]; }
static void mod_nr_over(sg_spec_t *s) { s->kill[0] = SG_PROTO_MAX_NR + 1; }
static void mod_errno0(sg_spec_t *s) { s->deny[0].err = 0; }
static void mod_count_over(sg_spec_t *s) { s->n_kill = SG_PROTO_MAX_RULES + 1; }

/* The allow list (a learned policy's kernel.allow) takes the first
 * reserved word for its count and follows the kill list; a number in it
 * may be in no other list. */
static void test_spec_allow(void **state)
{
	sg_spec_t *in = sample_spec();
	sg_spec_t *out = calloc(1, sizeof *out);
	ssize_t n;

	(void)state;
	assert_non_null(out);
	in->default_action = SG_ACT_ERRNO;
	in->default_errno = EPERM;
	in->n_allow = 3;
	in->allow[0] = SYS_read;
	in->allow[1] = SYS_write;
	in->allow[2] = SYS_exit_group;
	n = sg_proto_encode_spec(in, buf, sizeof buf);
	assert_int_equal(n, HDR + 32 + 4 * 2 + 8 * 2 + 4 * 1 + 4 * 3);
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), 0);
	assert_int_equal(out->n_allow, 3);
	assert_int_equal(out->allow[2], SYS_exit_group);
	assert_int_equal(out->n_kill, 1);
	assert_int_equal(out->kill[0], SYS_reboot);
	put32(buf, SP_RES1, 2); /* the count must match the bytes */
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), -EBADMSG);
	put32(buf, SP_RES1, 3);
	put32(buf, SP_NBPF, 3); /* so must n_bpf's */
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), -EBADMSG);
	put32(buf, SP_NBPF, 0);
	put32(buf, (size_t)n - 4, SYS_openat); /* in notify too */
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), -EBADMSG);
	in->allow[2] = SYS_ptrace; /* in deny too */
	assert_int_equal(sg_proto_encode_spec(in, buf, sizeof buf), -EBADMSG);
	in->n_allow = SG_PROTO_MAX_RULES + 1;
	assert_int_equal(sg_proto_encode_spec(in, buf, sizeof buf), -EMSGSIZE);
	free(in);
	free(out);
}

/* ---- the guard of every compiled filter (supervisor/filter.c) ---- */

#define KILLED 9999 /* the probe's process is killed by the filter */

/* What one probe of the guard gives: 0, a negative errno, or KILLED. */
typedef struct guard_want {
	int listener, avail, uffd_ioctl, other_ioctl, uffd; /* uffd last: it may kill */
} guard_want_t;

static int probe_call(int i)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { 1, allow };
	uint32_t act = SECCOMP_RET_ALLOW;
	long r = -1;

	switch (i) {
	case 0:
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    (1UL << 32) | SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		break;
	case 1:
		r = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act);
		break;
	case 2:
		r = syscall(SYS_ioctl, -1, (1UL << 32) | 0xAA00UL /* USERFAULTFD_IOC_NEW */, 0);
		break;
	case 3:
		r = syscall(SYS_ioctl, -1, FIONREAD, &act);
		break;
	default:
		r = syscall(SYS_userfaultfd, O_CLOEXEC);
		break;
	}
	return r < 0 ? -errno : 0;
}

/* Compiles sp's filter and loads it (no listener: a forwarded call is
 * ENOSYS) in a child that makes the probes and exits with the index of the
 * first wrong one plus 1, or 0. Frees sp. */
static void check_guard(sg_spec_t *sp, const guard_want_t *w)
{
	const int want[5] = { w->listener, w->avail, w->uffd_ioctl, w->other_ioctl, w->uffd };
	struct sock_fprog prog;
	char why[256];
	int status;
	pid_t pid;

	assert_int_equal(filter_compile(sp, why, sizeof why), 0);
	prog = (struct sock_fprog){ (unsigned short)sp->n_bpf, sp->bpf };
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			syscall(SYS_exit_group, 100);
		/* exit_group itself: the sanitizers' _exit makes calls of its own
		 * (mmap), which a default deny refuses. */
		for (int i = 0; i < 5; i++)
			if (probe_call(i) != want[i])
				syscall(SYS_exit_group, i + 1);
		syscall(SYS_exit_group, 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(sp);
	if (w->uffd == KILLED && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		return;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("probe %d was wrong (status 0x%x)", WIFEXITED(status) ? WEXITSTATUS(status) - 1 : -1,
			 status);
}

static sg_spec_t *guard_spec(uint32_t def, uint32_t err)
{
	sg_spec_t *sp = calloc(1, sizeof *sp);

	assert_non_null(sp);
	sp->default_action = def;
	sp->default_errno = err;
	if (def != SG_ACT_ALLOW)
		sp->allow[sp->n_allow++] = SYS_exit_group;
	return sp;
}

/* Whatever the spec says of seccomp, ioctl and userfaultfd (forwarded,
 * allowed or denied in the kernel, left to a default of allow, notify,
 * deny or kill), a listener, USERFAULTFD_IOC_NEW and userfaultfd are
 * refused (EPERM) unless the spec refuses them itself, the upper half of
 * a 32-bit argument does not matter, and every other seccomp and ioctl
 * call gets what the spec says. */
static void test_filter_guard(void **state)
{
	sg_spec_t *sp;

	(void)state;
	sp = guard_spec(SG_ACT_ALLOW, 0); /* nothing named */
	check_guard(sp, &(guard_want_t){ -EPERM, 0, -EPERM, -EBADF, -EPERM });

	sp = guard_spec(SG_ACT_ALLOW, 0); /* forwarded */
	sp->notify[sp->n_notify++] = SYS_seccomp;
	sp->notify[sp->n_notify++] = SYS_ioctl;
	sp->notify[sp->n_notify++] = SYS_userfaultfd;
	check_guard(sp, &(guard_want_t){ -EPERM, -ENOSYS, -EPERM, -ENOSYS, -EPERM });

	sp = guard_spec(SG_ACT_ALLOW, 0); /* denied in the kernel: the policy's errno */
	sp->deny[sp->n_deny++] = (sg_spec_errno_t){ SYS_seccomp, EACCES };
	sp->deny[sp->n_deny++] = (sg_spec_errno_t){ SYS_ioctl, EACCES };
	sp->deny[sp->n_deny++] = (sg_spec_errno_t){ SYS_userfaultfd, EACCES };
	check_guard(sp, &(guard_want_t){ -EACCES, -EACCES, -EACCES, -EACCES, -EACCES });

	sp = guard_spec(SG_ACT_ERRNO, EPERM); /* allowed under a default deny */
	sp->allow[sp->n_allow++] = SYS_seccomp;
	sp->allow[sp->n_allow++] = SYS_ioctl;
	sp->allow[sp->n_allow++] = SYS_userfaultfd;
	check_guard(sp, &(guard_want_t){ -EPERM, 0, -EPERM, -EBADF, -EPERM });

	sp = guard_spec(SG_ACT_ERRNO, EACCES); /* the same, another errno */
	sp->allow[sp->n_allow++] = SYS_seccomp;
	sp->allow[sp->n_allow++] = SYS_ioctl;
	sp->allow[sp->n_allow++] = SYS_userfaultfd;
	check_guard(sp, &(guard_want_t){ -EPERM, 0, -EPERM, -EBADF, -EPERM });

	sp = guard_spec(SG_ACT_ERRNO, EACCES); /* left to a default deny */
	check_guard(sp, &(guard_want_t){ -EACCES, -EACCES, -EACCES, -EACCES, -EACCES });

	sp = guard_spec(SG_ACT_NOTIFY, 0); /* left to a default notify (learn mode) */
	check_guard(sp, &(guard_want_t){ -EPERM, -ENOSYS, -EPERM, -ENOSYS, -EPERM });

	sp = guard_spec(SG_ACT_KILL, 0); /* a default kill; forwarded and allowed */
	sp->notify[sp->n_notify++] = SYS_seccomp;
	sp->allow[sp->n_allow++] = SYS_ioctl;
	check_guard(sp, &(guard_want_t){ -EPERM, -ENOSYS, -EPERM, -EBADF, KILLED });
}

/* The compiled program follows the lists, 8 bytes an instruction, and
 * comes back exactly; its count is bounded by BPF_MAXINSNS, and a SPEC
 * with every list and the program full still fits in a message. */
static void test_spec_bpf(void **state)
{
	sg_spec_t *in = sample_spec();
	sg_spec_t *out = calloc(1, sizeof *out);
	char why[256];
	ssize_t n;

	(void)state;
	assert_non_null(out);
	/* libseccomp refuses a number no syscall has (and errno 4095). */
	assert_int_equal(filter_compile(in, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "building the filter"));
	in->deny[1] = (sg_spec_errno_t){ SYS_bpf, EPERM };
	assert_int_equal(filter_compile(in, why, sizeof why), 0);
	assert_true(in->n_bpf > 8);
	n = sg_proto_encode_spec(in, buf, sizeof buf);
	assert_int_equal(n, HDR + 32 + 4 * 2 + 8 * 2 + 4 * 1 + 8 * in->n_bpf);
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), 0);
	assert_int_equal(out->n_bpf, in->n_bpf);
	assert_memory_equal(out->bpf, in->bpf, sizeof in->bpf[0] * in->n_bpf);
	/* The wire order is code, jt, jf, k. */
	{
		struct sock_filter last = in->bpf[in->n_bpf - 1];
		const unsigned char *w = buf + n - 8;
		uint16_t code;
		uint32_t k;

		memcpy(&code, w, 2);
		memcpy(&k, w + 4, 4);
		assert_int_equal(code, last.code);
		assert_int_equal(w[2], last.jt);
		assert_int_equal(w[3], last.jf);
		assert_int_equal(k, last.k);
	}
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n - 8, out), -EBADMSG);
	in->n_bpf = SG_PROTO_MAX_BPF + 1;
	assert_int_equal(sg_proto_encode_spec(in, buf, sizeof buf), -EMSGSIZE);

	memset(in, 0, sizeof *in);
	in->n_notify = in->n_deny = in->n_kill = in->n_allow = SG_PROTO_MAX_RULES;
	in->default_action = SG_ACT_ERRNO;
	in->default_errno = EPERM;
	for (uint32_t i = 0; i < SG_PROTO_MAX_RULES; i++) {
		in->notify[i] = i;
		in->deny[i] = (sg_spec_errno_t){ SG_PROTO_MAX_RULES + i, 1 };
		in->kill[i] = 2 * SG_PROTO_MAX_RULES + i;
		in->allow[i] = 3 * SG_PROTO_MAX_RULES + i;
	}
	in->n_bpf = SG_PROTO_MAX_BPF;
	n = sg_proto_encode_spec(in, buf, sizeof buf);
	assert_true(n > 0 && n <= (ssize_t)SG_PROTO_MAX_MSG);
	assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, out), 0);
	assert_int_equal(out->n_bpf, SG_PROTO_MAX_BPF);
	free(in);
	free(out);
}

static void test_spec_content(void **state)
{
	/* Layout: notify[2] at SP_ARRAYS, deny[2] after, kill[1] last. */
	const size_t notify0 = SP_ARRAYS, deny0 = SP_ARRAYS + 8, kill0 = SP_ARRAYS + 24;

	assert_int_equal(spec_patched(SP_RES1, 1), -EBADMSG);
	assert_int_equal(spec_patched(SP_NBPF, 1), -EBADMSG); /* n_bpf vs length */
	assert_int_equal(spec_patched(SP_NBPF, SG_PROTO_MAX_BPF + 1), -EMSGSIZE);
	assert_int_equal(spec_patched(SP_NNOTIFY, SG_PROTO_MAX_RULES + 1), -EMSGSIZE);
	assert_int_equal(spec_patched(SP_NNOTIFY + 4, SG_PROTO_MAX_RULES + 1), -EMSGSIZE);
	assert_int_equal(spec_patched(SP_NNOTIFY + 8, 0xffffffffu), -EMSGSIZE);
	assert_int_equal(spec_patched(SP_NNOTIFY, 3), -EBADMSG);   /* counts vs length */
	assert_int_equal(spec_patched(SP_NNOTIFY, 1), -EBADMSG);
	assert_int_equal(spec_patched(notify0, SG_PROTO_MAX_NR + 1), -EBADMSG);
	assert_int_equal(spec_patched(notify0, 0xffffffffu), -EBADMSG);
	assert_int_equal(spec_patched(kill0, SYS_openat), -EBADMSG);      /* across lists */
	assert_int_equal(spec_patched(deny0, SYS_connect), -EBADMSG);     /* across lists */
	assert_int_equal(spec_patched(notify0 + 4, SYS_openat), -EBADMSG); /* within a list */
	assert_int_equal(spec_patched(deny0 + 4, 0), -EBADMSG);
	assert_int_equal(spec_patched(deny0 + 4, 4096), -EBADMSG);
	assert_int_equal(spec_patched(deny0 + 4, 4095), 0);
	assert_int_equal(spec_patched(SP_ACT, 4), -EBADMSG);
	assert_int_equal(spec_patched(SP_ACT, 0xffffffffu), -EBADMSG);
	assert_int_equal(spec_patched(SP_ACT, SG_ACT_NOTIFY), 0);
	assert_int_equal(spec_patched(SP_ACT, SG_ACT_KILL), 0);
	assert_int_equal(spec_patched(SP_ACT, SG_ACT_ERRNO), -EBADMSG); /* errno 0 */
	assert_int_equal(spec_patched(SP_ERR, EPERM), -EBADMSG);        /* ALLOW with errno */

	/* Default ERRNO needs 1..4095. */
	{
		static sg_spec_t out;
		ssize_t n = enc_spec();

		put32(buf, SP_ACT, SG_ACT_ERRNO);
		put32(buf, SP_ERR, 4096);
		assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, &out), -EBADMSG);
		put32(buf, SP_ERR, 1);
		assert_int_equal(sg_proto_decode_spec(buf, (size_t)n, &out), 0);
	}

	/* The encoder refuses a spec the decoder would. */
	assert_int_equal(spec_encoded(mod_dup_across), -EBADMSG);
	assert_int_equal(spec_encoded(mod_dup_within), -EBADMSG);
	assert_int_equal(spec_encoded(mod_nr_over), -EBADMSG);
	assert_int_equal(spec_encoded(mod_errno0), -EBADMSG);
	assert_int_equal(spec_encoded(mod_count_over), -EMSGSIZE);
}

/* ---- REFUSE, LISTENER content --------------------------------------- */

static void test_refuse_listener_content(void **state)
{
	sg_refuse_t r;
	ssize_t n = enc_refuse();
	size_t rlen = strlen("no policy named 'x'");

	put16(buf, HDR + 4, (uint16_t)(rlen - 1)); /* reason_len mismatch */
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);
	put16(buf, HDR + 4, (uint16_t)(rlen + 1));
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);
	put16(buf, HDR + 4, SG_PROTO_MAX_REASON + 1);
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EMSGSIZE);
	put16(buf, HDR + 4, (uint16_t)rlen);
	put16(buf, HDR + 6, 1); /* reserved */
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);
	put16(buf, HDR + 6, 0);
	put32(buf, HDR, 0); /* code */
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);
	put32(buf, HDR, 4096);
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);
	put32(buf, HDR, ENOENT);
	buf[HDR + 8] = '\n'; /* log injection */
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);
	buf[HDR + 8] = '\0';
	assert_int_equal(sg_proto_decode_refuse(buf, (size_t)n, &r), -EBADMSG);

	memset(&r, 0, sizeof r);
	r.code = 0;
	assert_int_equal(sg_proto_encode_refuse(&r, buf, sizeof buf), -EBADMSG);
	r.code = 1;
	strcpy(r.reason, "line\nbreak");
	assert_int_equal(sg_proto_encode_refuse(&r, buf, sizeof buf), -EBADMSG);

	n = enc_listener();
	put32(buf, HDR, 1);
	assert_int_equal(sg_proto_decode_listener(buf, (size_t)n), -EBADMSG);
	put32(buf, HDR, 0);
	put32(buf, HDR + 4, 1);
	assert_int_equal(sg_proto_decode_listener(buf, (size_t)n), -EBADMSG);
}

/* ---- sg_proto_send / sg_proto_recv over a socketpair ---------------- */

static int sp[2];

static int setup_pair(void **state)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp);
}

static int teardown_pair(void **state)
{
	close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	return 0;
}

/* Sends len bytes with n fds in one SCM_RIGHTS message (more than
 * sg_proto_send ever does). */
static void send_fds(int sock, const void *p, size_t len, const int *fds, size_t n)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(&ctl, 0, sizeof ctl);
	msg.msg_control = ctl.b;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* True if writing through fd shows up at the read end r of a pipe. */
static int pipe_works(int fd, int r)
{
	char c = 0;

	return write(fd, "z", 1) == 1 && read(r, &c, 1) == 1 && c == 'z';
}

static void test_recv_no_fd(void **state)
{
	unsigned char in[128];
	int fds[SG_PROTO_MAX_FDS];
	size_t nfds = 99;
	ssize_t n = enc_listener();

	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, -1), 0);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), n);
	assert_int_equal(nfds, 0);
	assert_int_equal(sg_proto_decode_listener(in, (size_t)n), 0);
}

static void test_recv_one_fd(void **state)
{
	unsigned char in[128];
	int p[2], fds[SG_PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n = enc_listener();

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, p[1]), 0);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), n);
	assert_int_equal(nfds, 1);
	assert_int_not_equal(fds[0], p[1]);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_true(pipe_works(fds[0], p[0]));
	close(fds[0]);
	close(p[0]);
	close(p[1]);
}

static void test_recv_fd_zero(void **state)
{
	unsigned char in[128];
	int p[2], fds[SG_PROTO_MAX_FDS];
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	size_t nfds;
	ssize_t n = enc_listener();

	assert_true(saved >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dup2(p[1], 0), 0);
	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, 0), 0);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), n);
	assert_int_equal(nfds, 1);
	assert_true(pipe_works(fds[0], p[0]));
	close(fds[0]);
	close(p[0]);
	close(p[1]);

	/* And a receiver whose fd 0 is free gets the fd as 0, and keeps it. */
	saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(0);
	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, p[1]), 0);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), n);
	assert_int_equal(nfds, 1);
	assert_int_equal(fds[0], 0);
	assert_true(pipe_works(0, p[0]));
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	close(p[0]);
	close(p[1]);
}

static void test_recv_two_fds(void **state)
{
	unsigned char in[128];
	int p[2], fds[SG_PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n = enc_listener();

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	send_fds(sp[0], buf, (size_t)n, p, 2);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), n);
	assert_int_equal(nfds, 2);
	assert_true(pipe_works(fds[1], fds[0]));
	close(fds[0]);
	close(fds[1]);
	close(p[0]);
	close(p[1]);
}

static void test_recv_too_many_fds(void **state)
{
	unsigned char in[128];
	int p[2], many[SG_PROTO_MAX_FDS + 3], fds[SG_PROTO_MAX_FDS];
	size_t nfds = 99;
	ssize_t n = enc_listener();
	int before;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	for (size_t i = 0; i < SG_PROTO_MAX_FDS + 3; i++)
		many[i] = p[i % 2];
	send_fds(sp[0], buf, (size_t)n, many, SG_PROTO_MAX_FDS + 1);
	send_fds(sp[0], buf, (size_t)n, many, SG_PROTO_MAX_FDS + 3);
	before = count_fds();
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), -EBADMSG);
	assert_int_equal(nfds, 0);
	assert_int_equal(count_fds(), before);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), -EBADMSG);
	assert_int_equal(count_fds(), before);

	/* Exactly SG_PROTO_MAX_FDS is still a well-formed receive. */
	send_fds(sp[0], buf, (size_t)n, many, SG_PROTO_MAX_FDS);
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), n);
	assert_int_equal(nfds, SG_PROTO_MAX_FDS);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	assert_int_equal(count_fds(), before);
	close(p[0]);
	close(p[1]);
}

static void test_recv_truncated(void **state)
{
	unsigned char in[16];
	int p[2], fds[SG_PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n = enc_spec();
	int before;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, p[0]), 0);
	before = count_fds();
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), -EBADMSG);
	assert_int_equal(count_fds(), before);
	close(p[0]);
	close(p[1]);
}

static void test_recv_fd_refused_without_room(void **state)
{
	unsigned char in[128];
	int p[2];
	ssize_t n = enc_listener();
	int before;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, p[0]), 0);
	before = count_fds();
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, NULL, NULL), -EBADMSG);
	assert_int_equal(count_fds(), before);
	close(p[0]);
	close(p[1]);
}

static void test_recv_foreign_cmsg(void **state)
{
	unsigned char in[128];
	int p[2], one = 1, fds[SG_PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n = enc_listener();
	int before;

	/* With SO_PASSCRED every message carries SCM_CREDENTIALS too. */
	assert_int_equal(setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(sg_proto_send(sp[0], buf, (size_t)n, p[0]), 0);
	before = count_fds();
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), -EBADMSG);
	assert_int_equal(count_fds(), before);
	close(p[0]);
	close(p[1]);
}

static void test_recv_peer_closed(void **state)
{
	unsigned char in[128];
	int fds[SG_PROTO_MAX_FDS];
	size_t nfds = 99;
	ssize_t n = enc_listener();

	close(sp[0]);
	sp[0] = -1;
	assert_int_equal(sg_proto_recv(sp[1], in, sizeof in, fds, &nfds), 0);
	assert_int_equal(nfds, 0);
	/* And the other way: no SIGPIPE, just -EPIPE. */
	assert_int_equal(sg_proto_send(sp[1], buf, (size_t)n, -1), -EPIPE);
	sp[0] = dup(sp[1]);
}

/* ---- the handoff against a fake supervisor -------------------------- */

enum variant {
	V_NOTIFY_SOME,   /* default allow, getppid notified, getsid denied */
	V_NOTIFY_ALL,    /* default notify: every syscall of the target forwarded */
	V_REFUSE,        /* the supervisor refuses the policy */
	V_WRONG_ARCH,    /* the spec is for another arch */
	V_DROP_LISTENER, /* the supervisor takes the listener and hangs up */
	V_NOTHING,       /* the spec notifies nothing: a listener still exists */
	/* The shim hands the listener over itself when the filter lets the
	 * handoff's calls through (V_NOTIFY_SOME, V_NOTHING), and from a
	 * helper thread otherwise (V_NOTIFY_ALL). */
	V_DIRECT_NO_THREAD, /* as V_NOTIFY_SOME, in a child that cannot start threads */
	V_HELPER_NO_THREAD, /* as V_NOTIFY_ALL, in a child that cannot start threads */
	V_DROP_DIRECT,      /* as V_DROP_LISTENER, with the direct handoff */
	V_SILENT_DIRECT,    /* the supervisor takes the listener and the proof, and never answers */
	V_NO_BPF,           /* a SPEC without its compiled filter (an older sysgated) */
	V_NO_PROBE,         /* as V_NOTIFY_SOME, where probing the kernel would fail */
};

#define CHILD_FAILED_STATUS 99
#define FAKE_TARGET_ID 77u
#define EMULATED_PPID 4242

static char sockdir[64], sockpath[128];
static int errpipe[2]; /* the child's stderr */

/* The spec each variant is served: the direct ones are V_NOTIFY_SOME's. */
static enum variant spec_of(enum variant v)
{
	switch (v) {
	case V_DIRECT_NO_THREAD:
	case V_DROP_DIRECT:
	case V_SILENT_DIRECT:
	case V_NO_PROBE:
		return V_NOTIFY_SOME;
	case V_HELPER_NO_THREAD:
		return V_NOTIFY_ALL;
	default:
		return v;
	}
}

/* 1 if this process holds a seccomp listener fd. */
static int holds_listener(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p[300], l[128];
		ssize_t n;

		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		n = readlink(p, l, sizeof l - 1);
		if (n > 0) {
			l[n] = '\0';
			if (strstr(l, "seccomp notify"))
				found = 1;
		}
	}
	closedir(d);
	return found;
}

/* The target: exit 0 when all it saw was right, else a code saying what. */
static _Noreturn void child_main(enum variant v)
{
	const char *labels[] = { "tenant=acme" };
	sg_shim_opts_t o = {
		.socket_path = sockpath, .policy = "test", .labels = labels, .nlabels = 1,
		.timeout_ms = 5000, .exit_status = CHILD_FAILED_STATUS, .progname = "test-target",
	};
	char err[512];
	sigset_t mask;
	sg_shim_t *s;
	int rc;

	alarm(20); /* a deadlock fails the test instead of hanging it */
	dup2(errpipe[1], STDERR_FILENO);
	if (v == V_SILENT_DIRECT)
		o.timeout_ms = 300;
	/* glibc starts threads with clone3 and falls back to clone only
	 * when clone3 is missing (ENOSYS). */
	if ((v == V_DIRECT_NO_THREAD || v == V_HELPER_NO_THREAD) &&
	    load_fail_call(SYS_clone3, EPERM) < 0)
		_exit(30);
	/* The shim loads the filter it is sent and asks the kernel nothing
	 * first (libseccomp's probe, when the shim built the filter, made
	 * nine calls in every child, and this one failing hid NOTIFY). */
	if (v == V_NO_PROBE &&
	    load_fail_filter(SYS_seccomp, 0, SECCOMP_GET_ACTION_AVAIL, EPERM) < 0)
		_exit(31);
	/* A signal blocked before the handoff stays blocked, and one that
	 * was not is not: the direct handoff restores the mask it found. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	rc = sg_shim_connect(&o, &s, err, sizeof err);
	if (v == V_REFUSE)
		_exit(rc == -ENOENT && strcmp(err, "policy 'test' refused: no such policy") == 0 ? 0 : 20);
	if (v == V_WRONG_ARCH)
		_exit(rc == -ENOEXEC && strstr(err, "arch") ? 0 : 21);
	if (v == V_NO_BPF)
		_exit(rc == -EPROTO && strstr(err, "sent no filter for policy 'test'") ? 0 : 25);
	if (rc < 0)
		_exit(10);
	rc = sg_shim_enter(s, err, sizeof err);
	if (v == V_HELPER_NO_THREAD)
		_exit(rc == -EPERM && strstr(err, "starting the handoff thread") &&
		      syscall(SYS_getppid) == getppid() ? 0 : 24);
	if (rc < 0)
		_exit(v == V_DROP_LISTENER ? 22 : 11);
	if (v == V_DROP_LISTENER || v == V_DROP_DIRECT || v == V_SILENT_DIRECT)
		_exit(23); /* the handoff should have ended the process */
	if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0 || !sigismember(&mask, SIGUSR1) ||
	    sigismember(&mask, SIGUSR2))
		_exit(17);
	if (holds_listener() != 0)
		_exit(12);
	if (sg_shim_target_id(s) != FAKE_TARGET_ID)
		_exit(15);
	v = spec_of(v);
	if (v != V_NOTHING && syscall(SYS_getppid) != EMULATED_PPID)
		_exit(13);
	if (v != V_NOTHING && (syscall(SYS_getsid, 0) != -1 || errno != EACCES))
		_exit(14);
	if (v == V_NOTHING && syscall(SYS_getppid) != getppid())
		_exit(16);
	_exit(0);
}

static sg_spec_t *variant_spec(enum variant v)
{
	sg_spec_t *s = calloc(1, sizeof *s);

	assert_non_null(s);
	s->arch = v == V_WRONG_ARCH ? seccomp_arch_native() ^ 0x1u : seccomp_arch_native();
	if (v == V_NOTIFY_ALL || v == V_DROP_LISTENER) {
		s->default_action = SG_ACT_NOTIFY;
	} else if (v != V_NOTHING) {
		s->n_notify = 1;
		s->notify[0] = SYS_getppid;
	}
	if (v != V_NOTHING) {
		s->n_deny = 1;
		s->deny[0] = (sg_spec_errno_t){ SYS_getsid, EACCES };
	}
	return s;
}

static int accept_timeout(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static ssize_t recv_timeout(int fd, void *p, size_t cap, int *fds, size_t *nfds)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&pf, 1, 10000), 1);
	return sg_proto_recv(fd, p, cap, fds, nfds);
}

/* Answers one notification: getppid is emulated, the rest continues. */
static void serve_one(int nfd, const struct seccomp_notif_sizes *sz)
{
	struct seccomp_notif *req = calloc(1, sz->seccomp_notif);
	struct seccomp_notif_resp *resp = calloc(1, sz->seccomp_notif_resp);

	assert_non_null(req);
	assert_non_null(resp);
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
		resp->id = req->id;
		if (req->data.nr == SYS_getppid)
			resp->val = EMULATED_PPID;
		else
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		/* ENOENT: the target went away meanwhile, which is fine. */
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0)
			assert_int_equal(errno, ENOENT);
	}
	free(req);
	free(resp);
}

/* Serves notifications until the child is reaped; returns its wait status. */
static int serve_until_exit(int nfd, pid_t pid, unsigned *served)
{
	struct seccomp_notif_sizes sz;
	int64_t deadline = time(NULL) + 30;
	int status;

	assert_int_equal(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz), 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };

		assert_true(time(NULL) < deadline);
		if (poll(&p, 1, 20) > 0 && (p.revents & POLLIN)) {
			serve_one(nfd, &sz);
			(*served)++;
		}
	}
	return status;
}

/* The proof call (protocol.h): the first call on the listener, the
 * shim's prctl from the target's own process, answered with 0. */
static void serve_proof(int nfd, pid_t pid)
{
	struct seccomp_notif_sizes sz;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct pollfd p = { .fd = nfd, .events = POLLIN };

	assert_int_equal(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz), 0);
	req = calloc(1, sz.seccomp_notif);
	resp = calloc(1, sz.seccomp_notif_resp);
	assert_non_null(req);
	assert_non_null(resp);
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req), 0);
	assert_int_equal(req->data.nr, SYS_prctl);
	assert_int_equal((uint32_t)req->data.args[0], SG_PROTO_PROOF_OPTION);
	assert_int_equal(req->pid, pid); /* the child is single-threaded or its main thread loads */
	resp->id = req->id;
	assert_int_equal(ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp), 0);
	free(req);
	free(resp);
}

static void handshake(int c, enum variant v, int *nfd)
{
	unsigned char in[SG_PROTO_MAX_MSG];
	sg_hello_t h;
	sg_spec_t *spec;
	int fds[SG_PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n = recv_timeout(c, in, sizeof in, fds, &nfds);

	assert_true(n > 0);
	assert_int_equal(nfds, 0);
	assert_int_equal(sg_proto_decode_hello(in, (size_t)n, &h), 0);
	assert_string_equal(h.policy, "test");
	assert_int_equal(h.nlabels, 1);
	assert_string_equal(h.labels[0].value, "acme");
	if (v == V_REFUSE) {
		sg_refuse_t r = { .code = ENOENT, .reason = "no such policy" };

		n = sg_proto_encode_refuse(&r, buf, sizeof buf);
		assert_int_equal(sg_proto_send(c, buf, (size_t)n, -1), 0);
		return;
	}
	spec = variant_spec(spec_of(v));
	if (v != V_NO_BPF) {
		char why[256];

		assert_int_equal(filter_compile(spec, why, sizeof why), 0);
	}
	n = sg_proto_encode_spec(spec, buf, sizeof buf);
	free(spec);
	assert_true(n > 0);
	assert_int_equal(sg_proto_send(c, buf, (size_t)n, -1), 0);
	if (v == V_WRONG_ARCH || v == V_HELPER_NO_THREAD || v == V_NO_BPF)
		return;
	n = recv_timeout(c, in, sizeof in, fds, &nfds);
	assert_true(n > 0);
	assert_int_equal(nfds, 1);
	assert_int_equal(sg_proto_decode_listener(in, (size_t)n), 0);
	*nfd = fds[0];
}

static void run_variant(enum variant v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, c, nfd = -1, status;
	unsigned served = 0;
	char errout[1024] = "";
	ssize_t errlen;
	pid_t pid;

	strcpy(sa.sun_path, sockpath);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(pipe2(errpipe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_main(v);
	close(errpipe[1]);
	c = accept_timeout(lfd);
	assert_true(c >= 0);
	handshake(c, v, &nfd);
	if (nfd >= 0 && v != V_DROP_LISTENER && v != V_DROP_DIRECT)
		serve_proof(nfd, pid);
	if (nfd >= 0 && v == V_SILENT_DIRECT) {
		/* Listener taken, socket open, no READY: the shim gives up. */
		assert_int_equal(waitpid(pid, &status, 0), pid);
		close(nfd);
		nfd = -1;
	} else if (nfd >= 0 && (v == V_DROP_LISTENER || v == V_DROP_DIRECT)) {
		/* The supervisor dies with the listener: fail closed. */
		close(nfd);
		nfd = -1;
		close(c);
		c = -1;
	} else if (nfd >= 0) {
		sg_ready_t r = { FAKE_TARGET_ID };
		ssize_t n = sg_proto_encode_ready(&r, buf, sizeof buf);

		assert_int_equal(sg_proto_send(c, buf, (size_t)n, -1), 0);
	}
	if (nfd >= 0) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };

		status = serve_until_exit(nfd, pid, &served);
		if (v != V_NOTHING)
			assert_true(served > 0);
		/* The target is gone: its listener says so. */
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_true(p.revents & POLLHUP);
		close(nfd);
	} else if (v != V_SILENT_DIRECT) {
		assert_int_equal(waitpid(pid, &status, 0), pid);
	}
	if (c >= 0)
		close(c);
	close(lfd);
	unlink(sockpath);
	errlen = read(errpipe[0], errout, sizeof errout - 1);
	close(errpipe[0]);
	errout[errlen > 0 ? errlen : 0] = '\0';
	assert_true(WIFEXITED(status));
	switch (v) {
	case V_DROP_LISTENER:
	case V_DROP_DIRECT:
		assert_int_equal(WEXITSTATUS(status), CHILD_FAILED_STATUS);
		assert_non_null(strstr(errout, "test-target: handing over the listener: "));
		break;
	case V_SILENT_DIRECT:
		assert_int_equal(WEXITSTATUS(status), CHILD_FAILED_STATUS);
		assert_non_null(strstr(errout, "no answer from the supervisor within 300 ms"));
		break;
	default:
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_string_equal(errout, "");
	}
}

static int setup_sockdir(void **state)
{
	strcpy(sockdir, "/tmp/sg-test-proto.XXXXXX");
	if (!mkdtemp(sockdir))
		return -1;
	snprintf(sockpath, sizeof sockpath, "%s/sock", sockdir);
	return 0;
}

static int teardown_sockdir(void **state)
{
	unlink(sockpath);
	return rmdir(sockdir);
}

static void test_handoff_notify_some(void **state) { run_variant(V_NOTIFY_SOME); }
static void test_handoff_notify_all(void **state) { run_variant(V_NOTIFY_ALL); }
static void test_handoff_refuse(void **state) { run_variant(V_REFUSE); }
static void test_handoff_wrong_arch(void **state) { run_variant(V_WRONG_ARCH); }
static void test_handoff_drop_listener(void **state) { run_variant(V_DROP_LISTENER); }
static void test_handoff_nothing_notified(void **state) { run_variant(V_NOTHING); }
static void test_handoff_direct_no_thread(void **state) { run_variant(V_DIRECT_NO_THREAD); }
static void test_handoff_helper_no_thread(void **state) { run_variant(V_HELPER_NO_THREAD); }
static void test_handoff_drop_direct(void **state) { run_variant(V_DROP_DIRECT); }
static void test_handoff_silent_direct(void **state) { run_variant(V_SILENT_DIRECT); }
static void test_handoff_no_bpf(void **state) { run_variant(V_NO_BPF); }
static void test_handoff_no_probe(void **state) { run_variant(V_NO_PROBE); }

/* A child that loads the filter hiding GET_ACTION_AVAIL, then calls
 * sg_shim_prepare(): exits with 10 + the errno it returned. */
static int prepare_child(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		/* The call sg_shim_prepare() asks the kernel with. */
		if (load_fail_filter(SYS_seccomp, 0, SECCOMP_GET_ACTION_AVAIL, EPERM) < 0)
			_exit(90);
		_exit(10 - sg_shim_prepare());
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* sg_shim_prepare() probes the kernel in the process that calls it and a
 * forked child keeps the answer instead of probing again: a child that
 * prepares after losing one of the probe's calls sees no user
 * notification (-ENOSYS), a child whose parent prepared first still sees
 * it. (The test process itself never probes, or both children would
 * inherit its answer.) */
static void test_prepare_is_inherited(void **state)
{
	(void)state;
	assert_int_equal(prepare_child(), 10 + ENOSYS);
	assert_int_equal(sg_shim_prepare(), 0);
	assert_int_equal(prepare_child(), 10);
}

static void test_connect_errors(void **state)
{
	const char *bad[] = { "novalue" };
	const char *dup[] = { "a=1", "a=2" };
	sg_shim_opts_t o = { .socket_path = sockpath, .policy = "x" };
	char err[512];
	sg_shim_t *s = (sg_shim_t *)&o;
	int before = count_fds();

	assert_int_equal(sg_shim_connect(&o, &s, err, sizeof err), -ENOENT); /* no socket */
	assert_null(s);
	assert_non_null(strstr(err, sockpath));
	o.policy = "bad name";
	assert_int_equal(sg_shim_connect(&o, &s, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "bad name"));
	o.policy = "x";
	o.labels = bad;
	o.nlabels = 1;
	assert_int_equal(sg_shim_connect(&o, &s, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "novalue"));
	o.labels = dup;
	o.nlabels = 2;
	assert_int_equal(sg_shim_connect(&o, &s, err, sizeof err), -EINVAL);
	o.nlabels = SG_PROTO_MAX_LABELS + 1;
	assert_int_equal(sg_shim_connect(&o, &s, err, sizeof err), -EINVAL);
	assert_int_equal(count_fds(), before);
	sg_shim_free(NULL);
}


/* ---- the sender's pidfd and the peer's identity (peer.c) ------------ */

/* The fd the next open would get: a leak shows as a higher one. */
static int next_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* SCM_PIDFD names the sender: this process, unfiltered, of its uid. A
 * receiver that wants no pidfd gets the message and no fd is left open. */
static void test_recv_pidfd_names_sender(void **state)
{
	unsigned char m[16];
	int sv[2], pidfd = -1, before;
	sg_peer_t p;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSPIDFD, &(int){ 1 }, sizeof(int)), 0);
	assert_int_equal(sg_proto_send(sv[0], "a", 1, -1), 0);
	assert_int_equal(sg_proto_recv_pidfd(sv[1], m, sizeof(m), NULL, NULL, &pidfd), 1);
	assert_true(pidfd >= 0);
	assert_int_equal(sg_peer_read_pidfd(pidfd, 0, &p), 0);
	assert_int_equal(p.pid, getpid());
	assert_int_equal(p.uid, geteuid());
	assert_false(sg_peer_filtered(&p));
	close(pidfd);
	before = next_fd();
	assert_int_equal(sg_proto_send(sv[0], "b", 1, -1), 0);
	assert_int_equal(sg_proto_recv(sv[1], m, sizeof(m), NULL, NULL), 1);
	assert_int_equal(next_fd(), before);
	close(sv[0]);
	close(sv[1]);
}

/* A sender under any seccomp filter reads as filtered; once it is gone
 * and reaped its pidfd reads as gone, not as whoever has its pid now. */
static void test_peer_filtered_and_gone(void **state)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };
	unsigned char m[16];
	int sv[2], pidfd = -1, status;
	sg_peer_t p;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSPIDFD, &(int){ 1 }, sizeof(int)), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[1]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ||
		    sg_proto_send(sv[0], "f", 1, -1) < 0)
			_exit(1);
		(void)!read(sv[0], m, 1); /* until the parent has read it */
		_exit(0);
	}
	assert_int_equal(sg_proto_recv_pidfd(sv[1], m, sizeof(m), NULL, NULL, &pidfd), 1);
	assert_true(pidfd >= 0);
	assert_int_equal(sg_peer_read_pidfd(pidfd, 0, &p), 0);
	assert_int_equal(p.pid, pid);
	assert_true(sg_peer_filtered(&p));
	assert_int_equal(p.seccomp, 2);
	close(sv[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(sg_peer_read_pidfd(pidfd, 0, &p), -ESRCH);
	close(pidfd);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_hello),
		cmocka_unit_test(test_roundtrip_spec),
		cmocka_unit_test(test_roundtrip_small),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_small_output_buffer),
		cmocka_unit_test(test_header_faults),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_hello_content),
		cmocka_unit_test(test_hello_mode),
		cmocka_unit_test(test_spec_allow),
		cmocka_unit_test(test_spec_bpf),
		cmocka_unit_test(test_filter_guard),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_spec_content),
		cmocka_unit_test(test_refuse_listener_content),
		cmocka_unit_test_setup_teardown(test_recv_no_fd, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_one_fd, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_fd_zero, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_two_fds, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_too_many_fds, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_truncated, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_fd_refused_without_room, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_foreign_cmsg, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_recv_peer_closed, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_connect_errors, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_notify_some, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_notify_all, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_nothing_notified, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_refuse, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_wrong_arch, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_drop_listener, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_direct_no_thread, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_helper_no_thread, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_drop_direct, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_silent_direct, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_no_bpf, setup_sockdir, teardown_sockdir),
		cmocka_unit_test_setup_teardown(test_handoff_no_probe, setup_sockdir, teardown_sockdir),
		cmocka_unit_test(test_prepare_is_inherited),
		cmocka_unit_test(test_recv_pidfd_names_sender),
		cmocka_unit_test(test_peer_filtered_and_gone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
