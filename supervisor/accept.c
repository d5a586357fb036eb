/*
 * The accept stage: the supervisor's SOCK_SEQPACKET socket and the
 * handshake with sysgate-run (see include/sysgate/protocol.h).
 *
 *   accept → SO_PEERCRED + SO_PEERPIDFD check → HELLO → SPEC | REFUSE
 *          → LISTENER + exactly one fd → the proof call on the listener,
 *            from a thread of the peer → target registered → READY
 *
 * Every message is bounded and decoded strictly; any deviation closes the
 * connection after closing every fd that came with it (HARDENING 1-5).
 * A handshake that stalls is cut off after SGD_HANDSHAKE_TIMEOUT_MS.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "label.h"
#include "log.h"
#include "path.h"
#include "sysgate/peer.h"
#include "sgd.h"
#include "target.h"

#define ACCEPT_RETRY_MS 100

typedef enum conn_state {
	CONN_HELLO,    /* waiting for HELLO */
	CONN_LISTENER, /* SPEC sent, waiting for the listener fd */
	CONN_PROOF,    /* listener received, waiting for the proof call on it */
} conn_state_t;

struct conn {
	sgd_t *d;
	int fd;
	int pidfd; /* the peer process, -1 when unknown */
	struct ucred cred;
	conn_state_t state;
	size_t policy_index;
	sg_mode_t mode; /* the one the target runs in, decided on HELLO */
	sg_hello_t hello;
	int listener;  /* the one handed over, until it is a target's; else -1 */
	int lwatch;    /* a dup of it that lpoll watches (see wait_proof); else -1 */
	uv_poll_t poll;
	uv_poll_t lpoll;
	uv_timer_t timer;
	int handles; /* open libuv handles; freed when both are closed */
	conn_t *prev, *next;
};

static void conn_handle_closed_cb(uv_handle_t *h)
{
	conn_t *c = h->data;

	if (--c->handles == 0)
		free(c);
}

static void conn_close(conn_t *c)
{
	sgd_t *d = c->d;

	if (c->fd < 0)
		return;
	uv_close((uv_handle_t *)&c->poll, conn_handle_closed_cb);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed_cb);
	close(c->fd);
	c->fd = -1;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	if (c->lwatch >= 0) {
		uv_close((uv_handle_t *)&c->lpoll, conn_handle_closed_cb);
		close(c->lwatch);
	}
	c->lwatch = -1;
	if (c->listener >= 0)
		close(c->listener);
	c->listener = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nconns--;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* Sends a REFUSE (best effort), logs it and closes the connection. */
