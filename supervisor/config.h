/*
 * The supervisor's configuration file (libconfig syntax).
 *
 *   socket = "/run/sysgate/sysgate.sock";
 *   socket_mode = "0600";
 *   allow_uids = [ 0 ];
 *   allow_gids = [ ];
 *   log = "-";
 *   fallback = "deny:EPERM";
 *   lua = { instructions = 1000000; memory = 8388608; time_ms = 100; memory_total = 67108864; };
 *   learn_dir = "/var/lib/sysgate/learned";
 *   tenants = { targets = 256; learn_targets = 8; learn_bytes = 67108864; learn_files = 1024;
 *               handshakes = 16; root_handshakes = 16; };
 *   metrics_listen = "127.0.0.1:9469";   # optional: no endpoint when absent
 *   metrics_limits = { connections = 32; per_uid = 4; timeout_s = 5; };
 *   metrics_allow_uids = [ 0, 9090 ];     # optional: any uid when absent
 *   # or metrics_listen = "/run/sysgate-metrics/metrics.sock"; with
 *   # metrics_socket_mode = "0660"; metrics_socket_gid = 9090;
 *   launchers_may_be_filtered = false;   # accept.c
 *   broker_timeout_ms = 2000;             # a brokered open's deadline
 *   labels = ( { key = "tenant"; uids = [ 0 ]; values = [ "acme" ]; },
 *              { key = "function"; } );  # optional: label owners (label.c)
 *   policies = ( { name = "demo"; file = "policies/demo.lua"; fallback = "kill";
 *                  modes = [ "enforce", "audit" ]; } );
 *
 * Policy files and the log path are relative to the directory of the
 * config file. Unknown keys, wrong types and bad values are errors that
 * name the file and line. The loader reads the config only; main loads the
 * policies it names.
 */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "error.h"
#include "policy.h"
#include "verdict.h"
#include "sysgate/protocol.h"

#define CONFIG_MAX_IDS 64
#define CONFIG_MAX_POLICIES 256

typedef struct config_policy {
	char name[SG_PROTO_MAX_NAME + 1];
	char file[PATH_MAX]; /* resolved against the config's directory */
	int line;            /* where the entry stands in the config */
	verdict_t fallback;  /* the policy's own, or the global one */
	/* The modes a target may ask for with sysgate-run --mode, as bits
	 * 1 << SG_MODE_*; the policy's own mode is always allowed (0: only
	 * that one). */
	unsigned modes;
} config_policy_t;

/* Budgets of the log's per-call events (decision, error) and refused
 * handshakes: rate per second (0: unlimited) and burst. Per-call events
 * take from their target's and the global budget; refused handshakes,
 * which any peer of the socket causes at will, from a budget of their
 * own (handshake), so that a flood of them never silences a target's
 * denials, nor the other way round. What does not fit is counted and
 * reported every report_ms in `suppressed` events. */
typedef struct log_limits {
	uint32_t target_rate, target_burst;
	uint32_t global_rate, global_burst;
	uint32_t handshake_rate, handshake_burst;
	uint32_t report_ms;
} log_limits_t;

#define LOG_DEFAULT_TARGET_RATE 200u
#define LOG_DEFAULT_GLOBAL_RATE 2000u
#define LOG_DEFAULT_HANDSHAKE_RATE 100u
#define LOG_DEFAULT_BURST_FACTOR 10u /* burst = 10 s of rate unless given */
#define LOG_DEFAULT_REPORT_MS 10000u
#define METRICS_DEFAULT_CONNECTIONS 32u
#define METRICS_DEFAULT_PER_UID 4u
#define METRICS_DEFAULT_TIMEOUT_S 5u
#define METRICS_MAX_CONNECTIONS 1024u

/* What clients of the metrics endpoint may hold: connections in all, the
 * share of one uid (below that, so one uid never holds them all), and
 * the seconds a connection may stay idle. */
typedef struct metrics_limits {
	uint32_t connections, per_uid, timeout_s;
} metrics_limits_t;
/* Quotas of one launcher uid (a tenant: the uid that connected to the
 * socket and handed over the listener, and everything it started). Root
 * has none: the operator's launches are never refused for another uid's
 * use. 0 in learn_targets refuses learn mode to every uid but root.
 *
 * Handshakes in progress: CONFIG_HANDSHAKES_MAX at once in all, of which
 * root_handshakes only root may use; every other uid may hold handshakes
 * of them at once (accept.c). */
