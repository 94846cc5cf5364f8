/*
 * api_rest: paths, queries, selectors and object transformations of the
 * Kubernetes-shaped resources (see api_rest.h). No I/O: the HTTP handlers
 * (api_rest_http.c) read and write the store around these functions, and
 * the unit tests and fuzz targets call them directly.
 */
#include "api_rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_rest_errf(struct api_rest_err *err, int code, const char *reason,
		   const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->code = code;
	err->reason = reason;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- paths */

/* Characters of a name in a path: the union of what DNS-1123 subdomains
 * (and so every kind's names) allow; the body's validation does the rest. */
static bool api_rest_path_name(const char *s, size_t n, size_t max)
{
	if (n == 0 || n >= max)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

int api_rest_parse_path(const char *path, struct api_rest_path *out,
			struct api_rest_err *err)
{
	static const struct {
		const char *prefix;
		const char *resource;
		enum api_obj_kind kind;
	} groups[] = {
		{"/api/v1/", "nodes", API_OBJ_NODE},
		{"/api/v1/", "pods", API_OBJ_POD},
		{"/api/v1/", "services", API_OBJ_SERVICE},
		{"/api/v1/", "endpoints", API_OBJ_ENDPOINTS},
		{"/apis/apps/v1/", "deployments", API_OBJ_DEPLOYMENT},
		{"/apis/coordination.k8s.io/v1/", "leases", API_OBJ_LEASE},
	};
	const char *seg[6];
	size_t len[6], n = 0;

	memset(out, 0, sizeof(*out));
	const char *rest = NULL;
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]) && !rest; g++)
		if (strncmp(path, groups[g].prefix,
			    strlen(groups[g].prefix)) == 0)
			rest = path + strlen(groups[g].prefix);
	if (rest == NULL)
		goto not_found;
	/* Split the rest on '/', at most 6 segments; a trailing '/' is
	 * tolerated, an empty segment elsewhere is not. */
	for (const char *p = rest; *p;) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		if (l == 0 || n == 6)
			goto not_found;
		seg[n] = p;
		len[n++] = l;
		p += l;
		if (*p == '/')
			p++;
	}
	size_t at = 0;
	bool in_ns = n >= 3 && len[0] == 10 && !strncmp(seg[0], "namespaces", 10);
	if (in_ns) {
		/* A namespace is a DNS-1123 label: no dots, alphanumeric at
		 * both ends, so what create stores from the path is valid. */
		if (!api_rest_path_name(seg[1], len[1], 64) ||
		    memchr(seg[1], '.', len[1]) || seg[1][0] == '-' ||
		    seg[1][len[1] - 1] == '-') {
			api_rest_errf(err, 400, "BadRequest",
				      "invalid namespace \"%.*s\" in path",
				      (int)(len[1] > 64 ? 64 : len[1]), seg[1]);
			return -1;
		}
		memcpy(out->ns, seg[1], len[1]);
		at = 2;
	}
	if (at >= n)
		goto not_found;
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		size_t pl = strlen(groups[g].prefix);
		if (strncmp(path, groups[g].prefix, pl) != 0 ||
		    strlen(groups[g].resource) != len[at] ||
		    strncmp(seg[at], groups[g].resource, len[at]) != 0)
			continue;
		out->kind = groups[g].kind;
	}
	if (out->kind == API_OBJ_ANY)
		goto not_found;
	bool namespaced = api_obj_kind_namespaced(out->kind);
	/* Node is cluster scoped; a namespaced kind outside a namespace is
	 * only a collection (list/watch across all namespaces). */
	if ((in_ns && !namespaced) || (!in_ns && namespaced && n - at > 1))
		goto not_found;
	at++;
	if (at < n) {
		if (!api_rest_path_name(seg[at], len[at], API_REST_NAME_MAX)) {
			api_rest_errf(err, 400, "BadRequest",
				      "invalid name \"%.*s\" in path",
				      (int)(len[at] > 64 ? 64 : len[at]),
				      seg[at]);
			return -1;
		}
		memcpy(out->name, seg[at], len[at]);
		at++;
	}
	if (at < n) {
		if (len[at] == 6 && !strncmp(seg[at], "status", 6) &&
		    (out->kind == API_OBJ_NODE || out->kind == API_OBJ_POD ||
		     out->kind == API_OBJ_DEPLOYMENT))
			out->sub = API_REST_SUB_STATUS;
		else if (len[at] == 7 && !strncmp(seg[at], "binding", 7) &&
			 out->kind == API_OBJ_POD)
			out->sub = API_REST_SUB_BINDING;
		else
			goto not_found;
		at++;
	}
	if (at != n)
		goto not_found;
	return 0;
