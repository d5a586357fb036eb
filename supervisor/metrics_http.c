/*
 * The metrics endpoint: GET /metrics on the configured loopback address,
 * answered by libmicrohttpd from a thread of its own with the registry's
 * text exposition (metrics.c). The HTTP parsing is libmicrohttpd's; this
 * file opens the listening socket (so a failure says why, with errno),
 * routes the one path and bounds what a client can hold.
 *
 * Every local user can connect to a loopback port, so a client that
 * opens every connection and never finishes a request would starve the
 * scraper for as long as it likes (an idle timeout does not stop one that
 * sends a byte now and then, and a limit per address does not either:
 * all of them are 127.0.0.1, or any 127.0.0.0/8 address they bind). The
 * connections are shared per uid instead, the uid that created the
 * client's socket, which the kernel tells (metrics_peer.c): one uid holds
 * at most per_uid of them, fewer than the whole, and a uid that is not in
 * metrics_allow_uids (when given) holds none. On a unix socket
 * (metrics_listen a path) the file's mode and group decide who may
 * connect at all, and the shares hold among those.
 */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "metrics.h"
#include "metrics_peer.h"
#include "sgd.h"

static struct MHD_Daemon *daemon_;
static metrics_t *registry;

/* The connections each uid holds. Only the server's thread touches it
 * once the server runs (its callbacks run there). */
typedef struct share {
	uid_t uid;
	unsigned held; /* 0: a free entry */
} share_t;

static struct {
	uint32_t per_uid;
	const uid_t *allow; /* NULL: any uid */
	size_t nallow;
	share_t uids[METRICS_MAX_CONNECTIONS];
} shares;

static bool uid_allowed(uid_t uid)
{
	if (!shares.allow)
		return true;
	for (size_t i = 0; i < shares.nallow; i++)
		if (shares.allow[i] == uid)
			return true;
	return false;
}

/* One more connection of uid, or NULL when its share is full (or it is
 * not allowed). */
static share_t *share_take(uid_t uid)
{
	share_t *free_entry = NULL;

	if (!uid_allowed(uid))
		return NULL;
	for (size_t i = 0; i < METRICS_MAX_CONNECTIONS; i++) {
		share_t *e = &shares.uids[i];

		if (e->held && e->uid == uid) {
			if (e->held >= shares.per_uid)
				return NULL;
			e->held++;
			return e;
		}
		if (!e->held && !free_entry)
			free_entry = e;
	}
	if (free_entry) {
		free_entry->uid = uid;
		free_entry->held = 1;
	}
	return free_entry;
}

/*
 * A connection starts or ends. One whose uid has no room is shut down
 * here, before anything is read from it: libmicrohttpd then reads the end
 * of the stream and closes it, and the client sees its connection closed
 * at once. (libmicrohttpd calls this with the connection's fd still its
 * own, so the shutdown cannot reach another socket.)
 */
static void notify_cb(void *cls, struct MHD_Connection *conn, void **ctx,
		      enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	share_t *e = *ctx;
	uid_t uid;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (e)
			e->held--;
		*ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	if (metrics_peer_uid(ci->connect_fd, &uid) < 0 || !(e = share_take(uid))) {
		(void)shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	*ctx = e;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result static_reply(struct MHD_Connection *conn, unsigned int status,
				    const char *text)
{
	return reply(conn, status, (char *)text, strlen(text), MHD_RESPMEM_PERSISTENT,
		     "text/plain; charset=utf-8");
}

/* Called by libmicrohttpd's thread once the request's headers are in. */
static enum MHD_Result answer_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **req_cls)
{
	metrics_t *m = cls;
	size_t len = 0;
	char *body;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return static_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/metrics") != 0)
		return static_reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	body = metrics_render(m, &len);
	if (!body)
		return static_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE,
		     "text/plain; version=0.0.4; charset=utf-8");
}

/* The config's limits; the defaults for one not made by config_load. */
static metrics_limits_t limits_of(const sg_config_t *cfg)
{
	metrics_limits_t l = cfg->metrics_limits;

	if (l.connections == 0 || l.per_uid == 0 || l.per_uid >= l.connections || l.timeout_s == 0)
		l = (metrics_limits_t){ METRICS_DEFAULT_CONNECTIONS, METRICS_DEFAULT_PER_UID,
					METRICS_DEFAULT_TIMEOUT_S };
	return l;
}

