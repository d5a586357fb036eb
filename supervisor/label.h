/*
 * Labels have owners. A launcher's labels (sysgate-run -l key=value) are
 * its claim; the config's `labels` says which uids and gids may make
 * which claims (config.h's config_label_t), and the keys under "sysgate."
 * are sysgated's own, derived from the launcher's peer credentials and
 * never taken from a HELLO. Limits and handlers can key on them
 * (per = "label:sysgate.uid") without trusting any launcher.
 */
#ifndef SG_LABEL_H
#define SG_LABEL_H

#include <stddef.h>
#include <sys/socket.h>

#include "config.h"
#include "sysgate/protocol.h"

#define LABEL_OWN_PREFIX "sysgate."
#define LABEL_OWN_COUNT 2u /* sysgate.uid, sysgate.gid */
/* The labels a launcher may send: the rest of the HELLO's room is ours. */
#define LABEL_LAUNCHER_MAX (SG_PROTO_MAX_LABELS - LABEL_OWN_COUNT)

/* Whether the launcher cred may set every label of h: 0, or -EACCES with
 * the first label refused and why in why. */
int label_admit(const sg_config_t *cfg, const struct ucred *cred, const sg_hello_t *h, char *why,
		size_t len);

/* Appends sysgated's own labels (sysgate.uid, sysgate.gid: the launcher's
 * SO_PEERCRED ids) to h, which label_admit passed. */
void label_add_own(sg_hello_t *h, const struct ucred *cred);

#endif
