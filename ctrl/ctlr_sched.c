/*
 * ctlr_sched (prefix sched_): pure scheduler (see sched.h for the policy).
 *
 * Nodes live in slots that are never freed: a node that goes away keeps its
 * slot (marked absent) so pods still bound to its name keep their
 * accounting, and a node that comes back under the same name finds it. Node
 * counts are small (thousands) next to pods, so this costs nothing.
 *
 * Names map to slots through jansson objects used as hash tables (name ->
 * integer index); pods (key -> record index) likewise, with a free list of
 * records. Spreading counts are one dense array per owner, indexed by node
 * slot, allocated the first time an owner's pod is accounted: picking a
 * node for a pod then costs O(nodes) array reads and no hashing.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/errmsg.h>

#include "ctlr_sched.h"

#define SCHED_MAX_TOLERATIONS 64
#define SCHED_MAX_TAINTS 64
#define SCHED_MAX_REASONS 32
#define SCHED_DEFAULT_PODS 110
/* kube-scheduler's defaults for scoring pods that request nothing
 * (pkg/scheduler/util/pod_resources.go), so they still spread. */
#define SCHED_NZ_CPU 100
#define SCHED_NZ_MEM (200ll * 1024 * 1024)

enum sched_effect {
	SCHED_EFFECT_NOSCHEDULE = 0,
	SCHED_EFFECT_NOEXECUTE,
	SCHED_EFFECT_PREFER,
	SCHED_EFFECT_ANY, /* toleration with no effect: matches all */
};

struct sched_taint {
	char *key;
	char *value;
	enum sched_effect effect;
};

struct sched_node {
	char name[SCHED_NODE_NAME_MAX];
	bool present;
	bool unschedulable;
	bool ready;
	json_t *labels; /* own copy, or NULL */
	struct sched_taint *taints;
	size_t n_taints;
	int64_t alloc[SCHED_RES_N];
	int64_t used[SCHED_RES_N];
	int64_t used_nz[2]; /* cpu, memory with non-zero defaults */
};

struct sched_pod_rec {
	char *key; /* NULL when the record is free */
	uint32_t node;
	int32_t owner;
	int64_t req[SCHED_RES_N];
	int64_t nz[2];
	uint32_t next_free;
};

struct sched_owner {
	uint32_t *count; /* per node slot */
};

struct sched_tol {
	const char *key;   /* NULL = any key (operator Exists) */
	const char *value; /* NULL with Exists */
	bool exists;
	enum sched_effect effect;
};

/* A pod's scheduling-relevant fields, borrowed from its JSON. */
struct sched_req {
	int64_t req[SCHED_RES_N];
	int64_t nz[2];
	const json_t *selector;
	struct sched_tol tols[SCHED_MAX_TOLERATIONS];
	size_t n_tols;
	const char *owner;
};

struct sched {
	struct sched_params p;
	struct sched_node *nodes;
	size_t n_nodes, cap_nodes, n_present;
	json_t *node_idx;
	struct sched_pod_rec *pods;
	size_t n_pods, cap_pods;
	uint32_t free_pod; /* UINT32_MAX = none */
	json_t *pod_idx;
	struct sched_owner *owners;
	size_t n_owners, cap_owners;
	json_t *owner_idx;
	/* Scratch for sched_pick, cap_nodes long. */
	uint8_t *feasible;
};

static const char *const sched_res_names[SCHED_RES_N] = {
	"cpu", "memory", "hugepages-2Mi", "hugepages-1Gi", "pods",
};

const char *sched_res_name(enum sched_res res)
{
	return (unsigned)res < SCHED_RES_N ? sched_res_names[res] : "?";
}

struct sched *sched_create(const struct sched_params *p)
{
	struct sched *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (p)
		s->p = *p;
	if (s->p.w_least == 0 && s->p.w_balanced == 0 && s->p.w_spread == 0 &&
	    s->p.w_taint == 0) {
		s->p.w_least = 1;
		s->p.w_balanced = 1;
		s->p.w_spread = 2;
		s->p.w_taint = 3; /* kube-scheduler's weight for TaintToleration */
	}
	s->free_pod = UINT32_MAX;
	s->node_idx = json_object();
	s->pod_idx = json_object();
	s->owner_idx = json_object();
	if (!s->node_idx || !s->pod_idx || !s->owner_idx) {
		sched_free(s);
		return NULL;
	}
	return s;
}

