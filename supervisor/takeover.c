/*
 * Takeover (see takeover.h): the control socket of a running sysgated,
 * and the exchange by which a new one on the same config takes over its
 * sockets and targets without failing a single call of theirs.
 *
 *   new                                  old (running)
 *   connect SOCKET.takeover      --->    the peer (SO_PEERPIDFD): tk_peer_check
 *   REQUEST(pid, config realpath)--->    same config path, else REFUSE
 *                                        stop accepting, stop polling every
 *                                        listener (no NOTIF_RECV from here
 *                                        on), let the handshakes in
 *                                        progress finish and the parked
 *                                        (throttled) calls be answered
 *                                <---    BEGIN(pid, n, next id) + listening
 *                                        socket + control socket
 *                                <---    TARGET(record) + listener [+ pidfd]
 *                                        ... n times, ids ascending
 *                                <---    END(n)
 *   BEGIN's sender (SCM_PIDFD):
 *   tk_peer_check, else no reply
 *   every policy named exists,
 *   every fd is what it says
 *   ACCEPT | REFUSE(reason)      --->    ACCEPT: log, let go, exit 0
 *                                        REFUSE/EOF/timeout: serve on
 *
 * Messages are fixed-size structs in host byte order (both ends are the
 * same host and, by the version field, the same format), encoded and
 * decoded strictly in takeover_msg.c. Every fd is received with MSG_CMSG_CLOEXEC
 * (sg_proto_recv) and closed on any error. The old side answers nothing
 * after it stopped polling, so a notification that arrives during the
 * exchange waits in the kernel's queue of the listener, which is the same
 * open file in both processes, and the new one receives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "sysgate/peer.h"
#include "takeover.h"
#include "takeover_msg.h"
#include "target.h"

#define TK_REQUEST_MS 5000 /* from connect to REQUEST */
#define TK_PARK_WAIT_MS 2000 /* parked calls wait their time up to this */
#define TK_DRAIN_MS (SGD_HANDSHAKE_TIMEOUT_MS + 1000) /* handshakes in progress */
#define TK_TICK_MS 5
#define TK_IO_MS 10000 /* one send or receive of the exchange */
#define TK_REPLY_MS 20000 /* the old side's wait for ACCEPT: beyond the new side's own */

/* The old side's state for the one takeover in progress. */
struct takeover {
	sgd_t *d;
	int fd;
	struct ucred cred;
	uv_poll_t poll;
	uv_timer_t timer;
	int handles;
	uint64_t paused_ns; /* 0 until REQUEST was accepted */
};

/* ------------------------------------------------------------- encode */

static void tk_encode_target(const target_t *t, tk_target_t *m)
{
	tk_header(m, TK_TARGET, sizeof(*m));
	m->id = t->id;
	m->started_ns = t->started_ns;
	m->started_wall = (uint64_t)t->started_wall;
	m->notifications = t->notifications;
	m->decisions = t->decisions;
	m->denied = t->denied;
	m->errors = t->errors;
	m->gone = t->gone;
	m->advisory = t->advisory;
	m->brokered = t->brokered;
	m->restarts = t->restarts;
	m->would_deny = t->would_deny;
	m->log_suppressed = t->log_suppressed;
	m->pid = (uint32_t)t->pid;
	m->uid = (uint32_t)t->uid;
	m->mode = (uint32_t)t->mode;
	m->flags = t->pidfd >= 0 ? TK_HAS_PIDFD : 0;
	m->nlabels = t->hello.nlabels;
	snprintf(m->policy, sizeof(m->policy), "%s", t->pconf->name);
	for (uint32_t i = 0; i < t->hello.nlabels && i < SG_PROTO_MAX_LABELS; i++) {
		snprintf(m->labels[i].key, sizeof(m->labels[i].key), "%s", t->hello.labels[i].key);
		snprintf(m->labels[i].value, sizeof(m->labels[i].value), "%s", t->hello.labels[i].value);
	}
}

/* --------------------------------------------------------- transport */

/* Blocking, with a timeout on every send and receive. */
static int tk_blocking(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int takeover_path(const sg_config_t *cfg, char *buf, size_t len)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(buf, len, "%s" TAKEOVER_SUFFIX, cfg->socket);

	return n < 0 || (size_t)n >= len || (size_t)n >= max ? -ENAMETOOLONG : 0;
}

