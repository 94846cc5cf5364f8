/*
 * kvc: etcd-gateway JSON client (see kvc.h). Bodies are built and parsed
 * with jansson, base64 by OpenSSL's EVP block coder, transport by one
 * libcurl easy handle kept alive per client.
 *
 * Classification is the point of this module: the linearizability checker
 * treats an unknown write as possibly applied forever after, so calling a
 * request "not sent" is only allowed when libcurl failed before the request
 * bytes could have left (connect or TLS handshake failure).
 */
#include "kvc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

struct kvc {
	struct kvc_params p;
	size_t ep;
	/* warm[i]: the last request to endpoint i succeeded, so libcurl may
	 * hold a kept-alive connection to it. A request sent on such a
	 * connection that dies unanswered is retried by libcurl on a fresh
	 * connection ("Connection died, retrying a fresh connect"): a
	 * connect error then hides that the first copy reached the server. */
	bool warm[KVC_MAX_EP];
	CURL *h;
	struct curl_slist *hdr;
	char *body; /* response buffer */
	size_t body_len, body_cap;
	char url[320];
};

int kvc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* ------------------------------------------------------------ config */

static int kvc_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

int kvc_endpoints_parse(const char *list, struct kvc_params *p,
			char *errmsg, size_t errlen)
{
	const char *s = list;

	p->n_endpoints = 0;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || n >= sizeof(p->endpoints[0]) ||
		    p->n_endpoints == KVC_MAX_EP ||
		    (strncmp(s, "https://", 8) && strncmp(s, "http://", 7))) {
			snprintf(errmsg, errlen, "--endpoints: bad entry %zu "
				 "(want http(s)://host:port, at most %d)",
				 p->n_endpoints + 1, KVC_MAX_EP);
			return -EINVAL;
		}
		memcpy(p->endpoints[p->n_endpoints], s, n);
		p->endpoints[p->n_endpoints][n] = '\0';
		p->n_endpoints++;
		s = e ? e + 1 : s + n;
	}
	if (p->n_endpoints == 0) {
		snprintf(errmsg, errlen, "--endpoints: empty");
		return -EINVAL;
	}
	return 0;
}

/* Resolve a config path relative to the config file's directory. */
static int kvc_config_path(const char *cfg, const char *v, char *dst,
			   size_t cap)
{
	const char *slash = strrchr(cfg, '/');

	if (v[0] == '/' || !slash)
		return kvc_copy(dst, cap, v);
	int n = snprintf(dst, cap, "%.*s/%s", (int)(slash - cfg), cfg, v);
	return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
}