static void sched_taints_free(struct sched_node *n)
{
	for (size_t i = 0; i < n->n_taints; i++) {
		free(n->taints[i].key);
		free(n->taints[i].value);
	}
	free(n->taints);
	n->taints = NULL;
	n->n_taints = 0;
}

void sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_nodes; i++) {
		sched_taints_free(&s->nodes[i]);
		json_decref(s->nodes[i].labels);
	}
	for (size_t i = 0; i < s->n_pods; i++)
		free(s->pods[i].key);
	for (size_t i = 0; i < s->n_owners; i++)
		free(s->owners[i].count);
	free(s->nodes);
	free(s->pods);
	free(s->owners);
	free(s->feasible);
	json_decref(s->node_idx);
	json_decref(s->pod_idx);
	json_decref(s->owner_idx);
	free(s);
}

/* ------------------------------------------------------------ quantities */

/* Suffix multipliers of resource.Quantity: binary (Ki..Ei), decimal (k..E)
 * and milli (m). */
static bool sched_suffix(const char *suf, long double *mul)
{
	static const struct {
		const char *s;
		long double m;
	} tab[] = {
		{"", 1.0L},
		{"m", 1e-3L},
		{"k", 1e3L},
		{"M", 1e6L},
		{"G", 1e9L},
		{"T", 1e12L},
		{"P", 1e15L},
		{"E", 1e18L},
		{"Ki", 1024.0L},
		{"Mi", 1048576.0L},
		{"Gi", 1073741824.0L},
		{"Ti", 1099511627776.0L},
		{"Pi", 1125899906842624.0L},
		{"Ei", 1152921504606846976.0L},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(suf, tab[i].s) == 0) {
			*mul = tab[i].m;
			return true;
		}
	}
	return false;
}

static int sched_quantity_ld(long double v, enum sched_res res, int64_t *out)
{
	if (res == SCHED_RES_CPU)
		v *= 1000.0L;
	/* Round up like Quantity.MilliValue()/Value(); 2^62 leaves room for
	 * sums of many pods without overflow. */
	v = ceill(v - 1e-9L);
	if (!(v >= 0.0L) || v > 4611686018427387904.0L)
		return SCHED_ERR_INVALID;
	*out = (int64_t)v;
	return SCHED_OK;
}

int sched_quantity(const json_t *v, enum sched_res res, int64_t *out)
{
	if (json_is_integer(v))
		return sched_quantity_ld((long double)json_integer_value(v), res, out);
	if (json_is_real(v))
		return sched_quantity_ld((long double)json_real_value(v), res, out);
	if (!json_is_string(v))
		return SCHED_ERR_INVALID;
	const char *s = json_string_value(v);
	const char *p = s;
	long double mant = 0.0L;
	size_t digits = 0;
	while (*p >= '0' && *p <= '9') {
		mant = mant * 10.0L + (long double)(*p - '0');
		p++;
		digits++;
	}
	if (*p == '.') {
		long double scale = 0.1L;
		p++;
		while (*p >= '0' && *p <= '9') {
			mant += scale * (long double)(*p - '0');
			scale /= 10.0L;
			p++;
			digits++;
		}
	}
	if (digits == 0 || digits > 30)
		return SCHED_ERR_INVALID;
	long double mul = 1.0L;
	if ((*p == 'e' || *p == 'E') && p[1] != 0 && p[1] != 'i') {
		/* Decimal exponent form "1e3" (but "1E" alone is exa). */
		char *end;
		errno = 0;
		long e = strtol(p + 1, &end, 10);
		if (errno != 0 || *end != 0 || e < -18 || e > 18)
			return SCHED_ERR_INVALID;
		mul = powl(10.0L, (long double)e);
	} else if (!sched_suffix(p, &mul)) {
		return SCHED_ERR_INVALID;
	}
	return sched_quantity_ld(mant * mul, res, out);
}

/* ------------------------------------------------------------ small helpers */

const char *sched_owner_uid(const json_t *obj)
{
	json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	if (!json_is_array(refs))
		return NULL;
	const char *first = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r) {
		const char *uid = json_string_value(json_object_get(r, "uid"));
		if (uid == NULL)
			continue;
		if (json_is_true(json_object_get(r, "controller")))
			return uid;
		if (first == NULL)
			first = uid;
	}
	return first;
}