not_found:
	api_rest_errf(err, 404, "NotFound", "the server could not find the "
		      "requested resource (%.200s)", path);
	return -1;
}

size_t api_rest_key(const struct api_rest_path *p, char *buf, size_t cap)
{
	const char *res = api_obj_kind_resource(p->kind);
	int n;

	if (res == NULL)
		return 0;
	if (p->ns[0])
		n = snprintf(buf, cap, "/registry/%s/%s/%s", res, p->ns,
			     p->name);
	else
		n = snprintf(buf, cap, "/registry/%s/%s", res, p->name);
	/* An empty name leaves the collection prefix, '/' included. */
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* ------------------------------------------------------------ selectors */

enum api_rest_op {
	API_REST_OP_EQ,
	API_REST_OP_NE,
	API_REST_OP_IN,
	API_REST_OP_NOTIN,
	API_REST_OP_EXISTS,
	API_REST_OP_NOTEXISTS,
};

#define API_REST_SEL_MAX 32
#define API_REST_SEL_VALUES 16

struct api_rest_req {
	bool field;
	enum api_rest_op op;
	char key[256];
	char values[API_REST_SEL_VALUES][64];
	size_t n_values;
};

struct api_rest_sel {
	struct api_rest_req reqs[API_REST_SEL_MAX];
	size_t n;
};

static bool api_rest_label_char(char ch, bool key)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
	       ch == '.' || (key && ch == '/');
}

static bool api_rest_label_ok(const char *s, size_t n, bool key)
{
	if (key && n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!api_rest_label_char(s[i], key))
			return false;
	return true;
}

static void api_rest_trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t'))
		(*s)++, (*n)--;
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static int api_rest_copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* One requirement (already trimmed), label or field. */
static int api_rest_req_parse(const char *s, size_t n, bool field,
			      struct api_rest_req *r, struct api_rest_err *err)
{
	const char *what = field ? "fieldSelector" : "labelSelector";
	const char *op = NULL;
	size_t op_len = 0;

