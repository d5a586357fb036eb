/*
 * sysgated: the supervisor. Reads the config, loads every policy, listens
 * for sysgate-run and serves the targets it hands over until SIGTERM or
 * SIGINT. With --check it only validates the config and the policies;
 * with --takeover it takes the sockets and targets of the sysgated running
 * on the same config over instead of creating its own (takeover.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "family.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "policy.h"
#include "sgd.h"
#include "takeover.h"
#include "tenant.h"
#include "target.h"

static void usage(FILE *f)
{
	fputs("Usage: sysgated -c FILE [--check | --takeover]\n"
	      "Supervise programs started by sysgate-run: decide each system call their\n"
	      "policy forwards, in Lua, and log the decisions as JSON lines.\n"
	      "\n"
	      "  -c, --config FILE   the configuration file (libconfig syntax)\n"
	      "      --check         validate FILE and every policy it names, then exit\n"
	      "      --takeover      take over the sockets and running targets of the\n"
	      "                      sysgated serving FILE, which then exits; its targets\n"
	      "                      see no failed call\n"
	      "  -h, --help          show this help and exit\n"
	      "  -V, --version       show the version and exit\n"
	      "\n"
	      "Runs in the foreground. SIGTERM or SIGINT stop it: every target's listener\n"
	      "is closed, so their forwarded calls fail with ENOSYS from then on. SIGUSR1\n"
	      "writes the policies learned so far from the targets in learn mode.\n"
	      "Exit status: 0 on success or a clean stop, 1 on a config or policy error\n"
	      "or a failure to start, 2 on a usage error. See sysgated(8).\n",
	      f);
}

/* Every target holds two fds (its listener and its pidfd): take the whole
 * hard limit, not the 1024 a soft limit usually leaves. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void print_error(const sg_error_t *err)
{
	char buf[1024];

	fprintf(stderr, "sysgated: %s\n", sg_error_str(err, buf, sizeof(buf)));
}

static int load_policies(sgd_t *d, const sg_config_t *cfg)
{
	sg_error_t err = { 0 };

	/* An array of pointers: sizeof a pointer is right here. */
	d->policies = calloc(cfg->npolicies, sizeof(*d->policies)); /* NOLINT(bugprone-sizeof-expression) */
	if (!d->policies)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->npolicies; i++) {
		int r = policy_load(cfg->policies[i].name, cfg->policies[i].file, &cfg->limits,
				    &d->policies[i], &err);

		if (r < 0) {
			print_error(&err);
			return r;
		}
		d->npolicies++;
		if (policy_mode(d->policies[i]) == SG_MODE_LEARN && !cfg->learn_dir[0]) {
			sg_error_set(&err, cfg->path, cfg->policies[i].line,
				     "policy '%s' is in learn mode but the config sets no 'learn_dir'",
				     cfg->policies[i].name);
			print_error(&err);
			return -EINVAL;
		}
	}
	return 0;
}

/* --check: a warning per family a policy decides in part. */
static void gap_cb(void *ctx, const family_t *f, const char *decided, const char *open)
{
	const config_policy_t *pc = ctx;

	fprintf(stderr,
		"sysgated: warning: %s: policy '%s' decides %s but not %s, which %s too "
		"(the %s family): they are allowed without a decision\n",
		pc->file, pc->name, decided, open, f->effect, f->name);
}

static void check_families(const sgd_t *d, const sg_config_t *cfg)
{
	for (size_t i = 0; i < d->npolicies; i++)
		family_check(d->policies[i], gap_cb, (void *)&cfg->policies[i]);
}

static void free_policies(sgd_t *d)
{
	for (size_t i = 0; i < d->npolicies; i++)
		policy_free(d->policies[i]);
	free(d->policies);
	d->policies = NULL;
	d->npolicies = 0;
}

static void stop(sgd_t *d, int signum)
{
	if (d->stopping)
		return;
	d->stopping = true;
	if (signum == 0)
		log_supervisor("supervisor_stop", "handed over by a takeover; %llu log line(s) lost",
			       (unsigned long long)log_write_failures());
	else
		log_supervisor("supervisor_stop",
			       "stopping on %s; closing %zu target(s); %llu log line(s) lost",
			       sigabbrev_np(signum) ? sigabbrev_np(signum) : "signal", d->ntargets,
			       (unsigned long long)log_write_failures());
	takeover_stop(d);
	accept_stop(d);
	broker_stop();
	target_close_all(d);
	log_report_suppressed(d);
	uv_close((uv_handle_t *)&d->log_report, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sigusr1, NULL);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	stop(h->data, signum);
}

static void log_report_cb(uv_timer_t *h)
{
	log_report_suppressed(h->data);
}

static void snapshot_cb(uv_signal_t *h, int signum)
{
	target_learn_snapshot_request(h->data);
}

/*
 * The old supervisor serves its metrics port until it exits, a moment
 * after it handed over: the new one binds it once it is free. Targets are
 * served meanwhile, so a port that stays taken is reported, not fatal.
 */
