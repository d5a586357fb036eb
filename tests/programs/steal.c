/*
 * steal: a hostile peer for the integration tests. It hands sysgated a
 * listener the way sysgate-run does, but keeps a copy of the fd and races
 * the supervisor for the notifications of its own filtered thread,
 * answering them itself. When its NOTIF_RECV wins between the supervisor's
 * poll() and the supervisor's NOTIF_RECV, the supervisor's receive has
 * nothing to take and waits for the next notification; the peer then
 * stops answering, so that no next notification comes.
 *
 *   steal SOCKET POLICY SUPERVISOR_PID SECONDS
 *
 * Prints "caught" once it saw the supervisor waiting in NOTIF_RECV for
 * 20 ms and went quiet (it then holds the listener for 2 s more), or
 * "no race won" after SECONDS.
 */
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "sysgate/protocol.h"

static _Atomic int listener = -1;

static void *filtered(void *arg)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	(void)arg;
	seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0);
	seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(prctl), 1,
			 SCMP_A0_32(SCMP_CMP_EQ, SG_PROTO_PROOF_OPTION));
	prctl(PR_SET_NO_NEW_PRIVS, 1);
	atomic_store(&listener, seccomp_load(ctx) == 0 ? seccomp_notify_fd(ctx) : -2);
	/* The proof that the listener is this process's (protocol.h). */
	syscall(SYS_prctl, SG_PROTO_PROOF_OPTION, 0, 0, 0, 0);
	for (;;)
		syscall(SYS_getppid);
	return NULL;
}

/* True when pid sits in ioctl(NOTIF_RECV) for 20 ms in a row. */
static int in_recv(int pid)
{
	char path[64], line[256];
	char want[32];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	snprintf(want, sizeof(want), "0x%lx", (unsigned long)SECCOMP_IOCTL_NOTIF_RECV);
	for (int k = 0; k < 20; k++) {
		FILE *f = fopen(path, "r");

		if (!f)
			return 0;
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		if (strncmp(line, "16 ", 3) != 0 || !strstr(line, want))
			return 0;
		usleep(1000);
	}
	return 1;
}

int main(int argc, char **argv)
{
	static unsigned char buf[SG_PROTO_MAX_MSG];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	int s, fd, sgd;
	sg_hello_t h;
	pthread_t t;
	time_t end;
	ssize_t n;

	if (argc != 5 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	sgd = atoi(argv[3]);
	end = time(NULL) + atoi(argv[4]);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	memset(&h, 0, sizeof(h));
	snprintf(h.policy, sizeof(h.policy), "%s", argv[2]);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 3;
	n = sg_proto_encode_hello(&h, buf, sizeof(buf));
	if (sg_proto_send(s, buf, (size_t)n, -1) < 0 || sg_proto_recv(s, buf, sizeof(buf), NULL, NULL) <= 0)
		return 4;
	pthread_create(&t, NULL, filtered, NULL);
	while ((fd = atomic_load(&listener)) == -1)
		;
	if (fd < 0)
		return 5;
	n = sg_proto_encode_listener(buf, sizeof(buf));
	if (sg_proto_send(s, buf, (size_t)n, fd) < 0 || sg_proto_recv(s, buf, sizeof(buf), NULL, NULL) <= 0)
		return 6;
	while (time(NULL) < end) {
		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue;
		if (in_recv(sgd)) {
			/* Won: the supervisor waits for a notification that, with
			 * this one unanswered, never comes. */
			printf("caught\n");
			fflush(stdout);
			sleep(2);
			_exit(0);
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	printf("no race won\n");
	fflush(stdout);
	/* _exit: no exit handler may make calls the filter forwards. */
	_exit(0);
}