typedef struct tenant_limits {
	uint32_t targets;       /* targets running at once */
	uint32_t learn_targets; /* of those, in learn mode */
	uint64_t learn_bytes;   /* bytes of learned policies written since sysgated started */
	uint32_t learn_files;   /* learned policy files written since sysgated started */
	uint32_t handshakes;    /* handshakes in progress at once */
	uint32_t root_handshakes; /* handshakes kept for root alone */
} tenant_limits_t;

#define TENANT_DEFAULT_TARGETS 256u
#define TENANT_DEFAULT_LEARN_TARGETS 8u
#define TENANT_DEFAULT_LEARN_BYTES (64ull << 20)
#define TENANT_DEFAULT_LEARN_FILES 1024u
#define TENANT_DEFAULT_HANDSHAKES 16u
#define TENANT_DEFAULT_ROOT_HANDSHAKES 16u
#define CONFIG_HANDSHAKES_MAX 64u /* handshakes in progress at once, in all */

/* labels: who may set a label key (and which values). A launcher's label
 * passes when one entry of its key names the launcher's uid (uids) or
 * its SO_PEERCRED gid (gids), or names neither, and lists its value or
 * no values. With `labels` set, a key no entry names is refused; without
 * it, any key is free. Keys under "sysgate." are sysgated's own (label.h)
 * and never a launcher's. */
#define CONFIG_MAX_LABEL_RULES 64
#define CONFIG_MAX_LABEL_VALUES 16
typedef struct config_label {
	char key[SG_PROTO_MAX_KEY + 1];
	uid_t uids[CONFIG_MAX_IDS];
	size_t nuids;
	gid_t gids[CONFIG_MAX_IDS];
	size_t ngids;
	char values[CONFIG_MAX_LABEL_VALUES][SG_PROTO_MAX_VALUE + 1];
	size_t nvalues;
} config_label_t;

#define CONFIG_MODE_BIT(m) (1u << (m))
#define CONFIG_BROKER_TIMEOUT_MS 2000u
/* The control socket of --takeover is the socket's path with this
 * appended (takeover.c); the config keeps room for it. */
#define CONFIG_TAKEOVER_SUFFIX ".takeover"

typedef struct config {
	char path[PATH_MAX];
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	mode_t socket_mode;
	uid_t allow_uids[CONFIG_MAX_IDS];
	size_t n_allow_uids;
	gid_t allow_gids[CONFIG_MAX_IDS];
	size_t n_allow_gids;
	char log[PATH_MAX]; /* "-" for stdout, else resolved path */
	log_limits_t log_limits;
	tenant_limits_t tenants;
	char learn_dir[PATH_MAX]; /* where learn mode writes policies; "" when not set */
	/* A launcher under a seccomp filter may be a sysgate target: refused
	 * unless this is set (accept.c, docs/security.md). */
	bool launchers_may_be_filtered;
	verdict_t fallback;
	policy_limits_t limits;
	config_policy_t *policies;
	size_t npolicies;
	/* metrics_listen: the loopback address of the metrics endpoint, or
	 * the path of its unix socket, as written and parsed; metrics_addrlen
	 * is 0 when there is none. */
	char metrics_listen[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addrlen;
	int metrics_line; /* where the key stands, for errors at start-up */
	metrics_limits_t metrics_limits;
	/* The unix socket's mode (0600 or 0660) and group (-1: the
	 * supervisor's own). */
	mode_t metrics_socket_mode;
	gid_t metrics_socket_gid;
	/* metrics_allow_uids: the only uids served (none given: any uid). */
	uid_t metrics_uids[CONFIG_MAX_IDS];
	size_t n_metrics_uids;
	/* How long a brokered open may run before its call is answered
	 * EINTR (broker.c). */
	uint32_t broker_timeout_ms;
	/* labels: the owners of label keys; labels_set false when the key is
	 * absent (every key free but sysgate.*). */
	bool labels_set;
	config_label_t *labels;
	size_t nlabels;
} sg_config_t;

/* Loads path into *out (zeroed first). 0 or a negative errno with err set. */
int config_load(const char *path, sg_config_t *out, sg_error_t *err);

/* Frees what config_load allocated. Accepts NULL. */
void config_free(sg_config_t *c);

#endif