static bool sched_effect_parse(const char *s, bool allow_empty, enum sched_effect *out)
{
	if (s == NULL || s[0] == 0) {
		*out = SCHED_EFFECT_ANY;
		return allow_empty;
	}
	if (strcmp(s, "NoSchedule") == 0)
		*out = SCHED_EFFECT_NOSCHEDULE;
	else if (strcmp(s, "NoExecute") == 0)
		*out = SCHED_EFFECT_NOEXECUTE;
	else if (strcmp(s, "PreferNoSchedule") == 0)
		*out = SCHED_EFFECT_PREFER;
	else
		return false;
	return true;
}

/* Optional string field: NULL if absent; false if present but not a
 * string. */
static bool sched_opt_str(const json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return false;
	*out = json_string_value(v);
	return true;
}

static int sched_slot(struct sched *s, const char *name, bool create, uint32_t *out)
{
	json_t *v = json_object_get(s->node_idx, name);
	if (v) {
		*out = (uint32_t)json_integer_value(v);
		return SCHED_OK;
	}
	if (!create)
		return SCHED_ERR_INVALID;
	if (strlen(name) >= SCHED_NODE_NAME_MAX)
		return SCHED_ERR_INVALID;
	if (s->n_nodes == s->cap_nodes) {
		size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 64;
		struct sched_node *n = realloc(s->nodes, cap * sizeof(*n));
		if (n == NULL)
			return SCHED_ERR_NOMEM;
		s->nodes = n;
		uint8_t *f = realloc(s->feasible, cap);
		if (f == NULL)
			return SCHED_ERR_NOMEM;
		s->feasible = f;
		for (size_t i = 0; i < s->n_owners; i++) {
			uint32_t *c = realloc(s->owners[i].count, cap * sizeof(*c));
			if (c == NULL)
				return SCHED_ERR_NOMEM;
			memset(c + s->cap_nodes, 0, (cap - s->cap_nodes) * sizeof(*c));
			s->owners[i].count = c;
		}
		s->cap_nodes = cap;
	}
	json_t *iv = json_integer((json_int_t)s->n_nodes);
	if (iv == NULL || json_object_set_new(s->node_idx, name, iv) != 0)
		return SCHED_ERR_NOMEM;
	struct sched_node *n = &s->nodes[s->n_nodes];
	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	*out = (uint32_t)s->n_nodes++;
	return SCHED_OK;
}

/* ------------------------------------------------------------ nodes */

static int sched_node_parse(struct sched_node *n, const json_t *node, char *errmsg,
			    size_t errlen)
{
	const json_t *spec = json_object_get(node, "spec");
	const json_t *status = json_object_get(node, "status");
	n->unschedulable = json_is_true(json_object_get(spec, "unschedulable"));
	n->ready = false;
	json_t *conds = json_object_get(status, "conditions");
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));
		if (type && st && strcmp(type, "Ready") == 0)
			n->ready = strcmp(st, "True") == 0;
	}
	const json_t *alloc = json_object_get(status, "allocatable");
	if (alloc == NULL || json_is_null(alloc))
		alloc = json_object_get(status, "capacity");
	if (alloc != NULL && !json_is_object(alloc))
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "Node %s: status.allocatable: expected an object", n->name);
	for (int r = 0; r < SCHED_RES_N; r++) {
		json_t *q = json_object_get(alloc, sched_res_names[r]);
		n->alloc[r] = r == SCHED_RES_PODS ? SCHED_DEFAULT_PODS : 0;
		if (q && sched_quantity(q, (enum sched_res)r, &n->alloc[r]) != SCHED_OK)
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "Node %s: status.allocatable.%s: not a quantity",
					   n->name, sched_res_names[r]);
	}
	json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	if (labels != NULL && !json_is_object(labels))
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "Node %s: metadata.labels: expected an object", n->name);
	n->labels = labels ? json_deep_copy(labels) : NULL;
	if (labels && n->labels == NULL)
		return SCHED_ERR_NOMEM;
	json_t *taints = json_object_get(spec, "taints");
	if (taints == NULL || json_is_null(taints))
		return SCHED_OK;
	if (!json_is_array(taints) || json_array_size(taints) > SCHED_MAX_TAINTS)
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "Node %s: spec.taints: expected an array of at most %d",
				   n->name, SCHED_MAX_TAINTS);
	n->taints = calloc(json_array_size(taints) + 1, sizeof(*n->taints));
	if (n->taints == NULL)
		return SCHED_ERR_NOMEM;
	json_t *t;
	json_array_foreach(taints, i, t) {
		const char *key, *value, *effect;
		struct sched_taint *dst = &n->taints[n->n_taints];
		if (!sched_opt_str(t, "key", &key) || key == NULL || key[0] == 0)
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "Node %s: spec.taints[%zu].key: required string",
					   n->name, i);
		if (!sched_opt_str(t, "value", &value))
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "Node %s: spec.taints[%zu].value: expected a string",
					   n->name, i);
		if (!sched_opt_str(t, "effect", &effect) ||
		    !sched_effect_parse(effect, false, &dst->effect))
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "Node %s: spec.taints[%zu].effect: must be NoSchedule, "
					   "PreferNoSchedule or NoExecute",
					   n->name, i);
		dst->key = strdup(key);
		dst->value = strdup(value ? value : "");
		n->n_taints++;
		if (dst->key == NULL || dst->value == NULL)
			return SCHED_ERR_NOMEM;
	}
	return SCHED_OK;
}

