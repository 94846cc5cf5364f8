/*
 * apic: the C client of the sluice HTTPS API (ctrl/apic.h), over libcurl.
 *
 * One easy handle per struct apic, reset (not recreated) before each
 * attempt: curl_easy_reset keeps the connection cache and the TLS session
 * cache, so consecutive requests to the same master reuse one keep-alive
 * connection and skip the handshake.
 *
 * Failover (apic.h): an attempt that produced no HTTP status (connect
 * refused, TLS handshake failure, timeout before any byte) moves on to the
 * next endpoint; so does a 503 whose Status reason is NoLeader, because
 * another master may be on the majority side of a partition. Anything else
 * with a status is the answer. The endpoint that answered becomes the first
 * one tried next time, so a dead first master costs one connect timeout
 * once, not on every request.
 *
 * Watches run the same easy handle inside a private multi handle so the
 * loop wakes every APIC_POLL_MS to look at *stop (curl_easy_perform only
 * calls the progress callback about once a second on an idle stream).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "apic.h"
#include "sluice/errmsg.h"

#define APIC_DEFAULT_TIMEOUT_MS 10000L
#define APIC_POLL_MS 100
/* Bounds on what a server may make us buffer. Bodies are capped at 64 MiB
 * (a list of 10,000 pods is ~30 MiB); one watch line at 4 MiB (a request
 * body is at most 1 MiB, so an event object is a little more). */
#define APIC_MAX_BODY (64u << 20)
#define APIC_MAX_LINE (4u << 20)
#define APIC_MAX_CONFIG (1u << 20)
#define APIC_STR_MAX 4096

struct apic_buf {
	char *data;
	size_t len, cap;
	size_t limit;
	bool overflow;
};

struct apic {
	CURL *curl;
	char servers[APIC_MAX_SERVERS][256];
	size_t n_servers;
	size_t preferred; /* index tried first: the last one that answered */
	char ca[APIC_STR_MAX], cert[APIC_STR_MAX], key[APIC_STR_MAX];
	long timeout_ms;
	char current[256];
	char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t apic_global_once = PTHREAD_ONCE_INIT;
static CURLcode apic_global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe; the agent and orch create clients
 * from different threads. */
static void apic_global_init(void)
{
	apic_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- buffers ---- */

static int apic_buf_append(struct apic_buf *b, const char *p, size_t n)
{
	if (n > b->limit || b->len > b->limit - n) {
		b->overflow = true;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (d == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static void apic_buf_free(struct apic_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static size_t apic_body_write(char *p, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;
	return apic_buf_append(arg, p, n) == 0 ? n : 0;
}

/* ---- config ---- */

static int apic_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Resolve @rel against @dir (the config file's directory) into @dst. */
static int apic_config_path(char *dst, size_t size, const char *dir, const char *rel)
{
	int n;
	if (rel[0] == '/' || dir[0] == '\0')
		n = snprintf(dst, size, "%s", rel);
	else
		n = snprintf(dst, size, "%s/%s", dir, rel);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int apic_config_str(json_t *root, const char *field, char *dst, size_t size,
			   const char *dir, const char *path, char *errmsg, size_t errlen)
{
	json_t *v = json_object_get(root, field);
	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				   "%s: \"%s\" must be a non-empty string", path, field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				   "%s: \"%s\" contains a NUL byte", path, field);
	if (apic_config_path(dst, size, dir, json_string_value(v)) != 0)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "%s: \"%s\" is too long",
				   path, field);
	return 0;
}

static int apic_check_server(const char *s, char *errmsg, size_t errlen, const char *what)
{
	if (strncmp(s, "https://", 8) != 0 || s[8] == '\0')
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				   "%s: server \"%s\" must be an https:// URL", what, s);
	for (const char *q = s; *q != '\0'; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q == 0x7f)
			return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
					   "%s: server \"%s\" contains a space or control "
					   "character", what, s);
	return 0;
}

int apic_config_load(const char *path, struct apic_config *cfg, char *errmsg, size_t errlen)
{
	struct stat st;
	json_error_t jerr;
	char dir[APIC_STR_MAX];
	int rc;

	if (path == NULL || cfg == NULL)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "apic_config_load: NULL argument");
	memset(cfg, 0, sizeof(*cfg));
	if (stat(path, &st) != 0)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)APIC_MAX_CONFIG)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				   "%s: not a regular file of at most %u bytes", path,
				   APIC_MAX_CONFIG);

