/*
 * sysgate wire protocol between sysgate-run (the shim) and sysgated.
 *
 * The transport is a SOCK_SEQPACKET unix socket: one message per packet,
 * so a message is never split or merged. Every message starts with
 * sg_msg_header_t; integers are in host byte order (both ends run on the
 * same host). Every size is bounded by the constants below and every
 * reserved field must be zero; the decoders refuse anything else.
 *
 *   shim                           supervisor
 *   HELLO(policy, labels, mode) --->
 *                           <---   SPEC(filter spec) | REFUSE(code, reason)
 *   LISTENER + 1 fd          --->   (SCM_RIGHTS, exactly one fd)
 *   the proof call, on the listener (version 2, see SG_PROTO_PROOF_OPTION)
 *                           <---   READY(target id) | REFUSE(code, reason)
 *
 * The codec functions return 0 (or a length) on success and a negative
 * errno on failure: -EBADMSG for a malformed message, -EPROTONOSUPPORT for
 * a version this side does not speak, -EMSGSIZE for a message or field over
 * its bound, -ENOBUFS when an output buffer is too small.
 */
#ifndef SYSGATE_PROTOCOL_H
#define SYSGATE_PROTOCOL_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_PROTO_MAGIC 0x54414753u /* "SGAT" in little-endian memory */
#define SG_PROTO_VERSION 2u

/*
 * The proof of ownership (version 2). The target is the process that
 * connected (SO_PEERPIDFD), and the kernel names no task of a listener's
 * filter, so the launcher shows that the listener it hands over is its
 * own: after sending LISTENER, a thread of the launcher's process that
 * runs under the listener's filter calls prctl(SG_PROTO_PROOF_OPTION, 0,
 * 0, 0, 0). Every filter sysgated compiles forwards that call whatever
 * the policy says (supervisor/filter.c); sysgated takes the listener only
 * when the first call it receives on it is this one, made by a thread of
 * the connected process, and answers it with 0 before READY. The option
 * is no prctl the kernel knows (it answers EINVAL when a filter lets the
 * call through); only the low 32 bits count, as the kernel reads them.
 */
#define SG_PROTO_PROOF_OPTION 0x53477072u /* "rpGS" */

#define SG_PROTO_MAX_MSG 65536u   /* whole message, header included */
#define SG_PROTO_MAX_NAME 64u     /* policy name, bytes, no NUL */
#define SG_PROTO_MAX_LABELS 32u   /* labels per HELLO */
#define SG_PROTO_MAX_KEY 63u      /* label key, bytes */
#define SG_PROTO_MAX_VALUE 191u   /* label value, bytes */
#define SG_PROTO_MAX_RULES 1024u  /* syscalls per list of a SPEC */
#define SG_PROTO_MAX_NR 4095u     /* highest syscall number a SPEC may name */
#define SG_PROTO_MAX_BPF 4096u    /* instructions of a SPEC's filter (BPF_MAXINSNS) */
#define SG_PROTO_MAX_REASON 512u  /* REFUSE reason, bytes, no NUL */
#define SG_PROTO_MAX_FDS 4u       /* fds a receiver makes room for (to see extras) */

typedef enum sg_msg_type {
	SG_MSG_HELLO = 1,
	SG_MSG_SPEC = 2,
	SG_MSG_REFUSE = 3,
	SG_MSG_LISTENER = 4,
	SG_MSG_READY = 5,
} sg_msg_type_t;

typedef struct sg_msg_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;     /* sg_msg_type_t */
	uint32_t length;   /* of the whole message, header included */
	uint32_t reserved; /* zero */
} sg_msg_header_t;

/* Actions a SPEC can give a syscall or the default. */
typedef enum sg_action {
	SG_ACT_ALLOW = 0,
	SG_ACT_ERRNO = 1,  /* fail with the given errno, decided in the kernel */
	SG_ACT_KILL = 2,   /* kill the process, decided in the kernel */
	SG_ACT_NOTIFY = 3, /* forward to the supervisor */
} sg_action_t;

typedef struct sg_label {
	char key[SG_PROTO_MAX_KEY + 1];
	char value[SG_PROTO_MAX_VALUE + 1];
} sg_label_t;

/*
 * The mode a target asks for (sysgate-run --mode). SG_MODE_POLICY: the
 * policy's own. The supervisor decides whether a target may ask for
 * another one (the config's `modes`); on the wire it is the low two bits
 * of HELLO's flags word, whose other bits stay zero.
 */
typedef enum sg_mode {
	SG_MODE_POLICY = 0,
	SG_MODE_ENFORCE = 1,
	SG_MODE_AUDIT = 2,
	SG_MODE_LEARN = 3,
} sg_mode_t;

/*
 * HELLO: the shim asks for a policy. Policy names and label keys are
 * [A-Za-z0-9_.-]+; label values are printable ASCII.
 */
typedef struct sg_hello {
	char policy[SG_PROTO_MAX_NAME + 1];
	uint32_t nlabels;
	sg_label_t labels[SG_PROTO_MAX_LABELS];
	uint32_t mode; /* sg_mode_t */
} sg_hello_t;

