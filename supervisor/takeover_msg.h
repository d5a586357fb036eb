/*
 * The wire format of a takeover (takeover.c) between two sysgated on one
 * host: fixed-size structs in host byte order, each starting with
 * tk_header_t. Every length is exact, every reserved or pad byte zero,
 * every string NUL-terminated inside its field and zero after the NUL;
 * the decoders refuse anything else with -EBADMSG (-EPROTONOSUPPORT for
 * another version, -EMSGSIZE for a count over its bound). Split from
 * takeover.c so that a unit test (and a fuzzer) can drive it alone.
 *
 *   REQUEST  new -> old   pid, realpath of the config
 *   BEGIN    old -> new   pid, target count, next target id; fds: the
 *                         listening socket, the control socket
 *   TARGET   old -> new   one target; fds: its listener [, its pidfd]
 *   END      old -> new   the target count again
 *   ACCEPT   new -> old   header only
 *   REFUSE   either way   reason
 */
#ifndef SG_TAKEOVER_MSG_H
#define SG_TAKEOVER_MSG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sysgate/protocol.h"

#define TK_MAGIC 0x4b544753u /* "SGTK" in little-endian memory */
#define TK_VERSION 1u
#define TK_MAX_TARGETS 65536u
#define TK_HAS_PIDFD 1u /* TARGET flags: a pidfd follows the listener */

enum { TK_REQUEST = 1, TK_BEGIN, TK_TARGET, TK_END, TK_ACCEPT, TK_REFUSE };

typedef struct tk_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t length; /* of the whole message */
	uint32_t reserved;
} tk_header_t;

typedef struct tk_request {
	tk_header_t h;
	uint32_t pid;
	uint32_t reserved;
	char config[PATH_MAX]; /* realpath of the config file */
} tk_request_t;

typedef struct tk_begin {
	tk_header_t h;
	uint32_t pid;
	uint32_t ntargets;
	uint64_t next_target_id;
} tk_begin_t;

typedef struct tk_target {
	tk_header_t h;
	uint64_t id, started_ns, started_wall;
	uint64_t notifications, decisions, denied, errors, gone, advisory, brokered, restarts;
	uint64_t would_deny, log_suppressed;
	uint32_t pid, uid, mode, flags, nlabels, reserved;
	char policy[SG_PROTO_MAX_NAME + 1];
	char pad[7];
	sg_label_t labels[SG_PROTO_MAX_LABELS];
} tk_target_t;

typedef struct tk_end {
	tk_header_t h;
	uint32_t ntargets;
	uint32_t reserved;
} tk_end_t;

typedef struct tk_refuse {
	tk_header_t h;
	char reason[SG_PROTO_MAX_REASON + 1];
	char pad[7];
} tk_refuse_t;

/* No implicit padding: every byte on the wire is a field or zeroed pad. */
_Static_assert(sizeof(tk_target_t) == 16 + 13 * 8 + 6 * 4 + 72 + SG_PROTO_MAX_LABELS * 256,
	       "tk_target_t has padding");
_Static_assert(sizeof(tk_refuse_t) == 16 + 520, "tk_refuse_t has padding");
_Static_assert(sizeof(tk_target_t) <= SG_PROTO_MAX_MSG, "tk_target_t too large");

/* Fills the header of a message of type and len bytes, zeroing the rest. */
void tk_header(void *buf, uint16_t type, size_t len);
/* 0 when buf (len bytes) is a message of type and exactly want bytes. */
int tk_check(const void *buf, size_t len, uint16_t type, size_t want);
/* The type of the message in buf, 0 when it has no valid magic. */
uint16_t tk_type(const void *buf, size_t len);
/* Decoders: 0 or a negative errno; *out is only meaningful on 0. */
int tk_decode_request(const void *buf, size_t len, tk_request_t *out);
int tk_decode_begin(const void *buf, size_t len, tk_begin_t *out);
int tk_decode_target(const void *buf, size_t len, tk_target_t *out);
int tk_decode_end(const void *buf, size_t len, tk_end_t *out);
/* How many fds arrive with a decoded TARGET: its listener, and its pidfd
 * when flags say so. */
size_t tk_target_nfds(const tk_target_t *m);
/* The reason of a REFUSE in buf (points into buf), or NULL when buf is
 * not a well-formed one. */
const char *tk_refused(const void *buf, size_t len);

/* Sends one message with up to two fds (SCM_RIGHTS), MSG_NOSIGNAL. 0 or
 * a negative errno. Messages are received with sg_proto_recv, which
 * takes fds with MSG_CMSG_CLOEXEC and closes them on a malformed one. */
int tk_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
/* A best-effort REFUSE with reason (truncated to its field). */
void tk_send_refuse(int sock, const char *reason);

#endif
