/*
 * proto.c: the sysgate wire protocol (include/sysgate/protocol.h).
 *
 * Encoders and decoders for the five messages, the validators they share
 * with the command line, and the two socket calls that move one message
 * (and at most the fds it carries) over a SOCK_SEQPACKET socket. Nothing
 * here logs or allocates; every function returns 0, a length, or a
 * negative errno.
 *
 * Every message is read through a bounded cursor, so a field can never be
 * read past the end of what arrived, and every decoder insists that the
 * fields account for exactly the bytes that arrived.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sysgate/protocol.h"

#define HDR_SIZE sizeof(sg_msg_header_t)
#define LABEL_MAX (SG_PROTO_MAX_KEY + 1 + SG_PROTO_MAX_VALUE) /* "key=value" */
#define HELLO_FIXED 8u   /* name_len, nlabels, flags */
#define HELLO_MODE_MASK 3u /* flags: the requested sg_mode_t; the other bits are zero */
#define SPEC_FIXED 32u   /* arch .. n_kill, n_allow, n_bpf */
#define REFUSE_FIXED 8u  /* code, reason_len, reserved */
#define LISTENER_BODY 8u /* flags, reserved */
#define READY_BODY 8u    /* target_id */

_Static_assert(sizeof(sg_msg_header_t) == 16, "header is 16 bytes on the wire");

/* A write cursor: put_* fail with -ENOBUFS instead of overrunning. */
typedef struct wcur {
	unsigned char *p;
	size_t cap, off;
} wcur_t;

/* A read cursor: get_* fail with -EBADMSG instead of overrunning. */
typedef struct rcur {
	const unsigned char *p;
	size_t len, off;
} rcur_t;

static int put_bytes(wcur_t *w, const void *src, size_t n)
{
	if (n > w->cap - w->off)
		return -ENOBUFS;
	if (n)
		memcpy(w->p + w->off, src, n);
	w->off += n;
	return 0;
}

static int put_u16(wcur_t *w, uint16_t v) { return put_bytes(w, &v, sizeof v); }
static int put_u32(wcur_t *w, uint32_t v) { return put_bytes(w, &v, sizeof v); }
static int put_u64(wcur_t *w, uint64_t v) { return put_bytes(w, &v, sizeof v); }

static int get_bytes(rcur_t *r, void *dst, size_t n)
{
	if (n > r->len - r->off)
		return -EBADMSG;
	if (n)
		memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}

/* Points *out at the next n bytes, without copying them. */
static int get_view(rcur_t *r, const void **out, size_t n)
{
	if (n > r->len - r->off)
		return -EBADMSG;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

static int get_u16(rcur_t *r, uint16_t *v) { return get_bytes(r, v, sizeof *v); }
static int get_u32(rcur_t *r, uint32_t *v) { return get_bytes(r, v, sizeof *v); }
static int get_u64(rcur_t *r, uint64_t *v) { return get_bytes(r, v, sizeof *v); }

/* Starts a message: the header's length is filled in by wfinish(). */
static int wstart(wcur_t *w, void *buf, size_t cap, sg_msg_type_t type)
{
	sg_msg_header_t h = {
		.magic = SG_PROTO_MAGIC,
		.version = SG_PROTO_VERSION,
		.type = (uint16_t)type,
	};

	w->p = buf;
	w->cap = buf ? cap : 0;
	w->off = 0;
	return put_bytes(w, &h, sizeof h);
}

static ssize_t wfinish(wcur_t *w)
{
	uint32_t len = (uint32_t)w->off;

	if (!w->p)
		return -ENOBUFS; /* never started: no header to finish */
	if (w->off > SG_PROTO_MAX_MSG)
		return -EMSGSIZE;
	memcpy(w->p + offsetof(sg_msg_header_t, length), &len, sizeof len);
	return (ssize_t)w->off;
}

/* Checks the header and the type, and leaves r just past the header. */
static int rstart(rcur_t *r, const void *buf, size_t len, sg_msg_type_t type)
{
	sg_msg_header_t h;
	int rc = sg_proto_check_header(buf, len, &h);

	if (rc < 0)
		return rc;
	if (h.type != type)
		return -EBADMSG;
	r->p = buf;
	r->len = len;
	r->off = HDR_SIZE;
	return 0;
}

/* A message is exactly as long as its fields say: no trailing bytes. */
static int rfinish(const rcur_t *r)
{
	return r->off == r->len ? 0 : -EBADMSG;
}

int sg_proto_check_header(const void *buf, size_t len, sg_msg_header_t *out)
{
	sg_msg_header_t h;

	if (!buf || len < HDR_SIZE)
		return -EBADMSG;
	if (len > SG_PROTO_MAX_MSG)
		return -EMSGSIZE;
	memcpy(&h, buf, sizeof h);
	if (h.magic != SG_PROTO_MAGIC)
		return -EBADMSG;
	if (h.version != SG_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h.length != len || h.reserved != 0)
		return -EBADMSG;
	if (h.type < SG_MSG_HELLO || h.type > SG_MSG_READY)
		return -EBADMSG;
	if (out)
		*out = h;
	return 0;
}

/* ---- validators ---------------------------------------------------- */

static bool name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* A name of n bytes: [A-Za-z0-9_.-]+, at most max bytes. */
static int check_name(const char *s, size_t n, size_t max)
{
	if (n == 0)
		return -EBADMSG;
	if (n > max)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i]))
			return -EBADMSG;
	return 0;
}

