/*
 * Takeover: a new sysgated started with --takeover on the same config
 * takes the running one's listening socket, control socket and targets
 * (their seccomp listeners and pidfds, SCM_RIGHTS) over the control
 * socket, SOCKET.takeover beside the main one; the old one stops serving
 * before it sends anything and exits once the new one accepts. Running
 * targets see slower calls, never failed ones: the listener is the same
 * open file, so calls made meanwhile wait in the kernel's queue.
 *
 * The wire format is private to two sysgated of the same version: see
 * takeover.c. Both sides log a `takeover` event.
 */
#ifndef SG_TAKEOVER_H
#define SG_TAKEOVER_H

#include "config.h"
#include "error.h"
#include "sgd.h"

#define TAKEOVER_SUFFIX CONFIG_TAKEOVER_SUFFIX

/* The control socket's path for the config's socket; -ENAMETOOLONG when
 * it does not fit a unix socket address. */
int takeover_path(const sg_config_t *cfg, char *buf, size_t len);

/*
 * The running side: serves the control socket, fd when one was handed
 * over by a takeover (owned from here on), else a new one created 0600 in
 * the main socket's directory. 0, or a negative errno with err set.
 */
int takeover_listen(sgd_t *d, int fd, sg_error_t *err);

/* Closes the control socket and any takeover in progress (which the new
 * side then sees refused); removes the socket file unless handed over. */
void takeover_stop(sgd_t *d);

/*
 * The new side, before its loop runs: asks the supervisor behind the
 * control socket for everything, registers the targets with d, serves
 * the listening and control sockets handed over, and only then accepts,
 * so that nothing can fail once the old supervisor has gone. On failure
 * nothing is kept, the old supervisor is told why (it goes on serving)
 * and err says it; handles to close may be left for one loop run.
 */
int takeover_receive(sgd_t *d, sg_error_t *err);

#endif