	memset(r, 0, sizeof(*r));
	r->field = field;
	for (size_t i = 0; i < n && !op; i++) {
		if (s[i] == '!' && i + 1 < n && s[i + 1] == '=')
			op = s + i, op_len = 2, r->op = API_REST_OP_NE;
		else if (s[i] == '=' && i + 1 < n && s[i + 1] == '=')
			op = s + i, op_len = 2, r->op = API_REST_OP_EQ;
		else if (s[i] == '=')
			op = s + i, op_len = 1, r->op = API_REST_OP_EQ;
	}
	const char *key = s, *val = NULL;
	size_t key_len = n, val_len = 0;
	if (op) {
		key_len = (size_t)(op - s);
		val = op + op_len;
		val_len = n - key_len - op_len;
	} else if (!field && n && s[0] == '!') {
		r->op = API_REST_OP_NOTEXISTS;
		key++, key_len--;
	} else if (!field) {
		/* "key in (a,b)", "key notin (a,b)" or a bare "key". */
		const char *sp = memchr(s, ' ', n);
		r->op = API_REST_OP_EXISTS;
		if (sp) {
			key_len = (size_t)(sp - s);
			const char *w = sp;
			size_t wl = n - key_len;
			api_rest_trim(&w, &wl);
			bool notin = wl > 5 && !strncmp(w, "notin", 5);
			bool in = wl > 2 && !strncmp(w, "in", 2);
			size_t skip = notin ? 5 : 2;
			if (!notin && !in)
				goto bad;
			r->op = notin ? API_REST_OP_NOTIN : API_REST_OP_IN;
			w += skip, wl -= skip;
			api_rest_trim(&w, &wl);
			if (wl < 2 || w[0] != '(' || w[wl - 1] != ')')
				goto bad;
			w++, wl -= 2;
			while (wl > 0 || r->n_values == 0) {
				const char *comma = memchr(w, ',', wl);
				size_t vl = comma ? (size_t)(comma - w) : wl;
				const char *v = w;
				size_t vn = vl;
				api_rest_trim(&v, &vn);
				if (r->n_values == API_REST_SEL_VALUES ||
				    !api_rest_label_ok(v, vn, false) ||
				    api_rest_copy(r->values[r->n_values++], 64,
						  v, vn) < 0)
					goto bad;
				if (!comma)
					break;
				w = comma + 1, wl -= vl + 1;
			}
		}
	} else {
		goto bad;
	}
	api_rest_trim(&key, &key_len);
	if (val) {
		api_rest_trim(&val, &val_len);
		if (val_len >= 64 || (!field && !api_rest_label_ok(val, val_len,
								   false)) ||
		    api_rest_copy(r->values[0], 64, val, val_len) < 0)
			goto bad;
		r->n_values = 1;
	}
	if (!api_rest_label_ok(key, key_len, true) ||
	    api_rest_copy(r->key, sizeof(r->key), key, key_len) < 0)
		goto bad;
	if (field) {
		static const char *const fields[] = {
			"metadata.name", "metadata.namespace", "spec.nodeName",
			"status.phase"};
		bool known = false;
		for (size_t i = 0; i < 4; i++)
			known |= strcmp(r->key, fields[i]) == 0;
		if (!known) {
			api_rest_errf(err, 400, "BadRequest",
				      "%s: field label not supported: %s",
				      what, r->key);
			return -1;
		}
	}
	return 0;
bad:
	api_rest_errf(err, 400, "BadRequest",
		      "%s: unable to parse requirement: \"%.*s\"", what,
		      (int)(n > 128 ? 128 : n), s);
	return -1;
}

static int api_rest_sel_add(struct api_rest_sel *sel, const char *text,
			    bool field, struct api_rest_err *err)
{
	const char *p = text;
	for (;;) {
		/* Split at commas outside parentheses. */
		int depth = 0;
		size_t n = 0;
		while (p[n] && (p[n] != ',' || depth > 0)) {
			depth += p[n] == '(' ? 1 : p[n] == ')' ? -1 : 0;
			n++;
		}
		const char *t = p;
		size_t tn = n;
		api_rest_trim(&t, &tn);
		if (tn == 0) {
			api_rest_errf(err, 400, "BadRequest",
				      "%s: empty requirement",
				      field ? "fieldSelector" : "labelSelector");
			return -1;
		}
		if (sel->n == API_REST_SEL_MAX) {
			api_rest_errf(err, 400, "BadRequest",
				      "selectors: more than %d requirements",
				      API_REST_SEL_MAX);
			return -1;
		}
		if (api_rest_req_parse(t, tn, field, &sel->reqs[sel->n],
				       err) < 0)
			return -1;
		sel->n++;
		if (p[n] == 0)
			return 0;
		p += n + 1;
	}
}

int api_rest_sel_parse(const char *label, const char *field,
		       struct api_rest_sel **out, struct api_rest_err *err)
{
	*out = NULL;
	if ((label == NULL || !label[0]) && (field == NULL || !field[0]))
		return 0;
	struct api_rest_sel *sel = calloc(1, sizeof(*sel));
	if (sel == NULL) {
		api_rest_errf(err, 500, "InternalError", "out of memory");
		return -1;
	}
	if ((label && label[0] && api_rest_sel_add(sel, label, false, err)) ||
	    (field && field[0] && api_rest_sel_add(sel, field, true, err))) {
		free(sel);
		return -1;
	}
	*out = sel;
	return 0;
}

void api_rest_sel_free(struct api_rest_sel *sel)
{
	free(sel);
}

