/*
 * The decision log. Each event is a json-c object serialised on one line
 * and written with a single write(2) (O_APPEND for files), so lines from
 * one supervisor never interleave.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exe.h"
#include "log.h"
#include "names.h"
#include "target.h"
#include "text.h"
#include "tokens.h"

#define LOG_FINISH_MS 100 /* to finish a line a stalled reader cut in two */
/* The longest string the log writes: a path (PATH_MAX with its NUL), an
 * argument of execve (CALL_ARG_BYTES). A longer one is cut at a character. */
#define LOG_TEXT_MAX 4096
#define LOG_MESSAGE_MAX 1024

static int log_fd = -1;
static bool log_owned;
/* Atomic, like the budget's counts: the metrics endpoint reads them from
 * its own thread while the loop thread writes them. */
static _Atomic uint64_t log_failures;

/*
 * The log's budgets (M5: audit volume stays bounded). Per-call events
 * (decision, error) take a token of their target's bucket and one of the
 * global bucket. Refused handshakes take one of a bucket of their own:
 * any peer of the socket causes them at will, and a flood of them must
 * not leave the global bucket empty when a target is denied (nor a
 * flood of denials hide who knocks). An event without a token is not
 * built at all, only counted, and the counts are reported every
 * report_ms in `suppressed` events and in target_end: per target, and
 * for refused handshakes per peer uid (LOG_REFUSED_UIDS of them, the
 * rest together).
 *
 * The global bucket is one per launcher uid (a tenant, tenant.h): one
 * tenant's targets denied as fast as they can be leave another's events
 * their own budget. LOG_TENANTS uids have one at a time, root's kept; an
 * entry whose bucket is full again is as good as a new one, so it goes
 * to the next uid that needs one, and a uid that finds none shares
 * `others`.
 */
#define LOG_REFUSED_UIDS 16
#define LOG_TENANTS 64

typedef struct log_tenant {
	bool used;
	uid_t uid;
	tokens_t bucket;
} log_tenant_t;

static struct {
	log_limits_t lim;
	log_tenant_t tenants[LOG_TENANTS]; /* [0] is root's */
	tokens_t others, handshake;
	/* Suppressed refused handshakes since the last report, by uid; other:
	 * those of uids that found the table full. */
	struct {
		uid_t uid;
		uint64_t n;
	} refused[LOG_REFUSED_UIDS];
	size_t nrefused;
	uint64_t refused_other;
	_Atomic uint64_t events, bytes, suppressed;
} budget = { .lim = { 0, 1, 0, 1, 0, 1, LOG_DEFAULT_REPORT_MS } };

void log_set_limits(const log_limits_t *l)
{
	uint64_t now = sgd_now_ns();

	budget.lim = *l;
	memset(budget.tenants, 0, sizeof(budget.tenants));
	budget.tenants[0].used = true;
	tokens_init(&budget.tenants[0].bucket, l->global_rate, l->global_burst, now);
	tokens_init(&budget.others, l->global_rate, l->global_burst, now);
	tokens_init(&budget.handshake, l->handshake_rate, l->handshake_burst, now);
}

void log_stats(uint64_t *events, uint64_t *bytes, uint64_t *suppressed)
{
	*events = budget.events;
	*bytes = budget.bytes;
	*suppressed = budget.suppressed;
}

static bool bucket_full(const tokens_t *b, uint64_t now)
{
	return b->level + (double)(now - b->last_ns) / 1e9 * b->rate >= b->burst;
}

/* The global bucket of launcher uid's targets. */
static tokens_t *global_of(uid_t uid, uint64_t now)
{
	log_tenant_t *spare = NULL;

	for (size_t i = 0; i < LOG_TENANTS; i++) {
		log_tenant_t *e = &budget.tenants[i];

		if (e->used && e->uid == uid)
			return &e->bucket;
		if (!spare && i > 0 && (!e->used || bucket_full(&e->bucket, now)))
			spare = e;
	}
	if (!spare)
		return &budget.others;
	spare->used = true;
	spare->uid = uid;
	tokens_init(&spare->bucket, budget.lim.global_rate, budget.lim.global_burst, now);
	return &spare->bucket;
}