static void conn_refuse(conn_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void conn_refuse(conn_t *c, int code, const char *fmt, ...)
{
	sg_refuse_t r;
	va_list ap;
	ssize_t len;

	memset(&r, 0, sizeof(r));
	r.code = (uint32_t)code;
	va_start(ap, fmt);
	vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
	va_end(ap);
	len = sg_proto_encode_refuse(&r, c->d->msg, sizeof(c->d->msg));
	if (len > 0)
		(void)sg_proto_send(c->fd, c->d->msg, (size_t)len, -1);
	log_refused(c->cred.pid, c->cred.uid, c->cred.gid, c->hello.policy, r.reason);
	conn_close(c);
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

/*
 * The mode the target runs in: the policy's own, or the one HELLO asks
 * for if the config allows it for this policy (modes = [...]). A target
 * that may ask for audit or learn may run unenforced, so the default is
 * no: anything not allowed is refused, never downgraded. Returns 0, or
 * -EACCES with the reason in why.
 */
static int choose_mode(conn_t *c, char *why, size_t len)
{
	const config_policy_t *pc = &c->d->cfg->policies[c->policy_index];
	sg_mode_t own = policy_mode(c->d->policies[c->policy_index]);
	sg_mode_t want = (sg_mode_t)c->hello.mode;

	c->mode = own;
	if (want == SG_MODE_POLICY || want == own)
		return 0;
	if (!(pc->modes & CONFIG_MODE_BIT(want))) {
		snprintf(why, len, "mode '%s' is not allowed for policy '%s' (its mode is '%s'; the "
			 "config's 'modes' for it decides what a target may ask for)",
			 sg_proto_mode_name(want), pc->name, sg_proto_mode_name(own));
		return -EACCES;
	}
	c->mode = want;
	return 0;
}

static void on_hello(conn_t *c, size_t len)
{
	sgd_t *d = c->d;
	char why[256];
	ssize_t out;
	int r;

	r = sg_proto_decode_hello(d->msg, len, &c->hello);
	if (r < 0) {
		conn_refuse(c, EPROTO, "malformed HELLO: %s", strerror(-r));
		return;
	}
	if (find_policy(d, c->hello.policy, &c->policy_index) < 0) {
		conn_refuse(c, ENOENT, "unknown policy '%s'", c->hello.policy);
		return;
	}
	if (choose_mode(c, why, sizeof(why)) < 0) {
		conn_refuse(c, EACCES, "%s", why);
		return;
	}
	/* Labels have owners (label.h). */
	if (label_admit(d->cfg, &c->cred, &c->hello, why, sizeof(why)) < 0) {
		conn_refuse(c, EACCES, "%s", why);
		return;
	}
	/* The launcher's quotas, before it gets a filter (tenant.c). */
	if (target_admit(d, c->cred.uid, c->mode, why, sizeof(why)) < 0) {
		conn_refuse(c, EDQUOT, "%s", why);
		return;
	}
	out = sg_proto_encode_spec(policy_spec_for(d->policies[c->policy_index], c->mode), d->msg,
				   sizeof(d->msg));
	if (out < 0 || sg_proto_send(c->fd, d->msg, (size_t)out, -1) < 0) {
		conn_refuse(c, EIO, "cannot send the filter spec");
		return;
	}
	c->state = CONN_LISTENER;
}

/* True when fd is a seccomp listener: its inode says so, and ID_VALID
 * answers ENOENT for an id that was never issued. */
bool accept_is_listener(sgd_t *d, int fd)
{
	static const char want[] = "anon_inode:seccomp notify";
	char path[64], link[sizeof(want) + 1];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	if (n != (ssize_t)sizeof(want) - 1 || memcmp(link, want, (size_t)n) != 0)
		return false;
	return receive_id_valid(d, fd, 0) == -ENOENT;
}

/* The target: c's listener, proven to be its peer's. */
static void conn_admit(conn_t *c)
{
	sgd_t *d = c->d;
	int fd = c->listener;
	target_t *t;
	sg_ready_t ready;
	char why[256];
	ssize_t out;
	int r;

	c->listener = -1;
	r = target_add(d, fd, c->pidfd, c->cred.pid, c->cred.uid, c->policy_index, &c->hello, c->mode,
		       &t);
	if (r == -EDQUOT && target_admit(d, c->cred.uid, c->mode, why, sizeof(why)) < 0) {
		/* Another handshake of the launcher took its last one meanwhile. */
		close(fd);
		conn_refuse(c, EDQUOT, "%s", why);
		return;
	}
	if (r < 0) {
		close(fd);
		conn_refuse(c, EIO, "cannot register the target: %s", strerror(-r));
		return;
	}
	c->pidfd = -1; /* the target owns it now, and the listener */
	ready.target_id = target_id(t);
	out = sg_proto_encode_ready(&ready, d->msg, sizeof(d->msg));
	/* If READY cannot be sent the shim is gone or broken; its filter then
	 * ends with it and POLLHUP tears the target down. */
	if (out > 0)
		(void)sg_proto_send(c->fd, d->msg, (size_t)out, -1);
	conn_close(c);
}

/* The Tgid of task tid in this process's /proc, or a negative errno. */
static pid_t task_tgid(pid_t tid)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1); /* Tgid is the fourth line */
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	if (!p)
		return -EIO;
	return (pid_t)strtol(p + 6, NULL, 10);
}

/*
 * Whether the notification in d->req is c's proof: the proof call, from a
 * thread of the process that connected. The kernel names no task of a
 * listener's filter, and a launcher could hand over a listener it was
 * given; a call on the listener is the kernel's word that its caller runs
 * under that filter. The thread's Tgid is read, then the notification
 * checked still pending (the thread is alive, so its pid was not reused
 * meanwhile), then the peer's pidfd checked to name a live process with
 * the pid it had when it connected: that process held its pid all along,
 * so a thread with that Tgid was one of it. 0, or -EACCES with why.
 */