	/* Relative paths in the file are relative to its directory. */
	if (apic_copy(dir, sizeof(dir), path) != 0)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "%s: path too long", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		dir[0] = '\0';
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';

	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "%s:%d:%d: %s", path,
				   jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		rc = sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "%s: not a JSON object", path);
		goto out;
	}

	json_t *servers = json_object_get(root, "servers");
	if (json_is_string(servers)) {
		/* One server as a plain string is a common hand-written form. */
		json_t *one = json_array();
		json_array_append(one, servers);
		json_object_set_new(root, "servers", one);
		servers = one;
	}
	if (!json_is_array(servers) || json_array_size(servers) == 0) {
		rc = sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				 "%s: \"servers\" must be a non-empty array of URLs", path);
		goto out;
	}
	if (json_array_size(servers) > APIC_MAX_SERVERS) {
		rc = sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				 "%s: \"servers\" has %zu entries, at most %d allowed", path,
				 json_array_size(servers), APIC_MAX_SERVERS);
		goto out;
	}
	size_t i;
	json_t *s;
	json_array_foreach(servers, i, s) {
		if (!json_is_string(s) ||
		    apic_copy(cfg->servers[i], sizeof(cfg->servers[i]), json_string_value(s)) != 0) {
			rc = sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
					 "%s: \"servers\"[%zu] must be a URL string under %zu bytes",
					 path, i, sizeof(cfg->servers[i]));
			goto out;
		}
		rc = apic_check_server(cfg->servers[i], errmsg, errlen, path);
		if (rc != 0)
			goto out;
	}
	cfg->n_servers = json_array_size(servers);

	rc = apic_config_str(root, "ca", cfg->ca, sizeof(cfg->ca), dir, path, errmsg, errlen);
	if (rc == 0)
		rc = apic_config_str(root, "cert", cfg->cert, sizeof(cfg->cert), dir, path, errmsg,
				     errlen);
	if (rc == 0)
		rc = apic_config_str(root, "key", cfg->key, sizeof(cfg->key), dir, path, errmsg,
				     errlen);
	if (rc == 0 && (cfg->cert[0] == '\0') != (cfg->key[0] == '\0'))
		rc = sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				 "%s: \"cert\" and \"key\" must be given together", path);
out:
	json_decref(root);
	if (rc != 0)
		memset(cfg, 0, sizeof(*cfg));
	return rc;
}

void apic_config_params(const struct apic_config *cfg, struct apic_params *p)
{
	/* timeout_ms is the caller's: leave it as set. */
	for (size_t i = 0; i < APIC_MAX_SERVERS; i++)
		p->servers[i] = i < cfg->n_servers ? cfg->servers[i] : NULL;
	p->n_servers = cfg->n_servers;
	p->ca = cfg->ca[0] ? cfg->ca : NULL;
	p->cert = cfg->cert[0] ? cfg->cert : NULL;
	p->key = cfg->key[0] ? cfg->key : NULL;
}

/* ---- client ---- */

struct apic *apic_create(const struct apic_params *p, char *errmsg, size_t errlen)
{
	if (p == NULL || p->n_servers == 0 || p->n_servers > APIC_MAX_SERVERS) {
		sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
			    "apic: between 1 and %d servers required", APIC_MAX_SERVERS);
		errno = EINVAL;
		return NULL;
	}
	if (p->timeout_ms < 0) {
		sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "apic: timeout_ms must be >= 0");
		errno = EINVAL;
		return NULL;
	}
	if ((p->cert == NULL) != (p->key == NULL)) {
		sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
			    "apic: client cert and key must be given together");
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&apic_global_once, apic_global_init);
	if (apic_global_rc != CURLE_OK) {
		sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "apic: curl_global_init: %s",
			    curl_easy_strerror(apic_global_rc));
		errno = EIO;
		return NULL;
	}

	struct apic *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		sluice_errf(APIC_ERR_NOMEM, errmsg, errlen, "apic: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < p->n_servers; i++) {
		const char *s = p->servers[i];
		if (s == NULL || apic_copy(c->servers[i], sizeof(c->servers[i]), s) != 0) {
			sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				    "apic: server %zu missing or longer than %zu bytes", i,
				    sizeof(c->servers[i]) - 1);
			goto fail;
		}
		/* "https://h:p/" and "https://h:p" name the same endpoint. */
		size_t n = strlen(c->servers[i]);
		while (n > 8 && c->servers[i][n - 1] == '/')
			c->servers[i][--n] = '\0';
		if (apic_check_server(c->servers[i], errmsg, errlen, "apic") != 0)
			goto fail;
	}
	c->n_servers = p->n_servers;
	if ((p->ca && apic_copy(c->ca, sizeof(c->ca), p->ca) != 0) ||
	    (p->cert && apic_copy(c->cert, sizeof(c->cert), p->cert) != 0) ||
	    (p->key && apic_copy(c->key, sizeof(c->key), p->key) != 0)) {
		sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "apic: ca/cert/key path too long");
		goto fail;
	}
	c->timeout_ms = p->timeout_ms ? p->timeout_ms : APIC_DEFAULT_TIMEOUT_MS;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		sluice_errf(APIC_ERR_NOMEM, errmsg, errlen, "apic: curl_easy_init failed");
		goto fail;
	}
	return c;
