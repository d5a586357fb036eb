/*
 * Tenants (see tenant.h): a fixed table of launcher uids with what each
 * holds now. An entry is kept while it holds a target or has written
 * learned files (they count for the supervisor's life), so the table
 * never grows past TENANTS_MAX, whatever uids connect.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tenant.h"

typedef struct tenant {
	uid_t uid;
	bool used;
	uint32_t targets, learn_targets, learn_files;
	uint64_t learn_bytes;
} tenant_t;

struct tenants {
	pthread_mutex_t lock;
	tenant_limits_t lim;
	tenant_t tab[TENANTS_MAX];
};

tenants_t *tenants_new(const tenant_limits_t *lim)
{
	tenants_t *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return NULL;
	pthread_mutex_init(&ts->lock, NULL);
	ts->lim = *lim;
	return ts;
}

void tenants_free(tenants_t *ts)
{
	if (!ts)
		return;
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

/* uid's entry, made when create and there is room; NULL otherwise. */
static tenant_t *find(tenants_t *ts, uid_t uid, bool create)
{
	tenant_t *free_slot = NULL;

	for (size_t i = 0; i < TENANTS_MAX; i++) {
		tenant_t *e = &ts->tab[i];

		if (e->used && e->uid == uid)
			return e;
		if (!e->used && !free_slot)
			free_slot = e;
	}
	if (!create || !free_slot)
		return NULL;
	free_slot->used = true;
	free_slot->uid = uid;
	return free_slot;
}

static void forget_if_idle(tenant_t *e)
{
	if (e->targets == 0 && e->learn_targets == 0 && e->learn_bytes == 0 && e->learn_files == 0)
		e->used = false;
}

static void why_set(char *why, size_t len, const char *what, uid_t uid, uint64_t quota)
{
	if (why && len)
		snprintf(why, len, "launcher uid %u is at its quota of %s (tenants.%s = %llu)",
			 (unsigned)uid, what, what, (unsigned long long)quota);
}

/* uid's entry, made when there is room; NULL, saying why, when not. */
static tenant_t *find_or_say(tenants_t *ts, uid_t uid, char *why, size_t why_len)
{
	tenant_t *e = find(ts, uid, true);

	if (!e && why && why_len)
		snprintf(why, why_len, "too many launcher uids hold targets (%d)", TENANTS_MAX);
	return e;
}

int tenants_take(tenants_t *ts, uid_t uid, bool learn, bool force, char *why, size_t why_len)
{
	tenant_t *e;
	int r = 0;

	if (uid == 0)
		return 0;
	pthread_mutex_lock(&ts->lock);
	e = find_or_say(ts, uid, why, why_len);
	if (!e) {
		r = -EDQUOT;
	} else if (!force && e->targets >= ts->lim.targets) {
		why_set(why, why_len, "targets", uid, ts->lim.targets);
		r = -EDQUOT;
	} else if (!force && learn && e->learn_targets >= ts->lim.learn_targets) {
		why_set(why, why_len, "learn_targets", uid, ts->lim.learn_targets);
		r = -EDQUOT;
	} else {
		e->targets++;
		e->learn_targets += learn;
	}
	if (r < 0 && e)
		forget_if_idle(e);
	pthread_mutex_unlock(&ts->lock);
	return r;
}

void tenants_give(tenants_t *ts, uid_t uid, bool learn)
{
	tenant_t *e;

	if (uid == 0)
		return;
	pthread_mutex_lock(&ts->lock);
	e = find(ts, uid, false);
	if (e) {
		if (e->targets)
			e->targets--;
		if (learn && e->learn_targets)
			e->learn_targets--;
		forget_if_idle(e);
	}
	pthread_mutex_unlock(&ts->lock);
}

int tenants_learn_file(tenants_t *ts, uid_t uid, uint64_t bytes, char *why, size_t why_len)
{
	tenant_t *e;
	int r = 0;

	if (uid == 0)
		return 0;
	pthread_mutex_lock(&ts->lock);
	e = find_or_say(ts, uid, why, why_len);
	if (!e) {
		r = -EDQUOT;
	} else if (e->learn_files >= ts->lim.learn_files) {
		why_set(why, why_len, "learn_files", uid, ts->lim.learn_files);
		r = -EDQUOT;
	} else if (e->learn_bytes + bytes > ts->lim.learn_bytes) {
		why_set(why, why_len, "learn_bytes", uid, ts->lim.learn_bytes);
		r = -EDQUOT;
	} else {
		e->learn_bytes += bytes;
		e->learn_files++;
	}
	if (r < 0 && e)
		forget_if_idle(e);
	pthread_mutex_unlock(&ts->lock);
	return r;
}