static void sched_node_reset(struct sched_node *n)
{
	sched_taints_free(n);
	json_decref(n->labels);
	n->labels = NULL;
}

int sched_node_set(struct sched *s, const json_t *node, char *errmsg, size_t errlen)
{
	const char *name = json_string_value(
		json_object_get(json_object_get(node, "metadata"), "name"));
	if (name == NULL || name[0] == 0 || strlen(name) >= SCHED_NODE_NAME_MAX)
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "Node: metadata.name: required, at most %d characters",
				   SCHED_NODE_NAME_MAX - 1);
	uint32_t slot;
	int rc = sched_slot(s, name, true, &slot);
	if (rc != SCHED_OK)
		return sluice_errf(rc, errmsg, errlen, "Node %s: out of memory", name);
	struct sched_node *n = &s->nodes[slot];
	sched_node_reset(n);
	rc = sched_node_parse(n, node, errmsg, errlen);
	if (rc != SCHED_OK) {
		sched_node_reset(n);
		if (n->present)
			s->n_present--;
		n->present = false;
		return rc;
	}
	if (!n->present)
		s->n_present++;
	n->present = true;
	return SCHED_OK;
}

void sched_node_remove(struct sched *s, const char *name)
{
	uint32_t slot;
	if (sched_slot(s, name, false, &slot) != SCHED_OK)
		return;
	struct sched_node *n = &s->nodes[slot];
	if (n->present)
		s->n_present--;
	n->present = false;
	sched_node_reset(n);
}

size_t sched_node_count(const struct sched *s)
{
	return s->n_present;
}

size_t sched_node_bytes(const struct sched *s)
{
	size_t b = sizeof(struct sched_node) + 1 /* feasible */;
	size_t total = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		const struct sched_node *n = &s->nodes[i];
		total += b + strlen(n->name) + 48 /* index entry */;
		for (size_t t = 0; t < n->n_taints; t++)
			total += sizeof(*n->taints) + strlen(n->taints[t].key) +
				 strlen(n->taints[t].value) + 2;
		if (n->labels) {
			const char *k;
			json_t *v;
			json_object_foreach(n->labels, k, v) total +=
				strlen(k) + json_string_length(v) + 96 /* jansson */;
		}
	}
	total += s->n_owners * sizeof(uint32_t) * s->n_nodes;
	return total;
}

/* ------------------------------------------------------------ pods */

static int sched_container_reqs(const json_t *ct, const char *path, size_t idx, int64_t *req,
				int64_t *nz, char *errmsg, size_t errlen)
{
	const json_t *res = json_object_get(ct, "resources");
	const json_t *rq = json_object_get(res, "requests");
	const json_t *lim = json_object_get(res, "limits");
	if ((res && !json_is_object(res)) || (rq && !json_is_object(rq)) ||
	    (lim && !json_is_object(lim)))
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "%s[%zu].resources: expected objects", path, idx);
	for (int r = 0; r < SCHED_RES_PODS; r++) {
		json_t *q = json_object_get(rq, sched_res_names[r]);
		/* A limit without a request implies request = limit. */
		if (q == NULL)
			q = json_object_get(lim, sched_res_names[r]);
		req[r] = 0;
		if (q && sched_quantity(q, (enum sched_res)r, &req[r]) != SCHED_OK)
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "%s[%zu].resources.requests.%s: not a quantity", path,
					   idx, sched_res_names[r]);
	}
	nz[0] = req[SCHED_RES_CPU] ? req[SCHED_RES_CPU] : SCHED_NZ_CPU;
	nz[1] = req[SCHED_RES_MEMORY] ? req[SCHED_RES_MEMORY] : SCHED_NZ_MEM;
	return SCHED_OK;
}

