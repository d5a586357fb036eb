/*
 * Labels have owners (label.h). Runs once per handshake, never per call.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "label.h"

static bool is_own(const char *key)
{
	return strncmp(key, LABEL_OWN_PREFIX, strlen(LABEL_OWN_PREFIX)) == 0;
}

static bool has_id(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Whether entry r lets cred set l: its ids name the launcher (or it
 * names none), and its values hold l's value (or it lists none). */
static bool rule_allows(const config_label_t *r, const struct ucred *cred, const sg_label_t *l)
{
	bool who = (r->nuids == 0 && r->ngids == 0) || has_id(r->uids, r->nuids, cred->uid) ||
		   has_id(r->gids, r->ngids, cred->gid);
	bool what = r->nvalues == 0;

	for (size_t i = 0; !what && i < r->nvalues; i++)
		what = strcmp(r->values[i], l->value) == 0;
	return who && what;
}

int label_admit(const sg_config_t *cfg, const struct ucred *cred, const sg_hello_t *h, char *why,
		size_t len)
{
	for (uint32_t i = 0; i < h->nlabels && i < SG_PROTO_MAX_LABELS; i++) {
		const sg_label_t *l = &h->labels[i];
		bool known = false, ok = false;

		if (is_own(l->key)) {
			snprintf(why, len, "label '%s': keys under '" LABEL_OWN_PREFIX "' are set by "
				 "sysgated alone", l->key);
			return -EACCES;
		}
		if (!cfg->labels_set)
			continue;
		for (size_t j = 0; !ok && j < cfg->nlabels; j++) {
			if (strcmp(cfg->labels[j].key, l->key) != 0)
				continue;
			known = true;
			ok = rule_allows(&cfg->labels[j], cred, l);
		}
		if (!known) {
			snprintf(why, len, "label '%s' is not in the config's 'labels'", l->key);
			return -EACCES;
		}
		if (!ok) {
			snprintf(why, len, "label '%s=%.64s' may not be set by uid %u gid %u (the "
				 "config's 'labels')", l->key, l->value, (unsigned)cred->uid,
				 (unsigned)cred->gid);
			return -EACCES;
		}
	}
	return 0;
}

/* The i-th label: the launcher's, skipping any under sysgate. (which
 * label_admit refuses, but a target handed over by a takeover was
 * admitted by another sysgated), then sysgated's own. */
bool label_at(const call_target_t *t, uint32_t i, const char **key, const char **value)
{
	uint32_t n = t->hello ? t->hello->nlabels : 0;

	if (n > SG_PROTO_MAX_LABELS)
		n = SG_PROTO_MAX_LABELS;
	for (uint32_t j = 0; j < n; j++) {
		if (is_own(t->hello->labels[j].key))
			continue;
		if (i-- == 0) {
			*key = t->hello->labels[j].key;
			*value = t->hello->labels[j].value;
			return true;
		}
	}
	if (i == 0) {
		*key = LABEL_OWN_UID;
		*value = t->uid_label;
		return true;
	}
	return false;
}

const char *label_get(const call_target_t *t, const char *key)
{
	const char *k, *v;

	if (is_own(key))
		return strcmp(key, LABEL_OWN_UID) == 0 ? t->uid_label : NULL;
	for (uint32_t i = 0; label_at(t, i, &k, &v); i++)
		if (strcmp(k, key) == 0)
			return v;
	return NULL;
}
