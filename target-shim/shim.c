/*
 * shim.c: libsysgate, put the calling process under a sysgate policy
 * (include/sysgate/sysgate.h).
 *
 * sg_shim_connect() talks to sysgated over its SOCK_SEQPACKET socket
 * (HELLO, then SPEC or REFUSE). sg_shim_enter() loads the SPEC's BPF,
 * compiled by the supervisor when it loaded the policy, on the calling
 * thread with a new listener and hands the listener to the supervisor.
 *
 * The handoff is the one delicate part (crun#1002, runc#4328): once the
 * filter is loaded, any syscall of the loading thread may be forwarded to a
 * supervisor that does not have the listener yet, and would wait forever.
 * So the helper thread is created before the filter exists (a filter
 * loaded without TSYNC binds only the loading thread, so the helper stays
 * unfiltered), the loading thread publishes the listener fd with an atomic
 * store and makes no syscall it depends on until the helper says "done",
 * and every syscall of the handoff (sendmsg, poll, recvmsg, close, write,
 * exit_group) is made by the unfiltered helper.
 *
 * When the filter itself lets every syscall of the handoff through in the
 * kernel (a policy whose default is allow, as most are), none of them can
 * wait on the listener, and the loading thread hands it over itself: no
 * helper thread to start and wait for (about 0.2 ms a spawn on the machines
 * bench/run measured). It blocks every signal for the handoff, so that no
 * handler runs under the filter before the supervisor serves it.
 *
 * Either way the filtered thread makes the proof call (prove(), see
 * SG_PROTO_PROOF_OPTION in include/sysgate/protocol.h): it is forwarded on
 * the listener, and sysgated serves the listener only once that call
 * shows it came from this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sysgate/peer.h"
#include "sysgate/sysgate.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_EXIT_STATUS 125
#define SMALL_MSG 1024 /* room for every answer but SPEC */

/* Values of handoff.listener besides an fd. */
#define LISTENER_WAIT (-1)  /* the filter is not loaded yet */
#define LISTENER_ABORT (-2) /* seccomp() failed: the helper stops */

struct sg_shim {
	int sock;                 /* owned; SOCK_CLOEXEC */
	int timeout_ms;
	int exit_status;
	char progname[64];
	char policy[SG_PROTO_MAX_NAME + 1];
	uint64_t target_id;
	const char *path;         /* the socket's, during sg_shim_connect() only */
	uid_t want_uid;           /* the server's uid (check_server) */
	bool filtered_ok;         /* opts->server_may_be_filtered */

	bool direct;              /* sg_shim_enter() hands over without a helper */

	/* Shared with the helper thread during sg_shim_enter() only. */
	_Atomic int listener;     /* LISTENER_WAIT, LISTENER_ABORT or the fd */
	_Atomic int done;         /* set by the helper as its last access to s */

