/*
 * own_tracer: a cooperating process outside sysgate, for
 * tests/attack/test_fail_closed.c. It runs PROG ARGS (sysgate-run, which
 * becomes `own_listener traced`) as its child, and once the child asks
 * to be traced (PTRACE_TRACEME and SIGSTOP) it traces its SECCOMP_RET_TRACE
 * stops: a getppid becomes an openat with the same arguments (the
 * kernel runs the filters again on the new call), and an openat it is
 * shown is let run. It says what it saw and exits with the child's status.
 *
 *   own_tracer PROG [ARGS...]
 */
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/* One SECCOMP_RET_TRACE stop of child. */
static void on_seccomp_stop(pid_t child, int *rewrote, int *saw_open)
{
#if defined(__x86_64__)
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, child, NULL, &regs) < 0)
		return;
	if (regs.orig_rax == SYS_getppid) {
		regs.orig_rax = SYS_openat;
		if (ptrace(PTRACE_SETREGS, child, NULL, &regs) == 0)
			(*rewrote)++;
	} else if (regs.orig_rax == SYS_openat) {
		(*saw_open)++;
	}
#else
	(void)child;
	(void)rewrote;
	(void)saw_open;
#endif
}

int main(int argc, char **argv)
{
	int status, rewrote = 0, saw_open = 0, tracing = 0;
	pid_t child;

	if (argc < 2)
		return 2;
	child = fork();
	if (child == 0) {
		execv(argv[1], argv + 1);
		_exit(127);
	}
	while (waitpid(child, &status, 0) == child) {
		int sig = 0;

		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
			on_seccomp_stop(child, &rewrote, &saw_open);
		} else if (!tracing && WSTOPSIG(status) == SIGSTOP) {
			tracing = 1;
			ptrace(PTRACE_SETOPTIONS, child, NULL,
			       (void *)(long)(PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL));
			printf("tracer: tracing\n");
			fflush(stdout);
		} else {
			sig = WSTOPSIG(status);
		}
		ptrace(PTRACE_CONT, child, NULL, (void *)(long)sig);
	}
	printf("tracer: rewrote %d, saw openat %d\n", rewrote, saw_open);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