static int check_proof(conn_t *c, char *why, size_t len)
{
	const struct seccomp_notif *req = c->d->req;
	sg_peer_t p;
	pid_t tgid;
	int r;

	if (!receive_is_proof(req->data.nr, req->data.arch, req->data.args[0])) {
		snprintf(why, len, "the first call on the listener handed over is not the proof call "
			 "(syscall %d from pid %u): a sysgate-run of protocol version %u makes it",
			 req->data.nr, req->pid, SG_PROTO_VERSION);
		return -EACCES;
	}
	if (req->pid == 0 && c->cred.pid == 0)
		return 0; /* neither is visible to sysgated: the target is named by
			   * no pid, and every call of it is denied (HARDENING 12) */
	if (req->pid == 0) {
		snprintf(why, len, "the proof call came from a task outside sysgated's pid namespace, "
			 "the launcher (pid %d) is in it", (int)c->cred.pid);
		return -EACCES;
	}
	tgid = task_tgid((pid_t)req->pid);
	if (tgid > 0 && receive_id_valid(c->d, c->listener, req->id) < 0)
		tgid = -ESRCH;
	if (tgid < 0) {
		snprintf(why, len, "cannot read the process of the proof call (pid %u): %s", req->pid,
			 strerror(-tgid));
		return -EACCES;
	}
	r = sg_peer_read_pidfd(c->pidfd, 0, &p);
	if (r < 0 || p.pid != c->cred.pid) {
		snprintf(why, len, "the launcher (pid %d) is gone", (int)c->cred.pid);
		return -EACCES;
	}
	if (tgid != c->cred.pid) {
		snprintf(why, len, "the listener handed over is not the launcher's: its filter's proof "
			 "call came from pid %u of process %d, the launcher is process %d",
			 req->pid, (int)tgid, (int)c->cred.pid);
		return -EACCES;
	}
	return 0;
}

/* Answers the proof call with 0: the call returns and the shim goes on. */
static int answer_proof(conn_t *c)
{
	sgd_t *d = c->d;
	struct seccomp_notif_resp *resp = d->resp;

	memset(resp, 0, d->resp_size);
	resp->id = d->req->id;
	if (ioctl(c->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0)
		return -errno;
	return 0;
}

static void conn_proof_cb(uv_poll_t *h, int status, int events)
{
	conn_t *c = h->data;
	char why[384];
	int r;

	struct pollfd pf = { .fd = c->listener, .events = POLLIN };

	(void)status;
	(void)events;
	/* A listener whose filter has no task left is readable too (POLLHUP),
	 * and a receive on it would wait. */
	if (poll(&pf, 1, 0) < 0 || !(pf.revents & POLLIN)) {
		if (pf.revents & (POLLHUP | POLLERR))
			conn_refuse(c, EACCES, "the listener handed over has no task left under its filter");
		return;
	}
	r = receive_raw(c->d, c->listener);
	if (r == -EINTR || r == -EAGAIN || r == -ENOENT)
		return; /* the poll brings us back; the handshake's timer bounds it */
	if (r < 0) {
		conn_refuse(c, EACCES, "cannot receive the proof call on the listener handed over: %s",
			    r == -ETIMEDOUT ? "someone else took it (the listener is shared)"
					    : strerror(-r));
		return;
	}
	if (check_proof(c, why, sizeof(why)) < 0) {
		conn_refuse(c, EACCES, "%s", why);
		return;
	}
	r = answer_proof(c);
	if (r < 0) {
		conn_refuse(c, EACCES, "cannot answer the proof call: %s", strerror(-r));
		return;
	}
	uv_poll_stop(&c->lpoll);
	conn_admit(c);
}

/*
 * Waits for the proof call on the listener (fd, which c owns from here).
 * It is watched through a dup: closing a libuv poll handle takes its fd
 * out of the loop's epoll set, and the target's own poll on the listener
 * must not lose its registration when this one closes.
 */
static void wait_proof(conn_t *c, int fd)
{
	c->listener = fd;
	c->lwatch = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (c->lwatch < 0) {
		conn_refuse(c, EMFILE, "cannot watch the listener: %s", strerror(errno));
		return;
	}
	if (uv_poll_init(c->d->loop, &c->lpoll, c->lwatch) < 0) {
		close(c->lwatch);
		c->lwatch = -1;
		conn_refuse(c, EIO, "cannot watch the listener");
		return;
	}
	c->lpoll.data = c;
	c->handles++;
	c->state = CONN_PROOF;
	uv_poll_start(&c->lpoll, UV_READABLE, conn_proof_cb);
}

static void on_listener(conn_t *c, size_t len, int fd)
{
	int r = sg_proto_decode_listener(c->d->msg, len);

	if (r < 0 || !accept_is_listener(c->d, fd)) {
		close(fd);
		conn_refuse(c, EPROTO, r < 0 ? "malformed LISTENER" : "the fd sent is not a seccomp listener");
		return;
	}
	wait_proof(c, fd);
}

static void conn_read_cb(uv_poll_t *h, int status, int events)
{
	conn_t *c = h->data;
	sgd_t *d = c->d;
	int fds[SG_PROTO_MAX_FDS];
	size_t nfds = 0, want;
	sg_msg_header_t hdr;
	ssize_t n;

	n = sg_proto_recv(c->fd, d->msg, sizeof(d->msg), fds, &nfds);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n == 0) {
		conn_close(c); /* the peer left: nothing to answer */
		return;
	}
	if (n < 0) {
		conn_refuse(c, EPROTO, "cannot receive: %s", strerror((int)-n));
		return;
	}
	want = c->state == CONN_LISTENER ? 1 : 0;
	if (nfds != want) {
		close_fds(fds, nfds);
		conn_refuse(c, EPROTO, "%zu fds with a message that takes %zu", nfds, want);
		return;
	}
	if (sg_proto_check_header(d->msg, (size_t)n, &hdr) < 0 || c->state == CONN_PROOF ||
	    hdr.type != (c->state == CONN_HELLO ? SG_MSG_HELLO : SG_MSG_LISTENER)) {
		close_fds(fds, nfds);
		conn_refuse(c, EPROTO, "unexpected or malformed message");
		return;
	}
	if (c->state == CONN_HELLO)
		on_hello(c, (size_t)n);
	else
		on_listener(c, (size_t)n, fds[0]);
}