	sg_spec_t spec;           /* last: its lists are set only up to their counts */
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until sock is readable or timeout_ms passed: 0, -ETIMEDOUT or -errno. */
static int wait_readable(int sock, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int64_t left = deadline - now_ms();
		int rc;

		if (left < 0)
			left = 0;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0; /* POLLHUP/POLLERR too: recv tells which */
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Receives one answer of the supervisor into buf, which refuses fds.
 * Returns the length or a negative errno with err filled.
 */
static ssize_t recv_answer(sg_shim_t *s, void *buf, size_t cap, int *pidfd, char *err,
			   size_t errlen)
{
	/* The direct handoff makes no poll: its socket has SO_RCVTIMEO, and
	 * a receive that timed out says EAGAIN. */
	ssize_t n = s->direct ? 0 : wait_readable(s->sock, s->timeout_ms);

	if (n == 0)
		n = sg_proto_recv_pidfd(s->sock, buf, cap, NULL, NULL, pidfd);
	if (n == -EAGAIN && s->direct)
		n = -ETIMEDOUT;
	if (n == -ETIMEDOUT) {
		errf(err, errlen, "no answer from the supervisor within %d ms", s->timeout_ms);
		return n;
	}
	/* A supervisor that closed with our message unread leaves ECONNRESET
	 * pending, and the kernel reports it before the answer queued ahead
	 * of it (a REFUSE): read once more for that answer. */
	if (n == -ECONNRESET)
		n = sg_proto_recv_pidfd(s->sock, buf, cap, NULL, NULL, pidfd);
	if (n == 0) {
		errf(err, errlen, "the supervisor closed the connection");
		return -ECONNRESET;
	}
	if (n < 0)
		errf(err, errlen, "receiving the supervisor's answer: %s", strerror((int)-n));
	return n;
}

/* Turns a REFUSE into -code with "policy 'x' refused: reason" in err. */
static int refused(const sg_shim_t *s, const void *buf, size_t len, char *err, size_t errlen)
{
	sg_refuse_t r;
	int rc = sg_proto_decode_refuse(buf, len, &r);

	if (rc < 0) {
		errf(err, errlen, "malformed REFUSE from the supervisor: %s", strerror(-rc));
		return rc;
	}
	errf(err, errlen, "policy '%s' refused: %s", s->policy, r.reason);
	return -(int)r.code;
}

/* ---- connect ------------------------------------------------------- */

/* The kernel is asked once per process, and a forked child keeps the
 * answer. */
int sg_shim_prepare(void)
{
	static _Atomic int answer; /* 0: not asked yet, else 1 or -ENOSYS */
	uint32_t act = SECCOMP_RET_USER_NOTIF;
	int a = atomic_load(&answer);

	if (a == 0) {
		a = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0 ? 1 : -ENOSYS;
		atomic_store(&answer, a);
	}
	return a < 0 ? a : 0;
}

/* Everything but the labels is zeroed; the labels are written, and read,
 * only up to nlabels (every page a forked launcher writes costs a page
 * fault, and they are 8 KiB). */
static int build_hello(const sg_shim_opts_t *o, sg_hello_t *h, char *err, size_t errlen)
{
	const size_t labels = offsetof(sg_hello_t, labels), end = labels + sizeof h->labels;

	memset(h, 0, labels);
	memset((char *)h + end, 0, sizeof *h - end);
	if (!o->policy || sg_proto_valid_name(o->policy) < 0) {
		errf(err, errlen, "invalid policy name '%s' (want [A-Za-z0-9_.-], 1-%u bytes)",
		     o->policy ? o->policy : "", SG_PROTO_MAX_NAME);
		return -EINVAL;
	}
	strcpy(h->policy, o->policy);
	if (o->nlabels > SG_PROTO_MAX_LABELS) {
		errf(err, errlen, "too many labels: %zu (at most %u)", o->nlabels, SG_PROTO_MAX_LABELS);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->nlabels; i++) {
		if (!o->labels[i] || sg_proto_parse_label(o->labels[i], &h->labels[i]) < 0) {
			errf(err, errlen, "invalid label '%s' (want KEY=VALUE, KEY [A-Za-z0-9_.-] "
			     "up to %u bytes, VALUE printable up to %u bytes)",
			     o->labels[i] ? o->labels[i] : "", SG_PROTO_MAX_KEY, SG_PROTO_MAX_VALUE);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->labels[j].key, h->labels[i].key) == 0) {
				errf(err, errlen, "label '%s' given twice", h->labels[i].key);
				return -EINVAL;
			}
	}
	h->nlabels = (uint32_t)o->nlabels;
	if (o->mode) {
		int m = sg_proto_parse_mode(o->mode);

		if (m < 0) {
			errf(err, errlen, "invalid mode '%s' (want enforce, audit or learn)", o->mode);
			return -EINVAL;
		}
		h->mode = (uint32_t)m;
	}
	return 0;
}

/*
 * The policy comes from whoever serves the socket: it must be the
 * supervisor's uid, or anyone who can name a socket could hand the
 * command a filter that filters nothing. The uid alone is not enough: a
 * target of that uid (uid 0 without capabilities, say) owns the socket's
 * directory and can bind a socket of its own there. So the process that
 * sent the answer (its pidfd, which the kernel attaches and no peer can
 * forge, unlike a pid) must be under no seccomp filter: every target is.
 * The sender, not the socket's listener: after a takeover the process
 * that called listen() is gone, and a server can hand a listening socket
 * to whoever it likes.
 */
static int check_server(const sg_shim_t *s, int pidfd, char *err, size_t errlen)
{
	const char *path = s->path;
	sg_peer_t p;
	int rc;

	if (pidfd < 0) {
		errf(err, errlen, "cannot tell who serves %s: its answer came without the sender's "
		     "pidfd (SO_PASSPIDFD needs Linux 6.5): refused", path);
		return -EPERM;
	}
	rc = sg_peer_read_pidfd(pidfd, 0, &p);
	if (rc < 0) {
		errf(err, errlen, "cannot tell who serves %s: %s: refused", path, strerror(-rc));
		return -EPERM;
	}
	if (p.uid != s->want_uid) {
		errf(err, errlen, "%s is served by uid %u, not by the supervisor's uid %u: refused",
		     path, (unsigned)p.uid, (unsigned)s->want_uid);
		return -EPERM;
	}
	if (sg_peer_filtered(&p) && !s->filtered_ok) {
		errf(err, errlen, "%s is served by pid %d, which runs under a seccomp filter (a "
		     "sysgate target, not the supervisor; --server-may-be-filtered accepts it): "
		     "refused", path, (int)p.pid);
		return -EPERM;
	}
	return 0;
}

/* The uid of the socket's listener, before a word is sent: a socket of
 * another uid is refused at once. check_server is the real check. */
static int check_listener(int fd, const char *path, uid_t want_uid, char *err, size_t errlen)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred) {
		errf(err, errlen, "cannot tell who serves %s: %s", path, strerror(errno));
		return -EPERM;
	}
	if (cred.uid != want_uid) {
		errf(err, errlen, "%s is served by uid %u, not by the supervisor's uid %u: refused",
		     path, (unsigned)cred.uid, (unsigned)want_uid);
		return -EPERM;
	}
	return 0;
}