fail:
	free(c);
	errno = EINVAL;
	return NULL;
}

void apic_free(struct apic *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

const char *apic_current_server(const struct apic *c)
{
	return c->current;
}

void apic_resp_clear(struct apic_resp *r)
{
	if (r == NULL)
		return;
	json_decref(r->body);
	r->body = NULL;
	r->status = 0;
	r->errmsg[0] = '\0';
}

const char *apic_strerror(int err)
{
	switch (err) {
	case APIC_OK: return "ok";
	case APIC_ERR_CONFIG: return "bad client configuration";
	case APIC_ERR_UNREACHABLE: return "no API endpoint answered";
	case APIC_ERR_TLS: return "TLS or certificate failure";
	case APIC_ERR_PROTOCOL: return "unexpected answer from the server";
	case APIC_ERR_NOMEM: return "out of memory";
	case APIC_ERR_STOPPED: return "stopped";
	default: return "unknown apic error";
	}
}

/* Options common to requests and watches; the handle was just reset. */
static struct curl_slist *apic_setup(struct apic *c, const char *url, long connect_ms)
{
	CURL *h = c->curl;
	struct curl_slist *hdr = NULL, *t;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->ca[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (c->cert[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	}
	t = curl_slist_append(hdr, "Accept: application/json");
	if (t != NULL)
		hdr = t;
	t = curl_slist_append(hdr, "Content-Type: application/json");
	if (t != NULL)
		hdr = t;
	/* No "Expect: 100-continue" round trip on larger bodies. */
	t = curl_slist_append(hdr, "Expect:");
	if (t != NULL)
		hdr = t;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	c->curl_err[0] = '\0';
	return hdr;
}

/* Failures the local side caused: every endpoint would fail the same way. */
static bool apic_local_tls_problem(CURLcode rc)
{
	return rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_SSL_ENGINE_NOTFOUND ||
	       rc == CURLE_SSL_ENGINE_SETFAILED || rc == CURLE_SSL_ENGINE_INITFAILED ||
	       rc == CURLE_SSL_CIPHER;
}

/*
 * In TLS 1.3 the client finishes its handshake before the server has checked
 * the client certificate, so a rejected (or missing) certificate shows up
 * only afterwards: as the server's alert on the first read, or, when the
 * server has already closed the socket, as a failed send. So: a transfer
 * that completed a handshake on a new connection and then got nothing is
 * a TLS failure.
 */
static bool apic_is_tls_failure(CURL *h, CURLcode rc, const char *msg)
{
	if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	    rc == CURLE_SSL_INVALIDCERTSTATUS || apic_local_tls_problem(rc))
		return true;
	if (rc != CURLE_RECV_ERROR && rc != CURLE_SEND_ERROR && rc != CURLE_GOT_NOTHING)
		return false;
	if (strstr(msg, "alert") != NULL || strstr(msg, "certificate") != NULL)
		return true;
	curl_off_t tls_done = 0;
	long connects = 0;
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &tls_done);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
	return tls_done > 0 && connects > 0;
}

/* Describe a failed attempt on one endpoint into @dst. */
static void apic_describe(struct apic *c, const char *server, CURLcode rc, bool tls, char *dst,
			  size_t size)
{
	const char *why = c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc);
	if (tls && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING) &&
	    strstr(why, "alert") == NULL)
		why = "connection closed right after the handshake (client certificate refused?)";
	if (tls && c->cert[0] == '\0')
		snprintf(dst, size, "%s: TLS: %s (no client certificate configured: --cert/--key)",
			 server, why);
	else if (tls)
		snprintf(dst, size, "%s: TLS: %s", server, why);
	else
		snprintf(dst, size, "%s: %s", server, why);
}