/* The realpath of the config, which both sides must share. */
static int config_realpath(const sg_config_t *cfg, char *buf)
{
	return realpath(cfg->path, buf) ? 0 : -errno;
}

/*
 * Either side of a takeover checks the other, named by a pidfd (the old
 * side: SO_PEERPIDFD of who connected; the new side: SCM_PIDFD of who sent
 * the first answer, since the socket's listener is gone after a takeover).
 * The uid alone is not enough: a target of sysgated's uid (uid 0 without
 * capabilities, say) could otherwise take every target's listener over,
 * or bind a control socket of its own and hand the new supervisor its
 * choice of sockets. The peer must be under no seccomp filter (every
 * target is under one, and so is all it starts), of sysgated's uid, hold
 * every capability sysgated holds (a target cannot gain one), and, when
 * sysgated holds CAP_SYS_ADMIN, live in sysgated's user namespace (a
 * process may hold every capability in a namespace of its own). 0, or
 * -EPERM with the reason in why.
 */
static int tk_peer_check(int pidfd, const char *who, char *why, size_t len)
{
	sg_peer_t p = { .pid = 0 }, self = { .pid = 0 };
	int r;

	if (pidfd < 0) {
		snprintf(why, len, "cannot name %s (SO_PEERPIDFD, SCM_PIDFD: Linux 6.5)", who);
		return -EPERM;
	}
	r = sg_peer_read_pidfd(pidfd, SG_PEER_USERNS, &p);
	if (r == 0)
		r = sg_peer_read_self(&self);
	if (r < 0) {
		snprintf(why, len, "cannot read who %s is: %s", who, strerror(-r));
		return -EPERM;
	}
	if (p.uid != self.uid) {
		snprintf(why, len, "%s (pid %d) is uid %u, not the supervisor's uid %u", who, (int)p.pid,
			 (unsigned)p.uid, (unsigned)self.uid);
		return -EPERM;
	}
	if (sg_peer_filtered(&p)) {
		snprintf(why, len, "%s (pid %d) runs under a seccomp filter, as every sysgate target does",
			 who, (int)p.pid);
		return -EPERM;
	}
	if ((p.cap_eff & self.cap_eff) != self.cap_eff) {
		snprintf(why, len, "%s (pid %d) lacks capabilities the supervisor holds (CapEff %016llx, "
			 "the supervisor's %016llx)", who, (int)p.pid, (unsigned long long)p.cap_eff,
			 (unsigned long long)self.cap_eff);
		return -EPERM;
	}
	if (sg_peer_has_cap(&self, SG_PEER_CAP_SYS_ADMIN) && (!p.userns || p.userns != self.userns)) {
		snprintf(why, len, "%s (pid %d) is not in the supervisor's user namespace%s", who,
			 (int)p.pid, p.userns ? "" : " (or it cannot be read)");
		return -EPERM;
	}
	return 0;
}

/* ------------------------------------------------ the running (old) side */

static void tk_handle_closed_cb(uv_handle_t *h)
{
	takeover_t *tk = h->data;

	if (--tk->handles == 0)
		free(tk);
}

static void tk_close(takeover_t *tk)
{
	if (tk->fd < 0)
		return;
	uv_close((uv_handle_t *)&tk->poll, tk_handle_closed_cb);
	uv_close((uv_handle_t *)&tk->timer, tk_handle_closed_cb);
	close(tk->fd);
	tk->fd = -1;
	tk->d->tk = NULL;
}

/* Serves again as before the request: the new side refused or is gone.
 * Calls made meanwhile are waiting in the listeners' queues. */
static void tk_resume(takeover_t *tk, const char *why)
{
	sgd_t *d = tk->d;

	if (tk->paused_ns) {
		d->paused = false;
		target_resume_all(d);
		accept_resume(d);
	}
	log_takeover("old", "refused", tk->cred.pid, NULL, 0, why);
	tk_close(tk);
}

static void tk_refuse(takeover_t *tk, const char *why)
{
	tk_send_refuse(tk->fd, why);
	tk_resume(tk, why);
}

