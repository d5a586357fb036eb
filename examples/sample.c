/*
 * sysgate-sample: the program the README's demo runs under sysgated. It
 * does a few ordinary things a function might do, and a few it should
 * not, and prints what came of each, so the user can read the program's
 * side and the supervisor's decision log side by side.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, int r)
{
	if (r < 0)
		printf("  %-44s -> failed: %s\n", what, strerror(errno));
	else
		printf("  %-44s -> ok\n", what);
}

static int try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

static int try_exec(const char *path)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static int try_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	/* Nothing listens on port 9: refused is the expected, allowed outcome. */
	return r < 0 && errno != ECONNREFUSED ? -1 : 0;
}

int main(void)
{
	printf("sysgate-sample (pid %d):\n", (int)getpid());
	show("read /etc/hostname", try_open("/etc/hostname", O_RDONLY));
	show("read /etc/shadow", try_open("/etc/shadow", O_RDONLY));
	show("write /etc/sysgate-sample.conf", try_open("/etc/sysgate-sample.conf", O_WRONLY | O_CREAT));
	show("write /tmp/sysgate-sample.txt", try_open("/tmp/sysgate-sample.txt", O_WRONLY | O_CREAT));
	show("run /bin/true", try_exec("/bin/true"));
	show("connect to 127.0.0.1:9", try_connect());
	show("mkdir /tmp/sysgate-sample.d (emulated)", mkdir("/tmp/sysgate-sample.d", 0755));
	return 0;
}