/* obj.a.b as a string ("" when absent or not a string). */
static const char *api_rest_field(const json_t *obj, const char *path)
{
	char part[64];
	const json_t *v = obj;
	for (const char *p = path; v && *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l >= sizeof(part))
			return "";
		memcpy(part, p, l);
		part[l] = 0;
		v = json_object_get(v, part);
		p += l + (dot ? 1 : 0);
	}
	return json_is_string(v) ? json_string_value(v) : "";
}

bool api_rest_sel_match(const struct api_rest_sel *sel, const json_t *obj)
{
	if (sel == NULL)
		return true;
	const json_t *labels =
		json_object_get(json_object_get(obj, "metadata"), "labels");
	for (size_t i = 0; i < sel->n; i++) {
		const struct api_rest_req *r = &sel->reqs[i];
		const char *have;
		bool present;
		if (r->field) {
			have = api_rest_field(obj, r->key);
			present = true;
		} else {
			json_t *v = json_object_get(labels, r->key);
			present = json_is_string(v);
			have = present ? json_string_value(v) : "";
		}
		bool in = false;
		for (size_t j = 0; j < r->n_values; j++)
			in |= strcmp(have, r->values[j]) == 0;
		bool ok;
		switch (r->op) {
		case API_REST_OP_EQ:
		case API_REST_OP_IN: ok = present && in; break;
		/* As Kubernetes: a!=x and a notin (x) match objects without
		 * the label. */
		case API_REST_OP_NE:
		case API_REST_OP_NOTIN: ok = !present || !in; break;
		case API_REST_OP_EXISTS: ok = present; break;
		default: ok = !present; break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- query */

static int api_rest_parse_rv(const char *s, int64_t *out)
{
	int64_t v = 0;
	if (s[0] == 0 || strlen(s) > 19)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

int api_rest_parse_query(api_rest_query_fn get, void *arg,
			 struct api_rest_query *q, struct api_rest_err *err)
{
	const char *w = get(arg, "watch");
	const char *rv = get(arg, "resourceVersion");
	const char *cons = get(arg, "consistency");

	memset(q, 0, sizeof(*q));
	if (w) {
		if (!strcmp(w, "1") || !strcmp(w, "true") || !w[0])
			q->watch = true;
		else if (strcmp(w, "0") && strcmp(w, "false")) {
			api_rest_errf(err, 400, "BadRequest",
				      "watch: invalid value \"%.32s\" (want "
				      "1, true, 0 or false)", w);
			return -1;
		}
	}
	if (rv && rv[0] && api_rest_parse_rv(rv, &q->rv) < 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "resourceVersion: invalid value \"%.32s\" (want "
			      "a decimal revision)", rv);
		return -1;
	}
	if (cons) {
		if (!strcmp(cons, "serializable"))
			q->serializable = true;
		else if (strcmp(cons, "linearizable")) {
			api_rest_errf(err, 400, "BadRequest",
				      "consistency: invalid value \"%.32s\" "
				      "(want linearizable or serializable)",
				      cons);
			return -1;
		}
	}
	return api_rest_sel_parse(get(arg, "labelSelector"),
				  get(arg, "fieldSelector"), &q->sel, err);
}

void api_rest_query_clear(struct api_rest_query *q)
{
	api_rest_sel_free(q->sel);
	memset(q, 0, sizeof(*q));
}

/* -------------------------------------------------------------- objects */

static json_t *api_rest_meta(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");
	if (!json_is_object(m)) {
		m = json_object();
		if (json_object_set_new(obj, "metadata", m))
			return NULL;
	}
	return m;
}

void api_rest_set_rv(json_t *obj, int64_t rev)
{
	char buf[24];
	json_t *m = api_rest_meta(obj);
	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	if (m)
		json_object_set_new(m, "resourceVersion", json_string(buf));
}

json_t *api_rest_from_store(const uint8_t *val, size_t len, int64_t rev)
{
	json_t *o = json_loadb((const char *)val, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	api_rest_set_rv(o, rev);
	return o;
}

char *api_rest_to_store(json_t *obj, size_t *len)
{
	json_t *m = json_object_get(obj, "metadata");
	if (m)
		json_object_del(m, "resourceVersion");
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s)
		*len = strlen(s);
	return s;
}

int64_t api_rest_obj_rv(const json_t *obj)
{
	int64_t v = 0;
	const char *s = api_rest_field(obj, "metadata.resourceVersion");
	if (s[0] == 0 || api_rest_parse_rv(s, &v) < 0)
		return 0;
	return v;
}

static const char *api_rest_resource(const struct api_rest_path *p)
{
	return api_obj_kind_resource(p->kind);
}

/* api_obj_decode's verdict as a Status. */
static json_t *api_rest_decode(const struct api_rest_path *p, const char *body,
			       size_t len, struct api_rest_err *err)
{
	struct api_obj_error oe;
	struct api_obj *o = api_obj_decode(body, len, p->kind, &oe);
	if (o == NULL) {
		const char *reason = oe.status == 400   ? "BadRequest"
				     : oe.status == 413 ? "RequestEntityTooLarge"
				     : oe.status == 422 ? "Invalid"
							: "InternalError";
		api_rest_errf(err, oe.status, reason, "%s", oe.errmsg);
		return NULL;
	}
	json_t *root = json_incref((json_t *)api_obj_json(o));
	api_obj_free(o);
	return root;
}

/* Validate a server-merged object (status or binding applied to the
 * stored one) as a client's would be: what is stored is always valid. */
static int api_rest_revalidate(const struct api_rest_path *p,
			       const json_t *obj, struct api_rest_err *err)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	json_t *checked = s ? api_rest_decode(p, s, strlen(s), err) : NULL;
	if (s == NULL)
		api_rest_errf(err, 500, "InternalError", "out of memory");
	free(s);
	json_decref(checked);
	return checked ? 0 : -1;
}

/* The namespace in a body must be absent or the path's. */
static int api_rest_check_ns(const struct api_rest_path *p, json_t *obj,
			     struct api_rest_err *err)
{
	const char *ns = api_rest_field(obj, "metadata.namespace");
	if (!api_obj_kind_namespaced(p->kind))
		return 0;
	if (ns[0] && strcmp(ns, p->ns) != 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "the namespace of the provided object (%s) does "
			      "not match the namespace sent on the request "
			      "(%s)", ns, p->ns);
		return -1;
	}
	json_t *m = api_rest_meta(obj);
	return m ? json_object_set_new(m, "namespace", json_string(p->ns)) : -1;
}

json_t *api_rest_prepare_create(const struct api_rest_path *p,
				const char *body, size_t len, const char *uid,
				const char *now, struct api_rest_err *err)
{
	json_t *obj = api_rest_decode(p, body, len, err);
	if (obj == NULL)
		return NULL;
	if (api_rest_check_ns(p, obj, err) < 0) {
		json_decref(obj);
		return NULL;
	}
	json_t *m = api_rest_meta(obj);
	int rc = m == NULL;
	if (!rc) {
		json_object_del(m, "resourceVersion");
		rc |= json_object_set_new(m, "uid", json_string(uid));
		rc |= json_object_set_new(m, "creationTimestamp",
					  json_string(now));
		rc |= json_object_set_new(m, "generation", json_integer(1));
	}
	if (!rc && p->kind == API_OBJ_POD) {
		json_t *st = json_object_get(obj, "status");
		if (st == NULL) {
			st = json_object();
			rc |= json_object_set_new(obj, "status", st);
		}
		if (!rc && json_object_get(st, "phase") == NULL)
			rc |= json_object_set_new(st, "phase",
						  json_string("Pending"));
	}
	if (rc) {
		api_rest_errf(err, 500, "InternalError", "out of memory");
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static void api_rest_conflict(const struct api_rest_path *p,
			      struct api_rest_err *err)
{
	api_rest_errf(err, 409, "Conflict",
		      "Operation cannot be fulfilled on %s \"%s\": the object "
		      "has been modified; please apply your changes to the "
		      "latest version and try again",
		      api_rest_resource(p), p->name);
}

/* A Binding body: {"target":{"name":NODE}} with optional metadata.name
 * (must be the pod's) and metadata.resourceVersion. */
static json_t *api_rest_binding(const struct api_rest_path *p,
				const char *body, size_t len,
				const json_t *cur, struct api_rest_err *err)
{
	json_error_t jerr;
	json_t *b = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *out = NULL;
	int64_t rv = 0;

	if (!json_is_object(b)) {
		api_rest_errf(err, 400, "BadRequest",
			      "Binding: expected a JSON object%s%s",
			      b ? "" : ": ", b ? "" : jerr.text);
		goto done;
	}
	const char *kind = api_rest_field(b, "kind");
	const char *name = api_rest_field(b, "metadata.name");
	const char *node = api_rest_field(b, "target.name");
	const char *rvs = api_rest_field(b, "metadata.resourceVersion");
	if (kind[0] && strcmp(kind, "Binding") != 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "kind: expected \"Binding\", got \"%.32s\"", kind);
		goto done;
	}
	if (name[0] && strcmp(name, p->name) != 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "metadata.name: the name of the binding (%.64s) "
			      "does not match the pod (%s)", name, p->name);
		goto done;
	}
	if (!api_rest_path_name(node, strlen(node), API_REST_NAME_MAX)) {
		api_rest_errf(err, 422, "Invalid",
			      "Binding \"%s\" is invalid: target.name: %s",
			      p->name, node[0] ? "Invalid value: must be a "
						 "DNS-1123 subdomain"
					       : "Required value");
		goto done;
	}
	if (rvs[0] && api_rest_parse_rv(rvs, &rv) < 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "metadata.resourceVersion: must be a decimal "
			      "revision");
		goto done;
	}
	const char *bound = api_rest_field(cur, "spec.nodeName");
	if (bound[0]) {
		api_rest_errf(err, 409, "Conflict",
			      "Operation cannot be fulfilled on pods/binding "
			      "\"%s\": pod %s is already assigned to node "
			      "\"%.64s\"", p->name, p->name, bound);
		goto done;
	}
	if (rv && rv != api_rest_obj_rv(cur)) {
		api_rest_conflict(p, err);
		goto done;
	}
	out = json_deep_copy(cur);
	json_t *spec = out ? json_object_get(out, "spec") : NULL;
	if (spec == NULL ||
	    json_object_set_new(spec, "nodeName", json_string(node))) {
		api_rest_errf(err, 500, "InternalError", "out of memory");
		json_decref(out);
		out = NULL;
	} else if (api_rest_revalidate(p, out, err) < 0) {
		json_decref(out);
		out = NULL;
	}
done:
	json_decref(b);
	return out;
}

