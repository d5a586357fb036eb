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

#define CONFIG_MODE_BIT(m) (1u << (m))

typedef struct config {
	char path[PATH_MAX];
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	mode_t socket_mode;
	uid_t allow_uids[CONFIG_MAX_IDS];
	size_t n_allow_uids;
	gid_t allow_gids[CONFIG_MAX_IDS];
	size_t n_allow_gids;
	char log[PATH_MAX]; /* "-" for stdout, else resolved path */
	char learn_dir[PATH_MAX]; /* where learn mode writes policies; "" when not set */
	verdict_t fallback;
	policy_limits_t limits;
	config_policy_t *policies;
	size_t npolicies;
} sg_config_t;

/* Loads path into *out (zeroed first). 0 or a negative errno with err set. */
int config_load(const char *path, sg_config_t *out, sg_error_t *err);

/* Frees what config_load allocated. Accepts NULL. */
void config_free(sg_config_t *c);

#endif