static void conn_timeout_cb(uv_timer_t *h)
{
	conn_refuse(h->data, ETIMEDOUT, "handshake timed out");
}

static bool peer_allowed(const sg_config_t *cfg, const struct ucred *cred)
{
	for (size_t i = 0; i < cfg->n_allow_uids; i++)
		if (cfg->allow_uids[i] == cred->uid)
			return true;
	for (size_t i = 0; i < cfg->n_allow_gids; i++)
		if (cfg->allow_gids[i] == cred->gid)
			return true;
	return false;
}

/*
 * The launcher must not be a target: a target of an allowed uid (uid 0
 * without capabilities, say) would otherwise be served as one, and hand
 * over a listener of its own if it ever got one (the kernel refuses it a
 * second while its sysgate listener is open, the fail-closed filter after
 * that). Every target runs under a seccomp filter, so a launcher under
 * one is refused unless the config says launchers run under another (a
 * container's default profile; docs/security.md says why that is still
 * safe). The peer is read through its pidfd, which c keeps. 0, or -EACCES
 * with the reason in why.
 */
static int launcher_check(conn_t *c, char *why, size_t len)
{
	sg_peer_t p;
	int r = sg_peer_pidfd(c->fd);

	if (r < 0) {
		snprintf(why, len, "cannot name the launcher (SO_PEERPIDFD, Linux 6.5): %s",
			 strerror(-r));
		return -EACCES;
	}
	c->pidfd = r;
	r = sg_peer_read_pidfd(c->pidfd, 0, &p);
	if (r < 0) {
		snprintf(why, len, "cannot read the launcher's identity: %s", strerror(-r));
		return -EACCES;
	}
	if (sg_peer_filtered(&p) && !c->d->cfg->launchers_may_be_filtered) {
		snprintf(why, len, "the launcher (pid %d) runs under a seccomp filter, as every "
			 "sysgate target does (launchers_may_be_filtered is false)", (int)p.pid);
		return -EACCES;
	}
	return 0;
}

static conn_t *conn_new(sgd_t *d, int fd, const struct ucred *cred)
{
	conn_t *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	c->fd = fd;
	c->pidfd = -1;
	c->cred = *cred;
	c->listener = -1;
	c->lwatch = -1;
	if (uv_poll_init(d->loop, &c->poll, fd) < 0) {
		free(c);
		return NULL;
	}
	uv_timer_init(d->loop, &c->timer);
	c->poll.data = c->timer.data = c;
	c->handles = 2;
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->nconns++;
	return c;
}