static int check_printable(const char *s, size_t n, size_t max)
{
	if (n > max)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++)
		if (!printable((unsigned char)s[i]))
			return -EBADMSG;
	return 0;
}

int sg_proto_valid_name(const char *s)
{
	if (!s)
		return -EINVAL;
	return check_name(s, strnlen(s, SG_PROTO_MAX_NAME + 1), SG_PROTO_MAX_NAME) < 0 ? -EINVAL : 0;
}

/* Splits n bytes of "key=value" (no NUL needed) into out; the key ends at
 * the first '=' so a value may contain '='. */
static int label_parse(const char *kv, size_t n, sg_label_t *out)
{
	const char *eq = memchr(kv, '=', n);
	size_t klen, vlen;
	int rc;

	if (!eq)
		return -EBADMSG;
	klen = (size_t)(eq - kv);
	vlen = n - klen - 1;
	rc = check_name(kv, klen, SG_PROTO_MAX_KEY);
	if (rc < 0)
		return rc;
	rc = check_printable(eq + 1, vlen, SG_PROTO_MAX_VALUE);
	if (rc < 0)
		return rc;
	memcpy(out->key, kv, klen);
	out->key[klen] = '\0';
	memcpy(out->value, eq + 1, vlen);
	out->value[vlen] = '\0';
	return 0;
}

int sg_proto_parse_label(const char *kv, sg_label_t *out)
{
	size_t n;

	if (!kv || !out)
		return -EINVAL;
	n = strnlen(kv, LABEL_MAX + 1);
	if (n > LABEL_MAX)
		return -EINVAL;
	return label_parse(kv, n, out) < 0 ? -EINVAL : 0;
}

static const char *const mode_names[] = { "policy", "enforce", "audit", "learn" };

int sg_proto_parse_mode(const char *s)
{
	for (int m = SG_MODE_ENFORCE; s && m <= SG_MODE_LEARN; m++)
		if (strcmp(s, mode_names[m]) == 0)
			return m;
	return -EINVAL;
}

const char *sg_proto_mode_name(uint32_t mode)
{
	return mode <= SG_MODE_LEARN ? mode_names[mode] : "unknown";
}

/* Checks a label held in a struct (both ends run this). */
static int label_check(const sg_label_t *l)
{
	size_t klen = strnlen(l->key, sizeof l->key);
	size_t vlen = strnlen(l->value, sizeof l->value);
	int rc;

	if (klen == sizeof l->key || vlen == sizeof l->value)
		return -EMSGSIZE;
	rc = check_name(l->key, klen, SG_PROTO_MAX_KEY);
	return rc < 0 ? rc : check_printable(l->value, vlen, SG_PROTO_MAX_VALUE);
}

/* Two labels with one key would make the target's identity ambiguous. */
static int labels_unique(const sg_label_t *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (strcmp(l[i].key, l[j].key) == 0)
				return -EBADMSG;
	return 0;
}

