/*
 * kvc: a minimal blocking client of the etcd 3.4 grpc-gateway JSON API
 * (/v3/kv/range, /v3/kv/put, /v3/kv/txn), which the sluice masters serve
 * with the same shape (docs/api.md). Used by the linearizability driver
 * and by perf/kvbench so both drive sluice and etcd with the same bytes.
 *
 * Unlike ctrl/apic, a request is sent to exactly one endpoint and never
 * retried elsewhere: a test must know whether a write may have happened,
 * so every reply is classified (kvc_status) and the caller decides when
 * to move to the next endpoint (kvc_next_endpoint).
 *
 * One libcurl easy handle per struct kvc (keep-alive connection reuse).
 * Errors: 0 or -errno for setup; request outcomes in struct kvc_reply.
 * Threading: one struct kvc per thread; kvc_global_init() once first.
 */
#ifndef SLUICE_TESTS_KVC_H
#define SLUICE_TESTS_KVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVC_MAX_EP 8
#define KVC_PATH_MAX 1024
#define KVC_VALUE_MAX 1024

struct kvc_params {
	char endpoints[KVC_MAX_EP][256]; /* https://host:port or http:// */
	size_t n_endpoints;
	char cacert[KVC_PATH_MAX]; /* "" = no TLS verification material */
	char cert[KVC_PATH_MAX];   /* client certificate; "" = none */
	char key[KVC_PATH_MAX];
	long timeout_ms; /* whole request; 0 = 2000 */
};

/*
 * Fill p from a client config file (the admin.conf of `sluice-ctrl init`,
 * JSON {"servers":[...],"ca","cert","key"}; relative paths are relative to
 * the file). 0 or -EINVAL with errmsg naming the field.
 */
int kvc_config_load(const char *path, struct kvc_params *p, char *errmsg,
		    size_t errlen);

/* Split a comma-separated endpoint list into p. 0 or -EINVAL. */
int kvc_endpoints_parse(const char *list, struct kvc_params *p,
			char *errmsg, size_t errlen);

/*
 * Shared command-line options of the tools built on kvc: put KVC_OPTIONS
 * in a getopt_long table (values 0x100..0x105), pass every option to
 * kvc_opt(): 1 = it was one of ours and is applied, 0 = not ours,
 * -EINVAL = bad value (message printed, naming the flag).
 *   --endpoints URL,...  --config FILE  --cacert F  --cert F  --key F
 *   --timeout-ms N
 */
#define KVC_OPTIONS                                                          \
	{ "endpoints", required_argument, NULL, 0x100 },                     \
	{ "config", required_argument, NULL, 0x101 },                        \
	{ "cacert", required_argument, NULL, 0x102 },                        \
	{ "cert", required_argument, NULL, 0x103 },                          \
	{ "key", required_argument, NULL, 0x104 },                           \
	{ "timeout-ms", required_argument, NULL, 0x105 }
int kvc_opt(const char *prog, int opt, const char *arg, struct kvc_params *p);

/* Check what kvc_opt filled: endpoints present, cert and key together. */
int kvc_opt_done(const char *prog, const struct kvc_params *p);

/* Parse a number for flag into [lo, hi]; -EINVAL with a message. */
int kvc_num(const char *prog, const char *flag, const char *s, double lo,
	    double hi, double *out);

enum kvc_status {
	KVC_OK = 0,       /* 200 and the body parsed */
	KVC_NOT_SENT = 1, /* could not connect / TLS handshake: the server
			   * never saw the request */
	KVC_UNKNOWN = 2,  /* timeout, connection died, 5xx, unparsable
			   * 200: the request may or may not have applied */
	KVC_REJECTED = 3, /* 4xx: the server refused it, nothing applied */
};

struct kvc_reply {
	enum kvc_status status;
	long http;       /* HTTP status, 0 if none */
	bool found;      /* range: the key exists */
	bool succeeded;  /* txn: compare held */
	size_t value_len;
	char value[KVC_VALUE_MAX + 1]; /* range: the value, NUL-terminated */
	char err[256];   /* one line for anything but KVC_OK */
};

int kvc_global_init(void);

struct kvc;

/* first: index of the endpoint to start with (mod n). NULL on error. */
struct kvc *kvc_create(const struct kvc_params *p, size_t first);
void kvc_free(struct kvc *c); /* accepts NULL */

void kvc_next_endpoint(struct kvc *c);
size_t kvc_endpoint_index(const struct kvc *c);
void kvc_set_endpoint(struct kvc *c, size_t i);

/* GET one key. serializable: served from the member's local store. */
void kvc_get(struct kvc *c, const char *key, bool serializable,
	     struct kvc_reply *r);
void kvc_put(struct kvc *c, const char *key, const void *val, size_t len,
	     struct kvc_reply *r);
/* Put val if the key's current value equals expect (txn compare VALUE
 * EQUAL, success request_put). r->succeeded says which branch ran. */
void kvc_cas(struct kvc *c, const char *key, const char *expect,
	     const void *val, size_t len, struct kvc_reply *r);

/*
 * For callers driving libcurl themselves (curl multi): the JSON body of a
 * /v3/kv/put (malloc'd, NULL on ENOMEM), and the transport options every
 * kvc handle uses (TLS material, timeouts, HTTP/1.1, no signals) applied
 * to a CURL easy handle h.
 */
char *kvc_put_body(const char *key, const void *val, size_t len);
void kvc_setup_handle(void *h, const struct kvc_params *p);

/*
 * Range over [prefix, prefix+1): calls fn for each key/value (key and
 * value NUL-terminated, borrowed). r as for the others.
 */
void kvc_range_prefix(struct kvc *c, const char *prefix, bool serializable,
		      void (*fn)(void *arg, const char *key,
				 const char *val, size_t len),
		      void *arg, struct kvc_reply *r);

#endif /* SLUICE_TESTS_KVC_H */
