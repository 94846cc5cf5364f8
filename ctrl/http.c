/*
 * http: the masters' HTTPS server (see http.h for the contract).
 *
 * libevent's evhttp does HTTP/1.1 (keep-alive, chunked replies, body
 * limits); each accepted socket gets a bufferevent_openssl whose SSL_CTX
 * requires a client certificate that chains to the cluster CA, so an
 * unauthenticated peer never gets past the handshake. Routing, Status
 * errors and leader forwarding sit on top.
 *
 * Forwarding uses libcurl's multi interface driven by the same event_base
 * (the socket/timer callback pattern of curl's hiperfifo example), so a
 * follower relaying a write to the leader never blocks the Raft loop. The
 * multi handle keeps one TLS connection per leader alive between requests.
 */
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sluice/errmsg.h"

/* evhttp refuses bodies above this itself (with its own 413 page); bodies
 * between HTTP_BODY_MAX and this get our Status object. */
#define HTTP_EVHTTP_BODY_MAX (4u * HTTP_BODY_MAX)
#define HTTP_MAX_ROUTES 64
#define HTTP_QUERY_PART_MAX 4096
/* A relay waits this long for the leader: about etcd's request timeout
 * (5 s + an election), so a paused leader ties relays up only briefly. */
#define HTTP_FWD_TIMEOUT_MS 10000L
#define HTTP_FWD_CONNECT_MS 2000L
/* Relayed requests in flight per follower. HTTP/1.1 holds one request per
 * connection for a whole commit round trip, so this bounds a follower's
 * relayed writes/s to about MAX_CONNS / commit latency: 32 queued 256
 * clients behind each other (p99 463 ms in perf/kv-bench.sh), 256 does
 * not (236 ms, same run conditions). */
#define HTTP_FWD_MAX_CONNS 256
#define HTTP_LISTEN_BACKLOG 1024
#define HTTP_HDR_FORWARDED "X-Sluice-Forwarded"
#define HTTP_HDR_CLIENT_CN "X-Sluice-Client-CN"

struct http_route_ent {
	char *prefix;
	size_t len;
	unsigned methods;
	unsigned flags;
	http_handler handler;
	void *arg;
};

struct http_fwd;

struct http_server {
	struct event_base *base;
	struct evhttp *evh;
	SSL_CTX *ctx;
	unsigned port;
	struct http_route_ent routes[HTTP_MAX_ROUTES];
	size_t n_routes;
	http_leader_fn leader;
	void *leader_arg;
	void (*log)(void *data, const char *line);
	void *log_data;
	char *ca_file, *cert_file, *key_file;
	char self_cn[128];
	/* forwarding */
	CURLM *multi;
	CURLSH *share; /* TLS sessions shared by every relay transfer */
	struct event *curl_timer;
	struct http_fwd *fwds; /* in flight, doubly linked */
	struct http_stream *streams; /* open, doubly linked */
	bool freeing;   /* quiesced or being freed: no handler runs again */
	struct evhttp_bound_socket *sock;
};

struct http_req {
	struct http_server *srv;
	struct evhttp_request *ev;
	unsigned method;
	char *path;
	const char *qs;
	struct http_query query;
	uint8_t *body;
	size_t body_len;
	char cn[128];
	bool forwarded;
};

struct http_stream {
	struct http_req *req;
	struct evhttp_connection *evcon;
	http_stream_close_cb close_cb;
	void *arg;
	struct http_stream *prev, *next;
};

/* A relayed request (req set) or a probe (probe_cb set; req NULL). */
struct http_fwd {
	struct http_server *srv;
	struct http_req *req;
	http_probe_cb probe_cb;
	void *probe_arg;
	CURL *easy;
	struct curl_slist *hdrs;
	struct evbuffer *body;
	uint8_t *up; /* a relayed write's body, handed to libcurl once */
	size_t up_len, up_pos;
	char content_type[128];
	char url[1024];
	struct http_fwd *prev, *next;
};

struct http_sock {
	struct event *ev;
	curl_socket_t fd;
};