/* ---- HELLO --------------------------------------------------------- */

ssize_t sg_proto_encode_hello(const sg_hello_t *in, void *buf, size_t cap)
{
	size_t nlen = strnlen(in->policy, sizeof in->policy);
	wcur_t w = { 0 };
	int rc;

	if (nlen == sizeof in->policy || in->nlabels > SG_PROTO_MAX_LABELS)
		return -EMSGSIZE;
	if (in->mode & ~HELLO_MODE_MASK)
		return -EBADMSG;
	rc = check_name(in->policy, nlen, SG_PROTO_MAX_NAME);
	for (uint32_t i = 0; rc == 0 && i < in->nlabels; i++)
		rc = label_check(&in->labels[i]);
	if (rc == 0)
		rc = labels_unique(in->labels, in->nlabels);
	if (rc == 0)
		rc = wstart(&w, buf, cap, SG_MSG_HELLO);
	if (rc == 0)
		rc = put_u16(&w, (uint16_t)nlen);
	if (rc == 0)
		rc = put_u16(&w, (uint16_t)in->nlabels);
	if (rc == 0)
		rc = put_u32(&w, in->mode);
	if (rc == 0)
		rc = put_bytes(&w, in->policy, nlen);
	for (uint32_t i = 0; rc == 0 && i < in->nlabels; i++) {
		const sg_label_t *l = &in->labels[i];
		size_t klen = strlen(l->key), vlen = strlen(l->value);

		rc = put_u16(&w, (uint16_t)(klen + 1 + vlen));
		if (rc == 0)
			rc = put_bytes(&w, l->key, klen);
		if (rc == 0)
			rc = put_bytes(&w, "=", 1);
		if (rc == 0)
			rc = put_bytes(&w, l->value, vlen);
	}
	return rc < 0 ? rc : wfinish(&w);
}

static int hello_label(rcur_t *r, sg_label_t *out)
{
	const void *kv = NULL;
	uint16_t n = 0;
	int rc = get_u16(r, &n);

	if (rc < 0)
		return rc;
	if (n > LABEL_MAX)
		return -EMSGSIZE;
	rc = get_view(r, &kv, n);
	return rc < 0 ? rc : label_parse(kv, n, out);
}

int sg_proto_decode_hello(const void *buf, size_t len, sg_hello_t *out)
{
	uint16_t nlen = 0, nlabels = 0;
	uint32_t flags = 0;
	rcur_t r = { 0 };
	int rc = rstart(&r, buf, len, SG_MSG_HELLO);

	if (rc == 0)
		rc = get_u16(&r, &nlen);
	if (rc == 0)
		rc = get_u16(&r, &nlabels);
	if (rc == 0)
		rc = get_u32(&r, &flags);
	if (rc < 0)
		return rc;
	if (flags & ~HELLO_MODE_MASK)
		return -EBADMSG;
	out->mode = flags & HELLO_MODE_MASK;
	if (nlen > SG_PROTO_MAX_NAME || nlabels > SG_PROTO_MAX_LABELS)
		return -EMSGSIZE;
	rc = get_bytes(&r, out->policy, nlen);
	if (rc < 0)
		return rc;
	out->policy[nlen] = '\0';
	rc = check_name(out->policy, nlen, SG_PROTO_MAX_NAME);
	for (uint32_t i = 0; rc == 0 && i < nlabels; i++)
		rc = hello_label(&r, &out->labels[i]);
	if (rc < 0)
		return rc;
	out->nlabels = nlabels;
	rc = labels_unique(out->labels, nlabels);
	return rc < 0 ? rc : rfinish(&r);
}

/* ---- SPEC ---------------------------------------------------------- */

static int errno_valid(uint32_t e)
{
	return e >= 1 && e <= 4095;
}

/* Marks nr in the bitmap; a number seen twice (in any list) is refused. */
static int spec_mark(unsigned char *seen, uint32_t nr)
{
	if (nr > SG_PROTO_MAX_NR)
		return -EBADMSG;
	if (seen[nr / 8] & (1u << (nr % 8)))
		return -EBADMSG;
	seen[nr / 8] |= (unsigned char)(1u << (nr % 8));
	return 0;
}

