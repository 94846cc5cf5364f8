/*
 * api_objects: JSON decoding and validation of Node, Pod, Service,
 * Endpoints, Deployment and Lease.
 *
 * Validation walks the document with a field path that grows and shrinks
 * as it descends (metadata.labels, spec.containers[0].ports[1].containerPort)
 * so every error names the field in the API's own notation. The first error
 * wins and later checks become no-ops, which keeps each validator a flat
 * list of checks instead of a ladder of early returns.
 *
 * The rules are the API server's where sluice depends on them: DNS-1123
 * names and labels, DNS-1035 Service names, qualified label keys, IANA
 * service port names, 1..65535 ports, TCP/UDP/SCTP, IP and CIDR syntax,
 * enum fields, and a Deployment's selector matching its template's labels.
 */
#include "api_objects.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_obj {
	enum api_obj_kind kind;
	json_t *root;
	const char *name;
	const char *ns;
	const char *uid;
	int64_t rv;
	const json_t *labels;
};

static const struct {
	const char *name;
	int http;
} api_obj_errs[] = {
#define API_OBJ_ERR_ROW(name, http, str) {str, http},
	API_OBJ_ERRORS(API_OBJ_ERR_ROW)
#undef API_OBJ_ERR_ROW
};

#define API_OBJ_NERRS (sizeof(api_obj_errs) / sizeof(api_obj_errs[0]))

const char *api_obj_strerror(int err)
{
	if (err < 0 || (size_t)err >= API_OBJ_NERRS)
		return "unknown api object error";
	return api_obj_errs[err].name;
}

int api_obj_http_status(int err)
{
	if (err < 0 || (size_t)err >= API_OBJ_NERRS)
		return 500;
	return api_obj_errs[err].http;
}

/* kind, apiVersion, resource (plural, for store keys), namespaced */
static const struct {
	const char *kind;
	const char *api_version;
	const char *resource;
	bool namespaced;
} api_obj_kinds[] = {
	[API_OBJ_NODE] = {"Node", "v1", "nodes", false},
	[API_OBJ_POD] = {"Pod", "v1", "pods", true},
	[API_OBJ_SERVICE] = {"Service", "v1", "services", true},
	[API_OBJ_ENDPOINTS] = {"Endpoints", "v1", "endpoints", true},
	[API_OBJ_DEPLOYMENT] = {"Deployment", "apps/v1", "deployments", true},
	[API_OBJ_LEASE] = {"Lease", "coordination.k8s.io/v1", "leases", true},
};

const char *api_obj_kind_name(enum api_obj_kind kind)
{
	if (kind < API_OBJ_NODE || kind > API_OBJ_KIND_MAX)
		return NULL;
	return api_obj_kinds[kind].kind;
}

const char *api_obj_kind_api_version(enum api_obj_kind kind)
{
	if (kind < API_OBJ_NODE || kind > API_OBJ_KIND_MAX)
		return NULL;
	return api_obj_kinds[kind].api_version;
}

const char *api_obj_kind_resource(enum api_obj_kind kind)
{
	if (kind < API_OBJ_NODE || kind > API_OBJ_KIND_MAX)
		return NULL;
	return api_obj_kinds[kind].resource;
}

int api_obj_kind_namespaced(enum api_obj_kind kind)
{
	return kind >= API_OBJ_NODE && kind <= API_OBJ_KIND_MAX &&
	       api_obj_kinds[kind].namespaced;
}

/* ------------------------------------------------------- walk context */

struct api_obj_ctx {
	struct api_obj_error *err;
	const char *kind;
	const char *name;
	char path[128];
	size_t plen;
	bool failed;
};

static size_t api_obj_push(struct api_obj_ctx *c, const char *key)
{
	size_t mark = c->plen;
	int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s",
			 c->plen ? "." : "", key);
	if (n > 0)
		c->plen += (size_t)n;
	if (c->plen >= sizeof(c->path))
		c->plen = sizeof(c->path) - 1;
	return mark;
}

static size_t api_obj_push_idx(struct api_obj_ctx *c, size_t i)
{
	size_t mark = c->plen;
	int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen,
			 "[%zu]", i);
	if (n > 0)
		c->plen += (size_t)n;
	if (c->plen >= sizeof(c->path))
		c->plen = sizeof(c->path) - 1;
	return mark;
}

static void api_obj_pop(struct api_obj_ctx *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = 0;
}

static void api_obj_fail(struct api_obj_ctx *c, int code, const char *fmt,
			 ...) __attribute__((format(printf, 3, 4)));