/* Status update: cur with .status replaced, then validated whole, so a
 * client may send just metadata + status. */
static json_t *api_rest_status(const struct api_rest_path *p, const char *body,
			       size_t len, const json_t *cur,
			       struct api_rest_err *err)
{
	json_error_t jerr;
	json_t *b = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *out = NULL;

	if (!json_is_object(b)) {
		api_rest_errf(err, 400, "BadRequest",
			      "expected a JSON object%s%s", b ? "" : ": ",
			      b ? "" : jerr.text);
		goto done;
	}
	const char *kind = api_rest_field(b, "kind");
	if (kind[0] && strcmp(kind, api_obj_kind_name(p->kind)) != 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "kind \"%.32s\" does not match the expected "
			      "\"%s\"", kind, api_obj_kind_name(p->kind));
		goto done;
	}
	const char *name = api_rest_field(b, "metadata.name");
	if (name[0] && strcmp(name, p->name) != 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "the name of the object (%.64s) does not match "
			      "the name on the URL (%s)", name, p->name);
		goto done;
	}
	out = json_deep_copy(cur);
	json_t *st = json_object_get(b, "status");
	if (out && st == NULL)
		json_object_del(out, "status");
	if (out == NULL || (st && json_object_set(out, "status", st))) {
		api_rest_errf(err, 500, "InternalError", "out of memory");
		json_decref(out);
		out = NULL;
		goto done;
	}
	/* The body's metadata says which version it was computed from. */
	json_t *m = api_rest_meta(out);
	json_t *brv = json_object_get(json_object_get(b, "metadata"),
				      "resourceVersion");
	if (m) {
		if (brv)
			json_object_set(m, "resourceVersion", brv);
		else
			json_object_del(m, "resourceVersion");
	}
	if (api_rest_revalidate(p, out, err) < 0) {
		json_decref(out);
		out = NULL;
	}