/* Copy at most n bytes of src up to its first newline, dropping control
 * bytes: errmsg is one line, and a server must not be able to send
 * terminal escapes through it. Returns the length copied. */
static size_t apic_copy_line(char *dst, size_t size, const char *src, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && src[i] != '\n' && src[i] != '\0' && j + 1 < size; i++)
		if ((unsigned char)src[i] >= ' ' && (unsigned char)src[i] != 0x7f)
			dst[j++] = src[i];
	dst[j] = '\0';
	return j;
}

/* The Status message of an error body, or its reason, or the first line
 * of a plain-text answer, or "HTTP N". */
static void apic_status_message(long status, const json_t *body, const struct apic_buf *raw,
				char *dst, size_t size)
{
	const char *msg = NULL, *reason = NULL;
	if (json_is_object(body)) {
		msg = json_string_value(json_object_get(body, "message"));
		reason = json_string_value(json_object_get(body, "reason"));
	}
	if (msg != NULL && apic_copy_line(dst, size, msg, strlen(msg)) > 0)
		return;
	if (reason != NULL && apic_copy_line(dst, size, reason, strlen(reason)) > 0)
		return;
	if (raw->data != NULL && apic_copy_line(dst, size, raw->data, raw->len) > 0)
		return;
	snprintf(dst, size, "HTTP %ld", status);
}

static bool apic_is_no_leader(long status, const json_t *body)
{
	if (status != 503 || !json_is_object(body))
		return false;
	const char *reason = json_string_value(json_object_get(body, "reason"));
	return reason != NULL && strcmp(reason, "NoLeader") == 0;
}

static int apic_check_args(const char *method, const char *path, char *errmsg, size_t errlen)
{
	if (path == NULL || path[0] != '/')
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
				   "apic: path must start with '/'");
	for (const char *q = path; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q == 0x7f)
			return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
					   "apic: path contains a space or control character "
					   "(escape it)");
	if (method != NULL && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
	    strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0 &&
	    strcmp(method, "PATCH") != 0)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "apic: method \"%s\" not supported",
				   method);
	return 0;
}

/*
 * Accumulates per-attempt failures into one line for the final error:
 * "no API server answered: A: why; B: why".
 */
struct apic_fail {
	char msg[APIC_ERRMSG_SIZE];
	size_t len;
	bool tls;
};

static void apic_fail_add(struct apic_fail *f, const char *what)
{
	if (f->len + 1 >= sizeof(f->msg))
		return;
	int n = snprintf(f->msg + f->len, sizeof(f->msg) - f->len, "%s%s", f->len ? "; " : "",
			 what);
	if (n > 0)
		f->len += (size_t)n < sizeof(f->msg) - f->len ? (size_t)n : sizeof(f->msg) - f->len - 1;
}

static int apic_fail_finish(const struct apic_fail *f, char *errmsg, size_t errlen)
{
	if (f->tls)
		return sluice_errf(APIC_ERR_TLS, errmsg, errlen, "%s", f->msg);
	return sluice_errf(APIC_ERR_UNREACHABLE, errmsg, errlen, "no API server answered: %s",
			   f->msg);
}

int apic_request(struct apic *c, const char *method, const char *path, const json_t *body,
		 struct apic_resp *out)
{
	char url[2048];
	char *payload = NULL;
	struct apic_fail fail = {0};
	int rc;

	if (out == NULL)
		return APIC_ERR_CONFIG;
	memset(out, 0, sizeof(*out));
	if (c == NULL || method == NULL)
		return sluice_errf(APIC_ERR_CONFIG, out->errmsg, sizeof(out->errmsg),
				   "apic: NULL client or method");
	rc = apic_check_args(method, path, out->errmsg, sizeof(out->errmsg));
	if (rc != 0)
		return rc;
	if (body != NULL) {
		payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (payload == NULL)
			return sluice_errf(APIC_ERR_NOMEM, out->errmsg, sizeof(out->errmsg),
					   "apic: cannot encode the request body");
	}

