/*
 * http: the masters' HTTPS server (docs/api.md "Transport"), on libevent's
 * evhttp over bufferevent_openssl, driven by the master's one event_base.
 *
 * - TLS 1.2+ only; the client certificate is REQUIRED and verified against
 *   the cluster CA during the handshake, so a request without a valid cert
 *   never reaches a handler. The cert's CN names the client.
 * - HTTP/1.1 keep-alive; request bodies over HTTP_BODY_MAX get 413
 *   RequestEntityTooLarge before any handler runs.
 * - Routing by method mask and path prefix (longest prefix wins; a prefix
 *   matches at a '/' boundary or exactly). A path no route matches gets 404
 *   NotFound, a matched path with a method outside the mask 405.
 * - Leader forwarding: a route flagged HTTP_ROUTE_FWD_* on a follower is
 *   relayed to the leader's API over HTTPS with this master's client cert
 *   (libcurl, non-blocking on the same loop) and the leader's answer is
 *   copied back (status, Content-Type, body). No leader known: 503 NoLeader.
 *   A forwarded request carries X-Sluice-Forwarded; a master that receives
 *   one and is not the leader answers 503 NoLeader instead of forwarding
 *   again, so leadership churn cannot create forwarding loops.
 * - Streaming (watch): chunked transfer encoding, with a close callback so a
 *   watch learns when its client went away.
 *
 * Threading: everything here runs on the thread that runs the event_base
 * (the master's loop thread); no function is thread-safe. Handlers may
 * therefore touch the store directly and store watch callbacks may write to
 * streams.
 *
 * Request lifetime: a handler is called with a struct http_req that stays
 * valid until the request is answered, exactly once, by one of
 * http_reply_*(), http_forward() or http_stream_start() + http_stream_end().
 * The answer may be given after the handler returned (e.g. from a
 * master_propose() callback). Answering a request whose client already went
 * away is safe (the answer is dropped and the request freed). A request
 * never answered leaks its connection: always answer.
 */
#ifndef SLUICE_CTRL_HTTP_H
#define SLUICE_CTRL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;

#define HTTP_ERRMSG_SIZE 256
/* Largest request body accepted (docs/api.md: 413 above it). */
#define HTTP_BODY_MAX (1024u * 1024u)

/* Methods, as bits so a route can take several. */
enum http_method {
	HTTP_GET = 1u << 0,
	HTTP_POST = 1u << 1,
	HTTP_PUT = 1u << 2,
	HTTP_DELETE = 1u << 3,
	HTTP_PATCH = 1u << 4,
	HTTP_HEAD = 1u << 5,
};
#define HTTP_ANY_METHOD 0x3fu

/* Route flags. */
enum http_route_flag {
	/* Match the path exactly, not as a prefix. */
	HTTP_ROUTE_EXACT = 1u << 0,
	/* On a follower, forward every non-GET/HEAD request to the leader. */
	HTTP_ROUTE_FWD_WRITES = 1u << 1,
	/* On a follower, forward GET/HEAD to the leader too, unless the query
	 * has consistency=serializable or watch=1|true (watches are served
	 * from the local store, see docs/master.md). */
	HTTP_ROUTE_FWD_READS = 1u << 2,
};
/* Writes always, linearizable reads unless serializable (docs/api.md). */
#define HTTP_ROUTE_LEADER (HTTP_ROUTE_FWD_WRITES | HTTP_ROUTE_FWD_READS)

struct http_server; /* opaque */
struct http_req;    /* opaque */
struct http_stream; /* opaque */

/* Where the leader is, asked once per request that may need forwarding.
 * Returns 1 if this master is the leader; 0 if a follower that knows the
 * leader (its API base URL, e.g. "https://127.0.0.1:6443", written to
 * url[0..len)); -1 if no leader is known. */
typedef int (*http_leader_fn)(void *arg, char *url, size_t len);