done:
	json_decref(b);
	return out;
}

static json_t *api_rest_update(const struct api_rest_path *p,
			       const char *body, size_t len, const json_t *cur,
			       struct api_rest_err *err)
{
	json_t *obj = api_rest_decode(p, body, len, err);
	if (obj == NULL)
		return NULL;
	if (api_rest_check_ns(p, obj, err) < 0)
		goto fail;
	json_t *m = api_rest_meta(obj);
	const json_t *cm = json_object_get(cur, "metadata");
	if (m == NULL)
		goto nomem;
	/* Set by the server on create, never by an update. */
	static const char *const keep[] = {"uid", "creationTimestamp"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(cm, keep[i]);
		if (v && json_object_set(m, keep[i], v))
			goto nomem;
	}
	/* Binding is the only way to set spec.nodeName: that is what makes
	 * "two schedulers cannot bind a pod twice" hold. */
	if (p->kind == API_OBJ_POD &&
	    strcmp(api_rest_field(obj, "spec.nodeName"),
		   api_rest_field(cur, "spec.nodeName")) != 0) {
		api_rest_errf(err, 422, "Invalid",
			      "Pod \"%s\" is invalid: spec.nodeName: Forbidden: "
			      "set only by the binding subresource, once",
			      p->name);
		goto fail;
	}
	/* spec.clusterIP is immutable: its reservation key is named after it. */
	if (p->kind == API_OBJ_SERVICE) {
		const char *was = api_rest_field(cur, "spec.clusterIP");
		const char *now = api_rest_field(obj, "spec.clusterIP");
		json_t *spec = json_object_get(obj, "spec");
		if (now[0] == '\0' && was[0] != '\0') {
			if (json_object_set_new(spec, "clusterIP", json_string(was)))
				goto nomem;
		} else if (strcmp(now, was) != 0) {
			api_rest_errf(err, 422, "Invalid",
				      "Service \"%s\" is invalid: spec.clusterIP: "
				      "Invalid value: \"%.64s\": field is immutable",
				      p->name, now);
			goto fail;
		}
	}
	/* Writers that know nothing of status (a spec edit) keep it. */
	json_t *cst = json_object_get(cur, "status");
	if (json_object_get(obj, "status") == NULL && cst &&
	    json_object_set(obj, "status", cst))
		goto nomem;
	json_t *gen = json_object_get(cm, "generation");
	json_int_t g = json_is_integer(gen) ? json_integer_value(gen) : 1;
	if (!json_equal(json_object_get(obj, "spec"),
			json_object_get(cur, "spec")))
		g++;
	if (json_object_set_new(m, "generation", json_integer(g)))
		goto nomem;
	return obj;
nomem:
	api_rest_errf(err, 500, "InternalError", "out of memory");
fail:
	json_decref(obj);
	return NULL;
}

