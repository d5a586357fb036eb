/*
 * The supervisor's shared state: one event loop with its listening socket,
 * the handshakes in progress, the targets being served and the loaded
 * policies. Each stage of a call's flow (accept, target, receive, respond,
 * log) is its own file; this header is where they meet.
 *
 * One loop today. Every piece of per-loop state (the notification buffers,
 * the reusable call object, the policies' Lua states) lives here so that
 * one sgd_t per worker thread is the whole change when workers come.
 */
#ifndef SG_SGD_H
#define SG_SGD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/seccomp.h>
#include <sys/types.h>
#include <uv.h>

#include "call.h"
#include "config.h"
#include "policy.h"
#include "readwatch.h"
#include "sysgate/protocol.h"

/* Newer than Debian 12's kernel headers; the kernel has had them since 6.6. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
/* The first kernels with user notification numbered ID_VALID as IOR. */
#define SECCOMP_IOCTL_NOTIF_ID_VALID_OLD SECCOMP_IOR(2, __u64)

#define SGD_MAX_CONNS CONFIG_HANDSHAKES_MAX /* handshakes in progress at once (accept.c) */
#define SGD_HANDSHAKE_TIMEOUT_MS 5000

typedef struct target target_t;
typedef struct conn conn_t;
typedef struct park park_t;
typedef struct takeover takeover_t;
typedef struct tenants tenants_t;

typedef struct sgd {
	uv_loop_t *loop;
	const sg_config_t *cfg;
	policy_t **policies; /* one per cfg->policies[i], same index */
	size_t npolicies;

	int listen_fd;
	uv_poll_t listen_poll;
	uv_timer_t accept_retry; /* resumes accepting after EMFILE */
	bool listening;
	uv_signal_t sigterm, sigint;
	uv_timer_t log_report; /* reports suppressed log events */
	uv_signal_t sigusr1; /* learn mode: write what was learned so far */
	uv_idle_t learn_idle; /* ...one target per turn of the loop (target.c) */
	bool learn_idle_ready;
	bool stopping;
	/* Stops the supervisor as SIGTERM does (main.c); signum 0 after a
	 * takeover handed everything over. */
	void (*stop_cb)(struct sgd *d, int signum);

	/* Takeover (takeover.c): the control socket, the one takeover in
	 * progress, whether the loop has stopped serving for it (paused) and
	 * whether everything was handed over (the socket files then belong
	 * to the new supervisor and are not removed). */
	int ctl_fd;
	uv_poll_t ctl_poll;
	bool ctl_listening;
	takeover_t *tk;
	bool paused;
	bool handed_over;

	conn_t *conns;
	size_t nconns;
	target_t *targets;
	size_t ntargets;
	uint64_t next_target_id;
	/* The launcher uids' quotas (tenant.c); shared by every loop, not
	 * owned by one. NULL: no quotas. */
	tenants_t *tenants;

	/* Receive path, reused for every notification. */
	struct seccomp_notif *req;
	size_t req_size;
	struct seccomp_notif_resp *resp;
	size_t resp_size;
	call_t call;
	unsigned long id_valid_ioctl;

	/* The receive watchdog (receive.c). */
	pthread_t loop_thread, watchdog;
	bool watchdog_running;
	_Atomic bool watchdog_stop, recv_kicked;
	_Atomic uint64_t recv_seq; /* nonzero while in NOTIF_RECV */
	uint64_t recv_count;
	/* The same thread watches this loop's reads of target memory
	 * (readwatch.h); fusectl: the fusectl directory, or -1. */
	readwatch_t readwatch;
	int fusectl;

	/* Handshake buffer. */
	unsigned char msg[SG_PROTO_MAX_MSG];
} sgd_t;

/* accept.c: the listening socket and the handshake. */
int accept_start(sgd_t *d, sg_error_t *err);
/* Serves on fd, a listening socket handed over by a takeover (owned from
 * here on, also on failure). */
int accept_adopt(sgd_t *d, int fd, sg_error_t *err);
/* Stops and resumes accepting; connections wait in the backlog meanwhile. */
void accept_pause(sgd_t *d);
void accept_resume(sgd_t *d);
void accept_stop(sgd_t *d);
/* The socket's directory exists and only the supervisor's uid can write
 * it (created when missing). */
int accept_socket_dir(const char *path, sg_error_t *err);
/* True when fd is a seccomp listener. */
bool accept_is_listener(sgd_t *d, int fd);

/* target.c: a registered listener and the process behind it. */
/* Whether launcher uid may start one more target in mode (its quotas,
 * tenant.c): 0, or -EDQUOT with the reason in why. Asked before the
 * filter is sent; target_add charges the quota and asks again. */