/* Whether a per-call event of t may be written now. */
static bool budget_take(target_t *t)
{
	uint64_t now = sgd_now_ns();
	bool ok = true;

	if (budget.lim.target_rate > 0) {
		if (t->log_tokens.burst == 0)
			tokens_init(&t->log_tokens, budget.lim.target_rate, budget.lim.target_burst, now);
		ok = tokens_take(&t->log_tokens, now);
	}
	if (ok && budget.lim.global_rate > 0)
		ok = tokens_take(global_of(t->uid, now), now);
	if (ok)
		return true;
	budget.suppressed++;
	t->log_suppressed++;
	t->log_suppressed_since++;
	return false;
}

/* Whether a refused handshake of a peer of uid may be written now. */
static bool budget_take_refused(uid_t uid)
{
	size_t i;

	if (budget.lim.handshake_rate == 0 || tokens_take(&budget.handshake, sgd_now_ns()))
		return true;
	budget.suppressed++;
	for (i = 0; i < budget.nrefused && budget.refused[i].uid != uid; i++)
		;
	if (i == budget.nrefused && i < LOG_REFUSED_UIDS) {
		budget.refused[i].uid = uid;
		budget.refused[i].n = 0;
		budget.nrefused++;
	}
	if (i < budget.nrefused)
		budget.refused[i].n++;
	else
		budget.refused_other++;
	return false;
}

/*
 * A pipe or socket whose reader stalls would block the loop in write(2),
 * and with it every target's decisions: those are made non-blocking, and
 * a line that finds no room is dropped and counted instead. A regular file
 * is written as it is (writes to it do not wait on anyone).
 */
static void log_nonblock_if_stream(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int log_open(const char *path, sg_error_t *err)
{
	if (strcmp(path, "-") == 0) {
		log_fd = STDOUT_FILENO;
		log_owned = false;
		log_nonblock_if_stream(log_fd);
		return 0;
	}
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (log_fd < 0) {
		int e = errno;

		sg_error_set(err, path, 0, "cannot open log: %s", strerror(e));
		return -e;
	}
	log_owned = true;
	log_nonblock_if_stream(log_fd);
	return 0;
}

void log_close(void)
{
	if (log_owned && log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_owned = false;
}

uint64_t log_write_failures(void)
{
	return log_failures;
}

static void put_time(json_object *o)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	json_object_object_add(o, "time", json_object_new_string(buf));
}

static json_object *event_new(const char *event)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_time(o);
	json_object_object_add(o, "event", json_object_new_string(event));
	return o;
}

/*
 * n bytes of s as a JSON string. A target chooses the bytes of its paths,
 * arguments, comm and exe, and they need not be UTF-8, while every line
 * must be valid UTF-8 JSON: each ill-formed subpart becomes U+FFFD in the
 * string, and *raw (else NULL) is set to the exact bytes in base64, for
 * the caller to put beside it. Fixed buffers: a logged call allocates
 * nothing beyond its event.
 */
static json_object *text_new(const char *s, size_t n, json_object **raw)
{
	char text[TEXT_REPAIR_ROOM(LOG_TEXT_MAX)], b64[TEXT_BASE64_ROOM(LOG_TEXT_MAX)];
	size_t len;
	bool valid;

	*raw = NULL;
	if (n > LOG_TEXT_MAX)
		n = text_utf8_cut(s, LOG_TEXT_MAX);
	len = text_utf8_repair(s, n, text, sizeof(text), &valid);
	if (!valid) {
		text_base64(s, n, b64, sizeof(b64));
		*raw = json_object_new_string(b64);
	}
	return json_object_new_string_len(text, (int)len);
}