	for (size_t k = 0; k < c->n_servers; k++) {
		size_t idx = (c->preferred + k) % c->n_servers;
		const char *server = c->servers[idx];
		struct apic_buf raw = {.limit = APIC_MAX_BODY};
		char what[APIC_ERRMSG_SIZE];
		long status = 0;

		int un = snprintf(url, sizeof(url), "%s%s", server, path);
		if (un < 0 || (size_t)un >= sizeof(url)) {
			rc = sluice_errf(APIC_ERR_CONFIG, out->errmsg, sizeof(out->errmsg),
					 "apic: URL longer than %zu bytes", sizeof(url) - 1);
			goto done;
		}
		curl_easy_reset(c->curl);
		struct curl_slist *hdr = apic_setup(c, url, c->timeout_ms);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
		if (strcmp(method, "GET") == 0)
			curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		if (payload != NULL) {
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload);
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)strlen(payload));
		} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		}
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, apic_body_write);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &raw);

		CURLcode cr = curl_easy_perform(c->curl);
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(hdr);

		if (cr == CURLE_WRITE_ERROR && raw.overflow) {
			apic_buf_free(&raw);
			rc = sluice_errf(APIC_ERR_PROTOCOL, out->errmsg, sizeof(out->errmsg),
					 "%s: response body over %u bytes", server, APIC_MAX_BODY);
			goto done;
		}
		if (cr != CURLE_OK && status != 0) {
			/* The server started answering, then the transfer broke: the
			 * request may have been applied, so do not replay it. */
			apic_describe(c, server, cr, false, what, sizeof(what));
			apic_buf_free(&raw);
			rc = sluice_errf(APIC_ERR_UNREACHABLE, out->errmsg, sizeof(out->errmsg),
					 "%s (response cut short)", what);
			goto done;
		}
		if (cr != CURLE_OK) {
			bool tls = apic_is_tls_failure(c->curl, cr, c->curl_err);
			apic_describe(c, server, cr, tls, what, sizeof(what));
			apic_fail_add(&fail, what);
			fail.tls = fail.tls || tls;
			apic_buf_free(&raw);
			if (apic_local_tls_problem(cr))
				break; /* our own files: every endpoint fails alike */
			continue;
		}

		json_t *parsed = NULL;
		if (raw.len > 0)
			parsed = json_loadb(raw.data, raw.len, JSON_DECODE_ANY, NULL);
		if (apic_is_no_leader(status, parsed) && k + 1 < c->n_servers) {
			snprintf(what, sizeof(what), "%s: 503 NoLeader", server);
			apic_fail_add(&fail, what);
			json_decref(parsed);
			apic_buf_free(&raw);
			continue;
		}
		out->status = status;
		out->body = parsed;
		if (status >= 400)
			apic_status_message(status, parsed, &raw, out->errmsg, sizeof(out->errmsg));
		apic_buf_free(&raw);
		c->preferred = idx;
		snprintf(c->current, sizeof(c->current), "%s", server);
		rc = APIC_OK;
		goto done;
	}
	rc = apic_fail_finish(&fail, out->errmsg, sizeof(out->errmsg));
done:
	free(payload);
	return rc;
}

/* ---- watch ---- */

struct apic_watch_ctx {
	struct apic *c;
	const char *server; /* endpoint of this attempt */
	apic_watch_cb cb;
	void *arg;
	volatile int *stop;
	struct apic_buf line;  /* bytes of the current, incomplete line */
	struct apic_buf error; /* body of a non-200 answer */
	long status;
	bool cb_stop, protocol_err, stopped;
	unsigned long lineno;
	char errmsg[APIC_ERRMSG_SIZE];
};

/* Deliver one complete line; false aborts the transfer. */
static bool apic_watch_line(struct apic_watch_ctx *w, const char *p, size_t n)
{
	json_error_t jerr;
	const char *type;
	json_t *object;

	w->lineno++;
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return true; /* blank keep-alive line */
	json_t *ev = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
	if (ev == NULL) {
		snprintf(w->errmsg, sizeof(w->errmsg), "%s: watch event %lu is not JSON: %s",
			 w->server, w->lineno, jerr.text);
		w->protocol_err = true;
		return false;
	}
	if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type")) ||
	    !json_is_object(json_object_get(ev, "object"))) {
		snprintf(w->errmsg, sizeof(w->errmsg),
			 "%s: watch event %lu lacks a string \"type\" and an object \"object\"",
			 w->server, w->lineno);
		json_decref(ev);
		w->protocol_err = true;
		return false;
	}
	type = json_string_value(json_object_get(ev, "type"));
	object = json_object_get(ev, "object");
	bool more = w->cb(w->arg, type, object);
	json_decref(ev);
	if (!more)
		w->cb_stop = true;
	return more;
}