/* Sends every target, oldest first (ascending ids); ids gets them. */
static int tk_send_targets(sgd_t *d, int sock, uint64_t *ids)
{
	static tk_target_t m;
	target_t *t = d->targets;
	size_t n = 0;

	while (t && t->next)
		t = t->next;
	for (; t; t = t->prev) {
		int fds[2] = { t->listener, t->pidfd };
		int r;

		tk_encode_target(t, &m);
		r = tk_send(sock, &m, sizeof(m), fds, t->pidfd >= 0 ? 2 : 1);
		if (r < 0)
			return r;
		ids[n++] = t->id;
	}
	return 0;
}

/* Everything is quiet: sends it all and waits for the answer. */
static void tk_hand_over(takeover_t *tk)
{
	sgd_t *d = tk->d;
	tk_begin_t b = { .pid = 0 };
	tk_end_t e;
	uint64_t *ids = calloc(d->ntargets + 1, sizeof(*ids));
	int fds[2] = { d->listen_fd, d->ctl_fd };
	size_t n = d->ntargets, nfds = 0;
	char why[SG_PROTO_MAX_REASON + 64];
	const char *refused;
	ssize_t len;
	int r, rfds[SG_PROTO_MAX_FDS];

	uv_timer_stop(&tk->timer);
	if (!ids || tk_blocking(tk->fd, TK_IO_MS) < 0) {
		free(ids);
		tk_refuse(tk, "cannot prepare the handover");
		return;
	}
	/* Learn mode: what was learned so far is written now; the new
	 * supervisor records the rest of the run from scratch. */
	target_learn_snapshot_all(d);
	tk_header(&b, TK_BEGIN, sizeof(b));
	b.pid = (uint32_t)getpid();
	b.ntargets = (uint32_t)n;
	b.next_target_id = d->next_target_id;
	tk_header(&e, TK_END, sizeof(e));
	e.ntargets = (uint32_t)n;
	r = tk_send(tk->fd, &b, sizeof(b), fds, 2);
	if (r == 0)
		r = tk_send_targets(d, tk->fd, ids);
	if (r == 0)
		r = tk_send(tk->fd, &e, sizeof(e), NULL, 0);
	if (r == 0) {
		struct timeval tv = { .tv_sec = TK_REPLY_MS / 1000 };

		(void)setsockopt(tk->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		len = sg_proto_recv(tk->fd, d->msg, sizeof(d->msg), rfds, &nfds);
		close_fds(rfds, nfds);
		if (len > 0 && nfds == 0 && tk_check(d->msg, (size_t)len, TK_ACCEPT, sizeof(tk_header_t)) == 0) {
			snprintf(why, sizeof(why), "handed over to pid %d", (int)tk->cred.pid);
			log_takeover("old", "done", tk->cred.pid, ids, n, why);
			free(ids);
			d->handed_over = true;
			tk_close(tk);
			target_release_all(d);
			d->stop_cb(d, 0);
			return;
		}
		refused = len > 0 ? tk_refused(d->msg, (size_t)len) : NULL;
		snprintf(why, sizeof(why), "the new supervisor refused: %s",
			 refused ? refused : len == 0 ? "it closed the connection"
				  : len < 0  ? strerror((int)-len) : "malformed answer");
	} else
		snprintf(why, sizeof(why), "cannot send the handover: %s", strerror(-r));
	free(ids);
	tk_resume(tk, why);
}

static bool tk_parked(const sgd_t *d, bool brokered)
{
	for (const target_t *t = d->targets; t; t = t->next)
		if (t->parks || (brokered && broker_in_flight(t)))
			return true;
	return false;
}

/*
 * While paused: handshakes in progress finish (or time out), and parked
 * calls wait out their throttle, and brokered opens their end, up to
 * TK_PARK_WAIT_MS; after that they are decided at once, ending their wait
 * early (an open in flight is answered EINTR). Then everything is sent.
 */
static void tk_tick_cb(uv_timer_t *h)
{
	takeover_t *tk = h->data;
	sgd_t *d = tk->d;
	uint64_t ms = (sgd_now_ns() - tk->paused_ns) / 1000000;

	if (ms >= TK_PARK_WAIT_MS)
		for (target_t *t = d->targets; t; t = t->next) {
			throttle_flush(t);
			broker_flush(t);
		}
	if (d->nconns > 0) {
		if (ms >= TK_DRAIN_MS)
			tk_refuse(tk, "handshakes in progress did not finish");
		return;
	}
	/* Brokered opens in flight are answered by the flush above (EINTR);
	 * their workers need not be waited for. */
	if (!tk_parked(d, ms < TK_PARK_WAIT_MS))
		tk_hand_over(tk);
}

static int tk_check_request(takeover_t *tk, size_t len, char *why, size_t why_len)
{
	sgd_t *d = tk->d;
	tk_request_t m;
	char mine[PATH_MAX];
	int r = tk_decode_request(d->msg, len, &m);

	if (r < 0) {
		snprintf(why, why_len, "malformed REQUEST: %s", strerror(-r));
		return r;
	}
	if (config_realpath(d->cfg, mine) < 0 || strcmp(mine, m.config) != 0) {
		snprintf(why, why_len, "config %s is not this supervisor's (%s)", m.config, d->cfg->path);
		return -EPERM;
	}
	if (d->stopping) {
		snprintf(why, why_len, "the supervisor is stopping");
		return -ESHUTDOWN;
	}
	return 0;
}

static void tk_request_cb(uv_poll_t *h, int status, int events)
{
	takeover_t *tk = h->data;
	sgd_t *d = tk->d;
	int fds[SG_PROTO_MAX_FDS];
	size_t nfds = 0;
	char why[PATH_MAX * 2 + 64];
	ssize_t n = sg_proto_recv(tk->fd, d->msg, sizeof(d->msg), fds, &nfds);

	if (n == -EAGAIN || n == -EINTR)
		return;
	close_fds(fds, nfds);
	if (n <= 0 || nfds) {
		tk_refuse(tk, n == 0 ? "the peer left" : "malformed REQUEST");
		return;
	}
	if (tk_check_request(tk, (size_t)n, why, sizeof(why)) < 0) {
		tk_refuse(tk, why);
		return;
	}
	/* From here on no NOTIF_RECV: the listeners are about to be someone
	 * else's, and a call received here would be answered by no one. */
	d->paused = true;
	accept_pause(d);
	target_pause_all(d);
	uv_poll_stop(&tk->poll);
	tk->paused_ns = sgd_now_ns();
	uv_timer_start(&tk->timer, tk_tick_cb, 0, TK_TICK_MS);
}

static void tk_timeout_cb(uv_timer_t *h)
{
	tk_refuse(h->data, "no REQUEST in time");
}

static void ctl_cb(uv_poll_t *h, int status, int events)
{
	sgd_t *d = h->data;
	socklen_t len;
	takeover_t *tk;
	int fd;

	/* cppcheck-suppress nullPointer ; accept4(2) takes NULL for an address not wanted */
	while ((fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct ucred cred = { .pid = 0 };
		char why[SG_PROTO_MAX_REASON];
		int pidfd = sg_peer_pidfd(fd), r;

		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
			cred.pid = 0;
		r = tk_peer_check(pidfd, "the peer asking for a takeover", why, sizeof(why));
		if (pidfd >= 0)
			close(pidfd);
		if (r < 0) {
			tk_send_refuse(fd, why);
			log_takeover("old", "refused", cred.pid, NULL, 0, why);
			close(fd);
			continue;
		}
		if (d->tk || d->stopping || !(tk = calloc(1, sizeof(*tk)))) {
			tk_send_refuse(fd, d->tk ? "a takeover is in progress" : "the supervisor is stopping");
			close(fd);
			continue;
		}
		tk->d = d;
		tk->fd = fd;
		tk->cred = cred;
		uv_poll_init(d->loop, &tk->poll, fd);
		uv_timer_init(d->loop, &tk->timer);
		tk->poll.data = tk->timer.data = tk;
		tk->handles = 2;
		d->tk = tk;
		uv_poll_start(&tk->poll, UV_READABLE, tk_request_cb);
		uv_timer_start(&tk->timer, tk_timeout_cb, TK_REQUEST_MS, 0);
	}
}

/* A new control socket, 0600, where a stale one (never another file) may be. */
static int ctl_create(const char *path, sg_error_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (lstat(path, &st) == 0 && (!S_ISSOCK(st.st_mode) || unlink(path) < 0)) {
		sg_error_set(err, path, 0, "exists and cannot be replaced by the control socket");
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path));
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r == 0)
		r = listen(fd, 4);
	if (r < 0) {
		r = -errno;
		sg_error_set(err, path, 0, "cannot listen: %s", strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

int takeover_listen(sgd_t *d, int fd, sg_error_t *err)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int r;

	if (fd < 0) {
		r = takeover_path(d->cfg, path, sizeof(path));
		if (r < 0) {
			sg_error_set(err, d->cfg->path, 0,
				     "socket path too long for its takeover socket (%s" TAKEOVER_SUFFIX ")",
				     d->cfg->socket);
			return r;
		}
		fd = ctl_create(path, err);
		if (fd < 0)
			return fd;
	}
	r = uv_poll_init(d->loop, &d->ctl_poll, fd);
	if (r < 0) {
		sg_error_set(err, d->cfg->socket, 0, "cannot poll the takeover socket: %s", strerror(-r));
		close(fd);
		return r;
	}
	d->ctl_fd = fd;
	d->ctl_poll.data = d;
	d->ctl_listening = true;
	uv_poll_start(&d->ctl_poll, UV_READABLE, ctl_cb);
	return 0;
}

void takeover_stop(sgd_t *d)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (d->tk)
		tk_close(d->tk);
	if (!d->ctl_listening)
		return;
	uv_close((uv_handle_t *)&d->ctl_poll, NULL);
	close(d->ctl_fd);
	d->ctl_fd = -1;
	d->ctl_listening = false;
	if (!d->handed_over && takeover_path(d->cfg, path, sizeof(path)) == 0)
		unlink(path);
}

/* -------------------------------------------------- the new side */

/* fd is a listening SOCK_SEQPACKET unix socket bound to path. */
static bool listening_on(int fd, const char *path)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int v = 0;
	socklen_t vl = sizeof(v);

	memset(&sa, 0, sizeof(sa));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) < 0 || v != SOCK_SEQPACKET)
		return false;
	vl = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0 || !v)
		return false;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX)
		return false;
	return strncmp(sa.sun_path, path, sizeof(sa.sun_path)) == 0;
}

