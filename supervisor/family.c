/*
 * The syscall families a policy must decide together, as data, and the
 * check of a loaded policy against them (policy.c says, per syscall,
 * whether the policy decides it; names.c knows the numbers).
 */
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "names.h"

/* The member that stands for a whole family's calls made by an io_uring. */
#define FAMILY_RING "io_uring_setup"

/*
 * Each row: calls a program can use in place of one another to reach the
 * effect. clone3 and unshare belong with clone because each makes new
 * namespaces (CLONE_NEWUSER above all); sendto and sendmsg with connect
 * because each names a peer address. io_uring_setup stands in every
 * family whose calls an io_uring can make (IORING_OP_OPENAT, OPENAT2,
 * CONNECT, SENDMSG, RENAMEAT, UNLINKAT, MKDIRAT, SYMLINKAT, LINKAT): the
 * ring's operations never pass through seccomp, so a policy that
 * decides those calls and leaves io_uring open decides nothing.
 */
static const family_t families[] = {
	{ "open", "open files",
	  { "open", "openat", "openat2", "creat", "open_by_handle_at", "io_uring_setup", NULL } },
	{ "exec", "execute programs", { "execve", "execveat", NULL } },
	{ "mount", "change mounts",
	  { "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
	    "move_mount", "open_tree", "mount_setattr", NULL } },
	{ "clone", "make new namespaces", { "clone", "clone3", "unshare", NULL } },
	{ "connect", "name a peer address", { "connect", "sendto", "sendmsg", "io_uring_setup", NULL } },
	{ "rename", "rename files", { "rename", "renameat", "renameat2", "io_uring_setup", NULL } },
	{ "link", "make hard links", { "link", "linkat", "io_uring_setup", NULL } },
	{ "symlink", "make symlinks", { "symlink", "symlinkat", "io_uring_setup", NULL } },
	{ "unlink", "remove names", { "unlink", "unlinkat", "rmdir", "io_uring_setup", NULL } },
	{ "mkdir", "make directories", { "mkdir", "mkdirat", "io_uring_setup", NULL } },
	{ "mknod", "make device and special files", { "mknod", "mknodat", NULL } },
	{ "chmod", "change file modes", { "chmod", "fchmod", "fchmodat", "fchmodat2", NULL } },
	{ "chown", "change file owners", { "chown", "lchown", "fchown", "fchownat", NULL } },
	{ "kill", "send signals",
	  { "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	    "pidfd_send_signal", NULL } },
};

const family_t *family_table(size_t *n)
{
	*n = sizeof(families) / sizeof(families[0]);
	return families;
}

/* Appends name to the comma-separated list in buf (len bytes). */
static void list_add(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

int family_check(const policy_t *p, family_gap_cb gap, void *ctx)
{
	size_t n;
	const family_t *t = family_table(&n);
	int gaps = 0;

	for (size_t i = 0; i < n; i++) {
		char decided[FAMILY_LIST_LEN] = "", open[FAMILY_LIST_LEN] = "";

		for (const char *const *m = t[i].members; *m; m++) {
			int nr = names_syscall(*m);

			if (nr < 0)
				continue;
			if (policy_decides(p, nr)) {
				/* Deciding the ring alone leaves no member open. */
				if (strcmp(*m, FAMILY_RING) != 0)
					list_add(decided, sizeof(decided), *m);
			}
			else if (policy_unchecked(p, nr))
				list_add(open, sizeof(open), *m);
		}
		if (decided[0] && open[0]) {
			gap(ctx, &t[i], decided, open);
			gaps++;
		}
	}
	return gaps;
}
