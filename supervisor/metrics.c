/*
 * The metrics registry: what the loop thread counts as calls are decided
 * and targets come and go, and its rendering in the Prometheus text
 * exposition format (version 0.0.4) for the endpoint (metrics_http.c).
 * Every array is sized once, at start, from the number of policies, the
 * native arch's syscall numbers and the verdict kinds; counting indexes
 * into them and adds with an atomic, and never allocates.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "names.h"
#include "readwatch.h"
#include "target.h"

#define NKINDS (VERDICT_OPEN + 1) /* every verdict_kind_t, VERDICT_NONE included */

typedef _Atomic uint64_t counter_t;

/* Why targets end, as target_close is told; anything else is "other". */
static const char *const end_reasons[] = {
	"exited", "supervisor_stop", "listener_shared", "receive_error", "poll_error", "other",
};
#define NREASONS (sizeof(end_reasons) / sizeof(end_reasons[0]))

/* From a few microseconds (a constant verdict) to the largest time_ms a
 * handler is usually given; le is how Prometheus clients write them. */
static const uint64_t bucket_ns[METRICS_NBUCKETS] = {
	5000,     10000,    25000,    50000,     100000,    250000,    500000,    1000000,
	2500000,  5000000,  10000000, 25000000,  50000000,  100000000, 250000000, 1000000000,
};
static const char *const bucket_le[METRICS_NBUCKETS] = {
	"5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001",
	"0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1",
};