/* fd is a pidfd of pid (or of a process that has exited: Pid -1, a target
 * that ends as soon as it is adopted: its listener has no task left). */
static bool pidfd_of(int fd, pid_t pid)
{
	char path[64], buf[1024], link[32];
	const char *p;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[pidfd]") != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:");
	if (!p)
		return false;
	n = strtol(p + 5, NULL, 10);
	return n == pid || n == -1;
}

static int find_policy(const sgd_t *d, const char *name, size_t *index)
{
	for (size_t i = 0; i < d->npolicies; i++) {
		if (strcmp(d->cfg->policies[i].name, name) == 0) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Connects to the control socket of the supervisor running on this
 * config, which must be the supervisor's uid's, as must its peer. */
static int tk_connect(sgd_t *d, pid_t *peer, sg_error_t *err)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;
	int fd, r;

	if (takeover_path(d->cfg, path, sizeof(path)) < 0) {
		sg_error_set(err, d->cfg->path, 0, "socket path too long for its takeover socket");
		return -ENAMETOOLONG;
	}
	r = accept_socket_dir(d->cfg->socket, err);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		sg_error_set(err, path, 0, "no takeover socket of uid %u here: is sysgated running "
			     "on this config?", (unsigned)geteuid());
		return -ENOENT;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Every answer then names its sender, checked in tk_recv. */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &(int){ 1 }, sizeof(int)) < 0) {
		r = -errno;
		sg_error_set(err, path, 0, "SO_PASSPIDFD (Linux 6.5): %s", strerror(-r));
		close(fd);
		return r;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		sg_error_set(err, path, 0, "cannot connect: %s", strerror(-r));
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid() ||
	    tk_blocking(fd, TK_IO_MS) < 0) {
		sg_error_set(err, path, 0, "the supervisor behind it is not of uid %u", (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	*peer = cred.pid;
	return fd;
}

/* Receives one message of the exchange: its length, or a negative errno
 * with err set (a REFUSE's reason included). fds: room for SG_PROTO_MAX_FDS.
 * The first answer (first) is believed only from a sender tk_peer_check
 * passes; the rest come on the same connection. */
static ssize_t tk_recv(sgd_t *d, int sock, int *fds, size_t *nfds, bool first, sg_error_t *err)
{
	char shown[SG_PROTO_MAX_REASON + 1], bad[SG_PROTO_MAX_REASON];
	const char *why;
	int pidfd = -1, r = 0;
	ssize_t n = sg_proto_recv_pidfd(sock, d->msg, sizeof(d->msg), fds, nfds, &pidfd);

	/* A peer that closed with our message unread leaves ECONNRESET
	 * pending ahead of its answer (a REFUSE): read once more for it. */
	if (n == -ECONNRESET)
		n = sg_proto_recv_pidfd(sock, d->msg, sizeof(d->msg), fds, nfds, &pidfd);
	if (first && n > 0)
		r = tk_peer_check(pidfd, "the running supervisor", bad, sizeof(bad));
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0) {
		close_fds(fds, *nfds);
		*nfds = 0;
		sg_error_set(err, d->cfg->path, 0, "takeover: the control socket is not served by a "
			     "supervisor: %s", bad);
		return -EPERM;
	}

	if (n > 0 && tk_type(d->msg, (size_t)n) == TK_REFUSE) {
		why = tk_refused(d->msg, (size_t)n);
		close_fds(fds, *nfds);
		*nfds = 0;
		/* The reason goes to a terminal: control characters from the
		 * peer are shown as '?', other bytes (UTF-8 paths) as they are. */
		if (why) {
			size_t i = 0;

			for (; i < sizeof(shown) - 1 && why[i]; i++) {
				unsigned char c = (unsigned char)why[i];

				shown[i] = why[i];
				if (c < 0x20 || c == 0x7f)
					shown[i] = '?';
			}
			shown[i] = '\0';
		}
		sg_error_set(err, d->cfg->path, 0, "takeover refused by the running supervisor: %s",
			     why ? shown : "(malformed reason)");
		return -EPERM;
	}
	if (n <= 0) {
		sg_error_set(err, d->cfg->path, 0, "takeover: %s",
			     n == 0 ? "the running supervisor closed the connection"
			     : n == -EAGAIN ? "the running supervisor did not answer in time"
					     : strerror((int)-n));
		return n == 0 ? -ECONNRESET : n;
	}
	return n;
}

/* Checks one TARGET and registers it with d. fds are the message's. */
static int tk_adopt_one(sgd_t *d, size_t len, int *fds, size_t nfds, uint64_t last_id,
			uint64_t *id, char *why, size_t why_len)
{
	static tk_target_t m;
	static target_t rec;
	target_t *t;
	size_t pi;
	int r = tk_decode_target(d->msg, len, &m);

	if (r < 0) {
		snprintf(why, why_len, "malformed TARGET: %s", strerror(-r));
		return r;
	}
	if (m.id <= last_id || nfds != tk_target_nfds(&m)) {
		snprintf(why, why_len, "target %llu: ids out of order or wrong number of fds",
			 (unsigned long long)m.id);
		return -EBADMSG;
	}
	if (find_policy(d, m.policy, &pi) < 0) {
		snprintf(why, why_len, "target %llu runs policy '%s', which the new config does not have",
			 (unsigned long long)m.id, m.policy);
		return -ENOENT;
	}
	/* The mode as a HELLO asking for it would get it from this config
	 * (accept.c, choose_mode); enforce is never weaker than the policy. */
	if (m.mode != SG_MODE_ENFORCE && m.mode != (uint32_t)policy_mode(d->policies[pi]) &&
	    !(d->cfg->policies[pi].modes & CONFIG_MODE_BIT(m.mode))) {
		snprintf(why, why_len, "target %llu runs policy '%s' in mode '%s', which the new config "
			 "does not allow for it", (unsigned long long)m.id, m.policy,
			 sg_proto_mode_name(m.mode));
		return -EACCES;
	}
	/* Every target was admitted with its launcher's pidfd (SO_PEERPIDFD):
	 * without one the pid would be the old side's word alone. */
	if (!(m.flags & TK_HAS_PIDFD)) {
		snprintf(why, why_len, "target %llu comes without a pidfd: its pid %u cannot be checked",
			 (unsigned long long)m.id, m.pid);
		return -EBADMSG;
	}
	if (!accept_is_listener(d, fds[0]) || (nfds == 2 && !pidfd_of(fds[1], (pid_t)m.pid))) {
		snprintf(why, why_len, "target %llu: the fds are not its listener and pidfd",
			 (unsigned long long)m.id);
		return -EBADF;
	}
	memset(&rec, 0, sizeof(rec));
	rec.id = m.id;
	rec.pid = (pid_t)m.pid;
	rec.uid = (uid_t)m.uid;
	rec.mode = (sg_mode_t)m.mode;
	rec.started_ns = m.started_ns;
	rec.started_wall = (time_t)m.started_wall;
	rec.notifications = m.notifications;
	rec.decisions = m.decisions;
	rec.denied = m.denied;
	rec.errors = m.errors;
	rec.gone = m.gone;
	rec.advisory = m.advisory;
	rec.brokered = m.brokered;
	rec.restarts = m.restarts;
	rec.would_deny = m.would_deny;
	rec.log_suppressed = m.log_suppressed;
	memcpy(rec.hello.policy, m.policy, sizeof(rec.hello.policy));
	rec.hello.nlabels = m.nlabels;
	rec.hello.mode = m.mode;
	memcpy(rec.hello.labels, m.labels, sizeof(m.labels));
	r = target_adopt(d, fds[0], nfds == 2 ? fds[1] : -1, pi, &rec, &t);
	if (r < 0) {
		snprintf(why, why_len, "target %llu: cannot register it: %s", (unsigned long long)m.id,
			 strerror(-r));
		return r;
	}
	*id = m.id;
	return 0;
}

/* Receives BEGIN and its two sockets. */
static int tk_begin(sgd_t *d, int sock, tk_begin_t *b, int fds[2], sg_error_t *err)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int got[SG_PROTO_MAX_FDS], r;
	size_t nfds = 0;
	ssize_t n = tk_recv(d, sock, got, &nfds, true, err);

	if (n < 0)
		return (int)n;
	(void)takeover_path(d->cfg, path, sizeof(path));
	r = tk_decode_begin(d->msg, (size_t)n, b);
	if (r < 0 || nfds != 2 || !listening_on(got[0], d->cfg->socket) || !listening_on(got[1], path)) {
		close_fds(got, nfds);
		sg_error_set(err, d->cfg->path, 0, "takeover: malformed BEGIN (%s) or sockets",
			     strerror(r < 0 ? -r : EBADMSG));
		tk_send_refuse(sock, "malformed BEGIN or sockets");
		return r < 0 ? r : -EBADMSG;
	}
	fds[0] = got[0];
	fds[1] = got[1];
	return 0;
}