struct http_server_params {
	struct event_base *base; /* required; borrowed */
	const char *listen;      /* "host:port", port alone, or "[v6]:port" */
	const char *ca_file;     /* cluster CA (PEM): verifies clients and, when
				  * forwarding, the leader */
	const char *cert_file;   /* this master's cert (PEM), used both as TLS
				  * server cert and as client cert to forward */
	const char *key_file;    /* its private key (PEM) */
	http_leader_fn leader;   /* NULL = never forward (single server) */
	void *leader_arg;
	/* Log lines (one per failed handshake, forward error...); NULL =
	 * stderr. */
	void (*log)(void *data, const char *line);
	void *log_data;
};

/*
 * Create the server and start listening. NULL with errmsg (names the file
 * or the address) on error. Loop thread.
 */
struct http_server *http_server_create(const struct http_server_params *p,
				       char *errmsg, size_t errlen);

/* First step of a clean shutdown: stop accepting connections, end every
 * stream (its close callback runs, then the final chunk is queued), answer
 * relays in flight 503, and from now on answer every new request 503
 * without calling a handler. Running the loop a little afterwards flushes
 * the answers. Accepts NULL. Loop thread. */
void http_server_quiesce(struct http_server *srv);

/* Quiesce (if not done), close every connection, free. Accepts NULL.
 * Loop thread. */
void http_server_free(struct http_server *srv);

/* The port actually bound (useful with port 0 in tests). */
unsigned http_server_port(const struct http_server *srv);

/* The event_base the server runs on (for handlers that need timers). */
struct event_base *http_server_base(const struct http_server *srv);

/* A request handler. See "Request lifetime" above. */
typedef void (*http_handler)(struct http_req *req, void *arg);

/*
 * Register handler for requests whose method is in method_mask (enum
 * http_method bits) and whose path starts with prefix (at a '/' boundary,
 * or equals it with HTTP_ROUTE_EXACT). prefix is copied; arg is borrowed.
 * The same prefix may be registered again for other methods; overlapping
 * methods fail (EEXIST). 0 or -1 with errno.
 * Loop thread, before or while serving.
 */
int http_route(struct http_server *srv, unsigned method_mask,
	       const char *prefix, unsigned flags, http_handler handler,
	       void *arg);

/* ----------------------------------------------------------- accessors */
/* Pointers returned here are owned by the request and valid until it is
 * answered. */

/* One enum http_method bit. */
unsigned http_req_method(const struct http_req *req);
/* Method name ("GET"...). */
const char *http_req_method_name(const struct http_req *req);
/* Percent-decoded path without the query, e.g. "/api/v1/pods". */
const char *http_req_path(const struct http_req *req);
/* Percent-decoded value of query parameter name ("" for "?watch"), or
 * NULL if absent. The first occurrence wins. */
const char *http_req_query(const struct http_req *req, const char *name);
/* The raw query string (after '?', not decoded), "" if none. */
const char *http_req_query_string(const struct http_req *req);
/* Request header value or NULL (case-insensitive name). */
const char *http_req_header(const struct http_req *req, const char *name);
/* Body bytes (NUL-terminated for convenience; *len excludes the NUL).
 * Never NULL: an empty body gives "" and 0. */
const uint8_t *http_req_body(const struct http_req *req, size_t *len);
/* CN of the client certificate ("admin", "node:n1", "master:m1"). For a
 * request forwarded by another master, the CN of the original client. */
const char *http_req_client_cn(const struct http_req *req);
/* True if the request was forwarded to us by another master. */
bool http_req_forwarded(const struct http_req *req);
/* The server the request arrived on. */
struct http_server *http_req_server(const struct http_req *req);

/* A decoded query string (what http_req_query() reads from). */
#define HTTP_MAX_QUERY 32
struct http_query {
	char *buf; /* keys and values point into it */
	const char *keys[HTTP_MAX_QUERY];
	const char *vals[HTTP_MAX_QUERY];
	size_t n;
};

