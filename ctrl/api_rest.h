/*
 * api_rest: the transport-independent core of the Kubernetes-shaped
 * resources (docs/api.md "Objects and paths", "Verbs"): request path and
 * query decoding, label and field selectors, the object transformations of
 * create / update / status / binding, list bodies, and the translation of
 * store watch events into Kubernetes watch events.
 *
 * Objects are stored as compact JSON without metadata.resourceVersion: the
 * resourceVersion is the key's mod revision and is added on every read, so
 * it can never disagree with the store. Writes are store txns whose
 * compares carry the concurrency rules (api_rest_http.c builds them):
 * create = "create_revision == 0", update / status / binding / delete =
 * "mod_revision == the revision the client (or our read) saw".
 *
 * Errors: struct api_rest_err, rendered as a Status object with the
 * reason and code of docs/api.md ("Errors").
 *
 * Threading: pure functions, any thread.
 */
#ifndef SLUICE_CTRL_API_REST_H
#define SLUICE_CTRL_API_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api_objects.h"
#include "store_cmd.h"
#include "ctlr_apisvc.h" /* APISVC_SERVICE_CIDR */
#include "store_watch.h"

struct api_rest_err {
	int code;           /* HTTP status */
	const char *reason; /* Status reason: "NotFound", "Conflict"... */
	char msg[API_OBJ_ERRMSG_SIZE];
};

enum api_rest_sub {
	API_REST_SUB_NONE = 0,
	API_REST_SUB_STATUS,  /* Node, Pod, Deployment */
	API_REST_SUB_BINDING, /* Pod */
};

#define API_REST_NAME_MAX 254
#define API_REST_NS_MAX 64
#define API_REST_KEY_MAX 400

/* A decoded request path. */
struct api_rest_path {
	enum api_obj_kind kind;
	char ns[API_REST_NS_MAX];     /* "" for Node or all namespaces */
	char name[API_REST_NAME_MAX]; /* "" for a collection */
	enum api_rest_sub sub;
};

/*
 * Decode a (percent-decoded) path such as /api/v1/namespaces/default/pods/
 * web/status. 0, or -1 with err (404 NotFound for an unknown path, 400
 * for a malformed namespace or name).
 */
int api_rest_parse_path(const char *path, struct api_rest_path *out,
			struct api_rest_err *err);

/* Store key of the object (/registry/pods/ns/name) or, for a collection,
 * the prefix with its trailing '/' (/registry/pods/ns/ or
 * /registry/pods/). Returns the length, or 0 if it does not fit. */
size_t api_rest_key(const struct api_rest_path *p, char *buf, size_t cap);

/* ---------------------------------------------------------- selectors */

struct api_rest_sel; /* opaque; NULL matches everything */

/*
 * Parse a labelSelector (a=b, a==b, a!=b, a in (x,y), a notin (x,y), a,
 * !a; comma-separated, all must hold) and a fieldSelector (metadata.name,
 * metadata.namespace, spec.nodeName, status.phase with =, ==, !=). Either
 * may be NULL or "". Returns 0 with *out (NULL when both are empty) or -1
 * with err (400 BadRequest naming the requirement).
 */
int api_rest_sel_parse(const char *label, const char *field,
		       struct api_rest_sel **out, struct api_rest_err *err);
bool api_rest_sel_match(const struct api_rest_sel *sel, const json_t *obj);
void api_rest_sel_free(struct api_rest_sel *sel);

/* -------------------------------------------------------------- query */

struct api_rest_query {
	bool watch;
	bool serializable;   /* consistency=serializable */
	int64_t rv;          /* resourceVersion; 0 = absent */
	struct api_rest_sel *sel;
};

/* Query accessor: the percent-decoded value of name, or NULL if absent. */
typedef const char *(*api_rest_query_fn)(void *arg, const char *name);

/* Decode watch, resourceVersion, labelSelector, fieldSelector and
 * consistency. 0, or -1 with err (400 naming the parameter). */
int api_rest_parse_query(api_rest_query_fn get, void *arg,
			 struct api_rest_query *q, struct api_rest_err *err);
void api_rest_query_clear(struct api_rest_query *q);

/* ------------------------------------------------------------ objects */

/* A stored value as an API object, with metadata.resourceVersion = rev.
 * NULL if the value is not a JSON object (never written by us). */
json_t *api_rest_from_store(const uint8_t *val, size_t len, int64_t rev);

/* The bytes to store for obj (compact); removes metadata.resourceVersion
 * from obj first, since the store's mod revision is the only truth.
 * malloc'ed, NULL on ENOMEM. */
char *api_rest_to_store(json_t *obj, size_t *len);