static void metrics_after_takeover(sgd_t *d)
{
	sg_error_t err = { 0 };
	int r = -EADDRINUSE;

	for (int i = 0; i < 300 && r == -EADDRINUSE; i++) {
		struct timespec ts = { 0, 10000000L };

		if (i)
			nanosleep(&ts, NULL);
		memset(&err, 0, sizeof(err));
		r = metrics_start(d->cfg, &err);
	}
	if (r < 0) {
		print_error(&err);
		log_supervisor("error", "no metrics endpoint after the takeover: %s", err.msg);
	}
}

/* The sockets and targets: taken over, or a new socket. */
static int listen_or_take_over(sgd_t *d, bool takeover)
{
	sg_error_t err = { 0 };
	int r;

	if (!takeover) {
		/* Metrics before the socket: a port taken by someone else stops
		 * the start before any program is accepted. */
		r = metrics_start(d->cfg, &err);
		if (r == 0)
			r = accept_start(d, &err);
		if (r == 0)
			r = takeover_listen(d, -1, &err);
	} else {
		r = takeover_receive(d, &err);
		/* A refused takeover leaves handles to close: run them out. */
		if (r < 0)
			uv_run(d->loop, UV_RUN_NOWAIT);
	}
	if (r < 0)
		print_error(&err);
	else if (takeover)
		metrics_after_takeover(d);
	return r;
}

static int serve(sgd_t *d, bool takeover)
{
	int r;

	r = receive_init(d);
	if (r < 0) {
		fprintf(stderr, "sysgated: seccomp user notification is not available: %s\n",
			strerror(-r));
		return r;
	}
	r = broker_start(d);
	if (r < 0) {
		fprintf(stderr, "sysgated: cannot read its own identity for brokered opens: %s\n",
			strerror(-r));
		return r;
	}
	r = receive_watchdog_start(d);
	if (r < 0) {
		fprintf(stderr, "sysgated: cannot start the receive watchdog: %s\n", strerror(-r));
		return r;
	}
	r = listen_or_take_over(d, takeover);
	if (r < 0)
		return r;
	uv_timer_init(d->loop, &d->log_report);
	d->log_report.data = d;
	uv_timer_start(&d->log_report, log_report_cb, d->cfg->log_limits.report_ms,
		       d->cfg->log_limits.report_ms);
	uv_signal_init(d->loop, &d->sigterm);
	uv_signal_init(d->loop, &d->sigint);
	d->sigterm.data = d->sigint.data = d;
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_init(d->loop, &d->sigusr1);
	d->sigusr1.data = d;
	uv_signal_start(&d->sigusr1, snapshot_cb, SIGUSR1);
	log_supervisor("supervisor_start", "sysgated %s listening on %s with %zu polic%s%s%s%s%s",
		       SYSGATE_VERSION, d->cfg->socket, d->npolicies, d->npolicies == 1 ? "y" : "ies",
		       !d->cfg->metrics_addrlen ? ""
		       : d->cfg->metrics_listen[0] == '/' ? "; metrics on the unix socket "
							  : "; metrics at http://",
		       d->cfg->metrics_listen,
		       d->cfg->metrics_addrlen && d->cfg->metrics_listen[0] != '/' ? "/metrics" : "",
		       takeover ? "; taken over, serving its targets" : "");
	uv_run(d->loop, UV_RUN_DEFAULT);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "takeover", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *path = NULL;
	bool check = false, takeover = false;
	sg_error_t err = { 0 };
	sg_config_t cfg;
	sgd_t *d;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check = true; break;
		case 't': takeover = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sysgated %s\n", SYSGATE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc || (check && takeover)) {
		fprintf(stderr, "sysgated: %s\n",
			!path ? "missing -c FILE" : optind != argc ? "unexpected argument"
							     : "--check and --takeover exclude each other");
		usage(stderr);
		return 2;
	}
	/* Not dumpable: a process of sysgated's uid that holds no more
	 * capabilities than it (a target, when sysgated runs as that target's
	 * uid) could otherwise ptrace it, open its /proc/<pid>/mem or take
	 * its fds (every target's listener) with pidfd_getfd. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "sysgated: prctl(PR_SET_DUMPABLE): %s\n", strerror(errno));
		return 1;
	}
	/* A log reader that goes away must not kill the supervisor. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	if (config_load(path, &cfg, &err) < 0) {
		print_error(&err);
		return 1;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		config_free(&cfg);
		return 1;
	}
	d->cfg = &cfg;
	d->tenants = tenants_new(&cfg.tenants);
	if (!d->tenants) {
		free(d);
		config_free(&cfg);
		return 1;
	}
	d->listen_fd = -1;
	d->ctl_fd = -1;
	d->stop_cb = stop;
	r = load_policies(d, &cfg);
	if (r == 0 && check) {
		check_families(d, &cfg);
		printf("%s: ok, %zu polic%s\n", path, d->npolicies, d->npolicies == 1 ? "y" : "ies");
	} else if (r == 0) {
		log_set_limits(&cfg.log_limits);
		r = log_open(cfg.log, &err);
		if (r < 0)
			print_error(&err);
		else {
			d->loop = uv_default_loop();
			r = serve(d, takeover);
			metrics_stop();
			uv_loop_close(d->loop);
			log_close();
		}
	}
	receive_watchdog_stop(d);
	broker_free();
	receive_fini(d);
	free_policies(d);
	tenants_free(d->tenants);
	free(d);
	config_free(&cfg);
	return r < 0 ? 1 : 0;
}