int target_admit(sgd_t *d, uid_t uid, sg_mode_t mode, char *why, size_t why_len);
/* -EDQUOT: uid is at a quota (target_admit). */
int target_add(sgd_t *d, int listener, int pidfd, pid_t pid, uid_t uid, size_t policy_index,
	       const sg_hello_t *hello, sg_mode_t mode, target_t **out);
void target_close(target_t *t, const char *reason);
void target_close_all(sgd_t *d);
/* A target handed over by a takeover: id, counters and start times are
 * the old supervisor's (fields of rec); no target_start is logged. Owns
 * listener and pidfd on success only. */
int target_adopt(sgd_t *d, int listener, int pidfd, size_t policy_index, const target_t *rec,
		 target_t **out);
/* Stops polling t's listener until target_unhold: it has as many
 * brokered opens in flight as it may (broker_full). */
void target_hold(target_t *t);
void target_unhold(target_t *t);
/* A brokered open of t started, and was finished (counted and logged):
 * t is not freed, nor its end logged, in between. */
void target_job_begin(target_t *t);
void target_job_end(target_t *t);
/* Stop and start polling every listener (a takeover in progress). */
void target_pause_all(sgd_t *d);
void target_resume_all(sgd_t *d);
/* Lets go of every target without ending it: the listeners were handed
 * over, so closing this process's copies changes nothing for them. */
void target_release_all(sgd_t *d);
/* Learn mode: writes the policy learned so far from every target in learn
 * mode, as a snapshot; they go on running. All are rendered now (a
 * takeover hands them over next); the files are written off the loop. */
void target_learn_snapshot_all(sgd_t *d);
/* The same on request (SIGUSR1): one target rendered per turn of the
 * loop, so that the other targets' calls wait for one render at most. */
void target_learn_snapshot_request(sgd_t *d);
uint64_t target_id(const target_t *t);

/* receive.c: sizes the buffers, then drains a listener when it wakes. */
int receive_init(sgd_t *d);
void receive_fini(sgd_t *d);
/* Receives and answers the pending notifications of t. Returns NULL, or
 * why the target must be closed: "exited" (POLLHUP: no task uses the
 * filter any more), "listener_shared" (a receive blocked: someone else
 * holds the listener too), "receive_error". */
const char *receive_drain(target_t *t);
/* Starts and stops the thread that interrupts a receive that blocks. */
int receive_watchdog_start(sgd_t *d);
void receive_watchdog_stop(sgd_t *d);
/* NOTIF_ID_VALID with the ioctl number this kernel speaks. 0 when valid,
 * -ENOENT when not, another negative errno on failure. */
int receive_id_valid(sgd_t *d, int listener, uint64_t id);
/* Receives one notification from listener into d->req, under the receive
 * watchdog. 0, -ENOENT when the notification vanished (the task was killed
 * or interrupted meanwhile), -EINTR when a signal came first (the
 * level-triggered poll brings us back), -ETIMEDOUT when the watchdog had
 * to interrupt it (someone else took the notification), or another
 * -errno. */
int receive_raw(sgd_t *d, int listener);
/* Whether a call is the proof call (SG_PROTO_PROOF_OPTION), which every
 * filter forwards. */
bool receive_is_proof(int nr, uint32_t arch, uint64_t arg0);

/* A throttled call that waited its time, still pending: decided from the
 * limit it resumes at, answered and logged as receive_drain() would.
 * waited_ns: how long it was parked, for the log. */
void receive_resume(target_t *t, const struct seccomp_notif *req, int resume, uint64_t t0,
		    uint64_t waited_ns);

/* A brokered open that ran off the loop was answered (sent: 0, -ENOENT
 * when the call was gone, another -errno when the answer failed; pd->v
 * holds the outcome): counted and logged as receive_drain() would. */
struct broker_pending;
void receive_open_done(target_t *t, struct broker_pending *pd, int sent);

/* throttle.c: calls parked by rate limits with over = "throttle". */
/* Parks a copy of req (d->req_size bytes) for v->throttle_ns, to resume at
 * v->throttle_resume. 0, or a negative errno (nothing parked). */
int throttle_park(target_t *t, const struct seccomp_notif *req, const verdict_t *v, uint64_t t0,
		  uint64_t waited_ns);
/* True when req is the restart (SA_RESTART) of a parked call whose task
 * was interrupted: req then takes its place, and is not decided again. A
 * parked call of the same thread that req does not repeat is dropped. */
bool throttle_adopt(target_t *t, const struct seccomp_notif *req);
/* Drops every parked call of t (t is closing). */
void throttle_release(target_t *t);
/* Decides every parked call of t now, at its resume point, as if its
 * wait were over (a takeover that cannot wait longer). */
void throttle_flush(target_t *t);

/* Monotonic clock in ns. */
uint64_t sgd_now_ns(void);

#endif