/* Validates a whole spec; both the encoder and the decoder run it. */
static int spec_check(const sg_spec_t *s)
{
	unsigned char seen[(SG_PROTO_MAX_NR + 8) / 8] = { 0 };
	int rc = 0;

	if (s->n_notify > SG_PROTO_MAX_RULES || s->n_deny > SG_PROTO_MAX_RULES ||
	    s->n_kill > SG_PROTO_MAX_RULES || s->n_allow > SG_PROTO_MAX_RULES ||
	    s->n_bpf > SG_PROTO_MAX_BPF)
		return -EMSGSIZE;
	if (s->default_action > SG_ACT_NOTIFY)
		return -EBADMSG;
	if (s->default_action == SG_ACT_ERRNO ? !errno_valid(s->default_errno) : s->default_errno != 0)
		return -EBADMSG;
	for (uint32_t i = 0; rc == 0 && i < s->n_notify; i++)
		rc = spec_mark(seen, s->notify[i]);
	for (uint32_t i = 0; rc == 0 && i < s->n_deny; i++)
		rc = errno_valid(s->deny[i].err) ? spec_mark(seen, s->deny[i].nr) : -EBADMSG;
	for (uint32_t i = 0; rc == 0 && i < s->n_kill; i++)
		rc = spec_mark(seen, s->kill[i]);
	for (uint32_t i = 0; rc == 0 && i < s->n_allow; i++)
		rc = spec_mark(seen, s->allow[i]);
	return rc;
}

ssize_t sg_proto_encode_spec(const sg_spec_t *in, void *buf, size_t cap)
{
	uint32_t fixed[8] = { in->arch, in->default_action, in->default_errno,
			      in->n_notify, in->n_deny, in->n_kill, in->n_allow, in->n_bpf };
	wcur_t w = { 0 };
	int rc = spec_check(in);

	if (rc == 0)
		rc = wstart(&w, buf, cap, SG_MSG_SPEC);
	for (size_t i = 0; rc == 0 && i < 8; i++)
		rc = put_u32(&w, fixed[i]);
	for (uint32_t i = 0; rc == 0 && i < in->n_notify; i++)
		rc = put_u32(&w, in->notify[i]);
	for (uint32_t i = 0; rc == 0 && i < in->n_deny; i++) {
		rc = put_u32(&w, in->deny[i].nr);
		if (rc == 0)
			rc = put_u32(&w, in->deny[i].err);
	}
	for (uint32_t i = 0; rc == 0 && i < in->n_kill; i++)
		rc = put_u32(&w, in->kill[i]);
	for (uint32_t i = 0; rc == 0 && i < in->n_allow; i++)
		rc = put_u32(&w, in->allow[i]);
	for (uint32_t i = 0; rc == 0 && i < in->n_bpf; i++) {
		const struct sock_filter *f = &in->bpf[i];
		uint8_t j[2] = { f->jt, f->jf };

		rc = put_u16(&w, f->code);
		if (rc == 0)
			rc = put_bytes(&w, j, sizeof j);
		if (rc == 0)
			rc = put_u32(&w, f->k);
	}
	return rc < 0 ? rc : wfinish(&w);
}

static int spec_fixed(rcur_t *r, sg_spec_t *out)
{
	uint32_t f[8] = { 0 };
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < 8; i++)
		rc = get_u32(r, &f[i]);
	if (rc < 0)
		return rc;
	if (f[3] > SG_PROTO_MAX_RULES || f[4] > SG_PROTO_MAX_RULES || f[5] > SG_PROTO_MAX_RULES ||
	    f[6] > SG_PROTO_MAX_RULES || f[7] > SG_PROTO_MAX_BPF)
		return -EMSGSIZE;
	out->arch = f[0];
	out->default_action = f[1];
	out->default_errno = f[2];
	out->n_notify = f[3];
	out->n_deny = f[4];
	out->n_kill = f[5];
	out->n_allow = f[6];
	out->n_bpf = f[7];
	return 0;
}

