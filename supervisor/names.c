/*
 * Names of errnos and of the native arch's syscalls. Syscall names come
 * from libseccomp; the reverse table (number to name) is filled once, at
 * the first lookup, so the per-call path only indexes an array.
 */
#include <errno.h>
#include <linux/audit.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define E(x) { #x, x }
static const struct {
	const char *name;
	int value;
} errnos[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT),
	E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR),
	E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY), E(EFBIG), E(ENOSPC),
	E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK),
	E(ENAMETOOLONG), E(ENOLCK), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG),
	E(EIDRM), E(ECHRNG), E(EL2NSYNC), E(EL3HLT), E(EL3RST), E(ELNRNG),
	E(EUNATCH), E(ENOCSI), E(EL2HLT), E(EBADE), E(EBADR), E(EXFULL), E(ENOANO),
	E(EBADRQC), E(EBADSLT), E(EBFONT), E(ENOSTR), E(ENODATA), E(ETIME),
	E(ENOSR), E(ENONET), E(ENOPKG), E(EREMOTE), E(ENOLINK), E(EADV), E(ESRMNT),
	E(ECOMM), E(EPROTO), E(EMULTIHOP), E(EDOTDOT), E(EBADMSG), E(EOVERFLOW),
	E(ENOTUNIQ), E(EBADFD), E(EREMCHG), E(ELIBACC), E(ELIBBAD), E(ELIBSCN),
	E(ELIBMAX), E(ELIBEXEC), E(EILSEQ), E(ERESTART), E(ESTRPIPE), E(EUSERS),
	E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT),
	E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT),
	E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN),
	E(ENETUNREACH), E(ENETRESET), E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS),
	E(EISCONN), E(ENOTCONN), E(ESHUTDOWN), E(ETOOMANYREFS), E(ETIMEDOUT),
	E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS),
	E(ESTALE), E(EUCLEAN), E(ENOTNAM), E(ENAVAIL), E(EISNAM), E(EREMOTEIO),
	E(EDQUOT), E(ENOMEDIUM), E(EMEDIUMTYPE), E(ECANCELED), E(ENOKEY),
	E(EKEYEXPIRED), E(EKEYREVOKED), E(EKEYREJECTED), E(EOWNERDEAD),
	E(ENOTRECOVERABLE), E(ERFKILL), E(EHWPOISON), E(ENOTSUP), E(EDEADLOCK),
	E(EWOULDBLOCK),
};
#undef E

int names_errno(const char *name)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(errnos[i].name, name) == 0)
			return errnos[i].value;
	return -1;
}

const char *names_errno_name(int err)
{
	/* The table lists the canonical name of each value first. */
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].value == err)
			return errnos[i].name;
	return NULL;
}

static char *syscall_names[NAMES_MAX_NR];
static pthread_once_t syscall_names_once = PTHREAD_ONCE_INIT;

static void syscall_names_fill(void)
{
	for (int nr = 0; nr < NAMES_MAX_NR; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

int names_syscall(const char *name)
{
	int nr;

	if (!name || !*name)
		return -1;
	nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name);
	/* Negative numbers are libseccomp's pseudo syscalls: names of other
	 * arches that this one does not have. */
	if (nr < 0 || nr >= NAMES_MAX_NR)
		return -1;
	return nr;
}

const char *names_syscall_name(int nr)
{
	if (nr < 0 || nr >= NAMES_MAX_NR)
		return NULL;
	pthread_once(&syscall_names_once, syscall_names_fill);
	return syscall_names[nr];
}

uint32_t names_native_arch(void)
{
	return seccomp_arch_native();
}

const char *names_arch_name(uint32_t arch)
{
	switch (arch) {
	case AUDIT_ARCH_X86_64: return "x86_64";
	case AUDIT_ARCH_I386: return "x86";
	case AUDIT_ARCH_AARCH64: return "aarch64";
	case AUDIT_ARCH_ARMEB: case AUDIT_ARCH_ARM: return "arm";
	case AUDIT_ARCH_RISCV64: return "riscv64";
	case AUDIT_ARCH_PPC64LE: return "ppc64le";
	case AUDIT_ARCH_PPC64: return "ppc64";
	case AUDIT_ARCH_S390X: return "s390x";
	default: return "unknown";
	}
}
