/*
 * The supervisor's config loader: reads one libconfig file, checks every
 * key, type and value, resolves relative paths against the config's
 * directory and checks that each policy file can be opened. It does not
 * load the policies (main does, through the policy engine) and it does not
 * log: every error goes back in an sg_error_t with the file and line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"
#include "path.h"

#define CONFIG_MAX_BYTES (1u << 20) /* a config is a few hundred bytes */
#define ID_MAX 4294967294LL         /* (uid_t)-1 means "no id" */

_Static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
	       "ids are 32 bits");

#define LUA_INSTR_MIN 1000LL
#define LUA_INSTR_MAX 10000000000LL
#define LUA_MEM_MIN 65536LL
#define LUA_MEM_MAX 1073741824LL
#define LUA_TIME_MIN 1LL
#define LUA_TIME_MAX 60000LL
#define LUA_TOTAL_MAX 4294967296LL

typedef struct loader {
	const char *path;    /* the config as given, for messages */
	char dir[PATH_MAX];  /* its directory, resolved */
	sg_error_t *err;
	sg_config_t *out;
} loader_t;

static const char *const top_keys[] = {
	"socket", "socket_mode", "allow_uids", "allow_gids", "log", "log_limits", "fallback", "lua",
	"policies", "metrics_listen", "metrics_limits", "metrics_allow_uids", "metrics_socket_mode",
	"metrics_socket_gid", "learn_dir", "launchers_may_be_filtered",
	"broker_timeout_ms", "tenants", "labels", NULL,
};
static const char *const lua_keys[] = { "instructions", "memory", "time_ms", "memory_total", NULL };
static const char *const log_limit_keys[] = { "target_rate", "target_burst", "global_rate",
					      "global_burst", "handshake_rate", "handshake_burst",
					      "report_ms", NULL };
static const char *const metrics_limit_keys[] = { "connections", "per_uid", "timeout_s", NULL };
static const char *const tenant_keys[] = { "targets", "learn_targets", "learn_bytes", "learn_files",
					  "handshakes", "root_handshakes", NULL };
static const char *const label_keys[] = { "key", "uids", "gids", "values", NULL };
static const char *const policy_keys[] = { "name", "file", "fallback", "modes", NULL };

static int setting_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

/* Fills the error with the config's path, line and message. */
__attribute__((format(printf, 3, 4)))
static void report(const loader_t *ld, int line, const char *fmt, ...)
{
	char msg[sizeof(ld->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sg_error_set(ld->err, ld->path, line, "%s", msg);
}

/*
 * fail() reports at the line of s (0 without s), fail_line() at a line of
 * the text; both evaluate to rc, so a caller can `return fail(...)`. They
 * are macros so that the static analysers see the negative errno come
 * back: they do not follow a variadic function's result, and took every
 * `if ((rc = fail(...)) < 0)` for a path that goes on with rc >= 0.
 */
#define fail(ld, s, rc, ...) (report((ld), setting_line(s), __VA_ARGS__), (rc))
#define fail_line(ld, line, rc, ...) (report((ld), (line), __VA_ARGS__), (rc))

static bool key_known(const char *name, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(name, *keys) == 0)
			return true;
	return false;
}

/* Refuses any member of group not in keys; prefix qualifies the message. */
static int check_keys(const loader_t *ld, const config_setting_t *group,
		      const char *const *keys, const char *prefix)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(group, (unsigned int)i);
		const char *name = config_setting_name(s);

		if (!key_known(name, keys))
			return fail(ld, s, -EINVAL, "%sunknown key '%s'", prefix, name);
	}
	return 0;
}

/* Our own copy of the protocol's name rule ([A-Za-z0-9_.-]{1,64}) so the
 * loader does not depend on the shim library. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SG_PROTO_MAX_NAME)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* A string member of group: 1 with *out set, 0 when absent, or an error. */
static int get_string(const loader_t *ld, const config_setting_t *group, const char *key,
		      const char *what, const char **out, config_setting_t **where)
{
	config_setting_t *s = config_setting_get_member(group, key);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, -EINVAL, "%s must be a string", what);
	*out = config_setting_get_string(s);
	if (where)
		*where = s;
	return 1;
}

/* An integer member of group within [min, max]: 1, 0 when absent, or an error. */
static int get_int_range(const loader_t *ld, const config_setting_t *group, const char *key,
			 const char *what, long long min, long long max, long long *out)
{
	config_setting_t *s = config_setting_get_member(group, key);
	long long v;

	if (!s)
		return 0;
	if (!is_int(s))
		return fail(ld, s, -EINVAL, "%s must be an integer", what);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(ld, s, -EINVAL, "%s must be between %lld and %lld", what, min, max);
	*out = v;
	return 1;
}

/* rel against the config's directory (absolute paths are kept) into out. */
static int resolve_path(const loader_t *ld, const config_setting_t *s, const char *what,
			const char *rel, char *out, size_t cap)
{
	int n;

	if (rel[0] == '\0')
		return fail(ld, s, -EINVAL, "%s must not be empty", what);
	if (rel[0] == '/')
		n = snprintf(out, cap, "%s", rel);
	else
		n = snprintf(out, cap, "%s/%s", strcmp(ld->dir, "/") == 0 ? "" : ld->dir, rel);
	if (n < 0 || (size_t)n >= cap)
		return fail(ld, s, -ENAMETOOLONG, "%s: path '%s' is too long (at most %zu bytes)",
			    what, rel, cap - 1);
	return 0;
}