static void api_obj_fail(struct api_obj_ctx *c, int code, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	if (c->err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	c->err->code = code;
	c->err->status = api_obj_http_status(code);
	snprintf(c->err->field, sizeof(c->err->field), "%s", c->path);
	if (code == API_OBJ_ERR_INVALID)
		snprintf(c->err->errmsg, sizeof(c->err->errmsg),
			 "%s \"%s\" is invalid: %s: %s", c->kind,
			 c->name ? c->name : "", c->path, reason);
	else if (c->plen)
		snprintf(c->err->errmsg, sizeof(c->err->errmsg), "%s: %s",
			 c->path, reason);
	else
		snprintf(c->err->errmsg, sizeof(c->err->errmsg), "%s", reason);
}

#define API_OBJ_INVALID(c, ...) api_obj_fail((c), API_OBJ_ERR_INVALID, __VA_ARGS__)
#define API_OBJ_BAD(c, ...) api_obj_fail((c), API_OBJ_ERR_BAD_REQUEST, __VA_ARGS__)

static const char *api_obj_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/*
 * Member `key` of obj if it has JSON type `type`; NULL if absent or null
 * (the API server treats null as unset). A wrong type is a 400, a missing
 * required member a 422 "Required value", both naming the field.
 */
static json_t *api_obj_get(struct api_obj_ctx *c, const json_t *obj,
			   const char *key, json_type type, bool required)
{
	if (c->failed || obj == NULL)
		return NULL;
	json_t *v = json_object_get(obj, key);
	size_t mark = api_obj_push(c, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			API_OBJ_INVALID(c, "Required value");
		v = NULL;
	} else if (json_typeof(v) != type &&
		   !(type == JSON_TRUE && json_is_boolean(v))) {
		static const char *const names[] = {
			[JSON_OBJECT] = "object", [JSON_ARRAY] = "array",
			[JSON_STRING] = "string", [JSON_INTEGER] = "integer",
			[JSON_TRUE] = "boolean"};
		API_OBJ_BAD(c, "expected %s, got %s", names[type],
			    api_obj_type_name(v));
		v = NULL;
	}
	api_obj_pop(c, mark);
	return v;
}

static const char *api_obj_get_str(struct api_obj_ctx *c, const json_t *obj,
				   const char *key, bool required)
{
	json_t *v = api_obj_get(c, obj, key, JSON_STRING, required);
	return v ? json_string_value(v) : NULL;
}

/* Run check on a present string member; on false report reason. */
static void api_obj_check_str(struct api_obj_ctx *c, const json_t *obj,
			      const char *key, bool required,
			      bool (*check)(const char *), const char *reason)
{
	const char *s = api_obj_get_str(c, obj, key, required);
	if (s == NULL || check(s))
		return;
	size_t mark = api_obj_push(c, key);
	API_OBJ_INVALID(c, "Invalid value: \"%.64s\": %s", s, reason);
	api_obj_pop(c, mark);
}

/* ------------------------------------------------------ format checks */

static bool api_obj_alnum_lower(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static bool api_obj_dns1123_label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	if (!api_obj_alnum_lower(s[0]) || !api_obj_alnum_lower(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!api_obj_alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool api_obj_dns1123_label(const char *s)
{
	return api_obj_dns1123_label_n(s, strlen(s));
}

/* RFC 1123 subdomain: dot-separated labels, at most 253 in total. */
static bool api_obj_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		/* Each part follows the label charset; the API server's regex
		 * does not bound a part at 63, so neither do we. */
		if (len == 0 || !api_obj_alnum_lower(p[0]) ||
		    !api_obj_alnum_lower(p[len - 1]))
			return false;
		for (size_t i = 0; i < len; i++)
			if (!api_obj_alnum_lower(p[i]) && p[i] != '-')
				return false;
		if (dot == NULL)
			return true;
		p = dot + 1;
	}
}

/* RFC 1035 label (Service names): must start with a letter. */
static bool api_obj_dns1035_label(const char *s)
{
	return api_obj_dns1123_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

/* Label name part / value: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? */
static bool api_obj_label_part(const char *s, size_t n, bool allow_empty)
{
	if (n == 0)
		return allow_empty;
	if (n > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return false;
	}
	return true;
}

/* Qualified name: [prefix/]name, prefix a DNS-1123 subdomain. */
static bool api_obj_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	if (slash == NULL)
		return api_obj_label_part(s, strlen(s), false);
	size_t plen = (size_t)(slash - s);
	char prefix[254];
	if (plen == 0 || plen >= sizeof(prefix))
		return false;
	memcpy(prefix, s, plen);
	prefix[plen] = 0;
	return api_obj_dns1123_subdomain(prefix) &&
	       api_obj_label_part(slash + 1, strlen(slash + 1), false);
}

static bool api_obj_label_value(const char *s)
{
	return api_obj_label_part(s, strlen(s), true);
}

static bool api_obj_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Decimal digits that fit an int64 (the store's revision). */
static bool api_obj_parse_rv(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int64_t v = 0;
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		int d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool api_obj_rv(const char *s)
{
	int64_t v;
	return api_obj_parse_rv(s, &v);
}

static bool api_obj_digits(const char *s, size_t n, int lo, int hi, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (out)
		*out = v;
	return v >= lo && v <= hi;
}

/* RFC 3339: 2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm) */
static bool api_obj_rfc3339(const char *s)
{
	size_t n = strlen(s);
	int mon, day;
	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return false;
	if (!api_obj_digits(s, 4, 0, 9999, NULL) ||
	    !api_obj_digits(s + 5, 2, 1, 12, &mon) ||
	    !api_obj_digits(s + 8, 2, 1, 31, &day) ||
	    !api_obj_digits(s + 11, 2, 0, 23, NULL) ||
	    !api_obj_digits(s + 14, 2, 0, 59, NULL) ||
	    !api_obj_digits(s + 17, 2, 0, 60, NULL))
		return false;
	(void)mon;
	(void)day;
	size_t i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return false;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		return i + 1 == n;
	if (i + 6 != n || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
		return false;
	return api_obj_digits(s + i + 1, 2, 0, 23, NULL) &&
	       api_obj_digits(s + i + 4, 2, 0, 59, NULL);
}

static bool api_obj_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

static bool api_obj_cidr(const char *s)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	unsigned char buf[16];
	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return false;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = 0;
	size_t plen = strlen(slash + 1);
	int bits;
	if (plen == 0 || plen > 3 ||
	    !api_obj_digits(slash + 1, plen, 0, 128, &bits))
		return false;
	if (inet_pton(AF_INET, ip, buf) == 1)
		return bits <= 32;
	return inet_pton(AF_INET6, ip, buf) == 1;
}

/* IANA_SVC_NAME: 1..15 of [a-z0-9-], a letter somewhere, no "--",
 * alphanumeric at both ends. */
static bool api_obj_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;
	if (n == 0 || n > 15 || !api_obj_alnum_lower(s[0]) ||
	    !api_obj_alnum_lower(s[n - 1]) || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!api_obj_alnum_lower(s[i]) && s[i] != '-')
			return false;
		letter |= s[i] >= 'a' && s[i] <= 'z';
	}
	return letter;
}

/* Environment variable names: [-._a-zA-Z][-._a-zA-Z0-9]* */
static bool api_obj_env_name(const char *s)
{
	if (s[0] == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return false;
	return true;
}

static bool api_obj_protocol(const char *s)
{
	return !strcmp(s, "TCP") || !strcmp(s, "UDP") || !strcmp(s, "SCTP");
}

/* Is s one of the NULL-terminated list? */
static bool api_obj_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static void api_obj_check_enum(struct api_obj_ctx *c, const json_t *obj,
			       const char *key, const char *const *list)
{
	const char *s = api_obj_get_str(c, obj, key, false);
	if (s == NULL || api_obj_one_of(s, list))
		return;
	size_t mark = api_obj_push(c, key);
	char allowed[160] = "";
	for (const char *const *l = list; *l; l++) {
		size_t n = strlen(allowed);
		snprintf(allowed + n, sizeof(allowed) - n, "%s\"%s\"",
			 n ? ", " : "", *l);
	}
	API_OBJ_INVALID(c, "Unsupported value: \"%.64s\": supported values: %s",
			s, allowed);
	api_obj_pop(c, mark);
}

/* Integer member in [lo, hi]. Returns the value or lo - 1 if absent. */
static long long api_obj_check_int(struct api_obj_ctx *c, const json_t *obj,
				   const char *key, bool required,
				   long long lo, long long hi)
{
	json_t *v = api_obj_get(c, obj, key, JSON_INTEGER, required);
	if (v == NULL)
		return lo - 1;
	long long x = json_integer_value(v);
	if (x < lo || x > hi) {
		size_t mark = api_obj_push(c, key);
		API_OBJ_INVALID(c, "Invalid value: %lld: must be between %lld "
				   "and %lld, inclusive",
				x, lo, hi);
		api_obj_pop(c, mark);
	}
	return x;
}

/* An integer port or an IANA port name (targetPort, maxSurge-style). */
static void api_obj_check_int_or_name(struct api_obj_ctx *c,
				      const json_t *obj, const char *key)
{
	json_t *v = c->failed ? NULL : json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return;
	if (json_is_integer(v)) {
		api_obj_check_int(c, obj, key, false, 1, 65535);
		return;
	}
	if (!json_is_string(v)) {
		size_t mark = api_obj_push(c, key);
		API_OBJ_BAD(c, "expected integer or string, got %s",
			    api_obj_type_name(v));
		api_obj_pop(c, mark);
		return;
	}
	api_obj_check_str(c, obj, key, false, api_obj_port_name,
			  "must be a port number or an IANA service name");
}

/* Percent "25%" or integer >= 0 (rollingUpdate fields). */
static void api_obj_check_int_or_percent(struct api_obj_ctx *c,
					 const json_t *obj, const char *key)
{
	json_t *v = c->failed ? NULL : json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return;
	size_t mark = api_obj_push(c, key);
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			API_OBJ_INVALID(c, "Invalid value: %lld: must be "
					   "greater than or equal to 0",
					(long long)json_integer_value(v));
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		int pct;
		if (n < 2 || n > 4 || s[n - 1] != '%' ||
		    !api_obj_digits(s, n - 1, 0, 100, &pct))
			API_OBJ_INVALID(c, "Invalid value: \"%.16s\": must be "
					   "an integer or a percentage "
					   "(e.g. '5%%')",
					s);
	} else {
		API_OBJ_BAD(c, "expected integer or string, got %s",
			    api_obj_type_name(v));
	}
	api_obj_pop(c, mark);
}

/* Each array element through fn(c, element). */
static void api_obj_each(struct api_obj_ctx *c, const json_t *arr,
			 void (*fn)(struct api_obj_ctx *, const json_t *,
				    void *),
			 void *arg)
{
	size_t i;
	json_t *el;
	json_array_foreach(arr, i, el) {
		if (c->failed)
			return;
		size_t mark = api_obj_push_idx(c, i);
		if (!json_is_object(el))
			API_OBJ_BAD(c, "expected object, got %s",
				    api_obj_type_name(el));
		else
			fn(c, el, arg);
		api_obj_pop(c, mark);
	}
}

/* Array of strings. */
static void api_obj_check_str_array(struct api_obj_ctx *c, const json_t *obj,
				    const char *key, bool (*check)(const char *),
				    const char *reason)
{
	json_t *arr = api_obj_get(c, obj, key, JSON_ARRAY, false);
	size_t i;
	json_t *el;
	if (arr == NULL)
		return;
	size_t mark = api_obj_push(c, key);
	json_array_foreach(arr, i, el) {
		if (c->failed)
			break;
		size_t m2 = api_obj_push_idx(c, i);
		if (!json_is_string(el))
			API_OBJ_BAD(c, "expected string, got %s",
				    api_obj_type_name(el));
		else if (check && !check(json_string_value(el)))
			API_OBJ_INVALID(c, "Invalid value: \"%.64s\": %s",
					json_string_value(el), reason);
		api_obj_pop(c, m2);
	}
	api_obj_pop(c, mark);
}

/* A map of label key -> label value. */
static void api_obj_check_labels(struct api_obj_ctx *c, const json_t *obj,
				 const char *key, bool required)
{
	json_t *m = api_obj_get(c, obj, key, JSON_OBJECT, required);
	const char *k;
	json_t *v;
	if (m == NULL)
		return;
	size_t mark = api_obj_push(c, key);
	if (required && json_object_size(m) == 0)
		API_OBJ_INVALID(c, "Required value: empty");
	json_object_foreach(m, k, v) {
		if (c->failed)
			break;
		if (!api_obj_label_key(k)) {
			API_OBJ_INVALID(c, "Invalid value: \"%.64s\": a "
					   "qualified name must be 63 "
					   "characters or less of "
					   "[-A-Za-z0-9_.], alphanumeric at "
					   "both ends, with an optional DNS "
					   "subdomain prefix and '/'",
					k);
			break;
		}
		size_t m2 = api_obj_push(c, k);
		if (!json_is_string(v))
			API_OBJ_BAD(c, "expected string, got %s",
				    api_obj_type_name(v));
		else if (!api_obj_label_value(json_string_value(v)))
			API_OBJ_INVALID(c, "Invalid value: \"%.64s\": a label "
					   "value must be empty or 63 "
					   "characters or less of "
					   "[-A-Za-z0-9_.], alphanumeric at "
					   "both ends",
					json_string_value(v));
		api_obj_pop(c, m2);
	}
	api_obj_pop(c, mark);
}

/* ------------------------------------------------------------ metadata */

static void api_obj_check_meta(struct api_obj_ctx *c, const json_t *root,
			       enum api_obj_kind kind, struct api_obj *o)
{
	json_t *m = api_obj_get(c, root, "metadata", JSON_OBJECT, true);
	if (m == NULL)
		return;
	size_t mark = api_obj_push(c, "metadata");
	const char *name = api_obj_get_str(c, m, "name", true);
	if (name) {
		c->name = name;
		o->name = name;
		bool ok = kind == API_OBJ_SERVICE
				  ? api_obj_dns1035_label(name)
				  : api_obj_dns1123_subdomain(name);
		if (!ok) {
			size_t m2 = api_obj_push(c, "name");
			API_OBJ_INVALID(
				c, "Invalid value: \"%.64s\": %s", name,
				kind == API_OBJ_SERVICE
					? "a DNS-1035 label must be 63 "
					  "characters or less of lower case "
					  "alphanumerics or '-', start with a "
					  "letter and end with an alphanumeric"
					: "a DNS-1123 subdomain must consist "
					  "of lower case alphanumerics, '-' or "
					  "'.', and start and end with an "
					  "alphanumeric");
			api_obj_pop(c, m2);
		}
	}
	const char *ns = api_obj_get_str(c, m, "namespace", false);
	if (!api_obj_kinds[kind].namespaced) {
		if (ns && ns[0]) {
			size_t m2 = api_obj_push(c, "namespace");
			API_OBJ_INVALID(c, "Forbidden: not allowed on a "
					   "cluster-scoped %s",
					c->kind);
			api_obj_pop(c, m2);
		}
		o->ns = "";
	} else if (ns && ns[0]) {
		o->ns = ns;
		api_obj_check_str(c, m, "namespace", false,
				  api_obj_dns1123_label,
				  "a DNS-1123 label must be 63 characters or "
				  "less of lower case alphanumerics or '-'");
	} else {
		/* The API server defaults it from the request path; without
		 * one, "default" is what kubectl would have sent. */
		o->ns = "default";
	}
	api_obj_check_str(c, m, "uid", false, api_obj_uuid,
			  "must be a UUID (8-4-4-4-12 hex digits)");
	const char *uid = api_obj_get_str(c, m, "uid", false);
	o->uid = uid ? uid : "";
	api_obj_check_str(c, m, "resourceVersion", false, api_obj_rv,
			  "must be a decimal revision");
	const char *rv = api_obj_get_str(c, m, "resourceVersion", false);
	if (rv && !c->failed)
		api_obj_parse_rv(rv, &o->rv);
	api_obj_check_str(c, m, "creationTimestamp", false, api_obj_rfc3339,
			  "must be an RFC 3339 time");
	api_obj_check_int(c, m, "generation", false, 0, INT64_MAX);
	api_obj_check_labels(c, m, "labels", false);
	o->labels = api_obj_get(c, m, "labels", JSON_OBJECT, false);
	json_t *ann = api_obj_get(c, m, "annotations", JSON_OBJECT, false);
	if (ann) {
		const char *k;
		json_t *v;
		size_t m2 = api_obj_push(c, "annotations");
		json_object_foreach(ann, k, v) {
			if (c->failed)
				break;
			if (!api_obj_label_key(k)) {
				API_OBJ_INVALID(c, "Invalid value: \"%.64s\": "
						   "not a qualified name",
						k);
				break;
			}
			if (!json_is_string(v)) {
				size_t m3 = api_obj_push(c, k);
				API_OBJ_BAD(c, "expected string, got %s",
					    api_obj_type_name(v));
				api_obj_pop(c, m3);
			}
		}
		api_obj_pop(c, m2);
	}
	api_obj_pop(c, mark);
}

/* ------------------------------------------------------------ pod spec */

static void api_obj_container_port(struct api_obj_ctx *c, const json_t *p,
				   void *arg)
{
	(void)arg;
	api_obj_check_int(c, p, "containerPort", true, 1, 65535);
	api_obj_check_int(c, p, "hostPort", false, 1, 65535);
	api_obj_check_str(c, p, "name", false, api_obj_port_name,
			  "must be an IANA service name (at most 15 "
			  "characters of [a-z0-9-], with a letter)");
	api_obj_check_str(c, p, "protocol", false, api_obj_protocol,
			  "supported values: \"TCP\", \"UDP\", \"SCTP\"");
	api_obj_check_str(c, p, "hostIP", false, api_obj_ip,
			  "must be a valid IP address");
}

static void api_obj_env(struct api_obj_ctx *c, const json_t *e, void *arg)
{
	(void)arg;
	api_obj_check_str(c, e, "name", true, api_obj_env_name,
			  "a valid environment variable name must consist "
			  "of alphabetic characters, digits, '_', '-', or "
			  "'.', and must not start with a digit");
	api_obj_get_str(c, e, "value", false);
}

struct api_obj_names {
	const char *seen[64];
	size_t n;
};

/* Record a name that must be unique within a list; false if a repeat. */
static bool api_obj_unique(struct api_obj_names *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++)
		if (strcmp(names->seen[i], name) == 0)
			return false;
	if (names->n < sizeof(names->seen) / sizeof(names->seen[0]))
		names->seen[names->n++] = name;
	return true;
}

static void api_obj_container(struct api_obj_ctx *c, const json_t *ct,
			      void *arg)
{
	struct api_obj_names *names = arg;
	const char *name = api_obj_get_str(c, ct, "name", true);
	if (name && !c->failed) {
		size_t m = api_obj_push(c, "name");
		if (!api_obj_dns1123_label(name))
			API_OBJ_INVALID(c, "Invalid value: \"%.64s\": a "
					   "DNS-1123 label must be 63 "
					   "characters or less of lower case "
					   "alphanumerics or '-'",
					name);
		else if (!api_obj_unique(names, name))
			API_OBJ_INVALID(c, "Duplicate value: \"%.64s\"", name);
		api_obj_pop(c, m);
	}
	const char *image = api_obj_get_str(c, ct, "image", true);
	if (image && !image[0] && !c->failed) {
		size_t m = api_obj_push(c, "image");
		API_OBJ_INVALID(c, "Required value");
		api_obj_pop(c, m);
	}
	api_obj_check_str_array(c, ct, "command", NULL, NULL);
	api_obj_check_str_array(c, ct, "args", NULL, NULL);
	api_obj_get_str(c, ct, "workingDir", false);
	static const char *const pull[] = {"Always", "IfNotPresent", "Never",
					   NULL};
	api_obj_check_enum(c, ct, "imagePullPolicy", pull);
	json_t *ports = api_obj_get(c, ct, "ports", JSON_ARRAY, false);
	if (ports) {
		size_t m = api_obj_push(c, "ports");
		api_obj_each(c, ports, api_obj_container_port, NULL);
		api_obj_pop(c, m);
	}
	json_t *env = api_obj_get(c, ct, "env", JSON_ARRAY, false);
	if (env) {
		size_t m = api_obj_push(c, "env");
		api_obj_each(c, env, api_obj_env, NULL);
		api_obj_pop(c, m);
	}
}

/* Validate a PodSpec at the current path (spec or spec.template.spec). */
static void api_obj_pod_spec(struct api_obj_ctx *c, const json_t *spec)
{
	json_t *cts = api_obj_get(c, spec, "containers", JSON_ARRAY, true);
	if (cts) {
		size_t m = api_obj_push(c, "containers");
		if (json_array_size(cts) == 0)
			API_OBJ_INVALID(c, "Required value");
		struct api_obj_names names = {0};
		api_obj_each(c, cts, api_obj_container, &names);
		api_obj_pop(c, m);
	}
	static const char *const restart[] = {"Always", "OnFailure", "Never",
					      NULL};
	api_obj_check_enum(c, spec, "restartPolicy", restart);
	api_obj_check_str(c, spec, "nodeName", false,
			  api_obj_dns1123_subdomain,
			  "must be a DNS-1123 subdomain");
	api_obj_get(c, spec, "hostNetwork", JSON_TRUE, false);
	api_obj_check_labels(c, spec, "nodeSelector", false);
	api_obj_check_int(c, spec, "terminationGracePeriodSeconds", false, 0,
			  INT64_MAX);
}

/* ------------------------------------------------------------- kinds */

static void api_obj_node_address(struct api_obj_ctx *c, const json_t *a,
				 void *arg)
{
	(void)arg;
	static const char *const types[] = {"Hostname", "InternalIP",
					    "ExternalIP", "InternalDNS",
					    "ExternalDNS", NULL};
	api_obj_get_str(c, a, "type", true);
	api_obj_check_enum(c, a, "type", types);
	const char *t = api_obj_get_str(c, a, "type", true);
	if (t && strstr(t, "IP"))
		api_obj_check_str(c, a, "address", true, api_obj_ip,
				  "must be a valid IP address");
	else
		api_obj_get_str(c, a, "address", true);
}

static void api_obj_condition(struct api_obj_ctx *c, const json_t *cond,
			      void *arg)
{
	(void)arg;
	static const char *const st[] = {"True", "False", "Unknown", NULL};
	api_obj_get_str(c, cond, "type", true);
	api_obj_get_str(c, cond, "status", true);
	api_obj_check_enum(c, cond, "status", st);
	api_obj_check_str(c, cond, "lastTransitionTime", false,
			  api_obj_rfc3339, "must be an RFC 3339 time");
}

static void api_obj_conditions(struct api_obj_ctx *c, const json_t *status)
{
	json_t *conds = api_obj_get(c, status, "conditions", JSON_ARRAY, false);
	if (conds) {
		size_t m = api_obj_push(c, "conditions");
		api_obj_each(c, conds, api_obj_condition, NULL);
		api_obj_pop(c, m);
	}
}

/* A Node taint: qualified key, label-syntax value, one of the three
 * effects; (key, effect) unique, as the API server requires. */
static void api_obj_taint(struct api_obj_ctx *c, const json_t *t, void *arg)
{
	struct api_obj_names *seen = arg;
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule",
					      "NoExecute", NULL};
	api_obj_check_str(c, t, "key", true, api_obj_label_key,
			  "a qualified name must be 63 characters or less of "
			  "[-A-Za-z0-9_.], alphanumeric at both ends, with an "
			  "optional DNS subdomain prefix and '/'");
	api_obj_check_str(c, t, "value", false, api_obj_label_value,
			  "a valid label value must be 63 characters or less "
			  "of [-A-Za-z0-9_.], alphanumeric at both ends");
	api_obj_get_str(c, t, "effect", true);
	api_obj_check_enum(c, t, "effect", effects);
	api_obj_check_str(c, t, "timeAdded", false, api_obj_rfc3339,
			  "must be an RFC 3339 time");
	const char *key = api_obj_get_str(c, t, "key", true);
	const char *eff = api_obj_get_str(c, t, "effect", true);
	if (c->failed || key == NULL || eff == NULL)
		return;
	/* Compare "key:effect" pairs; the strings live in the document. */
	for (size_t i = 0; i + 1 < seen->n; i += 2)
		if (!strcmp(seen->seen[i], key) &&
		    !strcmp(seen->seen[i + 1], eff)) {
			API_OBJ_INVALID(c, "Duplicate value: \"%.64s:%s\"",
					key, eff);
			return;
		}
	if (seen->n + 2 <= sizeof(seen->seen) / sizeof(seen->seen[0])) {
		seen->seen[seen->n++] = key;
		seen->seen[seen->n++] = eff;
	}
}

