/*
 * The receive stage: drain a listener's pending notifications, turn each
 * into a call object, ask the policy engine for a verdict, hand it to the
 * respond stage and log it. Everything here reuses per-loop buffers: the
 * per-call path allocates nothing unless it logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "exe.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "respond.h"
#include "target.h"

/* Notifications answered per wake-up of one listener before the loop gets
 * to serve the others; the poll is level-triggered, so the rest follow. */
#define DRAIN_BATCH 64
/* ...or for as long as this, whichever ends first: a listener whose calls
 * are slow to decide (each may take up to lua.time_ms) must not hold the
 * loop for a whole batch of them. */
#define DRAIN_TIME_NS 1000000u

uint64_t sgd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int receive_init(sgd_t *d)
{
	struct seccomp_notif_sizes sizes;

	/* The kernel's structs may be larger than the ones we were built
	 * with; the buffers must fit the kernel's (HARDENING 7). */
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -errno;
	d->req_size = sizes.seccomp_notif > sizeof(*d->req) ? sizes.seccomp_notif : sizeof(*d->req);
	d->resp_size = sizes.seccomp_notif_resp > sizeof(*d->resp) ? sizes.seccomp_notif_resp
								   : sizeof(*d->resp);
	d->req = calloc(1, d->req_size);
	d->resp = calloc(1, d->resp_size);
	if (!d->req || !d->resp) {
		receive_fini(d);
		return -ENOMEM;
	}
	d->id_valid_ioctl = SECCOMP_IOCTL_NOTIF_ID_VALID;
	d->fusectl = -1;
	return 0;
}

void receive_fini(sgd_t *d)
{
	free(d->req);
	free(d->resp);
	d->req = NULL;
	d->resp = NULL;
}

int receive_id_valid(sgd_t *d, int listener, uint64_t id)
{
	for (;;) {
		if (ioctl(listener, d->id_valid_ioctl, &id) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* Kernels before 5.17 only know the first, misnumbered ioctl
		 * (HARDENING 14): probe once, then keep the one that works. */
		if (errno == EINVAL && d->id_valid_ioctl == SECCOMP_IOCTL_NOTIF_ID_VALID) {
			d->id_valid_ioctl = SECCOMP_IOCTL_NOTIF_ID_VALID_OLD;
			continue;
		}
		return -errno;
	}
}

/*
 * process_vm_readv of the caller's memory, watched (readwatch.h): a read
 * the watchdog had to end is logged here, on the loop's thread. A target
 * whose reads held the loop READWATCH_STALL_MS in all (each read of
 * READWATCH_SLOW_MS or more counted), in one read the watchdog ended or
 * in several slow ones, reads through a file system that it or someone
 * controls, or that stopped answering: its later reads fail at once
 * (EFAULT, the call denied), so that it cannot hold the loop again, with
 * another mount or another page. It is not killed: the policy decides
 * what a failed read means, as for any other.
 */
static ssize_t vm_read(target_t *t, const call_t *c, struct iovec *local, uint64_t addr)
{
	readwatch_t *w = &t->d->readwatch;
	struct iovec remote = { (void *)(uintptr_t)addr, local->iov_len };
	readwatch_stall_t st = { 0 };
	uint64_t since, waited;
	bool stalled;
	ssize_t n;
	int e;

	if (t->read_stalled) {
		errno = EFAULT;
		return -1;
	}
	since = sgd_now_ns();
	readwatch_begin(w, c->pid, addr, since);
	n = process_vm_readv(c->pid, local, 1, &remote, 1, 0);
	e = errno;
	waited = sgd_now_ns() - since;
	stalled = readwatch_end(w, since, since + waited, &st);
	if (waited >= (uint64_t)READWATCH_SLOW_MS * 1000000u)
		t->read_slow_ns += waited;
	if (stalled || t->read_slow_ns >= (uint64_t)READWATCH_STALL_MS * 1000000u) {
		t->read_stalled = true;
		log_read_stall(t, c, addr, waited,
			       stalled ? readwatch_outcome_name(st.outcome) : "slow_reads", st.dev);
	}
	errno = e;
	return n;
}

/* call_read_str_fn over process_vm_readv, one page at a time so that a
 * string ending just before an unmapped page is still read. */
static ssize_t read_str(void *ctx, const call_t *c, uint64_t addr, char *buf, size_t cap)
{
	target_t *t = ctx;
	const size_t page = 4096;
	size_t off = 0;
	ssize_t len = -ENAMETOOLONG;
	int r;

	if (addr == 0 || c->pid <= 0)
		return -EFAULT;
	while (off < cap) {
		size_t chunk = page - ((addr + off) & (page - 1));
		struct iovec local;
		ssize_t n;
		char *nul;

		if (chunk > cap - off)
			chunk = cap - off;
		local.iov_base = buf + off;
		local.iov_len = chunk;
		n = vm_read(t, c, &local, addr + off);
		if (n <= 0)
			return n < 0 && errno == ESRCH ? -ENOENT : -EFAULT;
		nul = memchr(buf + off, '\0', (size_t)n);
		if (nul) {
			len = nul - buf;
			break;
		}
		off += (size_t)n;
	}
	/* The bytes are only trusted if the task is still the one that made
	 * the call: pid reuse or a killed target would make them someone
	 * else's (HARDENING 15). */
	r = receive_id_valid(t->d, t->listener, c->id);
	if (r < 0)
		return -ENOENT;
	if (len < 0)
		buf[cap - 1] = '\0';
	return len;
}

/* call_read_mem_fn: exactly len bytes, then the validity check. */
static int read_mem(void *ctx, const call_t *c, uint64_t addr, void *buf, size_t len)
{
	target_t *t = ctx;
	struct iovec local = { buf, len };
	ssize_t n;

	if (addr == 0 || c->pid <= 0)
		return -EFAULT;
	n = vm_read(t, c, &local, addr);
	if (n < 0 && errno == ESRCH)
		return -ENOENT;
	if (n != (ssize_t)len)
		return -EFAULT;
	return receive_id_valid(t->d, t->listener, c->id) < 0 ? -ENOENT : 0;
}

/* call_read_link_fn over /proc/<tid>/<what>. */
static ssize_t read_link(void *ctx, const call_t *c, const char *what, char *buf, size_t cap)
{
	const target_t *t = ctx;
	char path[64];
	ssize_t n;

	if (c->pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)c->pid, what);
	n = readlink(path, buf, cap - 1);
	if (n < 0)
		return errno == ENOENT ? -EBADF : -errno;
	buf[n] = '\0';
	return receive_id_valid(t->d, t->listener, c->id) < 0 ? -ENOENT : n;
}