__attribute__((format(printf, 2, 3))) static void
http_log(struct http_server *srv, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (srv->log != NULL)
		srv->log(srv->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

static const char *http_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

/* ------------------------------------------------------------- TLS */

static SSL_CTX *http_ssl_ctx(const struct http_server_params *p, char *errmsg,
			     size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		sluice_errf(-1, errmsg, errlen, "http: SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	const char *what = NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, p->cert_file) != 1)
		what = p->cert_file;
	else if (SSL_CTX_use_PrivateKey_file(ctx, p->key_file, SSL_FILETYPE_PEM) != 1)
		what = p->key_file;
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "key does not match the certificate";
	else if (SSL_CTX_load_verify_locations(ctx, p->ca_file, NULL) != 1)
		what = p->ca_file;
	if (what != NULL) {
		char buf[200];
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		ERR_clear_error();
		sluice_errf(-1, errmsg, errlen, "http: %s: %s", what, buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(p->ca_file);
	if (cas != NULL)
		SSL_CTX_set_client_CA_list(ctx, cas);
	/* docs/api.md: no valid client cert, no session. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	/* With client certs, resuming a session (libcurl reuses TLS 1.3
	 * tickets) needs a session id context, or the handshake fails with
	 * an "internal error" alert. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sluice-api", 10);
	return ctx;
}

static struct bufferevent *http_bevcb(struct event_base *base, void *arg)
{
	struct http_server *srv = arg;
	SSL *ssl = SSL_new(srv->ctx);
	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
					      BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static void http_cert_cn(X509 *crt, char *out, size_t len)
{
	out[0] = '\0';
	if (crt == NULL)
		return;
	X509_NAME *subj = X509_get_subject_name(crt);
	if (X509_NAME_get_text_by_NID(subj, NID_commonName, out, (int)len) < 0)
		out[0] = '\0';
}

static void http_peer_cn(struct evhttp_request *ev, char *out, size_t len)
{
	out[0] = '\0';
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	if (evcon == NULL)
		return;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	if (ssl == NULL)
		return;
	X509 *crt = SSL_get1_peer_certificate(ssl);
	http_cert_cn(crt, out, len);
	X509_free(crt);
}

/* ---------------------------------------------------------- requests */

static void http_req_free(struct http_req *req)
{
	if (req == NULL)
		return;
	http_query_clear(&req->query);
	free(req->path);
	free(req->body);
	free(req);
}

unsigned http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *http_req_method_name(const struct http_req *req)
{
	switch (req->method) {
	case HTTP_GET: return "GET";
	case HTTP_POST: return "POST";
	case HTTP_PUT: return "PUT";
	case HTTP_DELETE: return "DELETE";
	case HTTP_PATCH: return "PATCH";
	case HTTP_HEAD: return "HEAD";
	default: return "?";
	}
}

const char *http_req_path(const struct http_req *req)
{
	return req->path;
}

const char *http_req_query(const struct http_req *req, const char *name)
{
	return http_query_get(&req->query, name);
}

/* evhttp_parse_query_str (libevent 2.1) refuses a key without '=', which
 * Kubernetes clients send ("?watch"): hence our own splitter. */
int http_query_parse(const char *qs, struct http_query *q)
{
	memset(q, 0, sizeof(*q));
	if (qs == NULL || qs[0] == '\0')
		return 0;
	size_t n = strlen(qs);
	/* decoded text is never longer; plus two NULs per pair */
	q->buf = malloc(3 * n + 2);
	if (q->buf == NULL)
		return -1;
	char *out = q->buf;
	const char *p = qs;
	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			if (q->n == HTTP_MAX_QUERY)
				goto bad;
			const char *eq = memchr(p, '=', len);
			size_t klen = eq != NULL ? (size_t)(eq - p) : len;
			const char *parts[2] = { p, eq != NULL ? eq + 1 : p + len };
			size_t lens[2] = { klen, eq != NULL ? len - klen - 1 : 0 };
			for (int k = 0; k < 2; k++) {
				char tmp[HTTP_QUERY_PART_MAX];
				if (lens[k] >= sizeof(tmp))
					goto bad;
				memcpy(tmp, parts[k], lens[k]);
				tmp[lens[k]] = '\0';
				size_t dlen = 0;
				char *dec = evhttp_uridecode(tmp, 1, &dlen);
				if (dec == NULL || strlen(dec) != dlen) { /* NUL inside */
					free(dec);
					goto bad;
				}
				memcpy(out, dec, dlen + 1);
				free(dec);
				if (k == 0)
					q->keys[q->n] = out;
				else
					q->vals[q->n] = out;
				out += dlen + 1;
			}
			q->n++;
		}
		p += len + (amp != NULL ? 1 : 0);
	}
	return 0;
bad:
	http_query_clear(q);
	return -1;
}

void http_query_clear(struct http_query *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

const char *http_query_get(const struct http_query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->keys[i], name) == 0)
			return q->vals[i];
	return NULL;
}

const char *http_req_query_string(const struct http_req *req)
{
	return req->qs != NULL ? req->qs : "";
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const uint8_t *http_req_body(const struct http_req *req, size_t *len)
{
	*len = req->body_len;
	return req->body;
}

const char *http_req_client_cn(const struct http_req *req)
{
	return req->cn;
}

bool http_req_forwarded(const struct http_req *req)
{
	return req->forwarded;
}

struct http_server *http_req_server(const struct http_req *req)
{
	return req->srv;
}

/* ----------------------------------------------------------- replies */

void http_reply_header(struct http_req *req, const char *name,
		       const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

void http_reply_raw(struct http_req *req, int status, const char *content_type,
		    const void *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req->ev);
	evhttp_remove_header(h, "Content-Type");
	evhttp_add_header(h, "Content-Type",
			  content_type != NULL ? content_type : "text/plain");
	struct evbuffer *buf = evbuffer_new();
	if (buf != NULL && len > 0)
		evbuffer_add(buf, body, len);
	evhttp_send_reply(req->ev, status, http_reason(status), buf);
	if (buf != NULL)
		evbuffer_free(buf);
	http_req_free(req);
}

void http_reply_json(struct http_req *req, int status, json_t *body)
{
	char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (body != NULL && s == NULL) {
		http_reply_raw(req, 500, "application/json", "", 0);
		return;
	}
	http_reply_raw(req, status, "application/json", s != NULL ? s : "",
		       s != NULL ? strlen(s) : 0);
	free(s);
}

json_t *http_status_json(int code, const char *reason, const char *message)
{
	return json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status",
			 "apiVersion", "v1", "metadata", "status", "Failure",
			 "message", message != NULL ? message : "",
			 "reason", reason != NULL ? reason : "", "code", code);
}

void http_reply_status(struct http_req *req, int code, const char *reason,
		       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_reply_json(req, code, http_status_json(code, reason, msg));
}

/* ------------------------------------------------------------ streams */

static void http_stream_unlink(struct http_stream *st)
{
	struct http_server *srv = st->req->srv;
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		srv->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
}

static void http_stream_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct http_stream *st = arg;
	http_stream_unlink(st);
	if (st->close_cb != NULL)
		st->close_cb(st, st->arg);
	/* A failed incoming connection detaches an unfinished request
	 * (evhttp_connection_incoming_fail) instead of freeing it: ours to
	 * free. One still attached is freed with the connection. */
	if (evhttp_request_get_connection(st->req->ev) == NULL)
		evhttp_request_free(st->req->ev);
	http_req_free(st->req);
	free(st);
}

struct http_stream *http_stream_start(struct http_req *req, int status,
				      const char *content_type,
				      http_stream_close_cb close_cb, void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req->ev);
	struct http_stream *st = calloc(1, sizeof(*st));
	if (evcon == NULL || st == NULL) {
		/* client gone already (or no memory): drop the request */
		free(st);
		if (evcon == NULL)
			evhttp_request_free(req->ev);
		else
			evhttp_send_error(req->ev, 500, NULL);
		http_req_free(req);
		return NULL;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req->ev);
	evhttp_remove_header(h, "Content-Type");
	evhttp_add_header(h, "Content-Type",
			  content_type != NULL ? content_type : "application/json");
	st->req = req;
	st->evcon = evcon;
	st->close_cb = close_cb;
	st->arg = arg;
	st->next = req->srv->streams;
	if (st->next != NULL)
		st->next->prev = st;
	req->srv->streams = st;
	evhttp_connection_set_closecb(evcon, http_stream_closed, st);
	evhttp_send_reply_start(req->ev, status, http_reason(status));
	return st;
}

int http_stream_write(struct http_stream *st, const void *buf, size_t len)
{
	if (evhttp_request_get_connection(st->req->ev) == NULL)
		return -1;
	if (len == 0)
		return 0; /* an empty chunk would end the stream */
	struct evbuffer *b = evbuffer_new();
	if (b == NULL || evbuffer_add(b, buf, len) != 0) {
		if (b != NULL)
			evbuffer_free(b);
		return -1;
	}
	evhttp_send_reply_chunk(st->req->ev, b);
	evbuffer_free(b);
	return 0;
}

int http_stream_json(struct http_stream *st, const json_t *json)
{
	char *s = json_dumps(json, JSON_COMPACT);
	if (s == NULL)
		return -1;
	size_t n = strlen(s);
	char *line = realloc(s, n + 2);
	if (line == NULL) {
		free(s);
		return -1;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	int rc = http_stream_write(st, line, n + 1);
	free(line);
	return rc;
}

size_t http_stream_pending(const struct http_stream *st)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
	return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void http_stream_end(struct http_stream *st)
{
	http_stream_unlink(st);
	evhttp_connection_set_closecb(st->evcon, NULL, NULL);
	evhttp_send_reply_end(st->req->ev);
	http_req_free(st->req);
	free(st);
}

/* -------------------------------------------------------- forwarding */

/* Unlink f from srv's list and from the multi handle. */
static void http_fwd_unlink(struct http_server *srv, struct http_fwd *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else if (srv->fwds == f)
		srv->fwds = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	if (f->easy != NULL)
		curl_multi_remove_handle(srv->multi, f->easy);
}

/* Free an unlinked forward. */
static void http_fwd_free(struct http_fwd *f)
{
	if (f->easy != NULL)
		curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->hdrs);
	if (f->body != NULL)
		evbuffer_free(f->body);
	free(f->up);
	free(f);
}

static size_t http_fwd_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct http_fwd *f = arg;
	size_t n = f->up_len - f->up_pos;
	if (n > size * nitems)
		n = size * nitems;
	memcpy(buf, f->up + f->up_pos, n);
	f->up_pos += n;
	return n;
}