typedef struct metrics_policy {
	const char *name;
	counter_t notifications, answered; /* answered: or abandoned */
	counter_t started, ended[NREASONS];
	counter_t errors, fallbacks, kills, opens_ok, opens_failed;
	counter_t buckets[METRICS_NBUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
	counter_t sum_ns;
} metrics_policy_t;

struct metrics {
	size_t npolicies;
	size_t nsys; /* syscalls 0..nsys-1 have a slot each; slot nsys is "unknown" */
	metrics_policy_t *pol;
	counter_t *decisions; /* [policy][nsys + 1][NKINDS] */
	counter_t *would;     /* [policy][nsys + 1][NKINDS] */
	counter_t *limited;   /* [policy][nsys + 1] */
};

/* One past the highest syscall number of the native arch that has a name. */
static size_t syscall_slots(void)
{
	size_t n = NAMES_MAX_NR;

	while (n > 0 && !names_syscall_name((int)n - 1))
		n--;
	return n;
}

metrics_t *metrics_new(size_t npolicies, const char *const *names)
{
	metrics_t *m = calloc(1, sizeof(*m));
	size_t rows;

	if (!m)
		return NULL;
	m->npolicies = npolicies;
	m->nsys = syscall_slots();
	rows = npolicies * (m->nsys + 1);
	m->pol = calloc(npolicies ? npolicies : 1, sizeof(*m->pol));
	m->decisions = calloc(rows * NKINDS + 1, sizeof(counter_t));
	m->would = calloc(rows * NKINDS + 1, sizeof(counter_t));
	m->limited = calloc(rows + 1, sizeof(counter_t));
	if (!m->pol || !m->decisions || !m->would || !m->limited) {
		metrics_free(m);
		return NULL;
	}
	for (size_t i = 0; i < npolicies; i++)
		m->pol[i].name = names[i];
	return m;
}

void metrics_free(metrics_t *m)
{
	if (!m)
		return;
	free(m->pol);
	free(m->decisions);
	free(m->would);
	free(m->limited);
	free(m);
}

/* ------------------------------------------------------------ counting */

static void inc(counter_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* For the counters a gauge subtracts from an earlier one (answered from
 * notifications, ended from started): a reader that sees this increment
 * with an acquire load also sees every increment made before it. */
static void inc_release(counter_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_release);
}

static uint64_t get(const counter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t get_acquire(const counter_t *c)
{
	return atomic_load_explicit(c, memory_order_acquire);
}

/* The row of (policy, syscall): unnamed and foreign numbers share one. */
static size_t row(const metrics_t *m, size_t policy, int nr)
{
	size_t s = nr >= 0 && (size_t)nr < m->nsys && names_syscall_name(nr) ? (size_t)nr : m->nsys;

	return policy * (m->nsys + 1) + s;
}

static size_t kind(verdict_kind_t k)
{
	return (unsigned)k < NKINDS ? (size_t)k : 0;
}

static void observe(metrics_policy_t *p, uint64_t ns)
{
	size_t b = 0;

	while (b < METRICS_NBUCKETS && ns > bucket_ns[b])
		b++;
	inc(&p->buckets[b]);
	atomic_fetch_add_explicit(&p->sum_ns, ns, memory_order_relaxed);
}

void metrics_note_received(metrics_t *m, size_t policy)
{
	if (m && policy < m->npolicies)
		inc(&m->pol[policy].notifications);
}

void metrics_note_decision(metrics_t *m, size_t policy, int nr, const verdict_t *v, bool error,
			   bool fallback, int sent, uint64_t latency_ns)
{
	metrics_policy_t *p;
	size_t r;

	if (!m || policy >= m->npolicies)
		return;
	p = &m->pol[policy];
	r = row(m, policy, nr);
	inc(&m->decisions[r * NKINDS + kind(v->kind)]);
	if (v->would != VERDICT_NONE)
		inc(&m->would[r * NKINDS + kind(v->would)]);
	if (v->limited)
		inc(&m->limited[r]);
	/* As many as the log's error events for the call: decide's, and a
	 * failed answer's (a call that was gone is not an error). */
	if (error)
		inc(&p->errors);
	if (sent < 0 && sent != -ENOENT)
		inc(&p->errors);
	if (fallback)
		inc(&p->fallbacks);
	/* A kill that could not be sent was logged as an error and denied. */
	if (v->kind == VERDICT_KILL && (sent == 0 || sent == -ENOENT))
		inc(&p->kills);
	if (v->kind == VERDICT_OPEN)
		inc(v->fd >= 0 ? &p->opens_ok : &p->opens_failed);
	observe(p, latency_ns);
	inc_release(&p->answered);
}

void metrics_note_abandoned(metrics_t *m, size_t policy)
{
	if (m && policy < m->npolicies)
		inc_release(&m->pol[policy].answered);
}

void metrics_note_target_started(metrics_t *m, size_t policy)
{
	if (m && policy < m->npolicies)
		inc(&m->pol[policy].started);
}

void metrics_note_target_closed(metrics_t *m, size_t policy, const char *reason)
{
	size_t i = 0;

	if (!m || policy >= m->npolicies)
		return;
	while (i < NREASONS - 1 && strcmp(reason, end_reasons[i]) != 0)
		i++;
	inc_release(&m->pol[policy].ended[i]);
}

/* ----------------------------------------------------- the loop's hooks */

static metrics_t *active;

void metrics_activate(metrics_t *m)
{
	active = m;
}

static size_t policy_of(const target_t *t)
{
	return (size_t)(t->pconf - t->d->cfg->policies);
}

void metrics_received(const target_t *t)
{
	if (active)
		metrics_note_received(active, policy_of(t));
}

void metrics_decided(const target_t *t, const call_t *c, const verdict_t *v, bool error,
		     bool fallback, int sent, uint64_t t0)
{
	if (!active)
		return;
	metrics_note_decision(active, policy_of(t), c->arch == names_native_arch() ? c->nr : -1, v,
			      error, fallback, sent, sgd_now_ns() - t0);
}

void metrics_abandoned(const target_t *t)
{
	if (active)
		metrics_note_abandoned(active, policy_of(t));
}

void metrics_target_started(const target_t *t)
{
	if (active)
		metrics_note_target_started(active, policy_of(t));
}

void metrics_target_closed(const target_t *t, const char *reason)
{
	if (active)
		metrics_note_target_closed(active, policy_of(t), reason);
}

/* ----------------------------------------------------------- rendering */

typedef struct label {
	const char *key, *value;
} label_t;

/* Label values escape \, " and newline; HELP text \ and newline. */
static void put_escaped(FILE *f, const char *s, bool quoted)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quoted)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, false);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void sample_text(FILE *f, const char *name, const label_t *l, size_t n, const char *value)
{
	fputs(name, f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%c%s=\"", i ? ',' : '{', l[i].key);
		put_escaped(f, l[i].value, true);
		fputc('"', f);
	}
	fprintf(f, "%s %s\n", n ? "}" : "", value);
}

static void sample(FILE *f, const char *name, const label_t *l, size_t n, uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	sample_text(f, name, l, n, buf);
}

static const char *syscall_label(const metrics_t *m, size_t s)
{
	const char *name = s < m->nsys ? names_syscall_name((int)s) : NULL;

	return name ? name : "unknown";
}

/* One counter per policy, with the policy label only. */
static void per_policy(FILE *f, const metrics_t *m, const char *name, const char *help,
		       size_t offset)
{
	family(f, name, "counter", help);
	for (size_t i = 0; i < m->npolicies; i++) {
		label_t l = { "policy", m->pol[i].name };

		sample(f, name, &l, 1, get((const counter_t *)((const char *)&m->pol[i] + offset)));
	}
}

