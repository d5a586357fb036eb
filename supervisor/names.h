/*
 * Names of errnos and of the native architecture's syscalls, both ways.
 * Syscall names come from libseccomp's tables; errno names from a table
 * of the Linux errnos.
 */
#ifndef SG_NAMES_H
#define SG_NAMES_H

#include <stdint.h>

#define NAMES_MAX_NR 1024 /* syscall numbers of the native arch are below this */

/* "EACCES" -> 13; -1 when unknown. */
int names_errno(const char *name);

/* 13 -> "EACCES"; NULL when unknown. */
const char *names_errno_name(int err);

/* "openat" -> 257 on x86_64; -1 when unknown or not a syscall of the native
 * arch (libseccomp's pseudo numbers are refused). */
int names_syscall(const char *name);

/* 257 -> "openat"; NULL when out of range or unknown. The string is static. */
const char *names_syscall_name(int nr);

/* "SIGKILL" for 9; NULL for 0 and unknown numbers. */
const char *names_signal(int sig);

/* "unix", "inet", "inet6", "netlink", "packet"...; NULL when unknown. */
const char *names_family(int family);

/* The socket type without its flags: "stream", "dgram", "raw", "rdm",
 * "seqpacket", "packet"; NULL when unknown. */
const char *names_socktype(int type);

/* "PR_SET_NO_NEW_PRIVS" for 38; NULL when unknown. */
const char *names_prctl(unsigned long option);

/* "PTRACE_ATTACH" for 16; NULL when unknown. */
const char *names_ptrace(unsigned long request);

/* AUDIT_ARCH_* of the native arch, and its name ("x86_64"). */
uint32_t names_native_arch(void);
const char *names_arch_name(uint32_t arch);

#endif