/* libcurl rewinds an upload only to send the request again: on a reused
 * connection that died before any answer byte (Curl_retry_request, which
 * libcurl 7.88 has no option to turn off; 8.16 added
 * CURLOPT_FORBID_RETRY_ON_REUSE), the leader may have applied the write
 * already. Once a byte went out, refuse: the transfer fails with
 * CURLE_SEND_FAIL_REWIND and the client gets a 503 instead of a silent
 * second apply. */
static int http_fwd_seek(void *arg, curl_off_t offset, int origin)
{
	struct http_fwd *f = arg;
	if (offset == 0 && origin == SEEK_SET && f->up_pos == 0)
		return CURL_SEEKFUNC_OK;
	return CURL_SEEKFUNC_FAIL;
}

static size_t http_fwd_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_fwd *f = arg;
	size_t n = size * nmemb;
	if (evbuffer_get_length(f->body) + n > 64u * HTTP_BODY_MAX)
		return 0; /* a runaway answer: fail the transfer */
	return evbuffer_add(f->body, ptr, n) == 0 ? n : 0;
}

static size_t http_fwd_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_fwd *f = arg;
	size_t n = size * nmemb;
	static const char ct[] = "content-type:";
	if (n > sizeof(ct) - 1 && strncasecmp(ptr, ct, sizeof(ct) - 1) == 0) {
		size_t i = sizeof(ct) - 1;
		while (i < n && (ptr[i] == ' ' || ptr[i] == '\t'))
			i++;
		size_t j = n;
		while (j > i && (ptr[j - 1] == '\r' || ptr[j - 1] == '\n' ||
				 ptr[j - 1] == ' '))
			j--;
		size_t len = j - i < sizeof(f->content_type) - 1
				     ? j - i : sizeof(f->content_type) - 1;
		memcpy(f->content_type, ptr + i, len);
		f->content_type[len] = '\0';
	}
	return n;
}