int sg_proto_decode_spec(const void *buf, size_t len, sg_spec_t *out)
{
	rcur_t r = { 0 };
	int rc = rstart(&r, buf, len, SG_MSG_SPEC);

	if (rc == 0)
		rc = spec_fixed(&r, out);
	if (rc < 0)
		return rc;
	/* The counts say exactly how long the message is; check before reading. */
	if (len != HDR_SIZE + SPEC_FIXED + (size_t)4 * out->n_notify + (size_t)8 * out->n_deny +
			   (size_t)4 * out->n_kill + (size_t)4 * out->n_allow + (size_t)8 * out->n_bpf)
		return -EBADMSG;
	for (uint32_t i = 0; rc == 0 && i < out->n_notify; i++)
		rc = get_u32(&r, &out->notify[i]);
	for (uint32_t i = 0; rc == 0 && i < out->n_deny; i++) {
		rc = get_u32(&r, &out->deny[i].nr);
		if (rc == 0)
			rc = get_u32(&r, &out->deny[i].err);
	}
	for (uint32_t i = 0; rc == 0 && i < out->n_kill; i++)
		rc = get_u32(&r, &out->kill[i]);
	for (uint32_t i = 0; rc == 0 && i < out->n_allow; i++)
		rc = get_u32(&r, &out->allow[i]);
	for (uint32_t i = 0; rc == 0 && i < out->n_bpf; i++) {
		struct sock_filter *f = &out->bpf[i];
		uint8_t j[2] = { 0 };

		rc = get_u16(&r, &f->code);
		if (rc == 0)
			rc = get_bytes(&r, j, sizeof j);
		if (rc == 0)
			rc = get_u32(&r, &f->k);
		f->jt = j[0];
		f->jf = j[1];
	}
	if (rc == 0)
		rc = rfinish(&r);
	return rc < 0 ? rc : spec_check(out);
}

/* ---- REFUSE -------------------------------------------------------- */

ssize_t sg_proto_encode_refuse(const sg_refuse_t *in, void *buf, size_t cap)
{
	size_t n = strnlen(in->reason, sizeof in->reason);
	wcur_t w = { 0 };
	int rc;

	if (n == sizeof in->reason)
		return -EMSGSIZE;
	if (!errno_valid(in->code))
		return -EBADMSG;
	rc = check_printable(in->reason, n, SG_PROTO_MAX_REASON);
	if (rc == 0)
		rc = wstart(&w, buf, cap, SG_MSG_REFUSE);
	if (rc == 0)
		rc = put_u32(&w, in->code);
	if (rc == 0)
		rc = put_u16(&w, (uint16_t)n);
	if (rc == 0)
		rc = put_u16(&w, 0);
	if (rc == 0)
		rc = put_bytes(&w, in->reason, n);
	return rc < 0 ? rc : wfinish(&w);
}

int sg_proto_decode_refuse(const void *buf, size_t len, sg_refuse_t *out)
{
	uint16_t n = 0, reserved = 0;
	rcur_t r = { 0 };
	int rc = rstart(&r, buf, len, SG_MSG_REFUSE);

	if (rc == 0)
		rc = get_u32(&r, &out->code);
	if (rc == 0)
		rc = get_u16(&r, &n);
	if (rc == 0)
		rc = get_u16(&r, &reserved);
	if (rc < 0)
		return rc;
	if (reserved != 0 || !errno_valid(out->code))
		return -EBADMSG;
	if (n > SG_PROTO_MAX_REASON)
		return -EMSGSIZE;
	rc = get_bytes(&r, out->reason, n);
	if (rc < 0)
		return rc;
	out->reason[n] = '\0';
	rc = check_printable(out->reason, n, SG_PROTO_MAX_REASON);
	return rc < 0 ? rc : rfinish(&r);
}

/* ---- LISTENER, READY ----------------------------------------------- */

ssize_t sg_proto_encode_listener(void *buf, size_t cap)
{
	wcur_t w = { 0 };
	int rc = wstart(&w, buf, cap, SG_MSG_LISTENER);

	if (rc == 0)
		rc = put_u32(&w, 0);
	if (rc == 0)
		rc = put_u32(&w, 0);
	return rc < 0 ? rc : wfinish(&w);
}