/* The (policy, syscall, verdict) series of arr that are not zero. */
static void by_verdict(FILE *f, const metrics_t *m, const char *name, const char *help,
		       const counter_t *arr)
{
	family(f, name, "counter", help);
	for (size_t i = 0; i < m->npolicies; i++) {
		for (size_t s = 0; s <= m->nsys; s++) {
			const counter_t *r = &arr[(i * (m->nsys + 1) + s) * NKINDS];

			for (size_t k = 0; k < NKINDS; k++) {
				uint64_t v = get(&r[k]);
				label_t l[3] = { { "policy", m->pol[i].name }, { "syscall", NULL },
						 { "verdict", verdict_kind_name((verdict_kind_t)k) } };

				if (v == 0)
					continue;
				l[1].value = syscall_label(m, s);
				sample(f, name, l, 3, v);
			}
		}
	}
}

static void rate_limited(FILE *f, const metrics_t *m)
{
	const char *name = "sysgate_rate_limited_total";

	family(f, name, "counter",
	       "Forwarded calls that a rate limit in the policy answered with its over verdict, by "
	       "policy and syscall. Calls the kernel decides are never limited.");
	for (size_t i = 0; i < m->npolicies; i++) {
		for (size_t s = 0; s <= m->nsys; s++) {
			uint64_t v = get(&m->limited[i * (m->nsys + 1) + s]);
			label_t l[2] = { { "policy", m->pol[i].name }, { "syscall", NULL } };

			if (v == 0)
				continue;
			l[1].value = syscall_label(m, s);
			sample(f, name, l, 2, v);
		}
	}
}

static void in_flight(FILE *f, const metrics_t *m)
{
	const char *name = "sysgate_notifications_in_flight";

	family(f, name, "gauge",
	       "Forwarded calls received and not answered yet: being decided or parked.");
	for (size_t i = 0; i < m->npolicies; i++) {
		label_t l = { "policy", m->pol[i].name };
		/* Answered first: every call counted there is in this count too. */
		uint64_t done = get_acquire(&m->pol[i].answered);
		uint64_t all = get(&m->pol[i].notifications);

		sample(f, name, &l, 1, all > done ? all - done : 0);
	}
}

static void opens(FILE *f, const metrics_t *m)
{
	const char *name = "sysgate_brokered_opens_total";

	family(f, name, "counter",
	       "Calls answered by a brokered open (sysgate.open), by policy and result: ok (the "
	       "call got the file descriptor) or failed (the call got the open's errno).");
	for (size_t i = 0; i < m->npolicies; i++) {
		label_t ok[2] = { { "policy", m->pol[i].name }, { "result", "ok" } };
		label_t failed[2] = { { "policy", m->pol[i].name }, { "result", "failed" } };

		sample(f, name, ok, 2, get(&m->pol[i].opens_ok));
		sample(f, name, failed, 2, get(&m->pol[i].opens_failed));
	}
}

static void targets(FILE *f, const metrics_t *m)
{
	family(f, "sysgate_targets_ended_total", "counter",
	       "Targets (programs handed over by sysgate-run) whose listener was closed, by policy "
	       "and reason: exited, supervisor_stop, listener_shared, receive_error, poll_error, "
	       "other.");
	for (size_t i = 0; i < m->npolicies; i++)
		for (size_t r = 0; r < NREASONS; r++) {
			label_t l[2] = { { "policy", m->pol[i].name }, { "reason", end_reasons[r] } };

			sample(f, "sysgate_targets_ended_total", l, 2, get(&m->pol[i].ended[r]));
		}
	family(f, "sysgate_targets_active", "gauge", "Targets being served now, by policy.");
	for (size_t i = 0; i < m->npolicies; i++) {
		label_t l = { "policy", m->pol[i].name };
		uint64_t ended = 0, started;

		for (size_t r = 0; r < NREASONS; r++)
			ended += get_acquire(&m->pol[i].ended[r]);
		started = get(&m->pol[i].started);
		sample(f, "sysgate_targets_active", &l, 1, started > ended ? started - ended : 0);
	}
}

static void histogram(FILE *f, const metrics_t *m)
{
	family(f, "sysgate_handler_seconds", "histogram",
	       "Time from receiving a forwarded call to sending its answer (the handler, the "
	       "arguments it read, a brokered open), by policy. The kernel's round trip is not "
	       "in it.");
	for (size_t i = 0; i < m->npolicies; i++) {
		const metrics_policy_t *p = &m->pol[i];
		label_t l[2] = { { "policy", p->name }, { "le", NULL } };
		uint64_t cum = 0, sum = get(&p->sum_ns);
		char buf[48];

		for (size_t b = 0; b <= METRICS_NBUCKETS; b++) {
			cum += get(&p->buckets[b]);
			l[1].value = b < METRICS_NBUCKETS ? bucket_le[b] : "+Inf";
			sample(f, "sysgate_handler_seconds_bucket", l, 2, cum);
		}
		snprintf(buf, sizeof(buf), "%" PRIu64 ".%09" PRIu64, sum / 1000000000u,
			 sum % 1000000000u);
		sample_text(f, "sysgate_handler_seconds_sum", l, 1, buf);
		/* The +Inf bucket's value: a scrape never sees them disagree. */
		sample(f, "sysgate_handler_seconds_count", l, 1, cum);
	}
}