static size_t apic_watch_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct apic_watch_ctx *w = arg;
	size_t n = size * nmemb;

	if (w->status == 0)
		curl_easy_getinfo(w->c->curl, CURLINFO_RESPONSE_CODE, &w->status);
	if (w->status != 200) {
		/* An error body (Status): keep the start of it for the message. */
		size_t room = w->error.len < 65536 ? 65536 - w->error.len : 0;
		apic_buf_append(&w->error, p, n < room ? n : room);
		return n;
	}
	/* Split on '\n'; a line may span any number of chunks. */
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		bool ok;
		if (w->line.len > 0) {
			if (apic_buf_append(&w->line, p + start, i - start) != 0)
				goto too_long;
			ok = apic_watch_line(w, w->line.data, w->line.len);
			w->line.len = 0;
		} else {
			ok = apic_watch_line(w, p + start, i - start);
		}
		if (!ok)
			return 0;
		start = i + 1;
	}
	if (start < n && apic_buf_append(&w->line, p + start, n - start) != 0)
		goto too_long;
	return n;
too_long:
	snprintf(w->errmsg, sizeof(w->errmsg), "%s: watch event over %u bytes", w->server,
		 APIC_MAX_LINE);
	w->protocol_err = true;
	return 0;
}

struct apic_decode_count {
	apic_watch_cb cb;
	void *arg;
	long n;
};

static bool apic_decode_cb(void *arg, const char *type, json_t *object)
{
	struct apic_decode_count *d = arg;
	d->n++;
	return d->cb(d->arg, type, object);
}

long apic_watch_decode(const char *data, size_t len, size_t chunk, apic_watch_cb cb, void *arg,
		       int *ok, char *errmsg, size_t errlen)
{
	struct apic_decode_count d = {.cb = cb, .arg = arg};
	/* status 200 already known: apic_watch_write never asks libcurl */
	struct apic_watch_ctx w = {.server = "decode", .cb = apic_decode_cb, .arg = &d, .status = 200,
				   .line = {.limit = APIC_MAX_LINE}, .error = {.limit = 65536}};
	size_t step = chunk ? chunk : (len ? len : 1);

	*ok = 1;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		if (apic_watch_write((char *)data + off, 1, n, &w) != n) {
			*ok = 0;
			break;
		}
	}
	if (!*ok && errmsg != NULL)
		snprintf(errmsg, errlen, "%s", w.cb_stop ? "stopped by the callback" : w.errmsg);
	apic_buf_free(&w.line);
	apic_buf_free(&w.error);
	return d.n;
}

static int apic_watch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			       curl_off_t ultotal, curl_off_t ulnow)
{
	struct apic_watch_ctx *w = arg;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (w->stop != NULL && *w->stop) {
		w->stopped = true;
		return 1;
	}
	return 0;
}

static long apic_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the prepared handle until done, polling *stop and the wait for the
 * response header. Returns the transfer's result. */
static CURLcode apic_watch_run(struct apic *c, struct apic_watch_ctx *w, bool *header_timeout)
{
	CURLM *m = curl_multi_init();
	CURLcode result = CURLE_OK;
	long start = apic_now_ms();

	*header_timeout = false;
	if (m == NULL)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(m, c->curl) != CURLM_OK) {
		curl_multi_cleanup(m);
		return CURLE_OUT_OF_MEMORY;
	}
	for (;;) {
		int running = 0;
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			break;
		}
		if (running == 0) {
			int q;
			CURLMsg *msg;
			while ((msg = curl_multi_info_read(m, &q)) != NULL)
				if (msg->msg == CURLMSG_DONE)
					result = msg->data.result;
			break;
		}
		if (w->stop != NULL && *w->stop) {
			w->stopped = true;
			result = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		long status = 0;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status == 0 && apic_now_ms() - start >= c->timeout_ms) {
			/* Connected (or not) but no answer: as good as down. */
			*header_timeout = true;
			result = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		curl_multi_poll(m, NULL, 0, APIC_POLL_MS, NULL);
	}
	curl_multi_remove_handle(m, c->curl);
	curl_multi_cleanup(m);
	return result;
}