/* Receives the targets and END; registers the targets. */
static int tk_targets(sgd_t *d, int sock, const tk_begin_t *b, uint64_t *ids, sg_error_t *err)
{
	char why[SG_PROTO_MAX_REASON];
	int fds[SG_PROTO_MAX_FDS];
	uint64_t last = 0;
	tk_end_t e;
	size_t nfds;
	ssize_t n;
	int r;

	for (uint32_t i = 0; i < b->ntargets; i++) {
		nfds = 0;
		n = tk_recv(d, sock, fds, &nfds, false, err);
		if (n < 0)
			return (int)n;
		r = tk_adopt_one(d, (size_t)n, fds, nfds, last, &ids[i], why, sizeof(why));
		if (r < 0) {
			close_fds(fds, nfds);
			sg_error_set(err, d->cfg->path, 0, "takeover refused: %s", why);
			tk_send_refuse(sock, why);
			return r;
		}
		last = ids[i];
	}
	nfds = 0;
	n = tk_recv(d, sock, fds, &nfds, false, err);
	if (n < 0)
		return (int)n;
	close_fds(fds, nfds);
	if (nfds || tk_decode_end(d->msg, (size_t)n, &e) < 0 || e.ntargets != b->ntargets) {
		sg_error_set(err, d->cfg->path, 0, "takeover: malformed END");
		tk_send_refuse(sock, "malformed END");
		return -EBADMSG;
	}
	return 0;
}