static void api_obj_node(struct api_obj_ctx *c, const json_t *root)
{
	json_t *spec = api_obj_get(c, root, "spec", JSON_OBJECT, false);
	if (spec) {
		size_t m = api_obj_push(c, "spec");
		api_obj_check_str(c, spec, "podCIDR", false, api_obj_cidr,
				  "must be a CIDR (e.g. 10.244.1.0/24)");
		api_obj_check_str_array(c, spec, "podCIDRs", api_obj_cidr,
					"must be a CIDR (e.g. 10.244.1.0/24)");
		api_obj_get(c, spec, "unschedulable", JSON_TRUE, false);
		api_obj_get_str(c, spec, "providerID", false);
		json_t *taints = api_obj_get(c, spec, "taints", JSON_ARRAY,
					     false);
		if (taints) {
			size_t m2 = api_obj_push(c, "taints");
			struct api_obj_names seen = {0};
			api_obj_each(c, taints, api_obj_taint, &seen);
			api_obj_pop(c, m2);
		}
		api_obj_pop(c, m);
	}
	json_t *status = api_obj_get(c, root, "status", JSON_OBJECT, false);
	if (status) {
		size_t m = api_obj_push(c, "status");
		json_t *addrs = api_obj_get(c, status, "addresses", JSON_ARRAY,
					    false);
		if (addrs) {
			size_t m2 = api_obj_push(c, "addresses");
			api_obj_each(c, addrs, api_obj_node_address, NULL);
			api_obj_pop(c, m2);
		}
		api_obj_conditions(c, status);
		api_obj_pop(c, m);
	}
}

