/*
 * api_objects: decoding and validation of the Kubernetes-shaped API objects
 * kept in the store (Node, Pod, Service, Endpoints, Deployment, Lease) from
 * JSON.
 *
 * The input is untrusted (it comes from an HTTP client), so it is parsed
 * with jansson under a size bound, type-checked field by field and then
 * validated with the Kubernetes rules that matter to sluice (name formats,
 * label syntax, ports, IPs and CIDRs, enum values, selector/template
 * agreement). Errors follow the API server's split:
 *   400 Bad Request           not JSON, not an object, a field of the wrong
 *                             JSON type, missing/unknown apiVersion or kind
 *   413 Request Entity Too Large
 *   422 Unprocessable Entity  well-formed but invalid: the message is
 *                             `<Kind> "<name>" is invalid: <field path>:
 *                             <reason>` with the path in the API's own
 *                             notation, e.g. spec.containers[0].image.
 * Only the first error is reported. Unknown fields are ignored, as the API
 * server does by default (field validation "Ignore").
 *
 * A decoded object keeps the parsed JSON (read it with api_obj_json()) and
 * exposes the metadata the store layer needs: kind, name, namespace, uid,
 * resourceVersion (the store's mod revision, etcd-style optimistic
 * concurrency) and labels.
 *
 * Errors (STYLE 9): enum api_obj_err, api_obj_strerror(), and an errmsg
 * buffer in struct api_obj_error. Threading: no shared state; any thread.
 */
#ifndef SLUICE_CTRL_API_OBJECTS_H
#define SLUICE_CTRL_API_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define API_OBJ_ERRMSG_SIZE 512
/* The object is stored as one value, so it must fit the store's limit. */
#define API_OBJ_MAX_BYTES (1024u * 1024u)

#define API_OBJ_ERRORS(X)                                                      \
	X(OK, 200, "ok")                                                       \
	X(NOMEM, 500, "out of memory")                                         \
	X(BAD_REQUEST, 400, "bad request")                                     \
	X(TOO_LARGE, 413, "request entity too large")                          \
	X(INVALID, 422, "unprocessable entity")

enum api_obj_err {
#define API_OBJ_ERR_ENUM(name, http, str) API_OBJ_ERR_##name,
	API_OBJ_ERRORS(API_OBJ_ERR_ENUM)
#undef API_OBJ_ERR_ENUM
};

/* Static name of an error code; never NULL. */
const char *api_obj_strerror(int err);
/* HTTP status for an error code (500 for unknown codes). */
int api_obj_http_status(int err);

enum api_obj_kind {
	API_OBJ_ANY = 0, /* decode: accept any kind below */
	API_OBJ_NODE = 1,
	API_OBJ_POD = 2,
	API_OBJ_SERVICE = 3,
	API_OBJ_ENDPOINTS = 4,
	API_OBJ_DEPLOYMENT = 5,
	API_OBJ_LEASE = 6, /* coordination.k8s.io/v1: node heartbeats */
};
#define API_OBJ_KIND_MAX API_OBJ_LEASE

/* "Node", "Pod", ...; NULL for an unknown value. */
const char *api_obj_kind_name(enum api_obj_kind kind);
/* "v1", "apps/v1", "coordination.k8s.io/v1"; NULL for an unknown value. */
const char *api_obj_kind_api_version(enum api_obj_kind kind);
/* Plural resource name ("pods"), as in paths and store keys; NULL for an
 * unknown value. */
const char *api_obj_kind_resource(enum api_obj_kind kind);
/* Whether objects of the kind live in a namespace (all but Node). */
int api_obj_kind_namespaced(enum api_obj_kind kind);

struct api_obj_error {
	int code;   /* enum api_obj_err */
	int status; /* HTTP status */
	char field[128]; /* path of the offending field, "" if none */
	char errmsg[API_OBJ_ERRMSG_SIZE];
};

struct api_obj; /* opaque */

/*
 * Decode and validate len bytes of JSON as an object of kind `expect`
 * (API_OBJ_ANY: whatever "kind" says). Returns the object (free with
 * api_obj_free) or NULL with *err filled (err may be NULL). The input is
 * borrowed and copied. Any thread.
 */
struct api_obj *api_obj_decode(const char *json, size_t len,
			       enum api_obj_kind expect,
			       struct api_obj_error *err);

/* Accepts NULL. */
void api_obj_free(struct api_obj *o);

/* Accessors; strings are owned by the object, never NULL ("" if absent).
 * Namespace is "" for Node (cluster-scoped) and defaults to "default". */
enum api_obj_kind api_obj_kind(const struct api_obj *o);
const char *api_obj_name(const struct api_obj *o);
const char *api_obj_namespace(const struct api_obj *o);
const char *api_obj_uid(const struct api_obj *o);
/* metadata.resourceVersion as a number; 0 if absent. */
int64_t api_obj_resource_version(const struct api_obj *o);
/* A label's value, or NULL if the label is not set. */
const char *api_obj_label(const struct api_obj *o, const char *key);
/* The validated document (borrowed; valid until api_obj_free). */
const json_t *api_obj_json(const struct api_obj *o);

/*
 * The store key of the object: /registry/<resource>/<namespace>/<name>, or
 * /registry/nodes/<name> for a Node (the apiserver's etcd layout). Writes
 * at most cap bytes including the NUL; returns the length it needs
 * (excluding the NUL), like snprintf.
 */
size_t api_obj_store_key(const struct api_obj *o, char *buf, size_t cap);

#endif /* SLUICE_CTRL_API_OBJECTS_H */
