/*
 * exec-floor: execs its arguments and does nothing else. Linked
 * statically, it is the cheapest program that can stand between a fork
 * and the command: what it costs over running the command directly is the
 * floor of any launcher that is a program of its own, as sysgate-run is.
 */
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	execv(argv[1], argv + 1);
	return 127;
}
