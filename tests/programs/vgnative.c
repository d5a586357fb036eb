/*
 * vgnative: an LD_PRELOAD library for sysgated under valgrind, for the
 * valgrind soak test (tests/integration/test_valgrind.c). Valgrind 3.19,
 * Debian 12's, has no wrapper for four syscalls that sysgated makes, and
 * answers each with ENOSYS without passing it to the kernel
 * ("WARNING: unhandled amd64-linux syscall"):
 *
 *   seccomp (317)            SECCOMP_GET_NOTIF_SIZES, in receive_init;
 *                            libseccomp's probe of the kernel before it
 *                            compiles a policy's filter (filter.c)
 *   pidfd_send_signal (424)  the kill verdict, respond.c
 *   pidfd_open (434)         every target (accept.c), the kill verdict
 *   openat2 (437)            the brokered open and /proc (broker.c)
 *
 * sysgated cannot start without the first, nor serve a target without
 * pidfd_open. This library replaces libc's syscall(), which sysgated calls
 * for all four, and runs those four on the real CPU with valgrind's
 * VALGRIND_NON_SIMD_CALL1 client request, which reaches the kernel as the
 * program's own syscall would. Memcheck does not see inside a native call,
 * so this does what a wrapper of valgrind's would do: before the call it
 * checks that what the kernel reads is defined (openat2's path and its
 * struct open_how), after it marks what the kernel wrote as defined
 * (seccomp's struct seccomp_notif_sizes). An error in sysgated's memory
 * is reported as it would be by valgrind's own wrappers; nothing of
 * sysgated's code runs outside memcheck. Every other syscall, and any
 * seccomp operation but GET_NOTIF_SIZES and libseccomp's probes
 * (GET_ACTION_AVAIL; SET_MODE_FILTER with no program and SET_MODE_STRICT
 * with flags, which the kernel refuses before it installs anything:
 * installing a filter natively would filter valgrind itself), goes to
 * libc's syscall() as before.
 *
 * A syscall sysgated starts to make that valgrind does not know fails the
 * soak test ("unhandled amd64-linux syscall" in the report): add it here,
 * with the checks valgrind's wrapper would make.
 *
 * Outside valgrind (RUNNING_ON_VALGRIND is 0) everything goes to libc.
 * The test preloads it only into sysgated, and only in the plain build.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h> /* syscall(), which this file replaces */
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

typedef long (*syscall_fn)(long nr, ...);

struct native_call {
	long nr;
	long a[6];
};

/*
 * Runs on the real CPU, called by valgrind's scheduler (tid is the
 * valgrind thread, unused). No libc, no errno, no stack protector: the
 * thread's TLS is not where the guest's is while this runs. The raw
 * kernel result comes back, -errno on failure.
 */
__attribute__((noinline, no_stack_protector)) static unsigned long
native_syscall(unsigned long tid, unsigned long arg)
{
	const struct native_call *c = (const struct native_call *)arg;
	long ret;

	(void)tid;
	/* The kernel's convention: nr in rax, the arguments in rdi, rsi, rdx,
	 * r10, r8, r9; it clobbers rcx and r11. */
	__asm__ volatile("mov %5, %%r10\n\t"
			 "mov %6, %%r8\n\t"
			 "mov %7, %%r9\n\t"
			 "syscall"
			 : "=a"(ret)
			 : "a"(c->nr), "D"(c->a[0]), "S"(c->a[1]), "d"(c->a[2]), "r"(c->a[3]),
			   "r"(c->a[4]), "r"(c->a[5])
			 : "rcx", "r8", "r9", "r10", "r11", "memory");
	return (unsigned long)ret;
}

/* How many arguments nr takes if valgrind lacks it and it is safe to run
 * natively; 0 if it goes to valgrind as usual. */
static int native_args(const struct native_call *c)
{
	switch (c->nr) {
	case SYS_seccomp:
		switch (c->a[0]) {
		case SECCOMP_GET_NOTIF_SIZES:
		case SECCOMP_GET_ACTION_AVAIL:
			return 3;
		case SECCOMP_SET_MODE_FILTER:
			return c->a[2] == 0 ? 3 : 0; /* EFAULT, nothing loaded */
		case SECCOMP_SET_MODE_STRICT:
			return c->a[1] != 0 ? 3 : 0; /* EINVAL, nothing changed */
		default:
			return 0;
		}
	case SYS_pidfd_open:
		return 2;
	case SYS_pidfd_send_signal:
	case SYS_openat2:
		return 4;
	default:
		return 0;
	}
}

/* What valgrind's wrapper would check before the call: the arguments are
 * defined, and the bytes the kernel reads are addressable and defined. */
static void check_inputs(const struct native_call *c, int nargs)
{
	for (int i = 0; i < nargs; i++)
		(void)VALGRIND_CHECK_VALUE_IS_DEFINED(c->a[i]);
	if (c->nr == SYS_openat2) {
		const char *path = (const char *)c->a[1];

		(void)VALGRIND_CHECK_MEM_IS_DEFINED(path, strlen(path) + 1);
		(void)VALGRIND_CHECK_MEM_IS_DEFINED((const void *)c->a[2], (size_t)c->a[3]);
	} else if (c->nr == SYS_pidfd_send_signal && c->a[2]) {
		(void)VALGRIND_CHECK_MEM_IS_DEFINED((const void *)c->a[2], sizeof(siginfo_t));
	} else if (c->nr == SYS_seccomp && c->a[0] == SECCOMP_GET_NOTIF_SIZES) {
		(void)VALGRIND_CHECK_MEM_IS_ADDRESSABLE((const void *)c->a[2],
							  sizeof(struct seccomp_notif_sizes));
	} else if (c->nr == SYS_seccomp && c->a[0] == SECCOMP_GET_ACTION_AVAIL) {
		(void)VALGRIND_CHECK_MEM_IS_DEFINED((const void *)c->a[2], sizeof(uint32_t));
	}
}

/* And what it would mark after it: the bytes the kernel wrote. */
static void mark_outputs(const struct native_call *c, long ret)
{
	if (ret >= 0 && c->nr == SYS_seccomp && c->a[0] == SECCOMP_GET_NOTIF_SIZES)
		(void)VALGRIND_MAKE_MEM_DEFINED((void *)c->a[2], sizeof(struct seccomp_notif_sizes));
}

long syscall(long nr, ...)
{
	struct native_call c = { .nr = nr };
	va_list ap;
	int nargs;
	long ret;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		c.a[i] = va_arg(ap, long);
	va_end(ap);
	nargs = RUNNING_ON_VALGRIND ? native_args(&c) : 0;
	if (nargs == 0) {
		static syscall_fn libc_syscall;

		if (!libc_syscall)
			libc_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
		return libc_syscall(nr, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]);
	}
	check_inputs(&c, nargs);
	ret = (long)VALGRIND_NON_SIMD_CALL1(native_syscall, (unsigned long)&c);
	mark_outputs(&c, ret);
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}