/* Set metadata.resourceVersion of obj to rev (a decimal string). */
void api_rest_set_rv(json_t *obj, int64_t rev);

/*
 * Create: validate body as the path's kind, take the namespace from the
 * path (a different one in the body is 400), drop resourceVersion, set
 * uid and creationTimestamp (given by the caller: it owns the clock and
 * the randomness), metadata.generation 1, and a Pod's status.phase
 * "Pending" when absent. New object or NULL with err (400/413/422).
 */
json_t *api_rest_prepare_create(const struct api_rest_path *p,
				const char *body, size_t len, const char *uid,
				const char *now, struct api_rest_err *err);

/*
 * Update (sub NONE), status update (STATUS) or binding (BINDING) of the
 * stored object cur (with its resourceVersion, as api_rest_from_store
 * gives it). Checks: the body's kind and name match the path; update and
 * status need metadata.resourceVersion (422 when missing) equal to cur's
 * (409 Conflict otherwise); a binding's resourceVersion is optional; a
 * Pod's spec.nodeName cannot change by update (binding sets it, once: a
 * pod already bound is 409 Conflict). uid and creationTimestamp are kept;
 * a status update changes only .status; an update keeps .status of kinds
 * with a status subresource only if the body has none; a Deployment's
 * generation grows when its spec changes. New object or NULL with err.
 */
json_t *api_rest_prepare_update(const struct api_rest_path *p,
				const char *body, size_t len,
				const json_t *cur, struct api_rest_err *err);

/* ------------------------------------------------- Service clusterIPs */

/*
 * ClusterIP allocation (issue #7). A Service created with spec.clusterIP
 * empty or absent gets the first free address of API_REST_SERVICE_CIDR; a
 * given IPv4 clusterIP is taken as is. Either way the address is reserved
 * by a key API_REST_SVC_IP_PREFIX<ip> (value "ns/name") created in the
 * same txn as the Service ("create_revision == 0" on both), so two
 * Services can never hold one address, however their creates interleave
 * (the second is 422 "provided IP is already allocated"), and deleted
 * with the Service. spec.clusterIP is immutable: an update that omits it
 * keeps it, one that changes it is 422. "None" (headless) and IPv6
 * addresses are stored without a reservation (sluice-dp's LB is IPv4).
 */
#define API_REST_SERVICE_CIDR APISVC_SERVICE_CIDR /* ctlr_apisvc.h */
#define API_REST_SVC_IP_PREFIX "/registry/serviceips/"

/* The IPv4 spec.clusterIP of a Service that needs a reservation, or NULL
 * ("", "None", absent, IPv6). Borrowed from svc. */
const char *api_rest_svc_ip(const json_t *svc);

/*
 * The first host address of cidr (IPv4, /8../30: network and broadcast
 * addresses excluded) that is not a key of taken (a JSON object whose
 * keys are dotted quads), into out. 0, or -1 when cidr is malformed or
 * every address is taken.
 */
int api_rest_svc_ip_pick(const char *cidr, const json_t *taken, char *out, size_t cap);

/* The mod revision a client asked for in obj's metadata.resourceVersion
 * (0 if none). */
int64_t api_rest_obj_rv(const json_t *obj);

/*
 * The store txn of one write: "if target(key) == operand then put value"
 * (value NULL: delete key). Everything points into t and the borrowed
 * key/value, which must outlive the encoding of t->cmd.
 */
struct api_rest_txn {
	struct store_compare cmp;
	struct store_op op;
	struct store_cmd cmd;
};
void api_rest_txn_init(struct api_rest_txn *t, const char *key,
		       size_t key_len, enum store_cmp_target target,
		       int64_t operand, const char *value, size_t value_len);

/* {"kind":"<Kind>List","apiVersion":...,"metadata":{"resourceVersion":
 * rev},"items":items}; steals items. NULL on ENOMEM. */
json_t *api_rest_list(enum api_obj_kind kind, int64_t rev, json_t *items);

/*
 * A store watch event as a Kubernetes watch event for a watcher with
 * selector sel, following the API server's rules: an object that starts
 * matching is ADDED, keeps matching MODIFIED, stops matching or is
 * deleted DELETED (with its last state and the event's resourceVersion).
 * The store event must carry prev_kv. Returns 1 with *out =
 * {"type","object"}, 0 when the watcher does not see the event, -1 on
 * ENOMEM.
 */
int api_rest_watch_event(const struct api_rest_sel *sel,
			 const struct store_event *ev, json_t **out);

/* Fill err. */
void api_rest_errf(struct api_rest_err *err, int code, const char *reason,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* SLUICE_CTRL_API_REST_H */