static void http_fwd_done(struct http_fwd *f, CURLcode res)
{
	struct http_req *req = f->req;
	long code = 0;
	if (res == CURLE_OK)
		curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	/* Detach from the server before answering: the answer frees req. */
	http_fwd_unlink(f->srv, f);
	if (req == NULL) {
		http_probe_cb cb = f->probe_cb;
		void *arg = f->probe_arg;
		http_fwd_free(f);
		cb(arg, res == CURLE_OK ? code : 0);
		return;
	}
	f->req = NULL;
	if (res != CURLE_OK) {
		http_log(req->srv, "http: forward %s %s to %s: %s",
			 http_req_method_name(req), req->path, f->url,
			 curl_easy_strerror(res));
		http_reply_status(req, 503, "ServiceUnavailable",
				  "leader %s unreachable: %s", f->url,
				  curl_easy_strerror(res));
	} else {
		size_t len = evbuffer_get_length(f->body);
		const void *p = evbuffer_pullup(f->body, -1);
		http_reply_raw(req, (int)code,
			       f->content_type[0] != '\0' ? f->content_type
							  : "application/json",
			       p != NULL ? p : "", len);
	}
	http_fwd_free(f);
}

static void http_curl_check(struct http_server *srv)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(srv->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct http_fwd *f = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		if (f != NULL)
			http_fwd_done(f, msg->data.result);
	}
}

static void http_curl_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
		    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(srv->multi, fd, flags, &running);
	http_curl_check(srv);
}

static void http_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_server *srv = arg;
	int running;
	curl_multi_socket_action(srv->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_curl_check(srv);
}

static int http_curl_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	(void)multi;
	struct http_server *srv = arg;
	if (timeout_ms < 0) {
		evtimer_del(srv->curl_timer);
		return 0;
	}
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	evtimer_add(srv->curl_timer, &tv);
	return 0;
}