static pid_t read_tgid(void *ctx, const call_t *c)
{
	const target_t *t = ctx;
	char path[64], buf[512];
	const char *p;
	ssize_t n;
	int fd;

	/* pid 0: the caller has no pid here (HARDENING 12); /proc has nothing
	 * to say about it, and nothing may be looked up for it. */
	if (c->pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	/* Like any read about the caller, trusted only if the notification is
	 * still valid afterwards: else the tid may name someone else by now. */
	if (!p || receive_id_valid(t->d, t->listener, c->id) < 0)
		return 0;
	return (pid_t)strtol(p + 6, NULL, 10);
}

/* Reads a small /proc file of the caller into buf (NUL-terminated). */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* The second number of a "Key:\tN\tN..." line of /proc/<pid>/status
 * (the effective id for Uid and Gid), or the first with first = true. */
static long status_field(const char *status, const char *key, bool first)
{
	const char *p = strstr(status, key);
	char *end;
	long v;

	if (!p)
		return -1;
	v = strtol(p + strlen(key), &end, 10);
	return first ? v : strtol(end, NULL, 10);
}

/* Who makes the call: /proc/<tid>/status, comm, exe and cgroup, trusted
 * only if the notification is still valid after every read. */
static int read_ident(void *ctx, const call_t *c, call_ident_t *out)
{
	target_t *t = ctx;
	char status[4096], cg[PATH_MAX + 8];
	const char *line;

	memset(out, 0, sizeof(*out));
	if (c->pid <= 0)
		return -ESRCH;
	if (read_proc(c->pid, "status", status, sizeof(status)) < 0)
		return -ESRCH;
	out->uid = (uid_t)status_field(status, "\nUid:", false);
	out->gid = (gid_t)status_field(status, "\nGid:", false);
	out->threads = (int)status_field(status, "\nThreads:", true);
	if (read_proc(c->pid, "comm", out->comm, sizeof(out->comm)) > 0)
		out->comm[strcspn(out->comm, "\n")] = '\0';
	/* The file the process runs, and its path only when the path names
	 * that file here (exe.h); the target's cache saves the lookup. */
	if (exe_read(c->pid, &t->exe_cache, out->exe, sizeof(out->exe), &out->exe_dev,
		     &out->exe_ino) < 0)
		return -ESRCH;
	if (read_proc(c->pid, "cgroup", cg, sizeof(cg)) > 0 && (line = strstr(cg, "0::")) != NULL) {
		snprintf(out->cgroup, sizeof(out->cgroup), "%s", line + 3);
		out->cgroup[strcspn(out->cgroup, "\n")] = '\0';
	}
	return receive_id_valid(t->d, t->listener, c->id) < 0 ? -ENOENT : 0;
}

static void call_fill(call_t *c, target_t *t, const struct seccomp_notif *req)
{
	c->id = req->id;
	c->nr = req->data.nr;
	c->arch = req->data.arch;
	c->syscall = names_syscall_name(req->data.nr);
	memcpy(c->args, req->data.args, sizeof(c->args));
	c->ip = req->data.instruction_pointer;
	c->pid = (pid_t)req->pid;
	c->target = &t->info;
	c->read_str = read_str;
	c->read_mem = read_mem;
	c->read_link = read_link;
	c->read_ctx = t;
	c->tgid_fn = read_tgid;
	c->ident_fn = read_ident;
	call_reset(c);
}

static void deny(verdict_t *v, int err)
{
	memset(v, 0, sizeof(*v));
	v->kind = VERDICT_DENY;
	v->err = err;
}

/* Decides one call, from its handler (resume 0) or from the limit a
 * throttle parked it at. Returns the error message when the verdict is
 * not the handler's own (why is the buffer for it), NULL otherwise. */
static const char *decide(target_t *t, call_t *c, int resume, verdict_t *v, bool *fallback,
			  char *why, size_t why_len)
{
	policy_fail_t f;

	*fallback = false;
	if (c->arch != names_native_arch()) {
		/* The filter kills other arches; this cannot happen unless the
		 * kernel disagrees with it. Decode nothing, deny. */
		deny(v, ENOSYS);
		snprintf(why, why_len, "call of arch 0x%x is not decoded", c->arch);
		return why;
	}
	if (c->pid == 0) {
		/* The task is in a pid namespace the supervisor cannot see:
		 * nothing about it can be read safely (HARDENING 12). */
		deny(v, EPERM);
		snprintf(why, why_len, "calling task is not visible in the supervisor's pid namespace");
		return why;
	}
	if ((t->mode == SG_MODE_AUDIT || receive_is_proof(c->nr, c->arch, c->args[0])) &&
	    !policy_handles(t->policy, c->nr)) {
		/* Forwarded only because this is audit mode, or because every
		 * filter forwards the proof call: the kernel part of the policy
		 * would have decided it. */
		policy_kernel_verdict(t->policy, c->nr, v);
		return NULL;
	}
	if (resume)
		f = policy_resume(t->policy, c, resume, v, why, why_len);
	else
		f = policy_decide(t->policy, c, v, why, why_len);
	if (f == POLICY_OK)
		return NULL;
	if (f != POLICY_FAULT) {
		*v = t->pconf->fallback;
		*fallback = true;
	}
	return why;
}

/*
 * Audit mode: the call goes on whatever the policy said, and the verdict
 * it would have had is kept in would (logged as would_deny). A brokered
 * open is kept: it denies nothing the caller could not do itself, and
 * its failure is the file system's answer, not the policy's.
 */
static void audit(verdict_t *v)
{
	if (v->kind != VERDICT_DENY && v->kind != VERDICT_KILL && v->kind != VERDICT_EMULATE)
		return;
	v->would = v->kind;
	v->would_err = v->kind == VERDICT_DENY ? v->err : 0;
	v->kind = VERDICT_ALLOW;
	v->err = 0;
	v->advisory = false;
}

/* Allows are not logged unless the handler asks (an advisory one is
 * marked when it is, and counted for target_end either way); brokered
 * opens are allows too, unless they fail (known after the answer, see
 * answer). */
static bool worth_logging(const verdict_t *v, const char *error)
{
	return error || v->log || v->would != VERDICT_NONE ||
	       (v->kind != VERDICT_ALLOW && v->kind != VERDICT_OPEN);
}

/*
 * Learn mode: the call is recorded and goes on, unlogged (the run makes
 * thousands; the learned policy is the record). No handler runs: learn
 * mode enforces nothing, which is why the config must allow it.
 */
static void learn_call(target_t *t, call_t *c, uint64_t t0)
{
	verdict_t v = { .kind = VERDICT_ALLOW, .fd = -1 };
	char rwhy[256];
	int r;

	learn_record(t->learn, c);
	r = respond_send(t, c, &v, t->d->resp, t->d->resp_size, rwhy, sizeof(rwhy));
	t->decisions++;
	metrics_decided(t, c, &v, false, false, r, t0);
	if (r < 0 && r != -ENOENT)
		log_error(t, c, NULL, &v, rwhy);
}

/* After the answer: counts and logs c, answered (sent: what respond_send
 * or the broker's worker returned) with v. refund: whether a call gone
 * before its answer gives its tokens back, which only the last decision
 * can (policy_refund). */
static void finish(target_t *t, call_t *c, verdict_t *v, const char *error, bool fallback,
		   uint64_t t0, bool logged, log_proc_t *proc, int r, const char *rwhy, bool refund)
{
	if (!worth_logging(v, error) && v->kind == VERDICT_OPEN && v->fd < 0 && r == 0 &&
	    log_budget_take(t)) {
		logged = true; /* the brokered open failed: the call was denied */
		log_proc_read(c->pid, call_tgid(c), proc);
	}
	if (r == -ENOENT) {
		v->reason = "the call was gone before the answer (its task was killed or interrupted)";
		/* It did not run: the tokens it took go back, so that its
		 * restart (SA_RESTART) is charged once. */
		if (refund)
			policy_refund(t->policy);
	}
	metrics_decided(t, c, v, error != NULL, fallback, r, t0);
	t->decisions++;
	if (v->advisory)
		t->advisory++;
	if (v->kind == VERDICT_OPEN)
		t->brokered++;
	if (v->kind == VERDICT_DENY || v->kind == VERDICT_KILL)
		t->denied++;
	if (v->would != VERDICT_NONE)
		t->would_deny++;
	if (error) {
		t->errors++;
		log_error(t, c, proc, v, error);
	}
	if (logged)
		log_decision(t, c, proc, v, sgd_now_ns() - t0, fallback);
	if (r < 0 && r != -ENOENT)
		log_error(t, c, proc, v, rwhy);
}

/* A brokered open runs off the loop: what finish() needs of its call
 * is kept with the job, since the loop's call object serves the next
 * call meanwhile. */
static void pending_keep(broker_pending_t *pd, const call_t *c, const verdict_t *v,
			 const char *error, bool fallback, bool logged, uint64_t t0,
			 const log_proc_t *proc)
{
	memset(&pd->req, 0, sizeof(pd->req));
	pd->req.id = c->id;
	pd->req.pid = (uint32_t)c->pid;
	pd->req.data.nr = c->nr;
	pd->req.data.arch = c->arch;
	pd->req.data.instruction_pointer = c->ip;
	memcpy(pd->req.data.args, c->args, sizeof(pd->req.data.args));
	pd->tgid = c->tgid;
	pd->path_state = c->path_state == 1 ? 1 : 0;
	pd->path_len = pd->path_state ? c->path_len : 0;
	memcpy(pd->path, c->path, pd->path_len);
	pd->path[pd->path_len] = '\0';
	pd->v = *v;
	if (v->path) {
		snprintf(pd->open_path, sizeof(pd->open_path), "%s", v->path);
		pd->v.path = pd->open_path;
	}
	pd->error = NULL;
	if (error) {
		snprintf(pd->errbuf, sizeof(pd->errbuf), "%s", error);
		pd->error = pd->errbuf;
	}
	pd->fallback = fallback;
	pd->logged = logged;
	pd->t0 = t0;
	pd->proc = *proc;
}

void receive_open_done(target_t *t, broker_pending_t *pd, int sent)
{
	call_t *c = &t->d->call;
	char rwhy[256] = "";

	call_fill(c, t, &pd->req);
	c->tgid = pd->tgid;
	if (pd->path_state == 1) {
		c->path_state = 1;
		c->path_len = pd->path_len;
		memcpy(c->path, pd->path, pd->path_len + 1);
	}
	if (sent == -ENOENT)
		t->gone++;
	else if (sent < 0)
		snprintf(rwhy, sizeof(rwhy), "cannot answer the call: %s", strerror(-sent));
	finish(t, c, &pd->v, pd->error, pd->fallback, pd->t0, pd->logged, &pd->proc, sent, rwhy,
	       false);
}

/* Sends the verdict on c, counts and logs it; a brokered open is started
 * here and finished in receive_open_done. */
static void answer(target_t *t, call_t *c, verdict_t *v, const char *error, bool fallback,
		   uint64_t t0)
{
	char rwhy[256] = "";
	log_proc_t proc = { .comm = "", .exe = "" };
	/* The log budget is taken before the answer, so that a call whose
	 * event the budget drops costs no reads of /proc: a denied call in a
	 * loop would otherwise read them on every call for the few events
	 * logged. */
	bool logged = worth_logging(v, error) && log_budget_take(t);
	int r = 0;

	/* Who made the call is read before answering: afterwards the task may
	 * have exited or exec'd. Only for calls that are logged. */
	if (logged || error)
		log_proc_read(c->pid, call_tgid(c), &proc);
	if (v->kind == VERDICT_OPEN) {
		broker_pending_t *pd;

		r = broker_open(t, c, v, &pd);
		if (r == -EINPROGRESS) {
			pending_keep(pd, c, v, error, fallback, logged, t0, &proc);
			return;
		}
		if (r == -ENOENT)
			t->gone++;
	}
	/* An OPEN that failed before it started is answered with its err. */
	if (r != -ENOENT)
		r = respond_send(t, c, v, t->d->resp, t->d->resp_size, rwhy, sizeof(rwhy));
	finish(t, c, v, error, fallback, t0, logged, &proc, r, rwhy, true);
}

/* Decides req (resume: see decide) and answers it, or parks it when a
 * limit throttles it. waited_ns: how long it was parked before. */
static void decide_and_answer(target_t *t, const struct seccomp_notif *req, int resume,
			      uint64_t t0, uint64_t waited_ns)
{
	call_t *c = &t->d->call;
	char why[512];
	const char *error;
	verdict_t v;
	bool fallback;

	call_fill(c, t, req);
	if (t->mode == SG_MODE_LEARN) {
		learn_call(t, c, t0);
		return;
	}
	error = decide(t, c, resume, &v, &fallback, why, sizeof(why));
	if (!error && v.throttle_ns) {
		if (throttle_park(t, req, &v, t0, waited_ns) == 0)
			return;
		/* Not parked: it gets the limit's over_cap verdict now, and
		 * the token reserved for it goes back. */
		policy_refund(t->policy);
	}
	v.throttle_ns = waited_ns;
	if (t->mode == SG_MODE_AUDIT)
		audit(&v);
	answer(t, c, &v, error, fallback, t0);
}

static void handle(target_t *t, const struct seccomp_notif *req, uint64_t t0)
{
	if (t->parks && throttle_adopt(t, req))
		return;
	decide_and_answer(t, req, 0, t0, 0);
}

void receive_resume(target_t *t, const struct seccomp_notif *req, int resume, uint64_t t0,
		    uint64_t waited_ns)
{
	decide_and_answer(t, req, resume, t0, waited_ns);
}

/*
 * The receive watchdog. poll() said POLLIN, but NOTIF_RECV still blocks
 * when someone else holding the same listener took the notification in
 * between: a peer that kept a copy of the fd it handed over can do that,
 * and would freeze the loop, and every target with it. The loop marks the
 * time it enters NOTIF_RECV; a thread checks every WATCHDOG_MS and, when a
 * receive has lasted that long, interrupts it with a signal whose handler
 * does not restart it. The target is then dropped: its listener is shared
 * with someone else and cannot be trusted. The hot path pays two relaxed
 * stores.
 */
#define WATCHDOG_MS 100
#define WATCHDOG_SIGNAL (SIGRTMIN + 1)

static void watchdog_signal_cb(int sig)
{
	(void)sig; /* its only job is to make NOTIF_RECV return EINTR */
}

static void *watchdog_main(void *arg)
{
	sgd_t *d = arg;
	const struct timespec tick = { 0, WATCHDOG_MS * 1000000L };
	uint64_t last = 0;

	while (!atomic_load(&d->watchdog_stop)) {
		uint64_t cur;

		nanosleep(&tick, NULL);
		cur = atomic_load_explicit(&d->recv_seq, memory_order_relaxed);
		if (cur != 0 && cur == last) {
			atomic_store(&d->recv_kicked, true);
			pthread_kill(d->loop_thread, WATCHDOG_SIGNAL);
		}
		last = cur;
		readwatch_check(&d->readwatch, d->fusectl, sgd_now_ns());
	}
	return NULL;
}

int receive_watchdog_start(sgd_t *d)
{
	struct sigaction sa = { .sa_handler = watchdog_signal_cb }; /* no SA_RESTART */
	sigset_t all, old;
	char why[256];
	int r;

	sigemptyset(&sa.sa_mask);
	if (sigaction(WATCHDOG_SIGNAL, &sa, NULL) < 0)
		return -errno;
	/* Without fusectl a stalled read cannot be ended, only logged when
	 * it ends: said once, and sysgated serves all the same. */
	d->fusectl = readwatch_fusectl_open(why, sizeof(why));
	if (d->fusectl < 0)
		fprintf(stderr, "sysgated: %s; a read of target memory that a FUSE file system "
				"never serves will stall sysgated\n", why);
	d->loop_thread = pthread_self();
	/* The watchdog takes no signal meant for the loop (libuv's). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&d->watchdog, NULL, watchdog_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		if (d->fusectl >= 0)
			close(d->fusectl);
		d->fusectl = -1;
		return -r;
	}
	d->watchdog_running = true;
	return 0;
}

void receive_watchdog_stop(sgd_t *d)
{
	if (!d->watchdog_running)
		return;
	atomic_store(&d->watchdog_stop, true);
	pthread_join(d->watchdog, NULL);
	d->watchdog_running = false;
	if (d->fusectl >= 0)
		close(d->fusectl);
	d->fusectl = -1;
}

bool receive_is_proof(int nr, uint32_t arch, uint64_t arg0)
{
	return nr == SYS_prctl && arch == names_native_arch() &&
	       (uint32_t)arg0 == SG_PROTO_PROOF_OPTION;
}

int receive_raw(sgd_t *d, int listener)
{
	int r;

	/* A stale field from the last notification must never be read as part
	 * of this one (HARDENING 7). */
	memset(d->req, 0, d->req_size);
	atomic_store(&d->recv_kicked, false);
	atomic_store_explicit(&d->recv_seq, ++d->recv_count, memory_order_relaxed);
	r = ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, d->req) == 0 ? 0 : -errno;
	atomic_store_explicit(&d->recv_seq, 0, memory_order_relaxed);
	if (r == -EINTR && atomic_exchange(&d->recv_kicked, false))
		return -ETIMEDOUT;
	return r;
}

