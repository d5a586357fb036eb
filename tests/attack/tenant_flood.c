/*
 * tenant_flood: a hostile tenant. Becomes UID (an allowed launcher that is
 * not root) and starts N targets of POLICY at once, each sysgate-run with
 * every label at its longest, running PROGRAM ARGS... (a program that
 * waits on its stdin). Prints "flood started S refused R" once each
 * sysgate-run either has its program running (the program printed a line)
 * or has exited; then holds them all until its own stdin has a line or
 * ends, lets them go and exits.
 *
 *   tenant_flood UID N MODE SYSGATE_RUN SOCKET POLICY PROGRAM [ARG]...
 *
 * MODE: "-" for the policy's own, else sysgate-run --mode MODE.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_N 512
#define NLABELS 32
#define BATCH 16

static char label_args[NLABELS][8 + 64 + 192];

int main(int argc, char **argv)
{
	static pid_t kids[MAX_N];
	const char *av[2 * NLABELS + 64];
	int hold[2], out[2], n, started = 0, ended = 0, refused = 0;
	uid_t uid;
	char buf[4096], line[16];
	size_t ac = 0;

	if (argc < 8) {
		fprintf(stderr, "usage: tenant_flood UID N MODE SYSGATE_RUN SOCKET POLICY PROGRAM [ARG]...\n");
		return 2;
	}
	uid = (uid_t)atoi(argv[1]);
	n = atoi(argv[2]);
	if (n < 1 || n > MAX_N || argc - 7 > 16)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) {
		perror("tenant_flood: become the tenant");
		return 2;
	}
	if (pipe(hold) < 0 || pipe(out) < 0)
		return 2;

	av[ac++] = argv[4];
	av[ac++] = "-s";
	av[ac++] = argv[5];
	av[ac++] = "-p";
	av[ac++] = argv[6];
	if (strcmp(argv[3], "-") != 0) {
		av[ac++] = "--mode";
		av[ac++] = argv[3];
	}
	/* The longest labels HELLO carries: what each target costs at most. */
	for (int i = 0; i < NLABELS; i++) {
		int len = snprintf(label_args[i], sizeof(label_args[i]), "k%02d", i);

		memset(label_args[i] + len, 'k', 63 - (size_t)len);
		label_args[i][63] = '=';
		memset(label_args[i] + 64, 'v', 191);
		label_args[i][64 + 191] = '\0';
		av[ac++] = "-l";
		av[ac++] = label_args[i];
	}
	av[ac++] = "--";
	for (int i = 7; i < argc; i++)
		av[ac++] = argv[i];
	av[ac] = NULL;

	/* At most BATCH handshakes at once: the supervisor serves 64, and
	 * this flood is about what is held, not about the handshakes. Every
	 * sysgate-run either runs its program (a line on out) or exits;
	 * bounded: two minutes at the most. */
	for (int i = 0, round = 0; (i < n || started + ended < n) && round < 1200; round++) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		int status;
		pid_t w;

		while (i < n && i - started - ended < BATCH) {
			kids[i] = fork();
			if (kids[i] < 0) {
				perror("tenant_flood: fork");
				return 2;
			}
			if (kids[i] == 0) {
				if (dup2(hold[0], 0) < 0 || dup2(out[1], 1) < 0)
					_exit(2);
				close(hold[0]);
				close(hold[1]);
				close(out[0]);
				close(out[1]);
				execv(av[0], (char *const *)av);
				_exit(127);
			}
			i++;
		}
		if (poll(&p, 1, 100) > 0) {
			ssize_t r = read(out[0], buf, sizeof(buf));

			for (ssize_t k = 0; k < r; k++)
				started += buf[k] == '\n';
		}
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			ended++;
			refused += WIFEXITED(status) && WEXITSTATUS(status) == 125;
		}
	}
	printf("flood started %d refused %d\n", started, refused);
	fflush(stdout);

	(void)!read(0, line, sizeof(line));
	close(hold[1]);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