static int http_curl_sock_cb(CURL *easy, curl_socket_t s, int what, void *arg,
			     void *sockp)
{
	(void)easy;
	struct http_server *srv = arg;
	struct http_sock *hs = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			curl_multi_assign(srv->multi, s, NULL);
		}
		return 0;
	}
	short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
			     ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (hs == NULL) {
		hs = calloc(1, sizeof(*hs));
		if (hs == NULL)
			return -1;
		hs->fd = s;
		curl_multi_assign(srv->multi, s, hs);
	} else {
		event_free(hs->ev);
	}
	hs->ev = event_new(srv->base, s, kind, http_curl_event, srv);
	if (hs->ev == NULL)
		return -1;
	event_add(hs->ev, NULL);
	return 0;
}

/* A transfer to url with this master's client cert, linked into srv (not
 * yet added to the multi handle). NULL if out of memory. */
static struct http_fwd *http_fwd_new(struct http_server *srv, const char *url,
				     long timeout_ms)
{
	struct http_fwd *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->body = evbuffer_new()) == NULL ||
	    (f->easy = curl_easy_init()) == NULL) {
		if (f != NULL)
			http_fwd_free(f);
		return NULL;
	}
	f->srv = srv;
	snprintf(f->url, sizeof(f->url), "%s", url);
	CURL *e = f->easy;
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CAINFO, srv->ca_file);
	curl_easy_setopt(e, CURLOPT_SSLCERT, srv->cert_file);
	curl_easy_setopt(e, CURLOPT_SSLKEY, srv->key_file);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout_ms < HTTP_FWD_CONNECT_MS ? timeout_ms : HTTP_FWD_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_fwd_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_fwd_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	if (srv->share != NULL)
		curl_easy_setopt(e, CURLOPT_SHARE, srv->share);
	return f;
}

/* Link f into srv and start it; on failure f is freed and -1 returned. */
static int http_fwd_start(struct http_server *srv, struct http_fwd *f)
{
	f->next = srv->fwds;
	if (f->next != NULL)
		f->next->prev = f;
	srv->fwds = f;
	if (curl_multi_add_handle(srv->multi, f->easy) != CURLM_OK) {
		CURL *e = f->easy;
		f->easy = NULL; /* not in the multi: unlink only the list */
		http_fwd_unlink(srv, f);
		f->easy = e;
		http_fwd_free(f);
		return -1;
	}
	return 0;
}

static void http_forward_to(struct http_req *req, const char *base_url)
{
	struct http_server *srv = req->srv;
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", base_url, evhttp_request_get_uri(req->ev));
	struct http_fwd *f = http_fwd_new(srv, url, HTTP_FWD_TIMEOUT_MS);
	if (f == NULL) {
		http_reply_status(req, 500, "InternalError", "out of memory");
		return;
	}
	f->req = req;
	CURL *e = f->easy;
	switch (req->method) {
	case HTTP_GET:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		break;
	case HTTP_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	default:
		/* A write is sent at most once (see http_fwd_seek). Its body
		 * is read through a callback that cannot rewind once read; an
		 * empty one (a DELETE) has nothing to rewind, so it takes a
		 * connection of its own, which libcurl never retries. */
		if (req->body_len == 0) {
			curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		} else {
			f->up = malloc(req->body_len);
			if (f->up == NULL) {
				http_fwd_free(f);
				http_reply_status(req, 500, "InternalError", "out of memory");
				return;
			}
			memcpy(f->up, req->body, req->body_len);
			f->up_len = req->body_len;
			curl_easy_setopt(e, CURLOPT_POST, 1L);
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)req->body_len);
			curl_easy_setopt(e, CURLOPT_READFUNCTION, http_fwd_read);
			curl_easy_setopt(e, CURLOPT_READDATA, f);
			curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, http_fwd_seek);
			curl_easy_setopt(e, CURLOPT_SEEKDATA, f);
		}
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, http_req_method_name(req));
		break;
	}
	char line[256];
	snprintf(line, sizeof(line), HTTP_HDR_FORWARDED ": %s", srv->self_cn);
	f->hdrs = curl_slist_append(f->hdrs, line);
	snprintf(line, sizeof(line), HTTP_HDR_CLIENT_CN ": %s", req->cn);
	f->hdrs = curl_slist_append(f->hdrs, line);
	const char *ct = http_req_header(req, "Content-Type");
	if (ct != NULL && strlen(ct) < 200) {
		snprintf(line, sizeof(line), "Content-Type: %s", ct);
		f->hdrs = curl_slist_append(f->hdrs, line);
	}
	f->hdrs = curl_slist_append(f->hdrs, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->hdrs);
	if (http_fwd_start(srv, f) < 0)
		http_reply_status(req, 500, "InternalError", "forward: curl refused");
}