/*
 * Whether a handshake of uid may start now. A peer that connects and
 * sends nothing holds its slot until the timeout, so the slots are
 * quotas: root may use all SGD_MAX_CONNS, every other uid at most
 * tenants.handshakes, and all of them together leave root's
 * tenants.root_handshakes free, so that no other uid, nor all of them,
 * can keep the operator's launches out. The uid is the socket's
 * (SO_PEERCRED, fixed at connect): known before anything is read. 0, or
 * -EAGAIN with the reason in why.
 */
static int slot_admit(const sgd_t *d, uid_t uid, char *why, size_t len)
{
	const tenant_limits_t *l = &d->cfg->tenants;
	size_t mine = 0, others = 0;

	if (d->nconns >= SGD_MAX_CONNS) {
		snprintf(why, len, "too many handshakes in progress");
		return -EAGAIN;
	}
	if (uid == 0)
		return 0;
	for (const conn_t *c = d->conns; c; c = c->next) {
		mine += c->cred.uid == uid;
		others += c->cred.uid != 0;
	}
	if (mine >= l->handshakes) {
		snprintf(why, len, "launcher uid %u is at its quota of handshakes in progress "
			 "(tenants.handshakes = %u)", (unsigned)uid, (unsigned)l->handshakes);
		return -EAGAIN;
	}
	if (others >= SGD_MAX_CONNS - l->root_handshakes) {
		snprintf(why, len, "the handshakes left are root's (tenants.root_handshakes = %u of %u)",
			 (unsigned)l->root_handshakes, (unsigned)SGD_MAX_CONNS);
		return -EAGAIN;
	}
	return 0;
}

/* Refuses a connection that got no slot: REFUSE (best effort: the socket
 * is new, its buffer empty), logged, closed. */
static void slot_refuse(sgd_t *d, int fd, const struct ucred *cred, const char *why)
{
	sg_refuse_t r;
	ssize_t len;

	memset(&r, 0, sizeof(r));
	r.code = EAGAIN;
	snprintf(r.reason, sizeof(r.reason), "%s", why);
	len = sg_proto_encode_refuse(&r, d->msg, sizeof(d->msg));
	if (len > 0)
		(void)sg_proto_send(fd, d->msg, (size_t)len, -1);
	log_refused(cred->pid, cred->uid, cred->gid, NULL, why);
	close(fd);
}

static void listen_cb(uv_poll_t *h, int status, int events);

static void accept_retry_cb(uv_timer_t *h)
{
	sgd_t *d = h->data;

	if (d->listening && !d->paused)
		uv_poll_start(&d->listen_poll, UV_READABLE, listen_cb);
}

static void listen_cb(uv_poll_t *h, int status, int events)
{
	sgd_t *d = h->data;
	char why[256];

	for (;;) {
		/* cppcheck-suppress nullPointer ; accept4(2) takes NULL for an address not wanted */
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		conn_t *c;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* The connection stays queued and the poll is level-triggered:
			 * without a pause this would spin until an fd is free. */
			log_supervisor("accept_paused", "out of file descriptors (%s); accepting again in %d ms",
				       strerror(errno), ACCEPT_RETRY_MS);
			uv_poll_stop(&d->listen_poll);
			uv_timer_start(&d->accept_retry, accept_retry_cb, ACCEPT_RETRY_MS, 0);
			return;
		}
		if (fd < 0)
			return; /* EAGAIN, or an error accept4 will repeat later */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || clen != sizeof(cred)) {
			close(fd);
			continue;
		}
		if (d->stopping) {
			slot_refuse(d, fd, &cred, "the supervisor is stopping");
			continue;
		}
		if (slot_admit(d, cred.uid, why, sizeof(why)) < 0) {
			slot_refuse(d, fd, &cred, why);
			continue;
		}
		c = conn_new(d, fd, &cred);
		if (!c) {
			close(fd);
			continue;
		}
		if (!peer_allowed(d->cfg, &c->cred)) {
			conn_refuse(c, EACCES, "uid %u gid %u is not allowed by the supervisor's config",
				    (unsigned)c->cred.uid, (unsigned)c->cred.gid);
			continue;
		}
		if (launcher_check(c, why, sizeof(why)) < 0) {
			conn_refuse(c, EACCES, "%s", why);
			continue;
		}
		uv_poll_start(&c->poll, UV_READABLE, conn_read_cb);
		uv_timer_start(&c->timer, conn_timeout_cb, SGD_HANDSHAKE_TIMEOUT_MS, 0);
	}
}