static int load_socket(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = NULL;
	const char *v = "/run/sysgate/sysgate.sock";
	int rc = get_string(ld, root, "socket", "'socket'", &v, &s);

	if (rc < 0)
		return rc;
	/* The result must fit sun_path with its NUL, and so must the control
	 * socket beside it (the same path and ".takeover", for sysgated
	 * --takeover); a resolved absolute path also keeps the socket out of
	 * the abstract namespace. */
	return resolve_path(ld, s, "'socket'", v, ld->out->socket,
			    sizeof(ld->out->socket) - (sizeof(CONFIG_TAKEOVER_SUFFIX) - 1));
}

/* A socket's mode, key (default "0600"): never open to others. */
static int load_a_socket_mode(const loader_t *ld, const config_setting_t *root, const char *key,
			      mode_t *out)
{
	config_setting_t *s = NULL;
	const char *v = "0600";
	char *end;
	unsigned long mode;
	char what[48];
	int rc;

	snprintf(what, sizeof(what), "'%s'", key);
	rc = get_string(ld, root, key, what, &v, &s);
	if (rc < 0)
		return rc;
	if (v[0] < '0' || v[0] > '7' || strlen(v) > 4)
		return fail(ld, s, -EINVAL, "'%s' must be an octal mode such as \"0600\", not '%s'", key, v);
	errno = 0;
	mode = strtoul(v, &end, 8);
	if (errno || *end)
		return fail(ld, s, -EINVAL, "'%s' must be an octal mode such as \"0600\", not '%s'", key, v);
	if (mode & ~0777ul)
		return fail(ld, s, -EINVAL, "'%s' must hold permission bits only (at most 0777)", key);
	if (mode & 0007)
		return fail(ld, s, -EINVAL, "'%s' gives access to others (use 0600 or 0660)", key);
	*out = (mode_t)mode;
	return 0;
}

static int load_socket_mode(const loader_t *ld, const config_setting_t *root)
{
	return load_a_socket_mode(ld, root, "socket_mode", &ld->out->socket_mode);
}

/* allow_uids / allow_gids: an array (or list) of ids, at most CONFIG_MAX_IDS. */
static int load_ids(const loader_t *ld, const config_setting_t *root, const char *key,
		    uint32_t *ids, size_t *n, bool present_default)
{
	config_setting_t *s = config_setting_get_member(root, key);
	int len;

	if (!s) {
		if (present_default) {
			ids[0] = 0;
			*n = 1;
		}
		return 0;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(ld, s, -EINVAL, "'%s' must be an array of integers", key);
	len = config_setting_length(s);
	if (len > CONFIG_MAX_IDS)
		return fail(ld, s, -EINVAL, "'%s' has more than %d entries", key, CONFIG_MAX_IDS);
	for (int i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		const config_setting_t *at = setting_line(e) > 0 ? e : s;
		long long v;

		if (!is_int(e))
			return fail(ld, at, -EINVAL, "'%s' must be an array of integers", key);
		v = config_setting_get_int64(e);
		if (v < 0 || v > ID_MAX)
			return fail(ld, at, -EINVAL, "'%s' entry %lld must be between 0 and %lld",
				    key, v, ID_MAX);
		ids[i] = (uint32_t)v;
	}
	*n = (size_t)len;
	return 0;
}

/* One entry of labels: key, and optional uids, gids and values. */
static int load_label(const loader_t *ld, config_setting_t *g, config_label_t *l)
{
	config_setting_t *s = NULL, *v;
	sg_label_t probe;
	const char *key = NULL;
	int rc, n;

	if (!config_setting_is_group(g))
		return fail(ld, g, -EINVAL, "each entry of 'labels' must be a group");
	if ((rc = check_keys(ld, g, label_keys, "labels: ")) < 0 ||
	    (rc = get_string(ld, g, "key", "'labels.key'", &key, &s)) < 0)
		return rc;
	if (!key)
		return fail(ld, g, -EINVAL, "an entry of 'labels' has no 'key'");
	if (strlen(key) > SG_PROTO_MAX_KEY || sg_proto_valid_name(key) < 0)
		return fail(ld, s, -EINVAL, "label key '%s' is not [A-Za-z0-9_.-]{1,%u}", key,
			    SG_PROTO_MAX_KEY);
	if (strncmp(key, "sysgate.", 8) == 0)
		return fail(ld, s, -EINVAL, "label key '%s': keys under 'sysgate.' are set by "
			    "sysgated alone", key);
	snprintf(l->key, sizeof(l->key), "%s", key);
	if ((rc = load_ids(ld, g, "uids", l->uids, &l->nuids, false)) < 0 ||
	    (rc = load_ids(ld, g, "gids", l->gids, &l->ngids, false)) < 0)
		return rc;
	v = config_setting_get_member(g, "values");
	if (!v)
		return 0;
	if (!config_setting_is_array(v) && !config_setting_is_list(v))
		return fail(ld, v, -EINVAL, "'labels.values' must be an array of strings");
	n = config_setting_length(v);
	if (n < 1 || n > CONFIG_MAX_LABEL_VALUES)
		return fail(ld, v, -EINVAL, "'labels.values' must have 1 to %d entries",
			    CONFIG_MAX_LABEL_VALUES);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(v, (unsigned int)i);
		const char *val = config_setting_get_string(e);
		char kv[SG_PROTO_MAX_KEY + SG_PROTO_MAX_VALUE + 2];

		snprintf(kv, sizeof(kv), "k=%s", val ? val : "");
		if (!val || sg_proto_parse_label(kv, &probe) < 0)
			return fail(ld, v, -EINVAL, "'labels.values' entries must be printable "
				    "ASCII strings of 1 to %u bytes", SG_PROTO_MAX_VALUE);
		snprintf(l->values[i], sizeof(l->values[i]), "%s", val);
	}
	l->nvalues = (size_t)n;
	return 0;
}