int http_probe(struct http_server *srv, const char *url, long timeout_ms,
	       http_probe_cb cb, void *arg)
{
	if (srv->freeing || cb == NULL)
		return -1;
	struct http_fwd *f = http_fwd_new(srv, url, timeout_ms);
	if (f == NULL)
		return -1;
	f->probe_cb = cb;
	f->probe_arg = arg;
	curl_easy_setopt(f->easy, CURLOPT_HTTPGET, 1L);
	return http_fwd_start(srv, f);
}

void http_forward(struct http_req *req)
{
	struct http_server *srv = req->srv;
	char url[512];
	int r = srv->leader != NULL ? srv->leader(srv->leader_arg, url, sizeof(url))
				    : -1;
	if (r < 0 || req->forwarded || srv->freeing) {
		http_reply_status(req, 503, "NoLeader",
				  "no leader: retry another master");
		return;
	}
	if (r == 1) {
		/* We became the leader meanwhile; the caller asked to
		 * forward because it could not serve, so this is transient. */
		http_reply_status(req, 503, "NoLeader",
				  "leadership changing: retry");
		return;
	}
	http_forward_to(req, url);
}

/* ----------------------------------------------------------- dispatch */

static unsigned http_method_of(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return HTTP_GET;
	case EVHTTP_REQ_POST: return HTTP_POST;
	case EVHTTP_REQ_PUT: return HTTP_PUT;
	case EVHTTP_REQ_DELETE: return HTTP_DELETE;
	case EVHTTP_REQ_PATCH: return HTTP_PATCH;
	case EVHTTP_REQ_HEAD: return HTTP_HEAD;
	default: return 0;
	}
}

static bool http_prefix_match(const struct http_route_ent *rt, const char *path)
{
	if (rt->flags & HTTP_ROUTE_EXACT)
		return strcmp(path, rt->prefix) == 0;
	if (strncmp(path, rt->prefix, rt->len) != 0)
		return false;
	/* "/api/v1/pods" must not match "/api/v1/podsx" */
	return path[rt->len] == '\0' || path[rt->len] == '/' ||
	       (rt->len > 0 && rt->prefix[rt->len - 1] == '/');
}

static bool http_is_true(const char *v)
{
	return v != NULL && (v[0] == '\0' || strcmp(v, "1") == 0 ||
			     strcmp(v, "true") == 0);
}

static bool http_should_forward(const struct http_req *req, unsigned flags)
{
	if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
		if (!(flags & HTTP_ROUTE_FWD_READS))
			return false;
		const char *c = http_req_query(req, "consistency");
		if (c != NULL && strcmp(c, "serializable") == 0)
			return false;
		return !http_is_true(http_req_query(req, "watch"));
	}
	return (flags & HTTP_ROUTE_FWD_WRITES) != 0;
}

static void http_dispatch(struct evhttp_request *ev, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		evhttp_send_error(ev, 500, NULL);
		return;
	}
	req->srv = srv;
	req->ev = ev;
	req->method = http_method_of(evhttp_request_get_command(ev));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *raw_path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	req->qs = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	req->path = evhttp_uridecode(raw_path != NULL && raw_path[0] != '\0'
					     ? raw_path : "/", 0, NULL);
	bool query_ok = http_query_parse(req->qs, &req->query) == 0;
	http_peer_cn(ev, req->cn, sizeof(req->cn));
	if (req->path == NULL) {
		http_reply_status(req, 400, "BadRequest", "path: bad encoding");
		return;
	}
	if (!query_ok) {
		http_reply_status(req, 400, "BadRequest", "query: malformed");
		return;
	}
	if (req->method == 0) {
		http_reply_status(req, 405, "MethodNotAllowed", "method not allowed");
		return;
	}
	if (srv->freeing) {
		/* quiesced: the master behind the handlers is gone */
		http_reply_status(req, 503, "ServiceUnavailable", "master shutting down");
		return;
	}

	/* Only another master may claim to relay someone else's request. */
	const char *fwd = http_req_header(req, HTTP_HDR_FORWARDED);
	if (fwd != NULL && strncmp(req->cn, "master:", 7) == 0) {
		req->forwarded = true;
		const char *orig = http_req_header(req, HTTP_HDR_CLIENT_CN);
		if (orig != NULL)
			snprintf(req->cn, sizeof(req->cn), "%s", orig);
	}

	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	size_t n = evbuffer_get_length(in);
	if (n > HTTP_BODY_MAX) {
		http_reply_status(req, 413, "RequestEntityTooLarge",
				  "body: %zu bytes, limit %u", n, HTTP_BODY_MAX);
		return;
	}
	req->body = malloc(n + 1);
	if (req->body == NULL) {
		http_reply_status(req, 500, "InternalError", "out of memory");
		return;
	}
	if (n > 0)
		evbuffer_remove(in, req->body, n);
	req->body[n] = '\0';
	req->body_len = n;

	const struct http_route_ent *best = NULL;
	for (size_t i = 0; i < srv->n_routes; i++) {
		const struct http_route_ent *rt = &srv->routes[i];
		if (http_prefix_match(rt, req->path) &&
		    (best == NULL || rt->len > best->len ||
		     (rt->len == best->len && (rt->methods & req->method))))
			best = rt;
	}
	if (best == NULL) {
		http_reply_status(req, 404, "NotFound", "%s: no such path", req->path);
		return;
	}
	if (!(best->methods & req->method)) {
		http_reply_status(req, 405, "MethodNotAllowed",
				  "%s not allowed on %s", http_req_method_name(req),
				  req->path);
		return;
	}
	if (srv->leader != NULL && http_should_forward(req, best->flags)) {
		char url[512];
		int r = srv->leader(srv->leader_arg, url, sizeof(url));
		if (r != 1) {
			if (r < 0 || req->forwarded)
				http_reply_status(req, 503, "NoLeader",
						  "no leader: retry another master");
			else
				http_forward_to(req, url);
			return;
		}
	}
	best->handler(req, best->arg);
}