/* key: n bytes of val, repaired, and key_b64 with the bytes when they
 * were not UTF-8 (text_new). */
static void put_text(json_object *o, const char *key, const char *val, size_t n)
{
	json_object *raw;
	char k[64];

	json_object_object_add(o, key, text_new(val, n, &raw));
	if (raw) {
		snprintf(k, sizeof(k), "%s_b64", key);
		json_object_object_add(o, k, raw);
	}
}

static void put_str(json_object *o, const char *key, const char *val)
{
	if (val)
		put_text(o, key, val, strlen(val));
}

static void put_int(json_object *o, const char *key, int64_t val)
{
	json_object_object_add(o, key, json_object_new_int64(val));
}

/* Serialises o on one line, writes it and frees o. */
static void event_emit(json_object *o)
{
	const char *s;
	size_t slen, len, off = 0;
	char *line;

	if (!o)
		return;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	/* json-c escapes C0 controls but writes DEL and the C1 controls as
	 * they are: a terminal showing the log would act on them. */
	slen = strlen(s);
	len = text_json_safe(s, slen, NULL, 0);
	line = malloc(len + 1);
	if (!line || log_fd < 0) {
		log_failures++;
		free(line);
		json_object_put(o);
		return;
	}
	text_json_safe(s, slen, line, len);
	line[len++] = '\n';
	budget.events++;
	budget.bytes += len;
	while (off < len) {
		ssize_t n = write(log_fd, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		/* Half a line would corrupt the next one: finish it if the
		 * reader makes room soon, else give up on it. */
		if (n < 0 && errno == EAGAIN && off > 0) {
			struct pollfd p = { .fd = log_fd, .events = POLLOUT };

			if (poll(&p, 1, LOG_FINISH_MS) == 1)
				continue;
		}
		if (n <= 0) {
			log_failures++;
			break;
		}
		off += (size_t)n;
	}
	free(line);
	json_object_put(o);
}

void log_supervisor(const char *event, const char *fmt, ...)
{
	json_object *o = event_new(event);
	char msg[LOG_MESSAGE_MAX];
	va_list ap;
	int n;

	if (!o)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_int(o, "pid", getpid());
	/* Our own cut must not split a character into ill-formed bytes. */
	put_text(o, "message", msg,
		 n >= (int)sizeof(msg) ? text_utf8_cut(msg, strlen(msg)) : strlen(msg));
	event_emit(o);
}

void log_refused(pid_t pid, uid_t uid, gid_t gid, const char *policy, const char *reason)
{
	json_object *o;

	if (!budget_take_refused(uid))
		return;
	o = event_new("handshake_refused");
	if (!o)
		return;
	put_int(o, "pid", pid);
	put_int(o, "uid", uid);
	put_int(o, "gid", gid);
	if (policy && *policy)
		put_str(o, "policy", policy);
	put_str(o, "message", reason);
	event_emit(o);
}

static void put_target(json_object *o, const target_t *t)
{
	json_object_object_add(o, "target", json_object_new_uint64(t->id));
	put_str(o, "policy", t->pconf->name);
}

static json_object *labels_new(const sg_hello_t *h)
{
	json_object *l = json_object_new_object();

	for (uint32_t i = 0; l && i < h->nlabels; i++)
		put_str(l, h->labels[i].key, h->labels[i].value);
	return l;
}

void log_target_start(const target_t *t)
{
	json_object *o = event_new("target_start");
	log_proc_t proc;

	if (!o)
		return;
	put_target(o, t);
	put_str(o, "mode", sg_proto_mode_name(t->mode));
	put_int(o, "pid", t->pid);
	put_int(o, "uid", t->uid);
	log_proc_read(t->pid, t->pid, &proc);
	put_str(o, "comm", proc.comm);
	put_str(o, "exe", proc.exe);
	json_object_object_add(o, "labels", labels_new(&t->hello));
	event_emit(o);
}

void log_takeover(const char *role, const char *result, pid_t peer, const uint64_t *ids,
		  size_t nids, const char *message)
{
	json_object *o = event_new("takeover");
	json_object *a;

	if (!o)
		return;
	put_str(o, "role", role);
	put_str(o, "result", result);
	put_int(o, "pid", getpid());
	put_int(o, "peer_pid", peer);
	put_int(o, "targets", (int64_t)nids);
	a = json_object_new_array();
	for (size_t i = 0; a && ids && i < nids; i++)
		json_object_array_add(a, json_object_new_uint64(ids[i]));
	if (a)
		json_object_object_add(o, "target_ids", a);
	put_str(o, "message", message);
	event_emit(o);
}

static void report_one(const target_t *t, uint64_t n);

void log_target_end(const target_t *t, const char *reason, bool status_known, int status)
{
	json_object *o;

	/* The last interval's count, before the target is gone. */
	if (t->log_suppressed_since)
		report_one(t, t->log_suppressed_since);
	o = event_new("target_end");

	if (!o)
		return;
	put_target(o, t);
	put_int(o, "pid", t->pid);
	put_str(o, "reason", reason);
	if (status_known) {
		if (WIFEXITED(status)) {
			put_int(o, "exit_status", WEXITSTATUS(status));
		} else if (WIFSIGNALED(status)) {
			const char *sig = sigabbrev_np(WTERMSIG(status));

			put_int(o, "signal", WTERMSIG(status));
			put_str(o, "signal_name", sig);
		}
	}
	json_object_object_add(o, "notifications", json_object_new_uint64(t->notifications));
	json_object_object_add(o, "denied", json_object_new_uint64(t->denied));
	json_object_object_add(o, "errors", json_object_new_uint64(t->errors));
	json_object_object_add(o, "gone", json_object_new_uint64(t->gone));
	json_object_object_add(o, "brokered", json_object_new_uint64(t->brokered));
	json_object_object_add(o, "advisory", json_object_new_uint64(t->advisory));
	json_object_object_add(o, "suppressed", json_object_new_uint64(t->log_suppressed));
	if (t->mode == SG_MODE_AUDIT)
		json_object_object_add(o, "would_deny", json_object_new_uint64(t->would_deny));
	put_int(o, "duration_ns", (int64_t)(sgd_now_ns() - t->started_ns));
	event_emit(o);
}

static json_object *addr_new(const call_addr_t *a)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_str(o, "family", a->family_name);
	if (a->family == AF_INET || a->family == AF_INET6) {
		put_str(o, "ip", a->ip);
		put_int(o, "port", a->port);
	} else if (a->family == AF_UNIX) {
		put_str(o, "path", a->path);
	} else if (a->family == AF_NETLINK) {
		put_int(o, "pid", a->nl_pid);
		put_int(o, "groups", a->nl_groups);
	}
	return o;
}