json_t *api_rest_prepare_update(const struct api_rest_path *p,
				const char *body, size_t len,
				const json_t *cur, struct api_rest_err *err)
{
	json_t *out;

	if (p->sub == API_REST_SUB_BINDING)
		return api_rest_binding(p, body, len, cur, err);
	out = p->sub == API_REST_SUB_STATUS
		      ? api_rest_status(p, body, len, cur, err)
		      : api_rest_update(p, body, len, cur, err);
	if (out == NULL)
		return NULL;
	const char *name = api_rest_field(out, "metadata.name");
	int64_t rv = api_rest_obj_rv(out);
	if (strcmp(name, p->name) != 0) {
		api_rest_errf(err, 400, "BadRequest",
			      "the name of the object (%.64s) does not match "
			      "the name on the URL (%s)", name, p->name);
	} else if (rv == 0) {
		api_rest_errf(err, 422, "Invalid",
			      "%s \"%s\" is invalid: metadata.resourceVersion: "
			      "Invalid value: 0x0: must be specified for an "
			      "update", api_obj_kind_name(p->kind), p->name);
	} else if (rv != api_rest_obj_rv(cur)) {
		api_rest_conflict(p, err);
	} else {
		return out;
	}
	json_decref(out);
	return NULL;
}

const char *api_rest_svc_ip(const json_t *svc)
{
	const char *ip = api_rest_field(svc, "spec.clusterIP");
	struct in_addr a;
	return inet_pton(AF_INET, ip, &a) == 1 ? ip : NULL;
}