static void api_obj_pod(struct api_obj_ctx *c, const json_t *root)
{
	json_t *spec = api_obj_get(c, root, "spec", JSON_OBJECT, true);
	if (spec) {
		size_t m = api_obj_push(c, "spec");
		api_obj_pod_spec(c, spec);
		api_obj_pop(c, m);
	}
	json_t *status = api_obj_get(c, root, "status", JSON_OBJECT, false);
	if (status) {
		size_t m = api_obj_push(c, "status");
		static const char *const phases[] = {"Pending", "Running",
						     "Succeeded", "Failed",
						     "Unknown", NULL};
		api_obj_check_enum(c, status, "phase", phases);
		api_obj_check_str(c, status, "podIP", false, api_obj_ip,
				  "must be a valid IP address");
		api_obj_check_str(c, status, "hostIP", false, api_obj_ip,
				  "must be a valid IP address");
		api_obj_conditions(c, status);
		api_obj_pop(c, m);
	}
}

struct api_obj_svc {
	struct api_obj_names names;
	size_t n_ports;
	bool node_ports;
};

static void api_obj_service_port(struct api_obj_ctx *c, const json_t *p,
				 void *arg)
{
	struct api_obj_svc *svc = arg;
	const char *name = api_obj_get_str(c, p, "name", svc->n_ports > 1);
	if (name && !c->failed) {
		size_t m = api_obj_push(c, "name");
		if (!api_obj_port_name(name))
			API_OBJ_INVALID(c, "Invalid value: \"%.64s\": must be "
					   "an IANA service name",
					name);
		else if (!api_obj_unique(&svc->names, name))
			API_OBJ_INVALID(c, "Duplicate value: \"%.64s\"", name);
		api_obj_pop(c, m);
	}
	api_obj_check_str(c, p, "protocol", false, api_obj_protocol,
			  "supported values: \"TCP\", \"UDP\", \"SCTP\"");
	api_obj_check_int(c, p, "port", true, 1, 65535);
	api_obj_check_int_or_name(c, p, "targetPort");
	if (!svc->node_ports && json_object_get(p, "nodePort") &&
	    !json_is_null(json_object_get(p, "nodePort"))) {
		size_t m = api_obj_push(c, "nodePort");
		API_OBJ_INVALID(c, "Forbidden: may not be used when `type` "
				   "is 'ClusterIP'");
		api_obj_pop(c, m);
	}
	api_obj_check_int(c, p, "nodePort", false, 1, 65535);
}