/* ------------------------------------------------------------ server */

static int http_parse_listen(const char *listen, char *host, size_t hlen,
			     unsigned *port)
{
	const char *colon = NULL;
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		size_t l = (size_t)(end - listen - 1);
		if (l >= hlen)
			return -1;
		memcpy(host, listen + 1, l);
		host[l] = '\0';
		colon = end + 1;
	} else if ((colon = strrchr(listen, ':')) != NULL) {
		size_t l = (size_t)(colon - listen);
		if (l >= hlen)
			return -1;
		memcpy(host, listen, l);
		host[l] = '\0';
	} else {
		snprintf(host, hlen, "0.0.0.0");
		colon = listen - 1;
	}
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p > 65535)
		return -1;
	if (host[0] == '\0')
		snprintf(host, hlen, "0.0.0.0");
	*port = (unsigned)p;
	return 0;
}

static char *http_strdup_checked(const char *s, const char *field, char *errmsg,
				 size_t errlen)
{
	if (s == NULL) {
		sluice_errf(-1, errmsg, errlen, "http: %s is required", field);
		return NULL;
	}
	return strdup(s);
}

struct http_server *http_server_create(const struct http_server_params *p,
				       char *errmsg, size_t errlen)
{
	static bool curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
			sluice_errf(-1, errmsg, errlen, "http: curl_global_init failed");
			return NULL;
		}
		curl_ready = true;
	}
	if (p->base == NULL || p->listen == NULL) {
		sluice_errf(-1, errmsg, errlen, "http: base and listen are required");
		return NULL;
	}
	char host[256];
	unsigned port;
	if (http_parse_listen(p->listen, host, sizeof(host), &port) < 0) {
		sluice_errf(-1, errmsg, errlen,
			    "http: --api-listen '%s': want host:port", p->listen);
		return NULL;
	}
	struct http_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		sluice_errf(-1, errmsg, errlen, "http: out of memory");
		return NULL;
	}
	srv->base = p->base;
	srv->leader = p->leader;
	srv->leader_arg = p->leader_arg;
	srv->log = p->log;
	srv->log_data = p->log_data;
	if ((srv->ca_file = http_strdup_checked(p->ca_file, "ca_file", errmsg, errlen)) == NULL ||
	    (srv->cert_file = http_strdup_checked(p->cert_file, "cert_file", errmsg, errlen)) == NULL ||
	    (srv->key_file = http_strdup_checked(p->key_file, "key_file", errmsg, errlen)) == NULL)
		goto fail;
	srv->ctx = http_ssl_ctx(p, errmsg, errlen);
	if (srv->ctx == NULL)
		goto fail;
	http_cert_cn(SSL_CTX_get0_certificate(srv->ctx), srv->self_cn,
		     sizeof(srv->self_cn));
	srv->evh = evhttp_new(p->base);
	srv->multi = curl_multi_init();
	/* Each relay is a fresh easy handle; sharing the TLS session cache
	 * lets a new connection to the leader resume instead of running a
	 * full handshake. One thread: no lock callbacks needed. */
	srv->share = curl_share_init();
	if (srv->share != NULL)
		curl_share_setopt(srv->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	srv->curl_timer = evtimer_new(p->base, http_curl_timeout, srv);
	if (srv->evh == NULL || srv->multi == NULL || srv->curl_timer == NULL) {
		sluice_errf(-1, errmsg, errlen, "http: out of memory");
		goto fail;
	}
	curl_multi_setopt(srv->multi, CURLMOPT_SOCKETFUNCTION, http_curl_sock_cb);
	curl_multi_setopt(srv->multi, CURLMOPT_SOCKETDATA, srv);
	curl_multi_setopt(srv->multi, CURLMOPT_TIMERFUNCTION, http_curl_timer_cb);
	curl_multi_setopt(srv->multi, CURLMOPT_TIMERDATA, srv);
	/* Bound the relay's connections to the leader: requests beyond it
	 * queue in curl rather than opening a TLS handshake each. */
	curl_multi_setopt(srv->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HTTP_FWD_MAX_CONNS);
	curl_multi_setopt(srv->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_FWD_MAX_CONNS);
	evhttp_set_bevcb(srv->evh, http_bevcb, srv);
	evhttp_set_gencb(srv->evh, http_dispatch, srv);
	evhttp_set_max_body_size(srv->evh, HTTP_EVHTTP_BODY_MAX);
	evhttp_set_allowed_methods(srv->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD);
	struct evhttp_bound_socket *sock =
		evhttp_bind_socket_with_handle(srv->evh, host, (uint16_t)port);
	srv->sock = sock;
	if (sock == NULL) {
		sluice_errf(-1, errmsg, errlen, "http: --api-listen %s: cannot bind: %s",
			    p->listen, strerror(errno));
		goto fail;
	}
	/* Accepted sockets inherit TCP_NODELAY (Linux): without it a reply
	 * written in two pieces waits ~40 ms for the client's delayed ACK. */
	int one = 1;
	setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* evhttp listens with a backlog of 128; hundreds of clients
	 * connecting at once (a restart, a benchmark) would overflow it and
	 * wait for SYN retransmits. Linux lets listen() raise it. */
	listen(evhttp_bound_socket_get_fd(sock), HTTP_LISTEN_BACKLOG);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

void http_server_quiesce(struct http_server *srv)
{
	if (srv == NULL)
		return;
	srv->freeing = true;
	if (srv->sock != NULL) {
		evhttp_del_accept_socket(srv->evh, srv->sock);
		srv->sock = NULL;
	}
	while (srv->fwds != NULL) {
		struct http_fwd *f = srv->fwds;
		struct http_req *req = f->req;
		http_fwd_unlink(srv, f);
		http_fwd_free(f);
		if (req != NULL)
			http_reply_status(req, 503, "ServiceUnavailable",
					  "master shutting down");
	}
	while (srv->streams != NULL) {
		struct http_stream *st = srv->streams;
		http_stream_unlink(st);
		if (st->close_cb != NULL)
			st->close_cb(st, st->arg);
		evhttp_connection_set_closecb(st->evcon, NULL, NULL);
		evhttp_send_reply_end(st->req->ev);
		http_req_free(st->req);
		free(st);
	}
}

void http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	/* Ends every relay and stream; freeing then refuses new ones (probes,
	 * relays and handlers all check it), so nothing is left to drain. */
	http_server_quiesce(srv);
	if (srv->evh != NULL)
		evhttp_free(srv->evh);
	if (srv->multi != NULL)
		curl_multi_cleanup(srv->multi);
	if (srv->share != NULL)
		curl_share_cleanup(srv->share);
	if (srv->curl_timer != NULL)
		event_free(srv->curl_timer);
	for (size_t i = 0; i < srv->n_routes; i++)
		free(srv->routes[i].prefix);
	SSL_CTX_free(srv->ctx);
	free(srv->ca_file);
	free(srv->cert_file);
	free(srv->key_file);
	free(srv);
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv->port;
}

struct event_base *http_server_base(const struct http_server *srv)
{
	return srv->base;
}

int http_route(struct http_server *srv, unsigned method_mask,
	       const char *prefix, unsigned flags, http_handler handler,
	       void *arg)
{
	if (prefix == NULL || prefix[0] != '/' || handler == NULL ||
	    (method_mask & HTTP_ANY_METHOD) == 0) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < srv->n_routes; i++) {
		if (strcmp(srv->routes[i].prefix, prefix) == 0 &&
		    (srv->routes[i].methods & method_mask) != 0) {
			errno = EEXIST;
			return -1;
		}
	}
	if (srv->n_routes == HTTP_MAX_ROUTES) {
		errno = ENOSPC;
		return -1;
	}
	struct http_route_ent *rt = &srv->routes[srv->n_routes];
	rt->prefix = strdup(prefix);
	if (rt->prefix == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rt->len = strlen(prefix);
	rt->methods = method_mask & HTTP_ANY_METHOD;
	rt->flags = flags;
	rt->handler = handler;
	rt->arg = arg;
	srv->n_routes++;
	return 0;
}