/* labels: the owners of label keys (config.h). */
static int load_labels(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = config_setting_get_member(root, "labels");
	int n, rc;

	if (!s)
		return 0;
	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return fail(ld, s, -EINVAL, "'labels' must be a list of groups");
	n = config_setting_length(s);
	if (n > CONFIG_MAX_LABEL_RULES)
		return fail(ld, s, -EINVAL, "'labels' has more than %d entries", CONFIG_MAX_LABEL_RULES);
	ld->out->labels_set = true;
	if (n == 0)
		return 0;
	ld->out->labels = calloc((size_t)n, sizeof(*ld->out->labels));
	if (!ld->out->labels)
		return fail(ld, s, -ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		rc = load_label(ld, config_setting_get_elem(s, (unsigned int)i), &ld->out->labels[i]);
		if (rc < 0)
			return rc;
		ld->out->nlabels++;
	}
	return 0;
}

static int load_log(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = NULL;
	const char *v = "-";
	int rc = get_string(ld, root, "log", "'log'", &v, &s);

	if (rc < 0)
		return rc;
	if (strcmp(v, "-") == 0) {
		snprintf(ld->out->log, sizeof(ld->out->log), "-");
		return 0;
	}
	return resolve_path(ld, s, "'log'", v, ld->out->log, sizeof(ld->out->log));
}

/*
 * learn_dir: where learn mode writes the policies it generates. What is
 * written there is later loaded as a policy, so the directory must be the
 * supervisor's alone: it exists, is a directory, belongs to root or the
 * supervisor's uid, and no one else may write to it.
 */
/* launchers_may_be_filtered: a boolean, false unless given (accept.c). */
static int load_launchers_filtered(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = config_setting_get_member(root, "launchers_may_be_filtered");

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(ld, s, -EINVAL, "'launchers_may_be_filtered' must be true or false");
	ld->out->launchers_may_be_filtered = config_setting_get_bool(s) != 0;
	return 0;
}

