/*
 * The brokered open: the supervisor opens the file a handler allowed and
 * installs the fd in the caller, answering the call in the same step
 * (SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND). The caller gets
 * the file that was checked, whatever its memory says by the time the
 * answer arrives. The open runs on a worker thread (work.c), never on the
 * loop: what a target opens may block for as long as it likes.
 */
#ifndef SG_BROKER_H
#define SG_BROKER_H

#include <linux/seccomp.h>
#include <stdbool.h>

#include "call.h"
#include "log.h"
#include "verdict.h"

typedef struct target target_t;
typedef struct sgd sgd_t;
typedef struct broker_job broker_job_t;

#define BROKER_THREADS 16       /* opens in flight at once, one worker each */
#define BROKER_PER_TARGET 2     /* ...of one target */

/* What the loop keeps of a call whose brokered open runs off the loop, to
 * count and log it once it is answered (receive_open_done). Filled by
 * receive.c; v's fd, err and reason are the outcome's when it comes
 * back. */
typedef struct broker_pending {
	struct seccomp_notif req; /* the fields a call_t is filled from */
	pid_t tgid;
	int path_state;
	size_t path_len;
	char path[PATH_MAX];
	verdict_t v;
	char open_path[PATH_MAX]; /* v.path points here when it is set */
	const char *error;        /* NULL, or errbuf */
	char errbuf[512];
	bool fallback, logged;
	uint64_t t0;
	log_proc_t proc;
} broker_pending_t;

/* Learns the supervisor's own identity and root, once, before the first
 * brokered open. 0 or a negative errno. */
int broker_init(void);
/* broker_init, and the pool of workers on d's loop (no thread yet). */
int broker_start(sgd_t *d);
/* The loop is stopping: opens already answered are counted and logged,
 * those still out are not, and no open is started after this. */
void broker_stop(void);
/* After the loop ended. */
void broker_free(void);

/*
 * Starts the OPEN verdict v for c off the loop. Returns -EINPROGRESS with
 * *pending, the job's record for the caller to fill: receive_open_done
 * gets it back on the loop once the call is answered. Or -ENOENT when the
 * call is gone, or a positive errno the call must fail with now (v->err,
 * with v->reason saying why).
 */
int broker_open(target_t *t, call_t *c, verdict_t *v, broker_pending_t **pending);
/* Whether t has as many opens in flight as it may: no call of t is
 * received until one ends. */
bool broker_full(const target_t *t);
/* Opens of t in flight (taken, not yet done). */
unsigned broker_in_flight(const target_t *t);
/* Answers every open of t in flight now, EINTR (a takeover cannot wait). */
void broker_flush(target_t *t);
/* t is being freed (no call of it is unfinished, target_job_end): the
 * workers still running for it (past their deadline) are no longer its. */
void broker_release(target_t *t);

/* Rewrites a leading /proc/self or /proc/thread-self of path (len bytes)
 * into /proc/<tgid> or /proc/<tgid>/task/<tid> in out (cap bytes). 1 when
 * rewritten, 0 when path does not start with either, -ENAMETOOLONG. */
int broker_proc_self(const char *path, int tgid, int tid, char *out, size_t cap);

/* Whether rest, a path below the procfs root procroot (an fd), is an
 * entry of a task of the calling thread's thread group, or of child (a
 * process of ours, 0: none), as that procfs numbers tasks: 1 yes, 0 no,
 * -EACCES when it cannot be told. */
int broker_proc_task(int procroot, const char *rest, pid_t child);

#endif
