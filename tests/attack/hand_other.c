/*
 * hand_other SOCKET POLICY: a launcher that hands sysgated a listener that
 * is not its own. It connects and says HELLO itself, then a child it
 * forked (another process) loads the SPEC's filter with a listener, passes
 * the listener back over SCM_RIGHTS and makes the proof call itself, as a
 * cheating launcher would; the launcher hands that listener over as its
 * own. Prints "refused: REASON" or "ready ID", and exits 0 once the child
 * is gone.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The constants only: attack programs link nothing of sysgate's, so the
 * few messages are packed and read here (as tests/fuzz/make-seeds.py). */
#include "../../include/sysgate/protocol.h"

static unsigned char buf[SG_PROTO_MAX_MSG];
static struct sock_filter bpf[SG_PROTO_MAX_BPF];
static uint32_t n_bpf;

static size_t header(unsigned char *p, uint16_t type, size_t len)
{
	sg_msg_header_t h = { SG_PROTO_MAGIC, SG_PROTO_VERSION, type, (uint32_t)len, 0 };

	memcpy(p, &h, sizeof(h));
	return len;
}

static uint32_t u32_at(const unsigned char *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* SPEC: its program (the lists before it are skipped). */
static int read_spec(const unsigned char *p, size_t n)
{
	size_t off = 16 + 32;

	if (n < off)
		return -1;
	off += 4 * (size_t)u32_at(p, 16 + 12) + 8 * (size_t)u32_at(p, 16 + 16) +
	       4 * (size_t)u32_at(p, 16 + 20) + 4 * (size_t)u32_at(p, 16 + 24);
	n_bpf = u32_at(p, 16 + 28);
	if (n_bpf == 0 || n_bpf > SG_PROTO_MAX_BPF || off + 8 * (size_t)n_bpf != n)
		return -1;
	memcpy(bpf, p + off, 8 * (size_t)n_bpf); /* code u16, jt u8, jf u8, k u32 */
	return 0;
}

/* Sends one packet with fd attached when fd >= 0. */
static int send_fd(int sock, const void *p, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)p, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Receives one packet; *fd the fd that came with it, else -1. */
static ssize_t recv_fd(int sock, void *p, size_t cap, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { p, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

	*fd = -1;
	c = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

/* The other process: under the policy's filter, its listener passed back. */
static _Noreturn void other(int sp)
{
	struct sock_fprog prog = { (unsigned short)n_bpf, bpf };
	char c;
	long fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(20);
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0 || send_fd(sp, "L", 1, (int)fd) < 0)
		_exit(21);
	close((int)fd);
	/* The proof call, from the wrong process: waits until sysgated
	 * answers it or drops the listener. */
	syscall(SYS_prctl, SG_PROTO_PROOF_OPTION, 0, 0, 0, 0);
	while (read(sp, &c, 1) > 0)
		;
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, sp[2], fd;
	size_t plen;
	ssize_t n;
	pid_t pid;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path) || strlen(argv[2]) > SG_PROTO_MAX_NAME)
		return 2;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 3;
	/* HELLO: name length, no labels, the policy's own mode, the name. */
	plen = strlen(argv[2]);
	memset(buf, 0, 24);
	buf[16] = (unsigned char)plen;
	memcpy(buf + 24, argv[2], plen);
	if (send_fd(s, buf, header(buf, SG_MSG_HELLO, 24 + plen), -1) < 0)
		return 4;
	n = recv_fd(s, buf, sizeof(buf), &fd);
	if (n <= 16 || buf[6] != SG_MSG_SPEC || read_spec(buf, (size_t)n) < 0)
		return 5;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return 6;
	pid = fork();
	if (pid < 0)
		return 7;
	if (pid == 0) {
		close(sp[0]);
		close(s);
		other(sp[1]);
	}
	close(sp[1]);
	if (recv_fd(sp[0], buf, sizeof(buf), &fd) != 1 || fd < 0)
		return 8;
	memset(buf, 0, 24);
	if (send_fd(s, buf, header(buf, SG_MSG_LISTENER, 24), fd) < 0)
		return 9;
	close(fd);
	n = recv_fd(s, buf, sizeof(buf), &fd);
	if (n > 24 && buf[6] == SG_MSG_REFUSE)
		printf("refused: %.*s\n", (int)(n - 24), (const char *)buf + 24);
	else if (n == 24 && buf[6] == SG_MSG_READY)
		printf("ready\n");
	else
		printf("no answer (%zd)\n", n);
	fflush(stdout);
	close(s);
	close(sp[0]);
	waitpid(pid, NULL, 0);
	return 0;
}