static bool api_obj_cluster_ip(const char *s)
{
	return s[0] == 0 || strcmp(s, "None") == 0 || api_obj_ip(s);
}

static void api_obj_service(struct api_obj_ctx *c, const json_t *root)
{
	json_t *spec = api_obj_get(c, root, "spec", JSON_OBJECT, true);
	if (spec == NULL)
		return;
	size_t m = api_obj_push(c, "spec");
	static const char *const types[] = {"ClusterIP", "NodePort",
					    "LoadBalancer", NULL};
	api_obj_check_enum(c, spec, "type", types);
	const char *type = api_obj_get_str(c, spec, "type", false);
	api_obj_check_str(c, spec, "clusterIP", false, api_obj_cluster_ip,
			  "must be empty, 'None' or a valid IP address");
	api_obj_check_labels(c, spec, "selector", false);
	static const char *const aff[] = {"None", "ClientIP", NULL};
	api_obj_check_enum(c, spec, "sessionAffinity", aff);
	json_t *ports = api_obj_get(c, spec, "ports", JSON_ARRAY, true);
	if (ports) {
		size_t m2 = api_obj_push(c, "ports");
		struct api_obj_svc svc = {
			.n_ports = json_array_size(ports),
			.node_ports = type && strcmp(type, "ClusterIP") != 0,
		};
		if (svc.n_ports == 0)
			API_OBJ_INVALID(c, "Required value");
		api_obj_each(c, ports, api_obj_service_port, &svc);
		api_obj_pop(c, m2);
	}
	api_obj_pop(c, m);
}