/* Requests of a pod: the sum over containers, raised to the largest init
 * container's (they run one at a time, before the others). */
static int sched_pod_reqs(const json_t *pod, struct sched_req *out, bool full, char *errmsg,
			  size_t errlen)
{
	memset(out->req, 0, sizeof(out->req));
	memset(out->nz, 0, sizeof(out->nz));
	out->selector = NULL;
	out->n_tols = 0;
	out->owner = sched_owner_uid(pod);
	const json_t *spec = json_object_get(pod, "spec");
	if (!json_is_object(spec))
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen, "spec: expected an object");
	json_t *cts = json_object_get(spec, "containers");
	if (cts && !json_is_array(cts))
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "spec.containers: expected an array");
	size_t i;
	json_t *ct;
	int64_t r1[SCHED_RES_N], nz1[2];
	json_array_foreach(cts, i, ct) {
		int rc = sched_container_reqs(ct, "spec.containers", i, r1, nz1, errmsg, errlen);
		if (rc != SCHED_OK)
			return rc;
		for (int r = 0; r < SCHED_RES_PODS; r++)
			out->req[r] += r1[r];
		out->nz[0] += nz1[0];
		out->nz[1] += nz1[1];
	}
	json_t *init = json_object_get(spec, "initContainers");
	if (init && !json_is_array(init))
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "spec.initContainers: expected an array");
	json_array_foreach(init, i, ct) {
		int rc = sched_container_reqs(ct, "spec.initContainers", i, r1, nz1, errmsg,
					      errlen);
		if (rc != SCHED_OK)
			return rc;
		for (int r = 0; r < SCHED_RES_PODS; r++)
			if (r1[r] > out->req[r])
				out->req[r] = r1[r];
	}
	out->req[SCHED_RES_PODS] = 1;
	if (!full)
		return SCHED_OK;

	json_t *sel = json_object_get(spec, "nodeSelector");
	if (sel && !json_is_null(sel)) {
		const char *k;
		json_t *v;
		if (!json_is_object(sel))
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "spec.nodeSelector: expected an object");
		json_object_foreach(sel, k, v) {
			if (!json_is_string(v))
				return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
						   "spec.nodeSelector.%s: expected a string", k);
		}
		out->selector = sel;
	}
	json_t *tols = json_object_get(spec, "tolerations");
	if (tols == NULL || json_is_null(tols))
		return SCHED_OK;
	if (!json_is_array(tols) || json_array_size(tols) > SCHED_MAX_TOLERATIONS)
		return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
				   "spec.tolerations: expected an array of at most %d",
				   SCHED_MAX_TOLERATIONS);
	json_t *t;
	json_array_foreach(tols, i, t) {
		struct sched_tol *d = &out->tols[out->n_tols];
		const char *op, *effect;
		if (!json_is_object(t) || !sched_opt_str(t, "key", &d->key) ||
		    !sched_opt_str(t, "value", &d->value) || !sched_opt_str(t, "operator", &op) ||
		    !sched_opt_str(t, "effect", &effect))
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "spec.tolerations[%zu]: expected an object of strings", i);
		if (op == NULL || strcmp(op, "Equal") == 0)
			d->exists = false;
		else if (strcmp(op, "Exists") == 0)
			d->exists = true;
		else
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "spec.tolerations[%zu].operator: must be Equal or Exists",
					   i);
		if (!sched_effect_parse(effect, true, &d->effect))
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "spec.tolerations[%zu].effect: must be NoSchedule, "
					   "PreferNoSchedule or NoExecute",
					   i);
		if (d->key && d->key[0] == 0)
			d->key = NULL;
		if (d->key == NULL && !d->exists)
			return sluice_errf(SCHED_ERR_INVALID, errmsg, errlen,
					   "spec.tolerations[%zu].key: an empty key needs operator "
					   "Exists",
					   i);
		out->n_tols++;
	}
	return SCHED_OK;
}