static int open_socket(const char *path, uid_t want_uid, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof sa.sun_path) {
		errf(err, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		errf(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	/* Every answer then says which process sent it (check_server). */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &(int){ 1 }, sizeof(int)) < 0) {
		rc = -errno;
		errf(err, errlen, "SO_PASSPIDFD (Linux 6.5): %s", strerror(errno));
		close(fd);
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		rc = -errno;
		errf(err, errlen, "cannot connect to the supervisor at %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	rc = check_listener(fd, path, want_uid, err, errlen);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Sends HELLO and reads SPEC (or REFUSE) into s->spec. */
static int handshake(sg_shim_t *s, const sg_hello_t *h, char *err, size_t errlen)
{
	unsigned char *buf = malloc(SG_PROTO_MAX_MSG);
	ssize_t n;
	sg_msg_header_t hdr;
	int rc, pidfd = -1;

	if (!buf) {
		errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = sg_proto_encode_hello(h, buf, SG_PROTO_MAX_MSG);
	rc = n < 0 ? (int)n : sg_proto_send(s->sock, buf, (size_t)n, -1);
	/* A supervisor that refuses this peer outright (SO_PEERCRED) answers
	 * and closes before reading HELLO: its REFUSE is still queued here. */
	if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
		errf(err, errlen, "sending HELLO: %s", strerror(-rc));
		goto out;
	}
	n = recv_answer(s, buf, SG_PROTO_MAX_MSG, &pidfd, err, errlen);
	if (rc < 0 && n <= 0) {
		errf(err, errlen, "sending HELLO: %s", strerror(-rc));
		goto out;
	}
	/* Nothing of the answer is believed before its sender is checked; the
	 * later answers (READY) need no pidfd, and the direct handoff has no
	 * close to spare for one. */
	if (n > 0) {
		int checked = check_server(s, pidfd, err, errlen);

		(void)setsockopt(s->sock, SOL_SOCKET, SO_PASSPIDFD, &(int){ 0 }, sizeof(int));
		if (checked < 0) {
			rc = checked;
			goto out;
		}
	}
	rc = n < 0 ? (int)n : sg_proto_check_header(buf, (size_t)n, &hdr);
	if (rc < 0) {
		if (n > 0)
			errf(err, errlen, "malformed answer from the supervisor: %s", strerror(-rc));
		goto out;
	}
	if (hdr.type == SG_MSG_REFUSE) {
		rc = refused(s, buf, (size_t)n, err, errlen);
		goto out;
	}
	rc = sg_proto_decode_spec(buf, (size_t)n, &s->spec);
	if (rc < 0)
		errf(err, errlen, "malformed SPEC from the supervisor: %s", strerror(-rc));
	else if (s->spec.n_bpf == 0 && (rc = -EPROTO))
		errf(err, errlen, "the supervisor sent no filter for policy '%s' "
		     "(a sysgated older than this sysgate-run?)", s->policy);
out:
	if (pidfd >= 0)
		close(pidfd);
	free(buf);
	return rc;
}

/* The AUDIT_ARCH_* of this build: what its system calls say in
 * seccomp_data.arch, as libseccomp's seccomp_arch_native() says it. */
#if defined(__x86_64__) && !defined(__ILP32__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && !defined(__ARMEB__)
#define NATIVE_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#else
#define NATIVE_ARCH 0u /* not known to this build: every SPEC is refused */
#endif

static int check_arch(const sg_shim_t *s, char *err, size_t errlen)
{
#if NATIVE_ARCH == 0u
	errf(err, errlen, "this build knows no AUDIT_ARCH for its architecture (add it to shim.c): "
	     "policy '%s' refused", s->policy);
#else
	if (s->spec.arch == NATIVE_ARCH)
		return 0;
	errf(err, errlen, "policy '%s' was compiled for arch 0x%08x, this process is 0x%08x",
	     s->policy, s->spec.arch, (unsigned)NATIVE_ARCH);
#endif
	return -ENOEXEC;
}

/* Copies src into dst, cut to fit cap bytes with the NUL. */
static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int sg_shim_connect(const sg_shim_opts_t *opts, sg_shim_t **out, char *err, size_t errlen)
{
	const char *path;
	sg_hello_t *h = NULL;
	sg_shim_t *s = NULL;
	int rc;

	if (!opts || !out) {
		errf(err, errlen, "no options");
		return -EINVAL;
	}
	*out = NULL;
	/* Not calloc: the SPEC's lists are 20 KiB, written only up to their
	 * counts, and zeroing them would fault in pages for nothing. */
	s = malloc(sizeof *s);
	h = malloc(sizeof *h);
	if (s)
		memset(s, 0, offsetof(sg_shim_t, spec.notify));
	if (!s || !h) {
		rc = -ENOMEM;
		errf(err, errlen, "out of memory");
		goto fail;
	}
	s->sock = -1;
	rc = build_hello(opts, h, err, errlen);
	if (rc < 0)
		goto fail;
	strcpy(s->policy, h->policy);
	s->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	s->exit_status = opts->exit_status > 0 ? opts->exit_status : DEFAULT_EXIT_STATUS;
	/* A copy, not snprintf: in a forked launcher the printf machinery
	 * is three pages of code to fault in. */
	copy_name(s->progname, sizeof s->progname, opts->progname ? opts->progname : "sysgate");
	path = opts->socket_path;
	if (!path || !*path)
		path = getenv(SG_SOCKET_ENV);
	if (!path || !*path)
		path = SG_DEFAULT_SOCKET;
	s->path = path;
	s->want_uid = opts->supervisor_uid;
	s->filtered_ok = opts->server_may_be_filtered;
	rc = s->sock = open_socket(path, opts->supervisor_uid, err, errlen);
	if (rc < 0)
		goto fail;
	rc = handshake(s, h, err, errlen);
	if (rc == 0)
		rc = check_arch(s, err, errlen);
	if (rc < 0)
		goto fail;
	free(h);
	*out = s;
	return 0;
fail:
	free(h);
	sg_shim_free(s);
	return rc;
}

const sg_spec_t *sg_shim_spec(const sg_shim_t *s)
{
	return &s->spec;
}

uint64_t sg_shim_target_id(const sg_shim_t *s)
{
	return s->target_id;
}

void sg_shim_free(sg_shim_t *s)
{
	if (!s)
		return;
	if (s->sock >= 0)
		close(s->sock);
	free(s);
}

/* ---- the handoff --------------------------------------------------- */

/* The way out once the filter is loaded: the helper is unfiltered, and the
 * direct handoff runs only under a filter that lets them through, so write
 * and exit_group always work, and exit_group ends the filtered thread too. */
static _Noreturn void loaded_die(const sg_shim_t *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static _Noreturn void loaded_die(const sg_shim_t *s, const char *fmt, ...)
{
	char msg[1024];
	int n = snprintf(msg, sizeof msg, "%s: ", s->progname);
	va_list ap;

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof msg)
		n += vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg - 1)
		n = (int)sizeof msg - 2;
	msg[n++] = '\n';
	(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(s->exit_status);
}

/* Waits for the supervisor's READY; dies on anything else. */
static uint64_t await_ready(sg_shim_t *s)
{
	unsigned char buf[SMALL_MSG];
	char err[256];
	sg_msg_header_t hdr;
	sg_ready_t ready = { 0 };
	ssize_t n = recv_answer(s, buf, sizeof buf, NULL, err, sizeof err);
	int rc;

	if (n < 0)
		loaded_die(s, "handing over the listener: %s", err);
	rc = sg_proto_check_header(buf, (size_t)n, &hdr);
	if (rc == 0 && hdr.type == SG_MSG_REFUSE) {
		refused(s, buf, (size_t)n, err, sizeof err);
		loaded_die(s, "%s", err);
	}
	if (rc == 0)
		rc = sg_proto_decode_ready(buf, (size_t)n, &ready);
	if (rc < 0)
		loaded_die(s, "malformed answer to LISTENER from the supervisor: %s", strerror(-rc));
	return ready.target_id;
}

/*
 * The proof call, on the filtered thread: it waits until sysgated has the
 * listener and answers it. Its result does not matter here: if sysgated
 * refuses the listener the call fails (ENOSYS once the listener is
 * closed), and the handoff dies on the REFUSE.
 */
static void prove(void)
{
	(void)syscall(SYS_prctl, (unsigned long)SG_PROTO_PROOF_OPTION, 0UL, 0UL, 0UL, 0UL);
}

/* Sends the listener (proof: and makes the proof call, on the direct
 * handoff, where this is the filtered thread) and waits for READY, or
 * dies: the part of the handoff that runs once the filter is loaded, on
 * either thread. */
static uint64_t hand_over(sg_shim_t *s, int fd, bool proof)
{
	unsigned char buf[64];
	ssize_t n = sg_proto_encode_listener(buf, sizeof buf);
	int rc = n < 0 ? (int)n : sg_proto_send(s->sock, buf, (size_t)n, fd);

	/* The fd in flight holds its own reference, so the process drops its
	 * copy at once: the target never keeps a listener of its own filter. */
	close(fd);
	if (rc < 0)
		loaded_die(s, "handing over the listener: %s", strerror(-rc));
	if (proof)
		prove();
	return await_ready(s);
}

static void *helper_main(void *arg)
{
	sg_shim_t *s = arg;
	const struct timespec tick = { .tv_nsec = 20000 };
	int fd;

	while ((fd = atomic_load(&s->listener)) == LISTENER_WAIT)
		nanosleep(&tick, NULL);
	if (fd == LISTENER_ABORT) {
		atomic_store(&s->done, 1);
		return NULL;
	}
	/* Nothing here allocates: a thread's first malloc() or free() sets
	 * up an arena of its own, a dozen system calls and page faults that
	 * every spawn would wait for. */
	s->target_id = hand_over(s, fd, false);
	atomic_store(&s->done, 1); /* last access to s: it may be freed after */
	return NULL;
}

/* Starts the helper with every signal blocked, so handlers run on the
 * caller's thread and never interrupt the handoff. */
static int start_helper(sg_shim_t *s)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	rc = pthread_attr_init(&attr);
	if (rc)
		return -rc;
	rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (rc == 0)
		rc = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (rc == 0) {
		rc = pthread_create(&t, &attr, helper_main, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&attr);
	return -rc;
}

/* Tells the CPU this is a spin-wait, without a syscall. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static bool listed(const uint32_t *v, uint32_t n, uint32_t nr)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i] == nr)
			return true;
	return false;
}

/* Whether the filter of sp lets nr through in the kernel: such a call can
 * neither wait on the supervisor nor fail nor kill, whatever the policy. */
static bool kernel_allows(const sg_spec_t *sp, uint32_t nr)
{
	if (listed(sp->notify, sp->n_notify, nr) || listed(sp->kill, sp->n_kill, nr))
		return false;
	for (uint32_t i = 0; i < sp->n_deny; i++)
		if (sp->deny[i].nr == nr)
			return false;
	return listed(sp->allow, sp->n_allow, nr) || sp->default_action == SG_ACT_ALLOW;
}

/*
 * Loads the filter on this thread and waits for the helper. From the
 * seccomp() call on, this thread makes no syscall the policy could decide
 * until the helper is done: it publishes the fd with a plain atomic store
 * and waits on memory. A syscall the filter forwards would be the policy's
 * to decide, and a strict policy (default "kill") would end the process
 * before the command runs. The wait is one round trip to the supervisor.
 *
 * While it waits it yields the CPU with sched_yield() if the filter lets
 * that call through in the kernel, and spins otherwise. The yield matters
 * on virtual machines whose vCPUs share a host CPU: there a thread that
 * spins without a syscall kept the helper and the supervisor off the CPU
 * for 2 to 3 ms a spawn (0.4 ms with the yield).
 */
static int load_and_wait(sg_shim_t *s, struct sock_fprog *prog)
{
	bool yield = kernel_allows(&s->spec, SYS_sched_yield);
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);

	if (fd < 0) {
		int rc = -errno;

		/* Not filtered: stop the helper and wait until it let go of s. */
		atomic_store(&s->listener, LISTENER_ABORT);
		while (!atomic_load(&s->done))
			sched_yield();
		return rc;
	}
	atomic_store(&s->listener, (int)fd);
	/* Forwarded and answered by sysgated before any policy decides a
	 * call of this thread: it is the first call the listener carries. */
	prove();
	while (!atomic_load(&s->done)) {
		if (yield)
			syscall(SYS_sched_yield);
		else
			cpu_relax();
	}
	return 0;
}

/* The system calls hand_over() makes, through libc wrappers that make
 * exactly these on the arches listed (elsewhere a wrapper may go through
 * socketcall, and the helper thread always does the handoff). */
static bool direct_possible(const sg_spec_t *sp)
{
#if defined(__x86_64__) || defined(__aarch64__)
	static const uint32_t calls[] = { SYS_sendmsg, SYS_recvmsg, SYS_close, SYS_write,
					  SYS_exit_group };

	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		if (!kernel_allows(sp, calls[i]))
			return false;
	return true;
#else
	(void)sp;
	return false;
#endif
}

/*
 * The handoff on the loading thread itself, for a filter under which no
 * call of hand_over() can be forwarded. Signals stay blocked until READY:
 * a handler's own system calls could be forwarded to a supervisor that
 * has no listener yet.
 */
static int load_direct(sg_shim_t *s, struct sock_fprog *prog)
{
	struct timeval tv = { .tv_sec = s->timeout_ms / 1000,
			      .tv_usec = (suseconds_t)(s->timeout_ms % 1000) * 1000 };
	sigset_t all, old;
	long fd;
	int rc;

	if (setsockopt(s->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
		return -errno;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
	if (fd < 0) {
		rc = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return rc;
	}
	s->target_id = hand_over(s, (int)fd, true);
	/* The supervisor serves the listener now, whatever this call is. */
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

int sg_shim_enter(sg_shim_t *s, char *err, size_t errlen)
{
	struct sock_fprog prog;
	int rc;

	if (!s || s->sock < 0) {
		errf(err, errlen, "not connected");
		return -EINVAL;
	}
	prog.len = (unsigned short)s->spec.n_bpf; /* 1 to BPF_MAXINSNS: checked on receipt */
	prog.filter = s->spec.bpf;
	atomic_store(&s->listener, LISTENER_WAIT);
	atomic_store(&s->done, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		errf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	} else if ((s->direct = direct_possible(&s->spec))) {
		if ((rc = load_direct(s, &prog)) < 0)
			errf(err, errlen, "loading the seccomp filter: %s", strerror(-rc));
	} else if ((rc = start_helper(s)) < 0) {
		errf(err, errlen, "starting the handoff thread: %s", strerror(-rc));
	} else if ((rc = load_and_wait(s, &prog)) < 0) {
		errf(err, errlen, "loading the seccomp filter: %s", strerror(-rc));
	}
	return rc;
}
