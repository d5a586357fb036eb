/*
 * Names of errnos and of the native arch's syscalls. Syscall names come
 * from libseccomp; the reverse table (number to name) is filled once, at
 * the first lookup, so the per-call path only indexes an array.
 */
#include <errno.h>
#include <linux/audit.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
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

const char *names_signal(int sig)
{
	/* sigabbrev_np gives "KILL"; one static name per signal number. */
	static char names[65][24];
	const char *abbrev;

	if (sig <= 0 || sig > 64)
		return NULL;
	if (!names[sig][0]) {
		abbrev = sigabbrev_np(sig);
		if (abbrev)
			snprintf(names[sig], sizeof(names[sig]), "SIG%s", abbrev);
		else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
			snprintf(names[sig], sizeof(names[sig]), "SIGRTMIN+%d", sig - SIGRTMIN);
		else
			return NULL;
	}
	return names[sig];
}

typedef struct name_value {
	unsigned long value;
	const char *name;
} name_value_t;

static const char *lookup(const name_value_t *t, size_t n, unsigned long v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	return NULL;
}

#define LOOKUP(t, v) lookup((t), sizeof(t) / sizeof((t)[0]), (v))

const char *names_family(int family)
{
	static const name_value_t t[] = {
		{ AF_UNIX, "unix" }, { AF_INET, "inet" }, { AF_INET6, "inet6" },
		{ AF_NETLINK, "netlink" }, { AF_PACKET, "packet" }, { AF_KEY, "key" },
		{ AF_BLUETOOTH, "bluetooth" }, { AF_ALG, "alg" }, { AF_VSOCK, "vsock" },
		{ AF_CAN, "can" }, { AF_TIPC, "tipc" }, { AF_XDP, "xdp" }, { AF_UNSPEC, "unspec" },
	};

	return family < 0 ? NULL : LOOKUP(t, (unsigned long)family);
}

const char *names_socktype(int type)
{
	static const name_value_t t[] = {
		{ SOCK_STREAM, "stream" }, { SOCK_DGRAM, "dgram" }, { SOCK_RAW, "raw" },
		{ SOCK_RDM, "rdm" }, { SOCK_SEQPACKET, "seqpacket" }, { SOCK_PACKET, "packet" },
	};

	return LOOKUP(t, (unsigned long)(type & 0xf));
}

const char *names_prctl(unsigned long option)
{
	/* The options of <linux/prctl.h> (ABI numbers). */
	static const name_value_t t[] = {
		{ 1, "PR_SET_PDEATHSIG" }, { 2, "PR_GET_PDEATHSIG" }, { 3, "PR_GET_DUMPABLE" },
		{ 4, "PR_SET_DUMPABLE" }, { 5, "PR_GET_UNALIGN" }, { 6, "PR_SET_UNALIGN" },
		{ 7, "PR_GET_KEEPCAPS" }, { 8, "PR_SET_KEEPCAPS" }, { 9, "PR_GET_FPEMU" },
		{ 10, "PR_SET_FPEMU" }, { 11, "PR_GET_FPEXC" }, { 12, "PR_SET_FPEXC" },
		{ 13, "PR_GET_TIMING" }, { 14, "PR_SET_TIMING" }, { 15, "PR_SET_NAME" },
		{ 16, "PR_GET_NAME" }, { 19, "PR_GET_ENDIAN" }, { 20, "PR_SET_ENDIAN" },
		{ 21, "PR_GET_SECCOMP" }, { 22, "PR_SET_SECCOMP" }, { 23, "PR_CAPBSET_READ" },
		{ 24, "PR_CAPBSET_DROP" }, { 25, "PR_GET_TSC" }, { 26, "PR_SET_TSC" },
		{ 27, "PR_GET_SECUREBITS" }, { 28, "PR_SET_SECUREBITS" }, { 29, "PR_SET_TIMERSLACK" },
		{ 30, "PR_GET_TIMERSLACK" }, { 31, "PR_TASK_PERF_EVENTS_DISABLE" },
		{ 32, "PR_TASK_PERF_EVENTS_ENABLE" }, { 33, "PR_MCE_KILL" }, { 34, "PR_MCE_KILL_GET" },
		{ 35, "PR_SET_MM" }, { 36, "PR_SET_CHILD_SUBREAPER" }, { 37, "PR_GET_CHILD_SUBREAPER" },
		{ 38, "PR_SET_NO_NEW_PRIVS" }, { 39, "PR_GET_NO_NEW_PRIVS" }, { 40, "PR_GET_TID_ADDRESS" },
		{ 41, "PR_SET_THP_DISABLE" }, { 42, "PR_GET_THP_DISABLE" }, { 45, "PR_SET_FP_MODE" },
		{ 46, "PR_GET_FP_MODE" }, { 47, "PR_CAP_AMBIENT" }, { 50, "PR_SVE_SET_VL" },
		{ 51, "PR_SVE_GET_VL" }, { 52, "PR_GET_SPECULATION_CTRL" },
		{ 53, "PR_SET_SPECULATION_CTRL" }, { 54, "PR_PAC_RESET_KEYS" },
		{ 55, "PR_SET_TAGGED_ADDR_CTRL" }, { 56, "PR_GET_TAGGED_ADDR_CTRL" },
		{ 57, "PR_SET_IO_FLUSHER" }, { 58, "PR_GET_IO_FLUSHER" },
		{ 59, "PR_SET_SYSCALL_USER_DISPATCH" }, { 62, "PR_SCHED_CORE" },
		{ 65, "PR_SET_MDWE" }, { 66, "PR_GET_MDWE" }, { 0x53564d41, "PR_SET_VMA" },
	};

	return LOOKUP(t, option);
}

