/*
 * libsysgate: put the calling process under a sysgate policy.
 *
 * This is the library behind sysgate-run, for programs (function hosts,
 * launchers) that start untrusted code themselves. The usual sequence, in
 * the process that is about to execve(2) the untrusted program:
 *
 *   sg_shim_t *s;
 *   if (sg_shim_connect(&opts, &s, err, sizeof err) < 0) ...  // nothing loaded yet
 *   if (sg_shim_enter(s, err, sizeof err) < 0) ...            // nothing loaded either
 *   execve(path, argv, envp);                                 // decided by the policy
 *
 * sg_shim_connect() asks the supervisor for the policy and receives the
 * filter spec; nothing is changed in the process yet. sg_shim_enter() sets
 * no_new_privs, loads the filter on the calling thread with a new listener,
 * hands the listener to the supervisor from a helper thread that is not
 * under the filter (so no handoff syscall can wait on the listener it is
 * handing over) and returns once the supervisor answered READY. When the
 * filter lets every syscall of the handoff through in the kernel, the
 * calling thread hands it over itself with every signal blocked, and no
 * thread is started. From then on every syscall of the calling thread, and
 * of everything it starts, is decided by the policy.
 *
 * Once the filter is loaded there is no way back: if the handoff fails after
 * that point, the thread handing over writes the reason to stderr and ends
 * the whole process with opts->exit_status, because a process under a filter
 * whose listener nobody serves cannot be trusted to clean up.
 *
 * Functions return 0 or a negative errno and write a message into err.
 * The calling process must be single-threaded when sg_shim_enter() runs.
 */
#ifndef SYSGATE_SYSGATE_H
#define SYSGATE_SYSGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sysgate/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_DEFAULT_SOCKET "/run/sysgate/sysgate.sock"
#define SG_SOCKET_ENV "SYSGATE_SOCKET"

typedef struct sg_shim sg_shim_t;

typedef struct sg_shim_opts {
	const char *socket_path;   /* NULL: $SYSGATE_SOCKET, then SG_DEFAULT_SOCKET */
	const char *policy;        /* policy name, required */
	const char *const *labels; /* "key=value" strings */
	size_t nlabels;
	int timeout_ms;            /* per answer from the supervisor; 0: 10000 */
	int exit_status;           /* for a failure after the filter is loaded; 0: 125 */
	const char *progname;      /* prefix of that last message; NULL: "sysgate" */
	uid_t supervisor_uid;      /* the uid the socket's server must have (SO_PEERCRED);
	                            * 0, root, unless set: whoever can point the shim at
	                            * a socket of their own must not be able to hand it
	                            * a policy */
	const char *mode;          /* "enforce", "audit", "learn": asks the supervisor for
	                            * that mode instead of the policy's own; it refuses
	                            * unless its config allows it. NULL: the policy's */
	bool server_may_be_filtered; /* accept a server under a seccomp filter: a target
	                            * of supervisor_uid could then serve the socket.
	                            * false unless set (docs/security.md) */
} sg_shim_opts_t;

/* Optional: asks the kernel, once per process, whether it can notify a
 * supervisor of a system call, so that a host can tell before it starts
 * anything; a child forked after the call keeps the answer. Returns 0, or
 * -ENOSYS (Linux before 5.0, or seccomp disabled), in which case no target
 * can be started. Safe to call more than once, from any thread.
 * sg_shim_enter() probes nothing: the filter comes compiled from the
 * supervisor, and a kernel without user notification refuses it. */
int sg_shim_prepare(void);

/* Connects, sends HELLO and receives the SPEC. A refusal gives the
 * supervisor's code negated (e.g. -ENOENT for an unknown policy) and its
 * reason in err. On success *out is owned by the caller (sg_shim_free). */
int sg_shim_connect(const sg_shim_opts_t *opts, sg_shim_t **out, char *err, size_t errlen);

/* The filter spec received from the supervisor. */
const sg_spec_t *sg_shim_spec(const sg_shim_t *s);

/* Loads the filter and hands the listener over, see above. */
int sg_shim_enter(sg_shim_t *s, char *err, size_t errlen);

/* The supervisor's id for this target, valid after sg_shim_enter(). */
uint64_t sg_shim_target_id(const sg_shim_t *s);

/* Closes the socket and frees s. Accepts NULL. */
void sg_shim_free(sg_shim_t *s);

#ifdef __cplusplus
}
#endif
#endif