/* Receives one notification and handles it; receive_raw's results. */
static int receive_one(target_t *t)
{
	sgd_t *d = t->d;
	uint64_t t0;
	int r = receive_raw(d, t->listener);

	if (r < 0)
		return r;
	t0 = sgd_now_ns();
	t->notifications++;
	metrics_received(t);
	handle(t, d->req, t0);
	return 0;
}

const char *receive_drain(target_t *t)
{
	uint64_t start = sgd_now_ns();

	for (int n = 0; n < DRAIN_BATCH && !t->closing; n++) {
		/* A target with as many brokered opens in flight as it may have
		 * is not heard until one ends (receive_open_done): its next
		 * call could be another. */
		if (broker_full(t)) {
			target_hold(t);
			return NULL;
		}
		/* A drain that has taken its time goes back to the loop, even
		 * with calls pending: the listener stays readable, and other
		 * targets and new handshakes are served first (HARDENING 19). */
		if (n > 0 && sgd_now_ns() - start > DRAIN_TIME_NS)
			return NULL;
		struct pollfd p = { .fd = t->listener, .events = POLLIN };
		int r = poll(&p, 1, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return "receive_error";
		/* POLLIN first: a notification that is pending is answered even
		 * when the listener also reports that the filter is unused. */
		if (p.revents & POLLIN) {
			r = receive_one(t);
			if (r == -ETIMEDOUT)
				return "listener_shared";
			if (r == -EINTR)
				return NULL;
			if (r < 0 && r != -ENOENT)
				return "receive_error";
			continue;
		}
		/* A bare POLLHUP: no task uses the filter any more. NOTIF_RECV
		 * would block now, so it must not be called. */
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			return "exited";
		return NULL;
	}
	return NULL;
}
