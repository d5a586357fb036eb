/*
 * The read watchdog (readwatch.h): the loop's side is two stores around
 * each read; the rest runs on the watchdog's thread, which may be slow
 * and may block only on what it reads itself (/proc/<pid>/maps, a
 * fusectl file), never on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "readwatch.h"

#define FUSECTL_DIR "/sys/fs/fuse/connections"
#define FUSECTL_SUPER_MAGIC 0x65735543
#define STALL_NS ((uint64_t)READWATCH_STALL_MS * 1000000u)

/* Shared by every loop's watchdog (readwatch_stats). */
static _Atomic uint64_t acted_total[READWATCH_NOUTCOMES];
static _Atomic uint64_t returned_total;

static bool is_fusectl(int fd)
{
	struct statfs st;

	return fstatfs(fd, &st) == 0 && st.f_type == FUSECTL_SUPER_MAGIC;
}

int readwatch_fusectl_open(char *why, size_t why_len)
{
	int fd = open(FUSECTL_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && is_fusectl(fd))
		return fd;
	if (fd >= 0)
		close(fd);
	/* Most systems mount it at boot; where none did, it is mounted here
	 * as systemd would (nothing in it is writable but by root). */
	if (mount("fusectl", FUSECTL_DIR, "fusectl", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		snprintf(why, why_len, "fusectl is not mounted on %s and cannot be: %s", FUSECTL_DIR,
			 strerror(errno));
		return -1;
	}
	fd = open(FUSECTL_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && is_fusectl(fd))
		return fd;
	if (fd >= 0)
		close(fd);
	snprintf(why, why_len, "fusectl mounted on %s cannot be opened", FUSECTL_DIR);
	return -1;
}

bool readwatch_end(readwatch_t *w, uint64_t since, uint64_t now, readwatch_stall_t *out)
{
	atomic_store_explicit(&w->since_ns, 0, memory_order_relaxed);
	if (now - since < STALL_NS)
		return false;
	out->waited_ns = now - since;
	out->outcome = READWATCH_NONE;
	out->dev = 0;
	if (atomic_load_explicit(&w->stall_since, memory_order_acquire) == since) {
		out->outcome = atomic_load_explicit(&w->outcome, memory_order_relaxed);
		out->dev = atomic_load_explicit(&w->dev, memory_order_relaxed);
		atomic_fetch_add_explicit(&returned_total, 1, memory_order_relaxed);
	}
	return true;
}

/* One line of /proc/<pid>/maps: true when its range holds addr (*dev
 * set from its major:minor). */
static bool maps_line(const char *line, uint64_t addr, uint32_t *dev)
{
	uint64_t start, end;
	unsigned long maj, min;
	char *p;

	/* "start-end perms offset major:minor inode path", in hex but inode */
	start = strtoull(line, &p, 16);
	if (*p != '-')
		return false;
	end = strtoull(p + 1, &p, 16);
	if (*p != ' ' || addr < start || addr >= end)
		return false;
	for (int field = 0; field < 2; field++) { /* perms, offset */
		p = strchr(p + 1, ' ');
		if (!p)
			return false;
	}
	maj = strtoul(p + 1, &p, 16);
	if (*p != ':')
		return false;
	min = strtoul(p + 1, &p, 16);
	if (*p != ' ' || maj > 0xfff || min > 0xfffff)
		return false;
	*dev = (uint32_t)(maj << 20 | min); /* the kernel's dev_t, as fusectl names it */
	return true;
}

/* The device of the mapping that holds addr in pid's memory. Only the
 * start of each line is parsed: the rest is a path the target chose
 * (its newlines are escaped by the kernel), and a line longer than the
 * buffer is skipped past its head. */
static int maps_dev(pid_t pid, uint64_t addr, uint32_t *dev)
{
	char path[64], buf[8192];
	size_t have = 0;
	bool tail = false; /* inside a line whose head was parsed already */
	int fd, r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *p = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL) {
			*nl = '\0';
			if (!tail && maps_line(p, addr, dev)) {
				r = 0;
				goto out;
			}
			tail = false;
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		if (have == sizeof(buf) - 1) {
			if (!tail && maps_line(buf, addr, dev)) {
				r = 0;
				goto out;
			}
			tail = true;
			have = 0;
		} else {
			memmove(buf, p, have);
		}
	}
out:
	close(fd);
	return r;
}

