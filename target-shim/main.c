/*
 * main.c: sysgate-run, run a command under a sysgate policy.
 *
 * Resolves the command, asks sysgated for the policy (sg_shim_connect),
 * loads the filter and hands the listener over (sg_shim_enter), then
 * execs the command in its own pid, so sysgate-run behaves like exec for
 * whoever started it. The command is never run unfiltered: every failure
 * before the exec ends sysgate-run with 125.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysgate/sysgate.h"

#define PROG "sysgate-run"
#define EXIT_FAILED 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

extern char **environ;

typedef struct run_args {
	sg_shim_opts_t opts;
	const char *labels[SG_PROTO_MAX_LABELS];
	char **command; /* NULL-terminated, argv[0] as given */
} run_args_t;

static void usage(FILE *f)
{
	fputs("Usage: " PROG " [OPTION]... [--] COMMAND [ARG]...\n"
	      "Run COMMAND under a sysgate policy decided by the sysgated supervisor.\n"
	      "\n"
	      "  -p, --policy NAME        policy to run COMMAND under (required)\n"
	      "  -s, --socket PATH        supervisor socket (default: $" SG_SOCKET_ENV ", else "
	      SG_DEFAULT_SOCKET ")\n"
	      "  -l, --label KEY=VALUE    label the target; repeatable (up to 32)\n"
	      "  -m, --mode MODE          enforce, audit or learn instead of the policy's own\n"
	      "                           mode; the supervisor refuses unless its config\n"
	      "                           allows MODE for the policy\n"
	      "  -t, --timeout MS         how long to wait for each answer of the supervisor"
	      " (default 10000)\n"
	      "  -u, --supervisor-uid UID the uid the supervisor must run as (default 0);\n"
	      "                           a socket served by anyone else is refused\n"
	      "      --server-may-be-filtered  accept a supervisor that runs under a seccomp\n"
	      "                           filter (a container's profile); a target of its\n"
	      "                           uid could then serve the socket\n"
	      "  -h, --help               show this help and exit\n"
	      "  -V, --version            show the version and exit\n"
	      "\n"
	      "Exit status: COMMAND's own; 125 if " PROG " itself failed (COMMAND was not run);\n"
	      "126 if COMMAND was found but could not be executed; 127 if COMMAND was not found.\n",
	      f);
}

static _Noreturn void die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s\nTry '" PROG " --help' for more information.\n",
		msg, arg ? ": " : "", arg ? arg : "");
	exit(EXIT_FAILED);
}

static int parse_timeout(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > INT_MAX)
		die_usage("invalid timeout (milliseconds, at least 1)", s);
	return (int)v;
}

static uid_t parse_uid(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	/* cppcheck-suppress knownConditionTrueFalse ; wrong: v (unsigned long) may be above or below (uid_t)-1 */
	if (errno || end == s || *end || *s == '-' || v >= (uid_t)-1)
		die_usage("invalid uid", s);
	return (uid_t)v;
}

static void parse_args(int argc, char **argv, run_args_t *a)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'l' },
		{ "mode", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "supervisor-uid", required_argument, NULL, 'u' },
		{ "server-may-be-filtered", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+p:s:l:m:t:u:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': a->opts.policy = optarg; break;
		case 's': a->opts.socket_path = optarg; break;
		case 'l':
			if (a->opts.nlabels == SG_PROTO_MAX_LABELS)
				die_usage("too many labels (at most 32)", NULL);
			a->labels[a->opts.nlabels++] = optarg;
			break;
		case 'm':
			if (sg_proto_parse_mode(optarg) < 0)
				die_usage("invalid mode (enforce, audit or learn)", optarg);
			a->opts.mode = optarg;
			break;
		case 't': a->opts.timeout_ms = parse_timeout(optarg); break;
		case 'u': a->opts.supervisor_uid = parse_uid(optarg); break;
		case 'F': a->opts.server_may_be_filtered = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf(PROG " (sysgate) %s\n", SYSGATE_VERSION); exit(0);
		default: die_usage("invalid arguments", NULL);
		}
	}
	if (!a->opts.policy)
		die_usage("missing --policy", NULL);
	if (optind >= argc)
		die_usage("missing COMMAND", NULL);
	a->command = argv + optind;
}

/* 0 if path is an executable regular file, else the exit status it earns
 * with the reason in *why. */
static int check_exec(const char *path, const char **why)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		*why = strerror(errno);
		return errno == ENOENT || errno == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	}
	if (S_ISDIR(st.st_mode)) {
		*why = strerror(EISDIR);
		return EXIT_CANNOT_EXEC;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
		*why = strerror(EACCES);
		return EXIT_CANNOT_EXEC;
	}
	return 0;
}

/* Searches $PATH for the first executable regular file named cmd; a
 * non-executable match is remembered for the exit status (126). */
static int search_path(const char *cmd, char *out, size_t outlen, const char **why)
{
	const char *path = getenv("PATH");
	const char *why1 = "command not found";
	int best = EXIT_NOT_FOUND;

	if (!path || !*path)
		path = DEFAULT_PATH;
	for (const char *p = path;; p++) {
		size_t n = strcspn(p, ":");
		/* An empty element means the current directory. */
		int len = snprintf(out, outlen, "%.*s/%s", (int)n, n ? p : ".", cmd);
		const char *w = NULL;
		int rc = len > 0 && (size_t)len < outlen ? check_exec(out, &w) : EXIT_NOT_FOUND;

		if (rc == 0)
			return 0;
		if (rc < best) {
			best = rc;
			why1 = w;
		}
		p += n;
		if (!*p)
			break;
	}
	*why = why1;
	return best;
}

/*
 * Finds COMMAND the way a shell would: as given when it has a '/', else in
 * $PATH. Returns 0 with out filled, or the exit status to end with
 * (message printed).
 */
static int resolve(const char *cmd, char *out, size_t outlen)
{
	const char *why = "command not found";
	int rc = EXIT_NOT_FOUND;

	if (strchr(cmd, '/')) {
		if (strlen(cmd) < outlen) {
			strcpy(out, cmd);
			rc = check_exec(cmd, &why);
		} else {
			why = strerror(ENAMETOOLONG);
		}
	} else if (*cmd) {
		rc = search_path(cmd, out, outlen, &why);
	}
	if (rc)
		fprintf(stderr, PROG ": %s: %s\n", cmd, why);
	return rc;
}

int main(int argc, char **argv)
{
	run_args_t a = { .opts = { .progname = PROG, .exit_status = EXIT_FAILED } };
	char exe[PATH_MAX];
	char err[1024];
	sg_shim_t *s = NULL;
	int rc;

	parse_args(argc, argv, &a);
	a.opts.labels = a.labels;
	rc = resolve(a.command[0], exe, sizeof exe);
	if (rc)
		return rc;
	if (sg_shim_connect(&a.opts, &s, err, sizeof err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_FAILED;
	}
	if (sg_shim_enter(s, err, sizeof err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		sg_shim_free(s);
		return EXIT_FAILED;
	}
	/* The supervisor socket is close-on-exec; s is not freed so that no
	 * syscall stands between the handoff and the exec. */
	execve(exe, a.command, environ);
	rc = errno;
	fprintf(stderr, PROG ": %s: %s\n", a.command[0], strerror(rc));
	sg_shim_free(s);
	/* Under the filter now: _exit, so that no exit handler (a sanitizer's
	 * leak check, with its own threads and ptrace) runs under a policy
	 * that was written for COMMAND. */
	fflush(stderr);
	_exit(rc == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}
