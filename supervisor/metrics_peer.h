/*
 * Who is at the other end of a metrics connection. Every local user can
 * reach a loopback port, from any 127.0.0.0/8 address it binds: the
 * address says nothing. The kernel knows the uid that created the
 * client's socket, and tells it through NETLINK_SOCK_DIAG.
 */
#ifndef SG_METRICS_PEER_H
#define SG_METRICS_PEER_H

#include <sys/types.h>

/* The uid owning the client end of fd, a TCP connection accepted on a
 * local address (or, on a unix socket, the client's uid when it
 * connected, from SO_PEERCRED): 0 with *uid, -ENOENT when that socket is no longer open
 * in any process (closed, or gone to TIME_WAIT, whose uid the kernel
 * does not keep), -EAFNOSUPPORT for another kind of socket, or another
 * negative errno. */
int metrics_peer_uid(int fd, uid_t *uid);

#endif