static int sched_owner_slot(struct sched *s, const char *uid, int32_t *out)
{
	json_t *v = json_object_get(s->owner_idx, uid);
	if (v) {
		*out = (int32_t)json_integer_value(v);
		return SCHED_OK;
	}
	if (s->n_owners == s->cap_owners) {
		size_t cap = s->cap_owners ? s->cap_owners * 2 : 16;
		struct sched_owner *o = realloc(s->owners, cap * sizeof(*o));
		if (o == NULL)
			return SCHED_ERR_NOMEM;
		s->owners = o;
		s->cap_owners = cap;
	}
	uint32_t *c = calloc(s->cap_nodes ? s->cap_nodes : 1, sizeof(*c));
	json_t *iv = json_integer((json_int_t)s->n_owners);
	if (c == NULL || iv == NULL || json_object_set_new(s->owner_idx, uid, iv) != 0) {
		free(c);
		return SCHED_ERR_NOMEM;
	}
	s->owners[s->n_owners].count = c;
	*out = (int32_t)s->n_owners++;
	return SCHED_OK;
}

static void sched_account(struct sched *s, const struct sched_pod_rec *rec, int sign)
{
	struct sched_node *n = &s->nodes[rec->node];
	for (int r = 0; r < SCHED_RES_N; r++)
		n->used[r] += sign * rec->req[r];
	n->used_nz[0] += sign * rec->nz[0];
	n->used_nz[1] += sign * rec->nz[1];
	if (rec->owner >= 0) {
		uint32_t *c = &s->owners[rec->owner].count[rec->node];
		*c = sign > 0 ? *c + 1 : *c - 1;
	}
}

void sched_pod_remove(struct sched *s, const char *key)
{
	json_t *v = json_object_get(s->pod_idx, key);
	if (v == NULL)
		return;
	uint32_t i = (uint32_t)json_integer_value(v);
	struct sched_pod_rec *rec = &s->pods[i];
	sched_account(s, rec, -1);
	json_object_del(s->pod_idx, key);
	free(rec->key);
	rec->key = NULL;
	rec->next_free = s->free_pod;
	s->free_pod = i;
}

int sched_pod_set(struct sched *s, const char *key, const json_t *pod, const char *node_name,
		  char *errmsg, size_t errlen)
{
	sched_pod_remove(s, key);
	if (node_name == NULL || node_name[0] == 0)
		return SCHED_OK;
	struct sched_req rq;
	int rc = sched_pod_reqs(pod, &rq, false, errmsg, errlen);
	if (rc != SCHED_OK)
		return rc;
	uint32_t slot;
	rc = sched_slot(s, node_name, true, &slot);
	if (rc != SCHED_OK)
		return sluice_errf(rc, errmsg, errlen, "spec.nodeName: bad or out of memory");
	int32_t owner = -1;
	if (rq.owner && (rc = sched_owner_slot(s, rq.owner, &owner)) != SCHED_OK)
		return sluice_errf(rc, errmsg, errlen, "out of memory");
	uint32_t i;
	if (s->free_pod != UINT32_MAX) {
		i = s->free_pod;
		s->free_pod = s->pods[i].next_free;
	} else {
		if (s->n_pods == s->cap_pods) {
			size_t cap = s->cap_pods ? s->cap_pods * 2 : 256;
			struct sched_pod_rec *p = realloc(s->pods, cap * sizeof(*p));
			if (p == NULL)
				return sluice_errf(SCHED_ERR_NOMEM, errmsg, errlen, "out of memory");
			s->pods = p;
			s->cap_pods = cap;
		}
		i = (uint32_t)s->n_pods++;
	}
	struct sched_pod_rec *rec = &s->pods[i];
	memset(rec, 0, sizeof(*rec));
	rec->key = strdup(key);
	json_t *iv = json_integer(i);
	if (rec->key == NULL || iv == NULL || json_object_set_new(s->pod_idx, key, iv) != 0) {
		free(rec->key);
		rec->key = NULL;
		rec->next_free = s->free_pod;
		s->free_pod = i;
		return sluice_errf(SCHED_ERR_NOMEM, errmsg, errlen, "out of memory");
	}
	rec->node = slot;
	rec->owner = owner;
	memcpy(rec->req, rq.req, sizeof(rec->req));
	memcpy(rec->nz, rq.nz, sizeof(rec->nz));
	sched_account(s, rec, +1);
	return SCHED_OK;
}