static void log_counters(FILE *f)
{
	uint64_t events, bytes, suppressed;

	log_stats(&events, &bytes, &suppressed);
	family(f, "sysgate_log_events_total", "counter",
	       "Events (JSON lines) handed to the log; the lines lost on the way are in "
	       "sysgate_log_write_failures_total.");
	sample(f, "sysgate_log_events_total", NULL, 0, events);
	family(f, "sysgate_log_bytes_total", "counter", "Bytes of the events handed to the log.");
	sample(f, "sysgate_log_bytes_total", NULL, 0, bytes);
	family(f, "sysgate_log_events_suppressed_total", "counter",
	       "Events the log budgets (log_limits) held back: decision and error events, refused "
	       "handshakes. The calls were decided and counted all the same.");
	sample(f, "sysgate_log_events_suppressed_total", NULL, 0, suppressed);
	family(f, "sysgate_log_write_failures_total", "counter",
	       "Log lines lost: dropped because a stream reader stalled, or failed to write.");
	sample(f, "sysgate_log_write_failures_total", NULL, 0, log_write_failures());
}

static void read_stalls(FILE *f)
{
	uint64_t acted[READWATCH_NOUTCOMES], waiting;
	label_t l;

	readwatch_stats(acted, &waiting);
	family(f, "sysgate_read_stalls_total", "counter",
	       "Reads of a caller's memory that held the loop 500 ms, by what the watchdog did: "
	       "fuse_aborted (the FUSE connection serving it was aborted), or not_fuse, "
	       "no_mapping, no_fusectl, abort_failed (it was waited for).");
	for (int i = READWATCH_NONE + 1; i < READWATCH_NOUTCOMES; i++) {
		l = (label_t){ "action", readwatch_outcome_name((readwatch_outcome_t)i) };
		sample(f, "sysgate_read_stalls_total", &l, 1, acted[i]);
	}
	family(f, "sysgate_reads_stalled", "gauge",
	       "Reads of a caller's memory counted in sysgate_read_stalls_total that have not "
	       "returned: the loop waits on them now.");
	sample(f, "sysgate_reads_stalled", NULL, 0, waiting);
}

#define POLICY_COUNTER(f, m, name, field, help) \
	per_policy(f, m, name, help, offsetof(metrics_policy_t, field))

static void render(FILE *f, const metrics_t *m)
{
	POLICY_COUNTER(f, m, "sysgate_notifications_total", notifications,
		       "Calls forwarded to sysgated (those a policy names under on), by policy. "
		       "Calls the kernel decides from the filter alone (kernel.deny, kernel.kill, "
		       "the default) never reach sysgated and are counted nowhere.");
	in_flight(f, m);
	by_verdict(f, m, "sysgate_decisions_total",
		   "Forwarded calls answered, by policy, syscall and the verdict sent (allow, "
		   "deny, emulate, kill, open). Kernel-decided calls are not counted.",
		   m->decisions);
	by_verdict(f, m, "sysgate_would_deny_total",
		   "Audit mode: calls allowed that the handler would have answered with verdict, by "
		   "policy and syscall.",
		   m->would);
	rate_limited(f, m);
	POLICY_COUNTER(f, m, "sysgate_errors_total", errors,
		       "Error events: a handler that failed, an argument that could not be read, an "
		       "answer that could not be sent.");
	POLICY_COUNTER(f, m, "sysgate_fallbacks_total", fallbacks,
		       "Calls answered with the policy's fallback because its handler failed.");
	POLICY_COUNTER(f, m, "sysgate_kills_total", kills,
		       "Processes sent SIGKILL by a kill verdict (the handler's or the fallback's). "
		       "Kills by kernel.kill happen in the kernel and are not counted.");
	opens(f, m);
	POLICY_COUNTER(f, m, "sysgate_targets_started_total", started,
		       "Targets (programs handed over by sysgate-run) accepted, by policy.");
	targets(f, m);
	histogram(f, m);
	read_stalls(f);
	log_counters(f);
}

char *metrics_render(const metrics_t *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	render(f, m);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}