int apic_watch(struct apic *c, const char *path, apic_watch_cb cb, void *arg,
	       volatile int *stop, long *last_status, char *errmsg, size_t errlen)
{
	char url[2048];
	struct apic_fail fail = {0};
	int rc;

	if (last_status != NULL)
		*last_status = 0;
	if (c == NULL || cb == NULL)
		return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen, "apic_watch: NULL client or cb");
	rc = apic_check_args(NULL, path, errmsg, errlen);
	if (rc != 0)
		return rc;

	for (size_t k = 0; k < c->n_servers; k++) {
		size_t idx = (c->preferred + k) % c->n_servers;
		const char *server = c->servers[idx];
		struct apic_watch_ctx w = {
			.c = c, .server = server, .cb = cb, .arg = arg, .stop = stop,
			.line = {.limit = APIC_MAX_LINE}, .error = {.limit = 65536},
		};
		char what[APIC_ERRMSG_SIZE];
		bool header_timeout;

		if (stop != NULL && *stop)
			return sluice_errf(APIC_ERR_STOPPED, errmsg, errlen, "watch stopped");
		int un = snprintf(url, sizeof(url), "%s%s", server, path);
		if (un < 0 || (size_t)un >= sizeof(url))
			return sluice_errf(APIC_ERR_CONFIG, errmsg, errlen,
					   "apic: URL longer than %zu bytes", sizeof(url) - 1);
		curl_easy_reset(c->curl);
		struct curl_slist *hdr = apic_setup(c, url, c->timeout_ms);
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, apic_watch_write);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, apic_watch_progress);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &w);

		CURLcode cr = apic_watch_run(c, &w, &header_timeout);
		long status = w.status;
		if (status == 0)
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(hdr);
		if (last_status != NULL)
			*last_status = status;

		if (w.cb_stop) {
			rc = APIC_OK;
		} else if (w.stopped) {
			rc = sluice_errf(APIC_ERR_STOPPED, errmsg, errlen, "watch stopped");
		} else if (w.protocol_err) {
			rc = sluice_errf(APIC_ERR_PROTOCOL, errmsg, errlen, "%s", w.errmsg);
		} else if (status == 0) {
			/* No answer at all from this endpoint: next one. */
			bool tls = !header_timeout && apic_is_tls_failure(c->curl, cr, c->curl_err);
			if (header_timeout)
				snprintf(what, sizeof(what), "%s: no response within %ld ms", server,
					 c->timeout_ms);
			else
				apic_describe(c, server, cr, tls, what, sizeof(what));
			apic_fail_add(&fail, what);
			fail.tls = fail.tls || tls;
			apic_buf_free(&w.line);
			apic_buf_free(&w.error);
			if (apic_local_tls_problem(cr))
				break;
			continue;
		} else if (status != 200) {
			json_t *b = json_loadb(w.error.data ? w.error.data : "", w.error.len, 0, NULL);
			bool no_leader = apic_is_no_leader(status, b);
			char m[APIC_ERRMSG_SIZE];
			apic_status_message(status, b, &w.error, m, sizeof(m));
			json_decref(b);
			apic_buf_free(&w.line);
			apic_buf_free(&w.error);
			if (no_leader && k + 1 < c->n_servers) {
				snprintf(what, sizeof(what), "%s: 503 NoLeader", server);
				apic_fail_add(&fail, what);
				continue;
			}
			c->preferred = idx;
			snprintf(c->current, sizeof(c->current), "%s", server);
			return sluice_errf(APIC_ERR_PROTOCOL, errmsg, errlen, "%s: HTTP %ld: %s",
					   server, status, m);
		} else {
			/* 200 and the stream is over: closed by the server, or cut. */
			c->preferred = idx;
			if (w.line.len > 0)
				rc = sluice_errf(APIC_ERR_PROTOCOL, errmsg, errlen,
						 "%s: watch stream ended inside an event line",
						 server);
			else if (cr == CURLE_OK)
				rc = sluice_errf(APIC_ERR_UNREACHABLE, errmsg, errlen,
						 "%s: watch stream closed by the server", server);
			else
				rc = sluice_errf(APIC_ERR_UNREACHABLE, errmsg, errlen,
						 "%s: watch stream broken: %s", server,
						 c->curl_err[0] ? c->curl_err :
								  curl_easy_strerror(cr));
		}
		if (status != 0) {
			c->preferred = idx;
			snprintf(c->current, sizeof(c->current), "%s", server);
		}
		apic_buf_free(&w.line);
		apic_buf_free(&w.error);
		return rc;
	}
	return apic_fail_finish(&fail, errmsg, errlen);
}