/* What the watchdog did about the read that started at since. */
static void publish(readwatch_t *w, uint64_t since, readwatch_outcome_t o, uint32_t dev)
{
	atomic_store_explicit(&w->outcome, (int)o, memory_order_relaxed);
	atomic_store_explicit(&w->dev, dev, memory_order_relaxed);
	atomic_store_explicit(&w->stall_since, since, memory_order_release);
}

/* Aborts the FUSE connection of dev, if there is one; what came of it. */
static readwatch_outcome_t abort_fuse(readwatch_t *w, uint64_t since, int fusectl, uint32_t dev)
{
	readwatch_outcome_t o = READWATCH_ABORTED;
	char name[32];
	int fd;

	if (fusectl < 0) {
		publish(w, since, READWATCH_NO_FUSECTL, dev);
		return READWATCH_NO_FUSECTL;
	}
	snprintf(name, sizeof(name), "%u/abort", dev);
	fd = openat(fusectl, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		o = errno == ENOENT ? READWATCH_NOT_FUSE : READWATCH_ABORT_FAILED;
		publish(w, since, o, dev);
		return o;
	}
	/* Published first: the read returns as soon as the abort takes. */
	publish(w, since, READWATCH_ABORTED, dev);
	if (write(fd, "1", 1) != 1) {
		o = READWATCH_ABORT_FAILED;
		publish(w, since, o, dev);
	}
	close(fd);
	return o;
}

void readwatch_check(readwatch_t *w, int fusectl, uint64_t now)
{
	uint64_t since = atomic_load_explicit(&w->since_ns, memory_order_acquire);
	readwatch_outcome_t o;
	uint32_t dev = 0;
	uint64_t addr;
	pid_t pid;

	if (since == 0 || since == w->handled || now < since || now - since < STALL_NS)
		return;
	pid = atomic_load_explicit(&w->pid, memory_order_relaxed);
	addr = atomic_load_explicit(&w->addr, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	/* The fields are that read's only if it is still the one going on. */
	if (atomic_load_explicit(&w->since_ns, memory_order_relaxed) != since)
		return;
	w->handled = since;
	if (maps_dev(pid, addr, &dev) < 0) {
		o = READWATCH_NO_MAPPING;
		publish(w, since, o, 0);
	} else {
		o = abort_fuse(w, since, fusectl, dev);
	}
	atomic_fetch_add_explicit(&acted_total[o], 1, memory_order_relaxed);
}

void readwatch_stats(uint64_t acted[READWATCH_NOUTCOMES], uint64_t *waiting)
{
	uint64_t sum = 0, back = atomic_load_explicit(&returned_total, memory_order_relaxed);

	for (int i = 0; i < READWATCH_NOUTCOMES; i++)
		sum += acted[i] = atomic_load_explicit(&acted_total[i], memory_order_relaxed);
	/* A read the abort ended may be counted back before the watchdog
	 * counts what it did. */
	*waiting = sum > back ? sum - back : 0;
}

const char *readwatch_outcome_name(readwatch_outcome_t o)
{
	switch (o) {
	case READWATCH_ABORTED:
		return "fuse_aborted";
	case READWATCH_NOT_FUSE:
		return "not_fuse";
	case READWATCH_NO_MAPPING:
		return "no_mapping";
	case READWATCH_NO_FUSECTL:
		return "no_fusectl";
	case READWATCH_ABORT_FAILED:
		return "abort_failed";
	case READWATCH_NONE:
	case READWATCH_NOUTCOMES:
		break;
	}
	return "none";
}