typedef struct sg_spec_errno {
	uint32_t nr;
	uint32_t err; /* 1..4095 */
} sg_spec_errno_t;

/*
 * SPEC: the filter compiled from the policy. arch is the AUDIT_ARCH_* value
 * the supervisor compiled for; a shim of another arch refuses it. A syscall
 * number appears in at most one list. allow names syscalls the kernel
 * allows when the default is not allow (a learned policy's); its count
 * takes the first of the two words that were reserved, so a shim that
 * predates it refuses such a SPEC instead of dropping the list.
 *
 * bpf is the lists compiled into the classic BPF program the shim loads,
 * built once per policy by the supervisor (libseccomp, with the bad-arch
 * action killing the process), so that no target start pays for it. Its
 * count takes the second reserved word; the wire carries each instruction
 * as code (u16), jt, jf (u8 each), k (u32). The decoder bounds the count,
 * and the kernel checks the program; the shim refuses a SPEC without one.
 */
typedef struct sg_spec {
	uint32_t arch;
	uint32_t default_action; /* sg_action_t */
	uint32_t default_errno;  /* for SG_ACT_ERRNO, else 0 */
	uint32_t n_notify, n_deny, n_kill, n_allow, n_bpf;
	uint32_t notify[SG_PROTO_MAX_RULES];
	sg_spec_errno_t deny[SG_PROTO_MAX_RULES];
	uint32_t kill[SG_PROTO_MAX_RULES];
	uint32_t allow[SG_PROTO_MAX_RULES];
	struct sock_filter bpf[SG_PROTO_MAX_BPF];
} sg_spec_t;

/* REFUSE: code is a positive errno describing the class of refusal. */
typedef struct sg_refuse {
	uint32_t code;
	char reason[SG_PROTO_MAX_REASON + 1];
} sg_refuse_t;

typedef struct sg_ready {
	uint64_t target_id;
} sg_ready_t;

/* Checks the header of a received message of len bytes: magic, version,
 * length == len, reserved zero, known type. Fills *out. */
int sg_proto_check_header(const void *buf, size_t len, sg_msg_header_t *out);

/* Encoders return the message length or a negative errno. */
ssize_t sg_proto_encode_hello(const sg_hello_t *in, void *buf, size_t cap);
ssize_t sg_proto_encode_spec(const sg_spec_t *in, void *buf, size_t cap);
ssize_t sg_proto_encode_refuse(const sg_refuse_t *in, void *buf, size_t cap);
ssize_t sg_proto_encode_listener(void *buf, size_t cap);
ssize_t sg_proto_encode_ready(const sg_ready_t *in, void *buf, size_t cap);

/* Decoders check the header too and validate every field. */
int sg_proto_decode_hello(const void *buf, size_t len, sg_hello_t *out);
int sg_proto_decode_spec(const void *buf, size_t len, sg_spec_t *out);
int sg_proto_decode_refuse(const void *buf, size_t len, sg_refuse_t *out);
int sg_proto_decode_listener(const void *buf, size_t len);
int sg_proto_decode_ready(const void *buf, size_t len, sg_ready_t *out);

/* Validators shared with the command line and config: 0 or -EINVAL. */
int sg_proto_valid_name(const char *s);
int sg_proto_parse_label(const char *kv, sg_label_t *out); /* "key=value" */
/* "enforce", "audit", "learn" -> SG_MODE_*, else -EINVAL. */
int sg_proto_parse_mode(const char *s);
/* SG_MODE_* -> "enforce", "audit", "learn" ("policy" for SG_MODE_POLICY). */
const char *sg_proto_mode_name(uint32_t mode);

/*
 * Sends one message, with fd attached (SCM_RIGHTS) when fd >= 0.
 * MSG_NOSIGNAL: a closed peer gives -EPIPE, never SIGPIPE.
 */
int sg_proto_send(int sock, const void *buf, size_t len, int fd);

/*
 * Receives one message into buf (cap bytes) with MSG_CMSG_CLOEXEC. Any fds
 * that arrived are stored in fds (room for SG_PROTO_MAX_FDS) and counted in
 * *nfds; the caller owns them. On a truncated message or control data
 * (MSG_TRUNC, MSG_CTRUNC) or control data of a type other than SCM_RIGHTS,
 * every fd that arrived is closed and -EBADMSG returned. Returns the message
 * length, 0 on an orderly shutdown by the peer, or a negative errno.
 */
ssize_t sg_proto_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds);
/*
 * The same, and the sender's pidfd (SCM_PIDFD, which the kernel attaches
 * when the socket has SO_PASSPIDFD; a peer cannot forge it) in *pidfd, -1
 * when none came; the caller owns it. sg_proto_recv closes one that comes.
 */
ssize_t sg_proto_recv_pidfd(int sock, void *buf, size_t cap, int *fds, size_t *nfds, int *pidfd);

#ifdef __cplusplus
}
#endif
#endif
