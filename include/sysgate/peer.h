/*
 * peer.h: who is at the other end of a unix socket, read from the kernel
 * rather than believed from the uid alone (docs/security.md, "The
 * supervisor's sockets"). Shared by sysgated (its sockets' clients) and
 * sysgate-run (its server); not installed.
 *
 * A sysgate target can never leave its seccomp filter, and every process
 * it starts inherits it; it cannot gain capabilities, nor leave its user
 * namespace for the parent. sysgate cannot tell its own filter from
 * another's from outside, so "under any seccomp filter" is the test for
 * "may be a target", fail-closed.
 *
 * The process is named by a pidfd (SO_PEERPIDFD or SCM_PIDFD, Linux 6.5),
 * never by a pid alone: its /proc/<pid>/status is read through the pid the
 * pidfd names, and the pidfd is asked again afterwards (signal 0), so that
 * a pid reused meanwhile (the process gone, another in its place) is
 * refused.
 */
#ifndef SYSGATE_PEER_H
#define SYSGATE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

#define SG_PEER_CAP_SYS_ADMIN 21

typedef struct sg_peer {
	pid_t pid;        /* in this process's /proc */
	uid_t uid;        /* effective, as this process's user namespace sees it */
	gid_t gid;
	int seccomp;      /* "Seccomp:" of its status: 0 none, 1 strict, 2 filter */
	uint64_t cap_eff; /* "CapEff:", in its own user namespace */
	uint64_t userns;  /* inode of its user namespace; 0 when not readable */
} sg_peer_t;

#define SG_PEER_USERNS 1u /* what: read userns too (a stat more) */

/* Reads the identity of the process pidfd names (userns only if what has
 * SG_PEER_USERNS). 0, or -ESRCH when it is gone (or its pid was reused
 * meanwhile), or another negative errno. */
int sg_peer_read_pidfd(int pidfd, unsigned what, sg_peer_t *p);
/* The same for this process (its own status, no pidfd). */
int sg_peer_read_self(sg_peer_t *p);
/* A pidfd of the peer of a connected unix socket (SO_PEERPIDFD): the
 * process that connected, or that called listen() for a server. An fd
 * (O_CLOEXEC), or a negative errno. */
int sg_peer_pidfd(int sock);
/* True when the peer runs under a seccomp filter (or strict mode). */
static inline bool sg_peer_filtered(const sg_peer_t *p)
{
	return p->seccomp != 0;
}
static inline bool sg_peer_has_cap(const sg_peer_t *p, int cap)
{
	return (p->cap_eff >> cap) & 1u;
}

#endif