/* argv, repaired, and argv_b64 when an argument was not UTF-8: as long
 * as argv, the bytes of each such argument, null for the others. */
static void put_argv(json_object *o, const call_strv_t *v)
{
	json_object *argv = json_object_new_array_ext((int)v->count), *raws = NULL;

	for (unsigned i = 0; argv && i < v->count; i++) {
		json_object *raw;

		json_object_array_add(argv, text_new(v->buf + v->off[i], v->len[i], &raw));
		if (raw && !raws)
			raws = json_object_new_array_ext((int)v->count);
		if (raw && raws)
			json_object_array_put_idx(raws, i, raw);
		else
			json_object_put(raw);
	}
	json_object_object_add(o, "argv", argv);
	if (!raws)
		return;
	while (json_object_array_length(raws) < v->count)
		json_object_array_add(raws, NULL);
	json_object_object_add(o, "argv_b64", raws);
}

static void put_call(json_object *o, const target_t *t, call_t *c, const log_proc_t *proc)
{
	json_object *args = json_object_new_array_ext(6);

	put_target(o, t);
	put_int(o, "pid", call_tgid(c));
	put_int(o, "tid", c->pid);
	if (proc) {
		put_str(o, "comm", proc->comm);
		put_str(o, "exe", proc->exe);
	}
	if (c->syscall)
		put_str(o, "syscall", c->syscall);
	put_int(o, "nr", c->nr);
	put_str(o, "arch", names_arch_name(c->arch));
	for (int i = 0; args && i < 6; i++)
		json_object_array_add(args, json_object_new_uint64(c->args[i]));
	json_object_object_add(o, "args", args);
	/* Only what a handler made us read: logging never reads target memory. */
	if (c->path_state == 1)
		put_text(o, "path", c->path, c->path_len);
	if (c->path2_state == 1)
		put_text(o, "path2", c->path2, c->path2_len);
	if (c->argv.state == 1) {
		put_argv(o, &c->argv);
		if (c->argv.truncated)
			json_object_object_add(o, "argv_truncated", json_object_new_boolean(1));
	}
	if (c->addr_state == 1 && c->addr.family != AF_UNSPEC)
		json_object_object_add(o, "addr", addr_new(&c->addr));
}