/*
 * Makes way for the unix socket at path: nothing there, or a stale socket
 * (removed); -EADDRINUSE while a server still answers on it (the old
 * supervisor of a takeover, until it exits), -EEXIST for a file that is
 * not a socket.
 */
static int unix_clear(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0 || errno == EAGAIN)
		return -EADDRINUSE;
	return unlink(path) < 0 ? -errno : 0;
}

/*
 * The unix socket: its directory as strict as the supervisor's socket's
 * (nobody else may replace the file), the file created with no access for
 * anyone but the owner and only then given its group and mode, so it is
 * never wider than configured. It is not removed when the server stops:
 * after a takeover the path is the new supervisor's.
 */
static int bind_unix(const sg_config_t *cfg, int fd, sg_error_t *err)
{
	const char *path = cfg->metrics_listen;
	mode_t old;
	int r = accept_socket_dir(path, err);

	if (r < 0)
		return r;
	r = unix_clear(path);
	if (r < 0)
		return r;
	old = umask(0177);
	r = bind(fd, (const struct sockaddr *)&cfg->metrics_addr, cfg->metrics_addrlen);
	umask(old);
	if (r == 0 && cfg->metrics_socket_gid != (gid_t)-1)
		r = chown(path, (uid_t)-1, cfg->metrics_socket_gid);
	if (r == 0)
		r = chmod(path, cfg->metrics_socket_mode ? cfg->metrics_socket_mode : 0600);
	return r < 0 ? -errno : 0;
}

static int listen_on(const sg_config_t *cfg, sg_error_t *err)
{
	const struct sockaddr *a = (const struct sockaddr *)&cfg->metrics_addr;
	int one = 1, r;
	int fd = socket(a->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		r = -errno;
	else if (a->sa_family == AF_UNIX)
		r = bind_unix(cfg, fd, err);
	else
		/* A restarted supervisor gets its port back while old
		 * connections are still in TIME_WAIT. */
		r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
			    bind(fd, a, cfg->metrics_addrlen) < 0
			    ? -errno
			    : 0;
	if (r == 0 && listen(fd, (int)limits_of(cfg).connections) < 0)
		r = -errno;
	if (r == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	if (!err->msg[0])
		sg_error_set(err, cfg->path, cfg->metrics_line, "metrics_listen %s: cannot listen: %s",
			     cfg->metrics_listen, r == -EEXIST ? "a file that is not a socket is there"
							       : strerror(-r));
	return r;
}

int metrics_start(const sg_config_t *cfg, sg_error_t *err)
{
	metrics_limits_t lim = limits_of(cfg);
	const char **names;
	sigset_t all, old;
	int fd;

	if (cfg->metrics_addrlen == 0)
		return 0;
	names = calloc(cfg->npolicies, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->npolicies; i++)
		names[i] = cfg->policies[i].name;
	registry = metrics_new(cfg->npolicies, names);
	free(names);
	if (!registry)
		return -ENOMEM;
	fd = listen_on(cfg, err);
	if (fd < 0) {
		metrics_stop();
		return fd;
	}
	/* The server's thread takes no signal meant for the loop (libuv's
	 * SIGTERM and SIGINT, the receive watchdog's): it inherits this mask. */
	memset(&shares, 0, sizeof(shares));
	shares.per_uid = lim.per_uid;
	if (cfg->n_metrics_uids) {
		shares.allow = cfg->metrics_uids;
		shares.nallow = cfg->n_metrics_uids;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	daemon_ = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				   answer_cb, registry,
				   MHD_OPTION_LISTEN_SOCKET, fd,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)lim.connections,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)lim.timeout_s,
				   MHD_OPTION_NOTIFY_CONNECTION, notify_cb, NULL,
				   MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!daemon_) {
		/* fd is not closed here: libmicrohttpd versions differ on
		 * whether a failed start closed it already, and sysgated exits
		 * on this error anyway. */
		metrics_stop();
		sg_error_set(err, cfg->path, cfg->metrics_line,
			     "metrics_listen %s: cannot start the HTTP server", cfg->metrics_listen);
		return -EIO;
	}
	metrics_activate(registry);
	return 0;
}

void metrics_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_); /* joins its thread and closes the socket */
	daemon_ = NULL;
	metrics_activate(NULL);
	metrics_free(registry);
	registry = NULL;
}