/*
 * After a REFUSE the old side may still be sending: the rest is read and
 * its fds closed until END, so that the old side reads the REFUSE (closing
 * with unread messages would reset the connection, and lose the reason).
 */
static void tk_drain(sgd_t *d, int sock)
{
	int fds[SG_PROTO_MAX_FDS];
	size_t nfds;

	for (uint32_t i = 0; i < TK_MAX_TARGETS + 2; i++) {
		ssize_t n;

		nfds = 0;
		n = sg_proto_recv(sock, d->msg, sizeof(d->msg), fds, &nfds);
		close_fds(fds, nfds);
		if (n <= 0 || tk_type(d->msg, (size_t)n) == TK_END)
			return;
	}
}

/* Undoes tk_serve: the files are the old supervisor's, not removed. */
static void tk_unserve(sgd_t *d)
{
	d->handed_over = true;
	takeover_stop(d);
	accept_stop(d);
	d->handed_over = false;
}

/*
 * Serves the listening and control sockets handed over, before the old
 * supervisor is told to go: once it has gone, a failure here would fail
 * its targets. On failure neither socket is kept; socks are consumed.
 */
static int tk_serve(sgd_t *d, int socks[2], sg_error_t *err)
{
	int r = accept_adopt(d, socks[0], err);

	socks[0] = -1;
	if (r < 0) {
		close(socks[1]);
		socks[1] = -1;
		return r;
	}
	r = takeover_listen(d, socks[1], err);
	socks[1] = -1;
	if (r < 0)
		tk_unserve(d);
	return r;
}