int api_rest_svc_ip_pick(const char *cidr, const json_t *taken, char *out,
			 size_t cap)
{
	char net[INET_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	struct in_addr a;
	char *end;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(net))
		return -1;
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = '\0';
	unsigned long plen = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || plen < 8 || plen > 30 ||
	    inet_pton(AF_INET, net, &a) != 1)
		return -1;
	uint32_t mask = ~0u << (32 - plen);
	uint32_t base = ntohl(a.s_addr) & mask, size = ~mask + 1u;
	/* Linear from the bottom: at most 2^24 probes of a hash table, only
	 * on a create, and the common case finds a hole at once. */
	for (uint32_t i = 1; i + 1 < size; i++) {
		struct in_addr h = {.s_addr = htonl(base + i)};
		char ip[INET_ADDRSTRLEN];
		if (inet_ntop(AF_INET, &h, ip, sizeof(ip)) == NULL)
			return -1;
		if (json_object_get(taken, ip) == NULL) {
			snprintf(out, cap, "%s", ip);
			return 0;
		}
	}
	return -1;
}

void api_rest_txn_init(struct api_rest_txn *t, const char *key,
		       size_t key_len, enum store_cmp_target target,
		       int64_t operand, const char *value, size_t value_len)
{
	memset(t, 0, sizeof(*t));
	t->cmp.target = target;
	t->cmp.result = STORE_CMP_EQUAL;
	t->cmp.key = (const uint8_t *)key;
	t->cmp.key_len = key_len;
	t->cmp.operand = operand;
	t->op.type = value ? STORE_OP_PUT : STORE_OP_DELETE;
	t->op.key = (const uint8_t *)key;
	t->op.key_len = key_len;
	t->op.value = (const uint8_t *)value;
	t->op.value_len = value_len;
	t->cmd.type = STORE_CMD_TXN;
	t->cmd.cmps = &t->cmp;
	t->cmd.n_cmps = 1;
	t->cmd.success = &t->op;
	t->cmd.n_success = 1;
}

json_t *api_rest_list(enum api_obj_kind kind, int64_t rev, json_t *items)
{
	char kname[64], rv[24];
	snprintf(kname, sizeof(kname), "%sList", api_obj_kind_name(kind));
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	return json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", kname,
			 "apiVersion", api_obj_kind_api_version(kind),
			 "metadata", "resourceVersion", rv, "items", items);
}

static json_t *api_rest_event(const char *type, json_t *obj)
{
	if (obj == NULL)
		return NULL;
	return json_pack("{s:s, s:o}", "type", type, "object", obj);
}

int api_rest_watch_event(const struct api_rest_sel *sel,
			 const struct store_event *ev, json_t **out)
{
	json_t *cur = NULL, *prev = NULL;
	bool cur_m = false, prev_m = false;

	*out = NULL;
	if (ev->type == STORE_EVENT_PUT) {
		cur = api_rest_from_store(ev->kv.value, ev->kv.value_len,
					  ev->revision);
		cur_m = cur && api_rest_sel_match(sel, cur);
	}
	/* A put that re-created a deleted key has no live previous value
	 * (version 0 means a tombstone): it is an ADDED. */
	if (ev->has_prev && ev->prev_kv.version > 0) {
		prev = api_rest_from_store(ev->prev_kv.value,
					   ev->prev_kv.value_len,
					   ev->revision);
		prev_m = prev && api_rest_sel_match(sel, prev);
	}
	if (cur_m) {
		*out = api_rest_event(prev_m ? "MODIFIED" : "ADDED", cur);
		cur = NULL;
	} else if (prev_m) {
		/* Deleted, or no longer selected: the last state the watcher
		 * saw it match, at this event's resourceVersion. */
		*out = api_rest_event("DELETED", prev);
		prev = NULL;
	}
	json_decref(cur);
	json_decref(prev);
	if (*out == NULL)
		return cur_m || prev_m ? -1 : 0;
	return 1;
}