int kvc_config_load(const char *path, struct kvc_params *p, char *errmsg,
		    size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	static const char *const fields[] = { "ca", "cert", "key" };
	char *dst[] = { p->cacert, p->cert, p->key };
	int rc = -EINVAL;

	if (!root) {
		snprintf(errmsg, errlen, "--config %s: line %d: %s", path, je.line,
			 je.text);
		return -EINVAL;
	}
	json_t *servers = json_object_get(root, "servers");
	if (!json_is_array(servers) || json_array_size(servers) == 0 ||
	    json_array_size(servers) > KVC_MAX_EP) {
		snprintf(errmsg, errlen, "%s: \"servers\": want 1..%d URLs",
			 path, KVC_MAX_EP);
		goto out;
	}
	p->n_endpoints = 0;
	for (size_t i = 0; i < json_array_size(servers); i++) {
		const char *u = json_string_value(json_array_get(servers, i));
		if (!u || kvc_copy(p->endpoints[i], sizeof(p->endpoints[i]),
				   u)) {
			snprintf(errmsg, errlen, "%s: \"servers\"[%zu]: not a "
				 "URL string", path, i);
			goto out;
		}
		p->n_endpoints++;
	}
	for (size_t i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(root,
								  fields[i]));
		if (!v || kvc_config_path(path, v, dst[i], KVC_PATH_MAX)) {
			snprintf(errmsg, errlen, "%s: \"%s\": want a path "
				 "string", path, fields[i]);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int kvc_num(const char *prog, const char *flag, const char *s, double lo,
	    double hi, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s: %s: want a number in [%g, %g], got '%s'\n",
			prog, flag, lo, hi, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int kvc_opt(const char *prog, int opt, const char *arg, struct kvc_params *p)
{
	char err[256];
	double v;

	switch (opt) {
	case 0x100:
		if (kvc_endpoints_parse(arg, p, err, sizeof(err)))
			break;
		return 1;
	case 0x101:
		if (kvc_config_load(arg, p, err, sizeof(err)))
			break;
		return 1;
	case 0x102: case 0x103: case 0x104: {
		char *dst = opt == 0x102 ? p->cacert : opt == 0x103 ? p->cert :
							      p->key;
		if (kvc_copy(dst, KVC_PATH_MAX, arg)) {
			snprintf(err, sizeof(err), "--%s: path too long",
				 opt == 0x102 ? "cacert" : opt == 0x103 ?
				 "cert" : "key");
			break;
		}
		return 1;
	}
	case 0x105:
		if (kvc_num(prog, "--timeout-ms", arg, 10, 600000, &v))
			return -EINVAL;
		p->timeout_ms = (long)v;
		return 1;
	default:
		return 0;
	}
	fprintf(stderr, "%s: %s\n", prog, err);
	return -EINVAL;
}

int kvc_opt_done(const char *prog, const struct kvc_params *p)
{
	if (p->n_endpoints == 0) {
		fprintf(stderr, "%s: --endpoints or --config is required\n",
			prog);
		return -EINVAL;
	}
	if (!!p->cert[0] != !!p->key[0]) {
		fprintf(stderr, "%s: --cert and --key go together\n", prog);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ base64 */

static char *kvc_b64(const void *src, size_t len)
{
	if (len > INT_MAX / 2)
		return NULL;
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, src, (int)len);
	return out;
}

/* Decode into dst (cap bytes + NUL); -1 if malformed or too long. */
static long kvc_unb64(const char *s, char *dst, size_t cap)
{
	size_t n = strlen(s);
	unsigned char tmp[4 * ((KVC_VALUE_MAX + 2) / 3) + 4];

	if (n % 4 || n / 4 * 3 > sizeof(tmp) - 1 || n / 4 * 3 > cap + 2)
		return -1;
	int got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (got < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t len = (size_t)got;
	if (n && s[n - 1] == '=')
		len--;
	if (n > 1 && s[n - 2] == '=')
		len--;
	if (len > cap)
		return -1;
	memcpy(dst, tmp, len);
	dst[len] = '\0';
	return (long)len;
}

/* ------------------------------------------------------------ client */

static size_t kvc_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct kvc *c = ud;
	size_t n = size * nmemb;

	if (c->body_len + n + 1 > c->body_cap) {
		size_t cap = (c->body_len + n + 1) * 2;
		char *b = realloc(c->body, cap);
		if (!b)
			return 0;
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, ptr, n);
	c->body_len += n;
	c->body[c->body_len] = '\0';
	return n;
}

void kvc_setup_handle(void *h, const struct kvc_params *p)
{
	long to = p->timeout_ms > 0 ? p->timeout_ms : 2000;

	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to);
	/* The whole budget for connecting too: 256 clients opening TLS
	 * connections at once queue behind each other's handshakes. */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	/* HTTP/1.1 keep-alive both servers speak (etcd's gateway also
	 * offers h2; the same protocol for both keeps the bench fair). */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	if (p->cacert[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, p->cacert);
	if (p->cert[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, p->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, p->key);
	}
}

struct kvc *kvc_create(const struct kvc_params *p, size_t first)
{
	struct kvc *c = calloc(1, sizeof(*c));

	if (!c || p->n_endpoints == 0)
		goto fail;
	c->p = *p;
	c->ep = first % p->n_endpoints;
	c->h = curl_easy_init();
	c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!c->h || !c->hdr)
		goto fail;
	kvc_setup_handle(c->h, p);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, kvc_write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	return c;
fail:
	kvc_free(c);
	return NULL;
}

void kvc_free(struct kvc *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdr);
	free(c->body);
	free(c);
}

void kvc_next_endpoint(struct kvc *c)
{
	c->ep = (c->ep + 1) % c->p.n_endpoints;
}

size_t kvc_endpoint_index(const struct kvc *c)
{
	return c->ep;
}

void kvc_set_endpoint(struct kvc *c, size_t i)
{
	c->ep = i % c->p.n_endpoints;
}

/*
 * 503 answers that say the request never reached the Raft log because no
 * leader was known to the member asked: sluice's Status reason NoLeader
 * (docs/api.md; http_forward answers it before forwarding, and a leader
 * that lost its role before proposing), etcd's ErrNoLeader "etcdserver: no
 * leader". Not "leader ... unreachable: Couldn't connect to server" from a
 * forwarding follower: its libcurl may have sent the request on a kept-alive
 * connection to a leader that applied it and died, then failed to
 * reconnect (a sluice run showed exactly that). Erring here is visible, not
 * silent: a write wrongly called not-applied that did apply shows up as a
 * violation, never hides one.
 */
static bool kvc_not_applied(json_t *j, const char *msg)
{
	const char *reason = json_string_value(json_object_get(j, "reason"));

	if (reason && !strcmp(reason, "NoLeader"))
		return true;
	return msg && !strcmp(msg, "etcdserver: no leader");
}

/* POST body to path on the current endpoint; on KVC_OK *out is the
 * parsed JSON reply (caller decrefs). Takes ownership of body. */
static void kvc_post(struct kvc *c, const char *path, json_t *body,
		     struct kvc_reply *r, json_t **out)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char cerr[CURL_ERROR_SIZE] = "";

	json_decref(body);
	*out = NULL;
	r->http = 0;
	r->err[0] = '\0';
	if (!text) {
		r->status = KVC_NOT_SENT;
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	snprintf(c->url, sizeof(c->url), "%s%s", c->p.endpoints[c->ep], path);
	c->body_len = 0;
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, cerr);
	CURLcode cc = curl_easy_perform(c->h);
	free(text);
	if (cc != CURLE_OK) {
		/* Connect and handshake failures happen before any request
		 * byte is written: the server cannot have acted on it. */
		bool before = cc == CURLE_COULDNT_CONNECT ||
			      cc == CURLE_COULDNT_RESOLVE_HOST ||
			      cc == CURLE_SSL_CONNECT_ERROR ||
			      cc == CURLE_SSL_CERTPROBLEM ||
			      cc == CURLE_PEER_FAILED_VERIFICATION;
		if (cc == CURLE_OPERATION_TIMEDOUT) {
			curl_off_t pre = 0;
			curl_easy_getinfo(c->h, CURLINFO_PRETRANSFER_TIME_T,
					  &pre);
			before = pre == 0;
		}
		if (c->warm[c->ep])
			before = false;
		c->warm[c->ep] = false;
		r->status = before ? KVC_NOT_SENT : KVC_UNKNOWN;
		snprintf(r->err, sizeof(r->err), "%s: %s", c->p.endpoints[c->ep],
			 cerr[0] ? cerr : curl_easy_strerror(cc));
		return;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->http);
	c->warm[c->ep] = true;
	json_error_t je;
	json_t *j = c->body_len ? json_loadb(c->body, c->body_len, 0, &je) :
				  NULL;
	if (r->http == 200 && json_is_object(j)) {
		r->status = KVC_OK;
		*out = j;
		return;
	}
	r->status = r->http >= 400 && r->http < 500 ? KVC_REJECTED :
						       KVC_UNKNOWN;
	const char *msg = json_string_value(json_object_get(j, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(j, "error"));
	if (r->status == KVC_UNKNOWN && kvc_not_applied(j, msg))
		r->status = KVC_NOT_SENT;
	snprintf(r->err, sizeof(r->err), "%s: HTTP %ld: %.160s",
		 c->p.endpoints[c->ep], r->http,
		 msg ? msg : (c->body_len ? c->body : "(empty body)"));
	json_decref(j);
}

static json_t *kvc_b64_json(const void *p, size_t len)
{
	char *s = kvc_b64(p, len);
	json_t *j = s ? json_string(s) : NULL;

	free(s);
	return j;
}

/* The value of kvs[0] into r (found=false if no kvs). False if the reply
 * does not have the gateway shape. */
static bool kvc_take_value(json_t *kvs, struct kvc_reply *r)
{
	r->found = false;
	r->value_len = 0;
	r->value[0] = '\0';
	if (!kvs || json_array_size(kvs) == 0)
		return kvs == NULL || json_is_array(kvs);
	/* etcd leaves out empty values entirely */
	json_t *v = json_object_get(json_array_get(kvs, 0), "value");
	const char *s = v ? json_string_value(v) : "";
	if (!s)
		return false;
	long n = kvc_unb64(s, r->value, KVC_VALUE_MAX);
	if (n < 0)
		return false;
	r->found = true;
	r->value_len = (size_t)n;
	return true;
}

static void kvc_bad_shape(struct kvc_reply *r, const char *what)
{
	r->status = KVC_UNKNOWN;
	snprintf(r->err, sizeof(r->err), "reply: %s has not the gateway "
		 "shape", what);
}

void kvc_get(struct kvc *c, const char *key, bool serializable,
	     struct kvc_reply *r)
{
	json_t *out, *b = json_object();

	json_object_set_new(b, "key", kvc_b64_json(key, strlen(key)));
	if (serializable)
		json_object_set_new(b, "serializable", json_true());
	kvc_post(c, "/v3/kv/range", b, r, &out);
	if (r->status != KVC_OK)
		return;
	if (!kvc_take_value(json_object_get(out, "kvs"), r))
		kvc_bad_shape(r, "kvs");
	json_decref(out);
}

static json_t *kvc_put_json(const char *key, const void *val, size_t len)
{
	json_t *b = json_object();

	json_object_set_new(b, "key", kvc_b64_json(key, strlen(key)));
	json_object_set_new(b, "value", kvc_b64_json(val, len));
	return b;
}

char *kvc_put_body(const char *key, const void *val, size_t len)
{
	json_t *b = kvc_put_json(key, val, len);
	char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;

	json_decref(b);
	return text;
}

void kvc_put(struct kvc *c, const char *key, const void *val, size_t len,
	     struct kvc_reply *r)
{
	json_t *out;

	kvc_post(c, "/v3/kv/put", kvc_put_json(key, val, len), r, &out);
	if (r->status != KVC_OK)
		return;
	if (!json_is_object(json_object_get(out, "header")))
		kvc_bad_shape(r, "header");
	json_decref(out);
}

void kvc_cas(struct kvc *c, const char *key, const char *expect,
	     const void *val, size_t len, struct kvc_reply *r)
{
	json_t *out;
	json_t *cmp = json_pack("{s:o, s:s, s:s, s:o}",
				"key", kvc_b64_json(key, strlen(key)),
				"target", "VALUE", "result", "EQUAL",
				"value", kvc_b64_json(expect, strlen(expect)));
	json_t *b = json_pack("{s:[o], s:[{s:o}]}", "compare", cmp,
			      "success", "request_put",
			      kvc_put_json(key, val, len));

	kvc_post(c, "/v3/kv/txn", b, r, &out);
	if (r->status != KVC_OK)
		return;
	/* etcd's gateway omits false booleans */
	json_t *s = json_object_get(out, "succeeded");
	if (s && !json_is_boolean(s))
		kvc_bad_shape(r, "succeeded");
	else if (!json_is_object(json_object_get(out, "header")))
		kvc_bad_shape(r, "header");
	r->succeeded = json_is_true(s);
	json_decref(out);
}

void kvc_range_prefix(struct kvc *c, const char *prefix, bool serializable,
		      void (*fn)(void *arg, const char *key,
				 const char *val, size_t len),
		      void *arg, struct kvc_reply *r)
{
	size_t n = strlen(prefix);
	char *end = malloc(n + 1);
	json_t *out, *b = json_object();

	if (!end || n == 0) {
		free(end);
		json_decref(b);
		r->status = KVC_NOT_SENT;
		snprintf(r->err, sizeof(r->err), "prefix: empty or no memory");
		return;
	}
	/* range_end = prefix with its last byte + 1 (etcd's WithPrefix) */
	memcpy(end, prefix, n + 1);
	end[n - 1] = (char)(end[n - 1] + 1);
	json_object_set_new(b, "key", kvc_b64_json(prefix, n));
	json_object_set_new(b, "range_end", kvc_b64_json(end, n));
	if (serializable)
		json_object_set_new(b, "serializable", json_true());
	free(end);
	kvc_post(c, "/v3/kv/range", b, r, &out);
	if (r->status != KVC_OK)
		return;
	json_t *kvs = json_object_get(out, "kvs"), *kv;
	size_t i;
	json_array_foreach(kvs, i, kv) {
		char k[512];
		const char *ks = json_string_value(json_object_get(kv, "key"));
		json_t *v = json_object_get(kv, "value");
		const char *vs = v ? json_string_value(v) : "";
		long kl = ks ? kvc_unb64(ks, k, sizeof(k) - 1) : -1;
		long vl = vs ? kvc_unb64(vs, r->value, KVC_VALUE_MAX) : -1;
		if (kl < 0 || vl < 0) {
			kvc_bad_shape(r, "kvs[].key/value");
			break;
		}
		fn(arg, k, r->value, (size_t)vl);
	}
	json_decref(out);
}