static void api_obj_ep_address(struct api_obj_ctx *c, const json_t *a,
			       void *arg)
{
	(void)arg;
	api_obj_check_str(c, a, "ip", true, api_obj_ip,
			  "must be a valid IP address");
	api_obj_check_str(c, a, "nodeName", false, api_obj_dns1123_subdomain,
			  "must be a DNS-1123 subdomain");
	api_obj_check_str(c, a, "hostname", false, api_obj_dns1123_label,
			  "must be a DNS-1123 label");
	api_obj_get(c, a, "targetRef", JSON_OBJECT, false);
}

static void api_obj_ep_port(struct api_obj_ctx *c, const json_t *p, void *arg)
{
	struct api_obj_svc *svc = arg;
	const char *name = api_obj_get_str(c, p, "name", svc->n_ports > 1);
	if (name && !c->failed && name[0] && !api_obj_port_name(name)) {
		size_t m = api_obj_push(c, "name");
		API_OBJ_INVALID(c, "Invalid value: \"%.64s\": must be an IANA "
				   "service name",
				name);
		api_obj_pop(c, m);
	}
	api_obj_check_int(c, p, "port", true, 1, 65535);
	api_obj_check_str(c, p, "protocol", false, api_obj_protocol,
			  "supported values: \"TCP\", \"UDP\", \"SCTP\"");
}

