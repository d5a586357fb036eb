/*
 * storm: a target program for the rate-limit tests. It prints one line of
 * counts and never decides anything itself.
 *
 *   storm fork N        forks N children one after the other, each of
 *                       which execs /bin/true (exit 0), or exits 99 when
 *                       the execve fails with EAGAIN (98 with another
 *                       errno); then waits for them all and prints
 *                       "fork ok A eagain B other C exec ok D eagain E other F"
 *   storm restart N US  with a SIGALRM handler installed with SA_RESTART
 *                       and an interval timer firing every US
 *                       microseconds, makes N getppid() calls and prints
 *                       "calls ok A failed B signals S"
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t signals;

static int storm_fork(long n)
{
	long fork_ok = 0, fork_eagain = 0, fork_other = 0;
	long exec_ok = 0, exec_eagain = 0, exec_other = 0;
	int status;

	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			char *const argv[] = { "true", NULL };

			execv("/bin/true", argv);
			_exit(errno == EAGAIN ? 99 : 98);
		}
		if (pid > 0)
			fork_ok++;
		else if (errno == EAGAIN)
			fork_eagain++;
		else
			fork_other++;
	}
	while (wait(&status) > 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			exec_ok++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 99)
			exec_eagain++;
		else
			exec_other++;
	}
	printf("fork ok %ld eagain %ld other %ld exec ok %ld eagain %ld other %ld\n", fork_ok,
	       fork_eagain, fork_other, exec_ok, exec_eagain, exec_other);
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
	signals++;
}

static int storm_restart(long n, long us)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, us }, { 0, us } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	long ok = 0, failed = 0;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0)
		return 2;
	for (long i = 0; i < n; i++) {
		if (syscall(SYS_getppid) > 0)
			ok++;
		else
			failed++;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	printf("calls ok %ld failed %ld signals %ld\n", ok, failed, (long)signals);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "fork") == 0)
		return storm_fork(strtol(argv[2], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "restart") == 0)
		return storm_restart(strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	fprintf(stderr, "usage: storm fork N | storm restart N US\n");
	return 2;
}
