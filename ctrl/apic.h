/*
 * apic: the C client of the sluice HTTPS API (docs/api.md), over libcurl.
 * Used by the `sluice` CLI, the node agent and the controllers.
 *
 * It holds a list of API endpoints and fails over between them: a request
 * that cannot connect (or whose TLS handshake fails, or that times out
 * before any response byte) moves to the next endpoint and retries, once
 * per endpoint; so does a 503 whose Status reason is "NoLeader" (unless it
 * came from the last endpoint left, when it is the answer). Any other HTTP
 * response is an answer and is returned as is; a transfer that broke after
 * the response began is not retried (the write may have been applied).
 * The endpoint that answered is tried first next time. Authentication is
 * by client certificate (cert + key) against the cluster CA; a certificate
 * the server refuses gives APIC_ERR_TLS, also when TLS 1.3 reports it only
 * after the handshake. One connection is kept alive between requests.
 *
 * Client config file (written by `sluice-ctrl init` / `sluice-ctrl cert`),
 * JSON:
 *   {"servers": ["https://127.0.0.1:6443", ...],
 *    "ca": "/path/ca.crt", "cert": "/path/x.crt", "key": "/path/x.key"}
 * Relative paths are relative to the file's directory.
 *
 * Errors (STYLE 9): functions return 0 or a positive APIC_ERR_*; errmsg
 * buffers carry one line naming the endpoint and the cause.
 * Threading: one struct apic per thread; no shared state.
 */
#ifndef SLUICE_CTRL_APIC_H
#define SLUICE_CTRL_APIC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define APIC_ERRMSG_SIZE 512
#define APIC_MAX_SERVERS 8

enum apic_err {
	APIC_OK = 0,
	APIC_ERR_CONFIG = 1,      /* bad config file or params */
	APIC_ERR_UNREACHABLE = 2, /* no endpoint answered */
	APIC_ERR_TLS = 3,         /* certificate or handshake problem */
	APIC_ERR_PROTOCOL = 4,    /* answer was not the JSON expected */
	APIC_ERR_NOMEM = 5,
	APIC_ERR_STOPPED = 6,     /* a watch was stopped by *stop */
};

/* Static text for an APIC_* code; any thread. */
const char *apic_strerror(int err);

struct apic_params {
	const char *servers[APIC_MAX_SERVERS]; /* https://host:port */
	size_t n_servers;
	const char *ca;   /* PEM CA bundle that signed the servers */
	const char *cert; /* PEM client certificate */
	const char *key;  /* PEM client key */
	long timeout_ms;  /* per request, 0 = 10000 (watches: connect only) */
};

/* Config file loaded into caller-owned storage (strings live in cfg). */
struct apic_config {
	char servers[APIC_MAX_SERVERS][256];
	size_t n_servers;
	char ca[4096], cert[4096], key[4096];
};

int apic_config_load(const char *path, struct apic_config *cfg, char *errmsg, size_t errlen);
/* Point params at cfg's strings. */
void apic_config_params(const struct apic_config *cfg, struct apic_params *p);

struct apic;

struct apic *apic_create(const struct apic_params *p, char *errmsg, size_t errlen);
void apic_free(struct apic *c); /* accepts NULL */

/* The endpoint that answered last ("" before the first answer). */
const char *apic_current_server(const struct apic *c);

struct apic_resp {
	long status;   /* HTTP status */
	json_t *body;  /* parsed body, NULL if empty or not JSON */
	char errmsg[APIC_ERRMSG_SIZE]; /* transport error, or the Status
					* object's message for status >= 400 */
};

/*
 * One request. method "GET", "POST", "PUT", "DELETE"; path with query,
 * e.g. "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb"; body may
 * be NULL. Returns APIC_OK when some endpoint answered (look at
 * out->status), else an error with out->errmsg set. Free out with
 * apic_resp_clear().
 */
int apic_request(struct apic *c, const char *method, const char *path, const json_t *body,
		 struct apic_resp *out);
void apic_resp_clear(struct apic_resp *r);

/*
 * Watch: GET path (which must carry watch=1 and usually resourceVersion=N)
 * and call cb for each event line {"type": ..., "object": ...} as it
 * arrives. type is "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "ERROR"
 * (object is then a Status; code 410 means the revision was compacted:
 * relist). cb returns false to end the watch. Returns when cb said stop
 * (APIC_OK), when *stop became nonzero (APIC_ERR_STOPPED; checked at least
 * every 200 ms), or when the stream ended or failed (an error; *last_status
 * gets the HTTP status if there was one). The caller resumes from the last
 * resourceVersion it saw: apic does not reconnect by itself, so no event
 * is ever delivered twice.
 */
typedef bool (*apic_watch_cb)(void *arg, const char *type, json_t *object);
int apic_watch(struct apic *c, const char *path, apic_watch_cb cb, void *arg,
	       volatile int *stop, long *last_status, char *errmsg, size_t errlen);

/*
 * The decoding half of apic_watch, for tests and fuzzing: split len bytes
 * of a 200 watch body into lines, fed in pieces of `chunk` bytes (0 = all
 * at once) as libcurl would, and call cb for each event. Returns the
 * events delivered and sets *ok to 0 on a protocol error (errmsg says
 * which: not JSON, no type/object, a line over the limit) or when cb said
 * stop; a partial last line is left undelivered, as a cut stream's is.
 */
long apic_watch_decode(const char *data, size_t len, size_t chunk, apic_watch_cb cb, void *arg,
		       int *ok, char *errmsg, size_t errlen);

#endif