static void api_obj_ep_subset(struct api_obj_ctx *c, const json_t *sub,
			      void *arg)
{
	(void)arg;
	static const char *const lists[] = {"addresses", "notReadyAddresses"};
	for (size_t i = 0; i < 2; i++) {
		json_t *a = api_obj_get(c, sub, lists[i], JSON_ARRAY, false);
		if (a) {
			size_t m = api_obj_push(c, lists[i]);
			api_obj_each(c, a, api_obj_ep_address, NULL);
			api_obj_pop(c, m);
		}
	}
	json_t *ports = api_obj_get(c, sub, "ports", JSON_ARRAY, false);
	if (ports) {
		size_t m = api_obj_push(c, "ports");
		struct api_obj_svc svc = {.n_ports = json_array_size(ports)};
		api_obj_each(c, ports, api_obj_ep_port, &svc);
		api_obj_pop(c, m);
	}
}

static void api_obj_endpoints(struct api_obj_ctx *c, const json_t *root)
{
	json_t *subsets = api_obj_get(c, root, "subsets", JSON_ARRAY, false);
	if (subsets) {
		size_t m = api_obj_push(c, "subsets");
		api_obj_each(c, subsets, api_obj_ep_subset, NULL);
		api_obj_pop(c, m);
	}
}

static void api_obj_deployment(struct api_obj_ctx *c, const json_t *root)
{
	json_t *spec = api_obj_get(c, root, "spec", JSON_OBJECT, true);
	if (spec == NULL)
		return;
	size_t m = api_obj_push(c, "spec");
	api_obj_check_int(c, spec, "replicas", false, 0, INT32_MAX);
	json_t *sel = api_obj_get(c, spec, "selector", JSON_OBJECT, true);
	json_t *match = NULL;
	if (sel) {
		size_t m2 = api_obj_push(c, "selector");
		api_obj_check_labels(c, sel, "matchLabels", true);
		match = api_obj_get(c, sel, "matchLabels", JSON_OBJECT, true);
		api_obj_pop(c, m2);
	}
	json_t *tmpl = api_obj_get(c, spec, "template", JSON_OBJECT, true);
	if (tmpl) {
		size_t m2 = api_obj_push(c, "template");
		json_t *tm = api_obj_get(c, tmpl, "metadata", JSON_OBJECT,
					 true);
		json_t *tl = NULL;
		if (tm) {
			size_t m3 = api_obj_push(c, "metadata");
			api_obj_check_labels(c, tm, "labels", true);
			tl = api_obj_get(c, tm, "labels", JSON_OBJECT, true);
			/* apps/v1: the selector must select the template,
			 * or the Deployment would own pods it never sees. */
			const char *k;
			json_t *v;
			if (tl && match && !c->failed) {
				json_object_foreach(match, k, v) {
					json_t *have = json_object_get(tl, k);
					if (have == NULL ||
					    !json_equal(have, v)) {
						size_t m4 = api_obj_push(
							c, "labels");
						API_OBJ_INVALID(
							c,
							"Invalid value: "
							"selector does not "
							"match template "
							"labels (\"%.64s\")",
							k);
						api_obj_pop(c, m4);
						break;
					}
				}
			}
			api_obj_pop(c, m3);
		}
		json_t *ts = api_obj_get(c, tmpl, "spec", JSON_OBJECT, true);
		if (ts) {
			size_t m3 = api_obj_push(c, "spec");
			api_obj_pod_spec(c, ts);
			api_obj_pop(c, m3);
		}
		api_obj_pop(c, m2);
	}
	json_t *strat = api_obj_get(c, spec, "strategy", JSON_OBJECT, false);
	if (strat) {
		size_t m2 = api_obj_push(c, "strategy");
		static const char *const st[] = {"RollingUpdate", "Recreate",
						 NULL};
		api_obj_check_enum(c, strat, "type", st);
		json_t *ru = api_obj_get(c, strat, "rollingUpdate",
					 JSON_OBJECT, false);
		if (ru) {
			size_t m3 = api_obj_push(c, "rollingUpdate");
			api_obj_check_int_or_percent(c, ru, "maxUnavailable");
			api_obj_check_int_or_percent(c, ru, "maxSurge");
			api_obj_pop(c, m3);
		}
		api_obj_pop(c, m2);
	}
	api_obj_pop(c, m);
	json_t *status = api_obj_get(c, root, "status", JSON_OBJECT, false);
	if (status) {
		size_t m2 = api_obj_push(c, "status");
		static const char *const counts[] = {
			"replicas", "readyReplicas", "availableReplicas",
			"updatedReplicas", "observedGeneration"};
		for (size_t i = 0; i < 5; i++)
			api_obj_check_int(c, status, counts[i], false, 0,
					  INT64_MAX);
		api_obj_conditions(c, status);
		api_obj_pop(c, m2);
	}
}