static int load_learn_dir(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = NULL;
	const char *v = NULL;
	struct stat st;
	int rc = get_string(ld, root, "learn_dir", "'learn_dir'", &v, &s);

	if (rc <= 0)
		return rc;
	rc = resolve_path(ld, s, "'learn_dir'", v, ld->out->learn_dir, sizeof(ld->out->learn_dir));
	if (rc < 0)
		return rc;
	if (stat(ld->out->learn_dir, &st) < 0) {
		int e = errno;

		return fail(ld, s, -e, "'learn_dir': %s: %s", ld->out->learn_dir, strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return fail(ld, s, -ENOTDIR, "'learn_dir': %s is not a directory", ld->out->learn_dir);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return fail(ld, s, -EPERM,
			    "'learn_dir': %s must belong to root or uid %u and be writable by its "
			    "owner alone (it is uid %u, mode %04o)", ld->out->learn_dir,
			    (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* A fallback verdict: deny, deny:ENAME or kill. prefix names the policy. */
static int parse_fallback(const loader_t *ld, const config_setting_t *s, const char *prefix,
			  const char *text, verdict_t *v)
{
	if (strncmp(text, "deny:", 5) == 0 && verdict_parse(text, v) < 0)
		return fail(ld, s, -EINVAL, "%s'fallback': unknown errno name '%s'", prefix, text + 5);
	if (verdict_parse(text, v) < 0)
		return fail(ld, s, -EINVAL,
			    "%s'fallback' must be \"deny\", \"deny:ENAME\" or \"kill\", not '%s'",
			    prefix, text);
	if (v->kind == VERDICT_ALLOW)
		return fail(ld, s, -EINVAL,
			    "%s'fallback' cannot be \"allow\": a failing handler must not allow the call",
			    prefix);
	return 0;
}

static int load_fallback(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = NULL;
	const char *v = "deny:EPERM";
	int rc = get_string(ld, root, "fallback", "'fallback'", &v, &s);

	if (rc < 0)
		return rc;
	return parse_fallback(ld, s, "", v, &ld->out->fallback);
}

/* One rate (0: unlimited) and its burst (default: LOG_DEFAULT_BURST_FACTOR
 * seconds of the rate) of the log_limits group. */
static int load_log_rate(const loader_t *ld, const config_setting_t *g, const char *which,
			 uint32_t *rate, uint32_t *burst)
{
	char key[32], what[48];
	long long v;
	int rc;

	snprintf(key, sizeof(key), "%s_rate", which);
	snprintf(what, sizeof(what), "'log_limits.%s'", key);
	if ((rc = get_int_range(ld, g, key, what, 0, 1000000, &v)) < 0)
		return rc;
	if (rc)
		*rate = (uint32_t)v;
	*burst = *rate * LOG_DEFAULT_BURST_FACTOR;
	snprintf(key, sizeof(key), "%s_burst", which);
	snprintf(what, sizeof(what), "'log_limits.%s'", key);
	if ((rc = get_int_range(ld, g, key, what, 1, 100000000, &v)) < 0)
		return rc;
	if (rc)
		*burst = (uint32_t)v;
	return 0;
}

/* broker_timeout_ms: how long a brokered open may take before its call
 * is answered EINTR (broker.c). */
static int load_broker_timeout(const loader_t *ld, const config_setting_t *root)
{
	long long v;
	int rc = get_int_range(ld, root, "broker_timeout_ms", "'broker_timeout_ms'", 10, 3600000, &v);

	ld->out->broker_timeout_ms = rc > 0 ? (uint32_t)v : CONFIG_BROKER_TIMEOUT_MS;
	return rc < 0 ? rc : 0;
}

static int load_log_limits(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *g = config_setting_get_member(root, "log_limits");
	log_limits_t *l = &ld->out->log_limits;
	long long v;
	int rc;

	l->target_rate = LOG_DEFAULT_TARGET_RATE;
	l->global_rate = LOG_DEFAULT_GLOBAL_RATE;
	l->target_burst = l->target_rate * LOG_DEFAULT_BURST_FACTOR;
	l->global_burst = l->global_rate * LOG_DEFAULT_BURST_FACTOR;
	l->handshake_rate = LOG_DEFAULT_HANDSHAKE_RATE;
	l->handshake_burst = l->handshake_rate * LOG_DEFAULT_BURST_FACTOR;
	l->report_ms = LOG_DEFAULT_REPORT_MS;
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return fail(ld, g, -EINVAL, "'log_limits' must be a group");
	if ((rc = check_keys(ld, g, log_limit_keys, "log_limits: ")) < 0 ||
	    (rc = load_log_rate(ld, g, "target", &l->target_rate, &l->target_burst)) < 0 ||
	    (rc = load_log_rate(ld, g, "global", &l->global_rate, &l->global_burst)) < 0 ||
	    (rc = load_log_rate(ld, g, "handshake", &l->handshake_rate, &l->handshake_burst)) < 0)
		return rc;
	if ((rc = get_int_range(ld, g, "report_ms", "'log_limits.report_ms'", 100, 3600000, &v)) < 0)
		return rc;
	if (rc)
		l->report_ms = (uint32_t)v;
	return 0;
}

/* tenants: the quotas of each launcher uid but root. */
static int load_tenants(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *g = config_setting_get_member(root, "tenants");
	tenant_limits_t *l = &ld->out->tenants;
	config_setting_t *s;
	long long v;
	int rc;

	l->targets = TENANT_DEFAULT_TARGETS;
	l->learn_targets = TENANT_DEFAULT_LEARN_TARGETS;
	l->learn_bytes = TENANT_DEFAULT_LEARN_BYTES;
	l->learn_files = TENANT_DEFAULT_LEARN_FILES;
	l->handshakes = TENANT_DEFAULT_HANDSHAKES;
	l->root_handshakes = TENANT_DEFAULT_ROOT_HANDSHAKES;
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return fail(ld, g, -EINVAL, "'tenants' must be a group");
	if ((rc = check_keys(ld, g, tenant_keys, "tenants: ")) < 0)
		return rc;
	if ((rc = get_int_range(ld, g, "targets", "'tenants.targets'", 1, 65536, &v)) < 0)
		return rc;
	if (rc)
		l->targets = (uint32_t)v;
	if ((rc = get_int_range(ld, g, "learn_targets", "'tenants.learn_targets'", 0, 65536, &v)) < 0)
		return rc;
	if (rc)
		l->learn_targets = (uint32_t)v;
	if ((rc = get_int_range(ld, g, "learn_bytes", "'tenants.learn_bytes'", 0, 1LL << 40, &v)) < 0)
		return rc;
	if (rc)
		l->learn_bytes = (uint64_t)v;
	if ((rc = get_int_range(ld, g, "learn_files", "'tenants.learn_files'", 0, 1 << 24, &v)) < 0)
		return rc;
	if (rc)
		l->learn_files = (uint32_t)v;
	/* Root's share first: the other uids' share is what it leaves. */
	if ((rc = get_int_range(ld, g, "root_handshakes", "'tenants.root_handshakes'", 1,
				CONFIG_HANDSHAKES_MAX - 1, &v)) < 0)
		return rc;
	if (rc)
		l->root_handshakes = (uint32_t)v;
	if ((rc = get_int_range(ld, g, "handshakes", "'tenants.handshakes'", 1, CONFIG_HANDSHAKES_MAX,
				&v)) < 0)
		return rc;
	if (rc)
		l->handshakes = (uint32_t)v;
	if (l->handshakes > CONFIG_HANDSHAKES_MAX - l->root_handshakes) {
		s = config_setting_get_member(g, rc ? "handshakes" : "root_handshakes");
		return fail(ld, s ? s : g, -EINVAL,
			    "'tenants.handshakes' (%u) must be at most %u - 'tenants.root_handshakes' "
			    "(%u): the handshakes root keeps are not another uid's",
			    (unsigned)l->handshakes, CONFIG_HANDSHAKES_MAX, (unsigned)l->root_handshakes);
	}
	return 0;
}

/* "A.B.C.D:PORT" or "[V6]:PORT" into out, the port (0..65535) into
 * *port; false when the text is neither. */
static bool parse_hostport(const char *text, struct sockaddr_storage *out, socklen_t *len,
			   unsigned long *port)
{
	const char *colon = strrchr(text, ':');
	bool v6 = text[0] == '[';
	char host[64], *end;
	size_t hlen;

	if (!colon || !colon[1] || colon[1] < '0' || colon[1] > '9')
		return false;
	hlen = (size_t)(colon - text);
	if (v6 && (hlen < 3 || text[hlen - 1] != ']'))
		return false;
	if (v6)
		text++, hlen -= 2;
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	errno = 0;
	*port = strtoul(colon + 1, &end, 10);
	if (errno || *end || *port > 65535)
		return false;
	memset(out, 0, sizeof(*out));
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)*port);
		*len = sizeof(*a6);
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;

	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)*port);
	*len = sizeof(*a4);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/*
 * The metrics endpoint answers anyone who can connect, without
 * authentication, and tells which policies run and what they decide: it
 * listens on a loopback address only. A host that scrapes from elsewhere
 * puts a proxy with authentication in front of it.
 */
/* metrics_listen as a path: a unix socket, whose file's mode and group
 * say who may connect (metrics_socket_mode, metrics_socket_gid). */
static int load_metrics_socket(const loader_t *ld, const config_setting_t *s, const char *v)
{
	sg_config_t *c = ld->out;
	struct sockaddr_un *a = (struct sockaddr_un *)&c->metrics_addr;
	size_t n = strlen(v);

	if (n >= sizeof(a->sun_path))
		return fail(ld, s, -ENAMETOOLONG, "'metrics_listen': path '%s' is too long (at most %zu bytes)",
			    v, sizeof(a->sun_path) - 1);
	if (strcmp(v, c->socket) == 0)
		return fail(ld, s, -EINVAL, "'metrics_listen' is the path of 'socket'");
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, v, n + 1);
	c->metrics_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s", v);
	c->metrics_line = setting_line(s);
	return 0;
}

static int load_metrics(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = NULL;
	const char *v = NULL;
	sg_config_t *c = ld->out;
	unsigned long port;
	int rc = get_string(ld, root, "metrics_listen", "'metrics_listen'", &v, &s);

	if (rc <= 0)
		return rc;
	if (v[0] == '/')
		return load_metrics_socket(ld, s, v);
	if (strlen(v) >= sizeof(c->metrics_listen) ||
	    !parse_hostport(v, &c->metrics_addr, &c->metrics_addrlen, &port))
		return fail(ld, s, -EINVAL,
			    "'metrics_listen' must be an address and a port such as "
			    "\"127.0.0.1:9469\" or \"[::1]:9469\", not '%s'", v);
	if (port == 0)
		return fail(ld, s, -EINVAL, "'metrics_listen': the port must be between 1 and 65535");
	if (!is_loopback(&c->metrics_addr))
		return fail(ld, s, -EINVAL,
			    "'metrics_listen': '%s' is not a loopback address; the endpoint has no "
			    "authentication, so it listens on 127.0.0.0/8 or [::1] only", v);
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s", v);
	c->metrics_line = setting_line(s);
	return 0;
}

/* metrics_socket_mode and metrics_socket_gid: for a unix socket only. */
static int load_metrics_socket_access(const loader_t *ld, const config_setting_t *root)
{
	sg_config_t *c = ld->out;
	config_setting_t *mode = config_setting_get_member(root, "metrics_socket_mode");
	config_setting_t *gid = config_setting_get_member(root, "metrics_socket_gid");
	long long v;
	int rc;

	c->metrics_socket_gid = (gid_t)-1;
	if (c->metrics_listen[0] != '/' && (mode || gid))
		return fail(ld, mode ? mode : gid, -EINVAL,
			    "'%s' is for a unix socket: 'metrics_listen' is not a path",
			    mode ? "metrics_socket_mode" : "metrics_socket_gid");
	if ((rc = load_a_socket_mode(ld, root, "metrics_socket_mode", &c->metrics_socket_mode)) < 0)
		return rc;
	if ((rc = get_int_range(ld, root, "metrics_socket_gid", "'metrics_socket_gid'", 0, ID_MAX,
				&v)) < 0)
		return rc;
	if (rc)
		c->metrics_socket_gid = (gid_t)v;
	return 0;
}

/*
 * What one client may hold of the endpoint. Every local user can connect
 * to a loopback port, and all of them come from 127.0.0.1 (or any
 * 127.0.0.0/8 address they choose): the share is per uid, which the
 * endpoint learns from the kernel (metrics_http.c), and one uid's share
 * is below the whole so that another uid always finds a connection.
 */
static int load_metrics_limits(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *g = config_setting_get_member(root, "metrics_limits");
	metrics_limits_t *l = &ld->out->metrics_limits;
	long long v;
	int rc;

	l->connections = METRICS_DEFAULT_CONNECTIONS;
	l->per_uid = METRICS_DEFAULT_PER_UID;
	l->timeout_s = METRICS_DEFAULT_TIMEOUT_S;
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return fail(ld, g, -EINVAL, "'metrics_limits' must be a group");
	if ((rc = check_keys(ld, g, metrics_limit_keys, "metrics_limits: ")) < 0)
		return rc;
	if ((rc = get_int_range(ld, g, "connections", "'metrics_limits.connections'", 2,
				METRICS_MAX_CONNECTIONS, &v)) < 0)
		return rc;
	if (rc)
		l->connections = (uint32_t)v;
	if ((rc = get_int_range(ld, g, "timeout_s", "'metrics_limits.timeout_s'", 1, 600, &v)) < 0)
		return rc;
	if (rc)
		l->timeout_s = (uint32_t)v;
	if ((rc = get_int_range(ld, g, "per_uid", "'metrics_limits.per_uid'", 1,
				METRICS_MAX_CONNECTIONS, &v)) < 0)
		return rc;
	if (rc)
		l->per_uid = (uint32_t)v;
	if (l->per_uid >= l->connections)
		return fail(ld, config_setting_get_member(g, rc ? "per_uid" : "connections"), -EINVAL,
			    "'metrics_limits.per_uid' (%u) must be below 'metrics_limits.connections' "
			    "(%u): one uid must not hold every connection", l->per_uid, l->connections);
	return 0;
}

static int load_metrics_uids(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = config_setting_get_member(root, "metrics_allow_uids");
	int rc = load_ids(ld, root, "metrics_allow_uids", ld->out->metrics_uids,
			  &ld->out->n_metrics_uids, false);

	if (rc < 0)
		return rc;
	if (s && ld->out->n_metrics_uids == 0)
		return fail(ld, s, -EINVAL, "'metrics_allow_uids' is empty: name at least one uid, "
			    "or leave the key out to serve any uid");
	return 0;
}

static int load_lua(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *g = config_setting_get_member(root, "lua");
	policy_limits_t *l = &ld->out->limits;
	long long v, total_max = LUA_TOTAL_MAX;
	int rc;

	l->instructions = POLICY_DEFAULT_INSTRUCTIONS;
	l->memory = POLICY_DEFAULT_MEMORY;
	l->time_ms = POLICY_DEFAULT_TIME_MS;
	l->memory_total = POLICY_DEFAULT_MEMORY_TOTAL;
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return fail(ld, g, -EINVAL, "'lua' must be a group");
	if ((rc = check_keys(ld, g, lua_keys, "lua: ")) < 0)
		return rc;
	if ((rc = get_int_range(ld, g, "instructions", "'lua.instructions'",
				LUA_INSTR_MIN, LUA_INSTR_MAX, &v)) < 0)
		return rc;
	if (rc)
		l->instructions = (uint64_t)v;
	if ((rc = get_int_range(ld, g, "memory", "'lua.memory'", LUA_MEM_MIN, LUA_MEM_MAX, &v)) < 0)
		return rc;
	if (rc)
		l->memory = (size_t)v;
	if ((rc = get_int_range(ld, g, "time_ms", "'lua.time_ms'", LUA_TIME_MIN, LUA_TIME_MAX, &v)) < 0)
		return rc;
	if (rc)
		l->time_ms = (uint32_t)v;
	if ((uint64_t)total_max > SIZE_MAX)
		total_max = (long long)SIZE_MAX;
	if ((rc = get_int_range(ld, g, "memory_total", "'lua.memory_total'",
				(long long)l->memory, total_max, &v)) < 0)
		return rc;
	if (rc)
		l->memory_total = (size_t)v;
	else if (l->memory_total < l->memory)
		l->memory_total = l->memory; /* a larger per-call cap raises the default total */
	return 0;
}

/* The policy file must open for reading and be a regular file. O_NONBLOCK
 * so a FIFO named by mistake does not hang start-up. */
/*
 * Config and policy files decide what every target may do, so only their
 * owner may change them: the file must belong to root or to the
 * supervisor's uid and not be writable by others, and its directory must
 * not let others replace it (writable by others without the sticky bit).
 * Returns NULL, or why the file is not trusted (in buf).
 */
static const char *untrusted(const char *path, const struct stat *st, char *buf, size_t len)
{
	char dir[PATH_MAX];
	struct stat ds;

	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(buf, len, "it belongs to uid %u, not to root or the supervisor's uid %u",
			 (unsigned)st->st_uid, (unsigned)geteuid());
		return buf;
	}
	if (st->st_mode & S_IWOTH) {
		snprintf(buf, len, "it is writable by others (mode %04o)", (unsigned)(st->st_mode & 07777));
		return buf;
	}
	path_dir(path, dir, sizeof(dir));
	if (stat(dir, &ds) == 0 && (ds.st_mode & S_IWOTH) && !(ds.st_mode & S_ISVTX)) {
		snprintf(buf, len, "its directory %s is writable by others", dir);
		return buf;
	}
	return NULL;
}

