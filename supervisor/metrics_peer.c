/*
 * The uid of a loopback TCP client (metrics_peer.h), asked of the kernel
 * with one SOCK_DIAG_BY_FAMILY request for exactly the client's socket:
 * its own address and port are our peer's, its remote ones our local.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics_peer.h"

typedef struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
} diag_req_t;

/* The request for the socket whose own end is peer and whose remote end
 * is local; false for a family other than inet and inet6. */
static bool build(diag_req_t *q, const struct sockaddr_storage *local,
		  const struct sockaddr_storage *peer)
{
	memset(q, 0, sizeof(*q));
	q->nlh.nlmsg_len = sizeof(*q);
	q->nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q->nlh.nlmsg_flags = NLM_F_REQUEST;
	q->nlh.nlmsg_seq = 1;
	q->r.sdiag_family = (__u8)peer->ss_family;
	q->r.sdiag_protocol = IPPROTO_TCP;
	q->r.idiag_states = ~0u;
	q->r.id.idiag_cookie[0] = q->r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (peer->ss_family == AF_INET && local->ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)peer, *l = (const void *)local;

		q->r.id.idiag_sport = p->sin_port;
		q->r.id.idiag_dport = l->sin_port;
		memcpy(q->r.id.idiag_src, &p->sin_addr, sizeof(p->sin_addr));
		memcpy(q->r.id.idiag_dst, &l->sin_addr, sizeof(l->sin_addr));
		return true;
	}
	if (peer->ss_family == AF_INET6 && local->ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const void *)peer, *l = (const void *)local;

		q->r.id.idiag_sport = p->sin6_port;
		q->r.id.idiag_dport = l->sin6_port;
		memcpy(q->r.id.idiag_src, &p->sin6_addr, sizeof(p->sin6_addr));
		memcpy(q->r.id.idiag_dst, &l->sin6_addr, sizeof(l->sin6_addr));
		return true;
	}
	return false;
}

/* The answer in buf (n bytes) to q: 0 with *uid, or a negative errno. */
static int parse(const void *buf, size_t n, const diag_req_t *q, uid_t *uid)
{
	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		const struct inet_diag_msg *m = NLMSG_DATA(h);

		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0 ? e->error : -EIO;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
			continue;
		if (m->id.idiag_sport != q->r.id.idiag_sport || m->id.idiag_dport != q->r.id.idiag_dport ||
		    memcmp(m->id.idiag_src, q->r.id.idiag_src, sizeof(m->id.idiag_src)) != 0)
			continue;
		/* No inode: no process holds the socket any more (a TIME_WAIT
		 * socket also reports uid 0, which is not its owner's). */
		if (m->idiag_inode == 0)
			return -ENOENT;
		*uid = m->idiag_uid;
		return 0;
	}
	return -ENOENT;
}

int metrics_peer_uid(int fd, uid_t *uid)
{
	struct sockaddr_storage local = { 0 }, peer = { 0 };
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t answer[1024]; /* netlink messages are 4-byte aligned */
	diag_req_t q;
	ssize_t n;
	int nl, rc;

	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return -errno;
	if (local.ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
			return -errno;
		*uid = cred.uid;
		return 0;
	}
	if (!build(&q, &local, &peer))
		return -EAFNOSUPPORT;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	if (sendto(nl, &q, sizeof(q), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
	} else {
		/* The kernel answers a request for one socket at once. */
		do
			n = recv(nl, answer, sizeof(answer), 0);
		while (n < 0 && errno == EINTR);
		rc = n < 0 ? -errno : parse(answer, (size_t)n, &q, uid);
	}
	close(nl);
	return rc;
}