int takeover_receive(sgd_t *d, sg_error_t *err)
{
	static tk_request_t req;
	tk_begin_t b = { .pid = 0 };
	tk_header_t ok;
	uint64_t *ids = NULL;
	int socks[2] = { -1, -1 };
	bool served = false;
	char msg[128];
	pid_t peer = 0;
	int sock, r;

	sock = tk_connect(d, &peer, err);
	if (sock < 0)
		return sock;
	tk_header(&req, TK_REQUEST, sizeof(req));
	req.pid = (uint32_t)getpid();
	r = config_realpath(d->cfg, req.config);
	if (r == 0)
		r = tk_send(sock, &req, sizeof(req), NULL, 0);
	/* A supervisor that refuses this peer outright answers and closes
	 * before reading REQUEST: its REFUSE is still queued here. */
	if (r == -EPIPE || r == -ECONNRESET)
		r = 0;
	if (r < 0) {
		sg_error_set(err, d->cfg->path, 0, "takeover: cannot ask: %s", strerror(-r));
		goto out;
	}
	r = tk_begin(d, sock, &b, socks, err);
	if (r < 0) {
		if (r != -EAGAIN && r != -EPERM)
			tk_drain(d, sock);
		goto out;
	}
	ids = calloc(b.ntargets + 1, sizeof(*ids));
	r = ids ? tk_targets(d, sock, &b, ids, err) : -ENOMEM;
	if (r == 0) {
		r = tk_serve(d, socks, err);
		served = r == 0;
	}
	if (r == 0) {
		tk_header(&ok, TK_ACCEPT, sizeof(ok));
		r = tk_send(sock, &ok, sizeof(ok), NULL, 0);
		if (r < 0)
			sg_error_set(err, d->cfg->path, 0, "takeover: cannot accept: %s", strerror(-r));
	}
	if (r < 0) {
		if (r == -ENOMEM)
			sg_error_set(err, d->cfg->path, 0, "takeover: out of memory");
		/* The old supervisor serves on; this one keeps nothing. */
		if (served)
			tk_unserve(d);
		target_release_all(d);
		close_fds(socks, 2);
		if (r != -EAGAIN && r != -EPERM)
			tk_drain(d, sock);
		goto out;
	}
	if (d->next_target_id < b.next_target_id)
		d->next_target_id = b.next_target_id;
	snprintf(msg, sizeof(msg), "took over from pid %d", (int)peer);
	log_takeover("new", "done", peer, ids, b.ntargets, msg);
out:
	if (r < 0)
		log_takeover("new", "refused", peer, NULL, 0, err->msg);
	free(ids);
	close(sock);
	return r;
}