/* Split qs ("a=1&b&c=x%20y", not including '?') into decoded pairs ('+'
 * is a space; a key without '=' has value ""; malformed %-escapes stay
 * literal, as evhttp_uridecode leaves them). Untrusted input: -1 (q left
 * empty) for more than HTTP_MAX_QUERY pairs, a part over 4 KiB or an
 * encoded NUL. Free with http_query_clear. Any thread. */
int http_query_parse(const char *qs, struct http_query *q);
void http_query_clear(struct http_query *q);
/* First value of name, or NULL. */
const char *http_query_get(const struct http_query *q, const char *name);

/* -------------------------------------------------------------- replies */

/* Add a response header (before the reply or stream start). Copied. */
void http_reply_header(struct http_req *req, const char *name,
		       const char *value);

/* Answer with a JSON body (application/json). Steals the reference to
 * body (NULL sends an empty body). */
void http_reply_json(struct http_req *req, int status, json_t *body);

/* Answer with raw bytes (copied) and a content type (NULL = text/plain). */
void http_reply_raw(struct http_req *req, int status,
		    const char *content_type, const void *body, size_t len);

/* Answer with a Kubernetes Status object (docs/api.md "Errors"):
 * {"kind":"Status","apiVersion":"v1","status":"Failure","message":...,
 *  "reason":reason,"code":code}. message is printf-formatted. */
void http_reply_status(struct http_req *req, int code, const char *reason,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The Status object http_reply_status() sends, for handlers that embed it
 * (e.g. a watch ERROR event). New reference. */
json_t *http_status_json(int code, const char *reason, const char *message);

/*
 * Relay the request to the leader and answer with the leader's response.
 * Answers 503 NoLeader itself when no leader is known or when the request
 * was already forwarded once, and 503 ServiceUnavailable when the leader
 * cannot be reached. Counts as the answer. Use it when the route's flags
 * cannot decide, e.g. /v3/kv/range whose "serializable" is in the body, or
 * after master_propose() / master_read() returned MASTER_ERR_NOTLEADER.
 */
void http_forward(struct http_req *req);

/* Result of http_probe(): the HTTP status, or 0 if no answer came. */
typedef void (*http_probe_cb)(void *arg, long status);

/*
 * GET url (e.g. another master's /healthz) with this server's client
 * certificate, on the loop, through the relay's connection pool. cb runs
 * once, later, on the loop thread, unless the server is freed first (then
 * never). 0, or -1 if it could not start (cb will not run). Loop thread.
 */
int http_probe(struct http_server *srv, const char *url, long timeout_ms,
	       http_probe_cb cb, void *arg);

/* ------------------------------------------------------------ streaming */

/* Called once when the client of a stream went away or the server is
 * being freed. The stream is freed right after the callback returns: do
 * not use it (nor its request) again. Not called after http_stream_end(). */
typedef void (*http_stream_close_cb)(struct http_stream *st, void *arg);

/*
 * Start a chunked response (the answer to req). content_type NULL =
 * application/json. Returns the stream (owned by the server) or NULL if the
 * client is already gone (the request is then freed and close_cb is NOT
 * called).
 */
struct http_stream *http_stream_start(struct http_req *req, int status,
				      const char *content_type,
				      http_stream_close_cb close_cb,
				      void *arg);

/* Send one chunk (bytes copied). 0, or -1 if the client went away (the
 * close callback has then run or will run from the loop). */
int http_stream_write(struct http_stream *st, const void *buf, size_t len);

/* Send json (compact) followed by '\n' as one chunk; does not steal. */
int http_stream_json(struct http_stream *st, const json_t *json);

/* Bytes queued to the client but not yet written to the socket: a watch
 * uses it to stop feeding a client that does not read (backpressure). */
size_t http_stream_pending(const struct http_stream *st);

/* End the stream (final chunk) and free it; close_cb is not called. */
void http_stream_end(struct http_stream *st);

#endif /* SLUICE_CTRL_HTTP_H */