/* ------------------------------------------------------------ decision */

static bool sched_tolerates(const struct sched_req *rq, const char *key, const char *value,
			    enum sched_effect effect)
{
	for (size_t i = 0; i < rq->n_tols; i++) {
		const struct sched_tol *t = &rq->tols[i];
		if (t->effect != SCHED_EFFECT_ANY && t->effect != effect)
			continue;
		if (t->key == NULL)
			return true; /* Exists with no key tolerates everything */
		if (strcmp(t->key, key) != 0)
			continue;
		if (t->exists || strcmp(t->value ? t->value : "", value) == 0)
			return true;
	}
	return false;
}

struct sched_reasons {
	char text[SCHED_MAX_REASONS][192];
	unsigned count[SCHED_MAX_REASONS];
	size_t n;
};

static void sched_reason_add(struct sched_reasons *rs, const char *text)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (strcmp(rs->text[i], text) == 0) {
			rs->count[i]++;
			return;
		}
	}
	/* Past the table, fold distinct taints into the last row. */
	size_t i = SCHED_MAX_REASONS - 1;
	if (rs->n < SCHED_MAX_REASONS) {
		i = rs->n++;
		rs->count[i] = 0;
	}
	snprintf(rs->text[i], sizeof(rs->text[i]), "%s",
		 i == SCHED_MAX_REASONS - 1 ? "node(s) failed other filters" : text);
	rs->count[i]++;
}

/* Run the filters on one node; false with the reasons recorded. */
static bool sched_filter(const struct sched_node *n, const struct sched_req *rq,
			 struct sched_reasons *rs)
{
	char buf[192];
	if (n->unschedulable &&
	    !sched_tolerates(rq, "node.kubernetes.io/unschedulable", "",
			     SCHED_EFFECT_NOSCHEDULE)) {
		sched_reason_add(rs, "node(s) were unschedulable");
		return false;
	}
	if (!n->ready) {
		sched_reason_add(rs, "node(s) were not ready");
		return false;
	}
	for (size_t i = 0; i < n->n_taints; i++) {
		const struct sched_taint *t = &n->taints[i];
		if (t->effect == SCHED_EFFECT_PREFER)
			continue;
		if (!sched_tolerates(rq, t->key, t->value, t->effect)) {
			snprintf(buf, sizeof(buf), "node(s) had untolerated taint {%.64s: %.64s}",
				 t->key, t->value);
			sched_reason_add(rs, buf);
			return false;
		}
	}
	if (rq->selector) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)rq->selector, k, v) {
			const char *have = json_string_value(json_object_get(n->labels, k));
			if (have == NULL || strcmp(have, json_string_value(v)) != 0) {
				sched_reason_add(rs,
						 "node(s) didn't match Pod's node affinity/selector");
				return false;
			}
		}
	}
	bool fit = true;
	for (int r = 0; r < SCHED_RES_N; r++) {
		if (rq->req[r] == 0)
			continue;
		if (rq->req[r] > n->alloc[r] - n->used[r]) {
			if (r == SCHED_RES_PODS) {
				sched_reason_add(rs, "Too many pods");
			} else {
				snprintf(buf, sizeof(buf), "Insufficient %s", sched_res_names[r]);
				sched_reason_add(rs, buf);
			}
			fit = false;
		}
	}
	return fit;
}

static int sched_reason_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sched_reason_format(const struct sched_reasons *rs, unsigned nodes, char *out,
				size_t cap)
{
	const char *order[SCHED_MAX_REASONS];
	for (size_t i = 0; i < rs->n; i++)
		order[i] = rs->text[i];
	qsort(order, rs->n, sizeof(order[0]), sched_reason_cmp);
	size_t len = (size_t)snprintf(out, cap, "0/%u nodes are available", nodes);
	for (size_t i = 0; i < rs->n && len < cap; i++) {
		size_t k = (size_t)(order[i] - rs->text[0]) / sizeof(rs->text[0]);
		len += (size_t)snprintf(out + len, cap - len, "%s%u %s", i ? ", " : ": ",
					rs->count[k], order[i]);
	}
	if (len < cap)
		snprintf(out + len, cap - len, ".");
}