/* Removes a stale socket file, but never something else, and never the
 * socket of a supervisor that still answers. */
static int socket_clear(const char *path, sg_error_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		sg_error_set(err, path, 0, "exists and is not a socket");
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		sg_error_set(err, path, 0, "another supervisor is listening on this socket");
		return -EADDRINUSE;
	}
	return unlink(path) < 0 ? -errno : 0;
}

/*
 * The socket's directory: created if missing, and refused if anyone but
 * the supervisor's uid could replace the socket in it (a look-alike socket
 * would hand sysgate-run a policy of someone else's choosing).
 */
int accept_socket_dir(const char *path, sg_error_t *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	path_dir(path, dir, sizeof(dir));
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;

		sg_error_set(err, dir, 0, "cannot create the socket's directory: %s", strerror(e));
		return -e;
	}
	if (stat(dir, &st) < 0) {
		int e = errno;

		sg_error_set(err, dir, 0, "%s", strerror(e));
		return -e;
	}
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		sg_error_set(err, dir, 0,
			     "the socket's directory must belong to uid %u and be writable by it "
			     "alone (it is uid %u, mode %04o)",
			     (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Polls the listening socket fd; on success d owns it. */
static int accept_serve(sgd_t *d, int fd)
{
	int r = uv_poll_init(d->loop, &d->listen_poll, fd); /* libuv: a negative errno */

	if (r < 0)
		return r;
	d->listen_fd = fd;
	d->listen_poll.data = d;
	d->listening = true;
	uv_timer_init(d->loop, &d->accept_retry);
	d->accept_retry.data = d;
	uv_poll_start(&d->listen_poll, UV_READABLE, listen_cb);
	return 0;
}

int accept_start(sgd_t *d, sg_error_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg->socket;
	mode_t old;
	int fd, r;

	r = accept_socket_dir(path, err);
	if (r == 0)
		r = socket_clear(path, err);
	if (r < 0) {
		if (!err->msg[0])
			sg_error_set(err, path, 0, "%s", strerror(-r));
		return r;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		sg_error_set(err, path, 0, "socket: %s", strerror(errno));
		return -errno;
	}
	memcpy(sa.sun_path, path, strlen(path));
	/* The socket file is created with no access for anyone but the owner
	 * and only then opened up to the configured mode: there is no moment
	 * at which it is wider than configured. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r == 0)
		r = chmod(path, d->cfg->socket_mode);
	if (r == 0)
		r = listen(fd, 128);
	if (r < 0)
		r = -errno;
	if (r == 0)
		r = accept_serve(d, fd);
	if (r < 0) {
		sg_error_set(err, path, 0, "cannot listen: %s", strerror(-r));
		close(fd);
		unlink(path);
		return r;
	}
	return 0;
}

int accept_adopt(sgd_t *d, int fd, sg_error_t *err)
{
	int r = accept_serve(d, fd);

	if (r < 0) {
		sg_error_set(err, d->cfg->socket, 0, "cannot serve the socket handed over: %s",
			     strerror(-r));
		close(fd);
	}
	return r;
}

void accept_pause(sgd_t *d)
{
	if (d->listening) {
		uv_poll_stop(&d->listen_poll);
		uv_timer_stop(&d->accept_retry);
	}
}

void accept_resume(sgd_t *d)
{
	if (d->listening && !d->paused)
		uv_poll_start(&d->listen_poll, UV_READABLE, listen_cb);
}

void accept_stop(sgd_t *d)
{
	if (d->listening) {
		uv_close((uv_handle_t *)&d->accept_retry, NULL);
		uv_close((uv_handle_t *)&d->listen_poll, NULL);
		close(d->listen_fd);
		/* After a takeover the file is the new supervisor's socket. */
		if (!d->handed_over)
			unlink(d->cfg->socket);
		d->listening = false;
	}
	while (d->conns)
		conn_close(d->conns);
}
