/*
 * The brokered open: the supervisor opens the file a handler allowed and
 * installs the fd in the caller, answering the call in the same step
 * (SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND). The caller gets
 * the file that was checked, whatever its memory says by the time the
 * answer arrives.
 */
#ifndef SG_BROKER_H
#define SG_BROKER_H

#include "call.h"
#include "verdict.h"

typedef struct target target_t;

/* Learns the supervisor's own identity and root, once, before the first
 * brokered open. 0 or a negative errno. */
int broker_init(void);

/*
 * Carries out the OPEN verdict v for c. Returns 0 when the call is
 * answered with the new fd (v->fd), -ENOENT when the call is gone (the
 * task was killed or interrupted), or a positive errno the call must
 * fail with (v->err, with v->reason saying why when it is not the open's
 * own error).
 */
int broker_open(target_t *t, call_t *c, verdict_t *v);

/* Rewrites a leading /proc/self or /proc/thread-self of path (len bytes)
 * into /proc/<tgid> or /proc/<tgid>/task/<tid> in out (cap bytes). 1 when
 * rewritten, 0 when path does not start with either, -ENAMETOOLONG. */
int broker_proc_self(const char *path, int tgid, int tid, char *out, size_t cap);

/* Whether the /proc path (as readlink of an fd shows it) names an entry
 * of process pid: a component equal to its number. */
bool broker_names_pid(const char *path, int pid);

#endif
