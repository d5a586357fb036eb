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

#include "call.h"
#include "config.h"
#include "sysgate/protocol.h"

#define LABEL_OWN_PREFIX "sysgate."
#define LABEL_OWN_UID LABEL_OWN_PREFIX "uid" /* the launcher's uid, decimal */

/* Whether the launcher cred may set every label of h: 0, or -EACCES with
 * the first label refused and why in why. */
int label_admit(const sg_config_t *cfg, const struct ucred *cred, const sg_hello_t *h, char *why,
		size_t len);

/*
 * The labels of a target as handlers and limits see them: the launcher's
 * (label_admit passed them), then sysgated's own (sysgate.uid). Derived
 * on demand from the target record, so a takeover carries nothing more
 * and a launcher's 32 labels keep their room. label_at: false past the
 * last; label_get: NULL when t has no label key.
 */
bool label_at(const call_target_t *t, uint32_t i, const char **key, const char **value);
const char *label_get(const call_target_t *t, const char *key);

#endif