static int check_policy_file(const loader_t *ld, const config_setting_t *entry,
			     const config_policy_t *p)
{
	struct stat st;
	const char *why = NULL;
	char buf[PATH_MAX + 128];
	int rc = 0, fd = open(p->file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0)
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		rc = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL, why = "not a regular file";
	else if ((why = untrusted(p->file, &st, buf, sizeof(buf))))
		rc = -EPERM;
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		rc = fail(ld, entry, rc, "policy '%s': cannot read '%s': %s", p->name, p->file,
		     why ? why : strerror(-rc));
	return rc;
}

static int load_policy_name(const loader_t *ld, const config_setting_t *entry, size_t idx,
			    config_policy_t *p)
{
	config_setting_t *s = NULL;
	const char *v = NULL;
	char what[48];
	int rc;

	snprintf(what, sizeof(what), "policies entry %zu: 'name'", idx + 1);
	rc = get_string(ld, entry, "name", what, &v, &s);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return fail(ld, entry, -EINVAL, "policies entry %zu: missing 'name'", idx + 1);
	if (!valid_name(v))
		return fail(ld, s, -EINVAL,
			    "policy name '%s' is not valid: use 1 to %u of A-Z a-z 0-9 _ . -",
			    v, SG_PROTO_MAX_NAME);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(ld->out->policies[i].name, v) == 0)
			return fail(ld, s, -EINVAL, "duplicate policy name '%s' (first at line %d)",
				    v, ld->out->policies[i].line);
	snprintf(p->name, sizeof(p->name), "%s", v);
	return 0;
}

