/*
 * libFuzzer target: the config loader (supervisor/config.c). Each input is
 * written as the config file of a private directory (0700, made by
 * mkdtemp, owned by the user running the fuzzer, so the loader's ownership
 * and permission checks pass) that also holds the policy files and the
 * learn_dir the example config names, and then loaded. A config that
 * loads must keep the promises the loader makes: a socket nobody else can
 * use, no fallback that allows.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/sg-fuzz-config-XXXXXX";
static char conf[sizeof(dir) + 32];
static const char *const policies[] = { "demo.lua", "function-host.lua", "audit.lua", "p.lua" };

static void path_in(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", dir, rel);
}

static void write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) < 0)
		abort();
}

static void cleanup(void)
{
	char p[sizeof(dir) + 64];

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		snprintf(p, sizeof(p), "%s/policies/%s", dir, policies[i]);
		unlink(p);
		path_in(p, sizeof(p), policies[i]);
		unlink(p);
	}
	path_in(p, sizeof(p), "policies");
	rmdir(p);
	path_in(p, sizeof(p), "learned");
	rmdir(p);
	unlink(conf);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char pol[] = "return sysgate.policy{}\n";
	char p[sizeof(dir) + 64];

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	path_in(conf, sizeof(conf), "sysgate.conf");
	path_in(p, sizeof(p), "policies");
	if (mkdir(p, 0700) < 0)
		abort();
	path_in(p, sizeof(p), "learned");
	if (mkdir(p, 0700) < 0)
		abort();
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		snprintf(p, sizeof(p), "%s/policies/%s", dir, policies[i]);
		write_file(p, pol, sizeof(pol) - 1);
		path_in(p, sizeof(p), policies[i]);
		write_file(p, pol, sizeof(pol) - 1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sg_config_t c;
	sg_error_t err = { 0 };

	write_file(conf, data, size);
	if (config_load(conf, &c, &err) < 0) {
		if (!err.msg[0])
			abort(); /* every failure says why */
		if (getenv("SG_FUZZ_DEBUG"))
			fprintf(stderr, "config: %s:%d: %s\n", err.file, err.line, err.msg);
		return 0;
	}
	if ((c.socket_mode & 0007) || c.fallback.kind == VERDICT_ALLOW || c.npolicies == 0 ||
	    c.socket[0] != '/')
		abort();
	for (size_t i = 0; i < c.npolicies; i++)
		if (c.policies[i].fallback.kind == VERDICT_ALLOW || !c.policies[i].name[0])
			abort();
	config_free(&c);
	return 0;
}