static void put_verdict(json_object *o, const verdict_t *v)
{
	put_str(o, "verdict", verdict_kind_name(v->kind));
	if (v->kind == VERDICT_DENY) {
		const char *name = names_errno_name(v->err);

		if (name)
			put_str(o, "errno", name);
		else
			put_int(o, "errno", v->err);
	}
	if (v->kind == VERDICT_EMULATE)
		put_int(o, "value", v->value);
	if (v->kind == VERDICT_OPEN) {
		if (v->path)
			put_str(o, "open_path", v->path);
		if (v->as_supervisor)
			put_str(o, "open_as", "supervisor");
		if (v->fd >= 0)
			put_int(o, "fd", v->fd);
		else if (v->err > 0 && names_errno_name(v->err))
			put_str(o, "errno", names_errno_name(v->err));
		else if (v->err > 0)
			put_int(o, "errno", v->err);
	}
	if (v->advisory)
		json_object_object_add(o, "advisory", json_object_new_boolean(1));
	if (v->reason)
		put_str(o, "reason", v->reason);
	if (v->limited)
		json_object_object_add(o, "limited", json_object_new_boolean(1));
	if (v->throttle_ns)
		put_int(o, "throttle_ns", (int64_t)v->throttle_ns);
	if (v->message[0])
		put_str(o, "message", v->message);
}

/* Audit mode: the verdict enforce mode would have given, and what was sent. */
static void put_would(json_object *o, const verdict_t *v)
{
	verdict_t w = *v;

	w.kind = v->would;
	w.err = v->would_err;
	put_verdict(o, &w);
	put_str(o, "sent", verdict_kind_name(v->kind));
}

void log_decision(target_t *t, call_t *c, const log_proc_t *proc, const verdict_t *v,
		  uint64_t latency_ns, bool fallback)
{
	json_object *o = event_new(v->would != VERDICT_NONE ? "would_deny" : "decision");

	if (!o)
		return;
	put_call(o, t, c, proc);
	if (v->would != VERDICT_NONE)
		put_would(o, v);
	else
		put_verdict(o, v);
	if (fallback)
		json_object_object_add(o, "fallback", json_object_new_boolean(1));
	put_int(o, "latency_ns", (int64_t)latency_ns);
	event_emit(o);
}

void log_learned(const target_t *t, const learn_stats_t *st, const char *path, const char *why)
{
	json_object *o = event_new(path ? "learned" : "error");

	if (!o)
		return;
	put_target(o, t);
	put_int(o, "pid", t->pid);
	if (path)
		put_str(o, "file", path);
	json_object_object_add(o, "calls", json_object_new_uint64(st->calls));
	put_int(o, "syscalls", st->syscalls);
	put_int(o, "paths", st->paths);
	put_int(o, "addresses", st->addrs);
	put_int(o, "programs", st->execs);
	json_object_object_add(o, "dropped", json_object_new_uint64(st->dropped));
	if (why)
		put_str(o, "message", why);
	event_emit(o);
}