/* The protocol's mode names, kept here like its name rule (valid_name). */
static int parse_mode(const char *s)
{
	static const char *const names[] = { "enforce", "audit", "learn" };

	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return SG_MODE_ENFORCE + i;
	return -EINVAL;
}

/*
 * modes = [ "enforce", "audit", "learn" ]: what a target may ask for with
 * sysgate-run --mode. Audit and learn mode deny nothing, so the right to
 * ask for them is the config's to give, policy by policy; without the key
 * a target gets the policy's own mode and nothing else.
 */
static int load_policy_modes(const loader_t *ld, const config_setting_t *entry, config_policy_t *p)
{
	config_setting_t *s = config_setting_get_member(entry, "modes");
	int len;

	if (!s)
		return 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(ld, s, -EINVAL, "policy '%s': 'modes' must be an array of strings", p->name);
	len = config_setting_length(s);
	for (int i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		const config_setting_t *at = setting_line(e) > 0 ? e : s;
		const char *v = config_setting_get_string(e);
		int m = v ? parse_mode(v) : -EINVAL;

		if (m < 0)
			return fail(ld, at, -EINVAL,
				    "policy '%s': 'modes' entries must be \"enforce\", \"audit\" or "
				    "\"learn\"%s%s%s", p->name, v ? ", not '" : "", v ? v : "", v ? "'" : "");
		if (p->modes & CONFIG_MODE_BIT(m))
			return fail(ld, at, -EINVAL, "policy '%s': mode '%s' is named twice in 'modes'",
				    p->name, v);
		p->modes |= CONFIG_MODE_BIT(m);
	}
	if ((p->modes & CONFIG_MODE_BIT(SG_MODE_LEARN)) && !ld->out->learn_dir[0])
		return fail(ld, s, -EINVAL, "policy '%s': 'modes' allows \"learn\" but the config "
			    "sets no 'learn_dir'", p->name);
	return 0;
}

