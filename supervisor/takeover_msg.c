/*
 * The takeover's wire format (see takeover_msg.h): encoding, strict
 * decoding, and sending with fds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "takeover_msg.h"

void tk_header(void *buf, uint16_t type, size_t len)
{
	tk_header_t *h = buf;

	memset(buf, 0, len);
	h->magic = TK_MAGIC;
	h->version = TK_VERSION;
	h->type = type;
	h->length = (uint32_t)len;
}

/* 0 when buf (len bytes) is a message of type and exactly want bytes. */
int tk_check(const void *buf, size_t len, uint16_t type, size_t want)
{
	tk_header_t h;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != TK_MAGIC || h.reserved != 0 || h.length != len)
		return -EBADMSG;
	if (h.version != TK_VERSION)
		return -EPROTONOSUPPORT;
	return h.type == type && len == want ? 0 : -EBADMSG;
}

uint16_t tk_type(const void *buf, size_t len)
{
	tk_header_t h;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	return h.magic == TK_MAGIC ? h.type : 0;
}

/* A string field: NUL inside, zeros after it. */
static bool str_ok(const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);

	if (!nul)
		return false;
	for (const char *p = nul; p < s + cap; p++)
		if (*p)
			return false;
	return true;
}

static bool zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

int tk_decode_target(const void *buf, size_t len, tk_target_t *out)
{
	int r = tk_check(buf, len, TK_TARGET, sizeof(*out));

	if (r < 0)
		return r;
	memcpy(out, buf, sizeof(*out));
	if (out->reserved || !zero(out->pad, sizeof(out->pad)) || out->flags & ~TK_HAS_PIDFD)
		return -EBADMSG;
	if (out->id == 0 || out->pid == 0 || out->mode < SG_MODE_ENFORCE || out->mode > SG_MODE_LEARN)
		return -EBADMSG;
	if (!str_ok(out->policy, sizeof(out->policy)) || sg_proto_valid_name(out->policy) < 0)
		return -EBADMSG;
	if (out->nlabels > SG_PROTO_MAX_LABELS)
		return -EMSGSIZE;
	for (uint32_t i = 0; i < SG_PROTO_MAX_LABELS; i++) {
		const sg_label_t *l = &out->labels[i];

		if (i >= out->nlabels) {
			if (!zero(l, sizeof(*l)))
				return -EBADMSG;
			continue;
		}
		if (!str_ok(l->key, sizeof(l->key)) || !str_ok(l->value, sizeof(l->value)) ||
		    sg_proto_valid_name(l->key) < 0)
			return -EBADMSG;
		for (const char *p = l->value; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return -EBADMSG;
		/* As a HELLO: two labels with one key make the target's
		 * identity ambiguous. */
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(out->labels[j].key, l->key) == 0)
				return -EBADMSG;
	}
	return 0;
}

size_t tk_target_nfds(const tk_target_t *m)
{
	return (m->flags & TK_HAS_PIDFD) ? 2 : 1;
}

/* One message with up to two fds (SCM_RIGHTS). 0 or a negative errno. */
int tk_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 2)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

void tk_send_refuse(int sock, const char *reason)
{
	tk_refuse_t m;

	tk_header(&m, TK_REFUSE, sizeof(m));
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	(void)tk_send(sock, &m, sizeof(m), NULL, 0);
}

/* The reason of a REFUSE in buf, or NULL when buf is not one. */
const char *tk_refused(const void *buf, size_t len)
{
	const tk_refuse_t *m = buf;

	if (tk_check(buf, len, TK_REFUSE, sizeof(*m)) < 0 || !str_ok(m->reason, sizeof(m->reason)) ||
	    !zero(m->pad, sizeof(m->pad)))
		return NULL;
	return m->reason;
}

int tk_decode_request(const void *buf, size_t len, tk_request_t *out)
{
	int r = tk_check(buf, len, TK_REQUEST, sizeof(*out));

	if (r < 0)
		return r;
	memcpy(out, buf, sizeof(*out));
	return out->reserved || out->pid == 0 || !str_ok(out->config, sizeof(out->config)) ||
			       out->config[0] != '/'
		       ? -EBADMSG
		       : 0;
}

int tk_decode_begin(const void *buf, size_t len, tk_begin_t *out)
{
	int r = tk_check(buf, len, TK_BEGIN, sizeof(*out));

	if (r < 0)
		return r;
	memcpy(out, buf, sizeof(*out));
	if (out->pid == 0)
		return -EBADMSG;
	return out->ntargets > TK_MAX_TARGETS ? -EMSGSIZE : 0;
}

int tk_decode_end(const void *buf, size_t len, tk_end_t *out)
{
	int r = tk_check(buf, len, TK_END, sizeof(*out));

	if (r < 0)
		return r;
	memcpy(out, buf, sizeof(*out));
	return out->reserved ? -EBADMSG : 0;
}