/* Fraction of a resource in use after adding the pod, in [0, 1+]. */
static double sched_frac(int64_t used, int64_t add, int64_t alloc)
{
	if (alloc <= 0)
		return 1.0;
	return (double)(used + add) / (double)alloc;
}

/* PreferNoSchedule taints of the node the pod does not tolerate. */
static uint32_t sched_prefer_taints(const struct sched_node *n, const struct sched_req *rq)
{
	uint32_t c = 0;
	for (size_t i = 0; i < n->n_taints; i++)
		if (n->taints[i].effect == SCHED_EFFECT_PREFER &&
		    !sched_tolerates(rq, n->taints[i].key, n->taints[i].value, SCHED_EFFECT_PREFER))
			c++;
	return c;
}

static int64_t sched_score(const struct sched *s, const struct sched_node *n,
			   const struct sched_req *rq, uint32_t spread_count, uint32_t spread_max,
			   uint32_t prefer_max)
{
	double fc = sched_frac(n->used_nz[0], rq->nz[0], n->alloc[SCHED_RES_CPU]);
	double fm = sched_frac(n->used_nz[1], rq->nz[1], n->alloc[SCHED_RES_MEMORY]);
	/* LeastAllocated: mean free fraction of cpu and memory. */
	double least = ((fc < 1.0 ? 1.0 - fc : 0.0) + (fm < 1.0 ? 1.0 - fm : 0.0)) * 50.0;
	/* BalancedAllocation: cpu and memory used in the same proportion. */
	double bal = (fc >= 1.0 || fm >= 1.0) ? 0.0 : (1.0 - fabs(fc - fm)) * 100.0;
	int64_t spread = 100;
	if (spread_max > 0)
		spread = (int64_t)(spread_max - spread_count) * 100 / spread_max;
	/* TaintToleration: fewer untolerated PreferNoSchedule taints. */
	int64_t taint = 100;
	if (prefer_max > 0)
		taint = (int64_t)(prefer_max - sched_prefer_taints(n, rq)) * 100 / prefer_max;
	return (int64_t)s->p.w_least * (int64_t)least + (int64_t)s->p.w_balanced * (int64_t)bal +
	       (int64_t)s->p.w_spread * spread + (int64_t)s->p.w_taint * taint;
}

int sched_pick(struct sched *s, const json_t *pod, struct sched_result *out, char *errmsg,
	       size_t errlen)
{
	struct sched_req rq;
	memset(out, 0, sizeof(*out));
	int rc = sched_pod_reqs(pod, &rq, true, errmsg, errlen);
	if (rc != SCHED_OK)
		return rc;
	const uint32_t *counts = NULL;
	if (rq.owner) {
		json_t *v = json_object_get(s->owner_idx, rq.owner);
		if (v)
			counts = s->owners[json_integer_value(v)].count;
	}
	struct sched_reasons rs;
	rs.n = 0;
	uint32_t spread_max = 0, prefer_max = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		const struct sched_node *n = &s->nodes[i];
		s->feasible[i] = 0;
		if (!n->present)
			continue;
		out->nodes++;
		if (!sched_filter(n, &rq, &rs))
			continue;
		s->feasible[i] = 1;
		out->feasible++;
		if (counts && counts[i] > spread_max)
			spread_max = counts[i];
		uint32_t pt = n->n_taints ? sched_prefer_taints(n, &rq) : 0;
		if (pt > prefer_max)
			prefer_max = pt;
	}
	if (out->feasible == 0) {
		sched_reason_format(&rs, out->nodes, out->reason, sizeof(out->reason));
		return SCHED_OK;
	}
	int64_t best = -1;
	const struct sched_node *pick = NULL;
	for (size_t i = 0; i < s->n_nodes; i++) {
		if (!s->feasible[i])
			continue;
		const struct sched_node *n = &s->nodes[i];
		int64_t sc = sched_score(s, n, &rq, counts ? counts[i] : 0, spread_max, prefer_max);
		if (sc > best || (sc == best && strcmp(n->name, pick->name) < 0)) {
			best = sc;
			pick = n;
		}
	}
	strcpy(out->node, pick->name);
	out->score = best;
	return SCHED_OK;
}