static int load_policy(const loader_t *ld, const config_setting_t *entry, size_t idx)
{
	config_policy_t *p = &ld->out->policies[idx];
	config_setting_t *s = NULL;
	const char *v = NULL;
	char what[SG_PROTO_MAX_NAME + 32];
	int rc;

	if (!config_setting_is_group(entry))
		return fail(ld, entry, -EINVAL, "'policies' must be a list of groups");
	p->line = setting_line(entry);
	if ((rc = load_policy_name(ld, entry, idx, p)) < 0)
		return rc;
	snprintf(what, sizeof(what), "policy '%s': ", p->name);
	if ((rc = check_keys(ld, entry, policy_keys, what)) < 0)
		return rc;
	snprintf(what, sizeof(what), "policy '%s': 'file'", p->name);
	if ((rc = get_string(ld, entry, "file", what, &v, &s)) < 0)
		return rc;
	if (rc == 0)
		return fail(ld, entry, -EINVAL, "policy '%s': missing 'file'", p->name);
	if ((rc = resolve_path(ld, s, what, v, p->file, sizeof(p->file))) < 0)
		return rc;
	p->fallback = ld->out->fallback;
	snprintf(what, sizeof(what), "policy '%s': 'fallback'", p->name);
	if ((rc = get_string(ld, entry, "fallback", what, &v, &s)) < 0)
		return rc;
	snprintf(what, sizeof(what), "policy '%s': ", p->name);
	if (rc && (rc = parse_fallback(ld, s, what, v, &p->fallback)) < 0)
		return rc;
	if ((rc = load_policy_modes(ld, entry, p)) < 0)
		return rc;
	return check_policy_file(ld, entry, p);
}

static int load_policies(const loader_t *ld, const config_setting_t *root)
{
	config_setting_t *s = config_setting_get_member(root, "policies");
	int len, rc;

	if (!s)
		return fail(ld, NULL, -EINVAL, "missing 'policies': name at least one policy");
	if (!config_setting_is_list(s))
		return fail(ld, s, -EINVAL, "'policies' must be a list of groups");
	len = config_setting_length(s);
	if (len == 0)
		return fail(ld, s, -EINVAL, "'policies' is empty: name at least one policy");
	if (len > CONFIG_MAX_POLICIES)
		return fail(ld, s, -EINVAL, "'policies' has more than %d entries", CONFIG_MAX_POLICIES);
	ld->out->policies = calloc((size_t)len, sizeof(*ld->out->policies));
	if (!ld->out->policies)
		return fail(ld, NULL, -ENOMEM, "out of memory");
	for (int i = 0; i < len; i++) {
		rc = load_policy(ld, config_setting_get_elem(s, (unsigned int)i), (size_t)i);
		if (rc < 0)
			return rc;
		ld->out->npolicies = (size_t)i + 1;
	}
	return 0;
}

/* Reads the whole config (a regular file, at most CONFIG_MAX_BYTES) into a
 * NUL-terminated buffer the caller frees, or returns NULL with the negative
 * errno in *rc_out. (Returning the buffer, not 0, also lets the static
 * analysers see that a caller never goes on without one: they cannot know
 * that errno is set when open() fails.) */