/* coordination.k8s.io/v1 Lease: what node heartbeats write. renewTime and
 * acquireTime are MicroTime (RFC 3339 with microseconds). */
static void api_obj_lease(struct api_obj_ctx *c, const json_t *root)
{
	json_t *spec = api_obj_get(c, root, "spec", JSON_OBJECT, false);
	if (spec == NULL)
		return;
	size_t m = api_obj_push(c, "spec");
	api_obj_get_str(c, spec, "holderIdentity", false);
	api_obj_check_int(c, spec, "leaseDurationSeconds", false, 1,
			  INT32_MAX);
	api_obj_check_int(c, spec, "leaseTransitions", false, 0, INT32_MAX);
	api_obj_check_str(c, spec, "acquireTime", false, api_obj_rfc3339,
			  "must be an RFC 3339 time");
	api_obj_check_str(c, spec, "renewTime", false, api_obj_rfc3339,
			  "must be an RFC 3339 time");
	api_obj_pop(c, m);
}

/* ------------------------------------------------------------- decode */

struct api_obj *api_obj_decode(const char *json, size_t len,
			       enum api_obj_kind expect,
			       struct api_obj_error *err)
{
	struct api_obj_ctx c = {.err = err, .kind = "Object"};
	json_error_t jerr;

	if (err)
		memset(err, 0, sizeof(*err));
	if (expect < API_OBJ_ANY || expect > API_OBJ_KIND_MAX ||
	    (json == NULL && len > 0)) {
		API_OBJ_BAD(&c, "invalid decode arguments");
		return NULL;
	}
	if (len > API_OBJ_MAX_BYTES) {
		api_obj_fail(&c, API_OBJ_ERR_TOO_LARGE,
			     "object is %zu bytes, limit %u", len,
			     API_OBJ_MAX_BYTES);
		return NULL;
	}
	/* Duplicate keys are rejected: two "name"s would make the meaning
	 * depend on which one a reader picks. */
	json_t *root = json_loadb(json ? json : "", len,
				  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		API_OBJ_BAD(&c, "invalid JSON at line %d column %d: %s",
			    jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		API_OBJ_BAD(&c, "expected a JSON object, got %s",
			    api_obj_type_name(root));
		json_decref(root);
		return NULL;
	}
	struct api_obj *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		json_decref(root);
		api_obj_fail(&c, API_OBJ_ERR_NOMEM, "out of memory");
		return NULL;
	}
	o->root = root;
	o->name = o->ns = o->uid = "";

	const char *kind = api_obj_get_str(&c, root, "kind", false);
	const char *apiv = api_obj_get_str(&c, root, "apiVersion", false);
	if (!c.failed && (kind == NULL || apiv == NULL))
		API_OBJ_BAD(&c, "Object 'Kind' and 'apiVersion' are required");
	enum api_obj_kind k = API_OBJ_ANY;
	for (int i = API_OBJ_NODE; !c.failed && i <= API_OBJ_KIND_MAX; i++)
		if (strcmp(kind, api_obj_kinds[i].kind) == 0)
			k = (enum api_obj_kind)i;
	if (!c.failed && k == API_OBJ_ANY)
		API_OBJ_BAD(&c, "no kind \"%.64s\" is registered", kind);
	if (!c.failed && expect != API_OBJ_ANY && k != expect)
		API_OBJ_BAD(&c, "kind \"%s\" does not match the expected \"%s\"",
			    kind, api_obj_kinds[expect].kind);
	if (!c.failed && strcmp(apiv, api_obj_kinds[k].api_version) != 0)
		API_OBJ_BAD(&c, "no kind \"%s\" is registered for version "
				"\"%.64s\" (want \"%s\")",
			    kind, apiv, api_obj_kinds[k].api_version);
	if (!c.failed) {
		o->kind = k;
		c.kind = api_obj_kinds[k].kind;
		api_obj_check_meta(&c, root, k, o);
	}
	if (!c.failed) {
		switch (k) {
		case API_OBJ_NODE: api_obj_node(&c, root); break;
		case API_OBJ_POD: api_obj_pod(&c, root); break;
		case API_OBJ_SERVICE: api_obj_service(&c, root); break;
		case API_OBJ_ENDPOINTS: api_obj_endpoints(&c, root); break;
		case API_OBJ_DEPLOYMENT: api_obj_deployment(&c, root); break;
		case API_OBJ_LEASE: api_obj_lease(&c, root); break;
		case API_OBJ_ANY: break;
		}
	}
	if (c.failed) {
		api_obj_free(o);
		return NULL;
	}
	return o;
}

void api_obj_free(struct api_obj *o)
{
	if (o == NULL)
		return;
	json_decref(o->root);
	free(o);
}

enum api_obj_kind api_obj_kind(const struct api_obj *o)
{
	return o->kind;
}

const char *api_obj_name(const struct api_obj *o)
{
	return o->name;
}

const char *api_obj_namespace(const struct api_obj *o)
{
	return o->ns;
}

const char *api_obj_uid(const struct api_obj *o)
{
	return o->uid;
}

int64_t api_obj_resource_version(const struct api_obj *o)
{
	return o->rv;
}

const char *api_obj_label(const struct api_obj *o, const char *key)
{
	json_t *v = o->labels ? json_object_get(o->labels, key) : NULL;
	return v ? json_string_value(v) : NULL;
}

const json_t *api_obj_json(const struct api_obj *o)
{
	return o->root;
}

size_t api_obj_store_key(const struct api_obj *o, char *buf, size_t cap)
{
	const char *res = api_obj_kinds[o->kind].resource;
	int n = api_obj_kinds[o->kind].namespaced
			? snprintf(buf, cap, "/registry/%s/%s/%s", res, o->ns,
				   o->name)
			: snprintf(buf, cap, "/registry/%s/%s", res, o->name);
	return n < 0 ? 0 : (size_t)n;
}