int sg_proto_decode_listener(const void *buf, size_t len)
{
	uint32_t flags = 0, reserved = 0;
	rcur_t r = { 0 };
	int rc = rstart(&r, buf, len, SG_MSG_LISTENER);

	if (rc == 0)
		rc = get_u32(&r, &flags);
	if (rc == 0)
		rc = get_u32(&r, &reserved);
	if (rc < 0)
		return rc;
	if (flags != 0 || reserved != 0)
		return -EBADMSG;
	return rfinish(&r);
}

ssize_t sg_proto_encode_ready(const sg_ready_t *in, void *buf, size_t cap)
{
	wcur_t w = { 0 };
	int rc = wstart(&w, buf, cap, SG_MSG_READY);

	if (rc == 0)
		rc = put_u64(&w, in->target_id);
	return rc < 0 ? rc : wfinish(&w);
}

int sg_proto_decode_ready(const void *buf, size_t len, sg_ready_t *out)
{
	rcur_t r = { 0 };
	int rc = rstart(&r, buf, len, SG_MSG_READY);

	if (rc == 0)
		rc = get_u64(&r, &out->target_id);
	return rc < 0 ? rc : rfinish(&r);
}

/* ---- socket I/O ---------------------------------------------------- */

int sg_proto_send(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (len > SG_PROTO_MAX_MSG)
		return -EMSGSIZE;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SOCK_SEQPACKET sends a record whole or not at all. */
	return (size_t)n == len ? 0 : -EIO;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/* An SCM_PIDFD: the sender's pidfd, which the kernel attaches (a peer
 * cannot send one) when the socket asked for it with SO_PASSPIDFD. Kept
 * in *pidfd when wanted (pidfd not NULL, none yet), closed otherwise. */
static bool collect_pidfd(const struct cmsghdr *c, int *pidfd)
{
	int fd;

	if (c->cmsg_len != CMSG_LEN(sizeof(int)))
		return false;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (pidfd && *pidfd < 0)
		*pidfd = fd;
	else
		close(fd);
	return true;
}

/* Collects the fds of every SCM_RIGHTS cmsg into fds, and an SCM_PIDFD
 * (collect_pidfd). Returns false for control data of another kind or more
 * fds than there is room for; the fds collected so far are in fds either
 * way so the caller closes them. */
static bool collect_fds(struct msghdr *msg, int *fds, size_t *n, int *pidfd)
{
	bool ok = true;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t payload;

		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_PIDFD) {
			ok = collect_pidfd(c, pidfd) && ok;
			continue;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			ok = false;
			continue;
		}
		payload = c->cmsg_len - CMSG_LEN(0);
		for (size_t i = 0; i + sizeof(int) <= payload; i += sizeof(int)) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i, sizeof fd);
			if (*n < SG_PROTO_MAX_FDS)
				fds[(*n)++] = fd;
			else {
				close(fd);
				ok = false;
			}
		}
		if (payload % sizeof(int))
			ok = false;
	}
	return ok;
}

ssize_t sg_proto_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds)
{
	return sg_proto_recv_pidfd(sock, buf, cap, fds, nfds, NULL);
}

ssize_t sg_proto_recv_pidfd(int sock, void *buf, size_t cap, int *fds, size_t *nfds, int *pidfd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SG_PROTO_MAX_FDS) + CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof ctl.buf,
	};
	int got[SG_PROTO_MAX_FDS];
	size_t ngot = 0;
	ssize_t n;
	bool ok;

	if (nfds)
		*nfds = 0;
	if (pidfd)
		*pidfd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	ok = collect_fds(&msg, got, &ngot, pidfd);
	/* A caller that gave no room for fds accepts none. */
	if (!ok || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (ngot > 0 && (!fds || !nfds)))
		n = -EBADMSG;
	/* An empty record is how the peer's shutdown looks; nothing it carried is kept. */
	if (n <= 0) {
		close_all(got, ngot);
		if (pidfd && *pidfd >= 0)
			close(*pidfd);
		if (pidfd)
			*pidfd = -1;
		return n;
	}
	if (ngot) {
		memcpy(fds, got, ngot * sizeof(int));
		*nfds = ngot;
	}
	return n;
}