static char *read_config(const loader_t *ld, size_t *out_len, int *rc_out)
{
	char why[PATH_MAX + 128];
	struct stat st;
	size_t len = 0;
	char *buf = NULL, *text = NULL;
	bool reported = false;
	int rc = 0, fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX_BYTES) {
		rc = fail(ld, NULL, -EINVAL, "not a regular file of at most %u bytes",
			  CONFIG_MAX_BYTES);
		reported = true;
		goto out;
	}
	if (untrusted(ld->path, &st, why, sizeof(why))) {
		rc = fail(ld, NULL, -EPERM, "not trusted: %s", why);
		reported = true;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break; /* truncated meanwhile: parse what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	text = buf;
	*out_len = len;
	buf = NULL;
out:
	if (!text && !reported)
		sg_error_set(ld->err, ld->path, 0, "cannot read the config: %s", strerror(-rc));
	if (fd >= 0)
		close(fd);
	free(buf);
	*rc_out = text ? 0 : rc;
	return text;
}

/* libconfig stops at a NUL and would silently ignore the rest. */
static int check_nul(const loader_t *ld, const char *text, size_t len)
{
	size_t n = strnlen(text, len);
	int line = 1;

	if (n == len)
		return 0;
	for (size_t i = 0; i < n; i++)
		line += text[i] == '\n';
	return fail_line(ld, line, -EINVAL, "the config contains a NUL byte");
}

static int resolve_dir(loader_t *ld)
{
	char copy[PATH_MAX];
	int e;

	snprintf(copy, sizeof(copy), "%s", ld->path);
	if (realpath(dirname(copy), ld->dir))
		return 0;
	e = errno;
	return fail(ld, NULL, -e, "cannot resolve the config's directory: %s", strerror(e));
}

/*
 * libconfig 1.5 stores an integer literal without the L suffix in an int
 * and silently truncates it: "allow_uids = [ 4294967296 ]" would read as
 * uid 0. Its parser cannot tell us, so scan the text for such literals
 * first and refuse them. The scan also refuses @include, so a config is
 * always one file whose lines the errors can name.
 */
static const char *scan_skip(const char *p, const char *stop, int *line)
{
	size_t n = strlen(stop);

	while (*p && strncmp(p, stop, n) != 0) {
		if (*p == '\n')
			(*line)++;
		/* Inside a string an escaped quote does not end it. */
		if (*p == '\\' && stop[0] == '"' && p[1])
			p++;
		p++;
	}
	return *p ? p + n : p;
}

static bool scan_digit(char c, bool hex)
{
	return (c >= '0' && c <= '9') ||
	       (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

/* p is at a number; checks it and returns the first byte after it. */
static const char *scan_number(const loader_t *ld, const char *p, int line, int *rc)
{
	const char *start = p;
	bool hex, is_float = false;
	char lit[64];
	long long v;

	if (*p == '+' || *p == '-')
		p++;
	hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	if (hex)
		p += 2;
	for (; scan_digit(*p, hex) || (!hex && (*p == '.' || *p == 'e' || *p == 'E')); p++) {
		if (!hex && (*p == '.' || *p == 'e' || *p == 'E'))
			is_float = true;
		if (!hex && (*p == 'e' || *p == 'E') && (p[1] == '+' || p[1] == '-'))
			p++;
	}
	if (is_float || *p == 'L')
		return p;
	snprintf(lit, sizeof(lit), "%.*s", (int)(p - start), start);
	errno = 0;
	v = strtoll(lit, NULL, hex ? 16 : 10);
	if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
		*rc = fail_line(ld, line, -EINVAL, "integer %s does not fit 32 bits: write it as %sL",
				lit, lit);
	return p;
}

static bool scan_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '*' || c == '-';
}

static int scan_text(const loader_t *ld, const char *p)
{
	int line = 1, rc = 0;

	while (*p && rc == 0) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p = scan_skip(p, "\n", &line);
			line++;
		} else if (p[0] == '/' && p[1] == '*') {
			p = scan_skip(p + 2, "*/", &line);
		} else if (*p == '"') {
			p = scan_skip(p + 1, "\"", &line);
		} else if (strncmp(p, "@include", 8) == 0) {
			rc = fail_line(ld, line, -EINVAL,
				       "'@include' is not supported: keep the config in one file");
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '*') {
			while (scan_ident(*p))
				p++;
		} else if (scan_digit(*p, false) ||
			   ((*p == '+' || *p == '-') && scan_digit(p[1], false))) {
			p = scan_number(ld, p, line, &rc);
		} else {
			p++;
		}
	}
	return rc;
}

static int load_root(const loader_t *ld, const config_setting_t *root)
{
	int rc;

	if ((rc = check_keys(ld, root, top_keys, "")) < 0 ||
	    (rc = load_socket(ld, root)) < 0 ||
	    (rc = load_socket_mode(ld, root)) < 0 ||
	    (rc = load_ids(ld, root, "allow_uids", ld->out->allow_uids,
			   &ld->out->n_allow_uids, true)) < 0 ||
	    (rc = load_ids(ld, root, "allow_gids", ld->out->allow_gids,
			   &ld->out->n_allow_gids, false)) < 0 ||
	    (rc = load_log(ld, root)) < 0 ||
	    (rc = load_log_limits(ld, root)) < 0 ||
	    (rc = load_tenants(ld, root)) < 0 ||
	    (rc = load_labels(ld, root)) < 0 ||
	    (rc = load_fallback(ld, root)) < 0 ||
	    (rc = load_lua(ld, root)) < 0 ||
	    (rc = load_metrics(ld, root)) < 0 ||
	    (rc = load_metrics_socket_access(ld, root)) < 0 ||
	    (rc = load_metrics_limits(ld, root)) < 0 ||
	    (rc = load_metrics_uids(ld, root)) < 0 ||
	    (rc = load_learn_dir(ld, root)) < 0 ||
	    (rc = load_launchers_filtered(ld, root)) < 0 ||
	    (rc = load_broker_timeout(ld, root)) < 0)
		return rc;
	return load_policies(ld, root);
}

int config_load(const char *path, sg_config_t *out, sg_error_t *err)
{
	loader_t ld = { .path = path, .err = err, .out = out };
	config_t lc;
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (snprintf(out->path, sizeof(out->path), "%s", path) >= (int)sizeof(out->path)) {
		sg_error_set(err, path, 0, "the config's path is too long");
		return -ENAMETOOLONG;
	}
	if (!(text = read_config(&ld, &len, &rc)))
		return rc;
	if ((rc = check_nul(&ld, text, len)) < 0 || (rc = resolve_dir(&ld)) < 0 ||
	    (rc = scan_text(&ld, text)) < 0) {
		free(text);
		return rc;
	}
	config_init(&lc);
	if (!config_read_string(&lc, text)) {
		sg_error_set(err, config_error_file(&lc) ? config_error_file(&lc) : path,
			     config_error_line(&lc), "%s", config_error_text(&lc));
		rc = -EINVAL;
	} else {
		rc = load_root(&ld, config_root_setting(&lc));
	}
	config_destroy(&lc);
	free(text);
	if (rc < 0) {
		config_free(out);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

void config_free(sg_config_t *c)
{
	if (!c)
		return;
	free(c->policies);
	c->policies = NULL;
	c->npolicies = 0;
	free(c->labels);
	c->labels = NULL;
	c->nlabels = 0;
}