void log_error(target_t *t, call_t *c, const log_proc_t *proc, const verdict_t *v,
	       const char *message)
{
	json_object *o;

	if (!budget_take(t))
		return;
	o = event_new("error");
	if (!o)
		return;
	put_call(o, t, c, proc);
	put_verdict(o, v);
	/* The verdict's own message, if any, gives way to the error's. */
	put_str(o, "message", message);
	event_emit(o);
}

void log_read_stall(const target_t *t, const call_t *c, uint64_t addr, uint64_t waited_ns,
		    const char *action, uint32_t dev)
{
	json_object *o = event_new("read_stall");
	char buf[32];
	bool aborted = strcmp(action, "fuse_aborted") == 0;

	if (!o)
		return;
	put_target(o, t);
	put_int(o, "pid", t->pid);
	put_int(o, "tid", c->pid);
	if (c->syscall)
		put_str(o, "syscall", c->syscall);
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	put_str(o, "address", buf);
	if (dev) {
		snprintf(buf, sizeof(buf), "%u:%u", dev >> 20, dev & 0xfffffu);
		put_str(o, "device", buf);
	}
	put_str(o, "action", action);
	put_int(o, "waited_ns", (int64_t)waited_ns);
	put_str(o, "message",
		aborted ? "reading the caller's memory stalled sysgated: the FUSE connection "
			  "serving it was aborted; the target's later reads fail at once"
			: "reading the caller's memory held sysgated too long; the target's later "
			  "reads fail at once");
	event_emit(o);
}

bool log_budget_take(target_t *t)
{
	return budget_take(t);
}

static void read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	/* Only the newline the kernel adds: a comm may hold others. */
	if (buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
}

void log_proc_read(pid_t tid, pid_t tgid, log_proc_t *out)
{
	char path[64];
	uint64_t dev, ino;

	out->comm[0] = out->exe[0] = '\0';
	if (tid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)tid);
	read_small(path, out->comm, sizeof(out->comm));
	/* The path only when it names the file the process runs (exe.h). */
	if (exe_read(tgid > 0 ? tgid : tid, NULL, out->exe, sizeof(out->exe), &dev, &ino) < 0)
		out->exe[0] = '\0';
}

static void report_one(const target_t *t, uint64_t n)
{
	json_object *o = event_new("suppressed");

	if (!o)
		return;
	put_target(o, t);
	json_object_object_add(o, "events", json_object_new_uint64(n));
	put_int(o, "interval_ms", budget.lim.report_ms);
	event_emit(o);
}

/* Refused handshakes suppressed: of uid, or (other) of the uids past the
 * table's room. */
static void report_refused(bool other, uid_t uid, uint64_t n)
{
	json_object *o = event_new("suppressed");

	if (!o)
		return;
	put_str(o, "what", "handshake_refused");
	if (other)
		json_object_object_add(o, "other_uids", json_object_new_boolean(1));
	else
		put_int(o, "uid", uid);
	json_object_object_add(o, "events", json_object_new_uint64(n));
	put_int(o, "interval_ms", budget.lim.report_ms);
	event_emit(o);
}

void log_report_suppressed(sgd_t *d)
{
	for (target_t *t = d->targets; t; t = t->next) {
		if (t->log_suppressed_since) {
			report_one(t, t->log_suppressed_since);
			t->log_suppressed_since = 0;
		}
	}
	for (size_t i = 0; i < budget.nrefused; i++)
		report_refused(false, budget.refused[i].uid, budget.refused[i].n);
	if (budget.refused_other)
		report_refused(true, 0, budget.refused_other);
	budget.nrefused = 0;
	budget.refused_other = 0;
}