const char *names_ptrace(unsigned long request)
{
	/* The requests of <sys/ptrace.h> on x86_64 (ABI numbers). */
	static const name_value_t t[] = {
		{ 0, "PTRACE_TRACEME" }, { 1, "PTRACE_PEEKTEXT" }, { 2, "PTRACE_PEEKDATA" },
		{ 3, "PTRACE_PEEKUSER" }, { 4, "PTRACE_POKETEXT" }, { 5, "PTRACE_POKEDATA" },
		{ 6, "PTRACE_POKEUSER" }, { 7, "PTRACE_CONT" }, { 8, "PTRACE_KILL" },
		{ 9, "PTRACE_SINGLESTEP" }, { 12, "PTRACE_GETREGS" }, { 13, "PTRACE_SETREGS" },
		{ 14, "PTRACE_GETFPREGS" }, { 15, "PTRACE_SETFPREGS" }, { 16, "PTRACE_ATTACH" },
		{ 17, "PTRACE_DETACH" }, { 18, "PTRACE_GETFPXREGS" }, { 19, "PTRACE_SETFPXREGS" },
		{ 24, "PTRACE_SYSCALL" }, { 25, "PTRACE_GET_THREAD_AREA" },
		{ 26, "PTRACE_SET_THREAD_AREA" }, { 30, "PTRACE_ARCH_PRCTL" }, { 31, "PTRACE_SYSEMU" },
		{ 32, "PTRACE_SYSEMU_SINGLESTEP" }, { 33, "PTRACE_SINGLEBLOCK" },
		{ 0x4200, "PTRACE_SETOPTIONS" }, { 0x4201, "PTRACE_GETEVENTMSG" },
		{ 0x4202, "PTRACE_GETSIGINFO" }, { 0x4203, "PTRACE_SETSIGINFO" },
		{ 0x4204, "PTRACE_GETREGSET" }, { 0x4205, "PTRACE_SETREGSET" },
		{ 0x4206, "PTRACE_SEIZE" }, { 0x4207, "PTRACE_INTERRUPT" }, { 0x4208, "PTRACE_LISTEN" },
		{ 0x4209, "PTRACE_PEEKSIGINFO" }, { 0x420a, "PTRACE_GETSIGMASK" },
		{ 0x420b, "PTRACE_SETSIGMASK" }, { 0x420c, "PTRACE_SECCOMP_GET_FILTER" },
		{ 0x420d, "PTRACE_SECCOMP_GET_METADATA" }, { 0x420e, "PTRACE_GET_SYSCALL_INFO" },
	};

	return LOOKUP(t, request);
}
